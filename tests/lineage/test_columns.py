"""Column-level lineage of one model: each SQL construct against its full expected lineage.

Every case lists the exact sources of every output column and the exact dataset-level list.
The output names are also checked against DuckDB itself, which runs each case on empty tables.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

import duckdb
import pytest

from headwater.lineage.column_sources import ColumnSource, LineageError, ModelLineage
from headwater.lineage.columns import model_lineage
from tests.lineage.empty_tables import empty_tables

ORDERS = "staging.orders"
CUSTOMERS = "staging.customers"
SCHEMAS: dict[str, dict[str, str]] = {
    ORDERS: {
        "id": "INTEGER",
        "customer_id": "INTEGER",
        "Amount": "DECIMAL(18,2)",
        "status": "VARCHAR",
        "ordered_at": "TIMESTAMP",
        "items": "INTEGER[]",
    },
    CUSTOMERS: {"id": "INTEGER", "name": "VARCHAR", "Region": "VARCHAR"},
}


def d(
    asset: str, column: str, subtype: str = "IDENTITY", carries: bool | None = None
) -> ColumnSource:
    """A DIRECT source; it carries the value if it is an IDENTITY or TRANSFORMATION unless
    `carries` says otherwise."""
    return ColumnSource(asset, column, "DIRECT", subtype, carries)


def i(asset: str, column: str, subtype: str) -> ColumnSource:
    """An INDIRECT source."""
    return ColumnSource(asset, column, "INDIRECT", subtype)


@dataclass(frozen=True)
class Case:
    """A model's SQL, the sources of each of its columns, and its dataset-level sources."""

    name: str
    sql: str
    columns: dict[str, set[ColumnSource]]
    dataset: list[ColumnSource] = field(default_factory=list)


