"""PostgreSQL's types as the wire protocol names them: the type OID and modifier of a result
column (from its Arrow type), and the value of a parameter a client sent (from its type OID,
in text or binary format).

A column's OID tells a client how to read its text (psycopg, JDBC and libpq pick their
parsers by it), so the OIDs follow what PostgreSQL itself would send for the same value:
DECIMAL(p,s) is `numeric` with typmod `((p << 16) | s) + 4`, lists are arrays of their
element's type, structs and maps are text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
JSON, FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR = 114, 700, 701, 705, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL = 1082, 1083, 1114, 1184, 1186
NUMERIC, UUID, JSONB = 1700, 2950, 3802

ARRAY_OF = {
    BOOL: 1000,
    BYTEA: 1001,
    CHAR: 1002,
    NAME: 1003,
    INT2: 1005,
    INT4: 1007,
    TEXT: 1009,
    VARCHAR: 1015,
    INT8: 1016,
    FLOAT4: 1021,
    FLOAT8: 1022,
    OID: 1028,
    TIMESTAMP: 1115,
    DATE: 1182,
    TIME: 1183,
    TIMESTAMPTZ: 1185,
    INTERVAL: 1187,
    NUMERIC: 1231,
    UUID: 2951,
    JSON: 199,
    JSONB: 3807,
}
"""The array type of each element type (pg_type.typarray)."""
ELEMENT_OF = {array: element for element, array in ARRAY_OF.items()}

SIZES = {
    BOOL: 1,
    CHAR: 1,
    NAME: 64,
    INT2: 2,
    INT4: 4,
    INT8: 8,
    OID: 4,
    FLOAT4: 4,
    FLOAT8: 8,
    DATE: 4,
    TIME: 8,
    TIMESTAMP: 8,
    TIMESTAMPTZ: 8,
    INTERVAL: 16,
    UUID: 16,
}
"""pg_type.typlen of the fixed-size types; every other type is -1 (variable)."""

PG_OID_METADATA = b"pg_type_oid"
"""Field metadata key by which a result (a catalog query's) names the PostgreSQL type OID
of a column whose Arrow type alone does not say it (`oid`, `name`, `regtype`, ...)."""

DUCKDB_TYPE_OF = {
    BOOL: "BOOLEAN",
    INT2: "SMALLINT",
    INT4: "INTEGER",
    INT8: "BIGINT",
    OID: "BIGINT",
    FLOAT4: "REAL",
    FLOAT8: "DOUBLE",
    DATE: "DATE",
    TIME: "TIME",
    TIMESTAMP: "TIMESTAMP",
    TIMESTAMPTZ: "TIMESTAMPTZ",
    INTERVAL: "INTERVAL",
    UUID: "UUID",
    BYTEA: "BLOB",
    NUMERIC: "DECIMAL",
}
"""The DuckDB type a parameter of each type OID is read as (text types stay plain strings)."""

PG_EPOCH = dt.date(2000, 1, 1)
PG_EPOCH_DAYS = 10957
"""Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's)."""
PG_EPOCH_MICROS = PG_EPOCH_DAYS * 86_400_000_000


@dataclass(frozen=True)
class PgType:
    """The type of one result column as a RowDescription states it."""

    oid: int
    size: int = -1
    """pg_type.typlen: bytes of a fixed-size value, -1 for a variable one."""
    modifier: int = -1
    """The type modifier (atttypmod): precision and scale of a numeric, -1 for none."""

    @property
    def element(self) -> int | None:
        """The element type OID when this is an array type."""
        return ELEMENT_OF.get(self.oid)


def pg_type(field: pa.Field) -> PgType:
    """The PostgreSQL type of a result column of Arrow type `field.type`: what PostgreSQL
    would send for the same value (integers by width, DECIMAL(p,s) as numeric with its
    modifier, lists as arrays of their element's type, nested types as text)."""
    metadata = field.metadata or {}
    if PG_OID_METADATA in metadata:
        oid = int(metadata[PG_OID_METADATA])
        return PgType(oid, SIZES.get(oid, -1))
    return _of_arrow(field.type)


def _of_arrow(t: pa.DataType) -> PgType:
    import pyarrow as pa

    types = pa.types
    oid = TEXT
    modifier = -1
    if isinstance(t, pa.ExtensionType):
        name = t.extension_name
        if name == "arrow.uuid":
            oid = UUID
        elif name == "arrow.json":
            oid = JSON
        return PgType(oid, SIZES.get(oid, -1))
    if types.is_boolean(t):
        oid = BOOL
    elif types.is_int8(t) or types.is_int16(t) or types.is_uint8(t):
        oid = INT2
    elif types.is_int32(t) or types.is_uint16(t):
        oid = INT4
    elif types.is_int64(t) or types.is_uint32(t):
        oid = INT8
    elif types.is_uint64(t):
        oid = NUMERIC
    elif types.is_float16(t) or types.is_float32(t):
        oid = FLOAT4
    elif types.is_float64(t):
        oid = FLOAT8
    elif types.is_decimal(t):
        oid = NUMERIC
        modifier = ((t.precision << 16) | t.scale) + 4
    elif any(
        check(t)
        for check in (
            types.is_binary,
            types.is_large_binary,
            types.is_fixed_size_binary,
            types.is_binary_view,
        )
    ):
        oid = BYTEA
    elif types.is_date(t):
        oid = DATE
    elif types.is_time(t):
        oid = TIME
    elif types.is_timestamp(t):
        oid = TIMESTAMPTZ if t.tz else TIMESTAMP
    elif types.is_interval(t) or types.is_duration(t):
        oid = INTERVAL
    elif is_list(t):
        element = _of_arrow(list_element(t)).oid
        oid = ARRAY_OF.get(element, ARRAY_OF[TEXT])
    elif types.is_dictionary(t):
        return _of_arrow(t.value_type)
    return PgType(oid, SIZES.get(oid, -1), modifier)


def is_list(t: pa.DataType) -> bool:
    """Whether `t` is one of Arrow's list types (sent as a PostgreSQL array)."""
    import pyarrow as pa

    if pa.types.is_map(t):
        return False
    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    )


def list_element(t: pa.DataType) -> pa.DataType:
    """The innermost element type of a (nested) list type."""
    while is_list(t):
        t = t.value_type
    return t
