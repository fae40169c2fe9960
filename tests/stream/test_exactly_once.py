"""Exactly once: a stream that fails or is killed at any moment resumes from its last commit
with no event lost and none counted twice, as its final table and a reader polling the table
during the run both show."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.ingest.event_sources import SourceContext
from headwater.ingest.events.generator import GeneratorEventSource
from headwater.project.streams import StreamConfig
from headwater.storage.delta import DeltaStore
from headwater.stream.runner import run_stream
from tests.stream.conftest import (
    COLUMNS,
    ListSource,
    disorderly_events,
    duplicates,
    late_events,
    make_job,
    normalized,
    oracle,
    read_quarantine,
    read_table,
    table_path,
)

REPO = Path(__file__).resolve().parents[2]
WINDOW_KEYS = ["window_start", "window_end", "key"]


class Crash(Exception):
    """The process died here (as far as the stream can tell)."""


# -- R4: a commit lands, the stream never hears --------------------------------------------------


def crashing(
    original: Callable[..., Any], every: int, table: str, after: bool = True
) -> Callable[..., Any]:
    """`original` (a store method taking the table first), failing on every `every`-th call
    for `table`: after the call returned (the commit landed) or before it."""
    calls = {"n": 0}

    def wrapper(self: DeltaStore, ref: Any, *args: Any, **kwargs: Any) -> Any:
        if ref.name != table:
            return original(self, ref, *args, **kwargs)
        calls["n"] += 1
        failing = calls["n"] % every == 0
        if failing and not after:
            raise Crash(f"before {original.__name__}")
        result = original(self, ref, *args, **kwargs)
        if failing:
            raise Crash(f"after {original.__name__}")
        return result

    return wrapper


POINTS = {
    "after-append": ("commit_files", "s", True),
    "after-merge": ("merge_rows", "s", True),
    "before-commit": ("commit_files", "s", False),
    "after-quarantine": ("commit_files", "s__quarantine", True),
}


@pytest.mark.parametrize("point", [*POINTS, "in-acknowledge"])
def test_a_commit_the_stream_never_heard_of_is_applied_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    events = disorderly_events(160, seed=23)
    settings: dict[str, Any] = {
        "columns": COLUMNS,
        "event_time": "event_time",
        "watermark": "5s",
        "allowed_lateness": "6s",
        "late_events": "quarantine",
        "window": {
            "type": "hopping",
            "size": "10s",
            "slide": "5s",
            "key": "key",
            "aggregates": {"n": "count(*)", "total": "sum(value)", "top": "max(value)"},
        },
        "max_batch_events": 9,
        "compact_every": 0,
        # every batch merges the windows it changed
        "emit": "updates" if point == "after-merge" else "final",
    }
    every = 3
    if point in POINTS:
        name, table, after = POINTS[point]
        original = getattr(DeltaStore, name)
        monkeypatch.setattr(DeltaStore, name, crashing(original, every, table, after))
    acknowledgements = {"n": 0}

    class FailingAck(ListSource):
        def acknowledge(self, positions: dict[str, Any]) -> None:
            super().acknowledge(positions)
            acknowledgements["n"] += 1
            if point == "in-acknowledge" and acknowledgements["n"] % every == 0:
                raise Crash("in acknowledge")

    crashes = 0
    opened: list[int] = []
    while True:
        source = FailingAck(events.payloads, sizes=[4])
        try:
            run_stream(make_job(tmp_path, settings, source), until_caught_up=True)
            break
        except Crash:
            crashes += 1
            assert crashes < 100
        finally:
            opened.extend(source.opened)
    assert crashes >= 2
    table = read_table(tmp_path)
    assert duplicates(table, WINDOW_KEYS) == []
    columns = [*WINDOW_KEYS, "n", "total", "top"]
    expected = oracle(events.table(), settings, closed_only=settings["emit"] == "final")
    assert normalized(table, columns) == normalized(expected, columns)
    quarantined = read_quarantine(tmp_path)
    late = late_events(events.table(), settings)
    assert late.num_rows > 0
    assert len(quarantined) == late.num_rows
    # each restart resumed after a commit: the stream never read an event twice into the table
    assert opened == sorted(opened)


# -- SIGKILL at random moments -------------------------------------------------------------------

DRIVER = """
import sys, uuid
from pathlib import Path
from headwater.engine.duckdb import DuckDBEngine
from headwater.ingest.event_sources import SourceContext, event_source_for
from headwater.project.streams import StreamConfig
from headwater.storage.base import TableRef
from headwater.storage.delta import DeltaStore
from headwater.stream.runner import StreamJob, run_stream

