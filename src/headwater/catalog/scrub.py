"""Rewriting the catalog's text without an erased subject's values.

The catalog keeps text about the data it tracks: the statements of the query log, checks' SQL
and failing samples, error messages of runs and attempts, metrics of text columns, incidents.
An erasure rewrites each of them through a `Redactor` (which knows the subject), and the audit
trail's records too: a record's content then no longer matches the hash it was chained with,
so a `redaction` record appended to the trail names each changed record with the hash of its
new content, and `audit.verify` accepts exactly that content for it (and reports it redacted).

On SQLite the rewrite zeroes the replaced text's bytes and truncates the write-ahead log after
it, so no earlier frame keeps them. A PostgreSQL catalog keeps old row versions until its own
vacuum reclaims them, and its write-ahead log and backups as the server's retention says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from headwater.catalog.audit import redact_in
from headwater.catalog.database import Transaction
from headwater.catalog.store import Catalog


class Redactor(Protocol):
    """What takes a subject's values out of text (see `governance.redaction`)."""

    def text(self, value: str) -> str: ...

    def sql(self, statement: str) -> str: ...

    def rows(self, rows: Any) -> list[Any]: ...

    def json(self, value: Any) -> Any: ...


_PAGE = 5000
"""Audit records read at a time."""

_CHUNK = 8 << 20
"""Bytes of a catalog file searched at a time."""

TEXT = "text"
SQL = "sql"
SAMPLE = "sample"
JSON = "json"

SCRUBBED: Mapping[str, Mapping[str, str]] = {
    "hw_runs": {"error": TEXT, "arguments": JSON, "selector": TEXT},
    "hw_asset_results": {"message": TEXT},
    "hw_check_results": {"message": TEXT, "sql_text": SQL, "sample_json": SAMPLE},
    "hw_metrics": {"text_value": TEXT},
    "hw_asset_attempts": {"error": TEXT, "logs": TEXT},
    "hw_partitions": {"message": TEXT},
    "hw_incidents": {"message": TEXT},
    "hw_stream_progress": {"error": TEXT},
    "hw_query_log": {"statement": SQL, "error": TEXT},
}
"""The catalog's columns that can hold a value of the data, by table, and how each is read."""


@dataclass
class ScrubReport:
    """What a scrub changed: rows per `table.column`, and the audit records redacted."""

    rows: dict[str, int] = field(default_factory=dict)
    audit_records: list[int] = field(default_factory=list)


def scrub(catalog: Catalog, redactor: Redactor, actor: str, erasure_id: str) -> ScrubReport:
    """Rewrite every text of the catalog that holds the subject `redactor` knows, and the audit
    records that do (with a `redaction` record), in one transaction.

    Returns:
        How many rows of which columns changed, and which audit records.
    """
    report = ScrubReport()
    tables = [t for t in SCRUBBED if catalog.db.has_table(t)]
    with catalog.db.zeroing_replaced(), catalog.db.transaction() as tx:
        for table in tables:
            for column, kind in SCRUBBED[table].items():
                changed = _scrub_column(tx, table, column, _reader(redactor, kind))
                if changed:
                    report.rows[f"{table}.{column}"] = changed
        report.audit_records = _scrub_audit(catalog, tx, redactor, actor, erasure_id)
    return report


def catalog_traces(catalog: Catalog, texts: Iterable[str]) -> list[str]:
    """Where the catalog's files (SQLite) still hold one of `texts` in any case, as raw bytes:
    in a row, a free page or the write-ahead log."""
    wanted = [t.lower().encode() for t in texts if t]
    if not wanted:
        return []
    overlap = max(len(text) for text in wanted)
    found: list[str] = []
    for path in catalog.db.files():
        try:
            with path.open("rb") as file:
                tail = b""
                while chunk := file.read(_CHUNK):
                    data = tail + chunk.lower()
                    if any(text in data for text in wanted):
                        found.append(f"{path.name}: the catalog's bytes")
                        break
                    tail = data[-overlap:]
        except FileNotFoundError:
            continue
    return found


def _reader(redactor: Redactor, kind: str) -> Callable[[str], str]:
    if kind == SQL:
        return redactor.sql
    if kind == TEXT:
        return redactor.text
    wanted = redactor.rows if kind == SAMPLE else redactor.json

    def redact_json(text: str) -> str:
        try:
            value = json.loads(text)
        except ValueError:
            return redactor.text(text)
        redacted = wanted(value) if kind == JSON or isinstance(value, list) else value
        if redacted == value:
            return text
        return json.dumps(redacted, default=str)

    return redact_json


def _scrub_column(tx: Transaction, table: str, column: str, redact: Callable[[str], str]) -> int:
    """Replace each distinct text of `table.column` that `redact` changes; the rows changed."""
    changed = 0
    texts = tx.execute(f"SELECT DISTINCT {column} AS text FROM {table} WHERE {column} IS NOT NULL")
    for row in texts:
        old = str(row["text"])
        new = redact(old)
        if new == old:
            continue
        count = tx.execute(
            f"SELECT COUNT(*) AS n FROM {table} WHERE {column} = :old", {"old": old}
        )[0]["n"]
        tx.execute(
            f"UPDATE {table} SET {column} = :new WHERE {column} = :old", {"new": new, "old": old}
        )
        changed += int(count)
    return changed


def _scrub_audit(
    catalog: Catalog, tx: Transaction, redactor: Redactor, actor: str, erasure_id: str
) -> list[int]:
    """Redact the audit records that hold the subject; the seqs of those changed."""
    changes: dict[int, dict[str, Any]] = {}
    after = -1
    while True:
        page = tx.execute(
            "SELECT seq, detail FROM hw_audit WHERE seq > :after ORDER BY seq LIMIT :page",
            {"after": after, "page": _PAGE},
        )
        for row in page:
            try:
                detail = json.loads(row["detail"])
            except ValueError:
                continue  # an edited record: verify reports it, redaction would hide it
            redacted = redactor.json(detail)
            if redacted != detail:
                changes[int(row["seq"])] = redacted
        if len(page) < _PAGE:
            break
        after = int(page[-1]["seq"])
    if changes:
        redact_in(catalog, tx, actor, erasure_id, changes)
    return sorted(changes)
