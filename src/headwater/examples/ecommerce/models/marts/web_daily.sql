-- The web shop's day from its clickstream: purchases and revenue summed from the
-- streams.revenue_per_minute table (one row per minute, written by the stream), and the
-- visitors' sessions from streams.user_sessions. A batch model over stream tables: each run
-- reads whatever the streams have committed by then.
with minutes as (
    select
        cast(window_start as date) as day,
        count(*) as minutes,
        sum(events) as events,
        sum(purchases) as purchases,
        sum(revenue) as revenue,
        max(revenue) as best_minute_revenue
    from streams.revenue_per_minute
    group by 1
),
sessions as (
    select
        cast(window_start as date) as day,
        count(*) as sessions,
        count(distinct user_id) as visitors,
        count(*) filter (where purchases > 0) as sessions_with_purchase,
        count(*) filter (where not is_final) as open_sessions
    from streams.user_sessions
    group by 1
)
select
    m.day,
    m.minutes,
    m.events,
    s.visitors,
    s.sessions,
    s.open_sessions,
    m.purchases,
    round(m.revenue, 2) as revenue,
    round(m.best_minute_revenue, 2) as best_minute_revenue,
    round(s.sessions_with_purchase / nullif(s.sessions, 0), 4) as conversion_rate,
    round(m.revenue / nullif(s.sessions, 0), 2) as revenue_per_session
from minutes as m
left join sessions as s
    on s.day = m.day
order by m.day
