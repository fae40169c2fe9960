"""PostgreSQL's names for types: the PostgreSQL type a served column has, and the DuckDB and
Arrow types that hold a column of PostgreSQL's own catalog.

A served column's type comes from DuckDB (what a query over the table returns); the
PostgreSQL type is the one the protocol sends its values as, so that a BI tool that browses
the catalog sees the type it will receive.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

TEXT = 25


@dataclass(frozen=True)
class PgType:
    """A PostgreSQL type with its modifier, as `pg_attribute` holds a column's."""

    oid: int
    name: str
    """`typname` (`int8`, `numeric`, `_text`)."""
    typmod: int = -1
    """`atttypmod`: `((precision << 16) | scale) + 4` for numeric, -1 when none."""

    @property
    def precision_scale(self) -> tuple[int, int] | None:
        """(precision, scale) of a numeric with a modifier, else None."""
        if self.name not in ("numeric", "_numeric") or self.typmod < 4:
            return None
        return (self.typmod - 4) >> 16, (self.typmod - 4) & 0xFFFF


def numeric_typmod(precision: int, scale: int) -> int:
    """`atttypmod` of `numeric(precision, scale)`."""
    return ((precision << 16) | scale) + 4


@functools.cache
def _type_oids() -> dict[str, tuple[int, int]]:
    """typname -> (oid, oid of its array type) of PostgreSQL's built-in types."""
    from headwater.serve.pgwire.catalog_pg15 import TYPES

    return {str(row[1]): (int(str(row[0])), int(str(row[14]))) for row in TYPES}


def builtin(name: str) -> PgType:
    """The built-in PostgreSQL type `name` (`int8`, `_text`)."""
    return PgType(_type_oids()[name][0], name)


_SCALARS = {
    "boolean": "bool",
    "tinyint": "int2",
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "utinyint": "int2",
    "usmallint": "int4",
    "uinteger": "int8",
    "float": "float4",
    "double": "float8",
    "varchar": "text",
    "blob": "bytea",
    "date": "date",
    "time": "time",
    "time_ns": "time",
    "timestamp": "timestamp",
    "timestamp_s": "timestamp",
    "timestamp_ms": "timestamp",
    "timestamp_ns": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time with time zone": "timetz",
    "interval": "interval",
    "uuid": "uuid",
    "bignum": "numeric",
    "varint": "numeric",
}
"""DuckDB type ids whose PostgreSQL type takes no modifier."""
_NESTED = ("struct", "map", "union", "list", "array")
_WIDE_INTEGERS = {"hugeint": 38, "uhugeint": 39, "ubigint": 20}
"""DuckDB integers wider than int8: numeric with that many digits and no fraction."""


def pg_type_of(duckdb_type: str) -> PgType:
    """The PostgreSQL type of a column whose DuckDB type is `duckdb_type` (as DuckDB writes
    it: `DECIMAL(12,2)`, `VARCHAR[]`, `TIMESTAMP WITH TIME ZONE`).

    A list is an array of its element's type; a nested, struct, map or union value is sent as
    text, and so is a type PostgreSQL has no counterpart for (enum, bit).
    """
    import duckdb

    text = duckdb_type.strip()
    if text.upper() == "JSON":
        return builtin("json")
    try:
        parsed = duckdb.sqltype(text)
    except Exception:  # a type this DuckDB cannot read: sent as text
        return builtin("text")
    return _of_parsed(parsed)


def _of_parsed(parsed: object) -> PgType:
    kind = str(getattr(parsed, "id", ""))
    children: dict[str, object] = {}
    if kind in ("decimal", "list", "array", "struct", "map", "union", "enum"):
        children = {str(n): c for n, c in getattr(parsed, "children", [])}
    if kind == "decimal":
        precision, scale = int(str(children["precision"])), int(str(children["scale"]))
        return PgType(builtin("numeric").oid, "numeric", numeric_typmod(precision, scale))
    if kind in _WIDE_INTEGERS:
        return PgType(builtin("numeric").oid, "numeric", numeric_typmod(_WIDE_INTEGERS[kind], 0))
    if kind in ("list", "array"):
        if str(getattr(children["child"], "id", "")) in _NESTED:
            return builtin("text")  # PostgreSQL's arrays hold scalars
        element = _of_parsed(children["child"])
        array = _type_oids()[element.name][1]
        return PgType(array, "_" + element.name, element.typmod) if array else builtin("text")
    if str(parsed).upper() == "JSON":
        return builtin("json")
    name = _SCALARS.get(kind)
    return builtin(name) if name else builtin("text")


_CATALOG_DUCKDB = {
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "int8": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "numeric": "DOUBLE",
    "oid": "INTEGER",
    "regtype": "INTEGER",
    "regclass": "INTEGER",
    "xid": "BIGINT",
    "cardinal_number": "INTEGER",
    "timestamptz": "TIMESTAMPTZ",
    "time_stamp": "TIMESTAMPTZ",
    "interval": "INTERVAL",
    "bytea": "BLOB",
    "int2vector": "SMALLINT[]",
    "oidvector": "INTEGER[]",
}
"""The DuckDB type that holds a column of PostgreSQL's catalog, by its PostgreSQL type; every
type not here (name, text, "char", regproc, pg_node_tree, the information_schema domains...)
is held as VARCHAR. An `oid` is held as INTEGER: Headwater's oids stay below 2**31."""


def catalog_duckdb_type(pg_name: str) -> str:
    """The DuckDB type of a catalog column of PostgreSQL type `pg_name` (`oid`, `_text`)."""
    if pg_name.startswith("_"):
        return catalog_duckdb_type(pg_name[1:]).removesuffix("[]") + "[]"
    return _CATALOG_DUCKDB.get(pg_name, "VARCHAR")


def catalog_arrow_type(pg_name: str) -> pa.DataType:
    """The Arrow type of a catalog column of PostgreSQL type `pg_name`."""
    import pyarrow as pa

    simple = {
        "BOOLEAN": pa.bool_(),
        "SMALLINT": pa.int16(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "FLOAT": pa.float32(),
        "DOUBLE": pa.float64(),
        "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
        "INTERVAL": pa.month_day_nano_interval(),
        "BLOB": pa.binary(),
        "VARCHAR": pa.string(),
    }
    duck = catalog_duckdb_type(pg_name)
    if duck.endswith("[]"):
        return pa.list_(simple[duck.removesuffix("[]")])
    return simple[duck]
