"""The scheduler: runs jobs on their cron ticks and when sensors fire, alone, unattended.

At most one scheduler per project: it holds a lock in the catalog and renews its heartbeat, so
a second one refuses to start and names the holder, and a crashed one's lock goes stale and can
be taken over. Each job's last handled tick is in the catalog, so after downtime the missed
ticks are handled by the job's `catch_up` policy; a tick whose run is refused because another run
holds one of its assets is tried again at every evaluation until the locks free up (or, unless
`catch_up: all`, until the job's next tick is due). Every evaluation (`step`) also settles runs
whose process died (as the next run would: each build whose commit landed is recorded as the
success it was) and marks them failed, evaluates due sensors, checks freshness SLAs and streams'
lag, and alerts once per incident. Streams with `supervise:` run for as long as the scheduler
serves, restarted with backoff when they fail (`stream_supervision.py`). SIGTERM lets the
running assets finish and the streams commit their batch in hand, starts nothing new, and exits.

Time comes from a `clock`, so a test can drive the scheduler minute by minute without sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from headwater.catalog import scheduling
from headwater.catalog.statuses import BuildStatus, CheckStatus, RunStatus
from headwater.errors import HeadwaterError, Location, RunLockedError
from headwater.orchestrate.alerts import Alerter
from headwater.orchestrate.sensors import (
    RunRequest,
    Sensor,
    SensorContext,
    load_schedules,
    python_sensor,
)
from headwater.orchestrate.stream_supervision import StreamSupervisor
from headwater.project.config import JobConfig
from headwater.project.strict import duration_seconds
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    from headwater.orchestrate.results import RunSummary
    from headwater.orchestrate.scheduled import ScheduledProject

_LOG = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
NONE_GRACE_S = 5.0
"""`catch_up: none` still runs a tick this much later than two polls (the scheduler's own
evaluation delay); an older one was missed."""


class SchedulerLockedError(HeadwaterError):
    """Another scheduler holds the project's scheduler lock."""


