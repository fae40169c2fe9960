"""The event source of `kind: http` streams: reads the HTTP collector's segment log.

The collector (`collector_app.py`) stores POSTed events under `collector_root(project_root)`;
this source reads a topic's partitions straight from those files, like a partitioned topic.
Positions are `{"<topic>/<partition>": next_offset}`. A poll takes batches from every
partition in the order the collector stored them (the partition whose next batch is oldest
goes first), so partitions advance in step. Each event comes as `_payload` (its line, as
POSTed, byte for byte: a line that is not JSON or not UTF-8 reaches the stream, which
quarantines it), with `_partition`, `_offset`, `_source_time` (when the collector stored it)
and `_key` (the POST's `?key=`, if any).

Opening registers the stream as a reader of the topic (creating the topic with the stream's
`partitions` if nothing was POSTed yet); `acknowledge` records the committed offsets and then
deletes the segments every registered reader has committed past. A stream that is removed for
good should be unregistered (`segment_topics.remove_reader`), or its last offsets keep the
topic's segments forever.
"""

from __future__ import annotations

import heapq
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigError, Location, SourceError
from headwater.ingest.event_sources import (
    KEY,
    OFFSET,
    PARTITION,
    PAYLOAD,
    SOURCE_TIME,
    EventBatch,
    Positions,
    SourceContext,
    register_event_source,
)
from headwater.ingest.events.segment_log import (
    Gathered,
    PartitionReader,
    PositionError,
    collector_root,
    first_batch,
    list_segments,
    read_durable,
    scan_batches,
    segment_name,
)
from headwater.ingest.events.segment_topics import (
    apply_retention,
    ensure_topic,
    partition_dir,
    readers_lock,
    write_reader,
)
from headwater.project.streams import HttpSource

if TYPE_CHECKING:
    import pyarrow as pa

_FOREVER = 1 << 62
_IDLE_SLEEP_S = (0.001, 0.02)
"""The first and the longest pause between looks at the log while it has nothing new."""


