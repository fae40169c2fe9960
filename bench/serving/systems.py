"""The systems of the serving benchmark, each a server process of its own, and how each is
asked the three queries: the floor, Headwater (HTTP and the PostgreSQL protocol), roapi and
datasette. A `System` starts its process, makes one connection per client (`caller`) and stops
it; a caller sends one query's request and returns the answer's rows as lists."""

from __future__ import annotations

import datetime
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workload import Call, HttpClient, PeakRss, wait_http

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PYTHON = sys.executable
HEADWATER = [PYTHON, "-c", "from headwater.cli.main import entry; entry()"]
START_GUARD_S = 600.0
"""Only a guard against a server that never starts, not a measurement."""

PAGE_SQL = (
    "select * from {t} where l_shipmode = 'AIR' and l_orderkey > {k} "
    "order by l_orderkey, l_linenumber limit 1000"
)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rows_of(answer: Any) -> list[list[Any]]:
    """The rows of a JSON answer: `{"rows": [[...]]}`, `{"rows": [{...}]}` or `[{...}]`."""
    rows = answer.get("rows", answer.get("data")) if isinstance(answer, dict) else answer
    if not isinstance(rows, list):
        raise ValueError(f"no rows in the answer: {str(answer)[:300]}")
    return [list(r.values()) if isinstance(r, dict) else list(r) for r in rows]


class System:
    """One system under test: a server process and its clients."""

    name = ""
    label = ""
    what = ""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.notes: list[str] = []
        self.rss: PeakRss | None = None
        """Peak RSS of the server's process tree from its start (polled from the spawn on, so
        loading at start-up counts)."""

    @property
    def pid(self) -> int:
        """The server process's id."""
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        """Whether the server process still runs."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server and return once it answers."""
        raise NotImplementedError

    def caller(self, query: str) -> Call:
        """A new connection that sends `query` with given parameters; returns the rows."""
        raise NotImplementedError

    def _spawn(
        self, command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        if self.rss is not None:
            self.rss.stop()
        self.rss = PeakRss(self.process.pid)
        assert self.process.stdout is not None
        stream = self.process.stdout

        def drain() -> None:
            for line in stream:
                self.output.append(line)

        threading.Thread(target=drain, daemon=True).start()

    def tail(self) -> str:
        """The end of the server's output."""
        return "".join(self.output)[-2000:]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s)."""
        if self.rss is not None:
            self.rss.stop()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class HttpSystem(System):
    """A system answering over HTTP at `self.url`."""

    url = ""
    headers: dict[str, str] = {}

    def _http(self) -> HttpClient:
        return HttpClient(self.url, self.headers)

    def caller(self, query: str) -> Call:
        client = self._http()
        send = getattr(self, f"_{query}")

        def call(value: Any) -> list[list[Any]]:
            return rows_of(send(client, value))

        call.close = client.close  # type: ignore[attr-defined]
        return call


# ---------------------------------------------------------------- the floor


class Floor(HttpSystem):
    """bench/serving/floor_server.py: FastAPI + uvicorn + DuckDB over the snapshot's files."""

    name = "floor"
    label = "floor"
    what = "FastAPI + uvicorn, DuckDB `read_parquet(<snapshot files>)`, a cursor per request"

    def __init__(self, table: Path) -> None:
        super().__init__()
        self.table = table

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        script = str(HERE / "floor_server.py")
        self._spawn([PYTHON, script, "--table", str(self.table), "--port", str(port)])
        wait_http(self.url, "/healthz", START_GUARD_S, self.alive)

    def _q1(self, client: HttpClient, k: int) -> Any:
        return client.get(f"/q1?k={k}")

    def _q2(self, client: HttpClient, span: tuple[str, str]) -> Any:
        return client.get(f"/q2?start={span[0]}&end={span[1]}")

    def _q3(self, client: HttpClient, k: int) -> Any:
        return client.get(f"/q3?k={k}")


