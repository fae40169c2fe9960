"""Files dropped into a landing folder (`kind: folder`), each read once: NDJSON, CSV, Parquet.

Writers must place a finished file into the folder in one step: write it under a name starting
with `.` or ending in `.tmp` or `.part` (ignored here) and rename it. As a safety net a file is
taken only once its size and modification time were the same on two listings. Files are read
in the order of (modification time, name), the oldest first, big files across several polls.

Positions are exact and bounded: `watermark` is a (mtime_ns, name) at or before which every
file counts as done, `done` lists the (mtime_ns, name) of files read after it, and `current`
is the file being read with where it stands (a byte offset at a line boundary and the lines
read for NDJSON, the rows and malformed rows read for CSV, the rows read for Parquet). The
watermark trails the newest file read by `GRACE_NS`, so `done` holds only the files of that
span; a file showing up later with an older modification time than the watermark (copied with
its old time kept) is not read, and a warning says so (`touch` it to have it read). A file
replaced under the same name with a new modification time is a new file. Files stay where
they are: `acknowledge` has nothing to delete.

NDJSON lines and CSV rows become `_payload` (raw JSON bytes; a CSV row as a JSON object of
its fields as strings, an empty field as null; a malformed CSV row as its raw text), so the
stream's `columns` type them and its quarantine keeps the bad ones. Parquet rows keep their
own types. Every event has `_partition` (the file's path in the folder) and `_offset` (its
line number in an NDJSON file, its ordinal in a CSV or Parquet file, from 1; pyarrow reports
malformed CSV rows as it parses ahead, so they may come a little before their neighbours).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import stat
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from headwater.errors import ConfigError, Location, SourceError, first_line
from headwater.ingest.event_sources import (
    OFFSET,
    PARTITION,
    PAYLOAD,
    EventBatch,
    Positions,
    SourceContext,
    register_event_source,
)
from headwater.project.streams import STREAMS_DOCS, FolderSource

if TYPE_CHECKING:
    import pyarrow as pa

GRACE_NS = 10 * 60 * 1_000_000_000
"""How far the watermark trails the newest file read (10 minutes of modification time)."""
IGNORED_SUFFIXES = (".tmp", ".part")
FORMATS = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
CHUNK_BYTES = 4 << 20
"""Bytes of an NDJSON file read at a time (memory stays within a chunk plus the batch)."""
CSV_BLOCK_BYTES = 1 << 20
PARQUET_BATCH_ROWS = 65_536
LIST_INTERVAL_S = (0.02, 0.25)
"""The first and the longest wait between two listings while a poll waits for files."""
_LOG = logging.getLogger(__name__)

FileKey = tuple[int, str]
"""(modification time in ns, path in the folder): the order files are read in."""


@dataclass(frozen=True)
class _Seen:
    name: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> FileKey:
        return self.mtime_ns, self.name


class _Reader(Protocol):
    schema: pa.Schema

    def read(self, budget: int) -> tuple[pa.Table, bool]:
        """Up to `budget` next events, and whether the file is finished."""
        ...

    def position(self) -> dict[str, int]:
        """Where the reader stands, to resume a new reader at."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


