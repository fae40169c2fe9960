"""Starting runs: a run of a selection, an ingest of sources, a test of a selection's checks and
a backfill of partitions.

Each turns what a user asked for into a `Runner` with the right settings and records the
arguments with the run, so that `--resume` can ask for the same again
(`headwater.orchestrate.resumption`). A run or an ingest first lists again the tables of the
schema-loading sources it touches (`headwater.orchestrate.opening`) and picks its assets again
when that changed the project; before that, it drops the replication slots of cdc sources gone
from the project (`headwater.orchestrate.cdc`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.errors import Location, UsageError
from headwater.orchestrate.opening import refresh_sources
from headwater.project.kinds import AssetKind

if TYPE_CHECKING:
    from collections.abc import Callable

    from headwater.orchestrate.opening import OpenProject
    from headwater.orchestrate.results import EventHandler, RunSummary
    from headwater.orchestrate.runner import Runner
    from headwater.project.definition import ProjectDefinition
    from headwater.project.partitions import Partition
    from headwater.quality.suite import AssetChecks, CheckRun


def selection_text(select: list[str] | None, exclude: list[str] | None) -> str | None:
    """The selection as a command line writes it (None when everything is selected), as runs
    record it."""
    text = " ".join(select or []) + (f" --exclude {' '.join(exclude)}" if exclude else "")
    return text or None


def pick_sources(definition: ProjectDefinition, names: list[str] | None = None) -> set[str]:
    """Keys of the source tables `names` pick (`SOURCE` or `SOURCE.TABLE`; all if empty).

    Raises:
        UsageError: a name matches no source table.
    """
    sources = {k: a for k, a in definition.assets.items() if a.kind == AssetKind.SOURCE}
    if not names:
        return set(sources)
    chosen: set[str] = set()
    for name in names:
        found = {k for k, a in sources.items() if name in (k, a.namespace)}
        if not found:
            from headwater.project.yamlfile import closest

            options = sorted({*sources, *(a.namespace for a in sources.values())})
            near = closest(name, options)
            raise UsageError(
                f"no source or source table named '{name}'",
                hint=f"did you mean '{near}'?" if near else "list them with 'headwater sources'",
            )
        chosen |= found
    return chosen


def new_runner(project: OpenProject, threads: int | None, **settings: Any) -> Runner:
    """A runner over `project`'s definition, catalog and store with `threads` builds at once
    (the project's `threads` setting when None) and `settings` (`Runner`'s other keywords)."""
    from headwater.orchestrate.runner import Runner

    definition = project.definition
    return Runner(
        definition,
        project.catalog,
        project.store,
        threads=threads or definition.config.threads,
        **settings,
    )


def picked_after_refresh(
    project: OpenProject, pick: Callable[[ProjectDefinition], set[str]], everything: bool
) -> set[str]:
    """The asset keys `pick` chooses from `project`'s definition, chosen again when listing
    the tables of the sources they load (all of them when a run builds `everything`) changed
    the project."""
    chosen = pick(project.definition)
    if refresh_sources(project, chosen, everything):
        chosen = pick(project.definition)
    return chosen


def run_selection(
    project: OpenProject,
    select: list[str] | None,
    exclude: list[str] | None,
    *,
    full_refresh: bool = False,
    force: bool = False,
    threads: int | None = None,
    on_event: EventHandler | None = None,
    fail_fast: bool = False,
    stop: Any = None,
    command: str = "run",
) -> RunSummary:
    """Build the assets `select` less `exclude` picks (all by default; chosen again when the
    tables of a schema-loading source it touches changed) and return the run's summary."""
    from headwater.orchestrate.cdc import drop_removed_captures
    from headwater.orchestrate.selectors import Selector

    drop_removed_captures(project)
    chosen = picked_after_refresh(
        project, lambda d: Selector(d).select(select, exclude), everything=not select
    )
    runner = new_runner(
        project,
        threads,
        full_refresh=full_refresh,
        force=force,
        on_event=on_event,
        fail_fast=fail_fast,
        stop=stop,
        command=command,
        arguments={"select": select or [], "exclude": exclude or []},
    )
    return runner.run(chosen, selection_text(select, exclude))


