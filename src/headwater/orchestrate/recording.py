"""What a run writes to the catalog about its builds, and how a dead run's builds are settled.

Each build has a result row (started, then finished as a success, a failure or interrupted),
one attempt row per try with its log lines, and on success the state it was built from (or
its partition's record), which the next run's up-to-date decision reads. A run whose process
died is settled by the next run or the scheduler: each build whose commit landed is recorded
as the success it was, so it is never applied twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.catalog.locks import Claim
from headwater.catalog.statuses import BuildStatus, CheckStatus, RunStatus
from headwater.catalog.store import Catalog
from headwater.orchestrate.lock import STALE_AFTER_S, RunLocks, forget, run_alive
from headwater.orchestrate.planning import WorkItem, claim_of
from headwater.orchestrate.results import AssetOutcome
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.kinds import AssetKind
from headwater.storage.base import TableRef, TableStore

if TYPE_CHECKING:
    from headwater.build.context import BuildContext, BuildResult

HEARTBEAT_SECONDS = 5.0
"""How often a running run renews its heartbeat in the catalog."""


def settled_row(outcome: AssetOutcome, fingerprint: str | None) -> dict[str, Any]:
    """Return the result row of an asset settled without a build (up to date, skipped), for
    `Catalog.record_assets`."""
    return {
        "asset": outcome.key,
        "status": outcome.status,
        "materialization": outcome.materialization,
        "delta_version": outcome.version,
        "message": outcome.message,
        "fingerprint": fingerprint,
    }


class BuildRecorder:
    """Records the builds of run `run_id` in the catalog, and makes their outcomes."""

    def __init__(self, catalog: Catalog, run_id: str) -> None:
        self.catalog = catalog
        self.run_id = run_id

    def started(self, item: WorkItem, asset: Asset, fingerprint: str) -> int:
        """Record that `item` began building from `fingerprint`; return its result's id."""
        return self.catalog.start_asset(
            self.run_id, item.key, asset.build_kind, fingerprint, item.partition_key
        )

    def attempt(
        self,
        result_id: int,
        key: str,
        attempt: int,
        status: BuildStatus,
        started_at: str,
        duration_s: float,
        error: str | None,
        lines: list[str],
    ) -> None:
        """Keep one attempt at building `key`: how it ended, its error and its log lines."""
        from headwater.build.secrets import redact

        # a driver's or HTTP client's words may quote a URL or DSN holding a secret
        self.catalog.record_attempt(
            result_id,
            self.run_id,
            key,
            attempt,
            status,
            started_at,
            duration_s,
            None if error is None else redact(error),
            redact("\n".join(lines)) or None,
        )

    def succeeded(
        self,
        result_id: int,
        item: WorkItem,
        asset: Asset,
        fingerprint: str,
        context: BuildContext,
        result: BuildResult,
        started: float,
        attempts: int,
    ) -> AssetOutcome:
        """Record a build that committed `result`: what its publish gate found, a source's
        descriptions, the state (or partition) it was built from, and its result."""
        key = item.key
        self._record_audits(key, context, result)
        if asset.kind == AssetKind.SOURCE and asset.parent is None:
            from headwater.catalog.lineage import record_descriptions

            record_descriptions(self.catalog, key, result.descriptions, "source")
        duration = time.perf_counter() - started
        if item.partition is None:
            self.catalog.set_state(
                key, fingerprint, result.version, asset.build_kind, self.run_id, result.state
            )
        else:
            self.catalog.set_partition(
                key,
                item.partition.key,
                BuildStatus.SUCCESS,
                self.run_id,
                version=result.version,
                rows=result.rows,
                definition_hash=asset.definition_hash,
                fingerprint=fingerprint,
                message=result.message,
            )
        self.catalog.finish_asset(
            result_id,
            BuildStatus.SUCCESS,
            rows=result.rows,
            version=result.version,
            duration_s=duration,
            message=result.message,
            attempts=attempts,
        )
        return AssetOutcome(
            key,
            BuildStatus.SUCCESS,
            asset.build_kind,
            result.rows,
            result.version,
            duration,
            result.message,
            item.partition_key,
        )

    def failed(
        self,
        result_id: int,
        item: WorkItem,
        asset: Asset,
        started: float,
        message: str,
        attempts: int,
        report: Any = None,
    ) -> AssetOutcome:
        """Record a build that failed for good with `message` (after `attempts` tries);
        `report` is its publish gate's audit when that is what refused it."""
        from headwater.build.secrets import redact

        if report is not None:
            from headwater.catalog.quality import record_audit

            record_audit(self.catalog, self.run_id, item.key, None, False, report)
        # a driver's or HTTP client's message may quote a URL or DSN holding a secret
        message = redact(message)
        if item.partition is not None:
            self.catalog.set_partition(
                item.key,
                item.partition.key,
                BuildStatus.FAILED,
                self.run_id,
                definition_hash=asset.definition_hash,
                message=message[:2000],
            )
        return self._finished(
            result_id, item, asset, started, BuildStatus.FAILED, message, attempts
        )

    def stopped(
        self, result_id: int, item: WorkItem, asset: Asset, started: float, attempts: int
    ) -> AssetOutcome:
        """Record a build that Ctrl-C broke off as interrupted (not failed: a partition keeps
        its status, and resuming the run builds it)."""
        message = "stopped by Ctrl-C before it finished; resume the run to build it"
        return self._finished(
            result_id, item, asset, started, BuildStatus.INTERRUPTED, message, attempts
        )

    def _finished(
        self,
        result_id: int,
        item: WorkItem,
        asset: Asset,
        started: float,
        status: BuildStatus,
        message: str,
        attempts: int,
    ) -> AssetOutcome:
        """Finish the result of a build that ended without a new version (`status`, with
        `message`, after `attempts` tries) and return its outcome."""
        duration = time.perf_counter() - started
        self.catalog.finish_asset(
            result_id, status, duration_s=duration, message=message, attempts=attempts
        )
        return AssetOutcome(
            asset.key,
            status,
            asset.build_kind,
            duration_s=duration,
            message=message,
            partition=item.partition_key,
        )

    def _record_audits(self, key: str, context: BuildContext, result: BuildResult) -> None:
        """Keep what the gate found for the published version, and say it in the result."""
        reports = [a for a in context.admitted if a.report is not None]
        if not reports:
            return
        from headwater.catalog.quality import record_audit

        for admitted in reports:
            record_audit(self.catalog, self.run_id, key, result.version, True, admitted.report)
        last = context.admitted[-1]
        if last.rows is not None:
            result.rows = last.rows
        notes = []
        quarantined = sum(a.quarantined for a in context.admitted)
        if quarantined:
            notes.append(f"{quarantined} rows quarantined by checks")
        flagged = [
            r
            for r in last.report.results
            if r.status in (CheckStatus.WARN, CheckStatus.ERROR, CheckStatus.FAIL)
        ]
        if flagged:
            notes.append("; ".join(f"{r.status} {r.name}: {r.message}" for r in flagged))
        if notes:
            result.message = "; ".join([*([result.message] if result.message else []), *notes])


