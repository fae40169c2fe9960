"""R10: start the same run twice, ~50 ms apart.

Pass: 0 duplicate rows in an incremental append model; the second run is refused with a clear
message naming the other run and a non-zero exit code, before it writes anything and without
waiting for the first to finish.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from headwater.errors import RunLockedError
from headwater.orchestrate.lock import RunLock
from tests.reliability.helpers import HEADWATER, kill, start, wait_for

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
        assert len(winners) == 1 and len(losers) == 1, (codes, outputs)
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
        # 0 duplicates
        counts = project.query("select count(*) as n, count(distinct id) as d from core.app")
        assert counts.to_pylist() == [{"n": 20 * (round_ + 1), "d": 20 * (round_ + 1)}]


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
            lambda: any(r["status"] == "running" for r in project.runs()), timeout=60
        ), "the first run never started"
        running = next(r for r in project.runs() if r["status"] == "running")
        second = start([*HEADWATER, "run"], root)
        _, err = second.communicate(timeout=60)
        assert second.returncode != 0
        assert "already running" in err
        assert running["run_id"] in err, err
    finally:
        kill(first)


def test_r10_run_lock_names_its_holder(tmp_path):
    path = tmp_path / ".headwater" / "run.lock"
    holder = RunLock(path)
    holder.acquire({"command": "run", "started": "t0"})
    try:
        with pytest.raises(
            RunLockedError, match=rf"'headwater run' \(pid {os.getpid()}, started t0\)"
        ):
            RunLock(path).acquire({"command": "run"})
        holder.update(run_id="abc123")
        with pytest.raises(RunLockedError, match=r"run abc123 \(pid \d+, started t0\) is already"):
            RunLock(path).acquire({"command": "run"})
    finally:
        holder.release()
    after = RunLock(path)  # released: the next run goes ahead
    after.acquire({"command": "run"})
    after.release()
