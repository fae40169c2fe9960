"""psycopg 3 against `headwater serve`: the simple and extended protocols, parameters, prepared
statements, binary results, server-side cursors, roles, cancel and time limits, transactions
and settings. Values come back as the Python types psycopg makes of PostgreSQL's."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from tests.serve.test_pg_protocol import (
    BIG_ROWS,
    MAX_ROWS,
    PASSWORD,
    TypesProject,
    build_types_project,
)
from tests.support.serve import RunningServer, running_server

D = decimal.Decimal
UTC = dt.UTC
GUARD_S = 120.0
"""Waiting loops give up after this long: a guard against hanging, not a measurement."""

EVERY_AS_PYTHON = [
    (
        1,
        True,
        7,
        300,
        70000,
        9000000000,
        1.5,
        0.1,
        D("21168.23"),
        D("123.4567891234"),
        "hello, world",
        b"ab",
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        [1, 2, 3],
        ["a", "b c", None],
        "{'x': 1, 'y': z}",
        '{"k": [1, 2]}',
    ),
    (
        2,
        False,
        -7,
        -300,
        -70000,
        -9000000000,
        float("inf"),
        None,
        D("-0.50"),
        D("0E-10"),
        "",
        b"",
        dt.date(1999, 12, 31),
        dt.datetime(2024, 1, 2, 3, 4),
        dt.datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        [],
        ['"q"', "\\"],
        "{'x': NULL, 'y': NULL}",
        "null",
    ),
    (3, *([None] * 18)),
]


@pytest.fixture(scope="module")
def types_project(tmp_path_factory: pytest.TempPathFactory) -> TypesProject:
    return build_types_project(tmp_path_factory.mktemp("pgserve"))


@pytest.fixture(scope="module")
def pg_server(types_project: TypesProject) -> Iterator[RunningServer]:
    with running_server(types_project.root) as server:
        yield server


def dsn(server: RunningServer, user: str = "ann", password: str = PASSWORD) -> str:
    return server.pg_dsn(user, password)


@pytest.fixture
def connection(pg_server: RunningServer) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn(pg_server), autocommit=True) as conn:
        yield conn


def _same(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """NaN compares unequal to itself: stand it in by None (row 2, column d)."""
    return [tuple(None if isinstance(v, float) and v != v else v for v in row) for row in rows]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_every_type_reads_back_as_python_values(
    connection: psycopg.Connection, binary: bool
) -> None:
    cursor = connection.cursor(binary=binary)
    rows = cursor.execute("select * from types.every order by id").fetchall()
    assert _same(rows) == EVERY_AS_PYTHON
    assert rows[1][7] != rows[1][7]  # NaN
    scales = [r[c].as_tuple().exponent for c in (8, 9) for r in rows[:2]]
    assert scales == [-2, -2, -10, -10]
    assert rows[0][14].utcoffset() == dt.timedelta(0) and rows[0][13].tzinfo is None
    description = {c.name: (c.type_code, c.precision, c.scale) for c in cursor.description}
    assert description["dec"] == (1700, 12, 2) and description["bigdec"] == (1700, 38, 10)
    assert [description[n][0] for n in ("b", "ti", "si", "i", "bi", "f", "d", "s", "bl")] == [
        16,
        21,
        21,
        23,
        20,
        700,
        701,
        25,
        17,
    ]
    assert [description[n][0] for n in ("dt", "ts", "tstz", "li", "ls", "st")] == [
        1082,
        1114,
        1184,
        1007,
        1009,
        25,
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_parameters_of_every_kind(connection: psycopg.Connection, binary: bool) -> None:
    cursor = connection.cursor(binary=binary)
    values = [
        41,
        -9000000000,
        "x'y",
        dt.date(2024, 1, 2),
        D("1.50"),
        None,
        True,
        2.5,
        dt.datetime(2024, 1, 2, 3, 4, 5, 6),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        b"\x00\x01",
        dt.time(3, 4, 5),
    ]
    row = cursor.execute(
        "select %s + 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s", values
    ).fetchone()
    assert row == (42, *values[1:])
    assert str(row[4]) == "1.50"


def test_parameters_select_rows_and_cannot_inject(connection: psycopg.Connection) -> None:
    rows = connection.execute(
        "select id, label from types.big where id between %s and %s and label <> %s order by id",
        [10, 12, "row 11"],
    ).fetchall()
    assert rows == [(10, "row 10"), (12, "row 12")]
    injected = connection.execute(
        "select count(*) from types.big where label = %s", ["x' or '1'='1"]
    ).fetchone()
    assert injected == (0,)
    by_date = connection.execute(
        "select id from types.every where dt = %s or ts = %s order by id",
        [dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4)],
    ).fetchall()
    assert by_date == [(1,), (2,)]


def test_prepared_statements_run_again_with_new_parameters(
    connection: psycopg.Connection,
) -> None:
    found = [
        connection.execute(
            "select label from types.big where id = %s", [i], prepare=True
        ).fetchone()
        for i in range(8)
    ]
    assert found == [(f"row {i}",) for i in range(8)]
    # psycopg prepares a statement by itself once it ran it often enough
    totals = [
        connection.execute("select count(*) from types.big where id < %s", [i]).fetchone()
        for i in range(10)
    ]
    assert totals == [(i,) for i in range(10)]
    described = connection.pgconn.describe_prepared(b"")
    assert described.status == psycopg.pq.ExecStatus.COMMAND_OK


def test_describe_gives_parameter_and_column_types(connection: psycopg.Connection) -> None:
    pgconn = connection.pgconn
    prepared = pgconn.prepare(
        b"probe", b"select dec, dt, s from types.every where id = $1 and s <> $2", [20, 0]
    )
    assert prepared.status == psycopg.pq.ExecStatus.COMMAND_OK
    described = pgconn.describe_prepared(b"probe")
    assert [described.param_type(i) for i in range(described.nparams)] == [20, 25]
    assert [described.ftype(i) for i in range(described.nfields)] == [1700, 1082, 25]
    assert described.fmod(0) == ((12 << 16) | 2) + 4
    connection.execute("DEALLOCATE probe")
    with pytest.raises(errors.InvalidSqlStatementName):
        connection.execute("DEALLOCATE probe")


def test_a_server_side_cursor_fetches_in_chunks(pg_server: RunningServer) -> None:
    with psycopg.connect(dsn(pg_server)) as conn:
        with conn.cursor(name="big_rows") as cursor:
            cursor.execute("select id, label from types.big where id < %s order by id", [2500])
            seen: list[int] = []
            while chunk := cursor.fetchmany(700):
                assert len(chunk) <= 700
                seen.extend(row[0] for row in chunk)
            assert seen == list(range(2500))
        with conn.cursor(name="scroll", scrollable=True) as cursor:
            cursor.execute("select id from types.big order by id limit 50")
            assert cursor.fetchone() == (0,)
            cursor.scroll(10)
            assert cursor.fetchone() == (11,)
            cursor.scroll(5, mode="absolute")
            assert cursor.fetchone() == (5,)
            assert len(cursor.fetchall()) == 44
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.commit()
        with conn.cursor(name="typed", binary=True) as cursor:
            cursor.execute("select * from types.every order by id")
            assert _same(cursor.fetchmany(2) + cursor.fetchall()) == EVERY_AS_PYTHON
        with conn.cursor(name="held", withhold=True) as cursor:
            cursor.execute("select id from types.big where id < 5 order by id")
            conn.commit()  # a cursor WITH HOLD outlives its transaction
            assert cursor.fetchall() == [(i,) for i in range(5)]


def test_a_cursor_outside_a_transaction_needs_hold(connection: psycopg.Connection) -> None:
    with pytest.raises(errors.NoActiveSqlTransaction):
        connection.execute('DECLARE "c" CURSOR FOR select 1')
    connection.execute('DECLARE "c" CURSOR WITH HOLD FOR select id from types.big order by id')
    assert connection.execute('FETCH 2 FROM "c"').fetchall() == [(0,), (1,)]
    assert connection.execute('MOVE FORWARD 3 FROM "c"').statusmessage == "MOVE 3"
    assert connection.execute('FETCH NEXT FROM "c"').fetchall() == [(5,)]
    connection.execute('CLOSE "c"')
    with pytest.raises(errors.InvalidCursorName):
        connection.execute('FETCH 1 FROM "c"')


def test_a_cut_result_says_so(connection: psycopg.Connection) -> None:
    notices: list[tuple[str | None, str | None, str | None]] = []
    connection.add_notice_handler(
        lambda d: notices.append((d.severity, d.sqlstate, d.message_primary))
    )
    rows = connection.execute("select id from types.big").fetchall()
    assert len(rows) == MAX_ROWS
    assert [n[:2] for n in notices] == [("WARNING", "01000")]
    assert f"cut at {MAX_ROWS} rows" in (notices[0][2] or "")


@pytest.mark.parametrize(
    "sql", ["select * from types.every", "select * from secret.hidden", "select * from hidden"]
)
def test_a_role_sees_no_table_it_may_not_read(pg_server: RunningServer, sql: str) -> None:
    with psycopg.connect(dsn(pg_server, "narrow"), autocommit=True) as conn:
        assert conn.execute("select count(*) from types.big").fetchone() == (BIG_ROWS,)
        with pytest.raises(errors.UndefinedTable) as raised:
            conn.execute(sql)
        assert raised.value.sqlstate == "42P01"
        assert "every" not in (raised.value.diag.message_hint or "")
        assert conn.execute("select 1").fetchone() == (1,)


def test_cancel_stops_the_query_and_the_connection_goes_on(connection: psycopg.Connection) -> None:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            connection.execute("select count(*) from range(1000000000000) a")
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + GUARD_S
    while thread.is_alive() and time.monotonic() < deadline:
        if connection.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
            time.sleep(0.3)  # let the query start in the engine
            connection.cancel_safe()
            break
        time.sleep(0.05)
    thread.join(GUARD_S)
    assert len(failure) == 1 and isinstance(failure[0], errors.QueryCanceled)
    assert failure[0].sqlstate == "57014"
    assert connection.execute("select count(*) from types.big").fetchone() == (BIG_ROWS,)


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[RunningServer]:
    build_types_project(tmp_path, limits="\n                    ".join(["max_concurrent: 2"]))
    config = (tmp_path / "headwater.yml").read_text()
    (tmp_path / "headwater.yml").write_text(config.replace("timeout: 60s", "timeout: 1s"))
    with running_server(tmp_path) as server:
        yield server


def test_the_time_limit_cancels_a_runaway_query(slow_server: RunningServer) -> None:
    with psycopg.connect(dsn(slow_server), autocommit=True) as conn:
        with pytest.raises(errors.QueryCanceled) as raised:
            conn.execute("select count(*) from range(1000000000000) a")
        assert raised.value.sqlstate == "57014"
        assert "ran longer than its time limit" in str(raised.value)
        assert conn.execute("select 7").fetchone() == (7,)


def test_transaction_status_follows_begin_failure_and_rollback(pg_server: RunningServer) -> None:
    with psycopg.connect(dsn(pg_server)) as conn:
        status = psycopg.pq.TransactionStatus
        conn.execute("select 1")
        assert conn.info.transaction_status == status.INTRANS
        with pytest.raises(errors.UndefinedTable):
            conn.execute("select * from nowhere")
        assert conn.info.transaction_status == status.INERROR
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
        assert conn.info.transaction_status == status.IDLE
        assert conn.execute("select 2").fetchone() == (2,)
        conn.commit()
        with conn.transaction():
            assert conn.execute("select count(*) from types.every").fetchone() == (3,)
        assert conn.info.transaction_status == status.IDLE


def test_settings_are_set_shown_and_reported(pg_server: RunningServer) -> None:
    with psycopg.connect(dsn(pg_server), autocommit=True, application_name="tests") as conn:
        assert conn.info.parameter_status("application_name") == "tests"
        assert conn.info.server_version == 150000
        conn.execute("SET application_name TO 'other'")
        assert conn.info.parameter_status("application_name") == "other"
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET search_path = types")
        assert conn.execute("SHOW search_path").fetchone() == ("types",)
        conn.execute("RESET ALL")
        assert conn.execute("SHOW application_name").fetchone() == ("tests",)
        assert conn.info.parameter_status("application_name") == "tests"
        with pytest.raises(errors.FeatureNotSupported):
            conn.execute("SET client_encoding = 'LATIN1'")
        with pytest.raises(errors.CantChangeRuntimeParam):
            conn.execute("SET server_version = '16'")
        conn.execute("DISCARD ALL")
        assert conn.execute("select 1").fetchone() == (1,)


@pytest.mark.parametrize(
    "user, password",
    [("ann", "wrong"), ("nobody", PASSWORD), ("gone", PASSWORD)],
    ids=["wrong-password", "unknown-user", "revoked-user"],
)
def test_sign_in_is_refused_alike(pg_server: RunningServer, user: str, password: str) -> None:
    with pytest.raises(psycopg.OperationalError) as raised:
        psycopg.connect(dsn(pg_server, user, password))
    assert "password authentication failed" in str(raised.value)
    assert f'"{user}"' not in str(raised.value) and password not in str(raised.value)


def test_a_token_is_a_password_for_a_user_without_one(
    pg_server: RunningServer, types_project: TypesProject
) -> None:
    with psycopg.connect(dsn(pg_server, "tok", types_project.token), autocommit=True) as conn:
        assert conn.execute("select count(*) from types.big").fetchone() == (BIG_ROWS,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(pg_server, "tok", PASSWORD))
