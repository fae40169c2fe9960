"""Read a project folder into typed, validated, dependency-resolved asset definitions.

The loader reads `headwater.yml`, every seed under `seeds/` and every model under `models/`, with
their YAML sidecars. Model SQL is parsed once per content hash (kept in `.headwater/parse_cache`),
so loading a large project whose files did not change never imports sqlglot.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from headwater.digest import content_hash
from headwater.errors import SOURCES_DOCS, ConfigError, Location
from headwater.project.checks import Check
from headwater.project.columns import SelectOutputs
from headwater.project.config import ColumnConfig, ModelConfig, ProjectConfig, SeedConfig
from headwater.project.partitions import PartitionSet
from headwater.project.sources import SourceConfig, SourceTable, TableConfig
from headwater.project.sql import SqlAnalysis, TableReference
from headwater.project.strict import duration_seconds
from headwater.project.yamlfile import (
    YamlDocument,
    closest,
    error_message,
    load_yaml,
    read_utf8,
    validation_error,
)

PROJECT_FILE = "headwater.yml"
STATE_DIR = ".headwater"
PARSE_CACHE_VERSION = 2
COLUMNS_CACHE_VERSION = 3
"""Bump when the columns worked out for the same input change (`project/columns.py`)."""

AssetKind = Literal["seed", "model", "source"]


@dataclass(frozen=True)
class Asset:
    """One node of the asset graph: a seed or a model, fully configured and resolved."""

    key: str
    namespace: str
    name: str
    kind: AssetKind
    path: Path
    rel_path: str
    materialized: str
    description: str | None
    tags: tuple[str, ...]
    model: ModelConfig | None
    seed: SeedConfig | None
    sql: str | None
    templated: bool
    definition_hash: str
    depends_on: tuple[str, ...]
    external_files: tuple[str, ...] = ()
    source: SourceTable | None = None
    parent: str | None = None
    """For a child table of nested lists: the source table whose load fills it."""
    document: YamlDocument | None = field(default=None, compare=False, hash=False, repr=False)
    """The YAML file holding the asset's settings (sidecar or source file), for errors that
    point at a line of it."""
    expression_reads: dict[str, list[str] | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """The columns each `expression` check reads, by its SQL (None: they cannot be told)."""

    @property
    def build_kind(self) -> str:
        """How the asset is built: `seed`, `ingest` (a source table), `nested` (a child table,
        filled by its parent's load) or the model's materialization."""
        if self.parent is not None:
            return "nested"
        if self.kind == "source":
            return "ingest"
        return "seed" if self.kind == "seed" else self.materialized

    @property
    def is_stored(self) -> bool:
        """True when the asset is a Delta table (not a view or an ephemeral CTE)."""
        return self.materialized not in ("view", "ephemeral")

    @property
    def unique_key(self) -> list[str]:
        """The asset's unique key columns (empty when it has none)."""
        return list(self.model.unique_key or []) if self.model else []

    @property
    def partition_by(self) -> list[str]:
        """Delta partition columns."""
        config = self.model or self.seed
        return list(config.partition_by) if config else []

    @property
    def checks(self) -> list[Check]:
        """The asset's checks: its table's and its columns'."""
        config = self.model or self.seed
        if config is not None:
            return [*config.checks, *(c for column in config.columns for c in column.checks)]
        if self.source is not None and self.parent is None:
            return list(self.source.table.checks)
        return []

    @property
    def contract(self) -> list[ColumnConfig] | None:
        """The declared columns, when the model's contract is enforced."""
        if self.model is not None and self.model.contract == "enforced":
            return list(self.model.columns)
        return None

    @property
    def partition_set(self) -> PartitionSet | None:
        """The asset's partitions (None: it is not partitioned)."""
        if self.model is not None and self.model.partitions is not None:
            return PartitionSet(self.model.partitions)
        return None

    @property
    def freshness_lag_s(self) -> float | None:
        """Seconds after its last build at which the asset counts as stale (its SLA)."""
        sla = None
        if self.model is not None:
            sla = self.model.freshness
        elif self.source is not None and self.parent is None:
            sla = self.source.table.freshness
        return None if sla is None else duration_seconds(sla.max_lag)

    @property
    def pool(self) -> str | None:
        """The pool whose slot the asset's build takes (None: no pool)."""
        if self.model is not None:
            return self.model.pool
        if self.source is not None:
            return self.source.table.pool or self.source.source.pool
        return None

    @property
    def timeout_s(self) -> float | None:
        """Seconds after which the build is stopped (None: no limit)."""
        value = None
        if self.model is not None:
            value = self.model.timeout
        elif self.source is not None:
            value = self.source.table.timeout or self.source.source.timeout
        return None if value is None else duration_seconds(value)

    @property
    def column_descriptions(self) -> dict[str, str]:
        """Column descriptions from the asset's YAML, by column name."""
        config = self.model or self.seed
        if config is None:
            return {}
        return {c.name: c.description for c in config.columns if c.description}

    @property
    def owner(self) -> str | None:
        """Who answers for the asset (a model's `owner`)."""
        return self.model.owner if self.model is not None else None

    @property
    def key_columns(self) -> list[str]:
        """The columns identifying a row: the unique key, or a source's primary key."""
        if self.source is not None:
            return list(self.source.table.primary_key)
        return self.unique_key


@dataclass
class ProjectDefinition:
    """A loaded project: its configuration and every asset keyed by `namespace.name`."""

    root: Path
    config: ProjectConfig
    assets: dict[str, Asset] = field(default_factory=dict)
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    """Every source, by name."""
    undiscovered: list[str] = field(default_factory=list)
    """sql sources with `include` patterns whose table list has not been read from the
    database yet (see `discovered.py`)."""
    warnings: list[str] = field(default_factory=list)
    """What the user should know that does not stop the load: files Headwater does not read."""
    columns: dict[str, list[str]] = field(default_factory=dict)
    """Each asset's output columns, where they are known before it is built."""

    @property
    def warehouse(self) -> Path:
        """Absolute path of the warehouse folder."""
        path = Path(os.path.expanduser(self.config.warehouse))
        return path if path.is_absolute() else self.root / path

    @property
    def warehouse_uri(self) -> str:
        """The warehouse's location as a URI (`file:///...` for a folder), which picks the
        table store."""
        if "://" in self.config.warehouse:
            return self.config.warehouse
        return self.warehouse.as_uri()

    @property
    def state_dir(self) -> Path:
        """The project's private state folder (`.headwater/`)."""
        return self.root / STATE_DIR

    def catalog_url(self) -> str:
        """The catalog URL, with a relative SQLite path made absolute inside the project."""
        url = self.config.catalog
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.root / url[len(prefix) :])
        return url

    def downstream(self) -> dict[str, list[str]]:
        """Map each asset key to the keys of the assets that read it."""
        children: dict[str, list[str]] = {key: [] for key in self.assets}
        for asset in self.assets.values():
            for parent in asset.depends_on:
                children[parent].append(asset.key)
        return children


