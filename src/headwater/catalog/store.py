"""The catalog: runs, per-asset results and the state each asset was last built from.

A real database through SQLAlchemy: a SQLite file in the project by default (WAL mode, so readers
never block the run writing), or PostgreSQL by URL. The schema is created and upgraded by
versioned migrations on first use.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.engine import make_url

from headwater.catalog import schema
from headwater.catalog.migrations import migrate
from headwater.errors import ConfigError, Location


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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str) -> Engine:
    """Create a SQLAlchemy engine for a catalog URL (WAL mode and a busy timeout for SQLite)."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(
            f"catalog URL '{url}' is not a valid SQLAlchemy URL",
            Location(file="headwater.yml"),
            "use sqlite:///path/catalog.db or postgresql+psycopg://user@host/db",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Catalog:
    """Reads and writes Headwater's metadata."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = open_engine(url)
        migrate(self.engine)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self, command: str, selector: str | None, threads: int, full_refresh: bool
    ) -> RunRecord:
        """Record a new run as running and return its id and sequence number."""
        run_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as connection:
            result = connection.execute(
                schema.runs.insert().values(
                    run_id=run_id,
                    command=command,
                    selector=selector,
                    status="running",
                    started_at=now_iso(),
                    pid=os.getpid(),
                    hostname=socket.gethostname(),
                    threads=threads,
                    full_refresh=int(full_refresh),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            seq = int(key[0])
        return RunRecord(run_id, seq)

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        """Mark a run finished with `status` (success, failed, interrupted)."""
        with self.engine.begin() as connection:
            connection.execute(
                update(schema.runs)
                .where(schema.runs.c.run_id == run_id)
                .values(status=status, finished_at=now_iso(), error=error)
            )

    def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs still marked running (their process died if no run lock is held)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(schema.runs).where(schema.runs.c.status == "running")
            ).mappings()
            return [dict(r) for r in rows]

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent runs, newest first, with counts of asset results by status."""
        with self.engine.connect() as connection:
            rows = [
                dict(r)
                for r in connection.execute(
                    select(schema.runs).order_by(schema.runs.c.seq.desc()).limit(limit)
                ).mappings()
            ]
            if not rows:
                return rows
            counts = connection.execute(
                select(
                    schema.asset_results.c.run_id,
                    schema.asset_results.c.status,
                    func.count(),
                )
                .where(schema.asset_results.c.run_id.in_([r["run_id"] for r in rows]))
                .group_by(schema.asset_results.c.run_id, schema.asset_results.c.status)
            ).all()
        by_run: dict[str, dict[str, int]] = {}
        for run_id, status, count in counts:
            by_run.setdefault(run_id, {})[status] = count
        for row in rows:
            row["counts"] = by_run.get(row["run_id"], {})
        return rows

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id (a unique prefix is enough)."""
        with self.engine.connect() as connection:
            rows = (
                connection.execute(
                    select(schema.runs).where(schema.runs.c.run_id.like(f"{run_id}%")).limit(2)
                )
                .mappings()
                .all()
            )
        return dict(rows[0]) if len(rows) == 1 else None

    # -- asset results ---------------------------------------------------------------------

    def start_asset(
        self, run_id: str, asset: str, materialization: str, fingerprint: str | None
    ) -> int:
        """Record that an asset began building; return the result's id."""
        with self.engine.begin() as connection:
            result = connection.execute(
                schema.asset_results.insert().values(
                    run_id=run_id,
                    asset=asset,
                    status="running",
                    materialization=materialization,
                    started_at=now_iso(),
                    fingerprint=fingerprint,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_asset(
        self,
        result_id: int,
        status: str,
        *,
        rows: int | None = None,
        version: int | None = None,
        duration_s: float | None = None,
        message: str | None = None,
    ) -> None:
        """Record how an asset's build ended."""
        with self.engine.begin() as connection:
            connection.execute(
                update(schema.asset_results)
                .where(schema.asset_results.c.id == result_id)
                .values(
                    status=status,
                    rows_written=rows,
                    delta_version=version,
                    duration_s=duration_s,
                    finished_at=now_iso(),
                    message=message,
                )
            )

    def record_assets(self, run_id: str, results: list[dict[str, Any]]) -> None:
        """Record finished results that needed no build (up to date, skipped) in one go."""
        if not results:
            return
        stamp = now_iso()
        with self.engine.begin() as connection:
            connection.execute(
                schema.asset_results.insert(),
                [
                    {
                        "run_id": run_id,
                        "started_at": stamp,
                        "finished_at": stamp,
                        "duration_s": 0.0,
                        **result,
                    }
                    for result in results
                ],
            )

    def results(self, run_id: str) -> list[dict[str, Any]]:
        """Every asset result of one run, in the order they started."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(schema.asset_results)
                .where(schema.asset_results.c.run_id == run_id)
                .order_by(schema.asset_results.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def running_results(self, run_id: str) -> list[dict[str, Any]]:
        """Results of a run still marked running (their commit may or may not have landed)."""
        return [r for r in self.results(run_id) if r["status"] == "running"]

    def asset_results(self, asset: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest results of one asset, newest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(schema.asset_results)
                .where(schema.asset_results.c.asset == asset)
                .order_by(schema.asset_results.c.id.desc())
                .limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    # -- asset state -----------------------------------------------------------------------

    def states(self) -> dict[str, AssetState]:
        """The recorded build state of every asset."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(schema.asset_state)).mappings().all()
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
        values = {
            "fingerprint": fingerprint,
            "delta_version": delta_version,
            "materialization": materialization,
            "run_id": run_id,
            "updated_at": now_iso(),
            "state_json": json.dumps(state) if state else None,
        }
        with self.engine.begin() as connection:
            updated = connection.execute(
                update(schema.asset_state)
                .where(schema.asset_state.c.asset == asset)
                .values(**values)
            )
            if updated.rowcount == 0:
                connection.execute(schema.asset_state.insert().values(asset=asset, **values))

    def forget_state(self, asset: str) -> None:
        """Drop an asset's recorded state so its next run rebuilds it."""
        with self.engine.begin() as connection:
            connection.execute(
                schema.asset_state.delete().where(schema.asset_state.c.asset == asset)
            )
