"""The scheduler's state in the catalog: its lock, each job's last tick, sensor cursors, and
the incidents alerts are deduplicated by.

Keeping it in the catalog (not in the scheduler's memory) is what lets a restarted scheduler
catch up on the ticks it missed, a second scheduler see that one is already running (and whose
heartbeat it is), and an alert be sent once per incident however many checks notice it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from headwater.catalog.statuses import RunStatus
from headwater.catalog.store import Catalog, now_iso

LOCK_NAME = "scheduler"


@dataclass(frozen=True)
class LockHolder:
    """Who holds the scheduler lock, and when it last said it was alive."""

    holder: str
    started_at: str
    heartbeat_at: str

    def age_s(self, now: dt.datetime) -> float:
        """Seconds since the holder's last heartbeat."""
        return (now - dt.datetime.fromisoformat(self.heartbeat_at)).total_seconds()


def acquire_lock(
    catalog: Catalog, holder: str, now: dt.datetime, stale_after_s: float
) -> LockHolder | None:
    """Take the scheduler lock for `holder`; return the other holder when it is alive (its
    heartbeat younger than `stale_after_s`), else None (the lock is ours)."""
    stamp = now.isoformat()
    with catalog.db.transaction() as tx:
        rows = tx.execute(
            "SELECT holder, started_at, heartbeat_at FROM hw_scheduler WHERE name = :name",
            {"name": LOCK_NAME},
        )
        if rows:
            current = LockHolder(**rows[0])
            if current.holder != holder and current.age_s(now) < stale_after_s:
                return current
            tx.execute(
                "UPDATE hw_scheduler SET holder = :holder, started_at = :now, "
                "heartbeat_at = :now WHERE name = :name AND holder = :old",
                {"holder": holder, "now": stamp, "name": LOCK_NAME, "old": current.holder},
            )
        else:
            tx.execute(
                "INSERT INTO hw_scheduler (name, holder, started_at, heartbeat_at) VALUES "
                "(:name, :holder, :now, :now)",
                {"name": LOCK_NAME, "holder": holder, "now": stamp},
            )
    found = lock_holder(catalog)
    if found is None or found.holder != holder:  # another scheduler won the race
        return found
    return None


def lock_holder(catalog: Catalog) -> LockHolder | None:
    """The scheduler lock's holder, if any."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT holder, started_at, heartbeat_at FROM hw_scheduler WHERE name = :name",
            {"name": LOCK_NAME},
        )
    return LockHolder(**rows[0]) if rows else None


def heartbeat(catalog: Catalog, holder: str, now: dt.datetime) -> bool:
    """Renew the lock's heartbeat; False when `holder` no longer holds it."""
    with catalog.db.transaction() as tx:
        tx.execute(
            "UPDATE hw_scheduler SET heartbeat_at = :now WHERE name = :name AND holder = :holder",
            {"now": now.isoformat(), "name": LOCK_NAME, "holder": holder},
        )
    found = lock_holder(catalog)
    return found is not None and found.holder == holder


def release_lock(catalog: Catalog, holder: str) -> None:
    """Give the lock up (only if `holder` holds it)."""
    with catalog.db.transaction() as tx:
        tx.execute(
            "DELETE FROM hw_scheduler WHERE name = :name AND holder = :holder",
            {"name": LOCK_NAME, "holder": holder},
        )


def job_states(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Each job's last evaluated tick and last run, by job name."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT job, last_tick, last_run_id, last_status, last_finished_at FROM hw_job_state"
        )
    return {r["job"]: r for r in rows}


