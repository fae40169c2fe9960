"""Find each CSV record DuckDB rejected again in its file, for its physical line and exact bytes.

DuckDB's `store_rejects` tables record the lines it could not read during the same single scan
that writes the good rows, so quarantine costs no second pass. They number records, not lines,
and show invalid bytes as `?`; each rejected record is therefore found again in the file from
its byte offset (into the file as UTF-8, memory-mapped by `utf8_view`), giving the line it
starts on and its exact bytes (`raw_bytes` when they are not valid UTF-8).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from headwater.ingest.base import BadRecord

REJECT_CLASSES = {
    "CAST": "cast",
    "MISSING COLUMNS": "missing_columns",
    "TOO MANY COLUMNS": "too_many_columns",
    "UNQUOTED VALUE": "quoting",
    "LINE SIZE OVER MAXIMUM": "line_size",
    "INVALID ENCODING": "encoding",
    "INVALID UNICODE": "encoding",
}
VIEW_SLICE = 16 * 1024 * 1024
"""Bytes read at a time when finding rejected records in a file."""


def rejected_records(
    rows: list[dict[str, Any]], name: str, view: Any, encoding: str
) -> list[BadRecord]:
    """One quarantined record per rejected CSV record, with every error DuckDB found on it.

    DuckDB numbers rejected records by record, not by line, so a quoted field holding newlines
    shifts every later number; its `csv_line` shows invalid bytes as `?`; and after blank lines
    its byte offset and `csv_line` take in those blank lines. The record is therefore found
    again in the file: from DuckDB's byte offset (into the file as UTF-8, which `view` holds)
    back to the start of its line and past any blank lines, spanning as many lines as the
    record has, lines ending as the file's do (`\n`, `\r\n` or `\r`). Where that text is not
    the record DuckDB shows, the record is looked for within it, and failing that DuckDB's own
    text is kept.

    Args:
        rows: DuckDB's reject rows (`line`, `line_byte_position`, `csv_line`, ...).
        name: The file as shown to the user.
        view: The file's bytes as UTF-8 (`utf8_view`).
        encoding: The file's encoding, to give back the original bytes.

    Returns:
        The bad records, each with its physical start line and its exact bytes.
    """
    newline = _newline(view)
    ends = b"\r" if newline == b"\r" else b"\n"  # the byte that ends every line
    by_record: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_record.setdefault(int(row["line"]), []).append(row)
    found: list[tuple[int, bytes | None, str, list[dict[str, Any]]]] = []
    for errors in by_record.values():
        first = errors[0]
        shown = str(first["csv_line"] or "").strip("\r\n")
        start = _record_start(view, int(first["line_byte_position"] or 0), ends)
        end = start
        for _ in range(shown.count(ends.decode()) + 1):
            after = view.find(ends, end)
            end = len(view) if after < 0 else after + 1
        located = bytes(view[start:end]).removesuffix(ends)
        if ends == b"\n":
            located = located.removesuffix(b"\r")
        record: bytes | None = located
        if shown and not _shows(shown, located):
            # not where DuckDB's offset led: look for its text from there, else keep that text
            at = _find_line(view, shown, start) if "?" not in shown else -1
            start, record = (at, shown.encode()) if at >= 0 else (start, None)
        found.append((start, record, shown, errors))
    found.sort(key=lambda f: f[0])
    bad = []
    line, counted_to = 1, 0
    for start, record, shown, errors in found:
        line += _newlines(view, counted_to, start, ends)
        counted_to = start
        text, original = shown, None
        if record is not None:
            text = record.decode("utf-8", errors="replace")
            original = _original_bytes(record, encoding)
        first = errors[0]
        bad.append(
            BadRecord(
                f"{name}:{line}",
                REJECT_CLASSES.get(str(first["error_type"]), "parse"),
                "; ".join(str(e["error_message"]) for e in errors),
                text,
                first["column_name"],
                line,
                original if original is not None and original != text.encode() else None,
            )
        )
    return bad


def _newline(view: Any) -> bytes:
    """How the file's lines end (`\n`, `\r\n` or `\r`): the most common in its first slice."""
    head = bytes(view[:VIEW_SLICE])
    crlf = head.count(b"\r\n")
    counts = {b"\n": head.count(b"\n") - crlf, b"\r\n": crlf, b"\r": head.count(b"\r") - crlf}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else b"\n"


