"""Execute a selection of the asset graph: in dependency order, in parallel, skipping what is fresh.

An asset is up to date when its definition (SQL and config, by content hash), the versions of the
tables it reads and the files it scans are unchanged since its last successful build, and its
table is still at the version that build made. Up-to-date assets cost a log listing each and no
engine is started at all when nothing needs building. A failed asset skips its downstream assets
with the reason while independent branches go on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from headwater.catalog.locks import Claim
from headwater.catalog.store import Catalog, RunRecord, keep_alive, new_run_id
from headwater.digest import content_hash
from headwater.errors import BuildTimeoutError, HeadwaterError
from headwater.orchestrate.lock import (
    STALE_AFTER_S,
    RunLocks,
    TableCommitLock,
    forget,
    run_alive,
)
from headwater.orchestrate.selectors import topological
from headwater.project.loader import Asset, ProjectDefinition
from headwater.project.partitions import Partition
from headwater.storage.base import TableRef, TableStore

SUCCESS, FAILED, SKIPPED, UP_TO_DATE = "success", "failed", "skipped", "up_to_date"
INTERRUPTED = "interrupted"
STOPPED = "not started"
HEARTBEAT_SECONDS = 5.0
INTERRUPT_EVERY_S = 0.05
WAIT_S = 0.5
"""How long the run's thread waits for a build to end before it looks at its flags again."""
_LOG = logging.getLogger(__name__)


@dataclass
class AssetOutcome:
    """How one asset fared in a run."""

    key: str
    status: str
    materialization: str
    rows: int | None = None
    version: int | None = None
    duration_s: float = 0.0
    message: str | None = None
    partition: str | None = None


@dataclass(frozen=True)
class WorkItem:
    """One build of a run: an asset, or one partition of a partitioned asset."""

    key: str
    partition: Partition | None = None

    @property
    def id(self) -> str:
        """`key`, or `key[partition]`."""
        return self.key if self.partition is None else f"{self.key}[{self.partition.key}]"


@dataclass
class RunSummary:
    """The result of a run: its id, status and every asset's outcome in completion order."""

    run_id: str
    status: str
    outcomes: list[AssetOutcome] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every asset succeeded or was fresh, 1 otherwise."""
        return 0 if self.status == SUCCESS else 1

    def count(self, status: str) -> int:
        """How many assets ended with `status`."""
        return sum(1 for o in self.outcomes if o.status == status)

    def outcome(self, key: str, partition: str | None = None) -> AssetOutcome:
        """The outcome of asset `key` (of one of its partitions, when given)."""
        return next(
            o
            for o in self.outcomes
            if o.key == key and (partition is None or o.partition == partition)
        )


EventHandler = Callable[[str, AssetOutcome], None]
"""Called with ("start" | "finish", outcome) as assets progress."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped run `run_id`: what it finished is kept and recorded, the builds that were
    running were stopped before they committed, and the run is recorded as interrupted, so
    `headwater run --resume RUN_ID` builds the rest."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


def _sha(parts: list[str]) -> str:
    return content_hash(*parts)