class FolderEventSource:
    """Reads the files of one landing folder (see the module docstring)."""

    def __init__(self, context: SourceContext) -> None:
        settings = context.config.source
        assert isinstance(settings, FolderSource)
        self.settings = settings
        folder = Path(settings.path)
        self.folder = folder if folder.is_absolute() else context.project_root / folder
        self.where = Location(file=context.config.rel_path, asset=context.stream)
        self._watermark: FileKey = (0, "")
        self._done: set[FileKey] = set()
        self._current: _Seen | None = None
        self._reader: _Reader | None = None
        self._queue: list[_Seen] = []
        self._listed: dict[str, tuple[int, int]] | None = None
        self._unsettled = 0
        self._warned: set[str] = set()
        self._caught_up = False

    def open(self, positions: Positions | None) -> None:
        """Get ready to read after `positions` (None: every file in the folder).

        Raises:
            ConfigError: the folder does not exist, or the positions are not this source's.
        """
        self.close()
        if not self.folder.is_dir():
            raise ConfigError(
                f"the landing folder {self.folder} does not exist",
                self.where,
                f"create it, or fix source.path; see {STREAMS_DOCS}",
            )
        self._watermark, self._done, self._current, resume = _parse_positions(positions, self.where)
        self._queue, self._listed, self._unsettled, self._caught_up = [], None, 0, False
        if self._current is not None:
            self._resume(self._current, resume)

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return up to `max_events` next events from the files in order, waiting at most
        `timeout_s` for a file to arrive; None when none came.

        Raises:
            SourceError: a file could not be opened (permissions).
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        wait = LIST_INTERVAL_S[0]
        while True:
            events = self._read(max_events)
            if events is not None:
                return EventBatch(events, self._positions(), {})
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(wait, remaining))
            wait = min(wait * 2, LIST_INTERVAL_S[1])

    def acknowledge(self, positions: Positions) -> None:
        """Nothing to release: files stay in the folder (move or delete them yourself once
        the stream's positions are past them)."""

    def caught_up(self) -> bool:
        """True when the last poll read every file there was, none still being written."""
        return self._caught_up

    def close(self) -> None:
        """Close the file being read; safe to call twice."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    # reading

    def _read(self, max_events: int) -> pa.Table | None:
        """Events from the current file and the next ones, up to `max_events`; a batch stops
        where the next file's columns differ (a Parquet schema, another format)."""
        import pyarrow as pa

        pieces: list[pa.Table] = []
        budget = max_events
        while budget > 0:
            if self._reader is None and not self._take_next():
                break
            assert self._reader is not None and self._current is not None
            if pieces and self._reader.schema != pieces[0].schema:
                break
            try:
                table, finished = self._reader.read(budget)
            except OSError as exc:
                raise self._unreadable(self._current.name, exc) from None
            except Exception as exc:  # corrupt content: keep what was read, go on
                _LOG.error(
                    "%s: stopped reading %s: %s; the rest of it is skipped",
                    self.where,
                    self._current.name,
                    first_line(exc),
                )
                table, finished = self._reader.schema.empty_table(), True
            if table.num_rows:
                pieces.append(table)
                budget -= table.num_rows
            if finished:
                self._finish()
        self._caught_up = (
            budget > 0 and self._reader is None and not self._queue and self._unsettled == 0
        )
        if not pieces:
            return None
        return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)

    def _take_next(self) -> bool:
        """Open the next file to read; False when none is ready."""
        if not self._queue:
            self._queue = self._list()
        while self._queue:
            seen = self._queue.pop(0)
            try:
                self._reader = self._open_reader(seen, {})
            except FileNotFoundError:
                continue  # gone before it was read: if it comes back it is read then
            except OSError as exc:
                raise self._unreadable(seen.name, exc) from None
            except Exception as exc:
                _LOG.error(
                    "%s: %s is not readable and is skipped: %s",
                    self.where,
                    seen.name,
                    first_line(exc),
                )
                self._current = seen
                self._finish()
                continue
            self._current = seen
            return True
        return False

    def _resume(self, current: _Seen, at: dict[str, int]) -> None:
        path = self.folder / current.name
        try:
            mtime_ns = path.stat().st_mtime_ns
        except FileNotFoundError:
            _LOG.warning("%s: %s was removed while being read", self.where, current.name)
            self._current = None
            return
        if mtime_ns != current.mtime_ns:
            _LOG.warning(
                "%s: %s changed since it was partly read; reading on from where it stood",
                self.where,
                current.name,
            )
        try:
            self._reader = self._open_reader(current, at)
        except FileNotFoundError:
            _LOG.warning("%s: %s was removed while being read", self.where, current.name)
            self._current = None
        except OSError as exc:
            raise self._unreadable(current.name, exc) from None
        except Exception as exc:
            _LOG.error(
                "%s: %s is not readable any more and is skipped: %s",
                self.where,
                current.name,
                first_line(exc),
            )
            self._finish()

    def _finish(self) -> None:
        """The current file is read: count it done and move the watermark up."""
        self.close()
        assert self._current is not None
        self._done.add(self._current.key)
        try:
            now = _Seen(
                self._current.name, 0, (self.folder / self._current.name).stat().st_mtime_ns
            )
        except FileNotFoundError:
            now = self._current
        if now.key != self._current.key:  # written to while read: not a new file
            _LOG.warning("%s: %s changed while it was read", self.where, self._current.name)
            self._done.add(now.key)
        self._current = None
        newest = min(max(m for m, _ in self._done), time.time_ns())
        floor = (newest - GRACE_NS, "")
        if floor > self._watermark:
            self._watermark = floor
            self._done = {k for k in self._done if k > floor}

    def _open_reader(self, seen: _Seen, at: dict[str, int]) -> _Reader:
        path = self.folder / seen.name
        kind = self.settings.format or FORMATS[Path(seen.name).suffix.lower()]
        if kind == "ndjson":
            return _NdjsonReader(path, seen.name, at)
        if kind == "csv":
            return _CsvReader(path, seen.name, at)
        return _ParquetReader(path, seen.name, at)

    def _list(self) -> list[_Seen]:
        """The files ready to read, oldest first: matching, not ignored, not done, and the
        same on this listing as on the one before."""
        found: dict[str, tuple[int, int]] = {}
        for path in self.folder.glob(self.settings.pattern):
            name = path.relative_to(self.folder).as_posix()
            if _ignored(name) or not self._known_format(name):
                continue
            try:
                status = path.stat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(status.st_mode):
                found[name] = (status.st_size, status.st_mtime_ns)
        previous, self._listed = self._listed, found
        ready: list[_Seen] = []
        self._unsettled = 0
        for name, (size, mtime_ns) in found.items():
            seen = _Seen(name, size, mtime_ns)
            if self._current is not None and seen.key == self._current.key:
                continue
            if seen.key in self._done:
                continue
            if seen.key <= self._watermark:
                if previous is not None and name not in previous and name not in self._warned:
                    self._warned.add(name)
                    _LOG.warning(
                        "%s: %s arrived with a modification time older than files already "
                        "read and is not read; touch it to have it read",
                        self.where,
                        name,
                    )
                continue
            if previous is None or previous.get(name) != (size, mtime_ns):
                self._unsettled += 1  # new or still being written: taken once it holds still
                continue
            ready.append(seen)
        return sorted(ready, key=lambda s: s.key)

    def _known_format(self, name: str) -> bool:
        if self.settings.format is not None or Path(name).suffix.lower() in FORMATS:
            return True
        if name not in self._warned:
            self._warned.add(name)
            _LOG.warning(
                "%s: %s is not read: its extension is not one of %s (set source.format, or "
                "narrow source.pattern)",
                self.where,
                name,
                ", ".join(sorted(FORMATS)),
            )
        return False

    def positions(self) -> Positions:
        """The files read so far, and where reading the current one stands."""
        return self._positions()

    def _positions(self) -> Positions:
        positions: Positions = {
            "watermark": list(self._watermark),
            "done": [list(k) for k in sorted(self._done)],
        }
        if self._current is not None and self._reader is not None:
            positions["current"] = {
                "file": self._current.name,
                "mtime_ns": self._current.mtime_ns,
                **self._reader.position(),
            }
        return positions

    def _unreadable(self, name: str, exc: OSError) -> SourceError:
        return SourceError(
            f"cannot read {name} in the landing folder {self.folder}: {first_line(exc)}",
            self.where,
            "check the file's permissions",
        )


