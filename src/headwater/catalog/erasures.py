"""The record of erasures and the suppression list, in the catalog.

An erasure is recorded when it starts (`running`) and again when it ends (`complete`, or
`incomplete` when a trace of the subject was found afterwards), with its report: which tables,
how many rows, which versions it made unreadable and which files it deleted. The subject is
kept only as a keyed hash (`subject_hash`), never as a value, in the record, the report and
the audit trail.

The suppression list holds the keyed hashes of the erased subject's identity per source or
seed column: a load skips rows whose value hashes to one of them, so that a source that still
holds the subject does not bring it back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from headwater.catalog.audit import AuditEvent, append_in
from headwater.catalog.database import Transaction
from headwater.catalog.store import Catalog, now_iso

ERASURE = "erasure"
"""The audit trail's action of an erasure."""
RUNNING = "running"
COMPLETE = "complete"
INCOMPLETE = "incomplete"


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 of `value` (normalised by the caller) under `key`, as hex."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def start(
    catalog: Catalog,
    erasure_id: str,
    actor: str,
    table: str,
    subject_hash: str,
    suppressions: Iterable[tuple[str, str, str]] = (),
) -> None:
    """Record that erasure `erasure_id` of the subject hashing to `subject_hash` in `table`
    started, with its `suppressions` (asset, column, value hash): they hold from now on, so
    an erasure that stops halfway still keeps the next load from bringing the subject back."""
    with catalog.db.transaction() as tx:
        _suppress(tx, erasure_id, suppressions)
        tx.execute(
            "INSERT INTO hw_erasures (erasure_id, started_at, actor, subject_table, "
            "subject_hash, status) VALUES (:id, :at, :actor, :table, :hash, :status)",
            {
                "id": erasure_id,
                "at": now_iso(),
                "actor": actor,
                "table": table,
                "hash": subject_hash,
                "status": RUNNING,
            },
        )


def finish(
    catalog: Catalog,
    erasure_id: str,
    actor: str,
    status: str,
    report: dict[str, Any],
    suppressions: Iterable[tuple[str, str, str]],
) -> None:
    """Record how erasure `erasure_id` ended and its `report`, add its `suppressions`
    (asset, column, value hash) and its audit record, in one transaction."""
    text = json.dumps(report, sort_keys=True, default=str)
    with catalog.db.transaction() as tx:
        tx.execute(
            "UPDATE hw_erasures SET finished_at = :at, status = :status, report = :report "
            "WHERE erasure_id = :id",
            {"at": now_iso(), "status": status, "report": text, "id": erasure_id},
        )
        _suppress(tx, erasure_id, suppressions)
        append_in(catalog, tx, [AuditEvent(actor, ERASURE, {**report, "status": status})])


def _suppress(
    tx: Transaction, erasure_id: str, suppressions: Iterable[tuple[str, str, str]]
) -> None:
    rows = [{"asset": a, "column": c, "hash": h, "id": erasure_id} for a, c, h in suppressions]
    for row in rows:
        tx.execute(
            "DELETE FROM hw_suppressions WHERE asset = :asset AND column_name = :column "
            "AND value_hash = :hash",
            row,
        )
    if rows:
        tx.execute_many(
            "INSERT INTO hw_suppressions (asset, column_name, value_hash, erasure_id) "
            "VALUES (:asset, :column, :hash, :id)",
            rows,
        )


def suppressed(catalog: Catalog, asset: str) -> dict[str, set[str]]:
    """The suppression list of `asset`: column -> value hashes."""
    if not catalog.db.has_table("hw_suppressions"):
        return {}
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT column_name, value_hash FROM hw_suppressions WHERE asset = :asset",
            {"asset": asset},
        )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(str(row["column_name"]), set()).add(str(row["value_hash"]))
    return found


def erasures(catalog: Catalog, limit: int = 100) -> list[dict[str, Any]]:
    """The latest `limit` erasures, newest first, with their reports."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT * FROM hw_erasures ORDER BY started_at DESC LIMIT :limit", {"limit": limit}
        )
    return [{**row, "report": json.loads(row["report"] or "null")} for row in rows]
