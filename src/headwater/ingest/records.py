"""Turn Python records (JSON objects, database rows) into typed Parquet files, record by record.

Nested objects are flattened into `parent__child` columns (as dlt does); lists are kept as JSON
text. Each column's type comes from the table (or the sidecar's declared types) when known, and
is otherwise inferred from the first batch. A value that does not fit its column sends its whole
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

from headwater.ingest.base import BadRecord
from headwater.storage.base import WrittenFile

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

SEPARATOR = "__"
BATCH_ROWS = 50_000


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
    batch_rows: int = BATCH_ROWS
    bad: list[BadRecord] = field(default_factory=list)
    files: list[WrittenFile] = field(default_factory=list)
    rows: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _schema: pa.Schema | None = None
    _writer: pq.ParquetWriter | None = None
    _places: list[tuple[str, str | None, int | None]] = field(default_factory=list)

    def add(
        self,
        record: dict[str, Any],
        location: str,
        raw: str | None = None,
        line: int | None = None,
    ) -> None:
        """Queue one record (flattened here); written when a batch fills or on `close`."""
        self._pending.append(flatten(record))
        self._places.append((location, raw, line))
        if len(self._pending) >= self.batch_rows:
            self._flush()

    def close(self) -> pa.Schema | None:
        """Write what is queued and return the schema of the written rows (None if none)."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self._schema

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
        from headwater.transform.schema_evolution import widened

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


@dataclass
class _BadValue(Exception):
    column: str
    reason: str
