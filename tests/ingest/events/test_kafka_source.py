"""The Kafka event source against a real Kafka-protocol broker (Tansu, see tests/support/kafka.py).

Each test writes to topics of its own on the session's broker; the tests that kill a broker
start their own.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from confluent_kafka import Consumer, TopicPartition

from headwater.errors import ConfigError, TransientError
from headwater.ingest.event_sources import (
    HEADERS,
    KEY,
    OFFSET,
    PARTITION,
    PAYLOAD,
    SOURCE_TIME,
    EventBatch,
    SourceContext,
    event_source_for,
)
from headwater.ingest.events.kafka import TOPIC, KafkaEventSource, fair_shares
from headwater.project.streams import StreamConfig
from tests.support.kafka import TansuBroker, free_port, start_tansu, unique_topic

DEADLINE_S = 60.0
"""Only a guard against hanging: no test asserts how long anything took."""

SourceFactory = Callable[..., KafkaEventSource]


@pytest.fixture
def make_source(tmp_path: Path) -> Iterator[SourceFactory]:
    """Return a factory: make_source(brokers, topic=..., **source settings) -> unopened source;
    every source made is closed after the test."""
    made: list[KafkaEventSource] = []

    def factory(
        brokers: str,
        *,
        stream: str = "clicks",
        connect_timeout_s: float = 10.0,
        refresh_s: float = 3600.0,
        **settings: Any,
    ) -> KafkaEventSource:
        config = StreamConfig.model_validate(
            {"name": stream, "source": {"kind": "kafka", "brokers": brokers, **settings}}
        ).declared_in(f"streams/{stream}.yml")
        context = SourceContext(f"streams.{stream}", tmp_path, tmp_path / "state", config)
        source = KafkaEventSource(context, connect_timeout_s=connect_timeout_s, refresh_s=refresh_s)
        made.append(source)
        return source

    yield factory
    for source in made:
        source.close()


def read_until(source: KafkaEventSource, count: int, max_events: int = 10_000) -> list[EventBatch]:
    """Poll until `count` events came and the source is caught up; fail past the deadline."""
    batches: list[EventBatch] = []
    seen = 0
    deadline = time.monotonic() + DEADLINE_S
    while not (seen >= count and source.caught_up()):
        assert time.monotonic() < deadline, f"only {seen} of {count} events came"
        batch = source.poll(max_events, 0.5)
        if batch is not None:
            batches.append(batch)
            seen += batch.events.num_rows
    return batches


def events_of(batches: list[EventBatch]) -> pa.Table:
    """All batches' events as one table."""
    return pa.concat_tables([b.events for b in batches])


def numbers(table: pa.Table) -> list[int]:
    """The `n` field of each event's JSON payload, in order."""
    return [json.loads(p)["n"] for p in table.column(PAYLOAD).to_pylist()]


def produce_numbers(
    broker: TansuBroker, topic: str, first: int, count: int, partitions: int
) -> None:
    """Write events {"n": first..first+count-1} spread round-robin over the partitions."""
    for partition in range(partitions):
        broker.produce(
            topic,
            [{"n": n} for n in range(first, first + count) if n % partitions == partition],
            partition=partition,
        )


def test_reads_every_message_of_a_multi_partition_topic(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 3)
    produce_numbers(kafka_broker, topic, 0, 3000, 3)
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)
    assert not source.caught_up()

    batches = read_until(source, 3000, max_events=700)
    events = events_of(batches)

    assert sorted(numbers(events)) == list(range(3000))
    assert events.schema.field(PAYLOAD).type == pa.binary()
    assert events.schema.field(PARTITION).type == pa.int32()
    assert events.schema.field(OFFSET).type == pa.int64()
    assert TOPIC not in events.column_names
    pairs = list(
        zip(events.column(PARTITION).to_pylist(), events.column(OFFSET).to_pylist(), strict=True)
    )
    assert len(set(pairs)) == 3000
    assert batches[-1].positions == {f"{topic}/{p}": 1000 for p in range(3)}
    assert batches[-1].lag == {f"{topic}/{p}": 0 for p in range(3)}
    assert source.caught_up()
    assert source.poll(100, 0.2) is None


