"""Typed configuration of streams: `streams/*.yml`, one stream per file, one asset per stream.

A stream reads events from a source (Kafka, Redis Streams, Headwater's HTTP collector, a
landing folder or a generator), runs a SQL transformation over each micro-batch (`events` is
the batch), optionally aggregates it in event-time windows, and writes the result to its Delta
table `<namespace>.<name>`. The window, watermark and lateness settings mean what they mean in
Spark Structured Streaming and Flink; docs/streaming.md explains each.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator

from headwater.project.strict import (
    Duration,
    Identifier,
    KeyValueError,
    StrictModel,
    duration_seconds,
)

STREAMS_DOCS = "docs/streaming.md"
DEFAULT_NAMESPACE = "streams"
EVENTS_RELATION = "events"
"""The name a stream's SQL reads its micro-batch by."""

StartAt = Annotated[str, Field(min_length=1)]
"""Where a new stream starts reading: `earliest`, `latest`, or an ISO timestamp."""

EventFormat = Literal["json"]


class KafkaSource(StrictModel):
    """Events from Kafka topics (any Kafka-protocol broker), read with confluent-kafka."""

    kind: Literal["kafka"]
    brokers: str
    """`host:port[,host:port]` (`bootstrap.servers`); may be `${ENV_VAR}`."""
    topic: str | None = None
    topics: list[str] = []
    """The topics to read (`topic` for one)."""
    group: str | None = None
    """The consumer group; offsets are committed to it after each Delta commit, for tools
    that watch a group's lag (default: `headwater-<stream>`). Headwater resumes from the
    offsets in its own checkpoint, which are exact."""
    start: StartAt = "earliest"
    """Where a new stream starts: `earliest`, `latest` or an ISO timestamp."""
    format: EventFormat = "json"
    options: dict[str, str | int | float | bool] = {}
    """Extra librdkafka settings (e.g. `security.protocol`, `sasl.username: ${USER}`)."""

    @model_validator(mode="after")
    def _one_topic_at_least(self) -> KafkaSource:
        if not self.topic and not self.topics:
            raise KeyValueError("topic", "a kafka source needs `topic` (or `topics`)")
        return self

    @property
    def topic_names(self) -> list[str]:
        """Every topic the source reads."""
        return [*([self.topic] if self.topic else []), *self.topics]


class RedisSource(StrictModel):
    """Events from Redis Streams, read by a consumer group and acknowledged (XACK) after
    each Delta commit."""

    kind: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"
    """Redis URL; may hold `${ENV_VAR}`."""
    stream: str | None = None
    streams: list[str] = []
    """The Redis stream keys to read (`stream` for one)."""
    group: str | None = None
    """The consumer group (default: `headwater-<stream>`); created when missing."""
    field: str = "data"
    """The entry field holding the event's JSON; an entry without it is quarantined. With
    `field: "*"` an entry's fields are the event's fields."""
    start: StartAt = "earliest"
    """Where a new group starts: `earliest`, `latest` or an ISO timestamp."""
    format: EventFormat = "json"

    @model_validator(mode="after")
    def _one_stream_at_least(self) -> RedisSource:
        if not self.stream and not self.streams:
            raise KeyValueError("stream", "a redis source needs `stream` (or `streams`)")
        return self

    @property
    def stream_keys(self) -> list[str]:
        """Every Redis stream the source reads."""
        return [*([self.stream] if self.stream else []), *self.streams]


class HttpSource(StrictModel):
    """Events POSTed as NDJSON to Headwater's collector (`headwater stream collect`), which
    writes them durably to a segment log under the project before answering."""

    kind: Literal["http"]
    topic: Identifier
    """The collector's topic (`POST /topics/<topic>`)."""
    partitions: int = Field(1, ge=1, le=256)
    """Partitions of the topic's log (events with the same key land in the same one)."""
    start: StartAt = "earliest"
    format: EventFormat = "json"


class FolderSource(StrictModel):
    """Files dropped into a landing folder, each read once (NDJSON, CSV or Parquet)."""

    kind: Literal["folder"]
    path: str
    """The folder, relative to the project (or absolute)."""
    pattern: str = "*"
    """Glob of the files to read, e.g. `*.ndjson`."""
    format: Literal["ndjson", "csv", "parquet"] | None = None
    """Default: from each file's extension."""


class GeneratorSource(StrictModel):
    """Synthetic events, deterministic by seed: `event_time`, `key`, `value`, `kind`, `amount`,
    for examples and benchmarks."""

    kind: Literal["generator"]
    seed: int = 0
    keys: int = Field(10_000, ge=1)
    """Keys are 0 .. keys-1."""
    rate: float | None = Field(None, gt=0)
    """Events per second of wall time (real time); unset: as fast as the stream reads."""
    events: int | None = Field(None, ge=0)
    """Stop after this many events (unset: never)."""
    spacing: Duration = 0.00001
    """Event time between consecutive events when `rate` is unset (default 10 µs)."""
    late_fraction: float = Field(0.05, ge=0, le=1)
    """Share of events whose event time lies in the past by up to `max_delay`."""
    max_delay: Duration = "30s"
    start_time: str = "2026-01-01T00:00:00"
    """Event time of the first event when `rate` is unset (UTC)."""


