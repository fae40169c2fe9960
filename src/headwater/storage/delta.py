"""Delta Lake tables through delta-rs (`deltalake`).

delta-rs owns the log: commits, conflict checks, time travel, restore, optimize and vacuum. This
module adds what Headwater needs around it: committing Parquet files an engine wrote (with
statistics from their footers), recognising retried commits by app transaction, mapping delta-rs
failures to typed errors, and a vacuum that never deletes a concurrent writer's new files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import math
import os
import re
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import (
    CommitConflictError,
    Location,
    StorageError,
    TableDamagedError,
    TableNotFoundError,
    first_line,
)
from headwater.storage.base import (
    DEFAULT_RETENTION_HOURS,
    CommitInfo,
    DataFile,
    HistoryEntry,
    Snapshot,
    StoreCapabilities,
    TableRef,
    TableStore,
    WriteMode,
    WrittenFile,
)

if TYPE_CHECKING:
    import pyarrow as pa

LOG_DIR = "_delta_log"
LAST_CHECKPOINT = "_last_checkpoint"
COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
CHECKPOINT_FILE = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")
ARROW_ONLY_FEATURES = {"deletionVectors", "columnMapping"}
IN_FLIGHT_GRACE_SECONDS = 3600.0
"""Untracked files younger than this are never vacuumed: they may belong to a write in flight."""
CHECKPOINT_ERROR_WORDS = ("parquet", "arrow error", "checkpoint")
"""Words of a delta-rs open failure that come from reading a checkpoint (commits are JSON)."""
MAX_RECOVERY_ATTEMPTS = 8
SNAPSHOT_CACHE_SIZE = 256
READABLE_VERSIONS_CHECKED = 200
"""How many of the newest versions an error about a vacuumed version looks at for readable ones
(each older version costs delta-rs a load of its file list)."""
ROW_CHANGE_METRICS = {
    "MERGE": (
        ("num_target_rows_inserted", "num_target_rows_updated", "num_target_rows_deleted"),
        ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted"),
    ),
    "DELETE": (("num_deleted_rows",), ("numDeletedRows",)),
    "UPDATE": (("num_updated_rows",), ("numUpdatedRows",)),
}
"""Per operation, the metrics (delta-rs's names, then Spark's) whose sum is the rows it changed;
a merge's `num_output_rows` also counts the untouched rows it copied, so it is not one of them."""
RETENTION_INTERVAL = re.compile(
    r"^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*(week|day|hour|minute|second|millisecond)s?\s*$",
    re.IGNORECASE,
)
HOURS_PER_UNIT = {
    "week": 168.0,
    "day": 24.0,
    "hour": 1.0,
    "minute": 1 / 60,
    "second": 1 / 3600,
    "millisecond": 1 / 3_600_000,
}
_LOG = logging.getLogger(__name__)


def delta_schema(schema: pa.Schema) -> Any:
    """Convert an engine's Arrow schema to a Delta schema (UTC time zones, plain strings)."""
    from deltalake import Schema

    return Schema.from_arrow(normalize_arrow_schema(schema))


def normalize_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """Return `schema` with the types Delta accepts: UTC timestamps, plain strings."""
    import pyarrow as pa

    fields = []
    for field in schema:
        kind = field.type
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", "UTC" if kind.tz else None)
        elif pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        elif pa.types.is_binary_view(kind) or pa.types.is_large_binary(kind):
            kind = pa.binary()
        fields.append(pa.field(field.name, kind, nullable=True))
    return pa.schema(fields)


