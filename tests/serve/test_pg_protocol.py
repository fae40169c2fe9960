"""The PostgreSQL protocol of `headwater serve` with real clients: Debian's psql 15, and a raw
protocol client for what drivers do that psql does not (row-limited Execute, Describe of a
statement, cancel keys) and for broken clients.

The served project (`build_types_project`) has a table with a column of every type a Delta
table holds, a 20,000-row table (the server's row cap is 5,000) and a table only the admin
reads; `pg_server` runs it for the whole module. `tests/serve/test_pg_psycopg.py` uses the
same project.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

PASSWORD = "pw-Ann-15"
ADMIN_PASSWORD = "pw-Boss-15"
EVERY = """
select * from (values
  (1, true, 7::tinyint, 300::smallint, 70000::integer, 9000000000::bigint, 1.5::float,
   0.1::double, 21168.23::decimal(12,2), 123.4567891234::decimal(38,10), 'hello, world',
   'ab'::blob, date '2024-01-02', timestamp '2024-01-02 03:04:05.123456',
   timestamptz '2024-01-02 03:04:05+00', [1, 2, 3], ['a', 'b c', NULL], {'x': 1, 'y': 'z'},
   '{"k": [1, 2]}'),
  (2, false, -7::tinyint, -300::smallint, -70000::integer, -9000000000::bigint, 'inf'::float,
   'nan'::double, -0.50::decimal(12,2), 0::decimal(38,10), '', ''::blob, date '1999-12-31',
   timestamp '2024-01-02 03:04:00', timestamptz '1999-12-31 23:59:59.5+00', [], ['"q"', '\\'],
   {'x': NULL, 'y': NULL}, 'null'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL)
) t(id, b, ti, si, i, bi, f, d, dec, bigdec, s, bl, dt, ts, tstz, li, ls, st, js)
"""
EVERY_AS_PSQL_PRINTS = [
    "1|t|7|300|70000|9000000000|1.5|0.1|21168.23|123.4567891234|hello, world|\\x6162|2024-01-02|"
    '2024-01-02 03:04:05.123456|2024-01-02 03:04:05+00|{1,2,3}|{a,"b c",NULL}|'
    "{'x': 1, 'y': z}|{\"k\": [1, 2]}",
    "2|f|-7|-300|-70000|-9000000000|Infinity|NaN|-0.50|0.0000000000||\\x|1999-12-31|"
    '2024-01-02 03:04:00|1999-12-31 23:59:59.5+00|{}|{"\\"q\\"","\\\\"}|'
    "{'x': NULL, 'y': NULL}|null",
    "3" + "|" * 18,
]
BIG_ROWS = 20_000
MAX_ROWS = 5_000


@dataclass
class TypesProject:
    root: Path
    token: str
    """The API token of `tok`, an analyst without a password."""
    ann_token: str


def build_types_project(root: Path, limits: str = "") -> TypesProject:
    """Write and build the served project in `root` and add its users: ann (analyst,
    password), tok (analyst, token only), boss (admin), narrow (reads types.big only) and
    gone (revoked)."""
    write_files(
        root,
        {
            "headwater.yml": f"""
                name: pgserve
                threads: 2
                serve:
                  roles:
                    analyst:
                      read: ["types.*"]
                    narrow:
                      read: ["types.big"]
                  limits:
                    timeout: 60s
                    max_rows: {MAX_ROWS}
                    {limits}
            """,
            "models/types/every.sql": EVERY,
            "models/types/big.sql": (
                f"select range as id, range * 2 as doubled, 'row ' || range as label "
                f"from range({BIG_ROWS})"
            ),
            "models/secret/hidden.sql": "select 'the secret' as v",
        },
    )
    headwater(root, "run")
    ann_token = add_user(root, "ann", "analyst", password=PASSWORD)
    token = add_user(root, "tok", "analyst")
    add_user(root, "boss", "admin", password=ADMIN_PASSWORD)
    add_user(root, "narrow", "narrow", password=PASSWORD)
    add_user(root, "gone", "analyst", password=PASSWORD)
    headwater(root, "users", "revoke", "gone")
    return TypesProject(root, token, ann_token)


@pytest.fixture(scope="module")
def types_project(tmp_path_factory: pytest.TempPathFactory) -> TypesProject:
    return build_types_project(tmp_path_factory.mktemp("pgserve"))


@pytest.fixture(scope="module")
def pg_server(types_project: TypesProject) -> Iterator[RunningServer]:
    with running_server(types_project.root) as server:
        yield server


def psql(
    server: RunningServer, *commands: str, user: str = "ann", password: str = PASSWORD
) -> subprocess.CompletedProcess[str]:
    """Run psql (unaligned, tuples only, `|` between fields) with one `-c` per command."""
    dsn = f"host={server.pg_host} port={server.pg_port} user={user} dbname=headwater"
    args = ["psql", "-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=0", dsn]
    for command in commands:
        args += ["-c", command]
    env = {**os.environ, "PGPASSWORD": password, "PGSSLMODE": "prefer", "PGCONNECT_TIMEOUT": "30"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)


# -- psql --------------------------------------------------------------------------------------


def test_psql_reads_every_type_as_postgresql_prints_it(pg_server: RunningServer) -> None:
    done = psql(pg_server, "select * from types.every order by id")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EVERY_AS_PSQL_PRINTS


def test_psql_expressions_of_types_tables_cannot_hold(pg_server: RunningServer) -> None:
    done = psql(
        pg_server,
        "select time '03:04:05.120' as t, interval '1 year 2 months 3 days 04:05:06.5' as i, "
        "uuid '12345678-1234-5678-1234-567812345678' as u, 1e15::double as big, "
        "1e-5::double as small, 12345678::float as f4, [[1, 2], [3]] as nested, "
        "map([1], ['z']) as m, 18446744073709551615::ubigint as ub",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "03:04:05.12|1 year 2 mons 3 days 04:05:06.5|12345678-1234-5678-1234-567812345678|"
        "1e+15|1e-05|1.2345678e+07|{{1,2},{3}}|{1=z}|18446744073709551615"
    ]


@pytest.mark.parametrize(
    "user, password",
    [("ann", "wrong"), ("nobody", PASSWORD), ("gone", PASSWORD), ("tok", "wrong")],
    ids=["wrong-password", "unknown-user", "revoked-user", "wrong-token"],
)
def test_psql_refuses_a_bad_sign_in_without_saying_why(
    pg_server: RunningServer, user: str, password: str
) -> None:
    done = psql(pg_server, "select 1", user=user, password=password)
    assert done.returncode == 2
    assert "FATAL:  password authentication failed\n" in done.stderr
    assert f'"{user}"' not in done.stderr and password not in done.stderr
    assert done.stdout == ""


def test_a_token_signs_in_only_a_user_without_a_password(
    pg_server: RunningServer, types_project: TypesProject
) -> None:
    done = psql(
        pg_server, "select count(*) from types.big", user="tok", password=types_project.token
    )
    assert (done.returncode, done.stdout.strip()) == (0, str(BIG_ROWS))
    # ann has a password: SCRAM is asked, and her token is not her password
    done = psql(pg_server, "select 1", user="ann", password=types_project.ann_token)
    assert done.returncode == 2 and "password authentication failed" in done.stderr
    done = psql(pg_server, "select 1", user="boss", password=types_project.token)
    assert done.returncode == 2 and "password authentication failed" in done.stderr


def test_psql_transaction_fails_until_rollback(pg_server: RunningServer) -> None:
    done = psql(
        pg_server,
        "BEGIN",
        "select count(*) from types.big",
        "select * from no_such_table",
        "select 1",
        "ROLLBACK",
        "select 2",
        "COMMIT",
    )
    lines = done.stdout.splitlines()
    assert lines == ["BEGIN", str(BIG_ROWS), "ROLLBACK", "2", "COMMIT"]
    assert "ERROR:  the query reads unknown table 'no_such_table'" in done.stderr
    assert "ERROR:  current transaction is aborted" in done.stderr
    assert "WARNING:  there is no transaction in progress" in done.stderr


def test_psql_set_and_show(pg_server: RunningServer) -> None:
    done = psql(
        pg_server,
        "SET application_name = 'headwater tests'",
        "SHOW application_name",
        "SET search_path TO types, public",
        "SHOW search_path",
        "SET extra_float_digits = 3",
        "SET datestyle = 'ISO, MDY'",
        "SHOW server_version",
        "SHOW transaction isolation level",
        "SHOW standard_conforming_strings",
        "SHOW client_encoding",
        "SHOW DateStyle",
        "SHOW TimeZone",
        "SHOW max_identifier_length",
        "RESET application_name",
        "SHOW application_name",
        "SHOW no_such_setting",
    )
    assert done.stdout.splitlines() == [
        "SET",
        "headwater tests",
        "SET",
        "types, public",
        "SET",
        "SET",
        "15.0",
        "read committed",
        "on",
        "UTF8",
        "ISO, MDY",
        "UTC",
        "63",
        "RESET",
        "psql",
    ]
    assert 'unrecognized configuration parameter "no_such_setting"' in done.stderr


def test_psql_is_told_when_a_result_is_cut(pg_server: RunningServer) -> None:
    done = psql(pg_server, "select id from types.big order by id")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [str(i) for i in range(MAX_ROWS)]
    assert f"WARNING:  the result was cut at {MAX_ROWS} rows" in done.stderr


def test_psql_errors_carry_sqlstate_and_hint(pg_server: RunningServer) -> None:
    done = psql(pg_server, "\\set VERBOSITY verbose", "drop table types.big")
    assert "ERROR:  42501: query refused: a DROP statement" in done.stderr
    assert "HINT:  run one SELECT" in done.stderr
    done = psql(pg_server, "\\set VERBOSITY verbose", "selec 1")
    assert "ERROR:  42601:" in done.stderr


# -- a raw protocol client ---------------------------------------------------------------------


class Raw:
    """The PostgreSQL protocol by hand, for what psql and psycopg do not send."""

    def __init__(self, server: RunningServer) -> None:
        assert server.pg_host and server.pg_port
        self.sock = socket.create_connection((server.pg_host, server.pg_port), timeout=300)
        self.buffer = b""
        self.process_id = self.secret_key = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        self.sock.sendall(kind + struct.pack("!i", len(payload) + 4) + payload)

    def startup(self, user: str, password: str) -> list[tuple[bytes, bytes]]:
        body = (
            struct.pack("!i", 196608)
            + b"".join(
                k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in {"user": user}.items()
            )
            + b"\x00"
        )
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        kind, payload = self.read()
        assert kind == b"R" and struct.unpack("!i", payload[:4])[0] == 3  # cleartext
        self.send(b"p", password.encode() + b"\x00")
        messages = self.until_ready()
        for kind, payload in messages:
            if kind == b"K":
                self.process_id, self.secret_key = struct.unpack("!iI", payload)
        return messages

    def _fill(self, count: int) -> None:
        while len(self.buffer) < count:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buffer += data

    def read(self) -> tuple[bytes, bytes]:
        self._fill(5)
        kind, (length,) = self.buffer[:1], struct.unpack("!i", self.buffer[1:5])
        self._fill(1 + length)
        payload, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
        return kind, payload

    def until_ready(self) -> list[tuple[bytes, bytes]]:
        messages = []
        while True:
            kind, payload = self.read()
            messages.append((kind, payload))
            if kind == b"Z":
                return messages

    def parse(self, sql: str, oids: tuple[int, ...] = (), name: str = "") -> None:
        payload = name.encode() + b"\x00" + sql.encode() + b"\x00"
        self.send(b"P", payload + struct.pack(f"!h{len(oids)}I", len(oids), *oids))

    def bind(self, params: tuple[bytes | None, ...] = (), portal: str = "", name: str = "") -> None:
        payload = portal.encode() + b"\x00" + name.encode() + b"\x00" + struct.pack("!h", 0)
        payload += struct.pack("!h", len(params))
        for value in params:
            payload += (
                struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
            )
        self.send(b"B", payload + struct.pack("!h", 0))

    def execute(self, limit: int = 0, portal: str = "") -> None:
        self.send(b"E", portal.encode() + b"\x00" + struct.pack("!i", limit))


def kinds(messages: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(kind for kind, _ in messages)


def fields(payload: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse or NoticeResponse."""
    out = {}
    for part in payload.split(b"\x00"):
        if part:
            out[part[:1].decode()] = part[1:].decode()
    return out


