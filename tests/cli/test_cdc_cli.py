"""`headwater cdc status|reset` and a continuous capture under `headwater stream run`,
through the real CLI in subprocesses against a real PostgreSQL; the mirrors are read with
deltalake directly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from deltalake import DeltaTable

from headwater import Project
from headwater.ingest.cdc.pgoutput import parse_lsn
from headwater.storage.base import TableRef
from headwater.stream.cdc.mirror import Mirror
from tests.conftest import HEADWATER, ProjectFactory, run_cli
from tests.orchestrate.test_cdc_operations import Database, database, source_yaml

__all__ = ["database"]  # the fixture, shared with the operations tests

ORDERS = TableRef("pg", "orders")
DEADLINE_S = 120.0
"""Only so that a broken test fails instead of hanging: nothing is timed."""


@pytest.fixture
def project(make_project: ProjectFactory, database: Database) -> Project:
    return make_project({"sources/pg.yml": source_yaml(database)})


def _status(root: Path, *args: str) -> list[dict[str, object]]:
    result = run_cli(["cdc", "status", "--json", *args], root)
    assert result.returncode == 0, result.stderr
    loaded: list[dict[str, object]] = json.loads(result.stdout)
    return loaded


def _mirror(project: Project) -> list[tuple[object, ...]]:
    location = project.store.location(ORDERS)
    if not (location / "_delta_log").exists():
        return []
    table = DeltaTable(str(location)).to_pyarrow_table()
    return sorted((r["id"], r["name"]) for r in table.to_pylist())


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_status_shows_the_slot_and_each_mirror(project: Project, database: Database) -> None:
    (before,) = _status(project.root)
    assert before["slot_exists"] is False and before["tables"] == [
        {
            "table": "pg.orders",
            "position": None,
            "commit_time": None,
            "commit_age_s": None,
            "rows": None,
            "generation": None,
        }
    ]
    assert run_cli(["run"], project.root).returncode == 0
    database.execute("INSERT INTO orders VALUES (4, 'four')")
    (after,) = _status(project.root, "pg")
    assert after["slot"] == database.slot and after["slot_exists"] is True
    assert after["changes_waiting"] is True
    lag = after["lag_bytes"]
    assert isinstance(lag, int) and lag > 0
    (mirror,) = after["tables"]  # type: ignore[misc]
    assert mirror["rows"] == 3
    assert parse_lsn(str(mirror["position"])) <= parse_lsn(str(after["confirmed_flush_lsn"]))

    table = run_cli(["cdc", "status"], project.root)
    assert table.returncode == 0, table.stderr
    assert "pg.orders" in table.stdout and database.slot in table.stdout
    assert table.stderr == ""


def test_status_of_an_unreachable_database_is_a_line_not_a_traceback(
    make_project: ProjectFactory, database: Database
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/{database.name}"
    project = make_project({"sources/pg.yml": source_yaml(database, url=url)})
    result = run_cli(["cdc", "status"], project.root)
    assert result.returncode == 0, result.stderr
    assert "unreachable: cannot connect to the source's PostgreSQL" in result.stdout
    assert "Traceback" not in result.stderr


def test_status_warns_when_the_slot_holds_too_much_wal(
    make_project: ProjectFactory, database: Database
) -> None:
    project = make_project({"sources/pg.yml": source_yaml(database, ", max_retained_wal: 1MB")})
    assert run_cli(["run"], project.root).returncode == 0
    database.execute(
        "CREATE TABLE filler (id int, body text)",
        "INSERT INTO filler SELECT i, repeat('y', 200) FROM generate_series(1, 30000) i",
    )
    result = run_cli(["cdc", "status"], project.root)
    assert result.returncode == 0
    assert f"Warning: slot_wal: replication slot {database.slot} of source pg holds" in (
        result.stderr
    )
    assert "headwater cdc reset pg" in result.stderr


def test_an_unknown_source_is_a_usage_error(project: Project) -> None:
    for command in (["cdc", "status", "pgg"], ["cdc", "reset", "pgg", "--yes"]):
        result = run_cli(command, project.root)
        assert result.returncode == 2, result.stderr
        assert "no cdc source named 'pgg'" in result.stderr
        assert "did you mean 'pg'?" in result.stderr


def test_reset_asks_first_then_drops_the_slot(project: Project, database: Database) -> None:
    assert run_cli(["run"], project.root).returncode == 0
    declined = subprocess.run(
        [*HEADWATER, "cdc", "reset", "pg"],
        cwd=project.root,
        input="n\n",
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    assert declined.returncode == 1 and "Aborted" in declined.stderr
    assert set(database.slots()) == {database.slot}

    done = run_cli(["cdc", "reset", "pg", "--yes"], project.root)
    assert done.returncode == 0, done.stderr
    assert f"dropped {database.slot}" in done.stdout
    assert database.slots() == {}
    again = run_cli(["run"], project.root)
    assert again.returncode == 0, again.stderr
    assert "pg.orders (cdc) 3 rows v1" in again.stdout  # copied again: a second version


def test_stream_run_until_caught_up_runs_every_capture_without_names(
    project: Project, database: Database
) -> None:
    first = run_cli(["stream", "run", "--until-caught-up"], project.root)
    assert first.returncode == 0, first.stderr
    assert _mirror(project) == [(1, "n1"), (2, "n2"), (3, "n3")]
    database.execute("UPDATE orders SET name = 'again' WHERE id = 1", "DELETE FROM orders")
    database.execute("INSERT INTO orders VALUES (7, 'seven')")
    second = run_cli(["stream", "run", "--until-caught-up"], project.root)
    assert second.returncode == 0, second.stderr
    assert "pg: 5 events, 4 rows in 1 micro-batches" in second.stdout  # 4 keys changed
    assert _mirror(project) == [(7, "seven")]


def test_stream_run_captures_continuously_and_stops_on_sigterm(
    project: Project, database: Database
) -> None:
    process = subprocess.Popen(
        [*HEADWATER, "stream", "run", "pg"],
        cwd=project.root,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _until(lambda: len(_mirror(project)) == 3, "the first copy")
        database.execute(
            "INSERT INTO orders SELECT i, 'live' FROM generate_series(4, 103) i",
            "UPDATE orders SET name = 'updated' WHERE id = 2",
            "DELETE FROM orders WHERE id = 3",
        )
        expected = sorted([(1, "n1"), (2, "updated")] + [(i, "live") for i in range(4, 104)])
        _until(lambda: _mirror(project) == expected, "the changes in the mirror")

        (running,) = _status(project.root)
        assert running["running"] is True and running["pid"] == process.pid
        assert running["active_pid"] is not None
        refused = run_cli(["cdc", "reset", "pg", "--yes"], project.root)
        assert refused.returncode == 1 and "capture of source pg is running" in refused.stderr
        second = run_cli(["stream", "run", "pg"], project.root)
        assert second.returncode == 1 and "already running" in second.stderr
        batch = run_cli(["run", "--json"], project.root)
        assert batch.returncode == 0, batch.stderr
        assert f"captured continuously by pid {process.pid}" in batch.stdout

        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert out.startswith("pg: ") and "events" in out, out
    position = Mirror(project.store, ORDERS, "pg", ["id"], "test").state().position
    assert position is not None
    confirmed, reader = database.slots()[database.slot]
    assert reader is None
    # the slot is told no more than the mirror holds, or than the WAL end it recorded having
    # reached with nothing of the tables pending (its idle acknowledgement)
    recorded = json.loads((project.definition.warehouse / "_cdc" / "pg" / "slot.json").read_text())
    assert confirmed <= max(position, recorded.get("acknowledged", 0))
    (stopped,) = _status(project.root)
    assert stopped["running"] is False
    assert parse_lsn(str(stopped["confirmed_flush_lsn"])) == confirmed


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
