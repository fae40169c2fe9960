"""Read seeds, models and sources from disk into drafts, and finish each draft as an asset.

A draft is an asset read from its files (CSV or SQL with its YAML sidecar, or one table of a
source file) whose references are not resolved yet. Names and namespaces come from the files'
names and folders unless the sidecar sets them; configuration errors point at the file and line.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from headwater.digest import content_hash
from headwater.errors import SOURCES_DOCS, ConfigError, Location
from headwater.project.checks import Check
from headwater.project.config import ModelConfig, ProjectConfig, SeedConfig
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.engines import folder_engine
from headwater.project.kinds import AssetKind, BuildKind, Materialized
from headwater.project.sources import CHANGELOG_SUFFIX, SourceConfig, SourceTable, TableConfig
from headwater.project.streams import StreamConfig
from headwater.project.yamlfile import (
    YamlDocument,
    load_yaml,
    read_utf8,
    validated,
    validation_error,
)

if TYPE_CHECKING:
    from headwater.project.columns import SelectOutputs
    from headwater.project.sql import SqlAnalysis


@dataclass
class Draft:
    """A seed, model or source table read from disk, before its references are resolved."""

    key: str
    namespace: str
    name: str
    kind: AssetKind
    path: Path
    rel_path: str
    materialized: Materialized
    model: ModelConfig | None
    seed: SeedConfig | None
    sql: str | None
    templated: bool
    definition_hash: str
    analysis: SqlAnalysis | None = None
    source: SourceTable | None = None
    parent: str | None = None
    stream: StreamConfig | None = None
    document: YamlDocument | None = None
    outputs: SelectOutputs | None = None
    """What the SELECT list says of the output columns (models)."""
    rendered: str | None = None
    """The rendered SQL, kept when its SELECT list has a `*` to expand."""
    tree: Any = None
    """`rendered` as parsed by this load (None when the analysis came from the cache): a `*`
    is expanded on it rather than on the SQL parsed again."""
    engine: str | None = None
    """The engine a model builds on, as its sidecar or folder names it (None: the project's)."""


def read_seeds(root: Path, config: ProjectConfig) -> list[Draft]:
    """A draft for each CSV file under `seeds/`, configured by its sidecar if it has one."""
    folder = root / "seeds"
    drafts: list[Draft] = []
    if not folder.is_dir():
        return drafts
    for path in sorted(folder.rglob("*.csv")):
        rel = str(path.relative_to(root))
        sidecar = _sidecar(path, root)
        seed = validated(sidecar, SeedConfig, sidecar.data) if sidecar is not None else SeedConfig()
        namespace = seed.namespace or _namespace_from_folder(
            path.relative_to(folder), config.defaults.seed_namespace, rel
        )
        name = seed.name or _identifier(path.stem, rel)
        stat = path.stat()
        definition_hash = content_hash(
            "seed",
            str(stat.st_size),
            str(stat.st_mtime_ns),
            (root / sidecar.path).read_text() if sidecar else "",
        )
        drafts.append(
            Draft(
                f"{namespace}.{name}",
                namespace,
                name,
                AssetKind.SEED,
                path,
                rel,
                BuildKind.TABLE,
                None,
                seed,
                None,
                False,
                definition_hash,
                document=sidecar,
            )
        )
    return drafts


def read_models(root: Path, config: ProjectConfig) -> list[Draft]:
    """A draft for each SQL file under `models/`, configured by its sidecar if it has one."""
    from headwater.project.templating import is_templated

    folder = root / "models"
    drafts: list[Draft] = []
    if not folder.is_dir():
        return drafts
    for path in sorted(folder.rglob("*.sql")):
        rel = str(path.relative_to(root))
        sidecar = _sidecar(path, root)
        model: ModelConfig = (
            validated(sidecar, ModelConfig, sidecar.data) if sidecar is not None else ModelConfig()
        )
        namespace = model.namespace or _namespace_from_folder(
            path.relative_to(folder), config.defaults.namespace, rel
        )
        name = model.name or _identifier(path.stem, rel)
        sql = read_utf8(path, rel)
        templated = is_templated(sql)
        definition_hash = content_hash(
            "model",
            sql,
            model.model_dump_json(),
            json.dumps(config.vars, sort_keys=True, default=str) if templated else "",
        )
        drafts.append(
            Draft(
                f"{namespace}.{name}",
                namespace,
                name,
                AssetKind.MODEL,
                path,
                rel,
                BuildKind(model.materialized or config.defaults.materialized),
                model,
                None,
                sql,
                templated,
                definition_hash,
                document=sidecar,
                engine=model.engine
                or folder_engine(config, PurePosixPath(path.relative_to(folder).as_posix())),
            )
        )
    return drafts


def read_sources(root: Path, definition: ProjectDefinition) -> list[Draft]:
    """A draft for each table of each source file in `sources/`; each source is added to
    `definition.sources`, knowing its file (`SourceConfig.rel_path`), and a source whose
    table list was never read from its database to `definition.undiscovered`."""
    from headwater.project.discovered import asset_name, read_discovered

    folder = root / "sources"
    drafts: list[Draft] = []
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
        declared: SourceConfig = validated(document, SourceConfig, data, SOURCES_DOCS)
        source = declared.declared_in(rel)
        name = source.name or _identifier(path.stem, rel)
        definition.sources[name] = source
        definition_hash = content_hash("source", read_utf8(path, rel))
        tables = dict(source.tables)
        if source.include:
            listed = read_discovered(definition.state_dir, name, source)
            if listed is None:
                definition.undiscovered.append(name)
            named = {
                (t.table if t and t.table else t_name).rpartition(".")[2].lower()
                for t_name, t in tables.items()
            }
            defaults = validated(
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
                draft := Draft(
                    f"{name}.{table_name}",
                    name,
                    table_name,
                    AssetKind.SOURCE,
                    path,
                    rel,
                    AssetKind.SOURCE,
                    None,
                    None,
                    None,
                    False,
                    content_hash(definition_hash, table_name),
                    source=spec,
                    document=document,
                )
            )
            if spec.mode == "cdc" and table_config.changelog:
                changes = f"{table_name}{CHANGELOG_SUFFIX}"
                drafts.append(
                    dataclasses.replace(
                        draft,
                        key=f"{name}.{changes}",
                        name=changes,
                        definition_hash=content_hash(draft.definition_hash, changes),
                        parent=draft.key,
                    )
                )
    return drafts


def add_child_tables(drafts: dict[str, Draft]) -> None:
    """Add the child tables that models read (`shop.orders__items`): the tables a source
    table's load makes of the lists in its records (`nested: tables`). They are known only
    from the data, so one becomes an asset when a model names it."""
    sources: dict[str, list[Draft]] = {}
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


def finish_asset(
    draft: Draft,
    depends_on: tuple[str, ...],
    expression_reads: dict[str, list[str] | None] | None = None,
) -> Asset:
    """The asset `draft` becomes, once its dependencies and expression checks' columns are
    known."""
    config = (
        draft.model or draft.seed or (draft.source.table if draft.source else None) or draft.stream
    )
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
        stream=draft.stream,
        document=draft.document,
        expression_reads=expression_reads or {},
        engine=draft.engine,
    )


def draft_checks(draft: Draft) -> list[tuple[Check, tuple[str | int, ...]]]:
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
