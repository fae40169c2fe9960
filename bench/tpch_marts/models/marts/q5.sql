-- TPC-H Q5, local supplier volume: revenue by nation of region ASIA in 1994.
select
    n.name as nation,
    sum(l.extendedprice * (1 - l.discount)) as revenue
from staging.customer as c
join staging.orders as o on c.custkey = o.custkey
join staging.lineitem as l on l.orderkey = o.orderkey
join staging.supplier as s on l.suppkey = s.suppkey and c.nationkey = s.nationkey
join staging.nation as n on s.nationkey = n.nationkey
join staging.region as r on n.regionkey = r.regionkey
where
    r.name = 'ASIA'
    and o.orderdate >= date '1994-01-01'
    and o.orderdate < date '1995-01-01'
group by n.name
order by revenue desc