def find_project_root(start: Path) -> Path:
    """Return the nearest folder at or above `start` holding `headwater.yml`.

    Raises:
        ConfigError: there is none.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {PROJECT_FILE} found in {start} or any folder above it",
        hint="run inside a project, pass --project DIR, or create one with 'headwater init NAME'",
    )


def _validate(
    document: YamlDocument,
    model: type[Any],
    data: Any,
    docs: str = "docs/project.md",
    base_path: tuple[str | int, ...] = (),
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(document, exc, model, base_path, docs) from None


def _check_default_keys(document: YamlDocument, defaults: dict[str, Any]) -> None:
    """Report an unknown key under a source's `defaults:` at its own line (merged into every
    table, it would otherwise be blamed on each table's line)."""
    try:
        TableConfig.model_validate(defaults)
    except ValidationError as exc:
        unknown = [e for e in exc.errors() if e["type"] == "extra_forbidden"]
        if unknown:
            # other problems may be settled by each table's own keys: leave them to the tables
            only = _Errors(unknown)
            raise validation_error(
                document, only, TableConfig, ("defaults",), SOURCES_DOCS
            ) from None


@dataclass
class _Errors:
    """Some of a `ValidationError`'s errors, in its shape."""

    found: list[Any]

    def errors(self) -> list[Any]:
        return self.found


def load_project_config(root: Path) -> ProjectConfig:
    """Read and validate `headwater.yml` in `root`."""
    document = load_yaml(root / PROJECT_FILE, PROJECT_FILE)
    config: ProjectConfig = _validate(document, ProjectConfig, document.data)
    return config


class ParseCache:
    """JSON entries keyed by the hash of what they were computed from, kept between loads
    (SQL analyses here, compiled SQL in `transform/compiler.py`).

    A file written by another `version` of the format is ignored.
    """

    def __init__(self, path: Path, version: int = PARSE_CACHE_VERSION) -> None:
        self.path = path
        self.version = version
        self._entries: dict[str, Any] = {}
        self._dirty = False
        try:
            data = json.loads(path.read_text())
            if data.get("version") == self.version:
                self._entries = data["entries"]
        except (OSError, ValueError, KeyError):
            self._entries = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached entry for `key`, if any."""
        entry: dict[str, Any] | None = self._entries.get(key)
        return entry

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store an entry, to be written by `save`."""
        self._entries[key] = value
        self._dirty = True

    def entry_keys(self) -> list[str]:
        """Every key held."""
        return list(self._entries)

    def save(self, live_keys: Iterable[str]) -> None:
        """Write the cache, keeping only entries still in use; never fails the load."""
        live = set(live_keys)
        if not self._dirty and live == set(self._entries):
            return
        entries = {k: v for k, v in self._entries.items() if k in live}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"version": self.version, "entries": entries}))
            os.replace(tmp, self.path)
        except OSError:
            pass