class CollectorEventSource:
    """Reads one stream's events from the collector's log of its `source.topic`."""

    def __init__(self, context: SourceContext) -> None:
        source = context.config.source
        if not isinstance(source, HttpSource):
            raise ConfigError(f"stream {context.stream} does not read the HTTP collector")
        self._context = context
        self._source = source
        self._topic = source.topic
        self._root = collector_root(context.project_root)
        self._readers: list[PartitionReader] = []
        self._where = Location(file=context.config.rel_path, asset=context.stream)

    def open(self, positions: Positions | None) -> None:
        """Register as a reader of the topic and get ready to read just after `positions`
        (None: where `start` says).

        Raises:
            ConfigError: the topic has another partition count than the stream declares, or
                `positions` belong to another topic, or `start` is not understood.
            SourceError: the log no longer (or never) held those positions.
        """
        self.close()
        topic, declared = self._topic, self._source.partitions
        info = ensure_topic(self._root, topic, declared)
        if info.partitions != declared:
            raise ConfigError(
                f"the collector's topic '{topic}' has {info.partitions} partition"
                f"{'s' if info.partitions != 1 else ''}, but the stream declares "
                f"partitions: {declared}",
                self._where,
                f"set `partitions: {info.partitions}` in the stream's source (a topic's "
                f"partition count is fixed when it is created; see "
                f"{self._root / topic / 'topic.json'})",
            )
        saved = self._parse_positions(positions) if positions is not None else {}
        try:
            self._register(saved)
        except BaseException:
            self.close()
            raise

    def _register(self, saved: dict[int, int]) -> None:
        topic = self._topic
        with readers_lock(self._root, topic):
            offsets = {
                p: saved[p] if p in saved else self._start_offset(p)
                for p in range(self._source.partitions)
            }
            for partition, offset in offsets.items():
                self._readers.append(self._reader(partition, offset))
            write_reader(self._root, topic, self._context.stream, offsets)

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return up to `max_events` events stored after the current positions, waiting at
        most `timeout_s` for the first; None when none came.

        Raises:
            SourceError: the log is damaged where the next event should be.
        """
        deadline = time.monotonic() + timeout_s
        pause = _IDLE_SLEEP_S[0]
        while True:
            for reader in self._readers:
                reader.refresh()
            gathered = self._gather(max_events)
            if gathered.total:
                return EventBatch(
                    _to_table(gathered),
                    self._positions(),
                    {f"{self._topic}/{r.partition}": r.lag for r in self._readers},
                )
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(pause, left))
            pause = min(pause * 2, _IDLE_SLEEP_S[1])

    def acknowledge(self, positions: Positions) -> None:
        """Record the stream's committed offsets and delete the segments every reader of the
        topic has committed past."""
        offsets = self._parse_positions(positions)
        if not offsets:
            return
        with readers_lock(self._root, self._topic):
            write_reader(self._root, self._topic, self._context.stream, offsets)
        apply_retention(self._root, self._topic, self._source.partitions)

    def caught_up(self) -> bool:
        """True when every partition has been read up to what the collector holds now."""
        return all(r.next_offset >= r.refresh() for r in self._readers)

    def close(self) -> None:
        """Close the log files; the registration stays (the stream resumes from it)."""
        for reader in self._readers:
            reader.close()
        self._readers = []

    def positions(self) -> Positions:
        """The next offset to read of each partition."""
        return self._positions()

    def _positions(self) -> Positions:
        return {f"{self._topic}/{r.partition}": r.next_offset for r in self._readers}

    def _parse_positions(self, positions: Positions) -> dict[int, int]:
        offsets: dict[int, int] = {}
        for name, offset in positions.items():
            topic, _, partition = str(name).rpartition("/")
            if topic != self._topic or not partition.isdigit():
                raise ConfigError(
                    f"the stream's saved position {name!r} is not one of topic "
                    f"'{self._topic}' (its source changed since it last ran)",
                    self._where,
                    "reset the stream (`headwater stream reset`) to read the new topic",
                )
            if int(partition) >= self._source.partitions:
                raise ConfigError(
                    f"the stream's saved position {name!r} names a partition the topic does "
                    f"not have (it has {self._source.partitions})",
                    self._where,
                    "reset the stream (`headwater stream reset`)",
                )
            offsets[int(partition)] = int(offset)
        return offsets

    def _start_offset(self, partition: int) -> int:
        folder = partition_dir(self._root, self._topic, partition)
        start = self._source.start.strip()
        if start == "earliest":
            segments = list_segments(folder)
            return segments[0] if segments else 0
        if start == "latest":
            return read_durable(folder)
        return offset_at_time(folder, _parse_start(start, self._where))

    def _reader(self, partition: int, offset: int) -> PartitionReader:
        folder = partition_dir(self._root, self._topic, partition)
        try:
            return PartitionReader(folder, partition, offset)
        except PositionError as exc:
            deleted = offset < exc.first
            raise SourceError(
                f"stream {self._context.stream} would resume at offset {offset} of "
                f"partition {partition} of the collector's topic '{self._topic}', but the "
                + (
                    f"log was deleted before offset {exc.first}"
                    if deleted
                    else f"log ends at offset {exc.end} (it was removed or replaced)"
                ),
                self._where,
                "reset the stream (`headwater stream reset`) to read what the log holds"
                + ("" if deleted else "; check that no one removed .headwater/collector"),
            ) from None

    def _gather(self, max_events: int) -> Gathered:
        # the partition whose next batch is oldest reads until another's is older: the
        # partitions advance in step by stored time, never one drained first
        heap: list[tuple[int, int, PartitionReader]] = []
        for reader in self._readers:
            header = reader.peek()
            if header is not None:
                heap.append((header.stored_us, reader.partition, reader))
        heapq.heapify(heap)
        gathered = Gathered()
        left = max_events
        while heap and left > 0:
            reader = heapq.heappop(heap)[2]
            until = heap[0][0] if heap else _FOREVER
            left -= reader.read_into(gathered, left, until)
            header = reader.peek() if left > 0 else None
            if header is not None:
                heapq.heappush(heap, (header.stored_us, reader.partition, reader))
        return gathered


def offset_at_time(folder: Path, stored_us: int) -> int:
    """Return the first offset of a partition stored at or after `stored_us` (microseconds
    since the epoch), or its durable end when none was."""
    end = read_durable(folder)
    segments = list_segments(folder)
    start_at = 0
    for index, first in enumerate(segments):
        header = first_batch(folder / segment_name(first), first)
        if header is None or header.stored_us >= stored_us:
            break
        start_at = index
    for first in segments[start_at:]:
        for header in scan_batches(folder / segment_name(first), first, verify=False).batches:
            if header.base_offset >= end:
                return end
            if header.stored_us >= stored_us:
                return header.base_offset
    return end


def _parse_start(text: str, where: Location) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"start: '{text}' is neither earliest, latest nor an ISO timestamp",
            where,
            "write e.g. `start: earliest` or `start: 2026-01-01T00:00:00Z`",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _to_table(gathered: Gathered) -> pa.Table:
    """Build a poll's Arrow table from its pieces with a few NumPy calls per column."""
    import numpy as np
    import pyarrow as pa

    pieces, total = len(gathered.counts), gathered.total
    counts = np.array(gathered.counts, dtype=np.int64)
    if pieces == total:
        lengths = np.array(gathered.lengths, dtype=np.int64)
    else:
        lengths = np.concatenate(
            [np.array([x]) if isinstance(x, int) else x for x in gathered.lengths]
        )
    offsets = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(lengths, dtype=np.int64, out=offsets[1:])
    data = b"".join(gathered.data)
    large = int(offsets[-1]) >= 2**31
    payload = pa.Array.from_buffers(
        pa.large_binary() if large else pa.binary(),
        total,
        [None, pa.py_buffer(offsets if large else offsets.astype(np.int32)), pa.py_buffer(data)],
    )

    def per_record(values: list[int], dtype: type[np.generic]) -> np.ndarray:
        column = np.array(values, dtype=dtype)
        return column if pieces == total else np.repeat(column, counts)

    firsts = np.array(gathered.firsts, dtype=np.int64)
    if pieces == total:
        record_offsets = firsts
    else:
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        record_offsets = np.arange(total, dtype=np.int64) + np.repeat(firsts - starts, counts)
    if any(gathered.keys):
        texts = [k.decode("utf-8", "replace") if k else None for k in gathered.keys]
        keys = pa.array(texts, pa.string())
        if pieces != total:
            keys = keys.take(pa.array(np.repeat(np.arange(pieces, dtype=np.int32), counts)))
    else:
        keys = pa.nulls(total, pa.string())
    return pa.table(
        {
            PAYLOAD: payload,
            PARTITION: pa.array(per_record(gathered.partitions, np.int32), pa.int32()),
            OFFSET: pa.array(record_offsets, pa.int64()),
            SOURCE_TIME: pa.array(
                per_record(gathered.stored, np.int64), pa.timestamp("us", tz="UTC")
            ),
            KEY: keys,
        }
    )


register_event_source("http", CollectorEventSource)
