"""The compute interface: SQL in, Arrow or Parquet files out.

An `Engine` runs model SQL. It reads tables from snapshots that storage hands it and writes
results as Parquet files into a folder storage chose, so storage can commit them in one version.
What is particular to one engine stays behind this interface: how a list of Parquet files is
scanned (`EngineSession.scan_parquet`) and which exceptions are the engine's own
(`Engine.is_engine_error`, `Engine.model_error`). DuckDB is the embedded default; Spark will
implement the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import Location, ModelError, first_line

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

    @property
    @abstractmethod
    def capabilities(self) -> EngineCapabilities:
        """What the session's engine supports (builders see a session, not the engine)."""

    @abstractmethod
    def is_engine_error(self, exc: BaseException) -> bool:
        """Whether `exc` was raised by the engine running SQL, as `Engine.is_engine_error`
        says (for code that sees a session, not the engine)."""

    @abstractmethod
    def scan_parquet(
        self,
        paths: Sequence[str],
        *,
        union_by_name: bool = True,
        hive_partitioning: bool | None = None,
        partition_types: pa.Schema | None = None,
        filename: bool = False,
    ) -> str:
        """Return a SQL relation (to put after FROM) reading the Parquet files `paths` as one
        table. The SQL is the same for the same arguments; an empty `paths` gives a relation
        the engine refuses to read.

        Args:
            paths: the files to read (absolute, or relative to the project folder).
            union_by_name: match the files' columns by name, NULL where a file lacks one (the
                files of a table written before and after a column was added); False matches
                them by position and expects every file to have the same columns.
            hive_partitioning: read `key=value` folders in the paths as columns (True), never
                (False), or leave it to the engine's default (None; DuckDB then detects such
                folders itself). DuckDB reads every such folder of a path, those above the
                table's own folder too (a project under `/data/env=prod/`): files Headwater
                wrote unpartitioned are scanned with False.
            partition_types: the types of the partition columns, read from the folder names
                (only with `hive_partitioning`; otherwise the engine infers them).
            filename: add a column `filename` holding the path of each row's file.
        """

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

    @abstractmethod
    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Make the (small) Arrow table `table` readable under the unqualified name `name`."""

    @abstractmethod
    def statement_kinds(self, sql: str) -> list[str]:
        """Split `sql` into statements with the engine's own parser, running nothing, and
        return the kind of each as written (`SELECT`, `INSERT`, `PRAGMA`, `DESCRIBE`, ...;
        a statement the engine runs as a query but that is written as another kind, such as
        DuckDB's `DESCRIBE` or `SHOW`, is reported by its first word).

        Raises:
            UsageError: the parser rejects `sql`; the message is the parser's own, with the
                position it points at.
        """

    @abstractmethod
    def column_types(self, ref: TableRef) -> list[tuple[str, str]]:
        """The columns of the table or view `ref` in this session, each with the engine's
        type name, in order (binding a view, not running it)."""


class Engine(ABC):
    """A compute engine shared by the workers of one run."""

    capabilities: EngineCapabilities

    @abstractmethod
    def is_engine_error(self, exc: BaseException) -> bool:
        """Whether `exc` was raised by the engine running SQL (a bad query, a missing column,
        a failed cast, an unreadable file) rather than by a fault in Headwater."""

    def model_error(self, exc: BaseException, asset: str, file: str | None) -> ModelError:
        """Return the engine's error `exc`, raised while building model `asset` (defined in
        `file`), as a `ModelError` naming the model and how to see the SQL that ran."""
        return ModelError(
            f"model {asset} failed: {first_line(exc)}",
            Location(file=file, asset=asset),
            "fix the SQL; 'headwater compile " + asset + "' shows the SQL that ran",
        )

    @abstractmethod
    def session(self) -> EngineSession:
        """Return the calling thread's session (created on first use)."""

    @abstractmethod
    def close(self) -> None:
        """Release every session and the engine's resources."""
