"""Which lineage sources carry the upstream value: golden cases, one expression or query each.

`carries` is what personal-data tags follow downstream: True where the output still holds the
value or part of it, False where it holds something computed about it (a count, a length, a
comparison) or where the column only influences rows (INDIRECT). Every SQL also runs on DuckDB,
on empty tables, so the golden cases stay valid DuckDB.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from headwater import Project
from headwater.catalog.lineage import stored_lineage
from headwater.lineage.column_sources import ColumnSource, ModelLineage
from headwater.lineage.columns import model_lineage
from headwater.lineage.graph import ColumnRef
from headwater.lineage.openlineage import column_lineage_facet
from tests.conftest import ProjectFactory
from tests.lineage.empty_tables import empty_tables

PEOPLE = "raw.c"
ORDERS = "raw.o"
SCHEMAS: dict[str, dict[str, str]] = {
    PEOPLE: {
        "id": "INTEGER",
        "email": "VARCHAR",
        "name": "VARCHAR",
        "born": "DATE",
        "salary": "DECIMAL(18,2)",
        "tags": "VARCHAR[]",
        "profile": "JSON",
    },
    ORDERS: {"id": "INTEGER", "customer_email": "VARCHAR", "amount": "DECIMAL(18,2)"},
}

# (expression, upstream column of raw.c, carries?), each selected as `v` from raw.c.
EXPRESSIONS: list[tuple[str, str, bool]] = [
    # copies, casts and text functions keep the value or part of it
    ("email", "email", True),
    ("lower(email)", "email", True),
    ("trim(lower(email))", "email", True),
    ("cast(email as varchar)", "email", True),
    ("substr(email, 1, 3)", "email", True),
    ("substr(email, id, 3)", "id", False),
    ("split_part(email, '@', 2)", "email", True),
    ("regexp_replace(email, '@.*', '')", "email", True),
    ("replace(email, 'a', name)", "name", True),
    ("coalesce(email, 'x')", "email", True),
    ("nullif(email, name)", "email", True),
    ("nullif(email, name)", "name", False),
    ("email || name", "email", True),
    ("email || name", "name", True),
    ("email || cast(length(email) as varchar)", "email", True),
    ("case when id > 1 then email end", "email", True),
    ("case when id > 1 then email end", "id", False),
    ("if(id > 1, email, name)", "name", True),
    ("date_trunc('month', born)", "born", True),
    ("extract(year from born)", "born", True),
    ("profile ->> '$.city'", "profile", True),
    ("[email, name]", "name", True),
    ("{'e': email}", "email", True),
    ("tags[1]", "tags", True),
    ("tags[id]", "id", False),
    ("unnest(tags)", "tags", True),
    ("salary * 12", "salary", True),
    ("round(salary, -3)", "salary", True),
    # hashes are pseudonyms: still linkable personal data
    ("md5(email)", "email", True),
    ("sha256(email)", "email", True),
    ("hash(email)", "email", True),
    # functions Headwater does not know keep the value (fail closed)
    ("some_udf(email)", "email", True),
    # aggregates that pick values
    ("max(email)", "email", True),
    ("min(email)", "email", True),
    ("first(email)", "email", True),
    ("last(email)", "email", True),
    ("any_value(email)", "email", True),
    ("mode(email)", "email", True),
    ("string_agg(email, ',')", "email", True),
    ("list(email)", "email", True),
    ("array_agg(distinct email)", "email", True),
    ("arg_max(email, id)", "email", True),
    ("arg_max(email, id)", "id", False),
    ("arg_min(email, id)", "email", True),
    ("median(salary)", "salary", True),
    ("percentile_disc(0.5) within group (order by salary)", "salary", True),
    ("upper(max(email))", "email", True),
    # window navigation picks another row's value
    ("lag(email) over (order by id)", "email", True),
    ("lag(email) over (order by id)", "id", False),
    ("first_value(email) over (partition by name order by id)", "email", True),
    ("max(email) over ()", "email", True),
    # counts, numeric statistics
    ("count(email)", "email", False),
    ("count(distinct email)", "email", False),
    ("approx_count_distinct(email)", "email", False),
    ("sum(salary)", "salary", False),
    ("avg(salary)", "salary", False),
    ("stddev(salary)", "salary", False),
    ("variance(salary)", "salary", False),
    ("percentile_cont(0.5) within group (order by salary)", "salary", False),
    ("sum(salary) over (partition by email)", "salary", False),
    ("sum(salary) over (partition by email)", "email", False),
    # sizes and positions
    ("length(email)", "email", False),
    ("strlen(email)", "email", False),
    ("octet_length(encode(email))", "email", False),
    ("coalesce(length(email), 0)", "email", False),
    ("position('@' in email)", "email", False),
    # booleans
    ("email is null", "email", False),
    ("email is not null", "email", False),
    ("email = 'x'", "email", False),
    ("lower(email) = 'x'", "email", False),
    ("email like '%x'", "email", False),
    ("email in ('a', 'b')", "email", False),
    ("starts_with(email, 'a')", "email", False),
    ("contains(email, 'a')", "email", False),
    ("regexp_matches(email, 'a')", "email", False),
    ("bool_or(email like '%x')", "email", False),
    # a CASE condition is INDIRECT: no value flows
    ("case when email like '%x' then 1 else 0 end", "email", False),
]

# (query, output column, upstream "asset.column", carries?)
QUERIES: list[tuple[str, str, str, bool]] = [
    (
        "select o.amount from raw.o o join raw.c c on o.customer_email = c.email",
        "amount",
        "raw.c.email",
        False,
    ),
    (
        "select o.customer_email from raw.o o join raw.c c on o.customer_email = c.email",
        "customer_email",
        "raw.o.customer_email",
        True,
    ),
    ("select email as v from raw.c where email like '%x'", "v", "raw.c.email", True),
    ("select email as v from raw.c union all select name from raw.c", "v", "raw.c.name", True),
    (
        "select cast(length(email) as varchar) as v from raw.c union all select name from raw.c",
        "v",
        "raw.c.email",
        False,
    ),
    (
        # one branch copies email, the other measures it: the column may hold the value
        "select email as v from raw.c union all select cast(length(email) as varchar) from raw.c",
        "v",
        "raw.c.email",
        True,
    ),
    (
        "with a as (select lower(email) as e from raw.c), b as (select trim(e) as e2 from a)"
        " select e2 as v from b",
        "v",
        "raw.c.email",
        True,
    ),
    (
        "with a as (select length(email) as n from raw.c) select n + 1 as v from a",
        "v",
        "raw.c.email",
        False,
    ),
    (
        "with a as (select max(email) as e from raw.c) select upper(e) as v from a",
        "v",
        "raw.c.email",
        True,
    ),
    (
        "with a as (select email from raw.c) select count(email) as v from a",
        "v",
        "raw.c.email",
        False,
    ),
    ("select v from (select lower(email) as v from raw.c) as s", "v", "raw.c.email", True),
    ("select (select max(email) from raw.c) as v", "v", "raw.c.email", True),
    ("select (select count(email) from raw.c) as v", "v", "raw.c.email", False),
    ("select t.tag as v from raw.c, unnest(tags) as t(tag)", "v", "raw.c.tags", True),
]


def expression_sql(expression: str) -> str:
    """The query selecting `expression` as `v` from raw.c."""
    return f"select {expression} as v from raw.c"


def carries(lineage: ModelLineage, output: str, upstream: str) -> bool:
    """Whether any source of `output` reading the column `upstream` ("asset.column") carries
    its value."""
    return any(
        source.carries
        for source in lineage.columns[output]
        if f"{source.asset}.{source.column}" == upstream
    )


def check_invariants(lineage: ModelLineage) -> None:
    """INDIRECT sources never carry; the uses of one column merge into one source per kind."""
    for sources in (*lineage.columns.values(), lineage.dataset):
        for source in sources:
            assert source.type == "DIRECT" or not source.carries, source
        kinds = [(s.asset, s.column, s.type, s.subtype) for s in sources]
        assert len(kinds) == len(set(kinds)), sources


@pytest.mark.parametrize(
    ("expression", "column", "expected"),
    EXPRESSIONS,
    ids=[f"{expression} [{column}]" for expression, column, _ in EXPRESSIONS],
)
def test_expression_carries_the_value(expression: str, column: str, expected: bool) -> None:
    lineage = model_lineage(expression_sql(expression), SCHEMAS)
    check_invariants(lineage)
    assert carries(lineage, "v", f"{PEOPLE}.{column}") is expected


@pytest.mark.parametrize(
    ("sql", "output", "upstream", "expected"),
    QUERIES,
    ids=[f"{sql} [{upstream}]" for sql, _, upstream, _ in QUERIES],
)
def test_query_carries_the_value(sql: str, output: str, upstream: str, expected: bool) -> None:
    lineage = model_lineage(sql, SCHEMAS)
    check_invariants(lineage)
    assert carries(lineage, output, upstream) is expected


def test_a_join_key_that_is_not_selected_has_no_direct_source() -> None:
    lineage = model_lineage(QUERIES[0][0], SCHEMAS)
    assert ColumnSource(PEOPLE, "email", "INDIRECT", "JOIN") in lineage.dataset
    assert all(source.column != "email" for source in lineage.columns["amount"])


def test_a_column_used_twice_in_one_way_is_one_source_that_carries() -> None:
    lineage = model_lineage(expression_sql("cast(length(email) as varchar) || email"), SCHEMAS)
    assert lineage.columns["v"] == (
        ColumnSource(PEOPLE, "email", "DIRECT", "TRANSFORMATION", carries=True),
    )


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with empty tables of the test schemas and a `some_udf` macro."""
    connection = empty_tables(SCHEMAS)
    connection.execute("create macro some_udf(x) as x")
    return connection


