"""What an asset is, and how it is built.

`StrEnum`s, so each member is also the plain string written in YAML, the catalog and the CLI
(`BuildKind.INCREMENTAL == "incremental"`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeAlias


class AssetKind(StrEnum):
    """Where an asset's rows come from."""

    SEED = "seed"
    MODEL = "model"
    SOURCE = "source"
    STREAM = "stream"
    """A stream's table, written micro-batch by micro-batch from its event source."""
    EXPORT = "export"
    """An export: the asset it reads, pushed into an operational system (no table of its own
    but its quarantine)."""


class BuildKind(StrEnum):
    """How an asset is built: the builder registered under this name builds it."""

    SEED = "seed"
    INGEST = "ingest"
    """A source table, loaded by its source's extractor."""
    CDC = "cdc"
    """A source table mirrored from its database's change log: a run applies the changes
    logged so far (every `mode: cdc` table of the source at once) and stops there."""
    NESTED = "nested"
    """A child table of a nested source record, filled by its parent's load."""
    VIEW = "view"
    TABLE = "table"
    INCREMENTAL = "incremental"
    EPHEMERAL = "ephemeral"
    SNAPSHOT = "snapshot"
    STREAM = "stream"
    """A stream's table: in a run, the stream reads what its source holds and stops there."""
    EXPORT = "export"
    """An export: sends what its asset changed since the last successful export."""


Materialized: TypeAlias = BuildKind | Literal[AssetKind.SOURCE]
"""What an asset's `materialized` says: a model's build kind as its `materialized:` setting names
it (`table`, `view`, `ephemeral`, `incremental`, `snapshot`), `table` for a seed, and `source` for
a source table or a child table of one."""
