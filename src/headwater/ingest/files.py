"""Files on disk: CSV/TSV through DuckDB's reader, Parquet as is, JSON and NDJSON record by record.

New files are loaded once each: the state keeps every file's size and modification time, and a
file whose size or time changed is loaded again (`on_change: reload`) or left alone (`ignore`).

CSV lines DuckDB cannot read (wrong column count, a value that does not cast, bad quoting,
invalid encoding, an over-long line) are recorded by its `store_rejects` tables during the same
single scan that writes the good rows, so quarantine costs no second pass; each rejected record
is then found again in the file by its byte offset, for its physical line and exact bytes
(`raw_bytes` when they are not valid UTF-8). Types come from the table once it exists; on the
first load they are inferred from a sample read as text, taking a type when nearly all sampled
values cast to it, so a few bad values are quarantined rather than turning a numeric column
into text.
"""

from __future__ import annotations

import codecs
import contextlib
import glob
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from headwater.engine.base import EngineSession
from headwater.errors import SOURCES_DOCS, ConfigError, Location, SourceError, first_line
from headwater.ingest.base import (
    BadRecord,
    Extracted,
    Extractor,
    ExtractRequest,
)
from headwater.ingest.records import RecordWriter, extracted, record_writer
from headwater.project.sources import FileFormat, TableConfig
from headwater.sqltext import identifier, literal
from headwater.storage.base import WrittenFile

SAMPLE_ROWS = 20_000
TYPE_SHARE = 0.9
"""A sampled column takes a type when this share of its values cast to it."""
CANDIDATE_TYPES = ("BIGINT", "DOUBLE", "DATE", "TIMESTAMP")
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
FORMATS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
}


def file_format(path: str, table: TableConfig) -> FileFormat:
    """The format of `path`: the table's `format`, else its extension."""
    if table.format:
        return table.format
    name = path[:-3] if path.endswith(".gz") else path
    found = FORMATS.get(Path(name).suffix.lower())
    if found is None:
        raise ConfigError(
            f"cannot tell the format of {path}",
            Location(file=path),
            f"set 'format:' (csv, tsv, json, ndjson or parquet) on the table; see {SOURCES_DOCS}",
        )
    return found


