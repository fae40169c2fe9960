"""Parameters of a Bind message as the values a query binds: text or binary bytes of a
declared type OID become Python values or `TypedText` casts (never text spliced into SQL)."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import struct
import uuid

from headwater.errors import UsageError
from headwater.query.parameters import Parameter, TypedText
from headwater.serve.pgwire.binary import decode_numeric
from headwater.serve.pgwire.types import (
    BOOL,
    BPCHAR,
    BYTEA,
    CHAR,
    DATE,
    DUCKDB_TYPE_OF,
    ELEMENT_OF,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT8,
    INTERVAL,
    JSON,
    JSONB,
    NAME,
    NUMERIC,
    OID,
    PG_EPOCH,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    UNKNOWN,
    UUID,
    VARCHAR,
)


class BadParameter(UsageError):
    """A parameter's bytes are not a value of its declared type."""


def parameter(oid: int, data: bytes | None, binary: bool) -> Parameter:
    """The value of one Bind parameter of type `oid` as the query binds it.

    A parameter of a declared type is bound as a value of that type (`TypedText` casts for
    integers, floats, dates, timestamps...; a Decimal keeps its scale), as PostgreSQL types
    it, so that a statement's columns have the types its description said; text of an
    unknown or text type stays a plain string, which DuckDB casts where the query compares
    it.

    Raises:
        BadParameter: the bytes are not a value of the type (SQLSTATE 22P02 / 08P01).
    """
    if data is None:
        return None
    try:
        return _binary(oid, data) if binary else _text(oid, data.decode("utf-8"))
    except (ValueError, decimal.InvalidOperation, struct.error, UnicodeDecodeError):
        kind = "binary" if binary else "text"
        raise BadParameter(
            f"a parameter is not a valid value of type OID {oid} ({kind} format)",
            hint="send the value in the format and type the statement declares",
        ) from None


_DATE_WITH_ZONE = re.compile(r"(\d{4,}-\d{2}-\d{2}) ([+-]\d{2}(?::\d{2}){0,2})")
_TRUE = {"t", "true", "y", "yes", "on", "1"}
_FALSE = {"f", "false", "n", "no", "off", "0"}


def _text(oid: int, text: str) -> Parameter:
    if oid == BOOL:
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError(text)
    if oid in (INT2, INT4, INT8, OID):
        return _typed(oid, int(text.strip()))
    if oid in (FLOAT4, FLOAT8):
        return _typed(oid, float(text.strip()))
    if oid == NUMERIC:
        number = decimal.Decimal(text.strip())
        return TypedText(text.strip(), "DOUBLE") if not number.is_finite() else number
    if oid == BYTEA:
        return _bytea_text(text)
    if oid in ELEMENT_OF:
        element = DUCKDB_TYPE_OF.get(ELEMENT_OF[oid], "VARCHAR")
        if element == "DECIMAL":
            element = "DOUBLE"
        return TypedText(_array_as_list(text), element + "[]")
    duckdb_type = DUCKDB_TYPE_OF.get(oid)
    if duckdb_type is not None:
        return TypedText(text, duckdb_type)
    if oid in (0, UNKNOWN):
        found = _DATE_WITH_ZONE.fullmatch(text)
        if found:
            # JDBC's setDate (`2000-01-01 +00`, type unspecified): PostgreSQL reads it as a
            # date or as midnight in that zone, by context; DuckDB reads this form both ways
            return f"{found.group(1)} 00:00:00{found.group(2)}"
    return text


def _typed(oid: int, number: float) -> TypedText:
    """A number of a declared type, bound as that type (`CAST('5' AS SMALLINT)`)."""
    return TypedText(repr(number), DUCKDB_TYPE_OF[oid])


def _bytea_text(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    out = bytearray()
    i = 0
    while i < len(text):  # the old escape format: \\ and \ooo
        if text[i] == "\\":
            if text[i + 1 : i + 2] == "\\":
                out.append(0x5C)
                i += 2
            else:
                out.append(int(text[i + 1 : i + 4], 8))
                i += 4
        else:
            out += text[i].encode()
            i += 1
    return bytes(out)


def _array_as_list(text: str) -> str:
    """A one-dimensional PostgreSQL array literal (`{a,"b c",NULL}`) as the list literal
    DuckDB casts (`["a", "b c", NULL]`)."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(text)
    items: list[str | None] = []
    i, body = 0, text[1:-1]
    while i < len(body):
        if body[i] == '"':
            j, item = i + 1, []
            while body[j] != '"':
                if body[j] == "\\":
                    j += 1
                item.append(body[j])
                j += 1
            items.append("".join(item))
            i = j + 1
        else:
            j = body.find(",", i)
            j = len(body) if j < 0 else j
            raw = body[i:j].strip()
            items.append(None if raw.upper() == "NULL" else raw)
            i = j
        if i < len(body) and body[i] == ",":
            i += 1
    quoted = [
        "NULL" if item is None else '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for item in items
    ]
    return "[" + ", ".join(quoted) + "]"


def _binary(oid: int, data: bytes) -> Parameter:
    if oid == BOOL:
        return data != b"\x00"
    formats = {INT2: "!h", INT4: "!i", INT8: "!q", OID: "!I", FLOAT4: "!f", FLOAT8: "!d"}
    if oid in formats:
        return _typed(oid, struct.unpack(formats[oid], data)[0])
    if oid == BYTEA:
        return data
    if oid == DATE:
        return PG_EPOCH + dt.timedelta(days=struct.unpack("!i", data)[0])
    if oid == TIME:
        micros = struct.unpack("!q", data)[0]
        return (dt.datetime.min + dt.timedelta(microseconds=micros)).time()
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        micros = struct.unpack("!q", data)[0]
        moment = dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=micros)
        return moment.replace(tzinfo=dt.UTC) if oid == TIMESTAMPTZ else moment
    if oid == NUMERIC:
        return decode_numeric(data)
    if oid == UUID:
        return TypedText(str(uuid.UUID(bytes=data)), "UUID")
    if oid == INTERVAL:
        micros, days, months = struct.unpack("!qii", data)
        return TypedText(f"{months} months {days} days {micros} microseconds", "INTERVAL")
    if oid == JSONB:
        return data[1:].decode("utf-8")
    if oid in (TEXT, VARCHAR, BPCHAR, NAME, CHAR, UNKNOWN, JSON, 0):
        return data.decode("utf-8")
    raise ValueError(f"no binary format for type OID {oid}")
