"""The typed objects a loaded project is made of: its assets and the definition holding them.

An `Asset` is one node of the asset graph (a seed, a model or a source table), fully configured
and with its dependencies resolved; a `ProjectDefinition` is the whole project folder read and
validated; an `AssetIndex` resolves the table names written in SQL to asset keys.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.errors import ConfigError, Location
from headwater.project.checks import Check
from headwater.project.config import (
    ColumnConfig,
    EngineConfig,
    ModelConfig,
    ProjectConfig,
    SeedConfig,
)
from headwater.project.exports import ExportConfig
from headwater.project.kinds import AssetKind, BuildKind, Materialized
from headwater.project.partitions import PartitionSet
from headwater.project.retention import RetentionConfig
from headwater.project.semantic_layer import SemanticLayer
from headwater.project.sources import SourceConfig, SourceTable
from headwater.project.sql import TableReference
from headwater.project.streams import StreamConfig
from headwater.project.strict import duration_seconds
from headwater.project.yamlfile import YamlDocument, closest

PROJECT_FILE = "headwater.yml"
"""The file that makes a folder a project."""
STATE_DIR = ".headwater"
"""The project's private state folder (caches, discovered table lists)."""


@dataclass(frozen=True)
class Asset:
    """One node of the asset graph: a seed or a model, fully configured and resolved."""

    key: str
    namespace: str
    name: str
    kind: AssetKind
    path: Path
    rel_path: str
    materialized: Materialized
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
    stream: StreamConfig | None = None
    """For a stream's table: the stream."""
    document: YamlDocument | None = field(default=None, compare=False, hash=False, repr=False)
    """The YAML file holding the asset's settings (sidecar or source file), for errors that
    point at a line of it."""
    expression_reads: dict[str, list[str] | None] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    """The columns each `expression` check reads, by its SQL (None: they cannot be told)."""
    engine: str | None = None
    """The engine a model builds on, as named in its sidecar or folder (None: the project's
    `engine:`); see `ProjectDefinition.engine_of`."""
    export: ExportConfig | None = None
    """For an export: where it sends its asset's rows."""

    @property
    def build_kind(self) -> BuildKind:
        """How the asset is built: `seed`, `ingest` (a source table), `nested` (a child table,
        filled by its parent's load) or the model's materialization."""
        if self.parent is not None:
            return BuildKind.NESTED
        if self.kind == AssetKind.SOURCE:
            assert self.source is not None
            return BuildKind.CDC if self.source.mode == "cdc" else BuildKind.INGEST
        if self.kind == AssetKind.SEED:
            return BuildKind.SEED
        if self.kind == AssetKind.STREAM:
            return BuildKind.STREAM
        if self.kind == AssetKind.EXPORT:
            return BuildKind.EXPORT
        return BuildKind(self.materialized)

    @property
    def is_stored(self) -> bool:
        """True when the asset is a Delta table (not a view, an ephemeral CTE or an export)."""
        return self.materialized not in (BuildKind.VIEW, BuildKind.EPHEMERAL, BuildKind.EXPORT)

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
    def retention(self) -> RetentionConfig | None:
        """How long the table keeps versions and when its rows expire (None: no limit)."""
        if self.model is not None:
            return self.model.retention
        if self.seed is not None:
            return self.seed.retention
        if self.source is not None and self.parent is None:
            return self.source.table.retention
        return None

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
        if config is not None:
            return {c.name: c.description for c in config.columns if c.description}
        if self.source is not None and self.parent is None:
            columns = self.source.table.columns
            return {name: c.description for name, c in columns.items() if c.description}
        return {}

    @property
    def personal_data(self) -> dict[str, str]:
        """The kind of personal data (`pii:`) of each column the asset's YAML declares to
        hold some, by column name."""
        config = self.model or self.seed
        if config is not None:
            return {c.name: c.pii for c in config.columns if c.pii}
        if self.source is not None and (self.parent is None or self.is_change_log):
            # a change log has its mirror's columns, and keeps every value they ever held
            return self.source.table.personal_data
        return {}

    @property
    def is_change_log(self) -> bool:
        """Whether the asset is a cdc table's change log (`<table>__changes`)."""
        from headwater.project.sources import CHANGELOG_SUFFIX

        return (
            self.parent is not None
            and self.source is not None
            and self.source.table.changelog
            and self.name.endswith(CHANGELOG_SUFFIX)
        )

    @property
    def owner(self) -> str | None:
        """Who answers for the asset (a model's or a stream's `owner`)."""
        if self.stream is not None:
            return self.stream.owner
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
    semantic: SemanticLayer = field(default_factory=SemanticLayer)
    """The semantic models and metrics of `metrics/*.yml`."""

    @property
    def warehouse(self) -> Path | None:
        """Absolute path of the warehouse folder on local disk (a folder as written, relative
        to the project, or a `file:` URI); None for a warehouse elsewhere (`s3://...`)."""
        location = self.config.warehouse
        if "://" in location:
            parsed = urllib.parse.urlparse(location)
            return Path(urllib.parse.unquote(parsed.path)) if parsed.scheme == "file" else None
        path = Path(os.path.expanduser(location))
        return path if path.is_absolute() else self.root / path

    @property
    def warehouse_uri(self) -> str:
        """The warehouse's location as a URI (`file:///...` for a folder), which picks the
        table store."""
        location = self.config.warehouse
        if "://" in location:
            return location
        return (self.root / Path(os.path.expanduser(location))).as_uri()

    @property
    def state_dir(self) -> Path:
        """The project's private state folder (`.headwater/`)."""
        return self.root / STATE_DIR

    def engine_of(self, asset: Asset) -> tuple[str, EngineConfig]:
        """The engine that builds `asset`: the name a run knows it by (`default` for the
        project's own `engine:`) and its settings. A model builds on the engine it or its
        folder names; everything else loads on the embedded DuckDB engine."""
        from headwater.project.engines import (
            DEFAULT,
            EMBEDDED,
            engine_config,
            run_engine_name,
        )

        if asset.kind != AssetKind.MODEL:
            name = DEFAULT if self.config.engine.type == EMBEDDED else EMBEDDED
        else:
            name = run_engine_name(self.config, asset.engine)
        return name, engine_config(self.config, name)

    @property
    def embedded_engine(self) -> EngineConfig:
        """The settings of the embedded DuckDB engine, which loads sources and seeds and
        answers queries, whatever engine builds the models: the project's `engine:` when it
        is DuckDB, else DuckDB's defaults."""
        from headwater.project.engines import EMBEDDED, engine_config

        return engine_config(self.config, EMBEDDED)

    def catalog_url(self) -> str:
        """The catalog URL, with each `${VAR}` replaced by the environment's value (a
        password stays out of the project's files) and a relative SQLite path made absolute
        inside the project.

        Raises:
            ConfigError: a variable the URL names is not set.
        """
        url = _expand_environment(self.config.catalog, "catalog")
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


_ENVIRONMENT_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_environment(text: str, key: str) -> str:
    """`text` with each `${VAR}` replaced by the environment's value; `ConfigError` naming
    the variable and the key of headwater.yml when one is not set."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(
                f"environment variable {name} (used by '{key}') is not set",
                Location(file=PROJECT_FILE),
                f"export {name}=... before running, or change '{key}' in headwater.yml",
            )
        return found

    return _ENVIRONMENT_REFERENCE.sub(value, text)