def test_a_batch_holds_every_partition_not_one_drained_first(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 4)
    produce_numbers(kafka_broker, topic, 0, 200_000, 4)
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)

    first = read_until(source, 1, max_events=150_000)[0].events

    per_partition = pa.TableGroupBy(first, PARTITION).aggregate([(OFFSET, "count")])
    assert per_partition.num_rows == 4, per_partition.to_pylist()


A, B, C = ("t", 0), ("t", 1), ("t", 2)


@pytest.mark.parametrize(
    ("ended", "flowing", "budget", "shares"),
    [
        ({}, [A, B], 10, {A: 5, B: 5}),
        ({A: 2}, [B], 10, {A: 2, B: 8}),
        ({A: 7}, [B], 10, {A: 5, B: 5}),
        ({A: 1, B: 2}, [], 10, {A: 1, B: 2}),
        ({A: 1, B: 6}, [C], 10, {A: 1, B: 4, C: 4}),
        ({}, [A, B, C], 2, {A: 1, B: 1, C: 1}),
    ],
)
def test_fair_shares_leave_no_partition_ahead_of_one_still_delivering(
    ended: dict[tuple[str, int], int],
    flowing: list[tuple[str, int]],
    budget: int,
    shares: dict[tuple[str, int], int],
) -> None:
    assert fair_shares(ended, flowing, budget) == shares


def test_poll_returns_at_most_max_events(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 2)
    produce_numbers(kafka_broker, topic, 0, 1000, 2)
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)

    batches = read_until(source, 1000, max_events=7)

    assert all(0 < b.events.num_rows <= 7 for b in batches)
    assert sorted(numbers(events_of(batches))) == list(range(1000))


@pytest.mark.parametrize("instance", ["same", "new"])
def test_resumes_exactly_after_the_given_positions(
    kafka_broker: TansuBroker, make_source: SourceFactory, instance: str
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 3)
    produce_numbers(kafka_broker, topic, 0, 3000, 3)
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)
    first = source.poll(1000, 10)
    assert first is not None
    committed = first.positions
    # read on past the commit, as a stream does before it crashes
    assert source.poll(1000, 10) is not None

    if instance == "new":
        source.close()
        source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(committed)
    rest = events_of(read_until(source, 3000 - first.events.num_rows))

    replayed = numbers(first.events) + numbers(rest)
    assert sorted(replayed) == list(range(3000))  # no gap, no duplicate
    for key, offset in committed.items():
        partition = int(key.rsplit("/", 1)[1])
        offsets = rest.filter(pa.compute.equal(rest.column(PARTITION), partition))
        assert min(offsets.column(OFFSET).to_pylist(), default=1000) == offset


def test_positions_of_other_topics_are_ignored_and_missing_partitions_start_per_start(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 2)
    produce_numbers(kafka_broker, topic, 0, 100, 2)
    source = make_source(kafka_broker.bootstrap, topic=topic)

    source.open({f"{topic}/0": 40, "gone-topic/0": 7})
    events = events_of(read_until(source, 60))

    assert sorted(numbers(events)) == sorted(
        [n for n in range(100) if n % 2 == 1] + [n for n in range(80, 100) if n % 2 == 0]
    )


def committed_offsets(
    broker: TansuBroker, group: str, topic: str, partitions: int, expected: dict[int, int]
) -> dict[int, int]:
    """The group's committed offsets of the topic, once they equal `expected` (commits are
    asynchronous) or the deadline passed."""
    watcher = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    wanted = [TopicPartition(topic, p) for p in range(partitions)]
    deadline = time.monotonic() + DEADLINE_S
    try:
        while True:
            found = {tp.partition: tp.offset for tp in watcher.committed(wanted, timeout=10)}
            if found == expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)
    finally:
        watcher.close()


