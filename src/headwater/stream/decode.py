"""Turn a source's raw event payloads into typed rows, setting malformed events aside.

The fast path hands the whole batch to Arrow's JSON reader with the stream's declared
`columns` as its schema. When that fails (bad JSON, a value of the wrong type, bytes that are
not UTF-8), the batch is decoded again event by event so that each bad event goes to the
quarantine with its raw payload and the reason, and every good one is kept: the stream never
stops for bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.ingest.event_sources import METADATA_COLUMNS, PAYLOAD

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession


@dataclass
class Decoded:
    """A batch split into typed events and the events set aside."""

    events: pa.Table
    rejected: list[Rejected]


@dataclass(frozen=True)
class Rejected:
    """One event that could not become a row, and why."""

    row: int
    """Its position in the source batch."""
    error_class: str
    reason: str
    column: str | None = None


class EventDecoder:
    """Decodes the payloads of one stream's batches into its declared columns."""

    def __init__(self, session: EngineSession, columns: dict[str, str]) -> None:
        self._session = session
        self._columns = dict(columns)
        self._schema: pa.Schema | None = None
        self._reading: pa.Schema | None = None
        self._to_cast: list[str] = []
        """Columns read as text (or wide decimals) and cast by DuckDB."""

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the declared columns (DuckDB type names, as DuckDB maps them)."""
        if self._schema is None:
            import pyarrow as pa

            from headwater.sqltext import identifier as quote_identifier

            if not self._columns:
                self._schema = pa.schema([])
            else:
                select = ", ".join(
                    f"cast(null as {kind}) as {quote_identifier(name)}"
                    for name, kind in self._columns.items()
                )
                self._schema = pa.schema(
                    [_plain_field(f) for f in self._session.query(f"select {select}").schema]
                )
        return self._schema

    def decode(self, batch: pa.Table) -> Decoded:
        """Return `batch` with its `_payload` decoded into the declared columns (metadata
        columns kept), and the events that could not be decoded. A batch without `_payload`
        is already typed and returned as it is."""
        if PAYLOAD not in batch.column_names:
            return Decoded(batch, [])
        import pyarrow as pa

        payloads = batch.column(PAYLOAD)
        metadata = [c for c in METADATA_COLUMNS if c in batch.column_names]
        typed = self._fast(payloads)
        rejected: list[Rejected] = []
        keep: pa.Array | None = None
        if typed is None:
            typed, rejected = self._slow(payloads)
            bad = {r.row for r in rejected}
            keep = pa.array([i not in bad for i in range(batch.num_rows)])
        kept = batch.select(metadata)
        if keep is not None:
            kept = kept.filter(keep)
        for name in metadata:
            typed = typed.append_column(name, kept.column(name))
        return Decoded(typed, rejected)

    def _fast(self, payloads: pa.ChunkedArray) -> pa.Table | None:
        """The batch decoded at once, or None when an event needs a closer look. It must
        give every event the row `_slow` gives it (however the events fell into batches), so
        it declines rather than guess: each payload must start an object (Arrow's reader
        reads a `null` line as a row of NULLs, and crashes on a first line of `null`), the
        whole must be UTF-8 (the reader does not check), and each payload one row."""
        import pyarrow as pa
        import pyarrow.json as pajson

        if payloads.null_count or not len(payloads):
            return None
        values = payloads.combine_chunks()
        if not pa.types.is_binary(values.type):
            values = values.cast(pa.binary())
        if not _each_starts_an_object(values):
            return None
        body = _lines(values)
        if not _utf8(body):
            return None
        try:
            table = pajson.read_json(
                pa.BufferReader(body),
                parse_options=pajson.ParseOptions(
                    explicit_schema=self._reading_schema(), unexpected_field_behavior="ignore"
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(values):
            return None  # a payload holding several values: decode one by one
        return self._converted(table.select(self.schema.names))

    def _reading_schema(self) -> pa.Schema:
        """The schema Arrow's reader reads with: the declared types it reads as DuckDB casts
        them (integers, floats, booleans, strings, microsecond timestamps); decimals at
        full precision (checked against the declared one by a cast); anything else as the
        JSON string, cast by DuckDB as `_slow` casts it."""
        import pyarrow as pa

        if self._reading is None:
            from headwater.sqltext import identifier as quote_identifier

            probe = ", ".join(
                f"typeof(cast(null as {kind})) as {quote_identifier(name)}"
                for name, kind in self._columns.items()
            )
            names = self._session.query(f"select {probe}").to_pylist()[0] if probe else {}
            fields = []
            self._to_cast = []
            for field in self.schema:
                kind = field.type
                if not _read_natively(kind, str(names[field.name])):
                    kind = (
                        pa.decimal128(38, kind.scale) if pa.types.is_decimal(kind) else pa.string()
                    )
                    self._to_cast.append(field.name)
                fields.append(pa.field(field.name, kind))
            self._reading = pa.schema(fields)
        return self._reading

    def _converted(self, table: pa.Table) -> pa.Table | None:
        """`table` (read with `_reading_schema`) in the declared types, or None when a value
        does not convert (`_slow` reports it)."""
        from headwater.sqltext import identifier as quote_identifier

        pending = self._to_cast
        if not pending:
            return table
        self._session.register_arrow("_hw_stream_read", table.select(pending))
        select = ", ".join(
            f"{_cast_sql(quote_identifier(n), self._columns[n], self.schema.field(n).type)} "
            f"as {quote_identifier(n)}"
            for n in pending
        )
        cast = self._session.query(f"select {select} from _hw_stream_read")
        for name in pending:
            if cast.column(name).null_count != table.column(name).null_count:
                return None
            table = table.set_column(table.schema.get_field_index(name), name, cast.column(name))
        return table.cast(self.schema)

    def _slow(self, payloads: pa.ChunkedArray) -> tuple[pa.Table, list[Rejected]]:
        import pyarrow as pa

        rejected: list[Rejected] = []
        objects: list[dict[str, Any]] = []
        rows: list[int] = []
        for row, raw in enumerate(payloads.to_pylist()):
            problem = _json_problem(raw)
            if isinstance(problem, Rejected):
                rejected.append(Rejected(row, problem.error_class, problem.reason))
                continue
            objects.append(problem)
            rows.append(row)
        columns = {name: [o.get(name) for o in objects] for name in self.schema.names}
        table, mismatches = self._typed(columns)
        if mismatches:
            bad = {i for i, _, _ in mismatches}
            for index, column, value in mismatches:
                kind = self._columns[column]
                rejected.append(
                    Rejected(
                        rows[index],
                        "type_mismatch",
                        f"{column}: {json.dumps(value)[:200]} is not a {kind}",
                        column,
                    )
                )
            table = table.filter(pa.array([i not in bad for i in range(table.num_rows)]))
        rejected.sort(key=lambda r: r.row)
        return table, rejected

    def _typed(self, columns: dict[str, list[Any]]) -> tuple[pa.Table, list[tuple[int, str, Any]]]:
        """Convert JSON values column by column with DuckDB's casts (TRY_CAST: a value that
        does not convert comes back NULL and is reported)."""
        import pyarrow as pa

        from headwater.sqltext import identifier as quote_identifier

        texts = {
            name: pa.array(
                [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in vs],
                pa.string(),
            )
            for name, vs in columns.items()
        }
        raw = pa.table(texts) if texts else pa.table({"_": pa.array([], pa.int8())})
        self._session.register_arrow("_hw_stream_raw", raw)
        select = ", ".join(
            f"{_cast_sql(quote_identifier(name), kind, self.schema.field(name).type)} "
            f"as {quote_identifier(name)}"
            for name, kind in self._columns.items()
        )
        typed = self._session.query(f"select {select} from _hw_stream_raw") if select else raw
        mismatches: list[tuple[int, str, Any]] = []
        for name in self._columns:
            converted = typed.column(name).is_null().to_pylist()
            for index, (value, missing) in enumerate(zip(columns[name], converted, strict=True)):
                if missing and value is not None:
                    mismatches.append((index, name, value))
        table = typed.select(self.schema.names).cast(self.schema) if self._columns else typed
        return table, mismatches


def _lines(values: pa.BinaryArray) -> pa.Buffer:
    """The payloads (none null) as one NDJSON buffer, without a Python object per event."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # each payload followed by a newline: the result's data buffer is the NDJSON text
    lines = pc.binary_join_element_wise(values, pa.scalar(b""), pa.scalar(b"\n"))
    offsets = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, lines.buffers()[1]])
    start, end = offsets[lines.offset].as_py(), offsets[lines.offset + len(lines)].as_py()
    data: pa.Buffer = lines.buffers()[2]
    return data.slice(start, end - start)


