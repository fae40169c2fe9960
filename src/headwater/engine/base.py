"""The compute interface: SQL in, Arrow or Parquet files out.

An `Engine` runs model SQL. It reads tables from snapshots that storage hands it and writes
results as Parquet files into a folder storage chose, so storage can commit them in one version.
DuckDB is the embedded default; Spark will implement the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.storage.base import Snapshot, TableRef, WrittenFile


@dataclass(frozen=True)
class EngineCapabilities:
    """What an engine supports; callers branch on these, never on the class."""

    dialect: str
    """sqlglot dialect of the SQL the engine runs."""
    views: bool
    """Can hold view models as named views."""
    writes_parquet: bool
    """Writes query results as Parquet files itself."""


@dataclass(frozen=True)
class WriteResult:
    """What an engine wrote: files, their schema and the row count."""

    files: list[WrittenFile]
    schema: pa.Schema
    rows: int


class EngineSession(ABC):
    """A connection of one worker thread: tables it can see and queries it runs."""

    @abstractmethod
    def register_table(self, ref: TableRef, snapshot: Snapshot) -> None:
        """Make `snapshot` readable under the name `ref` in this session."""

    @abstractmethod
    def register_view(self, ref: TableRef, sql: str) -> None:
        """Create (or replace) view `ref` as `sql`."""

    @abstractmethod
    def execute(self, sql: str, parameters: list[Any] | None = None) -> None:
        """Run a statement for its effect."""

    @abstractmethod
    def query(self, sql: str, parameters: list[Any] | None = None) -> pa.Table:
        """Run a query and return its (small) result as an Arrow table."""

    @abstractmethod
    def query_batches(self, sql: str, batch_size: int = 65536) -> pa.RecordBatchReader:
        """Run a query and stream its result."""

    @abstractmethod
    def schema(self, sql: str) -> pa.Schema:
        """Return the Arrow schema of a query's result, as it would be written."""

    @abstractmethod
    def write_parquet(
        self,
        sql: str,
        directory: Path,
        partition_by: list[str] | None = None,
        conform_to: pa.Schema | None = None,
    ) -> WriteResult:
        """Write a query's result as Parquet files under `directory` (streamed, spills to disk).

        With `conform_to`, columns it names are cast to its types (a table's existing types).
        """

    @abstractmethod
    def copy_parquet(self, sql: str, directory: Path) -> WriteResult:
        """Write a query's result as Parquet files under `directory` in exactly one pass, with
        the types the query produces (for queries with side effects, such as a CSV scan that
        records rejected lines)."""

    @abstractmethod
    def sql_types(self, schema: pa.Schema) -> dict[str, str]:
        """The engine's type name for each column of an Arrow schema."""

    @abstractmethod
    def interrupt(self) -> None:
        """Cancel the running query, if any."""


class Engine(ABC):
    """A compute engine shared by the workers of one run."""

    capabilities: EngineCapabilities

    @abstractmethod
    def session(self) -> EngineSession:
        """Return the calling thread's session (created on first use)."""

    @abstractmethod
    def close(self) -> None:
        """Release every session and the engine's resources."""