root = Path(sys.argv[1])
config = StreamConfig.model_validate_json((root / "stream.json").read_text())
engine = DuckDBEngine(threads=1)
ref = TableRef("streams", "s")
job = StreamJob(
    key=ref.key, config=config, ref=ref, sql="", store=DeltaStore(root / "wh"),
    session=engine.session(),
    source=event_source_for(SourceContext(ref.key, root, root / "state", config)),
    checkpoints=root / "wh" / "_streams" / "streams" / "s", run_id=uuid.uuid4().hex[:8],
)
run_stream(job, until_caught_up=True)
"""


def generator_settings(events: int, merging: bool) -> dict[str, Any]:
    """A stream over the generator; `merging`: rows are written early and again as late
    events arrive (emit updates, allowed lateness), so most commits are merges."""
    more = (
        {"emit": "updates", "allowed_lateness": "1s"} if merging else {"late_events": "quarantine"}
    )
    return {
        **more,
        "source": {
            "kind": "generator",
            "seed": 5,
            "keys": 40,
            "events": events,
            "spacing": "2ms",
            "late_fraction": 0.05,
            "max_delay": "4s",
        },
        "event_time": "event_time",
        "watermark": "1s",
        "window": {
            "type": "tumbling",
            "size": "1s",
            "key": "key",
            "aggregates": {
                "n": "count(*)",
                "micros": "sum(cast(value * 1000000 as BIGINT))",
                "top": "max(value)",
            },
        },
        "max_batch_events": 700,
        "compact_every": 3,
    }


def generated(tmp_path: Path, settings: dict[str, Any]) -> pa.Table:
    """The generator's events, as the stream reads them, with their arrival order."""
    config = StreamConfig.model_validate(settings)
    source = GeneratorEventSource(SourceContext("streams.s", tmp_path, tmp_path, config))
    source.open(None)
    batch = source.poll(settings["source"]["events"], 0)
    assert batch is not None
    events = batch.events.select(["event_time", "key", "value"])
    return events.append_column("seq", pa.array(range(events.num_rows), pa.int64()))


def log_versions(path: Path) -> int:
    log = path / "_delta_log"
    if not log.is_dir():
        return -1
    return max(
        (
            int(p.name[:20])
            for p in log.iterdir()
            if p.name.endswith(".json") and p.name[:20].isdigit()
        ),
        default=-1,
    )


class PollingReader(threading.Thread):
    """Reads the table again and again while the stream runs, recording what it must never
    see: a (window, key) twice, or a final row changing."""

    def __init__(self, path: Path, rows_are_final: bool) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.rows_are_final = rows_are_final
        self.stop = threading.Event()
        self.reads = 0
        self.problems: list[str] = []
        self.rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            if log_versions(self.path) < 0:
                time.sleep(0.02)
                continue
            table = DeltaTable(str(self.path)).to_pyarrow_table()
            self.reads += 1
            twice = duplicates(table, WINDOW_KEYS)
            if twice:
                self.problems.append(f"duplicates {twice[:3]}")
            for row in table.to_pylist() if self.rows_are_final else []:
                key = tuple(row[k] for k in WINDOW_KEYS)
                value = (row["n"], row["micros"], row["top"])
                if self.rows.setdefault(key, value) != value:
                    self.problems.append(f"{key} changed from {self.rows[key]} to {value}")


def run_with_kills(tmp_path: Path, settings: dict[str, Any], kills: int, seed: int) -> int:
    """Run the stream in a subprocess, SIGKILLing it `kills` times at random moments after
    it committed something new, then letting it finish; return the kills made."""
    (tmp_path / "stream.json").write_text(json.dumps(settings))
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(DRIVER))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    rng = random.Random(seed)
    path = table_path(tmp_path)
    made = 0
    for _ in range(kills + 20):
        seen = log_versions(path)
        process = subprocess.Popen(
            [sys.executable, str(driver), str(tmp_path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if made < kills:
            deadline = time.monotonic() + 120
            while process.poll() is None and log_versions(path) <= seen:
                assert time.monotonic() < deadline, "the stream committed nothing"
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.12))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                made += 1
                continue
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()[-3000:]
        return made
    raise AssertionError("the stream never finished")


def check_killed_run(tmp_path: Path, events: int, kills: int, seed: int, merging: bool) -> None:
    settings = generator_settings(events, merging)
    reader = PollingReader(table_path(tmp_path), rows_are_final=not merging)
    reader.start()
    try:
        made = run_with_kills(tmp_path, settings, kills, seed)
    finally:
        reader.stop.set()
        reader.join()
    assert made == kills
    assert reader.reads > 0
    assert reader.problems == []
    table = read_table(tmp_path)
    assert duplicates(table, WINDOW_KEYS) == []
    columns = [*WINDOW_KEYS, "n", "micros", "top"]
    events_read = generated(tmp_path, settings)
    expected = oracle(events_read, settings, closed_only=not merging)
    assert expected.num_rows > 100
    assert normalized(table, columns) == normalized(expected, columns)
    if not merging:
        # each late event set aside once, though the stream died between its commits
        raws = [r["raw"] for r in read_quarantine(tmp_path)]
        assert len(raws) == len(set(raws)) == late_events(events_read, settings).num_rows > 0
    operations = {h.get("operation") for h in DeltaTable(str(table_path(tmp_path))).history()}
    # appended files were compacted beside the stream (a merge leaves one file: no need)
    assert ("OPTIMIZE" in operations) != merging, operations
    assert ("MERGE" in operations) == merging, operations


@pytest.mark.parametrize("merging", [False, True], ids=["appends", "merges"])
def test_killed_stream_resumes_exactly(tmp_path: Path, merging: bool) -> None:
    check_killed_run(tmp_path, events=12_000, kills=4, seed=1, merging=merging)


@pytest.mark.slow
@pytest.mark.parametrize("merging", [False, True], ids=["appends", "merges"])
def test_killed_stream_resumes_exactly_many_times(tmp_path: Path, merging: bool) -> None:
    check_killed_run(tmp_path, events=100_000, kills=20, seed=2, merging=merging)