class FileExtractor(Extractor):
    """Loads the new (or changed) files matching a table's `path`."""

    def extract(self, request: ExtractRequest) -> Extracted:
        spec = request.spec
        table = spec.table
        if not table.path:
            raise ConfigError(
                f"table {spec.name} of files source {spec.source_name} has no 'path'",
                _path_location(request, f"{spec.source_name}.{spec.name}"),
                f"set 'path:' to a file or glob relative to the project; see {SOURCES_DOCS}",
            )
        pattern = (
            table.path if os.path.isabs(table.path) else str(request.project_root / table.path)
        )
        matched = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        seen: dict[str, list[int]] = dict(request.state.get("files", {}))
        if not matched and (spec.mode == "replace" or not seen):
            # a first load of nothing cannot make a table, and a replace would empty it
            key = f"{spec.source_name}.{spec.name}"
            raise SourceError(
                f"path '{table.path}' of table {key} matches no file (looked for {pattern})",
                _path_location(request, key),
                "fix 'path:' (relative to the project folder; '*' matches within a folder, "
                f"'**' across folders) or add the files, then load again; see {SOURCES_DOCS}",
            )
        current = {}
        for path in matched:
            stat = os.stat(path)
            current[_shown(path, request.project_root)] = [stat.st_size, stat.st_mtime_ns]
        if spec.mode == "replace":
            if current == seen:
                return Extracted(state={"files": seen})
            todo = list(current)
        else:
            todo = [
                name
                for name, signature in current.items()
                if name not in seen or (signature != seen[name] and table.on_change == "reload")
            ]
        # replace: the files now present are the whole table; otherwise files are remembered
        # even after they disappear, so a file moved back in is not loaded twice
        files = current if spec.mode == "replace" else {**seen, **current}
        extracted = Extracted(state={"files": files}, replaces_all=spec.mode == "replace")
        for name in todo:
            path = name if os.path.isabs(name) else str(request.project_root / name)
            kind = file_format(path, table)
            if kind in ("csv", "tsv"):
                self._csv(request, path, name, kind, extracted)
            elif kind == "parquet":
                self._parquet(request, path, extracted)
            else:
                self._json(request, path, name, kind, extracted)
        return extracted

    # -- CSV --------------------------------------------------------------------------------

    def _csv(
        self, request: ExtractRequest, path: str, name: str, kind: str, out: Extracted
    ) -> None:
        session = request.session
        options = _csv_options(request.spec.table, kind)
        names = _header(path, request.spec.table, kind)
        if not names:
            return
        as_text = "{" + ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names) + "}"
        try:
            header = session.query(
                f"SELECT * FROM read_csv({literal(path)}, {options}, columns = {as_text}, "
                f"auto_detect = false, ignore_errors = true) LIMIT {SAMPLE_ROWS}"
            )
        except Exception as exc:
            raise SourceError(
                f"cannot read {name}: {first_line(exc)}",
                Location(file=name),
                f"check the file's format and the table's 'csv:' options; see {SOURCES_DOCS}",
            ) from None
        known: dict[str, str] = {}
        if request.table_schema is not None:
            known = session.sql_types(request.table_schema)
        declared = {k: v.upper() for k, v in request.spec.table.columns.items()}
        types: dict[str, str] = {}
        for column in names:
            types[column] = (
                declared.get(column) or known.get(column) or _infer(session, header, column)
            )
        tag = uuid.uuid4().hex[:12]
        rejects, scans = f"hw_rejects_{tag}", f"hw_scans_{tag}"
        columns = "{" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}"
        scan = (
            f"SELECT * FROM read_csv({literal(path)}, {options}, columns = {columns}, "
            f"auto_detect = false, store_rejects = true, rejects_table = {literal(rejects)}, "
            f"rejects_scan = {literal(scans)})"
        )
        directory = request.stage_dir / f"csv-{tag}"
        try:
            written = session.copy_parquet(scan, directory)
            rejected = session.query(
                f"SELECT line, line_byte_position, column_name, error_type, csv_line, "
                f"error_message FROM {identifier(rejects)} ORDER BY line"
            )
        except Exception as exc:
            raise SourceError(
                f"cannot read {name}: {first_line(exc)}",
                Location(file=name),
                f"check the file's format and the table's 'csv:' options; see {SOURCES_DOCS}",
            ) from None
        finally:
            for created in (rejects, scans):
                session.execute(f"DROP TABLE IF EXISTS {identifier(created)}")
        _add(out, written.files, written.schema, written.rows)
        rows = rejected.to_pylist()
        if rows:
            encoding = request.spec.table.csv.encoding
            with _utf8_view(path, encoding, request.scratch_dir) as view:
                out.bad.extend(_rejects_to_bad(rows, name, view, encoding))

    # -- Parquet ----------------------------------------------------------------------------

    def _parquet(self, request: ExtractRequest, path: str, out: Extracted) -> None:
        directory = request.stage_dir / f"parquet-{uuid.uuid4().hex[:12]}"
        written = request.session.copy_parquet(
            f"SELECT * FROM read_parquet({literal(path)})", directory
        )
        _add(out, written.files, written.schema, written.rows)

    # -- JSON -------------------------------------------------------------------------------

    def _json(
        self, request: ExtractRequest, path: str, name: str, kind: str, out: Extracted
    ) -> None:
        declared = {
            name: request.session.query(f"SELECT CAST(NULL AS {kind}) AS v").schema.field(0).type
            for name, kind in request.spec.table.columns.items()
        }
        writer = record_writer(
            request,
            request.stage_dir / f"json-{uuid.uuid4().hex[:12]}",
            declared,
            seq_start=out.records_seen,
        )
        with open(path, "rb") as handle:
            if kind == "ndjson":
                for number, raw in enumerate(handle, start=1):
                    _json_line(writer, out, raw, name, number)
            else:
                _json_document(writer, out, handle.read(), name)
        schema = writer.close()
        out.records_seen = writer.last_seq
        staged = extracted(writer)
        out.bad.extend(staged.bad)
        out.add_children(staged.children)
        if schema is not None:
            _add(out, writer.files, schema, writer.rows)


def _json_line(writer: RecordWriter, out: Extracted, raw: bytes, name: str, number: int) -> None:
    record = raw.removesuffix(b"\n").removesuffix(b"\r")
    text = record.decode("utf-8", errors="replace")
    if not text.strip():
        return
    location = f"{name}:{number}"
    try:
        value = json.loads(record)
    except (ValueError, UnicodeDecodeError) as exc:
        error = "encoding" if isinstance(exc, UnicodeDecodeError) else "json"
        out.bad.append(
            BadRecord(
                location, error, f"not valid JSON: {exc}", text, None, number, _exact(record, text)
            )
        )
        return
    if not isinstance(value, dict):
        out.bad.append(
            BadRecord(location, "json", "a line must hold one JSON object", text, None, number)
        )
        return
    writer.add(value, location, text, number)


