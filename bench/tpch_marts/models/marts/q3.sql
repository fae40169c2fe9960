-- TPC-H Q3, shipping priority: the 10 unshipped BUILDING orders of highest revenue at 1995-03-15.
select
    l.orderkey,
    sum(l.extendedprice * (1 - l.discount)) as revenue,
    o.orderdate,
    o.shippriority
from staging.customer as c
join staging.orders as o on c.custkey = o.custkey
join staging.lineitem as l on l.orderkey = o.orderkey
where
    c.mktsegment = 'BUILDING'
    and o.orderdate < date '1995-03-15'
    and l.shipdate > date '1995-03-15'
group by l.orderkey, o.orderdate, o.shippriority
order by revenue desc, o.orderdate
limit 10
