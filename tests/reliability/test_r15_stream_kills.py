"""R15 for streams: `headwater stream run` SIGKILLed 20+ times (5 in the regular tier) while a
client POSTs a random workload to the real HTTP collector: out-of-order, late and very late
event times, NULL keys and values, malformed lines, retried requests.

Two streams read the collector's one-partition topic: a tumbling window per key (count, sum,
max) with a watermark, allowed lateness and late events quarantined, and a plain stream
appending each event. After the kills and a final `--until-caught-up`:

- the windowed table equals the oracle (one DuckDB query over every event in the order the
  collector stored it, `tests/stream/conftest.py`): each line at the offset its POST's answer
  gave, checked against the segment files; the collector rolls small segments, and retention
  deletes those both streams committed past while they are being killed, so the files keep
  only the newest at the end;
- the plain table holds every event exactly once, at its own offset;
- each bad or late event is quarantined exactly once by each stream that sets it aside;
- the source is acknowledged only up to what is committed: sampled during the run, the
  stream's reader file in the collector never passes the positions of the batch its table
  says is committed, and ends equal to the log's end;
- a reader polling both tables during the run never sees a (window, key) or an id twice, nor
  a row vanish.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.ingest.events.segment_log import collector_root, list_segments, read_durable
from headwater.ingest.events.segment_topics import partition_dir
from tests.conftest import ProjectFactory
from tests.reliability.stream_kills import (
    DEADLINE_S,
    StreamProcess,
    TablePoller,
    Watched,
    collector,
    collector_acked,
    collector_log,
    committed_positions,
    held_in_log,
)
from tests.stream.conftest import duplicates, late_events, normalized, oracle

TOPIC = "clicks"
EPOCH = dt.datetime(2026, 1, 1)
KEYS = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", None]
SEGMENT_BYTES = 32 * 1024
"""The collector's segments roll this small, so retention deletes them while the streams
are killed (a segment deleted too early would stop a restarted stream)."""
MAX_EVENTS = 150_000
"""The workload stops here if the kills take longer than it lasts."""

WINDOWED = {
    "event_time": "event_time",
    "watermark": "2s",
    "allowed_lateness": "1s",
    "late_events": "quarantine",
    "window": {
        "type": "tumbling",
        "size": "1s",
        "key": "key",
        "aggregates": {"n": "count(*)", "total": "sum(value)", "top": "max(value)"},
    },
}
COLUMNS = {"id": "BIGINT", "event_time": "TIMESTAMP", "key": "VARCHAR", "value": "BIGINT"}
WINDOW_KEYS = ["window_start", "window_end", "key"]

GOOD, MALFORMED, MISMATCH, TIMELESS = "good", "malformed", "mismatch", "timeless"
"""What each line of the workload is: an event; not JSON; an event time that is no time
(both streams quarantine these); no event time (the windowed stream quarantines it, the plain
one keeps it)."""


def project_files() -> dict[str, str]:
    """Both streams over the collector's topic, with small batches and frequent compaction
    so that the kills land in every step of a batch."""
    source = {"kind": "http", "topic": TOPIC}
    windows = {
        "source": source,
        "columns": COLUMNS,
        **WINDOWED,
        "max_batch_events": 700,
        "trigger": "100ms",
        "compact_every": 7,
    }
    plain = {
        "source": source,
        "columns": COLUMNS,
        "sql": "select id, key, value, event_time, _partition, _offset from events",
        "max_batch_events": 1100,
        "trigger": "150ms",
        "compact_every": 5,
    }
    return {"streams/windows.yml": json.dumps(windows), "streams/plain.yml": json.dumps(plain)}


def workload(seed: int) -> Iterator[tuple[bytes, str]]:
    """Lines to POST, each with what it is: events whose time runs forward with pauses,
    most a little out of order, some late by the watermark (some within the allowed
    lateness), some very late; NULL keys and values; a few bad lines."""
    rng = random.Random(seed)
    clock = 0.0
    for n in range(MAX_EVENTS):
        clock += rng.expovariate(1 / 0.01) if rng.random() > 0.002 else rng.uniform(2, 6)
        roll = rng.random()
        if roll < 0.06:
            behind = rng.uniform(2, 5)  # late by the watermark, maybe within the lateness
        elif roll < 0.08:
            behind = rng.uniform(5, 40)  # very late
        else:
            behind = rng.uniform(0, 1.5)  # out of order, on time
        moment = EPOCH + dt.timedelta(microseconds=int(max(0.0, clock - behind) * 1e6))
        event: dict[str, Any] = {
            "id": n,
            "event_time": moment.isoformat(),
            "key": rng.choice(KEYS),
            "value": None if rng.random() < 0.05 else rng.randrange(-50, 1000),
        }
        bad = rng.random()
        if bad < 0.002:
            yield f'{{"id": {n}, "event_time": "{moment.isoformat()}'.encode(), MALFORMED
        elif bad < 0.003:
            yield json.dumps({**event, "event_time": "soon"}).encode(), MISMATCH
        elif bad < 0.004:
            del event["event_time"]
            yield json.dumps(event).encode(), TIMELESS
        else:
            yield json.dumps(event).encode(), GOOD


class Client(threading.Thread):
    """POSTs the workload in random requests (1 to 300 lines, a few sent twice with the
    same Idempotency-Key) at a random pace until told to stop."""

    def __init__(self, base: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.rng = random.Random(seed)
        self.lines = workload(seed)
        self.kinds: dict[bytes, str] = {}
        self.stored: dict[int, bytes] = {}
        """Offset -> line, as the collector's answers placed them."""
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.requests = 0
        self.duplicates = 0

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=60) as client:
                while not self.stop.is_set():
                    chunk = [next(self.lines, None) for _ in range(self.rng.randint(1, 300))]
                    lines = [c for c in chunk if c is not None]
                    if not lines:
                        return
                    self.kinds.update(lines)
                    self.send(client, [line for line, _ in lines])
                    time.sleep(self.rng.uniform(0.01, 0.06))
        except BaseException as exc:
            self.error = exc

    def send(self, client: httpx.Client, lines: list[bytes]) -> None:
        """One request, sent twice now and then: the retry must store nothing."""
        key = f"{self.requests}-{self.rng.random()}"
        body = b"\n".join(lines) + b"\n"
        twice = self.rng.random() < 0.05 or self.requests == 1
        for attempt in range(2 if twice else 1):
            answer = client.post(f"/topics/{TOPIC}", content=body, headers={"Idempotency-Key": key})
            assert answer.status_code == 200, answer.text
            assert answer.json()["count"] == len(lines)
            assert answer.json()["duplicate"] == (attempt == 1)
            assert answer.json()["partition"] == 0
            first = answer.json()["offset"]
            placed = dict(zip(range(first, first + len(lines)), lines, strict=True))
            assert self.stored.get(first, lines[0]) == lines[0], "the retry was stored again"
            self.stored.update(placed)
            self.duplicates += attempt
        self.requests += 1

    def finish(self) -> None:
        """Stop sending and wait; raise what went wrong."""
        self.stop.set()
        self.join(DEADLINE_S)
        assert not self.is_alive(), "the client did not stop"
        if self.error is not None:
            raise self.error