def _sidecar(path: Path, root: Path) -> YamlDocument | None:
    sidecar = path.with_suffix(".yml")
    if not sidecar.is_file():
        sidecar = path.with_suffix(".yaml")
    if not sidecar.is_file():
        return None
    return load_yaml(sidecar, str(sidecar.relative_to(root)))


def _namespace_from_folder(rel: Path, default: str, file: str) -> str:
    parts = rel.parent.parts
    if not parts:
        return default
    namespace = "_".join(parts)
    if not namespace.replace("_", "").isalnum() or namespace[0].isdigit():
        raise ConfigError(
            f"folder '{rel.parent}' does not make a valid namespace",
            Location(file=file),
            "use letters, digits and '_' in folder names, or set 'namespace:' in the sidecar",
        )
    return namespace


@dataclass
class _Draft:
    """A model or seed read from disk, before its references are resolved."""

    key: str
    namespace: str
    name: str
    kind: AssetKind
    path: Path
    rel_path: str
    materialized: str
    model: ModelConfig | None
    seed: SeedConfig | None
    sql: str | None
    templated: bool
    definition_hash: str
    analysis: SqlAnalysis | None = None
    source: SourceTable | None = None
    parent: str | None = None
    document: YamlDocument | None = None
    outputs: SelectOutputs | None = None
    """What the SELECT list says of the output columns (models)."""
    rendered: str | None = None
    """The rendered SQL, kept when its SELECT list has a `*` to expand."""
    tree: Any = None
    """`rendered` as parsed by this load (None when the analysis came from the cache): a `*`
    is expanded on it rather than on the SQL parsed again."""


def load_project(root: Path) -> ProjectDefinition:
    """Load the project at `root`: config, seeds and models, with dependencies resolved.

    Raises:
        ConfigError: anything invalid, with file, line and a fix.
    """
    root = root.resolve()
    config = load_project_config(root)
    project = ProjectDefinition(root=root, config=config)
    drafts: dict[str, _Draft] = {}
    for draft in [
        *_read_seeds(root, config),
        *_read_sources(root, project),
        *_read_models(root, config),
    ]:
        if draft.key in drafts:
            other = drafts[draft.key]
            raise ConfigError(
                f"two assets are named {draft.key}: {other.rel_path} and {draft.rel_path}",
                Location(file=draft.rel_path),
                "rename one, or give it another 'name:' or 'namespace:' in its sidecar",
            )
        drafts[draft.key] = draft

    cache = ParseCache(project.state_dir / "parse_cache.json")
    for draft in drafts.values():
        if draft.sql is not None:
            _analyze(draft, config, cache)
    cache.save(_cache_key(d, config) for d in drafts.values() if d.sql is not None)
    _add_child_tables(drafts)

    index = AssetIndex(drafts)
    columns = _Columns(project, drafts, index)
    for draft in drafts.values():
        _name_checks_apart(draft)
        depends: list[str] = [draft.parent] if draft.parent else []
        for target in _checked_against(draft, index):
            if target not in depends and target != draft.key:
                depends.append(target)
        if draft.analysis is not None:
            for reference in draft.analysis.references:
                target = index.resolve(reference, draft.key, draft.rel_path)
                if target != draft.key and target not in depends:
                    depends.append(target)
                if target == draft.key and draft.materialized not in ("incremental", "snapshot"):
                    raise ConfigError(
                        f"model {draft.key} reads itself",
                        Location(file=draft.rel_path, line=reference.line),
                        "only incremental models may read their own table ({{ this }})",
                    )
        project.assets[draft.key] = _finish(draft, tuple(depends), columns.expression_reads(draft))
    check_acyclic(project.assets)
    _check_pools(project)
    for asset in project.assets.values():
        if asset.partition_set is not None and asset.materialized != "table":
            raise ConfigError(
                f"{asset.key} is partitioned but materialized as {asset.materialized}",
                Location(file=_sidecar_name_of(asset)),
                "partitions replace one slice of a table at a time: use 'materialized: table'",
            )
    columns.validate()
    project.warnings.extend(unread_files(project))
    return project


def _sidecar_name_of(asset: Asset) -> str:
    return str(Path(asset.rel_path).with_suffix(".yml"))


def _check_pools(project: ProjectDefinition) -> None:
    """Every pool an asset names is declared under `pools:` in headwater.yml."""
    declared = project.config.pools
    for asset in project.assets.values():
        if asset.pool is not None and asset.pool not in declared:
            near = closest(asset.pool, declared)
            hint = (
                f"did you mean '{near}'?"
                if near
                else (f"declare it in {PROJECT_FILE}: pools: {{{asset.pool}: 2}}")
            )
            raise ConfigError(
                f"{asset.key} takes a slot of pool '{asset.pool}', which is not declared",
                Location(file=asset.rel_path),
                hint,
            )


