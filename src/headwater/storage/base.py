"""The storage interface: what any table format must offer Headwater.

A `TableStore` turns table names into versioned tables: it lists the data files of a snapshot
for an engine to scan, commits files an engine wrote as one atomic version, and runs time travel
and maintenance. Delta Lake is the implementation today; the interface keeps Iceberg possible.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from headwater.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

WriteMode = Literal["overwrite", "append"]

DEFAULT_RETENTION_HOURS = 168.0
"""How long removed files are kept by default: Delta's own `deletedFileRetentionDuration`
(7 days). Vacuuming with less can delete files a reader of an older version still scans."""


class Named(Protocol):
    """Anything that names a table: an asset of the project, a ref."""

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class TableRef:
    """A table's identity: namespace and name."""

    namespace: str
    name: str

    @classmethod
    def of(cls, named: Named) -> TableRef:
        """The ref of anything with a namespace and a name (an asset, a relation)."""
        return cls(named.namespace, named.name)

    @classmethod
    def parse(cls, key: str) -> TableRef:
        """Build a ref from `namespace.name`."""
        namespace, _, name = key.partition(".")
        return cls(namespace, name)

    @property
    def key(self) -> str:
        """`namespace.name`."""
        return f"{self.namespace}.{self.name}"

    def __str__(self) -> str:
        return self.key


StoreCapability = Literal["time_travel", "file_commits", "idempotent_commits", "optimize", "vacuum"]
"""The name of one field of `StoreCapabilities`, for `TableStore.require`."""

CAPABILITY_NAMES: dict[str, str] = {
    "time_travel": "time travel (reading or restoring an earlier version)",
    "file_commits": "committing Parquet files an engine wrote",
    "idempotent_commits": "idempotent commits (app transactions)",
    "optimize": "optimize (compacting or z-ordering files)",
    "vacuum": "vacuum (deleting files no version needs)",
}
"""What each capability is, in words an error message can use."""


@dataclass(frozen=True)
class StoreCapabilities:
    """What a table format supports; callers branch on these, never on the class."""

    time_travel: bool
    """Can read (and restore) a table at an earlier version or timestamp."""
    file_commits: bool
    """Can commit Parquet files that an engine wrote itself."""
    idempotent_commits: bool
    """Commits can carry an (app id, version) pair checked before writing again."""
    optimize: bool
    """Can compact small files (and z-order them)."""
    vacuum: bool
    """Can delete the files that no version within a retention needs."""


@dataclass(frozen=True)
class DataFile:
    """One data file of a snapshot."""

    path: str
    """Absolute path (or URI) of the file."""
    relative_path: str
    size: int
    rows: int | None
    partition_values: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """A readable version of a table: its files, schema and how to scan it."""

    ref: TableRef
    version: int
    files: tuple[DataFile, ...]
    schema: pa.Schema
    partition_by: tuple[str, ...]
    needs_arrow_reader: bool
    """True when the table uses features (deletion vectors, column mapping) that a plain Parquet
    reader would get wrong; scan it through `arrow_dataset()` then."""
    location: str
    _store: TableStore | None = None

    @property
    def on_object_store(self) -> bool:
        """True when the table is on object storage (`location` is an `s3://` or other URI
        that is not `file:`): its files' paths are URIs no local reader opens as they are."""
        return "://" in self.location and not self.location.startswith("file://")

    def arrow_dataset(self) -> Any:
        """Return a pyarrow dataset (or scanner) of this snapshot (the fallback reader)."""
        assert self._store is not None
        return self._store.arrow_dataset(self)


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet file an engine wrote into a table's folder, waiting to be committed."""

    path: str
    partition_values: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitInfo:
    """Who made a commit and how to recognise a retry of it."""

    run_id: str
    operation: str
    app_id: str | None = None
    app_version: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    """What the commit does in Delta's terms when that differs from how it is committed: a
    merge Headwater plans itself is committed as file actions (which the log calls WRITE), so
    it says `MERGE` here and history shows that."""
    metrics: dict[str, int] = field(default_factory=dict)
    """Row counts of the commit under delta-rs's metric names (`num_target_rows_inserted`,
    `num_target_rows_updated`, `num_target_rows_deleted` for a merge), shown by history."""
    restarts: bool = False
    """The commit starts its app transaction over at `app_version` (a CDC mirror copied again
    from a new slot, whose positions may be lower): it is never taken for a retry."""