def set_job_state(
    catalog: Catalog,
    job: str,
    last_tick: dt.datetime | None,
    run_id: str | None = None,
    status: RunStatus | None = None,
) -> None:
    """Record a job's latest handled tick (and the run it made, if any, with how it ended)."""
    with catalog.db.transaction() as tx:
        tx.execute(
            "INSERT INTO hw_job_state (job, last_tick, last_run_id, last_status, "
            "last_finished_at) VALUES (:job, :tick, :run_id, :status, :finished) "
            "ON CONFLICT (job) DO UPDATE SET last_tick = excluded.last_tick, "
            "last_run_id = coalesce(excluded.last_run_id, hw_job_state.last_run_id), "
            "last_status = coalesce(excluded.last_status, hw_job_state.last_status), "
            "last_finished_at = coalesce(excluded.last_finished_at, "
            "hw_job_state.last_finished_at)",
            {
                "job": job,
                "tick": last_tick.isoformat() if last_tick else None,
                "run_id": run_id,
                "status": status,
                "finished": now_iso() if run_id else None,
            },
        )


def sensor_state(catalog: Catalog, sensor: str) -> dict[str, Any] | None:
    """A sensor's cursor and last evaluation."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT cursor_value, evaluated_at, last_run_id FROM hw_sensor_state "
            "WHERE sensor = :sensor",
            {"sensor": sensor},
        )
    return rows[0] if rows else None


def set_sensor_state(
    catalog: Catalog,
    sensor: str,
    cursor: str | None,
    evaluated_at: dt.datetime,
    run_id: str | None = None,
) -> None:
    """Keep a sensor's cursor, when it was evaluated (by the scheduler's clock) and the run
    its last request made."""
    with catalog.db.transaction() as tx:
        tx.execute(
            "INSERT INTO hw_sensor_state (sensor, cursor_value, evaluated_at, last_run_id) "
            "VALUES (:sensor, :cursor, :now, :run_id) ON CONFLICT (sensor) DO UPDATE SET "
            "cursor_value = excluded.cursor_value, evaluated_at = excluded.evaluated_at, "
            "last_run_id = coalesce(excluded.last_run_id, hw_sensor_state.last_run_id)",
            {
                "sensor": sensor,
                "cursor": cursor,
                "now": evaluated_at.isoformat(),
                "run_id": run_id,
            },
        )


def open_incident(catalog: Catalog, incident: str, kind: str, subject: str, message: str) -> bool:
    """Open incident `incident` unless it is open already; return True when it is new."""
    with catalog.db.transaction() as tx:
        rows = tx.execute(
            "SELECT resolved_at FROM hw_incidents WHERE incident = :incident",
            {"incident": incident},
        )
        if rows and rows[0]["resolved_at"] is None:
            return False
        tx.execute(
            "INSERT INTO hw_incidents (incident, kind, subject, opened_at, resolved_at, message) "
            "VALUES (:incident, :kind, :subject, :now, NULL, :message) "
            "ON CONFLICT (incident) DO UPDATE SET opened_at = excluded.opened_at, "
            "resolved_at = NULL, message = excluded.message",
            {
                "incident": incident,
                "kind": kind,
                "subject": subject,
                "now": now_iso(),
                "message": message,
            },
        )
    return True


def resolve_incident(catalog: Catalog, incident: str) -> dict[str, Any] | None:
    """Close incident `incident`; return it when it was open (else None)."""
    with catalog.db.transaction() as tx:
        rows = tx.execute(
            "SELECT incident, kind, subject, opened_at, message FROM hw_incidents "
            "WHERE incident = :incident AND resolved_at IS NULL",
            {"incident": incident},
        )
        if not rows:
            return None
        tx.execute(
            "UPDATE hw_incidents SET resolved_at = :now WHERE incident = :incident",
            {"now": now_iso(), "incident": incident},
        )
    return rows[0]


def open_incidents(catalog: Catalog) -> list[dict[str, Any]]:
    """Every incident not yet resolved (with whether its alert was delivered)."""
    with catalog.db.transaction(write=False) as tx:
        return tx.execute(
            "SELECT incident, kind, subject, opened_at, message, delivered FROM hw_incidents "
            "WHERE resolved_at IS NULL ORDER BY opened_at"
        )


def mark_delivered(catalog: Catalog, incident: str, delivered: bool) -> None:
    """Record whether the alert of an open incident reached a channel."""
    with catalog.db.transaction() as tx:
        tx.execute(
            "UPDATE hw_incidents SET delivered = :delivered WHERE incident = :incident",
            {"delivered": int(delivered), "incident": incident},
        )