def _each_starts_an_object(values: pa.BinaryArray) -> bool:
    """Whether every payload's first byte opens a JSON object."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = pc.binary_slice(values, 0, 1)
    return bool(pc.all(pc.equal(first, pa.scalar(b"{", pa.binary()))).as_py())


def _utf8(body: pa.Buffer) -> bool:
    """Whether `body` is valid UTF-8."""
    import pyarrow as pa

    text = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.array([0, body.size], pa.int64()).buffers()[1], body]
    )
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _read_natively(kind: pa.DataType, duckdb_type: str) -> bool:
    """Whether Arrow's JSON reader reads a value of `kind` (DuckDB's `duckdb_type`) as
    DuckDB casts its JSON text (checked by tests/stream/test_decode.py): not dates or times
    (the reader takes numbers as days or microseconds), nested types, or DuckDB's own types
    held as strings (JSON, which must be checked)."""
    import pyarrow as pa

    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or (pa.types.is_string(kind) and duckdb_type == "VARCHAR")
        or (pa.types.is_timestamp(kind) and kind.unit == "us")
    )


def _cast_sql(column: str, kind: str, arrow_type: pa.DataType) -> str:
    """DuckDB SQL converting the JSON text (or value read by Arrow) `column` to the declared
    type `kind`, NULL when it does not convert. A time with an offset is a moment: it is
    read as such and given in UTC, as Arrow's reader does, not stripped of its offset."""
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is None and arrow_type.unit == "us":
        return f"try_cast(try_cast({column} as TIMESTAMPTZ) as {kind})"
    return f"try_cast({column} as {kind})"


def _json_problem(raw: bytes | None) -> dict[str, Any] | Rejected:
    """The event's JSON object, or why it is not one."""
    if raw is None:
        return Rejected(-1, "missing_payload", "the event has no payload (a tombstone)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(-1, "invalid_utf8", f"the payload is not UTF-8 ({exc.reason})")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(-1, "malformed_json", f"malformed JSON: {exc.msg} at char {exc.pos}")
    if not isinstance(value, dict):
        return Rejected(-1, "not_an_object", "the payload is JSON but not an object")
    return value


def _plain_field(field: pa.Field) -> pa.Field:
    """The field with the plain Arrow types the JSON reader produces (string, not a view)."""
    import pyarrow as pa

    kind = field.type
    if kind in (pa.string_view(), pa.large_string()):
        kind = pa.string()
    elif kind in (pa.binary_view(), pa.large_binary()):
        kind = pa.binary()
    return pa.field(field.name, kind)
