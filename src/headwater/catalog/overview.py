"""Project-wide summaries read from the catalog: what the UI's pages and `/metrics` show.

Each function is one or two queries over the whole catalog, so a page about 500 assets and
1,000 runs costs the same few round trips as a page about five.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headwater.catalog.statuses import BuildStatus, CheckStatus
from headwater.catalog.store import Catalog

BUILT = (
    BuildStatus.SUCCESS,
    BuildStatus.FAILED,
    BuildStatus.SKIPPED,
    BuildStatus.RUNNING,
    BuildStatus.INTERRUPTED,
)
"""Result statuses of a build that was attempted (or refused); `up_to_date` is not one."""
FAILING = (CheckStatus.FAIL, CheckStatus.ERROR, CheckStatus.WARN)
"""Check statuses that count as failing (or warning)."""


def _keys(keys: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """A `keys(asset)` CTE of `keys`, and its parameters: per-asset lookups through the
    (asset, status, id) index instead of a scan of every result ever recorded."""
    values = ", ".join(f"(:k{n})" for n in range(len(keys)))
    return f"WITH keys(asset) AS (VALUES {values}) ", {f"k{n}": k for n, k in enumerate(keys)}


def _listed(statuses: Sequence[str]) -> str:
    """`statuses` as the SQL list of an `IN (...)` (they are our own words, never input)."""
    return ", ".join(f"'{s}'" for s in statuses)


def _last_ids(keys: Sequence[str], statuses: Sequence[str]) -> tuple[str, dict[str, Any]]:
    cte, params = _keys(keys)
    wanted = _listed(statuses)
    return (
        cte + "SELECT r.* FROM hw_asset_results r WHERE r.id IN (SELECT (SELECT max(x.id) "
        f"FROM hw_asset_results x WHERE x.asset = keys.asset AND x.status IN ({wanted})) "
        "FROM keys)",
        params,
    )


def last_builds(catalog: Catalog, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
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
    sql, params = _last_ids(keys, (BuildStatus.SUCCESS,))
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(sql, params)
    return {row["asset"]: row["finished_at"] for row in rows if row["finished_at"]}


def run_counts(catalog: Catalog) -> dict[str, int]:
    """How many runs ended (or are) in each status."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT status, count(*) AS n FROM hw_runs GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


def rows_written(catalog: Catalog) -> dict[str, int]:
    """Rows written by all successful builds of each asset, by asset."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT asset, sum(rows_written) AS n FROM hw_asset_results "
            f"WHERE status = '{BuildStatus.SUCCESS}' AND rows_written IS NOT NULL GROUP BY asset"
        )
    return {row["asset"]: int(row["n"]) for row in rows}


def check_failures(catalog: Catalog) -> dict[tuple[str, str], int]:
    """Failed check results of all time, by (asset, severity)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT asset, severity, count(*) AS n FROM hw_check_results "
            f"WHERE status IN ({_listed(FAILING)}) GROUP BY asset, severity"
        )
    return {(row["asset"], row["severity"]): int(row["n"]) for row in rows}


def failing_checks(catalog: Catalog) -> dict[str, int]:
    """How many checks of each asset failed (or warned) in their latest result."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT c.asset, count(*) AS n FROM hw_check_results c JOIN (SELECT asset, "
            "check_name, max(id) AS id FROM hw_check_results GROUP BY asset, check_name) last "
            f"ON c.id = last.id WHERE c.status IN ({_listed(FAILING)}) GROUP BY c.asset"
        )
    return {row["asset"]: int(row["n"]) for row in rows}


def scheduler_heartbeat(catalog: Catalog) -> dict[str, Any] | None:
    """The scheduler lock's holder and its last heartbeat (None: no scheduler ever ran)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT holder, started_at, heartbeat_at FROM hw_scheduler LIMIT 1")
    return rows[0] if rows else None


@dataclass(frozen=True)
class CatalogHealth:
    """The project's health as `/metrics` reports it, read from the catalog at one moment."""

    run_counts: dict[str, int]
    """How many runs ended (or are) in each status."""
    latest: dict[str, dict[str, Any]]
    """The last attempted result of each asset, by asset."""
    rows_written: dict[str, int]
    """Rows written by all successful builds, by asset."""
    check_failures: dict[tuple[str, str], int]
    """Failed (or warned) check results of all time, by (asset, severity)."""
    failing_checks: dict[str, int]
    """Checks whose latest result failed (or warned), by asset."""
    last_successes: dict[str, str]
    """When each asset was last built successfully (ISO time), by asset."""
    scheduler: dict[str, Any] | None
    """The scheduler lock's holder and its last heartbeat (None: no scheduler ever ran)."""


def catalog_health(catalog: Catalog, keys: Sequence[str]) -> CatalogHealth:
    """Everything `/metrics` reports about runs, assets `keys`, checks and the scheduler."""
    return CatalogHealth(
        run_counts=run_counts(catalog),
        latest=last_builds(catalog, keys),
        rows_written=rows_written(catalog),
        check_failures=check_failures(catalog),
        failing_checks=failing_checks(catalog),
        last_successes=last_successes(catalog, keys),
        scheduler=scheduler_heartbeat(catalog),
    )
