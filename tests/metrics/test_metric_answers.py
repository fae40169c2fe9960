"""Metric answers equal hand-written SQL: every metric kind (simple with each aggregation and a
filter, ratio, derived, cumulative with a window, to date and all-time), every grain of
metric_time, a dimension of the measure's own model and one reached through an entity join,
filters, order and limit; and the refusals (unknown names, fan-out joins, ambiguity)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.errors import ConfigError, UsageError
from tests.conftest import ProjectFactory

CUSTOMERS = """customer_id,name,segment,region
1,Ann,retail,EU
2,Bob,retail,US
3,Cyd,business,EU
4,Dee,business,
"""
ORDERS = """order_id,customer_id,ordered_at,amount,status,gift
10,1,2024-01-03,20.0,paid,true
11,1,2024-01-20,35.5,paid,false
12,2,2024-01-28,12.0,refunded,false
13,3,2024-02-02,80.0,paid,true
14,3,2024-02-10,5.0,paid,false
15,2,2024-02-27,44.0,paid,false
16,4,2024-03-05,60.0,paid,true
17,1,2024-03-05,7.5,paid,false
18,,2024-03-30,9.0,paid,false
19,3,2024-05-01,100.0,refunded,true
"""
SEMANTIC = """
semantic_models:
  - name: orders
    model: raw.orders
    defaults: {agg_time_dimension: ordered_at}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: ordered_at, type: time}
      - {name: status, type: categorical}
    measures:
      - {name: revenue, agg: sum, expr: amount}
      - {name: order_count, agg: count, expr: order_id}
      - {name: buyers, agg: count_distinct, expr: customer_id}
      - {name: mean_amount, agg: average, expr: amount}
      - {name: smallest, agg: min, expr: amount}
      - {name: largest, agg: max, expr: amount}
      - {name: gifts, agg: sum_boolean, expr: gift}
  - name: customers
    model: ref('customers')
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: segment, type: categorical}
      - {name: region, type: categorical, expr: "coalesce(region, 'unknown')"}
metrics:
  - {name: revenue, type: simple, type_params: {measure: revenue}}
  - {name: order_count, type: simple, type_params: {measure: order_count}}
  - {name: buyers, type: simple, type_params: {measure: buyers}}
  - {name: mean_amount, type: simple, type_params: {measure: mean_amount}}
  - {name: smallest, type: simple, type_params: {measure: smallest}}
  - {name: largest, type: simple, type_params: {measure: largest}}
  - {name: gifts, type: simple, type_params: {measure: gifts}}
  - name: paid_revenue
    type: simple
    type_params: {measure: revenue}
    filter: "{{ Dimension('order__status') }} = 'paid'"
  - name: paid_revenue_by_measure
    type: simple
    type_params: {measure: {name: revenue, filter: "order__status = 'paid'"}}
  - name: average_order_value
    type: ratio
    type_params: {numerator: revenue, denominator: order_count}
  - name: paid_share
    type: ratio
    type_params: {numerator: paid_revenue, denominator: revenue}
  - name: revenue_per_buyer
    type: derived
    type_params: {expr: "revenue / nullif(b, 0)", metrics: [revenue, {name: buyers, alias: b}]}
  - name: retail_revenue_gap
    type: derived
    type_params:
      expr: revenue - retail
      metrics:
        - revenue
        - {name: revenue, alias: retail, filter: "customer__segment = 'retail'"}
  - name: revenue_7d
    type: cumulative
    type_params: {measure: revenue, window: 7 days}
  - name: revenue_mtd
    type: cumulative
    type_params: {measure: revenue, grain_to_date: month}
  - name: revenue_to_date
    type: cumulative
    type_params: {measure: revenue}