def rows_of(messages: list[tuple[bytes, bytes]]) -> list[list[bytes | None]]:
    out = []
    for kind, payload in messages:
        if kind != b"D":
            continue
        (count,) = struct.unpack_from("!h", payload)
        at, row = 2, []
        for _ in range(count):
            (size,) = struct.unpack_from("!i", payload, at)
            at += 4
            row.append(None if size < 0 else payload[at : at + size])
            at += max(size, 0)
        out.append(row)
    return out


@pytest.fixture
def raw(pg_server: RunningServer, types_project: TypesProject) -> Iterator[Raw]:
    client = Raw(pg_server)
    messages = client.startup("tok", types_project.token)
    assert kinds(messages)[-1:] == b"Z"
    yield client
    client.close()


def test_startup_reports_settings_and_a_cancel_key(
    pg_server: RunningServer, types_project: TypesProject
) -> None:
    client = Raw(pg_server)
    messages = client.startup("tok", types_project.token)
    client.close()
    status = dict(p[:-1].decode().split("\x00", 1) for k, p in messages if k == b"S")
    assert status["server_version"] == "15.0"
    assert status["server_encoding"] == status["client_encoding"] == "UTF8"
    assert status["DateStyle"] == "ISO, MDY" and status["TimeZone"] == "UTC"
    assert status["integer_datetimes"] == status["standard_conforming_strings"] == "on"
    assert status["session_authorization"] == "tok"
    assert kinds(messages) == b"R" + b"S" * len(status) + b"KZ"
    assert client.process_id > 0


