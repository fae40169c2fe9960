"""Headwater's HTTP collector: clients POST NDJSON, the collector stores it durably.

Endpoints:

- `POST /topics/<topic>`: the body is NDJSON. Each non-blank line becomes one record, stored
  byte for byte (a trailing CR dropped): a line that is not JSON or not UTF-8 is stored too and
  quarantined by the stream that reads it, so the collector never refuses, or loses, what it
  accepted. All lines of one request go to one partition as one batch, written and fsync'ed
  before the 200 answer `{"topic", "partition", "offset", "count", "duplicate"}`. `?key=K`
  picks the partition `crc32(K) % partitions` (the same key, the same partition, in order);
  without it requests go round-robin. An unknown topic is created with `?partitions=N`
  (default 1); naming a different count for an existing topic is a 409. Bodies over
  `max_body_bytes` are refused with 413. An `Idempotency-Key` header (up to 255 bytes) makes a
  retry safe: the collector remembers the last `idempotency_window` keys per topic (kept in
  the batches themselves, recovered when it starts) and answers a repeated key with the first
  request's result, `"duplicate": true`, storing nothing. Without the header a client that
  retries a request it got no answer to may store its events twice.
- `GET /topics`, `GET /topics/<topic>`: partitions, offsets, bytes, registered readers.
- `GET /health`.

One thread writes: requests queue up while it fsyncs, and everything queued is then written
with one fsync per partition (group commit). One collector at a time may write a log root; a
lock file refuses a second. There is no authentication: the collector listens on 127.0.0.1
unless told otherwise.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import fcntl
import os
import queue
import threading
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, Location, SourceError
from headwater.ingest.events.segment_log import (
    DEFAULT_SEGMENT_BYTES,
    MAX_ID_BYTES,
    MAX_KEY_BYTES,
    BatchHeader,
    PartitionWriter,
    collector_root,
    list_segments,
    make_dirs,
    scan_batches,
    segment_name,
)
from headwater.ingest.events.segment_topics import (
    MAX_PARTITIONS,
    TOPIC_NAME,
    TopicInfo,
    ensure_topic,
    list_topics,
    partition_dir,
    partition_state,
    read_readers,
    read_topic,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse

__all__ = [
    "CollectorSettings",
    "GroupCommitter",
    "collector_root",
    "make_app",
    "serve_collector",
]

LOCK_FILE = "collector.lock"
_MAX_GROUP = 4096
"""Requests one group commit takes at most (the rest wait for the next fsync)."""


@dataclass(frozen=True)
class CollectorSettings:
    """Limits and sizes of a collector."""

    max_body_bytes: int = 16 * 1024 * 1024
    """Larger request bodies are refused with 413."""
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    """A partition's segment rolls before it would grow past this."""
    idempotency_window: int = 10_000
    """Idempotency keys remembered per topic (the most recent ones)."""


@dataclass(frozen=True)
class Appended:
    """Where one request's records were stored."""

    topic: str
    partition: int
    offset: int
    count: int
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        """The response body for the request."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "count": self.count,
            "duplicate": self.duplicate,
        }


class TopicConflictError(HeadwaterError):
    """A request named a partition count other than the existing topic's."""


@dataclass
class _Request:
    topic: str
    partitions: int | None
    key: bytes
    idempotency_key: bytes
    records: list[bytes]
    future: concurrent.futures.Future[Appended]


