"""R15 for change data capture: the capture of a PostgreSQL source SIGKILLed 20+ times (60 in
the slow tier) while the random workload of `tests/stream/cdc/workload.py` writes without a
pause in this process (up to a bounded lead, below): multi-row transactions, rollbacks,
savepoints, key updates, deletes, TOASTed text left unchanged, truncates and columns added
midway, over four tables (one with REPLICA IDENTITY FULL and its key in YAML).

The writer stays at most `MAX_AHEAD` transactions ahead of the slot's confirmed position (it
waits for the capture there): a capture killed every few seconds applies a batch or two per
start, less than a writer without a pause writes meanwhile, so an unbounded writer leaves a
backlog that grows with the number of kills and the machine's load (tens of thousands of
changes after 60 kills) for the final run to catch up.

The capture runs in a subprocess: mostly the capture job run continuously (as a stream would
run it), now and then `headwater run`, which drains the slot and stops. Each is SIGKILLed
either at a random moment after it starts (so also in the initial copy) or just after a new
Delta commit of any of its tables (so also between a change log's commit and its mirror's,
and between the mirrors' commits and the slot's acknowledgement). Micro-batches are small and
the mirrors are compacted every few commits, so the kills land in every step.

After each kill, once PostgreSQL let go of the slot, its confirmed_flush_lsn is read with
every table's position (the app transaction version `headwater:cdc:pg` of the mirror and of
its change log, read with delta-rs). After the last kill the writer stops and a final
`headwater run` catches up; then:

- every mirror equals its PostgreSQL table (columns, rows, typed values);
- every change log holds each committed change exactly once, at its transaction's commit LSN
  (bracketed by WAL positions the writer read around each commit), and nothing of a
  rolled-back transaction: no change lost, none duplicated (every insert and update wrote a
  distinct `version`);
- at no kill was the slot confirmed past a change that a mirror or change log did not hold:
  PostgreSQL never sends those again. The slot may be confirmed past the newest position the
  mirrors hold: psycopg2 moves its flush position to the server's WAL end on a keepalive when
  everything it received was acknowledged (over WAL with nothing for the publication), which
  the check allows since it is per change, not per position.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.conftest import HEADWATER, ProjectFactory, run_cli
from tests.reliability.stream_kills import log_version
from tests.stream.cdc.workload import (
    KEYS,
    CdcDatabase,
    Workload,
    Writer,
    acknowledged_unheld,
    assert_change_logs_exact,
    assert_mirrors_equal,
    copy_positions,
    drop_slots,
    logged_changes,
    source_file,
    table_specs,
)
from tests.support.postgres import PostgresServer

DEADLINE_S = 300.0
"""A hang guard for one wait, never a measurement."""
MAX_AHEAD = 600
"""Committed transactions the writer may have past the slot's confirmed position (about 20
micro-batches of 300 changes): the most the final run has to catch up."""
APP_ID = "headwater:cdc:pg"

CAPTURE = """
import sys, uuid
from headwater import Project
from headwater.engine.registry import EnginePlace, create_engine
from headwater.stream.cdc.jobs import capture_job
from headwater.stream.cdc.postgres_job import capture_folder
from headwater.stream.run_lock import stream_lock

project = Project(sys.argv[1])
definition = project.definition
engine = create_engine(definition.config.engine, EnginePlace(definition.root))
with stream_lock(capture_folder(project.store, "pg"), "capture of pg"):
    job = capture_job(definition, "pg", project.store, engine.session(), uuid.uuid4().hex[:16])
    job.run(until_caught_up=False)
