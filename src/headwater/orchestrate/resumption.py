"""Resuming a run: what it was asked to do, and what of that it did not finish.

A run records its arguments (`headwater.orchestrate.launch`); resuming it asks for the same
selection less what succeeded (or was up to date) in it. A backfill resumes by running its
partition range again (built partitions are skipped) and an ingest by loading its sources again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import BuildStatus
from headwater.errors import UsageError
from headwater.orchestrate import launch

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.orchestrate.opening import OpenProject
    from headwater.orchestrate.results import EventHandler, RunSummary
    from headwater.project.definition import ProjectDefinition


@dataclass(frozen=True)
class RecordedRun:
    """A run as the catalog recorded it, with the arguments it was started with."""

    run: dict[str, Any]
    """The run's catalog row."""
    arguments: dict[str, Any]
    """What it was asked to do (empty for runs recorded before this was kept)."""

    @property
    def run_id(self) -> str:
        """The run's full id."""
        return str(self.run["run_id"])

    @property
    def command(self) -> str:
        """The command that started it: run, ingest, backfill, ..."""
        return str(self.run["command"])

    @property
    def select(self) -> list[str]:
        """Its selection (empty: everything)."""
        return list(self.arguments.get("select") or [])

    @property
    def exclude(self) -> list[str]:
        """What its selection left out."""
        return list(self.arguments.get("exclude") or [])

    @property
    def names(self) -> list[str]:
        """The sources an ingest loaded (empty: all)."""
        return list(self.arguments.get("names") or [])

    @property
    def start(self) -> str | None:
        """The first partition a backfill built (None: the first there is)."""
        return self.arguments.get("start")

    @property
    def end(self) -> str | None:
        """The last partition a backfill built (None: the last there is)."""
        return self.arguments.get("end")

    @property
    def force(self) -> bool:
        """Whether it rebuilt assets that were up to date."""
        return bool(self.arguments.get("force"))


def recorded_run(catalog: Catalog, run_id: str) -> RecordedRun:
    """Run `run_id` (a unique prefix is enough) and its arguments.

    Raises:
        UsageError: there is no such run.
    """
    run = catalog.run(run_id)
    if run is None:
        raise UsageError(f"no run '{run_id}'", hint="list runs with 'headwater runs'")
    text = run.get("arguments")
    found = json.loads(text) if text else {}
    return RecordedRun(run, found if isinstance(found, dict) else {})


def keys_to_resume(definition: ProjectDefinition, catalog: Catalog, run_id: str) -> set[str]:
    """What resuming run `run_id` builds: its selection less what succeeded in it.

    Raises:
        UsageError: there is no such run.
    """
    from headwater.orchestrate.selectors import Selector

    recorded = recorded_run(catalog, run_id)
    if recorded.command == "backfill":
        return Selector(definition).select(recorded.select or None, recorded.exclude or None)
    if recorded.command == "ingest":
        return launch.pick_sources(definition, recorded.names or None)
    if recorded.run["resumed_from"] and "select" not in recorded.arguments:  # a resume of a resume
        return keys_to_resume(definition, catalog, recorded.run["resumed_from"])
    chosen = Selector(definition).select(recorded.select or None, recorded.exclude or None)
    done = {
        r["asset"]
        for r in catalog.results(recorded.run_id)
        if r["status"] in (BuildStatus.SUCCESS, BuildStatus.UP_TO_DATE)
        and r["partition_key"] is None
    }
    return chosen - done


def resume(
    project: OpenProject,
    run_id: str,
    *,
    threads: int | None = None,
    on_event: EventHandler | None = None,
    stop: Any = None,
) -> RunSummary:
    """Run again what run `run_id` (a unique prefix is enough) did not finish and return the
    new run's summary: a backfill its partition range, an ingest its sources, any other run
    its selection less what succeeded (or was up to date) in it.

    Raises:
        UsageError: there is no such run.
    """
    recorded = recorded_run(project.catalog, run_id)
    if recorded.command == "backfill":
        return launch.run_backfill(
            project,
            recorded.select,
            recorded.start,
            recorded.end,
            exclude=recorded.exclude or None,
            force=recorded.force,
            parallel=threads,
            on_event=on_event,
        )
    if recorded.command == "ingest":
        return launch.ingest_sources(
            project, recorded.names or None, threads=threads, on_event=on_event
        )
    remaining = keys_to_resume(project.definition, project.catalog, run_id)
    return resume_run(project, recorded, remaining, threads=threads, on_event=on_event, stop=stop)


def resume_run(
    project: OpenProject,
    recorded: RecordedRun,
    remaining: set[str],
    *,
    threads: int | None = None,
    on_event: EventHandler | None = None,
    stop: Any = None,
) -> RunSummary:
    """Build `remaining` (what `recorded` did not finish) as a run resumed from it, with its
    settings, and return the run's summary."""
    runner = launch.new_runner(
        project,
        threads,
        full_refresh=bool(recorded.run["full_refresh"]),
        force=recorded.force,  # resuming a --force run forces the rest too
        on_event=on_event,
        resumed_from=recorded.run_id,
        stop=stop,
    )
    return runner.run(remaining, f"--resume {recorded.run_id}")
