-- One row per order line, with its amounts worked out: gross = quantity x unit price,
-- discount = gross x discount rate (rounded to the cent), net = gross - discount.
select
    order_id,
    line_number,
    product_id,
    quantity,
    cast(unit_price as decimal(10, 2)) as unit_price,
    cast(discount as decimal(4, 2)) as discount_rate,
    cast(quantity * unit_price as decimal(12, 2)) as gross_amount,
    cast(round(quantity * unit_price * discount, 2) as decimal(12, 2)) as discount_amount,
    cast(quantity * unit_price - round(quantity * unit_price * discount, 2) as decimal(12, 2))
        as net_amount
from raw.order_items
