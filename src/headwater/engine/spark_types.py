"""Types between Arrow (what storage and Headwater speak) and Spark (what the Spark engine runs).

A Delta table's schema arrives as Arrow; Spark needs it as a `StructType` to read the table's
files, and Spark's results go back to storage with an Arrow schema. Arrow types Spark has no
conversion for (`string_view`, `large_string`, ...) are read as their plain equivalents, and a
naive Arrow timestamp is Spark's `TIMESTAMP_NTZ` (DuckDB's `TIMESTAMP`), an aware one Spark's
`TIMESTAMP`. Everything written is nullable, as DuckDB writes it, so that either engine can append
to a table the other created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import DataType, StructType

TIMEZONE = "UTC"
"""The session time zone of every Spark session the engine runs (DuckDB's engine uses UTC)."""


def plain_arrow_type(kind: pa.DataType) -> pa.DataType:
    """`kind` with every view or large variant replaced by its plain type (Spark converts
    only those), nested types included; other types unchanged."""
    import pyarrow as pa

    if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_binary_view(kind) or pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(plain_field(kind.value_field))
    if pa.types.is_list(kind):
        return pa.list_(plain_field(kind.value_field))
    if pa.types.is_struct(kind):
        return pa.struct([plain_field(kind.field(i)) for i in range(kind.num_fields)])
    if pa.types.is_map(kind):
        return pa.map_(plain_arrow_type(kind.key_type), plain_field(kind.item_field))
    if pa.types.is_dictionary(kind):
        return plain_arrow_type(kind.value_type)
    if pa.types.is_timestamp(kind) and kind.unit != "us":
        # Spark keeps microseconds; nanoseconds are cut as DuckDB's TIMESTAMP_NS write cast does
        return pa.timestamp("us", tz=kind.tz)
    return kind


def plain_field(field: pa.Field) -> pa.Field:
    """`field` with its type made plain (`plain_arrow_type`)."""
    return field.with_type(plain_arrow_type(field.type))


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with every type made plain (`plain_arrow_type`), without metadata."""
    import pyarrow as pa

    return pa.schema([plain_field(f) for f in schema])


def plain_table(table: pa.Table) -> pa.Table:
    """`table` cast to its plain schema, so Spark can take it."""
    schema = plain_schema(table.schema)
    # unsafe: nanoseconds are cut to microseconds, as DuckDB's TIMESTAMP_NS write cast does
    return table if schema.equals(table.schema) else table.cast(schema, safe=False)


def spark_type(kind: pa.DataType) -> DataType:
    """The Spark type of the Arrow type `kind`; a naive timestamp is `TIMESTAMP_NTZ`."""
    from pyspark.sql.pandas.types import from_arrow_type

    return from_arrow_type(plain_arrow_type(kind), prefer_timestamp_ntz=True)


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of the Arrow schema `schema`, every column nullable."""
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(f.name, spark_type(f.type), True) for f in schema])


def arrow_type(kind: DataType) -> pa.DataType:
    """The Arrow type Spark's `kind` is written as (a Spark `TIMESTAMP` is aware, in UTC)."""
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(kind, timezone=TIMEZONE)


def arrow_schema(schema: StructType) -> pa.Schema:
    """The Arrow schema of Spark's `schema`, every column nullable (as DuckDB writes them)."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, arrow_type(f.dataType), True) for f in schema.fields])


def type_name(kind: DataType) -> str:
    """Spark SQL's name of `kind` (`BIGINT`, `DECIMAL(10,2)`, `TIMESTAMP_NTZ`, ...)."""
    return kind.simpleString().upper()


def is_nested(kind: DataType) -> bool:
    """Whether `kind` is an array, map or struct."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    return isinstance(kind, ArrayType | MapType | StructType)


def storable(kind: DataType) -> DataType | None:
    """The type a column of Spark type `kind` is written as, when Delta cannot store `kind`
    itself (as DuckDB's engine casts intervals, times and NULL-typed columns); None when it can.
    """
    from pyspark.sql.types import (
        CharType,
        DayTimeIntervalType,
        NullType,
        StringType,
        VarcharType,
        YearMonthIntervalType,
    )

    if isinstance(kind, DayTimeIntervalType | YearMonthIntervalType | CharType | VarcharType):
        return StringType()
    if isinstance(kind, NullType):
        # DuckDB types an untyped NULL column as INTEGER
        from pyspark.sql.types import IntegerType

        return IntegerType()
    name = type(kind).__name__
    if name in ("TimeType", "VariantType", "CalendarIntervalType"):
        return StringType()
    return None


def castable(source: DataType, target: DataType) -> bool:
    """Whether a column of Spark type `source` is cast to `target` to match the type DuckDB
    (or the table being appended to) gives it: between atomic types only, never to or from
    text (a transpiled expression that gives another kind of value keeps its own type, and the
    table's schema check reports it)."""
    from pyspark.sql.types import BinaryType, StringType

    if source == target or is_nested(source) or is_nested(target):
        return False
    textual = (StringType, BinaryType)
    return not (isinstance(source, textual) or isinstance(target, textual)) or (
        isinstance(source, StringType) and isinstance(target, StringType)
    )
