"""The encodings of a result over HTTP: JSON, CSV, Arrow IPC and Parquet.

A request picks one with `?format=json|csv|arrow|parquet` or its `Accept` header. JSON keeps
every value exact: a DECIMAL is a string ("21168.23", never a float that drops digits), dates and
timestamps are ISO 8601 strings (a timestamp with a time zone in UTC, ending in `Z`), NaN and the
infinities are the strings "nan", "inf" and "-inf" (JSON has no such numbers), binary values are
base64, lists and structs are JSON arrays and objects. The conversions run column by column in
Arrow, so a page of a thousand rows costs no Python per cell.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Format:
    """One encoding of a result."""

    name: str
    """What `?format=` says."""
    media_type: str
    extension: str


JSON = Format("json", "application/json", "json")
CSV = Format("csv", "text/csv", "csv")
ARROW = Format("arrow", "application/vnd.apache.arrow.stream", "arrows")
PARQUET = Format("parquet", "application/vnd.apache.parquet", "parquet")
FORMATS = {f.name: f for f in (JSON, CSV, ARROW, PARQUET)}
"""The encodings by their `?format=` name."""
MEDIA_TYPES = {
    **{f.media_type: f for f in FORMATS.values()},
    "application/x-parquet": PARQUET,
    "text/*": CSV,
    "application/*": JSON,
    "*/*": JSON,
}
"""What an `Accept` header may name, and the encoding each gets."""

TRUNCATED_HEADER = "X-Headwater-Truncated"
"""Set to `true` on a result that was cut at the row limit (the JSON body says it too)."""


class NotAcceptable(UsageError):
    """The `Accept` header names no encoding the server offers (HTTP 406)."""


def choose_format(requested: str | None, accept: str | None) -> Format:
    """The encoding a request asks for: `?format=` when given, else the first type of its
    `Accept` header (by quality) the server offers; JSON when it says neither.

    Raises:
        BadParameter: `format` names no encoding.
        NotAcceptable: the `Accept` header names only types the server does not offer.
    """
    if requested is not None:
        found = FORMATS.get(requested.strip().lower())
        if found is None:
            from headwater.serve.rows import BadParameter

            raise BadParameter(
                "format",
                f"{requested!r} is not a result format",
                hint="use format=" + ", ".join(FORMATS),
            )
        return found
    if accept is None or not accept.strip():
        return JSON
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            key, _, value = option.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranked):
        if media in MEDIA_TYPES:
            return MEDIA_TYPES[media]
    raise NotAcceptable(
        f"none of the types the request accepts ({accept}) is a result format",
        hint="accept one of " + ", ".join(f.media_type for f in FORMATS.values()),
    )


def encode(table: pa.Table, form: Format) -> bytes:
    """`table` as CSV (with a header), an Arrow IPC stream or a Parquet file.

    JSON is not here: each route wraps its rows in a body of its own (`json_rows`, `dumps`).
    """
    import pyarrow as pa

    sink = io.BytesIO()
    if form is CSV:
        import pyarrow.csv as pacsv

        pacsv.write_csv(_csv_ready(_intervals_as_text(table)), sink)
    elif form is ARROW:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    elif form is PARQUET:
        import pyarrow.parquet as pq

        pq.write_table(_intervals_as_text(table), sink)
    else:
        raise ValueError(f"encode does not write {form.name}")
    return sink.getvalue()


def dumps(body: dict[str, Any]) -> bytes:
    """`body` (made of JSON values, e.g. from `json_rows`) as compact JSON bytes."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def json_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows of `table` as tuples of JSON values (JSON arrays once encoded; see the module's
    docstring)."""
    columns = [json_column(column) for column in table.columns]
    if not columns:
        return [() for _ in range(table.num_rows)]
    return list(zip(*columns, strict=True))


def json_column(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """The values of one column as JSON can hold them exactly, converted in Arrow where a
    type allows it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    values: list[Any]
    if pa.types.is_null(kind) or pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        values = column.to_pylist()
        return values
    if pa.types.is_floating(kind):
        values = column.to_pylist()
        if pc.all(pc.is_finite(column)).as_py() is False:
            return [_float(v) for v in values]
        return values
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_view(kind, "string"):
        values = column.to_pylist()
    elif pa.types.is_decimal(kind) or pa.types.is_date(kind) or pa.types.is_time(kind):
        values = column.cast(pa.string()).to_pylist()
    elif pa.types.is_timestamp(kind) and kind.tz is None:
        values = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S").to_pylist()
    elif pa.types.is_timestamp(kind):
        utc = column.cast(pa.timestamp(kind.unit, "UTC"))
        values = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ").to_pylist()
    else:
        return [json_value(v) for v in column.to_pylist()]
    return values


def json_value(value: Any) -> Any:
    """One Python value (from Arrow's `to_pylist`) as JSON can hold it exactly; used for
    values inside lists and structs, and for types Arrow does not convert."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _float(value)
    if type(value).__name__ == "MonthDayNano":
        return interval_text(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def interval_text(value: Any) -> str:
    """An Arrow month-day-nanosecond interval as an ISO 8601 duration (`P1M2DT3.5S`), which
    JSON, CSV and Parquet readers can all take (Parquet and Arrow's CSV writer have no such
    type)."""
    months, days, nanos = value.months, value.days, value.nanoseconds
    sign = "-" if nanos < 0 else ""
    seconds, fraction = divmod(abs(nanos), 1_000_000_000)
    clock = f"{seconds}.{fraction:09d}".rstrip("0").rstrip(".")
    return f"P{months}M{days}DT{sign}{clock}S"


def _intervals_as_text(table: pa.Table) -> pa.Table:
    """`table` with its interval columns as ISO 8601 durations."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_interval(field.type):
            text = [
                None if v is None else interval_text(v) for v in table.column(index).to_pylist()
            ]
            table = table.set_column(
                index, pa.field(field.name, pa.string()), pa.array(text, pa.string())
            )
    return table


def _float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return str(value)


def _is_view(kind: pa.DataType, family: str) -> bool:
    import pyarrow as pa

    check = getattr(pa.types, f"is_{family}_view", None)
    return bool(check is not None and check(kind))


def _csv_ready(table: pa.Table) -> pa.Table:
    """`table` with the columns Arrow's CSV writer cannot write turned into text: lists and
    structs as JSON, binary as base64, string views as strings."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if _is_view(kind, "string"):
            replacement = table.column(index).cast(pa.string())
        elif (
            pa.types.is_nested(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
            or pa.types.is_fixed_size_binary(kind)
            or _is_view(kind, "binary")
        ):
            text = [
                None
                if v is None
                else (v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
                for v in (json_value(v) for v in table.column(index).to_pylist())
            ]
            replacement = pa.chunked_array([pa.array(text, pa.string())])
        else:
            continue
        table = table.set_column(index, pa.field(field.name, replacement.type), replacement)
    return table
