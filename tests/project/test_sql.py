"""SQL analysis, templating, compilation and the parse cache, on real SQL and real projects."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import headwater.project.sql as sql_module
import headwater.project.templating as templating_module
from headwater import Project
from headwater.errors import ConfigError
from headwater.project.sql import SqlAnalysis, TableReference, analyze, compile_sql
from headwater.project.templating import is_templated, render
from tests.conftest import ProjectFactory, rows

# -- analysis: what a model reads ----------------------------------------------------------------


def refs(sql: str) -> list[tuple[str | None, str]]:
    return [(r.namespace, r.name) for r in analyze(sql, "models/m.sql").references]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from raw.orders", [("raw", "orders")]),
        ("select * from orders", [(None, "orders")]),
        ('select * from "raw"."orders"', [("raw", "orders")]),
        ("from raw.orders select id", [("raw", "orders")]),
        ("from raw.orders", [("raw", "orders")]),
        (
            "select * from raw.orders o join raw.customers c on c.id = o.customer_id "
            "left join items using (order_id)",
            [("raw", "orders"), ("raw", "customers"), (None, "items")],
        ),
        (
            "select * from (select * from (select id from staging.orders) a) b",
            [("staging", "orders")],
        ),
        (
            "select (select count(*) from raw.items) as n from raw.orders "
            "where exists (select 1 from staging.x where x.id = orders.id)",
            [("raw", "orders"), ("raw", "items"), ("staging", "x")],
        ),
        (
            "select * from t1 union all select * from t2 except select * from t1",
            [(None, "t1"), (None, "t2")],
        ),
        (
            "with recent as (select * from raw.orders), big as (select * from recent) "
            "select * from big join recent using (id)",
            [("raw", "orders")],
        ),
        (
            "with recursive r as (select 1 as n union all select n + 1 from r where n < 3) "
            "select * from r",
            [],
        ),
        (
            "select * from raw.orders\n"
            "where id in (with q as (select id from raw.items) select id from q)",
            [("raw", "orders"), ("raw", "items")],
        ),
        (
            "select * from raw.orders o left join lateral "
            "(select * from raw.items i where i.order_id = o.id) x on true",
            [("raw", "orders"), ("raw", "items")],
        ),
        ("select * from raw.orders o, unnest(o.tags) as u(tag)", [("raw", "orders")]),
        ("select * from range(10)", []),
        ("select * from information_schema.tables", []),
        (
            "select * exclude (id) from raw.orders qualify row_number() over () = 1",
            [("raw", "orders")],
        ),
        ("select * from raw.orders join raw.orders o2 using (id)", [("raw", "orders")]),
        ("select * from main.shop.orders", [("shop", "orders")]),
    ],
)
def test_dependencies_found_by_parsing(sql: str, expected: list[tuple[str | None, str]]) -> None:
    assert refs(sql) == expected


def test_reference_carries_its_line() -> None:
    analysis = analyze("select *\nfrom raw.orders o\n\njoin\n  customers c on true\n", "m.sql")

    assert analysis.references == (
        TableReference("raw", "orders", 2),
        TableReference(None, "customers", 5),
    )
    assert str(analysis.references[0]) == "raw.orders"
    assert str(analysis.references[1]) == "customers"


@pytest.mark.parametrize(
    ("sql", "files"),
    [
        ("select * from read_parquet('data/events/*.parquet')", ["data/events/*.parquet"]),
        (
            "select * from read_parquet(['a/b.parquet', 'c.parquet'], hive_partitioning = true)",
            ["a/b.parquet", "c.parquet"],
        ),
        ("select * from read_csv('data/x.csv', header = true, delim = ';')", ["data/x.csv"]),
        ("select * from read_csv_auto('s3://bucket/key.csv')", ["s3://bucket/key.csv"]),
        ("select * from read_json_auto('events.ndjson')", ["events.ndjson"]),
        ("select * from 'data/orders.csv'", ["data/orders.csv"]),
        ("from 'orders.parquet'", ["orders.parquet"]),
        ('select * from "data/orders.parquet"', ["data/orders.parquet"]),
        (
            "select * from 'a.csv' join read_parquet('b.parquet') using (id)\n"
            "join 'a.csv' using (id)",
            ["a.csv", "b.parquet"],
        ),
        ("select * from range(3)", []),
    ],
)
def test_external_files_are_collected_not_referenced(sql: str, files: list[str]) -> None:
    analysis = analyze(sql, "m.sql")

    assert list(analysis.external_files) == files
    assert analysis.references == ()


def test_analysis_round_trips_through_json() -> None:
    analysis = analyze("select * from raw.orders join x using (id), 'f.csv'", "m.sql")

    restored = SqlAnalysis.from_json(json.loads(json.dumps(analysis.to_json())))

    assert restored == analysis


# -- templating -----------------------------------------------------------------------------------


def test_is_templated() -> None:
    assert is_templated("select * from {{ ref('x') }}")
    assert is_templated("{% if true %}select 1{% endif %}")
    assert not is_templated("select '{' as brace, '}' as other")


def test_render_ref_source_this_var_config() -> None:
    result = render(
        "select * from {{ ref('orders') }} a\n"
        "join {{ ref('staging', 'customers') }} b using (id)\n"
        "join {{ source('shop', 'items') }} c using (id)\n"
        "join {{ ref('odd name') }} d using (id)\n"
        "where '{{ this }}' <> '{{ var('country') }}' and {{ var('limit', 5) }} > 0\n"
        "{{ config(materialized='incremental', unique_key='id') }}",
        file="models/m.sql",
        this="marts.m",
        is_incremental=False,
        variables={"country": "NL"},
    )

    assert result.sql.splitlines()[:5] == [
        "select * from orders a",
        "join staging.customers b using (id)",
        "join shop.items c using (id)",
        'join "odd name" d using (id)',
        "where 'marts.m' <> 'NL' and 5 > 0",
    ]
    assert result.config == {"materialized": "incremental", "unique_key": "id"}


@pytest.mark.parametrize("incremental", [True, False])
def test_render_is_incremental(incremental: bool) -> None:
    result = render(
        "select * from raw.events\n"
        "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}",
        file="m.sql",
        this="main.events",
        is_incremental=incremental,
        variables={},
    )

    assert ("main.events" in result.sql) is incremental
    assert refs(result.sql) == (
        [("raw", "events"), ("main", "events")] if incremental else [("raw", "events")]
    )


def test_ref_and_source_give_the_same_dependencies_as_plain_names(
    make_project: ProjectFactory,
) -> None:
    files = {
        "seeds/orders.csv": "id,amount\n1,10\n",
        "models/staging/stg_orders.sql": "select * from raw.orders",
    }
    plain = make_project(
        {
            **files,
            "models/marts/m.sql": "select * from staging.stg_orders join raw.orders using (id)",
        },
        folder="plain",
    )
    templated = make_project(
        {
            **files,
            "models/marts/m.sql": (
                "select * from {{ ref('stg_orders') }}\n"
                "join {{ source('raw', 'orders') }} using (id)"
            ),
        },
        folder="templated",
    )

    deps = plain.definition.assets["marts.m"].depends_on
    assert deps == ("staging.stg_orders", "raw.orders")
    assert templated.definition.assets["marts.m"].depends_on == deps
    assert templated.definition.assets["marts.m"].templated


def test_config_in_template_sets_materialization(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/orders.csv": "id\n1\n",
            "models/m.sql": (
                "{{ config(materialized='incremental', unique_key='id', tags=['daily']) }}\n"
                "select * from raw.orders"
            ),
        }
    )

    asset = project.definition.assets["main.m"]
    assert asset.materialized == "incremental"
    assert asset.unique_key == ["id"]
    assert asset.tags == ("daily",)


# -- compilation ---------------------------------------------------------------------------------


def test_compile_sql_qualifies_and_inlines() -> None:
    tables = {
        "orders": ("raw", "orders"),
        "customers": ("raw", "customers"),
        "eph": ("staging", "eph"),
    }

    def resolve(reference: TableReference) -> tuple[str, str]:
        return tables[reference.name]

    def ephemeral(namespace: str, name: str) -> str | None:
        return "select 1 as id" if name == "eph" else None

    compiled = compile_sql(
        "select o.id, customers.name from orders o join customers on customers.id = o.id "
        "join eph using (id)",
        "m.sql",
        resolve,
        ephemeral,
    )

    assert 'FROM "raw"."orders" AS o' in compiled
    assert 'JOIN "raw"."customers" AS customers' in compiled
    assert compiled.startswith('WITH "__ephemeral__staging__eph" AS (')
    assert 'JOIN "__ephemeral__staging__eph" AS eph' in compiled
    assert refs(compiled) == [("raw", "orders"), ("raw", "customers")]


def test_compile_sql_rejects_what_analysis_rejects() -> None:
    with pytest.raises(ConfigError, match="exactly one statement"):
        compile_sql("select 1; select 2", "m.sql", lambda r: ("a", "b"), lambda n, t: None)


@pytest.fixture
def shop(make_project: ProjectFactory) -> Project:
    return make_project(
        {
            "seeds/orders.csv": "id,customer_id,amount\n1,1,10\n2,1,20\n3,2,5\n4,3,50\n",
            "seeds/customers.csv": "id,name\n1,Ann\n2,Bob\n3,Cy\n",
            "models/staging/stg_orders.sql": (
                "select id as order_id, customer_id, amount from orders"
            ),
            "models/staging/stg_orders.yml": "materialized: ephemeral\n",
            "models/staging/big_orders.sql": "select * from stg_orders where amount >= 10",
            "models/staging/big_orders.yml": "materialized: ephemeral\n",
            "models/staging/stg_customers.sql": "select id as customer_id, name from raw.customers",
            "models/staging/stg_customers.yml": "materialized: view\n",
            "models/marts/revenue.sql": textwrap.dedent(
                """\
                -- revenue of customers with a big order
                with per_customer as (
                    select customer_id, sum(amount) as total
                    from big_orders
                    group by 1
                )
                select c.name, per_customer.total
                from per_customer
                join stg_customers c using (customer_id)
                where per_customer.customer_id in (select customer_id from stg_orders)
                """
            ),
            "models/marts/self_join.sql": (
                "select a.order_id, b.amount from stg_orders a join stg_orders b using (order_id)"
            ),
            "models/marts/by_ref.sql": (
                "select orders.id, customers.name\n"
                "from {{ source('raw', 'orders') }}\n"
                "join customers on customers.id = orders.customer_id"
            ),
        }
    )


def test_compile_qualifies_every_name(shop: Project) -> None:
    compiled = shop.compile("marts.by_ref")

    assert 'FROM "raw"."orders"' in compiled
    assert 'JOIN "raw"."customers" AS customers' in compiled
    assert "{{" not in compiled
    assert refs(compiled) == [("raw", "orders"), ("raw", "customers")]


def test_compile_inlines_ephemeral_as_cte(shop: Project) -> None:
    compiled = shop.compile("staging.big_orders")

    assert compiled.startswith('WITH "__ephemeral__staging__stg_orders" AS (')
    assert 'FROM "raw"."orders" AS orders' in compiled
    assert 'FROM "__ephemeral__staging__stg_orders" AS stg_orders' in compiled
    assert refs(compiled) == [("raw", "orders")]


def test_compile_ephemeral_reading_ephemeral_and_own_ctes(shop: Project) -> None:
    compiled = shop.compile("marts.revenue")

    # both ephemerals come first, before the model's own CTE that reads one of them
    order = [
        compiled.index('"__ephemeral__staging__stg_orders" AS ('),
        compiled.index('"__ephemeral__staging__big_orders" AS ('),
        compiled.index("per_customer AS ("),
    ]
    assert order == sorted(order)
    assert 'FROM "__ephemeral__staging__big_orders" AS big_orders' in compiled
    assert 'JOIN "staging"."stg_customers" AS c' in compiled  # a view is read by name
    # every table the compiled SQL reads is a stored table or a view, never an ephemeral model
    assert set(refs(compiled)) == {("raw", "orders"), ("staging", "stg_customers")}


def test_ephemeral_read_twice_is_inlined_once(shop: Project) -> None:
    compiled = shop.compile("marts.self_join")

    assert compiled.count('"__ephemeral__staging__stg_orders" AS (') == 1
    assert "AS a" in compiled and "AS b" in compiled


def test_compiled_models_build_the_right_rows(shop: Project) -> None:
    summary = shop.run()

    assert summary.status == "success", [(o.key, o.message) for o in summary.outcomes]
    built = {o.key for o in summary.outcomes}
    assert "staging.stg_orders" not in built  # ephemeral: never built on its own
    assert rows(shop, "select name, total from marts.revenue order by name") == [
        ("Ann", 30),
        ("Cy", 50),
    ]
    assert rows(shop, "select count(*) from marts.self_join") == [(4,)]
    assert rows(shop, "select id, name from marts.by_ref order by id") == [
        (1, "Ann"),
        (2, "Ann"),
        (3, "Bob"),
        (4, "Cy"),
    ]


def test_compile_of_incremental_model_shows_the_incremental_filter(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/events.csv": "id\n1\n2\n",
            "models/events.sql": (
                "select * from {{ ref('events') }}\n"
                "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}"
            ),
            "models/events.yml": "materialized: incremental\nnamespace: marts\n",
        }
    )

    before = project.compile("marts.events")
    assert "MAX(id)" not in before
    assert 'FROM "raw"."events"' in before

    assert project.run().status == "success"
    after = project.compile("marts.events")
    assert 'FROM "marts"."events"' in after
    assert "MAX(id)" in after


def test_models_read_external_files(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "data/prices.csv": "sku,price\na,1.5\nb,2.0\n",
            "models/prices.sql": "select * from read_csv('data/prices.csv', header = true)",
            "models/skus.sql": (
                "select sku from 'data/prices.csv' as f join prices as p using (sku)"
            ),
        }
    )

    assets = project.definition.assets
    assert assets["main.prices"].external_files == ("data/prices.csv",)
    assert assets["main.prices"].depends_on == ()
    assert assets["main.skus"].external_files == ("data/prices.csv",)
    assert assets["main.skus"].depends_on == ("main.prices",)

    assert project.run().status == "success"
    assert rows(project, "select sku from main.skus order by sku") == [("a",), ("b",)]


def test_name_resolution_is_case_insensitive(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/orders.csv": "id\n1\n",
            "models/m.sql": "select * from RAW.Orders",
        }
    )

    assert project.definition.assets["main.m"].depends_on == ("raw.orders",)
    assert 'FROM "raw"."orders"' in project.compile("main.m")


# -- the parse cache -----------------------------------------------------------------------------

CACHED_PROJECT = {
    "seeds/orders.csv": "id,amount\n1,10\n",
    "models/staging/a.sql": "select * from raw.orders",
    "models/staging/b.sql": "select * from a",
    "models/marts/c.sql": "select * from {{ ref('b') }} where amount > {{ var('min', 0) }}",
}


def cache_file(project: Project) -> Path:
    return project.root / ".headwater" / "parse_cache.json"


def dependencies(project: Project) -> dict[str, tuple[str, ...]]:
    return {k: a.depends_on for k, a in project.definition.assets.items()}


def test_parse_cache_is_written(make_project: ProjectFactory) -> None:
    project = make_project(CACHED_PROJECT)
    _ = project.definition

    data = json.loads(cache_file(project).read_text())
    assert data["version"] == 2
    assert len(data["entries"]) == 3  # one per model, none for the seed


def test_unchanged_project_loads_without_parsing(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(CACHED_PROJECT)
    first = dependencies(project)
    assert cache_file(project).is_file()

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged model was parsed again")

    monkeypatch.setattr(sql_module, "analyze", no_parsing)
    monkeypatch.setattr(sql_module, "parse_select", no_parsing)
    monkeypatch.setattr(templating_module, "render", no_parsing)
    again = Project(project.root)
    try:
        assert dependencies(again) == first
        assert again.definition.assets["marts.c"].templated
    finally:
        again.close()


def test_unchanged_project_loads_without_importing_sqlglot(make_project: ProjectFactory) -> None:
    project = make_project(CACHED_PROJECT)
    script = (
        "import sys\n"
        "from headwater import Project\n"
        "project = Project(sys.argv[1])\n"
        "print(len(project.definition.assets))\n"
        "print(sorted(m for m in ('sqlglot', 'jinja2', 'duckdb', 'pyarrow') if m in sys.modules))\n"
    )

    def load() -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", script, str(project.root)],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.splitlines()

    assert load() == ["4", "['jinja2', 'sqlglot']"]  # first load parses and renders
    assert load() == ["4", "[]"]  # second load: all from the cache


def test_changed_file_is_parsed_again(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(CACHED_PROJECT)
    _ = project.definition
    parsed: list[str] = []
    original = sql_module.analyze

    def recording(sql: str, file: str, tree: Any = None) -> SqlAnalysis:
        parsed.append(file)
        return original(sql, file, tree)

    monkeypatch.setattr(sql_module, "analyze", recording)
    (project.root / "models/staging/b.sql").write_text("select * from raw.orders\n")
    project.reload()

    assert project.definition.assets["staging.b"].depends_on == ("raw.orders",)
    assert parsed == ["models/staging/b.sql"]
    entries = json.loads(cache_file(project).read_text())["entries"]
    assert len(entries) == 3  # the stale entry of the old b.sql is gone


def test_changed_vars_reparse_only_templated_models(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(CACHED_PROJECT)
    _ = project.definition
    parsed: list[str] = []
    original = sql_module.analyze

    def recording(sql: str, file: str, tree: Any = None) -> SqlAnalysis:
        parsed.append(file)
        return original(sql, file, tree)

    monkeypatch.setattr(sql_module, "analyze", recording)
    (project.root / "headwater.yml").write_text("name: test\nthreads: 2\nvars:\n  min: 5\n")
    project.reload()
    _ = project.definition

    assert parsed == ["models/marts/c.sql"]


def test_deleted_model_leaves_the_cache(make_project: ProjectFactory) -> None:
    project = make_project(CACHED_PROJECT)
    _ = project.definition
    (project.root / "models/marts/c.sql").unlink()
    project.reload()

    assert "marts.c" not in project.definition.assets
    assert len(json.loads(cache_file(project).read_text())["entries"]) == 2


def test_corrupt_cache_is_ignored_and_rewritten(make_project: ProjectFactory) -> None:
    project = make_project(CACHED_PROJECT)
    expected = dependencies(project)
    cache_file(project).write_text("{not json")
    project.reload()

    assert dependencies(project) == expected
    assert len(json.loads(cache_file(project).read_text())["entries"]) == 3


def test_cache_of_another_format_version_is_ignored(make_project: ProjectFactory) -> None:
    project = make_project(CACHED_PROJECT)
    expected = dependencies(project)
    data = json.loads(cache_file(project).read_text())
    data["version"] = 999
    data["entries"] = {
        k: {"analysis": {"references": [], "external_files": []}, "config": {}}
        for k in data["entries"]
    }
    cache_file(project).write_text(json.dumps(data))
    project.reload()

    assert dependencies(project) == expected


def test_broken_model_is_not_cached_and_still_fails(make_project: ProjectFactory) -> None:
    project = make_project({**CACHED_PROJECT, "models/bad.sql": "select from where"})
    with pytest.raises(ConfigError, match="SQL does not parse"):
        _ = project.definition
    project.reload()
    with pytest.raises(ConfigError, match="SQL does not parse"):
        _ = project.definition


# -- compilation keeps every clause of a table reference -----------------------------------------

SALES = "id,year,q,amt\n1,2023,q1,5\n1,2024,q1,6\n2,2023,q2,7\n2,2023,q1,1\n"


def duckdb_rows(sql: str) -> list[tuple[object, ...]]:
    """`sql` run by DuckDB itself on a table `raw.sales` of SALES."""
    import duckdb

    connection = duckdb.connect()
    try:
        connection.execute("CREATE SCHEMA raw")
        connection.execute(
            "CREATE TABLE raw.sales AS SELECT * FROM (VALUES (1, 2023, 'q1', 5), "
            "(1, 2024, 'q1', 6), (2, 2023, 'q2', 7), (2, 2023, 'q1', 1)) t(id, year, q, amt)"
        )
        return sorted(connection.execute(sql).fetchall(), key=repr)
    finally:
        connection.close()


@pytest.mark.parametrize(
    "sql",
    [
        "select * from raw.sales pivot (sum(amt) for year in (2023, 2024))",
        "select p.* from raw.sales pivot (sum(amt) for q in ('q1', 'q2')) as p",
        "select * from raw.sales unpivot (v for k in (year, amt))",
        "with u as (select * from raw.sales unpivot (v for k in (year, amt))) select * from u",
        "select * from sales pivot (sum(amt) for year in (2023, 2024)) order by id",
    ],
)
def test_pivot_and_unpivot_build_what_duckdb_returns(
    make_project: ProjectFactory, sql: str
) -> None:
    """The rewrite of a table's name kept only its alias: `raw.sales PIVOT (...)` compiled to
    `"raw"."sales"` and built the unpivoted rows without a word."""
    project = make_project({"seeds/sales.csv": SALES, "models/m.sql": sql})
    assert project.run().status == "success"

    built = sorted(rows(project, "select * from main.m"), key=repr)
    assert built == duckdb_rows(sql.replace("from sales", "from raw.sales"))
    assert "PIVOT" in project.compile("main.m")  # UNPIVOT too


def test_a_check_on_a_pivoted_column_loads_and_passes(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/sales.csv": SALES,
            "models/m.sql": "select * from raw.sales pivot (sum(amt) for year in (2023, 2024))",
            "models/m.yml": "checks:\n  - not_null: {column: '2023'}\n",
        }
    )
    assert project.definition.columns["main.m"] == ["id", "q", "2023", "2024"]
    run = project.run()
    assert run.status == "success"
    assert sorted(rows(project, 'select id, q, "2023" from main.m'), key=repr) == [
        (1, "q1", 5),
        (2, "q1", 1),
        (2, "q2", 7),
    ]


def test_tablesample_is_kept(make_project: ProjectFactory) -> None:
    """`TABLESAMPLE` on a reference survives compilation: 2 rows of 4 are built, not 4."""
    project = make_project(
        {
            "seeds/sales.csv": SALES,
            "models/m.sql": "select * from raw.sales tablesample reservoir(2 rows)",
        }
    )
    assert project.run().status == "success"
    assert rows(project, "select count(*) from main.m") == [(2,)]
    assert "TABLESAMPLE" in project.compile("main.m").upper()
