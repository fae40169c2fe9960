"""Each stream's progress in the catalog: what `headwater stream status`, the UI and `/metrics`
show, also for a stream running in another process or on another machine.

One row per stream, replaced as the stream commits (at most about once a second) and when it
starts and stops. The numbers are a report: the stream's checkpoint and its table are the truth.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from dataclasses import dataclass, field
from typing import Any

from headwater.catalog.store import Catalog, now_iso

STALE_S = 60.0
"""A stream recorded as running whose run has not said it is alive for this long is taken to
have died (killed without a chance to record it)."""
RUNNING = "running"
STOPPED = "stopped"
FAILED = "failed"

_COLUMNS = (
    "stream",
    "status",
    "run_id",
    "pid",
    "hostname",
    "started_at",
    "updated_at",
    "batch",
    "delta_version",
    "committed_at",
    "watermark",
    "events_total",
    "rows_total",
    "rejected_total",
    "late_total",
    "events_per_s",
    "latency_p50_s",
    "latency_p99_s",
    "lag_total",
    "lag_json",
    "error",
)


@dataclass
class StreamProgress:
    """One stream's progress as recorded."""

    stream: str
    status: str
    run_id: str | None = None
    pid: int | None = None
    hostname: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    batch: int | None = None
    delta_version: int | None = None
    committed_at: str | None = None
    watermark: str | None = None
    events_total: int | None = None
    rows_total: int | None = None
    rejected_total: int | None = None
    late_total: int | None = None
    events_per_s: float | None = None
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    lag_total: int | None = None
    lag: dict[str, int | None] = field(default_factory=dict)
    error: str | None = None
    alive: bool = False
    """Recorded as running, and its run's heartbeat is fresh (read, not recorded)."""


def record_progress(catalog: Catalog, progress: StreamProgress) -> None:
    """Replace the stream's row with `progress` (stamped now, with this host's name)."""
    values: dict[str, Any] = {
        name: getattr(progress, name) for name in _COLUMNS if name not in ("lag_json",)
    }
    values["updated_at"] = now_iso()
    values["hostname"] = progress.hostname or socket.gethostname()
    values["lag_json"] = json.dumps(progress.lag, sort_keys=True)
    names = ", ".join(_COLUMNS)
    placeholders = ", ".join(f":{c}" for c in _COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "stream")
    with catalog.db.transaction() as tx:
        tx.execute(
            f"INSERT INTO hw_stream_progress ({names}) VALUES ({placeholders}) "
            f"ON CONFLICT (stream) DO UPDATE SET {updates}",
            values,
        )


def stream_progress(catalog: Catalog) -> dict[str, StreamProgress]:
    """Every stream's last recorded progress, by stream key."""
    columns = ", ".join(f"p.{c}" for c in _COLUMNS)
    with catalog.db.transaction() as tx:
        rows = tx.execute(
            f"SELECT {columns}, r.status AS run_status, r.heartbeat_at "
            "FROM hw_stream_progress p LEFT JOIN hw_runs r ON r.run_id = p.run_id"
        )
    now = dt.datetime.now(dt.UTC)
    found = {}
    for row in rows:
        values = dict(row)
        run_status, beat = values.pop("run_status"), values.pop("heartbeat_at")
        lag = json.loads(values.pop("lag_json") or "{}")
        progress = StreamProgress(**values, lag=lag)
        seen = [_moment(t) for t in (beat, progress.updated_at) if t]
        fresh = any(s is not None and (now - s).total_seconds() < STALE_S for s in seen)
        progress.alive = progress.status == RUNNING and run_status == RUNNING and fresh
        found[progress.stream] = progress
    return found


def _moment(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
