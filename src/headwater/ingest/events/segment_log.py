"""The HTTP collector's on-disk log: append-only segment files per topic partition.

Layout under `collector_root(project_root)` (`<project>/.headwater/collector`)::

    <topic>/topic.json                    {"format": 1, "partitions": N}, written once
    <topic>/<partition>/<first offset>.log  segments, named by their first offset (20 digits)
    <topic>/<partition>/durable           8 bytes: the offset below which every record is
                                          fsync'ed (the collector's high watermark)
    <topic>/readers/<stream>.json         each reader's committed offsets (segment_topics.py)

A segment starts with the 8-byte magic `HWSEG01\\n` and holds batches: one batch is one POST
(all of its records or none of them, so a retried POST never half-duplicates). A batch is, in
little-endian::

    u32 length        bytes of the batch after this field and the CRC
    u32 crc32         zlib.crc32 of those `length` bytes
    u64 base_offset   offset of the batch's first record
    u32 count         records in the batch (at least one)
    i64 stored_us     when the collector stored it, microseconds since the Unix epoch (UTC)
    u16 id_len        length of the request's Idempotency-Key (0: none)
    u16 key_len       length of the partition key (`?key=`; 0: none)
    id bytes, key bytes
    u32 lengths[count]
    the records' bytes, one after the other

Offsets number the records of a partition from 0. A segment rolls when the next batch would
take it past `segment_bytes`; a batch is never split. The writer appends, fdatasyncs and only
then raises the `durable` mark; readers never read at or past the mark, so they never see a
torn or unsynced batch. Opening a writer walks the newest segment, verifying every CRC, and
truncates whatever follows the last intact batch (a crash mid-append): that tail was never
acknowledged. Keeping all records' lengths before their bytes lets a reader turn a whole batch
into an Arrow binary column with a few NumPy calls instead of a Python step per record.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import Location, SourceError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SEGMENT_MAGIC = b"HWSEG01\n"
BATCH_HEADER = struct.Struct("<IIQIqHH")
"""length, crc32, base_offset, count, stored_us, id_len, key_len."""
FRAME = 8
"""Bytes of a batch not counted by its `length`: the length and the CRC."""
DURABLE_FILE = "durable"
SEGMENT_SUFFIX = ".log"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
MAX_BATCH_BYTES = 1 << 30
MAX_ID_BYTES = 255
MAX_KEY_BYTES = 1024
_DURABLE = struct.Struct("<Q")
_MIN_LENGTH = BATCH_HEADER.size - FRAME


def collector_root(project_root: Path) -> Path:
    """Return the folder the HTTP collector keeps its topics in, for a project: the collector
    process and every stream reading it agree on it."""
    # `.headwater` is the project's state folder (project.definition.STATE_DIR), spelled out
    # here so that the log's module stays light to import
    return project_root / ".headwater" / "collector"


def segment_name(first_offset: int) -> str:
    """Return the file name of the segment whose first record has `first_offset`."""
    return f"{first_offset:020d}{SEGMENT_SUFFIX}"


def list_segments(partition_dir: Path) -> list[int]:
    """Return the first offsets of a partition's segments, oldest first ([] when none)."""
    try:
        names = os.listdir(partition_dir)
    except FileNotFoundError:
        return []
    firsts = [
        int(name[: -len(SEGMENT_SUFFIX)])
        for name in names
        if name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)].isdigit()
    ]
    return sorted(firsts)


def read_durable(partition_dir: Path) -> int:
    """Return a partition's durable mark: records below it are fsync'ed (0: none yet)."""
    try:
        with open(partition_dir / DURABLE_FILE, "rb") as file:
            data = file.read(_DURABLE.size)
    except FileNotFoundError:
        return 0
    return _DURABLE.unpack(data)[0] if len(data) == _DURABLE.size else 0


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a created or renamed file) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each made durable in its parent folder."""
    missing: list[Path] = []
    walk = path
    while not walk.exists():
        missing.append(walk)
        walk = walk.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        fsync_dir(folder.parent)


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """One batch's header, as found at `position` in its segment."""

    position: int
    size: int
    """Bytes of the whole batch, frame included."""
    base_offset: int
    count: int
    stored_us: int
    idempotency_key: bytes
    key: bytes
    lengths_at: int
    """Where the records' lengths start, relative to the batch."""

    @property
    def end_offset(self) -> int:
        """The offset just after the batch's last record."""
        return self.base_offset + self.count


