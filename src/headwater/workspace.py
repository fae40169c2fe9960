"""The Python API: one `Project` object with every operation the CLI offers.

The CLI is a thin shell over these methods, so anything a terminal user can do, a script can do:

    from headwater import Project
    project = Project("shop")
    summary = project.run(select=["+marts.daily_revenue"])
    table = project.query("select * from marts.daily_revenue order by 1 desc limit 5")
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, NotFoundError, UsageError
from headwater.project.loader import (
    PROJECT_FILE,
    ProjectDefinition,
    find_project_root,
    load_project,
)
from headwater.storage.base import CommitInfo, HistoryEntry, TableRef

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa

    from headwater.catalog.store import Catalog
    from headwater.lineage.graph import ColumnGraph
    from headwater.lineage.impact import Impact
    from headwater.orchestrate.runner import EventHandler, RunSummary
    from headwater.project.partitions import Partition
    from headwater.quality.suite import AssetChecks, CheckRun, TableProfile
    from headwater.storage.base import TableStore

EXAMPLES_DIR = Path(__file__).parent / "examples"


@dataclass(frozen=True)
class TableInfo:
    """A stored table: its version, size and shape."""

    key: str
    materialization: str
    version: int | None
    files: int
    rows: int | None
    size_bytes: int
    in_project: bool


def _arguments(run: dict[str, Any]) -> dict[str, Any]:
    """What a recorded run was asked to do (empty for runs recorded before this was kept)."""
    import json

    text = run.get("arguments")
    found = json.loads(text) if text else {}
    return found if isinstance(found, dict) else {}


class Project:
    """A Headwater project on disk and every operation on it."""

    def __init__(
        self, path: str | Path = ".", on_warning: Callable[[str], None] | None = None
    ) -> None:
        """Open the project at or above `path`; `on_warning` is told each load warning once
        (a file Headwater does not read), by default through the `headwater` logger."""
        self.root = find_project_root(Path(path))
        self._on_warning = on_warning
        self._warned: set[str] = set()
        self._definition: ProjectDefinition | None = None
        self._catalog: Catalog | None = None
        self._store: TableStore | None = None

    # -- set-up ----------------------------------------------------------------------------

    @staticmethod
    def init(path: str | Path, example: str | None = None) -> Project:
        """Create a new project at `path` (empty, or a copy of a bundled example) and open it."""
        target = Path(path)
        if target.exists() and any(target.iterdir()):
            raise UsageError(
                f"{target} already exists and is not empty",
                hint="choose a new folder name",
            )
        if example:
            source = EXAMPLES_DIR / example
            if not (source / PROJECT_FILE).is_file():
                known = sorted(
                    p.name for p in EXAMPLES_DIR.iterdir() if (p / PROJECT_FILE).is_file()
                )
                raise UsageError(
                    f"no example named '{example}'", hint=f"examples: {', '.join(known)}"
                )
            shutil.copytree(
                source,
                target,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("warehouse", ".headwater", "__pycache__"),
            )
        else:
            name = target.resolve().name.replace("-", "_")
            for folder in ("models", "seeds"):
                (target / folder).mkdir(parents=True, exist_ok=True)
            (target / PROJECT_FILE).write_text(
                f"name: {name}\nwarehouse: warehouse\nthreads: 4\n"
                "defaults:\n  materialized: table\n",
                encoding="utf-8",
            )
            (target / "models" / "example.sql").write_text("select 1 as id, 'hello' as greeting\n")
        (target / ".gitignore").write_text("warehouse/\n.headwater/\n", encoding="utf-8")
        return Project(target)

    @property
    def definition(self) -> ProjectDefinition:
        """The loaded, validated project (read once per `Project`). A sql source that loads
        a whole schema has its tables listed from the database the first time."""
        if self._definition is None:
            definition = load_project(self.root)
            if definition.undiscovered:
                self._discover(definition, definition.undiscovered, strict=True)
                definition = load_project(self.root)
            self._definition = definition
            self._warn(definition.warnings)
        return self._definition

    def _warn(self, warnings: list[str]) -> None:
        """Pass on each load warning not passed on before (a reload finds the same ones)."""
        import logging

        for warning in warnings:
            if warning in self._warned:
                continue
            self._warned.add(warning)
            if self._on_warning is not None:
                self._on_warning(warning)
            else:
                logging.getLogger("headwater").warning("%s", warning)

    def discover(self, names: list[str] | None = None) -> dict[str, list[str]]:
        """List again the tables of the sql sources `names` (all with `include` patterns by
        default) and return them by source; the project is reloaded when a list changed."""
        definition = self.definition
        chosen = [
            n for n, s in definition.sources.items() if s.include and (not names or n in names)
        ]
        found, changed = self._discover(definition, chosen, strict=True)
        if changed:
            self.reload()
        return found

    def _discover(
        self, definition: ProjectDefinition, names: list[str], strict: bool
    ) -> tuple[dict[str, list[str]], bool]:
        """List the tables of sources `names` and keep the lists; return them and whether one
        changed. Unless `strict`, a source that cannot be listed keeps its last list (its
        loads will report the failure)."""
        import logging

        from headwater.errors import HeadwaterError
        from headwater.ingest.database import list_tables
        from headwater.project.discovered import read_discovered, write_discovered

        found: dict[str, list[str]] = {}
        changed = False
        for name in names:
            source = definition.sources[name]
            try:
                found[name] = list_tables(name, source)
            except HeadwaterError as exc:
                if strict or read_discovered(definition.state_dir, name, source) is None:
                    raise
                logging.getLogger(__name__).warning("%s", exc)
                continue
            changed |= write_discovered(definition.state_dir, name, source, found[name])
        return found, changed

    def _refresh_sources(self, keys: set[str], everything: bool) -> bool:
        """Before a run: list again the tables of the schema-loading sources it touches (all
        of them when it runs `everything`); reload the project and return True on a change."""
        definition = self.definition
        touched = {
            a.source.source_name
            for k in keys
            if (a := definition.assets[k]).source is not None and a.parent is None
        }
        names = [
            n for n, s in definition.sources.items() if s.include and (everything or n in touched)
        ]
        if not names:
            return False
        _, changed = self._discover(definition, names, strict=False)
        if changed:
            self.reload()
        return changed

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

            self._store = open_store(self.definition.warehouse_uri)
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
        from headwater.project.loader import AssetIndex
        from headwater.project.sql import TableReference

        namespace, _, bare = name.rpartition(".")
        assets = self.definition.assets  # a broken project says so, not "no asset named"
        try:
            key = AssetIndex(assets).resolve(
                TableReference(namespace or None, bare, None), "(command line)", "(command line)"
            )
        except ConfigError as exc:
            raise NotFoundError(
                f"no asset named '{name}'", hint=exc.hint or "list assets with 'headwater dag'"
            ) from None
        return self.definition.assets[key]

    def compile(self, name: str) -> str:
        """Return the SQL that builds model `name` (templates rendered, names qualified)."""
        from headwater.build.compiler import Compiler

        asset = self.asset(name)
        if asset.sql is None:
            raise UsageError(f"{asset.key} is a seed; it has no SQL", hint="compile a model")
        incremental = asset.materialized in ("incremental", "snapshot") and self.store.exists(
            TableRef.of(asset)
        )
        compiler = Compiler(self.definition)
        sql = compiler.compile(asset.key, is_incremental=incremental)
        compiler.save()
        return sql

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
        from headwater.orchestrate.runner import Runner
        from headwater.orchestrate.selectors import Selector

        chosen = Selector(self.definition).select(select, exclude)
        if self._refresh_sources(chosen, everything=not select):
            chosen = Selector(self.definition).select(select, exclude)
        runner = Runner(
            self.definition,
            self.catalog,
            self.store,
            threads=threads or self.definition.config.threads,
            full_refresh=full_refresh,
            force=force,
            on_event=on_event,
            fail_fast=fail_fast,
            stop=stop,
            command=command,
            arguments={"select": select or [], "exclude": exclude or []},
        )
        text = " ".join(select or []) + (f" --exclude {' '.join(exclude)}" if exclude else "")
        return runner.run(chosen, text or None)

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
        from headwater.orchestrate.runner import Runner

        run = self._run_record(run_id)
        arguments = _arguments(run)
        if run["command"] == "backfill":
            return self.backfill(
                arguments.get("select") or [],
                arguments.get("start"),
                arguments.get("end"),
                exclude=arguments.get("exclude") or None,
                force=bool(arguments.get("force")),
                parallel=threads,
                on_event=on_event,
            )
        if run["command"] == "ingest":
            return self.ingest(arguments.get("names") or None, threads=threads, on_event=on_event)
        remaining = self.resume_keys(run_id)
        runner = Runner(
            self.definition,
            self.catalog,
            self.store,
            threads=threads or self.definition.config.threads,
            full_refresh=bool(run["full_refresh"]),
            force=bool(arguments.get("force")),  # resuming a --force run forces the rest too
            on_event=on_event,
            resumed_from=run["run_id"],
            stop=stop,
        )
        return runner.run(remaining, f"--resume {run['run_id']}")

    def _run_record(self, run_id: str) -> dict[str, Any]:
        run = self.catalog.run(run_id)
        if run is None:
            raise UsageError(f"no run '{run_id}'", hint="list runs with 'headwater runs'")
        return run

    def resume_keys(self, run_id: str) -> set[str]:
        """What resuming run `run_id` builds: its selection less what succeeded in it."""
        from headwater.orchestrate.selectors import Selector

        run = self._run_record(run_id)
        arguments = _arguments(run)
        if run["command"] == "backfill":
            return Selector(self.definition).select(
                arguments.get("select") or None, arguments.get("exclude") or None
            )
        if run["command"] == "ingest":
            return self.source_keys(arguments.get("names") or None)
        if run["resumed_from"] and "select" not in arguments:  # a resume of a resume
            return self.resume_keys(run["resumed_from"])
        chosen = Selector(self.definition).select(
            arguments.get("select") or None, arguments.get("exclude") or None
        )
        done = {
            r["asset"]
            for r in self.catalog.results(run["run_id"])
            if r["status"] in ("success", "up_to_date") and r["partition_key"] is None
        }
        return chosen - done

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
        from headwater.orchestrate.selectors import Selector

        chosen = Selector(self.definition).select(select, exclude)
        partitions: dict[str, list[Partition]] = {}
        for key in sorted(chosen):
            partition_set = self.definition.assets[key].partition_set
            if partition_set is None:
                continue
            try:
                partitions[key] = partition_set.between(start, end)
            except ValueError as exc:
                from headwater.errors import Location

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
        from headwater.orchestrate.runner import Runner

        chosen, partitions = self.backfill_plan(select, start, end, exclude)
        runner = Runner(
            self.definition,
            self.catalog,
            self.store,
            threads=parallel or self.definition.config.threads,
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

    def partitions(self, name: str) -> list[dict[str, Any]]:
        """Every partition of asset `name` up to now, with its status: `success`, `failed` or
        `missing` (never built), its version, rows and when it was last built."""
        asset = self.asset(name)
        partition_set = asset.partition_set
        if partition_set is None:
            raise UsageError(f"{asset.key} is not partitioned", hint="see 'partitions:' in docs")
        recorded = self.catalog.partitions(asset.key)
        rows = []
        for partition in partition_set.all():
            found = recorded.get(partition.key)
            rows.append(
                {
                    "partition": partition.key,
                    "status": found["status"] if found else "missing",
                    "version": found["delta_version"] if found else None,
                    "rows": found["rows_written"] if found else None,
                    "updated_at": found["updated_at"] if found else None,
                    "stale": bool(found and found["definition_hash"] != asset.definition_hash),
                }
            )
        return rows

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
        from headwater.orchestrate.runner import Runner

        chosen = self.source_keys(names)
        if self._refresh_sources(chosen, everything=not names):
            chosen = self.source_keys(names)
        runner = Runner(
            self.definition,
            self.catalog,
            self.store,
            threads=threads or self.definition.config.threads,
            full_refresh=full_refresh,
            on_event=on_event,
            command="ingest",
            arguments={"names": names or []},
        )
        return runner.run(chosen, " ".join(names or []) or None)

    def source_keys(self, names: list[str] | None = None) -> set[str]:
        """Keys of the source tables `names` pick (`SOURCE` or `SOURCE.TABLE`; all if empty).

        Raises:
            UsageError: a name matches no source table.
        """
        sources = {k: a for k, a in self.definition.assets.items() if a.kind == "source"}
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
                    hint=f"did you mean '{near}'?"
                    if near
                    else "list them with 'headwater sources'",
                )
            chosen |= found
        return chosen

    def sources(self) -> list[dict[str, Any]]:
        """Every source table: its source kind, load mode, cursor and last load."""
        from headwater.ingest.state import committed_state

        rows = []
        for key in sorted(self.source_keys()):
            asset = self.definition.assets[key]
            assert asset.source is not None
            ref = TableRef.of(asset)
            state = committed_state(self.store, ref)
            last = next(
                (r for r in self.catalog.asset_results(key, 20) if r["status"] != "running"),
                None,
            )
            rows.append(
                {
                    "table": key,
                    "kind": asset.source.source.kind,
                    "mode": asset.source.mode,
                    "cursor": state.get("cursor"),
                    "files": len(state.get("files", {})),
                    "version": self.store.current_version(ref),
                    "last_status": last["status"] if last else None,
                    "last_load": last["finished_at"] if last else None,
                    "last_message": last["message"] if last else None,
                }
            )
        return rows

    def quarantine(self, name: str, limit: int = 50) -> pa.Table:
        """The newest quarantined records of source table `name` (empty when there are none)."""
        from headwater.storage.companions import quarantine_ref, quarantine_schema

        asset = self.asset(name)
        target = quarantine_ref(TableRef.of(asset))
        if not self.store.exists(target):
            return quarantine_schema().empty_table()
        dataset = self.store.arrow_dataset(self.store.snapshot(target))
        table = dataset.to_table()
        return table.sort_by([("quarantined_at", "descending")]).slice(0, limit)

    # -- quality ---------------------------------------------------------------------------

    def test(
        self,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        on_asset: Callable[[AssetChecks], None] | None = None,
    ) -> CheckRun:
        """Run the checks of the selected assets (all by default) on their published versions,
        without rebuilding; every result is kept in the catalog."""
        from headwater.quality.suite import run_checks

        keys = self.select(select, exclude)
        text = " ".join(select or []) + (f" --exclude {' '.join(exclude)}" if exclude else "")
        return run_checks(self.definition, self.store, self.catalog, keys, text or None, on_asset)

    def check_history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest check results of asset `name`, newest first."""
        from headwater.catalog.quality import check_history

        return check_history(self.catalog, self.asset(name).key, limit)

    def metrics(self, name: str, limit: int = 500) -> list[dict[str, Any]]:
        """The latest recorded metrics of asset `name`, newest first."""
        from headwater.catalog.quality import metrics_of

        return metrics_of(self.catalog, self.asset(name).key, limit)

    def profile(self, name: str) -> TableProfile:
        """Column statistics of asset `name`'s published version."""
        from headwater.quality.suite import profile

        asset = self.asset(name)
        if asset.is_stored and not self.store.exists(TableRef.of(asset)):
            raise UsageError(f"{asset.key} has not been built yet", hint="run it first")
        return profile(self.definition, self.store, asset)

    def suggest_checks(self, name: str) -> dict[str, Any]:
        """A starter sidecar of columns, types and checks inferred from asset `name`'s data."""
        from headwater.quality.suite import suggest_checks

        return suggest_checks(self.profile(name))

    # -- lineage ---------------------------------------------------------------------------

    def column_graph(self) -> ColumnGraph:
        """Every asset's columns and where each comes from (see `headwater.lineage`)."""
        from headwater.build.compiler import Compiler
        from headwater.lineage.graph import project_graph

        compiler = Compiler(self.definition)
        return project_graph(self.definition, compiler.qualified, self.catalog, self.store)

    def column(self, name: str, graph: ColumnGraph | None = None) -> tuple[str, str | None]:
        """Split `name` (`asset`, or `asset.column`) into an asset key and a column as the
        asset spells it (None when `name` is an asset)."""
        try:
            return self.asset(name).key, None
        except NotFoundError as missing:
            if "." not in name:
                raise
            table, _, wanted = name.rpartition(".")
            try:
                key = self.asset(table).key
            except NotFoundError:
                raise missing from None
        graph = graph or self.column_graph()
        found = graph.column(key, wanted)
        if found is None:
            columns = ", ".join(graph.columns(key)) or "(none known: build it first)"
            raise NotFoundError(
                f"{key} has no column '{wanted}'", hint=f"its columns are: {columns}"
            )
        return key, found

    def descriptions(self, name: str) -> tuple[str | None, dict[str, str]]:
        """What asset `name` and its columns are: from its YAML, else from the comments its
        source database keeps."""
        from headwater.catalog.lineage import TABLE, descriptions_of

        asset = self.asset(name)
        found = descriptions_of(self.catalog, asset.key)
        columns = {k: v for k, v in found.items() if k != TABLE} | asset.column_descriptions
        return asset.description or found.get(TABLE), columns

    def lineage(
        self, name: str, direction: str = "both", depth: int | None = None
    ) -> dict[str, Any]:
        """The column lineage of `name` (`asset` or `asset.column`): for each column, its
        upstream and/or downstream tree (`direction`: upstream, downstream or both), at most
        `depth` steps deep."""
        from headwater.lineage.graph import ColumnRef

        graph = self.column_graph()
        key, column = self.column(name, graph)
        info = graph.assets[key]
        directions = ["upstream", "downstream"] if direction == "both" else [direction]
        columns = [column] if column else list(info.columns)
        return {
            "asset": key,
            "error": info.error,
            "upstream_assets": sorted(self.definition.assets[key].depends_on),
            "downstream_assets": sorted(self.definition.downstream()[key]),
            "columns": {
                c: {d: graph.tree(ColumnRef(key, c), d, depth).to_json() for d in directions}
                for c in columns
            },
        }

    def impact(self, name: str) -> Impact:
        """What changing or dropping column `name` (`asset.column`) affects downstream:
        columns, checks, assets, and the jobs and sensors that run those assets."""
        from headwater.lineage.graph import ColumnRef
        from headwater.lineage.impact import impact_of

        graph = self.column_graph()
        key, column = self.column(name, graph)
        if column is None:
            raise UsageError(
                f"'{name}' names an asset; impact is about one column",
                hint=f"name a column: {key}.<column> (its columns: "
                f"{', '.join(graph.columns(key))})",
            )
        impact = impact_of(graph, ColumnRef(key, column))
        touched = {key, *impact.assets}
        config = self.definition.config
        for job_name, job in config.jobs.items():
            hits = touched.intersection(self.select(job.select or None, job.exclude or None))
            if hits:
                impact.consumers.append(
                    {"kind": "job", "name": job_name, "assets": ", ".join(sorted(hits))}
                )
        for sensor_name, sensor in config.sensors.items():
            watched = {self.asset(a).key for a in sensor.assets} & touched
            if watched:
                impact.consumers.append(
                    {"kind": "sensor", "name": sensor_name, "assets": ", ".join(sorted(watched))}
                )
        return impact

    # -- reading ---------------------------------------------------------------------------

    def query(self, sql: str, as_of: str | int | None = None) -> pa.Table:
        """Run a read-only query over the project's tables and return its result.

        `sql` is one SELECT, `DESCRIBE <table>`, `SHOW TABLES` or a SELECT from
        `information_schema.tables`/`.columns`/`.schemata`; `as_of` is a version or timestamp.
        """
        from headwater.query.session import QuerySession

        with QuerySession(self) as session:
            return session.query(sql, as_of)

    def tables(self) -> list[TableInfo]:
        """Every stored table of the project and any other table in the warehouse."""
        known = {a.key: a for a in self.definition.assets.values() if a.is_stored}
        refs = {r.key: r for r in self.store.list_tables()}
        for key in known:
            refs.setdefault(key, TableRef.parse(key))
        infos = []
        for key in sorted(refs):
            ref = refs[key]
            asset = known.get(key)
            if self.store.current_version(ref) is None:
                infos.append(
                    TableInfo(
                        key,
                        asset.materialized if asset else "?",
                        None,
                        0,
                        None,
                        0,
                        asset is not None,
                    )
                )
                continue
            snapshot = self.store.snapshot(ref)
            rows = [f.rows for f in snapshot.files]
            infos.append(
                TableInfo(
                    key,
                    ("seed" if asset.kind == "seed" else asset.materialized)
                    if asset
                    else "(not in project)",
                    snapshot.version,
                    len(snapshot.files),
                    None if any(r is None for r in rows) else sum(r or 0 for r in rows),
                    sum(f.size for f in snapshot.files),
                    asset is not None,
                )
            )
        return infos

    def _table(self, name: str) -> TableRef:
        try:
            asset = self.asset(name)
        except UsageError:
            ref = TableRef.parse(name) if "." in name else None
            if ref is not None and self.store.exists(ref):
                return ref
            raise
        if not asset.is_stored:
            raise UsageError(
                f"{asset.key} is a {asset.materialized} model; it has no table",
                hint="history, restore, optimize and vacuum work on stored tables",
            )
        return TableRef.of(asset)

    def history(self, name: str, limit: int | None = None) -> list[HistoryEntry]:
        """The versions of table `name`, newest first, each saying whether it is still readable
        (`readable` is False once vacuum deleted files it needs)."""
        return self.store.history(self._table(name), limit, check_readable=True)

    def resolve_version(self, name: str, target: int | str) -> int:
        """The version of table `name` that `target` (a version or ISO timestamp) names.

        Raises:
            TableNotFoundError: no such version, or vacuum deleted its files.
        """
        return self.store.resolve_version(self._table(name), target)

    # -- maintenance -----------------------------------------------------------------------

    def restore(self, name: str, version: int | str) -> int:
        """Make an earlier version of table `name` current again; return the new version."""
        ref = self._table(name)
        record = self.catalog.start_run("restore", f"{ref} {version}", 1, False)
        try:
            new_version = self.store.restore(
                ref, version, CommitInfo(run_id=record.run_id, operation="restore")
            )
        except Exception as exc:
            self.catalog.finish_run(record.run_id, "failed", str(exc))
            raise
        self.catalog.finish_run(record.run_id, "success")
        return new_version

    def optimize(self, name: str, zorder: list[str] | None = None) -> dict[str, Any]:
        """Compact (or z-order) table `name`; return delta-rs's metrics."""
        ref = self._table(name)
        record = self.catalog.start_run("optimize", ref.key, 1, False)
        try:
            metrics = self.store.optimize(
                ref, CommitInfo(run_id=record.run_id, operation="optimize"), zorder
            )
        except Exception as exc:
            self.catalog.finish_run(record.run_id, "failed", str(exc))
            raise
        self._follow_maintenance(ref)
        self.catalog.finish_run(record.run_id, "success")
        return metrics

    def _follow_maintenance(self, ref: TableRef) -> None:
        """Keep the asset fresh after a commit that changed files but not content."""
        state = self.catalog.states().get(ref.key)
        if state is not None:
            self.catalog.set_state(
                ref.key,
                state.fingerprint,
                self.store.current_version(ref),
                state.materialization or "table",
                state.run_id or "",
                state.state,
            )

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
        if retain_hours < 0:
            raise UsageError("--retain must be zero or more hours")
        ref = self._table(name)
        minimum = 0.0 if dry_run or force else self.store.safe_retention_hours(ref)
        if retain_hours < minimum:
            raise UsageError(
                f"vacuum of {ref} with --retain {retain_hours:g} refused: it is below the safe "
                f"minimum of {minimum:g} hours (the table's retention for removed files), so "
                "versions younger than that would lose their files and a reader still scanning "
                "one would fail",
                hint=f"keep --retain {minimum:g} or more; see what would go with --dry-run; "
                "pass --force only when nothing reads older versions of the table",
            )
        return self.store.vacuum(ref, retain_hours, dry_run)

    # -- history of runs -------------------------------------------------------------------

    def runs(self, limit: int = 20, failed: bool = False) -> list[dict[str, Any]]:
        """Recent runs, newest first (only failed ones with `failed`)."""
        return self.catalog.runs(limit, "failed" if failed else None)

    def run_attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every attempt of every asset of run `run_id` (a unique prefix is enough)."""
        run = self.catalog.run(run_id)
        if run is None:
            raise UsageError(f"no run '{run_id}'", hint="list runs with 'headwater runs'")
        return self.catalog.attempts(run["run_id"])

    def run_results(self, run_id: str) -> list[dict[str, Any]]:
        """Every asset result of run `run_id` (a unique prefix is enough)."""
        run = self.catalog.run(run_id)
        if run is None:
            raise UsageError(f"no run '{run_id}'", hint="list runs with 'headwater runs'")
        return self.catalog.results(run["run_id"])

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
