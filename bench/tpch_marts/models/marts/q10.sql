-- TPC-H Q10, returned item reporting: top 20 customers by lost revenue, quarter from 1993-10-01.
select
    c.custkey,
    c.name,
    sum(l.extendedprice * (1 - l.discount)) as revenue,
    c.acctbal,
    n.name as nation,
    c.address,
    c.phone,
    c.comment
from staging.customer as c
join staging.orders as o on c.custkey = o.custkey
join staging.lineitem as l on l.orderkey = o.orderkey
join staging.nation as n on c.nationkey = n.nationkey
where
    o.orderdate >= date '1993-10-01'
    and o.orderdate < date '1994-01-01'
    and l.returnflag = 'R'
group by c.custkey, c.name, c.acctbal, c.phone, n.name, c.address, c.comment
order by revenue desc, c.custkey
limit 20