class DeltaStore(TableStore):
    """Delta Lake tables in folders `<warehouse>/<namespace>/<name>`."""

    capabilities = StoreCapabilities(
        time_travel=True, file_commits=True, idempotent_commits=True, optimize=True, vacuum=True
    )

    def __init__(self, warehouse: Path) -> None:
        super().__init__(warehouse)
        self._snapshots: dict[tuple[TableRef, str], Snapshot] = {}
        self._snapshots_lock = threading.Lock()

    @classmethod
    def from_uri(cls, uri: str) -> DeltaStore:
        """The store of a warehouse on local disk, given as a `file:` URI."""
        from headwater.storage.registry import local_path

        path = local_path(uri)
        if path is None:
            raise ValueError(f"not a local warehouse URI: {uri}")
        return cls(path)

    # -- reading ---------------------------------------------------------------------------

    def exists(self, ref: TableRef) -> bool:
        return self.current_version(ref) is not None

    def current_version(self, ref: TableRef) -> int | None:
        log = self.location(ref) / LOG_DIR
        try:
            names = os.listdir(log)
        except (FileNotFoundError, NotADirectoryError):
            return None
        versions = [int(m.group(1)) for n in names if (m := COMMIT_FILE.match(n))]
        if not versions:
            versions = [int(m.group(1)) for n in names if (m := CHECKPOINT_FILE.match(n))]
        return max(versions) if versions else None

    def version_token(self, ref: TableRef) -> str | None:
        version = self.current_version(ref)
        if version is None:
            return None
        try:
            stat = os.stat(self.location(ref) / LOG_DIR / f"{version:020d}.json")
        except FileNotFoundError:
            return str(version)
        return f"{version}:{stat.st_mtime_ns}:{stat.st_size}"

    def _open(self, ref: TableRef, version: int | None = None) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError as DeltaNotFound

        location = self.location(ref)
        latest = self.current_version(ref)
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
                return DeltaTable(str(location), version=version)
            except DeltaNotFound:
                raise TableNotFoundError(
                    f"table {ref} has no version {version}"
                    if version is not None
                    else f"no table {ref}",
                    Location(asset=ref.key),
                    f"see its versions with 'headwater history {ref}'",
                ) from None
            except Exception as exc:
                if not self._set_aside_damaged_checkpoint(ref, version, exc):
                    raise self._damage_error(ref, version, exc) from None
                failure = exc
        raise self._damage_error(ref, version, failure)

    def _set_aside_damaged_checkpoint(
        self, ref: TableRef, version: int | None, exc: Exception
    ) -> bool:
        """Let delta-rs replay the JSON log past a checkpoint it cannot read; True if it may now.

        delta-rs always starts from the newest checkpoint at or below the version it opens and
        has no fallback when that checkpoint is unreadable (Delta on Spark falls back to the
        JSON commits). A checkpoint only summarises the JSON commits, so when every commit
        since the checkpoint before it is still present, the damaged one is renamed to
        `<name>.damaged` (kept for inspection, no longer seen by readers) and a
        `_last_checkpoint` hint pointing at it is removed. Nothing is touched otherwise.
        """
        text = str(exc).lower()
        if "json error" in text or not any(w in text for w in CHECKPOINT_ERROR_WORDS):
            return False  # not a checkpoint read failure
        log = self.location(ref) / LOG_DIR
        layout = _LogLayout.read(log)
        target = version if version is not None else layout.latest
        if target is None:
            return False
        hint = layout.hint_version
        if hint is not None and hint <= target and not layout.checkpoint_is_present(hint):
            # the hint names a checkpoint that is gone or empty: it is only a hint
            _LOG.warning(
                "table %s: _last_checkpoint names checkpoint %d, which is missing or empty; "
                "removed the hint, listing the log instead",
                ref,
                hint,
            )
            _remove(log / LAST_CHECKPOINT)
            for name in layout.checkpoints.get(hint, []):
                _set_aside(log / name)
            return True
        damaged = layout.newest_checkpoint(target)
        if damaged is None or not layout.replayable_without(damaged, target):
            return False
        parts = layout.checkpoints[damaged]
        _LOG.warning(
            "table %s: checkpoint %s cannot be read (%s); set aside as .damaged, replaying the "
            "JSON commits instead",
            ref,
            ", ".join(parts),
            first_line(exc),
        )
        for name in parts:
            _set_aside(log / name)
        if hint is None or hint >= damaged:
            _remove(log / LAST_CHECKPOINT)
        return True

    def _damage_error(self, ref: TableRef, version: int | None, exc: Exception) -> StorageError:
        """Name the log file a failed open most likely tripped on."""
        log = self.location(ref) / LOG_DIR
        text = first_line(exc)
        layout = _LogLayout.read(log)
        target = version if version is not None else layout.latest
        lowered = str(exc).lower()
        suspect: Path | None = None
        note = ""
        checkpoint = layout.newest_checkpoint(target) if target is not None else None
        missing = layout.missing_commits(checkpoint, target)
        if "json error" in lowered:
            name = layout.unparsable_commit(log, target)
            suspect = log / name if name else None
        elif missing:
            suspect = log / f"{missing[0]:020d}.json"
            note = "; that commit is missing from the log"
        elif any(w in lowered for w in CHECKPOINT_ERROR_WORDS):
            if checkpoint is not None:
                suspect = log / layout.checkpoints[checkpoint][0]
                if not layout.replayable_without(checkpoint, target):
                    note = (
                        "; the JSON commits it summarises are gone, so the log cannot be "
                        "replayed without it"
                    )
            elif (log / LAST_CHECKPOINT).exists():
                suspect = log / LAST_CHECKPOINT
        where = f" (damaged file: {suspect})" if suspect else ""
        return TableDamagedError(
            f"table {ref} cannot be opened: {text}{where}{note}",
            Location(asset=ref.key, file=str(suspect) if suspect else None),
            "restore the file from a backup, or restore the table's folder from a backup",
        )

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

        table = self._open(ref, version)
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
            stamp = _commit_timestamp_ms(self.location(ref) / LOG_DIR, table.version())
            if stamp is not None and stamp > moment.timestamp() * 1000:
                first = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat()
                raise TableNotFoundError(
                    f"table {ref} has no version at {as_of}: it did not exist yet (its first "
                    f"version is from {first})",
                    Location(asset=ref.key),
                    f"see its versions with 'headwater history {ref}'",
                )
        location = self.location(ref)
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
            path, absolute = _data_path(location, encoded)
            values = {
                name: (None if column[i] is None else str(column[i]))
                for name, column in partition_columns.items()
            }
            files.append(DataFile(absolute, path, sizes[i], rows[i], values))
        if version is not None or as_of is not None:
            # vacuum never deletes the latest version's files, only older versions'; say so
            # here rather than let a reader fail on the first missing file
            missing = [f for f in files if not _file_exists(f.path)]
            if missing:
                raise self._vacuumed_error(ref, int(table.version()), as_of, len(missing), files)
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
            location=str(location),
            _store=self,
        )

    def arrow_dataset(self, snapshot: Snapshot) -> Any:
        table = self._open(snapshot.ref, snapshot.version)
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

        actions = pa.table(self._open(snapshot.ref, snapshot.version).get_add_actions(flatten=True))
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
        from deltalake import CommitProperties, Transaction
        from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

        from headwater.storage import parquet_stats

        location = self.location(ref)
        if (
            commit.app_id is not None
            and commit.app_version is not None
            and self.already_committed(ref, commit.app_id, commit.app_version)
        ):
            # A retry of a commit that already landed (the caller never heard): apply it once.
            latest = self.current_version(ref)
            assert latest is not None
            return latest
        arrow_schema = normalize_arrow_schema(schema)
        now_ms = int(time.time() * 1000)
        actions: list[Any] = []
        for gone in remove or []:
            actions.append(
                RemoveAction(gone.relative_path, True, now_ms, gone.size, gone.partition_values)
            )
        for file in files:
            stat = os.stat(file.path)
            _, stats = parquet_stats.file_stats(file.path, arrow_schema)
            actions.append(
                AddAction(
                    os.path.relpath(file.path, location),
                    stat.st_size,
                    file.partition_values,
                    int(stat.st_mtime * 1000),
                    True,
                    stats,
                )
            )
        commit_id = uuid.uuid4().hex
        properties = CommitProperties(
            custom_metadata={
                "headwater.run_id": commit.run_id,
                "headwater.operation": commit.operation,
                "headwater.commit_id": commit_id,
                **({"headwater.kind": commit.kind} if commit.kind else {}),
                **(
                    {"headwater.metrics": json.dumps(commit.metrics, sort_keys=True)}
                    if commit.metrics
                    else {}
                ),
                **commit.extra,
            },
            app_transactions=(
                [Transaction(commit.app_id, commit.app_version)]
                if commit.app_id is not None and commit.app_version is not None
                else None
            ),
        )
        schema_delta = delta_schema(arrow_schema)
        try:
            if self.current_version(ref) is None:
                location.mkdir(parents=True, exist_ok=True)
                create_table_with_add_actions(
                    str(location),
                    schema_delta,
                    [a for a in actions if isinstance(a, AddAction)],
                    mode="error",
                    partition_by=partition_by or None,
                    name=ref.name,
                    commit_properties=properties,
                )
            else:
                table = self._open(ref)
                if mode == "append" and self._add_new_columns(table, arrow_schema, commit):
                    table = self._open(ref)
                table.create_write_transaction(
                    actions,
                    mode=mode,
                    schema=schema_delta,
                    partition_by=partition_by or None,
                    commit_properties=properties,
                )
        except StorageError:
            raise
        except Exception as exc:
            raise _write_error(ref, exc) from None
        return self._version_of_commit(ref, commit_id)

    def _add_new_columns(self, table: Any, schema: pa.Schema, commit: CommitInfo) -> bool:
        """Add the columns of `schema` the table lacks; return True when it added any.

        delta-rs applies no schema change with an append transaction, so the new columns get a
        metadata commit of their own just before the data. That version is consistent (the old
        rows with the new columns NULL), and both commits carry the run id.
        """
        import pyarrow as pa
        from deltalake import Field

        current = set(pa.schema(table.schema().to_arrow()).names)
        new = [f for f in schema if f.name not in current]
        if not new:
            return False
        fields = [Field.from_arrow(pa.field(f.name, f.type, nullable=True)) for f in new]
        table.alter.add_columns(
            fields,
            commit_properties=self._properties(
                CommitInfo(run_id=commit.run_id, operation=f"{commit.operation}: add columns")
            ),
        )
        return True

    def _version_of_commit(self, ref: TableRef, commit_id: str) -> int:
        """Find the version our commit landed at (others may have committed since)."""
        latest = self.current_version(ref)
        assert latest is not None
        log = self.location(ref) / LOG_DIR
        for version in range(latest, max(-1, latest - 100), -1):
            try:
                text = (log / f"{version:020d}.json").read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            if commit_id in text:
                return version
        return latest

    def already_committed(self, ref: TableRef, app_id: str, app_version: int) -> bool:
        if self.current_version(ref) is None:
            return False
        landed = self._open(ref).transaction_version(app_id)
        return landed is not None and landed >= app_version

    def landed_version(
        self, ref: TableRef, app_id: str, app_version: int, run_id: str
    ) -> int | None:
        """The version at which run `run_id` committed under (`app_id`, `app_version`), or
        None when no such commit landed.

        For settling a dead run: a later commit under the same app id is another run's, so
        the commit must carry the run's id (`headwater.run_id`) as well as its app version.
        The log is read back from the newest version until that app id's commits are older
        than `app_version`.
        """
        latest = self.current_version(ref)
        if latest is None:
            return None
        landed = self._open(ref).transaction_version(app_id)
        if landed is None or landed < app_version:
            return None
        log = self.location(ref) / LOG_DIR
        for version in range(latest, -1, -1):
            try:
                text = (log / f"{version:020d}.json").read_text(encoding="utf-8")
            except FileNotFoundError:
                break  # cleaned up by log retention: the app version alone must tell
            txn_version: int | None = None
            commit_run: object = None
            for line in text.splitlines():
                if '"txn"' not in line and '"commitInfo"' not in line:
                    continue
                action = json.loads(line)
                txn = action.get("txn")
                if isinstance(txn, dict) and txn.get("appId") == app_id:
                    txn_version = int(txn["version"])
                info = action.get("commitInfo")
                if isinstance(info, dict):
                    commit_run = info.get("headwater.run_id")
            if txn_version is None:
                continue
            if txn_version == app_version and commit_run == run_id:
                return version
            if txn_version < app_version:
                return None  # that app id's commits are older than the run's: none is its
        # app versions are run sequence numbers, unique to one run
        return latest if landed == app_version else None

    # -- history and maintenance -----------------------------------------------------------

    def history(
        self, ref: TableRef, limit: int | None = None, check_readable: bool = False
    ) -> list[HistoryEntry]:
        entries = []
        for item in self._open(ref).history(limit):
            metadata = {k: str(v) for k, v in item.items() if str(k).startswith("headwater.")}
            # a merge Headwater planned itself is logged as WRITE; its commit says what it was
            operation = metadata.get("headwater.kind") or item.get("operation")
            metrics = {**dict(item.get("operationMetrics") or {}), **_own_metrics(metadata)}
            entries.append(
                HistoryEntry(
                    version=int(item.get("version", -1)),
                    timestamp_ms=item.get("timestamp"),
                    operation=operation,
                    run_id=item.get("headwater.run_id"),
                    parameters=dict(item.get("operationParameters") or {}),
                    metrics=metrics,
                    rows_written=_rows_written(operation, metrics, metadata),
                    metadata=metadata,
                )
            )
        if check_readable and entries:
            gone = self._unreadable_versions(ref, [e.version for e in entries])
            entries = [dataclasses.replace(e, readable=e.version not in gone) for e in entries]
        return entries

    def _unreadable_versions(self, ref: TableRef, versions: list[int]) -> set[int]:
        """Return those of `versions` that cannot be read: a data file they need is gone (by
        vacuum), or their log entry is (log retention). Oldest first, so that delta-rs reads
        each commit once as it moves one table object forward."""
        from deltalake import DeltaTable

        location = self.location(ref)
        wanted = sorted(set(versions))
        if not wanted:
            return set()
        # Only a file some later commit removed can be missing (vacuum deletes no current
        # file), so a version at or after the last commit that removed a now-missing file is
        # readable; delta-rs lists the files of the versions before it, one by one.
        newest_loss = _newest_removal_of_a_missing_file(location, wanted[0])
        if newest_loss is not None and newest_loss >= 0:
            wanted = [v for v in wanted if v < newest_loss]
        elif newest_loss is not None:
            wanted = []
        gone: set[int] = set()
        table: Any = None
        for version in wanted:
            try:
                if table is None or version < table.version():
                    table = DeltaTable(str(location), version=version)
                else:
                    table.load_as_version(version)
            except Exception:
                gone.add(version)
                table = None
                continue
            if any(not _file_exists(path) for path in _file_paths(location, table)):
                gone.add(version)
        return gone

    def _vacuumed_error(
        self,
        ref: TableRef,
        version: int,
        as_of: str | None,
        missing: int,
        files: list[DataFile],
    ) -> TableNotFoundError:
        """The error for reading a version whose files vacuum deleted, naming the readable ones."""
        latest = self.current_version(ref)
        readable: list[int] = []
        first = 0
        if latest is not None:
            first = max(0, latest - READABLE_VERSIONS_CHECKED + 1)
            candidates = list(range(first, latest + 1))
            gone = self._unreadable_versions(ref, candidates)
            readable = [v for v in candidates if v not in gone]
        which = f"as of {as_of} (version {version})" if as_of is not None else f"version {version}"
        still = (
            f"versions still readable: {_version_ranges(readable)}"
            + (f" (of the newest {READABLE_VERSIONS_CHECKED})" if first > 0 else "")
            if readable
            else "no version of it is readable any more"
        )
        return TableNotFoundError(
            f"table {ref} {which} can no longer be read: vacuum deleted {missing} of its "
            f"{len(files)} data files; {still}",
            Location(asset=ref.key),
            f"read a readable version (e.g. --as-of {readable[0]}), or see which versions "
            f"are readable with 'headwater history {ref}'"
            if readable
            else f"see its versions with 'headwater history {ref}'",
        )

    def _properties(self, commit: CommitInfo) -> Any:
        from deltalake import CommitProperties

        return CommitProperties(
            custom_metadata={
                "headwater.run_id": commit.run_id,
                "headwater.operation": commit.operation,
            }
        )

    def restore(self, ref: TableRef, target: int | str, commit: CommitInfo) -> int:
        # A timestamp restores the version current then; resolving it here also refuses a
        # version whose files vacuum deleted, which would otherwise become a broken latest.
        version = self.resolve_version(ref, target)
        table = self._open(ref)
        if version == table.version():
            named = (
                f"version {version}"
                if str(target).strip().isdigit()
                else f"the version current at {target} (version {version})"
            )
            raise StorageError(
                f"table {ref}: nothing to restore: {named} is already its latest version",
                Location(asset=ref.key),
                f"restore an earlier version; see them with 'headwater history {ref}'",
            )
        try:
            table.restore(version, commit_properties=self._properties(commit))
        except Exception as exc:
            raise _write_error(ref, exc) from None
        return int(self._open(ref).version())

    def optimize(
        self, ref: TableRef, commit: CommitInfo, zorder: list[str] | None = None
    ) -> dict[str, Any]:
        table = self._open(ref)
        try:
            if zorder:
                unknown = [c for c in zorder if c not in table.schema().to_arrow().names]
                if unknown:
                    raise StorageError(
                        f"table {ref} has no column {', '.join(unknown)}",
                        Location(asset=ref.key),
                        "z-order by existing columns; see them with 'headwater tables'",
                    )
                metrics = table.optimize.z_order(zorder, commit_properties=self._properties(commit))
            else:
                metrics = table.optimize.compact(commit_properties=self._properties(commit))
        except StorageError:
            raise
        except Exception as exc:
            raise _write_error(ref, exc) from None
        return dict(metrics)

    def checkpoint(self, ref: TableRef) -> None:
        """Write a checkpoint of the latest version."""
        self._open(ref).create_checkpoint()

    def safe_retention_hours(self, ref: TableRef) -> float:
        """The table's `delta.deletedFileRetentionDuration` in hours (7 days when unset)."""
        setting = self._open(ref).metadata().configuration.get("delta.deletedFileRetentionDuration")
        match = RETENTION_INTERVAL.match(setting or "")
        if match is None:
            return DEFAULT_RETENTION_HOURS
        return float(match.group(1)) * HOURS_PER_UNIT[match.group(2).lower()]

    def vacuum(self, ref: TableRef, retain_hours: float, dry_run: bool) -> list[str]:
        """Delete files unreferenced by every version within `retain_hours`.

        Files removed by a commit are deleted once their removal is older than the retention.
        Files no commit mentions (left by a killed or failed write) are deleted once older than
        the retention too, but never before `IN_FLIGHT_GRACE_SECONDS`, because a concurrent
        writer may be about to commit them. A dry run returns exactly what a real run would
        delete, each file once (delta-rs lists a file once per commit that removed it, e.g.
        removed, brought back by a restore and removed again).
        """
        table = self._open(ref)
        location = self.location(ref)
        # "full" lists untracked files as well as removed ones; "lite" would leave the files of
        # killed writes behind forever.
        listed = table.vacuum(
            retention_hours=math.ceil(retain_hours),
            dry_run=True,
            enforce_retention_duration=False,
            full=True,
        )
        tombstones = _tombstones(location / LOG_DIR)
        cutoff = time.time() - max(IN_FLIGHT_GRACE_SECONDS, retain_hours * 3600)
        chosen: list[str] = []
        seen: set[str] = set()
        for item in listed:
            relative = os.path.normpath(
                os.path.relpath(item, location) if os.path.isabs(item) else item
            )
            if relative in seen:
                continue
            seen.add(relative)
            absolute = location / relative
            try:
                modified = absolute.stat().st_mtime
            except FileNotFoundError:
                continue
            if relative in tombstones or modified < cutoff:
                chosen.append(relative)
        chosen.sort()
        if not dry_run:
            for relative in chosen:
                with contextlib.suppress(FileNotFoundError):
                    (location / relative).unlink()
                parent = (location / relative).parent
                while parent != location and location in parent.parents:
                    try:
                        parent.rmdir()  # only when empty
                    except OSError:
                        break
                    parent = parent.parent
        return chosen

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


