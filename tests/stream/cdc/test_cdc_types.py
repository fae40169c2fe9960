"""PostgreSQL types through change data capture: every value arrives the same way by the
initial copy (COPY text in the slot's snapshot), by a streamed insert and by a streamed update
(pgoutput's text), and equals what PostgreSQL holds (read by psycopg, not through Headwater).

The writer's session is in a zone that is not UTC, so timestamptz values must not depend on
it. A generated column is not sent by PostgreSQL's logical replication: the mirror leaves it
out and keeps every other column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import ProjectFactory
from tests.stream.cdc.workload import (
    CdcDatabase,
    connect,
    drop_slots,
    mirror_problems,
    mirror_table,
    run,
    source_file,
)
from tests.support.postgres import PostgresServer

TABLE = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s "great"');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE DOMAIN money2 AS numeric(10, 2);
CREATE TABLE t (
    id int PRIMARY KEY,
    n numeric(10, 2), nu numeric, nwide numeric(40, 5),
    i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, b bool,
    t text, vc varchar(20), ch char(5),
    d date, ts timestamp, tstz timestamptz, iv interval, tm time,
    u uuid, j json, jb jsonb, by bytea, e mood, dp positive, dm money2,
    ia int[], ta text[],
    g numeric GENERATED ALWAYS AS (n * 2) STORED
)
"""

