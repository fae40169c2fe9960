-- Lifetime value of every current customer (accounts deleted since are left out). Revenue is
-- what the customer kept: cancelled and returned orders count for nothing, and only kept orders
-- count towards order_count and average_order_value. Customers who never ordered have zero
-- orders and revenue.
with customer_orders as (
    select
        customer_id,
        order_id,
        min(order_date) as order_date,
        min(order_status) as order_status,
        cast(sum(quantity) as bigint) as items,
        sum(recognized_revenue) as revenue
    from marts.fact_sales
    where order_status <> 'cancelled'
    group by customer_id, order_id
),

per_customer as (
    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) filter (where order_status <> 'returned') as order_count,
        count(*) filter (where order_status = 'returned') as returned_order_count,
        cast(sum(items) filter (where order_status <> 'returned') as bigint) as item_count,
        sum(revenue) as lifetime_revenue
    from customer_orders
    group by customer_id
)

select
    c.customer_id,
    c.customer_name,
    c.segment,
    c.city,
    c.country,
    cast(c.created_at as date) as customer_since,
    p.first_order_date,
    p.last_order_date,
    coalesce(p.order_count, 0) as order_count,
    coalesce(p.returned_order_count, 0) as returned_order_count,
    coalesce(p.item_count, 0) as item_count,
    coalesce(p.lifetime_revenue, 0) as lifetime_revenue,
    cast(p.lifetime_revenue / nullif(p.order_count, 0) as decimal(12, 2)) as average_order_value,
    coalesce(p.lifetime_revenue, 0) >= {{ var('high_value_threshold') }} as is_high_value
from marts.dim_customer as c
left join per_customer as p
    on p.customer_id = c.customer_id
where c.is_current
