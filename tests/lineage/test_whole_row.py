"""A table's name used as a value (`to_json(p)`, `p AS person`, `list(p)`): the whole row.

sqlglot qualifies such a name as an `exp.TableColumn`. Every column of the table, CTE or derived
table it names flows into the output, so personal data in any of them reaches it; a name whose
columns cannot be followed fails the analysis rather than yielding a column with no sources.
Every SQL also runs on DuckDB, on empty tables.
"""

from __future__ import annotations

import duckdb
import pytest

from headwater.lineage.column_sources import ColumnSource, LineageError
from headwater.lineage.columns import model_lineage
from headwater.lineage.expressions import ExpressionWalker
from tests.lineage.empty_tables import empty_tables

PEOPLE = "raw.people"
SCHEMAS: dict[str, dict[str, str]] = {
    PEOPLE: {"id": "INTEGER", "email": "VARCHAR", "name": "VARCHAR"},
    "raw.orders": {"id": "INTEGER", "person_id": "INTEGER", "amount": "DECIMAL(18,2)"},
}
EVERY_COLUMN = ("id", "email", "name")

# (query selecting `payload`, subtype of every column of raw.people in it, carries?)
WHOLE_ROWS: list[tuple[str, str, bool]] = [
    ("select p.id, to_json(p) as payload from raw.people p", "TRANSFORMATION", True),
    ("select p as payload from raw.people p", "TRANSFORMATION", True),
    ("select to_json(people) as payload from raw.people", "TRANSFORMATION", True),
    ("select {'all': p} as payload from raw.people p", "TRANSFORMATION", True),
    ("select md5(p::varchar) as payload from raw.people p", "TRANSFORMATION", True),
    ("select list(p) as payload from raw.people p", "AGGREGATION", True),
    ("select first(p) as payload from raw.people p", "AGGREGATION", True),
    (
        "with c as (select * from raw.people) select to_json(c) as payload from c",
        "TRANSFORMATION",
        True,
    ),
    (
        "select to_json(s) as payload from (select id, email, name from raw.people) as s",
        "TRANSFORMATION",
        True,
    ),
    (
        "select o.amount, to_json(p) as payload"
        " from raw.orders o join raw.people p on p.id = o.person_id",
        "TRANSFORMATION",
        True,
    ),
    # a correlated scalar subquery reading the outer row
    ("select (select to_json(p)) as payload from raw.people p", "TRANSFORMATION", True),
    # computed about the row, not taken from it
    ("select count(p) as payload from raw.people p", "AGGREGATION", False),
    ("select p is null as payload from raw.people p", "TRANSFORMATION", False),
    ("select length(p::varchar) as payload from raw.people p", "TRANSFORMATION", False),
]


@pytest.mark.parametrize(("sql", "subtype", "carries"), WHOLE_ROWS, ids=[w[0] for w in WHOLE_ROWS])
def test_a_whole_row_reference_has_every_column_as_a_source(
    sql: str, subtype: str, carries: bool
) -> None:
    lineage = model_lineage(sql, SCHEMAS)
    assert lineage.columns["payload"] == tuple(
        ColumnSource(PEOPLE, column, "DIRECT", subtype, carries) for column in EVERY_COLUMN
    )


def test_a_whole_row_of_a_cte_is_each_of_its_columns_as_the_cte_computes_it() -> None:
    lineage = model_lineage(
        "with c as (select id, lower(email) as e, length(name) as n from raw.people)"
        " select to_json(c) as payload from c",
        SCHEMAS,
    )
    assert lineage.columns["payload"] == (
        ColumnSource(PEOPLE, "id", "DIRECT", "TRANSFORMATION", carries=True),
        ColumnSource(PEOPLE, "email", "DIRECT", "TRANSFORMATION", carries=True),
        ColumnSource(PEOPLE, "name", "DIRECT", "TRANSFORMATION", carries=False),
    )


def test_a_whole_row_in_a_filter_filters_every_column() -> None:
    lineage = model_lineage(
        "select o.amount from raw.orders o left join raw.people p on p.id = o.person_id"
        " where p is not null",
        SCHEMAS,
    )
    assert lineage.columns["amount"] == (
        ColumnSource("raw.orders", "amount", "DIRECT", "IDENTITY"),
    )
    filters = [s.column for s in lineage.dataset if s.asset == PEOPLE and s.subtype == "FILTER"]
    assert filters == list(EVERY_COLUMN)


def test_an_unaliased_whole_row_is_named_as_written() -> None:
    lineage = model_lineage("select P from raw.people p", SCHEMAS)
    assert list(lineage.columns) == ["P"]
    assert {source.column for source in lineage.columns["P"]} == set(EVERY_COLUMN)


def test_a_reference_the_walk_passes_by_fails_the_analysis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The safety net: were whole rows (or any other reference) not followed, the projection
    would end with no sources although it reads a table; that must not pass as clean."""
    monkeypatch.setattr(ExpressionWalker, "_whole_row", lambda *_: None)
    with pytest.raises(LineageError, match="cannot follow lineage through") as e:
        model_lineage("select p.id, to_json(p) as payload from raw.people p", SCHEMAS)
    assert e.value.column == "payload"


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) as n, now() as t, 1 as one from raw.people",
        "with k as (select 1 as x) select x from k",
        "select count(p.*) as n from raw.people p",
        "select list_transform([1, 2], x -> x + 1) as l from raw.people",
    ],
)
def test_an_output_without_sources_that_reads_no_column_is_still_analysed(sql: str) -> None:
    lineage = model_lineage(sql, SCHEMAS)
    assert all(sources == () for sources in lineage.columns.values())


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with empty tables of the test schemas."""
    return empty_tables(SCHEMAS)


@pytest.mark.parametrize("sql", [sql for sql, _, _ in WHOLE_ROWS] + ["select P from raw.people p"])
def test_golden_sql_is_valid_duckdb_and_named_alike(
    sql: str, duck: duckdb.DuckDBPyConnection
) -> None:
    description = duck.execute(sql).description
    assert description is not None
    assert list(model_lineage(sql, SCHEMAS).columns) == [column[0] for column in description]
