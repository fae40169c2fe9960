"""Project-wide summaries read from the catalog: what the UI's pages and `/metrics` show.

Each function is one or two queries over the whole catalog, so a page about 500 assets and
1,000 runs costs the same few round trips as a page about five.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headwater.catalog.store import Catalog, with_status_counts

BUILT = ("success", "failed", "skipped", "running", "interrupted")
"""Result statuses of a build that was attempted (or refused); `up_to_date` is not one."""


def _keys(keys: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """A `keys(asset)` CTE of `keys`, and its parameters: per-asset lookups through the
    (asset, status, id) index instead of a scan of every result ever recorded."""
    values = ", ".join(f"(:k{n})" for n in range(len(keys)))
    return f"WITH keys(asset) AS (VALUES {values}) ", {f"k{n}": k for n, k in enumerate(keys)}


def _last_ids(keys: Sequence[str], statuses: Sequence[str]) -> tuple[str, dict[str, Any]]:
    cte, params = _keys(keys)
    wanted = ", ".join(f"'{s}'" for s in statuses)
    return (
        cte + "SELECT r.* FROM hw_asset_results r WHERE r.id IN (SELECT (SELECT max(x.id) "
        f"FROM hw_asset_results x WHERE x.asset = keys.asset AND x.status IN ({wanted})) "
        "FROM keys)",
        params,
    )


def latest_results(catalog: Catalog, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The last result of each of `keys` that was ever attempted (up-to-date checks aside):
    status, when, rows, version, duration and message."""
    if not keys:
        return {}
    sql, params = _last_ids(keys, BUILT)
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(sql, params)
    return {row["asset"]: row for row in rows}


def last_successes(catalog: Catalog, keys: Sequence[str]) -> dict[str, str]:
    """When each of `keys` was last built successfully (ISO time), by asset."""
    if not keys:
        return {}
    sql, params = _last_ids(keys, ("success",))
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(sql, params)
    return {row["asset"]: row["finished_at"] for row in rows if row["finished_at"]}


def run_counts(catalog: Catalog) -> dict[str, int]:
    """How many runs ended (or are) in each status."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT status, count(*) AS n FROM hw_runs GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


def run_total(catalog: Catalog) -> int:
    """How many runs the catalog holds."""
    with catalog.db.transaction(write=False) as tx:
        return int(tx.execute("SELECT count(*) AS n FROM hw_runs")[0]["n"])


def rows_written(catalog: Catalog) -> dict[str, int]:
    """Rows written by all successful builds of each asset, by asset."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT asset, sum(rows_written) AS n FROM hw_asset_results "
            "WHERE status = 'success' AND rows_written IS NOT NULL GROUP BY asset"
        )
    return {row["asset"]: int(row["n"]) for row in rows}


def check_failures(catalog: Catalog) -> dict[tuple[str, str], int]:
    """Failed check results of all time, by (asset, severity)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT asset, severity, count(*) AS n FROM hw_check_results "
            "WHERE status IN ('fail', 'error', 'warn') GROUP BY asset, severity"
        )
    return {(row["asset"], row["severity"]): int(row["n"]) for row in rows}


def failing_checks(catalog: Catalog) -> dict[str, int]:
    """How many checks of each asset failed (or warned) in their latest result."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT c.asset, count(*) AS n FROM hw_check_results c JOIN (SELECT asset, "
            "check_name, max(id) AS id FROM hw_check_results GROUP BY asset, check_name) last "
            "ON c.id = last.id WHERE c.status IN ('fail', 'error', 'warn') GROUP BY c.asset"
        )
    return {row["asset"]: int(row["n"]) for row in rows}


def scheduler_heartbeat(catalog: Catalog) -> dict[str, Any] | None:
    """The scheduler lock's holder and its last heartbeat (None: no scheduler ever ran)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT holder, started_at, heartbeat_at FROM hw_scheduler LIMIT 1")
    return rows[0] if rows else None


def runs_page(catalog: Catalog, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Runs newest first, `limit` of them after skipping `offset`, each with its asset
    result counts by status."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT run_id, seq, command, selector, status, started_at, finished_at, error "
            "FROM hw_runs ORDER BY seq DESC LIMIT :limit OFFSET :offset",
            {"limit": limit, "offset": offset},
        )
        ids = [row["run_id"] for row in rows]
        counts = []
        if ids:
            names = ", ".join(f":id{n}" for n in range(len(ids)))
            counts = tx.execute(
                "SELECT run_id, status, count(*) AS n FROM hw_asset_results "
                f"WHERE run_id IN ({names}) GROUP BY run_id, status",
                {f"id{n}": run_id for n, run_id in enumerate(ids)},
            )
    return with_status_counts(rows, counts)
