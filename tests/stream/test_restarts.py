"""What a stream does across runs: each source resumes exactly where the last commit left it,
a fresh start's `latest` holds until the first commit, a reset never doubles a window, and a
reset marker that outlived its first commit is cleared."""

from __future__ import annotations

import json

from headwater import Project
from tests.conftest import ProjectFactory, rows
from tests.support.kafka import TansuBroker, unique_topic


def _run(project: Project, name: str) -> None:
    project.run_streams([name], until_caught_up=True)


def test_a_folder_stream_run_twice_reads_each_line_once(make_project: ProjectFactory) -> None:
    lines = "".join(json.dumps({"id": n}) + "\n" for n in range(1000))
    project: Project = make_project(
        {
            "landing/events.ndjson": lines,
            "streams/ids.yml": (
                "source: {kind: folder, path: landing}\n"
                "columns: {id: BIGINT}\n"
                "sql: select id from events\n"
                "max_batch_events: 300\n"
            ),
        }
    )
    _run(project, "ids")
    _run(project, "ids")
    assert rows(project, "select count(*), count(distinct id) from streams.ids") == [(1000, 1000)]


def test_start_latest_holds_until_the_first_commit(
    make_project: ProjectFactory, kafka_broker: TansuBroker
) -> None:
    topic = kafka_broker.create_topic(unique_topic())
    kafka_broker.produce(topic, [{"id": n} for n in range(10)])  # before the stream: skipped
    project: Project = make_project(
        {
            "streams/ids.yml": (
                f"source: {{kind: kafka, brokers: '{kafka_broker.bootstrap}', topic: {topic},"
                " start: latest}\n"
                "columns: {id: BIGINT}\n"
                "sql: select id from events\n"
            )
        }
    )
    _run(project, "ids")  # nothing to read: no commit, but its start is recorded
    kafka_broker.produce(topic, [{"id": n} for n in range(10, 15)])
    _run(project, "ids")
    assert rows(project, "select min(id), max(id), count(*) from streams.ids") == [(10, 14, 5)]


def test_a_reset_with_allowed_lateness_never_doubles_a_window(
    make_project: ProjectFactory,
) -> None:
    project: Project = make_project(
        {
            "streams/clicks.yml": (
                "source: {kind: generator, seed: 5, keys: 20, events: 20000, spacing: 0.001,"
                " late_fraction: 0.2, max_delay: 4s}\n"
                "event_time: event_time\n"
                "window: {type: tumbling, size: 1s, key: [key], aggregates: {n: count(*)}}\n"
                "watermark: 1s\n"
                "allowed_lateness: 3s\n"
                "max_batch_events: 2000\n"
            )
        }
    )
    _run(project, "clicks")
    before = rows(project, "select count(*), sum(n) from streams.clicks")
    project.reset_stream("clicks", "earliest")
    _run(project, "clicks")
    assert rows(project, "select count(*), sum(n) from streams.clicks") == before
    assert rows(
        project,
        "select count(*) from (select window_start, key from streams.clicks group by all"
        " having count(*) > 1)",
    ) == [(0,)]


def test_a_reset_marker_that_outlived_its_first_commit_is_cleared(
    make_project: ProjectFactory,
) -> None:
    project: Project = make_project(
        {
            "streams/clicks.yml": (
                "source: {kind: generator, keys: 5, events: 3000, spacing: 0.001}\n"
                "event_time: event_time\n"
                "window: {type: tumbling, size: 1s, key: [key], aggregates: {n: count(*)}}\n"
                "watermark: 1s\n"
                "max_batch_events: 1000\n"
            )
        }
    )
    _run(project, "clicks")
    (status,) = project.stream_status(["clicks"])
    folder = project.store.warehouse / "_streams" / "streams" / "clicks"
    # as if killed after the reset's first commit, before its marker was deleted
    (folder / "reset.json").write_text(json.dumps({"to": "earliest", "after_batch": 0}))
    _run(project, "clicks")
    (after,) = project.stream_status(["clicks"])
    assert after["reset_pending"] is None
    assert after["batch"] == status["batch"]  # nothing read again