VALUES: dict[str, tuple[str, str, str, str]] = {
    # column: SQL literals of four rows: ordinary values; the extremes (NaN and infinities,
    # empty text, empty bytea and arrays); more extremes and text that looks like the copy's
    # NULL marker; quotes, tabs, newlines, emoji. A fifth row is NULL everywhere.
    "n": ("1234.5", "'NaN'", "-99999999.99", "0"),
    "nu": ("3.14159265358979", "'Infinity'", "'-Infinity'", "0.1"),
    "nwide": ("123456789012345678901234567890.12345", "'NaN'", "-1.5e-5", "0"),
    "i2": ("1", "-32768", "32767", "0"),
    "i4": ("2", "2147483647", "-2147483648", "0"),
    "i8": ("3", "-9223372036854775808", "9223372036854775807", "0"),
    "f4": ("1.1", "'NaN'", "'-Infinity'", "-0.0"),
    "f8": ("2.2", "'Infinity'", "'NaN'", "1e-300"),
    "b": ("true", "false", "true", "false"),
    "t": ("'plain'", "''", "E'\\\\N'", "E'a\\tb \"c\" ''d'' ,e\\\\f é€ 😀 {x} \\\\N'"),
    "vc": ("'v'", "''", "E'line1\\nline2'", "'\\N'"),
    "ch": ("'ab'", "''", "'abcde'", "' x'"),
    "d": ("'2024-02-29'", "'0001-01-01'", "'9999-12-31'", "'2000-01-01'"),
    "ts": (
        "'2024-02-29 23:59:59.999999'",
        "'1900-01-01 00:00:00'",
        "'9999-12-31 23:59:59.999999'",
        "'2000-01-01 00:00:00'",
    ),
    "tstz": (  # the first in the writer's zone
        "'2024-03-31 01:30:00.123456'",
        "'1970-01-01 00:00:00+00'",
        "'2038-01-19 03:14:08+14'",
        "'2000-01-01 00:00:00-03:30'",
    ),
    "iv": (
        "'1 year 2 mons 3 days 04:05:06.789'",
        "'-1 days +02:03:00'",
        "'-178000000 years'",
        "'0 seconds'",
    ),
    "tm": ("'23:59:59.999999'", "'00:00:00'", "'12:00:00.5'", "'00:00:00.000001'"),
    "u": (
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        "'00000000-0000-0000-0000-000000000000'",
        "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    ),
    "j": ("""'{"b": 1,  "a": [1, 2]}'""", "'[]'", "'null'", """'{"k": "\\u0000x"}'"""),
    "jb": ("""'{"b": 1, "a": [1, 2]}'""", "'{}'", """'"str"'""", """'{"é": [null]}'"""),
    "by": ("'\\x00ff00'", "'\\x'", "'\\x000000'", "'\\x5c0a00'"),
    "e": ("'ok'", """'it''s "great"'""", "'sad'", "'ok'"),
    "dp": ("5", "1", "2147483647", "7"),
    "dm": ("12.34", "-0.01", "99999999.99", "0.00"),
    "ia": ("'{1,NULL,3}'", "'{}'", "'{-1,0,2147483647}'", "'{NULL,NULL}'"),
    "ta": (
        """'{"a,b",NULL,"NULL","","{x}","q\\"","back\\\\slash"," sp "}'""",
        "'{}'",
        "'{NULL}'",
        """'{"\\\\\\\\",",","}"}'""",
    ),
}
COLUMNS = list(VALUES)
ROWS = [[VALUES[c][i] for c in COLUMNS] for i in range(4)] + [["NULL"] * len(COLUMNS)]

MIRROR_TYPES = {
    "id": "int32",
    "n": "decimal128(10, 2)",
    "nu": "double",
    "nwide": "double",
    "i2": "int16",
    "i4": "int32",
    "i8": "int64",
    "f4": "float",
    "f8": "double",
    "b": "bool",
    "t": "string",
    "vc": "string",
    "ch": "string",
    "d": "date32[day]",
    "ts": "timestamp[us]",
    "tstz": "timestamp[us, tz=UTC]",
    "iv": "string",
    "tm": "string",
    "u": "string",
    "j": "string",
    "jb": "string",
    "by": "binary",
    "e": "string",
    "dp": "int32",
    "dm": "decimal128(10, 2)",
    "ia": "list<element: int32>",
    "ta": "list<element: string>",
}
"""The mirror's column types (no `g`: PostgreSQL does not publish generated columns)."""

COPIED, INSERTED, UPDATED = 0, 100, 200
"""Each row's id offset: copied by the first run, inserted after it, or inserted as NULLs
before it and updated to the values after it."""


@pytest.fixture
def types_db(postgres_server: PostgresServer) -> Iterator[CdcDatabase]:
    name = postgres_server.create_database()
    yield CdcDatabase(postgres_server, name, f"hw_{uuid.uuid4().hex[:16]}")
    drop_slots(postgres_server, name)


def insert(connection: psycopg.Connection[object], row_id: int, values: list[str]) -> None:
    listed = ", ".join(values)
    connection.execute(f"INSERT INTO t (id, {', '.join(COLUMNS)}) VALUES ({row_id}, {listed})")


def test_every_type_arrives_the_same_by_copy_and_by_stream(
    types_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    with connect(types_db.dsn, autocommit=True) as connection:  # not in UTC
        connection.execute(TABLE)
        for number, values in enumerate(ROWS):
            insert(connection, COPIED + number, values)
            connection.execute(f"INSERT INTO t (id) VALUES ({UPDATED + number})")
    table = {"mode": "cdc", "changelog": True}
    project = make_project(source_file(types_db.url, types_db.slot, {"t": table}))
    warehouse = project.definition.warehouse
    run(project)

    with connect(types_db.dsn, autocommit=True) as connection:
        for number, values in enumerate(ROWS):
            insert(connection, INSERTED + number, values)
            settings = ", ".join(f"{c} = {v}" for c, v in zip(COLUMNS, values, strict=True))
            connection.execute(f"UPDATE t SET {settings} WHERE id = {UPDATED + number}")
    run(project)

    mirror = mirror_table(warehouse, "t")
    assert {f.name: str(f.type) for f in mirror.schema} == MIRROR_TYPES
    assert mirror_problems(types_db.dsn, warehouse, "t", ("id",)) == []
    by_id = {row.pop("id"): row for row in mirror.to_pylist()}
    for number in range(len(ROWS)):
        copied, inserted, updated = (by_id[offset + number] for offset in (0, 100, 200))
        assert repr(inserted) == repr(copied), f"row {number}: stream insert != copy"
        assert repr(updated) == repr(copied), f"row {number}: stream update != copy"
    # the change log holds the same values
    log = {(r["_op"], r["id"]): r for r in mirror_table(warehouse, "t__changes").to_pylist()}
    for number in range(len(ROWS)):
        read, created = log[("r", COPIED + number)], log[("c", INSERTED + number)]
        assert [repr(read[c]) for c in MIRROR_TYPES if c != "id"] == [
            repr(created[c]) for c in MIRROR_TYPES if c != "id"
        ]


def test_values_the_mirror_types_cannot_hold(
    types_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    """numeric(p, s) NaN has no decimal: the mirror holds NULL (by copy and by stream), and
    the capture goes on."""
    types_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, n numeric(10, 2))",
        "INSERT INTO t VALUES (1, 'NaN'), (2, 1.5)",
    )
    project = make_project(source_file(types_db.url, types_db.slot, {"t": {"mode": "cdc"}}))
    run(project)
    types_db.execute("INSERT INTO t VALUES (3, 'NaN')", "UPDATE t SET n = 'NaN' WHERE id = 2")
    run(project)
    rows = mirror_table(project.definition.warehouse, "t").sort_by("id").to_pylist()
    assert rows == [{"id": 1, "n": None}, {"id": 2, "n": None}, {"id": 3, "n": None}]


def test_a_domain_keeps_its_precision_on_the_stream(
    types_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    """A domain over numeric(10, 2): its columns' own type modifier is -1 in the relation
    message; the capture must not take that for a change of type."""
    types_db.execute(
        "CREATE DOMAIN money2 AS numeric(10, 2)",
        "CREATE TABLE t (id int PRIMARY KEY, m money2)",
        "INSERT INTO t VALUES (1, 1.5)",
    )
    project = make_project(source_file(types_db.url, types_db.slot, {"t": {"mode": "cdc"}}))
    run(project)
    types_db.execute("INSERT INTO t VALUES (2, 2.25)", "UPDATE t SET m = 3 WHERE id = 1")
    run(project)
    assert mirror_problems(types_db.dsn, project.definition.warehouse, "t", ("id",)) == []