def test_execute_with_a_row_limit_suspends_and_resumes(raw: Raw) -> None:
    raw.parse("select id from types.big where id < $1 order by id", (20,))
    raw.bind((b"7",))
    raw.send(b"D", b"P\x00")
    raw.execute(limit=3)
    raw.execute(limit=3)
    raw.execute(limit=3)
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"12TDDDsDDDsDC" + b"Z"
    assert [r[0] for r in rows_of(messages)] == [str(i).encode() for i in range(7)]
    assert messages[-2][1] == b"SELECT 1\x00"


def test_describe_statement_does_not_run_the_query(raw: Raw) -> None:
    # run for real, the cast of 'row 0' fails: the description does not run it
    raw.parse("select id, cast(label as int) as n, doubled from types.big where id < $1", (0,))
    raw.send(b"D", b"S\x00")
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"1tTZ"
    assert messages[1][1] == struct.pack("!hI", 1, 25)  # an unspecified parameter is text
    description = messages[2][1]
    assert b"id\x00" in description and b"n\x00" in description
    oids = [
        struct.unpack_from("!I", description, description.index(name) + len(name) + 6)[0]
        for name in (b"id\x00", b"n\x00", b"doubled\x00")
    ]
    assert oids == [20, 23, 20]
    raw.bind((b"3",))
    raw.execute()
    raw.send(b"S")
    messages = raw.until_ready()
    error = fields(next(p for k, p in messages if k == b"E"))
    assert error["C"] == "22P02" and error["S"] == "ERROR"