class PluginSource(BaseModel):
    """The settings of a source kind a plugin registered (`register_event_source`): checked by
    the plugin's source when it opens, since this layer does not know them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str


BUILTIN_KINDS = ("kafka", "redis", "http", "folder", "generator")


def _source_kind(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in BUILTIN_KINDS else "plugin"


EventSourceConfig = Annotated[
    Annotated[KafkaSource, Tag("kafka")]
    | Annotated[RedisSource, Tag("redis")]
    | Annotated[HttpSource, Tag("http")]
    | Annotated[FolderSource, Tag("folder")]
    | Annotated[GeneratorSource, Tag("generator")]
    | Annotated[PluginSource, Tag("plugin")],
    Discriminator(_source_kind),
]
"""A stream's `source`: one of the built-in kinds, or any kind a plugin registered."""


_AGGREGATE = re.compile(r"^\s*(count|sum|min|max|avg)\s*\(\s*(.*?)\s*\)\s*$", re.IGNORECASE | re.S)
AGGREGATE_FUNCTIONS = ("count", "sum", "min", "max", "avg")


def parse_aggregate(text: str) -> tuple[str, str]:
    """Split an aggregate like `sum(price * quantity)` into (`sum`, `price * quantity`). That
    the expression is one row's (no aggregate of its own) is checked with the stream's SQL,
    whose parse is cached (`project/stream_drafts.py`).

    Raises:
        ValueError: it is not one of count, sum, min, max, avg over one expression (or
            `count(*)`).
    """
    match = _AGGREGATE.match(text)
    if match is None or not match.group(2):
        raise ValueError(
            f"'{text}' is not an aggregate a window can keep: use count(*), count(x), "
            "sum(x), min(x), max(x) or avg(x), where x is a column or expression"
        )
    function, argument = match.group(1).lower(), match.group(2)
    if argument == "*":
        if function != "count":
            raise ValueError(f"{function}(*) is not an aggregate; name a column")
        return function, argument
    if re.match(r"(?i)distinct\b", argument):
        raise ValueError(
            f"'{text}': a window cannot keep a distinct count (it cannot be combined across "
            "micro-batches); count distinct values downstream, in a batch model"
        )
    return function, argument


class WindowConfig(StrictModel):
    """An event-time window aggregate per key."""

    type: Literal["tumbling", "hopping", "session"]
    size: Duration | None = None
    """tumbling, hopping: the window's length (`10s`, `1m`)."""
    slide: Duration | None = None
    """hopping: how far each window starts after the previous one."""
    gap: Duration | None = None
    """session: inactivity that ends a session."""
    key: list[Identifier] = []
    """Columns the windows are per (none: one window for all events)."""
    aggregates: dict[Identifier, str]
    """Output column -> `count(*)`, `count(x)`, `sum(x)`, `min(x)`, `max(x)` or `avg(x)`."""

    @model_validator(mode="before")
    @classmethod
    def _key_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            return {**data, "key": [data["key"]]}
        return data

    @model_validator(mode="after")
    def _complete(self) -> WindowConfig:
        if self.type in ("tumbling", "hopping") and self.size is None:
            raise KeyValueError("size", f"a {self.type} window needs `size` (e.g. 10s)")
        if self.type == "hopping" and self.slide is None:
            raise KeyValueError("slide", "a hopping window needs `slide` (e.g. 5s)")
        if self.type == "session" and self.gap is None:
            raise KeyValueError("gap", "a session window needs `gap` (e.g. 30m)")
        for name, setting in (("size", self.size), ("slide", self.slide), ("gap", self.gap)):
            if setting is not None and duration_seconds(setting) <= 0:
                raise KeyValueError(name, f"`{name}` must be longer than zero")
        if self.type == "hopping":
            size, slide = self.size_s, self.slide_s
            if slide > size:
                raise KeyValueError("slide", "`slide` longer than `size` would skip events")
            if abs(size / slide - round(size / slide)) > 1e-9:
                raise KeyValueError("slide", "`size` must be a whole multiple of `slide`")
        if not self.aggregates:
            raise KeyValueError("aggregates", "a window needs at least one aggregate")
        for name, text in self.aggregates.items():
            try:
                parse_aggregate(text)
            except ValueError as exc:
                raise KeyValueError(name, str(exc)) from None
        return self

    @property
    def size_s(self) -> float:
        """The window's length in seconds (tumbling, hopping)."""
        return duration_seconds(self.size or 0)

    @property
    def slide_s(self) -> float:
        """Seconds between window starts: `slide` for hopping, `size` for tumbling."""
        return duration_seconds(self.slide) if self.slide is not None else self.size_s

    @property
    def gap_s(self) -> float:
        """A session window's inactivity gap in seconds."""
        return duration_seconds(self.gap or 0)


