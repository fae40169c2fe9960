-- Revenue per order date: orders, line items and revenue.
select
    o.orderdate,
    count(distinct o.orderkey) as orders,
    count(*) as items,
    sum(l.extendedprice * (1 - l.discount)) as revenue
from staging.orders as o
join staging.lineitem as l on l.orderkey = o.orderkey
group by o.orderdate