def test_acknowledge_commits_the_group_offsets(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 2)
    produce_numbers(kafka_broker, topic, 0, 200, 2)
    stream = f"ack_{unique_topic('s').replace('-', '_')}"
    group = f"headwater-streams-{stream}"
    source = make_source(kafka_broker.bootstrap, topic=topic, stream=stream)
    source.open(None)
    batches = read_until(source, 200, max_events=50)
    nothing = {0: -1001, 1: -1001}
    assert committed_offsets(kafka_broker, group, topic, 2, nothing) == nothing, (
        "polling alone must not commit"
    )

    source.acknowledge(batches[1].positions)
    first = {int(k.rsplit("/", 1)[1]): v for k, v in batches[1].positions.items()}
    expected = {**nothing, **first}
    assert committed_offsets(kafka_broker, group, topic, 2, expected) == expected

    source.acknowledge(batches[-1].positions)
    last = {0: 100, 1: 100}
    assert committed_offsets(kafka_broker, group, topic, 2, last) == last


def test_acknowledge_uses_the_configured_group(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 1)
    produce_numbers(kafka_broker, topic, 0, 10, 1)
    group = unique_topic("group")
    source = make_source(kafka_broker.bootstrap, topic=topic, group=group)
    source.open(None)
    source.acknowledge(read_until(source, 10)[-1].positions)
    source.close()  # waits for the commit to land
    assert committed_offsets(kafka_broker, group, topic, 1, {0: 10}) == {0: 10}


def test_acknowledge_never_fails_the_stream_when_the_broker_is_gone(
    make_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    broker = start_tansu()
    try:
        topic = broker.create_topic(unique_topic(), 1)
        produce_numbers(broker, topic, 0, 10, 1)
        source = make_source(broker.bootstrap, topic=topic)
        source.open(None)
        positions = read_until(source, 10)[-1].positions
    finally:
        broker.stop()

    source.acknowledge(positions)
    source.close()

    assert "committing offsets to group" in caplog.text


def test_start_latest_reads_only_what_comes_after_open(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 2)
    # batched writes: Tansu misreports the end offset of a batch, the source must not care
    produce_numbers(kafka_broker, topic, 0, 500, 2)
    source = make_source(kafka_broker.bootstrap, topic=topic, start="latest")
    source.open(None)
    produce_numbers(kafka_broker, topic, 500, 10, 2)

    batches = read_until(source, 10)

    assert sorted(numbers(events_of(batches))) == list(range(500, 510))
    assert batches[-1].positions == {f"{topic}/0": 255, f"{topic}/1": 255}


def test_start_latest_on_an_empty_topic_reads_from_its_first_message(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 1)
    source = make_source(kafka_broker.bootstrap, topic=topic, start="latest")
    source.open(None)
    assert source.poll(10, 0.2) is None
    produce_numbers(kafka_broker, topic, 0, 3, 1)

    assert numbers(events_of(read_until(source, 3))) == [0, 1, 2]


def test_start_earliest_is_the_default(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 1)
    produce_numbers(kafka_broker, topic, 0, 20, 1)
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)
    assert numbers(events_of(read_until(source, 20))) == list(range(20))