def encode_batch(
    base_offset: int,
    records: list[bytes],
    stored_us: int,
    idempotency_key: bytes = b"",
    key: bytes = b"",
) -> bytes:
    """Return the bytes of one batch holding `records` (at least one), ready to append."""
    count = len(records)
    lengths = struct.pack(f"<{count}I", *map(len, records))
    payload = b"".join(records)
    length = _MIN_LENGTH + len(idempotency_key) + len(key) + len(lengths) + len(payload)
    head = BATCH_HEADER.pack(
        length, 0, base_offset, count, stored_us, len(idempotency_key), len(key)
    )
    crc = zlib.crc32(head[FRAME:])
    crc = zlib.crc32(idempotency_key, crc)
    crc = zlib.crc32(key, crc)
    crc = zlib.crc32(lengths, crc)
    crc = zlib.crc32(payload, crc)
    frame = struct.pack("<II", length, crc)
    return b"".join((frame, head[FRAME:], idempotency_key, key, lengths, payload))


class CorruptBatch(Exception):
    """Bytes at a position are not an intact batch (torn, or damaged)."""


class SegmentFile:
    """Reads the batches of one segment in order through a large buffer: one `pread` serves
    many batches."""

    def __init__(self, path: Path, first_offset: int, chunk_bytes: int = 4 << 20) -> None:
        self.path = path
        self.first_offset = first_offset
        self.chunk_bytes = chunk_bytes
        self.fd = os.open(path, os.O_RDONLY)
        magic = os.pread(self.fd, len(SEGMENT_MAGIC), 0)
        self.position = len(SEGMENT_MAGIC)
        """File position of the next batch."""
        self.buffer = b""
        self.buffer_at = self.position
        self.base = first_offset
        """Offset of the first record of the batch at `position`."""
        self.mark = 1 << 63
        """The reader's durable mark now; bytes read are trusted below it."""
        self.buffer_mark = self.mark
        """The durable mark when `buffer` was read: its batches below it are final."""
        if magic != SEGMENT_MAGIC and len(magic) == len(SEGMENT_MAGIC):
            os.close(self.fd)
            raise _damaged(path, "it does not start like a Headwater segment")
        self.started = len(magic) == len(SEGMENT_MAGIC)
        """False when the file is shorter than its magic (created, then a crash)."""

    def header(self) -> BatchHeader | None:
        """Return the header of the batch at `position` with all its bytes in `buffer`, or
        None when the file does not hold a complete batch there (yet).

        Raises:
            CorruptBatch: the bytes there cannot be a batch (a length out of range).
        """
        at = self.position - self.buffer_at
        if at + BATCH_HEADER.size > len(self.buffer) and not self._fill(BATCH_HEADER.size):
            return None
        at = self.position - self.buffer_at
        length = int.from_bytes(self.buffer[at : at + 4], "little")
        if length < _MIN_LENGTH or length > MAX_BATCH_BYTES:
            raise CorruptBatch(f"a batch length of {length} bytes")
        size = FRAME + length
        if at + size > len(self.buffer):
            if not self._fill(size):
                return None
            at = self.position - self.buffer_at
        _, _, base, count, stored_us, id_len, key_len = BATCH_HEADER.unpack_from(self.buffer, at)
        lengths_at = BATCH_HEADER.size + id_len + key_len
        if count < 1 or lengths_at + 4 * count > size:
            raise CorruptBatch(f"a batch of {count} records in {size} bytes")
        keys_at = at + BATCH_HEADER.size
        return BatchHeader(
            self.position,
            size,
            base,
            count,
            stored_us,
            self.buffer[keys_at : keys_at + id_len],
            self.buffer[keys_at + id_len : keys_at + id_len + key_len],
            lengths_at,
        )

    def verify(self, header: BatchHeader) -> None:
        """Check a batch's CRC and record lengths.

        Raises:
            CorruptBatch: they do not match its bytes.
        """
        import numpy as np

        at = header.position - self.buffer_at
        view = memoryview(self.buffer)[at : at + header.size]
        crc = int.from_bytes(view[4:8], "little")
        if zlib.crc32(view[FRAME:]) != crc:
            raise CorruptBatch("a CRC mismatch")
        lengths = np.frombuffer(view, dtype="<u4", count=header.count, offset=header.lengths_at)
        if header.lengths_at + 4 * header.count + int(lengths.sum(dtype=np.int64)) != header.size:
            raise CorruptBatch("record lengths that do not add up to the batch")

    def records(
        self, header: BatchHeader, skip: int, take: int
    ) -> tuple[npt.NDArray[np.uint32], memoryview]:
        """Return the lengths and the concatenated bytes of records `skip` .. `skip+take-1`
        of a batch whose bytes are in the buffer (from `header`)."""
        import numpy as np

        at = header.position - self.buffer_at
        lengths = np.frombuffer(
            self.buffer, dtype="<u4", count=header.count, offset=at + header.lengths_at
        )
        start = at + header.lengths_at + 4 * header.count
        if skip:
            start += int(lengths[:skip].sum())
        lengths = lengths[skip : skip + take]
        end = at + header.size if skip + take == header.count else start + int(lengths.sum())
        return lengths, memoryview(self.buffer)[start:end]

    def advance(self, header: BatchHeader) -> None:
        """Move past `header`'s batch."""
        self.position = header.position + header.size
        self.base = header.end_offset

    def forget(self) -> None:
        """Drop buffered bytes from `position` on, so they are read from the file again."""
        self.buffer = b""
        self.buffer_at = self.position
        self.buffer_mark = -1

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _fill(self, need: int) -> bool:
        self.buffer_mark = self.mark
        data = os.pread(self.fd, max(self.chunk_bytes, need), self.position)
        self.buffer = data
        self.buffer_at = self.position
        return len(data) >= need