class Runner:
    """Runs one selection of a project's assets."""

    def __init__(
        self,
        project: ProjectDefinition,
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
        self.project = project
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
        self._interrupted = threading.Event()
        """Set by Ctrl-C: running builds are interrupted and must not count as failures."""
        self._sessions: set[Any] = set()
        """The engine sessions of the attempts running now (what Ctrl-C interrupts)."""
        self._settled: list[dict[str, Any]] = []
        """Results settled without a build (up to date, skipped), recorded together."""
        self.resumed_from = resumed_from
        if self.force and not full_refresh:
            arguments = {**(arguments or {}), "force": True}
        self.arguments = arguments
        """What the run was asked to do, kept in the catalog for `--resume` (with `force`)."""
        self._versions: dict[str, int | None] = {}
        self._tokens: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}
        self._lock = threading.Lock()
        self._engine: Any = None
        self._relations: Any = None
        self._compiler: Any = None
        self._table_locks: dict[str, TableCommitLock] = {}
        self._lineage: Any = None

    # -- fingerprints ----------------------------------------------------------------------

    def _version(self, key: str) -> int | None:
        if key not in self._versions:
            asset = self.project.assets[key]
            self._versions[key] = self.store.current_version(TableRef.of(asset))
        return self._versions[key]

    def _token(self, key: str) -> str:
        """The identity of a stored asset's current version (changes when it is rewritten)."""
        with self._lock:
            if key in self._tokens:
                return self._tokens[key]
        asset = self.project.assets[key]
        token = str(self.store.version_token(TableRef.of(asset)))
        with self._lock:
            self._tokens[key] = token
        return token

    def fingerprint(self, key: str) -> str:
        """Hash of what the asset would be built from now: definition, inputs, scanned files."""
        with self._lock:
            cached = self._fingerprints.get(key)
        if cached is not None:
            return cached
        asset = self.project.assets[key]
        parts = [asset.definition_hash, asset.materialized]
        for parent in sorted(asset.depends_on):
            upstream = self.project.assets[parent]
            token = self._token(parent) if upstream.is_stored else self.fingerprint(parent)
            parts.append(f"{parent}={token}")
        parts.extend(self._file_tokens(asset))
        value = _sha(parts)
        with self._lock:
            self._fingerprints[key] = value
        return value

    def _file_tokens(self, asset: Asset) -> list[str]:
        tokens = []
        for pattern in asset.external_files:
            path = pattern if os.path.isabs(pattern) else str(self.project.root / pattern)
            for match in sorted(glob.glob(path, recursive=True)):
                try:
                    stat = os.stat(match)
                except OSError:
                    continue
                tokens.append(f"{match}:{stat.st_size}:{stat.st_mtime_ns}")
        return tokens

    # -- running ---------------------------------------------------------------------------

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
        assets = self.project.assets
        order = [k for k in topological(assets, selected) if assets[k].materialized != "ephemeral"]
        # the partitions are chosen once: the ones locked are the ones built
        items, waiting = self._items(order, partitions or {})
        run_id = new_run_id()
        lock = RunLocks(self.catalog, self.project.state_dir, run_id, self.command)
        claims = {self._claim(item) for item in items}
        lock.acquire(claims)
        try:
            with self._ctrl_c(run_id):
                self._recover_interrupted(lock, claims)
                from headwater.orchestrate.lineage_hooks import RunLineage, transports_of

                transports = transports_of(self.project)  # a bad endpoint setting stops us
                record = self.catalog.start_run(
                    self.command,
                    selector,
                    self.threads,
                    self.full_refresh,
                    self.resumed_from,
                    self.arguments,
                    run_id=run_id,
                )
                self._lineage = RunLineage(
                    self.project,
                    self.catalog,
                    self.store,
                    self._qualified,
                    record.run_id,
                    transports,
                )
                return self._run_recorded(record, order, items, waiting, started)
        finally:
            lock.release()

    def _run_recorded(
        self,
        record: RunRecord,
        order: list[str],
        items: list[WorkItem],
        waiting: dict[str, set[str]],
        started: float,
    ) -> RunSummary:
        """Build the run's items and record how the run ended."""
        summary = RunSummary(record.run_id, SUCCESS)
        try:
            with keep_alive(self.catalog, record.run_id, HEARTBEAT_SECONDS):
                self._execute(record, order, items, waiting, summary)
        except KeyboardInterrupt as exc:
            # Ctrl-C where the run could not take SIGINT over (see `_ctrl_c`): what finished
            # stays recorded; the rest is for `--resume`
            self.catalog.record_assets(record.run_id, self._settled)
            self.catalog.finish_run(record.run_id, INTERRUPTED, "interrupted by Ctrl-C (SIGINT)")
            raise RunInterrupted(record.run_id) from exc
        except BaseException as exc:
            self.catalog.finish_run(record.run_id, INTERRUPTED, repr(exc))
            raise
        finally:
            self._lineage.close()
            if self._engine is not None:
                self._engine.close()
            if self._compiler is not None:
                self._compiler.save()
        summary.duration_s = time.perf_counter() - started
        if self._interrupted.is_set():
            # the builds have ended, at a safe point: what finished is recorded, the rest is
            # for `--resume`
            self.catalog.finish_run(record.run_id, INTERRUPTED, "interrupted by Ctrl-C (SIGINT)")
            raise RunInterrupted(record.run_id)
        summary.status = SUCCESS if not summary.count(FAILED) else FAILED
        if self.stop.is_set() and any(
            o.status == SKIPPED and (o.message or "").startswith(STOPPED) for o in summary.outcomes
        ):
            summary.status = INTERRUPTED
        failures = [o for o in summary.outcomes if o.status == FAILED]
        self.catalog.finish_run(
            record.run_id,
            summary.status,
            "; ".join(f"{o.key}: {o.message}" for o in failures)[:4000] or None,
        )
        return summary

    @contextlib.contextmanager
    def _ctrl_c(self, run_id: str) -> Iterator[None]:
        """While the run is recorded running, make Ctrl-C stop it at a safe point.

        The first Ctrl-C only sets flags: nothing new starts, and the running engine work is
        interrupted (again and again, as a build's timeout does, until every build has ended);
        the run's own thread then records the run interrupted and raises `RunInterrupted`.
        The handler raises nothing itself, so no catalog transaction is broken off halfway.
        A second Ctrl-C ends the process at once (exit code 130), for a build blocked where
        the engine cannot interrupt it (reading a pipe): the run is left recorded running,
        and the next run settles it as a dead run (its liveness file's lock went with the
        process).

        Only where Python's own SIGINT handling is in place and the run owns its stop event:
        a scheduler handles SIGINT its own way (the running builds finish).
        """
        if (
            not self._owns_stop
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return
        ended = threading.Event()

        def interrupt_builds() -> None:
            while not ended.wait(INTERRUPT_EVERY_S):
                with self._lock:
                    sessions = list(self._sessions)
                for session in sessions:
                    session.interrupt()

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            if self._interrupted.is_set():
                _say(
                    f"Forced to stop: run {run_id} ended at once; the next run settles what "
                    f"it left (resume it with 'headwater run --resume {run_id}')."
                )
                os._exit(130)
            self._interrupted.set()
            self.stop.set()
            _say(
                "Stopping: the running builds are being interrupted and nothing new starts "
                "(press Ctrl-C again to force quit)."
            )
            threading.Thread(target=interrupt_builds, name="hw-ctrl-c", daemon=True).start()

        signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            ended.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _claim(self, item: WorkItem) -> Claim:
        """What building `item` locks (`claim_of`)."""
        return claim_of(self.project, item.key, item.partition.key if item.partition else None)

    def _recover_interrupted(self, lock: RunLocks, mine: set[Claim]) -> None:
        """Settle runs whose process died (`settle_dead_runs`) before this run builds."""
        settle_dead_runs(self.project, self.catalog, self.store, lock, mine)

    def _items(
        self, order: list[str], partitions: dict[str, list[Partition]]
    ) -> tuple[list[WorkItem], dict[str, set[str]]]:
        """The builds of a run in dependency order, and what each waits for (by item id). A
        partition waits for the same partition of a parent partitioned alike, and for every
        build of any other parent in the run."""
        assets = self.project.assets
        items: list[WorkItem] = []
        by_key: dict[str, list[WorkItem]] = {}
        for key in order:
            partition_set = assets[key].partition_set
            if partition_set is None:
                built = [WorkItem(key)]
            else:
                chosen = partitions.get(key)
                built = [
                    WorkItem(key, p)
                    for p in (chosen if chosen is not None else partition_set.latest())
                ]
            by_key[key] = built
            items.extend(built)
        waiting: dict[str, set[str]] = {}
        for item in items:
            needs: set[str] = set()
            for parent in self._build_parents(item.key):
                if parent not in by_key:
                    continue
                alike = _partitioned_alike(assets[parent], assets[item.key])
                same = [
                    p
                    for p in by_key[parent]
                    if alike
                    and item.partition is not None
                    and p.partition is not None
                    and p.partition.key == item.partition.key
                ]
                needs |= {p.id for p in (same or by_key[parent])}
            waiting[item.id] = needs
        return items, waiting

    def _execute(
        self,
        record: RunRecord,
        order: list[str],
        items: list[WorkItem],
        waiting: dict[str, set[str]],
        summary: RunSummary,
    ) -> None:
        assets = self.project.assets
        by_id = {item.id: item for item in items}
        children: dict[str, list[str]] = {item.id: [] for item in items}
        for item_id, parents in waiting.items():
            for parent in parents:
                children[parent].append(item_id)
        blocked_by: dict[str, str] = {}
        states = self.catalog.states()
        recorded = {key: self.catalog.partitions(key) for key in order if assets[key].partition_set}
        fresh: list[dict[str, Any]] = self._settled
        run_started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        limits = self.project.config.pools
        in_pool: dict[str, int] = dict.fromkeys(limits, 0)
        stopped = False

        def finish(outcome: AssetOutcome) -> None:
            summary.outcomes.append(outcome)
            self.on_event("finish", outcome)

        def settle(item_id: str, status: str) -> None:
            for child in children[item_id]:
                waiting[child].discard(item_id)
                if status in (FAILED, SKIPPED):
                    blocked_by.setdefault(child, blocked_by.get(item_id, by_id[item_id].key))

        def skip(item: WorkItem, message: str) -> None:
            outcome = AssetOutcome(
                item.key,
                SKIPPED,
                assets[item.key].build_kind,
                message=message,
                partition=item.partition.key if item.partition else None,
            )
            fresh.append({**_result_row(outcome), "fingerprint": None})
            finish(outcome)
            settle(item.id, SKIPPED)

        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="hw") as pool:
            running: dict[Future[AssetOutcome], WorkItem] = {}
            queue = list(items)
            while queue or running:
                if self._interrupted.is_set():
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
                        skip(item, f"{STOPPED}: the run was asked to stop; resume it to build this")
                        continue
                    if item.id in blocked_by:
                        queue.remove(item)
                        skip(item, f"upstream {blocked_by[item.id]} failed")
                        continue
                    fingerprint = self.fingerprint(item.key)
                    if item.partition is not None:
                        fingerprint = _sha([fingerprint, item.partition.key])
                    if not self.force and self._is_fresh(
                        asset, item, fingerprint, states, recorded
                    ):
                        queue.remove(item)
                        outcome = AssetOutcome(
                            item.key,
                            UP_TO_DATE,
                            asset.build_kind,
                            version=self._version(item.key) if asset.is_stored else None,
                            message="definition and inputs unchanged"
                            if item.partition is None or not self.skip_materialized
                            else "partition already materialized",
                            partition=item.partition.key if item.partition else None,
                        )
                        fresh.append({**_result_row(outcome), "fingerprint": fingerprint})
                        finish(outcome)
                        settle(item.id, UP_TO_DATE)
                        continue
                    if asset.pool is not None and in_pool[asset.pool] >= limits[asset.pool]:
                        continue  # its pool is full: it waits for a slot
                    queue.remove(item)
                    if asset.pool is not None:
                        in_pool[asset.pool] += 1
                    self.on_event(
                        "start",
                        AssetOutcome(
                            item.key,
                            "running",
                            asset.build_kind,
                            partition=item.partition.key if item.partition else None,
                        ),
                    )
                    future = pool.submit(self._build, record, item, fingerprint, run_started)
                    running[future] = item
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
                    settle(item.id, outcome.status)
                    if outcome.status == FAILED and self.fail_fast:
                        stopped = True
        self.catalog.record_assets(record.run_id, fresh)

    def _build_parents(self, key: str) -> set[str]:
        """The assets `key` waits for: its parents, seen through ephemerals."""
        parents: set[str] = set()
        for parent in self.project.assets[key].depends_on:
            if self.project.assets[parent].materialized == "ephemeral":
                parents |= self._build_parents(parent)
            else:
                parents.add(parent)
        return parents

    def _is_fresh(
        self,
        asset: Asset,
        item: WorkItem,
        fingerprint: str,
        states: dict[str, Any],
        recorded: dict[str, dict[str, dict[str, Any]]],
    ) -> bool:
        if asset.kind == "source":
            return False  # only the source knows whether it has new data: always ask it
        if item.partition is not None:
            found = recorded.get(asset.key, {}).get(item.partition.key)
            if found is None or found["status"] != SUCCESS:
                return False
            if self.skip_materialized:  # a backfill: built from this definition is enough
                return bool(found["definition_hash"] == asset.definition_hash)
            return bool(found["fingerprint"] == fingerprint)
        state = states.get(asset.key)
        if state is None or state.fingerprint != fingerprint:
            return False
        if not asset.is_stored:
            return True
        return state.delta_version is not None and self._version(asset.key) == state.delta_version

    def _qualified(self, key: str) -> str:
        """Model `key`'s SQL as column lineage reads it."""
        self._ensure_engine()
        result: str = self._compiler.qualified(key)
        return result

    def _ensure_engine(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            # what every build needs, loaded once at engine start rather than inside the
            # first asset's time: the publish gate, and the Parquet footer reader of commits
            import headwater.quality.gate
            import headwater.storage.parquet_stats  # noqa: F401
            from headwater.build.compiler import Compiler
            from headwater.build.relations import Relations
            from headwater.engine.registry import EnginePlace, create_engine

            engine_config = self.project.config.engine
            self._compiler = Compiler(self.project)
            self._relations = Relations(self.project, self.store, self._compiler.compile)
            self._engine = create_engine(
                engine_config,
                EnginePlace(self.project.root, self.project.state_dir / "tmp" / "duckdb"),
            )

    def _build(
        self, record: RunRecord, item: WorkItem, fingerprint: str, run_started: dt.datetime
    ) -> AssetOutcome:
        """Build one asset (or one partition), trying again after transient failures as its
        retries allow."""
        from headwater.build.retry import backoff_delay
        from headwater.build.secrets import redact
        from headwater.orchestrate.logs import captured

        key, partition = item.key, item.partition
        asset = self.project.assets[key]
        # the engine starts once per run (importing DuckDB); that is not this asset's time
        self._ensure_engine()
        started = time.perf_counter()
        result_id = self.catalog.start_asset(
            record.run_id,
            key,
            asset.build_kind,
            fingerprint,
            partition.key if partition else None,
        )
        self._lineage.started(asset, partition.key if partition else None)
        policy = self._retries(asset)
        attempt = 0
        while True:
            attempt += 1
            attempt_started, clock = dt.datetime.now(dt.UTC).isoformat(), time.perf_counter()
            with captured() as lines:
                try:
                    context, result = self._attempt(record, asset, run_started, partition)
                    error: BaseException | None = None
                except Exception as exc:
                    error = exc
            retry = error is not None and _is_transient(error) and attempt < policy.attempts
            # what Ctrl-C broke off is no failure of the asset: it is resumed, not retried
            stopped = error is not None and self._interrupted.is_set()
            if stopped:
                status = INTERRUPTED
            else:
                status = SUCCESS if error is None else ("retrying" if retry else FAILED)
            # a driver's or HTTP client's words may quote a URL or DSN holding a secret
            self.catalog.record_attempt(
                result_id,
                record.run_id,
                key,
                attempt,
                status,
                attempt_started,
                time.perf_counter() - clock,
                None if error is None else redact(self._message(asset, error)),
                redact("\n".join(lines)) or None,
            )
            if error is None:
                break
            if stopped:
                return self._stopped(result_id, asset, started, partition, attempt)
            if not retry:
                report = getattr(error, "report", None)
                if report is not None:
                    from headwater.catalog.quality import record_audit

                    record_audit(self.catalog, record.run_id, key, None, False, report)
                message = self._message(asset, error)
                if attempt > 1:
                    message = f"{message} (after {attempt} attempts)"
                if partition is not None:
                    self.catalog.set_partition(
                        key,
                        partition.key,
                        FAILED,
                        record.run_id,
                        definition_hash=asset.definition_hash,
                        message=message[:2000],
                    )
                outcome = self._failed(result_id, asset, started, message, attempt)
                outcome.partition = partition.key if partition else None
                self._lineage.failed(asset, outcome.partition, outcome.message or message, report)
                return outcome
            if self._interrupted.wait(backoff_delay(policy, attempt)):
                return self._stopped(result_id, asset, started, partition, attempt)
        self._record_audits(record.run_id, key, context, result)
        if asset.kind == "source" and asset.parent is None:
            from headwater.catalog.lineage import record_descriptions

            record_descriptions(self.catalog, key, result.descriptions, "source")
        duration = time.perf_counter() - started
        with self._lock:
            self._versions[key] = result.version
            self._tokens.pop(key, None)
        if partition is None:
            self.catalog.set_state(
                key, fingerprint, result.version, asset.build_kind, record.run_id, result.state
            )
        else:
            self.catalog.set_partition(
                key,
                partition.key,
                SUCCESS,
                record.run_id,
                version=result.version,
                rows=result.rows,
                definition_hash=asset.definition_hash,
                fingerprint=fingerprint,
                message=result.message,
            )
        self.catalog.finish_asset(
            result_id,
            SUCCESS,
            rows=result.rows,
            version=result.version,
            duration_s=duration,
            message=result.message,
            attempts=attempt,
        )
        reports = [a.report for a in context.admitted if a.report is not None]
        self._lineage.completed(
            asset,
            partition.key if partition else None,
            result.rows,
            result.version,
            reports[-1] if reports else None,
        )
        return AssetOutcome(
            key,
            SUCCESS,
            asset.build_kind,
            result.rows,
            result.version,
            duration,
            result.message,
            partition.key if partition else None,
        )

    def _attempt(
        self,
        record: RunRecord,
        asset: Asset,
        run_started: dt.datetime,
        partition: Partition | None = None,
    ) -> Any:
        """One try at building `asset`; return its context and result, or raise. A build
        running past the asset's timeout has its engine work interrupted."""
        from headwater.build.context import BuildContext
        from headwater.orchestrate.builders import builder

        session = self._engine.session()
        context = BuildContext(
            asset=asset,
            project=self.project,
            store=self.store,
            session=session,
            compiler=self._compiler,
            relations=self._relations,
            run_id=record.run_id,
            run_seq=record.seq,
            run_started=run_started,
            full_refresh=self.full_refresh,
            temp_dir=self.project.state_dir / "tmp",
            gate=self._gate(asset, session),
            partition=partition,
            table_lock=self._table_lock(asset.key),
        )
        finished = threading.Event()

        def watch(limit: float) -> None:
            # the engine ignores an interrupt while no query runs: keep interrupting until the
            # build gives up, and the build's publish refuses to commit once time is up
            if finished.wait(limit):
                return
            context.expired.set()
            while not finished.wait(INTERRUPT_EVERY_S):
                session.interrupt()

        watcher = None
        if asset.timeout_s is not None:
            watcher = threading.Thread(target=watch, args=(asset.timeout_s,), daemon=True)
            watcher.start()
        with self._lock:
            self._sessions.add(session)
        try:
            result = builder(asset.build_kind)(context)
        except Exception as exc:
            try:
                context.undo_companions()
            except Exception as undo:  # the next load's cleanup takes them back instead
                _LOG.warning("could not undo the companion commits of %s: %s", asset.key, undo)
            if context.expired.is_set() and not isinstance(exc, BuildTimeoutError):
                raise BuildTimeoutError(asset.key, asset.rel_path, asset.timeout_s) from exc
            raise
        finally:
            # Ctrl-C stops builds, not the bookkeeping after a commit that landed
            with self._lock:
                self._sessions.discard(session)
            finished.set()
            if watcher is not None:
                watcher.join()
        # a build whose commit landed succeeded, however late it finished
        if asset.is_stored:
            self._relations.refresh(context.session, asset.key)
        return context, result

    def _table_lock(self, key: str) -> TableCommitLock:
        with self._lock:
            if key not in self._table_locks:
                self._table_locks[key] = TableCommitLock(self.project.state_dir, key)
            return self._table_locks[key]

    def _retries(self, asset: Asset) -> Any:
        if asset.model is not None and asset.model.retries is not None:
            return asset.model.retries
        return self.project.config.retries

    def _message(self, asset: Asset, exc: BaseException) -> str:
        """What went wrong, for the run's report: the error's own words for Headwater's errors,
        the first line of the engine's, and `internal error` with the type otherwise."""
        from headwater.engine.duckdb import model_error

        if isinstance(exc, HeadwaterError):
            return str(exc)
        if type(exc).__module__.startswith(("duckdb", "_duckdb")):
            if asset.kind == "source":
                text = str(exc).strip().splitlines()
                return f"loading source table {asset.key} failed: {text[0] if text else exc}"
            return (
                str(model_error(exc, asset.key, asset.rel_path))
                if isinstance(exc, Exception)
                else str(exc)
            )
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return f"internal error: {detail}"

    def _gate(self, asset: Asset, session: Any) -> Any:
        """The publish gate of `asset`: its contract, checks and metrics (None: none)."""
        metrics = self.project.config.quality.metrics and asset.is_stored
        if not asset.checks and asset.contract is None and not metrics:
            return None
        from headwater.catalog.quality import last_schema, metric_history
        from headwater.quality.gate import QualityGate

        return QualityGate(
            asset.checks,
            asset.contract,
            parent=lambda name: self._relation_of(session, asset, name),
            history=lambda metric, column: metric_history(self.catalog, asset.key, metric, column),
            key_columns=asset.key_columns,
            metrics=metrics,
            previous_schema=lambda: last_schema(self.catalog, asset.key),
        )

    def _relation_of(self, session: Any, asset: Asset, name: str) -> str:
        """SQL naming the rows of asset `name` (as `asset` refers to it) in `session`."""
        from headwater.project.loader import AssetIndex
        from headwater.project.sql import TableReference
        from headwater.sqltext import qualified

        namespace, _, bare = name.rpartition(".")
        key = AssetIndex(self.project.assets).resolve(
            TableReference(namespace or None, bare, None), asset.key, asset.rel_path
        )
        target = self.project.assets[key]
        if target.materialized == "ephemeral":
            self._relations.ensure(session, key)
            return f"({self._compiler.compile(key)})"
        self._relations.ensure(session, key)
        return qualified(TableRef.of(target))

    def _record_audits(self, run_id: str, key: str, context: Any, result: Any) -> None:
        """Keep what the gate found for the published version, and say it in the result."""
        reports = [a for a in context.admitted if a.report is not None]
        if not reports:
            return
        from headwater.catalog.quality import record_audit

        for admitted in reports:
            record_audit(self.catalog, run_id, key, result.version, True, admitted.report)
        last = context.admitted[-1]
        if last.rows is not None:
            result.rows = last.rows
        notes = []
        quarantined = sum(a.quarantined for a in context.admitted)
        if quarantined:
            notes.append(f"{quarantined} rows quarantined by checks")
        flagged = [r for r in last.report.results if r.status in ("warn", "error", "fail")]
        if flagged:
            notes.append("; ".join(f"{r.status} {r.name}: {r.message}" for r in flagged))
        if notes:
            result.message = "; ".join([*([result.message] if result.message else []), *notes])

    def _stopped(
        self,
        result_id: int,
        asset: Asset,
        started: float,
        partition: Partition | None,
        attempts: int,
    ) -> AssetOutcome:
        """Record a build that Ctrl-C broke off as interrupted (not failed: a partition keeps
        its status, and resuming the run builds it)."""
        duration = time.perf_counter() - started
        message = "stopped by Ctrl-C before it finished; resume the run to build it"
        self.catalog.finish_asset(
            result_id, INTERRUPTED, duration_s=duration, message=message, attempts=attempts
        )
        # an OpenLineage START needs its end event
        self._lineage.failed(asset, partition.key if partition else None, message)
        return AssetOutcome(
            asset.key,
            INTERRUPTED,
            asset.build_kind,
            duration_s=duration,
            message=message,
            partition=partition.key if partition else None,
        )

    def _failed(
        self, result_id: int, asset: Asset, started: float, message: str, attempts: int = 1
    ) -> AssetOutcome:
        from headwater.build.secrets import redact

        # a driver's or HTTP client's message may quote a URL or DSN holding a secret
        message = redact(message)
        duration = time.perf_counter() - started
        self.catalog.finish_asset(
            result_id, FAILED, duration_s=duration, message=message, attempts=attempts
        )
        return AssetOutcome(
            asset.key, FAILED, asset.build_kind, duration_s=duration, message=message
        )


def claim_of(project: ProjectDefinition, key: str, partition: str | None = None) -> Claim:
    """What building asset `key` (its `partition`) locks: a nested child table is written by
    its parent's load, so it locks the parent."""
    asset = project.assets.get(key)
    return Claim(asset.parent if asset is not None and asset.parent else key, partition)


def settle_dead_runs(
    project: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    lock: RunLocks,
    mine: set[Claim] | None = None,
    *,
    stale_after_s: float | None = None,
    now: dt.datetime | None = None,
    status: str = INTERRUPTED,
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
        if run_alive(project.state_dir, run_id, run["hostname"], beat, limit, now):
            continue
        complete = True
        for result in catalog.running_results(run_id):
            claim = claim_of(project, result["asset"], result.get("partition_key"))
            borrowed = claim not in mine and Claim(claim.asset) not in mine
            if borrowed and not lock.borrow([claim], run_id):
                complete = False  # a live run builds it now; a later run settles this one
                continue
            try:
                # under the lock: another run may have settled it meanwhile
                if any(r["id"] == result["id"] for r in catalog.running_results(run_id)):
                    _settle_result(project, catalog, store, run, result)
            finally:
                if borrowed:
                    lock.give_back([claim])
        if not complete:
            continue
        current = catalog.run(run_id)
        if current is None or current["status"] != "running":
            continue  # another run settled it first
        message = reason(run) if reason else "the process died during the run"
        catalog.finish_run(run_id, status, message)
        forget(project.state_dir, run_id)
        settled.append(run)
    return settled


def _settle_result(
    project: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    run: dict[str, Any],
    result: dict[str, Any],
) -> None:
    """Record a dead run's unfinished build as the success it was if its commit landed,
    else as interrupted."""
    from headwater.build.context import app_id

    asset = project.assets.get(result["asset"])
    partition = result.get("partition_key")
    version: int | None = None
    if asset is not None and asset.is_stored:
        ref = TableRef.of(asset)
        committed = app_id(asset.key, partition)
        version = store.landed_version(ref, committed, int(run["seq"]), str(run["run_id"]))
    if version is None:
        catalog.finish_asset(
            result["id"],
            INTERRUPTED,
            message="the run was killed before this asset committed; its table is unchanged",
        )
        return
    assert asset is not None
    if partition is not None:
        catalog.set_partition(
            asset.key,
            partition,
            SUCCESS,
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
        SUCCESS,
        version=version,
        message="the run was killed after this commit landed; recorded on recovery",
    )


def _say(line: str) -> None:
    """Write a line to stderr from a signal handler (unbuffered: the handler may have
    interrupted a write to a buffered stream)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(2, f"\n{line}\n".encode())


def _partitioned_alike(first: Asset, second: Asset) -> bool:
    """Whether two assets have the same partitions (so partition K of one reads K of the
    other)."""
    a = first.model.partitions if first.model else None
    b = second.model.partitions if second.model else None
    return (
        a is not None
        and b is not None
        and (a.grain, a.start, a.timezone, a.keys)
        == (
            b.grain,
            b.start,
            b.timezone,
            b.keys,
        )
    )


def _is_transient(exc: BaseException) -> bool:
    """Whether trying again may succeed: a transient source failure or a commit conflict."""
    from headwater.errors import CommitConflictError, TransientError

    return isinstance(exc, TransientError | CommitConflictError)


def _result_row(outcome: AssetOutcome) -> dict[str, Any]:
    return {
        "asset": outcome.key,
        "status": outcome.status,
        "materialization": outcome.materialization,
        "delta_version": outcome.version,
        "message": outcome.message,
    }
