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
from headwater.errors import ConfigError
from headwater.storage.base import TableRef
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


def quarantine_table(project: Project, key: str) -> list[dict[str, Any]]:
    """The quarantine rows of `key`, read with delta-rs directly (not through Headwater)."""
    namespace, name = key.split(".")
    path = project.definition.warehouse / namespace / f"{name}__quarantine"
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def original_bytes(record: dict[str, Any]) -> bytes:
    """A quarantined record's bytes as documented: `raw_bytes`, else `raw` as UTF-8."""
    exact: bytes | None = record["raw_bytes"]
    return exact if exact is not None else str(record["raw"]).encode()


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_quarantined_csv_lines_are_physical_lines_and_raw_bytes_are_exact(
    make_project: ProjectFactory, newline: bytes
) -> None:
    """Quoted fields holding newlines must not shift the line numbers of later bad records,
    and invalid UTF-8 must not take the valid bytes around it (spaces) with it."""
    broken = {
        # id: (note, amount)
        40: (b"plain", b"not-a-number"),  # after 13 records holding 2 extra lines each
        41: (b'"two\nlines"', b"x41"),  # a bad record that itself spans lines
        97: (b"a \xff b \xe2\x82 c\t\xc3 ", b"97"),  # invalid UTF-8 around spaces and a tab
        98: (b'"inside \xfe\nquotes "', b"98"),  # invalid UTF-8 in a multi-line field
        150: (b"too", b"many,fields"),
    }
    lines = [b"id,note,amount"]
    expected: dict[int, tuple[int, bytes]] = {}  # id -> (first physical line, exact bytes)
    physical = 2
    for i in range(1, 201):
        note, amount = broken.get(
            i, (b'"note %d\nwith\nnewlines"' % i if i % 3 == 0 else b"n%d" % i, b"%d" % i)
        )
        record = b"%d,%s,%s" % (i, note, amount)
        record = record.replace(b"\n", newline)
        lines.append(record)
        if i in broken:
            expected[i] = (physical, record)
        physical += record.count(b"\n") + 1
    project = make_project(source(CSV_SOURCE))
    (project.root / "data").mkdir()
    (project.root / "data/orders_1.csv").write_bytes(newline.join(lines) + newline)

    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert outcome.rows == 200 - len(broken)
    bad = {
        int(original_bytes(r).split(b",")[0]): r for r in quarantine_table(project, "shop.orders")
    }
    assert set(bad) == set(broken)
    for i, (line, record) in expected.items():
        assert bad[i]["line"] == line, i
        assert bad[i]["location"] == f"data/orders_1.csv:{line}"
        assert original_bytes(bad[i]) == record, i
    assert bad[97]["error_class"] == "encoding"
    assert bad[97]["raw"] == "97,a \ufffd b \ufffd c\t\ufffd ,97"  # readable, spaces kept
    assert bad[40]["raw_bytes"] is None  # valid UTF-8: the text is the record


def test_quarantined_csv_in_latin1_and_gzip_keep_lines_and_bytes(
    make_project: ProjectFactory,
) -> None:
    """Offsets DuckDB reports count in the file as decompressed UTF-8: a latin-1 file and a
    gzipped one still get physical lines and their own bytes back."""
    import gzip

    text = 'id,note,amount\n1,"é\nè",1\n2,ça,x\n3,"ü\n\nü",3\n4,ö,y\n'
    project = make_project(
        source(
            "kind: files\ndefaults:\n  columns: {amount: BIGINT}\ntables:\n"
            "  latin:\n    path: data/latin.csv\n    csv: {encoding: latin-1}\n"
            "  zipped:\n    path: data/zipped.csv.gz\n"
        )
    )
    (project.root / "data").mkdir()
    (project.root / "data/latin.csv").write_bytes(text.encode("latin-1"))
    (project.root / "data/zipped.csv.gz").write_bytes(gzip.compress(text.encode()))
    assert project.run().status == "success"
    for key, encoding in (("shop.latin", "latin-1"), ("shop.zipped", "utf-8")):
        bad = sorted(quarantine_table(project, key), key=lambda r: r["line"])
        assert [r["line"] for r in bad] == [4, 8], key
        assert [r["raw"] for r in bad] == ["2,ça,x", "4,ö,y"], key
        assert [original_bytes(r) for r in bad] == [
            "2,ça,x".encode(encoding),
            "4,ö,y".encode(encoding),
        ], key