CASES = [
    Case(
        "bare_and_renamed_columns_are_identity",
        'select id, amount, status as order_status from "staging"."orders"',
        {
            "id": {d(ORDERS, "id")},
            "Amount": {d(ORDERS, "Amount")},
            "order_status": {d(ORDERS, "status")},
        },
    ),
    Case(
        "expressions_casts_and_functions_are_transformations",
        "select amount * 2 as doubled, cast(id as varchar) as id_text, upper(status) as loud,"
        " id + customer_id as total, coalesce(status, 'none') as status_or_none,"
        " list_transform(items, lambda x: x * 2) as doubled_items from staging.orders",
        {
            "doubled": {d(ORDERS, "Amount", "TRANSFORMATION")},
            "id_text": {d(ORDERS, "id", "TRANSFORMATION")},
            "loud": {d(ORDERS, "status", "TRANSFORMATION")},
            "total": {
                d(ORDERS, "id", "TRANSFORMATION"),
                d(ORDERS, "customer_id", "TRANSFORMATION"),
            },
            "status_or_none": {d(ORDERS, "status", "TRANSFORMATION")},
            "doubled_items": {d(ORDERS, "items", "TRANSFORMATION")},
        },
    ),
    Case(
        "literals_and_count_star_have_no_sources",
        "select 1 as one, 'a' as letter, null as nothing, count(*) as n from staging.orders",
        {"one": set(), "letter": set(), "nothing": set(), "n": set()},
    ),
    Case(
        "names_match_case_insensitively_and_keep_the_engines_spelling",
        'select ORDERS.ID, Orders.AMOUNT as Amt, "STATUS" from STAGING.ORDERS',
        {
            "id": {d(ORDERS, "id")},
            "Amt": {d(ORDERS, "Amount")},
            "status": {d(ORDERS, "status")},
        },
    ),
    Case(
        "unqualified_columns_resolve_against_the_schemas",
        "select name, amount from staging.orders as o join staging.customers as c"
        " on o.customer_id = c.id",
        {"name": {d(CUSTOMERS, "name")}, "Amount": {d(ORDERS, "Amount")}},
        [i(ORDERS, "customer_id", "JOIN"), i(CUSTOMERS, "id", "JOIN")],
    ),
    Case(
        "star_expands_from_the_schemas",
        "select * from staging.customers",
        {
            "id": {d(CUSTOMERS, "id")},
            "name": {d(CUSTOMERS, "name")},
            "Region": {d(CUSTOMERS, "Region")},
        },
    ),
    Case(
        "qualified_star_over_a_left_join",
        "select c.*, o.amount from staging.orders o left join staging.customers c"
        " on o.customer_id = c.id and o.status = 'paid'",
        {
            "id": {d(CUSTOMERS, "id")},
            "name": {d(CUSTOMERS, "name")},
            "Region": {d(CUSTOMERS, "Region")},
            "Amount": {d(ORDERS, "Amount")},
        },
        [i(ORDERS, "customer_id", "JOIN"), i(CUSTOMERS, "id", "JOIN"), i(ORDERS, "status", "JOIN")],
    ),
    Case(
        "star_exclude",
        "select * exclude (amount, items) from staging.orders",
        {
            "id": {d(ORDERS, "id")},
            "customer_id": {d(ORDERS, "customer_id")},
            "status": {d(ORDERS, "status")},
            "ordered_at": {d(ORDERS, "ordered_at")},
        },
    ),
    Case(
        "star_replace",
        "select * replace (amount * 2 as amount) from staging.customers c"
        " join (select customer_id, amount from staging.orders) as o on c.id = o.customer_id",
        {
            "id": {d(CUSTOMERS, "id")},
            "name": {d(CUSTOMERS, "name")},
            "Region": {d(CUSTOMERS, "Region")},
            "customer_id": {d(ORDERS, "customer_id")},
            "amount": {d(ORDERS, "Amount", "TRANSFORMATION")},
        },
        [i(CUSTOMERS, "id", "JOIN"), i(ORDERS, "customer_id", "JOIN")],
    ),
    Case(
        "star_over_a_cte",
        "with c as (select id, name as customer_name from staging.customers) select * from c",
        {"id": {d(CUSTOMERS, "id")}, "customer_name": {d(CUSTOMERS, "name")}},
    ),
    Case(
        "star_over_a_subquery_in_from_keeps_its_filter",
        "select * from (select id as order_id, amount from staging.orders"
        " where status = 'paid') as paid",
        {"order_id": {d(ORDERS, "id")}, "Amount": {d(ORDERS, "Amount")}},
        [i(ORDERS, "status", "FILTER")],
    ),
    Case(
        "chained_ctes_compose_subtypes",
        "with a as (select id, customer_id, amount from staging.orders where amount > 0),"
        " b as (select customer_id, sum(amount) as total from a group by customer_id),"
        " c as (select b.customer_id, b.total * 1.1 as total_with_tax from b)"
        " select customer_id, total_with_tax as Total from c",
        {
            "customer_id": {d(ORDERS, "customer_id")},
            "Total": {d(ORDERS, "Amount", "AGGREGATION")},
        },
        [i(ORDERS, "Amount", "FILTER"), i(ORDERS, "customer_id", "GROUP_BY")],
    ),
    Case(
        "cte_nested_in_a_subquery",
        "select x.id from (with inner_cte as (select id from staging.orders where status <> 'x')"
        " select id from inner_cte) as x",
        {"id": {d(ORDERS, "id")}},
        [i(ORDERS, "status", "FILTER")],
    ),
    Case(
        "ephemeral_model_inlined_as_a_quoted_cte",
        'with "__ephemeral__staging__recent" as (select * from "staging"."orders"'
        " where ordered_at > '2024-01-01') select id, status"
        ' from "__ephemeral__staging__recent" as recent',
        {"id": {d(ORDERS, "id")}, "status": {d(ORDERS, "status")}},
        [i(ORDERS, "ordered_at", "FILTER")],
    ),
    Case(
        "cte_column_list_renames",
        "with c(Customer, Place) as (select id, region from staging.customers) select * from c",
        {"Customer": {d(CUSTOMERS, "id")}, "Place": {d(CUSTOMERS, "Region")}},
    ),
    Case(
        "inner_join_using_takes_the_left_column",
        "select * from staging.orders join staging.customers using (id)",
        {
            "id": {d(ORDERS, "id")},
            "customer_id": {d(ORDERS, "customer_id")},
            "Amount": {d(ORDERS, "Amount")},
            "status": {d(ORDERS, "status")},
            "ordered_at": {d(ORDERS, "ordered_at")},
            "items": {d(ORDERS, "items")},
            "name": {d(CUSTOMERS, "name")},
            "Region": {d(CUSTOMERS, "Region")},
        },
        [i(ORDERS, "id", "JOIN"), i(CUSTOMERS, "id", "JOIN")],
    ),
    Case(
        "left_join_using",
        "select id, name from staging.orders left join staging.customers using (id) where id > 10",
        {"id": {d(ORDERS, "id")}, "name": {d(CUSTOMERS, "name")}},
        [i(ORDERS, "id", "JOIN"), i(CUSTOMERS, "id", "JOIN"), i(ORDERS, "id", "FILTER")],
    ),
    Case(
        "right_join_using_takes_the_right_column",
        "select id from staging.orders right join staging.customers using (id)",
        {"id": {d(CUSTOMERS, "id")}},
        [i(ORDERS, "id", "JOIN"), i(CUSTOMERS, "id", "JOIN")],
    ),
    Case(
        "full_join_using_takes_both_columns",
        "select id, name, amount from staging.orders full join staging.customers using (id)",
        {
            "id": {d(ORDERS, "id"), d(CUSTOMERS, "id")},
            "name": {d(CUSTOMERS, "name")},
            "Amount": {d(ORDERS, "Amount")},
        },
        [i(ORDERS, "id", "JOIN"), i(CUSTOMERS, "id", "JOIN")],
    ),
    Case(
        "written_coalesce_over_a_using_column_is_a_transformation",
        "select coalesce(o.id, c.id) as id from staging.orders o"
        " left join staging.customers c using (id)",
        {"id": {d(ORDERS, "id", "TRANSFORMATION"), d(CUSTOMERS, "id", "TRANSFORMATION")}},
        [i(ORDERS, "id", "JOIN"), i(CUSTOMERS, "id", "JOIN")],
    ),
    Case(
        "aggregates_group_by_having_order_by",
        "select status, count(*) as n, count(distinct customer_id) as buyers,"
        " sum(amount) as total, min(ordered_at) as first_at, max(amount) as biggest,"
        " avg(amount) as mean from staging.orders group by status having sum(amount) > 100"
        " order by total desc",
        {
            "status": {d(ORDERS, "status")},
            "n": set(),
            "buyers": {d(ORDERS, "customer_id", "AGGREGATION")},
            "total": {d(ORDERS, "Amount", "AGGREGATION")},
            "first_at": {d(ORDERS, "ordered_at", "AGGREGATION", carries=True)},
            "biggest": {d(ORDERS, "Amount", "AGGREGATION", carries=True)},
            "mean": {d(ORDERS, "Amount", "AGGREGATION")},
        },
        [
            i(ORDERS, "status", "GROUP_BY"),
            i(ORDERS, "Amount", "FILTER"),
            i(ORDERS, "Amount", "SORT"),
        ],
    ),
    Case(
        "group_by_alias_and_position",
        "select status as state, customer_id, sum(amount) as total from staging.orders"
        " group by state, 2 order by 3",
        {
            "state": {d(ORDERS, "status")},
            "customer_id": {d(ORDERS, "customer_id")},
            "total": {d(ORDERS, "Amount", "AGGREGATION")},
        },
        [
            i(ORDERS, "status", "GROUP_BY"),
            i(ORDERS, "customer_id", "GROUP_BY"),
            i(ORDERS, "Amount", "SORT"),
        ],
    ),
    Case(
        "group_by_all_and_order_by_all",
        "select status, upper(name) as who, sum(amount) as total from staging.orders o"
        " join staging.customers c on o.customer_id = c.id group by all order by all",
        {
            "status": {d(ORDERS, "status")},
            "who": {d(CUSTOMERS, "name", "TRANSFORMATION")},
            "total": {d(ORDERS, "Amount", "AGGREGATION")},
        },
        [
            i(ORDERS, "customer_id", "JOIN"),
            i(CUSTOMERS, "id", "JOIN"),
            i(ORDERS, "status", "GROUP_BY"),
            i(CUSTOMERS, "name", "GROUP_BY"),
            i(ORDERS, "status", "SORT"),
            i(CUSTOMERS, "name", "SORT"),
            i(ORDERS, "Amount", "SORT"),
        ],
    ),
    Case(
        "window_functions_and_qualify",
        "select id, sum(amount) over (partition by customer_id order by ordered_at) as running,"
        " row_number() over (partition by customer_id order by ordered_at desc) as rn,"
        " lag(amount) over (order by id) as previous from staging.orders qualify rn = 1",
        {
            "id": {d(ORDERS, "id")},
            "running": {
                d(ORDERS, "Amount", "AGGREGATION"),
                i(ORDERS, "customer_id", "WINDOW"),
                i(ORDERS, "ordered_at", "WINDOW"),
            },
            "rn": {i(ORDERS, "customer_id", "WINDOW"), i(ORDERS, "ordered_at", "WINDOW")},
            "previous": {d(ORDERS, "Amount", "TRANSFORMATION"), i(ORDERS, "id", "WINDOW")},
        },
        [i(ORDERS, "customer_id", "FILTER"), i(ORDERS, "ordered_at", "FILTER")],
    ),
    Case(
        "named_window",
        "select avg(amount) over w as moving from staging.orders"
        " window w as (partition by status order by ordered_at rows 2 preceding)",
        {
            "moving": {
                d(ORDERS, "Amount", "AGGREGATION"),
                i(ORDERS, "status", "WINDOW"),
                i(ORDERS, "ordered_at", "WINDOW"),
            }
        },
    ),
    Case(
        "window_frame_bound_is_a_window_input",
        "select sum(amount) over (order by id rows between customer_id preceding"
        " and current row) as moving from staging.orders",
        {
            "moving": {
                d(ORDERS, "Amount", "AGGREGATION"),
                i(ORDERS, "id", "WINDOW"),
                i(ORDERS, "customer_id", "WINDOW"),
            }
        },
    ),
    Case(
        "latest_row_per_key_through_a_cte",
        "with ranked as (select *, row_number() over (partition by customer_id"
        " order by ordered_at desc) as rn from staging.orders)"
        " select id, customer_id from ranked where rn = 1",
        {"id": {d(ORDERS, "id")}, "customer_id": {d(ORDERS, "customer_id")}},
        [i(ORDERS, "customer_id", "FILTER"), i(ORDERS, "ordered_at", "FILTER")],
    ),
    Case(
        "case_and_if",
        "select case when status = 'paid' then amount when status = 'refunded' then -amount"
        " else 0 end as net, case status when 'paid' then 'P' else 'other' end as code,"
        " if(amount > 100, id, null) as big_id from staging.orders",
        {
            "net": {i(ORDERS, "status", "CONDITIONAL"), d(ORDERS, "Amount", "TRANSFORMATION")},
            "code": {i(ORDERS, "status", "CONDITIONAL")},
            "big_id": {i(ORDERS, "Amount", "CONDITIONAL"), d(ORDERS, "id", "TRANSFORMATION")},
        },
    ),
    Case(
        "conditions_inside_aggregates",
        "select sum(case when status = 'paid' then amount end) as paid_total,"
        " count(*) filter (where status = 'refunded') as refunds,"
        " array_agg(id order by ordered_at) as ids from staging.orders",
        {
            "paid_total": {i(ORDERS, "status", "CONDITIONAL"), d(ORDERS, "Amount", "AGGREGATION")},
            "refunds": {i(ORDERS, "status", "CONDITIONAL")},
            "ids": {
                d(ORDERS, "id", "AGGREGATION", carries=True),
                i(ORDERS, "ordered_at", "SORT"),
            },
        },
    ),
    Case(
        "union_all_merges_both_branches_by_position",
        "select id, amount from staging.orders union all select id, 0 from staging.customers",
        {"id": {d(ORDERS, "id"), d(CUSTOMERS, "id")}, "Amount": {d(ORDERS, "Amount")}},
    ),
    Case(
        "union_with_order_by",
        "select id, status as label from staging.orders where amount > 0"
        " union select id, upper(name) from staging.customers order by label",
        {
            "id": {d(ORDERS, "id"), d(CUSTOMERS, "id")},
            "label": {d(ORDERS, "status"), d(CUSTOMERS, "name", "TRANSFORMATION")},
        },
        [i(ORDERS, "Amount", "FILTER"), i(ORDERS, "status", "SORT"), i(CUSTOMERS, "name", "SORT")],
    ),
    Case(
        "union_by_name",
        "select id, amount from staging.orders union all by name"
        " select name, id from staging.customers",
        {
            "id": {d(ORDERS, "id"), d(CUSTOMERS, "id")},
            "Amount": {d(ORDERS, "Amount")},
            "name": {d(CUSTOMERS, "name")},
        },
    ),
    Case(
        "star_over_a_union_in_a_cte",
        "with everyone as (select id from staging.orders union select id from staging.customers)"
        " select * from everyone",
        {"id": {d(ORDERS, "id"), d(CUSTOMERS, "id")}},
    ),
    Case(
        "except_and_intersect_keep_the_left_values_and_filter_by_the_right",
        "select id, status from staging.orders except"
        " (select id, name from staging.customers where region = 'eu'"
        " intersect select customer_id, status from staging.orders)",
        {"id": {d(ORDERS, "id")}, "status": {d(ORDERS, "status")}},
        [
            i(CUSTOMERS, "Region", "FILTER"),
            i(ORDERS, "customer_id", "FILTER"),
            i(ORDERS, "status", "FILTER"),
            i(CUSTOMERS, "id", "FILTER"),
            i(CUSTOMERS, "name", "FILTER"),
        ],
    ),
    Case(
        "cte_read_twice_in_a_self_join",
        "with paid as (select id, customer_id from staging.orders where status = 'paid')"
        " select a.id, b.id as other_id from paid a join paid b on a.customer_id = b.customer_id"
        " and a.id < b.id",
        {"id": {d(ORDERS, "id")}, "other_id": {d(ORDERS, "id")}},
        [i(ORDERS, "status", "FILTER"), i(ORDERS, "customer_id", "JOIN"), i(ORDERS, "id", "JOIN")],
    ),
    Case(
        "lateral_subquery",
        "select o.id, l.doubled from staging.orders o, lateral (select o.amount * 2 as doubled) l",
        {"id": {d(ORDERS, "id")}, "doubled": {d(ORDERS, "Amount", "TRANSFORMATION")}},
    ),
    Case(
        "subqueries_in_where",
        "select id from staging.orders o where customer_id in (select id from staging.customers"
        " where region = 'eu') and exists (select 1 from staging.customers c"
        " where c.id = o.customer_id and c.name is not null)",
        {"id": {d(ORDERS, "id")}},
        [
            i(ORDERS, "customer_id", "FILTER"),
            i(CUSTOMERS, "Region", "FILTER"),
            i(CUSTOMERS, "id", "FILTER"),
            i(CUSTOMERS, "name", "FILTER"),
        ],
    ),
    Case(
        "correlated_scalar_subquery_in_select",
        "select o.id, (select max(c.name) from staging.customers c where c.id = o.customer_id)"
        " as customer_name from staging.orders o",
        # the subquery's WHERE picks the value of its own column, not the rows of the query
        {
            "id": {d(ORDERS, "id")},
            "customer_name": {
                d(CUSTOMERS, "name", "AGGREGATION", carries=True),
                i(CUSTOMERS, "id", "FILTER"),
                i(ORDERS, "customer_id", "FILTER"),
            },
        },
        [],
    ),
    Case(
        "distinct_on",
        "select distinct on (customer_id) customer_id, id from staging.orders"
        " order by customer_id, ordered_at desc",
        {"customer_id": {d(ORDERS, "customer_id")}, "id": {d(ORDERS, "id")}},
        [
            i(ORDERS, "customer_id", "GROUP_BY"),
            i(ORDERS, "customer_id", "SORT"),
            i(ORDERS, "ordered_at", "SORT"),
        ],
    ),
    Case(
        "unnest_and_values_in_from",
        "select u.item, v.label from staging.orders as o, unnest(o.items) as u(item),"
        " (values (1, 'one')) as v(code, label) where v.code = u.item",
        {"item": {d(ORDERS, "items", "TRANSFORMATION")}, "label": set()},
        [i(ORDERS, "items", "FILTER")],
    ),
    Case(
        "struct_literal_is_a_transformation",
        "select {'amount': amount, 'status': status} as packed from staging.orders",
        {
            "packed": {
                d(ORDERS, "Amount", "TRANSFORMATION"),
                d(ORDERS, "status", "TRANSFORMATION"),
            }
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_lineage(case: Case) -> None:
    lineage = model_lineage(case.sql, SCHEMAS)

    assert list(lineage.columns) == list(case.columns)
    assert {name: set(sources) for name, sources in lineage.columns.items()} == case.columns
    for sources in lineage.columns.values():
        assert len(sources) == len(set(sources))
    assert list(lineage.dataset) == case.dataset


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding empty tables with the test schemas."""
    return empty_tables(SCHEMAS)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_output_names_are_the_ones_duckdb_gives(
    case: Case, duck: duckdb.DuckDBPyConnection
) -> None:
    description = duck.execute(case.sql).description
    assert description is not None
    assert list(model_lineage(case.sql, SCHEMAS).columns) == [column[0] for column in description]


@pytest.mark.parametrize(
    ("sql", "message", "column"),
    [
        ("select * from staging.nope", "table staging.nope is not in the schemas", None),
        ("select * from orders", "table orders is not in the schemas", None),
        (
            "select * from read_parquet('orders.parquet')",
            "whose columns are unknown",
            None,
        ),
        (
            "select id from staging.orders o join staging.customers c on o.customer_id = c.id",
            "column id is ambiguous: it is in o, c",
            "id",
        ),
        ("select nope from staging.orders", "column nope is not in any table", "nope"),
        ("select o.nope from staging.orders o", "Unknown column: nope", None),
        (
            "with a as (select id from staging.orders) select a.status from a",
            "Unknown column: status",
            None,
        ),
        (
            "with a as (select o.id, c.id from staging.orders o join staging.customers c"
            " on o.customer_id = c.id) select a.id from a",
            "ambiguous: a has several columns of that name",
            "id",
        ),
        ("select count(*) from staging.orders", "output column 1 (COUNT(*)) has no name", None),
        (
            "select o.id, c.id from staging.orders o join staging.customers c"
            " on o.customer_id = c.id",
            "two output columns are named id",
            "id",
        ),
        (
            "select id, status from staging.orders union all select id from staging.customers",
            "the sides of a UNION have 2 and 1 columns",
            None,
        ),
        (
            "with recursive r as (select 1 as n union all select n + 1 from r where n < 3)"
            " select n from r",
            "CTE r is recursive",
            None,
        ),
        ("select id from staging.orders; select 1", "not exactly one query", None),
        ("create table x as select 1 as a", "not exactly one query", None),
        ("select (id from staging.orders", "does not parse", None),
    ],
)
def test_sql_that_cannot_be_analysed(sql: str, message: str, column: str | None) -> None:
    with pytest.raises(LineageError, match=re.escape(message)) as e:
        model_lineage(sql, SCHEMAS)
    assert e.value.column == column


def test_schemas_keys_need_a_namespace() -> None:
    with pytest.raises(LineageError, match=re.escape("'orders' is not 'namespace.name'")):
        model_lineage("select id from staging.orders", {"orders": {"id": "INTEGER"}})


def test_json_round_trip() -> None:
    lineage = model_lineage(
        "select o.id, sum(amount) over (partition by c.region) as regional,"
        " case when status = 'paid' then amount end as paid from staging.orders o"
        " join staging.customers c on o.customer_id = c.id where c.name <> ''",
        SCHEMAS,
    )

    document = json.loads(json.dumps(lineage.to_json()))

    assert ModelLineage.from_json(document) == lineage
    assert document["columns"]["regional"] == [
        {
            "asset": ORDERS,
            "column": "Amount",
            "type": "DIRECT",
            "subtype": "AGGREGATION",
            "carries": False,
        },
        {
            "asset": CUSTOMERS,
            "column": "Region",
            "type": "INDIRECT",
            "subtype": "WINDOW",
            "carries": False,
        },
    ]
    assert document["dataset"][0] == {
        "asset": ORDERS,
        "column": "customer_id",
        "type": "INDIRECT",
        "subtype": "JOIN",
        "carries": False,
    }


@pytest.mark.parametrize(
    "source",
    [
        {"asset": ORDERS, "column": "id", "type": "SIDEWAYS", "subtype": "IDENTITY"},
        {"asset": ORDERS, "column": "id", "type": "DIRECT", "subtype": "JOIN"},
    ],
)
def test_from_json_rejects_what_openlineage_does_not_define(source: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="not a"):
        ColumnSource.from_json(source)


def test_importing_the_module_does_not_import_sqlglot() -> None:
    code = "import sys, headwater.lineage.columns; print('sqlglot' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "False", result.stderr