def _read_seeds(root: Path, config: ProjectConfig) -> list[_Draft]:
    folder = root / "seeds"
    drafts: list[_Draft] = []
    if not folder.is_dir():
        return drafts
    for path in sorted(folder.rglob("*.csv")):
        rel = str(path.relative_to(root))
        sidecar = _sidecar(path, root)
        seed = _validate(sidecar, SeedConfig, sidecar.data) if sidecar is not None else SeedConfig()
        namespace = seed.namespace or _namespace_from_folder(
            path.relative_to(folder), config.defaults.seed_namespace, rel
        )
        name = seed.name or _identifier(path.stem, rel)
        stat = path.stat()
        definition = content_hash(
            "seed",
            str(stat.st_size),
            str(stat.st_mtime_ns),
            (root / sidecar.path).read_text() if sidecar else "",
        )
        drafts.append(
            _Draft(
                f"{namespace}.{name}",
                namespace,
                name,
                "seed",
                path,
                rel,
                "table",
                None,
                seed,
                None,
                False,
                definition,
                document=sidecar,
            )
        )
    return drafts


def _read_models(root: Path, config: ProjectConfig) -> list[_Draft]:
    from headwater.project.templating import is_templated

    folder = root / "models"
    drafts: list[_Draft] = []
    if not folder.is_dir():
        return drafts
    for path in sorted(folder.rglob("*.sql")):
        rel = str(path.relative_to(root))
        sidecar = _sidecar(path, root)
        model: ModelConfig = (
            _validate(sidecar, ModelConfig, sidecar.data) if sidecar is not None else ModelConfig()
        )
        namespace = model.namespace or _namespace_from_folder(
            path.relative_to(folder), config.defaults.namespace, rel
        )
        name = model.name or _identifier(path.stem, rel)
        sql = read_utf8(path, rel)
        templated = is_templated(sql)
        definition = content_hash(
            "model",
            sql,
            model.model_dump_json(),
            json.dumps(config.vars, sort_keys=True, default=str) if templated else "",
        )
        drafts.append(
            _Draft(
                f"{namespace}.{name}",
                namespace,
                name,
                "model",
                path,
                rel,
                model.materialized or config.defaults.materialized,
                model,
                None,
                sql,
                templated,
                definition,
                document=sidecar,
            )
        )
    return drafts


def _read_sources(root: Path, project: ProjectDefinition) -> list[_Draft]:
    from headwater.project.discovered import asset_name, read_discovered

    folder = root / "sources"
    drafts: list[_Draft] = []
    if not folder.is_dir():
        return drafts
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        rel = str(path.relative_to(root))
        document = load_yaml(path, rel)
        data = dict(document.data)
        tables = data.get("tables")
        if isinstance(tables, dict) and isinstance(data.get("defaults"), dict):
            _check_default_keys(document, data["defaults"])
            # defaults are validated as part of each table, so errors name the table
            data["tables"] = {
                t: {**data["defaults"], **(v if isinstance(v, dict) else {})}
                for t, v in tables.items()
            }
        source: SourceConfig = _validate(document, SourceConfig, data, SOURCES_DOCS)
        name = source.name or _identifier(path.stem, rel)
        project.sources[name] = source
        definition = content_hash("source", read_utf8(path, rel))
        tables = dict(source.tables)
        if source.include:
            listed = read_discovered(project.state_dir, name, source)
            if listed is None:
                project.undiscovered.append(name)
            named = {
                (t.table if t and t.table else t_name).rpartition(".")[2].lower()
                for t_name, t in tables.items()
            }
            defaults = _validate(
                document, TableConfig, data.get("defaults") or {}, SOURCES_DOCS, ("defaults",)
            )
            for table in listed or []:
                bare = table.rpartition(".")[2]
                if bare.lower() in named or not source.includes(bare):
                    continue
                qualified = f"{source.schema_name}.{table}" if source.schema_name else table
                tables.setdefault(
                    asset_name(bare), defaults.model_copy(update={"table": qualified})
                )
        for table_name, table in tables.items():
            table_config = table or TableConfig()
            spec = SourceTable(name, source, table_name, table_config)
            drafts.append(
                _Draft(
                    f"{name}.{table_name}",
                    name,
                    table_name,
                    "source",
                    path,
                    rel,
                    "source",
                    None,
                    None,
                    None,
                    False,
                    content_hash(definition, table_name),
                    source=spec,
                    document=document,
                )
            )
    return drafts


def _checked_against(draft: _Draft, index: AssetIndex) -> list[str]:
    """The assets `draft`'s relationship checks refer to: it is built after them, so that its
    foreign keys are checked against their current rows."""
    from headwater.project.checks import Relationships

    config = draft.model or draft.seed
    if config is not None:
        checks = [*config.checks, *(c for column in config.columns for c in column.checks)]
    elif draft.source is not None and draft.parent is None:
        checks = list(draft.source.table.checks)
    else:
        return []
    targets = []
    for check in checks:
        if isinstance(check, Relationships):
            namespace, _, name = check.to.rpartition(".")
            reference = TableReference(namespace or None, name, None)
            try:
                targets.append(index.resolve(reference, draft.key, draft.rel_path))
            except ConfigError as exc:
                raise ConfigError(
                    f"check {check.label} of {draft.key} refers to unknown asset '{check.to}'",
                    Location(file=_sidecar_name(draft)),
                    exc.hint,
                ) from None
    return targets


