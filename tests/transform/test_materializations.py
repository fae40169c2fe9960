"""Table, view, ephemeral and seed materializations, built through the real runner.

Every stored result is checked twice: through Headwater's own query path and through an
independent reader (delta-rs opening the table folder directly).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater import Project
from headwater.storage.base import TableRef
from tests.conftest import rows, write_files


def table_path(project: Project, key: str) -> Path:
    namespace, name = key.split(".")
    return project.definition.warehouse / namespace / name


def delta(project: Project, key: str) -> DeltaTable:
    return DeltaTable(str(table_path(project, key)))


def delta_rows(project: Project, key: str, *columns: str) -> list[tuple[Any, ...]]:
    """All rows of the table read by delta-rs, sorted, optionally only `columns`."""
    table = delta(project, key).to_pyarrow_table()
    names = list(columns) or table.column_names
    return sorted(tuple(r[c] for c in names) for r in table.to_pylist())


def delta_schema(project: Project, key: str) -> pa.Schema:
    return pa.schema(delta(project, key).schema().to_arrow())


def log_actions(project: Project, key: str, version: int) -> list[dict[str, Any]]:
    log = table_path(project, key) / "_delta_log" / f"{version:020d}.json"
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def data_files(project: Project, key: str) -> set[str]:
    """Every Parquet file under the table folder (committed or not), relative to it."""
    root = table_path(project, key)
    return {
        str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts
    }


def edit(project: Project, files: dict[str, str]) -> None:
    write_files(project.root, files)
    project.reload()


# -- table ---------------------------------------------------------------------------------


TABLE_PROJECT = {
    "seeds/people.csv": """
        id,name,city
        1,ann,oslo
        2,bob,rome
        3,cid,oslo
    """,
    "models/marts/by_city.sql": """
        select city, count(*) as people, string_agg(name, ',' order by name) as names
        from raw.people group by city
    """,
}


def test_table_is_rebuilt_in_exactly_one_commit_per_run_carrying_the_run_id(make_project):
    project = make_project(TABLE_PROJECT)
    first = project.run()
    assert first.status == "success"
    assert first.outcome("marts.by_city").status == "success"
    assert first.outcome("marts.by_city").rows == 2
    assert first.outcome("marts.by_city").version == 0

    expected = [("oslo", 2, "ann,cid"), ("rome", 1, "bob")]
    assert delta_rows(project, "marts.by_city") == expected
    assert sorted(rows(project, "select * from marts.by_city")) == expected

    second = project.run(force=True)
    assert second.outcome("marts.by_city").version == 1
    # a full rebuild replaces the content, it does not add to it
    assert delta_rows(project, "marts.by_city") == expected

    history = delta(project, "marts.by_city").history()
    assert [h["version"] for h in history] == [1, 0]
    run_ids = {h["version"]: h["headwater.run_id"] for h in history}
    assert run_ids == {0: first.run_id, 1: second.run_id}
    assert all(h["headwater.operation"] == "table" for h in history)
    # the rebuild removed every file of version 0 and added new ones, in that one commit
    actions = log_actions(project, "marts.by_city", 1)
    removed = {a["remove"]["path"] for a in actions if "remove" in a}
    assert removed == {
        a["add"]["path"] for a in log_actions(project, "marts.by_city", 0) if "add" in a
    }
    assert any("add" in a for a in actions)
    # the seed too: one commit per run, with the run id
    seed_history = delta(project, "raw.people").history()
    assert [h["headwater.run_id"] for h in seed_history] == [second.run_id, first.run_id]

    # Headwater's own history agrees with delta-rs
    entries = project.history("marts.by_city")
    assert [(e.version, e.run_id) for e in entries] == [(1, second.run_id), (0, first.run_id)]


def test_table_rebuild_reflects_changed_upstream(make_project):
    project = make_project(TABLE_PROJECT)
    project.run()
    edit(project, {"seeds/people.csv": "id,name,city\n1,ann,oslo\n4,dan,paris\n"})
    summary = project.run()
    assert summary.outcome("raw.people").status == "success"
    assert summary.outcome("marts.by_city").status == "success"
    assert delta_rows(project, "marts.by_city") == [("oslo", 1, "ann"), ("paris", 1, "dan")]


# -- view ----------------------------------------------------------------------------------


def test_view_is_not_stored_but_queryable_and_read_by_downstream_tables(make_project):
    project = make_project(
        {
            **TABLE_PROJECT,
            "models/staging/oslo_people.sql": """
                select id, upper(name) as name from raw.people where city = 'oslo'
            """,
            "models/staging/oslo_people.yml": "materialized: view\n",
            "models/marts/oslo_count.sql": """
                select count(*) as n, max(name) as last from staging.oslo_people
            """,
        }
    )
    summary = project.run()
    assert summary.status == "success"
    view = summary.outcome("staging.oslo_people")
    assert view.status == "success"
    assert view.materialization == "view"
    assert view.version is None
    assert not table_path(project, "staging.oslo_people").exists()
    assert not project.store.exists(TableRef("staging", "oslo_people"))

    assert sorted(rows(project, "select * from staging.oslo_people")) == [(1, "ANN"), (3, "CID")]
    assert delta_rows(project, "marts.oslo_count") == [(2, "CID")]

    # a view follows its upstream without being rebuilt itself: change the seed, and both the
    # view's query and the downstream table see the new rows
    edit(project, {"seeds/people.csv": "id,name,city\n1,ann,oslo\n5,eve,oslo\n6,fay,oslo\n"})
    project.run()
    assert sorted(rows(project, "select * from staging.oslo_people")) == [
        (1, "ANN"),
        (5, "EVE"),
        (6, "FAY"),
    ]
    assert delta_rows(project, "marts.oslo_count") == [(3, "FAY")]


def test_view_with_a_broken_query_fails_at_build_time(make_project):
    project = make_project(
        {
            **TABLE_PROJECT,
            "models/staging/bad.sql": "select no_such_column from raw.people",
            "models/staging/bad.yml": "materialized: view\n",
        }
    )
    summary = project.run()
    assert summary.outcome("staging.bad").status == "failed"
    assert "no_such_column" in (summary.outcome("staging.bad").message or "")


# -- ephemeral -----------------------------------------------------------------------------


def test_ephemeral_is_inlined_and_never_stored(make_project):
    project = make_project(
        {
            **TABLE_PROJECT,
            "models/staging/named.sql": "select id, name || '@' || city as label from raw.people",
            "models/staging/named.yml": "materialized: ephemeral\n",
            "models/staging/only_oslo.sql": "select * from staging.named where label like '%oslo'",
            "models/staging/only_oslo.yml": "materialized: ephemeral\n",
            "models/marts/labels.sql": "select n.id, n.label from only_oslo as n order by n.id",
        }
    )
    summary = project.run()
    assert summary.status == "success"
    # ephemerals are not built at all: they are not even in the run's outcomes
    assert {o.key for o in summary.outcomes} == {"raw.people", "marts.by_city", "marts.labels"}
    assert not table_path(project, "staging.named").exists()
    assert not table_path(project, "staging.only_oslo").exists()
    assert delta_rows(project, "marts.labels") == [(1, "ann@oslo"), (3, "cid@oslo")]

    compiled = project.compile("marts.labels")
    assert "__ephemeral__staging__only_oslo" in compiled
    assert "__ephemeral__staging__named" in compiled
    # the ephemeral can be queried ad hoc, inlined the same way
    assert sorted(rows(project, "select * from staging.only_oslo")) == [
        (1, "ann@oslo"),
        (3, "cid@oslo"),
    ]

    # changing the ephemeral rebuilds the table that inlines it
    edit(
        project,
        {"models/staging/named.sql": "select id, name || '#' || city as label from raw.people"},
    )
    summary = project.run()
    assert summary.outcome("marts.labels").status == "success"
    assert summary.outcome("marts.by_city").status == "up_to_date"
    assert delta_rows(project, "marts.labels") == [(1, "ann#oslo"), (3, "cid#oslo")]


# -- seeds ---------------------------------------------------------------------------------


def test_seed_columns_are_typed_by_the_sidecar(make_project):
    project = make_project(
        {
            "seeds/products.csv": """
                code,price,launched,stock,label
                007,10.50,2024-01-31,3,alpha
                042,0.10,2023-12-01,,beta
            """,
            "seeds/products.yml": """
                description: the products
                columns:
                  - name: code
                    type: VARCHAR
                  - name: price
                    type: DECIMAL(10,2)
                  - name: launched
                    type: DATE
                  - name: stock
                    type: SMALLINT
            """,
        }
    )
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    schema = delta_schema(project, "raw.products")
    types = {f.name: f.type for f in schema}
    assert str(types["code"]) == "string"
    assert str(types["price"]) == "decimal128(10, 2)"
    assert str(types["launched"]) == "date32[day]"
    assert str(types["stock"]) == "int16"
    assert str(types["label"]) == "string"
    assert delta_rows(project, "raw.products") == [
        ("007", decimal.Decimal("10.50"), dt.date(2024, 1, 31), 3, "alpha"),
        ("042", decimal.Decimal("0.10"), dt.date(2023, 12, 1), None, "beta"),
    ]
    assert rows(project, "select code from raw.products where price > 1") == [("007",)]


def test_seed_with_a_value_that_does_not_fit_its_type_fails_naming_the_seed(make_project):
    project = make_project(
        {
            "seeds/products.csv": "code,stock\na,1\nb,lots\n",
            "seeds/products.yml": "columns:\n  - name: stock\n    type: INTEGER\n",
        }
    )
    summary = project.run()
    outcome = summary.outcome("raw.products")
    assert outcome.status == "failed"
    assert "seed raw.products could not be read" in (outcome.message or "")
    assert not project.store.exists(TableRef("raw", "products"))


# -- partitioned table ---------------------------------------------------------------------


def test_partitioned_table_writes_one_folder_per_value_and_reads_back(make_project):
    project = make_project(
        {
            "seeds/sales.csv": """
                id,region,amount
                1,north,10
                2,south,20
                3,north,30
                4,east,40
                5,,50
            """,
            "models/marts/sales_by_region.sql": """
                select id, region, amount * 2 as doubled from raw.sales
            """,
            "models/marts/sales_by_region.yml": "partition_by: region\n",
        }
    )
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    table = delta(project, "marts.sales_by_region")
    assert table.metadata().partition_columns == ["region"]
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    by_partition = {a["partition.region"]: a for a in actions}
    assert set(by_partition) == {"north", "south", "east", None}
    assert by_partition["north"]["num_records"] == 2
    assert by_partition["north"]["path"].count("region=north") == 1
    assert delta_rows(project, "marts.sales_by_region") == [
        (1, "north", 20),
        (2, "south", 40),
        (3, "north", 60),
        (4, "east", 80),
        (5, None, 100),
    ]
    assert sorted(rows(project, "select id, region, doubled from marts.sales_by_region")) == [
        (1, "north", 20),
        (2, "south", 40),
        (3, "north", 60),
        (4, "east", 80),
        (5, None, 100),
    ]
    assert rows(
        project, "select sum(doubled) from marts.sales_by_region where region = 'north'"
    ) == [(80,)]
    assert rows(project, "select id from marts.sales_by_region where region is null") == [(5,)]


def test_partition_values_that_need_escaping(make_project):
    project = make_project(
        {
            "models/p.sql": """
                select * from (
                    values (1, 'new york'), (2, 'a/b'), (3, 'x%y'), (4, 'é'), (5, 'plain')
                ) t(id, region)
            """,
            "models/p.yml": "partition_by: region\n",
            "models/p_count.sql": "select count(*) as n from main.p",
        }
    )
    summary = project.run()
    assert summary.outcome("main.p").status == "success", summary.outcome("main.p").message
    assert delta_rows(project, "main.p") == [
        (1, "new york"),
        (2, "a/b"),
        (3, "x%y"),
        (4, "é"),
        (5, "plain"),
    ]
    assert delta_rows(project, "main.p_count") == [(5,)]
    assert sorted(rows(project, "select id, region from main.p")) == delta_rows(project, "main.p")


def test_partition_column_missing_from_the_output_is_a_clear_error(make_project):
    from headwater.errors import ConfigError

    project = make_project(
        {
            "models/m.sql": "select 1 as id",
            "models/m.yml": "partition_by: [region]\n",
        }
    )
    with pytest.raises(ConfigError, match=r"partition_by of main\.m names column 'region'"):
        project.run()
    # unknown before the build (an unnamed column): the build says it
    write_files(project.root, {"models/m.sql": "select 1 as id, 1 + 1"})
    project.reload()
    outcome = project.run().outcome("main.m")
    assert outcome.status == "failed"
    assert "region" in (outcome.message or "")


# -- types and edge cases ------------------------------------------------------------------


def test_hugeint_sums_are_written_as_bigint(make_project):
    project = make_project(
        {
            "models/totals.sql": """
                select i % 3 as bucket, sum(i) as total, sum(i::hugeint) as huge,
                       count(*) as n
                from range(1, 1001) t(i) group by 1
            """,
        }
    )
    summary = project.run()
    assert summary.status == "success", summary.outcome("main.totals").message
    schema = delta_schema(project, "main.totals")
    names = {f.name: str(f.type) for f in schema}
    assert names["total"] == "int64"
    assert names["huge"] == "int64"
    got = delta_rows(project, "main.totals", "bucket", "total", "huge", "n")
    expected = []
    for bucket in range(3):
        values = [i for i in range(1, 1001) if i % 3 == bucket]
        expected.append((bucket, sum(values), sum(values), len(values)))
    assert got == expected


def test_a_sum_beyond_bigint_fails_loudly_instead_of_wrapping(make_project):
    project = make_project(
        {"models/big.sql": "select sum(9223372036854775807::bigint) as s from range(2)"}
    )
    outcome = project.run().outcome("main.big")
    assert outcome.status == "failed"
    assert "main.big" in (outcome.message or "")
    assert not table_path(project, "main.big").joinpath("_delta_log").exists()


def test_empty_result_still_makes_a_readable_table_with_the_right_schema(make_project):
    project = make_project(
        {
            "models/empty.sql": """
                select 1::integer as id, 'x' as name, 2.5::double as score,
                       date '2024-01-01' as day, sum(10) over () as total
                where false
            """,
            "models/after_empty.sql": "select count(*) as n, max(id) as top from main.empty",
        }
    )
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    assert summary.outcome("main.empty").rows == 0
    table = delta(project, "main.empty")
    arrow = table.to_pyarrow_table()
    assert arrow.num_rows == 0
    assert [(f.name, str(f.type)) for f in arrow.schema] == [
        ("id", "int32"),
        ("name", "string"),
        ("score", "double"),
        ("day", "date32[day]"),
        ("total", "int64"),
    ]
    assert rows(project, "select * from main.empty") == []
    assert project.query("select * from main.empty").schema.names == [
        "id",
        "name",
        "score",
        "day",
        "total",
    ]
    assert delta_rows(project, "main.after_empty") == [(0, None)]

    # an empty rebuild of a table that had rows empties it (one commit, files removed)
    one_row = (
        "select 1::integer as id, 'x' as name, 2.5::double as score, "
        "date '2024-01-01' as day, 10::bigint as total"
    )
    edit(project, {"models/empty.sql": one_row})
    project.run()
    assert delta_rows(project, "main.empty") == [(1, "x", 2.5, dt.date(2024, 1, 1), 10)]
    edit(project, {"models/empty.sql": one_row + " where false"})
    summary = project.run()
    assert len(delta(project, "main.empty").file_uris()) == 0
    assert summary.outcome("main.empty").rows == 0
    assert delta(project, "main.empty").to_pyarrow_table().num_rows == 0
    assert delta_rows(project, "main.after_empty") == [(0, None)]


def test_failing_model_leaves_the_previous_version_in_place(make_project):
    project = make_project(
        {
            "models/m.sql": "select i as id, i * 10 as v from range(5) t(i)",
        }
    )
    project.run()
    before_files = data_files(project, "main.m")
    before_rows = delta_rows(project, "main.m")
    assert delta(project, "main.m").version() == 0

    # fails while writing (a runtime cast error, after part of the output may have streamed)
    edit(
        project,
        {
            "models/m.sql": """
                select i as id, case when i < 4 then i else 'boom'::integer end as v
                from range(5) t(i)
            """
        },
    )
    summary = project.run()
    outcome = summary.outcome("main.m")
    assert outcome.status == "failed"
    assert summary.status == "failed"
    assert "boom" in (outcome.message or "")
    assert delta(project, "main.m").version() == 0
    assert delta_rows(project, "main.m") == before_rows
    assert rows(project, "select count(*) from main.m") == [(5,)]
    # nothing half-written is left behind in the table folder
    assert data_files(project, "main.m") == before_files

    # fails while binding
    edit(project, {"models/m.sql": "select nope from range(5)"})
    summary = project.run()
    assert summary.outcome("main.m").status == "failed"
    assert delta(project, "main.m").version() == 0
    assert data_files(project, "main.m") == before_files

    # the catalog still knows the last good build: fixing the model back is a rebuild (the
    # definition differs from the failed one), and it lands as version 1
    edit(project, {"models/m.sql": "select i as id, i * 10 as v from range(5) t(i)"})
    summary = project.run()
    assert summary.outcome("main.m").status in ("success", "up_to_date")
    assert delta_rows(project, "main.m") == before_rows


@pytest.mark.parametrize("materialized", ["table", "incremental"])
def test_first_build_that_fails_creates_no_table(make_project, materialized):
    project = make_project(
        {
            "models/m.sql": "select i, case when i > 2 then 'a'::int end as y from range(5) t(i)",
            "models/m.yml": f"materialized: {materialized}\n",
        }
    )
    outcome = project.run().outcome("main.m")
    assert outcome.status == "failed"
    assert not (table_path(project, "main.m") / "_delta_log").exists()
    assert data_files(project, "main.m") == set()
