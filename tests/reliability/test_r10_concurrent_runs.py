"""R10: start the same run twice, ~50 ms apart; and runs locking per asset and partition.

Pass: 0 duplicate rows in an incremental append model; the second run is refused with a clear
message naming the other run and a non-zero exit code, before it writes anything and without
waiting for the first to finish. Runs of disjoint selections (or of different partitions of one
asset) go on side by side; a killed run's locks are taken over by the next run.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from headwater import Project
from headwater.catalog import locks
from headwater.catalog.locks import Claim
from headwater.catalog.store import new_run_id
from headwater.orchestrate.lock import RunLocks, TableCommitLock
from headwater.storage.base import TableRef
from tests.conftest import ProjectFactory
from tests.reliability.helpers import HEADWATER, kill, start, wait_for
from tests.support.catalogs import Catalogs
from tests.support.postgres import PostgresServer


@pytest.fixture
def make_project(make_project: ProjectFactory, catalogs: Catalogs) -> ProjectFactory:
    """Projects whose catalog is SQLite, then PostgreSQL: every test here runs on both."""
    return catalogs.projects(make_project)


PROJECT = {
    "headwater.yml": "name: twice\nthreads: 2\n",
    "seeds/events.yml": "columns:\n  - name: id\n    type: BIGINT\n",
    "models/core/app.sql": (
        "select id from raw.events\n"
        "{% if is_incremental() %}\n"
        "where id > (select coalesce(max(id), -1) from {{ this }})\n"
        "{% endif %}\n"
    ),
    "models/core/app.yml": "materialized: incremental\n",
    # keeps every run (and its lock) busy for a moment, like real work
    "models/core/busy.sql": (
        "select (select count(*) from raw.events) as events, count(*) as n\n"
        "from range(15000000) where hash(range) % 3 = 0\n"
    ),
}


def _write_events(root: Path, count: int) -> None:
    (root / "seeds" / "events.csv").write_text(
        "id\n" + "".join(f"{i}\n" for i in range(count)), encoding="utf-8"
    )


def _data_dirs(root: Path) -> set[str]:
    return {p.name for p in (root / "warehouse").glob("*/*/hw-*")}


@pytest.mark.parametrize(
    "rounds", [pytest.param(5, id="scaled"), pytest.param(50, id="full", marks=pytest.mark.slow)]
)
def test_r10_same_run_started_twice_50ms_apart(make_project, rounds):
    project = make_project(PROJECT)
    root = project.root
    refused = 0
    for round_ in range(rounds):
        _write_events(root, 20 * (round_ + 1))
        runs_before = len(project.runs(limit=10_000))
        dirs_before = _data_dirs(root)
        first = start([*HEADWATER, "run"], root)
        time.sleep(0.05)
        second = start([*HEADWATER, "run"], root)
        ended: dict[int, float] = {}
        procs = {first.pid: first, second.pid: second}
        outputs = {}
        while len(ended) < 2:
            for pid, proc in procs.items():
                if pid not in ended and proc.poll() is not None:
                    ended[pid] = time.monotonic()
                    outputs[pid] = proc.communicate()
            time.sleep(0.005)
        codes = {pid: p.returncode for pid, p in procs.items()}
        winners = [pid for pid, code in codes.items() if code == 0]
        losers = [pid for pid, code in codes.items() if code != 0]
        counts = project.query("select count(*) as n, count(distinct id) as d from core.app")
        # 0 duplicates
        assert counts.to_pylist() == [{"n": 20 * (round_ + 1), "d": 20 * (round_ + 1)}]
        if len(winners) == 2:
            # on a loaded machine the second process may reach its run only after the first
            # ended: then both may succeed, one after the other, as the catalog shows
            later, earlier = project.runs(limit=2)
            assert earlier["status"] == later["status"] == "success", outputs
            assert earlier["finished_at"] <= later["started_at"], (earlier, later)
            continue
        assert len(winners) == 1 and len(losers) == 1, (codes, outputs)
        refused += 1
        winner, loser = winners[0], losers[0]
        message = outputs[loser][1]
        # refused with a clear message naming the other run (its pid; see the run-id test)
        assert "already running" in message and f"pid {winner}" in message, message
        assert "not started" in message
        # ... and without waiting for it
        assert ended[loser] < ended[winner]
        # it wrote nothing: no run recorded, every new data folder is the winner's
        runs = project.runs(limit=10_000)
        assert len(runs) == runs_before + 1 and runs[0]["status"] == "success"
        new_dirs = _data_dirs(root) - dirs_before
        assert new_dirs and all(d.startswith(f"hw-{runs[0]['run_id']}-") for d in new_dirs)
    assert refused, "the two runs never overlapped: nothing was tested"


def test_r10_refusal_names_the_running_run_by_id(make_project):
    # the first run blocks opening a named pipe nobody writes to, until we kill it
    project = make_project(
        {
            **PROJECT,
            "models/core/gate.sql": (
                "select * from read_csv('gate.csv', header = true, columns = {'x': 'INTEGER'})\n"
            ),
        }
    )
    root = project.root
    os.mkfifo(root / "gate.csv")
    _write_events(root, 10)
    first = start([*HEADWATER, "run", "--select", "core.gate"], root)
    try:
        assert wait_for(
            lambda: any(r["status"] == "running" for r in project.runs()), timeout=600
        ), "the first run never started"
        running = next(r for r in project.runs() if r["status"] == "running")
        second = start([*HEADWATER, "run"], root)
        _, err = second.communicate(timeout=600)
        assert second.returncode != 0
        assert "already running" in err
        assert running["run_id"] in err, err
    finally:
        kill(first)


# -- locks per asset and partition ---------------------------------------------------------


def _pg_project(make_project: ProjectFactory, server: PostgresServer, database: str) -> Project:
    """A project loading tables `a` and `b` of a PostgreSQL database, each its own asset."""
    project = make_project(
        {
            "sources/pg.yml": (
                f"kind: sql\nurl: postgresql://postgres@127.0.0.1:{server.port}/{database}\n"
                "tables:\n  a: {table: public.a}\n  b: {table: public.b}\n"
            ),
        }
    )
    return project


def test_r10_disjoint_selections_build_side_by_side(
    make_project: ProjectFactory, postgres_server: PostgresServer
) -> None:
    import psycopg

    database = postgres_server.create_database()
    with psycopg.connect(postgres_server.dsn(database), autocommit=True) as setup:
        setup.execute("CREATE TABLE a AS SELECT generate_series(1, 10) AS id")
        setup.execute("CREATE TABLE b AS SELECT generate_series(1, 20) AS id")
    project = _pg_project(make_project, postgres_server, database)
    root = project.root
    # the barrier: both loads block on our table locks until both are inside their builds
    barrier = psycopg.connect(postgres_server.dsn(database))
    barrier.execute("LOCK TABLE a, b IN ACCESS EXCLUSIVE MODE")
    first = start([*HEADWATER, "run", "--select", "pg.a"], root)
    second = start([*HEADWATER, "run", "--select", "pg.b"], root)
    try:
        with psycopg.connect(postgres_server.dsn(database), autocommit=True) as watch:

            def both_blocked() -> bool:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND wait_event_type = 'Lock'",
                    (database,),
                ).fetchone()
                return waiting is not None and waiting[0] == 2

            assert wait_for(both_blocked, timeout=600), (
                "the two runs never built at the same time: one must have waited or been refused"
            )
        running = [r for r in project.runs() if r["status"] == "running"]
        assert len(running) == 2, running  # both recorded as running, each holding its lock
    finally:
        barrier.commit()
        barrier.close()
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    runs = project.runs()
    assert [r["status"] for r in runs[:2]] == ["success", "success"]
    # their run records overlap: each started before the other finished
    one, two = runs[0], runs[1]
    assert one["started_at"] < two["finished_at"] and two["started_at"] < one["finished_at"]
    counts = project.query(
        "select (select count(*) from pg.a) as a, (select count(*) from pg.b) as b"
    )
    assert counts.to_pylist() == [{"a": 10, "b": 20}]
    assert locks.held(project.catalog) == []  # both gave their locks back


GATED = {
    **PROJECT,
    "models/core/gate.sql": (
        "select * from read_csv('gate.csv', header = true, columns = {'x': 'INTEGER'})\n"
    ),
}


def _start_gated(make_project: ProjectFactory) -> tuple[Project, subprocess.Popen[str]]:
    """A project whose `core.gate` blocks on a named pipe, and a run of it holding its lock."""
    project = make_project(GATED)
    root = project.root
    os.mkfifo(root / "gate.csv")
    _write_events(root, 10)
    assert project.run(select=["raw.events", "core.app"]).status == "success"
    first = start([*HEADWATER, "run", "--select", "core.gate"], root)
    assert wait_for(lambda: any(r["status"] == "running" for r in project.runs()), timeout=600), (
        "the first run never started"
    )
    return project, first


def test_r10_an_overlapping_selection_is_refused_naming_the_asset_and_its_holder(
    make_project: ProjectFactory,
) -> None:
    project, first = _start_gated(make_project)
    root = project.root
    try:
        running = next(r for r in project.runs() if r["status"] == "running")
        store = project.store
        tables = [TableRef("raw", "events"), TableRef("core", "app")]
        versions = [store.current_version(t) for t in tables]
        _write_events(root, 30)  # both would change if this run were let in
        runs_before = len(project.runs(limit=1000))
        selection = ["-s", "raw.events", "-s", "core.app"]
        second = start([*HEADWATER, "run", *selection, "-s", "core.gate"], root)
        _, err = second.communicate(timeout=600)
        assert second.returncode != 0
        assert "asset core.gate is held by run" in err, err
        assert running["run_id"] in err and f"pid {first.pid}" in err
        assert "'headwater run'" in err and "not started" in err
        assert "Traceback" not in err
        # refused before it wrote: the tables nobody held are at the same versions
        assert [store.current_version(t) for t in tables] == versions
        assert len(project.runs(limit=1000)) == runs_before
        # ... while a disjoint selection goes ahead beside the blocked run
        third = start([*HEADWATER, "run", *selection], root)
        out, err = third.communicate(timeout=600)
        assert third.returncode == 0, (out, err)
        assert [store.current_version(t) for t in tables] == [(v or 0) + 1 for v in versions]
        assert project.query("select count(*) as n from core.app").to_pylist() == [{"n": 30}]
        statuses = {r["run_id"]: r["status"] for r in project.runs()}
        assert statuses[running["run_id"]] == "running"
    finally:
        kill(first)


def test_r10_a_sigkilled_runs_locks_are_taken_over(make_project: ProjectFactory) -> None:
    project, first = _start_gated(make_project)
    root = project.root
    running = next(r for r in project.runs() if r["status"] == "running")
    held = {lock.run_id for lock in locks.held(project.catalog)}
    assert held == {running["run_id"]}
    kill(first)
    # its lock is still recorded in the catalog; only its process is gone
    assert {lock.run_id for lock in locks.held(project.catalog)} == held
    (root / "gate.csv").unlink()
    (root / "gate.csv").write_text("x\n1\n2\n", encoding="utf-8")
    again = start([*HEADWATER, "run", "--select", "core.gate"], root)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, (out, err)
    statuses = {r["run_id"]: r["status"] for r in project.runs()}
    assert statuses[running["run_id"]] == "interrupted"
    assert project.query("select count(*) as n from core.gate").to_pylist() == [{"n": 2}]
    assert locks.held(project.catalog) == []
    assert not list((root / ".headwater" / "locks" / "runs").iterdir())  # settled, forgotten


DAILY = {
    "headwater.yml": "name: parts\nthreads: 2\n",
    "seeds/events.csv": "id,day\n" + "".join(f"{i},2024-05-{1 + i % 4:02d}\n" for i in range(40)),
    "models/core/daily.sql": (
        "select day, count(*) as events from raw.events\n"
        "where day >= {{ partition_start }} and day < {{ partition_end }}\ngroup by day\n"
    ),
    "models/core/daily.yml": (
        "partitions: {column: day, grain: daily, start: 2024-05-01, end: 2024-05-05}\n"
    ),
}


def test_r10_partitions_of_one_asset_build_side_by_side_and_commit_in_turn(
    make_project: ProjectFactory,
) -> None:
    project = make_project(DAILY)
    root = project.root
    assert project.run(select=["raw.events"]).status == "success"
    # hold the table's commit turn, so both backfills must be inside their builds at once
    turn = TableCommitLock(project.definition.state_dir, "core.daily")
    with turn:
        first = start(
            [*HEADWATER, "backfill", "core.daily", "--start", "2024-05-01", "--end", "2024-05-02"],
            root,
        )
        second = start(
            [*HEADWATER, "backfill", "core.daily", "--start", "2024-05-03", "--end", "2024-05-04"],
            root,
        )
        try:

            def both_building() -> bool:
                runs = [r for r in project.runs() if r["status"] == "running"]
                return len(runs) == 2 and all(
                    any(x["status"] == "running" for x in project.catalog.results(r["run_id"]))
                    for r in runs
                )

            assert wait_for(both_building, timeout=600), "the two backfills never overlapped"
        except BaseException:
            kill(first)
            kill(second)
            raise
    # released: they commit one after the other, neither fails
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    rows = project.query("select day::varchar as day, events from core.daily order by day")
    assert rows.to_pylist() == [{"day": f"2024-05-0{d}", "events": 10} for d in range(1, 5)]


def test_r10_the_same_partition_is_refused_while_another_is_built(
    make_project: ProjectFactory,
) -> None:
    project = make_project(DAILY)
    root = project.root
    assert project.run(select=["raw.events"]).status == "success"
    daily = TableRef("core", "daily")
    # another run holds partition 2024-05-02 of core.daily
    holder = RunLocks(project.catalog, project.definition.state_dir, new_run_id(), "backfill")
    holder.acquire([Claim("core.daily", "2024-05-02")])
    try:
        refused = start(
            [*HEADWATER, "backfill", "core.daily", "--start", "2024-05-01", "--end", "2024-05-02"],
            root,
        )
        _, err = refused.communicate(timeout=600)
        assert refused.returncode != 0
        assert "asset core.daily partition 2024-05-02 is held by run" in err, err
        assert f"'headwater backfill', pid {os.getpid()}" in err
        assert project.store.current_version(daily) is None  # nothing written, not even 05-01
        other = start(
            [*HEADWATER, "backfill", "core.daily", "--start", "2024-05-03", "--end", "2024-05-03"],
            root,
        )
        out, err = other.communicate(timeout=600)
        assert other.returncode == 0, (out, err)
    finally:
        holder.release()
    assert [
        r["partition"] for r in project.partitions("core.daily") if r["status"] == "success"
    ] == ["2024-05-03"]
