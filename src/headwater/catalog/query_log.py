"""The record of every query a server answered: who, when, what, which tables, how many rows,
how long, and how it ended.

Append-only; a query's text is kept as it was sent (a literal in it is the caller's, not a
secret of Headwater's), an error as its first line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headwater.catalog.audit import QUERY, AuditEvent, append_in
from headwater.catalog.store import Catalog, now_iso

OK = "ok"
REFUSED = "refused"
"""The query was not allowed (not read-only, a table the user may not read, a limit)."""
FAILED = "failed"
TIMED_OUT = "timed_out"
MAX_STATEMENT_CHARS = 100_000


@dataclass(frozen=True)
class QueryRecord:
    """One query as the log keeps it."""

    user: str | None
    interface: str
    """`http`, `postgres` or `cli`."""
    statement: str
    tables: tuple[str, ...] = ()
    rows: int | None = None
    duration_ms: float | None = None
    outcome: str = OK
    error: str | None = None
    client: str | None = None
    """The client's address."""
    at: str | None = None
    """When the query was answered (now, when not given)."""
    masked: tuple[str, ...] = ()
    """What masking hid from it (columns, and row-filtered tables); in the audit trail."""
    columns: dict[str, list[str]] | None = None
    """The columns it read, by table (None when unknown); in the audit trail."""


def record_queries(catalog: Catalog, records: Sequence[QueryRecord]) -> None:
    """Append `records` to the query log and, as `query` events, to the audit trail, in one
    transaction: a read is in both or in neither."""
    if not records:
        return
    values = [_values(record) for record in records]
    with catalog.db.transaction() as tx:
        tx.execute_many(
            "INSERT INTO hw_query_log (at, user_name, interface, client, statement, tables, "
            "row_count, duration_ms, outcome, error) VALUES (:at, :user, :interface, :client, "
            ":statement, :tables, :rows, :duration, :outcome, :error)",
            values,
        )
        append_in(
            catalog,
            tx,
            [
                AuditEvent(
                    v["user"],
                    QUERY,
                    {
                        "user": v["user"],
                        "interface": v["interface"],
                        "client": v["client"],
                        "statement": v["statement"],
                        "tables": list(record.tables),
                        "columns": record.columns,
                        "masked": list(record.masked),
                        "rows": v["rows"],
                        "outcome": v["outcome"],
                        "error": v["error"],
                    },
                    at=v["at"],
                )
                for record, v in zip(records, values, strict=True)
            ],
        )


def _values(record: QueryRecord) -> dict[str, Any]:
    return {
        "at": record.at or now_iso(),
        "user": record.user,
        "interface": record.interface,
        "client": record.client,
        "statement": record.statement[:MAX_STATEMENT_CHARS],
        "tables": json.dumps(list(record.tables)),
        "rows": record.rows,
        "duration": record.duration_ms,
        "outcome": record.outcome,
        "error": record.error,
    }


def query_log(catalog: Catalog, limit: int = 100, user: str | None = None) -> list[dict[str, Any]]:
    """The latest `limit` queries (newest first), of `user` when given."""
    where = "WHERE user_name = :user " if user is not None else ""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            f"SELECT * FROM hw_query_log {where}ORDER BY id DESC LIMIT :limit",
            {"user": user, "limit": limit},
        )
    return [{**row, "tables": json.loads(row["tables"] or "[]")} for row in rows]