@dataclasses.dataclass
class _LogLayout:
    """The commit and checkpoint files of a `_delta_log` folder, by version."""

    commits: set[int] = dataclasses.field(default_factory=set)
    checkpoints: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    empty: set[str] = dataclasses.field(default_factory=set)
    hint_version: int | None = None

    @classmethod
    def read(cls, log: Path) -> _LogLayout:
        layout = cls()
        try:
            names = os.listdir(log)
        except FileNotFoundError:
            return layout
        for name in names:
            if match := COMMIT_FILE.match(name):
                layout.commits.add(int(match.group(1)))
            elif match := CHECKPOINT_FILE.match(name):
                layout.checkpoints.setdefault(int(match.group(1)), []).append(name)
                try:
                    if os.stat(log / name).st_size == 0:
                        layout.empty.add(name)
                except FileNotFoundError:
                    pass
        for parts in layout.checkpoints.values():
            parts.sort()
        try:
            layout.hint_version = int(json.loads((log / LAST_CHECKPOINT).read_text())["version"])
        except (OSError, ValueError, KeyError, TypeError):
            layout.hint_version = None
        return layout

    @property
    def latest(self) -> int | None:
        versions = self.commits | set(self.checkpoints)
        return max(versions) if versions else None

    def checkpoint_is_present(self, version: int) -> bool:
        """True when every part of the checkpoint at `version` exists and is not empty."""
        parts = self.checkpoints.get(version, [])
        return bool(parts) and not any(p in self.empty for p in parts)

    def newest_checkpoint(self, target: int) -> int | None:
        """The checkpoint delta-rs starts from when opening version `target`."""
        usable = [v for v in self.checkpoints if v <= target and self.checkpoint_is_present(v)]
        return max(usable) if usable else None

    def replayable_without(self, checkpoint: int, target: int | None) -> bool:
        """True when the JSON commits rebuild `target` from the checkpoint before `checkpoint`."""
        if target is None:
            return False
        earlier = [v for v in self.checkpoints if v < checkpoint and self.checkpoint_is_present(v)]
        start = max(earlier) + 1 if earlier else 0
        return all(v in self.commits for v in range(start, target + 1))

    def missing_commits(self, checkpoint: int | None, target: int | None) -> list[int]:
        """JSON commits after `checkpoint` up to `target` that are not in the log."""
        if target is None:
            return []
        start = checkpoint + 1 if checkpoint is not None else 0
        return [v for v in range(start, target + 1) if v not in self.commits]

    def unparsable_commit(self, log: Path, target: int | None) -> str | None:
        """The newest JSON commit up to `target` that is not valid JSON lines (or the newest)."""
        versions = sorted((v for v in self.commits if target is None or v <= target), reverse=True)
        for version in versions:
            name = f"{version:020d}.json"
            try:
                with open(log / name, encoding="utf-8") as handle:
                    for line in handle:
                        if line.strip():
                            json.loads(line)
            except (OSError, ValueError):
                return name
            if version in self.checkpoints:
                break
        return f"{versions[0]:020d}.json" if versions else None