"""
"""The capture job run continuously (until killed), as a stream runs it."""


@dataclass
class Kill:
    """What the slot and the tables said once a killed capture was gone."""

    confirmed: int
    held: dict[str, tuple[int | None, int | None]]
    """Table -> (its mirror's position, its change log's position); None: not there yet."""


def position(path: Path) -> int | None:
    """The app transaction version of the capture in the Delta table at `path`."""
    if log_version(path) < 0:
        return None
    return DeltaTable(str(path)).transaction_version(APP_ID)


class Capture:
    """Starts the capture in a subprocess and kills it."""

    def __init__(self, root: Path, db: CdcDatabase, rng: random.Random) -> None:
        self.root = root
        self.db = db
        self.rng = rng
        self.warehouse = root / "warehouse" / "pg"
        self.tables = [self.warehouse / t for t in KEYS] + [
            self.warehouse / f"{t}__changes" for t in KEYS
        ]
        self.log = root / "capture.log"
        self.kills: list[Kill] = []
        self.runs_finished = 0

    def start(self) -> subprocess.Popen[bytes]:
        if self.rng.random() < 0.25:
            command = [*HEADWATER, "run"]
        else:
            command = [sys.executable, "-c", CAPTURE, str(self.root)]
        with self.log.open("ab") as out:
            return subprocess.Popen(command, cwd=self.root, stdout=out, stderr=out)

    def kill_repeatedly(self, kills: int) -> None:
        """Start the capture and SIGKILL it, `kills` times."""
        while len(self.kills) < kills:
            seen = [log_version(t) for t in self.tables]
            process = self.start()
            try:
                if not self.kills:
                    # in the initial copy, once the first table's log and mirror committed:
                    # the next start copies the others in a temporary slot's snapshot
                    self.wait_commits(process, seen, 2)
                elif self.rng.random() < 0.3:
                    time.sleep(self.rng.uniform(0.2, 3.0))  # anywhere, the copy included
                else:  # just after the n-th commit: inside a batch's commits or before its ack
                    self.wait_commits(process, seen, self.rng.randint(1, 16))
                    time.sleep(self.rng.uniform(0, 0.1))
                if process.poll() is not None:
                    # `headwater run` caught up and stopped before the kill
                    assert process.returncode == 0, self.log.read_text()[-3000:]
                    self.runs_finished += 1
                    continue
                process.send_signal(signal.SIGKILL)
                code = process.wait(DEADLINE_S)
                if code == 0:
                    # it caught up and exited between the poll and the signal: no kill landed
                    self.runs_finished += 1
                    continue
                assert code == -signal.SIGKILL, self.log.read_text()[-3000:]
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(DEADLINE_S)
            self.record()

    def wait_commits(self, process: subprocess.Popen[bytes], seen: list[int], count: int) -> None:
        """Wait until the tables got `count` new versions (or the process ended)."""
        deadline = time.monotonic() + DEADLINE_S
        while sum(log_version(t) - v for t, v in zip(self.tables, seen, strict=True)) < count:
            if process.poll() is not None:
                return
            assert time.monotonic() < deadline, "the capture committed nothing new"
            time.sleep(0.005)

    def record(self) -> None:
        """Read the slot's confirmed position (once no reader holds it) and every table's."""
        confirmed, _ = self.db.slot_state()
        if confirmed is None:
            return  # killed before the slot was made
        held = {
            t: (position(self.warehouse / t), position(self.warehouse / f"{t}__changes"))
            for t in KEYS
        }
        self.kills.append(Kill(confirmed, held))


@pytest.fixture
def kill_db(postgres_server: PostgresServer) -> Iterator[CdcDatabase]:
    name = postgres_server.create_database()
    yield CdcDatabase(postgres_server, name, f"hw_{uuid.uuid4().hex[:16]}")
    drop_slots(postgres_server, name)


def check_cdc_kills(
    db: CdcDatabase, make_project: ProjectFactory, kills: int, seed: int, evolve_at: int
) -> None:
    """Kill the capture `kills` times during the workload, catch up, check the docstring's
    points."""
    workload = Workload(db.dsn, seed)
    workload.setup(accounts=6000, ledger=3000, big=30)
    workload.evolve_at = evolve_at
    files = source_file(
        db.url, db.slot, table_specs(), batch_changes=300, trigger="100ms", compact_every=5
    )
    project = make_project(files)
    warehouse = project.definition.warehouse
    capture = Capture(project.root, db, random.Random(seed))

    writer = Writer(workload, pause_s=0.01, slot=db.slot, max_ahead=MAX_AHEAD)
    writer.start()
    try:
        capture.kill_repeatedly(kills)
    finally:
        writer.finish()
    result = run_cli(["run"], cwd=project.root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # the workload and the kills did what they are for
    assert len(capture.kills) == kills
    assert workload.evolved and workload.rolled_back > 0 and workload.truncates > 0
    assert len(workload.committed) > 300
    copies = copy_positions(warehouse)
    assert copies["accounts"] is not None and copies["items"] is not None
    assert copies["items"] > copies["accounts"]  # copied after the first kill
    streamed = sum(1 for c in workload.committed if c.low >= copies["accounts"])
    assert streamed > 200, "the capture applied few transactions between the kills"

    assert_mirrors_equal(db.dsn, warehouse)
    assert_change_logs_exact(workload.committed, warehouse)
    logged = logged_changes(warehouse)
    problems = [
        f"kill {number}: {problem}"
        for number, kill in enumerate(capture.kills)
        for problem in acknowledged_unheld(logged, kill.held, kill.confirmed)
    ]
    assert problems == []
    # the acknowledgements moved on between the kills
    assert len({kill.confirmed for kill in capture.kills}) > kills // 3


def test_r15_cdc_capture_killed_twenty_times_during_a_random_workload(
    kill_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    check_cdc_kills(kill_db, make_project, kills=20, seed=15, evolve_at=400)


@pytest.mark.slow
def test_r15_cdc_capture_killed_sixty_times_during_a_random_workload(
    kill_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    check_cdc_kills(kill_db, make_project, kills=60, seed=16, evolve_at=1000)


def test_the_writer_waits_for_the_slot_once_max_ahead_transactions_past_it(
    kill_db: CdcDatabase,
) -> None:
    """What keeps the final catch-up of the kill tests bounded: the writer waits for the
    slot's confirmed position to move, however far behind its reader is."""
    workload = Workload(kill_db.dsn, seed=7)
    workload.setup(accounts=60, ledger=60, big=1)
    kill_db.query(
        "SELECT 1 FROM pg_create_logical_replication_slot(%s, 'pgoutput')", (kill_db.slot,)
    )
    writer = Writer(workload, slot=kill_db.slot, max_ahead=20)

    def held(times: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while writer.held_back < times:
            assert writer.is_alive(), writer.error
            assert time.monotonic() < deadline, "the writer never waited for the slot"
            time.sleep(0.01)

    writer.start()
    try:
        held(1)
        assert len(workload.committed) == 20
        time.sleep(0.3)  # nobody reads the slot: the writer goes on waiting
        assert len(workload.committed) == 20
        kill_db.query(
            "SELECT 1 FROM pg_replication_slot_advance(%s, pg_current_wal_lsn())",
            (kill_db.slot,),
        )
        held(2)
        assert len(workload.committed) == 40
    finally:
        writer.finish()