def stored_events(root: Path, client: Client) -> tuple[list[tuple[int, bytes]], pa.Table]:
    """The log as the collector stored it (each line at the offset its POST's answer gave,
    checked against what its segment files still hold), and its good events as the oracle
    reads them: `seq` (the offset: the arrival order), `id`, `event_time`, `key`, `value`."""
    log = sorted(client.stored.items())
    assert [offset for offset, _ in log] == list(range(len(log)))
    assert sorted(line for _, line in log) == sorted(client.kinds), "not what was posted"
    folder = partition_dir(collector_root(root), TOPIC, 0)
    assert read_durable(folder) == len(log)
    kept = collector_log(root, TOPIC, 0)
    assert kept == log[len(log) - len(kept) :]
    # retention deleted the segments both streams had committed past (the newest one stays)
    assert len(list_segments(folder)) == 1
    assert len(kept) < len(log)
    kinds = client.kinds
    rows = [(o, json.loads(line)) for o, line in log if kinds[line] == GOOD]
    return log, pa.table(
        {
            "seq": pa.array([o for o, _ in rows], pa.int64()),
            "id": pa.array([r["id"] for _, r in rows], pa.int64()),
            "event_time": pa.array(
                [dt.datetime.fromisoformat(r["event_time"]) for _, r in rows], pa.timestamp("us")
            ),
            "key": pa.array([r["key"] for _, r in rows], pa.string()),
            "value": pa.array([r["value"] for _, r in rows], pa.int64()),
        }
    )


