"""Delta Lake tables through delta-rs (`deltalake`): the `DeltaStore`.

delta-rs owns the log: commits, conflict checks, time travel, restore, optimize and vacuum.
`DeltaStore` is Headwater's store API over it: opening a table (past a damaged checkpoint),
snapshots for engines to scan, committing files an engine wrote, recognising retried commits by
app transaction. The work behind it lives beside it: `delta_log` reads the log, `delta_commit`
commits files, `delta_maintenance` keeps history and maintenance, `delta_damage` handles a
damaged log, all of them through the table's files (`delta_files`). The store on S3 is a
subclass (`storage/s3.py`) that stages files locally and names its tables by URI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import Location, StorageError, TableNotFoundError
from headwater.storage import delta_commit, delta_maintenance
from headwater.storage.base import (
    CommitInfo,
    DataFile,
    HistoryEntry,
    MergeClause,
    Snapshot,
    StoreCapabilities,
    TableRef,
    TableStore,
    WriteMode,
    WrittenFile,
)
from headwater.storage.delta_damage import damage_error, set_aside_damaged_checkpoint
from headwater.storage.delta_files import LocalFiles, TableFiles
from headwater.storage.delta_log import (
    LOG_DIR,
    app_commit_version,
    commit_path,
    commit_timestamp_ms,
    data_path,
    latest_version,
)

if TYPE_CHECKING:
    import pyarrow as pa

ARROW_ONLY_FEATURES = {"deletionVectors", "columnMapping"}
MAX_RECOVERY_ATTEMPTS = 8
"""How many damaged checkpoints one open may set aside before giving up."""
SNAPSHOT_CACHE_SIZE = 256


class DeltaStore(TableStore):
    """Delta Lake tables in folders `<warehouse>/<namespace>/<name>`."""

    capabilities = StoreCapabilities(
        time_travel=True, file_commits=True, idempotent_commits=True, optimize=True, vacuum=True
    )

    storage_options: dict[str, str] | None = None
    """What delta-rs needs to reach the tables (None: local disk). It may hold credentials:
    never log or print it."""

    def __init__(self, warehouse: Path) -> None:
        super().__init__(warehouse)
        self._snapshots: dict[tuple[TableRef, str], Snapshot] = {}
        self._snapshots_lock = threading.Lock()

    def table_files(self, ref: TableRef) -> TableFiles:
        """The files of table `ref` (its log and data files), for one operation."""
        return LocalFiles(self.location(ref))

    def publish_staged(self, ref: TableRef, files: Sequence[tuple[str, str]]) -> None:
        """Put the files an engine wrote, each given as (local path, path relative to the
        table), where table `ref` keeps its data files, before their commit. On local disk
        they already are."""

    def release_staged(self, ref: TableRef, files: Sequence[WrittenFile]) -> None:
        """Let go of the local copies of `files` once their commit landed (on local disk
        they are the table's files: kept)."""

    def delta_table(self, ref: TableRef, version: int | None = None) -> Any:
        """delta-rs's `DeltaTable` of `ref` at `version`, opened as it is (no recovery)."""
        from deltalake import DeltaTable

        return DeltaTable(
            self.table_uri(ref), version=version, storage_options=self.storage_options
        )

    @classmethod
    def from_uri(cls, uri: str, scratch: Path | None = None) -> DeltaStore:
        """The store of a warehouse on local disk, given as a `file:` URI (`scratch` is not
        needed: engines write straight into the tables' folders)."""
        from headwater.storage.registry import local_path

        path = local_path(uri)
        if path is None:
            raise ValueError(f"not a local warehouse URI: {uri}")
        return cls(path)

    # -- reading ---------------------------------------------------------------------------

    def exists(self, ref: TableRef) -> bool:
        return self.current_version(ref) is not None

    def current_version(self, ref: TableRef) -> int | None:
        return latest_version(self.table_files(ref))

    def version_token(self, ref: TableRef) -> str | None:
        files = self.table_files(ref)
        version = latest_version(files)
        if version is None:
            return None
        try:
            size, modified_ns = files.stat(commit_path(version))
        except FileNotFoundError:
            return str(version)
        return f"{version}:{modified_ns}:{size}"

    def open_table(self, ref: TableRef, version: int | None = None) -> Any:
        """Return delta-rs's `DeltaTable` of `ref` at `version` (None: the latest).

        A checkpoint delta-rs cannot read is set aside when the JSON commits can replace it.

        Raises:
            TableNotFoundError: the table or the version does not exist.
            TableDamagedError: the log cannot be read; the error names the damaged file.
        """
        from deltalake.exceptions import TableNotFoundError as DeltaNotFound

        files = self.table_files(ref)
        latest = latest_version(files)
        if latest is None:
            raise TableNotFoundError(
                f"table {ref} has not been built yet",
                Location(asset=ref.key),
                f"build it with 'headwater run --select {ref}'",
            )
        if version is not None and not 0 <= version <= latest:
            raise TableNotFoundError(
                f"table {ref} has no version {version} (latest is {latest})",
                Location(asset=ref.key),
                f"see its versions with 'headwater history {ref}'",
            )
        # Each failed attempt may set one damaged checkpoint aside; there are few of them.
        for _ in range(MAX_RECOVERY_ATTEMPTS):
            try:
                return self.delta_table(ref, version)
            except DeltaNotFound:
                raise TableNotFoundError(
                    f"table {ref} has no version {version}"
                    if version is not None
                    else f"no table {ref}",
                    Location(asset=ref.key),
                    f"see its versions with 'headwater history {ref}'",
                ) from None
            except Exception as exc:
                if not set_aside_damaged_checkpoint(files, ref, version, exc):
                    raise damage_error(files, ref, version, exc) from None
                failure = exc
        raise damage_error(files, ref, version, failure)

    def snapshot(
        self, ref: TableRef, version: int | None = None, as_of: str | None = None
    ) -> Snapshot:
        if version is not None or as_of is not None:
            return self._load_snapshot(ref, version, as_of)
        # A version's file list never changes, and one build asks for the same table's
        # snapshot several times; the token tells a recreated table from the old one.
        token = self.version_token(ref)
        cached = self._snapshots.get((ref, token)) if token is not None else None
        if cached is not None:
            return cached
        snapshot = self._load_snapshot(ref, None, None)
        if token is not None and token.startswith(f"{snapshot.version}:"):
            with self._snapshots_lock:
                if len(self._snapshots) >= SNAPSHOT_CACHE_SIZE:
                    self._snapshots.pop(next(iter(self._snapshots)))
                self._snapshots[(ref, token)] = snapshot
        return snapshot

    def _load_snapshot(self, ref: TableRef, version: int | None, as_of: str | None) -> Snapshot:
        import pyarrow as pa

        table = self.open_table(ref, version)
        if as_of is not None:
            moment = _parse_time(as_of)
            try:
                table.load_as_version(moment)
            except Exception as exc:
                raise TableNotFoundError(
                    f"table {ref} has no version at {as_of}: {exc}",
                    Location(asset=ref.key),
                    f"see its versions with 'headwater history {ref}'",
                ) from None
            # delta-rs answers a time before the first commit with the first version
            stamp = commit_timestamp_ms(self.table_files(ref), table.version())
            if stamp is not None and stamp > moment.timestamp() * 1000:
                first = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat()
                raise TableNotFoundError(
                    f"table {ref} has no version at {as_of}: it did not exist yet (its first "
                    f"version is from {first})",
                    Location(asset=ref.key),
                    f"see its versions with 'headwater history {ref}'",
                )
        table_files = self.table_files(ref)
        actions = pa.table(table.get_add_actions(flatten=True))
        partition_by = tuple(table.metadata().partition_columns)
        paths = actions.column("path").to_pylist()
        sizes = actions.column("size_bytes").to_pylist()
        rows = (
            actions.column("num_records").to_pylist()
            if "num_records" in actions.column_names
            else [None] * len(paths)
        )
        partition_columns = {
            name: actions.column(f"partition.{name}").to_pylist()
            for name in partition_by
            if f"partition.{name}" in actions.column_names
        }
        files = []
        for i, encoded in enumerate(paths):
            path, absolute = data_path(table_files, encoded)
            values = {
                name: (None if column[i] is None else str(column[i]))
                for name, column in partition_columns.items()
            }
            files.append(DataFile(absolute, path, sizes[i], rows[i], values))
        if version is not None or as_of is not None:
            # vacuum never deletes the latest version's files, only older versions'; say so
            # here rather than let a reader fail on the first missing file
            missing = table_files.missing(f.relative_path for f in files)
            if missing:
                raise delta_maintenance.vacuumed_error(
                    self, ref, int(table.version()), as_of, len(missing), files
                )
        protocol = table.protocol()
        features = set(protocol.reader_features or [])
        mapping = table.metadata().configuration.get("delta.columnMapping.mode", "none")
        return Snapshot(
            ref=ref,
            version=table.version(),
            files=tuple(files),
            schema=pa.schema(table.schema().to_arrow()),
            partition_by=partition_by,
            needs_arrow_reader=bool(features & ARROW_ONLY_FEATURES) or mapping != "none",
            location=table_files.root,
            _store=self,
        )

    def arrow_dataset(self, snapshot: Snapshot) -> Any:
        table = self.open_table(snapshot.ref, snapshot.version)
        physical = _physical_names(snapshot.ref, table)
        if not physical:
            return table.to_pyarrow_dataset()
        # delta-rs's dataset looks the logical names up in the files, which hold the physical
        # ones, and reads NULLs; scan the physical columns under their logical names instead.
        import pyarrow as pa
        import pyarrow.dataset as ds

        if snapshot.partition_by:
            raise StorageError(
                f"table {snapshot.ref} uses column mapping and partitions, which Headwater "
                "cannot read yet",
                Location(asset=snapshot.ref.key),
                "rewrite the table without column mapping",
            )
        names = snapshot.schema.names
        if not snapshot.files:
            return ds.dataset(snapshot.schema.empty_table())
        stored = pa.schema([pa.field(physical[n], snapshot.schema.field(n).type) for n in names])
        dataset = ds.dataset([f.path for f in snapshot.files], schema=stored, format="parquet")
        return dataset.scanner(columns={n: ds.field(physical[n]) for n in names})

    def file_ranges(self, snapshot: Snapshot, column: str) -> dict[str, tuple[Any, Any]]:
        import pyarrow as pa

        actions = pa.table(
            self.open_table(snapshot.ref, snapshot.version).get_add_actions(flatten=True)
        )
        low, high = f"min.{column}", f"max.{column}"
        if low not in actions.column_names or high not in actions.column_names:
            return {}
        return {
            urllib.parse.unquote(path): (lo, hi)
            for path, lo, hi in zip(
                actions.column("path").to_pylist(),
                actions.column(low).to_pylist(),
                actions.column(high).to_pylist(),
                strict=True,
            )
            if lo is not None and hi is not None
        }

    # -- writing ---------------------------------------------------------------------------

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
        return delta_commit.commit_files(
            self, ref, files, schema, mode, commit, partition_by, remove
        )

    def move_files(
        self, source: TableRef, files: list[WrittenFile], target: TableRef
    ) -> list[WrittenFile]:
        origin, destination = self.location(source), self.location(target)
        moved = []
        for file in files:
            path = destination / os.path.relpath(file.path, origin)
            path.parent.mkdir(parents=True, exist_ok=True)
            # a rename on one disk: the file is whole at its new place or still at its old one
            os.replace(file.path, path)
            moved.append(WrittenFile(str(path), dict(file.partition_values)))
        return moved

    def already_committed(self, ref: TableRef, app_id: str, app_version: int) -> bool:
        if self.current_version(ref) is None:
            return False
        landed = self.open_table(ref).transaction_version(app_id)
        return landed is not None and landed >= app_version

    def app_version(self, ref: TableRef, app_id: str) -> int | None:
        if self.current_version(ref) is None:
            return None
        landed = self.open_table(ref).transaction_version(app_id)
        return None if landed is None else int(landed)

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
        from headwater.storage.delta_upsert import merge_rows

        return merge_rows(self, ref, rows, on, commit, matched, insert_when, columns, nullable_keys)

    def landed_version(
        self, ref: TableRef, app_id: str, app_version: int, run_id: str
    ) -> int | None:
        """The version at which run `run_id` committed under (`app_id`, `app_version`), or
        None when no such commit landed.

        For settling a dead run: a later commit under the same app id is another run's, so
        the commit must carry the run's id (`headwater.run_id`) as well as its app version.
        """
        latest = self.current_version(ref)
        if latest is None:
            return None
        landed = self.open_table(ref).transaction_version(app_id)
        if landed is None or landed < app_version:
            return None
        return app_commit_version(
            self.table_files(ref), latest, app_id, app_version, run_id, int(landed)
        )

    # -- history and maintenance -----------------------------------------------------------

    def history(
        self, ref: TableRef, limit: int | None = None, check_readable: bool = False
    ) -> list[HistoryEntry]:
        return delta_maintenance.history(self, ref, limit, check_readable)

    def restore(self, ref: TableRef, target: int | str, commit: CommitInfo) -> int:
        return delta_maintenance.restore(self, ref, target, commit)

    def optimize(
        self, ref: TableRef, commit: CommitInfo, zorder: list[str] | None = None
    ) -> dict[str, Any]:
        return delta_maintenance.optimize(self, ref, commit, zorder)

    def checkpoint(self, ref: TableRef) -> None:
        """Write a checkpoint of the latest version."""
        self.open_table(ref).create_checkpoint()

    def safe_retention_hours(self, ref: TableRef) -> float:
        """The table's `delta.deletedFileRetentionDuration` in hours (7 days when unset)."""
        return delta_maintenance.safe_retention_hours(self, ref)

    def vacuum(self, ref: TableRef, retain_hours: float, dry_run: bool) -> list[str]:
        """Delete files unreferenced by every version within `retain_hours`; see
        `delta_maintenance.vacuum` for how files of a write in flight are kept."""
        return delta_maintenance.vacuum(self, ref, retain_hours, dry_run)

    def list_tables(self) -> list[TableRef]:
        refs: list[TableRef] = []
        if not self.warehouse.is_dir():
            return refs
        for namespace in sorted(p for p in self.warehouse.iterdir() if p.is_dir()):
            for table in sorted(p for p in namespace.iterdir() if (p / LOG_DIR).is_dir()):
                refs.append(TableRef(namespace.name, table.name))
        return refs


def _physical_names(ref: TableRef, table: Any) -> dict[str, str]:
    """Logical -> physical column names of a column-mapped table ({} without mapping)."""
    mode = table.metadata().configuration.get("delta.columnMapping.mode", "none")
    if mode == "none":
        return {}
    fields = json.loads(table.schema().to_json())["fields"]
    if any(isinstance(f["type"], dict) for f in fields):
        raise StorageError(
            f"table {ref} uses column mapping on nested columns, which Headwater cannot read yet",
            Location(asset=ref.key),
            "rewrite the table without column mapping",
        )
    return {
        f["name"]: (f.get("metadata") or {}).get("delta.columnMapping.physicalName", f["name"])
        for f in fields
    }


def _parse_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StorageError(
            f"'{text}' is neither a version number nor an ISO timestamp",
            hint="pass a version like 3 or a time like 2026-11-22T10:00:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
