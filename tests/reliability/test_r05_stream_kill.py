"""R5 for streams: 100,000 keyed events through a real Kafka-protocol broker (Tansu, two
partitions) and through the real HTTP collector (`headwater stream collect`, two partitions),
read by `headwater stream run`, which is SIGKILLed 3 times at random moments after a new
commit while events keep arriving, then finishes with `--until-caught-up`.

The table's ids equal the input ids with no duplicate, at the end and at every version a reader
polling the table during the run sees; and the source is acknowledged only up to what the table
holds: the consumer group's committed offsets (Kafka) or the stream's reader file (collector),
sampled before each read of the table, never pass the largest offset the table holds per
partition, and end equal to the source's end.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from headwater.ingest.events.segment_log import collector_root, read_durable
from headwater.ingest.events.segment_topics import partition_dir
from tests.conftest import ProjectFactory
from tests.reliability.stream_kills import (
    DEADLINE_S,
    KafkaAcks,
    StreamProcess,
    TablePoller,
    Watched,
    collector,
    collector_acked,
    collector_log,
    held_in_rows,
    post,
)
from tests.support.kafka import TansuBroker, unique_topic

EVENTS = 100_000
PARTITIONS = 2
KILLS = 3
EPOCH = dt.datetime(2026, 1, 1)
STREAM = "streams.events"
UPFRONT = 0.35
"""The share of the events in the source before the stream first starts; the rest arrives
while it is being killed."""

STREAM_FILE = """
source: {source}
columns: {{id: BIGINT, event_time: TIMESTAMP, user: BIGINT, amount: DOUBLE}}
sql: select id, "user", amount, event_time, _partition, _offset from events
max_batch_events: 2500
trigger: 200ms
compact_every: 10
"""


def event(n: int) -> bytes:
    """Event `n` as its JSON line: a unique id, a user (the key), an amount."""
    moment = EPOCH + dt.timedelta(milliseconds=n)
    return json.dumps(
        {"id": n, "event_time": moment.isoformat(), "user": n % 97, "amount": n / 100},
        separators=(",", ":"),
    ).encode()


class Feeder(threading.Thread):
    """Sends events to the source in chunks (a chunk a call of `send`), while the stream is
    being killed; keeps what went wrong for the test to raise."""

    def __init__(self, send: Callable[[list[bytes]], None], events: list[bytes], chunk: int):
        super().__init__(daemon=True)
        self.send = send
        self.events = events
        self.chunk = chunk
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, len(self.events), self.chunk):
                self.send(self.events[start : start + self.chunk])
                time.sleep(0.02)  # spread the arrivals over the kills
        except BaseException as exc:
            self.error = exc

    def finish(self) -> None:
        """Wait until everything was sent; raise what went wrong."""
        self.join(DEADLINE_S)
        assert not self.is_alive(), "the feeder did not finish"
        if self.error is not None:
            raise self.error


def check_table(path: Path) -> pa.Table:
    """The final table holds each input event exactly once, with its own values."""
    table = DeltaTable(str(path)).to_pyarrow_table().sort_by("id")
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicate ids"
    assert ids == list(range(EVENTS)), f"{EVENTS - len(set(ids))} ids missing"
    expected = pa.array(range(EVENTS), pa.int64())
    assert table.column("user").to_pylist() == pc.remainder(expected, 97).to_pylist()
    assert table.column("amount").to_pylist() == [n / 100 for n in range(EVENTS)]
    return table


def offsets_per_partition(table: pa.Table) -> dict[int, list[int]]:
    """Each source partition's offsets in the table, sorted."""
    found: dict[int, list[int]] = {}
    for partition, offset in zip(
        table.column("_partition").to_pylist(), table.column("_offset").to_pylist(), strict=True
    ):
        found.setdefault(partition, []).append(offset)
    return {p: sorted(o) for p, o in sorted(found.items())}


def run_killed(
    root: Path, table: Path, acked: Callable[[], dict[int, int]], feeder: Feeder, seed: int
) -> TablePoller:
    """Kill the stream `KILLS` times while `feeder` sends, then let it catch up; return the
    poller that watched the table all along (stopped)."""
    poller = TablePoller(
        [
            Watched(
                table, key=["id"], columns=["_partition", "_offset"], acked=acked, held=held_in_rows
            )
        ]
    )
    poller.start()
    try:
        feeder.start()
        made = StreamProcess(root).kill_after_commits([table], KILLS, random.Random(seed), 0.4)
        feeder.finish()
        StreamProcess(root).finish()
    finally:
        poller.finish()
    assert made == KILLS
    return poller


