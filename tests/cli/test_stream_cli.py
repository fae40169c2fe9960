"""`headwater stream run|status|reset`: a generator stream run through the real CLI in a
subprocess, checked by reading its Delta table, its checkpoints and its status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from headwater import Project
from headwater.storage.base import TableRef
from headwater.stream.checkpoint import CheckpointStore
from headwater.stream.jobs import checkpoint_folder
from headwater.stream.sink import StreamSink
from tests.conftest import HEADWATER, ProjectFactory, rows, run_cli

EVENTS = 20_000
CLICKS = """
source: {kind: generator, seed: 1, keys: 100, events: 20000, spacing: 0.001}
event_time: event_time
window: {type: tumbling, size: 1s, key: [key], aggregates: {n: "count(*)", total: "sum(value)"}}
watermark: 2s
max_batch_events: 5000
"""
ENDLESS = """
source: {kind: generator, seed: 1, keys: 100, rate: 2000}
event_time: event_time
window: {type: tumbling, size: 1s, key: [key], aggregates: {n: "count(*)"}}
watermark: 2s
"""
DEADLINE_S = 120.0


@pytest.fixture
def clicks(make_project: ProjectFactory) -> Project:
    """A project with the bounded generator stream `streams.clicks`."""
    return make_project({"streams/clicks.yml": CLICKS})


def _status(root: Path) -> dict[str, object]:
    result = run_cli(["stream", "status", "--json"], root)
    assert result.returncode == 0, result.stderr
    loaded: list[dict[str, object]] = json.loads(result.stdout)
    return loaded[0]


def _sink(project: Project, key: str = "streams.clicks") -> tuple[StreamSink, Path]:
    asset = project.definition.assets[key]
    ref = TableRef.of(asset)
    return StreamSink(project.store, ref, key, "test"), checkpoint_folder(project.store, ref)


def _events_in_open_windows(watermark_iso: str) -> int:
    """Events of the generator whose 1 s window ends after `watermark_iso` (still open)."""
    import datetime as dt

    from headwater.ingest.event_sources import SourceContext
    from headwater.ingest.events.generator import GeneratorEventSource
    from headwater.project.streams import StreamConfig

    config = StreamConfig.model_validate(
        {
            "source": {
                "kind": "generator",
                "seed": 1,
                "keys": 100,
                "events": EVENTS,
                "spacing": 0.001,
            }
        }
    )
    source = GeneratorEventSource(
        SourceContext(stream="s", project_root=Path("."), state_dir=Path("."), config=config)
    )
    source.open(None)
    batch = source.poll(EVENTS, 0)
    assert batch is not None
    watermark = dt.datetime.fromisoformat(watermark_iso).replace(tzinfo=None)
    cut = watermark.replace(microsecond=0) - dt.timedelta(seconds=1)
    # a window [s, s+1s) is open while s + 1s > watermark
    times = batch.events.column("event_time").to_pylist()
    return sum(1 for t in times if t.replace(microsecond=0) > cut)


def test_run_until_caught_up_writes_each_event_once(clicks: Project) -> None:
    first = run_cli(["stream", "run", "--until-caught-up"], clicks.root)
    assert first.returncode == 0, first.stderr
    assert "streams.clicks: 20000 events" in first.stdout
    status = _status(clicks.root)
    totals = status["totals"]
    assert isinstance(totals, dict) and totals["events"] == EVENTS
    assert status["running"] is False
    assert status["batch"] == 3 and status["version"] == 3  # 20000 events / 5000 a batch
    assert status["watermark"] and status["last_commit"]
    (emitted,) = rows(clicks, "select sum(n) from streams.clicks")
    assert isinstance(status["watermark"], str)
    open_events = _events_in_open_windows(status["watermark"])
    assert emitted[0] == EVENTS - totals["late"] - open_events

    again = run_cli(["stream", "run", "--until-caught-up"], clicks.root)
    assert again.returncode == 0, again.stderr
    assert "0 events, 0 rows in 0 micro-batches" in again.stdout
    assert rows(clicks, "select sum(n) from streams.clicks") == [emitted]
    assert _status(clicks.root)["batch"] == 3
    runs = clicks.runs()
    assert [r["command"] for r in runs[:2]] == ["stream", "stream"]
    assert {r["status"] for r in runs[:2]} == {"success"}


def test_headwater_run_builds_the_stream_then_the_model_reading_it(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "streams/clicks.yml": CLICKS,
            "models/per_key.sql": "select key, sum(n) as n from streams.clicks group by key",
        }
    )
    result = run_cli(["run"], project.root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    stream_line = next(i for i, line in enumerate(lines) if "streams.clicks" in line)
    model_line = next(i for i, line in enumerate(lines) if "per_key" in line)
    assert stream_line < model_line
    assert rows(project, "select sum(n) from per_key") == rows(
        project, "select sum(n) from streams.clicks"
    )
    assert _status(project.root)["batch"] == 3


def test_reset_to_earliest_reads_everything_again(clicks: Project) -> None:
    assert run_cli(["stream", "run", "--until-caught-up"], clicks.root).returncode == 0
    (before,) = rows(clicks, "select count(*), sum(n) from streams.clicks")

    bad = run_cli(["stream", "reset", "clicks", "--to", "yesterday"], clicks.root)
    assert bad.returncode == 2 and "earliest, latest or an ISO timestamp" in bad.stderr
    latest = run_cli(["stream", "reset", "clicks", "--to", "latest"], clicks.root)
    assert latest.returncode == 2 and "--to earliest" in latest.stderr

    reset = run_cli(["stream", "reset", "clicks", "--to", "earliest"], clicks.root)
    assert reset.returncode == 0, reset.stderr
    assert "after batch 3" in reset.stdout
    assert _status(clicks.root)["reset_pending"] is not None

    again = run_cli(["stream", "run", "--until-caught-up"], clicks.root)
    assert again.returncode == 0, again.stderr
    assert "20000 events" in again.stdout
    status = _status(clicks.root)
    assert status["batch"] == 7  # numbering goes on past the committed batch
    assert status["reset_pending"] is None
    # the windows read again replace their rows (merged on window and key), none doubles
    assert rows(clicks, "select count(*), sum(n) from streams.clicks") == [before]
    assert rows(
        clicks, "select count(*) from (select distinct window_start, key from streams.clicks)"
    ) == [(before[0],)]


def test_unknown_stream_is_a_clear_error(clicks: Project) -> None:
    for command in (["stream", "run", "click"], ["stream", "status", "click"]):
        result = run_cli(command, clicks.root)
        assert result.returncode == 2
        assert "no stream is named 'click'" in result.stderr
        assert "did you mean 'clicks'?" in result.stderr
        assert "Traceback" not in result.stderr
    other = run_cli(["stream", "reset", "zzz", "--to", "earliest"], clicks.root)
    assert other.returncode == 2 and "streams.clicks" in other.stderr


def test_sigterm_commits_the_batch_in_hand_and_a_second_run_is_refused(
    make_project: ProjectFactory,
) -> None:
    project = make_project({"streams/clicks.yml": ENDLESS})
    process = subprocess.Popen(
        [*HEADWATER, "stream", "run"],
        cwd=project.root,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        status = _status(project.root)
        while status["batch"] is None or not status["running"]:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the stream never committed"
            time.sleep(0.2)
            status = _status(project.root)
        assert status["pid"] == process.pid

        second = run_cli(["stream", "run", "--until-caught-up"], project.root)
        assert second.returncode != 0
        assert f"stream streams.clicks is already running (pid {process.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        reset = run_cli(["stream", "reset", "clicks", "--to", "earliest"], project.root)
        assert reset.returncode != 0 and "already running" in reset.stderr
        batch = run_cli(["run"], project.root)
        assert batch.returncode != 0 and "streams.clicks" in batch.stderr

        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    sink, folder = _sink(project)
    committed = sink.committed_batch()
    assert committed is not None
    assert CheckpointStore(folder).batches()[-1] == committed
    final = _status(project.root)
    assert final["running"] is False and final["batch"] == committed
    assert f"last batch {committed}" in out
    assert project.runs()[0]["status"] == "interrupted"
