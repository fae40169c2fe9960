"""Committing Parquet files an engine wrote to a Delta table, as one atomic version.

An engine writes a version's Parquet files into the table's folder; this module turns them into
add actions (statistics read from their footers), removes what the write replaces, and commits
both with the run id in the commit's metadata and an app transaction, so that a retried commit
applies once. delta-rs failures come back as typed errors. A store whose tables are elsewhere
(S3) has the files written into a local staging folder: they are put in place before the
commit (`DeltaStore.publish_staged`) and the local copies dropped once it landed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from headwater.errors import CommitConflictError, Location, StorageError, first_line
from headwater.storage.base import CommitInfo, DataFile, TableRef, WriteMode, WrittenFile
from headwater.storage.delta_log import version_of_commit

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.storage.delta import DeltaStore


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


def commit_files(
    store: DeltaStore,
    ref: TableRef,
    files: list[WrittenFile],
    schema: pa.Schema,
    mode: WriteMode,
    commit: CommitInfo,
    partition_by: list[str] | None = None,
    remove: list[DataFile] | None = None,
) -> int:
    """Commit `files` (and the removal of `remove`) to `ref` in `store` as one version and
    return it; see `TableStore.commit_files`. A retry of a commit that already landed under
    the same app transaction returns the latest version without committing again."""
    from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

    from headwater.storage import parquet_stats

    location = store.location(ref)
    landed = landed_already(store, ref, commit)
    if landed is not None:
        store.release_staged(ref, files)
        return landed
    arrow_schema = normalize_arrow_schema(schema)
    now_ms = int(time.time() * 1000)
    actions: list[Any] = []
    for gone in remove or []:
        actions.append(
            RemoveAction(gone.relative_path, True, now_ms, gone.size, gone.partition_values)
        )
    staged: list[tuple[str, str]] = []
    for file in files:
        stat = os.stat(file.path)
        _, stats = parquet_stats.file_stats(file.path, arrow_schema)
        relative = os.path.relpath(file.path, location).replace(os.sep, "/")
        staged.append((file.path, relative))
        actions.append(
            AddAction(
                relative,
                stat.st_size,
                file.partition_values,
                int(stat.st_mtime * 1000),
                True,
                stats,
            )
        )
    commit_id = uuid.uuid4().hex
    metadata = {
        "headwater.commit_id": commit_id,
        **({"headwater.kind": commit.kind} if commit.kind else {}),
        **(
            {"headwater.metrics": json.dumps(commit.metrics, sort_keys=True)}
            if commit.metrics
            else {}
        ),
        **commit.extra,
    }
    transactions = app_transactions(commit)
    schema_delta = delta_schema(arrow_schema)
    try:
        # files first, then the log entry naming them: a kill in between leaves files no
        # version names, which vacuum deletes
        store.publish_staged(ref, staged)
        if store.current_version(ref) is None:
            if store.storage_options is None:
                location.mkdir(parents=True, exist_ok=True)
            create_table_with_add_actions(
                store.table_uri(ref),
                schema_delta,
                [a for a in actions if isinstance(a, AddAction)],
                mode="error",
                partition_by=partition_by or None,
                name=ref.name,
                storage_options=store.storage_options,
                # a create that finds version 0 taken by a racing writer must fail, not land
                # as version 1 beside it (an overwrite would then keep both writers' rows)
                commit_properties=commit_properties(
                    commit, metadata, transactions, max_commit_retries=0
                ),
            )
        else:
            table = store.open_table(ref)
            if mode == "append" and _add_new_columns(table, arrow_schema, commit):
                table = store.open_table(ref)
            _refuse_stale_removes(ref, table, remove)
            table.create_write_transaction(
                actions,
                mode=mode,
                schema=schema_delta,
                partition_by=partition_by or None,
                commit_properties=commit_properties(commit, metadata, transactions),
            )
    except StorageError:
        raise
    except Exception as exc:
        raise write_error(ref, exc) from None
    store.release_staged(ref, files)
    latest = store.current_version(ref)
    assert latest is not None
    return version_of_commit(store.table_files(ref), latest, commit_id)


def _refuse_stale_removes(ref: TableRef, table: Any, remove: list[DataFile] | None) -> None:
    """Refuse to commit the removal of files the opened version no longer has.

    The caller planned `remove` from an older snapshot; another writer (a merge, optimize)
    has replaced those files since, so committing would bring their rows back twice. From the
    opened version on, delta-rs's conflict check sees any other writer's removals itself.
    """
    if not remove:
        return
    import urllib.parse

    import pyarrow as pa

    # the log's paths are URL-encoded; a DataFile's path is decoded already (a partition
    # folder `p=New%20York` holds the value `New York`), so it is compared as it is
    paths = pa.table(table.get_add_actions(flatten=False)).column("path").to_pylist()
    live = {urllib.parse.unquote(p) for p in paths}
    gone = [f for f in remove if f.relative_path not in live]
    if gone:
        raise CommitConflictError(
            f"table {ref}: another writer replaced {len(gone)} of the files this write "
            "replaces after it read the table",
            Location(asset=ref.key),
            "run again; nothing was applied",
        )


def landed_already(store: DeltaStore, ref: TableRef, commit: CommitInfo) -> int | None:
    """The table's latest version when `commit` is a retry of one that already landed under
    the same app transaction (the caller never heard), so it is applied once; else None."""
    if commit.app_id is None or commit.app_version is None or commit.restarts:
        return None
    if not store.already_committed(ref, commit.app_id, commit.app_version):
        return None
    latest = store.current_version(ref)
    assert latest is not None
    return latest


def app_transactions(commit: CommitInfo) -> list[Any] | None:
    """The delta-rs app transaction `commit` carries (None: it has no idempotency key)."""
    from deltalake import Transaction

    if commit.app_id is None or commit.app_version is None:
        return None
    return [Transaction(commit.app_id, commit.app_version)]


def commit_properties(
    commit: CommitInfo,
    metadata: dict[str, str] | None = None,
    app_transactions: list[Any] | None = None,
    max_commit_retries: int | None = None,
) -> Any:
    """Return delta-rs `CommitProperties` carrying the run id and operation of `commit`, plus
    `metadata`, `app_transactions` and `max_commit_retries` when given."""
    from deltalake import CommitProperties

    return CommitProperties(
        custom_metadata={
            "headwater.run_id": commit.run_id,
            "headwater.operation": commit.operation,
            **(metadata or {}),
        },
        app_transactions=app_transactions,
        max_commit_retries=max_commit_retries,
    )


def write_error(ref: TableRef, exc: Exception) -> StorageError:
    """Return delta-rs's failure to write `ref` as a Headwater error: a conflict with another
    writer (nothing applied, run again) or a plain storage error."""
    from deltalake.exceptions import CommitFailedError

    text = first_line(exc)
    # delta-rs raises a table created meanwhile by another writer as a plain DeltaError
    created_meanwhile = "a delta lake table already exists" in text.lower()
    if isinstance(exc, CommitFailedError) or created_meanwhile:
        return CommitConflictError(
            f"table {ref}: another writer committed first ({text})",
            Location(asset=ref.key),
            "run again; nothing was applied",
        )
    return StorageError(f"table {ref}: write failed: {text}", Location(asset=ref.key))


def _add_new_columns(table: Any, schema: pa.Schema, commit: CommitInfo) -> bool:
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
        commit_properties=commit_properties(
            CommitInfo(run_id=commit.run_id, operation=f"{commit.operation}: add columns")
        ),
    )
    return True