def test_start_at_a_timestamp_reads_from_the_first_message_at_or_after_it(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 2)
    base = int(dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
    for partition in range(2):
        kafka_broker.produce(
            topic,
            [{"n": n} for n in range(partition, 100, 2)],
            partition=partition,
            timestamps=[base + n * 1000 for n in range(partition, 100, 2)],
        )
    start = "2026-03-01T00:00:50Z"
    source = make_source(kafka_broker.bootstrap, topic=topic, start=start)
    source.open(None)

    events = events_of(read_until(source, 50))

    assert sorted(numbers(events)) == list(range(50, 100))
    assert min(events.column(SOURCE_TIME).to_pylist()) == dt.datetime(
        2026, 3, 1, 0, 0, 50, tzinfo=dt.UTC
    )


def test_keys_headers_and_timestamps_are_columns(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 1)
    stamp = int(dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC).timestamp() * 1000)
    kafka_broker.produce(
        topic,
        [{"n": 0}, {"n": 1}],
        keys=["user-7", None],
        headers=[{"trace": "abc", "empty": None, "é": "ü"}, None],
        timestamps=[stamp, stamp + 1],
    )
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)

    events = events_of(read_until(source, 2))

    assert events.schema.field(KEY).type == pa.binary()
    assert events.schema.field(SOURCE_TIME).type == pa.timestamp("ms", tz="UTC")
    assert events.schema.field(HEADERS).type == pa.string()
    assert events.column(KEY).to_pylist() == [b"user-7", None]
    assert events.column(SOURCE_TIME).to_pylist() == [
        dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 679000, tzinfo=dt.UTC),
    ]
    headers = events.column(HEADERS).to_pylist()
    assert json.loads(headers[0]) == {"trace": "abc", "empty": None, "é": "ü"}
    assert headers[1] is None


def test_a_tombstone_has_a_null_payload_and_still_moves_the_position(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 1)
    kafka_broker.produce(topic, [{"n": 0}, None, {"n": 2}], keys=["a", "a", "b"])
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.open(None)

    batches = read_until(source, 3)
    events = events_of(batches)

    assert events.column(PAYLOAD).to_pylist() == [b'{"n":0}', None, b'{"n":2}']
    assert events.column(KEY).to_pylist() == [b"a", b"a", b"b"]
    assert batches[-1].positions == {f"{topic}/0": 3}