def _oids(description: bytes) -> list[int]:
    (count,) = struct.unpack_from("!h", description)
    at, out = 2, []
    for _ in range(count):
        at = description.index(b"\x00", at) + 1
        out.append(struct.unpack_from("!I", description, at + 6)[0])
        at += 18
    return out


def test_declared_parameter_types_are_the_column_types(raw: Raw) -> None:
    # as JDBC does: describe the statement, then run it without describing the portal
    oids = (20, 21, 701, 1700, 1082)
    raw.parse("select $1 as a, $2 as b, $3 as c, $4 as d, $5 as e", oids)
    raw.send(b"D", b"S\x00")
    raw.bind((b"5", b"7", b"0.5", b"21168.23", b"2024-01-02"))
    raw.send(b"D", b"P\x00")
    raw.execute()
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"1tT2TDCZ"
    assert messages[1][1] == struct.pack("!h5I", 5, *oids)
    assert _oids(messages[2][1]) == _oids(messages[4][1]) == [20, 21, 701, 1700, 1082]
    assert rows_of(messages) == [[b"5", b"7", b"0.5", b"21168.23", b"2024-01-02"]]


def test_an_error_skips_the_extended_messages_until_sync(raw: Raw) -> None:
    raw.parse("select * from no_such_table")
    raw.bind()
    raw.execute()
    raw.parse("select 1")
    raw.send(b"S")
    messages = raw.until_ready()
    # the table is looked up when the statement runs; the second Parse is skipped
    assert kinds(messages) == b"12EZ"
    assert fields(messages[2][1])["C"] == "42P01"
    raw.send(b"Q", b"select 41 + 1\x00")
    messages = raw.until_ready()
    assert rows_of(messages) == [[b"42"]] and messages[-1][1] == b"I"


