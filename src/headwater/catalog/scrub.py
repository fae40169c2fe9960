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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from headwater.catalog.audit import redact_in
from headwater.catalog.database import Transaction
from headwater.catalog.store import Catalog


class Redactor(Protocol):
    """What takes a subject's values out of text (see `governance.redaction`)."""

    def text(self, value: str) -> str: ...

    def found_in(self, data: bytes) -> bool: ...

    def candidates(self) -> list[str]: ...

    def sql(self, statement: str) -> str: ...

    def rows(self, rows: Any) -> list[Any]: ...

    def json(self, value: Any) -> Any: ...


_PAGE = 5000
"""Audit records read at a time."""

_CHUNK = 8 << 20
"""Bytes of a catalog file searched at a time."""
_OVERLAP = 4096
"""Bytes kept from one chunk to the next, so a value across them is found."""

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
    reclaimed: bool = True
    """False when another process kept the old text's space from being reclaimed."""


def scrub(
    catalog: Catalog, redactor: Redactor, actor: str, erasure_id: str, key: str
) -> ScrubReport:
    """Rewrite every text of the catalog that holds the subject `redactor` knows, and the audit
    records that do (with a `redaction` record sealed with `key`), in one transaction; then,
    if anything changed, reclaim the space the old text took.

    Returns:
        How many rows of which columns changed, which audit records, and whether the space
        could be reclaimed.
    """
    report = ScrubReport()
    tables = [t for t in SCRUBBED if catalog.db.has_table(t)]
    patterns = [f"%{_escaped(text.lower())}%" for text in redactor.candidates()]
    with catalog.db.zeroing_replaced(), catalog.db.transaction() as tx:
        for table in tables:
            for column, kind in SCRUBBED[table].items():
                redact = _reader(redactor, kind)
                changed = _scrub_column(tx, table, column, redact, patterns)
                if changed:
                    report.rows[f"{table}.{column}"] = changed
        report.audit_records = _scrub_audit(catalog, tx, redactor, actor, erasure_id, key)
    if report.rows or report.audit_records:
        report.reclaimed = catalog.db.reclaim()
    return report


def catalog_traces(catalog: Catalog, redactor: Redactor) -> list[str]:
    """Where the catalog's files (SQLite) still hold one of the subject's values as the
    redactor finds them (a whole word, in any case), as raw bytes: in a row, a free page or the
    write-ahead log."""
    found: list[str] = []
    for path in catalog.db.files():
        try:
            with path.open("rb") as file:
                tail = b""
                while chunk := file.read(_CHUNK):
                    data = tail + chunk
                    if redactor.found_in(data):
                        found.append(
                            f"{path.name}: the catalog's bytes (another process held the "
                            "catalog; `headwater erase` of the same subject finds nothing "
                            "left to purge, run `sqlite3 <catalog> 'VACUUM'` once it is idle)"
                        )
                        break
                    tail = data[-_OVERLAP:]
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


def _scrub_column(
    tx: Transaction,
    table: str,
    column: str,
    redact: Callable[[str], str],
    patterns: list[str],
) -> int:
    """Replace each distinct text of `table.column` that `redact` changes; the rows changed.
    Only texts holding one of `patterns` (LIKE, lower case) are read."""
    if not patterns:
        return 0
    changed = 0
    matching = " OR ".join(f"LOWER({column}) LIKE :p{i} ESCAPE '!'" for i in range(len(patterns)))
    texts = tx.execute(
        f"SELECT DISTINCT {column} AS text FROM {table} WHERE {column} IS NOT NULL "
        f"AND ({matching})",
        {f"p{i}": pattern for i, pattern in enumerate(patterns)},
    )
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


def _escaped(text: str) -> str:
    """`text` for a LIKE pattern with `!` as the escape character."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _scrub_audit(
    catalog: Catalog,
    tx: Transaction,
    redactor: Redactor,
    actor: str,
    erasure_id: str,
    key: str,
) -> list[int]:
    """Redact the audit records that hold the subject (only those whose text holds one of
    its values are read); the seqs of those changed."""
    changes: dict[int, dict[str, Any]] = {}
    patterns = [f"%{_escaped(text.lower())}%" for text in redactor.candidates()]
    if not patterns:
        return []
    matching = " OR ".join(f"LOWER(detail) LIKE :p{i} ESCAPE '!'" for i in range(len(patterns)))
    values: dict[str, Any] = {f"p{i}": pattern for i, pattern in enumerate(patterns)}
    after = -1
    while True:
        page = tx.execute(
            f"SELECT seq, detail FROM hw_audit WHERE seq > :after AND ({matching}) "
            "ORDER BY seq LIMIT :page",
            {**values, "after": after, "page": _PAGE},
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
        redact_in(catalog, tx, actor, erasure_id, changes, key)
    return sorted(changes)
