"""Read one JSON or NDJSON file record by record into staged Parquet.

An NDJSON file holds one object per line; a JSON file holds one object or a list of them. A line
or document that is not valid JSON, or a record that is not an object, is quarantined with the
line it came from; every other record is typed and written by a `RecordWriter`.
"""

from __future__ import annotations

import json
import uuid

from headwater.ingest.base import BadRecord, Extracted, ExtractRequest
from headwater.ingest.records import RecordWriter, extracted, record_writer


def read_json(request: ExtractRequest, path: str, name: str, kind: str, out: Extracted) -> None:
    """Stage the records of the JSON (or NDJSON, by `kind`) file at `path`, shown as `name`,
    into `out` (child rows of nested lists included), and its bad records into `out.bad`."""
    declared = {
        name: request.session.query(f"SELECT CAST(NULL AS {kind}) AS v").schema.field(0).type
        for name, kind in request.spec.table.column_types.items()
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
        out.add_files(writer.files, schema, writer.rows)


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