def test_malformed_messages_are_protocol_errors(raw: Raw) -> None:
    raw.send(b"P", b"no terminator")
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"EZ" and fields(messages[0][1])["C"] == "08P01"
    raw.parse("select 1")
    raw.send(b"B", b"\x00\x00\x00\x01\x00")  # cut inside the format codes
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"1EZ" and fields(messages[1][1])["C"] == "08P01"
    raw.parse("select 1, 2")
    raw.send(b"B", b"\x00\x00" + struct.pack("!hhh", 0, 0, 3) + struct.pack("!hhh", 1, 1, 1))
    raw.execute()
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"12EZ" and fields(messages[2][1])["C"] == "08P01"
    raw.send(b"Q", b"select 3\x00")
    assert rows_of(raw.until_ready()) == [[b"3"]]


def test_an_empty_query_and_a_statement_list(raw: Raw) -> None:
    raw.send(b"Q", b"\x00")
    assert kinds(raw.until_ready()) == b"IZ"
    raw.send(b"Q", b"BEGIN; select 1; select 'a;b' as s; COMMIT;\x00")
    messages = raw.until_ready()
    assert kinds(messages) == b"CTDCTDCCZ"
    assert rows_of(messages) == [[b"1"], [b"a;b"]]
    raw.send(b"Q", b"BEGIN\x00")
    assert raw.until_ready()[-1][1] == b"T"


def test_named_statements_and_portals(raw: Raw) -> None:
    raw.parse("select label from types.big where id = $1", (20,), name="by_id")
    raw.parse("select 1", name="by_id")
    raw.send(b"S")
    messages = raw.until_ready()
    assert kinds(messages) == b"1EZ" and fields(messages[1][1])["C"] == "42P05"
    for value in (b"5", b"6"):
        raw.bind((value,), name="by_id")
        raw.execute()
    raw.send(b"C", b"Sby_id\x00")
    raw.bind((b"7",), name="by_id")
    raw.send(b"S")
    messages = raw.until_ready()
    assert rows_of(messages) == [[b"row 5"], [b"row 6"]]
    assert kinds(messages) == b"2DC2DC3EZ" and fields(messages[-2][1])["C"] == "26000"


def test_a_cancel_request_with_the_wrong_key_is_ignored(pg_server: RunningServer, raw: Raw) -> None:
    assert pg_server.pg_host and pg_server.pg_port
    with socket.create_connection((pg_server.pg_host, pg_server.pg_port)) as cancel:
        wrong = (raw.secret_key + 1) & 0xFFFFFFFF
        cancel.sendall(struct.pack("!iiiI", 16, 80877102, raw.process_id, wrong))
        assert cancel.recv(10) == b""  # closed without an answer
    raw.send(b"Q", b"select count(*) from range(20000000)\x00")
    assert rows_of(raw.until_ready()) == [[b"20000000"]]


@pytest.mark.parametrize("request_code", [80877103, 80877104], ids=["SSLRequest", "GSSENCRequest"])
def test_tls_and_gssapi_are_declined_and_the_client_goes_on(
    pg_server: RunningServer, types_project: TypesProject, request_code: int
) -> None:
    client = Raw(pg_server)
    client.sock.sendall(struct.pack("!ii", 8, request_code))
    assert client.sock.recv(1) == b"N"
    messages = client.startup("tok", types_project.token)
    assert kinds(messages)[-1:] == b"Z"
    client.close()


