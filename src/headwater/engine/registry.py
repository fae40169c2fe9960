"""Engines by name: `engine: duckdb` in `headwater.yml` picks the factory registered here.

An engine registers a factory that builds it from the project's validated `EngineConfig`;
callers ask `create_engine` and read the engine's `capabilities`, never its class. An engine
that can run untrusted SQL also registers its `ReadOnlySupport` (`headwater.engine.readonly`),
which the read-only query path reaches through `readonly_support` and
`create_readonly_engine`. Spark registers the same way (`headwater.engine.spark`), without a
read-only engine: untrusted SQL always runs on DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigError, Location, UsageError

if TYPE_CHECKING:
    from headwater.engine.base import Engine
    from headwater.engine.readonly import ReadOnlyCall, ReadOnlySupport
    from headwater.project.config import EngineConfig
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import ObjectStoreAccess, TableStore


@dataclass(frozen=True)
class EnginePlace:
    """Where an engine works: the project folder (relative paths in SQL resolve against it),
    a folder for spilling to disk (None: the engine's default), and how to reach the
    warehouse when it is on object storage (None: on local disk)."""

    root: Path
    temp_directory: Path | None = None
    object_store: ObjectStoreAccess | None = None

    @classmethod
    def of(
        cls, definition: ProjectDefinition, store: TableStore, temp_directory: Path | None = None
    ) -> EnginePlace:
        """Where an engine of the project `definition` works, reading the tables of `store`."""
        return cls(definition.root, temp_directory, store.object_store)


EngineFactory = Callable[["EngineConfig", EnginePlace], "Engine"]

_FACTORIES: dict[str, EngineFactory] = {}
_READONLY: dict[str, ReadOnlySupport] = {}


def register_engine(
    name: str, factory: EngineFactory, readonly: ReadOnlySupport | None = None
) -> None:
    """Make `engine: <name>` build its engine with `factory`, and the read-only query path use
    `readonly` (None: the engine offers no locked-down engine for untrusted SQL)."""
    _FACTORIES[name] = factory
    if readonly is None:
        _READONLY.pop(name, None)
    else:
        _READONLY[name] = readonly


def create_engine(config: EngineConfig, place: EnginePlace) -> Engine:
    """Build the engine `config` names, for a project at `place`; returns it unstarted
    (sessions open on first use). Raises `ConfigError` for a name nothing registered."""
    return _factory(config)(config, place)


def readonly_support(config: EngineConfig) -> ReadOnlySupport:
    """Return what the engine `config` names offers the read-only query path.

    Raises:
        ConfigError: nothing registered that name.
        UsageError: the engine has no locked-down engine for untrusted SQL.
    """
    _factory(config)
    support = _READONLY.get(config.type)
    if support is None:
        raise UsageError(
            f"the engine {config.type!r} cannot run untrusted SQL read-only (it registered "
            "no locked-down engine), so the SQL box and the query API are not available",
            Location(file="headwater.yml"),
            "use 'headwater query' instead, or an engine that has one: "
            + ", ".join(sorted(_READONLY)),
        )
    return support


def create_readonly_engine(config: EngineConfig, place: EnginePlace, call: ReadOnlyCall) -> Engine:
    """Build a locked-down engine of the kind `config` names for the read-only `call`, for a
    project at `place`; the caller closes it. Raises as `readonly_support` does."""
    return readonly_support(config).engine(config, place, call)


def _factory(config: EngineConfig) -> EngineFactory:
    """The factory registered under `config.type`; `ConfigError` when there is none."""
    _register_builtins()
    factory = _FACTORIES.get(config.type)
    if factory is None:
        raise ConfigError(
            f"unknown engine {config.type!r}",
            Location(file="headwater.yml"),
            f"use one of: {', '.join(sorted(_FACTORIES))}",
        )
    return factory


def _register_builtins() -> None:
    if "duckdb" not in _FACTORIES:
        # imported here: DuckDB loads only when an engine is first needed
        from headwater.engine.duckdb import DuckDBEngine
        from headwater.engine.duckdb_readonly import DuckDBReadOnly

        register_engine("duckdb", DuckDBEngine.from_config, readonly=DuckDBReadOnly())
    if "spark" not in _FACTORIES:
        register_engine("spark", _spark)


def _spark(config: EngineConfig, place: EnginePlace) -> Engine:
    # PySpark (and its JVM) load only when a Spark engine is built
    from headwater.engine.spark import SparkEngine

    return SparkEngine.from_config(config, place)
