"""Topics of the collector's segment log, the readers registered on them, and retention.

A topic's `topic.json` fixes its partition count when the topic is first created, by the
collector (a POST) or by a stream opening it, whichever comes first; it is created with a
hard link so two processes racing to create it agree on one file. Each stream reading a topic
registers in `<topic>/readers/<stream>.json` with the offsets it has committed; retention
deletes a segment once every registered reader's committed offset in that partition is at or
past the segment's last record. The newest segment of a partition is never deleted, and with
no reader registered nothing is. Registration and retention hold the topic's readers lock, so
a reader choosing where to start and a retention pass never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import Location, SourceError
from headwater.ingest.events.segment_log import (
    SEGMENT_MAGIC,
    fsync_dir,
    list_segments,
    make_dirs,
    read_durable,
    segment_name,
)

TOPIC_FILE = "topic.json"
READERS_DIR = "readers"
TOPIC_FORMAT = 1
TOPIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PARTITIONS = 256


@dataclass(frozen=True)
class TopicInfo:
    """A topic's fixed settings."""

    name: str
    partitions: int


@dataclass(frozen=True)
class PartitionState:
    """What one partition's log holds now."""

    partition: int
    start_offset: int
    """The oldest offset still on disk."""
    end_offset: int
    """The durable mark: the offset the next record will get once stored."""
    segments: int
    bytes: int


def topic_dir(root: Path, topic: str) -> Path:
    """Return the folder of `topic` under the collector root."""
    return root / topic


def partition_dir(root: Path, topic: str, partition: int) -> Path:
    """Return the folder of one partition of `topic`."""
    return root / topic / str(partition)


def read_topic(root: Path, topic: str) -> TopicInfo | None:
    """Return a topic's settings, or None when it has not been created.

    Raises:
        SourceError: its topic.json cannot be read.
    """
    path = topic_dir(root, topic) / TOPIC_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        partitions = int(data["partitions"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SourceError(
            f"the collector's topic file cannot be read: {exc}",
            Location(file=str(path)),
            'restore it, or write {"format": 1, "partitions": N} with the topic\'s partition count',
        ) from None
    return TopicInfo(topic, partitions)


def ensure_topic(root: Path, topic: str, partitions: int) -> TopicInfo:
    """Return a topic's settings, creating the topic with `partitions` when it does not exist.
    The caller compares the returned partition count with what it expected."""
    existing = read_topic(root, topic)
    if existing is not None:
        return existing
    folder = topic_dir(root, topic)
    make_dirs(folder)
    tmp = folder / f".{TOPIC_FILE}.{uuid.uuid4().hex}"
    with open(tmp, "w", encoding="utf-8") as file:
        json.dump({"format": TOPIC_FORMAT, "partitions": partitions}, file)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(tmp, folder / TOPIC_FILE)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    fsync_dir(folder)
    created = read_topic(root, topic)
    assert created is not None
    return created


def list_topics(root: Path) -> list[str]:
    """Return the names of the topics under the collector root, sorted."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(
        name for name in names if TOPIC_NAME.match(name) and (root / name / TOPIC_FILE).exists()
    )


def partition_state(root: Path, topic: str, partition: int) -> PartitionState:
    """Return what one partition's log holds: its offsets, segments and bytes."""
    folder = partition_dir(root, topic, partition)
    segments = list_segments(folder)
    size = 0
    for first in segments:
        with contextlib.suppress(FileNotFoundError):
            size += (folder / segment_name(first)).stat().st_size - len(SEGMENT_MAGIC)
    end = read_durable(folder)
    return PartitionState(partition, segments[0] if segments else 0, end, len(segments), size)


def _reader_path(root: Path, topic: str, stream: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", stream)
    return topic_dir(root, topic) / READERS_DIR / f"{safe}.json"


@contextlib.contextmanager
def readers_lock(root: Path, topic: str) -> Iterator[None]:
    """Hold the topic's readers lock (registration and retention) for the block."""
    folder = topic_dir(root, topic) / READERS_DIR
    make_dirs(folder)
    with open(folder / ".lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def write_reader(root: Path, topic: str, stream: str, offsets: dict[int, int]) -> None:
    """Record `stream`'s committed offsets per partition (atomically, fsync'ed): retention
    keeps every segment holding an offset at or past them."""
    path = _reader_path(root, topic, stream)
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    body = {"stream": stream, "offsets": {str(p): o for p, o in sorted(offsets.items())}}
    with open(tmp, "w", encoding="utf-8") as file:
        json.dump(body, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_readers(root: Path, topic: str) -> dict[str, dict[int, int]]:
    """Return every registered reader's committed offsets per partition. A reader file that
    cannot be read counts as offset 0 everywhere, which keeps all segments."""
    folder = topic_dir(root, topic) / READERS_DIR
    readers: dict[str, dict[int, int]] = {}
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return readers
    for name in names:
        if name.startswith(".") or not name.endswith(".json"):
            continue
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
            offsets = {int(p): int(o) for p, o in data["offsets"].items()}
            readers[str(data.get("stream", name[:-5]))] = offsets
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            readers[name[:-5]] = {}
    return readers


def remove_reader(root: Path, topic: str, stream: str) -> bool:
    """Unregister `stream` from `topic` (it no longer holds segments back); return whether
    it was registered."""
    with readers_lock(root, topic):
        try:
            _reader_path(root, topic, stream).unlink()
        except FileNotFoundError:
            return False
    return True


def apply_retention(root: Path, topic: str, partitions: int) -> list[Path]:
    """Delete every segment whose records all lie below the committed offset of every
    registered reader of its partition; return the deleted files. The newest segment of each
    partition stays."""
    deleted: list[Path] = []
    with readers_lock(root, topic):
        readers = read_readers(root, topic)
        if not readers:
            return deleted
        for partition in range(partitions):
            low = min(offsets.get(partition, 0) for offsets in readers.values())
            folder = partition_dir(root, topic, partition)
            segments = list_segments(folder)
            for first, following in itertools.pairwise(segments):
                if following > low:
                    break
                path = folder / segment_name(first)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    deleted.append(path)
    return deleted
