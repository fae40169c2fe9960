-- Revenue fact per customer: orders joined to their line items, grouped by customer.
with order_revenue as (
    select
        o.custkey,
        o.orderkey,
        o.orderdate,
        sum(l.extendedprice * (1 - l.discount)) as revenue
    from {{ ref('orders') }} as o
    join {{ ref('lineitem') }} as l on l.orderkey = o.orderkey
    group by o.custkey, o.orderkey, o.orderdate
)
select
    custkey,
    count(*) as order_count,
    sum(revenue) as revenue,
    min(orderdate) as first_order_date,
    max(orderdate) as last_order_date,
    max(orderkey) as max_orderkey
from order_revenue
group by custkey
