"""The files destination: every format read back by an independent reader (pyarrow, DuckDB,
the json module) equals the rows sent; batches, resumption, mirror deletes, refused types and
an unwritable folder; and SIGKILL at random moments leaves each record in the folder exactly
once and no partial file."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pyarrow.types as pt
import pytest

from headwater.errors import ExportError
from headwater.exports.base import Changes, Pending, Position, Refused, Sent
from headwater.exports.files import NDJSON_CHUNK, OP_COLUMN, FileFolder
from headwater.exports.position_file import PositionFile
from headwater.project.exports import ExportConfig

REPO = Path(__file__).resolve().parents[2]
FORMATS = ["csv", "parquet", "ndjson"]
EXTENSION = {"csv": "csv", "parquet": "parquet", "ndjson": "ndjson"}

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("amount", pa.decimal128(18, 4)),
        ("seen_at", pa.timestamp("us", "UTC")),
        ("local_at", pa.timestamp("us")),
        ("day", pa.date32()),
        ("score", pa.float64()),
        ("active", pa.bool_()),
        ("blob", pa.binary()),
    ]
)


def at(position: Position) -> Position:
    """`position` without the asset it counts (these tests' changes name one of their own)."""
    return dataclasses.replace(position, source=None)


def source_table() -> pa.Table:
    """Rows with what files get wrong: nulls, empty strings, unicode, separators, decimals
    at the edges of their scale, timestamps before 1970 and with microseconds, raw bytes."""
    rows = [
        (1, "plain", "1.5", datetime(2024, 1, 2, 3, 4, 5, 678901, UTC), 1.5, True, b"\x00\xff"),
        (2, "", "0", datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), -0.25, False, b""),
        (3, None, None, None, None, None, None),
        (
            4,
            "Zoë 東京 🚀",
            "-12345678901234.5678",
            datetime(2000, 2, 29, tzinfo=UTC),
            1e300,
            True,
            b"a",
        ),
        (
            5,
            'comma, "quote"\nnewline',
            "0.0001",
            datetime(2038, 1, 19, tzinfo=UTC),
            0.0,
            None,
            b"\n,",
        ),
        (6, "  spaces  ", "99999999999999.9999", datetime(1, 1, 1, tzinfo=UTC), -1e-9, False, None),
        (7, "NULL", "-0.0001", datetime(9999, 12, 31, 23, 59, 59, 999999, UTC), 2.0, True, b"x"),
        (8, "\\N", "42", datetime(2024, 6, 30, 12, tzinfo=UTC), 3.25, False, b"\x80"),
    ]
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for id_, name, amount, seen, score, active, blob in rows:
        columns["id"].append(id_)
        columns["name"].append(name)
        columns["amount"].append(None if amount is None else Decimal(amount))
        columns["seen_at"].append(seen)
        columns["local_at"].append(None if seen is None else seen.replace(tzinfo=None))
        columns["day"].append(None if seen is None else seen.date())
        columns["score"].append(score)
        columns["active"].append(active)
        columns["blob"].append(blob)
    return pa.table(columns, schema=SCHEMA)


def numbered_table(start: int, count: int) -> pa.Table:
    """`count` distinct rows with ids from `start`."""
    ids = list(range(start, start + count))
    return pa.table(
        {
            "id": ids,
            "name": [f"name-{i}-ü" if i % 7 else None for i in ids],
            "amount": [Decimal(i).scaleb(-2) for i in ids],
            "seen_at": [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i) for i in ids],
        },
        schema=pa.schema(
            [
                ("id", pa.int64()),
                ("name", pa.string()),
                ("amount", pa.decimal128(18, 2)),
                ("seen_at", pa.timestamp("us", "UTC")),
            ]
        ),
    )


# -- building blocks -----------------------------------------------------------------------