def _ignored(name: str) -> bool:
    """Files being written by convention: hidden names, `.tmp` and `.part` suffixes."""
    parts = name.split("/")
    return any(p.startswith(".") for p in parts) or name.endswith(IGNORED_SUFFIXES)


def _parse_positions(
    positions: Positions | None, where: Location
) -> tuple[FileKey, set[FileKey], _Seen | None, dict[str, int]]:
    """(watermark, done, current file, where in it) from positions (None: from scratch)."""
    if not positions:
        return (0, ""), set(), None, {}
    try:
        mark = positions["watermark"]
        watermark = (int(mark[0]), str(mark[1]))
        done = {(int(m), str(n)) for m, n in positions.get("done", [])}
        current_at: dict[str, Any] | None = positions.get("current")
        current = None
        at: dict[str, int] = {}
        if current_at is not None:
            current = _Seen(str(current_at["file"]), 0, int(current_at["mtime_ns"]))
            at = {k: int(v) for k, v in current_at.items() if k not in ("file", "mtime_ns")}
    except (KeyError, TypeError, ValueError, IndexError):
        raise ConfigError(
            f"the positions {json.dumps(positions)[:200]} are not a landing folder's",
            where,
            "reset the stream (`headwater stream reset`) if its source changed",
        ) from None
    return watermark, done, current, at


