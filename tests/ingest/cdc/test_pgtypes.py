"""PostgreSQL values converted to the mirror's types: each value's text as a real server
writes it (under `TEXT_SETTINGS`), converted by `PgColumn.convert` in DuckDB, compared with
the value psycopg reads from the same server (an independent reader)."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest

from headwater.ingest.cdc.pgtypes import (
    COLUMNS_SQL,
    TEXT_SETTINGS,
    PgColumn,
    conversion_sql,
    numeric_precision,
)
from tests.support.postgres import PostgresServer


@dataclass(frozen=True)
class Case:
    """A column type, values of it (SQL literals), the mirror type and how to compare."""

    name: str
    pg_type: str
    values: tuple[str, ...]
    mirror_type: str
    compare: str = "equal"
    """`equal`, `float` (NaN equals NaN), `float4` (psycopg's value rounded to float32),
    `double` (a numeric read as a float), or `text` (the mirror keeps PostgreSQL's text)."""


CASES = [
    Case("bool", "bool", ("true", "false", "NULL"), "BOOLEAN"),
    Case("int2", "int2", ("-32768", "32767", "0"), "SMALLINT"),
    Case("int4", "int4", ("-2147483648", "2147483647"), "INTEGER"),
    Case("int8", "int8", ("-9223372036854775808", "9223372036854775807"), "BIGINT"),
    Case("oid", "oid", ("0", "4294967295"), "BIGINT"),
    Case(
        "float4",
        "float4",
        ("1.1", "-0", "3.4028235e38", "1e-45", "'NaN'", "'Infinity'", "'-Infinity'"),
        "FLOAT",
        "float4",
    ),
    Case(
        "float8",
        "float8",
        ("0.1", "1/3.0", "1e308", "5e-324", "-0.0", "'NaN'", "'Infinity'", "'-Infinity'"),
        "DOUBLE",
        "float",
    ),
    Case(
        "numeric with precision and scale",
        "numeric(10, 2)",
        ("12.5", "-99999999.99", "0", "0.01", "NULL"),
        "DECIMAL(10, 2)",
    ),
    Case(
        "numeric of 38 digits",
        "numeric(38, 10)",
        ("1234567890123456789012345678.0123456789", "-0.0000000001"),
        "DECIMAL(38, 10)",
    ),
    Case("numeric with precision only", "numeric(12)", ("123456789012", "-5"), "DECIMAL(12, 0)"),
    Case(
        "numeric wider than a decimal",
        "numeric(60, 2)",
        ("123456789012345678901234567890123456789012.25",),
        "DOUBLE",
        "double",
    ),
    Case(
        "numeric without precision",
        "numeric",
        ("123.456", "1e-20", "1e100", "-7", "'NaN'", "'Infinity'", "'-Infinity'"),
        "DOUBLE",
        "double",
    ),
    Case("numeric with a negative scale", "numeric(5, -2)", ("1234567", "-50"), "DECIMAL(7, 0)"),
    Case("numeric scale past precision", "numeric(3, 5)", ("0.00123", "-0.00999"), "DECIMAL(5, 5)"),
    Case("domain over numeric", "money_amount", ("12.345", "NULL"), "DECIMAL(10, 2)"),
    Case("date", "date", ("'2024-02-29'", "'0001-01-01'", "'9999-12-31'"), "DATE"),
    Case(
        "timestamp",
        "timestamp",
        ("'2024-05-17 09:30:15.123456'", "'1970-01-01'", "'0001-01-01 00:00:00'"),
        "TIMESTAMP",
    ),
    Case(
        "timestamptz",
        "timestamptz",
        (
            "'2024-05-17 09:30:15.123456+02'",
            "'1999-12-31 23:59:59.999999-08'",
            "'2024-03-31 02:30:00 Europe/Paris'",
            "'1900-01-01 00:00:00+00:19:32'",
            "'2262-04-12 00:00:00+00'",
        ),
        "TIMESTAMP WITH TIME ZONE",
    ),
    Case(
        "bytea",
        "bytea",
        ("'\\x00ff'", "'\\x'", "'\\x5c22007b7d2c'", "decode(repeat('ab', 5000), 'hex')", "NULL"),
        "BLOB",
    ),
    Case(
        "text",
        "text",
        (
            "'plain'",
            "''",
            "'NULL'",
            "'quotes '' \" and \\ backslash'",
            "E'new\\nline\\ttab'",
            "'émoji 🎉 日本'",
            "repeat('long ', 10000)",
        ),
        "VARCHAR",
        "text",
    ),
    Case("varchar", "varchar(5)", ("'ab'", "'abcde'"), "VARCHAR", "text"),
    Case("char pads", "char(5)", ("'ab'",), "VARCHAR", "text"),
    Case("uuid", "uuid", ("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",), "VARCHAR", "text"),
    Case("json", "json", ('\'{"b": 1,  "a": [true, null]}\'',), "VARCHAR", "text"),
    Case("jsonb", "jsonb", ('\'{"b": 1, "a": "x\\"y"}\'',), "VARCHAR", "text"),
    Case("time", "time", ("'23:59:59.999999'",), "VARCHAR", "text"),
    Case("timetz", "timetz", ("'12:00:00+05:30'",), "VARCHAR", "text"),
    Case(
        "interval", "interval", ("'1 year 2 mons 3 days 04:05:06.7'", "'-1 day'"), "VARCHAR", "text"
    ),
    Case("enum", "mood", ("'happy'", "'sad'"), "VARCHAR", "text"),
    Case("inet", "inet", ("'192.168.0.1/24'",), "VARCHAR", "text"),
    Case(
        "text array",
        "text[]",
        (
            "ARRAY['a', NULL, 'NULL', 'null', '', 'b,c', 'q\"uote', 'back\\slash', '{brace}', "
            "' spaced ', E'new\\nline', '\"', '\\', ',', 'é']",
            "'{}'",
            "ARRAY[NULL]::text[]",
            "ARRAY['']",
            "ARRAY['\\\"', '\\\\\\\\']",
            "NULL",
        ),
        "VARCHAR[]",
        "text",
    ),
    Case("varchar array", "varchar(10)[]", ("ARRAY['x y', 'z']",), "VARCHAR[]", "text"),
    Case("int array", "int4[]", ("ARRAY[1, NULL, -3]", "'{}'", "NULL"), "INTEGER[]"),
    Case("bigint array", "int8[]", ("ARRAY[9223372036854775807]",), "BIGINT[]"),
    Case("numeric array", "numeric[]", ("ARRAY[1.5, NULL, -2]",), "DOUBLE[]", "double"),
    Case("bool array", "bool[]", ("ARRAY[true, false, NULL]",), "BOOLEAN[]"),
    Case(
        "float array",
        "float8[]",
        ("ARRAY['NaN', 'Infinity', '-Infinity', 1.5]::float8[]",),
        "DOUBLE[]",
        "float",
    ),
    Case(
        "bytea array",
        "bytea[]",
        ("ARRAY['\\x00ff'::bytea, '\\x'::bytea, NULL, '\\x5c22'::bytea]",),
        "BLOB[]",
    ),
    Case(
        "timestamptz array",
        "timestamptz[]",
        ("ARRAY['2024-05-17 09:30:15.5+02'::timestamptz, NULL]",),
        "TIMESTAMP WITH TIME ZONE[]",
    ),
    Case("date array", "date[]", ("ARRAY['2024-02-29'::date]",), "DATE[]"),
    Case(
        "uuid array",
        "uuid[]",
        ("ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, NULL]",),
        "VARCHAR[]",
        "text",
    ),
    Case(
        "jsonb array",
        "jsonb[]",
        ('ARRAY[\'{"a": "x\\"y,{}"}\'::jsonb, \'null\'::jsonb]',),
        "VARCHAR[]",
        "text",
    ),
    Case("enum array", "mood[]", ("ARRAY['ok', 'sad']::mood[]",), "VARCHAR[]", "text"),
]


@pytest.fixture(scope="module")
def source(postgres_server: PostgresServer) -> Iterator[Any]:
    """A connection to a database of its own, with the capture's text settings."""
    database = postgres_server.create_database()
    options = " ".join(f"-c {k}={v}" for k, v in TEXT_SETTINGS.items())
    with psycopg.connect(
        postgres_server.dsn(database), autocommit=True, options=options
    ) as connection:
        connection.execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
        connection.execute("CREATE DOMAIN money_amount AS numeric(10, 2)")
        yield connection


def column_of(connection: Any, table: str, name: str) -> PgColumn:
    """The column as the capture describes it (`COLUMNS_SQL`)."""
    for row in connection.execute(COLUMNS_SQL, {"relation": table}).fetchall():
        if row[0] == name:
            return PgColumn(str(row[0]), str(row[1]), int(row[2]), str(row[3]), bool(row[4]))
    raise AssertionError(f"no column {name} in {table}")


def convert(column: PgColumn, texts: list[str | None]) -> tuple[list[Any], str]:
    """`texts` converted in DuckDB as the capture does (an Arrow string column), and the
    type DuckDB gives the result."""
    connection = duckdb.connect()
    connection.register("changes", pa.table({column.name: pa.array(texts, pa.string())}))
    sql = conversion_sql([column], "changes", [])
    values = [row[0] for row in connection.execute(sql).fetchall()]
    kind = connection.execute(f"SELECT typeof(v) FROM ({sql}) AS t(v) LIMIT 1").fetchone()
    return values, str(kind[0]) if kind else ""


def canonical(duckdb_type: str) -> str:
    """DuckDB's own name of a type (`TIMESTAMPTZ` is `TIMESTAMP WITH TIME ZONE`)."""
    found = duckdb.connect().execute(f"SELECT typeof(CAST(NULL AS {duckdb_type}))").fetchone()
    assert found is not None
    return str(found[0])


def same(mirror: Any, expected: Any, compare: str) -> bool:
    if mirror is None or expected is None:
        return mirror is None and expected is None
    if isinstance(expected, list):
        return (
            isinstance(mirror, list)
            and len(mirror) == len(expected)
            and all(same(m, e, compare) for m, e in zip(mirror, expected, strict=True))
        )
    if compare == "float4":
        expected = struct.unpack("f", struct.pack("f", expected))[0]
    if compare == "double":
        expected = float(expected)
    if compare in ("float", "float4", "double"):
        if math.isnan(expected):
            return isinstance(mirror, float) and math.isnan(mirror)
        # -0.0 == 0.0 in Python: compare the sign too
        return bool(mirror == expected and math.copysign(1, mirror) == math.copysign(1, expected))
    return bool(mirror == expected and type(mirror) is type(expected))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conversion_matches_postgres(source: Any, case: Case) -> None:
    table = "t_" + "".join(ch if ch.isalnum() else "_" for ch in case.name)
    source.execute(f"CREATE TABLE {table} (i int PRIMARY KEY, v {case.pg_type})")
    for i, value in enumerate((*case.values, "NULL")):
        source.execute(f"INSERT INTO {table} VALUES ({i}, {value})")
    column = column_of(source, table, "v")
    assert column.duckdb_type == case.mirror_type.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
    # what the replication stream and the copy hand over: the value's text output
    expected_sql = {"text": "v::text[]" if column.is_array else "v::text"}.get(case.compare, "v")
    rows = source.execute(f"SELECT v::text, {expected_sql} FROM {table} ORDER BY i").fetchall()
    texts = [r[0] for r in rows]
    mirror, kind = convert(column, texts)
    assert kind == canonical(column.duckdb_type)
    for text, value, expected in zip(texts, mirror, [r[1] for r in rows], strict=True):
        assert same(value, expected, case.compare), f"{text!r}: mirror {value!r}, pg {expected!r}"


def test_unbounded_dates_and_timestamps_stay_infinite(source: Any) -> None:
    source.execute("CREATE TABLE infinite (d date, ts timestamp, tz timestamptz)")
    source.execute("INSERT INTO infinite VALUES ('infinity', 'infinity', 'infinity')")
    source.execute("INSERT INTO infinite VALUES ('-infinity', '-infinity', '-infinity')")
    rows = source.execute("SELECT d::text, ts::text, tz::text FROM infinite").fetchall()
    assert rows == [("infinity",) * 3, ("-infinity",) * 3]
    connection = duckdb.connect()
    columns = [PgColumn("d", "date"), PgColumn("ts", "timestamp"), PgColumn("tz", "timestamptz")]
    connection.register(
        "changes", pa.table({c.name: pa.array([r[i] for r in rows]) for i, c in enumerate(columns)})
    )
    sql = conversion_sql(columns, "changes", [])
    checked = connection.execute(
        f"SELECT isinf(d), isinf(ts), isinf(tz), d > DATE '2000-01-01', "
        f"ts > TIMESTAMP '2000-01-01', tz > TIMESTAMPTZ '2000-01-01 00:00:00+00' FROM ({sql})"
    ).fetchall()
    assert checked == [
        (True, True, True, True, True, True),
        (True, True, True, False, False, False),
    ]


def test_numeric_nan_under_a_precision_becomes_null(source: Any) -> None:
    """A decimal has no NaN: numeric(p, s) holds one, and the mirror gets NULL for it."""
    source.execute("CREATE TABLE nan_amounts (v numeric(10, 2))")
    source.execute("INSERT INTO nan_amounts VALUES ('NaN'), (1.5)")
    texts = [r[0] for r in source.execute("SELECT v::text FROM nan_amounts").fetchall()]
    assert texts == ["NaN", "1.50"]
    values, _ = convert(column_of(source, "nan_amounts", "v"), texts)
    assert values == [None, Decimal("1.50")]


@pytest.mark.parametrize(
    ("pg_type", "value"),
    [
        ("int4[]", "ARRAY[[1, 2], [3, 4]]"),
        ("text[]", "ARRAY[['a', 'b'], ['c', 'd']]"),
        ("int4[]", "'[0:1]={1,2}'"),
    ],
    ids=["2-D int", "2-D text", "lower bound 0"],
)
def test_arrays_that_are_no_list_fail_loudly(source: Any, pg_type: str, value: str) -> None:
    """A list holds a one-dimensional array numbered from 1; any other array is an error
    naming the column, never a list of wrong elements."""
    table = f"odd_{abs(hash((pg_type, value)))}"
    source.execute(f"CREATE TABLE {table} (v {pg_type})")
    source.execute(f"INSERT INTO {table} VALUES ({value})")
    texts = [r[0] for r in source.execute(f"SELECT v::text FROM {table}").fetchall()]
    with pytest.raises(duckdb.Error, match="column v: only one-dimensional arrays"):
        convert(column_of(source, table, "v"), texts)


def test_conversion_sql_keeps_columns_as_they_are() -> None:
    connection = duckdb.connect()
    connection.register(
        "changes",
        pa.table(
            {
                "id": pa.array(["1", "2"]),
                "amount": pa.array(["12.50", None]),
                "_hw_op": pa.array(["u", "d"]),
                "_hw_keep_amount": pa.array([False, True]),
            }
        ),
    )
    columns = [
        PgColumn("id", "int4", in_key=True),
        PgColumn("amount", "numeric", (10 << 16 | 2) + 4),
    ]
    sql = conversion_sql(columns, "changes", ["_hw_op", "_hw_keep_amount"])
    result = connection.execute(sql)
    assert [d[0] for d in result.description] == ["id", "amount", "_hw_op", "_hw_keep_amount"]
    assert result.fetchall() == [(1, Decimal("12.50"), "u", False), (2, None, "d", True)]


def test_conversion_sql_quotes_odd_column_names() -> None:
    connection = duckdb.connect()
    names = ["select", 'a "quoted" name', "Mixed Case", "é"]
    connection.register("changes", pa.table({n: pa.array(["1"]) for n in names}))
    columns = [PgColumn(n, "int8") for n in names]
    result = connection.execute(conversion_sql(columns, "changes", []))
    assert [d[0] for d in result.description] == names
    assert result.fetchall() == [(1, 1, 1, 1)]


@pytest.mark.parametrize(
    ("modifier", "expected"),
    [
        (-1, (None, 0)),
        (0, (None, 0)),
        ((10 << 16 | 2) + 4, (10, 2)),
        ((38 << 16 | 0) + 4, (38, 0)),
        ((1000 << 16 | 1000) + 4, (1000, 1000)),
        ((5 << 16 | (-2 & 0x7FF)) + 4, (5, -2)),
        ((3 << 16 | 5) + 4, (3, 5)),
        ((10 << 16 | (-1000 & 0x7FF)) + 4, (10, -1000)),
    ],
)
def test_numeric_precision(modifier: int, expected: tuple[int | None, int]) -> None:
    assert numeric_precision(modifier) == expected


def test_numeric_modifiers_match_the_server(source: Any) -> None:
    """The modifiers decoded above are the ones the server stores."""
    source.execute(
        "CREATE TABLE typmods (a numeric(10, 2), b numeric(5, -2), c numeric(3, 5), d numeric)"
    )
    found = {
        name: numeric_precision(column_of(source, "typmods", name).type_modifier) for name in "abcd"
    }
    assert found == {"a": (10, 2), "b": (5, -2), "c": (3, 5), "d": (None, 0)}


def test_columns_sql_describes_a_table(source: Any) -> None:
    source.execute(
        "CREATE TABLE described (a int, b text, dropped int, c money_amount, d text[], "
        "e mood[], f int GENERATED ALWAYS AS (a * 2) STORED, g bigint NOT NULL, "
        "PRIMARY KEY (g, a))"
    )
    source.execute("ALTER TABLE described DROP COLUMN dropped")
    found = [
        (c.name, c.type_name, c.element, c.in_key, c.duckdb_type)
        for c in (
            PgColumn(str(r[0]), str(r[1]), int(r[2]), str(r[3]), bool(r[4]))
            for r in source.execute(COLUMNS_SQL, {"relation": "described"}).fetchall()
        )
    ]
    assert found == [
        ("a", "int4", "", True, "INTEGER"),
        ("b", "text", "", False, "VARCHAR"),
        ("c", "numeric", "", False, "DECIMAL(10, 2)"),
        ("d", "_text", "text", False, "VARCHAR[]"),
        ("e", "_mood", "mood", False, "VARCHAR[]"),
        ("g", "int8", "", True, "BIGINT"),
    ]


def test_columns_sql_prefers_the_replica_identity_index(source: Any) -> None:
    source.execute("CREATE TABLE identified (id int PRIMARY KEY, code text NOT NULL)")
    source.execute("CREATE UNIQUE INDEX identified_code ON identified (code)")
    source.execute("ALTER TABLE identified REPLICA IDENTITY USING INDEX identified_code")
    keys = [
        r[0] for r in source.execute(COLUMNS_SQL, {"relation": "identified"}).fetchall() if r[4]
    ]
    assert keys == ["code"]