def _sidecar_name(draft: _Draft) -> str:
    """The file holding `draft`'s settings: its sidecar (or the source file)."""
    if draft.source is not None:
        return draft.rel_path
    return str(Path(draft.rel_path).with_suffix(".yml"))


def _add_child_tables(drafts: dict[str, _Draft]) -> None:
    """Add the child tables that models read (`shop.orders__items`): the tables a source
    table's load makes of the lists in its records (`nested: tables`). They are known only
    from the data, so one becomes an asset when a model names it."""
    sources: dict[str, list[_Draft]] = {}
    for draft in drafts.values():
        if draft.source is not None and draft.source.table.nested == "tables":
            sources.setdefault(draft.name, []).append(draft)
    if not sources:
        return
    for draft in list(drafts.values()):
        for reference in draft.analysis.references if draft.analysis else ():
            name = reference.name
            start = name.find("__")
            while start > 0:
                for parent in sources.get(name[:start], []):
                    if reference.namespace not in (None, parent.namespace):
                        continue
                    key = f"{parent.namespace}.{name}"
                    if key not in drafts:
                        drafts[key] = dataclasses.replace(
                            parent,
                            key=key,
                            name=name,
                            definition_hash=content_hash(parent.definition_hash, name),
                            parent=parent.key,
                        )
                start = name.find("__", start + 2)


def _identifier(stem: str, file: str) -> str:
    if stem.replace("_", "").isalnum() and not stem[0].isdigit():
        return stem
    raise ConfigError(
        f"'{stem}' is not a valid table name",
        Location(file=file),
        "name the file with letters, digits and '_' (not starting with a digit), "
        "or set 'name:' in its sidecar",
    )


def _cache_key(draft: _Draft, config: ProjectConfig) -> str:
    assert draft.sql is not None
    extra = json.dumps(config.vars, sort_keys=True, default=str) if draft.templated else ""
    return content_hash(draft.sql, draft.key, extra)


def _analyze(draft: _Draft, config: ProjectConfig, cache: ParseCache) -> None:
    """Fill in the draft's SQL analysis (and templated config), from the cache when possible."""
    from headwater.project.sql import analyze

    assert draft.sql is not None
    key = _cache_key(draft, config)
    entry = cache.get(key)
    if entry is None:
        sql = draft.sql
        template_config: dict[str, Any] = {}
        if draft.templated:
            from headwater.project.templating import render

            timestamps = bool(
                draft.model and draft.model.partitions and draft.model.partitions.timestamps
            )
            result = render(
                sql,
                file=draft.rel_path,
                this=draft.key,
                is_incremental=True,
                variables=config.vars,
                timestamps=timestamps,
            )
            sql, template_config = result.sql, result.config
            materialized = template_config.get("materialized") or draft.materialized
            if materialized not in ("incremental", "snapshot"):
                # is_incremental() is always false for such a model: what it reads is what the
                # non-incremental rendering reads (not, say, {{ this }} in an incremental block)
                sql = render(
                    draft.sql,
                    file=draft.rel_path,
                    this=draft.key,
                    is_incremental=False,
                    variables=config.vars,
                    timestamps=timestamps,
                ).sql
        from headwater.project.columns import select_outputs
        from headwater.project.sql import parse_select

        tree = parse_select(sql, draft.rel_path)  # parsed once for all three
        entry = {
            "analysis": analyze(sql, draft.rel_path, tree).to_json(),
            "config": template_config,
        }
        outputs = select_outputs(tree)
        entry["outputs"] = outputs.to_json()
        if outputs.star:
            entry["sql"] = sql
            draft.tree = tree
        cache.put(key, entry)
    draft.analysis = SqlAnalysis.from_json(entry["analysis"])
    draft.outputs = SelectOutputs.from_json(entry.get("outputs") or {})
    draft.rendered = entry.get("sql")
    if entry["config"]:
        assert draft.model is not None
        merged = {**draft.model.model_dump(exclude_unset=True), **entry["config"]}
        try:
            draft.model = ModelConfig.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid config() in the SQL: {error_message(exc.errors()[0])}",
                Location(file=draft.rel_path),
                "fix the arguments of {{ config(...) }}",
            ) from None
        draft.materialized = draft.model.materialized or config.defaults.materialized


