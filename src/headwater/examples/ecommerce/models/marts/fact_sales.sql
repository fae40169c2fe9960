-- Sales fact at order-line grain, built incrementally.
--
-- The first run, while the table does not exist yet, reads every order line. Later runs read
-- only the lines of orders changed since the last run: new orders, and existing orders whose
-- status moved on (shipped, delivered, returned, cancelled), which stamps the order's
-- updated_at. Those rows are merged on (order_id, line_number), so a status change updates the
-- lines already in the table instead of duplicating them.
select
    order_id,
    line_number,
    customer_id,
    product_id,
    order_date,
    order_status,
    quantity,
    unit_price,
    discount_rate,
    gross_amount,
    discount_amount,
    net_amount,
    case
        when order_status in ('cancelled', 'returned') then cast(0 as decimal(12, 2))
        else net_amount
    end as recognized_revenue,
    order_updated_at
from {{ ref('int_order_lines') }}
{% if is_incremental() %}
where order_updated_at > (select max(order_updated_at) from {{ this }})
{% endif %}
