"""A source kind a plugin registers is configured in a stream's YAML like a built-in one, and a
kind nobody registered is a clear error naming the closest one."""

from __future__ import annotations

import pyarrow as pa
import pytest

from headwater import Project
from headwater.errors import HeadwaterError
from headwater.ingest.event_sources import (
    EventBatch,
    Positions,
    SourceContext,
    register_event_source,
)
from tests.conftest import ProjectFactory, rows


class CountingSource:
    """Events 0 .. `count` - 1, `count` read from the stream's own `source:` settings."""

    def __init__(self, context: SourceContext) -> None:
        settings = context.config.source
        self.count = int(settings.count)  # a plugin's own key
        self.next = 0

    def open(self, positions: Positions | None) -> None:
        self.next = int((positions or {}).get("n", 0))

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        end = min(self.count, self.next + max_events)
        if end <= self.next:
            return None
        table = pa.table({"n": pa.array(range(self.next, end), pa.int64())})
        self.next = end
        return EventBatch(table, {"n": end})

    def acknowledge(self, positions: Positions) -> None:
        pass

    def caught_up(self) -> bool:
        return self.next >= self.count

    def positions(self) -> Positions:
        return {"n": self.next}

    def close(self) -> None:
        pass


register_event_source("counting", CountingSource)


def test_a_plugin_kind_reads_its_own_settings(make_project: ProjectFactory) -> None:
    project: Project = make_project(
        {"streams/numbers.yml": "source: {kind: counting, count: 25}\nmax_batch_events: 10\n"}
    )
    project.run_streams(["numbers"], until_caught_up=True)
    project.run_streams(["numbers"], until_caught_up=True)  # resumes: nothing twice
    assert rows(project, "select count(*), count(distinct n), max(n) from streams.numbers") == [
        (25, 25, 24)
    ]


def test_an_unregistered_kind_names_the_closest(make_project: ProjectFactory) -> None:
    project: Project = make_project(
        {"streams/s.yml": "source: {kind: kafak, brokers: x, topic: y}\n"}
    )
    with pytest.raises(HeadwaterError, match="did you mean 'kafka'"):
        project.run_streams(["s"], until_caught_up=True)
