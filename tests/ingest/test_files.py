"""File sources through the real runner: CSV, NDJSON, JSON and Parquet into Delta tables."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, rows, run_cli, write_files


def table_rows(project: Project, key: str, *columns: str) -> list[tuple[Any, ...]]:
    namespace, name = key.split(".")
    table = DeltaTable(str(project.definition.warehouse / namespace / name)).to_pyarrow_table()
    names = list(columns) or table.column_names
    return sorted(tuple(r[c] for c in names) for r in table.to_pylist())


def quarantined(project: Project, key: str) -> list[dict[str, Any]]:
    return project.quarantine(key, 100_000).to_pylist()


def source(body: str) -> dict[str, str]:
    return {"sources/shop.yml": body}


CSV_SOURCE = """
kind: files
tables:
  orders:
    path: data/orders_*.csv
"""


def test_new_files_load_once_and_unchanged_sources_commit_nothing(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            **source(CSV_SOURCE),
            "data/orders_1.csv": "id,amount\n1,10\n2,20\n",
            "models/marts/total.sql": "select sum(amount) as total from shop.orders",
        }
    )
    first = project.run()
    assert first.status == "success", first.outcomes
    assert table_rows(project, "shop.orders") == [(1, 10), (2, 20)]
    assert rows(project, "select total from marts.total") == [(30,)]

    second = project.run()
    assert second.outcome("shop.orders").message == "nothing new"
    assert second.outcome("shop.orders").version == 0
    assert second.outcome("marts.total").status == "up_to_date"

    write_files(project.root, {"data/orders_2.csv": "id,amount\n3,30\n"})
    third = project.run()
    assert third.outcome("shop.orders").rows == 1
    assert table_rows(project, "shop.orders") == [(1, 10), (2, 20), (3, 30)]
    assert rows(project, "select total from marts.total") == [(60,)]
    state = project.sources()[0]
    assert state["files"] == 2 and state["version"] == 1


def test_a_changed_file_is_reloaded_or_ignored_by_policy(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **source(
                """
                kind: files
                tables:
                  reloaded:
                    path: data/a.csv
                    mode: merge
                    primary_key: id
                  ignored:
                    path: data/a.csv
                    on_change: ignore
                """
            ),
            "data/a.csv": "id,amount\n1,10\n",
        }
    )
    assert project.run().status == "success"
    path = project.root / "data/a.csv"
    path.write_text("id,amount\n1,11\n2,20\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert project.run().status == "success"
    assert table_rows(project, "shop.reloaded") == [(1, 11), (2, 20)]
    assert table_rows(project, "shop.ignored") == [(1, 10)]


def test_bad_csv_lines_are_quarantined_and_every_good_line_lands(
    make_project: ProjectFactory,
) -> None:
    good = [f"{i},{i * 1.5},2024-01-{1 + i % 28:02d},name{i}" for i in range(1, 1001)]
    broken = {
        5: "5,not-a-number,2024-01-05,x",  # cast
        6: "6,1.0,2024-13-45,x",  # bad date
        7: "7,1.0,2024-01-07",  # missing column
        8: "8,1.0,2024-01-08,x,extra",  # extra column
    }
    lines = [broken.get(i, line) for i, line in enumerate(good, start=1)]
    text = ("id,amount,day,name\n" + "\n".join(lines) + "\n").encode()
    text = text.replace(b"name9\n", b"name9 \xff\xfe\n")  # invalid UTF-8 on line 10
    project = make_project(source(CSV_SOURCE))
    (project.root / "data").mkdir()
    (project.root / "data/orders_1.csv").write_bytes(text)

    summary = project.run()
    outcome = summary.outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert outcome.rows == 995
    assert "5 quarantined" in (outcome.message or "")
    loaded = {r[0] for r in table_rows(project, "shop.orders", "id")}
    assert loaded == set(range(1, 1001)) - {5, 6, 7, 8, 9}
    schema = DeltaTable(str(project.definition.warehouse / "shop/orders")).schema().to_arrow()
    types = {f.name: str(f.type) for f in pa.schema(schema)}
    assert types["id"] == "int64" and types["amount"] == "double"
    assert types["day"] == "date32[day]"

    bad = {r["line"]: r for r in quarantined(project, "shop.orders")}
    assert set(bad) == {6, 7, 8, 9, 10}  # file lines: the header is line 1
    assert bad[6]["error_class"] == "cast" and bad[6]["column"] == "amount"
    assert bad[6]["raw"] == "5,not-a-number,2024-01-05,x"
    assert bad[6]["location"] == "data/orders_1.csv:6"
    assert bad[7]["error_class"] == "cast" and bad[7]["column"] == "day"
    assert bad[8]["error_class"] == "missing_columns"
    assert bad[9]["error_class"] == "too_many_columns"
    assert bad[10]["error_class"] == "encoding"
    assert all(r["reason"] for r in bad.values())

    shown = run_cli(["quarantine", "shop.orders", "--format", "json"], project.root)
    assert shown.returncode == 0 and "too_many_columns" in shown.stdout


def test_ndjson_records_are_flattened_and_bad_lines_quarantined(
    make_project: ProjectFactory,
) -> None:
    lines = [
        json.dumps({"id": 1, "user": {"name": "ann", "address": {"city": "oslo"}}, "tags": [1]}),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"id": 2, "user": {"name": "bob"}}),
        "",
        json.dumps({"id": "three"}),
        *(json.dumps({"id": i, "user": {"name": f"u{i}"}}) for i in range(10, 30)),
    ]
    project = make_project(
        {
            **source("kind: files\ntables:\n  events:\n    path: data/events.ndjson\n"),
            "data/events.ndjson": "\n".join(lines) + "\n",
        }
    )
    assert project.run().status == "success"
    assert table_rows(project, "shop.events", "id", "user__name", "user__address__city") == [
        (1, "ann", "oslo"),
        (2, "bob", None),
        *((i, f"u{i}", None) for i in range(10, 30)),
    ]
    bad = sorted(quarantined(project, "shop.events"), key=lambda r: r["line"])
    assert [(r["line"], r["error_class"]) for r in bad] == [(2, "json"), (3, "json"), (6, "cast")]
    assert bad[2]["column"] == "id" and bad[2]["raw"] == json.dumps({"id": "three"})


def test_json_documents_and_parquet_files(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **source(
                """
                kind: files
                tables:
                  people:
                    path: data/people.json
                  items:
                    path: data/items/*.parquet
                """
            ),
            "data/people.json": json.dumps([{"id": 1, "name": "ann"}, {"id": 2, "name": "bo"}]),
        }
    )
    (project.root / "data/items").mkdir(parents=True)
    pq.write_table(
        pa.table({"sku": ["a", "b"], "qty": [1, 2]}), project.root / "data/items/1.parquet"
    )
    assert project.run().status == "success"
    assert table_rows(project, "shop.people") == [(1, "ann"), (2, "bo")]
    assert table_rows(project, "shop.items") == [("a", 1), ("b", 2)]


def test_replace_mode_overwrites_when_files_change(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **source("kind: files\ntables:\n  prices:\n    path: data/p*.csv\n    mode: replace\n"),
            "data/p1.csv": "sku,price\na,1\n",
        }
    )
    project.run()
    write_files(project.root, {"data/p2.csv": "sku,price\nb,2\n"})
    project.run()
    assert table_rows(project, "shop.prices") == [("a", 1), ("b", 2)]
    (project.root / "data/p1.csv").unlink()
    summary = project.run()
    assert summary.outcome("shop.prices").rows == 1
    assert table_rows(project, "shop.prices") == [("b", 2)]


def test_merge_dedupes_by_cursor_and_applies_hard_deletes(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **source(
                """
                kind: files
                defaults:
                  mode: merge
                  primary_key: id
                  cursor: version
                tables:
                  users:
                    path: data/u*.csv
                    delete_column: deleted
                    delete: hard
                """
            ),
            "data/u1.csv": "id,name,version,deleted\n1,a,1,false\n2,b,1,false\n1,a2,2,false\n",
        }
    )
    assert project.run().status == "success"
    assert table_rows(project, "shop.users", "id", "name") == [(1, "a2"), (2, "b")]
    assert project.sources()[0]["cursor"] == 2
    write_files(project.root, {"data/u2.csv": "id,name,version,deleted\n2,b,3,true\n3,c,3,false\n"})
    assert project.run().status == "success"
    assert table_rows(project, "shop.users", "id", "name") == [(1, "a2"), (3, "c")]
    assert project.sources()[0]["cursor"] == 3


def test_a_narrower_type_is_cast_and_a_wider_one_widens_the_column(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            **source("kind: files\ntables:\n  m:\n    path: data/m*.ndjson\n"),
            "data/m1.ndjson": '{"id": 1, "v": 1}\n',
        }
    )
    project.run()
    write_files(project.root, {"data/m2.ndjson": '{"id": 2, "v": 2.5}\n'})
    summary = project.run()
    outcome = summary.outcome("shop.m")
    assert outcome.status == "success", outcome.message
    assert "widened v int64 -> double" in (outcome.message or "")
    assert table_rows(project, "shop.m") == [(1, 1.0), (2, 2.5)]


def test_an_incompatible_type_change_fails_naming_both_types(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            **source("kind: files\ntables:\n  m:\n    path: data/m*.parquet\n"),
        }
    )
    (project.root / "data").mkdir()
    pq.write_table(pa.table({"id": [1]}), project.root / "data/m1.parquet")
    project.run()
    pq.write_table(pa.table({"id": ["x"]}), project.root / "data/m2.parquet")
    outcome = project.run().outcome("shop.m")
    assert outcome.status == "failed"
    assert "column id" in (outcome.message or "") and "int64" in (outcome.message or "")
    assert "string" in (outcome.message or "")
    assert table_rows(project, "shop.m") == [(1,)]


@pytest.mark.parametrize(
    ("contract", "loaded", "status"),
    [
        ("evolve", 1000, "success"),
        ("freeze", 0, "failed"),
        ("discard_row", 900, "success"),
        ("discard_column", 1000, "success"),
    ],
)
def test_r7_schema_contracts(
    make_project: ProjectFactory, contract: str, loaded: int, status: str
) -> None:
    """R7: 1,000 records, 100 of them with a new field, under each contract mode."""
    project = make_project(
        {
            **source(
                f"kind: files\ncontract: {contract}\ntables:\n  e:\n    path: data/e*.ndjson\n"
            ),
            "data/e0.ndjson": '{"id": 0, "kind": "seed"}\n',
        }
    )
    assert project.run().status == "success"
    records = [
        {"id": i, "kind": "k", **({"extra": f"x{i}"} if i % 10 == 0 else {})}
        for i in range(1, 1001)
    ]
    write_files(project.root, {"data/e1.ndjson": "\n".join(json.dumps(r) for r in records)})
    before = DeltaTable(str(project.definition.warehouse / "shop/e")).version()
    outcome = project.run().outcome("shop.e")
    assert outcome.status == status, outcome.message
    table = DeltaTable(str(project.definition.warehouse / "shop/e"))
    assert table.to_pyarrow_table().num_rows - 1 == loaded
    columns = table.schema().to_arrow().names
    if contract == "freeze":
        assert table.version() == before
        assert "frozen" in (outcome.message or "") and "extra" in (outcome.message or "")
    elif contract == "evolve":
        assert "extra" in columns
        assert "added column extra" in (outcome.message or "")
    else:
        assert "extra" not in columns
    if contract == "discard_row":
        bad = quarantined(project, "shop.e")
        assert len(bad) == 100 and {r["error_class"] for r in bad} == {"schema"}


def test_ingest_and_sources_commands(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **source(CSV_SOURCE),
            "data/orders_1.csv": "id,amount\n1,10\n",
            "models/marts/total.sql": "select sum(amount) as total from shop.orders",
        }
    )
    result = run_cli(["ingest", "shop"], project.root)
    assert result.returncode == 0, result.stderr
    assert "shop.orders" in result.stdout and "marts.total" not in result.stdout
    listed = run_cli(["sources", "--json"], project.root)
    info = json.loads(listed.stdout)
    assert info[0]["table"] == "shop.orders" and info[0]["mode"] == "append"
    assert info[0]["files"] == 1
    unknown = run_cli(["ingest", "shpo"], project.root)
    assert unknown.returncode == 2 and "did you mean 'shop'" in unknown.stderr


def test_source_config_errors_name_the_file_and_key(make_project: ProjectFactory) -> None:
    project_root = Path(
        make_project({"sources/shop.yml": "kind: files\ntables:\n  o:\n    mode: merge\n"}).root
    )
    result = run_cli(["dag"], project_root)
    assert result.returncode == 2
    assert "sources/shop.yml" in result.stderr and "primary_key" in result.stderr


def test_declared_column_types_win_over_inference(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **source(
                "kind: files\ntables:\n  e:\n    path: data/e.ndjson\n"
                "    columns: {code: VARCHAR, at: TIMESTAMP}\n"
            ),
            "data/e.ndjson": '{"code": 7, "at": "2024-05-01T10:00:00"}\n',
        }
    )
    assert project.run().status == "success"
    schema = pa.schema(DeltaTable(str(project.definition.warehouse / "shop/e")).schema().to_arrow())
    assert str(schema.field("code").type) == "string"
    assert str(schema.field("at").type).startswith("timestamp")
    assert table_rows(project, "shop.e", "code") == [("7",)]
