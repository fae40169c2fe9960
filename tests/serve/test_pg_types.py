"""Values on the wire of Headwater's PostgreSQL protocol, checked against a real PostgreSQL 15:
the text and binary bytes of each type must be exactly what PostgreSQL sends for the same
value, the column types and modifiers what PostgreSQL describes, and parameters must read
back as the values clients meant."""

from __future__ import annotations

import datetime as dt
import decimal
import random
import struct
from collections.abc import Iterator

import psycopg
import pyarrow as pa
import pytest
from psycopg.types.numeric import NumericBinaryLoader

from headwater.query.parameters import TypedText
from headwater.serve.pgwire import encode
from headwater.serve.pgwire.binary import decode_numeric, encode_numeric
from headwater.serve.pgwire.encode import data_rows, render, row_description
from headwater.serve.pgwire.params import parameter
from headwater.serve.pgwire.types import pg_type
from tests.support.postgres import PostgresServer

D = decimal.Decimal
UTC = dt.UTC


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        yield connection


def postgres_bytes(pg: psycopg.Connection, sql: str, binary: bool = False) -> list[bytes | None]:
    """The raw bytes of each column of PostgreSQL's one-row answer to `sql`."""
    result = pg.pgconn.exec_params(sql.encode(), [], result_format=1 if binary else 0)
    assert result.status == psycopg.pq.ExecStatus.TUPLES_OK, result.error_message
    return [result.get_value(0, i) for i in range(result.nfields)]


def ours(values: pa.Array, binary: bool = False) -> list[bytes | None]:
    """What Headwater sends for each value of `values`."""
    rendered = render(values, pg_type(pa.field("v", values.type)), binary)
    return [None if v is None else bytes(v) for v in rendered.cast(pa.binary()).to_pylist()]


FLOATS = [
    0.1,
    1 / 3,
    1.0,
    100.0,
    -2.5,
    12345.678,
    1e15,
    1e16,
    1e22,
    123456789012345.0,
    1234567890123456.0,
    1e-4,
    1e-5,
    0.00012345,
    5e-324,
    1.7976931348623157e308,
    -0.0,
    0.0,
    float("inf"),
    float("-inf"),
    float("nan"),
]