def _record_start(view: Any, offset: int, ends: bytes) -> int:
    """Where the record DuckDB places at byte `offset` starts: the start of the line holding
    `offset`, or, when `offset` is on line endings (blank lines before the record), the first
    byte after them."""
    start = min(max(offset, 0), len(view))
    if start == len(view) or view[start] not in b"\r\n":
        start = view.rfind(ends, 0, start) + 1
    while start < len(view) and view[start] in b"\r\n":
        start += 1
    return start


def _find_line(view: Any, shown: str, start: int) -> int:
    """Where `shown` next starts a line from `start` (within one slice), or -1."""
    wanted, stop = shown.encode(), min(len(view), start + VIEW_SLICE)
    at = view.find(wanted, start, stop)
    while at >= 0:
        if at == 0 or view[at - 1] in b"\r\n":
            return int(at)
        at = view.find(wanted, at + 1, stop)
    return -1


def _shows(shown: str, record: bytes) -> bool:
    """Whether DuckDB's `csv_line` text is `record`, where its `?` may stand for invalid bytes."""
    text = record.decode("utf-8", errors="replace")
    if text == shown or "?" not in shown:
        return text == shown
    head, tail = shown[: shown.index("?")], shown[shown.rindex("?") + 1 :]
    return (
        len(text) >= len(head) + len(tail)
        and text.startswith(head)
        and text.endswith(tail)
        and text.count("\n") == shown.count("\n")
        and text.count("\r") == shown.count("\r")
    )


def _original_bytes(record: bytes, encoding: str) -> bytes | None:
    """The bytes `record` (UTF-8, as DuckDB read it) had in the file, when they can be known:
    latin-1 maps one to one; UTF-16 was transcoded with replacement, so it cannot."""
    if encoding == "utf-8":
        return record
    if encoding == "latin-1":
        return record.decode("utf-8").encode("latin-1")
    return None


def _newlines(view: Any, start: int, end: int, ends: bytes = b"\n") -> int:
    """How many line endings (`ends`) `view[start:end]` holds, read in slices so memory stays
    small."""
    count = 0
    while start < end:
        stop = min(end, start + VIEW_SLICE)
        count += bytes(view[start:stop]).count(ends)
        start = stop
    return count


@contextlib.contextmanager
def utf8_view(path: str, encoding: str, scratch: Path) -> Iterator[Any]:
    """The file at `path` as DuckDB reads it: decompressed and as UTF-8 (the space its reject
    offsets count in), memory-mapped. A compressed or non-UTF-8 file is first written out so
    into `scratch`; invalid bytes of a UTF-8 file stay as they are."""
    import gzip
    import mmap
    import shutil

    copy: Path | None = None
    source = path
    if path.endswith(".gz") or encoding != "utf-8":
        scratch.mkdir(parents=True, exist_ok=True)
        copy = scratch / f"rejects-{uuid.uuid4().hex[:12]}.csv"
        opener: Any = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as raw, open(copy, "wb") as out:
            if encoding == "utf-8":
                shutil.copyfileobj(raw, out, VIEW_SLICE)
            else:
                head = raw.read(2)
                codec = "latin-1" if encoding == "latin-1" else "utf-16-le"
                if encoding == "utf-16" and head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                    # DuckDB keeps the byte-order mark, as U+FEFF
                    out.write(codecs.BOM_UTF8)
                    codec = "utf-16-le" if head == codecs.BOM_UTF16_LE else "utf-16-be"
                    head = b""
                decoder = codecs.getincrementaldecoder(codec)(errors="replace")
                out.write(decoder.decode(head).encode())
                while chunk := raw.read(VIEW_SLICE):
                    out.write(decoder.decode(chunk).encode())
                out.write(decoder.decode(b"", final=True).encode())
        source = str(copy)
    try:
        with open(source, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                yield b""
                return
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
                yield view
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)
