"""Events from Kafka topics (`kind: kafka`), read with confluent-kafka (librdkafka).

The source assigns itself every partition of its topics (no group join: the stream's own
checkpoint holds the exact offsets, and a group rebalance would only add latency). Offsets are
committed to the consumer group only in `acknowledge`, after the stream's Delta commit, so that
tools watching the group's lag see the stream's progress. Batches hold the raw message values
as `_payload` plus the key, partition, offset, timestamp and headers of each message.

Partitions are read in step: the fetch queue holds each partition's messages in runs as long
as a fetch (or a producer's record batch), so `poll` gives each partition still delivering a
fair share of the batch and holds what a partition read beyond its share for the next batch
(reading at most `HOLD_FACTOR` times the batch). A partition that ran ahead would otherwise
make the others' events look late to a watermark.

Where a new stream starts is resolved to exact offsets at `open` where the broker allows it:
`latest` is read up to the partition's end (the fetch's high watermark, which some brokers'
offset lookups misreport), and a timestamp start skips any message before the first one at or
after that time (a broker that answers the lookup too early costs reading, never extra events).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import REFERENCE, redact, resolve
from headwater.errors import ConfigError, Location, SourceError, TransientError, first_line
from headwater.ingest.event_sources import (
    HEADERS,
    KEY,
    OFFSET,
    PARTITION,
    PAYLOAD,
    SOURCE_TIME,
    TOPIC,
    EventBatch,
    Positions,
    SourceContext,
    register_event_source,
)
from headwater.project.streams import KafkaSource

if TYPE_CHECKING:
    import pyarrow as pa
    from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

"""Extra column naming each message's topic, present only when the source reads several."""
STREAMS_DOCS = "docs/streaming.md"

TUNING: dict[str, Any] = {
    # librdkafka's defaults wait a second between fetches once the local queue has data
    # and keep few messages queued: a fast consumer stalls on both
    "fetch.queue.backoff.ms": 10,
    "queued.min.messages": 100_000,
    "queued.max.messages.kbytes": 32_768,  # the bound on prefetched messages (backpressure)
    # small fetches interleave the partitions finely in the local queue, so that a batch holds
    # every partition's next events rather than one partition's whole backlog
    "fetch.max.bytes": 1_048_576,
    "max.partition.fetch.bytes": 262_144,
    "fetch.wait.max.ms": 100,
    "log.connection.close": False,
    # the source never joins its group; this bounds how long a group commit waits for the
    # group's coordinator, and so how long close() can hang on a broker that went away
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 2000,
    # a stored offset the broker no longer holds (retention) must stop the stream, not
    # silently jump to the end
    "auto.offset.reset": "error",
}
"""Consumer settings Headwater starts from; a stream's `options` override them."""

FORCED: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": True,
}
"""Settings the source depends on; `options` cannot change them."""

CONSUME_SLICE_S = 0.05
"""Longest single wait inside `poll`, so that reaching every partition's end ends the poll."""
CONSUME_CHUNK = 50_000
HOLD_FACTOR = 2
"""A poll reads at most this many times `max_events` (the rest waits for the next batch), to
find the events of partitions queued behind others'."""
REFRESH_S = 10.0
"""How often `poll` looks for partitions added to the topics."""
CONNECT_TIMEOUT_S = 15.0
COMMIT_WAIT_S = 3.0
"""How long `close` waits for the last group commit to be answered."""

_LOG = logging.getLogger(__name__)

Partition = tuple[str, int]


def position_key(topic: str, partition: int) -> str:
    """The positions key of a partition: `<topic>/<partition>`."""
    return f"{topic}/{partition}"


def parse_start(text: str, where: Location) -> str | int:
    """Return `earliest`, `latest`, or the epoch milliseconds of an ISO timestamp (UTC when it
    has no offset).

    Raises:
        ConfigError: `text` is none of those.
    """
    lowered = text.strip().lower()
    if lowered in ("earliest", "latest"):
        return lowered
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"source start {text!r} is not earliest, latest or an ISO timestamp",
            where,
            f"write e.g. `start: 2026-01-01T00:00:00Z`; see {STREAMS_DOCS}",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


