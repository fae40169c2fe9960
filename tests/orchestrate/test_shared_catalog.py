"""Two machines sharing one catalog: the same project checked out twice, in separate folders (so
separate `.headwater/` state and no shared file lock), with `catalog:` one PostgreSQL database
and `warehouse:` one S3 warehouse on the local moto server.

Runs of disjoint selections on the two go on side by side; an overlapping one is refused naming
the asset and the other machine's run; a run SIGKILLed on one machine blocks the other only until
its heartbeat is stale, then its locks are taken over and its run settled.

Overlap is made certain, not hoped for: each load reads a table of a PostgreSQL source database
that the test holds locked, so a run stays inside its build until the test lets it go, and the
test polls the catalog for a run's claim before it starts the other.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.catalog import locks
from headwater.catalog.store import Catalog
from headwater.orchestrate.lock import STALE_AFTER_S, TABLE_TURNS, TableCommitLock
from tests.conftest import HEADWATER, write_files
from tests.reliability.helpers import kill, start, wait_for
from tests.support.postgres import PostgresServer
from tests.support.s3 import S3Bucket

DEADLINE_S = 600.0
"""Only so that a broken test cannot hang: every wait polls for a state, never for a time."""


@dataclass
class Machines:
    """The two checkouts, the shared catalog, and the source database the loads read."""

    one: Path
    two: Path
    catalog: Catalog
    server: PostgresServer
    source: str
    bucket: S3Bucket

    @property
    def environment(self) -> dict[str, str]:
        """What a headwater process needs to reach the S3 warehouse."""
        return self.bucket.environment()

    def run(self, root: Path, *args: str) -> subprocess.Popen[str]:
        """Start `headwater run ARGS` on the machine checked out at `root`."""
        return start([*HEADWATER, "run", *args], root, env=self.environment)

    def holders(self) -> dict[str, str]:
        """Asset -> run id, for every run lock recorded in the shared catalog."""
        return {str(lock.claim): lock.run_id for lock in locks.held(self.catalog)}

    def building(self, asset: str) -> str | None:
        """The run building `asset` right now (recorded running, and its build started)."""
        with self.catalog.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT r.run_id FROM hw_asset_results a JOIN hw_runs r ON r.run_id = a.run_id "
                "WHERE a.asset = :asset AND a.status = 'running' AND r.status = 'running'",
                {"asset": asset},
            )
        return str(rows[0]["run_id"]) if rows else None

    def blocked_loads(self) -> int:
        """How many connections wait for the test's lock on the source tables."""
        import psycopg

        with psycopg.connect(self.server.dsn(self.source), autocommit=True) as watch:
            row = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND wait_event_type = 'Lock'",
                (self.source,),
            ).fetchone()
        return int(row[0]) if row else 0

    def waiting_for_commit_turns(self) -> int:
        """How many processes wait for their turn to commit to a table (`TableCommitLock`)."""
        with self.catalog.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = CAST(:classid AS oid) AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                {"classid": TABLE_TURNS},
            )
        return int(rows[0]["n"])

    def rows(self, root: Path, sql: str) -> list[dict[str, Any]]:
        """Query the shared warehouse through the checkout at `root`."""
        with Project(root) as project:
            return list(project.query(sql).to_pylist())

    def runs(self, root: Path) -> list[dict[str, Any]]:
        """The runs recorded in the shared catalog, as the checkout at `root` lists them."""
        with Project(root) as project:
            return project.runs()

    def results(self, root: Path, run_id: str) -> dict[str, str]:
        """Asset -> status of run `run_id`'s builds, as the checkout at `root` reads them."""
        with Project(root) as project:
            return {r["asset"]: r["status"] for r in project.run_results(run_id)}


@pytest.fixture
def machines(
    tmp_path: Path,
    postgres_server: PostgresServer,
    s3_bucket: S3Bucket,
) -> Iterator[Machines]:
    import psycopg

    source = postgres_server.create_database()
    with psycopg.connect(postgres_server.dsn(source), autocommit=True) as setup:
        setup.execute("CREATE TABLE a AS SELECT generate_series(1, 10) AS id")
        setup.execute("CREATE TABLE b AS SELECT generate_series(1, 20) AS id")
    catalog_url = postgres_server.url(postgres_server.create_database())
    files = {
        "headwater.yml": (
            f"name: shared\nthreads: 2\ncatalog: {catalog_url}\nwarehouse: {s3_bucket.warehouse}\n"
        ),
        "sources/pg.yml": (
            f"kind: sql\nurl: postgresql://postgres@127.0.0.1:{postgres_server.port}/{source}\n"
            "tables:\n  a: {table: public.a}\n  b: {table: public.b}\n"
        ),
        "models/east/a_total.sql": "select count(*) as n, sum(id) as total from pg.a",
        "models/west/b_total.sql": "select count(*) as n, sum(id) as total from pg.b",
        "seeds/events.csv": "id,day\n"
        + "".join(f"{i},2024-05-{1 + i % 4:02d}\n" for i in range(40)),
        "models/core/daily.sql": (
            "select day, count(*) as events from raw.events\n"
            "where day >= {{ partition_start }} and day < {{ partition_end }}\ngroup by day\n"
        ),
        "models/core/daily.yml": (
            "partitions: {column: day, grain: daily, start: 2024-05-01, end: 2024-05-05}\n"
        ),
    }
    one = tmp_path / "machine-one" / "shop"
    write_files(one, files)
    two = tmp_path / "machine-two" / "shop"
    shutil.copytree(one, two)  # the same project files, checked out a second time
    catalog = Catalog(catalog_url)
    try:
        yield Machines(one, two, catalog, postgres_server, source, s3_bucket)
    finally:
        catalog.close()