def settle_dead_runs(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    lock: RunLocks,
    mine: set[Claim] | None = None,
    *,
    stale_after_s: float | None = None,
    now: dt.datetime | None = None,
    status: RunStatus = RunStatus.INTERRUPTED,
    reason: Callable[[dict[str, Any]], str] | None = None,
) -> list[dict[str, Any]]:
    """Settle the runs whose process died: record their unfinished builds, then the runs.

    The one way a dead run is settled, by the next run as by the scheduler. A build killed
    after its commit landed but before the catalog heard of it is recorded as the success it
    was, with the fingerprint it was built from, so the next run sees the asset as up to date
    instead of applying the same change a second time; a build whose commit did not land is
    recorded as interrupted. Its commit is recognised by the dead run's id and sequence number
    (a later commit is another run's). Other runs may be running meanwhile: each build is
    settled only under its asset's lock (`mine`: the claims `lock` holds already, the others
    are borrowed for the moment), and one a live run holds is left for later; its run is then
    left unfinished too.

    A run is dead when its liveness file is free (on this machine), else when its heartbeat is
    older than `stale_after_s` at `now` (by default a minute, and 15 s for `headwater test`).
    A settled run is recorded with `status` and `reason(run)`.

    Returns:
        The runs settled.
    """
    mine = mine or set()
    settled: list[dict[str, Any]] = []
    for run in catalog.unfinished_runs():
        run_id = str(run["run_id"])
        if run_id == lock.run_id:
            continue
        beat = dt.datetime.fromisoformat(str(run["heartbeat_at"] or run["started_at"]))
        # `headwater test` takes no lock and leaves no liveness file: its heartbeat tells
        limit = stale_after_s
        if limit is None:
            limit = 3 * HEARTBEAT_SECONDS if run["command"] == "test" else STALE_AFTER_S
        beat = beat if beat.tzinfo else beat.replace(tzinfo=dt.UTC)
        if run_alive(definition.state_dir, run_id, run["hostname"], beat, limit, now):
            continue
        complete = True
        for result in catalog.running_results(run_id):
            claim = claim_of(definition, result["asset"], result.get("partition_key"))
            borrowed = claim not in mine and Claim(claim.asset) not in mine
            if borrowed and not lock.borrow([claim], run_id):
                complete = False  # a live run builds it now; a later run settles this one
                continue
            try:
                # under the lock: another run may have settled it meanwhile
                if catalog.result_status(result["id"]) == BuildStatus.RUNNING:
                    _settle_result(definition, catalog, store, run, result)
            finally:
                if borrowed:
                    lock.give_back([claim])
        if not complete:
            continue
        current = catalog.run(run_id)
        if current is None or current["status"] != RunStatus.RUNNING:
            continue  # another run settled it first
        message = reason(run) if reason else "the process died during the run"
        catalog.finish_run(run_id, status, message)
        forget(definition.state_dir, run_id)
        settled.append(run)
    return settled


def _settle_result(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    run: dict[str, Any],
    result: dict[str, Any],
) -> None:
    """Record a dead run's unfinished build as the success it was if its commit landed,
    else as interrupted."""
    from headwater.build.context import app_id

    asset = definition.assets.get(result["asset"])
    partition = result.get("partition_key")
    version: int | None = None
    if asset is not None and asset.is_stored:
        ref = TableRef.of(asset)
        committed = app_id(asset.key, partition)
        version = store.landed_version(ref, committed, int(run["seq"]), str(run["run_id"]))
    if version is None:
        catalog.finish_asset(
            result["id"],
            BuildStatus.INTERRUPTED,
            message="the run was killed before this asset committed; its table is unchanged",
        )
        return
    assert asset is not None
    if partition is not None:
        catalog.set_partition(
            asset.key,
            partition,
            BuildStatus.SUCCESS,
            run["run_id"],
            version=version,
            definition_hash=asset.definition_hash,
            fingerprint=result["fingerprint"],
            message="recorded on recovery",
        )
    elif result["fingerprint"]:
        catalog.set_state(
            asset.key, result["fingerprint"], version, asset.build_kind, run["run_id"]
        )
    catalog.finish_asset(
        result["id"],
        BuildStatus.SUCCESS,
        version=version,
        message="the run was killed after this commit landed; recorded on recovery",
    )