def quarantined_offsets(table: Path) -> list[int]:
    """The source offsets of a stream's quarantined events (one entry per row)."""
    path = table.with_name(table.name + "__quarantine")
    rows = DeltaTable(str(path)).to_pyarrow_table(columns=["location"]).column("location")
    offsets = []
    for location in rows.to_pylist():
        assert location.startswith("partition 0 offset "), location
        offsets.append(int(location.rsplit(" ", 1)[1]))
    return sorted(offsets)


def check_stream_kills(make_project: ProjectFactory, kills: int, seed: int) -> None:
    """Kill both streams `kills` times during the workload, let them catch up, and check
    what the module docstring says."""
    project = make_project(project_files())
    root = project.root
    warehouse = project.definition.warehouse / "streams"
    windows, plain = warehouse / "windows", warehouse / "plain"

    def acked(stream: str) -> Any:
        return lambda: collector_acked(root, TOPIC, stream)

    poller = TablePoller(
        [
            Watched(
                windows,
                key=WINDOW_KEYS,
                acked=acked("streams.windows"),
                held=held_in_log("streams.windows"),
            ),
            Watched(
                plain,
                key=["id"],
                columns=["_offset"],
                acked=acked("streams.plain"),
                held=held_in_log("streams.plain"),
            ),
        ]
    )
    with collector(root, SEGMENT_BYTES) as base:
        client = Client(base, seed)
        poller.start()
        try:
            client.start()
            stream = StreamProcess(root)
            made = stream.kill_after_commits([windows, plain], kills, random.Random(seed), 0.3)
            client.finish()
            stream.finish()
        finally:
            client.stop.set()
            poller.finish()
    assert made == kills
    assert poller.problems == []
    assert all(w.versions >= 2 and w.acks > 0 for w in poller.tables)

    log, events = stored_events(root, client)
    kinds = {offset: client.kinds[line] for offset, line in log}
    assert events.num_rows > 1000
    assert client.duplicates > 0
    end = len(log)

    # the windows equal the oracle over the events in the order the collector stored them
    table = DeltaTable(str(windows)).to_pyarrow_table()
    assert duplicates(table, WINDOW_KEYS) == []
    columns = [*WINDOW_KEYS, "n", "total", "top"]
    expected = oracle(events, WINDOWED, closed_only=True)
    assert expected.num_rows > 100
    assert normalized(table, columns) == normalized(expected, columns)

    # the plain table holds every event with a payload it can use, once, at its own offset
    rows = DeltaTable(str(plain)).to_pyarrow_table(columns=["id", "_offset"])
    placed = sorted(
        zip(rows.column("_offset").to_pylist(), rows.column("id").to_pylist(), strict=True)
    )
    wanted = sorted((o, json.loads(line)["id"]) for o, line in log if kinds[o] in (GOOD, TIMELESS))
    assert placed == wanted

    # each bad event quarantined once by each stream, and each late one by the windowed one
    late = late_events(events, WINDOWED).column("seq").to_pylist()
    assert len(late) > 0
    bad = [o for o, kind in kinds.items() if kind in (MALFORMED, MISMATCH)]
    timeless = [o for o, kind in kinds.items() if kind == TIMELESS]
    assert bad and timeless
    assert quarantined_offsets(plain) == sorted(bad)
    assert quarantined_offsets(windows) == sorted([*bad, *timeless, *late])

    # acknowledged up to the end, which both tables' last commits hold
    for stream, path in (("streams.windows", windows), ("streams.plain", plain)):
        assert collector_acked(root, TOPIC, stream) == {0: end}
        assert committed_positions(path, stream)[1] == {f"{TOPIC}/0": end}


def test_r15_stream_killed_repeatedly_during_a_random_workload(
    make_project: ProjectFactory,
) -> None:
    check_stream_kills(make_project, kills=5, seed=11)


@pytest.mark.slow
def test_r15_stream_killed_twenty_times_during_a_random_workload(
    make_project: ProjectFactory,
) -> None:
    check_stream_kills(make_project, kills=22, seed=12)
