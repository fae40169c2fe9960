-- Calendar dimension: one row per day from the first to the last order date, generated with
-- DuckDB's range() table function, so days without orders still appear in reports.
with bounds as (
    select
        min(order_date) as first_day,
        max(order_date) as last_day
    from staging.stg_orders
),

days as (
    select cast(day_start as date) as date_day
    from bounds,
        range(
            cast(bounds.first_day as timestamp),
            cast(bounds.last_day as timestamp) + interval 1 day,
            interval 1 day
        ) as calendar(day_start)
)

select
    date_day,
    cast(strftime(date_day, '%Y%m%d') as integer) as date_key,
    year(date_day) as year,
    quarter(date_day) as quarter,
    month(date_day) as month,
    monthname(date_day) as month_name,
    cast(date_trunc('month', date_day) as date) as month_start,
    isoyear(date_day) as iso_year,
    weekofyear(date_day) as iso_week,
    dayofmonth(date_day) as day_of_month,
    isodow(date_day) as day_of_week,
    dayname(date_day) as day_name,
    isodow(date_day) in (6, 7) as is_weekend
from days