# ---------------------------------------------------------------- Headwater

Q2_SQL = (
    "select l_returnflag, sum(l_extendedprice) from {t} "
    "where l_shipdate >= $1 and l_shipdate < $2 group by 1"
)


class Headwater(HttpSystem):
    """`headwater serve` of the bench project: HTTP with a user's token, and its PostgreSQL
    port (when it starts) for the psycopg variant."""

    name = "headwater"
    label = "Headwater"
    what = "`headwater serve`, HTTP JSON, a user's token (role reading `tpch.lineitem`)"

    def __init__(self, root: Path, table: str, token: str, user: str, password: str) -> None:
        super().__init__()
        self.root = root
        self.table = table
        self.headers = {"Authorization": f"Bearer {token}"}
        self.user, self.password = user, password
        self.pg: tuple[str, int] | None = None
        self.pg_refused: str | None = None
        self.rows_api = True
        self.cache: dict[str, Any] | None = None
        """The serving cache's state once it was ready."""
        self.cache_ready_s: float | None = None
        """Seconds from the server answering to the cache holding the table."""
        self.sources: dict[str, set[str]] = {}
        """Per query, what `X-Headwater-Source` said the rows were read from."""
        """Whether the table-rows route answers; when not, q1/q3 go through /api/query."""

    def start(self) -> None:
        try:
            self._start(pg=True)
        except RuntimeError as exc:
            if "PostgreSQL" not in str(exc):
                raise
            lines = str(exc).strip().splitlines()
            self.pg_refused = next((x for x in lines if x.startswith("Error:")), lines[-1])
            self._start(pg=False)
        self._wait_cache()
        self._probe_rows_api()

    def _wait_cache(self) -> None:
        """Wait until the serving cache holds the table (its state in the table's
        description), so the timed requests are not the ones that race its first load."""
        from workload import HttpFailed

        client = self._http()
        started = time.monotonic()
        try:
            while time.monotonic() - started < START_GUARD_S:
                try:
                    described = client.get(f"/api/tables/{self.table}")
                except HttpFailed as exc:
                    self.notes.append(f"no cache state to wait for ({str(exc)[:200]})")
                    return
                cache = described.get("cache") if isinstance(described, dict) else None
                if not cache:
                    self.notes.append("the table's description has no cache state")
                    return
                if cache.get("state") == "ready":
                    self.cache_ready_s = time.monotonic() - started
                    self.cache = cache
                    return
                if cache.get("state") == "failed":
                    self.notes.append(f"the serving cache failed to load: {cache.get('error')}")
                    return
                if not self.alive():
                    raise RuntimeError(f"headwater serve exited:\n{self.tail()}")
                time.sleep(0.1)
            self.notes.append(f"the serving cache was not ready after {START_GUARD_S:.0f} s")
        finally:
            client.close()

    def _start(self, pg: bool) -> None:
        self.output = []
        port = free_port()
        command = [*HEADWATER, "serve", "--port", str(port)]
        command += ["--pg-port", str(free_port())] if pg else ["--no-pg"]
        self._spawn(command, cwd=self.root)
        deadline = time.monotonic() + START_GUARD_S
        while time.monotonic() < deadline:
            text = "".join(self.output)
            found = re.search(r"(http://[\d.]+:\d+)/", text)
            found_pg = re.search(r"psql -h (\S+) -p (\d+)", text)
            if found and (found_pg or not pg):
                self.url = found.group(1)
                self.pg = (found_pg.group(1), int(found_pg.group(2))) if found_pg else None
                wait_http(self.url, "/healthz", START_GUARD_S, self.alive)
                return
            if not self.alive():
                time.sleep(0.2)  # the last lines
                raise RuntimeError(f"headwater serve did not start:\n{self.tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"headwater serve did not start in {START_GUARD_S} s")

    def _probe_rows_api(self) -> None:
        from workload import HttpFailed

        client = self._http()
        try:
            client.get(f"/api/tables/{self.table}/rows?l_orderkey=eq.1&limit=1")
        except HttpFailed as exc:
            if "-> 404" not in str(exc) and "-> 405" not in str(exc):
                raise
            self.rows_api = False
            self.notes.append(
                f"`GET /api/tables/{self.table}/rows` answered 404 (not built yet): q1 and q3 "
                "went through `POST /api/query` with the same SQL and parameters instead"
            )
        finally:
            client.close()

    def _sql(self, client: HttpClient, sql: str, params: list[Any]) -> Any:
        return client.post_json("/api/query", {"sql": sql, "params": params})

    def _read(self, client: HttpClient, query: str, path: str) -> Any:
        answer = client.get(path)
        self.sources.setdefault(query, set()).add(
            client.last_headers.get("x-headwater-source", "?")
        )
        return answer

    def _q1(self, client: HttpClient, k: int) -> Any:
        if not self.rows_api:
            return self._sql(client, f"select * from {self.table} where l_orderkey = $1", [k])
        return self._read(client, "q1", f"/api/tables/{self.table}/rows?l_orderkey=eq.{k}")

    def _q2(self, client: HttpClient, span: tuple[str, str]) -> Any:
        return self._sql(client, Q2_SQL.format(t=self.table), list(span))

    def _q3(self, client: HttpClient, k: int) -> Any:
        if not self.rows_api:
            sql = PAGE_SQL.format(t=self.table, k="$1")
            return self._sql(client, sql, [k])
        return self._read(
            client,
            "q3",
            f"/api/tables/{self.table}/rows?l_shipmode=eq.AIR&l_orderkey=gt.{k}"
            "&order=l_orderkey,l_linenumber&limit=1000",
        )

    # ---- the PostgreSQL protocol

    def pg_dsn(self) -> str:
        """A libpq connection string for the bench user."""
        assert self.pg is not None
        host, port = self.pg
        return (
            f"host={host} port={port} user={self.user} password={self.password} "
            "dbname=headwater sslmode=disable"
        )

    def pg_caller(self, query: str) -> Call:
        """A psycopg connection sending `query` with parameters (`%s`, bound by the server)."""
        return pg_caller(self.pg_dsn(), self.table, query)


def pg_caller(dsn: str, table: str, query: str) -> Call:
    """A psycopg 3 connection sending one of the three queries with server-bound parameters."""
    import psycopg

    connection = psycopg.connect(dsn, autocommit=True)
    sql = {
        "q1": f"select * from {table} where l_orderkey = %s",
        "q2": (
            f"select l_returnflag, sum(l_extendedprice) from {table} "
            "where l_shipdate >= %s and l_shipdate < %s group by 1"
        ),
        "q3": PAGE_SQL.format(t=table, k="%s"),
    }[query]

    def call(value: Any) -> list[list[Any]]:
        if query == "q2":
            params: list[Any] = [datetime.date.fromisoformat(d) for d in value]
        else:
            params = [value]
        return [list(r) for r in connection.execute(sql, params).fetchall()]

    call.close = connection.close  # type: ignore[attr-defined]
    return call


class HeadwaterPg(System):
    """The PostgreSQL protocol face of the same running `headwater serve` (psycopg 3)."""

    name = "headwater-pg"
    label = "Headwater, PostgreSQL protocol"
    what = "the same `headwater serve` process, psycopg 3, parameters bound by the server"

    def __init__(self, served: Headwater) -> None:
        super().__init__()
        self.served = served
        self.process = served.process

    def start(self) -> None:
        if self.served.pg is None:
            raise RuntimeError(self.served.pg_refused or "the PostgreSQL port did not start")

    def caller(self, query: str) -> Call:
        return self.served.pg_caller(query)

    def stop(self) -> None:
        """The HTTP face's process is stopped by it."""


# ---------------------------------------------------------------- roapi


def _query(params: list[tuple[str, str]]) -> str:
    return "&".join(
        f"{urllib.parse.quote(k, safe='[]')}={urllib.parse.quote(v, safe=',')}" for k, v in params
    )


class Roapi(HttpSystem):
    """roapi (PyPI `roapi`, Rust, DataFusion) serving the Delta table: its REST API for the
    lookup and the page, its SQL API for the aggregate."""

    name = "roapi"
    label = "roapi"
    what = "roapi on the Delta table (`format=delta`): REST for q1/q3, `POST /api/sql` for q2"

    def __init__(self, table: Path, binary: Path) -> None:
        super().__init__()
        self.table = table
        self.binary = binary

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._spawn(
            [
                str(self.binary),
                "-a",
                f"127.0.0.1:{port}",
                "-p",
                f"127.0.0.1:{free_port()}",
                "--addr-flight-sql",
                f"127.0.0.1:{free_port()}",
                "-t",
                f"lineitem={self.table},format=delta",
            ]
        )
        wait_http(self.url, "/api/schema", START_GUARD_S, self.alive)

    def _q1(self, client: HttpClient, k: int) -> Any:
        return client.get("/api/tables/lineitem?" + _query([("filter[l_orderkey]", str(k))]))

    def _q2(self, client: HttpClient, span: tuple[str, str]) -> Any:
        sql = (
            "select l_returnflag, sum(l_extendedprice) from lineitem "
            f"where l_shipdate >= date '{span[0]}' and l_shipdate < date '{span[1]}' group by 1"
        )
        return client.request("POST", "/api/sql", sql.encode(), kind="text/plain")

    def _q3(self, client: HttpClient, k: int) -> Any:
        return client.get(
            "/api/tables/lineitem?"
            + _query(
                [
                    ("filter[l_shipmode]", "'AIR'"),
                    ("filter[l_orderkey]gt", str(k)),
                    ("sort", "l_orderkey,l_linenumber"),
                    ("limit", "1000"),
                ]
            )
        )


# ---------------------------------------------------------------- datasette


class Datasette(HttpSystem):
    """datasette on the indexed SQLite copy, its JSON API with named parameters."""

    name = "datasette"
    label = "datasette"
    what = (
        "datasette (immutable) on an SQLite copy indexed on (l_orderkey, l_linenumber) and "
        "(l_shipmode, l_orderkey, l_linenumber), `?sql=` JSON API with parameters"
    )

    def __init__(self, database: Path, binary: Path) -> None:
        super().__init__()
        self.database = database
        self.binary = binary

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._spawn(
            [
                str(self.binary),
                "serve",
                "-i",
                str(self.database),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--setting",
                "sql_time_limit_ms",
                "600000",
                "--setting",
                "max_returned_rows",
                "1000",
            ]
        )
        wait_http(self.url, "/-/versions.json", START_GUARD_S, self.alive)

    def _sql(self, client: HttpClient, sql: str, **params: Any) -> Any:
        query = [("sql", sql), ("_shape", "arrays")] + [(k, str(v)) for k, v in params.items()]
        return client.get(f"/{self.database.stem}.json?" + urllib.parse.urlencode(query))

    def _q1(self, client: HttpClient, k: int) -> Any:
        return self._sql(client, "select * from lineitem where l_orderkey = :k", k=k)

    def _q2(self, client: HttpClient, span: tuple[str, str]) -> Any:
        sql = (
            "select l_returnflag, sum(l_extendedprice) from lineitem "
            "where l_shipdate >= :start and l_shipdate < :end group by 1"
        )
        return self._sql(client, sql, start=span[0], end=span[1])

    def _q3(self, client: HttpClient, k: int) -> Any:
        return self._sql(client, PAGE_SQL.format(t="lineitem", k=":k"), k=k)


SystemFactory = Callable[[], System]
