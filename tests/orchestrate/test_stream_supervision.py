"""The scheduler supervising streams: it runs them, restarts one that fails with backoff and
alerts once per incident, alerts when a stream falls behind, and stops them with itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from headwater import Project
from headwater.catalog.scheduling import open_incidents
from headwater.catalog.streams import stream_progress
from headwater.orchestrate.scheduler import Scheduler
from tests.conftest import ProjectFactory, rows

WAIT_S = 120.0
"""Only so that a broken test fails instead of hanging: nothing is timed."""

ALERTS = "alerts:\n  channels:\n    - {type: command, command: [sh, -c, 'cat >> alerts.txt']}\n"


def _stream(source: str, extra: str = "") -> str:
    return (
        f"source: {source}\n"
        "event_time: event_time\n"
        "window: {type: tumbling, size: 1s, key: [key], aggregates: {n: count(*)}}\n"
        "watermark: 1s\n"
        "trigger: 1s\n"
        f"{extra}"
    )


def _serve(scheduler: Scheduler) -> threading.Thread:
    thread = threading.Thread(target=scheduler.serve, daemon=True)
    thread.start()
    return thread


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)


def test_a_supervised_stream_runs_with_the_scheduler_and_stops_with_it(
    make_project: ProjectFactory,
) -> None:
    project: Project = make_project(
        {
            "streams/clicks.yml": _stream(
                "{kind: generator, keys: 10, rate: 2000}", "supervise: {}\n"
            ),
            "streams/unsupervised.yml": _stream("{kind: generator, keys: 10, events: 100}"),
        }
    )
    scheduler = Scheduler(project, poll_s=0.2)
    thread = _serve(scheduler)
    _until(lambda: (_batch(project, "streams.clicks") or 0) >= 3)
    assert stream_progress(project.catalog)["streams.clicks"].alive
    assert "streams.unsupervised" not in stream_progress(project.catalog)
    scheduler.stop.set()
    thread.join()
    found = stream_progress(project.catalog)["streams.clicks"]
    assert found.status == "stopped" and not found.alive
    assert rows(project, "select count(*) > 0 from streams.clicks") == [(True,)]


def test_a_failing_stream_is_restarted_with_backoff_and_alerted_once(
    make_project: ProjectFactory,
) -> None:
    project: Project = make_project(
        {
            "streams/broken.yml": _stream(
                "{kind: generator, keys: 10, rate: 1000}",
                "sql: select *, error('the enrichment service is down') as boom from events\n"
                "supervise: {backoff: 0.05, max_backoff: 0.2}\n",
            )
        },
        config=ALERTS,
    )
    scheduler = Scheduler(project, poll_s=0.2)
    thread = _serve(scheduler)
    _until(lambda: scheduler.streams.restarts.get("streams.broken", 0) >= 3)
    scheduler.stop.set()
    thread.join()
    incidents = [i for i in open_incidents(project.catalog) if i["kind"] == "stream_stopped"]
    assert [i["incident"] for i in incidents] == ["stream:streams.broken"]
    assert "the enrichment service is down" in incidents[0]["message"]
    sent = (project.root / "alerts.txt").read_text()
    assert sent.count("stream:streams.broken") == 1  # once per incident, not per restart
    found = stream_progress(project.catalog)["streams.broken"]
    assert found.status == "failed" and "the enrichment service is down" in (found.error or "")


def test_a_stream_falling_behind_is_alerted(make_project: ProjectFactory) -> None:
    # a generator with a rate has a backlog only when the stream reads slower than it makes
    # events; a bounded generator read in small batches always reports what is left
    project: Project = make_project(
        {
            "streams/backlog.yml": _stream(
                "{kind: generator, keys: 10, events: 1000000, spacing: 0.0001}",
                "max_batch_events: 1000\nsupervise: {max_lag: 10}\n",
            )
        },
        config=ALERTS,
    )
    scheduler = Scheduler(project, poll_s=0.2)
    thread = _serve(scheduler)
    _until(lambda: any(i["kind"] == "stream_lag" for i in open_incidents(project.catalog)))
    scheduler.stop.set()
    thread.join()
    (incident,) = [i for i in open_incidents(project.catalog) if i["kind"] == "stream_lag"]
    assert incident["incident"] == "stream-lag:streams.backlog"
    assert "events behind its source" in incident["message"]


def _batch(project: Project, key: str) -> int | None:
    found = stream_progress(project.catalog).get(key)
    return None if found is None else found.batch