def _batches(table: pa.Table | None) -> Callable[[int], Iterator[pa.RecordBatch]]:
    """Batches of exactly `size` rows (the last one smaller), the same every time."""
    whole = None if table is None else table.combine_chunks()

    def batches(size: int) -> Iterator[pa.RecordBatch]:
        if whole is None:
            return
        for start in range(0, whole.num_rows, size):
            yield from whole.slice(start, size).to_batches()

    return batches


def make_changes(
    upserts: pa.Table,
    deletes: pa.Table | None = None,
    *,
    mode: str = "upsert",
    since: int | None = None,
    until: int = 1,
    export: str = "orders",
) -> Changes:
    return Changes(
        export=export,
        source="marts.orders",
        mode=mode,  # type: ignore[arg-type]
        key=[] if mode == "append" else ["id"],
        since=since,
        until=until,
        schema=upserts.schema,
        upsert_batches=_batches(upserts),
        delete_batches=_batches(deletes),
        upserts=upserts.num_rows,
        deletes=0 if deletes is None else deletes.num_rows,
    )


def export_config(
    fmt: str,
    mode: str = "upsert",
    batch_size: int = 1000,
    path: str = "out",
    name: str = "orders",
) -> ExportConfig:
    return ExportConfig.model_validate(
        {
            "name": name,
            "from": "marts.orders",
            "mode": mode,
            "key": [] if mode == "append" else ["id"],
            "to": {"files": {"path": path, "format": fmt, "batch_size": batch_size}},
        }
    )


class ListQuarantine:
    """Refused records kept in memory; files should never add any."""

    def __init__(self) -> None:
        self.added: list[tuple[str, list[Refused]]] = []

    def add(self, batch: str, refused: list[Refused]) -> None:
        self.added.append((batch, refused))