class AssetIndex:
    """Resolves table names written in SQL to asset keys."""

    def __init__(self, drafts: dict[str, Any]) -> None:
        self._keys = set(drafts)
        self._by_name: dict[str, list[str]] = {}
        for key in drafts:
            self._by_name.setdefault(key.split(".", 1)[1].lower(), []).append(key)
        self._lower = {key.lower(): key for key in drafts}

    def resolve(self, reference: TableReference, referrer: str, file: str) -> str:
        """Return the asset key `reference` names.

        Raises:
            ConfigError: no asset or several assets match; names the closest asset.
        """
        if reference.namespace:
            key = self._lower.get(f"{reference.namespace}.{reference.name}".lower())
            if key:
                return key
        else:
            matches = self._by_name.get(reference.name.lower(), [])
            if len(matches) > 1:
                # `orders` in staging.orders means the other orders (raw.orders): a model
                # reads its own table as {{ this }} or by its qualified name
                matches = [m for m in matches if m != referrer]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ConfigError(
                    f"table '{reference.name}' is ambiguous: {', '.join(sorted(matches))}",
                    Location(file=file, line=reference.line),
                    "qualify it with its namespace, e.g. " + sorted(matches)[0],
                )
        suggestion = closest(str(reference), self._keys) or closest(
            reference.name, [k.split(".", 1)[1] for k in self._keys]
        )
        if suggestion and "." not in suggestion:
            suggestion = next(iter(self._by_name.get(suggestion.lower(), [suggestion])))
        hint = f"did you mean {suggestion}?" if suggestion else "no asset has a similar name"
        raise ConfigError(
            f"model {referrer} reads unknown table '{reference}'",
            Location(file=file, line=reference.line),
            hint,
        )


def _finish(
    draft: _Draft,
    depends_on: tuple[str, ...],
    expression_reads: dict[str, list[str] | None] | None = None,
) -> Asset:
    config = draft.model or draft.seed or (draft.source.table if draft.source else None)
    assert config is not None
    return Asset(
        key=draft.key,
        namespace=draft.namespace,
        name=draft.name,
        kind=draft.kind,
        path=draft.path,
        rel_path=draft.rel_path,
        materialized=draft.materialized,
        description=config.description,
        tags=tuple(config.tags),
        model=draft.model,
        seed=draft.seed,
        sql=draft.sql,
        templated=draft.templated,
        definition_hash=draft.definition_hash,
        depends_on=depends_on,
        external_files=draft.analysis.external_files if draft.analysis else (),
        source=draft.source,
        parent=draft.parent,
        document=draft.document,
        expression_reads=expression_reads or {},
    )


def check_acyclic(assets: dict[str, Asset]) -> None:
    """Raise a `ConfigError` printing the cycle if the dependency graph has one."""
    done: set[str] = set()
    for root in sorted(assets):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        iterators = [iter(assets[root].depends_on)]
        while iterators:
            parent = next(iterators[-1], None)
            if parent is None:
                done.add(path[-1])
                on_path.discard(path.pop())
                iterators.pop()
                continue
            if parent in on_path:
                cycle = [*path[path.index(parent) :], parent]
                raise ConfigError(
                    "dependency cycle: " + " reads ".join(cycle),
                    Location(file=assets[parent].rel_path),
                    "a model cannot read, directly or through others, a model that reads it",
                )
            if parent not in done:
                path.append(parent)
                on_path.add(parent)
                iterators.append(iter(assets[parent].depends_on))


def _draft_checks(draft: _Draft) -> list[tuple[Check, tuple[str | int, ...]]]:
    """Every check of `draft` with its place in the YAML, table checks first."""
    config = draft.model or draft.seed
    if config is not None:
        return [
            *((c, ("checks", i)) for i, c in enumerate(config.checks)),
            *(
                (c, ("columns", j, "checks", k))
                for j, column in enumerate(config.columns)
                for k, c in enumerate(column.checks)
            ),
        ]
    if draft.source is not None and draft.parent is None:
        return [
            (c, ("tables", draft.name, "checks", i))
            for i, c in enumerate(draft.source.table.checks)
        ]
    return []


def _name_checks_apart(draft: _Draft) -> None:
    """Give each check of the asset a name no other of its checks has: results, history and
    quarantine reasons are keyed by it. A default name already taken gets `_2`, `_3`, ... in
    the order the checks are written; two checks given the same `name:` are an error."""
    checks = _draft_checks(draft)
    named: dict[str, tuple[str | int, ...]] = {}
    for check, path in checks:
        if check.name is None:
            continue
        if check.name in named:
            where = draft.document.location(path) if draft.document else Location(draft.rel_path)
            raise ConfigError(
                f"two checks of {draft.key} are named '{check.name}'",
                where,
                "give each check a name of its own (results and history are kept by name)",
            )
        named[check.name] = path
    taken = set(named)
    renamed: dict[int, Check] = {}
    for check, _ in checks:
        if check.name is not None:
            continue
        label = check.default_name()
        name, number = label, 2
        while name in taken:
            name, number = f"{label}_{number}", number + 1
        taken.add(name)
        if name != label:
            renamed[id(check)] = check.model_copy(update={"name": name})
    if not renamed:
        return

    def apart(found: list[Check]) -> list[Check]:
        return [renamed.get(id(c), c) for c in found]

    if draft.model is not None or draft.seed is not None:
        config: Any = draft.model or draft.seed
        config = config.model_copy(
            update={
                "checks": apart(config.checks),
                "columns": [
                    c.model_copy(update={"checks": apart(c.checks)}) for c in config.columns
                ],
            }
        )
        if draft.model is not None:
            draft.model = config
        else:
            draft.seed = config
    elif draft.source is not None:
        table = draft.source.table
        draft.source = dataclasses.replace(
            draft.source, table=table.model_copy(update={"checks": apart(table.checks)})
        )


