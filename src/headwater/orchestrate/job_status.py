"""The jobs as `headwater jobs` lists them: each job's schedule, its next tick and how its last
run ended (the scheduler keeps the last run of each job in the catalog).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.orchestrate.scheduled import ScheduledProject


def job_status(project: ScheduledProject) -> list[dict[str, Any]]:
    """Every job of `project` (from `headwater.yml` and `schedules.py`): its cron, time zone,
    selection, next tick from now (None when disabled or sensor-driven) and its last run's id,
    status and end."""
    from headwater.catalog.scheduling import job_states
    from headwater.orchestrate.scheduler import Scheduler

    service = Scheduler(project)
    states = job_states(project.catalog)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for name, job in service.jobs.items():
        state = states.get(name) or {}
        following = service.next_tick(job, now) if job.enabled else None
        rows.append(
            {
                "job": name,
                "cron": job.cron,
                "timezone": job.timezone,
                "select": " ".join(job.select) or "(all)",
                "next_tick": following.isoformat(timespec="minutes") if following else None,
                "last_run_id": state.get("last_run_id"),
                "last_status": state.get("last_status"),
                "last_finished_at": state.get("last_finished_at"),
            }
        )
    return rows
