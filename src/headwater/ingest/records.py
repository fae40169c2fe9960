"""Turn Python records (JSON objects, database rows) into typed Parquet files, record by record.

Nested objects are flattened into `parent__child` columns (as dlt does). Lists are kept as JSON
text, or, with `nested=True`, become rows of child tables named by their path (`items`,
`items__options`), linked as dlt links them: every row has an `_hw_id`, every child row the
`_hw_parent_id` of the row holding its list, the `_hw_root_id` of the top-level record and its
`_hw_list_index`. The `_hw_id` of a keyed record is a digest of its key, so a record loaded again
keeps its id. Each row also carries `_hw_seq`, the ordinal of its top-level record in this load,
which lets the loader keep exactly the children of the records that survive deduplication and
quarantine (it is never stored).

Each column's type comes from the table (or the sidecar's declared types) when known, and is
otherwise inferred from the first batch. A value that does not fit its column sends its whole
record to quarantine with the column and the reason; every other record is written.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.digest import content_hash
from headwater.ingest.base import BadRecord, Extracted, ExtractRequest
from headwater.storage.base import WrittenFile

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

SEPARATOR = "__"
BATCH_ROWS = 50_000
ID, PARENT_ID, ROOT_ID, LIST_INDEX, SEQ = (
    "_hw_id",
    "_hw_parent_id",
    "_hw_root_id",
    "_hw_list_index",
    "_hw_seq",
)
SYSTEM_PREFIX = "_hw_"
"""Columns Headwater adds to loaded rows start with this."""
VALUE = "value"
"""The column of a child table made from a list of scalars."""


class ValueDoesNotFit(ValueError):
    """A value cannot be stored in its column's type."""


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested objects into `a__b` keys; lists become JSON text."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{SEPARATOR}{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, default=str)
        else:
            flat[name] = value
    return flat


def split_lists(record: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """Flatten nested objects into `a__b` keys, keeping lists apart (by flattened name)."""
    flat: dict[str, Any] = {}
    lists: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{SEPARATOR}{key}" if prefix else str(key)
        if isinstance(value, dict):
            inner_flat, inner_lists = split_lists(value, name)
            flat.update(inner_flat)
            lists.update(inner_lists)
        elif isinstance(value, list):
            lists[name] = value
        else:
            flat[name] = value
    return flat, lists


def record_id(*parts: Any) -> str:
    """A stable id for a row from `parts` (a record's key values, or a parent id and a path)."""
    return content_hash(*(str(part) for part in parts))[:32]


def infer_type(values: list[Any], share: float = 0.9) -> pa.DataType:
    """The Arrow type for a column holding `values`: the narrowest type that at least `share`
    of the non-null values have (the others are coerced or quarantined), else string. A few
    bad values thus do not turn a numeric column into text."""
    import pyarrow as pa

    counts: dict[str, int] = {}
    for value in values:
        if value is not None:
            kind = _kind(value)
            counts[kind] = counts.get(kind, 0) + 1
    total = sum(counts.values())
    if not total:
        return pa.string()
    need = share * total
    numbers = counts.get("int", 0) + counts.get("float", 0) + counts.get("decimal", 0)
    for kind, arrow_type in (
        ("bool", pa.bool_()),
        ("int", pa.int64()),
        ("datetime", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
        ("bytes", pa.binary()),
    ):
        if counts.get(kind, 0) >= need:
            return arrow_type
    if numbers >= need:
        return pa.float64()
    return pa.string()


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    return "str"


def coerce(value: Any, kind: pa.DataType) -> Any:
    """Return `value` as a Python value of Arrow type `kind`, or raise `ValueDoesNotFit`."""
    import pyarrow as pa

    if value is None:
        return None
    try:
        if pa.types.is_boolean(kind):
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError
        if pa.types.is_integer(kind):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int):
                return value
            if isinstance(value, float | decimal.Decimal) and value == int(value):
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
            raise ValueError
        if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int | float | decimal.Decimal):
                return float(value) if pa.types.is_floating(kind) else decimal.Decimal(value)
            if isinstance(value, str):
                number = float(value.strip())
                return number if pa.types.is_floating(kind) else decimal.Decimal(value.strip())
            raise ValueError
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if isinstance(value, dict | list):
                return json.dumps(value, default=str)
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value).hex()
            return value if isinstance(value, str) else str(value)
        if pa.types.is_timestamp(kind):
            if isinstance(value, dt.datetime):
                moment = value
            elif isinstance(value, str):
                moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            else:
                raise ValueError
            if kind.tz is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            if kind.tz is None and moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
            return moment
        if pa.types.is_date(kind):
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            if isinstance(value, str):
                return dt.date.fromisoformat(value.strip())
            raise ValueError
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value)
            raise ValueError
    except (ValueError, TypeError, ArithmeticError):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise ValueDoesNotFit(f"{shown} is not a valid {kind}") from None
    return value


