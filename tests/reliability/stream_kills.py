"""Shared pieces of the stream kill tests (R5, R15): the real `headwater stream run` and
`headwater stream collect` as subprocesses, a loop that SIGKILLs the stream after each new
commit, a reader polling the stream's Delta tables during the run, and readers of what the
source holds (the collector's segment log, its reader files) to compare the tables with.

Nothing here measures time: deadlines only keep a broken run from hanging the suite.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from deltalake import DeltaTable

from headwater.ingest.events.segment_log import (
    Gathered,
    PartitionReader,
    collector_root,
    list_segments,
)
from headwater.ingest.events.segment_topics import partition_dir, read_readers
from headwater.stream.sink import stream_app_id
from tests.conftest import HEADWATER
from tests.support.kafka import free_port

DEADLINE_S = 300.0
"""A hang guard for one wait, never a measurement."""
POLL_S = 0.02
"""How often the reader looks at the tables (the row asks for every 10-50 ms)."""

Acked = dict[int, int]
"""Partition -> the offset the source was acknowledged up to (the next offset to read)."""


# -- the delta log ------------------------------------------------------------------------------


def log_version(path: Path) -> int:
    """The newest version in a Delta table's log (-1: no table yet)."""
    log = path / "_delta_log"
    try:
        names = [p.name for p in log.iterdir()]
    except FileNotFoundError:
        return -1
    return max((int(n[:20]) for n in names if n.endswith(".json") and n[:20].isdigit()), default=-1)


def committed_positions(path: Path, stream: str) -> tuple[int | None, dict[str, int]]:
    """The last batch the stream committed to the table at `path` and the source positions
    recorded with it, read straight from the Delta log's JSON commits (not through
    Headwater): (None, {}) before the first batch."""
    app_id = stream_app_id(stream)
    for version in range(log_version(path), -1, -1):
        try:
            lines = (path / "_delta_log" / f"{version:020d}.json").read_text().splitlines()
        except FileNotFoundError:
            continue
        actions = [json.loads(line) for line in lines if line.strip()]
        txn = [a["txn"] for a in actions if "txn" in a and a["txn"].get("appId") == app_id]
        if not txn:
            continue  # a compaction or the table's creation
        info = next(a["commitInfo"] for a in actions if "commitInfo" in a)
        positions = json.loads(info["headwater.stream.positions"])
        return int(txn[0]["version"]), {str(k): int(v) for k, v in positions.items()}
    return None, {}


# -- the stream and the collector as processes ----------------------------------------------------


class StreamProcess:
    """Runs `headwater stream run` in a project, keeping each attempt's stderr in a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.attempts = 0

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start `headwater stream run ARGS...` (its stderr goes to a file of its own)."""
        self.attempts += 1
        log = self.root / f"stream-run-{self.attempts}.log"
        with log.open("wb") as stderr:
            return subprocess.Popen(
                [*HEADWATER, "stream", "run", *args],
                cwd=self.root,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def stderr(self) -> str:
        """The stderr of the last attempt."""
        return (self.root / f"stream-run-{self.attempts}.log").read_text(errors="replace")

    def kill_after_commits(
        self, tables: Sequence[Path], kills: int, rng: random.Random, max_delay_s: float
    ) -> int:
        """Start the stream `kills` times, each time SIGKILLing it a random moment (up to
        `max_delay_s`) after one of `tables` got a new version; return the kills made."""
        made = 0
        while made < kills:
            seen = [log_version(t) for t in tables]
            process = self.start()
            deadline = time.monotonic() + DEADLINE_S
            try:
                while all(log_version(t) <= s for t, s in zip(tables, seen, strict=True)):
                    assert process.poll() is None, f"the stream exited:\n{self.stderr()[-3000:]}"
                    assert time.monotonic() < deadline, "the stream committed nothing new"
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, max_delay_s))
                assert process.poll() is None, f"the stream exited:\n{self.stderr()[-3000:]}"
                process.send_signal(signal.SIGKILL)
                assert process.wait(DEADLINE_S) == -signal.SIGKILL
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(DEADLINE_S)
            made += 1
        return made

    def finish(self) -> None:
        """Run `headwater stream run --until-caught-up` to the end; it must succeed."""
        process = self.start("--until-caught-up")
        assert process.wait(DEADLINE_S) == 0, self.stderr()[-3000:]