def _set_aside(path: Path) -> None:
    """Rename a damaged log file so delta-rs no longer lists it (a racing reader may win)."""
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, path.with_name(path.name + ".damaged"))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _tombstones(log: Path) -> set[str]:
    """Paths named by remove actions since (and in) the latest checkpoint."""
    import urllib.parse

    removed: set[str] = set()
    start = -1
    try:
        last = json.loads((log / "_last_checkpoint").read_text())
        start = int(last["version"])
    except (OSError, ValueError, KeyError):
        pass
    if start >= 0:
        import pyarrow.parquet as pq

        for part in log.glob(f"{start:020d}.checkpoint*.parquet"):
            try:
                column = pq.read_table(part, columns=["remove"]).column("remove")
            except Exception:
                continue
            for item in column.to_pylist():
                if item and item.get("path"):
                    removed.add(urllib.parse.unquote(item["path"]))
    for name in os.listdir(log):
        match = COMMIT_FILE.match(name)
        if not match or int(match.group(1)) <= start:
            continue
        with open(log / name, encoding="utf-8") as handle:
            for line in handle:
                if '"remove"' in line:
                    action = json.loads(line).get("remove")
                    if action:
                        removed.add(urllib.parse.unquote(action["path"]))
    return removed


def _newest_removal_of_a_missing_file(location: Path, since: int) -> int | None:
    """The newest commit after version `since` that removed a file no longer on disk; -1 when
    none did; None when a commit in that range is not in the log as JSON (cannot tell)."""
    log = location / LOG_DIR
    layout = _LogLayout.read(log)
    if layout.latest is None or any(
        v not in layout.commits for v in range(since + 1, layout.latest + 1)
    ):
        return None
    for version in range(layout.latest, since, -1):  # newest first: the first found wins
        try:
            with open(log / f"{version:020d}.json", encoding="utf-8") as handle:
                removed = [json.loads(line).get("remove") for line in handle if '"remove"' in line]
        except FileNotFoundError:
            return None  # cleaned up meanwhile
        for action in removed:
            if action and not _file_exists(_data_path(location, action["path"])[1]):
                return version
    return -1


