"""Which engine builds which asset: `engine:`, `engines:` and `models:` of headwater.yml.

A model builds on the engine its sidecar names (`engine: spark`), else on the one its deepest
folder under `models:` names, else on the project's `engine:`. A name is `duckdb` or `spark`
(the engine with its default settings) or a key of `engines:`. Everything that is not a SQL
model (seeds, source loads, streams, CDC mirrors) is loaded by the embedded DuckDB engine,
whatever the default: their readers (CSV, JSON, database cursors, Arrow batches) are DuckDB's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, get_args

from headwater.errors import ConfigError, Location
from headwater.project.config import EngineConfig, EngineType, ProjectConfig
from headwater.project.kinds import AssetKind
from headwater.project.yamlfile import YamlDocument, closest

if TYPE_CHECKING:
    from headwater.project.drafts import Draft

DEFAULT = "default"
"""The name under which the project's own `engine:` is known to a run."""

BUILTIN: tuple[str, ...] = get_args(EngineType)
"""Engine names that need no entry under `engines:`."""

MODELS = PurePosixPath("models")
"""The folder that `models:` keys are relative to."""

EMBEDDED = "duckdb"
"""The engine that loads everything that is not a SQL model."""


def folder_engine(config: ProjectConfig, relative: PurePosixPath) -> str | None:
    """The engine named under `models:` for the deepest folder holding the model at
    `relative` (its path under `models/`); None when no folder names one."""
    best: tuple[int, str] | None = None
    folders = relative.parts[:-1]
    for folder, settings in config.models.items():
        parts = PurePosixPath(folder.strip("/")).parts
        if settings.engine is None or tuple(folders[: len(parts)]) != parts:
            continue
        if best is None or len(parts) > best[0]:
            best = (len(parts), settings.engine)
    return None if best is None else best[1]


def engine_config(config: ProjectConfig, name: str) -> EngineConfig:
    """The settings of the engine `name` (`default`, a key of `engines:`, or a built-in name).

    Raises:
        ConfigError: no engine has that name.
    """
    if name == DEFAULT:
        return config.engine
    if name in BUILTIN and config.engine.type == name:
        return config.engine
    if name in config.engines:
        return config.engines[name]
    if name in BUILTIN:
        return EngineConfig.model_validate({"type": name})
    known = [*BUILTIN, *config.engines]
    suggestion = closest(name, known)
    raise ConfigError(
        f"no engine is named {name!r}",
        Location(file="headwater.yml"),
        (f"did you mean {suggestion!r}? " if suggestion else "")
        + f"engines are {', '.join(known)}; add others under 'engines:' in headwater.yml",
    )


def run_engine_name(config: ProjectConfig, name: str | None) -> str:
    """The name a run knows engine `name` (None: the project's) by, so that two names with
    the same settings share one engine: `default` for the project's own."""
    if name is None or name == DEFAULT:
        return DEFAULT
    if name not in config.engines and name == config.engine.type:
        return DEFAULT
    return name


def check_engine_names(config: ProjectConfig, drafts: Iterable[Draft], root_file: str) -> None:
    """Check that every engine the project names exists (under `models:` and in the models'
    sidecars); raises `ConfigError` at the line that names an unknown one."""
    known = [*BUILTIN, *config.engines]
    for name, engine in config.engines.items():
        if name in BUILTIN and engine.type != name:
            raise ConfigError(
                f"engines: {name} is of type {engine.type}, but the name {name} always "
                f"means the {name} engine",
                Location(file=root_file),
                f"name it otherwise (e.g. {name}_{engine.type}), or set 'type: {name}'",
            )
    drafts = list(drafts)
    folders = {PurePosixPath(d.rel_path).parent for d in drafts if d.kind == AssetKind.MODEL}
    for folder, settings in config.models.items():
        if settings.engine is not None and settings.engine not in known:
            _unknown(settings.engine, known, Location(file=root_file), f"models: {folder}")
        path = MODELS / folder.strip("/")
        if not any(f == path or path in f.parents for f in folders):
            raise ConfigError(
                f"models: {folder} names no folder of models (nothing under {path}/)",
                Location(file=root_file),
                "write the folder as it is under models/ (marts/finance, not models/marts/finance)",
            )
    for draft in drafts:
        named = draft.model.engine if draft.model is not None else None
        if named is not None and named not in known:
            where = _line(draft.document, ("engine",)) or Location(file=draft.rel_path)
            _unknown(named, known, where, f"model {draft.key}")


def _line(document: YamlDocument | None, path: tuple[str, ...]) -> Location | None:
    return document.location(path) if document is not None else None


def _unknown(name: str, known: list[str], where: Location, who: str) -> None:
    suggestion = closest(name, known)
    raise ConfigError(
        f"{who} names engine {name!r}, which does not exist",
        where,
        (f"did you mean {suggestion!r}? " if suggestion else "")
        + f"engines are {', '.join(known)}; declare others under 'engines:' in headwater.yml",
    )
