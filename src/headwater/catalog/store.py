"""The catalog: runs, per-asset results and the state each asset was last built from.

A real database: a SQLite file in the project by default (WAL mode, so readers never block the
run writing), or PostgreSQL by URL. The schema is created and upgraded by versioned migrations
on first use. Queries are portable SQL text run through `database.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from headwater.catalog.database import CatalogDatabase, open_database
from headwater.catalog.migrations import migrate
from headwater.catalog.statuses import BuildStatus, RunStatus

_LOG = logging.getLogger(__name__)


def new_run_id() -> str:
    """A fresh, unique run id."""
    return uuid.uuid4().hex[:16]


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class RunRecord:
    """A run as started: its id and its sequence number (used as commit idempotency version)."""

    run_id: str
    seq: int


@dataclass(frozen=True)
class AssetState:
    """What an asset was last successfully built from."""

    asset: str
    fingerprint: str
    delta_version: int | None
    materialization: str | None
    run_id: str | None
    state: dict[str, Any]


_RESULT_COLUMNS = (
    "id, run_id, asset, status, materialization, rows_written, delta_version, duration_s, "
    "started_at, finished_at, fingerprint, message, attempts, partition_key"
)
_RUN_COLUMNS = (
    "seq, run_id, command, selector, status, started_at, finished_at, pid, hostname, threads, "
    "full_refresh, error, heartbeat_at, resumed_from, arguments"
)


@contextmanager
def keep_alive(catalog: Catalog, run_id: str, every_s: float = 5.0) -> Iterator[None]:
    """Renew the heartbeat of run `run_id` every few seconds while the block runs, so that a
    scheduler can tell a live run from one whose process died."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every_s):
            try:
                catalog.heartbeat(run_id)
            except Exception as exc:  # a missed beat is no reason to fail the run
                _LOG.warning("heartbeat of run %s failed: %s", run_id, exc)

    thread = threading.Thread(target=beat, daemon=True, name="hw-heartbeat")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class Catalog:
    """Reads and writes Headwater's metadata."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db: CatalogDatabase = open_database(url)
        try:
            migrate(self.db)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        """Release database connections."""
        self.db.close()

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        command: str,
        selector: str | None,
        threads: int,
        full_refresh: bool,
        resumed_from: str | None = None,
        arguments: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> RunRecord:
        """Record a new run as running and return its id and sequence number; `arguments`
        are what the run was asked to do, kept for resuming it. `run_id` is one made by
        `new_run_id` beforehand (a run takes its locks under its id before it is recorded)."""
        run_id = run_id or new_run_id()
        stamp = now_iso()
        with self.db.transaction() as tx:
            rows = tx.execute(
                "INSERT INTO hw_runs (run_id, command, selector, status, started_at, pid, "
                "hostname, threads, full_refresh, heartbeat_at, resumed_from, arguments) VALUES "
                "(:run_id, :command, :selector, :status, :started_at, :pid, :hostname, "
                ":threads, :full_refresh, :started_at, :resumed_from, :arguments) RETURNING seq",
                {
                    "run_id": run_id,
                    "command": command,
                    "selector": selector,
                    "status": RunStatus.RUNNING,
                    "started_at": stamp,
                    "pid": os.getpid(),
                    "hostname": socket.gethostname(),
                    "threads": threads,
                    "full_refresh": int(full_refresh),
                    "resumed_from": resumed_from,
                    "arguments": json.dumps(arguments) if arguments else None,
                },
            )
        return RunRecord(run_id, int(rows[0]["seq"]))

    def last_success(self, asset: str) -> dt.datetime | None:
        """When `asset` was last built successfully (None: never)."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT finished_at FROM hw_asset_results WHERE asset = :asset AND "
                "status = :success AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                {"asset": asset, "success": BuildStatus.SUCCESS},
            )
        if not rows:
            return None
        moment = dt.datetime.fromisoformat(str(rows[0]["finished_at"]))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """Mark a run finished with `status` (success, failed, interrupted)."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE hw_runs SET status = :status, finished_at = :finished_at, error = :error "
                "WHERE run_id = :run_id",
                {"status": status, "finished_at": now_iso(), "error": error, "run_id": run_id},
            )

    def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs still marked running: live ones, and those whose process died
        (`orchestrate.lock.run_alive` tells them apart)."""
        with self.db.transaction(write=False) as tx:
            return tx.execute(
                f"SELECT {_RUN_COLUMNS} FROM hw_runs WHERE status = :running ORDER BY seq",
                {"running": RunStatus.RUNNING},
            )

    def runs(self, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
        """The most recent runs (with `status` only, when given), newest first, with counts of
        asset results by status."""
        where = "WHERE status = :status " if status else ""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_RUN_COLUMNS} FROM hw_runs {where}ORDER BY seq DESC LIMIT :limit",
                {"limit": limit, "status": status},
            )
            counts = tx.execute(
                "SELECT run_id, status, count(*) AS n FROM hw_asset_results WHERE run_id IN "
                f"(SELECT run_id FROM hw_runs {where}ORDER BY seq DESC LIMIT :limit) "
                "GROUP BY run_id, status",
                {"limit": limit, "status": status},
            )
        return with_status_counts(rows, counts)

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id (a unique prefix is enough)."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_RUN_COLUMNS} FROM hw_runs "
                "WHERE substr(run_id, 1, :length) = :prefix LIMIT 2",
                {"length": len(run_id), "prefix": run_id},
            )
        return rows[0] if len(rows) == 1 else None

    # -- asset results ---------------------------------------------------------------------

    def start_asset(
        self,
        run_id: str,
        asset: str,
        materialization: str,
        fingerprint: str | None,
        partition: str | None = None,
    ) -> int:
        """Record that an asset (one of its partitions) began building; return the result's
        id."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "INSERT INTO hw_asset_results (run_id, asset, status, materialization, "
                "started_at, fingerprint, partition_key) VALUES (:run_id, :asset, :status, "
                ":materialization, :started_at, :fingerprint, :partition) RETURNING id",
                {
                    "run_id": run_id,
                    "asset": asset,
                    "status": BuildStatus.RUNNING,
                    "materialization": materialization,
                    "started_at": now_iso(),
                    "fingerprint": fingerprint,
                    "partition": partition,
                },
            )
        return int(rows[0]["id"])

    # -- partitions ------------------------------------------------------------------------

    def set_partition(
        self,
        asset: str,
        partition: str,
        status: str,
        run_id: str,
        *,
        version: int | None = None,
        rows: int | None = None,
        definition_hash: str | None = None,
        fingerprint: str | None = None,
        message: str | None = None,
    ) -> None:
        """Record how a partition's latest build ended (upsert)."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO hw_partitions (asset, partition_key, status, run_id, delta_version, "
                "rows_written, definition_hash, fingerprint, message, updated_at) VALUES "
                "(:asset, :partition, :status, :run_id, :version, :rows, :definition_hash, "
                ":fingerprint, :message, :now) ON CONFLICT (asset, partition_key) DO UPDATE SET "
                "status = excluded.status, run_id = excluded.run_id, "
                "delta_version = excluded.delta_version, rows_written = excluded.rows_written, "
                "definition_hash = excluded.definition_hash, fingerprint = excluded.fingerprint, "
                "message = excluded.message, updated_at = excluded.updated_at",
                {
                    "asset": asset,
                    "partition": partition,
                    "status": status,
                    "run_id": run_id,
                    "version": version,
                    "rows": rows,
                    "definition_hash": definition_hash,
                    "fingerprint": fingerprint,
                    "message": message,
                    "now": now_iso(),
                },
            )

    def partitions(self, asset: str) -> dict[str, dict[str, Any]]:
        """The recorded state of every built (or failed) partition of `asset`, by key."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT partition_key, status, run_id, delta_version, rows_written, "
                "definition_hash, fingerprint, message, updated_at FROM hw_partitions "
                "WHERE asset = :asset",
                {"asset": asset},
            )
        return {r["partition_key"]: r for r in rows}

    def finish_asset(
        self,
        result_id: int,
        status: str,
        *,
        rows: int | None = None,
        version: int | None = None,
        duration_s: float | None = None,
        message: str | None = None,
        attempts: int | None = None,
    ) -> None:
        """Record how an asset's build ended (after how many attempts)."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE hw_asset_results SET status = :status, rows_written = :rows, "
                "delta_version = :version, duration_s = :duration_s, finished_at = :finished_at, "
                "message = :message, attempts = :attempts WHERE id = :id",
                {
                    "status": status,
                    "rows": rows,
                    "version": version,
                    "duration_s": duration_s,
                    "finished_at": now_iso(),
                    "message": message,
                    "attempts": attempts,
                    "id": result_id,
                },
            )

    def record_attempt(
        self,
        result_id: int,
        run_id: str,
        asset: str,
        attempt: int,
        status: str,
        started_at: str,
        duration_s: float,
        error: str | None = None,
        logs: str | None = None,
    ) -> None:
        """Keep one attempt of an asset's build: how it ended, its error and its log lines."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO hw_asset_attempts (result_id, run_id, asset, attempt, status, "
                "started_at, finished_at, duration_s, error, logs) VALUES (:result_id, "
                ":run_id, :asset, :attempt, :status, :started_at, :finished_at, :duration_s, "
                ":error, :logs)",
                {
                    "result_id": result_id,
                    "run_id": run_id,
                    "asset": asset,
                    "attempt": attempt,
                    "status": status,
                    "started_at": started_at,
                    "finished_at": now_iso(),
                    "duration_s": duration_s,
                    "error": error,
                    "logs": logs,
                },
            )

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of every asset of one run, in the order they started."""
        with self.db.transaction(write=False) as tx:
            return tx.execute(
                "SELECT result_id, asset, attempt, status, started_at, finished_at, duration_s, "
                "error, logs FROM hw_asset_attempts WHERE run_id = :run_id ORDER BY id",
                {"run_id": run_id},
            )

    def heartbeat(self, run_id: str) -> None:
        """Note that the process running `run_id` is alive."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE hw_runs SET heartbeat_at = :now WHERE run_id = :run_id",
                {"now": now_iso(), "run_id": run_id},
            )

    def record_assets(self, run_id: str, results: list[dict[str, Any]]) -> None:
        """Record finished results that needed no build (up to date, skipped) in one go.

        Each result gives `asset`, `status`, and optionally `materialization`, `fingerprint`,
        `delta_version` and `message`.
        """
        if not results:
            return
        stamp = now_iso()
        with self.db.transaction() as tx:
            tx.execute_many(
                "INSERT INTO hw_asset_results (run_id, asset, status, materialization, "
                "delta_version, duration_s, started_at, finished_at, fingerprint, message) "
                "VALUES (:run_id, :asset, :status, :materialization, :delta_version, 0.0, "
                ":stamp, :stamp, :fingerprint, :message)",
                [
                    {
                        "run_id": run_id,
                        "stamp": stamp,
                        "materialization": None,
                        "delta_version": None,
                        "fingerprint": None,
                        "message": None,
                        **result,
                    }
                    for result in results
                ],
            )

    def results(self, run_id: str) -> list[dict[str, Any]]:
        """Every asset result of one run, in the order they started."""
        with self.db.transaction(write=False) as tx:
            return tx.execute(
                f"SELECT {_RESULT_COLUMNS} FROM hw_asset_results WHERE run_id = :run_id "
                "ORDER BY id",
                {"run_id": run_id},
            )

    def running_results(self, run_id: str) -> list[dict[str, Any]]:
        """Results of a run still marked running (their commit may or may not have landed)."""
        return [r for r in self.results(run_id) if r["status"] == BuildStatus.RUNNING]

    def result_status(self, result_id: int) -> str | None:
        """Return the status of one asset result (None: there is no such result)."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT status FROM hw_asset_results WHERE id = :id", {"id": result_id}
            )
        return str(rows[0]["status"]) if rows else None

    def asset_results(self, asset: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest results of one asset, newest first."""
        with self.db.transaction(write=False) as tx:
            return tx.execute(
                f"SELECT {_RESULT_COLUMNS} FROM hw_asset_results WHERE asset = :asset "
                "ORDER BY id DESC LIMIT :limit",
                {"asset": asset, "limit": limit},
            )

    # -- asset state -----------------------------------------------------------------------

    def states(self) -> dict[str, AssetState]:
        """The recorded build state of every asset."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT asset, fingerprint, delta_version, materialization, run_id, state_json "
                "FROM hw_asset_state"
            )
        return {
            r["asset"]: AssetState(
                r["asset"],
                r["fingerprint"],
                r["delta_version"],
                r["materialization"],
                r["run_id"],
                json.loads(r["state_json"]) if r["state_json"] else {},
            )
            for r in rows
        }

    def set_state(
        self,
        asset: str,
        fingerprint: str,
        delta_version: int | None,
        materialization: str,
        run_id: str,
        state: dict[str, Any] | None = None,
    ) -> None:
        """Record what `asset` was just built from (upsert)."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO hw_asset_state (asset, fingerprint, delta_version, materialization, "
                "run_id, updated_at, state_json) VALUES (:asset, :fingerprint, :delta_version, "
                ":materialization, :run_id, :updated_at, :state_json) "
                "ON CONFLICT (asset) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "delta_version = excluded.delta_version, "
                "materialization = excluded.materialization, run_id = excluded.run_id, "
                "updated_at = excluded.updated_at, state_json = excluded.state_json",
                {
                    "asset": asset,
                    "fingerprint": fingerprint,
                    "delta_version": delta_version,
                    "materialization": materialization,
                    "run_id": run_id,
                    "updated_at": now_iso(),
                    "state_json": json.dumps(state) if state else None,
                },
            )

    def forget_state(self, asset: str) -> None:
        """Drop an asset's recorded state so its next run rebuilds it."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM hw_asset_state WHERE asset = :asset", {"asset": asset})


def with_status_counts(
    rows: list[dict[str, Any]], counts: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`rows` (runs) each given `counts`: its assets' result count per status, from `counts`
    rows of (run_id, status, n)."""
    by_run: dict[str, dict[str, int]] = {}
    for count in counts:
        by_run.setdefault(count["run_id"], {})[count["status"]] = int(count["n"])
    for row in rows:
        row["counts"] = by_run.get(row["run_id"], {})
    return rows