@pytest.mark.parametrize(
    "sql",
    [expression_sql(expression) for expression, _, _ in EXPRESSIONS]
    + [sql for sql, _, _, _ in QUERIES],
)
def test_golden_sql_is_valid_duckdb(sql: str, duck: duckdb.DuckDBPyConnection) -> None:
    duck.execute(sql)


# -- the attribute itself ------------------------------------------------------------------------


def test_json_round_trip_keeps_carries() -> None:
    lineage = model_lineage(
        "select max(email) as top, length(name) as size from raw.c where id > 1", SCHEMAS
    )
    document = json.loads(json.dumps(lineage.to_json()))
    assert document["columns"]["top"][0]["carries"] is True
    assert document["columns"]["size"][0]["carries"] is False
    assert document["dataset"][0]["carries"] is False
    assert ModelLineage.from_json(document) == lineage


@pytest.mark.parametrize(
    ("kind", "subtype", "expected"),
    [
        ("DIRECT", "IDENTITY", True),
        ("DIRECT", "TRANSFORMATION", True),
        ("DIRECT", "AGGREGATION", False),
        ("INDIRECT", "JOIN", False),
        ("INDIRECT", "CONDITIONAL", False),
    ],
)
def test_lineage_recorded_before_carries_gets_the_subtypes_default(
    kind: str, subtype: str, expected: bool
) -> None:
    old = {"asset": PEOPLE, "column": "email", "type": kind, "subtype": subtype}
    assert ColumnSource.from_json(old).carries is expected
    assert ColumnSource(PEOPLE, "email", kind, subtype).carries is expected  # type: ignore[arg-type]