def test_quarantined_json_lines_and_documents_keep_exact_bytes(
    make_project: ProjectFactory,
) -> None:
    """NDJSON lines are numbered by physical line (blank lines count) and a line or document
    with invalid UTF-8 is kept byte for byte."""
    ndjson = b"\n".join(
        [
            b'{"id": 1}',
            b"",
            b'{"id": 2, "name": "a \xff b"}',  # invalid UTF-8 between spaces
            b'{"id": 3}\r',
            b"{not json \xc3",
            b'{"id": "four"}',
        ]
    )
    document = b'[{"id": 2, "name": "x \xfe y"}]'
    project = make_project(
        source(
            "kind: files\ntables:\n"
            "  events:\n    path: data/events.ndjson\n    columns: {id: BIGINT}\n"
            "  docs:\n    path: data/docs_*.json\n"
        )
    )
    (project.root / "data").mkdir()
    (project.root / "data/events.ndjson").write_bytes(ndjson + b"\n")
    (project.root / "data/docs_1.json").write_bytes(b'[{"id": 1, "name": "x"}]')
    (project.root / "data/docs_2.json").write_bytes(document)
    assert project.run().status == "success"
    assert table_rows(project, "shop.events", "id") == [(1,), (3,)]
    bad = sorted(quarantine_table(project, "shop.events"), key=lambda r: r["line"])
    assert [(r["line"], r["error_class"]) for r in bad] == [
        (3, "encoding"),
        (5, "encoding"),
        (6, "cast"),
    ]
    assert original_bytes(bad[0]) == b'{"id": 2, "name": "a \xff b"}'
    assert bad[0]["raw"] == '{"id": 2, "name": "a \ufffd b"}'
    assert original_bytes(bad[1]) == b"{not json \xc3"
    assert original_bytes(bad[2]) == b'{"id": "four"}' and bad[2]["raw_bytes"] is None
    (whole,) = quarantine_table(project, "shop.docs")
    assert whole["line"] == 1 and original_bytes(whole) == document


def test_an_invalid_declared_column_type_is_a_config_error_at_its_line(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    """A typo in `columns:` is reported when the project loads, at its YAML line, with the
    valid types and the closest one, not blamed on the CSV when it loads."""
    files = {
        **source(
            "kind: files\n"
            "tables:\n"
            "  orders:\n"
            "    path: data/orders_*.csv\n"
            "    columns:\n"
            "      id: BIGINT\n"
            "      amount: DECMAL(10, 2)\n"
        ),
        "data/orders_1.csv": "id,amount\n1,10\n",
    }
    project = make_project(files)
    with pytest.raises(ConfigError) as raised:
        project.definition  # noqa: B018 (loading the project is what fails)
    message = str(raised.value)
    assert "sources/shop.yml:7" in message
    assert "tables.orders.columns.amount': 'DECMAL(10, 2)' is not a DuckDB column type" in message
    assert "did you mean 'DECIMAL'?" in message and "VARCHAR" in message
    assert "docs/sources.md" in message
    result = run_cli(["run"], tmp_path / "proj")
    assert result.returncode == 2
    assert "sources/shop.yml:7" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "proj/warehouse/shop/orders").exists()


def test_every_accepted_column_type_is_one_duckdb_knows() -> None:
    """The config-time list of types must not accept what the load would then refuse."""
    import duckdb

    from headwater.project.sources import _TYPE_NAMES, column_type_problem

    connection = duckdb.connect()
    for name in sorted(_TYPE_NAMES):
        for declared in (name, name.upper() + "[]"):
            assert column_type_problem(declared) is None
            connection.execute(f"SELECT CAST(NULL AS {declared})")
    for declared in ("DECIMAL(10, 2)", "VARCHAR(20)", "STRUCT(a INTEGER, b VARCHAR)"):
        assert column_type_problem(declared) is None
        connection.execute(f"SELECT CAST(NULL AS {declared})")
    for wrong in ("BIGNT", "VARCHAR; DROP TABLE x", "STRUCT(a INT", "DECIMAL(10"):
        assert column_type_problem(wrong) is not None, wrong


def test_a_path_matching_no_file_names_the_path_and_line_and_creates_no_table(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        source("kind: files\ntables:\n  orders:\n    mode: replace\n    path: data/ordres_*.csv\n")
    )
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "failed"
    message = outcome.message or ""
    assert "path 'data/ordres_*.csv' of table shop.orders matches no file" in message
    assert "sources/shop.yml:5" in message and "docs/sources.md" in message
    assert "At least one column" not in message
    assert not (project.definition.warehouse / "shop/orders").exists()
    result = run_cli(["ingest", "shop"], project.root)
    assert result.returncode == 1 and "sources/shop.yml:5" in result.stdout + result.stderr


def test_a_replace_table_whose_files_are_gone_fails_and_keeps_its_rows(
    make_project: ProjectFactory,
) -> None:
    """A missing mount must not empty a replace table; an append table that has loaded its
    files before has simply nothing new."""
    project = make_project(
        {
            **source(
                "kind: files\n"
                "defaults:\n"
                "  path: data/p_*.csv\n"
                "tables:\n"
                "  prices:\n"
                "    mode: replace\n"
                "  history: {}\n"
            ),
            "data/p_1.csv": "sku,price\na,1\n",
        }
    )
    assert project.run().status == "success"
    (project.root / "data/p_1.csv").unlink()
    summary = project.run()
    failed = summary.outcome("shop.prices")
    assert failed.status == "failed" and "sources/shop.yml:3" in (failed.message or "")
    assert table_rows(project, "shop.prices") == [("a", 1)]
    assert summary.outcome("shop.history").message == "nothing new"


