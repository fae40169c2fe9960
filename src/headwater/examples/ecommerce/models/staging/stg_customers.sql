-- One row per customer account, cleaned up: names and e-mail addresses trimmed (and e-mails
-- lower-cased) so they can be matched, segments normalised to lower case.
select
    customer_id,
    regexp_replace(trim(name), '\s+', ' ', 'g') as customer_name,
    lower(trim(email)) as email,
    trim(city) as city,
    trim(country) as country,
    lower(trim(segment)) as segment,
    cast(created_at as timestamp) as created_at,
    cast(updated_at as timestamp) as updated_at
from raw.customers
