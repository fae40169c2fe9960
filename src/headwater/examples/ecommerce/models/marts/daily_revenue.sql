-- Revenue by order date. Every calendar day appears (from dim_date), with zeros when nothing
-- was sold. Cancelled orders count nowhere; returned orders count as orders and items but their
-- money is shown as returned_revenue instead of revenue.
select
    d.date_day as order_date,
    d.day_name,
    d.is_weekend,
    count(distinct f.order_id) filter (where f.order_status <> 'cancelled') as orders,
    cast(coalesce(sum(f.quantity) filter (where f.order_status <> 'cancelled'), 0) as bigint)
        as items,
    count(distinct f.customer_id) filter (where f.order_status <> 'cancelled') as customers,
    coalesce(sum(f.gross_amount) filter (where f.order_status <> 'cancelled'), 0) as gross_revenue,
    coalesce(sum(f.discount_amount) filter (where f.order_status <> 'cancelled'), 0) as discounts,
    coalesce(sum(f.net_amount) filter (where f.order_status = 'returned'), 0) as returned_revenue,
    coalesce(sum(f.recognized_revenue), 0) as revenue,
    count(distinct f.order_id) filter (where f.order_status = 'cancelled') as cancelled_orders
from marts.dim_date as d
left join marts.fact_sales as f
    on f.order_date = d.date_day
group by d.date_day, d.day_name, d.is_weekend
order by d.date_day