def test_source_errors_point_at_the_sources_docs(make_project: ProjectFactory) -> None:
    """Whichever part of a load fails (the extractor or the loader), the hint names the page
    that explains the setting at fault."""
    project = make_project(
        {
            **source(
                "kind: files\ntables:\n"
                "  orders:\n    path: data/o.csv\n    mode: incremental\n    cursor: changed\n"
            ),
            "data/o.csv": "id,amount\n1,10\n",
        }
    )
    result = run_cli(["ingest", "shop"], project.root)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "cursor column changed is not in the rows of shop.orders" in output
    assert "fix 'cursor:' to name a column the source returns; see docs/sources.md" in output


def test_a_first_load_whose_every_record_is_bad_keeps_the_quarantine(
    make_project: ProjectFactory,
) -> None:
    """With no good record there is no column to create the table with: the load still keeps
    every bad record in the quarantine (a failed build would undo it, losing the reasons), and
    the table appears with the first good record."""
    project = make_project(source("kind: files\ntables:\n  events:\n    path: data/*.ndjson\n"))
    (project.root / "data").mkdir()
    (project.root / "data/e1.ndjson").write_text('{"a": 1\n{broken\n', encoding="utf-8")
    summary = project.run()
    assert summary.status == "success"
    (outcome,) = summary.outcomes
    assert outcome.version is None and "2 quarantined" in (outcome.message or "")
    assert not project.store.exists(TableRef("shop", "events"))
    bad = sorted(quarantine_table(project, "shop.events"), key=lambda r: r["line"])
    assert [(r["location"], r["error_class"]) for r in bad] == [
        ("data/e1.ndjson:1", "json"),
        ("data/e1.ndjson:2", "json"),
    ]
    (project.root / "data/e2.ndjson").write_text('{"a": 5}\n', encoding="utf-8")
    assert project.run().status == "success"
    assert table_rows(project, "shop.events", "a") == [(5,)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"id,amount\n1,1\n2,2\n\n\n\n2,x\n3,3\n", [(7, b"2,x")]),
        (b"id,amount\r\n1,1\r\n\r\n2,x\r\n3,3\r\n", [(4, b"2,x")]),
        (b"id,amount\n1,1\n\n\n2,x\n3,3\n\n4,y\n", [(5, b"2,x"), (8, b"4,y")]),
        (b"id,amount\r1,1\r2,x\r3,3\r4,y", [(3, b"2,x"), (5, b"4,y")]),
        (b"id,amount\r1,1\r\r\r2,x\r3,3\r\r4,y\r", [(5, b"2,x"), (8, b"4,y")]),
        (
            b'id,note,amount\r1,"a\rb",1\r\r2,"c\rd",x\r3,e\xff,y\r',
            [(5, b'2,"c\rd",x'), (7, b"3,e\xff,y")],
        ),
        (
            b'id,note,amount\r\n1,"a\r\nb",1\r\n\r\n2,"c\r\nd",x\r\n3,e,y\r\n',
            [(5, b'2,"c\r\nd",x'), (7, b"3,e,y")],
        ),
        (
            b'id,note,amount\n1,"a\nb",1\n\n\n2,"\nc\nd",x\n\n3,e,y\n',
            [(6, b'2,"\nc\nd",x'), (10, b"3,e,y")],
        ),
        (b"id,amount\n1,1\n\n\n2,2,3\n3,3\n\n4\n", [(5, b"2,2,3"), (8, b"4")]),
    ],
    ids=[
        "lf-blank",
        "crlf-blank",
        "lf-blanks-twice",
        "cr",
        "cr-blank",
        "cr-quoted-invalid-utf8",
        "crlf-quoted-blank",
        "lf-quoted-blank",
        "lf-blank-column-count",
    ],
)
def test_quarantined_csv_records_after_blank_lines_and_with_any_line_ending(
    make_project: ProjectFactory, data: bytes, expected: list[tuple[int, bytes]]
) -> None:
    """DuckDB's offset and text for a bad record take in the blank lines before it, and a file
    may end its lines with CR alone: each bad record still gets its own first physical line
    and exactly its own bytes, never the blank lines nor the whole file."""
    project = make_project(
        source(
            "kind: files\ndefaults:\n  columns: {amount: BIGINT}\ntables:\n"
            "  orders:\n    path: data/o.csv\n"
        )
    )
    (project.root / "data").mkdir()
    (project.root / "data/o.csv").write_bytes(data)
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    bad = sorted(quarantine_table(project, "shop.orders"), key=lambda r: r["line"])
    assert [(r["line"], original_bytes(r)) for r in bad] == expected
    assert [r["location"] for r in bad] == [f"data/o.csv:{line}" for line, _ in expected]
    for r in bad:
        assert r["raw"] == original_bytes(r).decode("utf-8", errors="replace")


def test_a_csv_header_python_cannot_split_is_a_source_error_naming_the_file(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/shop.yml": "kind: files\ntables:\n  orders:\n    path: data/orders.csv\n",
            "data/orders.csv": 'id,"amount\n' + "x" * 200_000 + "\n",
        }
    )
    summary = project.run()
    assert summary.status == "failed"
    [outcome] = summary.outcomes
    assert "cannot read data/orders.csv" in (outcome.message or "")
    assert "internal error" not in (outcome.message or "")
