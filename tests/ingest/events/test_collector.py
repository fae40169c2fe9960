"""The HTTP collector end to end: real HTTP (uvicorn on a free port, in a thread or a killed
subprocess) into the segment log, read back by the `kind: http` event source."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from headwater.errors import ConfigError, SourceError
from headwater.ingest.event_sources import SourceContext, event_source_for
from headwater.ingest.events.collector import CollectorEventSource
from headwater.ingest.events.collector_app import (
    CollectorSettings,
    GroupCommitter,
    make_app,
)
from headwater.ingest.events.segment_log import collector_root, list_segments
from headwater.ingest.events.segment_topics import partition_dir, read_readers
from headwater.project.streams import StreamConfig

DEADLINE_S = 120  # a hang guard, never a measurement


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(base: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the collector exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the collector did not start")
        time.sleep(0.02)


@contextmanager
def serve(project: Path, settings: CollectorSettings | None = None) -> Iterator[httpx.Client]:
    """A collector for `project` in a thread until the block ends; yields a client of it."""
    port = free_port()
    app = make_app(collector_root(project), settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)


def source(
    project: Path,
    topic: str = "clicks",
    partitions: int = 1,
    stream: str = "streams.clicks",
    start: str = "earliest",
) -> CollectorEventSource:
    config = StreamConfig(
        source={"kind": "http", "topic": topic, "partitions": partitions, "start": start}
    )
    return CollectorEventSource(SourceContext(stream, project, project / "state", config))


def drain(events: CollectorEventSource, max_events: int = 100_000) -> list[dict[str, object]]:
    """Every event the source holds now, as rows."""
    rows: list[dict[str, object]] = []
    while (batch := events.poll(max_events, 0)) is not None:
        rows += batch.events.to_pylist()
    return rows


def ndjson(ids: range | list[int]) -> bytes:
    return b"".join(json.dumps({"id": i}).encode() + b"\n" for i in ids)


def ids_of(rows: list[dict[str, object]]) -> list[int]:
    return [json.loads(row["_payload"])["id"] for row in rows]  # type: ignore[arg-type]


def test_posted_lines_are_stored_byte_for_byte_and_read_back(tmp_path: Path) -> None:
    body = b'{"id": 1}\n\n  \n{"id": 2}\r\nnot json\n\xff\xfe not utf-8\n{"id": 3}'
    with serve(tmp_path) as client:
        before = datetime.now(UTC)
        answer = client.post("/topics/clicks", content=body)
        after = datetime.now(UTC)
        assert answer.status_code == 200
        assert answer.json() == {
            "topic": "clicks",
            "partition": 0,
            "offset": 0,
            "count": 5,
            "duplicate": False,
        }
        events = source(tmp_path)
        events.open(None)
        batch = events.poll(100, timeout_s=5)
    assert batch is not None
    table = batch.events
    assert table.column("_payload").to_pylist() == [
        b'{"id": 1}',
        b'{"id": 2}',
        b"not json",
        b"\xff\xfe not utf-8",
        b'{"id": 3}',
    ]
    assert table.column("_offset").to_pylist() == [0, 1, 2, 3, 4]
    assert table.column("_partition").to_pylist() == [0] * 5
    assert table.column("_key").null_count == 5
    stored = table.column("_source_time").to_pylist()
    assert stored[0].tzinfo is not None
    assert before <= stored[0] <= after  # the time the collector stored the lines
    assert batch.positions == {"clicks/0": 5}
    assert batch.lag == {"clicks/0": 0}
    assert events.caught_up()
    assert events.poll(100, timeout_s=0.05) is None
    events.close()
    events.close()


def test_the_http_kind_is_registered() -> None:
    config = StreamConfig(source={"kind": "http", "topic": "clicks"})
    made = event_source_for(SourceContext("s", Path("."), Path("."), config))
    assert isinstance(made, CollectorEventSource)


def test_keys_pick_partitions_and_requests_without_one_go_round_robin(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        by_key = {
            key: {
                client.post(f"/topics/clicks?partitions=4&key={key}", content=ndjson([i])).json()[
                    "partition"
                ]
                for i in range(5)
            }
            for key in ("alice", "bob", "carol")
        }
        spread = [client.post("/topics/clicks", content=ndjson([i])).json() for i in range(8)]
    assert all(len(partitions) == 1 for partitions in by_key.values())
    assert Counter(a["partition"] for a in spread) == {0: 2, 1: 2, 2: 2, 3: 2}
    events = source(tmp_path, partitions=4)
    events.open(None)
    rows = drain(events)
    assert len(rows) == 23
    for key, (partition,) in by_key.items():
        assert {r["_partition"] for r in rows if r["_key"] == key} == {partition}


def test_the_poll_reads_partitions_in_step_by_stored_time(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        for i in range(60):
            client.post(f"/topics/clicks?partitions=3&key=k{i % 3}", content=ndjson([i]))
    events = source(tmp_path, partitions=3)
    events.open(None)
    batch = events.poll(30, timeout_s=1)
    assert batch is not None
    # the 30 oldest requests, whichever partitions they went to
    assert sorted(ids_of(batch.events.to_pylist())) == list(range(30))
    stored = batch.events.column("_source_time").to_pylist()
    assert stored == sorted(stored)


def test_a_new_source_resumes_exactly_after_the_positions(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        for start in range(0, 300, 30):
            client.post("/topics/clicks?partitions=2", content=ndjson(range(start, start + 30)))
    first = source(tmp_path, partitions=2)
    first.open(None)
    batch = first.poll(77, timeout_s=1)  # ends inside a batch
    assert batch is not None and batch.events.num_rows == 77
    seen = ids_of(batch.events.to_pylist())
    first.poll(50, timeout_s=1)  # read past the positions, then "crash" before committing
    first.close()
    second = source(tmp_path, partitions=2)
    second.open(batch.positions)
    rest = ids_of(drain(second, max_events=13))
    assert sorted(seen + rest) == list(range(300))
    assert second.caught_up()


def test_a_source_waits_for_events_and_sees_them_once_stored(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        events = source(tmp_path)
        events.open(None)  # the topic does not exist yet: the stream creates it
        assert events.poll(10, timeout_s=0.05) is None
        assert events.caught_up()
        poster = threading.Timer(0.2, lambda: client.post("/topics/clicks", content=ndjson([7])))
        poster.start()
        batch = events.poll(10, timeout_s=DEADLINE_S)
        poster.join()
    assert batch is not None and ids_of(batch.events.to_pylist()) == [7]


def test_start_latest_and_at_a_timestamp(tmp_path: Path) -> None:
    with serve(tmp_path) as client:
        client.post("/topics/clicks", content=ndjson(range(0, 5)))
        time.sleep(0.01)  # the two batches get distinct stored times
        middle = datetime.now(UTC)
        time.sleep(0.01)
        client.post("/topics/clicks", content=ndjson(range(5, 10)))
        latest = source(tmp_path, stream="streams.latest", start="latest")
        latest.open(None)
        assert latest.poll(10, timeout_s=0) is None
        client.post("/topics/clicks", content=ndjson([10]))
        assert ids_of(drain(latest)) == [10]
    at_time = source(tmp_path, stream="streams.at", start=middle.isoformat())
    at_time.open(None)
    assert ids_of(drain(at_time)) == list(range(5, 11))
    future = source(tmp_path, stream="streams.future", start="2999-01-01T00:00:00")
    future.open(None)
    assert drain(future) == []
    with pytest.raises(ConfigError, match="neither earliest, latest nor an ISO timestamp"):
        source(tmp_path, stream="streams.bad", start="yesterday").open(None)


def test_acknowledge_deletes_segments_only_when_every_reader_passed(tmp_path: Path) -> None:
    settings = CollectorSettings(segment_bytes=1024)
    with serve(tmp_path, settings) as client:
        for start in range(0, 400, 20):
            client.post("/topics/clicks", content=ndjson(range(start, start + 20)))
    folder = partition_dir(collector_root(tmp_path), "clicks", 0)
    segments_before = list_segments(folder)
    assert len(segments_before) > 4
    fast, slow = source(tmp_path, stream="streams.fast"), source(tmp_path, stream="streams.slow")
    fast.open(None)
    slow.open(None)
    assert set(read_readers(collector_root(tmp_path), "clicks")) == {
        "streams.fast",
        "streams.slow",
    }
    everything = fast.poll(1000, timeout_s=1)
    assert everything is not None
    fast.acknowledge(everything.positions)
    assert list_segments(folder) == segments_before  # the slow reader is still at 0
    part = slow.poll(150, timeout_s=1)
    assert part is not None
    slow.acknowledge(part.positions)
    remaining = list_segments(folder)
    assert remaining[0] <= 150 < (remaining[1] if len(remaining) > 1 else 1 << 62)
    assert remaining[0] > 0
    assert remaining[-1] == segments_before[-1]
    # the slow stream restarts from its commit and still finds every later event
    restarted = source(tmp_path, stream="streams.slow")
    restarted.open(part.positions)
    assert ids_of(drain(restarted)) == list(range(150, 400))
    # a stream whose positions lie in deleted segments is told so, not given a gap
    with pytest.raises(SourceError, match="log was deleted before offset"):
        source(tmp_path, stream="streams.slow").open({"clicks/0": 0})


def test_bad_requests_are_refused_with_a_reason(tmp_path: Path) -> None:
    settings = CollectorSettings(max_body_bytes=1000)
    with serve(tmp_path, settings) as client:
        too_big = client.post("/topics/clicks", content=b"x" * 1001)
        assert too_big.status_code == 413
        assert "larger than 1000 bytes" in too_big.json()["error"]
        streamed = client.post("/topics/clicks", content=iter([b"y" * 600, b"y" * 600]))
        assert streamed.status_code == 413
        assert client.post("/topics/clicks?partitions=2", content=b"{}").status_code == 200
        conflict = client.post("/topics/clicks?partitions=3", content=b"{}")
        assert conflict.status_code == 409
        assert "has 2 partitions, not 3" in conflict.json()["error"]
        assert client.post("/topics/clicks?partitions=0", content=b"{}").status_code == 400
        assert client.post("/topics/clicks?partitions=x", content=b"{}").status_code == 400
        assert client.post("/topics/no-dash", content=b"{}").status_code == 400
        long_key = client.post(
            "/topics/clicks", content=b"{}", headers={"Idempotency-Key": "k" * 300}
        )
        assert long_key.status_code == 400
        missing = client.get("/nowhere")
        assert missing.status_code == 404 and "GET /nowhere" in missing.json()["error"]
        assert client.get("/topics/ghost").status_code == 404
        assert client.delete("/topics/clicks").status_code == 405
        empty = client.post("/topics/clicks", content=b"\n\n")
        assert empty.status_code == 200 and empty.json()["count"] == 0
        listing = client.get("/topics").json()["topics"]
        assert [(t["topic"], t["partitions"]) for t in listing] == [("clicks", 2)]
        assert sum(p["end_offset"] for p in listing[0]["partition_offsets"]) == 1
    with pytest.raises(ConfigError, match="has 2 partitions, but the stream declares") as raised:
        source(tmp_path, partitions=4).open(None)
    assert "partitions: 2" in (raised.value.hint or "")


def test_a_stream_with_positions_of_another_topic_is_told_to_reset(tmp_path: Path) -> None:
    events = source(tmp_path)
    with pytest.raises(ConfigError, match="not one of topic 'clicks'"):
        events.open({"orders/0": 3})
    with pytest.raises(SourceError, match="log ends at offset 0"):
        events.open({"clicks/0": 3})


def test_an_idempotency_key_stores_a_retried_request_once_even_after_a_restart(
    tmp_path: Path,
) -> None:
    with serve(tmp_path) as client:
        first = client.post(
            "/topics/clicks", content=ndjson([1, 2]), headers={"Idempotency-Key": "a"}
        )
        again = client.post(
            "/topics/clicks", content=ndjson([1, 2]), headers={"Idempotency-Key": "a"}
        )
        client.post("/topics/clicks", content=ndjson([3]), headers={"Idempotency-Key": "b"})
    assert again.json() == {**first.json(), "duplicate": True}
    with serve(tmp_path) as client:
        after = client.post(
            "/topics/clicks", content=ndjson([1, 2]), headers={"Idempotency-Key": "a"}
        )
        assert after.json() == {**first.json(), "duplicate": True}
        client.post("/topics/clicks", content=ndjson([4]), headers={"Idempotency-Key": "c"})
    events = source(tmp_path)
    events.open(None)
    assert ids_of(drain(events)) == [1, 2, 3, 4]


def test_the_idempotency_window_forgets_the_oldest_keys(tmp_path: Path) -> None:
    with serve(tmp_path, CollectorSettings(idempotency_window=3)) as client:
        for key in "abcd":
            client.post("/topics/clicks", content=ndjson([1]), headers={"Idempotency-Key": key})
        assert not client.post(
            "/topics/clicks", content=ndjson([1]), headers={"Idempotency-Key": "a"}
        ).json()["duplicate"]
        assert client.post(
            "/topics/clicks", content=ndjson([1]), headers={"Idempotency-Key": "d"}
        ).json()["duplicate"]


def test_concurrent_requests_are_all_stored_exactly_once(tmp_path: Path) -> None:
    answers: list[dict[str, int]] = []
    with serve(tmp_path) as client:

        def post_many(worker: int) -> None:
            for i in range(50):
                first = (worker * 50 + i) * 3
                answer = client.post(
                    "/topics/clicks?partitions=2", content=ndjson(range(first, first + 3))
                )
                answers.append(answer.json() if answer.status_code == 200 else {})

        threads = [threading.Thread(target=post_many, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE_S)
    assert len(answers) == 300
    # offsets handed out per partition are dense and never reused
    for partition in (0, 1):
        spans = sorted((a["offset"], a["count"]) for a in answers if a["partition"] == partition)
        assert [offset for offset, _ in spans] == [3 * i for i in range(len(spans))]
    events = source(tmp_path, partitions=2)
    events.open(None)
    assert sorted(ids_of(drain(events))) == list(range(900))


def test_a_second_collector_on_the_same_log_is_refused(tmp_path: Path) -> None:
    committer = GroupCommitter(collector_root(tmp_path))
    try:
        with pytest.raises(SourceError, match=f"another collector \\(pid {os.getpid()}\\)"):
            GroupCommitter(collector_root(tmp_path))
    finally:
        committer.close()
    GroupCommitter(collector_root(tmp_path)).close()


def start_process(project: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    code = (
        "import sys; from pathlib import Path; "
        "from headwater.ingest.events.collector_app import serve_collector; "
        "serve_collector(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(collector_root(project)), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(project / f"collector-{port}.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, process)
    return process, base


def test_sigkill_mid_post_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """Clients post in a loop; the collector is killed with SIGKILL. Every event that got a
    200 is in the log exactly once; a retry (same Idempotency-Key) of each request that got
    no answer lands exactly once after a restart."""
    process, base = start_process(tmp_path)
    acknowledged: list[int] = []
    refused: list[str] = []
    unanswered: dict[str, range] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def client_loop(worker: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for request in range(1_000_000):
                first = (worker * 1_000_000 + request) * 500
                ids = range(first, first + 500)
                key = f"w{worker}-{request}"
                try:
                    answer = client.post(
                        "/topics/clicks?partitions=2",
                        content=ndjson(ids),
                        headers={"Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    with lock:
                        unanswered[key] = ids
                    return
                with lock:
                    if answer.status_code != 200:
                        refused.append(answer.text)
                        return
                    acknowledged.extend(ids)
                    if len(acknowledged) >= 100_000:
                        enough.set()

    clients = [threading.Thread(target=client_loop, args=(w,)) for w in range(3)]
    for thread in clients:
        thread.start()
    assert enough.wait(DEADLINE_S)
    time.sleep(random.uniform(0, 0.01))  # somewhere inside a request, a write or an fsync
    process.send_signal(signal.SIGKILL)
    process.wait(DEADLINE_S)
    for thread in clients:
        thread.join(DEADLINE_S)
    assert not refused
    assert len(unanswered) == len(clients)

    # read straight after the crash, before any recovery: nothing torn, nothing twice
    events = source(tmp_path, partitions=2)
    events.open(None)
    after_crash = Counter(ids_of(drain(events)))
    assert max(after_crash.values()) == 1
    assert not [i for i in acknowledged if i not in after_crash]

    process, base = start_process(tmp_path)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for key, ids in unanswered.items():
                retry = client.post(
                    "/topics/clicks", content=ndjson(ids), headers={"Idempotency-Key": key}
                )
                assert retry.status_code == 200
                if any(i in after_crash for i in ids):
                    assert retry.json()["duplicate"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(DEADLINE_S)
    # uvicorn finishes the requests in flight, then re-raises SIGTERM to exit by it
    assert process.returncode in (0, -signal.SIGTERM)
    events.open(None)
    final = Counter(ids_of(drain(events)))
    assert max(final.values()) == 1
    expected = set(acknowledged) | {i for ids in unanswered.values() for i in ids}
    assert expected <= set(final)
    assert events.caught_up()


def test_a_failed_fsync_answers_503_stores_nothing_and_the_next_request_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fdatasync = os.fdatasync
    fail_next = threading.Event()

    def flaky_fdatasync(fd: int) -> None:
        if fail_next.is_set():
            fail_next.clear()
            raise OSError(28, "No space left on device")
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", flaky_fdatasync)
    with serve(tmp_path) as client:
        assert client.post("/topics/clicks", content=ndjson([1, 2])).status_code == 200
        fail_next.set()
        failed = client.post("/topics/clicks", content=ndjson([3, 4]))
        assert failed.status_code == 503
        assert "No space left on device" in failed.json()["error"]
        after = client.post("/topics/clicks", content=ndjson([5]))
        assert after.status_code == 200 and after.json()["offset"] == 2
    events = source(tmp_path)
    events.open(None)
    assert ids_of(drain(events)) == [1, 2, 5]


def test_idempotency_keys_are_recovered_across_a_segment_roll(tmp_path: Path) -> None:
    settings = CollectorSettings(segment_bytes=200)  # one batch per segment
    with serve(tmp_path, settings) as client:
        answers = [
            client.post(
                "/topics/clicks",
                content=ndjson(range(i * 10, i * 10 + 10)),
                headers={"Idempotency-Key": f"k{i}"},
            ).json()
            for i in range(4)
        ]
    folder = partition_dir(collector_root(tmp_path), "clicks", 0)
    assert len(list_segments(folder)) == 4
    with serve(tmp_path, settings) as client:
        for i in (2, 3):  # the newest segment and the one before it
            retry = client.post(
                "/topics/clicks",
                content=ndjson(range(i * 10, i * 10 + 10)),
                headers={"Idempotency-Key": f"k{i}"},
            )
            assert retry.json() == {**answers[i], "duplicate": True}
    events = source(tmp_path)
    events.open(None)
    assert ids_of(drain(events)) == list(range(40))