@dataclass
class RecordWriter:
    """Writes records to Parquet files in `directory`, quarantining those that do not fit.

    `types` fixes the type of columns (declared types). `preferred` holds the table's current
    types: kept when the values fit them, given up only for a wider type that holds them all
    (int values becoming floats), so the loader can widen the column. Other columns are typed
    by the first batch they appear in.
    """

    directory: Path
    types: dict[str, pa.DataType] = field(default_factory=dict)
    preferred: dict[str, pa.DataType] = field(default_factory=dict)
    nested: bool = False
    """Lists become child rows (in `children`) instead of JSON text."""
    key: list[str] = field(default_factory=list)
    """The records' primary key: their `_hw_id` is derived from it (nested only)."""
    child_types: dict[str, dict[str, pa.DataType]] = field(default_factory=dict)
    """The current column types of each known child table, by path (nested only)."""
    parent: str = ""
    """For a child table's writer: the path of the table holding its lists ("" for the
    top-level table)."""
    seq_start: int = 0
    """The record ordinal to count on from: the records of earlier files of the same load, so
    that a later file's version of a key wins."""
    batch_rows: int = BATCH_ROWS
    bad: list[BadRecord] = field(default_factory=list)
    files: list[WrittenFile] = field(default_factory=list)
    rows: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _schema: pa.Schema | None = None
    _writer: pq.ParquetWriter | None = None
    _places: list[tuple[str, str | None, int | None]] = field(default_factory=list)
    children: dict[str, RecordWriter] = field(default_factory=dict)
    """Writers of the child tables, by path (`items`, `items__options`)."""
    _seq: int = 0

    def __post_init__(self) -> None:
        self._seq = self.seq_start

    @property
    def last_seq(self) -> int:
        """The ordinal of the last record added."""
        return self._seq

    def add(
        self,
        record: dict[str, Any],
        location: str,
        raw: str | None = None,
        line: int | None = None,
    ) -> None:
        """Queue one record (flattened here); written when a batch fills or on `close`."""
        if not self.nested:
            self._queue(flatten(record), location, raw, line)
            return
        flat, lists = split_lists(record)
        self._seq += 1
        own_id = record_id(*(flat.get(k) for k in self.key)) if self.key else uuid.uuid4().hex
        flat[ID], flat[SEQ] = own_id, self._seq
        self._queue(flat, location, raw, line)
        self._add_children(lists, own_id, own_id, location, "")

    def _add_children(
        self, lists: dict[str, Any], parent: str, root: str, location: str, prefix: str
    ) -> None:
        for name, items in lists.items():
            path = f"{prefix}{SEPARATOR}{name}" if prefix else name
            writer = self._child(path, prefix)
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    flat, inner = split_lists(item)
                elif isinstance(item, list):
                    flat, inner = {}, {VALUE: item}
                else:
                    flat, inner = {VALUE: item}, {}
                own_id = record_id(parent, path, index)
                flat.update(
                    {
                        ID: own_id,
                        PARENT_ID: parent,
                        ROOT_ID: root,
                        LIST_INDEX: index,
                        SEQ: self._seq,
                    }
                )
                writer._queue(flat, f"{location} {path}[{index}]", None, None)
                self._add_children(inner, own_id, root, location, path)

    def _child(self, path: str, parent: str) -> RecordWriter:
        writer = self.children.get(path)
        if writer is None:
            writer = RecordWriter(
                self.directory.parent / f"{self.directory.name}{SEPARATOR}{path}",
                preferred=self.child_types.get(path, {}),
                batch_rows=self.batch_rows,
                parent=parent,
            )
            self.children[path] = writer
        return writer

    def _queue(
        self, flat: dict[str, Any], location: str, raw: str | None, line: int | None
    ) -> None:
        self._pending.append(flat)
        self._places.append((location, raw, line))
        if len(self._pending) >= self.batch_rows:
            self._flush()

    def close(self) -> pa.Schema | None:
        """Write what is queued and return the schema of the written rows (None if none)."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for child in self.children.values():
            child.close()
        return self._schema

    def all_bad(self) -> list[BadRecord]:
        """The records set aside, this table's and its child tables'."""
        return [*self.bad, *(b for c in self.children.values() for b in c.bad)]

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        records, places = self._pending, self._places
        self._pending, self._places = [], []
        names: list[str] = list(self._schema.names) if self._schema is not None else []
        seen = set(names)
        for record in records:
            for name in record:
                if name not in seen:
                    seen.add(name)
                    names.append(name)
        types: dict[str, pa.DataType] = {}
        for name in names:
            if self._schema is not None and name in self._schema.names:
                types[name] = self._schema.field(name).type
            elif name in self.types:
                types[name] = self.types[name]
            else:
                types[name] = self._batch_type(name, [r.get(name) for r in records])
        columns: dict[str, list[Any]] = {name: [] for name in names}
        for record, (location, raw, line) in zip(records, places, strict=True):
            try:
                values = {}
                for name, value in record.items():
                    try:
                        values[name] = coerce(value, types[name])
                    except ValueDoesNotFit as exc:
                        raise _BadValue(name, str(exc)) from None
            except _BadValue as exc:
                self.bad.append(
                    BadRecord(
                        location,
                        "cast",
                        f"column {exc.column}: {exc.reason}",
                        raw if raw is not None else json.dumps(record, default=str),
                        exc.column,
                        line,
                    )
                )
                continue
            for name in names:
                columns[name].append(values.get(name))
        schema = pa.schema([pa.field(name, types[name]) for name in names])
        table = pa.table({n: pa.array(columns[n], type=types[n]) for n in names}, schema=schema)
        if table.num_rows == 0:
            return
        self._write(table)

    def _batch_type(self, name: str, values: list[Any]) -> pa.DataType:
        from headwater.build.schema_evolution import widened

        inferred = infer_type(values)
        current = self.preferred.get(name)
        if current is None:
            return inferred
        merged = widened(current, inferred)
        if merged is not None and not merged.equals(current) and merged.equals(inferred):
            return inferred
        return current

    def _write(self, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self._writer is not None and self._schema is not None and table.schema != self._schema:
            # a column appeared: finish this file and start one with the wider schema
            self._writer.close()
            self._writer = None
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"part-{uuid.uuid4().hex}.parquet"
            self._writer = pq.ParquetWriter(str(path), table.schema, compression="snappy")
            self.files.append(WrittenFile(str(path)))
        self._schema = table.schema
        self._writer.write_table(table)
        self.rows += table.num_rows


def record_writer(
    request: ExtractRequest,
    directory: Path,
    types: dict[str, pa.DataType] | None = None,
    seq_start: int = 0,
) -> RecordWriter:
    """A writer for the records of `request`'s table: typed like the table and its child
    tables where they exist, nesting lists as the table asks."""
    table = request.spec.table
    return RecordWriter(
        directory,
        types=types or {},
        preferred={f.name: f.type for f in request.table_schema or []},
        nested=table.nested == "tables",
        key=list(table.primary_key),
        child_types={
            path: {f.name: f.type for f in schema} for path, schema in request.child_schemas.items()
        },
        seq_start=seq_start,
    )


def extracted(writer: RecordWriter, bad: list[BadRecord] | None = None) -> Extracted:
    """What a closed `writer` staged: its rows, its child tables' rows and every bad record
    (with `bad`, those the caller found before the writer saw them)."""
    children = {
        path: Extracted(child.files, child._schema, child.rows, parent=child.parent)
        for path, child in writer.children.items()
        if child.files
    }
    return Extracted(
        writer.files,
        writer._schema,
        writer.rows,
        [*(bad or []), *writer.all_bad()],
        children=children,
    )


@dataclass
class _BadValue(Exception):
    column: str
    reason: str
