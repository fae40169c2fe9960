-- Current state of every customer account. Materialized as an SCD type 2 snapshot: each run
-- compares this SELECT with the stored history by customer_id and updated_at, closes the
-- versions that changed or disappeared and opens new ones; Headwater adds valid_from,
-- valid_to and is_current.
select
    customer_id,
    customer_name,
    email,
    city,
    country,
    segment,
    created_at,
    updated_at
from staging.stg_customers
