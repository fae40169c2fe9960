"""Event sources by kind: `source: {kind: kafka}` in a stream's YAML picks the factory here.

An event source hands a stream micro-batches of events together with the positions they end
at (offsets per partition, stream ids, segment offsets). The stream commits those positions
with its Delta commit and only then calls `acknowledge`: a source never forgets an event the
table does not hold. Each built-in source module registers itself through the same
`register_event_source` a plugin would call; they are imported on the first look-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from headwater.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.project.streams import StreamConfig

Positions = dict[str, Any]
"""Where a source stands, per partition (`"clicks/0": 1234`), JSON-serialisable. A stream
resumes by handing back the positions of its last commit."""

PAYLOAD = "_payload"
"""The column of an `EventBatch` holding each event's encoded bytes (JSON), when the source
does not type its events itself."""
KEY = "_key"
PARTITION = "_partition"
OFFSET = "_offset"
SOURCE_TIME = "_source_time"
HEADERS = "_headers"
TOPIC = "_topic"
METADATA_COLUMNS = (KEY, PARTITION, OFFSET, SOURCE_TIME, HEADERS, TOPIC)
"""Columns a source may add beside the event's own, each readable in the stream's SQL:
the message key, partition, offset, the source's own timestamp, headers as JSON, and the
topic (or stream key) when a source reads several."""


@dataclass
class EventBatch:
    """Events read from a source, and where the source stands after them."""

    events: pa.Table
    """Either a `_payload` binary column (to be decoded by the stream's `columns`) or the
    events' own typed columns; plus any of `METADATA_COLUMNS`."""
    positions: Positions
    """Positions just after the last event of this batch, for every partition read so far."""
    lag: dict[str, int | None] = field(default_factory=dict)
    """Events still waiting per partition after this batch (None: the source cannot tell)."""


@dataclass(frozen=True)
class SourceContext:
    """What a source may need beyond its own settings."""

    stream: str
    """The stream's asset key (`streams.clicks`)."""
    project_root: Path
    state_dir: Path
    """A folder the source may keep its own files in (the HTTP collector's log is elsewhere)."""
    config: StreamConfig
    columns: frozenset[str] = frozenset(METADATA_COLUMNS)
    """The metadata columns the stream reads (`_key`, `_headers`, ... its SQL names, and
    those it always keeps): a source may leave the others out of its batches."""
    restart: bool = False
    """True after `headwater stream reset`: `open(None)` must start where the source's
    `start` says even when the source remembers a position of its own (a consumer group)."""


class EventSource(Protocol):
    """Reads one stream's events; one instance per running stream."""

    def open(self, positions: Positions | None) -> None:
        """Connect and get ready to read just after `positions` (None: where the source's
        `start` setting says a new stream starts)."""

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return up to `max_events` next events, waiting at most `timeout_s` for the first
        one; None when none came. Reads every partition in step, never one drained first."""

    def acknowledge(self, positions: Positions) -> None:
        """Everything before `positions` is committed to the table: let the source forget it
        (commit Kafka offsets, XACK, delete log segments). Called only after the commit."""

    def caught_up(self) -> bool:
        """True when the last poll reached the end of what the source holds now (for runs
        that stop when caught up)."""

    def positions(self) -> Positions:
        """Where the source stands: just after the last event polled, or, right after
        `open`, where reading starts (a `start: latest` resolved to exact positions). A new
        stream records these before it reads anything, so a restart never moves its start."""

    def close(self) -> None:
        """Disconnect; safe to call twice."""


EventSourceFactory = Callable[[SourceContext], EventSource]


_REGISTERED: dict[str, EventSourceFactory] = {}


def register_event_source(kind: str, factory: EventSourceFactory) -> None:
    """Make streams whose `source.kind` is `kind` read through sources made by `factory`."""
    _REGISTERED[kind] = factory


def event_source_for(context: SourceContext) -> EventSource:
    """Return a new, unopened source for the stream described by `context`.

    Raises:
        ConfigError: no source is registered for the stream's source kind.
    """
    _register_builtins()
    kind = context.config.source.kind
    factory = _REGISTERED.get(kind)
    if factory is None:
        from headwater.errors import Location
        from headwater.project.yamlfile import closest

        near = closest(kind, _REGISTERED)
        raise ConfigError(
            f"no event source reads streams of kind {kind!r}",
            Location(file=context.config.rel_path, asset=context.stream),
            (f"did you mean {near!r}? " if near else "")
            + f"use one of: {', '.join(sorted(_REGISTERED))} (or register a plugin's kind "
            "with register_event_source)",
        )
    return factory(context)


def _register_builtins() -> None:
    # imported here: each module registers its source when first imported (and imports its
    # client library only when a source of its kind opens)
    import headwater.ingest.events.collector
    import headwater.ingest.events.folder
    import headwater.ingest.events.generator
    import headwater.ingest.events.kafka
    import headwater.ingest.events.redis  # noqa: F401
