"""A result column as the bytes of its values on the wire, in PostgreSQL's text or binary
format, one Arrow column at a time.

The common types (numbers, strings, dates, timestamps, booleans, decimals) are converted with
Arrow compute kernels and NumPy over the whole column, never value by value in Python: a
million-row result is encoded in a handful of vectorised passes. Rare types (intervals, lists,
structs, maps, bytea, numeric in binary) are converted per value.

Text is what PostgreSQL prints: booleans `t`/`f`, timestamps `2024-01-02 03:04:05.123456`
without trailing zeros, timestamptz in UTC with `+00`, decimals with their scale, floats in
the shortest exact form with `Infinity`/`NaN`, lists as arrays `{a,b}`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import math
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.serve.pgwire.types import (
    FLOAT4,
    UUID,
    PgType,
)

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

FRACTION_ZEROS = r"\.0+$|(\.\d*[1-9])0+$"
"""Trailing zeros of fractional seconds, which PostgreSQL does not print."""


def plain(column: pa.Array) -> pa.Array:
    """`column` without dictionary encoding, views or extension wrapping."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column.type, pa.ExtensionType):
        column = column.storage
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string_view(column.type):
        column = column.cast(pa.string())
    if pa.types.is_binary_view(column.type):
        column = column.cast(pa.binary())
    return column


def text_column(column: pa.Array, pgtype: PgType) -> pa.Array:
    """The text of each value of `column` (of type `pgtype`) as PostgreSQL prints it, as a
    string or binary array with the nulls of `column`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    types = pa.types
    if types.is_boolean(t):
        return pc.if_else(column, pa.scalar(b"t"), pa.scalar(b"f"))
    if types.is_integer(t) or types.is_date32(t):
        return column.cast(pa.string())
    if types.is_decimal(t):
        return _decimals(column)
    if types.is_string(t) or types.is_large_string(t):
        return column
    if types.is_floating(t):
        return _floats(column, single=pgtype.oid == FLOAT4)
    if types.is_timestamp(t) or types.is_time(t) or types.is_date64(t):
        return _moments(column)
    if pgtype.oid == UUID and types.is_fixed_size_binary(t):
        return per_value(column, lambda v: str(uuid.UUID(bytes=v)))
    return per_value(column, lambda v: text_of(v, top=True))


def _moments(column: pa.Array) -> pa.Array:
    """Timestamps, times and date64 as PostgreSQL prints them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_date64(t):
        return column.cast(pa.date32()).cast(pa.string())
    tz = pa.types.is_timestamp(t) and t.tz is not None
    if pa.types.is_timestamp(t):
        if t.unit == "ns" or tz:
            column = column.cast(pa.timestamp("us" if t.unit == "ns" else t.unit), safe=False)
    elif t.unit == "ns":
        column = column.cast(pa.time64("us"), safe=False)
    text = column.cast(pa.string())
    if column.type.unit != "s":
        text = pc.replace_substring_regex(text, FRACTION_ZEROS, r"\1")
    if tz:
        text = pc.binary_join_element_wise(text, pa.scalar("+00"), "")
    return text


def _decimals(column: pa.Array) -> pa.Array:
    """Decimals with all the digits of their scale (Arrow writes small ones and zeros of a
    large scale in exponent form, `0E-10`, which are redone in Python)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    text = column.cast(pa.string())
    odd = np.asarray(pc.fill_null(pc.match_substring(text, "E"), False))
    if not odd.any():
        return text
    return _replace(text, column, odd, lambda v: format(v, "f"))


def _replace(
    text: pa.Array, column: pa.Array, where: np.ndarray, convert: Callable[[Any], str]
) -> pa.Array:
    """`text` with the values at the rows `where` (a mask) made by `convert` from the
    Python values of `column`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(where)
    fixed = [convert(v) for v in column.take(pa.array(rows)).to_pylist()]
    positions = np.full(len(column), -1, dtype=np.int64)
    positions[rows] = np.arange(len(rows))
    replaced = pa.array(fixed, pa.string()).take(pa.array(positions, mask=positions < 0))
    return pc.if_else(pa.array(where), replaced, text)