def _damaged(path: Path, what: str) -> SourceError:
    return SourceError(
        f"the collector's log is damaged at {path}: {what}",
        Location(file=str(path)),
        "restore the folder from a backup, or remove the partition's folder to start it "
        "empty (the streams reading it then need `headwater stream reset`)",
    )


@dataclass(frozen=True)
class SegmentScan:
    """What walking a segment found."""

    batches: list[BatchHeader]
    """The intact batches the scan was asked to keep."""
    end_position: int
    """The file position after the last intact batch: where the segment ends, or where a
    torn or damaged tail starts."""
    end_offset: int
    """The offset after the last intact batch."""


def scan_batches(
    path: Path,
    first_offset: int,
    verify: bool,
    keep: Callable[[BatchHeader], bool] | None = None,
) -> SegmentScan:
    """Walk a segment's intact batches from its start, keeping those `keep` accepts (all
    when None). With `verify`, each batch's CRC is checked too."""
    segment = SegmentFile(path, first_offset, chunk_bytes=8 << 20)
    kept: list[BatchHeader] = []
    expected = first_offset
    try:
        if not segment.started:
            return SegmentScan(kept, 0, first_offset)
        while True:
            try:
                header = segment.header()
                if header is None or header.base_offset != expected:
                    break
                if verify:
                    segment.verify(header)
            except CorruptBatch:
                break
            if keep is None or keep(header):
                kept.append(header)
            expected = header.end_offset
            segment.advance(header)
        return SegmentScan(kept, segment.position, expected)
    finally:
        segment.close()


def first_batch(path: Path, first_offset: int) -> BatchHeader | None:
    """Return the header of a segment's first batch (None: it has none, or it is torn)."""
    segment = SegmentFile(path, first_offset, chunk_bytes=64 << 10)
    try:
        return segment.header() if segment.started else None
    except CorruptBatch:
        return None
    finally:
        segment.close()