class _Columns:
    """Works out the assets' output columns before anything is built, and checks every
    column the YAML names (checks, column tests, keys) against them."""

    def __init__(self, project: ProjectDefinition, drafts: dict[str, _Draft], index: AssetIndex):
        self.project = project
        self.drafts = drafts
        self.index = index
        # kept apart from the parse cache: a `*`'s expansion depends on other models too
        self.cache = ParseCache(project.state_dir / "columns_cache.json", COLUMNS_CACHE_VERSION)
        self.live: set[str] = set()
        self.known: dict[str, list[str] | None] = {}

    def expression_reads(self, draft: _Draft) -> dict[str, list[str] | None]:
        """The columns each `expression` check of `draft` reads, by its SQL."""
        from headwater.project.checks import Expression

        return {
            c.sql: self._expression(c.sql)
            for c, _ in _draft_checks(draft)
            if isinstance(c, Expression)
        }

    def _expression(self, sql: str) -> list[str] | None:
        key = content_hash("expression", sql)
        self.live.add(key)
        entry = self.cache.get(key)
        if entry is None:
            from headwater.project.columns import expression_columns

            entry = {"columns": expression_columns(sql)}
            self.cache.put(key, entry)
        found: list[str] | None = entry["columns"]
        return found

    def columns_of(self, key: str) -> list[str] | None:
        """The output columns of asset `key`, or None when they cannot be known unbuilt."""
        if key not in self.known:
            self.known[key] = None  # a model reading itself ({{ this }}) finds nothing
            self.known[key] = self._work_out(self.project.assets[key])
        return self.known[key]

    def _work_out(self, asset: Asset) -> list[str] | None:
        from headwater.project.columns import SNAPSHOT_COLUMNS

        if asset.contract is not None:
            return [c.name for c in asset.contract]
        if asset.kind == "seed":
            return self._seed(asset)
        draft = self.drafts.get(asset.key)
        if asset.kind != "model" or draft is None or draft.outputs is None:
            return None
        names: list[str] | None
        if draft.outputs.names is not None:
            names = list(draft.outputs.names)
        elif draft.outputs.star and draft.rendered is not None:
            names = self._expand(asset, draft)
        else:
            return None
        if names is not None and asset.materialized == "snapshot":
            names = [*names, *SNAPSHOT_COLUMNS]
        return names

    def _expand(self, asset: Asset, draft: _Draft) -> list[str] | None:
        rendered = draft.rendered
        assert rendered is not None
        schemas: dict[str, dict[str, list[str]]] = {}
        for upstream in asset.depends_on:
            found = self.columns_of(upstream)
            if found is not None:
                namespace, name = upstream.split(".", 1)
                schemas.setdefault(namespace, {})[name] = found
        key = content_hash("star", rendered, asset.key, json.dumps(schemas, sort_keys=True))
        self.live.add(key)
        entry = self.cache.get(key)
        if entry is None:
            from headwater.project.columns import expand_star
            from headwater.project.sql import compile_tree, parse_select

            def resolve(reference: TableReference) -> tuple[str, str]:
                namespace, _, name = self.index.resolve(
                    reference, asset.key, asset.rel_path
                ).partition(".")
                return namespace, name

            try:
                # the tree this load parsed, when it has one: parsing is most of the cost
                tree, draft.tree = draft.tree or parse_select(rendered, asset.rel_path), None
                compiled = compile_tree(
                    tree, asset.rel_path, resolve, lambda _n, _t: None, copy=False
                )
            except ConfigError:
                compiled = None
            entry = {"columns": expand_star(compiled, schemas) if compiled is not None else None}
            self.cache.put(key, entry)
        found_names: list[str] | None = entry["columns"]
        return found_names

    def _seed(self, asset: Asset) -> list[str] | None:
        """A seed's columns from DuckDB's CSV sniffer, as its build reads them (cached by the
        file's size and time and its sidecar: DuckDB is started only when they change)."""
        key = content_hash("seed", asset.definition_hash, str(asset.path))
        self.live.add(key)
        entry = self.cache.get(key)
        if entry is None:
            from headwater.project.columns import seed_columns

            entry = {"columns": seed_columns(str(asset.path), asset.seed)}
            self.cache.put(key, entry)
        found: list[str] | None = entry["columns"]
        return found

    def _resolve(self, asset: Asset) -> Any:
        def resolve(name: str) -> str | None:
            namespace, _, bare = name.rpartition(".")
            try:
                return self.index.resolve(
                    TableReference(namespace or None, bare, None), asset.key, asset.rel_path
                )
            except ConfigError:
                return None

        return resolve

    def validate(self) -> None:
        """Raise a `ConfigError` at the YAML line of the first column an asset's checks, column
        tests or keys name that the asset does not produce (where its columns are known)."""
        from headwater.project.columns import column_problems

        try:
            for asset in sorted(self.project.assets.values(), key=lambda a: (a.rel_path, a.key)):
                if not (asset.checks or asset.unique_key or asset.partition_by):
                    continue
                columns = self.columns_of(asset.key)
                if columns is None:
                    continue  # checked at build time, on the output's real columns
                self.project.columns[asset.key] = columns
                problems = column_problems(
                    asset,
                    columns,
                    columns_of=self.columns_of,
                    resolve=self._resolve(asset),
                )
                if problems:
                    raise problems[0].error(len(problems) - 1)
        finally:
            self.cache.save(self.live)


