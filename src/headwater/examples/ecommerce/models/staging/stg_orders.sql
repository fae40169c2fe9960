-- One row per order header, with its current status.
select
    order_id,
    customer_id,
    cast(order_date as date) as order_date,
    lower(trim(status)) as order_status,
    cast(updated_at as timestamp) as updated_at
from raw.orders
