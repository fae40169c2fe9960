"""Delta Lake tables through delta-rs (`deltalake`).

delta-rs owns the log: commits, conflict checks, time travel, restore, optimize and vacuum. This
module adds what Headwater needs around it: committing Parquet files an engine wrote (with
statistics from their footers), recognising retried commits by app transaction, mapping delta-rs
failures to typed errors, and a vacuum that never deletes a concurrent writer's new files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from headwater.errors import (
    CommitConflictError,
    Location,
    StorageError,
    TableDamagedError,
    TableNotFoundError,
)
from headwater.storage.base import (
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
from headwater.storage.parquet_stats import file_stats

LOG_DIR = "_delta_log"
COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
CHECKPOINT_FILE = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")
ARROW_ONLY_FEATURES = {"deletionVectors", "columnMapping"}
IN_FLIGHT_GRACE_SECONDS = 3600.0
"""Untracked files younger than this are never vacuumed: they may belong to a write in flight."""


def delta_schema(schema: pa.Schema) -> Any:
    """Convert an engine's Arrow schema to a Delta schema (UTC time zones, plain strings)."""
    from deltalake import Schema

    return Schema.from_arrow(normalize_arrow_schema(schema))


def normalize_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """Return `schema` with the types Delta accepts: UTC timestamps, plain strings."""
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

    # -- reading ---------------------------------------------------------------------------

    def exists(self, ref: TableRef) -> bool:
        return self.current_version(ref) is not None

    def current_version(self, ref: TableRef) -> int | None:
        log = self.location(ref) / LOG_DIR
        try:
            names = os.listdir(log)
        except FileNotFoundError:
            return None
        versions = [int(m.group(1)) for n in names if (m := COMMIT_FILE.match(n))]
        if not versions:
            versions = [int(m.group(1)) for n in names if (m := CHECKPOINT_FILE.match(n))]
        return max(versions) if versions else None

    def _open(self, ref: TableRef, version: int | None = None) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError as DeltaNotFound

        location = self.location(ref)
        if self.current_version(ref) is None:
            raise TableNotFoundError(
                f"table {ref} has not been built yet",
                Location(asset=ref.key),
                f"build it with 'headwater run --select {ref}'",
            )
        try:
            return DeltaTable(str(location), version=version)
        except DeltaNotFound:
            raise TableNotFoundError(
                f"table {ref} has no version {version}" if version is not None else f"no table {ref}",
                Location(asset=ref.key),
                f"see its versions with 'headwater history {ref}'",
            ) from None
        except Exception as exc:
            raise self._damage_error(ref, exc) from None

    def _damage_error(self, ref: TableRef, exc: Exception) -> StorageError:
        """Name the log file a failed open most likely tripped on."""
        log = self.location(ref) / LOG_DIR
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        suspect: Path | None = None
        last = log / "_last_checkpoint"
        checkpoints = sorted(p for p in log.glob("*.checkpoint*.parquet"))
        if "checkpoint" in text.lower() or "parquet" in text.lower():
            suspect = checkpoints[-1] if checkpoints else last
        elif "json" in text.lower() or "log" in text.lower():
            commits = sorted(log.glob("*.json"))
            suspect = commits[-1] if commits else None
        where = f" (damaged file: {suspect})" if suspect else ""
        return TableDamagedError(
            f"table {ref} cannot be opened: {text}{where}",
            Location(asset=ref.key, file=str(suspect) if suspect else None),
            "restore the file from a backup, or move the damaged checkpoint aside so the log "
            "is replayed from its JSON commits",
        )

    def snapshot(
        self, ref: TableRef, version: int | None = None, as_of: str | None = None
    ) -> Snapshot:
        table = self._open(ref, version)
        if as_of is not None:
            try:
                table.load_as_version(_parse_time(as_of))
            except Exception as exc:
                raise TableNotFoundError(
                    f"table {ref} has no version at {as_of}: {exc}",
                    Location(asset=ref.key),
                    f"see its versions with 'headwater history {ref}'",
                ) from None
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
        for i, path in enumerate(paths):
            absolute = path if "://" in path or path.startswith("/") else str(location / path)
            values = {
                name: (None if column[i] is None else str(column[i]))
                for name, column in partition_columns.items()
            }
            files.append(DataFile(absolute, path, sizes[i], rows[i], values))
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
        return self._open(snapshot.ref, snapshot.version).to_pyarrow_dataset()

    def file_ranges(self, snapshot: Snapshot, column: str) -> dict[str, tuple[Any, Any]]:
        actions = pa.table(self._open(snapshot.ref, snapshot.version).get_add_actions(flatten=True))
        low, high = f"min.{column}", f"max.{column}"
        if low not in actions.column_names or high not in actions.column_names:
            return {}
        return {
            path: (lo, hi)
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
        from deltalake import CommitProperties, DeltaTable, Transaction
        from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

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
        for file in remove or []:
            actions.append(
                RemoveAction(file.relative_path, True, now_ms, file.size, file.partition_values)
            )
        for file in files:
            stat = os.stat(file.path)
            _, stats = file_stats(file.path, arrow_schema)
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
                table = DeltaTable(str(location))
                table.create_write_transaction(
                    actions,
                    mode=mode,
                    schema=schema_delta,
                    partition_by=partition_by or None,
                    commit_properties=properties,
                )
        except Exception as exc:
            raise _write_error(ref, exc) from None
        return self._version_of_commit(ref, commit_id)

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

    # -- history and maintenance -----------------------------------------------------------

    def history(self, ref: TableRef, limit: int | None = None) -> list[HistoryEntry]:
        entries = []
        for item in self._open(ref).history(limit):
            entries.append(
                HistoryEntry(
                    version=int(item.get("version", -1)),
                    timestamp_ms=item.get("timestamp"),
                    operation=item.get("operation"),
                    run_id=item.get("headwater.run_id"),
                    parameters=dict(item.get("operationParameters") or {}),
                    metrics=dict(item.get("operationMetrics") or {}),
                )
            )
        return entries

    def _properties(self, commit: CommitInfo) -> Any:
        from deltalake import CommitProperties

        return CommitProperties(
            custom_metadata={
                "headwater.run_id": commit.run_id,
                "headwater.operation": commit.operation,
            }
        )

    def restore(self, ref: TableRef, target: int | str, commit: CommitInfo) -> int:
        table = self._open(ref)
        if isinstance(target, int) and not 0 <= target <= table.version():
            raise TableNotFoundError(
                f"table {ref} has no version {target} (latest is {table.version()})",
                Location(asset=ref.key),
                f"see its versions with 'headwater history {ref}'",
            )
        when: Any = target if isinstance(target, int) else _parse_time(target)
        try:
            table.restore(when, commit_properties=self._properties(commit))
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

    def vacuum(self, ref: TableRef, retain_hours: float, dry_run: bool) -> list[str]:
        """Delete files unreferenced by every version within `retain_hours`.

        Files removed by a commit are deleted once older than the retention; files no commit
        ever mentioned are also kept for `IN_FLIGHT_GRACE_SECONDS`, because a concurrent writer
        may be about to commit them. A dry run returns exactly what a real run would delete.
        """
        table = self._open(ref)
        location = self.location(ref)
        listed = table.vacuum(
            retention_hours=math.ceil(retain_hours),
            dry_run=True,
            enforce_retention_duration=False,
        )
        tombstones = _tombstones(location / LOG_DIR)
        cutoff = time.time() - max(IN_FLIGHT_GRACE_SECONDS, retain_hours * 3600)
        chosen: list[str] = []
        for item in listed:
            relative = os.path.relpath(item, location) if os.path.isabs(item) else item
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
                try:
                    (location / relative).unlink()
                except FileNotFoundError:
                    pass
                parent = (location / relative).parent
                if parent != location:
                    try:
                        parent.rmdir()
                    except OSError:
                        pass
        return chosen

    def list_tables(self) -> list[TableRef]:
        refs = []
        if not self.warehouse.is_dir():
            return refs
        for namespace in sorted(p for p in self.warehouse.iterdir() if p.is_dir()):
            for table in sorted(p for p in namespace.iterdir() if (p / LOG_DIR).is_dir()):
                refs.append(TableRef(namespace.name, table.name))
        return refs


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

    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, CommitFailedError) or "conflict" in text.lower() or "exists" in text.lower():
        return CommitConflictError(
            f"table {ref}: another writer committed first ({text})",
            Location(asset=ref.key),
            "run again; nothing was applied",
        )
    return StorageError(f"table {ref}: write failed: {text}", Location(asset=ref.key))
