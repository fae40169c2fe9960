-- Product dimension: the current catalogue with a price band for reporting.
select
    product_id,
    product_name,
    category,
    list_price,
    case
        when list_price < 20 then 'budget'
        when list_price < 100 then 'standard'
        else 'premium'
    end as price_band,
    updated_at as price_updated_at
from staging.stg_products
