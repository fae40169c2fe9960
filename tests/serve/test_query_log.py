"""The query log: every query a server answers is recorded in the catalog with who sent it,
through which interface, the statement, the tables it read, the rows returned, how long it took
and how it ended (`ok`, `refused`, `failed`, `timed_out`).

First on a `ServeService` in the test's process (`flush_log()` waits for the background
writer, so no polling is needed), then through a real `headwater serve` over HTTP and the
PostgreSQL protocol: a server that stops writes its last records before it exits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from headwater import Project
from headwater.catalog.query_log import (
    FAILED,
    OK,
    REFUSED,
    TIMED_OUT,
    QueryRecord,
    query_log,
    record_queries,
)
from headwater.errors import UsageError
from headwater.query.parameters import TypedText
from headwater.serve.service import Caller, ServerBusy, ServeService
from headwater.ui.pages import Workspace
from tests.conftest import ProjectFactory, write_files
from tests.support.serve import add_user, headwater, running_server

SERVE = """
serve:
  roles:
    analyst:
      read: [core.by_city]
  limits:
    timeout: {timeout}
    max_rows: 5
    max_concurrent: {concurrent}
"""
FILES = {
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
}
RUNAWAY = "select count(*) from range(1000000000) a, range(1000000000) b"


def make_service(
    make_project: ProjectFactory, timeout: str = "30s", concurrent: int = 4
) -> tuple[Project, ServeService]:
    project = make_project(FILES, config=SERVE.format(timeout=timeout, concurrent=concurrent))
    assert project.run().status == "success"
    return project, ServeService(Workspace(project))


@pytest.fixture
def served(make_project: ProjectFactory) -> Iterator[tuple[Project, ServeService]]:
    project, service = make_service(make_project)
    yield project, service
    service.close()


def caller(service: ServeService, user: str, roles: tuple[str, ...]) -> Caller:
    return Caller(service.principal(user, roles), "http", "127.0.0.1")


def newest(project: Project, limit: int = 100) -> list[dict[str, Any]]:
    """The log, oldest first."""
    return list(reversed(query_log(project.catalog, limit=limit)))


# -- in the process --------------------------------------------------------------------------


def test_an_answered_query_is_recorded_with_all_it_did(
    served: tuple[Project, ServeService],
) -> None:
    project, service = served
    sql = "select * from core.by_city order by city"
    result = service.run_sql(caller(service, "ann", ("analyst",)), sql)
    assert result.table.num_rows == 2
    service.flush_log()
    (row,) = newest(project)
    assert row["user_name"] == "ann" and row["interface"] == "http"
    assert row["client"] == "127.0.0.1" and row["statement"] == sql
    assert row["tables"] == ["core.by_city"] and row["row_count"] == 2
    assert row["outcome"] == OK and row["error"] is None
    assert isinstance(row["duration_ms"], float) and row["duration_ms"] >= 0
    assert row["at"].startswith("20")


def test_rows_are_those_returned_after_the_cap(served: tuple[Project, ServeService]) -> None:
    project, service = served
    result = service.run_sql(caller(service, "root", ("admin",)), "select * from range(100)")
    assert result.truncated and result.table.num_rows == 5
    service.flush_log()
    (row,) = newest(project)
    assert row["row_count"] == 5 and row["tables"] == [] and row["outcome"] == OK


@pytest.mark.parametrize(
    ("sql", "outcome", "error"),
    [
        ("drop table core.by_city", REFUSED, "a DROP statement"),
        ("select 1; copy (select 1) to '/tmp/x.csv'", REFUSED, ""),
        ("select * from raw.people", FAILED, "unknown table 'raw.people'"),
        ("select * from core.nothing", FAILED, "unknown table 'core.nothing'"),
        ("select nope from core.by_city", FAILED, "nope"),
    ],
)
def test_refused_and_failed_queries_are_recorded_with_their_error(
    served: tuple[Project, ServeService], sql: str, outcome: str, error: str
) -> None:
    """A query that is not read-only is refused; one that names a table the user may not read
    fails exactly like one naming no table (the log, like the user, cannot tell them apart)."""
    project, service = served
    with pytest.raises(UsageError):
        service.run_sql(caller(service, "ann", ("analyst",)), sql)
    service.flush_log()
    (row,) = newest(project)
    assert row["statement"] == sql and row["user_name"] == "ann"
    assert row["row_count"] is None and row["outcome"] == outcome, row
    assert error in row["error"] and "\n" not in row["error"]


def test_a_query_past_its_time_limit_is_recorded_timed_out(make_project: ProjectFactory) -> None:
    project, service = make_service(make_project, timeout="500ms")
    try:
        with pytest.raises(UsageError, match="time limit"):
            service.run_sql(caller(service, "root", ("admin",)), RUNAWAY)
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(UsageError):
            service.run_sql(caller(service, "root", ("admin",)), RUNAWAY, cancel=cancel)
        service.flush_log()
        rows = newest(project)
        assert [r["outcome"] for r in rows] == [TIMED_OUT, TIMED_OUT]
        assert all(r["statement"] == RUNAWAY and r["row_count"] is None for r in rows)
    finally:
        service.close()


def test_a_query_that_found_no_slot_is_recorded_refused(make_project: ProjectFactory) -> None:
    project, service = make_service(make_project, timeout="1s", concurrent=1)
    try:
        # the only slot, held for longer than the time limit
        with service.slot(), pytest.raises(ServerBusy, match="the server is busy"):
            service.run_sql(caller(service, "ann", ("analyst",)), "select 1")
        service.run_sql(caller(service, "ann", ("analyst",)), "select 2")
        service.flush_log()
        assert [(r["statement"], r["outcome"]) for r in newest(project)] == [
            ("select 1", REFUSED),
            ("select 2", OK),
        ]
    finally:
        service.close()


def test_parameters_are_bound_and_the_statement_is_logged_as_sent(
    served: tuple[Project, ServeService],
) -> None:
    project, service = served
    sql = "select people from core.by_city where city = $1"
    result = service.run_sql(
        caller(service, "ann", ("analyst",)), sql, params=[TypedText("oslo", "VARCHAR")]
    )
    assert result.table.to_pylist() == [{"people": 2}]
    service.flush_log()
    (row,) = newest(project)
    assert row["statement"] == sql and row["row_count"] == 1


def test_flush_log_waits_for_every_query_of_many_threads(
    served: tuple[Project, ServeService],
) -> None:
    project, service = served
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                service.run_sql(caller(service, f"user{n}", ("analyst",)), f"select {n * 10 + i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    service.flush_log()
    assert errors == []
    rows = query_log(project.catalog, limit=1000)
    assert sorted(r["statement"] for r in rows) == sorted(f"select {i}" for i in range(40))
    assert {r["user_name"] for r in rows} == {f"user{n}" for n in range(4)}
    assert len(query_log(project.catalog, limit=1000, user="user2")) == 10
    assert len(query_log(project.catalog, limit=3)) == 3


def test_record_adds_what_run_sql_did_not_answer(served: tuple[Project, ServeService]) -> None:
    project, service = served
    service.record(
        QueryRecord(
            user="ann",
            interface="postgres",
            statement="select * from pg_catalog.pg_type",
            rows=7,
            duration_ms=1.5,
        )
    )
    service.flush_log()
    (row,) = newest(project)
    assert (row["interface"], row["row_count"], row["outcome"]) == ("postgres", 7, OK)


def test_an_overlong_statement_is_kept_cut_not_lost(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    long = "select 1 -- " + "x" * 200_000
    record_queries(project.catalog, [QueryRecord(user=None, interface="cli", statement=long)])
    (row,) = query_log(project.catalog)
    assert row["statement"] == long[:100_000] and row["user_name"] is None


# -- through a real server -------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "logged"
    write_files(
        root,
        {"headwater.yml": "name: logged\n" + SERVE.format(timeout="2s", concurrent=4), **FILES},
    )
    headwater(root, "run")
    return root


def test_every_query_over_http_and_postgres_is_in_the_log(root: Path) -> None:
    token = add_user(root, "ann", "analyst", password="ann-password")
    auth = {"authorization": f"Bearer {token}"}
    with running_server(root, pg=True) as server:
        with httpx.Client(base_url=server.url, headers=auth, timeout=60) as client:
            ok = client.post("/api/query", json={"sql": "select * from core.by_city"})
            assert ok.status_code == 200
            bad = client.post("/api/query", json={"sql": "select * from raw.people"})
            assert bad.status_code == 400
            refused = client.post("/api/query", json={"sql": "drop table core.by_city"})
            assert refused.status_code == 400
            slow = client.post("/api/query", json={"sql": RUNAWAY})
            assert slow.status_code != 200
            got = client.get("/api/query", params={"sql": "select city from core.by_city"})
            assert got.status_code == 200
            page = client.get("/api/tables/core.by_city/rows", params={"limit": 1})
            assert page.status_code == 200 and len(page.json()["rows"]) == 1
        with psycopg.connect(server.pg_dsn("ann", "ann-password"), autocommit=True) as pg:
            assert pg.execute(
                "select people from core.by_city where city = %s", ["oslo"]
            ).fetchall() == [(2,)]
            with pytest.raises(psycopg.Error):
                pg.execute("select * from raw.people")
            listed = pg.execute(
                "select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n "
                "on n.oid = c.relnamespace where n.nspname = 'core'"
            )
            assert listed.fetchall() == [("by_city",)]
    with Project(root) as project:  # the server stopped: its last records are written
        rows = newest(project)
    seen = [(r["interface"], r["statement"], r["outcome"], r["row_count"]) for r in rows]
    http_rows = [s for s in seen if s[0] == "http"]
    assert http_rows[:5] == [
        ("http", "select * from core.by_city", OK, 2),
        ("http", "select * from raw.people", FAILED, None),
        ("http", "drop table core.by_city", REFUSED, None),
        ("http", RUNAWAY, TIMED_OUT, None),
        ("http", "select city from core.by_city", OK, 2),
    ]
    (page,) = [r for r in rows if r["interface"] == "http"][5:]
    # a table read is recorded with the SQL it ran, the table, and the rows it sent
    assert page["statement"].startswith("SELECT") and "by_city" in page["statement"]
    assert (page["tables"], page["row_count"], page["outcome"]) == (["core.by_city"], 1, OK)
    catalog = [r for r in rows if "pg_class" in r["statement"]]
    assert [(r["interface"], r["outcome"], r["row_count"]) for r in catalog] == [
        ("postgres", OK, 1)
    ]
    pg_rows = [s for s in seen if s[0] == "postgres" and "core.by_city" in s[1]]
    assert [(s[2], s[3]) for s in pg_rows] == [(OK, 1)]
    assert any(
        s[0] == "postgres" and s[1] == "select * from raw.people" and s[2] == FAILED for s in seen
    )
    assert {r["user_name"] for r in rows} == {"ann"}
    assert all(r["client"] == "127.0.0.1" for r in rows)
    assert [
        r["tables"] for r in rows if r["outcome"] == OK and "core.by_city" in r["statement"]
    ] == [["core.by_city"]] * 3
