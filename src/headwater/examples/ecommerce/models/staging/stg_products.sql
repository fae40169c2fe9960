-- One row per product with its current list price.
select
    product_id,
    trim(name) as product_name,
    lower(trim(category)) as category,
    cast(price as decimal(10, 2)) as list_price,
    cast(updated_at as timestamp) as updated_at
from raw.products