CASES = [
    # (Arrow values, PostgreSQL expressions of the same values)
    (pa.array([True, False, None]), ["true", "false", "NULL::bool"]),
    (pa.array([7, -7], pa.int8()), ["7::int2", "-7::int2"]),
    (pa.array([300, -32768], pa.int16()), ["300::int2", "(-32768)::int2"]),
    (pa.array([70000, -(2**31)], pa.int32()), ["70000::int4", "(-2147483648)::int4"]),
    (pa.array([2**62, -(2**63)], pa.int64()), [f"{2**62}::int8", "(-9223372036854775808)::int8"]),
    (pa.array(FLOATS, pa.float64()), [f"'{v!r}'::float8" for v in FLOATS]),
    (
        pa.array([0.1, 12345678.0, 1e6, 999999.0, 1e-5, 3.4028235e38, 0.5], pa.float32()),
        [
            f"'{v}'::float4"
            for v in ["0.1", "12345678", "1e6", "999999", "1e-5", "3.4028235e38", "0.5"]
        ],
    ),
    (
        pa.array([D("21168.23"), D("-0.50"), D("0.00"), D("7")], pa.decimal128(12, 2)),
        ["21168.23::numeric(12,2)", "-0.50::numeric(12,2)", "0::numeric(12,2)", "7::numeric(12,2)"],
    ),
    (
        pa.array([D(0), D("1E-10"), D("123.4567891234"), D("-1")], pa.decimal128(38, 10)),
        [f"{v}::numeric(38,10)" for v in ["0", "0.0000000001", "123.4567891234", "(-1)"]],
    ),
    (pa.array(["hello, world", "", 'ünï "q" \\']), ["'hello, world'", "''", "'ünï \"q\" \\'"]),
    (pa.array([b"ab", b"", b"\x00\xff"]), ["'\\x6162'::bytea", "''::bytea", "'\\x00ff'::bytea"]),
    (
        pa.array([dt.date(2024, 1, 2), dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
        ["'2024-01-02'::date", "'0001-01-01'::date", "'9999-12-31'::date"],
    ),
    (
        pa.array(
            [
                dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
                dt.datetime(2024, 1, 2, 3, 4),
                dt.datetime(2024, 1, 2, 3, 4, 10, 500000),
                dt.datetime(2000, 1, 1, 0, 0, 0, 1),
            ]
        ),
        [
            "'2024-01-02 03:04:05.123456'::timestamp",
            "'2024-01-02 03:04:00'::timestamp",
            "'2024-01-02 03:04:10.5'::timestamp",
            "'2000-01-01 00:00:00.000001'::timestamp",
        ],
    ),
    (
        pa.array(
            [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), dt.datetime(1999, 12, 31, 23, 59)],
            pa.timestamp("us", tz="UTC"),
        ),
        ["'2024-01-02 03:04:05+00'::timestamptz", "'1999-12-31 23:59:00+00'::timestamptz"],
    ),
    (
        pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 120000)], pa.timestamp("ns")),
        ["'2024-01-02 03:04:05.12'::timestamp"],
    ),
    (
        pa.array([dt.time(3, 4, 5, 120000), dt.time(0, 0), dt.time(23, 59, 59, 999999)]),
        ["'03:04:05.12'::time", "'00:00'::time", "'23:59:59.999999'::time"],
    ),
    (
        pa.array(
            [
                pa.scalar(
                    (14, 3, (4 * 3600 + 5 * 60 + 6) * 10**9 + 500_000_000),
                    pa.month_day_nano_interval(),
                ).as_py(),
                pa.scalar((0, 0, -3600 * 10**9), pa.month_day_nano_interval()).as_py(),
                pa.scalar((-1, 1, 0), pa.month_day_nano_interval()).as_py(),
                pa.scalar((0, 0, 0), pa.month_day_nano_interval()).as_py(),
            ],
            pa.month_day_nano_interval(),
        ),
        [
            "interval '1 year 2 months 3 days 04:05:06.5'",
            "interval '-1 hour'",
            "interval '-1 month 1 day'",
            "interval '0'",
        ],
    ),
    (
        pa.array([[1, 2, None], [], None], pa.list_(pa.int32())),
        ["'{1,2,NULL}'::int4[]", "'{}'::int4[]", "NULL::int4[]"],
    ),
    (
        pa.array([["a", "b c", None, "", "NULL", '"q"', "\\", "x,y", "{}"]]),
        ["ARRAY['a', 'b c', NULL, '', 'NULL', '\"q\"', '\\', 'x,y', '{}']::text[]"],
    ),
    (
        pa.array([[[1, 2], [3, 4]]], pa.list_(pa.list_(pa.int64()))),
        ["'{{1,2},{3,4}}'::int8[]"],
    ),
    (
        pa.array([[D("1.50"), D("-2.00")]], pa.list_(pa.decimal128(10, 2))),
        ["'{1.50,-2.00}'::numeric(10,2)[]"],
    ),
]


@pytest.mark.parametrize("values, expressions", CASES, ids=lambda c: str(c)[:40])
def test_text_is_what_postgresql_prints(
    pg: psycopg.Connection, values: pa.Array, expressions: list[str]
) -> None:
    expected = postgres_bytes(pg, "SELECT " + ", ".join(expressions))
    assert ours(values) == expected


def test_random_floats_print_like_postgresql(pg: psycopg.Connection) -> None:
    generator = random.Random(15)
    values = [generator.uniform(-1, 1) * 10 ** generator.randint(-30, 30) for _ in range(300)] + [
        float(generator.randint(-(10**18), 10**18)) for _ in range(300)
    ]
    expected = postgres_bytes(pg, "SELECT " + ", ".join(f"'{v!r}'::float8" for v in values))
    assert ours(pa.array(values)) == expected
    singles = pa.array(
        values[:200] + [float(generator.randint(0, 10**9)) for _ in range(200)], pa.float32()
    )
    expected = postgres_bytes(
        pg, "SELECT " + ", ".join(f"'{v!r}'::float4" for v in singles.to_pylist())
    )
    assert ours(singles) == expected


