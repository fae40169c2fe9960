"""A result column in PostgreSQL's binary format (what psycopg's binary cursors and JDBC,
after its prepare threshold, ask for), and numeric's binary format both ways.

Fixed-width types become one NumPy record array per column (big-endian integers and floats,
days and microseconds since 2000-01-01); DECIMAL(p,s) up to 18 digits becomes base-10000
digit records without a Python loop; intervals, arrays and wider numerics go value by value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.query.parameters import TypedText
from headwater.serve.pgwire.render import per_value, text_column, text_of
from headwater.serve.pgwire.types import (
    BOOL,
    DATE,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT8,
    INTERVAL,
    NUMERIC,
    PG_EPOCH_DAYS,
    PG_EPOCH_MICROS,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    UUID,
    PgType,
    is_list,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def binary_column(column: pa.Array, pgtype: PgType) -> pa.Array:
    """The binary format of each value of `column` (of type `pgtype`), as a binary array
    with the nulls of `column`; types without a binary encoder here send their text (the
    binary format of text is its UTF-8 bytes)."""
    import numpy as np
    import pyarrow as pa

    t, oid = column.type, pgtype.oid
    types = pa.types
    if oid == BOOL:
        return _fixed(np.asarray(column.cast(pa.uint8()).fill_null(0)).astype("u1"), column)
    if oid in (INT2, INT4, INT8) and types.is_integer(t):
        code = {INT2: ">i2", INT4: ">i4", INT8: ">i8"}[oid]
        return _fixed(column.fill_null(0).to_numpy().astype(code), column)
    if oid in (FLOAT4, FLOAT8) and types.is_floating(t):
        code = ">f4" if oid == FLOAT4 else ">f8"
        return _fixed(column.fill_null(0).to_numpy().astype(code), column)
    if oid == DATE and types.is_date(t):
        days = column.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy()
        return _fixed((days - PG_EPOCH_DAYS).astype(">i4"), column)
    if oid == TIME and types.is_time(t):
        micros = column.cast(pa.time64("us"), safe=False).cast(pa.int64()).fill_null(0)
        return _fixed(micros.to_numpy().astype(">i8"), column)
    if oid in (TIMESTAMP, TIMESTAMPTZ) and types.is_timestamp(t):
        plain = column.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.int64())
        micros = plain.fill_null(0).to_numpy()
        return _fixed((micros - PG_EPOCH_MICROS).astype(">i8"), column)
    if oid == UUID and types.is_fixed_size_binary(t):
        return column.cast(pa.binary())
    if oid == NUMERIC:
        if types.is_decimal128(t) and t.precision + (-t.scale) % 4 <= 18:
            return _numeric(column)
        return per_value(column, lambda v: encode_numeric(decimal.Decimal(v)))
    if oid == INTERVAL:
        return per_value(column, _interval_binary)
    if pgtype.element is not None and is_list(t):
        element = pgtype.element
        return per_value(column, lambda v: _array_binary(v, element))
    if types.is_fixed_size_binary(t):
        return column.cast(pa.binary())
    if types.is_binary(t) or types.is_large_binary(t):
        return column
    # text, json and everything sent as text: the binary format of text is its UTF-8 bytes
    return text_column(column, pgtype)


def _numeric(column: pa.Array) -> pa.Array:
    """DECIMAL(p,s) with p at most 18 (or so) in PostgreSQL's binary numeric format: every
    value with the same count of base-10000 digits, leading zero digits included (valid for
    every reader), so the column is one fixed-width NumPy record array."""
    import numpy as np

    t = column.type
    pad = (-t.scale) % 4
    words = np.frombuffer(column.buffers()[1], dtype="<i8")
    unscaled = words[2 * column.offset : 2 * (column.offset + len(column)) : 2]
    if column.null_count:
        unscaled = np.where(np.asarray(column.is_valid()), unscaled, 0)
    magnitude = np.abs(unscaled).astype(np.uint64) * np.uint64(10**pad)
    groups = max(1, -(-(t.precision + pad) // 4))
    record = np.dtype(
        [("count", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("scale", ">i2")]
        + [(f"d{i}", ">i2") for i in range(groups)]
    )
    out = np.empty(len(column), dtype=record)
    out["count"] = groups
    out["weight"] = groups - (t.scale + pad) // 4 - 1
    out["sign"] = np.where(unscaled < 0, 0x4000, 0)
    out["scale"] = t.scale
    for i in range(groups):
        out[f"d{groups - 1 - i}"] = (magnitude // np.uint64(10000**i)) % np.uint64(10000)
    return _fixed(out, column)


def _fixed(values: np.ndarray, column: pa.Array) -> pa.Array:
    """Fixed-width big-endian `values` as a binary array with the nulls of `column`."""
    import numpy as np
    import pyarrow as pa

    count = len(values)
    width = values.dtype.itemsize
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int64)
    validity = column.buffers()[0] if column.null_count else None
    if validity is not None and column.offset:
        validity = pa.array(np.asarray(column.is_valid())).buffers()[1]
    data = pa.py_buffer(np.ascontiguousarray(values).view(np.uint8))
    return pa.Array.from_buffers(
        pa.large_binary(), count, [validity, pa.py_buffer(offsets), data], column.null_count
    )


def _interval_binary(value: Any) -> bytes:
    if isinstance(value, dt.timedelta):
        micros = value.seconds * 1_000_000 + value.microseconds
        return struct.pack("!qii", micros, value.days, 0)
    return struct.pack("!qii", value.nanoseconds // 1000, value.days, value.months)


_ELEMENT_BINARY: dict[int, Callable[[Any], bytes]] = {
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: lambda v: struct.pack("!h", v),
    INT4: lambda v: struct.pack("!i", v),
    INT8: lambda v: struct.pack("!q", v),
    FLOAT4: lambda v: struct.pack("!f", v),
    FLOAT8: lambda v: struct.pack("!d", v),
    NUMERIC: lambda v: encode_numeric(decimal.Decimal(v)),
    DATE: lambda v: struct.pack("!i", (v - dt.date(2000, 1, 1)).days),
}


def _array_binary(items: list[Any], element: int) -> bytes:
    """A one-dimensional array in PostgreSQL's binary array format (nested lists and element
    types without a binary encoder here are sent as text arrays)."""
    encode = _ELEMENT_BINARY.get(element)
    if encode is None or any(isinstance(i, list) for i in items):
        element = 25
        encode = lambda v: text_of(v).encode()  # noqa: E731
    body = []
    for item in items:
        if item is None:
            body.append(struct.pack("!i", -1))
        else:
            data = encode(item)
            body.append(struct.pack("!i", len(data)) + data)
    has_null = any(i is None for i in items)
    head = struct.pack("!iiiii", 1, int(has_null), element, len(items), 1)
    if not items:
        head = struct.pack("!iii", 0, 0, element)
    return head + b"".join(body)


def decode_numeric(data: bytes) -> decimal.Decimal | TypedText:
    """A numeric in PostgreSQL's binary format (base-10000 digits) as a Decimal."""
    count, weight, sign, scale = struct.unpack("!hhHh", data[:8])
    if sign == 0xC000:
        return TypedText("NaN", "DOUBLE")
    if sign in (0xD000, 0xF000):
        return TypedText("-Infinity" if sign == 0xF000 else "Infinity", "DOUBLE")
    digits = struct.unpack(f"!{count}h", data[8 : 8 + 2 * count])
    value = 0
    for digit in digits:
        value = value * 10000 + digit
    exponent = (weight - count + 1) * 4
    number = decimal.Decimal(value).scaleb(exponent)
    if sign == 0x4000:
        number = -number
    return number.quantize(decimal.Decimal(1).scaleb(-scale)) if scale >= 0 else number


def encode_numeric(value: decimal.Decimal) -> bytes:
    """`value` in PostgreSQL's binary numeric format (base-10000 digits), its scale kept."""
    if not value.is_finite():
        return struct.pack("!hhHh", 0, 0, 0xC000 if value.is_nan() else 0xD000, 0)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    text = "".join(map(str, digits))
    # pad so that the decimal point falls on a base-10000 digit boundary
    integer_len = len(text) + exponent
    if exponent > 0:
        text += "0" * exponent
    front = (-integer_len) % 4 if integer_len > 0 else 0
    back = (-(len(text) - integer_len)) % 4 if len(text) > integer_len else 0
    if integer_len <= 0:
        text = "0" * (-integer_len) + text
        integer_len = 0
        back = (-len(text)) % 4
    text = "0" * front + text + "0" * back
    groups = [int(text[i : i + 4]) for i in range(0, len(text), 4)]
    weight = (integer_len + front) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    head = struct.pack("!hhHh", len(groups), weight, 0x4000 if sign else 0, scale)
    return head + struct.pack(f"!{len(groups)}h", *groups)