def test_an_indirect_source_cannot_carry_the_value() -> None:
    with pytest.raises(ValueError, match="does not carry"):
        ColumnSource(PEOPLE, "email", "INDIRECT", "JOIN", carries=True)
    with pytest.raises(ValueError, match="carries"):
        ColumnSource.from_json(
            {
                "asset": PEOPLE,
                "column": "email",
                "type": "DIRECT",
                "subtype": "IDENTITY",
                "carries": "yes",
            }
        )


def test_openlineage_facet_does_not_gain_carries() -> None:
    lineage = model_lineage(expression_sql("max(email)"), SCHEMAS)
    facet = column_lineage_facet(lineage.columns, lineage.dataset, lambda asset: ("ns", asset))
    transformations = facet["fields"]["v"]["inputFields"][0]["transformations"]
    assert transformations == [{"type": "DIRECT", "subtype": "AGGREGATION", "masking": False}]
    assert "carries" not in json.dumps(facet)


# -- the project's column graph ------------------------------------------------------------------

FILES = {
    "seeds/people.csv": "id,email,name\n1,ann@example.com,Ann\n2,bob@example.com,Bob\n",
    "models/staging/people.sql": "select id, lower(email) as email, length(name) as name_length"
    " from raw.people",
    "models/marts/summary.sql": "select max(email) as last_email, count(email) as emails,"
    " sum(name_length) as letters from staging.people where id > 0",
}


def test_graph_edges_say_whether_they_carry_the_value(make_project: ProjectFactory) -> None:
    project: Project = make_project(FILES)
    assert project.run().status == "success"
    graph = project.column_graph()
    edges = {
        (str(edge.source), str(edge.target), edge.type): edge.carries for edge in graph.edges()
    }
    assert edges[("raw.people.email", "staging.people.email", "DIRECT")] is True
    assert edges[("raw.people.name", "staging.people.name_length", "DIRECT")] is False
    assert edges[("staging.people.email", "marts.summary.last_email", "DIRECT")] is True
    assert edges[("staging.people.email", "marts.summary.emails", "DIRECT")] is False
    assert edges[("staging.people.id", "marts.summary.last_email", "INDIRECT")] is False

    # along a whole path, an edge carries when every step does
    down = graph.reachable(ColumnRef("raw.people", "email"), "downstream")
    by_column = {str(ref): edge.carries for ref, (_, edge) in down.items()}
    assert by_column == {
        "staging.people.email": True,
        "marts.summary.last_email": True,
        "marts.summary.emails": False,
    }

    # the catalog keeps the attribute with the rest of the lineage
    document = stored_lineage(project.catalog)["marts.summary"].document
    assert [s["carries"] for s in document["lineage"]["columns"]["last_email"]] == [True]


def test_a_column_reached_by_value_and_by_measure_at_one_depth_carries(
    make_project: ProjectFactory,
) -> None:
    """m2.v meets raw.people.email twice two steps down, through a length and through the
    e-mail itself: of the DIRECT paths of that length, the one that carries counts."""
    project: Project = make_project(
        {
            "seeds/people.csv": "id,email\n1,a@example.com\n",
            "seeds/people.yml": "columns:\n  - name: id\n  - name: email\n",
            "models/m1.sql": "select length(email) as a, email as b from raw.people",
            "models/m2.sql": "select cast(a as varchar) || b as v from main.m1",
        }
    )
    graph = project.column_graph()
    down = graph.reachable(ColumnRef("raw.people", "email"), "downstream")
    found = {str(ref): (depth, edge.type, edge.carries) for ref, (depth, edge) in down.items()}
    assert found == {
        "main.m1.a": (1, "DIRECT", False),
        "main.m1.b": (1, "DIRECT", True),
        "main.m2.v": (2, "DIRECT", True),
    }