@contextmanager
def collector(root: Path, segment_bytes: int | None = None) -> Iterator[str]:
    """The HTTP collector of the project at `root` on a free port, until the block ends (then
    SIGTERM); yields its base URL. It is `headwater stream collect`, or with `segment_bytes`
    the collector app in a process of its own rolling segments that small (so that retention
    deletes segments while the streams run)."""
    port = free_port()
    log = root / "collector.log"
    command = [*HEADWATER, "stream", "collect", "--port", str(port)]
    if segment_bytes is not None:
        command = [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from headwater.ingest.events.collector_app import CollectorSettings, "
            "serve_collector; "
            "serve_collector(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]), "
            "CollectorSettings(segment_bytes=int(sys.argv[3])))",
            str(collector_root(root)),
            str(port),
            str(segment_bytes),
        ]
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the collector did not start"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(DEADLINE_S)


def post(client: httpx.Client, topic: str, lines: Sequence[bytes], partitions: int) -> None:
    """POST `lines` as one NDJSON request, retrying with the same Idempotency-Key until the
    collector answers 200 (so each line is stored exactly once)."""
    key = uuid.uuid4().hex
    body = b"".join(line + b"\n" for line in lines)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            answer = client.post(
                f"/topics/{topic}",
                params={"partitions": partitions},
                content=body,
                headers={"Idempotency-Key": key},
            )
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the collector stopped answering"
            time.sleep(0.05)
            continue
        assert answer.status_code == 200, answer.text
        assert answer.json()["count"] == len(lines)
        return


# -- what the source holds ----------------------------------------------------------------------


def collector_log(root: Path, topic: str, partition: int) -> list[tuple[int, bytes]]:
    """Every record one partition of a collector topic still holds (from its oldest segment
    that retention left), as (offset, line), in offset order, read from the segment files."""
    folder = partition_dir(collector_root(root), topic, partition)
    segments = list_segments(folder)
    reader = PartitionReader(folder, partition, segments[0] if segments else 0)
    records: list[tuple[int, bytes]] = []
    try:
        while True:
            gathered = Gathered()
            if not reader.read_into(gathered, 100_000, 1 << 62):
                return records
            for first, count, lengths, data in zip(
                gathered.firsts, gathered.counts, gathered.lengths, gathered.data, strict=True
            ):
                sizes = [lengths] if isinstance(lengths, int) else [int(n) for n in lengths]
                assert len(sizes) == count
                at = 0
                for index, size in enumerate(sizes):
                    records.append((first + index, bytes(data[at : at + size])))
                    at += size
    finally:
        reader.close()


def collector_acked(root: Path, topic: str, stream: str) -> Acked:
    """The offsets the collector holds as `stream`'s committed ones (its reader file)."""
    return dict(read_readers(collector_root(root), topic).get(stream, {}))


