"""The Redis Streams event source against a real `redis-server`: exact resume from positions,
XACK only in acknowledge, start modes, fields, several stream keys in step, failures."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import ConfigError, SourceError, TransientError
from headwater.ingest import event_sources
from headwater.ingest.event_sources import (
    OFFSET,
    PARTITION,
    PAYLOAD,
    SOURCE_TIME,
    EventBatch,
    SourceContext,
)
from headwater.ingest.events.redis import RedisEventSource
from headwater.project.streams import StreamConfig
from tests.support.redis import RedisServer, start_redis

GROUP = "headwater-streams-clicks"


def make_source(tmp_path: Path, url: str, **settings: Any) -> RedisEventSource:
    """A Redis source for stream `streams.clicks` reading `settings` (default key `clicks`)."""
    source = {"kind": "redis", "url": url, **settings}
    if "stream" not in settings and "streams" not in settings:
        source["stream"] = "clicks"
    config = StreamConfig.model_validate({"source": source}).declared_in("streams/clicks.yml")
    context = SourceContext("streams.clicks", tmp_path, tmp_path / "state", config)
    return RedisEventSource(context)


def add(server: RedisServer, key: str, count: int, first: int = 0) -> list[bytes]:
    """XADD `count` events `{"n": i}` to `key`; return their ids."""
    client = server.client()
    return [client.xadd(key, {"data": json.dumps({"n": i})}) for i in range(first, first + count)]


def numbers(batch: EventBatch) -> list[int]:
    return [json.loads(p)["n"] for p in batch.events.column(PAYLOAD).to_pylist()]


def drain(source: RedisEventSource, max_events: int = 1000) -> list[EventBatch]:
    """Poll until the source is caught up and a poll comes back empty."""
    batches = []
    for _ in range(10_000):
        batch = source.poll(max_events, 0.05)
        if batch is None and source.caught_up():
            return batches
        if batch is not None:
            batches.append(batch)
    raise AssertionError("the source never caught up")


def all_numbers(batches: list[EventBatch]) -> list[int]:
    return [n for b in batches for n in numbers(b)]


def pending(server: RedisServer, key: str = "clicks") -> int:
    return int(server.client().xpending(key, GROUP)["pending"])


def test_registered_as_redis() -> None:
    assert event_sources._REGISTERED["redis"] is RedisEventSource


def test_reads_every_entry_with_its_metadata(tmp_path: Path, redis_server: RedisServer) -> None:
    ids = add(redis_server, "clicks", 25)
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    batches = drain(source, max_events=10)
    source.close()
    source.close()
    assert all_numbers(batches) == list(range(25))
    assert all(b.events.num_rows <= 10 for b in batches)
    events = batches[0].events
    assert events.schema.field(PAYLOAD).type == "binary"
    assert set(events.column_names) == {PAYLOAD, PARTITION, OFFSET, SOURCE_TIME}
    assert events.column(PARTITION).to_pylist()[0] == "clicks"
    assert events.column(OFFSET).to_pylist()[0] == ids[0].decode()
    first_ms = int(ids[0].decode().split("-")[0])
    assert int(events.column(SOURCE_TIME).cast("int64").to_pylist()[0]) == first_ms
    assert batches[-1].positions == {"clicks": ids[-1].decode()}
    json.dumps(batches[-1].positions)


def test_resume_after_crash_delivers_exactly_what_was_not_committed(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 30)
    first = make_source(tmp_path, redis_server.url)
    first.open(None)
    committed = first.poll(10, 1)
    polled_not_committed = first.poll(10, 1)
    assert committed is not None and polled_not_committed is not None
    first.acknowledge(committed.positions)
    first.close()  # crash: the second batch was delivered (pending) but never committed

    add(redis_server, "clicks", 5, first=30)
    second = make_source(tmp_path, redis_server.url)
    second.open(committed.positions)
    assert all_numbers(drain(second, max_events=7)) == list(range(10, 35))
    second.close()


def test_resume_from_the_same_positions_twice_gives_the_same_events(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 12)
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    head = source.poll(4, 1)
    assert head is not None
    seen = []
    for _ in range(2):  # two crashes in a row before any commit
        again = make_source(tmp_path, redis_server.url)
        again.open(head.positions)
        seen.append(all_numbers(drain(again, max_events=5)))
        again.close()
    assert seen == [list(range(4, 12))] * 2


def test_acknowledge_leaves_pending_only_what_is_not_committed(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 20)
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    one = source.poll(8, 1)
    two = source.poll(8, 1)
    assert one is not None and two is not None
    assert pending(redis_server) == 16  # delivered, nothing committed: nothing acknowledged
    source.acknowledge(one.positions)
    assert pending(redis_server) == 8
    pending_ids = redis_server.client().xpending_range("clicks", GROUP, "-", "+", 100)
    assert [p["message_id"].decode() for p in pending_ids] == two.events.column(OFFSET).to_pylist()
    source.acknowledge(one.positions)  # again: nothing changes
    assert pending(redis_server) == 8
    source.acknowledge(two.positions)
    assert pending(redis_server) == 0
    source.close()


def test_open_acknowledges_what_a_crash_left_committed_but_pending(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 10)
    first = make_source(tmp_path, redis_server.url)
    first.open(None)
    batch = first.poll(6, 1)
    assert batch is not None
    first.close()  # crash after the Delta commit, before acknowledge
    assert pending(redis_server) == 6
    second = make_source(tmp_path, redis_server.url)
    second.open(batch.positions)
    assert pending(redis_server) == 0
    assert all_numbers(drain(second)) == list(range(6, 10))
    second.close()


def test_new_stream_on_an_existing_group_starts_at_its_oldest_pending_entry(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 10)
    client = redis_server.client()
    client.xgroup_create("clicks", GROUP, id="0")
    delivered = client.xreadgroup(GROUP, "someone", {"clicks": ">"}, count=6)[0][1]
    client.xack("clicks", GROUP, *[i for i, _ in delivered[:3]])
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    assert all_numbers(drain(source)) == list(range(3, 10))
    source.close()


def test_group_behind_the_positions_is_moved_up_to_them(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    ids = add(redis_server, "clicks", 10)
    redis_server.client().xgroup_create("clicks", GROUP, id="0")  # e.g. recreated by hand
    source = make_source(tmp_path, redis_server.url)
    source.open({"clicks": ids[4].decode()})
    assert all_numbers(drain(source)) == list(range(5, 10))
    group = redis_server.client().xinfo_groups("clicks")[0]
    assert group["last-delivered-id"] == ids[-1]
    source.close()


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("earliest", [0, 1, 2, 3, 4, 5]),
        ("latest", [3, 4, 5]),
        ("1970-01-01T00:00:02Z", [1, 2, 3, 4, 5]),
    ],
)
def test_start_modes(
    tmp_path: Path, redis_server: RedisServer, start: str, expected: list[int]
) -> None:
    client = redis_server.client()
    for n, stream_id in enumerate(["1000-0", "2000-0", "2000-1"]):
        client.xadd("clicks", {"data": json.dumps({"n": n})}, id=stream_id)
    source = make_source(tmp_path, redis_server.url, start=start)
    source.open(None)
    for n, stream_id in enumerate(["3000-0", "3000-1", "4000-0"], start=3):
        client.xadd("clicks", {"data": json.dumps({"n": n})}, id=stream_id)
    assert all_numbers(drain(source)) == expected
    source.close()


def test_a_bad_start_is_a_config_error(tmp_path: Path, redis_server: RedisServer) -> None:
    source = make_source(tmp_path, redis_server.url, start="yesterday")
    with pytest.raises(ConfigError, match="yesterday"):
        source.open(None)


def test_missing_field_gives_a_null_payload_and_bad_json_passes_through(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    client = redis_server.client()
    client.xadd("clicks", {"data": '{"n": 1}'})
    client.xadd("clicks", {"other": "x"})
    client.xadd("clicks", {"data": "{not json"})
    client.xadd("clicks", {"data": b"\xff\xfe"})
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    payloads = [p for b in drain(source) for p in b.events.column(PAYLOAD).to_pylist()]
    source.close()
    assert payloads == [b'{"n": 1}', None, b"{not json", b"\xff\xfe"]


def test_a_custom_field_is_read(tmp_path: Path, redis_server: RedisServer) -> None:
    redis_server.client().xadd("clicks", {"body": '{"n": 7}', "data": "ignored"})
    source = make_source(tmp_path, redis_server.url, field="body")
    source.open(None)
    assert all_numbers(drain(source)) == [7]
    source.close()


def test_all_fields_become_a_json_object(tmp_path: Path, redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.xadd("clicks", {"user": "u1", "amount": "12.5", "note": 'say "hi"'})
    client.xadd("clicks", {"bytes": b"\xff"})
    source = make_source(tmp_path, redis_server.url, field="*")
    source.open(None)
    payloads = [p for b in drain(source) for p in b.events.column(PAYLOAD).to_pylist()]
    source.close()
    assert json.loads(payloads[0]) == {"user": "u1", "amount": "12.5", "note": 'say "hi"'}
    assert json.loads(payloads[1]) == {"bytes": "\ufffd"}


def test_several_streams_are_read_in_step(tmp_path: Path, redis_server: RedisServer) -> None:
    add(redis_server, "a", 100)
    add(redis_server, "b", 100, first=1000)
    source = make_source(tmp_path, redis_server.url, streams=["a", "b"])
    source.open(None)
    batch = source.poll(20, 1)
    assert batch is not None
    partitions = batch.events.column(PARTITION).to_pylist()
    assert partitions.count("a") == 10 and partitions.count("b") == 10
    assert set(batch.positions) == {"a", "b"}
    rest = drain(source, max_events=30)
    got = sorted(numbers(batch) + all_numbers(rest))
    assert got == list(range(100)) + list(range(1000, 1100))
    source.close()


def test_a_poll_smaller_than_the_number_of_streams_loses_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    keys = ["a", "b", "c"]
    for index, key in enumerate(keys):
        add(redis_server, key, 5, first=index * 100)
    source = make_source(tmp_path, redis_server.url, streams=keys)
    source.open(None)
    batches = drain(source, max_events=2)
    assert all(b.events.num_rows <= 2 for b in batches)
    got = all_numbers(batches)
    assert sorted(got) == sorted(n for i in range(3) for n in range(i * 100, i * 100 + 5))
    assert len(got) == len(set(got))
    # a crash mid-way: resuming from any batch's positions gives exactly the rest
    middle = batches[3]
    resumed = make_source(tmp_path, redis_server.url, streams=keys)
    resumed.open(middle.positions)
    after = all_numbers(drain(resumed, max_events=4))
    assert sorted(all_numbers(batches[:4]) + after) == sorted(got)
    source.close()
    resumed.close()


def test_poll_waits_for_new_entries_and_reports_caught_up(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    assert source.poll(10, 0.05) is None
    assert source.caught_up()
    add(redis_server, "clicks", 3)
    batch = source.poll(2, 5)
    assert batch is not None and numbers(batch) == [0, 1]
    assert not source.caught_up()
    batch = source.poll(10, 5)
    assert batch is not None and numbers(batch) == [2]
    assert batch.lag == {"clicks": 0}
    source.close()


def test_a_dropped_connection_between_polls_loses_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 10)
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    first = source.poll(4, 1)
    redis_server.client().client_kill_filter(_type="normal", skipme=True)
    rest = drain(source)  # redis-py reconnects before sending the next command
    assert first is not None
    assert numbers(first) + all_numbers(rest) == list(range(10))
    source.close()


class ReplyDroppingProxy:
    """A TCP proxy to Redis that, once armed, swallows the next reply carrying `marker` and
    cuts the connection: Redis has done the command, the client never hears of it."""

    def __init__(self, port: int, marker: bytes) -> None:
        self.target = port
        self.marker = marker
        self.armed = threading.Event()
        self.dropped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if replies and self.armed.is_set() and self.marker in chunk:
                    self.armed.clear()
                    self.dropped.set()
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_entries_delivered_into_a_lost_reply_are_read_again(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    add(redis_server, "clicks", 10)
    proxy = ReplyDroppingProxy(redis_server.port, marker=b'{"n": 4}')
    source = make_source(tmp_path, f"redis://127.0.0.1:{proxy.port}/0")
    source.open(None)
    first = source.poll(4, 1)
    proxy.armed.set()
    with caplog.at_level("WARNING"):
        second = source.poll(3, 5)
    assert proxy.dropped.is_set()
    assert "unreachable" in caplog.text  # the read failed and was retried
    # Redis had delivered 4, 5, 6 into the lost reply: they are read again
    assert redis_server.client().xinfo_groups("clicks")[0]["pending"] >= 7
    rest = drain(source, max_events=2)
    assert first is not None and second is not None
    assert numbers(first) + numbers(second) + all_numbers(rest) == list(range(10))
    source.acknowledge(rest[-1].positions)
    assert pending(redis_server) == 0
    source.close()
    proxy.close()


def test_a_server_restart_is_survived(tmp_path: Path, redis_server: RedisServer) -> None:
    add(redis_server, "clicks", 3)
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    assert all_numbers(drain(source)) == [0, 1, 2]
    redis_server.restart()  # in-memory server: the stream and its group are gone
    add(redis_server, "clicks", 2, first=3)
    assert all_numbers(drain(source)) == [3, 4]
    source.close()


def test_unreachable_server_is_a_transient_error_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_redis()
    server.stop()
    monkeypatch.setenv("HW_TEST_REDIS_PASSWORD", "s3cret-value")
    url = f"redis://:${{HW_TEST_REDIS_PASSWORD}}@127.0.0.1:{server.port}/0"
    source = make_source(tmp_path, url)
    with pytest.raises(TransientError) as caught:
        source.open(None)
    text = str(caught.value)
    assert f"127.0.0.1:{server.port}" in text and "unreachable" in text
    assert "s3cret-value" not in text and "s3cret-value" not in repr(source)


def test_server_gone_mid_stream_is_a_transient_error(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    add(redis_server, "clicks", 3)
    source = make_source(tmp_path, redis_server.url)
    source.open(None)
    redis_server.stop()
    with pytest.raises(TransientError, match="unreachable"):
        source.poll(10, 0.1)
    source.close()


def test_wrong_password_is_a_source_error_without_the_password(tmp_path: Path) -> None:
    server = start_redis(password="right-password")
    try:
        source = make_source(tmp_path, server.url.replace("right-password", "wrong-password"))
        with pytest.raises(SourceError) as caught:
            source.open(None)
        assert "credentials" in str(caught.value)
        assert "wrong-password" not in str(caught.value)
        good = make_source(tmp_path, server.url)
        good.open(None)
        good.close()
    finally:
        server.stop()


def test_a_key_that_is_not_a_stream_is_a_source_error(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.client().set("clicks", "a string")
    source = make_source(tmp_path, redis_server.url)
    with pytest.raises(SourceError, match="not a stream"):
        source.open(None)


def test_a_bad_url_is_a_config_error(tmp_path: Path) -> None:
    source = make_source(tmp_path, "http://user:pw-123@127.0.0.1:1/0")
    with pytest.raises(ConfigError) as caught:
        source.open(None)
    assert "pw-123" not in str(caught.value)


def test_malformed_positions_are_a_config_error(tmp_path: Path, redis_server: RedisServer) -> None:
    source = make_source(tmp_path, redis_server.url)
    with pytest.raises(ConfigError, match="not a Redis stream id"):
        source.open({"clicks": "banana"})


def test_the_password_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_redis(password="env-password")
    try:
        url = f"redis://:${{HW_TEST_REDIS_SECRET}}@127.0.0.1:{server.port}/0"
        source = make_source(tmp_path, url)
        with pytest.raises(ConfigError, match="HW_TEST_REDIS_SECRET"):
            source.open(None)
        monkeypatch.setenv("HW_TEST_REDIS_SECRET", "env-password")
        server.client().xadd("clicks", {"data": '{"n": 1}'})
        source.open(None)
        assert all_numbers(drain(source)) == [1]
        source.close()
    finally:
        server.stop()