class TopicWriter:
    """Writes one topic's partitions and remembers its recent idempotency keys."""

    def __init__(self, root: Path, info: TopicInfo, settings: CollectorSettings) -> None:
        self.info = info
        self._window = settings.idempotency_window
        self.writers: list[PartitionWriter] = []
        try:
            for partition in range(info.partitions):
                self.writers.append(
                    PartitionWriter(
                        partition_dir(root, info.name, partition), settings.segment_bytes
                    )
                )
        except BaseException:
            self.close()
            raise
        self._next_partition = 0
        self._recent: collections.OrderedDict[bytes, tuple[int, int, int]] = (
            collections.OrderedDict()
        )
        self._recover_keys()

    def append(self, request: _Request, stored_us: int) -> Appended:
        """Buffer a request's records as one batch (or find the batch a retry of it already
        stored); durable after `commit`."""
        known = self._recent.get(request.idempotency_key) if request.idempotency_key else None
        if known is not None:
            partition, offset, count = known
            return Appended(self.info.name, partition, offset, count, duplicate=True)
        if request.key:
            partition = zlib.crc32(request.key) % self.info.partitions
        else:
            partition = self._next_partition
            self._next_partition = (partition + 1) % self.info.partitions
        writer = self.writers[partition]
        try:
            offset = writer.append(request.records, stored_us, request.idempotency_key, request.key)
        except OSError:
            self.undo(partition)
            raise
        if request.idempotency_key:
            self._remember(request.idempotency_key, partition, offset, len(request.records))
        return Appended(self.info.name, partition, offset, len(request.records))

    def dirty(self) -> list[int]:
        """The partitions holding batches not yet committed."""
        return [p for p, writer in enumerate(self.writers) if writer.has_pending]

    def commit_partition(self, partition: int) -> OSError | None:
        """Write and fsync one partition's buffered batches; return the failure, if any
        (then call `undo`). Partitions may be committed from several threads at once."""
        try:
            self.writers[partition].commit()
        except OSError as exc:
            return exc
        return None

    def is_durable(self, appended: Appended) -> bool:
        """True when `appended`'s records are on disk."""
        writer = self.writers[appended.partition]
        return appended.offset + appended.count <= writer.durable_offset

    def close(self) -> None:
        """Close every partition's files (uncommitted batches are dropped)."""
        for writer in self.writers:
            writer.close()

    def undo(self, partition: int) -> None:
        """Drop a partition's batches not committed, and the idempotency keys they had."""
        writer = self.writers[partition]
        writer.rollback()
        lost = [
            key
            for key, (p, offset, _) in self._recent.items()
            if p == partition and offset >= writer.durable_offset
        ]
        for key in lost:
            del self._recent[key]

    def _remember(self, key: bytes, partition: int, offset: int, count: int) -> None:
        self._recent[key] = (partition, offset, count)
        while len(self._recent) > self._window:
            self._recent.popitem(last=False)

    def _recover_keys(self) -> None:
        # the keys live in the batch headers: read the newest segment of each partition, and
        # the one before it when the newest holds fewer keys than the window
        found: list[tuple[int, BatchHeader, int]] = []
        for partition, writer in enumerate(self.writers):
            headers, writer.recent_keyed = writer.recent_keyed, []
            if len(headers) < self._window:
                older = [f for f in list_segments(writer.directory) if f < writer.segment_first]
                if older:
                    with contextlib.suppress(FileNotFoundError):
                        path = writer.directory / segment_name(older[-1])
                        scan = scan_batches(
                            path, older[-1], verify=False, keep=lambda h: bool(h.idempotency_key)
                        )
                        headers = scan.batches + headers
            found.extend((h.stored_us, h, partition) for h in headers)
        found.sort(key=lambda item: (item[0], item[1].base_offset))
        for _, header, partition in found[-self._window :]:
            self._remember(header.idempotency_key, partition, header.base_offset, header.count)