class _NdjsonReader:
    """Lines of an NDJSON file as payloads, from a byte offset at a line boundary."""

    def __init__(self, path: Path, name: str, at: dict[str, int]) -> None:
        self.name = name
        self.schema = _payload_schema()
        self._offset = at.get("offset", 0)
        self._line = at.get("line", 0)
        self._buffer = b""
        self._file = path.open("rb")
        self._file.seek(self._offset)

    def read(self, budget: int) -> tuple[pa.Table, bool]:
        """Up to `budget` lines (blank lines are skipped); a last line without a newline
        counts when the file ends there."""
        payloads: list[bytes] = []
        numbers: list[int] = []
        finished = False
        while len(payloads) < budget:
            parts = self._buffer.split(b"\n", budget - len(payloads))
            complete, rest = parts[:-1], parts[-1]
            if not complete:
                more = self._file.read(CHUNK_BYTES)
                if more:
                    self._buffer += more
                    continue
                finished = True
                complete, rest = ([rest] if rest else []), b""
            self._offset += len(self._buffer) - len(rest)
            self._buffer = rest
            for line in complete:
                self._line += 1
                if line.strip():
                    payloads.append(line.removesuffix(b"\r"))
                    numbers.append(self._line)
            if finished:
                break
        return _payload_table(payloads, self.name, numbers), finished

    def position(self) -> dict[str, int]:
        """The byte offset after the last line read, and that line's number."""
        return {"offset": self._offset, "line": self._line}

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class _CsvReader:
    """Rows of a CSV file (header first) as JSON objects of strings, read with pyarrow's
    streaming reader; rows it cannot split are passed on as their raw text.

    Good rows and malformed rows each come in file order, but pyarrow reports malformed rows
    as it parses ahead, so how the two interleave varies from run to run: a reader resumes by
    reading past as many of each as were delivered before.
    """

    def __init__(self, path: Path, name: str, at: dict[str, int]) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self.name = name
        self.schema = _payload_schema()
        self._rows = 0
        self._bad = 0
        self._bad_waiting: list[bytes] = []
        self._batches: deque[pa.RecordBatch] = deque()
        self._used = 0
        """Rows of the first batch already delivered."""
        self._reader: Any = None
        self._columns = _csv_header(path)
        if not self._columns:
            return
        self._reader = pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=self._invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self._columns, pa.binary()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        self._skip(at.get("rows", 0), at.get("bad", 0))

    def _invalid(self, row: Any) -> str:
        self._bad_waiting.append(str(row.text).encode("utf-8"))
        return "skip"

    def _more(self) -> bool:
        """Parse the next block; False at the end of the file."""
        if self._reader is None:
            return False
        try:
            self._batches.append(self._reader.read_next_batch())
        except StopIteration:
            self._reader.close()
            self._reader = None
            return False
        return True

    def _skip(self, rows: int, bad: int) -> None:
        """Read past what an earlier reader delivered (after a restart)."""
        while self._rows < rows and (self._batches or self._more()):
            count = min(rows - self._rows, self._batches[0].num_rows - self._used)
            self._advance(count)
        while True:
            dropped = min(bad - self._bad, len(self._bad_waiting))
            del self._bad_waiting[:dropped]
            self._bad += dropped
            if self._bad >= bad or not self._more():
                return

    def _advance(self, count: int) -> None:
        self._used += count
        self._rows += count
        if self._used >= self._batches[0].num_rows:
            self._batches.popleft()
            self._used = 0

    def read(self, budget: int) -> tuple[pa.Table, bool]:
        """Up to `budget` rows: malformed ones as soon as they are found, good ones in order."""
        payloads: list[bytes] = []
        while len(payloads) < budget:
            if self._bad_waiting:
                take = self._bad_waiting[: budget - len(payloads)]
                del self._bad_waiting[: len(take)]
                payloads.extend(take)
                self._bad += len(take)
            elif self._batches:
                count = min(budget - len(payloads), self._batches[0].num_rows - self._used)
                payloads.extend(_rows_json(self._batches[0].slice(self._used, count)))
                self._advance(count)
            elif not self._more() and not self._bad_waiting:
                break
        finished = self._reader is None and not self._batches and not self._bad_waiting
        first = self._rows + self._bad - len(payloads)
        numbers = list(range(first + 1, first + 1 + len(payloads)))
        return _payload_table(payloads, self.name, numbers), finished

    def position(self) -> dict[str, int]:
        """Rows and malformed rows delivered so far."""
        return {"rows": self._rows, "bad": self._bad}

    def close(self) -> None:
        """Close the file."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None


class _ParquetReader:
    """Rows of a Parquet file with their own types, a batch of a row group at a time."""

    def __init__(self, path: Path, name: str, at: dict[str, int]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.name = name
        self._file = pq.ParquetFile(str(path))
        self._rows = at.get("rows", 0)
        own = self._file.schema_arrow
        self.schema = own
        for column, kind in ((PARTITION, pa.string()), (OFFSET, pa.int64())):
            if column not in own.names:
                self.schema = self.schema.append(pa.field(column, kind))
        metadata = self._file.metadata
        sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        group, skip = 0, self._rows
        while group < len(sizes) and skip >= sizes[group]:
            skip -= sizes[group]
            group += 1
        self._batches = self._file.iter_batches(
            batch_size=PARQUET_BATCH_ROWS, row_groups=list(range(group, len(sizes)))
        )
        self._batch: pa.RecordBatch | None = None
        self._used = 0
        while skip > 0 and self._advance():
            assert self._batch is not None
            self._used = min(skip, self._batch.num_rows)
            skip -= self._used

    def _advance(self) -> bool:
        self._batch = next(self._batches, None)
        self._used = 0
        return self._batch is not None

    def read(self, budget: int) -> tuple[pa.Table, bool]:
        """Up to `budget` rows in file order."""
        import pyarrow as pa

        pieces: list[pa.RecordBatch] = []
        taken = 0
        finished = False
        while taken < budget:
            if self._batch is None or self._used >= self._batch.num_rows:
                if not self._advance():
                    finished = True
                    break
                continue
            assert self._batch is not None
            count = min(budget - taken, self._batch.num_rows - self._used)
            pieces.append(self._batch.slice(self._used, count))
            self._used += count
            taken += count
        own = self._file.schema_arrow
        table = pa.Table.from_batches(pieces, schema=own) if pieces else own.empty_table()
        first = self._rows
        self._rows += taken
        if PARTITION not in own.names:
            table = table.append_column(PARTITION, pa.array([self.name] * taken, pa.string()))
        if OFFSET not in own.names:
            numbers = pa.array(range(first + 1, first + 1 + taken), pa.int64())
            table = table.append_column(OFFSET, numbers)
        return table, finished

    def position(self) -> dict[str, int]:
        """Rows delivered so far."""
        return {"rows": self._rows}

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def _csv_header(path: Path) -> list[str]:
    """The column names on a CSV file's first record (none for an empty file)."""
    with path.open("rb") as raw, io.TextIOWrapper(raw, "utf-8-sig", "replace", newline="") as text:
        return next(csv.reader(text), [])


def _rows_json(batch: pa.RecordBatch) -> list[bytes]:
    """Each row of `batch` (binary columns) as a JSON object of strings or nulls; bytes that
    are not UTF-8 are replaced."""
    import pyarrow as pa

    columns: list[list[str | None]] = []
    for array in batch.columns:
        try:
            columns.append(array.cast(pa.string()).to_pylist())
        except pa.ArrowInvalid:
            columns.append(
                [None if v is None else v.decode("utf-8", "replace") for v in array.to_pylist()]
            )
    encode = json.JSONEncoder(ensure_ascii=False).encode
    return [
        encode(dict(zip(batch.schema.names, values, strict=True))).encode("utf-8")
        for values in zip(*columns, strict=True)
    ]


def _payload_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(PAYLOAD, pa.binary()), (PARTITION, pa.string()), (OFFSET, pa.int64())])


def _payload_table(payloads: list[bytes], name: str, numbers: list[int]) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            PAYLOAD: pa.array(payloads, pa.binary()),
            PARTITION: pa.array([name] * len(payloads), pa.string()),
            OFFSET: pa.array(numbers, pa.int64()),
        }
    )


register_event_source("folder", FolderEventSource)