BINARY_CASES = [
    (pa.array([True, False]), ["true", "false"]),
    (pa.array([7, -7], pa.int8()), ["7::int2", "-7::int2"]),
    (pa.array([300, -300], pa.int16()), ["300::int2", "(-300)::int2"]),
    (pa.array([70000, -70000], pa.int32()), ["70000::int4", "(-70000)::int4"]),
    (pa.array([2**40, -(2**40)], pa.int64()), [f"{2**40}::int8", f"(-{2**40})::int8"]),
    (pa.array([1.5, float("nan")], pa.float32()), ["1.5::float4", "'nan'::float4"]),
    (pa.array([0.1, float("-inf")]), ["0.1::float8", "'-inf'::float8"]),
    (pa.array(["héllo", ""]), ["'héllo'::text", "''::text"]),
    (pa.array([b"\x00\x01"]), ["'\\x0001'::bytea"]),
    (
        pa.array([dt.date(2024, 1, 2), dt.date(1970, 1, 1)]),
        ["'2024-01-02'::date", "'1970-01-01'::date"],
    ),
    (pa.array([dt.time(3, 4, 5, 6)]), ["'03:04:05.000006'::time"]),
    (
        pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 6), dt.datetime(1999, 1, 1)]),
        ["'2024-01-02 03:04:05.000006'::timestamp", "'1999-01-01'::timestamp"],
    ),
    (
        pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        ["'2024-01-02 03:04:05+00'::timestamptz"],
    ),
    (
        pa.array([pa.scalar((14, 3, 5 * 10**9), pa.month_day_nano_interval()).as_py()]),
        ["interval '1 year 2 months 3 days 5 seconds'"],
    ),
    (pa.array([[1, None, 3]], pa.list_(pa.int32())), ["'{1,NULL,3}'::int4[]"]),
]


@pytest.mark.parametrize("values, expressions", BINARY_CASES, ids=lambda c: str(c)[:40])
def test_binary_is_what_postgresql_sends(
    pg: psycopg.Connection, values: pa.Array, expressions: list[str]
) -> None:
    expected = postgres_bytes(pg, "SELECT " + ", ".join(expressions), binary=True)
    assert ours(values, binary=True) == expected


NUMERICS = [
    "0",
    "0.00",
    "21168.23",
    "-0.50",
    "1E-10",
    "123.4567891234",
    "10000",
    "99999999.99",
    "-12345678901234.5678",
    "0.0001",
    "1000000000000000000000.1",
    "7",
]


@pytest.mark.parametrize("text", NUMERICS)
def test_numeric_binary_is_postgresqls(pg: psycopg.Connection, text: str) -> None:
    (expected,) = postgres_bytes(pg, f"SELECT '{text}'::numeric", binary=True)
    assert encode_numeric(D(text)) == expected
    assert decode_numeric(expected) == D(text)
    assert str(decode_numeric(expected)) == str(D(text))


@pytest.mark.parametrize("precision, scale", [(12, 2), (15, 2), (18, 0), (10, 5), (38, 10)])
def test_numeric_columns_in_binary_read_back_exactly(precision: int, scale: int) -> None:
    generator = random.Random(precision * 100 + scale)
    values = [
        D(generator.randint(-(10**precision) + 1, 10**precision - 1)).scaleb(-scale)
        for _ in range(200)
    ] + [D(0).scaleb(-scale), None]
    column = pa.array(values, pa.decimal128(precision, scale))
    loader = NumericBinaryLoader(1700)
    decoded = [None if b is None else loader.load(b) for b in ours(column, binary=True)]
    assert decoded == values
    assert [None if d is None else d.as_tuple().exponent for d in decoded[:-1]] == [-scale] * 201