def _commit_timestamp_ms(log: Path, version: int) -> int | None:
    """The commitInfo timestamp of JSON commit `version` (None when unknown)."""
    try:
        with open(log / f"{version:020d}.json", encoding="utf-8") as handle:
            for line in handle:
                if '"commitInfo"' in line:
                    stamp = json.loads(line)["commitInfo"].get("timestamp")
                    return int(stamp) if stamp is not None else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def _own_metrics(metadata: dict[str, str]) -> dict[str, int]:
    """The row counts Headwater recorded in a commit's `headwater.metrics` ({} if none)."""
    try:
        loaded = json.loads(metadata.get("headwater.metrics") or "{}")
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): int(v) for k, v in loaded.items() if isinstance(v, int | float)}


def _rows_written(
    operation: str | None, metrics: dict[str, Any], metadata: dict[str, str]
) -> int | None:
    """Rows a commit changed: inserted + updated + deleted for a merge, deleted for a delete,
    updated for an update, else the rows it wrote (Headwater's count, then the metrics)."""
    for names in ROW_CHANGE_METRICS.get(str(operation).upper(), ()):
        if any(n in metrics for n in names):
            return sum(_int(metrics.get(n)) or 0 for n in names)
    for value in (
        metadata.get("headwater.rows"),
        metrics.get("num_added_rows"),
        metrics.get("numOutputRows"),
    ):
        if (count := _int(value)) is not None:
            return count
    return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _file_paths(location: Path, table: Any) -> list[str]:
    """Absolute paths (or URIs) of the data files of the version `table` is loaded at."""
    import pyarrow as pa

    paths = pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()
    return [_data_path(location, encoded)[1] for encoded in paths]


