"""R5: ingest 100,000 keyed records in batches from PostgreSQL, hard-killing the loader 3 times.

The output keys equal the input keys with no duplicate, and so does every version a reader
polling the table sees during the whole run. The kills land before the commit, after the commit
(before the catalog hears of it) and at an arbitrary moment of the load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
from deltalake import DeltaTable

from tests.conftest import HEADWATER, ProjectFactory, run_cli
from tests.support.postgres import PostgresServer

BATCHES = 5
BATCH_ROWS = 20_000


class Poller(threading.Thread):
    """Reads every new version of a table and records any duplicate or vanished key."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.versions_seen = 0

    def run(self) -> None:
        last_version = -1
        last_count = 0
        while not self.stop.is_set():
            try:
                table = DeltaTable(str(self.path))
            except Exception:
                time.sleep(0.01)
                continue
            if table.version() != last_version:
                ids = table.to_pyarrow_table(columns=["id"]).column("id").to_pylist()
                if len(ids) != len(set(ids)):
                    self.problems.append(f"version {table.version()} has duplicate keys")
                if len(ids) < last_count:
                    self.problems.append(f"version {table.version()} lost rows")
                last_version, last_count = table.version(), len(ids)
                self.versions_seen += 1
            time.sleep(0.01)


def _insert_batch(dsn: str, batch: int) -> None:
    start = batch * BATCH_ROWS + 1
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "INSERT INTO events SELECT i, 'payload ' || i, "
            "timestamp '2024-01-01' + i * interval '1 second' "
            f"FROM generate_series({start}, {start + BATCH_ROWS - 1}) AS i"
        )


def _kill_mid_load(root: Path, delay: float) -> int:
    process = subprocess.Popen(
        [*HEADWATER, "ingest"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    return process.wait(600)


@pytest.mark.slow
def test_r5_keys_survive_three_hard_kills(
    make_project: ProjectFactory, postgres_server: PostgresServer
) -> None:
    database = postgres_server.create_database()
    dsn = postgres_server.dsn(database)
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, body text, at timestamp NOT NULL)"
        )
    project = make_project(
        {
            "sources/pg.yml": (
                f"kind: sql\nurl: postgresql://postgres@127.0.0.1:{postgres_server.port}/"
                f"{database}\ntables:\n  events:\n    mode: incremental\n    cursor: at\n"
                "    primary_key: id\n"
            )
        }
    )
    poller = Poller(project.definition.warehouse / "pg" / "events")
    poller.start()
    kills = {1: "before_commit", 2: "after_commit", 3: "timer"}
    try:
        for batch in range(BATCHES):
            _insert_batch(dsn, batch)
            kill = kills.get(batch)
            if kill == "timer":
                _kill_mid_load(project.root, 0.6)
            elif kill is not None:
                killed = run_cli(["ingest"], project.root, env={"HEADWATER_FAULT": kill})
                assert killed.returncode == -9
            result = run_cli(["ingest"], project.root)
            assert result.returncode == 0, result.stdout + result.stderr
    finally:
        poller.stop.set()
        poller.join(600)
    table = DeltaTable(str(project.definition.warehouse / "pg" / "events"))
    ids = table.to_pyarrow_table(columns=["id"]).column("id").to_pylist()
    assert len(ids) == len(set(ids)) == BATCHES * BATCH_ROWS
    assert set(ids) == set(range(1, BATCHES * BATCH_ROWS + 1))
    assert poller.problems == []
    assert poller.versions_seen >= BATCHES