class Folder:
    """A files destination in a temporary project, and readers of what it wrote."""

    def __init__(self, tmp: Path, fmt: str, **config: Any) -> None:
        self.root = tmp / "project"
        self.root.mkdir(parents=True, exist_ok=True)
        self.state = tmp / "state"
        self.format = fmt
        self.destination = FileFolder(export_config(fmt, **config), self.root, self.state)
        self.quarantine = ListQuarantine()

    @property
    def path(self) -> Path:
        return self.destination.folder

    @property
    def positions(self) -> PositionFile:
        return PositionFile(self.state / "position.json")

    def send(self, changes: Changes, resume_at: int = 0) -> Sent:
        sent = self.destination.send(changes, resume_at, self.quarantine)
        assert self.quarantine.added == []
        return sent

    def files(self) -> list[str]:
        """The finished files, in name order (the order they apply in)."""
        return sorted(p.name for p in self.path.iterdir() if not p.name.startswith("."))

    def hidden(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.name.startswith("."))

    def rows(self, schema: pa.Schema, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Every row of the folder's files (or of `names`), in file order, as Python values
        comparable with `table.to_pylist()` of the source."""
        out: list[dict[str, Any]] = []
        for name in names if names is not None else self.files():
            out.extend(read_back(self.path / name, self.format, schema))
        return out


def read_back(path: Path, fmt: str, schema: pa.Schema) -> list[dict[str, Any]]:
    """The rows of one file, read without Headwater, decoded per the documented encoding."""
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.column_names in (schema.names, [*schema.names, OP_COLUMN])
        written: list[dict[str, Any]] = table.to_pylist()
        return written
    if _has_op_column(path, fmt):
        schema = schema.append(pa.field(OP_COLUMN, pa.string()))
    if fmt == "csv":
        types = {f.name: pa.string() if pt.is_binary(f.type) else f.type for f in schema}
        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=True,
                # an empty field is null, `""` is an empty string
                quoted_strings_can_be_null=False,
            ),
        )
        assert table.column_names == schema.names
        rows: list[dict[str, Any]] = table.to_pylist()
        for field in schema:
            if pt.is_binary(field.type):
                for row in rows:
                    if row[field.name] is not None:
                        row[field.name] = base64.b64decode(row[field.name])
        return rows
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert list(record) == schema.names
        rows.append({f.name: from_json(record[f.name], f.type) for f in schema})
    return rows


def _has_op_column(path: Path, fmt: str) -> bool:
    with open(path, encoding="utf-8") as text:
        first = text.readline()
    if fmt == "csv":
        return first.rstrip("\n").split(",")[-1] == f'"{OP_COLUMN}"'
    return OP_COLUMN in json.loads(first)


def from_json(value: Any, data_type: pa.DataType) -> Any:
    """One NDJSON value back to Python, as the documentation says it is written."""
    if value is None:
        return None
    if pt.is_decimal(data_type):
        assert isinstance(value, str), value
        return Decimal(value)
    if pt.is_timestamp(data_type):
        if data_type.tz is not None:
            assert value.endswith("Z"), value
        return datetime.fromisoformat(value)
    if pt.is_date(data_type):
        return date.fromisoformat(value)
    if pt.is_binary(data_type):
        return base64.b64decode(value)
    if pt.is_floating(data_type) and isinstance(value, str):
        return float(value)
    return value


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_back_equal_to_the_source(tmp_path: Path, fmt: str) -> None:
    folder = Folder(tmp_path, fmt)
    source = source_table()
    sent = folder.send(make_changes(source, until=3))
    assert sent == Sent(upserted=8, deleted=0, refused=0, batches=1, retries=0)
    assert folder.files() == [f"orders-v00000003-00000.{EXTENSION[fmt]}"]
    assert folder.hidden() == []
    assert folder.rows(SCHEMA) == source.to_pylist()
    assert at(folder.destination.position()) == Position(version=3, pending=None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_duckdb_reads_a_folder_of_change_files(tmp_path: Path, fmt: str) -> None:
    """A consumer globs the folder: the partial files never match, every batch does."""
    folder = Folder(tmp_path, fmt, batch_size=3)
    source = source_table()
    folder.send(make_changes(source, until=1))
    pattern = str(folder.path / f"*.{EXTENSION[fmt]}")
    reader = {
        "csv": f"read_csv('{pattern}', allow_quoted_nulls = false)",
        "parquet": f"read_parquet('{pattern}')",
        "ndjson": f"read_json('{pattern}', format = 'newline_delimited')",
    }[fmt]
    relation = duckdb.sql(f"SELECT id, name FROM {reader} ORDER BY id")
    assert relation is not None
    got = relation.fetchall()
    assert got == [(r["id"], r["name"]) for r in source.to_pylist()]


def test_csv_writes_null_as_an_empty_field_and_empty_text_quoted(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "csv")
    table = pa.table({"id": [1, 2, 3], "name": ["", None, "x"], "n": [None, 1, 2]})
    folder.send(make_changes(table))
    text = (folder.path / folder.files()[0]).read_text(encoding="utf-8")
    assert text.splitlines() == ['"id","name","n"', '1,"",', "2,,1", '3,"x",2']


def test_ndjson_encodes_values_json_has_no_type_for(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "ndjson")
    table = pa.table(
        {
            "d": pa.array(
                [Decimal(0), Decimal("1E-7"), Decimal("12345678901234567890.123456789012345678")],
                pa.decimal128(38, 18),
            ),
            "ns": pa.array([1_700_000_000_123_456_789, 0, None], pa.timestamp("ns", "UTC")),
            "paris": pa.array(
                [datetime(2024, 7, 1, 12, tzinfo=UTC), None, None],
                pa.timestamp("s", "Europe/Paris"),
            ),
            "f": pa.array([float("nan"), float("inf"), float("-inf")]),
            "b": pa.array([b"\x00\x01\xfe", b"", None]),
            "day": pa.array([date(2024, 2, 29), None, date(1, 1, 1)]),
        }
    )
    folder.send(make_changes(table))
    lines = (folder.path / folder.files()[0]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "d": "0.000000000000000000",
            "ns": "2023-11-14T22:13:20.123456789Z",
            "paris": "2024-07-01T12:00:00Z",
            "f": "NaN",
            "b": "AAH+",
            "day": "2024-02-29",
        },
        {
            "d": "0.000000100000000000",
            "ns": "1970-01-01T00:00:00.000000000Z",
            "paris": None,
            "f": "Infinity",
            "b": "",
            "day": None,
        },
        {
            "d": "12345678901234567890.123456789012345678",
            "ns": None,
            "paris": None,
            "f": "-Infinity",
            "b": None,
            "day": "0001-01-01",
        },
    ]
    # unicode is written as UTF-8, not escaped
    folder.send(make_changes(pa.table({"s": ["Zoë 東京"]}), until=2))
    assert "Zoë 東京" in (folder.path / "orders-v00000002-00000.ndjson").read_text("utf-8")


def test_ndjson_file_larger_than_one_encoding_chunk(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "ndjson", batch_size=NDJSON_CHUNK * 2 + 7)
    table = numbered_table(0, NDJSON_CHUNK * 2 + 7)
    folder.send(make_changes(table))
    assert len(folder.files()) == 1
    assert folder.rows(table.schema) == table.to_pylist()


NESTED = pa.table(
    {
        "id": [1, 2, 3],
        "address": pa.array(
            [{"city": "Oslo", "since": date(2020, 1, 1)}, None, {"city": None, "since": None}],
            pa.struct([("city", pa.string()), ("since", pa.date32())]),
        ),
        "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
        "prices": pa.array(
            [[("eur", Decimal("1.10"))], None, []], pa.map_(pa.string(), pa.decimal128(9, 2))
        ),
    }
)


def test_parquet_keeps_nested_types(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "parquet")
    folder.destination.check(NESTED.schema, ["id"])
    folder.send(make_changes(NESTED))
    written = pq.read_table(folder.path / folder.files()[0])
    assert written.schema.remove_metadata() == NESTED.schema
    assert written.to_pylist() == NESTED.to_pylist()


def test_ndjson_writes_nested_types_as_objects_and_arrays(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "ndjson")
    folder.destination.check(NESTED.schema, ["id"])
    folder.send(make_changes(NESTED))
    lines = (folder.path / folder.files()[0]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "id": 1,
            "address": {"city": "Oslo", "since": "2020-01-01"},
            "tags": ["a", "b"],
            "prices": {"eur": "1.10"},
        },
        {"id": 2, "address": None, "tags": [], "prices": None},
        {"id": 3, "address": {"city": None, "since": None}, "tags": None, "prices": {}},
    ]


@pytest.mark.parametrize("column", ["address", "tags", "prices"])
def test_csv_refuses_nested_columns_before_writing_anything(tmp_path: Path, column: str) -> None:
    folder = Folder(tmp_path, "csv")
    table = NESTED.select(["id", column])
    with pytest.raises(ExportError) as refused:
        folder.destination.check(table.schema, ["id"])
    assert f"column {column}" in refused.value.message
    assert refused.value.location.column == column
    assert "parquet" in (refused.value.hint or "") and "ndjson" in (refused.value.hint or "")
    with pytest.raises(ExportError):
        folder.send(make_changes(table))
    assert not folder.path.exists() or folder.files() == []
    assert at(folder.destination.position()) == Position()


# -- batches and positions -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_split_into_one_file_each(tmp_path: Path, fmt: str) -> None:
    folder = Folder(tmp_path, fmt, batch_size=3)
    table = numbered_table(0, 10)
    sent = folder.send(make_changes(table, since=4, until=12))
    assert sent == Sent(upserted=10, batches=4)
    ext = EXTENSION[fmt]
    assert folder.files() == [f"orders-v00000012-{n:05d}.{ext}" for n in range(4)]
    sizes = [len(read_back(folder.path / name, fmt, table.schema)) for name in folder.files()]
    assert sizes == [3, 3, 3, 1]
    assert folder.rows(table.schema) == table.to_pylist()
    assert at(folder.destination.position()) == Position(version=12)


def test_upsert_and_append_files_hold_plain_rows(tmp_path: Path) -> None:
    for mode in ("upsert", "append"):
        folder = Folder(tmp_path / mode, "parquet", mode=mode)
        table = numbered_table(0, 3)
        folder.send(make_changes(table, mode=mode))
        assert pq.read_table(folder.path / folder.files()[0]).column_names == table.column_names


def test_nothing_changed_writes_no_file_and_moves_the_position(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "csv")
    sent = folder.send(make_changes(numbered_table(0, 0), since=2, until=3))
    assert sent == Sent()
    assert folder.files() == []
    assert at(folder.destination.position()) == Position(version=3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_writes_only_the_batches_not_confirmed(tmp_path: Path, fmt: str) -> None:
    folder = Folder(tmp_path, fmt, batch_size=2)
    table = numbered_table(0, 7)
    changes = make_changes(table, since=1, until=2)
    before = Position(version=1)
    folder.positions.begin(before, 1, 2)
    position = folder.positions.read()
    assert position.pending is not None
    folder.positions.confirm(position, position.pending, 2)
    sent = folder.send(changes, resume_at=2)
    assert sent == Sent(upserted=3, batches=2)
    ext = EXTENSION[fmt]
    # batches 0 and 1 were confirmed by the run before (whose files this test did not make)
    assert folder.files() == [f"orders-v00000002-00002.{ext}", f"orders-v00000002-00003.{ext}"]
    assert folder.rows(table.schema) == table.slice(4).to_pylist()
    assert at(folder.destination.position()) == Position(version=2)


def test_a_range_resumes_in_the_batches_it_began_with(tmp_path: Path) -> None:
    """batch_size changed while a range was half written: the rest is cut as it began, so no
    record is skipped or written twice."""
    table = numbered_table(0, 9)
    first = Folder(tmp_path, "parquet", batch_size=2)
    # a run wrote batches 0 and 1 (rows 0-3) of the range in batches of 2 and was killed
    first.send(make_changes(table.slice(0, 4), since=1, until=2))
    first.positions.confirm(Position(version=1), Pending(1, 2, 0, batch_size=2), 2)
    resumed = Folder(tmp_path, "parquet", batch_size=5)
    sent = resumed.send(make_changes(table, since=1, until=2), resume_at=2)
    assert sent == Sent(upserted=5, batches=3)
    assert sorted(r["id"] for r in resumed.rows(table.schema)) == list(range(9))


def test_a_resume_point_past_the_confirmed_batches_is_not_trusted(tmp_path: Path) -> None:
    """Skipping a batch nobody confirmed would lose its rows; writing one again is harmless."""
    folder = Folder(tmp_path, "parquet", batch_size=2)
    table = numbered_table(0, 6)
    sent = folder.send(make_changes(table, until=5), resume_at=2)
    assert sent == Sent(upserted=6, batches=3)
    assert folder.rows(table.schema) == table.to_pylist()


def test_a_pending_range_of_other_versions_starts_over(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "csv", batch_size=2)
    folder.positions.begin(Position(version=1), 1, 2)
    position = folder.positions.read()
    assert position.pending is not None
    folder.positions.confirm(position, position.pending, 2)
    table = numbered_table(0, 4)
    sent = folder.send(make_changes(table, since=None, until=3), resume_at=0)
    assert sent == Sent(upserted=4, batches=2)
    assert at(folder.destination.position()) == Position(version=3)


def test_leftover_partial_files_are_removed_and_others_exports_kept(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "parquet", batch_size=2)
    folder.path.mkdir(parents=True)
    (folder.path / ".orders-v00000002-00001.parquet.partial").write_bytes(b"torn")
    (folder.path / ".orders-v00000001-00003.parquet.partial").write_bytes(b"older range")
    (folder.path / ".customers-v00000001-00000.parquet.partial").write_bytes(b"not ours")
    table = numbered_table(0, 4)
    folder.send(make_changes(table, since=1, until=2))
    assert folder.hidden() == [".customers-v00000001-00000.parquet.partial"]
    assert folder.rows(table.schema) == table.to_pylist()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_range_sent_again_replaces_its_files_with_the_same_rows(tmp_path: Path, fmt: str) -> None:
    folder = Folder(tmp_path, fmt, batch_size=3)
    table = numbered_table(0, 8)
    folder.send(make_changes(table, since=1, until=2))
    first = {name: (folder.path / name).read_bytes() for name in folder.files()}
    # as a killed run after its last rename would: the position still says the range is open
    folder.positions.begin(Position(version=1), 1, 2)
    folder.send(make_changes(table, since=1, until=2))
    assert {name: (folder.path / name).read_bytes() for name in folder.files()} == first
    assert folder.rows(table.schema) == table.to_pylist()


# -- mirror --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_mirror_files_apply_in_name_order_to_the_new_version(tmp_path: Path, fmt: str) -> None:
    folder = Folder(tmp_path, fmt, mode="mirror", batch_size=2)
    before = {r["id"]: r for r in numbered_table(1, 6).to_pylist()}
    after = dict(before)
    for gone in (2, 5, 6):
        del after[gone]
    after[3] = {**after[3], "name": "renamed", "amount": Decimal("-7.25")}
    after[7] = numbered_table(7, 1).to_pylist()[0]
    after[8] = {**numbered_table(8, 1).to_pylist()[0], "name": ""}
    schema = numbered_table(0, 0).schema
    upserts = pa.Table.from_pylist([after[3], after[7], after[8]], schema=schema)
    deletes = pa.table({"id": pa.array([2, 5, 6], pa.int64())})
    changes = make_changes(upserts, deletes, mode="mirror", since=1, until=2)
    folder.destination.check(changes.schema, changes.key)

    sent = folder.send(changes)

    assert sent == Sent(upserted=3, deleted=3, batches=4)
    ext = EXTENSION[fmt]
    assert folder.files() == [
        f"orders-v00000002-00000.{ext}",
        f"orders-v00000002-00001.{ext}",
        f"orders-v00000002-00002-deletes.{ext}",
        f"orders-v00000002-00003-deletes.{ext}",
    ]
    state = dict(before)
    for row in folder.rows(schema):
        op = row.pop(OP_COLUMN)
        if op == "delete":
            assert [v for k, v in row.items() if k != "id"] == [None] * (len(row) - 1)
            del state[row["id"]]
        else:
            assert op == "upsert"
            state[row["id"]] = row
    assert state == after


def test_mirror_refuses_a_column_named_like_the_operation_column(tmp_path: Path) -> None:
    folder = Folder(tmp_path, "parquet", mode="mirror")
    schema = pa.schema([("id", pa.int64()), (OP_COLUMN, pa.string())])
    with pytest.raises(ExportError) as refused:
        folder.destination.check(schema, ["id"])
    assert refused.value.location.column == OP_COLUMN


# -- the folder ----------------------------------------------------------------------------


def test_lineage_names_the_absolute_folder(tmp_path: Path) -> None:
    relative = Folder(tmp_path / "a", "csv", path="exports/../out/crm")
    assert relative.destination.namespace == "file"
    assert relative.destination.name == str(tmp_path / "a" / "project" / "out" / "crm")
    assert relative.destination.label == relative.destination.name
    absolute = Folder(tmp_path / "b", "csv", path=str(tmp_path / "elsewhere"))
    assert absolute.destination.name == str(tmp_path / "elsewhere")


def test_a_folder_that_cannot_be_made_is_an_export_error(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "blocker").write_text("a file, not a folder")
    folder = Folder(tmp_path, "csv", path="blocker/out")
    with pytest.raises(ExportError) as failed:
        folder.send(make_changes(numbered_table(0, 3)))
    assert str(folder.path) in failed.value.message
    assert "writable" in (failed.value.hint or "")
    assert at(folder.destination.position()) == Position()


def test_a_read_only_folder_is_an_export_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(tmp_path, "csv")
    folder.path.mkdir(parents=True)
    folder.path.chmod(0o500)
    if os.geteuid() == 0:
        # root writes into read-only folders: answer as the file mode does for anyone else
        real = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda path, mode, **kw: False if Path(path) == folder.path else real(path, mode, **kw),
        )
    try:
        with pytest.raises(ExportError) as failed:
            folder.send(make_changes(numbered_table(0, 3)))
        assert str(folder.path) in failed.value.message
        assert at(folder.destination.position()) == Position()
    finally:
        folder.path.chmod(0o700)


# -- SIGKILL -------------------------------------------------------------------------------

KILL_ROWS = 2000
"""Rows per range in the kill test."""
KILL_BATCH = 20
KILLS = 12


def kill_changes(until: int) -> Changes:
    """Range `(until - 1, until]`: KILL_ROWS new rows, appended."""
    table = numbered_table((until - 1) * KILL_ROWS, KILL_ROWS)
    return make_changes(table, mode="append", since=until - 1 if until > 1 else None, until=until)


def kill_worker(folder: str, state: str, fmt: str, until: str) -> None:
    """One run, as the export's builder does it: resume the range the position holds open,
    from the batch it gives. Prints `ready` just before sending."""
    config = export_config(fmt, mode="append", batch_size=KILL_BATCH, path=folder)
    destination = FileFolder(config, Path(folder), Path(state))
    changes = kill_changes(int(until))
    position = destination.position()
    if position.version is not None and position.version >= changes.until:
        print("done", flush=True)
        return
    pending = position.pending
    same = pending is not None and (pending.since, pending.until) == (changes.since, changes.until)
    resume_at = pending.batches_done if same and pending is not None else 0
    print("ready", flush=True)
    destination.send(changes, resume_at, ListQuarantine())


def assert_whole_files(folder: Path, fmt: str, seed: int) -> None:
    """Every file a reader can see holds its whole batch, whenever the writer was killed."""
    if not folder.exists():
        return
    schema = numbered_table(0, 0).schema
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        _, version, number = path.name.split(".")[0].split("-")
        start = (int(version.removeprefix("v")) - 1) * KILL_ROWS + int(number) * KILL_BATCH
        expected = numbered_table(start, KILL_BATCH).to_pylist()
        assert read_back(path, fmt, schema) == expected, f"{path.name} (seed {seed})"


@pytest.mark.parametrize("fmt", FORMATS)
def test_sigkill_at_random_moments_leaves_every_record_once(tmp_path: Path, fmt: str) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    folder, state = tmp_path / "out", tmp_path / "state"
    code = (
        "import sys; from tests.exports.test_files import kill_worker; kill_worker(*sys.argv[1:])"
    )
    kills = starts = 0
    until = 1
    while True:
        starts += 1
        assert starts < 400, f"no progress (seed {seed})"
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(folder), str(state), fmt, str(until)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        if first == "ready\n" and kills < KILLS:
            time.sleep(rng.uniform(0.0, 0.12))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                kills += 1
        _, err = process.communicate(timeout=600)
        if process.returncode == -signal.SIGKILL:
            assert_whole_files(folder, fmt, seed)
            continue
        assert process.returncode == 0, f"worker failed (seed {seed}):\n{err}"
        if kills >= KILLS:
            break
        until += 1

    position = PositionFile(state / "position.json").read()
    assert at(position) == Position(version=until, pending=None)
    assert sorted(p.name for p in state.iterdir()) == ["position.json"]
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == [], seed
    names = sorted(p.name for p in folder.iterdir())
    schema = numbered_table(0, 0).schema
    got = [row for name in names for row in read_back(folder / name, fmt, schema)]
    expected = numbered_table(0, KILL_ROWS * until).to_pylist()
    assert len(got) == len(expected), f"seed {seed}"
    assert [r["id"] for r in got] == [r["id"] for r in expected], f"seed {seed}"
    assert got == expected, f"seed {seed}"
    per_range = -(-KILL_ROWS // KILL_BATCH)
    assert len(names) == per_range * until


if __name__ == "__main__":  # pragma: no cover - a manual run of one worker
    kill_worker(*sys.argv[1:])
