-- customer_revenue as an incremental model, merged on custkey.
-- A full build is the same query as marts.customer_revenue. An incremental run finds the
-- customers with orders above the highest order key already loaded and recomputes their totals
-- over all their orders, so the merge replaces each affected row with a complete aggregate.
with
{% if is_incremental() %}
affected_orders as (
    select *
    from staging.orders
    where custkey in (
        select custkey
        from staging.orders
        where orderkey > (select max(max_orderkey) from {{ this }})
    )
),
{% else %}
affected_orders as (
    select * from staging.orders
),
{% endif %}
order_revenue as (
    select
        o.custkey,
        o.orderkey,
        o.orderdate,
        sum(l.extendedprice * (1 - l.discount)) as revenue
    from affected_orders as o
    join staging.lineitem as l on l.orderkey = o.orderkey
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
