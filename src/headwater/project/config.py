"""Typed configuration of a project: `headwater.yml`, model sidecars and seed sidecars.

Every model forbids unknown keys, so a typo is an error naming the closest valid key rather than
a setting silently ignored. Field docstrings are the reference for `docs/project.md`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Materialization = Literal["view", "table", "ephemeral", "incremental", "snapshot"]
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]


class KeyValueError(ValueError):
    """A validation failure caused by one key's value; errors point at that key's line."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SnapshotDefaults(StrictModel):
    """Project-wide defaults for SCD2 snapshots."""

    max_close_share: float = Field(0.5, ge=0.0, le=1.0)
    """Refuse a run that would end-date more than this share of current rows (0.5 = half)."""


class Defaults(StrictModel):
    """Defaults applied to every model and seed unless its sidecar says otherwise."""

    materialized: Materialization = "table"
    """Materialization of a model without one of its own."""
    namespace: Identifier = "main"
    """Namespace of models at the top of `models/` (subfolders name their own)."""
    seed_namespace: Identifier = "raw"
    """Namespace of seeds at the top of `seeds/`."""
    snapshot: SnapshotDefaults = SnapshotDefaults.model_validate({})


class EngineConfig(StrictModel):
    """Settings of the compute engine."""

    type: Literal["duckdb"] = "duckdb"
    """The engine that runs models; DuckDB is embedded."""
    threads: int | None = Field(None, ge=1)
    """Threads DuckDB uses per query (default: all cores)."""
    memory_limit: str | None = None
    """Memory DuckDB may use before spilling to disk, e.g. '2GB' (default: 80% of RAM)."""


class ProjectConfig(StrictModel):
    """The contents of `headwater.yml`."""

    name: Identifier
    """Project name."""
    warehouse: str = "warehouse"
    """Where Delta tables live: a folder (relative to the project) holding `<namespace>/<table>`."""
    catalog: str = "sqlite:///.headwater/catalog.db"
    """SQLAlchemy URL of the catalog database; relative SQLite paths are inside the project."""
    threads: int = Field(4, ge=1, le=256)
    """How many models build at once."""
    defaults: Defaults = Defaults.model_validate({})
    engine: EngineConfig = EngineConfig.model_validate({})
    vars: dict[str, Any] = {}
    """Values available to templated SQL as `{{ var('name') }}`."""
    version: Literal[1] = 1
    """Format version of this file."""


class ColumnConfig(StrictModel):
    """Documentation and declared type of one column."""

    name: str
    description: str | None = None
    type: str | None = None
    """DuckDB type; for seeds it is the type the CSV column is read as."""
    tags: list[str] = []


class SnapshotConfig(StrictModel):
    """How an SCD type 2 snapshot detects change."""

    strategy: Literal["timestamp", "check"] = "timestamp"
    """`timestamp`: a row changed when `updated_at` grew; `check`: when any `check_cols` differ."""
    updated_at: str | None = None
    """Column holding the source row's last update time (strategy `timestamp`)."""
    check_cols: list[str] | Literal["all"] = "all"
    """Columns compared for strategy `check`; `all` compares every non-key column."""
    invalidate_hard_deletes: bool = True
    """Close out the current row of a key that disappeared from the source."""
    max_close_share: float | None = Field(None, ge=0.0, le=1.0)
    """Refuse to end-date more than this share of current rows in one run (project default 0.5)."""

    @model_validator(mode="after")
    def _needs_updated_at(self) -> SnapshotConfig:
        if self.strategy == "timestamp" and not self.updated_at:
            raise KeyValueError("strategy", "strategy 'timestamp' needs 'updated_at: <column>'")
        return self


class ModelConfig(StrictModel):
    """A model's YAML sidecar (`models/<ns>/<name>.yml`), all keys optional."""

    name: Identifier | None = None
    """Table name; defaults to the SQL file's name."""
    namespace: Identifier | None = None
    """Namespace; defaults to the model's folder under `models/`."""
    description: str | None = None
    materialized: Materialization | None = None
    unique_key: list[str] | None = None
    """Key of an incremental merge or a snapshot; one column or a list."""
    incremental_strategy: Literal["append", "merge"] | None = None
    """`merge` when a unique key is set, otherwise `append`."""
    partition_by: list[str] = []
    """Delta partition columns."""
    tags: list[str] = []
    owner: str | None = None
    columns: list[ColumnConfig] = []
    snapshot: SnapshotConfig | None = None
    """SCD2 settings, for `materialized: snapshot`."""

    @field_validator("unique_key", "partition_by", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.materialized == "snapshot" and not self.unique_key:
            raise KeyValueError(
                "materialized", "a snapshot needs 'unique_key' (one column or a list)"
            )
        if self.incremental_strategy == "merge" and not self.unique_key:
            raise KeyValueError(
                "incremental_strategy", "incremental_strategy 'merge' needs 'unique_key'"
            )
        return self


class SeedConfig(StrictModel):
    """A seed's YAML sidecar (`seeds/<name>.yml`)."""

    name: Identifier | None = None
    namespace: Identifier | None = None
    description: str | None = None
    delimiter: str = ","
    tags: list[str] = []
    columns: list[ColumnConfig] = []
    partition_by: list[str] = []

    @field_validator("tags", "partition_by", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