@dataclass(frozen=True)
class MergeClause:
    """What a merge does to a target row some source row matches: when `when` (SQL over
    `source.` and `target.` columns, None: always) holds, set `updates` (column -> SQL), or
    delete the row when `updates` is None."""

    when: str | None
    updates: dict[str, str] | None


@dataclass(frozen=True)
class HistoryEntry:
    """One version in a table's history."""

    version: int
    timestamp_ms: int | None
    operation: str | None
    run_id: str | None
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    rows_written: int | None = None
    """Rows the commit wrote (Headwater's own commits, and delta-rs operations that say)."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Headwater's own keys of the commit (`headwater.*`), e.g. an ingest's state."""
    readable: bool | None = None
    """False when the version can no longer be read (vacuum deleted data files it needs);
    None when history was asked not to check."""


class ObjectStoreAccess(ABC):
    """How engines reach a warehouse on object storage (`s3://bucket/prefix`): a store on
    local disk has none. Credentials come from the environment, never from project files,
    and none of these objects' reprs show them."""

    scheme: str
    """The URI scheme of the warehouse's paths (`s3`)."""

    @abstractmethod
    def arrow_filesystem(self) -> Any:
        """A `pyarrow.fs.FileSystem` reading and writing the warehouse's paths (given without
        their scheme, `bucket/key`)."""

    @abstractmethod
    def fsspec_filesystem(self) -> Any:
        """An fsspec filesystem for the warehouse's URIs, to register in an engine (DuckDB's
        `register_filesystem`) so that `read_parquet('s3://...')` works without `httpfs`."""

    @abstractmethod
    def spark_settings(self) -> dict[str, str]:
        """Spark settings (`spark.hadoop.fs.s3a.*`) with which Spark reads and writes the
        warehouse through Hadoop's S3A connector (which must be on Spark's classpath)."""

    @abstractmethod
    def spark_path(self, uri: str) -> str:
        """`uri` as Spark's S3A connector names it (`s3a://bucket/key`)."""