def test_columns_are_described_like_postgresql(pg: psycopg.Connection) -> None:
    schema = pa.schema(
        [
            ("b", pa.bool_()),
            ("ti", pa.int8()),
            ("si", pa.int16()),
            ("i", pa.int32()),
            ("bi", pa.int64()),
            ("f", pa.float32()),
            ("d", pa.float64()),
            ("dec", pa.decimal128(12, 2)),
            ("s", pa.string()),
            ("bl", pa.binary()),
            ("dt", pa.date32()),
            ("tm", pa.time64("us")),
            ("ts", pa.timestamp("us")),
            ("tz", pa.timestamp("us", tz="UTC")),
            ("iv", pa.month_day_nano_interval()),
            ("li", pa.list_(pa.int32())),
            ("ls", pa.list_(pa.string())),
            ("ld", pa.list_(pa.decimal128(10, 2))),
            ("ld8", pa.list_(pa.date32())),
            ("st", pa.struct([("x", pa.int32())])),
            ("m", pa.map_(pa.int32(), pa.string())),
        ]
    )
    postgres = pg.pgconn.exec_(
        b"SELECT true, 1::int2, 1::int2, 1::int4, 1::int8, 1::float4, 1::float8, "
        b"1::numeric(12,2), 'x'::text, ''::bytea, current_date, localtime, localtimestamp, "
        b"now(), interval '1 day', '{1}'::int4[], '{x}'::text[], '{1}'::numeric(10,2)[], "
        b"'{2024-01-01}'::date[], 'x'::text, 'x'::text"
    )
    described = _parse_row_description(row_description(schema, [False] * len(schema)))
    assert [(oid, size) for _, oid, size, _ in described] == [
        (postgres.ftype(i), postgres.fsize(i)) for i in range(postgres.nfields)
    ]
    assert described[7][3] == postgres.fmod(7) == ((12 << 16) | 2) + 4


def _parse_row_description(message: bytes) -> list[tuple[str, int, int, int]]:
    assert message[:1] == b"T"
    (count,) = struct.unpack_from("!h", message, 5)
    at, out = 7, []
    for _ in range(count):
        end = message.index(b"\x00", at)
        name = message[at:end].decode()
        _, _, oid, size, modifier, _ = struct.unpack_from("!ihihih", message, end + 1)
        out.append((name, oid, size, modifier))
        at = end + 19
    return out


def _parse_data_rows(stream: bytes) -> list[list[bytes | None]]:
    rows, at = [], 0
    while at < len(stream):
        assert stream[at : at + 1] == b"D"
        (length, count) = struct.unpack_from("!ih", stream, at + 1)
        field_at, row = at + 7, []
        for _ in range(count):
            (size,) = struct.unpack_from("!i", stream, field_at)
            field_at += 4
            row.append(None if size < 0 else stream[field_at : field_at + size])
            field_at += max(0, size)
        assert field_at == at + 1 + length
        rows.append(row)
        at = field_at
    return rows


@pytest.mark.parametrize("binary", [False, True])
def test_data_rows_frame_every_value_in_chunks(
    monkeypatch: pytest.MonkeyPatch, binary: bool
) -> None:
    monkeypatch.setattr(encode, "MAX_CHUNK_ROWS", 7)  # many chunks, encoded on the worker
    count = 100
    table = pa.table(
        {
            "id": pa.array(range(count), pa.int64()),
            "name": pa.array([None if i % 3 == 0 else f"n{i}" * (i % 5) for i in range(count)]),
            "price": pa.array(
                [D(i).scaleb(-2) if i % 4 else None for i in range(count)], pa.decimal128(10, 2)
            ),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(count)]),
        }
    )
    table = pa.concat_tables([table.slice(0, 40), table.slice(40)])  # two Arrow chunks
    stream = b"".join(bytes(c) for c in data_rows(table, [binary] * 4))
    rows = _parse_data_rows(stream)
    assert len(rows) == count
    columns = [ours(table.column(i).combine_chunks(), binary) for i in range(4)]
    assert rows == [list(r) for r in zip(*columns, strict=True)]
    assert rows[3][1] is None and rows[1][1] == b"n1"
    if not binary:
        assert rows[5][2] == b"0.05" and rows[5][3] == b"2024-01-06"


def test_no_rows_and_no_columns() -> None:
    assert b"".join(data_rows(pa.table({"a": pa.array([], pa.int64())}), [False])) == b""
    empty_row = pa.table({"a": [1]}).drop_columns(["a"])
    # a row of no columns is still a row
    assert empty_row.num_rows == 1