def _data_path(location: Path, encoded: str) -> tuple[str, str]:
    """A data file's path relative to the table and its absolute path (or URI).

    delta-rs returns the log's URI-encoded paths (`region=new%20york/...`).
    """
    path = urllib.parse.unquote(encoded)
    return path, path if "://" in path or path.startswith("/") else str(location / path)


def _file_exists(path: str) -> bool:
    """Whether a data file is present; a URI is taken as present (no local check possible)."""
    if "://" in path:
        if not path.startswith("file://"):
            return True
        path = urllib.parse.unquote(urllib.parse.urlparse(path).path)
    return os.path.exists(path)


def _version_ranges(versions: list[int]) -> str:
    """`[0, 1, 2, 5, 7, 8]` -> `0-2, 5, 7-8`."""
    parts: list[str] = []
    start = previous = None
    for version in sorted(versions):
        if previous is not None and version == previous + 1:
            previous = version
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = version
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


def _parse_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StorageError(
            f"'{text}' is neither a version number nor an ISO timestamp",
            hint="pass a version like 3 or a time like 2026-11-22T10:00:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _write_error(ref: TableRef, exc: Exception) -> StorageError:
    from deltalake.exceptions import CommitFailedError

    text = first_line(exc)
    if isinstance(exc, CommitFailedError) or "conflict" in text.lower() or "exists" in text.lower():
        return CommitConflictError(
            f"table {ref}: another writer committed first ({text})",
            Location(asset=ref.key),
            "run again; nothing was applied",
        )
    return StorageError(f"table {ref}: write failed: {text}", Location(asset=ref.key))
