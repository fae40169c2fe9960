"""Execute a selection of the asset graph: in dependency order, in parallel, skipping what is fresh.

An asset is up to date when its definition (SQL and config, by content hash), the versions of the
tables it reads and the files it scans are unchanged since its last successful build, and its
table is still at the version that build made. Up-to-date assets cost a log listing each and no
engine is started at all when nothing needs building. A failed asset skips its downstream assets
with the reason while independent branches go on.

This module drives one run: it takes the run's locks, records the run, hands the work items
`planning.py` made to worker threads as they become ready (`attempts.py` builds each,
`recording.py` writes it down, `hooks.py` tells who listens) and records how the run ended.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from headwater.catalog.statuses import BuildStatus, RunStatus
from headwater.catalog.store import Catalog, keep_alive, new_run_id
from headwater.orchestrate.attempts import BuildKit, Builds
from headwater.orchestrate.hooks import BuildHooks
from headwater.orchestrate.interrupts import Watchdog, ctrl_c_stops
from headwater.orchestrate.lock import RunLocks
from headwater.orchestrate.planning import Freshness, Plan, WorkItem, claim_of, plan_run
from headwater.orchestrate.recording import (
    HEARTBEAT_SECONDS,
    BuildRecorder,
    settle_dead_runs,
    settled_row,
)
from headwater.orchestrate.results import AssetOutcome, EventHandler, RunInterrupted, RunSummary
from headwater.project.definition import ProjectDefinition
from headwater.project.partitions import Partition
from headwater.storage.base import TableStore

NOT_STARTED = "not started"
"""How the message of an asset skipped because the run was asked to stop begins."""
WAIT_S = 0.5
"""How long the run's thread waits for a build to end before it looks at its flags again."""