class TableStore(ABC):
    """Versioned tables under one warehouse location."""

    capabilities: StoreCapabilities
    object_store: ObjectStoreAccess | None = None
    """How engines reach this store's files when they are on object storage (None: they are
    on local disk, where every engine reads them by path)."""

    def __init__(self, warehouse: Path) -> None:
        self.warehouse = warehouse

    def location(self, ref: TableRef) -> Path:
        """Return the folder holding the table `ref`, always inside the warehouse.

        Raises:
            UsageError: a part of `ref` is not a name (empty, `.`, `..`, or holding a path
                separator), so it could point outside the warehouse.
        """
        for part in (ref.namespace, ref.name):
            if part in ("", ".", "..") or any(c in part for c in "/\\\x00"):
                raise UsageError(
                    f"{ref.key!r} is not a table name",
                    hint="a table is named namespace.name, with no paths in either part",
                )
        return self.warehouse / ref.namespace / ref.name

    def table_uri(self, ref: TableRef) -> str:
        """Return where the table `ref` really lives, as a path or URI (`s3://...`). For a
        store on local disk that is its folder; a store elsewhere stages the files engines
        write in the local folder `location(ref)` and keeps the table at this URI."""
        return str(self.location(ref))

    def new_file_dir(self, ref: TableRef, tag: str) -> Path:
        """Return a fresh folder inside the table for an engine to write new data files into."""
        return self.location(ref) / f"hw-{tag}-{os.urandom(4).hex()}"

    def require(self, capability: StoreCapability, action: str) -> None:
        """Check that this store can do `action` (e.g. "vacuum core.events"), which needs
        `capability`; return nothing when it can.

        Raises:
            UsageError: the store lacks `capability`; the message names the action, what is
                missing and the warehouse.
        """
        if capability not in CAPABILITY_NAMES:
            raise ValueError(f"unknown store capability: {capability}")
        if getattr(self.capabilities, capability):
            return
        raise UsageError(
            f"cannot {action}: the table store of the warehouse at {self.warehouse} does not "
            f"support {CAPABILITY_NAMES[capability]}",
            hint="use a warehouse location whose store supports it ('warehouse:' in "
            "headwater.yml), or leave this step out",
        )

    @abstractmethod
    def exists(self, ref: TableRef) -> bool:
        """Return True when the table has at least one committed version."""

    @abstractmethod
    def current_version(self, ref: TableRef) -> int | None:
        """Return the latest committed version without loading the table (None if absent)."""

    @abstractmethod
    def version_token(self, ref: TableRef) -> str | None:
        """Identify the latest version cheaply, distinguishing a table dropped and recreated
        at the same version number (None when the table does not exist)."""

    @abstractmethod
    def snapshot(
        self, ref: TableRef, version: int | None = None, as_of: str | None = None
    ) -> Snapshot:
        """Return the files and schema of the latest version, or of `version` / time `as_of`."""

    @abstractmethod
    def arrow_dataset(self, snapshot: Snapshot) -> Any:
        """Return a pyarrow dataset (or scanner) over `snapshot`, with its logical columns."""

    @abstractmethod
    def file_ranges(self, snapshot: Snapshot, column: str) -> dict[str, tuple[Any, Any]]:
        """Return the (min, max) of `column` per file of `snapshot`, keyed by relative path.

        Files without statistics for the column are left out (they may hold any value).
        """

    def commit_files(
        self,
        ref: TableRef,
        files: list[WrittenFile],
        schema: pa.Schema,
        mode: WriteMode,
        commit: CommitInfo,
        partition_by: list[str] | None = None,
        remove: list[DataFile] | None = None,
    ) -> int:
        """Commit files an engine wrote as one new version and return it.

        `overwrite` replaces every current file; `append` adds `files` and removes `remove`.

        Raises:
            UsageError: the store cannot commit files an engine wrote (`file_commits`).
        """
        self.require("file_commits", f"commit the files written for table {ref}")
        return self._commit_files(ref, files, schema, mode, commit, partition_by, remove)

    @abstractmethod
    def _commit_files(
        self,
        ref: TableRef,
        files: list[WrittenFile],
        schema: pa.Schema,
        mode: WriteMode,
        commit: CommitInfo,
        partition_by: list[str] | None,
        remove: list[DataFile] | None,
    ) -> int:
        """Do `commit_files` for a store that has `file_commits`."""

    @abstractmethod
    def move_files(
        self, source: TableRef, files: list[WrittenFile], target: TableRef
    ) -> list[WrittenFile]:
        """Move `files`, written into `source`'s folder and not committed, to the same places
        inside `target`'s folder (e.g. a table's rejected files to its `__failed` table) and
        return them as moved, ready for `commit_files(target, ...)`."""

    @abstractmethod
    def already_committed(self, ref: TableRef, app_id: str, app_version: int) -> bool:
        """Return True when a commit with this (app id, version) or a later one has landed."""

    @abstractmethod
    def app_version(self, ref: TableRef, app_id: str) -> int | None:
        """Return the newest version committed under app id `app_id` (None: none, or no
        table)."""

    def merge_rows(
        self,
        ref: TableRef,
        rows: pa.Table,
        on: list[str],
        commit: CommitInfo,
        matched: list[MergeClause],
        insert_when: str | None = "",
        columns: list[str] | None = None,
        nullable_keys: bool = True,
    ) -> int:
        """Merge the few `rows` into the existing table `ref` in one commit, matching target
        rows on the columns `on`; return the new version. Each matched row gets the first
        clause of `matched` whose condition holds; an unmatched source row is inserted when
        `insert_when` holds (`""`: always; None: never), with the `columns` of `rows`
        (default: those the table has); a column of `columns` the table lacks is added to it.
        Keys match when equal or both NULL; `nullable_keys=False` promises they are never
        NULL, which lets the merge join on them much faster. A retry of a commit that already
        landed under the same app transaction commits nothing.

        Raises:
            UsageError: the store cannot merge (`file_commits`).
        """
        self.require("file_commits", f"merge rows into table {ref}")
        return self._merge_rows(ref, rows, on, commit, matched, insert_when, columns, nullable_keys)

    def _merge_rows(
        self,
        ref: TableRef,
        rows: pa.Table,
        on: list[str],
        commit: CommitInfo,
        matched: list[MergeClause],
        insert_when: str | None,
        columns: list[str] | None,
        nullable_keys: bool,
    ) -> int:
        """Do `merge_rows` for a store that can."""
        raise NotImplementedError

    def landed_version(
        self, ref: TableRef, app_id: str, app_version: int, run_id: str
    ) -> int | None:
        """Return the version at which run `run_id` committed under (`app_id`, `app_version`),
        or None when no such commit landed (for settling a dead run).

        This default trusts the app transaction alone; a store that can read a commit's run id
        should match it too, as a later run's commit under the same app id is not this one. A
        store without idempotent commits records no app transactions: nothing can be found.
        """
        if not self.capabilities.idempotent_commits:
            return None
        if self.already_committed(ref, app_id, app_version):
            return self.current_version(ref)
        return None

    @abstractmethod
    def history(
        self, ref: TableRef, limit: int | None = None, check_readable: bool = False
    ) -> list[HistoryEntry]:
        """Return the table's versions, newest first.

        With `check_readable`, each entry says whether its data files are all still there
        (`HistoryEntry.readable`); that costs a look at every file of every version listed.
        """

    def resolve_version(self, ref: TableRef, target: int | str) -> int:
        """Return the version that `target` names: a version number, or an ISO timestamp
        (the version current at that moment).

        Raises:
            UsageError: the store has no time travel.
            TableNotFoundError: no such version, or its data files were vacuumed.
        """
        self.require("time_travel", f"find version {target} of table {ref}")
        if isinstance(target, int) or target.strip().isdigit():
            return self.snapshot(ref, version=int(target)).version
        return self.snapshot(ref, as_of=target).version

    @abstractmethod
    def restore(self, ref: TableRef, target: int | str, commit: CommitInfo) -> int:
        """Make the content of version (or timestamp) `target` current; return the new version."""

    @abstractmethod
    def optimize(
        self, ref: TableRef, commit: CommitInfo, zorder: list[str] | None = None
    ) -> dict[str, Any]:
        """Compact small files (or z-order by columns) and return the metrics."""

    @abstractmethod
    def checkpoint(self, ref: TableRef) -> None:
        """Write a checkpoint of `ref`'s log (a format without checkpoints does nothing)."""

    def safe_retention_hours(self, ref: TableRef) -> float:
        """Return the shortest retention a vacuum of `ref` may use without being forced."""
        return DEFAULT_RETENTION_HOURS

    @abstractmethod
    def vacuum(self, ref: TableRef, retain_hours: float, dry_run: bool) -> list[str]:
        """Delete (or list, when `dry_run`) files no version within the retention needs.

        Returns each file once, as a path relative to the table's folder, sorted.
        """

    @abstractmethod
    def list_tables(self) -> list[TableRef]:
        """Return every table under the warehouse."""