class SuperviseConfig(StrictModel):
    """How `headwater scheduler` keeps a stream running."""

    backoff: Duration = "1s"
    """The wait before the first restart of a stream that stopped on an error; it doubles
    with each failure in a row (with jitter), up to `max_backoff`."""
    max_backoff: Duration = "5m"
    max_lag: int | None = Field(None, ge=0)
    """Alert (`stream_lag`) when more events than this wait in the source."""

    @property
    def backoff_s(self) -> float:
        """The first restart's wait in seconds."""
        return duration_seconds(self.backoff)

    @property
    def max_backoff_s(self) -> float:
        """The longest wait between restarts in seconds."""
        return duration_seconds(self.max_backoff)


class StreamConfig(StrictModel):
    """A stream file (`streams/<name>.yml`)."""

    name: Identifier | None = None
    """The stream's name and its table's (default: the file name)."""
    namespace: Identifier = DEFAULT_NAMESPACE
    description: str | None = None
    owner: str | None = None
    tags: list[str] = []
    source: EventSourceConfig
    columns: dict[Identifier, str] = {}
    """The events' fields and their types (DuckDB type names), e.g. `event_time: TIMESTAMP`.
    A JSON event missing a field gets NULL; one whose field does not convert is quarantined.
    Not needed for sources whose events are typed (generator, Parquet)."""
    event_time: Identifier | None = None
    """The column holding each event's time (needed for a window). An event without one is
    quarantined."""
    sql: str | None = None
    """A SELECT run on each micro-batch, reading it as `events`; it may filter, project and
    join the project's tables. Default: every column of `events`."""
    window: WindowConfig | None = None
    watermark: Duration | None = None
    """How far event time may run behind the newest event seen before a window closes
    (needed for a window)."""
    allowed_lateness: Duration = 0
    """How long after its close a window still takes late events, re-emitting its row."""
    late_events: Literal["drop", "quarantine", "update"] = "drop"
    """What happens to an event too late for its window: counted and dropped, set aside in
    the quarantine table with the reason, or merged into the window's row already written."""
    emit: Literal["final", "updates"] = "final"
    """`final`: a window's row is written when it closes. `updates`: also after every
    micro-batch that changed it, with `is_final` false until it closes."""
    trigger: Duration = "1s"
    """The latency target: a micro-batch is committed at least this often while events flow."""
    max_batch_events: int = Field(1_000_000, ge=1)
    """The most events one micro-batch holds (the bound on buffered events)."""
    compact_every: int = Field(200, ge=0)
    """Compact the table's small files and write a Delta checkpoint every this many commits
    (0: never)."""
    supervise: SuperviseConfig | None = None
    """Set (`supervise: {}` for the defaults) to have `headwater scheduler` run the stream,
    restart it with backoff when it fails, and alert when it stops or falls behind."""
    _rel_path: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> StreamConfig:
        if self.window is not None:
            if self.event_time is None:
                raise KeyValueError("event_time", "a windowed stream needs `event_time`")
            if self.watermark is None:
                raise KeyValueError(
                    "watermark",
                    "a windowed stream needs `watermark` (e.g. 30s): it says "
                    "when a window is complete",
                )
            if self.late_events == "update" and self.window.type == "session":
                raise KeyValueError(
                    "late_events",
                    "session windows cannot merge late events into sessions already written "
                    "(a late event may join two of them); use `allowed_lateness`, or "
                    "`late_events: quarantine`",
                )
            if self.late_events == "update" and any(
                parse_aggregate(a)[0] == "avg" for a in self.window.aggregates.values()
            ):
                raise KeyValueError(
                    "late_events",
                    "an avg cannot be updated once written; keep sum and count and divide "
                    "downstream, or use `allowed_lateness`",
                )
        elif self.emit == "updates":
            raise KeyValueError("emit", "`emit: updates` needs a `window`")
        return self

    @property
    def watermark_s(self) -> float:
        """The watermark delay in seconds."""
        return duration_seconds(self.watermark or 0)

    @property
    def allowed_lateness_s(self) -> float:
        """Allowed lateness in seconds."""
        return duration_seconds(self.allowed_lateness)

    @property
    def trigger_s(self) -> float:
        """The trigger interval in seconds."""
        return duration_seconds(self.trigger)

    @property
    def rel_path(self) -> str | None:
        """The file declaring the stream, relative to the project root."""
        return self._rel_path

    def declared_in(self, rel_path: str) -> StreamConfig:
        """Return a copy of this stream that knows `rel_path`, the file declaring it."""
        located = self.model_copy()
        located._rel_path = rel_path
        return located

    @property
    def output_columns(self) -> list[str] | None:
        """The table's columns, when they are known before it is written (a window's)."""
        if self.window is None:
            return None
        return [
            "window_start",
            "window_end",
            *self.window.key,
            *self.window.aggregates,
            *(["is_final"] if self.emit == "updates" else []),
        ]

    @property
    def transform_sql(self) -> str:
        """The SELECT run on each micro-batch."""
        return self.sql if self.sql and self.sql.strip() else f"select * from {EVENTS_RELATION}"
