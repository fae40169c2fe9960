"""S2 of RELIABILITY.md against `headwater serve`, over HTTP and the PostgreSQL protocol: a
runaway query is cancelled at the time limit, a 10-million-row result is capped at the row
limit and says so, and a trivial query sent while a runaway runs is answered.

The limits come from `serve.limits` in the test project (a small `timeout`, `max_rows`
1,000). No test measures time: a timed-out query is recognised by its error (HTTP: the error's
kind; PostgreSQL: SQLSTATE 57014), and "while the runaway runs" by the runaway's request still
being open when the trivial one is answered. The latency figures belong to the benchmark.

With `max_concurrent: 1`, a query that finds the only slot taken waits for it, then runs or
is refused as busy (HTTP 503, PostgreSQL SQLSTATE 53300) when the time limit passes first (or
times out, when it got the slot too close to its limit to finish).
That refusal is made certain by holding the slot from the test, on a server built in the
test's process from the same classes `headwater serve` runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from headwater import Project
from headwater.serve.server import Server
from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server
from tests.support.sql_payloads import RUNAWAYS

MAX_ROWS = 1000
TEN_MILLION = "select range as n from range(10000000)"
FILES = {
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
}
PASSWORD = "limits-password"
TRIVIAL = "select people from core.by_city where city = 'oslo'"
TIMED_OUT = "57014"
BUSY = "53300"
HTTP_BUSY = 503
GUARD_S = 300.0
"""Only a guard against hanging forever."""


def project_files(timeout: str, concurrent: int) -> dict[str, str]:
    config = f"""
        name: limits
        threads: 2
        serve:
          roles:
            reader:
              read: ["core.*"]
          limits:
            timeout: {timeout}
            max_rows: {MAX_ROWS}
            max_concurrent: {concurrent}
    """
    return {"headwater.yml": config, **FILES}


@dataclass
class Served:
    server: RunningServer
    token: str

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=GUARD_S,
        )

    def pg(self, **options: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.server.pg_dsn("reader", PASSWORD), autocommit=True, connect_timeout=60, **options
        )


@contextmanager
def serve(
    tmp_path_factory: pytest.TempPathFactory, timeout: str, concurrent: int
) -> Iterator[Served]:
    """A built project with `serve.limits` of `timeout` and `concurrent`, served, with a user
    `reader` (token and password)."""
    root = tmp_path_factory.mktemp("s2") / "limits"
    write_files(root, project_files(timeout, concurrent))
    headwater(root, "run")
    token = add_user(root, "reader", "reader", password=PASSWORD)
    with running_server(root, pg=True) as server:
        yield Served(server, token)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with a 2 s time limit, 1,000 rows at most and 4 queries at once."""
    with serve(tmp_path_factory, "2s", 4) as running:
        yield running


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server that runs one query at a time (1 s time limit)."""
    with serve(tmp_path_factory, "1s", 1) as running:
        yield running


def http_error_kind(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, dict) and body.get("error"), response.text
    return str(body.get("kind", ""))


# -- the time limit --------------------------------------------------------------------------


@pytest.mark.parametrize("sql", RUNAWAYS)
def test_s2_a_runaway_query_over_http_is_cancelled_at_the_limit(served: Served, sql: str) -> None:
    with served.http() as http:
        response = http.post("/api/query", json={"sql": sql})
        assert response.status_code == 408, response.text
        assert http_error_kind(response) == "timeout"
        assert "time limit" in response.json()["error"]
        assert http.post("/api/query", json={"sql": TRIVIAL}).json()["rows"] == [[2]]


@pytest.mark.parametrize("sql", RUNAWAYS)
def test_s2_a_runaway_query_over_postgres_is_cancelled_at_the_limit(
    served: Served, sql: str
) -> None:
    with served.pg() as pg:
        with pytest.raises(psycopg.errors.QueryCanceled) as caught:
            pg.execute(sql).fetchall()
        assert caught.value.sqlstate == TIMED_OUT
        assert "time limit" in str(caught.value)
        assert pg.execute(TRIVIAL).fetchall() == [(2,)]  # the connection is still usable


def test_s2_a_runaway_in_a_server_side_cursor_is_cancelled_at_the_limit(served: Served) -> None:
    with served.pg() as pg, pg.transaction():
        cursor = pg.cursor(name="runaway")
        with pytest.raises(psycopg.errors.QueryCanceled):
            cursor.execute(RUNAWAYS[0])
            cursor.fetchall()


def test_s2_a_runaway_with_parameters_is_cancelled_at_the_limit(served: Served) -> None:
    sql = "select count(*) from range(%s) a, range(%s) b"
    with served.pg() as pg, pytest.raises(psycopg.errors.QueryCanceled):
        pg.execute(sql, [1_000_000_000, 1_000_000_000]).fetchall()
    with served.http() as http:
        response = http.post(
            "/api/query",
            json={"sql": "select count(*) from range($1) a, range($1) b", "params": [10**9]},
        )
        assert response.status_code == 408 and http_error_kind(response) == "timeout"


def test_s2_a_client_cancel_stops_a_runaway_before_the_limit(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A PostgreSQL cancel request stops the query (57014), on a server whose limit is far."""
    with serve(tmp_path_factory, "10m", 2) as slow, slow.pg() as pg:
        result: dict[str, BaseException] = {}

        def run() -> None:
            try:
                pg.execute(RUNAWAYS[0]).fetchall()
            except BaseException as exc:  # inspected below
                result["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        while thread.is_alive() and "error" not in result:
            pg.cancel_safe()
            thread.join(0.2)
        thread.join(GUARD_S)
        assert isinstance(result.get("error"), psycopg.errors.QueryCanceled), result
        assert pg.execute(TRIVIAL).fetchall() == [(2,)]


# -- the row cap -----------------------------------------------------------------------------


def test_s2_ten_million_rows_over_http_are_capped_and_flagged(served: Served) -> None:
    with served.http() as http:
        response = http.post("/api/query", json={"sql": TEN_MILLION})
        assert response.status_code == 200
        body = response.json()
        assert body["truncated"] is True and len(body["rows"]) == MAX_ROWS
        assert [r[0] for r in body["rows"]] == list(range(MAX_ROWS))
        small = http.post("/api/query", json={"sql": f"select * from range({MAX_ROWS})"}).json()
        assert small["truncated"] is False and len(small["rows"]) == MAX_ROWS
        get = http.get("/api/query", params={"sql": TEN_MILLION})
        assert get.status_code == 200 and get.json()["truncated"] is True
        assert len(get.json()["rows"]) == MAX_ROWS


@pytest.mark.parametrize("fmt", ["csv", "arrow", "parquet"])
def test_s2_ten_million_rows_in_other_formats_are_capped_and_flagged(
    served: Served, fmt: str
) -> None:
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    with served.http() as http:
        response = http.post("/api/query", json={"sql": TEN_MILLION, "format": fmt})
        assert response.status_code == 200, response.text
        assert response.headers.get("x-headwater-truncated") == "true"
        data = io.BytesIO(response.content)
        if fmt == "csv":
            table = pacsv.read_csv(data)
        elif fmt == "arrow":
            table = pa.ipc.open_stream(data).read_all()
        else:
            table = pq.read_table(data)
        assert table.num_rows == MAX_ROWS and table.column(0).to_pylist() == list(range(MAX_ROWS))


@dataclass
class Notices:
    messages: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        self.messages.append((str(diagnostic.sqlstate), str(diagnostic.message_primary)))


def test_s2_ten_million_rows_over_postgres_are_capped_with_a_notice(served: Served) -> None:
    with served.pg() as pg:
        notices = Notices()
        pg.add_notice_handler(notices)
        rows = pg.execute(TEN_MILLION).fetchall()
        assert [r[0] for r in rows] == list(range(MAX_ROWS))
        (notice,) = notices.messages
        assert notice[0] == "01000" and f"cut at {MAX_ROWS} rows" in notice[1]
        notices.messages.clear()
        assert len(pg.execute(f"select * from range({MAX_ROWS})").fetchall()) == MAX_ROWS
        assert notices.messages == []  # exactly the cap: nothing was cut
        prepared = pg.execute("select range from range(%s)", [10_000_000]).fetchall()
        assert len(prepared) == MAX_ROWS and len(notices.messages) == 1


def test_s2_ten_million_rows_in_a_server_side_cursor_are_capped_with_a_notice(
    served: Served,
) -> None:
    with served.pg() as pg, pg.transaction():
        notices = Notices()
        pg.add_notice_handler(notices)
        cursor = pg.cursor(name="big")
        cursor.execute(TEN_MILLION)
        seen = 0
        while batch := cursor.fetchmany(300):
            assert [r[0] for r in batch] == list(range(seen, seen + len(batch)))
            seen += len(batch)
        assert seen == MAX_ROWS
        assert any(f"cut at {MAX_ROWS} rows" in m for _, m in notices.messages)


def test_s2_ten_million_rows_through_psql_are_capped_with_a_warning(served: Served) -> None:
    import shutil
    import subprocess

    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    done = subprocess.run(
        [
            psql,
            "-X",
            "-A",
            "-t",
            "-h",
            str(served.server.pg_host),
            "-p",
            str(served.server.pg_port),
            "-U",
            "reader",
            "-d",
            "headwater",
            "-c",
            TEN_MILLION,
        ],
        env={**os.environ, "PGPASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=GUARD_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(n) for n in range(MAX_ROWS)]
    assert f"cut at {MAX_ROWS} rows" in done.stderr


# -- concurrency -----------------------------------------------------------------------------


@dataclass
class Background:
    """A query running on a thread of its own; `outcome` once it is answered."""

    run: Callable[[], object]
    outcome: list[object] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> Background:
        def target() -> None:
            try:
                self.outcome.append(self.run())
            except BaseException as exc:  # inspected by the test
                self.outcome.append(exc)

        self.thread = threading.Thread(target=target)
        self.thread.start()
        return self

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self) -> object:
        assert self.thread is not None
        self.thread.join(GUARD_S)
        assert not self.thread.is_alive()
        return self.outcome[0]


def answered_while(runaway: Background, trivial: Callable[[], object], expected: object) -> int:
    """Send `trivial` again and again while `runaway` is in flight; return how many answers
    (all `expected`) came back while it was still running."""
    during = 0
    while runaway.running:
        answer = trivial()
        assert answer == expected, answer
        if runaway.running:
            during += 1
    return during


def http_runaway(served: Served) -> Background:
    def run() -> object:
        with served.http() as http:
            return http.post("/api/query", json={"sql": RUNAWAYS[0]})

    return Background(run).start()


def pg_runaway(served: Served) -> Background:
    def run() -> object:
        with served.pg() as pg:
            try:
                pg.execute(RUNAWAYS[0]).fetchall()
            except psycopg.Error as exc:
                return exc.sqlstate
            return "ran"

    return Background(run).start()


@pytest.mark.parametrize("face", ["http", "pg"])
def test_s2_trivial_queries_answer_while_a_runaway_runs(served: Served, face: str) -> None:
    runaway = http_runaway(served) if face == "http" else pg_runaway(served)
    with served.http() as http, served.pg() as pg:
        during_http = answered_while(
            runaway, lambda: http.post("/api/query", json={"sql": TRIVIAL}).json()["rows"], [[2]]
        )
        runaway.wait()
        second = http_runaway(served) if face == "http" else pg_runaway(served)
        during_pg = answered_while(second, lambda: pg.execute(TRIVIAL).fetchall(), [(2,)])
        for done in (runaway.wait(), second.wait()):
            if face == "http":
                assert isinstance(done, httpx.Response) and done.status_code == 408
            else:
                assert done == TIMED_OUT
    assert during_http > 0 and during_pg > 0


@pytest.mark.parametrize("face", ["http", "pg"])
def test_s2_with_one_slot_a_second_query_waits_then_runs_or_is_busy(
    single: Served, face: str
) -> None:
    runaway = http_runaway(single) if face == "http" else pg_runaway(single)
    answers: list[object] = []
    with single.http() as http, single.pg() as pg:
        while runaway.running:
            if face == "http":
                response = http.post("/api/query", json={"sql": TRIVIAL})
                answers.append(
                    response.json()["rows"] if response.status_code == 200 else response.status_code
                )
            else:
                try:
                    answers.append(pg.execute(TRIVIAL).fetchall())
                except psycopg.Error as exc:
                    answers.append(exc.sqlstate)
    runaway.wait()
    # the time limit counts the wait for the slot: a query that gets it just before its
    # limit passes may run out of time there (408 / 57014) rather than be refused as busy
    allowed = [[2]] if face == "http" else [(2,)]
    waited = (HTTP_BUSY, BUSY, 408, TIMED_OUT)
    assert answers and all(a == allowed or a in waited for a in answers), answers


# -- the busy refusal, certain: the only slot held by the test -------------------------------


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    root = tmp_path / "busy"
    write_files(root, project_files("1s", 1))
    headwater(root, "run")
    token = add_user(root, "reader", "reader", password=PASSWORD)
    project = Project(root)
    config = project.definition.config.serve.model_copy(update={"port": 0, "pg_port": 0})
    server = Server(project, config)
    server.start()
    try:
        yield server, token
    finally:
        server.stop()
        project.close()


def test_s2_a_query_that_finds_no_free_slot_is_refused_as_busy(
    in_process: tuple[Server, str],
) -> None:
    server, token = in_process
    assert server.pg_address is not None
    host, port = server.pg_address
    dsn = f"host={host} port={port} user=reader password={PASSWORD} dbname=headwater"
    with (
        httpx.Client(
            base_url=f"http://{server.http_address}",
            headers={"authorization": f"Bearer {token}"},
            timeout=GUARD_S,
        ) as http,
        psycopg.connect(dsn, autocommit=True) as pg,
    ):
        with server.service.slot():  # the only slot, held past the time limit
            response = http.post("/api/query", json={"sql": TRIVIAL})
            assert response.status_code == HTTP_BUSY, response.text
            assert "busy" in response.json()["error"] and http_error_kind(response) == "busy"
            with pytest.raises(psycopg.Error) as caught:
                pg.execute(TRIVIAL).fetchall()
            assert caught.value.sqlstate == BUSY and "busy" in str(caught.value)
        # the slot is free again: the same queries run (retried only if the loaded machine
        # made the first one of the engine outlast the short limit)
        assert until_answered(
            lambda: http.post("/api/query", json={"sql": TRIVIAL}).json().get("rows")
        ) == [[2]]
        assert until_answered(lambda: pg.execute(TRIVIAL).fetchall()) == [(2,)]


def until_answered(run: Callable[[], object]) -> object:
    """`run()`'s answer, asked again while it times out (a guard stops the loop)."""
    deadline = time.monotonic() + GUARD_S
    while True:
        try:
            answer = run()
        except psycopg.errors.QueryCanceled:
            answer = None
        if answer is not None or time.monotonic() > deadline:
            return answer