def _json_document(writer: RecordWriter, out: Extracted, raw: bytes, name: str) -> None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        # the whole document is the record: it is kept whole, from its first line
        error = "encoding" if isinstance(exc, UnicodeDecodeError) else "json"
        text = raw.decode("utf-8", errors="replace")
        out.bad.append(
            BadRecord(name, error, f"not valid JSON: {exc}", text, None, 1, _exact(raw, text))
        )
        return
    records = value if isinstance(value, list) else [value]
    for index, record in enumerate(records):
        location = f"{name}[{index}]"
        if isinstance(record, dict):
            writer.add(record, location)
        else:
            out.bad.append(
                BadRecord(location, "json", "a record must be a JSON object", json.dumps(record))
            )


def _exact(record: bytes, text: str) -> bytes | None:
    """`record` when `text` (its UTF-8 reading) does not give its bytes back, else None."""
    return None if text.encode() == record else record


def _path_location(request: ExtractRequest, key: str) -> Location:
    """Where the table's `path:` is set: its own key, else the source's `defaults:`."""
    from headwater.project.yamlfile import load_yaml

    file = request.source_file
    if file is None:
        return Location(asset=key)
    document = load_yaml(request.project_root / file, file)
    tables = document.data.get("tables")
    own = tables.get(request.spec.name) if isinstance(tables, dict) else None
    if isinstance(own, dict) and "path" in own:
        line = document.line_of(("tables", request.spec.name, "path"))
    elif isinstance(document.data.get("defaults"), dict) and "path" in document.data["defaults"]:
        line = document.line_of(("defaults", "path"))
    else:
        line = document.line_of(("tables", request.spec.name))
    return Location(file=file, line=line, asset=key)


def _shown(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def _add(out: Extracted, files: list[WrittenFile], schema: Any, rows: int) -> None:
    out.files.extend(files)
    out.rows += rows
    if out.schema is None or not files:
        out.schema = out.schema or schema
        return
    import pyarrow as pa

    # several files may bring different columns: the union, first types winning
    names = set(out.schema.names)
    extra = [f for f in schema if f.name not in names]
    if extra:
        out.schema = pa.schema([*out.schema, *extra])


def _header(path: str, table: TableConfig, kind: str) -> list[str]:
    """Column names from the first line (or `column_1`... without a header), read without
    DuckDB's sniffer, which gives up on files with enough bad lines."""
    import csv
    import gzip

    options = table.csv
    opener: Any = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding=options.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(
            handle,
            delimiter=options.delimiter or ("\t" if kind == "tsv" else ","),
            quotechar=options.quote,
            escapechar=options.escape if options.escape != options.quote else None,
        )
        first = next(reader, None)
    if first is None:
        return []
    if not options.header:
        return [f"column_{i}" for i in range(1, len(first) + 1)]
    names = [n.strip() or f"column_{i}" for i, n in enumerate(first, start=1)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            seen[n] += 1
            names[i] = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
    return names


def _csv_options(table: TableConfig, kind: str) -> str:
    csv = table.csv
    delimiter = csv.delimiter or ("\t" if kind == "tsv" else ",")
    options = [
        f"delim = {literal(delimiter)}",
        f"header = {'true' if csv.header else 'false'}",
        f"quote = {literal(csv.quote)}",
        f"encoding = {literal(csv.encoding)}",
        f"max_line_size = {csv.max_line_size}",
    ]
    if csv.escape:
        options.append(f"escape = {literal(csv.escape)}")
    return ", ".join(options)


def _infer(session: EngineSession, sample: Any, column: str) -> str:
    values = [v for v in sample.column(column).to_pylist() if v not in (None, "")]
    if not values:
        return "VARCHAR"
    if all(v.strip().lower() in ("true", "false") for v in values):
        return "BOOLEAN"
    # TRY_CAST on the sample: the share of values each candidate type accepts
    # DuckDB casts '1.5' to BIGINT by rounding, so an integer must also look like one
    accepted = {
        t: f"TRY_CAST(v AS {t}) IS NOT NULL"
        + (" AND regexp_full_match(trim(v), '[+-]?[0-9]+')" if t == "BIGINT" else "")
        for t in CANDIDATE_TYPES
    }
    counts = session.query(
        "SELECT "
        + ", ".join(f"count(*) FILTER ({test}) AS {t.lower()}" for t, test in accepted.items())
        + " FROM (SELECT unnest(?::VARCHAR[]) AS v)",
        [values],
    ).to_pylist()[0]
    for kind in CANDIDATE_TYPES:
        count = counts[kind.lower()]
        if count >= TYPE_SHARE * len(values):
            return kind
    return "VARCHAR"


def _rejects_to_bad(
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
        view: The file's bytes as UTF-8 (`_utf8_view`).
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
def _utf8_view(path: str, encoding: str, scratch: Path) -> Iterator[Any]:
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