@pytest.mark.parametrize(
    "oid, text, expected",
    [
        (23, "42", TypedText("42", "INTEGER")),
        (20, "-9000000000", TypedText("-9000000000", "BIGINT")),
        (21, " 7 ", TypedText("7", "SMALLINT")),
        (16, "t", True),
        (16, "false", False),
        (701, "Infinity", TypedText("inf", "DOUBLE")),
        (700, "1.5", TypedText("1.5", "REAL")),
        (1700, "21168.23", D("21168.23")),
        (1082, "2024-01-02", TypedText("2024-01-02", "DATE")),
        (1184, "2024-01-02 03:04:05+02", TypedText("2024-01-02 03:04:05+02", "TIMESTAMPTZ")),
        (25, "x' OR '1'='1", "x' OR '1'='1"),
        (0, "anything", "anything"),
        (0, "2000-01-01 +01:30", "2000-01-01 00:00:00+01:30"),  # JDBC's setDate
        (25, "2000-01-01 +01", "2000-01-01 +01"),
        (1043, "v", "v"),
        (17, "\\x00ff", b"\x00\xff"),
        (1007, "{1,NULL,3}", TypedText('["1", NULL, "3"]', "INTEGER[]")),
        (1009, '{a,"b,c",""}', TypedText('["a", "b,c", ""]', "VARCHAR[]")),
    ],
)
def test_text_parameters(oid: int, text: str, expected: object) -> None:
    assert parameter(oid, text.encode(), binary=False) == expected


def test_binary_parameters(pg: psycopg.Connection) -> None:
    sql = (
        "SELECT 42::int2, 42::int4, (-42)::int8, 1.5::float4, 0.1::float8, true, 'é'::text, "
        "'2024-01-02'::date, '2024-01-02 03:04:05.5'::timestamp, "
        "'2024-01-02 03:04:05+00'::timestamptz, '-12.340'::numeric, '03:04:05'::time"
    )
    oids = [21, 23, 20, 700, 701, 16, 25, 1082, 1114, 1184, 1700, 1083]
    values = [
        parameter(o, b, True) for o, b in zip(oids, postgres_bytes(pg, sql, True), strict=True)
    ]
    assert values == [
        TypedText("42", "SMALLINT"),
        TypedText("42", "INTEGER"),
        TypedText("-42", "BIGINT"),
        TypedText("1.5", "REAL"),
        TypedText("0.1", "DOUBLE"),
        True,
        "é",
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5, 500000),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        D("-12.340"),
        dt.time(3, 4, 5),
    ]
    assert str(values[10]) == "-12.340"


def test_a_parameter_of_the_wrong_type_is_refused() -> None:
    from headwater.serve.pgwire.params import BadParameter

    with pytest.raises(BadParameter, match="OID 23"):
        parameter(23, b"twelve", binary=False)
    with pytest.raises(BadParameter):
        parameter(23, b"\x00\x01", binary=True)


def test_errors_carry_postgresqls_sqlstates() -> None:
    from headwater.errors import UsageError
    from headwater.query.policy import QueryRejected
    from headwater.query.readonly import QueryCancelled, QueryTimeout
    from headwater.serve.pgwire.messages import error_of, sqlstate_of
    from headwater.serve.service import ServerBusy

    cases = [
        (QueryTimeout(1.0, 1.2), "57014"),
        (QueryCancelled(), "57014"),
        (ServerBusy(8, 30.0), "53300"),
        (QueryRejected("SQL that does not parse", "syntax error at or near x"), "42601"),
        (QueryRejected("a DROP statement", "only a SELECT may run"), "42501"),
        (UsageError("the query reads unknown table 'x'", hint="did you mean y?"), "42P01"),
        (UsageError('query failed: Binder Error: Referenced column "c" not found'), "42703"),
        (UsageError("query failed: Conversion Error: Could not convert string"), "22P02"),
        (RuntimeError("internal detail /secret/path"), "XX000"),
    ]
    assert [sqlstate_of(error) for error, _ in cases] == [code for _, code in cases]
    busy = error_of(ServerBusy(8, 30.0))
    assert b"C53300\x00" in busy and b"Htry again shortly" in busy
    assert b"SERROR\x00VERROR\x00" in busy
    hidden = error_of(RuntimeError("internal detail /secret/path"))
    assert b"secret" not in hidden and b"CXX000\x00" in hidden
    cancelled = error_of(QueryCancelled())
    assert b"Mcanceling statement due to user request\x00" in cancelled