class KafkaAcks:
    """Reads a consumer group's committed offsets of a topic, with one client kept open
    (it never joins the group, so the stream's commits are not disturbed)."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "log_level": 0}
        )
        self.topic = topic
        self.partitions = partitions

    def __call__(self) -> Acked:
        """The committed offsets (0 where the group has none)."""
        from confluent_kafka import TopicPartition

        wanted = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        found = self.consumer.committed(wanted, timeout=30)
        return {tp.partition: max(tp.offset, 0) for tp in found}

    def close(self) -> None:
        """Leave the broker."""
        self.consumer.close()


# -- a reader polling the tables during the run -------------------------------------------------


@dataclass
class Watched:
    """One table the poller reads at every new version it sees."""

    path: Path
    key: Sequence[str]
    """The columns no two rows may share."""
    columns: Sequence[str] = ()
    """More columns to read (e.g. `_partition` and `_offset`, for `held`)."""
    grows: bool = True
    """Rows are only ever added (no window rewritten in place): no key may vanish."""
    acked: Callable[[], Acked] | None = None
    """What the source says was acknowledged; sampled before each read of the table."""
    held: Callable[[Path, Any], dict[int, int]] | None = None
    """Per source partition, the offset the table holds events up to (its path, its rows)."""
    versions: int = 0
    acks: int = 0
    """Acknowledgements compared with the table."""
    last: int = -1
    keys: set[tuple[Any, ...]] = field(default_factory=set)
    holds: dict[int, int] = field(default_factory=dict)


class TablePoller(threading.Thread):
    """Polls tables while the stream runs (and is killed), reading each new version it sees:
    no key twice and no row gone. Each poll first samples what the source was acknowledged
    up to, then reads the table: the table must hold at least that much (the source is
    acknowledged only after the commit, and the table never loses a commit)."""

    def __init__(self, tables: Sequence[Watched]) -> None:
        super().__init__(daemon=True)
        self.tables = list(tables)
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for watched in self.tables:
                try:
                    self.poll(watched)
                except Exception as exc:  # e.g. a log file being written: try again
                    self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(POLL_S)

    def poll(self, watched: Watched) -> None:
        """Sample the acknowledgement, then read the table if it has a new version and
        compare."""
        acked = watched.acked() if watched.acked is not None else None
        if log_version(watched.path) < 0:
            self.compare(watched, acked)
            return
        table = DeltaTable(str(watched.path))
        version = table.version()
        if version != watched.last:
            rows = table.to_pyarrow_table(columns=[*watched.key, *watched.columns])
            watched.versions += 1
            watched.last = version
            self.problems.extend(self.inspect(watched, rows, version))
            if watched.held is not None:
                watched.holds = watched.held(watched.path, rows)
        self.compare(watched, acked)

    def compare(self, watched: Watched, acked: Acked | None) -> None:
        """Record an acknowledgement past what the table holds."""
        if acked is None:
            return
        watched.acks += 1
        name = watched.path.name
        self.problems.extend(
            f"{name}: partition {p} acknowledged up to {offset}, but the table holds events "
            f"up to {watched.holds.get(p, 0)} (v{watched.last})"
            for p, offset in sorted(acked.items())
            if offset > watched.holds.get(p, 0)
        )

    def inspect(self, watched: Watched, rows: Any, version: int) -> list[str]:
        """What is wrong with one version of a table (nothing, normally)."""
        problems: list[str] = []
        keys = list(zip(*(rows.column(k).to_pylist() for k in watched.key), strict=True))
        found = set(keys)
        name = watched.path.name
        if len(found) != len(keys):
            problems.append(f"{name} v{version}: {len(keys) - len(found)} duplicate keys")
        if watched.grows and not watched.keys <= found:
            problems.append(f"{name} v{version}: {len(watched.keys - found)} rows vanished")
        watched.keys = found
        return problems

    def finish(self) -> None:
        """Stop polling and wait for the thread."""
        self.stop.set()
        self.join(DEADLINE_S)


def held_in_rows(_path: Path, rows: Any) -> dict[int, int]:
    """Per source partition, the offset after the largest `_offset` the rows hold."""
    import pyarrow.compute as pc

    found = rows.group_by("_partition").aggregate([("_offset", "max")])
    return {
        int(p): int(o) + 1
        for p, o in zip(
            found.column("_partition").to_pylist(),
            pc.cast(found.column("_offset_max"), "int64").to_pylist(),
            strict=True,
        )
    }


def held_in_log(stream: str) -> Callable[[Path, Any], dict[int, int]]:
    """`held` for a table without offset columns: the positions of its last committed batch,
    from the Delta log (`<topic>/<partition>` -> next offset)."""

    def held(path: Path, _rows: Any) -> dict[int, int]:
        _, positions = committed_positions(path, stream)
        return {int(k.rpartition("/")[2]): v for k, v in positions.items()}

    return held
