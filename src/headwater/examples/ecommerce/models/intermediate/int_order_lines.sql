-- Order lines joined to their order header: the grain of fact_sales. Ephemeral, so it is never
-- stored; Headwater inlines it as a CTE into the models that read it.
select
    o.order_id,
    i.line_number,
    o.customer_id,
    i.product_id,
    o.order_date,
    o.order_status,
    i.quantity,
    i.unit_price,
    i.discount_rate,
    i.gross_amount,
    i.discount_amount,
    i.net_amount,
    o.updated_at as order_updated_at
from staging.stg_orders as o
join staging.stg_order_items as i
    on i.order_id = o.order_id