class GroupCommitter:
    """The collector's single writer: a thread that takes every queued request, appends them
    and fsyncs each touched partition once, then answers them all."""

    def __init__(self, root: Path, settings: CollectorSettings | None = None) -> None:
        self.root = root
        self.settings = settings or CollectorSettings()
        make_dirs(root)
        self._lock_fd = _take_lock(root)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._topics: dict[str, TopicWriter] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="collector-sync")
        self._thread = threading.Thread(target=self._run, name="collector-writer", daemon=True)
        self._thread.start()

    def submit(
        self,
        topic: str,
        records: list[bytes],
        partitions: int | None = None,
        key: bytes = b"",
        idempotency_key: bytes = b"",
    ) -> concurrent.futures.Future[Appended]:
        """Queue one request's records; the future resolves once they are on disk.

        The future fails with `TopicConflictError` when `partitions` differs from the
        topic's, and with `OSError` when the disk refused the write.
        """
        future: concurrent.futures.Future[Appended] = concurrent.futures.Future()
        self._queue.put(_Request(topic, partitions, key, idempotency_key, records, future))
        return future

    def close(self) -> None:
        """Answer what is queued, stop the writer thread, close the log and release the lock;
        safe to call twice."""
        if self._lock_fd < 0:
            return
        self._queue.put(None)
        self._thread.join()
        self._pool.shutdown()
        for writer in self._topics.values():
            writer.close()
        self._topics.clear()
        os.close(self._lock_fd)
        self._lock_fd = -1

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < _MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            try:
                self._write(group)
            except BaseException as exc:
                # an unexpected failure leaves the writers' state unknown: answer every
                # request still waiting, and reopen (recover) the log on the next one
                for request in group:
                    if not request.future.done():
                        request.future.set_exception(exc)
                for writer in self._topics.values():
                    with contextlib.suppress(Exception):
                        writer.close()
                self._topics.clear()
                if not isinstance(exc, Exception):
                    raise

    def _write(self, group: list[_Request]) -> None:
        stored_us = time.time_ns() // 1000
        appended: list[tuple[_Request, TopicWriter, Appended]] = []
        troubled: set[str] = set()
        for request in group:
            try:
                writer = self._topic(request.topic, request.partitions)
                appended.append((request, writer, writer.append(request, stored_us)))
            except (OSError, HeadwaterError) as exc:
                request.future.set_exception(exc)
                if isinstance(exc, OSError):
                    troubled.add(request.topic)
        jobs = [
            (writer, partition)
            for writer in {id(w): w for _, w, _ in appended}.values()
            for partition in writer.dirty()
        ]
        # fsyncs of different files overlap well: one thread per partition to sync
        errors = (
            list(self._pool.map(lambda job: job[0].commit_partition(job[1]), jobs))
            if len(jobs) > 1
            else [writer.commit_partition(partition) for writer, partition in jobs]
        )
        failures: dict[tuple[str, int], OSError] = {}
        for (writer, partition), error in zip(jobs, errors, strict=True):
            if error is not None:
                writer.undo(partition)
                failures[writer.info.name, partition] = error
                troubled.add(writer.info.name)
        for request, writer, result in appended:
            if writer.is_durable(result):
                request.future.set_result(result)
            else:
                request.future.set_exception(
                    failures.get((result.topic, result.partition))
                    or OSError("the batch was dropped when another write failed")
                )
        # after a disk error, reopen the topic's log (recovering it) for the next requests
        for name in troubled:
            dropped = self._topics.pop(name, None)
            if dropped is not None:
                dropped.close()

    def _topic(self, topic: str, partitions: int | None) -> TopicWriter:
        writer = self._topics.get(topic)
        if writer is None:
            info = read_topic(self.root, topic) or ensure_topic(self.root, topic, partitions or 1)
            writer = TopicWriter(self.root, info, self.settings)
            self._topics[topic] = writer
        if partitions is not None and partitions != writer.info.partitions:
            raise TopicConflictError(
                f"topic '{topic}' has {writer.info.partitions} partition"
                f"{'s' if writer.info.partitions != 1 else ''}, not {partitions}",
                hint="leave out ?partitions= or send the topic's count; a topic's partition "
                "count is fixed when it is created",
            )
        return writer