class PartitionWriter:
    """Appends batches to one partition; the collector's only writer of it.

    Appends are buffered until `commit`, which writes them, fdatasyncs and raises the durable
    mark: several requests' batches share one fsync (group commit).
    """

    def __init__(self, directory: Path, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        make_dirs(directory)
        segments = list_segments(directory)
        if not segments:
            self._create_segment(0)
            segments = [0]
        self.segment_first = segments[-1]
        self.recent_keyed: list[BatchHeader] = []
        """The batches with an idempotency key in the newest segment, found when opening
        (for the collector to recover its keys, then clear)."""
        self._fd = -1
        self._pending = bytearray()
        self._durable_fd = os.open(directory / DURABLE_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    @property
    def has_pending(self) -> bool:
        """True when batches wait for `commit`."""
        return bool(self._pending)

    @property
    def path(self) -> Path:
        """The segment being appended to."""
        return self.directory / segment_name(self.segment_first)

    def _recover(self) -> None:
        path = self.path
        scan = scan_batches(
            path, self.segment_first, verify=True, keep=lambda h: bool(h.idempotency_key)
        )
        self.recent_keyed = scan.batches
        end = scan.end_position
        self._fd = os.open(path, os.O_RDWR)
        if end < len(SEGMENT_MAGIC):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, SEGMENT_MAGIC, 0)
            end = len(SEGMENT_MAGIC)
        elif os.fstat(self._fd).st_size != end:
            os.ftruncate(self._fd, end)
        os.fdatasync(self._fd)
        self.size = end
        """Bytes of the current segment once pending batches are written."""
        self._durable_size = end
        self.next_offset = scan.end_offset
        """Offset the next appended record gets."""
        self.durable_offset = self.next_offset
        """Records below this offset are on disk."""
        self._publish_durable()

    def append(
        self, records: list[bytes], stored_us: int, idempotency_key: bytes, key: bytes
    ) -> int:
        """Buffer one batch of `records` (at least one) and return its base offset. It is
        on disk, and visible to readers, after the next successful `commit`."""
        batch = encode_batch(self.next_offset, records, stored_us, idempotency_key, key)
        if self.size + len(batch) > self.segment_bytes and self.size > len(SEGMENT_MAGIC):
            self.commit()
            self._roll()
            batch = encode_batch(self.next_offset, records, stored_us, idempotency_key, key)
        base = self.next_offset
        self._pending += batch
        self.size += len(batch)
        self.next_offset += len(records)
        return base

    def commit(self) -> None:
        """Write the buffered batches, fdatasync them and raise the durable mark.

        Raises:
            OSError: writing or syncing failed; call `rollback` before appending again.
        """
        if not self._pending:
            return
        view = memoryview(self._pending)
        written = 0
        while written < len(view):
            written += os.pwrite(self._fd, view[written:], self._durable_size + written)
        view.release()
        os.fdatasync(self._fd)
        self._pending.clear()
        self._durable_size = self.size
        self.durable_offset = self.next_offset
        self._publish_durable()

    def rollback(self) -> None:
        """Forget the batches not yet committed and cut the segment back to its durable end
        (after a failed `commit`)."""
        self._pending.clear()
        self.size = self._durable_size
        self.next_offset = self.durable_offset
        os.ftruncate(self._fd, self._durable_size)

    def close(self) -> None:
        """Close the files (uncommitted batches are dropped); safe to call twice."""
        self._pending.clear()
        for fd in (self._fd, self._durable_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._durable_fd = -1

    def _publish_durable(self) -> None:
        # not fsync'ed: after a machine crash the mark can only be older than the data,
        # and the next writer rewrites it from the recovered log
        os.pwrite(self._durable_fd, _DURABLE.pack(self.durable_offset), 0)

    def _roll(self) -> None:
        # the new segment exists before the old one is let go: a failure leaves the writer
        # appending to the old one, still consistent
        self._create_segment(self.next_offset)
        fd = os.open(self.directory / segment_name(self.next_offset), os.O_RDWR)
        os.close(self._fd)
        self._fd = fd
        self.segment_first = self.next_offset
        self.size = self._durable_size = len(SEGMENT_MAGIC)

    def _create_segment(self, first_offset: int) -> None:
        path = self.directory / segment_name(first_offset)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, SEGMENT_MAGIC)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(self.directory)


class Gathered:
    """Records read for one poll, as lists with one item per piece (consecutive records of
    one batch), which become Arrow columns with a few NumPy calls per poll."""

    __slots__ = ("counts", "data", "firsts", "keys", "lengths", "partitions", "stored", "total")

    def __init__(self) -> None:
        self.partitions: list[int] = []
        self.firsts: list[int] = []
        self.counts: list[int] = []
        self.stored: list[int] = []
        self.keys: list[bytes] = []
        self.data: list[memoryview] = []
        self.lengths: list[int | npt.NDArray[np.uint32]] = []
        """A piece's record lengths: an int for a piece of one record."""
        self.total = 0

    def add(
        self,
        partition: int,
        first: int,
        lengths: int | npt.NDArray[np.uint32],
        count: int,
        data: memoryview,
        stored_us: int,
        key: bytes,
    ) -> None:
        """Append a piece of `count` records whose bytes are `data`."""
        self.partitions.append(partition)
        self.firsts.append(first)
        self.counts.append(count)
        self.stored.append(stored_us)
        self.keys.append(key)
        self.data.append(data)
        self.lengths.append(lengths)
        self.total += count


class PositionError(Exception):
    """A reader was asked to start where the log holds nothing: deleted or never written."""

    def __init__(self, message: str, first: int, end: int) -> None:
        super().__init__(message)
        self.first = first
        self.end = end


class PartitionReader:
    """Reads one partition's records in order from `next_offset`, never at or past the
    durable mark."""

    def __init__(
        self, directory: Path, partition: int, next_offset: int, chunk_bytes: int = 4 << 20
    ) -> None:
        self.directory = directory
        self.partition = partition
        self.next_offset = next_offset
        self.chunk_bytes = chunk_bytes
        self.end_offset = 0
        """The durable mark as last read: what the log holds."""
        self._segment: SegmentFile | None = None
        self._header: BatchHeader | None = None
        self._durable_fd = -1
        self.refresh()
        segments = list_segments(directory)
        first = segments[0] if segments else 0
        end = self.end_offset
        if next_offset > end and segments:
            # after a machine crash the (unsynced) mark may lag the synced log until the
            # collector restarts and rewrites it: the intact batches say what the log holds
            last = segments[-1]
            scan = scan_batches(directory / segment_name(last), last, True, lambda h: False)
            end = max(end, scan.end_offset)
        if next_offset < first or next_offset > end:
            raise PositionError(
                f"offset {next_offset} of partition {partition} is not in the log, which "
                f"holds offsets {first} to {end}",
                first,
                end,
            )

    def refresh(self) -> int:
        """Read the durable mark again and return it."""
        if self._durable_fd < 0:
            try:
                self._durable_fd = os.open(self.directory / DURABLE_FILE, os.O_RDONLY)
            except FileNotFoundError:
                self.end_offset = 0
                return 0
        data = os.pread(self._durable_fd, _DURABLE.size, 0)
        self.end_offset = _DURABLE.unpack(data)[0] if len(data) == _DURABLE.size else 0
        return self.end_offset

    @property
    def lag(self) -> int:
        """Records between `next_offset` and the durable mark as last read."""
        return max(0, self.end_offset - self.next_offset)

    def peek(self) -> BatchHeader | None:
        """Return the header of the batch holding `next_offset`, verified and with its
        bytes buffered, or None when the log holds nothing more (below its durable mark).

        Raises:
            SourceError: the log is damaged there.
        """
        if self._header is not None:
            return self._header
        while self.next_offset < self.end_offset:
            segment = self._segment or self._open_segment()
            if segment.base >= self.end_offset:
                return None
            if segment.base >= segment.buffer_mark:
                # bytes buffered past the mark of their read may be a torn tail that a
                # restarted collector has overwritten since: read them again
                segment.forget()
            segment.mark = self.end_offset
            try:
                header = segment.header()
            except CorruptBatch as exc:
                raise _damaged(segment.path, f"{exc} at byte {segment.position}") from None
            if header is None:
                self._next_segment(segment)
                continue
            if header.base_offset != segment.base:
                raise _damaged(
                    segment.path,
                    f"the batch at byte {header.position} starts at offset "
                    f"{header.base_offset}, not {segment.base}",
                )
            if header.end_offset <= self.next_offset:
                segment.advance(header)
                continue
            try:
                segment.verify(header)
            except CorruptBatch as exc:
                raise _damaged(segment.path, f"{exc} at byte {header.position}") from None
            self._header = header
            return header
        return None

    def read_into(self, gathered: Gathered, max_records: int, until_us: int) -> int:
        """Consume up to `max_records` records, in order, from batches stored at or before
        `until_us`, adding them to `gathered`; return how many were taken."""
        taken = 0
        while taken < max_records:
            header = self.peek()
            if header is None or header.stored_us > until_us:
                break
            taken += self._take(gathered, header, max_records - taken)
            if self._header is None:
                taken += self._take_whole_batches(gathered, max_records - taken, until_us)
        return taken

    def _take(self, gathered: Gathered, header: BatchHeader, max_records: int) -> int:
        segment = self._segment
        assert segment is not None
        skip = self.next_offset - header.base_offset
        take = min(max_records, header.count - skip)
        lengths, data = segment.records(header, skip, take)
        single: int | npt.NDArray[np.uint32] = len(data) if take == 1 else lengths
        gathered.add(
            self.partition, self.next_offset, single, take, data, header.stored_us, header.key
        )
        self.next_offset += take
        if self.next_offset >= header.end_offset:
            segment.advance(header)
            self._header = None
        return take

    def _take_whole_batches(self, gathered: Gathered, max_records: int, until_us: int) -> int:
        """The fast path: take whole, intact batches straight from the buffer. It stops at
        anything unusual (the buffer's end, a batch to split, a bad CRC), which `peek` then
        handles or reports."""
        import numpy as np

        segment = self._segment
        if segment is None:
            return 0
        buffer = segment.buffer
        view = memoryview(buffer)
        buffer_at = segment.buffer_at
        at = segment.position - buffer_at
        base = segment.base
        limit = min(self.end_offset, segment.buffer_mark)
        unpack, crc32, partition, add = (
            BATCH_HEADER.unpack_from,
            zlib.crc32,
            self.partition,
            gathered.add,
        )
        taken = 0
        while base < limit and at + BATCH_HEADER.size <= len(buffer):
            length, crc, first, count, stored_us, id_len, key_len = unpack(buffer, at)
            size = FRAME + length
            lengths_at = BATCH_HEADER.size + id_len + key_len
            if (
                first != base
                or count > max_records - taken
                or stored_us > until_us
                or at + size > len(buffer)
                or length < _MIN_LENGTH
                or lengths_at + 4 * count > size
                or crc32(view[at + FRAME : at + size]) != crc
            ):
                break
            key = buffer[at + lengths_at - key_len : at + lengths_at] if key_len else b""
            data_at = at + lengths_at + 4 * count
            if count == 1:
                if int.from_bytes(view[at + lengths_at : data_at], "little") != size - (
                    data_at - at
                ):
                    break
                add(
                    partition,
                    first,
                    size - (data_at - at),
                    1,
                    view[data_at : at + size],
                    stored_us,
                    key,
                )
            else:
                lengths = np.frombuffer(buffer, dtype="<u4", count=count, offset=at + lengths_at)
                if int(lengths.sum(dtype=np.int64)) != size - (data_at - at):
                    break
                add(partition, first, lengths, count, view[data_at : at + size], stored_us, key)
            at += size
            base += count
            taken += count
        segment.position = buffer_at + at
        segment.base = self.next_offset = base
        return taken

    def close(self) -> None:
        """Close the open files; safe to call twice."""
        if self._segment is not None:
            self._segment.close()
            self._segment = None
        if self._durable_fd >= 0:
            os.close(self._durable_fd)
            self._durable_fd = -1
        self._header = None

    def _open_segment(self) -> SegmentFile:
        directory = self.directory
        firsts = [first for first in list_segments(directory) if first <= self.next_offset]
        if not firsts:
            raise _damaged(directory, f"no segment holds offset {self.next_offset}")
        self._segment = SegmentFile(
            directory / segment_name(firsts[-1]), firsts[-1], self.chunk_bytes
        )
        return self._segment

    def _next_segment(self, segment: SegmentFile) -> None:
        """Move on to the next segment: the current one ends although the durable mark says
        the log holds more, so it has rolled.

        Raises:
            SourceError: the next segment does not start where this one ends.
        """
        later = [first for first in list_segments(self.directory) if first > segment.first_offset]
        if not later or later[0] != segment.base:
            raise _damaged(
                segment.path, f"it ends before offset {segment.base}, and no segment starts there"
            )
        segment.close()
        self._segment = SegmentFile(
            self.directory / segment_name(later[0]), later[0], self.chunk_bytes
        )