"""
FILES = {
    "seeds/customers.csv": CUSTOMERS,
    "seeds/orders.csv": ORDERS,
    "metrics/shop.yml": SEMANTIC,
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    from tests.conftest import write_files

    root = tmp_path_factory.mktemp("metrics") / "shop"
    write_files(root, {"headwater.yml": "name: shop\nthreads: 2\n", **FILES})
    project = Project(root)
    assert project.run().status == "success"
    return project


def answer(project: Project, **query: Any) -> list[dict[str, Any]]:
    return project.query_metrics(**query).to_pylist()


def by_hand(project: Project, sql: str) -> list[dict[str, Any]]:
    return project.query(sql).to_pylist()


def close(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if a.keys() != b.keys():
            return False
        for key in a:
            x, y = a[key], b[key]
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > 1e-9:
                    return False
            elif x != y:
                return False
    return True


def test_every_aggregation_of_a_simple_metric_without_grouping(shop: Project) -> None:
    got = answer(
        shop,
        metrics=["revenue", "order_count", "buyers", "mean_amount", "smallest", "largest", "gifts"],
    )
    expected = by_hand(
        shop,
        "select sum(amount) as revenue, count(order_id) as order_count, count(distinct "
        "customer_id) as buyers, avg(amount) as mean_amount, min(amount) as smallest, "
        "max(amount) as largest, sum(cast(gift as integer)) as gifts from raw.orders",
    )
    assert close(got, expected)


@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter", "year"])
def test_metric_time_at_every_grain(shop: Project, grain: str) -> None:
    item = f"metric_time__{grain}"
    got = answer(shop, metrics=["revenue", "order_count"], group_by=[item])
    expected = by_hand(
        shop,
        f"select cast(date_trunc('{grain}', ordered_at) as date) as {item}, sum(amount) as "
        f"revenue, count(order_id) as order_count from raw.orders group by 1 order by 1",
    )
    assert close(got, expected)


def test_a_dimension_through_the_customer_entity_join(shop: Project) -> None:
    got = answer(
        shop,
        metrics=["revenue", "buyers"],
        group_by=["customer__segment", "customer__region"],
    )
    expected = by_hand(
        shop,
        "select c.segment as customer__segment, coalesce(c.region, 'unknown') as "
        "customer__region, sum(o.amount) as revenue, count(distinct o.customer_id) as buyers "
        "from raw.orders o left join raw.customers c on o.customer_id = c.customer_id "
        "group by 1, 2 order by 1 nulls last, 2 nulls last",
    )
    assert close(got, expected)
    # the order without a customer is kept: no segment, and the region's expression on NULL
    assert {"customer__segment": None, "customer__region": "unknown"} in [
        {k: r[k] for k in ("customer__segment", "customer__region")} for r in got
    ]


def test_own_dimension_entity_and_filters(shop: Project) -> None:
    got = answer(
        shop,
        metrics=["revenue", "paid_revenue"],
        group_by=["order__status", "customer"],
        where=[
            "customer__region = 'EU'",
            "{{ TimeDimension('metric_time', 'month') }} < '2024-04-01'",
        ],
    )
    expected = by_hand(
        shop,
        "select o.status as order__status, o.customer_id as customer, sum(o.amount) as revenue, "
        "sum(case when o.status = 'paid' then o.amount end) as paid_revenue from raw.orders o "
        "left join raw.customers c on o.customer_id = c.customer_id where "
        "coalesce(c.region, 'unknown') = 'EU' and date_trunc('month', o.ordered_at) < "
        "date '2024-04-01' group by 1, 2 order by 1, 2",
    )
    assert close(got, expected)


def test_ratio_and_derived_metrics(shop: Project) -> None:
    got = answer(
        shop,
        metrics=["average_order_value", "paid_share", "revenue_per_buyer", "retail_revenue_gap"],
        group_by=["metric_time__month"],
    )
    expected = by_hand(
        shop,
        "select cast(date_trunc('month', o.ordered_at) as date) as metric_time__month, "
        "sum(o.amount) / count(o.order_id) as average_order_value, "
        "sum(case when o.status = 'paid' then o.amount end) / sum(o.amount) as paid_share, "
        "sum(o.amount) / nullif(count(distinct o.customer_id), 0) as revenue_per_buyer, "
        "sum(o.amount) - sum(case when c.segment = 'retail' then o.amount end) "
        "as retail_revenue_gap "
        "from raw.orders o left join raw.customers c on o.customer_id = c.customer_id "
        "group by 1 order by 1",
    )
    assert close(got, expected)


def test_cumulative_metrics_over_a_continuous_spine(shop: Project) -> None:
    got = answer(
        shop,
        metrics=["revenue_7d", "revenue_mtd", "revenue_to_date", "revenue"],
        group_by=["metric_time__day"],
    )
    expected = by_hand(
        shop,
        "with spine as (select cast(unnest(generate_series(timestamp '2024-01-03', "
        "timestamp '2024-05-01', interval 1 day)) as date) as d) "
        "select s.d as metric_time__day, "
        "(select sum(amount) from raw.orders where ordered_at > s.d - 7 and ordered_at <= s.d) "
        "as revenue_7d, "
        "(select sum(amount) from raw.orders where ordered_at >= date_trunc('month', s.d) "
        "and ordered_at <= s.d) as revenue_mtd, "
        "(select sum(amount) from raw.orders where ordered_at <= s.d) as revenue_to_date, "
        "(select sum(amount) from raw.orders where ordered_at = s.d) as revenue "
        "from spine s order by 1",
    )
    # every day from the first order to the last, a day without orders included
    assert len(got) == 120
    assert close(got, expected)


def test_cumulative_by_month_takes_the_window_ending_at_the_month_end(shop: Project) -> None:
    got = answer(shop, metrics=["revenue_7d", "revenue_to_date"], group_by=["metric_time__month"])
    expected = by_hand(
        shop,
        "with months as (select cast(unnest(generate_series(timestamp '2024-01-01', "
        "timestamp '2024-05-01', interval 1 month)) as date) as m) "
        "select m as metric_time__month, "
        "(select sum(amount) from raw.orders where ordered_at < m + interval 1 month and "
        "ordered_at >= m + interval 1 month - interval 7 day) as revenue_7d, "
        "(select sum(amount) from raw.orders where ordered_at < m + interval 1 month) "
        "as revenue_to_date from months order by 1",
    )
    assert close(got, expected)
    assert [r["revenue_7d"] for r in got] == [12.0, 44.0, 9.0, None, None]


def test_cumulative_with_another_dimension(shop: Project) -> None:
    got = answer(
        shop, metrics=["revenue_to_date"], group_by=["metric_time__month", "customer__segment"]
    )
    expected = by_hand(
        shop,
        "with months as (select cast(unnest(generate_series(timestamp '2024-01-01', "
        "timestamp '2024-05-01', interval 1 month)) as date) as m), "
        "o as (select o.ordered_at, o.amount, c.segment from raw.orders o "
        "left join raw.customers c on o.customer_id = c.customer_id) "
        "select m as metric_time__month, o.segment as customer__segment, "
        "sum(o.amount) as revenue_to_date from months join o "
        "on o.ordered_at < m + interval 1 month group by 1, 2 order by 1, 2 nulls last",
    )
    assert {r["customer__segment"] for r in got} == {"retail", "business", None}
    assert close(got, expected)


def test_a_filter_on_metric_time_picks_buckets_not_the_rows_a_running_total_adds(
    shop: Project,
) -> None:
    got = answer(
        shop,
        metrics=["revenue_to_date"],
        group_by=["metric_time__month"],
        where=["metric_time__month >= '2024-03-01'"],
    )
    assert [(str(r["metric_time__month"]), r["revenue_to_date"]) for r in got] == [
        ("2024-03-01", 273.0),
        ("2024-04-01", 273.0),
        ("2024-05-01", 373.0),
    ]


def test_a_cumulative_metric_filtered_on_a_joined_dimension(shop: Project) -> None:
    got = answer(
        shop,
        metrics=["revenue_to_date"],
        group_by=["metric_time__month"],
        where=["customer__segment = 'retail'"],
    )
    expected = by_hand(
        shop,
        "with months as (select cast(unnest(generate_series(timestamp '2024-01-01', "
        "timestamp '2024-03-01', interval 1 month)) as date) as m) "
        "select m as metric_time__month, (select sum(o.amount) from raw.orders o join "
        "raw.customers c on o.customer_id = c.customer_id where c.segment = 'retail' and "
        "o.ordered_at < m + interval 1 month) as revenue_to_date from months order by 1",
    )
    assert close(got, expected)


def test_to_date_restarts_in_the_period_of_the_buckets_end(shop: Project) -> None:
    got = answer(shop, metrics=["revenue_mtd"], group_by=["metric_time__week"])
    by_week = {str(r["metric_time__week"]): r["revenue_mtd"] for r in got}
    assert by_week["2024-01-29"] == 80.0  # February to date on Sunday 4 February
    assert by_week["2024-01-22"] == 67.5  # January to date on 28 January


def test_every_day_has_its_trailing_window_even_an_empty_one(shop: Project) -> None:
    got = answer(shop, metrics=["revenue_7d"], group_by=["metric_time__day"])
    days = {str(r["metric_time__day"]): r["revenue_7d"] for r in got}
    assert len(days) == 120 and days["2024-02-09"] is None and days["2024-02-08"] == 80.0


def test_a_filter_on_the_measure_input(shop: Project) -> None:
    got = answer(shop, metrics=["paid_revenue_by_measure", "paid_revenue"])
    assert got[0]["paid_revenue_by_measure"] == got[0]["paid_revenue"] == 261.0


@pytest.mark.parametrize(
    "where",
    [
        "customer__segment in (select segment from raw.customers)",
        "m.amount > 5",
        "customer__segment = 'retail'; drop table raw.orders",
    ],
)
def test_a_filter_names_group_by_items_only(shop: Project, where: str) -> None:
    with pytest.raises(UsageError) as refused:
        shop.compile_metrics(["revenue"], where=[where])
    assert "filter" in refused.value.message


def test_order_and_limit(shop: Project) -> None:
    got = answer(shop, metrics=["revenue"], group_by=["customer"], order_by=["-revenue"], limit=2)
    expected = by_hand(
        shop,
        "select customer_id as customer, sum(amount) as revenue from raw.orders "
        "group by 1 order by 2 desc limit 2",
    )
    assert close(got, expected)


def test_the_compiled_sql_is_one_statement_reading_the_assets(shop: Project) -> None:
    compiled = shop.compile_metrics(["revenue"], ["customer__segment"])
    assert compiled.assets == ("raw.customers", "raw.orders")
    assert compiled.columns == ("customer__segment", "revenue")
    assert compiled.sql.count(";") == 0 and "LEFT JOIN" in compiled.sql


@pytest.mark.parametrize(
    ("query", "message", "hint"),
    [
        ({"metrics": ["revenu"]}, "there is no metric revenu", "did you mean revenue?"),
        (
            {"metrics": ["revenue"], "group_by": ["customer__segmnt"]},
            "there is no dimension customer__segmnt",
            "did you mean customer__segment?",
        ),
        (
            {"metrics": ["revenue"], "group_by": ["metric_time__fortnight"]},
            "metric_time is grouped by one of",
            "metric_time__month",
        ),
        (
            {"metrics": ["revenue"], "group_by": ["customer__status"]},
            "joining to it would repeat rows",
            "primary or unique",
        ),
        (
            {"metrics": ["revenue_7d"]},
            "cumulative metric revenue_7d runs over time",
            "metric_time",
        ),
        (
            {"metrics": ["revenue"], "order_by": ["buyers"]},
            "cannot order by buyers",
            "",
        ),
    ],
)
def test_refusals_say_what_and_how(
    shop: Project, query: dict[str, Any], message: str, hint: str
) -> None:
    with pytest.raises(UsageError) as refused:
        shop.compile_metrics(**query)
    assert message in refused.value.message
    assert hint in (refused.value.hint or "")


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (
            ("type_params: {measure: revenue}}", "type_params: {measure: revenu}}"),
            "measure revenu",
            0,
        ),
        (("model: raw.orders", "model: raw.ordrs"), "raw.ordrs, which is not an asset", 0),
        (("expr: amount}", "expr: amout}"), "reads column amout", 0),
        (
            ("revenue / nullif(b, 0)", "revenue / nullif(c, 0)"),
            "expr names c, which is not one of its metrics",
            0,
        ),
        (
            ("{numerator: revenue, denominator: order_count}", "{numerator: revenue}"),
            "needs type_params.numerator and .denominator",
            None,
        ),
        (
            ("agg_time_dimension: ordered_at}", "agg_time_dimension: status}"),
            "not one of its time",
            0,
        ),
        (
            ("Dimension('order__status')", "Dimension('order__stats')"),
            "filter names order__stats",
            0,
        ),
    ],
)
def test_the_semantic_layer_is_checked_at_load_at_its_line(
    make_project: ProjectFactory, change: tuple[str, str], message: str, line: int | None
) -> None:
    broken = SEMANTIC.replace(*change, 1)
    assert broken != SEMANTIC
    project = make_project({**FILES, "metrics/shop.yml": broken})
    with pytest.raises(ConfigError) as failed:
        project.definition  # noqa: B018 -- loading it is the test
    assert message in failed.value.message
    assert failed.value.location is not None
    assert failed.value.location.file == "metrics/shop.yml"
    if line is not None:  # the line of the changed text
        text = broken.lstrip("\n")
        assert failed.value.location.line == text[: text.index(change[1])].count("\n") + 1


def test_the_cli_lists_compiles_and_answers(shop: Project) -> None:
    from tests.conftest import run_cli

    listed = run_cli(["metrics", "list", "--json"], shop.root)
    assert listed.returncode == 0, listed.stderr
    described = {m["name"]: m for m in json.loads(listed.stdout)}
    assert described["average_order_value"]["measures"] == ["order_count", "revenue"]
    assert "customer__segment" in described["revenue"]["dimensions"]
    assert "metric_time__quarter" in described["revenue_7d"]["dimensions"]

    compiled = run_cli(
        [
            "metrics",
            "query",
            "--metrics",
            "revenue",
            "--group-by",
            "customer__segment",
            "--compile",
        ],
        shop.root,
    )
    assert compiled.returncode == 0 and compiled.stdout.lstrip().startswith("WITH")
    answered = run_cli(
        [
            "metrics",
            "query",
            "--metrics",
            "revenue,order_count",
            "--group-by",
            "metric_time__month",
            "--order-by",
            "-revenue",
            "--limit",
            "1",
            "--format",
            "json",
        ],
        shop.root,
    )
    assert answered.returncode == 0, answered.stderr
    assert [json.loads(line) for line in answered.stdout.splitlines()] == [
        {"metric_time__month": "2024-02-01", "revenue": 129.0, "order_count": 3}
    ]
    refused = run_cli(["metrics", "query", "--metrics", "revenu"], shop.root)
    assert refused.returncode != 0
    assert (
        "there is no metric revenu" in refused.stderr and "did you mean revenue?" in refused.stderr
    )
    assert "Traceback" not in refused.stderr


def test_the_example_metrics_equal_the_marts_by_hand(tmp_path: Path) -> None:
    project = Project.init(tmp_path / "shop", example="ecommerce")
    try:
        assert project.run().status == "success"
        got = answer(
            project,
            metrics=["revenue", "order_count", "average_order_value", "revenue_7d"],
            group_by=["metric_time__day", "customer__segment"],
        )
        expected = by_hand(
            project,
            "with lines as (select f.order_date, f.order_id, f.recognized_revenue, c.segment "
            "from marts.fact_sales f left join staging.stg_customers c "
            "on f.customer_id = c.customer_id), "
            "days as (select cast(d as date) as d, segment from "
            "(select distinct segment from lines), "
            "unnest(generate_series(date '2024-05-01', (select max(order_date) from lines), "
            "interval 1 day)) as t(d)) "
            "select days.d as metric_time__day, days.segment as customer__segment, "
            "(select sum(recognized_revenue) from lines l where l.order_date = days.d and "
            "l.segment is not distinct from days.segment) as revenue, "
            "(select count(distinct order_id) from lines l where l.order_date = days.d and "
            "l.segment is not distinct from days.segment) as order_count, "
            "(select cast(sum(recognized_revenue) as double) / count(distinct order_id) "
            "from lines l where l.order_date = days.d and "
            "l.segment is not distinct from days.segment) as average_order_value, "
            "(select sum(recognized_revenue) from lines l where l.order_date > days.d - 7 and "
            "l.order_date <= days.d and l.segment is not distinct from days.segment) "
            "as revenue_7d from days order by 1, 2",
        )
        expected = [r for r in expected if r["revenue_7d"] is not None]
        assert len(got) > 50
        assert close(got, expected)
        # the sales model has no key of its own: its dimensions are named by its entities
        statuses = answer(project, metrics=["order_count"], group_by=["order__order_status"])
        assert close(
            statuses,
            by_hand(
                project,
                "select order_status as order__order_status, count(distinct order_id) as "
                "order_count from marts.fact_sales group by 1 order by 1",
            ),
        )
    finally:
        project.close()


def test_impact_names_the_metrics_a_column_change_reaches(shop: Project) -> None:
    consumers = shop.impact("raw.orders.amount").consumers
    metrics = {c["name"] for c in consumers if c["kind"] == "metric"}
    assert metrics == {
        "revenue",
        "paid_revenue",
        "paid_revenue_by_measure",
        "average_order_value",
        "paid_share",
        "revenue_per_buyer",
        "retail_revenue_gap",
        "revenue_7d",
        "revenue_mtd",
        "revenue_to_date",
        "mean_amount",
        "smallest",
        "largest",
    }
    # a dimension of the orders model reaches every metric over it, through grouping
    by_status = {c["name"] for c in shop.impact("raw.orders.status").consumers}
    assert {"order_count", "gifts", "buyers"} <= by_status