class SourceLock:
    """The test's lock on source tables: a load of them waits inside its build until released."""

    def __init__(self, machines: Machines, tables: str) -> None:
        import psycopg

        self._connection = psycopg.connect(machines.server.dsn(machines.source))
        self._connection.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        """Let the waiting loads go on (idempotent)."""
        if not self._connection.closed:
            self._connection.commit()
            self._connection.close()


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=DEADLINE_S)
    return process.returncode, out, err


def test_disjoint_selections_run_side_by_side_on_two_machines(machines: Machines) -> None:
    gate = SourceLock(machines, "a, b")
    first = machines.run(machines.one, "-s", "pg.a+")
    second = machines.run(machines.two, "-s", "pg.b+")
    try:
        # both loads wait on the gate at once: each machine is inside its build, neither was
        # refused by the other's locks nor waits for them
        assert wait_for(lambda: machines.blocked_loads() == 2, DEADLINE_S), (
            "the two runs never built at the same time"
        )
        holders = machines.holders()
        assert set(holders) == {"pg.a", "east.a_total", "pg.b", "west.b_total"}
        assert holders["pg.a"] == holders["east.a_total"] != holders["pg.b"]
    finally:
        gate.release()
    results = [_finish(first), _finish(second)]
    assert [code for code, _, _ in results] == [0, 0], results
    assert machines.holders() == {}  # both gave their locks back
    runs = machines.runs(machines.one)
    assert [r["status"] for r in runs] == ["success", "success"]
    # both machines see both runs, and the tables each wrote to the one warehouse
    assert [r["run_id"] for r in machines.runs(machines.two)] == [r["run_id"] for r in runs]
    for root in (machines.one, machines.two):
        assert machines.rows(
            root,
            "select l.n as a_n, l.total as a_total, r.n as b_n, r.total as b_total "
            "from east.a_total l, west.b_total r",
        ) == [{"a_n": 10, "a_total": 55, "b_n": 20, "b_total": 210}]
    # ... which is the bucket: neither checkout has a warehouse of its own
    keys = machines.bucket.server.keys(machines.bucket.name, "warehouse/")
    for table in ("pg/a", "pg/b", "east/a_total", "west/b_total"):
        assert f"warehouse/{table}/_delta_log/00000000000000000000.json" in keys, table
    assert not (machines.one / "warehouse").exists() and not (machines.two / "warehouse").exists()


def test_an_overlapping_selection_on_the_other_machine_is_refused(machines: Machines) -> None:
    gate = SourceLock(machines, "a")
    first = machines.run(machines.one, "-s", "pg.a+")
    try:
        assert wait_for(lambda: machines.building("pg.a") is not None, DEADLINE_S), (
            "the first run never started its load"
        )
        holder = machines.building("pg.a")
        assert machines.holders()["pg.a"] == holder
        refused = machines.run(machines.two, "-s", "pg.a", "-s", "pg.b+")
        code, _, err = _finish(refused)
        assert code != 0
        assert f"asset pg.a is held by run {holder} ('headwater run', pid {first.pid}" in err, err
        assert "this run was not started and wrote nothing" in err
        assert "Traceback" not in err
        # refused before it wrote or claimed anything, the first run still holding its own
        assert machines.holders() == {"pg.a": holder, "east.a_total": holder}
        assert [r["run_id"] for r in machines.runs(machines.two)] == [holder]
    finally:
        gate.release()
    code, out, err = _finish(first)
    assert code == 0, (out, err)
    assert machines.rows(machines.two, "select n, total from east.a_total") == [
        {"n": 10, "total": 55}
    ]