def check_poller(poller: TablePoller) -> None:
    """The reader saw several versions, none with a duplicate or an over-acknowledgement."""
    assert poller.problems == []
    watched = poller.tables[0]
    assert watched.versions >= KILLS
    assert watched.acks > 0


def test_r5_kafka_stream_killed_three_times(
    make_project: ProjectFactory, kafka_broker: TansuBroker
) -> None:
    topic = kafka_broker.create_topic(unique_topic("r5"), PARTITIONS)
    group = f"hw-{topic}"
    source = f"{{kind: kafka, brokers: '{kafka_broker.bootstrap}', topic: {topic}, group: {group}}}"
    project = make_project({"streams/events.yml": STREAM_FILE.format(source=source)})
    table = project.definition.warehouse / "streams" / "events"
    events = [event(n) for n in range(EVENTS)]
    keys = [str(n % 97) for n in range(EVENTS)]
    upfront = int(EVENTS * UPFRONT)
    kafka_broker.produce(topic, events[:upfront], keys=keys[:upfront])
    rest = iter(keys[upfront:])

    def send(chunk: list[bytes]) -> None:
        kafka_broker.produce(topic, chunk, keys=[next(rest) for _ in chunk])

    acks = KafkaAcks(kafka_broker.bootstrap, group, topic, PARTITIONS)
    try:
        poller = run_killed(project.root, table, acks, Feeder(send, events[upfront:], 5000), 5)
        check_poller(poller)
        final = check_table(table)
        # every message is in the table once, at its own offset (Tansu's offset lookups
        # misreport a partition's end, see tests/support/kafka.py: the table's offsets, proven
        # gapless here, are the ends)
        offsets = offsets_per_partition(final)
        assert sorted(offsets) == list(range(PARTITIONS))
        ends = {p: len(found) for p, found in offsets.items()}
        assert offsets == {p: list(range(e)) for p, e in ends.items()}
        # the group is acknowledged up to the end once the stream has committed everything
        deadline = time.monotonic() + DEADLINE_S
        while acks() != ends and time.monotonic() < deadline:
            time.sleep(0.1)
        assert acks() == ends
    finally:
        acks.close()


def test_r5_collector_stream_killed_three_times(make_project: ProjectFactory) -> None:
    source = f"{{kind: http, topic: events, partitions: {PARTITIONS}}}"
    project = make_project({"streams/events.yml": STREAM_FILE.format(source=source)})
    root = project.root
    table = project.definition.warehouse / "streams" / "events"
    events = [event(n) for n in range(EVENTS)]
    upfront = int(EVENTS * UPFRONT)
    with collector(root) as base, httpx.Client(base_url=base, timeout=60) as client:
        for start in range(0, upfront, 500):
            post(client, "events", events[start : min(start + 500, upfront)], PARTITIONS)

        def send(chunk: list[bytes]) -> None:
            post(client, "events", chunk, PARTITIONS)

        def acked() -> dict[int, int]:
            return collector_acked(root, "events", STREAM)

        poller = run_killed(root, table, acked, Feeder(send, events[upfront:], 500), 7)
    check_poller(poller)
    final = check_table(table)
    logs = {p: collector_log(root, "events", p) for p in range(PARTITIONS)}
    # the collector stored each event once, and the table holds each at its own offset
    stored = sorted(line for records in logs.values() for _, line in records)
    assert stored == sorted(events)
    ends = {p: read_durable(partition_dir(collector_root(root), "events", p)) for p in logs}
    assert offsets_per_partition(final) == {p: list(range(e)) for p, e in ends.items()}
    by_offset = {
        (p, o): json.loads(line)["id"] for p, records in logs.items() for o, line in records
    }
    placed = zip(
        final.column("_partition").to_pylist(),
        final.column("_offset").to_pylist(),
        final.column("id").to_pylist(),
        strict=True,
    )
    assert all(by_offset[(p, o)] == i for p, o, i in placed)
    assert collector_acked(root, "events", STREAM) == ends