def _send_raw(server: RunningServer, data: bytes, wait: bool = True) -> bytes:
    assert server.pg_host and server.pg_port
    with socket.create_connection((server.pg_host, server.pg_port), timeout=60) as sock:
        sock.sendall(data)
        if not wait:
            return b""
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


def test_broken_clients_do_not_stop_the_server(
    pg_server: RunningServer, types_project: TypesProject
) -> None:
    garbage = _send_raw(pg_server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert garbage.startswith(b"E") and b"C08P01" in garbage
    assert _send_raw(pg_server, struct.pack("!i", 100) + b"\x00\x03") == b""  # truncated
    huge = _send_raw(pg_server, struct.pack("!ii", 2**31 - 1, 196608))
    assert b"C08P01" in huge
    assert b"C0A000" in _send_raw(pg_server, struct.pack("!ii", 8, 12345))
    _send_raw(pg_server, os.urandom(3000), wait=False)
    # signed in, then garbage, a message cut short, and a client gone mid-query
    query = b"select count(*) from range(50000000)\x00"
    for tail in (
        b"\xff\x00\x00\x00\x04",
        b"Q\x00\x01\x00\x00sel",
        b"Q" + struct.pack("!i", len(query) + 4) + query,
    ):
        client = Raw(pg_server)
        client.startup("tok", types_project.token)
        client.sock.sendall(tail)
        client.close()
    client = Raw(pg_server)
    client.startup("tok", types_project.token)
    client.sock.sendall(struct.pack("!ci", b"Q", 2**30) + b"x")
    kind, payload = client.read()
    assert kind == b"E" and fields(payload)["C"] == "08P01"
    client.close()
    done = psql(pg_server, "select count(*) from types.every")
    assert (done.returncode, done.stdout.strip()) == (0, "3")


def test_shutdown_stops_accepting_and_closes_connections(tmp_path: Path) -> None:
    from headwater import Project
    from headwater.serve.pgwire.server import PostgresServer
    from headwater.serve.service import ServeService
    from headwater.ui.pages import Workspace

    write_files(
        tmp_path,
        {
            "headwater.yml": "name: quiet\nthreads: 2\nserve:\n  auth: false\n",
            "models/core/one.sql": "select 1 as id",
        },
    )
    headwater(tmp_path, "run")
    project = Project(tmp_path)
    service = ServeService(Workspace(project))
    server = PostgresServer(service, "127.0.0.1", 0)
    host, port = server.address
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    dsn = f"host={host} port={port} user=anyone dbname=x sslmode=disable"
    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            assert connection.execute("select id from core.one").fetchall() == [(1,)]
            server.shutdown()
            thread.join(timeout=60)
            assert not thread.is_alive()
            with pytest.raises(psycopg.OperationalError):
                connection.execute("select 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=10)
    finally:
        server.shutdown()
        service.close()
        project.close()


CANARY_PASSWORD = "canary-pw-7f3a9c"
CANARY_LITERAL = "canary-literal-7f3a9c"


def test_no_sql_or_credential_reaches_the_server_output(tmp_path: Path) -> None:
    project = build_types_project(tmp_path)
    with running_server(project.root) as server:
        done = psql(server, "select 1", password=CANARY_PASSWORD)
        assert done.returncode == 2
        done = psql(
            server,
            f"select '{CANARY_LITERAL}' as v",
            f"select * from nowhere where x = '{CANARY_LITERAL}'",
            user="tok",
            password=project.token,
        )
        assert CANARY_LITERAL in done.stdout
        client = Raw(server)
        client.startup("tok", project.token)
        client.sock.sendall(b"Q" + struct.pack("!i", 40) + CANARY_LITERAL.encode())
        client.close()
        process = server.process
    assert process.stdout is not None
    output = "".join(server.output) + process.stdout.read()
    for secret in (CANARY_PASSWORD, CANARY_LITERAL, project.token, PASSWORD):
        assert secret not in output