IGNORED_FOLDERS = {"target", "dbt_packages", "dbt_modules", "logs", "node_modules", "__pycache__"}
"""Folders of generated files (dbt's build output, installed packages): never warned about."""
LOOKED_AT_FOLDERS = ("models", "seeds", "sources", "snapshots", "tests", "macros", "analyses")
"""The folders looked in for files Headwater does not read: its own, and dbt's."""
ROOT_DBT_FILES = ("dbt_project", "profiles", "packages", "dependencies", "selectors")
"""dbt's project files, looked for at the project's root (as .yml or .yaml)."""


def unread_files(project: ProjectDefinition) -> list[str]:
    """A warning for each YAML or SQL file in the project that Headwater does not read (a dbt
    `schema.yml`, `sources.yml` or `tests/` folder, a sidecar without its model), so nothing
    written there is silently ignored. Only Headwater's and dbt's folders and dbt's files at
    the root are looked at: a project's other files (CI, Docker, scripts, data) are its own."""
    root = project.root
    read = {PROJECT_FILE}
    for asset in project.assets.values():
        read.add(Path(asset.rel_path).as_posix())
        if asset.document is not None:
            read.add(Path(asset.document.path).as_posix())
    skipped = {project.warehouse.resolve(), project.state_dir.resolve()}
    found = [
        f"{stem}{suffix}"
        for stem in ROOT_DBT_FILES
        for suffix in (".yml", ".yaml")
        if (root / f"{stem}{suffix}").is_file()
    ]
    for top in LOOKED_AT_FOLDERS:
        if not (root / top).is_dir() or (root / top).resolve() in skipped:
            continue
        for folder, dirs, files in os.walk(root / top):
            here = Path(folder)
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and d not in IGNORED_FOLDERS
                and (here / d).resolve() not in skipped
                and not (here / d / "pyvenv.cfg").exists()
            )
            found.extend(
                (here / name).relative_to(root).as_posix()
                for name in files
                if not name.startswith(".")
                and Path(name).suffix.lower() in (".yml", ".yaml", ".sql")
            )
    return [
        f"{rel} is not read by Headwater: {_why_unread(rel)}"
        for rel in sorted(found)
        if rel not in read and not _is_source_file(rel)
    ]


def _is_source_file(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 2 and parts[0] == "sources" and parts[1].endswith((".yml", ".yaml"))


def _why_unread(rel: str) -> str:
    """What to do about a file Headwater does not read."""
    parts = rel.split("/")
    name = parts[-1].lower()
    stem = name.rsplit(".", 1)[0]
    if parts[0] == "tests":
        return (
            "dbt's singular tests are not run yet; write the query as a `sql` check in the "
            "model's sidecar (see docs/quality.md)"
        )
    if stem in ("sources", "_sources") or stem.endswith("_sources"):
        return (
            "dbt source files are not read yet; declare each source in its own "
            "sources/<name>.yml (see docs/sources.md)"
        )
    if stem in ("schema", "_schema", "properties", "_models") or stem.endswith(
        ("_schema", "_models")
    ):
        return (
            "dbt schema files are not read yet; put each model's columns and checks in a "
            "sidecar named after its SQL file (models/orders.sql -> models/orders.yml, see "
            "docs/models.md)"
        )
    if stem in ("dbt_project", "profiles", "packages", "dependencies", "selectors"):
        return "dbt's project files are not read; Headwater's settings are in headwater.yml"
    if parts[0] == "sources":
        return "only files directly in sources/ are read, one source per file"
    if parts[0] == "snapshots":
        return (
            "dbt snapshots are not read; a snapshot is a model in models/ with "
            "'materialized: snapshot' in its sidecar (see docs/models.md)"
        )
    if parts[0] == "macros":
        return "dbt macros are not read; write the SQL into the models that use it"
    if parts[0] == "analyses":
        return "dbt analyses are not read; run the query with 'headwater query'"
    if parts[0] in ("models", "seeds") and name.endswith((".yml", ".yaml")):
        twin = "SQL file" if parts[0] == "models" else "CSV file"
        return (
            f"a sidecar is read only beside a {twin} of the same name (and .yml before "
            ".yaml); rename it to match, or remove it"
        )
    if name.endswith(".sql"):
        return "models are read from models/ only; move it there, or remove it"
    return "Headwater reads headwater.yml, sources/*.yml, models/ and seeds/; remove it"