@dataclass
class _Trouble:
    """A connection problem librdkafka reported and has not yet shown to be over."""

    since: float
    message: str


class KafkaEventSource:
    """Reads a stream's Kafka topics (see the module docstring)."""

    def __init__(
        self,
        context: SourceContext,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        refresh_s: float = REFRESH_S,
    ) -> None:
        settings = context.config.source
        if not isinstance(settings, KafkaSource):
            raise TypeError(f"a Kafka source cannot read a {settings.kind} source")
        self.settings = settings
        self.context = context
        self.topics = settings.topic_names
        self.group = settings.group or f"headwater-{context.stream.replace('.', '-')}"
        self.connect_timeout_s = connect_timeout_s
        self.refresh_s = refresh_s
        self.where = Location(file=context.config.rel_path, asset=context.stream)
        self._consumer: Consumer | None = None
        self._assigned: list[Partition] = []
        self._eof: dict[Partition, bool] = {}
        self._positions: dict[str, int] = {}
        self._skip_before: dict[Partition, int] = {}
        self._trouble: _Trouble | None = None
        self._fatal: str | None = None
        self._refreshed_at = 0.0
        self._commits_pending = 0
        self._held: pa.Table | None = None
        """Messages read but kept for a later batch (their partition was ahead of others)."""
        self._held_counts: Counter[Partition] = Counter()

    def __repr__(self) -> str:
        return f"KafkaEventSource(stream={self.context.stream!r}, topics={self.topics!r})"

    # -- the EventSource protocol ------------------------------------------------------------

    def open(self, positions: Positions | None) -> None:
        """Connect, assign every partition of the topics and seek each to its stored position
        (or where `start` says a new stream starts).

        Raises:
            ConfigError: a topic does not exist, a setting is invalid, or `start` is unreadable.
            TransientError: the brokers did not answer within the connect timeout.
        """
        self.close()
        start = parse_start(self.settings.start, self.where)
        consumer = self._connect()
        self._consumer = consumer
        try:
            self._seek_all(consumer, start, positions or {})
        except BaseException:
            self.close()
            raise
        self._refreshed_at = time.monotonic()

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return up to `max_events` messages, each partition still delivering holding its
        fair share of them; wait up to `timeout_s` in all, less when every partition reached
        its end. None when no message came.

        Raises:
            SourceError: the broker refused the read (deleted topic, offsets lost to retention).
            TransientError: the brokers stayed unreachable for the connect timeout.
        """
        consumer = self._require_open()
        if time.monotonic() - self._refreshed_at >= self.refresh_s:
            self._refresh_partitions(consumer)
        deadline = time.monotonic() + max(timeout_s, 0.0)
        columns = _Columns(self.topics, self.context.columns)
        counts = Counter(self._held_counts)
        held = self._held.num_rows if self._held is not None else 0
        room = HOLD_FACTOR * max_events - held
        while len(columns) < room and not self._enough(counts, max_events):
            remaining = deadline - time.monotonic()
            wanted = min(room - len(columns), CONSUME_CHUNK)
            messages = consumer.consume(wanted, max(0.0, min(remaining, CONSUME_SLICE_S)))
            if messages:
                self._trouble = None
                self._take(messages, columns, counts)
            if self._fatal is not None:
                raise self._broker_error(self._fatal)
            if remaining <= 0:
                break
        if not len(columns) and self._held is None:
            self._check_connection(consumer)
            return None
        if self._held is None:
            events = columns.table()
        else:
            events = _concat(self._held, columns.table()) if len(columns) else self._held
        events, self._held = self._split(events, counts, max_events)
        self._held_counts = _counts(self._held, self.topics)
        self._advance(events)
        return EventBatch(events, dict(self._positions), self._lag(consumer))

    def acknowledge(self, positions: Positions) -> None:
        """Commit `positions` as the group's offsets, for tools that watch its lag. The commit
        is asynchronous and best effort (a failure is logged): the stream's checkpoint, not the
        group, says where it resumes, and a broker that is down must not stall the stream."""
        consumer = self._require_open()
        from confluent_kafka import KafkaException, TopicPartition

        offsets = [
            TopicPartition(*_partition_of(key), offset)
            for key, offset in _stored_offsets(positions, self.topics).items()
        ]
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            self._commit_failed(_kafka_text(exc))
            return
        self._commits_pending += 1

    def positions(self) -> Positions:
        """The next offset to read of each partition whose position is known (all of them
        after `open`, "latest" resolved to the partitions' ends)."""
        return dict(self._positions)

    def caught_up(self) -> bool:
        """True when every assigned partition reached its end after its last message, and
        every message read has been returned."""
        return self._all_at_end() and self._held is None

    def close(self) -> None:
        """Leave the brokers (after giving the last group commit a moment to land); safe to
        call twice."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            deadline = time.monotonic() + COMMIT_WAIT_S
            while self._commits_pending and self._trouble is None:
                if time.monotonic() > deadline:
                    break
                consumer.poll(0.05)  # serves the commit callbacks
            with contextlib.suppress(RuntimeError):  # closed already
                consumer.close()
        self._assigned, self._eof, self._skip_before = [], {}, {}
        self._positions = {}
        self._held, self._held_counts = None, Counter()
        self._trouble = self._fatal = None
        self._commits_pending = 0

    # -- connecting and seeking ----------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        """librdkafka settings with `${ENV}` resolved (never logged)."""
        options: dict[str, Any] = dict(TUNING)
        for name, value in self.settings.options.items():
            key = f"source.options.{name}"
            options[name] = resolve(value, self.where, key) if isinstance(value, str) else value
        options.update(FORCED)
        options["bootstrap.servers"] = resolve(self.settings.brokers, self.where, "source.brokers")
        options["group.id"] = resolve(self.group, self.where, "source.group")
        options.setdefault("client.id", f"headwater-{self.context.stream}")
        options["error_cb"] = self._on_error
        options["on_commit"] = self._on_commit
        options["logger"] = _LibrdkafkaLog()
        return options

    def _connect(self) -> Consumer:
        from confluent_kafka import Consumer, KafkaException

        try:
            return Consumer(self._settings())
        except KafkaException as exc:
            raise ConfigError(
                redact(f"the Kafka client refused the source's settings: {_kafka_text(exc)}"),
                self.where,
                f"fix `brokers` or `options` in the stream's file; see {STREAMS_DOCS}",
            ) from None

    def _brokers_shown(self) -> str:
        """The brokers as the stream's file writes them (a `${VAR}` stays unresolved)."""
        text = self.settings.brokers
        return text if REFERENCE.search(text) else redact(text)

    def _partitions(self, consumer: Consumer, topic: str, timeout_s: float) -> list[int]:
        """The topic's partition ids, from the brokers' metadata.

        Raises:
            ConfigError: the topic does not exist.
            TransientError: the brokers did not answer in `timeout_s`.
            SourceError: the brokers refused (e.g. not authorised).
        """
        from confluent_kafka import KafkaError, KafkaException

        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s)
        except KafkaException as exc:
            raise self._unreachable(_kafka_text(exc), timeout_s) from None
        found = metadata.topics.get(topic)
        error = None if found is None else found.error
        if found is None or (
            error is not None
            and error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)
        ):
            raise ConfigError(
                f"Kafka topic {topic!r} does not exist on brokers {self._brokers_shown()}",
                self.where,
                "create the topic, or fix `topic`/`topics` (and `brokers`) in the stream's "
                f"file; Headwater does not create topics; see {STREAMS_DOCS}",
            )
        if error is not None and error.retriable():
            raise self._unreachable(f"topic {topic!r}: {error.str()}", timeout_s)
        if error is not None:
            raise SourceError(
                redact(
                    f"brokers {self._brokers_shown()} refused metadata of topic {topic!r}: "
                    f"{error.str()}"
                ),
                self.where,
                "check the topic's ACLs and the credentials in `options`",
            )
        return sorted(found.partitions)

    def _seek_all(self, consumer: Consumer, start: str | int, positions: Positions) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        stored = _stored_offsets(positions, self.topics)
        assign: list[TopicPartition] = []
        by_time: list[TopicPartition] = []
        latest: list[Partition] = []
        for topic in self.topics:
            for partition in self._partitions(consumer, topic, self.connect_timeout_s):
                key = position_key(topic, partition)
                self._assigned.append((topic, partition))
                if key in stored:
                    self._positions[key] = stored[key]
                    assign.append(TopicPartition(topic, partition, stored[key]))
                elif start == "earliest":
                    assign.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                elif start == "latest":
                    latest.append((topic, partition))
                else:
                    assert isinstance(start, int)
                    by_time.append(TopicPartition(topic, partition, start))
        for found in self._offsets_for_times(consumer, by_time):
            if found.offset >= 0:
                self._skip_before[(found.topic, found.partition)] = int(start)
                assign.append(TopicPartition(found.topic, found.partition, found.offset))
            else:  # nothing at or after the time yet: start at the end
                latest.append((found.topic, found.partition))
        for (topic, partition), offset in self._ends(consumer, latest).items():
            self._positions[position_key(topic, partition)] = offset
            assign.append(TopicPartition(topic, partition, offset))
        self._eof = dict.fromkeys(self._assigned, False)
        consumer.incremental_assign(assign)

    def _offsets_for_times(
        self, consumer: Consumer, wanted: list[TopicPartition]
    ) -> list[TopicPartition]:
        from confluent_kafka import KafkaException

        if not wanted:
            return []
        try:
            found = consumer.offsets_for_times(wanted, timeout=self.connect_timeout_s)
        except KafkaException as exc:
            raise self._unreachable(_kafka_text(exc), self.connect_timeout_s) from None
        for entry in found:
            if entry.error is not None:
                raise self._broker_error(
                    f"looking up offsets by time in {entry.topic}/{entry.partition}: "
                    f"{entry.error.str()}"
                )
        return found

    def _ends(self, consumer: Consumer, partitions: list[Partition]) -> dict[Partition, int]:
        """The next offset after each partition's last message, read from the fetch's high
        watermark (an end-offset lookup is only a starting point: a broker may misreport it).
        A partition whose end did not show within the connect timeout keeps the lookup's."""
        from confluent_kafka import OFFSET_END, KafkaError, TopicPartition

        if not partitions:
            return {}
        probe = [TopicPartition(t, p, OFFSET_END) for t, p in partitions]
        consumer.incremental_assign(probe)
        ends: dict[Partition, int] = {}
        pending = set(partitions)
        deadline = time.monotonic() + self.connect_timeout_s
        try:
            while pending and time.monotonic() < deadline:
                for message in consumer.consume(10_000, CONSUME_SLICE_S):
                    error = message.error()
                    where = (message.topic() or "", message.partition() or 0)
                    offset = message.offset() or 0
                    if error is None:
                        ends[where] = max(ends.get(where, 0), offset + 1)
                    elif error.code() == KafkaError._PARTITION_EOF:
                        ends[where] = max(ends.get(where, 0), offset)
                        pending.discard(where)
                if self._fatal is not None:
                    raise self._broker_error(self._fatal)
            if pending:
                for entry in consumer.position([TopicPartition(t, p) for t, p in pending]):
                    if entry.offset >= 0:
                        ends[(entry.topic, entry.partition)] = entry.offset
                missing = [p for p in pending if p not in ends]
                if missing:
                    raise self._unreachable(
                        f"the end of {', '.join(f'{t}/{p}' for t, p in missing)} did not show",
                        self.connect_timeout_s,
                    )
        finally:
            consumer.incremental_unassign(probe)
        return ends

    def _refresh_partitions(self, consumer: Consumer) -> None:
        """Assign, from their beginning, partitions added to the topics since `open`."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        self._refreshed_at = time.monotonic()
        known = set(self._assigned)
        added: list[TopicPartition] = []
        for topic in self.topics:
            try:
                partitions = self._partitions(consumer, topic, min(2.0, self.connect_timeout_s))
            except (ConfigError, SourceError, TransientError) as exc:
                _LOG.debug("stream %s: partition refresh skipped: %s", self.context.stream, exc)
                return
            for partition in partitions:
                if (topic, partition) not in known:
                    added.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
        if added:
            _LOG.info(
                "stream %s: reading new partitions %s from their beginning",
                self.context.stream,
                ", ".join(position_key(tp.topic, tp.partition) for tp in added),
            )
            consumer.incremental_assign(added)
            for tp in added:
                self._assigned.append((tp.topic, tp.partition))
                self._eof[(tp.topic, tp.partition)] = False

    # -- reading -------------------------------------------------------------------------------

    def _take(self, messages: list[Message], columns: _Columns, counts: Counter[Partition]) -> None:
        """Add the data messages among `messages` to `columns` and their partitions' `counts`,
        noting which partitions are at their end; raises on a broker error."""
        from confluent_kafka import KafkaError, Message

        errors = list(map(Message.error, messages))
        if not any(errors):  # a KafkaError is always true
            added = columns.add(self._skip_early(messages) if self._skip_before else messages)
            counts.update(added)
            # no partition end among them: every partition they come from has more
            for where in added:
                self._eof[where] = False
            return
        data: list[Message] = []
        for message, error in zip(messages, errors, strict=True):
            where = (message.topic() or "", message.partition() or 0)
            if error is None:
                data.append(message)
                self._eof[where] = False
            elif error.code() == KafkaError._PARTITION_EOF:
                self._eof[where] = True
            else:
                self._partition_error(where, error)
        counts.update(columns.add(self._skip_early(data) if self._skip_before else data))

    def _all_at_end(self) -> bool:
        return bool(self._assigned) and all(self._eof.get(p, False) for p in self._assigned)

    def _shares(self, counts: Counter[Partition], max_events: int) -> dict[Partition, int]:
        """Each partition's share of a batch of `max_events` (see `fair_shares`)."""
        ended = {p: counts[p] for p in self._assigned if self._eof.get(p) and counts[p]}
        flowing = [p for p in self._assigned if not self._eof.get(p)]
        return fair_shares(ended, flowing, max_events)

    def _enough(self, counts: Counter[Partition], max_events: int) -> bool:
        """Whether the messages read so far make a batch: every partition is at its end, or
        there are `max_events` and each partition still delivering has its share."""
        total = sum(counts.values())
        if not total:
            return False
        if self._all_at_end():
            return True
        if total < max_events:
            return False
        shares = self._shares(counts, max_events)
        return all(counts[p] >= shares[p] for p in self._assigned if not self._eof.get(p))

    def _split(
        self, events: pa.Table, counts: Counter[Partition], max_events: int
    ) -> tuple[pa.Table, pa.Table | None]:
        """The batch to return (no partition beyond its share, at most `max_events`) and the
        messages to hold for the next one, each in the order read."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        shares = self._shares(counts, max_events)
        excess = {p: shares.get(p, 0) for p, n in counts.items() if n > shares.get(p, 0)}
        if not excess and events.num_rows <= max_events:
            return events, None
        held = np.zeros(events.num_rows, dtype=bool)
        for (topic, partition), keep in excess.items():
            mine = pc.equal(events.column(PARTITION), pa.scalar(partition, pa.int32()))
            if TOPIC in events.column_names:
                mine = pc.and_(mine, pc.equal(events.column(TOPIC), topic))
            rows = np.flatnonzero(mine.to_numpy(zero_copy_only=False))
            held[rows[keep:]] = True
        kept = np.flatnonzero(~held)
        held[kept[max_events:]] = True
        mask = pa.array(held)
        return events.filter(pc.invert(mask)), events.filter(mask).combine_chunks()

    def _partition_error(self, where: Partition, error: KafkaError) -> None:
        from confluent_kafka import KafkaError

        code = error.code()
        shown = position_key(*where)
        if code in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
            raise SourceError(
                redact(
                    f"the offset to resume {shown} from is no longer on the brokers "
                    f"({error.str()}); events were deleted (retention) or the topic was "
                    "re-created before the stream read them"
                ),
                self.where,
                "reset the stream (`headwater stream reset NAME --to earliest`) after "
                "checking what was lost",
            )
        if (
            code
            in (
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError._UNKNOWN_TOPIC,
                KafkaError._UNKNOWN_PARTITION,
                KafkaError.TOPIC_AUTHORIZATION_FAILED,
            )
            or error.fatal()
        ):
            raise self._broker_error(f"reading {shown}: {error.str()}")
        self._on_error(error)

    def _skip_early(self, taken: list[Message]) -> list[Message]:
        """Drop messages before the first one at or after a timestamp start, per partition."""
        kept: list[Message] = []
        for message in taken:
            where = (message.topic() or "", message.partition() or 0)
            threshold = self._skip_before.get(where)
            if threshold is not None:
                if message.timestamp()[1] < threshold:
                    continue
                del self._skip_before[where]
            kept.append(message)
        return kept

    def _advance(self, events: pa.Table) -> None:
        """Move the positions to just after each partition's last message in `events`."""
        import pyarrow as pa

        group = [PARTITION] if len(self.topics) == 1 else [TOPIC, PARTITION]
        last = (
            events.select([*group, OFFSET])
            .group_by(group, use_threads=False)
            .aggregate([(OFFSET, "max")])
        )
        topics = (
            last.column(TOPIC).to_pylist()
            if TOPIC in last.column_names
            else [self.topics[0]] * last.num_rows
        )
        partitions = last.column(PARTITION).to_pylist()
        offsets = last.column(f"{OFFSET}_max").cast(pa.int64()).to_pylist()
        for topic, partition, offset in zip(topics, partitions, offsets, strict=True):
            self._positions[position_key(topic, partition)] = offset + 1

    def _lag(self, consumer: Consumer) -> dict[str, int | None]:
        """Messages behind each partition's high watermark as last fetched (no broker call)."""
        from confluent_kafka import KafkaException, TopicPartition

        lag: dict[str, int | None] = {}
        for topic, partition in self._assigned:
            key = position_key(topic, partition)
            position = self._positions.get(key)
            try:
                marks = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), cached=True
                )
            except KafkaException:
                marks = None
            high = marks[1] if marks else -1
            lag[key] = max(0, high - position) if position is not None and high >= 0 else None
        return lag

    # -- errors --------------------------------------------------------------------------------

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's report of a client-wide problem (it keeps retrying by itself)."""
        if error.fatal():
            self._fatal = error.str()
        elif self._trouble is None:
            self._trouble = _Trouble(time.monotonic(), error.str())
        else:
            self._trouble.message = error.str()

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's answer to an `acknowledge` commit."""
        self._commits_pending = max(0, self._commits_pending - 1)
        failed = [tp for tp in partitions if tp.error is not None]
        if error is not None or failed:
            shown = error.str() if error is not None else failed[0].error.str()  # type: ignore[union-attr]
            self._commit_failed(shown)

    def _commit_failed(self, problem: str) -> None:
        _LOG.warning(
            "stream %s: committing offsets to group %s failed (%s); the stream's own "
            "checkpoint is unaffected",
            self.context.stream,
            self.group,
            redact(problem),
        )

    def _check_connection(self, consumer: Consumer) -> None:
        """After an empty poll: raise when the brokers have been unreachable too long."""
        trouble = self._trouble
        if trouble is None or time.monotonic() - trouble.since < self.connect_timeout_s:
            return
        # librdkafka reports drops it recovers from silently; ask the brokers before failing
        self._partitions(consumer, self.topics[0], min(5.0, self.connect_timeout_s))
        self._trouble = None

    def _unreachable(self, problem: str, timeout_s: float) -> TransientError:
        return TransientError(
            redact(
                f"Kafka brokers {self._brokers_shown()} did not answer within {timeout_s:g} s "
                f"({problem})"
            ),
            self.where,
            "check that the brokers run and that `brokers` (host:port) and the connection "
            "`options` are right; the stream resumes from its checkpoint when restarted",
        )

    def _broker_error(self, problem: str) -> SourceError:
        return SourceError(
            redact(f"Kafka brokers {self._brokers_shown()}: {problem}"),
            self.where,
            "check the topics and the credentials in `options`",
        )

    def _require_open(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("the Kafka source is not open: call open() first")
        return self._consumer


class _Columns:
    """The column values of one poll's messages, gathered chunk by chunk (each value read
    by one C-level `map` over the chunk) and turned into Arrow arrays once."""

    def __init__(self, topics: list[str], wanted: frozenset[str] = frozenset()) -> None:
        self.topics = topics
        self.with_key = KEY in wanted
        self.with_headers = HEADERS in wanted
        self.values: list[bytes | None] = []
        self.keys: list[bytes | None] = []
        self.partitions: list[int] = []
        self.offsets: list[int] = []
        self.stamps: list[int] = []
        self.headers: list[Any] = []
        self.topic_names: list[str] = []

    def __len__(self) -> int:
        return len(self.offsets)

    def add(self, messages: list[Message]) -> Counter[Partition]:
        """Append `messages` (data messages only); return how many came from each
        partition."""
        from confluent_kafka import Message

        partitions: list[int] = list(map(Message.partition, messages))  # type: ignore[arg-type]
        self.partitions.extend(partitions)
        self.values.extend(map(Message.value, messages))
        if self.with_key:
            self.keys.extend(map(Message.key, messages))
        self.offsets.extend(map(Message.offset, messages))  # type: ignore[arg-type]
        self.stamps.extend(map(itemgetter(1), map(Message.timestamp, messages)))
        if self.with_headers:
            self.headers.extend(map(Message.headers, messages))
        if len(self.topics) == 1:
            topic = self.topics[0]
            return Counter({(topic, p): n for p, n in Counter(partitions).items()})
        topics: list[str] = list(map(Message.topic, messages))  # type: ignore[arg-type]
        self.topic_names.extend(topics)
        return Counter(zip(topics, partitions, strict=True))

    def table(self) -> pa.Table:
        """The messages as an Arrow table: `_payload`, the metadata columns, and `_topic`
        when several topics are read."""
        import pyarrow as pa
        import pyarrow.compute as pc

        stamps = pa.array(self.stamps, pa.int64())
        # librdkafka reports -1 for a message without a timestamp
        stamps = pc.if_else(pc.less(stamps, 0), pa.scalar(None, pa.int64()), stamps)
        columns: dict[str, pa.Array] = {
            PAYLOAD: pa.array(self.values, pa.binary()),
            PARTITION: pa.array(self.partitions, pa.int32()),
            OFFSET: pa.array(self.offsets, pa.int64()),
            SOURCE_TIME: stamps.cast(pa.timestamp("ms", tz="UTC")),
        }
        if self.with_key:
            columns[KEY] = pa.array(self.keys, pa.binary())
        if self.with_headers:
            columns[HEADERS] = _headers_column(self.headers)
        if len(self.topics) > 1:
            columns[TOPIC] = pa.array(self.topic_names, pa.string())
        return pa.table(columns)


class _LibrdkafkaLog:
    """Takes librdkafka's log lines at debug level: the errors that matter reach the source
    through `error_cb` and leave it as Headwater errors, and a broker that is down would
    otherwise print a line per reconnect attempt."""

    logger = logging.getLogger(f"{__name__}.librdkafka")

    def log(self, level: int, message: str, *args: Any) -> None:
        """Record one librdkafka log line."""
        self.logger.debug(message, *args)


def _kafka_text(exc: BaseException) -> str:
    """The text of a confluent-kafka exception (its KafkaError's, not the error's repr)."""
    from confluent_kafka import KafkaError

    error = exc.args[0] if exc.args else None
    return error.str() if isinstance(error, KafkaError) else first_line(exc)


def fair_shares(
    ended: dict[Partition, int], flowing: list[Partition], budget: int
) -> dict[Partition, int]:
    """Split a batch of `budget` events between partitions, max-min fairly: a partition at
    its end (`ended`, with the messages it has) needs no more than it has, the others
    (`flowing`) could fill any share. What a small partition leaves goes to the others, so a
    partition ahead of the rest in the fetch queue never fills a batch alone while others
    still have events to deliver (their events would look late to a watermark)."""
    shares: dict[Partition, int] = {}
    left, parties = budget, len(ended) + len(flowing)
    for partition, wants in sorted(ended.items(), key=lambda item: item[1]):
        if wants * parties > left:
            break
        shares[partition] = wants
        left -= wants
        parties -= 1
    rest = [p for p in ended if p not in shares] + flowing
    for partition in rest:
        shares[partition] = max(1, left // len(rest))
    return shares


def _counts(events: pa.Table | None, topics: list[str]) -> Counter[Partition]:
    """Messages per partition in `events`."""
    if events is None:
        return Counter()
    group = [PARTITION] if len(topics) == 1 else [TOPIC, PARTITION]
    found = events.group_by(group, use_threads=False).aggregate([(OFFSET, "count")])
    names = found.column(TOPIC).to_pylist() if len(topics) > 1 else [topics[0]] * found.num_rows
    return Counter(
        dict(
            zip(
                zip(names, found.column(PARTITION).to_pylist(), strict=True),
                found.column(f"{OFFSET}_count").to_pylist(),
                strict=True,
            )
        )
    )


def _concat(first: pa.Table, second: pa.Table) -> pa.Table:
    import pyarrow as pa

    return pa.concat_tables([first, second])  # no copy: `_split` compacts what it holds


def _partition_of(key: str) -> Partition:
    """The (topic, partition) a positions key names."""
    topic, _, partition = key.rpartition("/")
    return topic, int(partition)


def _stored_offsets(positions: Positions, topics: list[str]) -> dict[str, int]:
    """The checkpoint's offsets of `topics`' partitions (other keys are ignored)."""
    stored: dict[str, int] = {}
    for key, offset in positions.items():
        topic, _, partition = str(key).rpartition("/")
        if topic in topics and partition.isdigit() and isinstance(offset, int) and offset >= 0:
            stored[key] = offset
    return stored


def _headers_column(headers: list[Any]) -> pa.Array:
    """Headers as JSON objects (`{"name": "value"}`, values as UTF-8 text, the last of a
    repeated name kept), or null for a message without headers."""
    import pyarrow as pa

    if headers.count(None) == len(headers):
        return pa.nulls(len(headers), pa.string())
    texts = [
        None
        if h is None
        else json.dumps(
            {
                name: None if value is None else bytes(value).decode("utf-8", "replace")
                for name, value in h
            },
            ensure_ascii=False,
        )
        for h in headers
    ]
    return pa.array(texts, pa.string())


register_event_source("kafka", KafkaEventSource)