@dataclass
class Step:
    """What one evaluation did."""

    runs: list[tuple[str, RunSummary]] = field(default_factory=list)
    """(job, summary) for each run started."""
    skipped_ticks: list[tuple[str, dt.datetime]] = field(default_factory=list)
    stale_runs: list[str] = field(default_factory=list)
    locked_ticks: list[tuple[str, dt.datetime, str]] = field(default_factory=list)
    """(job, tick, why) for each tick whose run was refused because another run holds one of
    its assets: it is tried again at the next evaluation."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Scheduler:
    """Runs a project's jobs; `serve()` until stopped, or `step(now)` one evaluation."""

    def __init__(
        self,
        project: ScheduledProject,
        *,
        clock: Clock = _utc_now,
        stale_after_s: float = 60.0,
        poll_s: float = 1.0,
        holder: str | None = None,
    ) -> None:
        self.project = project
        self.clock = clock
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.stop = threading.Event()
        """Set it (SIGTERM does) to finish the current run's running assets and exit."""
        definition = project.definition
        python_jobs, python_sensors = load_schedules(definition.root)
        self.jobs: dict[str, JobConfig] = {**definition.config.jobs, **python_jobs}
        self.sensors: list[Sensor] = [
            python_sensor(definition.root, name, config)
            if config.type == "python"
            else Sensor(name, config)
            for name, config in definition.config.sensors.items()
        ] + python_sensors
        for found in self.sensors:
            if found.config.job is not None and found.config.job not in self.jobs:
                raise HeadwaterError(
                    f"sensor {found.name} runs job '{found.config.job}', which is not defined",
                    Location(file="headwater.yml"),
                    "define the job under 'jobs:' (or in schedules.py)",
                )
        self.alerter = Alerter(project.catalog, definition.config.alerts, definition.root)
        self.streams = StreamSupervisor(project, self.alerter, self.stop)
        """Runs the streams that ask to be supervised while the scheduler serves."""
        self._check_selections()
        self._beating = threading.Event()
        self._held_back: dict[str, dt.datetime] = {}
        """Per job, the tick whose run another run's locks refused (tried again next poll)."""

    def _check_selections(self) -> None:
        """Every job's selection picks assets (a typo is an error now, not at 2 a.m.)."""
        from headwater.errors import UsageError
        from headwater.orchestrate.selectors import Selector

        selector = Selector(self.project.definition)
        for name, job in self.jobs.items():
            try:
                selector.select(job.select or None, job.exclude or None)
            except UsageError as exc:
                raise HeadwaterError(
                    f"job {name}: {exc.message}",
                    Location(file="headwater.yml"),
                    exc.hint or "fix the job's 'select'",
                    exit_code=2,
                ) from None

    # -- the lock --------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the project's scheduler lock, or raise naming who holds it."""
        other = scheduling.acquire_lock(
            self.project.catalog, self.holder, self.clock(), self.stale_after_s
        )
        if other is not None:
            raise SchedulerLockedError(
                f"a scheduler is already running for this project ({other.holder}, started "
                f"{other.started_at[:19]}, last heartbeat {other.heartbeat_at[:19]}); this one "
                "was not started",
                Location(file=str(self.project.root / "headwater.yml")),
                "stop the other scheduler first; a crashed one's lock is taken over once its "
                f"heartbeat is {self.stale_after_s:g} s old",
            )

    def release(self) -> None:
        """Give the lock up."""
        scheduling.release_lock(self.project.catalog, self.holder)

    # -- serving ---------------------------------------------------------------------------

    def serve(self, on_step: Callable[[Step], None] | None = None) -> None:
        """Evaluate every `poll_s` seconds until `stop` is set; SIGTERM and SIGINT set it."""
        self.acquire()
        previous = self._install_signals()
        beat = threading.Thread(target=self._heartbeat_loop, daemon=True, name="hw-scheduler")
        beat.start()
        self.streams.start()
        try:
            while not self.stop.is_set():
                result = self.step(self.clock())
                if on_step is not None:
                    on_step(result)
                self.stop.wait(self.poll_s)
        finally:
            self.stop.set()
            self.streams.join()
            self._beating.set()
            beat.join()
            self._restore_signals(previous)
            self.release()

    def _heartbeat_loop(self) -> None:
        interval = max(0.5, self.stale_after_s / 4)
        while not self._beating.wait(interval):
            try:
                if not scheduling.heartbeat(self.project.catalog, self.holder, self.clock()):
                    _LOG.error("the scheduler lock was taken over; stopping")
                    self.stop.set()
            except Exception as exc:  # the next beat may get through
                _LOG.warning("scheduler heartbeat failed: %s", exc)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for number in (signal.SIGTERM, signal.SIGINT):
            previous[number] = signal.signal(number, lambda *_: self.stop.set())
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    # -- one evaluation --------------------------------------------------------------------

    def step(self, now: dt.datetime) -> Step:
        """Handle everything due at `now`: stale runs, job ticks, sensors, freshness SLAs."""
        result = Step()
        self._settle_stale_runs(now, result)
        states = scheduling.job_states(self.project.catalog)
        for name, job in self.jobs.items():
            if self.stop.is_set():
                break
            if job.cron is None or not job.enabled:
                continue
            self._tick(name, job, now, states.get(name), result)
        for found in self.sensors:
            if self.stop.is_set():
                break
            self._sense(found, now, result)
        if not self.stop.is_set():
            self._check_freshness(now)
            if self.streams.threads:
                self.streams.check_lag()
            self.streams.check_captures()
        self.alerter.redeliver()
        return result

    def due_ticks(
        self, job: JobConfig, last_tick: dt.datetime | None, now: dt.datetime
    ) -> list[dt.datetime]:
        """The job's ticks after `last_tick` up to `now` (aware UTC times)."""
        from croniter import croniter

        assert job.cron is not None
        zone = ZoneInfo(job.timezone)
        start = (last_tick or now).astimezone(zone)
        found: list[dt.datetime] = []
        iterator = croniter(job.cron, start)
        while True:
            tick = iterator.get_next(dt.datetime).astimezone(dt.UTC)
            if tick > now:
                return found
            found.append(tick)

    def next_tick(self, job: JobConfig, now: dt.datetime) -> dt.datetime | None:
        """The job's next tick after `now`."""
        if job.cron is None:
            return None
        from croniter import croniter

        iterator = croniter(job.cron, now.astimezone(ZoneInfo(job.timezone)))
        moment: dt.datetime = iterator.get_next(dt.datetime)
        return moment.astimezone(dt.UTC)

    def _tick(
        self,
        name: str,
        job: JobConfig,
        now: dt.datetime,
        state: dict[str, Any] | None,
        result: Step,
    ) -> None:
        catalog = self.project.catalog
        if state is None or state["last_tick"] is None:
            # a new job starts with the next tick; history is what backfills are for
            scheduling.set_job_state(catalog, name, now)
            return
        last = dt.datetime.fromisoformat(state["last_tick"])
        ticks = self.due_ticks(job, last, now)
        if not ticks:
            return
        if job.catch_up == "all":
            chosen = ticks
        elif job.catch_up == "latest":
            chosen = ticks[-1:]
        else:
            late = (now - ticks[-1]).total_seconds()
            retry = self._held_back.get(name) == ticks[-1]  # refused by locks: not missed
            chosen = ticks[-1:] if retry or late <= 2 * self.poll_s + NONE_GRACE_S else []
        for tick in ticks:
            if tick not in chosen:
                result.skipped_ticks.append((name, tick))
        for tick in chosen:
            if self.stop.is_set():
                return
            summary = self._run(name, job, f"schedule {tick.isoformat(timespec='minutes')}")
            if isinstance(summary, RunLockedError):
                # another run (a manual one) holds an asset of the job: this tick is not
                # done, it is tried again at the next poll; the job's state stays just before
                # it, so the ticks skipped on the way are not reported again
                self._held_back[name] = tick
                result.locked_ticks.append((name, tick, summary.message))
                scheduling.set_job_state(catalog, name, tick - dt.timedelta(microseconds=1))
                return
            self._held_back.pop(name, None)
            result.runs.append((name, summary))
            scheduling.set_job_state(catalog, name, tick, summary.run_id, summary.status)
        self._held_back.pop(name, None)
        scheduling.set_job_state(catalog, name, ticks[-1])

    def _run(
        self, name: str, job: JobConfig, reason: str, select: list[str] | None = None
    ) -> RunSummary | RunLockedError:
        """Run a job now and raise or resolve its alerts. A run that cannot start because
        another run holds one of its assets returns the `RunLockedError` (no alert: it is
        tried again); one that cannot start otherwise (the project no longer loads) is
        reported as a failed run."""
        from headwater.orchestrate.results import RunSummary

        _LOG.info("running job %s (%s)", name, reason)
        project = self.project
        incident = f"run:{name}"
        try:
            project.reload()
            summary = project.run(
                select or job.select or None,
                job.exclude or None,
                full_refresh=job.full_refresh,
                stop=self.stop,
                command=f"job {name}",
            )
        except RunLockedError as exc:
            _LOG.warning("job %s waits (%s): %s", name, reason, exc.message)
            return exc
        except HeadwaterError as exc:
            _LOG.error("job %s could not run: %s", name, exc)
            self.alerter.raise_incident(
                "run_failure",
                incident,
                f"job {name}",
                f"job {name} could not run ({reason}): {exc}",
            )
            return RunSummary("", RunStatus.FAILED)
        if summary.status == RunStatus.FAILED:
            failures = [o for o in summary.outcomes if o.status == BuildStatus.FAILED]
            detail = "; ".join(f"{o.key}: {_first_line(o.message)}" for o in failures)
            self.alerter.raise_incident(
                "run_failure",
                incident,
                f"job {name}",
                f"run {summary.run_id} of job {name} failed ({reason}): {detail}",
            )
        elif summary.status == RunStatus.SUCCESS:
            self.alerter.resolve(incident, f"job {name} succeeded again in run {summary.run_id}")
        self._check_results(summary)
        return summary

    def _check_results(self, summary: RunSummary) -> None:
        """Alert on checks that failed in a run, and resolve those that pass again."""
        from headwater.catalog.quality import check_history

        for outcome in summary.outcomes:
            if outcome.status not in (BuildStatus.SUCCESS, BuildStatus.FAILED):
                continue
            for result in check_history(self.project.catalog, outcome.key, 200):
                if result["run_id"] != summary.run_id:
                    continue
                incident = f"check:{outcome.key}:{result['check_name']}"
                if result["status"] in (CheckStatus.FAIL, CheckStatus.ERROR):
                    self.alerter.raise_incident(
                        "check_failure",
                        incident,
                        f"{outcome.key} {result['check_name']}",
                        f"check {result['check_name']} of {outcome.key} failed in run "
                        f"{summary.run_id}: {result['message']}",
                    )
                elif result["status"] == CheckStatus.PASS:
                    self.alerter.resolve(
                        incident, f"check {result['check_name']} of {outcome.key} passes again"
                    )

    def _sense(self, found: Sensor, now: dt.datetime, result: Step) -> None:
        catalog = self.project.catalog
        state = scheduling.sensor_state(catalog, found.name)
        if state is not None and state["evaluated_at"]:
            age = (now - dt.datetime.fromisoformat(state["evaluated_at"])).total_seconds()
            if age < duration_seconds(found.config.interval):
                return
        context = SensorContext(
            found.name, state["cursor_value"] if state else None, self.project.root, now
        )
        try:
            requests = found.evaluate(context, self._token)
        except Exception as exc:  # a broken sensor must not stop the scheduler
            _LOG.warning("sensor %s failed: %s", found.name, exc)
            return
        run_id = None
        for request in requests:
            job_name = request.job
            if job_name is None or job_name not in self.jobs:
                _LOG.warning("sensor %s asked for unknown job %r", found.name, job_name)
                continue
            summary = self._run(job_name, self.jobs[job_name], request.reason, request.select)
            if isinstance(summary, RunLockedError):
                # another run holds an asset of the job: the sensor's cursor stays, so it
                # asks again at the next poll
                result.locked_ticks.append((job_name, now, summary.message))
                return
            result.runs.append((job_name, summary))
            run_id = summary.run_id
        scheduling.set_sensor_state(catalog, found.name, context.new_cursor, now, run_id)

    def _token(self, name: str) -> str | None:
        asset = self.project.asset(name)
        return self.project.store.version_token(TableRef.of(asset))

    def _settle_stale_runs(self, now: dt.datetime, result: Step) -> None:
        """Settle runs whose process died, the way the next run would (`settle_dead_runs`):
        each build whose commit landed is recorded as the success it was, so resuming the run
        does not apply it again. A run on this machine is dead when its liveness file is free;
        one on another machine when its heartbeat is `stale_after_s` old. Settled runs are
        marked failed and alerted."""
        from headwater.catalog.store import new_run_id
        from headwater.orchestrate.lock import RunLocks
        from headwater.orchestrate.recording import settle_dead_runs

        catalog = self.project.catalog
        definition = self.project.definition

        def reason(run: dict[str, Any]) -> str:
            return (
                f"no heartbeat since {str(run['heartbeat_at'] or run['started_at'])[:19]}: the "
                f"process running it (pid {run['pid']} on {run['hostname']}) died; resume it "
                f"with 'headwater run --resume {run['run_id']}'"
            )

        # the claims of the builds it settles are borrowed under a run id of its own
        settler = RunLocks(catalog, definition.state_dir, new_run_id(), "scheduler")
        try:
            settled = settle_dead_runs(
                definition,
                catalog,
                self.project.store,
                settler,
                stale_after_s=self.stale_after_s,
                now=now,
                status=RunStatus.FAILED,
                reason=reason,
            )
        finally:
            settler.release()
        for run in settled:
            result.stale_runs.append(run["run_id"])
            command = str(run["command"])
            # a job's runs are `job <name>`: the same incident its next success resolves
            subject = command.removeprefix("job ")
            self.alerter.raise_incident("run_failure", f"run:{subject}", command, reason(run))

    def _check_freshness(self, now: dt.datetime) -> None:
        """Alert on assets whose last successful build is older than their SLA."""
        definition = self.project.definition
        for asset in definition.assets.values():
            lag = asset.freshness_lag_s
            if lag is None:
                continue
            incident = f"sla:{asset.key}"
            last = self.project.catalog.last_success(asset.key)
            age = None if last is None else (now - last).total_seconds()
            if age is None or age > lag:
                built = "never built" if age is None else f"last built {age / 3600:.1f} h ago"
                self.alerter.raise_incident(
                    "sla_breach",
                    incident,
                    asset.key,
                    f"{asset.key} is stale: {built}, its SLA allows {lag / 3600:g} h",
                )
            else:
                self.alerter.resolve(incident, f"{asset.key} is fresh again")


def _first_line(message: str | None) -> str:
    """The first line of a build's failure message (empty when it has none)."""
    lines = (message or "").splitlines()
    return lines[0] if lines else ""


__all__ = ["RunRequest", "Scheduler", "SchedulerLockedError", "Step"]