class Runner:
    """Runs one selection of a project's assets (once: make a new runner for each run)."""

    def __init__(
        self,
        definition: ProjectDefinition,
        catalog: Catalog,
        store: TableStore,
        *,
        threads: int,
        full_refresh: bool = False,
        force: bool = False,
        on_event: EventHandler | None = None,
        command: str = "run",
        fail_fast: bool = False,
        skip_materialized: bool = False,
        stop: threading.Event | None = None,
        resumed_from: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self.definition = definition
        self.catalog = catalog
        self.store = store
        self.threads = max(1, threads)
        self.full_refresh = full_refresh
        self.force = force or full_refresh
        self.on_event = on_event or (lambda _event, _outcome: None)
        self.command = command
        self.fail_fast = fail_fast
        self.skip_materialized = skip_materialized
        """Backfills: a partition built from the current definition counts as up to date."""
        self._owns_stop = stop is None
        self.stop = stop or threading.Event()
        """Set it to finish what is running and start nothing more (a scheduler's SIGTERM)."""
        self.resumed_from = resumed_from
        if self.force and not full_refresh:
            arguments = {**(arguments or {}), "force": True}
        self.arguments = arguments
        """What the run was asked to do, kept in the catalog for `--resume` (with `force`)."""

    def run(
        self,
        selected: set[str],
        selector: str | None = None,
        partitions: dict[str, list[Partition]] | None = None,
    ) -> RunSummary:
        """Build `selected` and return the summary.

        A partitioned asset builds the partitions `partitions` names for it, else its latest
        complete partition (every key, for listed partitions). Before anything is written the
        run locks every asset (partition) it may build, all at once; a live run holding one
        of them refuses this run (`RunLockedError`), which then records nothing.
        """
        started = time.perf_counter()
        definition, catalog, store = self.definition, self.catalog, self.store
        # the partitions are chosen once: the ones locked are the ones built
        plan = plan_run(definition, selected, partitions or {})
        run_id = new_run_id()
        lock = RunLocks(catalog, definition.state_dir, run_id, self.command)
        claims = {claim_of(definition, item.key, item.partition_key) for item in plan.items}
        lock.acquire(claims)
        try:
            with (
                Watchdog() as watchdog,
                ctrl_c_stops(run_id, watchdog, self.stop, owns_stop=self._owns_stop),
            ):
                # runs whose process died are settled before this run builds
                settle_dead_runs(definition, catalog, store, lock, claims)
                from headwater.orchestrate.lineage_hooks import RunLineage, transports_of

                transports = transports_of(definition)  # a bad endpoint setting stops us
                record = catalog.start_run(
                    self.command,
                    selector,
                    self.threads,
                    self.full_refresh,
                    self.resumed_from,
                    self.arguments,
                    run_id=run_id,
                )
                kit = BuildKit(definition, catalog, store)
                lineage = RunLineage(
                    definition, catalog, store, kit.qualified, record.run_id, transports
                )
                builds = Builds(
                    kit,
                    record,
                    full_refresh=self.full_refresh,
                    freshness=Freshness(
                        definition, store, skip_materialized=self.skip_materialized
                    ),
                    recorder=BuildRecorder(catalog, record.run_id),
                    hooks=BuildHooks(self.on_event, lineage),
                    watchdog=watchdog,
                    fence=lock.fence,
                )
                return self._run_recorded(builds, plan, started)
        finally:
            lock.release()

    def _run_recorded(self, builds: Builds, plan: Plan, started: float) -> RunSummary:
        """Build the run's items and record how the run ended."""
        run_id = builds.record.run_id
        summary = RunSummary(run_id, RunStatus.SUCCESS)
        # the results settled without a build (up to date, skipped), recorded together
        settled: list[dict[str, Any]] = []
        try:
            with keep_alive(self.catalog, run_id, HEARTBEAT_SECONDS):
                self._execute(builds, plan, summary, settled)
        except KeyboardInterrupt as exc:
            # Ctrl-C where the run could not take SIGINT over (see `ctrl_c_stops`): what
            # finished stays recorded; the rest is for `--resume`
            self.catalog.record_assets(run_id, settled)
            self.catalog.finish_run(run_id, RunStatus.INTERRUPTED, "interrupted by Ctrl-C (SIGINT)")
            raise RunInterrupted(run_id) from exc
        except BaseException as exc:
            self.catalog.finish_run(run_id, RunStatus.INTERRUPTED, repr(exc))
            raise
        finally:
            builds.close()
        summary.duration_s = time.perf_counter() - started
        if builds.watchdog.interrupted.is_set():
            # the builds have ended, at a safe point: what finished is recorded, the rest is
            # for `--resume`
            self.catalog.finish_run(run_id, RunStatus.INTERRUPTED, "interrupted by Ctrl-C (SIGINT)")
            raise RunInterrupted(run_id)
        failures = [o for o in summary.outcomes if o.status == BuildStatus.FAILED]
        summary.status = RunStatus.FAILED if failures else RunStatus.SUCCESS
        if self.stop.is_set() and any(
            o.status == BuildStatus.SKIPPED and (o.message or "").startswith(NOT_STARTED)
            for o in summary.outcomes
        ):
            summary.status = RunStatus.INTERRUPTED
        self.catalog.finish_run(
            run_id,
            summary.status,
            "; ".join(f"{o.key}: {o.message}" for o in failures)[:4000] or None,
        )
        return summary

    def _execute(
        self, builds: Builds, plan: Plan, summary: RunSummary, settled: list[dict[str, Any]]
    ) -> None:
        """Build the plan's items as they become ready, on up to `threads` workers, and
        settle the rest (up to date, or skipped with the reason) into `settled`."""
        assets = self.definition.assets
        freshness, hooks = builds.freshness, builds.hooks
        interrupted = builds.watchdog.interrupted
        waiting = plan.waiting
        by_id = {item.id: item for item in plan.items}
        children: dict[str, list[str]] = {item.id: [] for item in plan.items}
        for item_id, parents in waiting.items():
            for parent in parents:
                children[parent].append(item_id)
        blocked_by: dict[str, str] = {}
        freshness.read_records(self.catalog, plan.order)
        limits = self.definition.config.pools
        in_pool: dict[str, int] = dict.fromkeys(limits, 0)
        stopped = False

        def finish(outcome: AssetOutcome) -> None:
            summary.outcomes.append(outcome)
            hooks.finished(outcome)

        def unblock(item_id: str, status: BuildStatus) -> None:
            """`item_id` ended with `status`: its children wait for it no more, and a failure
            or a skip blocks them."""
            for child in children[item_id]:
                waiting[child].discard(item_id)
                if status in (BuildStatus.FAILED, BuildStatus.SKIPPED):
                    blocked_by.setdefault(child, blocked_by.get(item_id, by_id[item_id].key))

        def skip(item: WorkItem, message: str) -> None:
            outcome = AssetOutcome(
                item.key,
                BuildStatus.SKIPPED,
                assets[item.key].build_kind,
                message=message,
                partition=item.partition_key,
            )
            settled.append(settled_row(outcome, None))
            finish(outcome)
            unblock(item.id, BuildStatus.SKIPPED)

        _import_before_threads()
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="hw") as pool:
            running: dict[Future[AssetOutcome], WorkItem] = {}
            queue = list(plan.items)
            while queue or running:
                if interrupted.is_set():
                    queue.clear()  # Ctrl-C: nothing new starts, and `--resume` builds the rest
                for item in [i for i in queue if not waiting[i.id]]:
                    asset = assets[item.key]
                    if len(running) >= self.threads and not (
                        stopped or self.stop.is_set() or item.id in blocked_by
                    ):
                        break  # every worker is busy; what is left waits for the next turn
                    if stopped:
                        queue.remove(item)
                        skip(item, "not started: the run stopped at its first failure (fail fast)")
                        continue
                    if self.stop.is_set():
                        queue.remove(item)
                        skip(
                            item,
                            f"{NOT_STARTED}: the run was asked to stop; resume it to build this",
                        )
                        continue
                    if item.id in blocked_by:
                        queue.remove(item)
                        skip(item, f"upstream {blocked_by[item.id]} failed")
                        continue
                    fingerprint = freshness.fingerprint_of(item)
                    if not self.force and freshness.is_fresh(item, fingerprint):
                        queue.remove(item)
                        outcome = AssetOutcome(
                            item.key,
                            BuildStatus.UP_TO_DATE,
                            asset.build_kind,
                            version=freshness.version(item.key) if asset.is_stored else None,
                            message="definition and inputs unchanged"
                            if item.partition is None or not self.skip_materialized
                            else "partition already materialized",
                            partition=item.partition_key,
                        )
                        settled.append(settled_row(outcome, fingerprint))
                        finish(outcome)
                        unblock(item.id, BuildStatus.UP_TO_DATE)
                        continue
                    if asset.pool is not None and in_pool[asset.pool] >= limits[asset.pool]:
                        continue  # its pool is full: it waits for a slot
                    queue.remove(item)
                    if asset.pool is not None:
                        in_pool[asset.pool] += 1
                    hooks.submitted(item, asset)
                    running[pool.submit(builds.build, item, fingerprint)] = item
                if not running:
                    continue
                # with a timeout: Ctrl-C's flag is looked at between waits
                done, _ = wait(list(running), timeout=WAIT_S, return_when=FIRST_COMPLETED)
                for future in done:
                    item = running.pop(future)
                    if assets[item.key].pool is not None:
                        in_pool[str(assets[item.key].pool)] -= 1
                    outcome = future.result()
                    finish(outcome)
                    unblock(item.id, outcome.status)
                    if outcome.status == BuildStatus.FAILED and self.fail_fast:
                        stopped = True
        self.catalog.record_assets(builds.record.run_id, settled)


def _import_before_threads() -> None:
    """Import delta-rs's modules on this thread before builds start on several: two threads
    importing `deltalake` for the first time at once can see it half-initialised (an
    ImportError from its circular imports, seen as a failed seed)."""
    import importlib

    importlib.import_module("deltalake.transaction")  # the package, and the module commits use
