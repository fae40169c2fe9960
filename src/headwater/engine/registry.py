"""Engines by name: `engine: duckdb` in `headwater.yml` picks the factory registered here.

An engine registers a factory that builds it from the project's validated `EngineConfig`;
callers ask `create_engine` and read the engine's `capabilities`, never its class. A new engine
(Spark) registers itself the same way and adds its name to `EngineConfig.type`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigError, Location

if TYPE_CHECKING:
    from headwater.engine.base import Engine
    from headwater.project.config import EngineConfig


@dataclass(frozen=True)
class EnginePlace:
    """Where an engine works: the project folder (relative paths in SQL resolve against it)
    and a folder for spilling to disk (None: the engine's default)."""

    root: Path
    temp_directory: Path | None = None


EngineFactory = Callable[["EngineConfig", EnginePlace], "Engine"]

_FACTORIES: dict[str, EngineFactory] = {}


def register_engine(name: str, factory: EngineFactory) -> None:
    """Make `engine: <name>` build its engine with `factory`."""
    _FACTORIES[name] = factory


def create_engine(config: EngineConfig, place: EnginePlace) -> Engine:
    """Build the engine `config` names, for a project at `place`; returns it unstarted
    (sessions open on first use). Raises `ConfigError` for a name nothing registered."""
    _register_builtins()
    factory = _FACTORIES.get(config.type)
    if factory is None:
        raise ConfigError(
            f"unknown engine {config.type!r}",
            Location(file="headwater.yml"),
            f"use one of: {', '.join(sorted(_FACTORIES))}",
        )
    return factory(config, place)


def _register_builtins() -> None:
    if "duckdb" not in _FACTORIES:
        # imported here: DuckDB loads only when an engine is first needed
        from headwater.engine.duckdb import DuckDBEngine

        register_engine("duckdb", DuckDBEngine.from_config)