def _floats(column: pa.Array, single: bool) -> pa.Array:
    """Floats in PostgreSQL's shortest exact form: Arrow's for ordinary magnitudes, Python's
    (by PostgreSQL's rules) for the few values Arrow writes differently."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    text = column.cast(pa.string())
    values = np.abs(column.to_numpy(zero_copy_only=False))
    with np.errstate(invalid="ignore"):
        high = 1e6 if single else 1e15
        odd = ~((values >= 1e-4) & (values < high)) & (values != 0)
        odd |= np.asarray(pc.fill_null(pc.match_substring(text, "e"), False))
    odd &= np.asarray(column.is_valid())
    if not odd.any():
        return text
    return _replace(text, column, odd, lambda v: float_text(float(v), single))


def float_text(value: float, single: bool = False) -> str:
    """A float as PostgreSQL 12+ prints it: the shortest exact digits, in exponent form when
    the exponent is below -4 or at least 15 (6 for real)."""
    import numpy as np

    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    number = np.float32(value) if single else np.float64(value)
    scientific = np.format_float_scientific(number, unique=True, trim="-")
    if _on_boundary(number, scientific):
        scientific = _inside(number)
    mantissa, exponent = scientific.split("e")
    power = int(exponent)
    if power < -4 or power >= (6 if single else 15):
        return f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    digits = mantissa.replace(".", "").replace("-", "")
    sign = "-" if mantissa.startswith("-") else ""
    if power < 0:
        return f"{sign}0.{'0' * (-power - 1)}{digits}"
    whole, fraction = digits[: power + 1].ljust(power + 1, "0"), digits[power + 1 :]
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _bounds(number: Any) -> tuple[fractions.Fraction, fractions.Fraction]:
    """The interval of reals that read back as `number` (a NumPy float), ends excluded."""
    import numpy as np

    exact = fractions.Fraction(float(number))
    with np.errstate(over="ignore"):
        down = float(np.nextafter(number, type(number)(-np.inf)))
        up = float(np.nextafter(number, type(number)(np.inf)))
    # past the largest float, the step is taken as wide as the one on the other side
    below = 2 * exact - fractions.Fraction(up) if math.isinf(down) else fractions.Fraction(down)
    above = 2 * exact - below if math.isinf(up) else fractions.Fraction(up)
    return (below + exact) / 2, (above + exact) / 2


def _on_boundary(number: Any, scientific: str) -> bool:
    """Whether the shortest digits lie exactly on a rounding boundary: they read back as
    `number` only by round-half-even, which PostgreSQL's Ryu does not count on, so it
    prints more digits."""
    low, high = _bounds(number)
    candidate = fractions.Fraction(decimal.Decimal(scientific))
    return candidate in (low, high)


def _inside(number: Any) -> str:
    """The shortest digits strictly inside the interval that reads back as `number`."""
    low, high = _bounds(number)
    for count in range(1, 18):
        text = format(float(number), f".{count - 1}e")
        if low < fractions.Fraction(decimal.Decimal(text)) < high:
            mantissa, exponent = text.split("e")
            if "." in mantissa:
                mantissa = mantissa.rstrip("0").rstrip(".")
            return f"{mantissa}e{int(exponent)}"
    return format(float(number), ".16e")


def per_value(column: pa.Array, convert: Callable[[Any], str | bytes]) -> pa.Array:
    import pyarrow as pa

    values = [None if v is None else convert(v) for v in column.to_pylist()]
    out = [v.encode() if isinstance(v, str) else v for v in values]
    return pa.array(out, pa.large_binary())


def text_of(value: Any, top: bool = False) -> str:
    """One Python value (as pyarrow gives it) as PostgreSQL prints it; `top` for a column's
    own value (a list there is an array literal; inside a struct it is DuckDB's form)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            utc = value.astimezone(dt.UTC).replace(tzinfo=None)
            return _trim(utc.isoformat(sep=" ")) + "+00"
        return _trim(value.isoformat(sep=" "))
    if isinstance(value, dt.time):
        return _trim(value.isoformat())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return interval_text(0, value.days, value.seconds * 1_000_000 + value.microseconds)
    if type(value).__name__ == "MonthDayNano":
        return interval_text(value.months, value.days, value.nanoseconds // 1000)
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return "{" + ", ".join(f"{text_of(k)}={text_of(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        if top:
            return array_text(value)
        return "[" + ", ".join("NULL" if v is None else text_of(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"'{k}': {'NULL' if v is None else text_of(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return str(value)


def _trim(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def array_text(items: list[Any]) -> str:
    """A list as a PostgreSQL array literal: `{1,2}`, `{"a b",NULL}`, `{{1,2},{3,4}}`."""
    parts = []
    for item in items:
        if item is None:
            parts.append("NULL")
        elif isinstance(item, list) and not (item and isinstance(item[0], tuple)):
            parts.append(array_text(item))
        else:
            parts.append(_array_item(text_of(item)))
    return "{" + ",".join(parts) + "}"


def _array_item(text: str) -> str:
    if text == "" or text.upper() == "NULL" or any(c in text for c in '{}",\\ \t\n\r\v\f'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def interval_text(months: int, days: int, micros: int) -> str:
    """An interval as PostgreSQL prints it (IntervalStyle postgres, as its EncodeInterval
    does): `1 year 2 mons 3 days 04:05:06.5`, `-1 mons +1 day`."""
    parts: list[str] = []
    before = False  # the previous field was negative: a positive one after it gets a +

    def add(value: int, unit: str) -> None:
        nonlocal before
        if value:
            sign = "+" if before and value > 0 else ""
            parts.append(f"{sign}{value} {unit}{'s' if value != 1 else ''}")
            before = value < 0

    years = int(months / 12)  # C division: truncated toward zero, the sign kept
    add(years, "year")
    add(months - years * 12, "mon")
    add(days, "day")
    if micros or not parts:
        minus = micros < 0
        seconds, fraction = divmod(abs(micros), 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        sign = "-" if minus else "+" if before else ""
        clock = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
        if fraction:
            clock += f".{fraction:06d}".rstrip("0")
        parts.append(clock)
    return " ".join(parts)
