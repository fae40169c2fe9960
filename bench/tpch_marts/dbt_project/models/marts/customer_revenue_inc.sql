{{ config(materialized='incremental', unique_key='custkey', incremental_strategy='merge') }}
-- customer_revenue as an incremental model, merged on custkey.
-- A full build is the same aggregate as marts.customer_revenue. An incremental run aggregates
-- only the orders above the highest order key already loaded and adds them to the affected
-- customers' current totals, so it reads the new orders and the current table rather than the
-- whole history (the classic additive incremental: counts and sums add, min/max combine).
with new_orders as (
    select
        o.custkey,
        o.orderkey,
        o.orderdate,
        sum(l.extendedprice * (1 - l.discount)) as revenue
    from {{ ref('orders') }} as o
    join {{ ref('lineitem') }} as l on l.orderkey = o.orderkey
{% if is_incremental() %}
    where o.orderkey > (select max(max_orderkey) from {{ this }})
      and l.orderkey > (select max(max_orderkey) from {{ this }})
{% endif %}
    group by o.custkey, o.orderkey, o.orderdate
),
new_totals as (
    select
        custkey,
        count(*) as order_count,
        sum(revenue) as revenue,
        min(orderdate) as first_order_date,
        max(orderdate) as last_order_date,
        max(orderkey) as max_orderkey
    from new_orders
    group by custkey
)
{% if is_incremental() %}
select
    n.custkey,
    n.order_count + coalesce(t.order_count, 0) as order_count,
    n.revenue + coalesce(t.revenue, 0) as revenue,
    least(n.first_order_date, coalesce(t.first_order_date, n.first_order_date)) as first_order_date,
    greatest(n.last_order_date, coalesce(t.last_order_date, n.last_order_date)) as last_order_date,
    greatest(n.max_orderkey, coalesce(t.max_orderkey, n.max_orderkey)) as max_orderkey
from new_totals as n
left join {{ this }} as t on t.custkey = n.custkey
{% else %}
select * from new_totals
{% endif %}
