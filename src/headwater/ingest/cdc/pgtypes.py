"""PostgreSQL column types as the mirror's DuckDB types, and text values converted to them.

Both ways a mirror is filled, the initial COPY and the replication stream, hand over values in
PostgreSQL's text output format. They are converted by the same SQL expression per column
(`PgColumn.convert`), run by DuckDB over a whole batch, so a row has the same values whichever
way it arrived. The sessions reading them pin the settings that shape the text
(`TEXT_SETTINGS`: ISO dates, UTC, hex bytea, round-trip floats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.sqltext import identifier, literal

TEXT_SETTINGS = {
    "DateStyle": "ISO",
    "TimeZone": "UTC",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}
"""Session settings under which every value's text converts back exactly."""

_SCALARS = {
    "bool": "BOOLEAN",
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "int8": "BIGINT",
    "oid": "BIGINT",
    "float4": "FLOAT",
    "float8": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "bytea": "BLOB",
}
"""PostgreSQL base types (by `typname`) with a Delta type of their own. Every other type is
kept as its PostgreSQL text, VARCHAR: text, varchar and char, enums, uuid and json/jsonb (as
Delta and Spark keep them), and time, timetz and interval, which Delta has no type for."""

_ARRAY_ELEMENTS = (
    r"""regexp_extract_all(substr({v}, 2, length({v}) - 2), '"(?:[^"\\]|\\.)*"|[^,]+')"""
)
_ARRAY_ELEMENT = (
    r"""CASE WHEN x = 'NULL' THEN NULL WHEN starts_with(x, '"') """
    r"""THEN regexp_replace(substr(x, 2, length(x) - 2), '\\(.)', '\1', 'g') ELSE x END"""
)

COLUMNS_SQL = """
SELECT a.attname,
       coalesce(bt.typname, t.typname) AS typname,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       coalesce(et.typname, '') AS element,
       a.attnum = ANY(coalesce(i.indkey::int2[], '{}')) AS in_key
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_type et ON et.oid = coalesce(bt.typelem, t.typelem)
    AND coalesce(bt.typcategory, t.typcategory) = 'A'
LEFT JOIN LATERAL (
    SELECT indkey FROM pg_index
    WHERE indrelid = a.attrelid AND (indisprimary OR indisreplident)
    ORDER BY indisreplident DESC LIMIT 1
) i ON true
WHERE a.attrelid = %(relation)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
  AND a.attgenerated = ''
ORDER BY a.attnum
"""
"""A table's columns with their base types (domains resolved), array element types and
whether each is part of the primary key (or replica identity index)."""


@dataclass(frozen=True)
class PgColumn:
    """One column of a mirrored PostgreSQL table."""

    name: str
    type_name: str
    """The base type's `typname` (`int4`, `numeric`, `_text` for text[], an enum's name)."""
    type_modifier: int = -1
    element: str = ""
    """For an array, its element's `typname` (empty otherwise)."""
    in_key: bool = False
    """Part of the primary key (or of the replica identity index)."""

    @property
    def is_array(self) -> bool:
        """True for an array column (one-dimensional arrays become lists)."""
        return bool(self.element)

    @property
    def duckdb_type(self) -> str:
        """The column's type in the mirror."""
        if self.is_array:
            return _scalar_type(self.element, -1) + "[]"
        return _scalar_type(self.type_name, self.type_modifier)

    def convert(self, text: str) -> str:
        """A DuckDB expression turning `text` (SQL of a VARCHAR holding the value's
        PostgreSQL text) into the mirror's value."""
        if self.is_array:
            element = _scalar_convert(self.element, -1, "x")
            parsed = _ARRAY_ELEMENTS.format(v=text)
            cleaned = f"list_transform({parsed}, lambda x: {_ARRAY_ELEMENT})"
            if element != "x":
                cleaned = f"list_transform({cleaned}, lambda x: {element})"
            # `{{...}}` (2-D) or `[0:1]={...}` (bounds) would parse into wrong elements
            refused = literal(
                f"column {self.name}: only one-dimensional arrays starting at 1 become lists"
            )
            return (
                f"CASE WHEN starts_with({text}, '{{{{') OR starts_with({text}, '[') "
                f"THEN error({refused}) ELSE {cleaned} END"
            )
        return _scalar_convert(self.type_name, self.type_modifier, text)


def _scalar_type(type_name: str, modifier: int) -> str:
    if type_name == "numeric":
        precision, scale = numeric_precision(modifier)
        if precision is None:
            return "DOUBLE"
        # numeric(5, -2) rounds to hundreds (7 digits), numeric(2, 5) holds 0.000dd
        width = precision - scale if scale < 0 else max(precision, scale)
        if width > 38:
            return "DOUBLE"
        return f"DECIMAL({width}, {max(scale, 0)})"
    return _SCALARS.get(type_name, "VARCHAR")


def _scalar_convert(type_name: str, modifier: int, text: str) -> str:
    kind = _scalar_type(type_name, modifier)
    if kind == "VARCHAR":
        return text
    if kind == "BLOB":
        return f"from_hex(substr({text}, 3))"
    if kind.startswith("DECIMAL"):
        # numeric(p, s) also holds NaN, which a decimal cannot: NULL rather than a failed cast
        return f"CAST(nullif({text}, 'NaN') AS {kind})"
    return f"CAST({text} AS {kind})"


_ARROW_TYPES = {
    "bool": "bool",
    "int16": "int2",
    "int32": "int4",
    "int64": "int8",
    "float": "float4",
    "double": "float8",
    "date32[day]": "date",
    "timestamp[us]": "timestamp",
    "timestamp[us, tz=UTC]": "timestamptz",
    "binary": "bytea",
    "large_binary": "bytea",
    "string": "text",
    "large_string": "text",
    "string_view": "text",
}
"""A mirror's Arrow types (by name) and the PostgreSQL types mirrored as them."""


def mirror_column(name: str, arrow_type: Any) -> PgColumn | None:
    """A PostgreSQL column that a mirror column of `arrow_type` (a pyarrow type) is the copy
    of, as far as its mirror type goes (None: no PostgreSQL type is mirrored as it)."""
    value_type = getattr(arrow_type, "value_type", None)
    if value_type is not None:
        element = mirror_column(name, value_type)
        if element is None or element.is_array:
            return None
        return PgColumn(name, "_" + element.type_name, -1, element.type_name)
    if str(arrow_type).startswith("decimal"):
        modifier = ((arrow_type.precision << 16) | arrow_type.scale) + 4
        return PgColumn(name, "numeric", modifier)
    type_name = _ARROW_TYPES.get(str(arrow_type))
    return None if type_name is None else PgColumn(name, type_name)


def numeric_precision(modifier: int) -> tuple[int | None, int]:
    """The (precision, scale) of a `numeric(p, s)` type modifier; (None, 0) when the column
    has none (any precision). Since PostgreSQL 15 the scale may be negative or larger than
    the precision."""
    if modifier < 4:
        return None, 0
    value = modifier - 4
    # the scale is the low 11 bits, signed (numeric.c's numeric_typmod_scale)
    return (value >> 16) & 0xFFFF, ((value & 0x7FF) ^ 1024) - 1024


def conversion_sql(columns: list[PgColumn], relation: str, keep: list[str]) -> str:
    """A SELECT over `relation` (every column VARCHAR text, plus the `keep` columns as they
    are) returning the columns converted to their mirror types."""
    converted = [
        f"{col.convert(identifier(col.name))} AS {identifier(col.name)}" for col in columns
    ]
    kept = [identifier(name) for name in keep]
    return f"SELECT {', '.join([*converted, *kept])} FROM {relation}"