def ingest_sources(
    project: OpenProject,
    names: list[str] | None,
    *,
    full_refresh: bool = False,
    threads: int | None = None,
    on_event: EventHandler | None = None,
) -> RunSummary:
    """Load the source tables `names` picks (`SOURCE` or `SOURCE.TABLE`; all by default;
    picked again when a source's list of tables changed) and return the run's summary.

    Raises:
        UsageError: a name matches no source table.
    """
    from headwater.orchestrate.cdc import drop_removed_captures

    drop_removed_captures(project)
    chosen = picked_after_refresh(project, lambda d: pick_sources(d, names), everything=not names)
    runner = new_runner(
        project,
        threads,
        full_refresh=full_refresh,
        on_event=on_event,
        command="ingest",
        arguments={"names": names or []},
    )
    return runner.run(chosen, " ".join(names or []) or None)


def test_selection(
    project: OpenProject,
    select: list[str] | None,
    exclude: list[str] | None,
    on_asset: Callable[[AssetChecks], None] | None = None,
) -> CheckRun:
    """Run the checks of the assets `select` less `exclude` picks (all by default), in
    dependency order, on their published versions without rebuilding; every result is kept in
    the catalog as a `test` run. `on_asset` is told each asset's checks as they finish."""
    from headwater.orchestrate.selectors import Selector, topological
    from headwater.quality.suite import run_checks

    definition = project.definition
    keys = topological(definition.assets, Selector(definition).select(select, exclude))
    text = selection_text(select, exclude)
    return run_checks(definition, project.store, project.catalog, keys, text, on_asset)


def plan_backfill(
    definition: ProjectDefinition,
    select: list[str],
    start: str | None,
    end: str | None,
    exclude: list[str] | None = None,
) -> tuple[set[str], dict[str, list[Partition]]]:
    """The assets a backfill of `select` builds and, for each partitioned one, its partitions
    from `start` to `end` (partition keys, dates or times; both included).

    Raises:
        UsageError: nothing selected is partitioned, or a bound is not valid.
    """
    from headwater.orchestrate.selectors import Selector

    chosen = Selector(definition).select(select, exclude)
    partitions: dict[str, list[Partition]] = {}
    for key in sorted(chosen):
        partition_set = definition.assets[key].partition_set
        if partition_set is None:
            continue
        try:
            partitions[key] = partition_set.between(start, end)
        except ValueError as exc:
            raise UsageError(
                str(exc),
                Location(asset=key),
                hint="give --start and --end as partition keys or dates within those bounds",
            ) from None
    if not partitions:
        raise UsageError(
            f"nothing in '{' '.join(select)}' is partitioned",
            hint="backfill a partitioned model (one with 'partitions:' in its sidecar), "
            "e.g. 'headwater backfill marts.daily_sales+'",
        )
    return chosen, partitions


def run_backfill(
    project: OpenProject,
    select: list[str],
    start: str | None = None,
    end: str | None = None,
    *,
    exclude: list[str] | None = None,
    parallel: int | None = None,
    force: bool = False,
    on_event: EventHandler | None = None,
) -> RunSummary:
    """Build every partition from `start` to `end` of the selected partitioned assets, and
    then what else the selection holds; return the run's summary. Partitions already built
    from the current definition are skipped unless `force`."""
    chosen, partitions = plan_backfill(project.definition, select, start, end, exclude)
    runner = new_runner(
        project,
        parallel,
        force=force,
        on_event=on_event,
        command="backfill",
        skip_materialized=not force,
        arguments={
            "select": select,
            "exclude": exclude or [],
            "start": start,
            "end": end,
            "force": force,
        },
    )
    text = " ".join(select) + f" --start {start or '(first)'} --end {end or '(last)'}"
    return runner.run(chosen, text, partitions)