def _take_lock(root: Path) -> int:
    path = root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        raise SourceError(
            f"another collector (pid {holder or 'unknown'}) is writing to this log",
            Location(file=str(root)),
            "stop it first, or give this one another project",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def split_records(body: bytes) -> list[bytes]:
    """Return an NDJSON body's records: its non-blank lines, each without a trailing CR."""
    lines = body.split(b"\n")
    if b"\r" in body:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return [line for line in lines if line and not line.isspace()]


def topic_summary(root: Path, topic: str) -> dict[str, Any] | None:
    """Return a topic's partitions (offsets, segments, bytes) and its registered readers'
    committed offsets, or None when there is no such topic."""
    info = read_topic(root, topic)
    if info is None:
        return None
    partitions = [partition_state(root, topic, p) for p in range(info.partitions)]
    return {
        "topic": topic,
        "partitions": info.partitions,
        "partition_offsets": [
            {
                "partition": s.partition,
                "start_offset": s.start_offset,
                "end_offset": s.end_offset,
                "segments": s.segments,
                "bytes": s.bytes,
            }
            for s in partitions
        ],
        "readers": {
            stream: {str(p): o for p, o in sorted(offsets.items())}
            for stream, offsets in read_readers(root, topic).items()
        },
    }


def make_app(
    log_root: Path,
    settings: CollectorSettings | None = None,
    committer: GroupCommitter | None = None,
) -> Starlette:
    """Return the collector's ASGI app writing under `log_root`. It opens the log (and takes
    its lock) when it starts, unless handed an open `committer`, and closes it when it
    stops."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    settings = settings or CollectorSettings()
    state: dict[str, GroupCommitter] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["committer"] = committer or GroupCommitter(log_root, settings)
        try:
            yield
        finally:
            await asyncio.to_thread(state["committer"].close)

    async def post(request: Request) -> JSONResponse:
        topic = request.path_params["topic"]
        if not TOPIC_NAME.match(topic):
            return _error(400, f"'{topic}' is not a topic name: use letters, digits and _")
        partitions, problem = _partitions_param(request.query_params.get("partitions"))
        if problem:
            return _error(400, problem)
        key = request.query_params.get("key", "").encode()
        idempotency_key = request.headers.get("idempotency-key", "").encode()
        if len(key) > MAX_KEY_BYTES:
            return _error(400, f"?key= is longer than {MAX_KEY_BYTES} bytes")
        if len(idempotency_key) > MAX_ID_BYTES:
            return _error(400, f"Idempotency-Key is longer than {MAX_ID_BYTES} bytes")
        body = await _read_body(request, settings.max_body_bytes)
        if body is None:
            return _error(
                413,
                f"the body is larger than {settings.max_body_bytes} bytes; send fewer "
                "events per request",
            )
        records = split_records(body)
        if not records:
            return JSONResponse(
                {"topic": topic, "partition": None, "offset": None, "count": 0, "duplicate": False}
            )
        future = state["committer"].submit(topic, records, partitions, key, idempotency_key)
        try:
            appended = await asyncio.wrap_future(future)
        except TopicConflictError as exc:
            return _error(409, f"{exc.message}; {exc.hint}")
        except HeadwaterError as exc:
            return _error(500, str(exc))
        except OSError as exc:
            return _error(503, f"the events could not be stored ({exc}); nothing was stored")
        return JSONResponse(appended.as_json())

    async def topics(request: Request) -> JSONResponse:
        names = await asyncio.to_thread(list_topics, log_root)
        summaries = [await asyncio.to_thread(topic_summary, log_root, n) for n in names]
        return JSONResponse({"topics": [s for s in summaries if s is not None]})

    async def topic(request: Request) -> JSONResponse:
        name = request.path_params["topic"]
        summary = (
            await asyncio.to_thread(topic_summary, log_root, name)
            if TOPIC_NAME.match(name)
            else None
        )
        return _error(404, f"no topic '{name}'") if summary is None else JSONResponse(summary)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")

    return Starlette(
        routes=[
            Route("/topics/{topic}", post, methods=["POST"]),
            Route("/topics/{topic}", topic, methods=["GET"]),
            Route("/topics", topics, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )


def serve_collector(
    log_root: Path,
    host: str = "127.0.0.1",
    port: int = 8766,
    settings: CollectorSettings | None = None,
    max_connections: int = 1024,
) -> None:
    """Run the collector on `host:port`, writing under `log_root`
    (`collector_root(project_root)` for a project), until SIGINT or SIGTERM (which finish
    the requests in flight). Beyond `max_connections` open connections and requests, new
    ones get 503, which bounds the memory that bodies waiting for the disk take.

    Raises:
        SourceError: another collector already writes to `log_root`.
    """
    import uvicorn

    committer = GroupCommitter(log_root, settings)
    try:
        app = make_app(log_root, settings, committer)
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            limit_concurrency=max_connections,
        )
    finally:
        committer.close()


def _error(status: int, message: str) -> JSONResponse:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def _partitions_param(text: str | None) -> tuple[int | None, str | None]:
    if text is None:
        return None, None
    if not text.isdigit() or not 1 <= int(text) <= MAX_PARTITIONS:
        return None, f"?partitions= must be a whole number from 1 to {MAX_PARTITIONS}"
    return int(text), None


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
