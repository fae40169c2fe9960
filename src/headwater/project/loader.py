"""Read a project folder into typed, validated, dependency-resolved asset definitions.

The loader reads `headwater.yml`, every seed under `seeds/`, every source under `sources/` and
every model under `models/`, with their YAML sidecars, and runs the checks a project must pass
before anything is built. The work is done by the modules beside this one: `drafts.py` reads the
files, `parsing.py` parses model SQL (once per content hash), `validation.py` resolves and checks
dependencies, `column_inference.py` works out output columns, `unread.py` warns about files
Headwater does not read; the objects they make are defined in `definition.py`.
"""

from __future__ import annotations

from pathlib import Path

from headwater.errors import ConfigError, Location
from headwater.project.column_inference import ColumnInference
from headwater.project.config import ProjectConfig
from headwater.project.definition import PROJECT_FILE, AssetIndex, ProjectDefinition
from headwater.project.drafts import (
    Draft,
    add_child_tables,
    finish_asset,
    read_models,
    read_seeds,
    read_sources,
)
from headwater.project.engines import check_engine_names
from headwater.project.export_assets import read_exports
from headwater.project.parsing import ParseCache, analyze_draft, cache_key
from headwater.project.semantic_layer import load_semantic_layer
from headwater.project.stream_drafts import analyze_stream, read_streams
from headwater.project.unread import unread_files
from headwater.project.validation import (
    check_acyclic,
    check_masking,
    check_partitioned,
    check_pools,
    name_checks_apart,
    resolve_depends_on,
)
from headwater.project.yamlfile import load_yaml, validated


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


def load_project_config(root: Path) -> ProjectConfig:
    """Read and validate `headwater.yml` in `root`."""
    document = load_yaml(root / PROJECT_FILE, PROJECT_FILE)
    config: ProjectConfig = validated(document, ProjectConfig, document.data)
    return config


def load_project(root: Path) -> ProjectDefinition:
    """Load the project at `root`: config, seeds and models, with dependencies resolved.

    Raises:
        ConfigError: anything invalid, with file, line and a fix.
    """
    root = root.resolve()
    config = load_project_config(root)
    definition = ProjectDefinition(root=root, config=config)
    drafts = _read_drafts(root, definition)
    check_engine_names(config, drafts.values(), PROJECT_FILE)

    cache = ParseCache(definition.state_dir / "parse_cache.json")
    for draft in drafts.values():
        if draft.sql is not None:
            analyze_draft(draft, config, cache)
    streams = [analyze_stream(d, cache) for d in drafts.values() if d.stream is not None]
    cache.save([*(cache_key(d, config) for d in drafts.values() if d.sql is not None), *streams])
    add_child_tables(drafts)

    index = AssetIndex(drafts)
    columns = ColumnInference(definition, drafts, index)
    for draft in drafts.values():
        name_checks_apart(draft)
        definition.assets[draft.key] = finish_asset(
            draft, resolve_depends_on(draft, index), columns.expression_reads(draft)
        )
    check_acyclic(definition.assets)
    check_pools(definition)
    check_partitioned(definition)
    check_masking(definition)
    columns.validate()
    definition.semantic = load_semantic_layer(definition, columns.columns_of)
    for export in read_exports(definition, columns.columns_of):
        definition.assets[export.key] = export
    definition.warnings.extend(unread_files(definition))
    return definition


def _read_drafts(root: Path, definition: ProjectDefinition) -> dict[str, Draft]:
    """Every seed, source table and model of the project, by key.

    Raises:
        ConfigError: two of them have the same key.
    """
    drafts: dict[str, Draft] = {}
    for draft in [
        *read_seeds(root, definition.config),
        *read_sources(root, definition),
        *read_models(root, definition.config),
        *read_streams(root),
    ]:
        if draft.key in drafts:
            other = drafts[draft.key]
            raise ConfigError(
                f"two assets are named {draft.key}: {other.rel_path} and {draft.rel_path}",
                Location(file=draft.rel_path),
                "rename one, or give it another 'name:' or 'namespace:' in its sidecar",
            )
        drafts[draft.key] = draft
    return drafts
