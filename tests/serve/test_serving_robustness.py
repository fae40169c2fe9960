"""What a running server does when things change under it or a client misbehaves: a user
revoked while its PostgreSQL connection stays open, a client that never finishes signing in,
a `headwater.yml` saved broken, and results whose types some formats lack (intervals)."""

from __future__ import annotations

import io
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

SERVE = """
name: people
threads: 2
serve:
  roles:
    analyst:
      read: [core.by_city]
"""
FILES = {
    "headwater.yml": SERVE,
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
}
GUARD_S = 120.0
"""Only a guard against hanging forever."""


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[RunningServer, str]]:
    root = tmp_path / "people"
    write_files(root, FILES)
    headwater(root, "run")
    token = add_user(root, "ana", "analyst", password="pw-ana-1")
    add_user(root, "rex", "analyst", password="pw-rex-1")
    with running_server(root) as server:
        yield server, token


def test_a_user_revoked_while_connected_is_signed_out_at_its_next_statement(
    served: tuple[RunningServer, str],
) -> None:
    server, _ = served
    with psycopg.connect(server.pg_dsn("rex", "pw-rex-1"), autocommit=True) as conn:
        assert conn.execute("select count(*) from core.by_city").fetchone() == (2,)
        headwater(server.root, "users", "revoke", "rex")
        deadline = time.monotonic() + GUARD_S
        with pytest.raises(psycopg.OperationalError) as raised:
            while time.monotonic() < deadline:
                conn.execute("select count(*) from core.by_city").fetchone()
                time.sleep(0.2)
        assert raised.value.sqlstate == "28000"
        assert "revoked" in str(raised.value)
    assert conn.closed


def test_a_client_cannot_send_a_huge_message_before_signing_in(
    served: tuple[RunningServer, str],
) -> None:
    server, _ = served
    assert server.pg_host is not None and server.pg_port is not None
    with socket.create_connection((server.pg_host, server.pg_port)) as client:
        params = b"user\x00ana\x00database\x00headwater\x00\x00"
        client.sendall(struct.pack("!ii", len(params) + 8, 196608) + params)
        assert client.recv(1) == b"R"  # asked to authenticate
        client.recv(65536)
        client.sendall(b"p" + struct.pack("!i", 50_000_000))  # announces 50 MB
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        assert answer.startswith(b"E")
        assert b"08P01" in answer and b"invalid message length" in answer
    with psycopg.connect(server.pg_dsn("ana", "pw-ana-1")) as conn:  # the server is fine
        assert conn.execute("select 1").fetchone() == (1,)


def test_a_broken_headwater_yml_keeps_serving_the_project_as_it_was(
    served: tuple[RunningServer, str],
) -> None:
    server, token = served
    headers = {"Authorization": f"Bearer {token}"}
    query = {"sql": "select count(*) as n from core.by_city"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=GUARD_S) as http:
        assert http.post("/api/query", json=query).json()["rows"] == [[2]]
        (server.root / "headwater.yml").write_text(SERVE + "  nonsense: [\n")
        # the server looks at its files every few seconds: ask until it has seen the change
        deadline = time.monotonic() + GUARD_S
        seen = 0
        while time.monotonic() < deadline and seen < 20:
            response = http.post("/api/query", json=query)
            assert response.status_code == 200, response.text
            assert response.json()["rows"] == [[2]]
            seen += 1
            time.sleep(0.5)
    with psycopg.connect(server.pg_dsn("ana", "pw-ana-1")) as conn:
        assert conn.execute("select count(*) from core.by_city").fetchone() == (2,)
    assert "files are broken" in "".join(server.output) or server.process.poll() is None


@pytest.mark.parametrize("form", ["csv", "parquet", "json"])
def test_an_interval_is_an_iso_8601_duration_in_every_format(
    served: tuple[RunningServer, str], form: str
) -> None:
    server, token = served
    sql = "select interval '1 month 2 days 3.5 seconds' as iv, null::interval as nothing"
    response = httpx.post(
        f"{server.url}/api/query?format={form}",
        json={"sql": sql},
        headers={"Authorization": f"Bearer {token}"},
        timeout=GUARD_S,
    )
    assert response.status_code == 200, response.text
    if form == "json":
        assert response.json()["rows"] == [["P1M2DT3.5S", None]]
        return
    if form == "csv":
        table = pacsv.read_csv(io.BytesIO(response.content))
    else:
        table = pq.read_table(io.BytesIO(response.content))
    assert table.column("iv").to_pylist() == ["P1M2DT3.5S"]
    assert table.column("nothing").to_pylist() == [None]


def test_show_tables_over_postgres_lists_only_the_users_tables(
    served: tuple[RunningServer, str],
) -> None:
    server, _ = served
    with psycopg.connect(server.pg_dsn("ana", "pw-ana-1"), autocommit=True) as conn:
        listed = [str(v) for row in conn.execute("show tables").fetchall() for v in row]
        settings = conn.execute("show all").fetchall()
    assert listed == ["core.by_city"]  # not raw.people, which the role does not grant
    assert any(row[0] == "server_version" for row in settings)


def test_a_session_holds_a_bounded_number_of_cursors(served: tuple[RunningServer, str]) -> None:
    from headwater.serve.pgwire.cursors import MAX_CURSORS

    server, _ = served
    with psycopg.connect(server.pg_dsn("ana", "pw-ana-1"), autocommit=True) as conn:
        for number in range(MAX_CURSORS):
            conn.execute(f"declare c{number} cursor with hold for select * from core.by_city")
        with pytest.raises(psycopg.Error) as raised:
            conn.execute("declare one_more cursor with hold for select * from core.by_city")
        assert raised.value.sqlstate == "53400"
        conn.execute("close c0")
        conn.execute("declare one_more cursor with hold for select * from core.by_city")
        assert len(conn.execute("fetch all from one_more").fetchall()) == 2
