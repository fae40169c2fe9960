"""Building one work item of a run: its build context and engine session, tried again on
transient failures.

Each attempt runs the builder registered for the asset's build kind in a fresh build context;
a transient failure (a source's, or a commit conflict) is tried again after a backoff as the
asset's retry policy allows, and every attempt is recorded with its log lines. The run's
watchdog interrupts a build that runs past its timeout or that Ctrl-C breaks off; what Ctrl-C
broke off is recorded as interrupted, for `--resume`, not as a failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.catalog.locks import Claim
from headwater.catalog.statuses import BuildStatus
from headwater.catalog.store import Catalog, RunRecord
from headwater.errors import BuildTimeoutError, HeadwaterError, UsageError, first_line
from headwater.orchestrate.export_readers import export_reader
from headwater.orchestrate.lock import TableCommitLock
from headwater.orchestrate.planning import claim_of
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.kinds import AssetKind, BuildKind
from headwater.storage.base import TableRef, TableStore

if TYPE_CHECKING:
    from headwater.build.compiler import Compiler
    from headwater.build.context import BuildContext, BuildResult
    from headwater.build.relations import Relations
    from headwater.build.suppression import Suppression
    from headwater.engine.base import Engine, EngineSession
    from headwater.orchestrate.hooks import BuildHooks
    from headwater.orchestrate.interrupts import Watchdog
    from headwater.orchestrate.planning import Freshness, WorkItem
    from headwater.orchestrate.recording import BuildRecorder
    from headwater.orchestrate.results import AssetOutcome
    from headwater.project.config import EngineConfig

_LOG = logging.getLogger(__name__)


class BuildKit:
    """What the builds of one run share: its engines (one per engine its assets build on),
    the compiler, the relations registered in each engine's sessions, and one commit lock per
    table.

    An engine starts with the first build that needs it (the compiler with the first build or
    the first lineage that needs compiled SQL), so a run with nothing to build starts none;
    `close` ends them.
    """

    def __init__(self, definition: ProjectDefinition, catalog: Catalog, store: TableStore) -> None:
        self.definition = definition
        self.catalog = catalog
        self.store = store
        self._lock = threading.Lock()
        self._engines: dict[str, tuple[Engine, Relations]] = {}
        self._starting: dict[str, threading.Lock] = {}
        self._failed: dict[str, Exception] = {}
        self._compiler: Compiler | None = None
        self._table_locks: dict[str, TableCommitLock] = {}

    def suppression(self, asset: Asset) -> Suppression:
        """The erased subjects a load of `asset` (a source's table or a seed) skips."""
        from headwater.build.suppression import Suppression
        from headwater.catalog.erasures import suppressed

        if asset.sql is not None or asset.stream is not None:
            return Suppression()
        hashes = suppressed(self.catalog, asset.key)
        if not hashes:
            return Suppression()
        env = self.definition.config.governance.masking.hash_key_env
        return Suppression(
            {column: frozenset(found) for column, found in hashes.items()},
            os.environ.get(env) or None,
            env,
        )

    def compiler(self) -> Compiler:
        """The run's compiler, made on first use."""
        with self._lock:
            return self._compiler_locked()

    def _compiler_locked(self) -> Compiler:
        if self._compiler is None:
            # what every build needs, loaded once rather than inside the first asset's time:
            # the publish gate, and the Parquet footer reader of commits
            import headwater.quality.gate
            import headwater.storage.parquet_stats  # noqa: F401
            from headwater.build.compiler import Compiler

            self._compiler = Compiler(self.definition)
        return self._compiler

    def start(self, asset: Asset) -> tuple[Engine, Compiler, Relations]:
        """Start the engine `asset` builds on unless it runs already; return it with the
        compiler and the relations registered in it. An engine starts outside the kit's lock
        (Spark takes seconds), so builds on other engines go on meanwhile; one that failed to
        start fails every build that needs it in this run, without trying again."""
        name, config = self.definition.engine_of(asset)
        with self._lock:
            compiler = self._compiler_locked()
            started = self._engines.get(name)
            starting = self._starting.setdefault(name, threading.Lock())
        if started is None:
            with starting:
                started = self._engines.get(name)
                if started is None:
                    if name in self._failed:
                        raise self._failed[name]
                    try:
                        started = self._start_engine(config, name, compiler)
                    except Exception as exc:
                        self._failed[name] = exc
                        raise
                    with self._lock:
                        self._engines[name] = started
        engine, relations = started
        return engine, compiler, relations

    def _start_engine(
        self, config: EngineConfig, name: str, compiler: Compiler
    ) -> tuple[Engine, Relations]:
        """Create the engine `config` describes (known to the run as `name`) and its
        relations."""
        from headwater.build.relations import Relations
        from headwater.engine.registry import EnginePlace, create_engine

        definition = self.definition
        engine = create_engine(
            config, EnginePlace.of(definition, self.store, definition.state_dir / "tmp" / name)
        )
        if not engine.capabilities.writes_parquet:
            # storage commits the Parquet files an engine writes; there is no other path
            engine.close()
            raise UsageError(
                f"the {config.type} engine cannot write Parquet files, which is how builds "
                "hand their results to storage",
                hint="choose an engine that writes Parquet ('engine:' in headwater.yml)",
            )
        return engine, Relations(definition, self.store, compiler.compile)

    def qualified(self, key: str) -> str:
        """Return model `key`'s SQL as column lineage reads it."""
        result: str = self.compiler().qualified(key)
        return result

    def table_lock(self, key: str) -> TableCommitLock:
        """Return the lock that orders the commits to asset `key`'s table."""
        with self._lock:
            if key not in self._table_locks:
                self._table_locks[key] = TableCommitLock(
                    self.definition.state_dir, key, self.catalog
                )
            return self._table_locks[key]

    def gate(self, asset: Asset, session: EngineSession) -> Any:
        """Return the publish gate of `asset`: its contract, checks and metrics (None: it has
        none)."""
        metrics = self.definition.config.quality.metrics and asset.is_stored
        if not asset.checks and asset.contract is None and not metrics:
            return None
        from headwater.catalog.quality import last_schema, metric_history
        from headwater.quality.gate import QualityGate

        catalog = self.catalog
        return QualityGate(
            asset.checks,
            asset.contract,
            parent=lambda name: self._relation_of(session, asset, name),
            history=lambda metric, column: metric_history(catalog, asset.key, metric, column),
            key_columns=asset.key_columns,
            metrics=metrics,
            previous_schema=lambda: last_schema(catalog, asset.key),
        )

    def _relation_of(self, session: EngineSession, asset: Asset, name: str) -> str:
        """SQL naming the rows of asset `name` (as `asset` refers to it) in `session`."""
        from headwater.project.definition import AssetIndex
        from headwater.project.sql import TableReference
        from headwater.sqltext import qualified

        _, compiler, relations = self.start(asset)
        namespace, _, bare = name.rpartition(".")
        key = AssetIndex(self.definition.assets).resolve(
            TableReference(namespace or None, bare, None), asset.key, asset.rel_path
        )
        target = self.definition.assets[key]
        relations.ensure(session, key)
        if target.materialized == BuildKind.EPHEMERAL:
            return f"({compiler.compile(key)})"
        return qualified(TableRef.of(target))

    def close(self) -> None:
        """End the engines, and keep the compiler's cache for the next run."""
        for engine, _ in self._engines.values():
            engine.close()
        if self._compiler is not None:
            self._compiler.save()


class Builds:
    """Builds the work items of one run, each in its own attempts, on the run's workers."""

    def __init__(
        self,
        kit: BuildKit,
        record: RunRecord,
        *,
        full_refresh: bool,
        freshness: Freshness,
        recorder: BuildRecorder,
        hooks: BuildHooks,
        watchdog: Watchdog,
        fence: Callable[[Claim], None] | None = None,
    ) -> None:
        self.kit = kit
        self.fence = fence
        self.definition = kit.definition
        self.record = record
        self.full_refresh = full_refresh
        self.freshness = freshness
        self.recorder = recorder
        self.hooks = hooks
        self.watchdog = watchdog
        self.run_started = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def build(self, item: WorkItem, fingerprint: str) -> AssetOutcome:
        """Build one asset (or one partition), trying again after transient failures as its
        retries allow; return its outcome, recorded."""
        from headwater.build.retry import backoff_delay
        from headwater.orchestrate.logs import captured

        asset = self.definition.assets[item.key]
        # an engine starts once per run (importing DuckDB, starting Spark); that is not this
        # asset's time
        engine, _, _ = self.kit.start(asset)
        started = time.perf_counter()
        result_id = self.recorder.started(item, asset, fingerprint)
        self.hooks.started(item, asset)
        policy = self._retries(asset)
        interrupted = self.watchdog.interrupted
        attempt = 0
        while True:
            attempt += 1
            attempt_started, clock = dt.datetime.now(dt.UTC).isoformat(), time.perf_counter()
            with captured() as lines:
                try:
                    context, result = self._attempt(asset, item)
                    error: Exception | None = None
                except Exception as exc:
                    error = exc
            retry = error is not None and _is_transient(error) and attempt < policy.attempts
            # what Ctrl-C broke off is no failure of the asset: it is resumed, not retried
            stopped = error is not None and interrupted.is_set()
            if stopped:
                status = BuildStatus.INTERRUPTED
            elif error is None:
                status = BuildStatus.SUCCESS
            else:
                status = BuildStatus.RETRYING if retry else BuildStatus.FAILED
            self.recorder.attempt(
                result_id,
                item.key,
                attempt,
                status,
                attempt_started,
                time.perf_counter() - clock,
                None if error is None else _message(engine, asset, error),
                lines,
            )
            if error is None:
                break
            if stopped:
                return self._stopped(result_id, item, asset, started, attempt)
            if not retry:
                report = getattr(error, "report", None)
                message = _message(engine, asset, error)
                if attempt > 1:
                    message = f"{message} (after {attempt} attempts)"
                outcome = self.recorder.failed(
                    result_id, item, asset, started, message, attempt, report
                )
                self.hooks.failed(item, asset, outcome.message or message, report)
                return outcome
            if interrupted.wait(backoff_delay(policy, attempt)):
                return self._stopped(result_id, item, asset, started, attempt)
        self.freshness.built(item.key, result.version)
        outcome = self.recorder.succeeded(
            result_id, item, asset, fingerprint, context, result, started, attempt
        )
        self.hooks.completed(item, asset, context, result)
        return outcome

    def close(self) -> None:
        """End the run's lineage deliveries and its engine (the run has ended)."""
        self.hooks.close()
        self.kit.close()

    def _stopped(
        self, result_id: int, item: WorkItem, asset: Asset, started: float, attempts: int
    ) -> AssetOutcome:
        """Record a build Ctrl-C broke off; its lineage START still needs its end event."""
        outcome = self.recorder.stopped(result_id, item, asset, started, attempts)
        self.hooks.failed(item, asset, outcome.message or "")
        return outcome

    def _attempt(self, asset: Asset, item: WorkItem) -> tuple[BuildContext, BuildResult]:
        """One try at building `asset`; return its context and result, or raise. A build
        running past the asset's timeout has its engine work interrupted."""
        from headwater.build.context import BuildContext
        from headwater.orchestrate.builders import builder

        engine, compiler, relations = self.kit.start(asset)
        session = engine.session()
        context = BuildContext(
            asset=asset,
            definition=self.definition,
            store=self.kit.store,
            session=session,
            compiler=compiler,
            relations=relations,
            run_id=self.record.run_id,
            run_seq=self.record.seq,
            run_started=self.run_started,
            full_refresh=self.full_refresh,
            temp_dir=self.definition.state_dir / "tmp",
            gate=self.kit.gate(asset, session),
            partition=item.partition,
            table_lock=self.kit.table_lock(asset.key),
            fence=self._fence_of(item),
            suppression=self.kit.suppression(asset),
            reads_as=export_reader(self.definition, self.kit.catalog, self.kit.store, asset),
        )
        # the watchdog keeps interrupting a build past its time until the build gives up,
        # and the build's publish refuses to commit once `expired` is set; Ctrl-C stops
        # builds, not the bookkeeping after a commit that landed
        with self.watchdog.watching(session, asset.timeout_s, context.expired):
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
        if result.audit is not None:
            from headwater.catalog.audit import AuditEvent, append, operator

            append(
                self.kit.catalog,
                [
                    AuditEvent(
                        operator(),
                        asset.build_kind,
                        {"asset": asset.key, "run_id": self.record.run_id, **result.audit},
                    )
                ],
            )
        # a build whose commit landed succeeded, however late it finished
        if asset.is_stored:
            relations.refresh(context.session, asset.key)
        return context, result

    def _fence_of(self, item: WorkItem) -> Callable[[], None] | None:
        """The check before each of `item`'s commits that the run still holds its lock."""
        fence = self.fence
        if fence is None:
            return None
        claim = claim_of(self.definition, item.key, item.partition_key)
        return lambda: fence(claim)

    def _retries(self, asset: Asset) -> Any:
        """The asset's retry policy (`AssetRetries`), else the project's: `backoff_delay`
        reads the same fields from it as from a source's `RetryConfig`."""
        if asset.model is not None and asset.model.retries is not None:
            return asset.model.retries
        return self.definition.config.retries


def _message(engine: Engine, asset: Asset, exc: Exception) -> str:
    """What went wrong, for the run's report: the error's own words for Headwater's errors,
    the first line of the engine's, and `internal error` with the type otherwise."""
    # the engine first: some of its errors are Headwater's own types that only it can place
    # (a DuckDB function the Spark engine refuses names no model until it says which)
    if isinstance(exc, HeadwaterError) and not engine.is_engine_error(exc):
        return str(exc)
    if engine.is_engine_error(exc):
        if asset.kind == AssetKind.SOURCE:
            return f"loading source table {asset.key} failed: {first_line(exc)}"
        return str(engine.model_error(exc, asset.key, asset.rel_path))
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return f"internal error: {detail}"


def _is_transient(exc: BaseException) -> bool:
    """Whether trying again may succeed: a transient source failure or a commit conflict."""
    from headwater.errors import CommitConflictError, TransientError

    return isinstance(exc, TransientError | CommitConflictError)