def test_a_run_killed_on_one_machine_blocks_the_other_only_until_its_heartbeat_is_stale(
    machines: Machines,
) -> None:
    gate = SourceLock(machines, "a")
    first = machines.run(machines.one, "-s", "pg.a")
    try:
        assert wait_for(lambda: machines.building("pg.a") is not None, DEADLINE_S), (
            "the first run never started its load"
        )
        dead = machines.building("pg.a")
        kill(first)  # SIGKILL: no chance to release its locks or record its end
    finally:
        gate.release()
    assert machines.holders() == {"pg.a": dead}
    # machine two cannot tell a dead process on machine one from a live one: while the
    # heartbeat is recent the claim stands
    code, _, err = _finish(machines.run(machines.two, "-s", "pg.a"))
    assert code != 0 and f"asset pg.a is held by run {dead}" in err, err
    assert f"after {STALE_AFTER_S:g} s without a heartbeat from another machine" in err
    # the heartbeat goes stale (moved back in the catalog rather than waiting a minute)
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=STALE_AFTER_S + 5)
    with machines.catalog.db.transaction() as tx:
        tx.execute(
            "UPDATE hw_runs SET heartbeat_at = :at WHERE run_id = :run_id",
            {"at": stale.isoformat(timespec="microseconds"), "run_id": dead},
        )
    code, out, err = _finish(machines.run(machines.two, "-s", "pg.a+"))
    assert code == 0, (out, err)
    # the dead run's locks were taken over and its run settled, by the other machine
    runs = {r["run_id"]: r for r in machines.runs(machines.two)}
    assert runs[dead]["status"] == "interrupted"
    assert machines.results(machines.two, dead) == {"pg.a": "interrupted"}
    assert machines.holders() == {}
    assert machines.rows(machines.one, "select n, total from east.a_total") == [
        {"n": 10, "total": 55}
    ]


def test_partitions_built_on_two_machines_commit_in_turn(
    machines: Machines, tmp_path: Path
) -> None:
    code, out, err = _finish(machines.run(machines.one, "-s", "raw.events"))
    assert code == 0, (out, err)
    backfill = [*HEADWATER, "backfill", "core.daily"]
    # the test takes the table's commit turn as a third machine would: both backfills build
    # their partitions, then wait for it, each machine's file locks being no help
    with TableCommitLock(tmp_path / "machine-three", "core.daily", machines.catalog):
        first = start(
            [*backfill, "--start", "2024-05-01", "--end", "2024-05-02"],
            machines.one,
            env=machines.environment,
        )
        second = start(
            [*backfill, "--start", "2024-05-03", "--end", "2024-05-04"],
            machines.two,
            env=machines.environment,
        )
        try:
            assert wait_for(
                lambda: (
                    machines.waiting_for_commit_turns() == 2
                    or None not in (first.poll(), second.poll())
                ),
                DEADLINE_S,
            )
            assert machines.waiting_for_commit_turns() == 2, "the backfills never met"
        except BaseException:
            kill(first)
            kill(second)
            raise
    # released: they commit one after the other, and neither fails on the other's commit
    results = [_finish(first), _finish(second)]
    assert [code for code, _, _ in results] == [0, 0], results
    assert machines.rows(
        machines.two, "select day::varchar as day, events from core.daily order by day"
    ) == [{"day": f"2024-05-0{d}", "events": 10} for d in range(1, 5)]


def test_a_second_checkout_finds_the_first_ones_builds_up_to_date(machines: Machines) -> None:
    code, out, err = _finish(machines.run(machines.one, "-s", "pg.a+"))
    assert code == 0, (out, err)
    # what a model was built from is the shared catalog's state, not the checkout's
    code, out, err = _finish(machines.run(machines.two, "-s", "east.a_total", "--json"))
    assert code == 0, (out, err)
    statuses = {o["key"]: o["status"] for o in json.loads(out)["assets"]}
    assert statuses == {"east.a_total": "up_to_date"}


def test_a_run_whose_locks_another_machine_took_over_commits_nothing(machines: Machines) -> None:
    gate = SourceLock(machines, "a")
    first = machines.run(machines.one, "-s", "pg.a")
    try:
        assert wait_for(lambda: machines.building("pg.a") is not None, DEADLINE_S), (
            "the first run never started its load"
        )
        holder = machines.building("pg.a")
        # machine two judges it dead (its catalog was out of reach for a minute, say) and takes
        # its locks over while it still runs, inside its load
        taken = locks.claim(
            machines.catalog,
            "run-on-machine-two",
            [locks.Claim("pg.a")],
            {"command": "run", "pid": 1, "hostname": "machine-two"},
            alive=lambda lock: False,
        )
        assert taken == []
        assert machines.holders() == {"pg.a": "run-on-machine-two"}
    finally:
        gate.release()
    code, out, err = _finish(first)
    assert code != 0, (out, err)
    message = f"run {holder} no longer holds the lock of pg.a: another run took it over"
    assert message in out and "nothing was committed" in out, (out, err)
    assert "Traceback" not in out + err
    # ... and left the new holder's lock alone when it let go of its own
    assert machines.holders() == {"pg.a": "run-on-machine-two"}
    # the load read its rows but committed nothing: the table was never made
    keys = machines.bucket.server.keys(machines.bucket.name, "warehouse/pg/a/_delta_log/")
    assert keys == []
    assert machines.results(machines.two, str(holder)) == {"pg.a": "failed"}
