"""The Python API: one `Project` object with every operation the CLI offers.

The CLI is a thin shell over these methods, so anything a terminal user can do, a script can do:

    from headwater import Project
    project = Project("shop")
    summary = project.run(select=["+marts.daily_revenue"])
    table = project.query("select * from marts.daily_revenue order by 1 desc limit 5")

`Project` is a facade: it opens the definition, the catalog and the store once, and each method
hands them to the function of the layer that does the work (orchestrate, a capability, the
catalog or storage).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.project.load_warnings import WarningsOnce
from headwater.project.loader import find_project_root

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa

    from headwater.catalog.audit import AuditRecord, AuditVerification
    from headwater.catalog.freshness import AssetFreshness
    from headwater.catalog.overview import CatalogHealth
    from headwater.catalog.store import Catalog
    from headwater.governance.classification import Classification
    from headwater.governance.scan import ScanReport
    from headwater.lineage.graph import ColumnGraph
    from headwater.lineage.impact import Impact
    from headwater.metrics.compile import CompiledQuery
    from headwater.orchestrate.erasure import ErasureReport
    from headwater.orchestrate.results import EventHandler, RunSummary
    from headwater.orchestrate.retention import Maintained
    from headwater.orchestrate.scheduler import Scheduler
    from headwater.orchestrate.warehouse import TableInfo
    from headwater.project.definition import ProjectDefinition
    from headwater.project.partitions import Partition
    from headwater.quality.suite import AssetChecks, CheckRun, TableProfile
    from headwater.storage.base import HistoryEntry, TableStore
    from headwater.stream.runner import BatchReport, StreamSummary


class Project:
    """A Headwater project on disk and every operation on it."""

    def __init__(
        self, path: str | Path = ".", on_warning: Callable[[str], None] | None = None
    ) -> None:
        """Open the project at or above `path`; `on_warning` is told each load warning once
        (a file Headwater does not read), by default through the `headwater` logger."""
        self.root = find_project_root(Path(path))
        self._warn = WarningsOnce(on_warning)
        self._definition: ProjectDefinition | None = None
        self._catalog: Catalog | None = None
        self._store: TableStore | None = None

    # -- set-up ----------------------------------------------------------------------------

    @staticmethod
    def init(path: str | Path, example: str | None = None) -> Project:
        """Create a new project at `path` (empty, or a copy of a bundled example) and open it."""
        from headwater.project.scaffold import create_project

        return Project(create_project(path, example))

    @property
    def definition(self) -> ProjectDefinition:
        """The loaded, validated project (read once per `Project`). A sql source that loads
        a whole schema has its tables listed from the database the first time."""
        from headwater.orchestrate import opening

        if self._definition is None:
            self._definition = opening.load_definition(self.root)
            self._warn(self._definition.warnings)
        return self._definition

    def discover(self, names: list[str] | None = None) -> dict[str, list[str]]:
        """List again the tables of the sql sources `names` (all with `include` patterns by
        default) and return them by source; the project is reloaded when a list changed."""
        from headwater.orchestrate import opening

        return opening.discover_again(self, names)

    def reload(self) -> None:
        """Read the project files again (after they changed on disk)."""
        self._definition = None

    @property
    def catalog(self) -> Catalog:
        """The catalog database, migrated to the latest schema."""
        if self._catalog is None:
            from headwater.catalog.store import Catalog

            self._catalog = Catalog(self.definition.catalog_url())
        return self._catalog

    @property
    def store(self) -> TableStore:
        """The table store of the warehouse."""
        if self._store is None:
            from headwater.storage.registry import open_store

            self._store = open_store(
                self.definition.warehouse_uri, self.definition.state_dir / "stage"
            )
        return self._store

    def close(self) -> None:
        """Release the catalog connection."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    # -- the graph -------------------------------------------------------------------------

    def select(
        self, select: list[str] | None = None, exclude: list[str] | None = None
    ) -> list[str]:
        """Return the asset keys a dbt-style selection picks, in dependency order."""
        from headwater.orchestrate.selectors import Selector, topological

        chosen = Selector(self.definition).select(select, exclude)
        return topological(self.definition.assets, chosen)

    def asset(self, name: str) -> Any:
        """Return the asset called `name` (`namespace.name` or a unique bare name)."""
        from headwater.project.lookup import find_asset

        return find_asset(self.definition, name)

    def compile(self, name: str) -> str:
        """Return the SQL that builds model `name` (templates rendered, names qualified)."""
        from headwater.transform.compiled import compiled_sql

        asset = self.asset(name)
        return compiled_sql(self.definition, self.store, asset)

    # -- running ---------------------------------------------------------------------------

    def run(
        self,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        *,
        full_refresh: bool = False,
        force: bool = False,
        threads: int | None = None,
        on_event: EventHandler | None = None,
        fail_fast: bool = False,
        stop: Any = None,
        command: str = "run",
    ) -> RunSummary:
        """Build the selected assets (all by default) and return the run's summary; with
        `fail_fast`, nothing new starts after the first failure, and setting the event `stop`
        lets what runs finish and starts nothing more."""
        from headwater.orchestrate import launch

        return launch.run_selection(
            self,
            select,
            exclude,
            full_refresh=full_refresh,
            force=force,
            threads=threads,
            on_event=on_event,
            fail_fast=fail_fast,
            stop=stop,
            command=command,
        )

    def resume(
        self,
        run_id: str,
        *,
        threads: int | None = None,
        on_event: EventHandler | None = None,
        stop: Any = None,
    ) -> RunSummary:
        """Run again what run `run_id` did not finish: its selection, less what succeeded
        (or was up to date) in it. A backfill resumes its partition range.

        Raises:
            UsageError: there is no such run.
        """
        from headwater.orchestrate import resumption

        return resumption.resume(self, run_id, threads=threads, on_event=on_event, stop=stop)

    def resume_keys(self, run_id: str) -> set[str]:
        """What resuming run `run_id` builds: its selection less what succeeded in it."""
        from headwater.orchestrate import resumption

        return resumption.keys_to_resume(self.definition, self.catalog, run_id)

    def backfill_plan(
        self,
        select: list[str],
        start: str | None,
        end: str | None,
        exclude: list[str] | None = None,
    ) -> tuple[set[str], dict[str, list[Partition]]]:
        """The assets a backfill of `select` builds and, for each partitioned one, its
        partitions from `start` to `end` (partition keys, dates or times; both included).

        Raises:
            UsageError: nothing selected is partitioned, or a bound is not valid.
        """
        from headwater.orchestrate import launch

        return launch.plan_backfill(self.definition, select, start, end, exclude)

    def backfill(
        self,
        select: list[str],
        start: str | None = None,
        end: str | None = None,
        *,
        exclude: list[str] | None = None,
        parallel: int | None = None,
        force: bool = False,
        on_event: EventHandler | None = None,
    ) -> RunSummary:
        """Build every partition from `start` to `end` of the selected partitioned assets, in
        dependency order across assets, and then what else the selection holds. Partitions
        already built from the current definition are skipped unless `force`, so an
        interrupted backfill resumes by running it again."""
        from headwater.orchestrate import launch

        return launch.run_backfill(
            self,
            select,
            start,
            end,
            exclude=exclude,
            parallel=parallel,
            force=force,
            on_event=on_event,
        )

    def partitions(self, name: str) -> list[dict[str, Any]]:
        """Every partition of asset `name` up to now, with its status: `success`, `failed` or
        `missing` (never built), its version, rows and when it was last built."""
        from headwater.catalog.partition_status import partition_status

        asset = self.asset(name)
        return partition_status(self.catalog, asset)

    def ingest(
        self,
        names: list[str] | None = None,
        *,
        full_refresh: bool = False,
        threads: int | None = None,
        on_event: EventHandler | None = None,
    ) -> RunSummary:
        """Load the named sources (`SOURCE` or `SOURCE.TABLE`; all by default) and return the
        run's summary. Only source tables run, not the models reading them."""
        from headwater.orchestrate import launch

        return launch.ingest_sources(
            self, names, full_refresh=full_refresh, threads=threads, on_event=on_event
        )

    def source_keys(self, names: list[str] | None = None) -> set[str]:
        """Keys of the source tables `names` pick (`SOURCE` or `SOURCE.TABLE`; all if empty).

        Raises:
            UsageError: a name matches no source table.
        """
        from headwater.orchestrate import launch

        return launch.pick_sources(self.definition, names)

    def sources(self) -> list[dict[str, Any]]:
        """Every source table: its source kind, load mode, cursor and last load."""
        from headwater.ingest import reports

        return reports.source_status(self.definition, self.catalog, self.store, self.source_keys())

    def quarantine(self, name: str, limit: int = 50) -> pa.Table:
        """The newest quarantined records of source table `name` (empty when there are none)."""
        from headwater.ingest import reports

        asset = self.asset(name)
        return reports.quarantined(self.store, asset, limit)

    # -- streams ---------------------------------------------------------------------------

    def run_streams(
        self,
        names: list[str] | None = None,
        *,
        stop: Any = None,
        until_caught_up: bool = False,
        on_commit: Callable[[str, BatchReport], None] | None = None,
    ) -> dict[str, StreamSummary]:
        """Run the streams `names` (all by default), each in its own thread, until the event
        `stop` is set (each commits the batch in hand first) or, with `until_caught_up`, until
        each has read what its source holds; `on_commit` is told of every committed batch.
        Returns what each stream did.

        Raises:
            UsageError: a name matches no stream.
            RunLockedError: one of them runs already.
            StreamsFailedError: a stream stopped on an error (the others ran on).
        """
        import threading

        from headwater.orchestrate import streams

        return streams.run_streams(
            self, names, stop or threading.Event(), until_caught_up, on_commit
        )

    def stream_status(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """Each stream's state (all by default): running or not, last committed batch and
        version, watermark, lag per source partition, events/s, latency p50/p99, totals."""
        from headwater.orchestrate import streams

        return streams.stream_statuses(self, names)

    def reset_stream(self, name: str, to: str) -> dict[str, Any]:
        """Make stream `name` start again from `to` (`earliest`, `latest` or an ISO
        timestamp) on its next run, forgetting its checkpoints; return the reset's marker.

        Raises:
            UsageError: no such stream, or `to` is not valid.
            RunLockedError: the stream is running.
        """
        from headwater.orchestrate import streams

        return streams.reset_stream(self, name, to)

    def serve_collector(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Run the project's HTTP event collector on `host:port` until SIGINT or SIGTERM."""
        from headwater.orchestrate import streams

        streams.serve_collector(self.root, host, port)

    # -- quality ---------------------------------------------------------------------------

    def test(
        self,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        on_asset: Callable[[AssetChecks], None] | None = None,
    ) -> CheckRun:
        """Run the checks of the selected assets (all by default) on their published versions,
        without rebuilding; every result is kept in the catalog."""
        from headwater.orchestrate import launch

        return launch.test_selection(self, select, exclude, on_asset)

    def check_history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest check results of asset `name`, newest first."""
        from headwater.catalog import quality as quality_records

        return quality_records.check_history(self.catalog, self.asset(name).key, limit)

    def metrics(self, name: str, limit: int = 500) -> list[dict[str, Any]]:
        """The latest recorded metrics of asset `name`, newest first."""
        from headwater.catalog import quality as quality_records

        return quality_records.metrics_of(self.catalog, self.asset(name).key, limit)

    def profile(self, name: str) -> TableProfile:
        """Column statistics of asset `name`'s published version.

        Raises:
            UsageError: the asset has not been built yet.
        """
        from headwater.quality.profiling import profile_published

        return profile_published(self.definition, self.store, self.asset(name))

    def suggest_checks(self, name: str) -> dict[str, Any]:
        """A starter sidecar of columns, types and checks inferred from asset `name`'s data."""
        from headwater.quality import suite

        return suite.suggest_checks(self.profile(name))

    def freshness(self, name: str) -> AssetFreshness:
        """When asset `name` was last built successfully, how long ago, and whether that
        breaks its freshness SLA."""
        from headwater.catalog.freshness import asset_freshness

        asset = self.asset(name)
        return asset_freshness(self.catalog, asset.key, asset.freshness_lag_s)

    # -- lineage ---------------------------------------------------------------------------

    def column_graph(self) -> ColumnGraph:
        """Every asset's columns and where each comes from (see `headwater.lineage`)."""
        from headwater.lineage import report

        return report.project_column_graph(self.definition, self.catalog, self.store)

    def column(self, name: str, graph: ColumnGraph | None = None) -> tuple[str, str | None]:
        """Split `name` (`asset`, or `asset.column`) into an asset key and a column as the
        asset spells it (None when `name` is an asset)."""
        from headwater.lineage import report

        return report.column_of(self.definition, self.catalog, self.store, name, graph)

    def descriptions(self, name: str) -> tuple[str | None, dict[str, str]]:
        """What asset `name` and its columns are: from its YAML, else from the comments its
        source database keeps."""
        from headwater.catalog.lineage import asset_descriptions

        asset = self.asset(name)
        return asset_descriptions(self.catalog, asset)

    def lineage(
        self, name: str, direction: str = "both", depth: int | None = None
    ) -> dict[str, Any]:
        """The column lineage of `name` (`asset` or `asset.column`): for each column, its
        upstream and/or downstream tree (`direction`: upstream, downstream or both), at most
        `depth` steps deep, and the metrics reading the asset. For a metric (`metric:NAME`,
        or a metric's name that is no asset's): the columns it reads by asset, and the
        metrics it is made of."""
        from headwater.lineage import report
        from headwater.metrics.reads import metric_lineage, metrics_of_asset

        layer = self.definition.semantic
        metric = name.removeprefix("metric:")
        assets = self.definition.assets
        if name.startswith("metric:") or (
            metric in layer.metrics
            and metric not in assets
            and all(asset.name != metric for asset in assets.values())
        ):
            return metric_lineage(layer, metric)
        found = report.lineage_of(self.definition, self.catalog, self.store, name, direction, depth)
        found["metrics"] = metrics_of_asset(layer, found["asset"])
        return found

    def impact(self, name: str) -> Impact:
        """What changing or dropping column `name` (`asset.column`) affects downstream:
        columns, checks, assets, and the jobs and sensors that run those assets."""
        from headwater.orchestrate.consumers import impact_with_consumers

        return impact_with_consumers(self.definition, self.catalog, self.store, name)

    # -- governance ------------------------------------------------------------------------

    def classification(self, graph: ColumnGraph | None = None) -> Classification:
        """Every column holding personal data: declared (`pii:`) and found along column
        lineage (see `headwater.governance`)."""
        from headwater.governance.classification import classify

        return classify(self.definition, graph or self.column_graph())

    def governance_report(self) -> dict[str, Any]:
        """Every column holding personal data, where its classification came from, which
        roles read it raw and which masked, and by what rule (`headwater governance
        report`)."""
        from headwater.governance.report import governance_report
        from headwater.orchestrate.principals import column_readers

        classification = self.classification()
        masking = self.definition.config.governance.masking

        def rule(asset: str, column: str, kinds: tuple[str, ...]) -> str:
            return masking.rule(f"{asset}.{column}", kinds).describe()

        readers = column_readers(self.definition, classification)
        tables = {ref.key for ref in self.store.list_tables()}
        return governance_report(classification, readers, rule, tables)

    def governance_scan(
        self,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        *,
        sample: int = 1000,
        threshold: float = 0.8,
        min_matches: int = 5,
    ) -> ScanReport:
        """Sample the text columns of the selected stored tables (all by default) that are not
        classified yet, and suggest a `pii:` kind for each whose values look like personal data
        (`headwater governance scan`): at least `threshold` of its `sample` sampled values, and
        at least `min_matches`, match one kind. Tables never built are skipped.

        Raises:
            UsageError: a selector matches nothing, or an option is out of range.
        """
        from headwater.governance.scan import check_options, scan_assets
        from headwater.query.session import QuerySession
        from headwater.storage.base import TableRef

        check_options(sample, threshold, min_matches)  # before the lineage it would waste
        definition = self.definition
        assets = [definition.assets[key] for key in self.select(select, exclude)]
        classification = self.classification()
        # one engine for every table rather than one per query
        with QuerySession.open(definition, self.store) as session:
            return scan_assets(
                assets,
                session.query,
                classification,
                lambda asset: self.store.current_version(TableRef.of(asset)) is not None,
                sample=sample,
                threshold=threshold,
                min_matches=min_matches,
            )

    def audit(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """The newest `limit` records of the audit trail (oldest of them first), of `actor`,
        of `action`, at or after `since` (ISO 8601), each filter when given (`headwater
        audit`).

        Raises:
            UsageError: `since` is not an ISO 8601 date or time, or `limit` is below 1.
        """
        from headwater.catalog.audit import query

        return query(self.catalog, actor=actor, action=action, since=since, limit=limit)

    def erase(
        self,
        subject: str,
        *,
        dry_run: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> ErasureReport:
        """Erase one subject (`namespace.table.column=value`) from every table of the
        warehouse and from their history, and keep it from being loaded again (`headwater
        erase`); with `dry_run`, only say which tables hold its rows. See
        `headwater.orchestrate.erasure`.

        Raises:
            UsageError: the subject is malformed or not found, the hash key is not set, or a
                run holds one of the tables.
        """
        from headwater.orchestrate.erasure import erase

        return erase(
            self.definition,
            self.catalog,
            self.store,
            self.column_graph(),
            subject,
            dry_run=dry_run,
            progress=progress,
        )

    def verify_audit(self, expect_head: str | None = None) -> AuditVerification:
        """Re-compute the audit trail's hash chain and return the number of records, the head
        hash and the first broken record, if any (`headwater audit verify`); with
        `expect_head`, a head hash kept earlier must still be in the trail. Records an erasure
        redacted are checked against the seal of the erasure key (the masking key, from the
        environment)."""
        import os

        from headwater.catalog.audit import verify

        name = self.definition.config.governance.masking.hash_key_env
        return verify(self.catalog, expect_head=expect_head, key=os.environ.get(name) or None)

    # -- reading ---------------------------------------------------------------------------

    def query(
        self, sql: str, as_of: str | int | None = None, as_user: str | None = None
    ) -> pa.Table:
        """Run a read-only query over the project's tables and return its result.

        `sql` is one SELECT, `DESCRIBE <table>`, `SHOW TABLES` or a SELECT from
        `information_schema.tables`/`.columns`/`.schemata`; `as_of` is a version or timestamp.
        With `as_user`, the query runs as that user of `headwater users` reads through
        `headwater serve`: only the tables its roles grant exist, personal data is masked and
        row filters apply; the query is recorded in the query log and the audit trail.

        Raises:
            UsageError: the query is refused or fails; `as_user` is not an active user.
        """
        from headwater.query.session import QuerySession

        if as_user is None:
            with QuerySession.open(self.definition, self.store) as session:
                return session.query(sql, as_of)
        return self._query_as(sql, as_of, as_user)

    def _query_as(self, sql: str, as_of: str | int | None, user: str) -> pa.Table:
        """`query` as `user`, recorded (see `query`)."""
        import time

        from headwater.catalog.access import UserStore
        from headwater.catalog.audit import operator, record_grants
        from headwater.catalog.query_log import FAILED, REFUSED, QueryRecord, record_queries
        from headwater.errors import UsageError
        from headwater.governance.classification import classify
        from headwater.governance.masking import Masking
        from headwater.lineage.columns_read import columns_read_or_none
        from headwater.orchestrate.principals import grants_document, principal_of
        from headwater.query.policy import QueryRejected
        from headwater.query.readonly import run_readonly

        found = UserStore(self.catalog).credentials(user)
        if found is None:
            raise UsageError(
                f"there is no active user {user}", hint="headwater users list shows them"
            )
        principal = principal_of(self.definition, user, found[0])
        record_grants(self.catalog, operator(), grants_document(self.definition))
        graph = self.column_graph()
        known = {key: info.columns for key, info in graph.assets.items()}
        masking = None
        if principal.masked:
            classification = classify(self.definition, graph)
            masking = Masking(self.definition, classification, principal.grants(), known=known)
        visible = None if principal.everything else principal.can_read
        record = QueryRecord(user=user, interface="cli", statement=sql, client=operator())
        limits = self.definition.config.serve.limits
        started = time.monotonic()
        try:
            # the read-only path the server runs, with the server's limits
            result = run_readonly(
                self,
                sql,
                timeout_s=float(limits.timeout),
                max_rows=limits.max_rows,
                as_of=as_of,
                visible=visible,
                rewrite=masking,
            )
        except UsageError as exc:
            outcome = REFUSED if isinstance(exc, QueryRejected) else FAILED
            record = dataclasses.replace(record, outcome=outcome, error=exc.message)
            record_queries(self.catalog, [record])
            raise
        masked = tuple(sorted(masking.applied)) if masking is not None else ()
        elapsed_ms = round((time.monotonic() - started) * 1000, 3)
        done = dataclasses.replace(
            record,
            tables=result.tables,
            columns=columns_read_or_none(sql, known, result.tables),
            masked=masked,
            rows=result.table.num_rows,
            duration_ms=elapsed_ms,
        )
        record_queries(self.catalog, [done])
        if result.truncated:
            self._warn(
                [
                    f"the result was cut off at serve.limits.max_rows ({limits.max_rows} "
                    f"rows), as {user} would get it from the server"
                ]
            )
        return result.table

    def semantic_metrics(self) -> list[dict[str, Any]]:
        """Every metric of the semantic layer (`metrics/*.yml`): name, type, description, the
        measures it aggregates and the group-by items it can be grouped by (`headwater metrics
        list`)."""
        from headwater.metrics.catalog import describe_metrics

        return describe_metrics(self.definition.semantic)

    def compile_metrics(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> CompiledQuery:
        """The SQL statement that answers a metric query (`headwater metrics query
        --compile`).

        Raises:
            UsageError: an unknown metric or dimension, an ambiguous dimension, a join that
                would repeat rows.
        """
        from headwater.metrics.compile import MetricRequest, compile_metrics

        request = MetricRequest(
            tuple(metrics), tuple(group_by), tuple(where), tuple(order_by), limit
        )
        return compile_metrics(self.definition.semantic, request)

    def query_metrics(
        self,
        metrics: Sequence[str],
        group_by: Sequence[str] = (),
        where: Sequence[str] = (),
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> pa.Table:
        """Answer a metric query: one row per combination of the `group_by` items' values,
        one column per metric (`headwater metrics query`).

        Raises:
            UsageError: as `compile_metrics`, or a table it reads was not built.
        """
        compiled = self.compile_metrics(metrics, group_by, where, order_by, limit)
        return self.query(compiled.sql)

    def tables(self) -> list[TableInfo]:
        """Every stored table of the project and any other table in the warehouse."""
        from headwater.orchestrate import warehouse

        return warehouse.list_tables(self.definition, self.store)

    def current_version(self, name: str) -> int | None:
        """The current version of table `name` (None when it has not been built yet)."""
        from headwater.orchestrate import warehouse

        return self.store.current_version(warehouse.table_ref(self.definition, self.store, name))

    def history(self, name: str, limit: int | None = None) -> list[HistoryEntry]:
        """The versions of table `name`, newest first, each saying whether it is still readable
        (`readable` is False once vacuum deleted files it needs)."""
        from headwater.orchestrate import warehouse

        ref = warehouse.table_ref(self.definition, self.store, name)
        return self.store.history(ref, limit, check_readable=True)

    def resolve_version(self, name: str, target: int | str) -> int:
        """The version of table `name` that `target` (a version or ISO timestamp) names.

        Raises:
            TableNotFoundError: no such version, or vacuum deleted its files.
        """
        from headwater.orchestrate import warehouse

        ref = warehouse.table_ref(self.definition, self.store, name)
        return self.store.resolve_version(ref, target)

    # -- maintenance -----------------------------------------------------------------------

    def maintain(
        self, select: list[str] | None = None, *, dry_run: bool = False
    ) -> list[Maintained]:
        """Enforce the `retention:` of the selected assets (all by default) that declare one
        (`headwater maintain`); see `headwater.orchestrate.retention`."""
        from headwater.orchestrate.retention import maintain

        keys = self.select(select) if select else sorted(self.definition.assets)
        return maintain(self.definition, self.catalog, self.store, keys, dry_run=dry_run)

    def restore(self, name: str, version: int | str) -> int:
        """Make an earlier version of table `name` current again; return the new version."""
        from headwater.orchestrate import warehouse

        return warehouse.restore_table(self.definition, self.catalog, self.store, name, version)

    def optimize(self, name: str, zorder: list[str] | None = None) -> dict[str, Any]:
        """Compact (or z-order) table `name`; return delta-rs's metrics."""
        from headwater.orchestrate import warehouse

        return warehouse.optimize_table(self.definition, self.catalog, self.store, name, zorder)

    def vacuum(
        self, name: str, retain_hours: float = 168.0, dry_run: bool = False, force: bool = False
    ) -> list[str]:
        """Delete data files no version within `retain_hours` needs; return their paths (each
        once, relative to the table's folder). A dry run only lists them.

        Raises:
            UsageError: `retain_hours` is negative, or below the table's safe minimum (7 days
                unless the table sets `delta.deletedFileRetentionDuration`) without `force`
                on a real run: readers of an older version could lose its files mid-scan.
        """
        from headwater.orchestrate import warehouse

        return warehouse.vacuum_table(
            self.definition, self.store, name, retain_hours, dry_run, force
        )

    # -- history of runs -------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        """Every job: its schedule, selection, next tick and how its last run ended."""
        from headwater.orchestrate.job_status import job_status

        return job_status(self)

    def scheduler(
        self, *, poll_s: float = 1.0, stale_after_s: float = 60.0, holder: str | None = None
    ) -> Scheduler:
        """A scheduler of the project's jobs and sensors, as `headwater scheduler` runs it:
        `serve()` it until stopped, or `step(now)` one evaluation. It evaluates every `poll_s`
        seconds, counts a run (or another scheduler) without a heartbeat for `stale_after_s`
        seconds as dead, and holds the project's scheduler lock as `holder` (host:pid by
        default)."""
        from headwater.orchestrate.scheduler import Scheduler

        return Scheduler(self, poll_s=poll_s, stale_after_s=stale_after_s, holder=holder)

    def runs(self, limit: int = 20, failed: bool = False) -> list[dict[str, Any]]:
        """Recent runs, newest first (only failed ones with `failed`)."""
        from headwater.catalog.statuses import RunStatus

        return self.catalog.runs(limit, RunStatus.FAILED if failed else None)

    def runs_page(self, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Runs newest first, `limit` of them after skipping `offset`, each with its assets'
        result counts by status."""
        from headwater.catalog import runs_view

        return runs_view.page_of_runs(self.catalog, limit, offset)

    def run_count(self) -> int:
        """How many runs the catalog holds."""
        from headwater.catalog import runs_view

        return runs_view.run_total(self.catalog)

    def runs_token(self) -> tuple[Any, ...]:
        """A token that changes whenever a run starts or ends (to key caches of what runs
        produce on)."""
        from headwater.catalog import runs_view

        return runs_view.current_runs_token(self.catalog)

    def run_detail(self, run_id: str) -> dict[str, Any] | None:
        """Run `run_id` (a unique prefix is enough) with everything it did: `run`, `results`
        and `attempts`; None when there is no such run."""
        from headwater.catalog import runs_view

        return runs_view.read_run(self.catalog, run_id)

    def run_attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of every asset of run `run_id` (a unique prefix is enough)."""
        from headwater.orchestrate import resumption

        return self.catalog.attempts(resumption.recorded_run(self.catalog, run_id).run_id)

    def run_results(self, run_id: str) -> list[dict[str, Any]]:
        """Every asset result of run `run_id` (a unique prefix is enough)."""
        from headwater.orchestrate import resumption

        return self.catalog.results(resumption.recorded_run(self.catalog, run_id).run_id)

    def latest_results(self, keys: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        """The last attempted build of each asset of `keys` (all by default), by asset: its
        status, when, rows, version, duration and message (never-built assets are absent)."""
        from headwater.catalog import overview

        return overview.last_builds(self.catalog, self.select() if keys is None else keys)

    def health(self) -> CatalogHealth:
        """Runs by status, each asset's last build, rows written, failing checks, freshness
        and the scheduler's heartbeat, as `/metrics` reports them."""
        from headwater.catalog import overview

        return overview.catalog_health(self.catalog, list(self.definition.assets))

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
