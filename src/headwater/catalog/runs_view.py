"""Runs as the UI and the API list them: a page of runs, one run with everything it did, and a
token that changes whenever a run starts or ends (what caches of run-derived facts key on).
"""

from __future__ import annotations

from typing import Any

from headwater.catalog.store import Catalog, with_status_counts


def run_total(catalog: Catalog) -> int:
    """How many runs the catalog holds."""
    with catalog.db.transaction(write=False) as tx:
        return int(tx.execute("SELECT count(*) AS n FROM hw_runs")[0]["n"])


def page_of_runs(catalog: Catalog, limit: int, offset: int = 0) -> list[dict[str, Any]]:
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


def current_runs_token(catalog: Catalog) -> tuple[Any, ...]:
    """The newest run's sequence number, how many runs there are and when the last one
    ended: equal tokens mean no run started or ended in between."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT max(seq) AS seq, count(*) AS n, max(finished_at) AS done FROM hw_runs"
        )
    row = rows[0]
    return (row["seq"], row["n"], row["done"])


def read_run(catalog: Catalog, run_id: str) -> dict[str, Any] | None:
    """Run `run_id` (a unique prefix is enough) with everything it did: `run` (its record),
    `results` (each asset's, in the order they started) and `attempts` (each attempt of each);
    None when there is no such run."""
    run = catalog.run(run_id)
    if run is None:
        return None
    return {
        "run": run,
        "results": catalog.results(run["run_id"]),
        "attempts": catalog.attempts(run["run_id"]),
    }