def test_several_topics_add_a_topic_column(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    first = kafka_broker.create_topic(unique_topic(), 2)
    second = kafka_broker.create_topic(unique_topic(), 1)
    produce_numbers(kafka_broker, first, 0, 10, 2)
    produce_numbers(kafka_broker, second, 100, 5, 1)
    source = make_source(kafka_broker.bootstrap, topic=first, topics=[second])
    source.open(None)

    batches = read_until(source, 15)
    events = events_of(batches)

    assert sorted(zip(events.column(TOPIC).to_pylist(), numbers(events), strict=True)) == sorted(
        [(first, n) for n in range(10)] + [(second, n) for n in range(100, 105)]
    )
    assert batches[-1].positions == {f"{first}/0": 5, f"{first}/1": 5, f"{second}/0": 5}


def test_partitions_added_later_are_read_from_their_beginning(
    kafka_broker: TansuBroker, make_source: SourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tansu cannot add partitions to a topic: the source is shown a topic of 2 partitions
    # at open, then the real 3 at its next metadata refresh
    topic = kafka_broker.create_topic(unique_topic(), 3)
    produce_numbers(kafka_broker, topic, 0, 30, 3)
    source = make_source(kafka_broker.bootstrap, topic=topic, refresh_s=0.0)
    real = KafkaEventSource._partitions
    monkeypatch.setattr(
        source,
        "_partitions",
        lambda consumer, name, timeout: real(source, consumer, name, timeout)[:2],
    )
    source.open(None)
    monkeypatch.undo()

    events = events_of(read_until(source, 30))

    assert sorted(numbers(events)) == list(range(30))


def test_an_unknown_topic_is_a_config_error_naming_topic_and_brokers(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    missing = unique_topic("missing")
    source = make_source(kafka_broker.bootstrap, topic=missing)

    with pytest.raises(ConfigError) as caught:
        source.open(None)

    text = str(caught.value)
    assert missing in text
    assert kafka_broker.bootstrap in text
    assert "streams/clicks.yml" in text
    assert "create the topic" in (caught.value.hint or "")


def test_an_unreachable_broker_is_a_transient_error_after_a_bounded_wait(
    make_source: SourceFactory,
) -> None:
    brokers = f"127.0.0.1:{free_port()}"
    source = make_source(brokers, topic="clicks", connect_timeout_s=1.0)

    with pytest.raises(TransientError) as caught:
        source.open(None)

    assert brokers in str(caught.value)
    assert "did not answer" in str(caught.value)


def test_brokers_from_the_environment_are_resolved_and_never_shown(
    kafka_broker: TansuBroker, make_source: SourceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HW_TEST_KAFKA_BROKERS", kafka_broker.bootstrap)
    topic = kafka_broker.create_topic(unique_topic(), 1)
    produce_numbers(kafka_broker, topic, 0, 5, 1)
    source = make_source("${HW_TEST_KAFKA_BROKERS}", topic=topic)
    source.open(None)
    assert numbers(events_of(read_until(source, 5))) == list(range(5))

    missing = make_source("${HW_TEST_KAFKA_BROKERS}", topic=unique_topic("missing"))
    with pytest.raises(ConfigError) as caught:
        missing.open(None)
    assert "${HW_TEST_KAFKA_BROKERS}" in str(caught.value)
    assert kafka_broker.bootstrap not in str(caught.value)


def test_an_unset_environment_variable_is_a_config_error(make_source: SourceFactory) -> None:
    source = make_source("${HW_TEST_NOT_SET_ANYWHERE}", topic="clicks")
    with pytest.raises(ConfigError, match="HW_TEST_NOT_SET_ANYWHERE"):
        source.open(None)


def test_an_invalid_client_option_is_a_config_error(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    source = make_source(kafka_broker.bootstrap, topic="clicks", options={"no.such.setting": "1"})
    with pytest.raises(ConfigError, match=r"no\.such\.setting"):
        source.open(None)


def test_an_unreadable_start_is_a_config_error(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    source = make_source(kafka_broker.bootstrap, topic="clicks", start="yesterday")
    with pytest.raises(ConfigError, match="yesterday"):
        source.open(None)


def test_a_broker_that_dies_makes_poll_raise_a_transient_error(
    make_source: SourceFactory,
) -> None:
    broker = start_tansu()
    try:
        topic = broker.create_topic(unique_topic(), 2)
        produce_numbers(broker, topic, 0, 100, 2)
        source = make_source(broker.bootstrap, topic=topic, connect_timeout_s=1.0)
        source.open(None)
        read_until(source, 100)
    finally:
        broker.stop()

    deadline = time.monotonic() + DEADLINE_S
    with pytest.raises(TransientError) as caught:
        while time.monotonic() < deadline:
            source.poll(100, 0.2)
    assert broker.bootstrap in str(caught.value)


def test_close_is_idempotent_and_the_source_reopens(
    kafka_broker: TansuBroker, make_source: SourceFactory
) -> None:
    topic = kafka_broker.create_topic(unique_topic(), 1)
    produce_numbers(kafka_broker, topic, 0, 5, 1)
    source = make_source(kafka_broker.bootstrap, topic=topic)
    source.close()
    source.open(None)
    source.close()
    source.close()
    with pytest.raises(RuntimeError, match="not open"):
        source.poll(1, 0)
    source.open(None)
    assert numbers(events_of(read_until(source, 5))) == list(range(5))


def test_the_registry_makes_kafka_sources(tmp_path: Path) -> None:
    config = StreamConfig.model_validate(
        {"name": "clicks", "source": {"kind": "kafka", "brokers": "127.0.0.1:1", "topic": "t"}}
    )
    source = event_source_for(SourceContext("streams.clicks", tmp_path, tmp_path, config))
    assert isinstance(source, KafkaEventSource)
    assert source.group == "headwater-streams-clicks"
    assert "127.0.0.1:1" not in repr(source)
