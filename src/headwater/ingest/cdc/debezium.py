"""Debezium change events, as Kafka Connect's JsonConverter writes them, decoded into changes.

An event is `{"schema": ..., "payload": ...}` (schemas enabled) or the payload alone: `op`
(c create, u update, d delete, r read by a snapshot, t truncate, m a logical message),
`before` and `after` row images, and `source` naming the table and the position of the
change in the database's log. A null value is a tombstone (Kafka's log compaction marker,
sent after a delete) and carries no change.

With a schema, each field's value is decoded by its Connect type and semantic name (decimals
from base64 unscaled bytes, dates from days, timestamps from ms/µs/ns, ...) into the Python
value of its mirror type (`pyarrow` types, as Delta stores them; times of day as text, which
Delta has no type for). Without one, values stay as JSON gave them and are typed by the
table's declared columns or inferred (`infer_type`), then converted by `converter`. A value
Debezium could not read (PostgreSQL's unchanged TOASTed value) comes as `UNCHANGED`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.ingest.cdc.changes import (
    DELETE_OP,
    INSERT_OP,
    READ_OP,
    TRUNCATE_OP,
    UNCHANGED,
    UPDATE_OP,
)

if TYPE_CHECKING:
    import pyarrow as pa

MESSAGE_OP = "m"
"""A logical decoding message (`pg_logical_emit_message`): no row changes."""
OPS = frozenset({INSERT_OP, UPDATE_OP, DELETE_OP, READ_OP, TRUNCATE_OP, MESSAGE_OP})
PLACEHOLDER = "__debezium_unavailable_value"
"""What Debezium sends for a value it could not read (PostgreSQL's unchanged TOAST)."""
_PLACEHOLDER_B64 = base64.b64encode(PLACEHOLDER.encode()).decode()
_PLACEHOLDERS = (PLACEHOLDER, _PLACEHOLDER_B64, [PLACEHOLDER], [_PLACEHOLDER_B64])
_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_DATE = dt.date(1970, 1, 1)
_POSITION_KEYS = ("lsn", "commit_lsn", "scn", "commit_scn", "pos")
"""Where connectors put the change's place in the database's log (PostgreSQL's LSN,
Oracle's SCN, MySQL's binlog position), tried in this order."""

Decode = Callable[[Any], Any]


class BadEvent(ValueError):
    """An event that cannot be applied: why, its kind (as a stream's quarantine names them:
    `invalid_utf8`, `malformed_json`, `not_an_object`, `not_a_change_event`, `bad_value`)
    and the column at fault, if one."""

    def __init__(
        self, reason: str, error_class: str = "not_a_change_event", column: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_class = error_class
        self.column = column
        self.origin: tuple[str | None, str | None, str | None] | None = None
        """(schema, database, table) of the event, when its `source` block could be read."""


@dataclass
class DebeziumEvent:
    """One decoded change event."""

    op: str
    """c, u, d, r, t or m."""
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    types: dict[str, pa.DataType] | None
    """Each field's mirror type from the envelope's schema (None: the event has none, so
    the values are as JSON gave them)."""
    schema: str | None
    """The table's schema in the database (`source.schema`)."""
    database: str | None
    table: str | None
    position: int | None
    """The change's position in the database's log (LSN, SCN, binlog position), if told."""
    ts_us: int | None
    """When the change was made in the database, µs since the epoch."""
    transaction: str | None


def is_unavailable(value: Any) -> bool:
    """True when `value` is Debezium's placeholder for a value it did not read."""
    return isinstance(value, str | list) and value in _PLACEHOLDERS


def decode_event(raw: bytes | str | None) -> DebeziumEvent | None:
    """Decode one event's JSON; None for a tombstone (a null value).

    Raises:
        BadEvent: not JSON, no payload or `op`, an unknown `op`, images missing, or a value
            that does not decode by its schema.
    """
    if raw is None:
        return None
    try:
        value = json.loads(raw, parse_float=decimal.Decimal)
    except UnicodeDecodeError as exc:
        raise BadEvent(f"the event is not UTF-8 ({exc.reason})", "invalid_utf8") from None
    except json.JSONDecodeError as exc:
        raise BadEvent(f"malformed JSON: {exc.msg} at char {exc.pos}", "malformed_json") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadEvent(
            f"a change event is a JSON object, not {type(value).__name__}", "not_an_object"
        )
    schema: dict[str, Any] | None = None
    if "payload" in value and "op" not in value:
        payload = value["payload"]
        if payload is None:
            return None
        found = value.get("schema")
        schema = found if isinstance(found, dict) else None
    else:
        payload = value
    if not isinstance(payload, dict):
        raise BadEvent("the event's payload is not a JSON object")
    op = payload.get("op")
    if not isinstance(op, str):
        raise BadEvent("the event has no 'op' (is it a Debezium change event?)")
    if op not in OPS:
        raise BadEvent(f"unknown op {op!r} (expected one of c, u, d, r, t, m)")
    source = payload.get("source")
    info: dict[str, Any] = source if isinstance(source, dict) else {}
    origin = (_text(info.get("schema")), _text(info.get("db")), _table_name(info))
    try:
        before, after, types = _images(payload, schema)
    except BadEvent as bad:
        bad.origin = origin
        raise
    if op in (INSERT_OP, READ_OP, UPDATE_OP) and after is None:
        missing = BadEvent(f"a change with op {op!r} needs an 'after' image")
        missing.origin = origin
        raise missing
    return DebeziumEvent(
        op=op,
        before=before,
        after=after,
        types=types,
        schema=origin[0],
        database=origin[1],
        table=origin[2],
        position=_position(info),
        ts_us=_timestamp_us(info) or _timestamp_us(payload),
        transaction=_transaction(payload, info),
    )


def _images(
    payload: dict[str, Any], schema: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, pa.DataType] | None]:
    """The `before` and `after` images, decoded by the envelope's schema when there is one,
    and the mirror types the schema gives their fields."""
    decoders = _envelope_decoders(schema) if schema is not None else {}
    images: dict[str, dict[str, Any] | None] = {}
    types: dict[str, pa.DataType] | None = None
    for side in ("before", "after"):
        image = payload.get(side)
        fields = decoders.get(side)
        if image is not None and not isinstance(image, dict):
            raise BadEvent(f"'{side}' is not a JSON object")
        if image is None:
            images[side] = None
        elif fields is not None:
            images[side] = _decode_image(image, fields)
            types = {name: kind for name, (kind, _) in fields.items()}
        else:
            images[side] = {k: UNCHANGED if is_unavailable(v) else v for k, v in image.items()}
    return images["before"], images["after"], types


def key_fields(raw: bytes | str | None) -> dict[str, Any] | None:
    """The fields of a Kafka message key (`{"schema", "payload"}` or bare), decoded by its
    schema when it has one; None when there is no usable key."""
    if raw is None:
        return None
    try:
        value = json.loads(raw, parse_float=decimal.Decimal)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(value, dict) and "payload" in value and "schema" in value:
        schema, value = value["schema"], value["payload"]
        if isinstance(schema, dict) and isinstance(value, dict):
            try:
                return _decode_image(value, _struct_decoders(schema))
            except BadEvent:
                return None
    return value if isinstance(value, dict) else None


# -- the envelope's schema -------------------------------------------------------------------


def _envelope_decoders(
    schema: dict[str, Any],
) -> dict[str, dict[str, tuple[pa.DataType, Decode]] | None]:
    """The decoders of the `before` and `after` fields of an envelope schema."""
    found: dict[str, dict[str, tuple[pa.DataType, Decode]] | None] = {}
    for field in schema.get("fields") or []:
        if isinstance(field, dict) and field.get("field") in ("before", "after"):
            found[field["field"]] = _struct_decoders(field)
    return found


def _struct_decoders(schema: dict[str, Any]) -> dict[str, tuple[pa.DataType, Decode]]:
    decoders = {}
    for field in schema.get("fields") or []:
        if not isinstance(field, dict) or not isinstance(field.get("field"), str):
            raise BadEvent("the event's schema has a field without a name")
        decoders[field["field"]] = field_decoder(field)
    return decoders


def _decode_image(
    image: dict[str, Any], fields: dict[str, tuple[pa.DataType, Decode]]
) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for name, value in image.items():
        entry = fields.get(name)
        if value is None:
            decoded[name] = None
        elif is_unavailable(value):
            decoded[name] = UNCHANGED
        elif entry is None:
            decoded[name] = value
        else:
            try:
                decoded[name] = entry[1](value)
            except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
                raise BadEvent(
                    f"field {name}: {str(value)[:80]!r} does not decode as its schema says ({exc})",
                    "bad_value",
                    name,
                ) from None
    return decoded


def field_decoder(schema: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    """The mirror type of a Connect field schema, and the function decoding its JSON value
    into a Python value of that type.

    Raises:
        BadEvent: the schema is not a Connect schema.
    """
    import pyarrow as pa

    kind = schema.get("type")
    name = schema.get("name") or ""
    parameters = schema.get("parameters") or {}
    semantic = _SEMANTIC.get(name)
    if semantic is not None:
        return semantic(parameters)
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            raise BadEvent("an array field's schema has no 'items'")
        item_type, decode_item = field_decoder(items)
        return pa.list_(item_type), lambda v: [
            None if x is None else decode_item(x) for x in _list(v)
        ]
    if kind in ("struct", "map"):
        return pa.string(), _json_text
    plain = _PLAIN.get(str(kind))
    if plain is None:
        raise BadEvent(f"unknown Connect type {kind!r} in the event's schema")
    factory, decode = plain
    return getattr(pa, factory)(), decode


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("not base64 text")
    return base64.b64decode(value, validate=True)


def _unscaled(value: Any, scale: int) -> decimal.Decimal:
    """A Connect decimal: base64 big-endian two's complement unscaled bytes (or, with
    `decimal.format: NUMERIC`, a plain number)."""
    if isinstance(value, int | decimal.Decimal) and not isinstance(value, bool):
        return decimal.Decimal(value)
    unscaled = int.from_bytes(_bytes(value), "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-scale)


def _decimal(parameters: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    scale = int(parameters.get("scale", 0))
    precision = int(parameters.get("connect.decimal.precision", 38))
    if precision > 38 or scale > precision:
        # as a PostgreSQL mirror keeps numeric(p > 38): Delta decimals stop at 38 digits
        return pa.float64(), lambda v: float(_unscaled(v, scale))
    quantum = decimal.Decimal(1).scaleb(-scale)
    return pa.decimal128(max(precision, 1), scale), lambda v: _unscaled(v, scale).quantize(quantum)


def _variable_decimal(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    def decode(value: Any) -> float:
        if not isinstance(value, dict):
            return float(decimal.Decimal(value))
        return float(_unscaled(value["value"], int(value["scale"])))

    # as a PostgreSQL mirror keeps numeric without precision
    return pa.float64(), decode


def _days(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    return pa.date32(), lambda v: _EPOCH_DATE + dt.timedelta(days=_int(v))


def _since_epoch(micros: Callable[[int], int]) -> Callable[[dict[str, Any]], tuple[Any, Decode]]:
    def make(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
        import pyarrow as pa

        return pa.timestamp("us"), lambda v: _EPOCH + dt.timedelta(microseconds=micros(_int(v)))

    return make


def _time_of_day(per_second: int) -> Callable[[dict[str, Any]], tuple[pa.DataType, Decode]]:
    def make(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
        import pyarrow as pa

        return pa.string(), lambda v: time_text(_int(v) * 1_000_000 // per_second)

    return make


def time_text(micros: int) -> str:
    """`HH:MM:SS[.ffffff]` for a time of day in µs past midnight (24:00:00 included)."""
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO 8601 timestamp (`Z` or an offset for an instant, none for a local time).

    Raises:
        ValueError: `text` is not one.
    """
    return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))


def _zoned(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    def decode(value: Any) -> dt.datetime:
        moment = parse_timestamp(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC)

    return pa.timestamp("us", tz="UTC"), decode


def _iso_timestamp(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    def decode(value: Any) -> dt.datetime:
        moment = parse_timestamp(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment

    return pa.timestamp("us"), decode


def _iso_date(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    return pa.date32(), lambda v: dt.date.fromisoformat(str(v)[:10])


def _text_type(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    return pa.string(), lambda v: v if isinstance(v, str) else _json_text(v)


def _bytes_type(_: dict[str, Any]) -> tuple[pa.DataType, Decode]:
    import pyarrow as pa

    return pa.binary(), _bytes


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("not a number")
    return float(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


def _string(value: Any) -> str:
    return value if isinstance(value, str) else _json_text(value)


_PLAIN: dict[str, tuple[str, Decode]] = {
    "int8": ("int8", _int),
    "int16": ("int16", _int),
    "int32": ("int32", _int),
    "int64": ("int64", _int),
    "float32": ("float32", _float),
    "float64": ("float64", _float),
    "boolean": ("bool_", _boolean),
    "string": ("string", _string),
    "bytes": ("binary", _bytes),
}
"""Connect's plain types: the pyarrow type (by its factory's name) and the decoder."""
_SEMANTIC: dict[str, Callable[[dict[str, Any]], tuple[Any, Decode]]] = {
    "org.apache.kafka.connect.data.Decimal": _decimal,
    "io.debezium.data.VariableScaleDecimal": _variable_decimal,
    "org.apache.kafka.connect.data.Date": _days,
    "io.debezium.time.Date": _days,
    "org.apache.kafka.connect.data.Timestamp": _since_epoch(lambda ms: ms * 1000),
    "io.debezium.time.Timestamp": _since_epoch(lambda ms: ms * 1000),
    "io.debezium.time.MicroTimestamp": _since_epoch(lambda us: us),
    "io.debezium.time.NanoTimestamp": _since_epoch(lambda ns: ns // 1000),
    "io.debezium.time.ZonedTimestamp": _zoned,
    "io.debezium.time.IsoTimestamp": _iso_timestamp,
    "io.debezium.time.IsoDate": _iso_date,
    "org.apache.kafka.connect.data.Time": _time_of_day(1000),
    "io.debezium.time.Time": _time_of_day(1000),
    "io.debezium.time.MicroTime": _time_of_day(1_000_000),
    "io.debezium.time.NanoTime": _time_of_day(1_000_000_000),
    "io.debezium.time.ZonedTime": _text_type,
    "io.debezium.time.IsoTime": _text_type,
    "io.debezium.time.Interval": _text_type,
    "io.debezium.data.Json": _text_type,
    "io.debezium.data.Uuid": _text_type,
    "io.debezium.data.Xml": _text_type,
    "io.debezium.data.Enum": _text_type,
    "io.debezium.data.EnumSet": _text_type,
    "io.debezium.data.Ltree": _text_type,
    "io.debezium.data.Bits": _bytes_type,
}
"""Connect's and Debezium's semantic types by schema name."""


# -- the source block ------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _table_name(source: dict[str, Any]) -> str | None:
    return _text(source.get("table")) or _text(source.get("collection"))


def _position(source: dict[str, Any]) -> int | None:
    for key in _POSITION_KEYS:
        value = source.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _timestamp_us(block: dict[str, Any]) -> int | None:
    for key, factor in (("ts_us", 1), ("ts_ns", None), ("ts_ms", 1000)):
        value = block.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value * factor if factor is not None else value // 1000
    return None


def _transaction(payload: dict[str, Any], source: dict[str, Any]) -> str | None:
    block = payload.get("transaction")
    if isinstance(block, dict) and block.get("id") is not None:
        return str(block["id"])
    for key in ("txId", "gtid", "xid"):
        if source.get(key) is not None:
            return str(source[key])
    return None


# -- typing values without a schema ----------------------------------------------------------


def infer_type(value: Any) -> pa.DataType | None:
    """The mirror type of a JSON value seen without a schema (None: a null tells nothing):
    booleans, BIGINT, DOUBLE, text, and JSON text for objects and lists."""
    import pyarrow as pa

    if value is None or value is UNCHANGED:
        return None
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float | decimal.Decimal):
        return pa.float64()
    return pa.string()


def converter(kind: pa.DataType) -> Decode:
    """A function converting a decoded value (by schema or as JSON gave it) into the Python
    value of the mirror type `kind`; it raises ValueError (or TypeError) for a value that is
    not one. Integers given for a DATE are days since the epoch, and for a TIMESTAMP ms, µs
    or ns since the epoch by their size (µs and ns need instants after March 1973)."""
    import pyarrow as pa

    types = pa.types
    if types.is_boolean(kind):
        return _to_bool
    if types.is_integer(kind):
        low, high = _integer_range(kind)
        return lambda v: _to_int(v, low, high)
    if types.is_floating(kind):
        return _to_float
    if types.is_decimal(kind):
        return _to_decimal(kind.precision, kind.scale)
    if types.is_string(kind) or types.is_large_string(kind):
        return _to_text
    if types.is_binary(kind) or types.is_large_binary(kind):
        return _to_bytes
    if types.is_date(kind):
        return _to_date
    if types.is_timestamp(kind):
        return _to_instant if kind.tz else _to_local
    if types.is_list(kind) or types.is_large_list(kind):
        item = converter(kind.value_type)
        return lambda v: [None if x is None else item(x) for x in _to_list(v)]
    return lambda v: v


def _integer_range(kind: pa.DataType) -> tuple[int, int]:
    import pyarrow as pa

    bits = kind.bit_width
    if pa.types.is_unsigned_integer(kind):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "t", "1", "false", "f", "0"):
        return value.strip().lower() in ("true", "t", "1")
    raise ValueError("not a boolean")


def _to_int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, float | decimal.Decimal):
        if not _whole(value):
            raise ValueError("not a whole number")
        value = int(value)
    elif isinstance(value, str):
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("not an integer")
    if not low <= value <= high:
        raise ValueError(f"out of range ({low} .. {high})")
    return value


def _whole(value: float | decimal.Decimal) -> bool:
    try:
        return bool(value == int(value))
    except (ValueError, OverflowError, decimal.InvalidOperation):
        return False


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal | str):
        raise ValueError("not a number")
    return float(value)


def _to_decimal(precision: int, scale: int) -> Decode:
    quantum = decimal.Decimal(1).scaleb(-scale)

    def convert(value: Any) -> decimal.Decimal:
        if isinstance(value, bool):
            raise ValueError("not a number")
        if isinstance(value, str):
            try:
                number = decimal.Decimal(value.strip())
            except decimal.InvalidOperation:
                number = _unscaled(value, scale)  # Debezium's default: base64 unscaled bytes
        elif isinstance(value, bytes):
            number = decimal.Decimal(int.from_bytes(value, "big", signed=True)).scaleb(-scale)
        elif isinstance(value, int | float | decimal.Decimal):
            number = decimal.Decimal(value)
        else:
            raise ValueError("not a number")
        if not number.is_finite():
            raise ValueError("not a finite number")
        rounded = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
        if rounded.adjusted() >= precision - scale:
            raise ValueError(f"more than {precision - scale} digits before the point")
        return rounded

    return convert


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    return _json_text(value)


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("not base64 text") from None
    raise ValueError("not bytes")


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH_DATE + dt.timedelta(days=value)
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    raise ValueError("not a date")


def _epoch_micros(value: int) -> int:
    size = abs(value)
    if size >= 10**17:
        return value // 1000
    if size >= 10**14:
        return value
    return value * 1000


def _to_local(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH + dt.timedelta(microseconds=_epoch_micros(value))
    if isinstance(value, str):
        return _to_local(parse_timestamp(value))
    raise ValueError("not a timestamp")


def _to_instant(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    if isinstance(value, str):
        moment = parse_timestamp(value)
        return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return _to_local(value).replace(tzinfo=dt.UTC)


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        value = json.loads(value, parse_float=decimal.Decimal)
    if not isinstance(value, list):
        raise ValueError("not a list")
    return value
