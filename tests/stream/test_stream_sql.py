"""A windowed stream's SQL that joins a project table: its rows go back in arrival order
before windowing, so the result does not depend on how the micro-batches fell."""

from __future__ import annotations

import pytest

from headwater import Project
from headwater.errors import HeadwaterError
from tests.conftest import ProjectFactory, rows

USERS = "select range as key, range % 3 as segment from range(20)"


def _project(make_project: ProjectFactory, folder: str, batch: int, sql: str) -> Project:
    return make_project(
        {
            "models/users.sql": USERS,
            "streams/clicks.yml": (
                "source: {kind: generator, keys: 20, events: 300000, spacing: 0.0005,"
                " late_fraction: 0.1, max_delay: 5s}\n"
                f"sql: |\n  {sql}\n"
                "event_time: event_time\n"
                "window: {type: tumbling, size: 2s, key: [segment],"
                " aggregates: {n: count(*), total: sum(value)}}\n"
                "watermark: 1s\n"
                f"max_batch_events: {batch}\n"
            ),
        },
        folder=folder,
    )


JOIN = "select e.event_time, e.value, u.segment from events e join main.users u on u.key = e.key"


def test_a_join_gives_the_same_windows_however_the_batches_fall(
    make_project: ProjectFactory,
) -> None:
    results = []
    for folder, batch in (("whole", 300000), ("small", 3000)):
        project = _project(make_project, folder, batch, JOIN)
        summary = project.run()
        assert summary.status == "success", summary
        results.append(
            rows(
                project,
                "select window_start, segment, n, round(total, 6) from streams.clicks"
                " order by 1, 2",
            )
        )
        assert rows(project, "select sum(n) > 0 from streams.clicks") == [(True,)]
    assert results[0] == results[1]


def test_a_join_the_arrival_order_cannot_follow_is_refused(make_project: ProjectFactory) -> None:
    sql = (
        "with e as (select * from events) select e.event_time, e.value, u.segment"
        " from e join main.users u on u.key = e.key"
    )
    project = _project(make_project, "nested", 1000, sql)
    with pytest.raises(HeadwaterError, match="not in the query that reads `events`"):
        project.run_streams(["clicks"], until_caught_up=True)
