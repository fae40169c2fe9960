"""Upsert a set of changed rows into a Delta table, with memory that follows the change.

delta-rs MERGE joins the whole target against the source and is known to use far more memory
than the change it applies (delta-io/delta-rs 2573, 4422). Instead we plan the rewrite: stage the
changes as Parquet, prune target files by partition values and file statistics, find exactly the
files holding a changed key with one semi-join, and rewrite only those files (their untouched
rows plus the changes) with DuckDB's streaming writer. One commit removes the touched files and
adds the rewritten ones, so readers see the old or the new version, never a mix.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from typing import Any

from headwater.build.context import Admitted, BuildContext
from headwater.build.schema_evolution import evolve_schema
from headwater.errors import Location, ModelError
from headwater.sqltext import column_list, identifier
from headwater.storage.base import DataFile, Snapshot, WrittenFile


@dataclass(frozen=True)
class MergeOutcome:
    """How a merge went: rows in the change, files rewritten, the new version (None: no-op)."""

    changed_rows: int
    touched_files: int
    version: int | None


def _scan(
    ctx: BuildContext, files: list[DataFile], snapshot: Snapshot, filename: bool = False
) -> str:
    """A scan of some of `snapshot`'s files (with a `filename` column when asked)."""
    return ctx.session.scan_parquet(
        [f.path for f in files],
        hive_partitioning=bool(snapshot.partition_by),
        filename=filename,
    )


def _key_match(keys: list[str], left: str, right: str) -> str:
    """Key equality where NULL equals NULL, as in the duplicate check's GROUP BY."""
    return " AND ".join(
        f"{left}.{identifier(k)} IS NOT DISTINCT FROM {right}.{identifier(k)}" for k in keys
    )


def merge_changes(
    ctx: BuildContext,
    source_sql: str,
    keys: list[str],
    operation: str,
    delete_column: str | None = None,
    replace_keys: str | None = None,
) -> MergeOutcome:
    """Upsert the rows of `source_sql` into the asset's table on `keys`.

    Rows whose key exists replace the existing row; others are inserted. With `delete_column`,
    a changed row whose column is true deletes its key instead. With `replace_keys` (SQL giving
    key values), every existing row holding one of those keys is removed and all rows of
    `source_sql` are added, so rows may share a key (the child rows of a set of records).
    Raises `ModelError` when the change holds a key twice or a key column is missing.
    """
    session = ctx.session
    snapshot = ctx.store.snapshot(ctx.ref)
    stage = ctx.temp_dir / f"merge-{ctx.run_id}-{ctx.asset.name}"
    shutil.rmtree(stage, ignore_errors=True)
    screened: list[WrittenFile] = []
    try:
        staged = session.write_parquet(source_sql, stage)
        missing = [k for k in keys if k not in staged.schema.names]
        if missing:
            raise ModelError(
                f"unique_key column {', '.join(missing)} is not in the model's output",
                Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
                f"select it, or fix 'unique_key' (columns: {', '.join(staged.schema.names)})",
            )
        change_files, change_rows = list(staged.files), staged.rows
        if ctx.gate is not None and change_files:
            passing, rows, quarantined = ctx.gate.screen(ctx, change_files, staged.schema)
            if quarantined:
                screened = change_files = passing
                change_rows = rows or 0
                ctx.admitted.append(Admitted([], None, quarantined))
        changes = (
            # written unpartitioned above: a `key=value` folder in their path is no column
            session.scan_parquet(
                [f.path for f in change_files], union_by_name=False, hive_partitioning=False
            )
            if change_files
            else None
        )
        if replace_keys is None:
            if changes is None:
                return MergeOutcome(0, 0, None)
            _refuse_duplicate_keys(ctx, changes, keys)
            removed = changes
        else:
            removed = f"({replace_keys})"
            if not session.query(f"SELECT 1 FROM {removed} LIMIT 1").num_rows and not changes:
                return MergeOutcome(0, 0, None)
        schema = (
            evolve_schema(snapshot.schema, staged.schema, ctx.asset.key)
            if changes
            else snapshot.schema
        )
        candidates = _prune(ctx, snapshot, removed, keys)
        touched = _touched_files(ctx, snapshot, candidates, removed, keys)
        counts = _row_counts(
            ctx,
            changes,
            _scan(ctx, touched, snapshot) if touched else None,
            removed,
            keys,
            delete_column if changes and delete_column in staged.schema.names else None,
            replacing=replace_keys is not None,
        )
        # A file written before a column was added lacks it, and the change lacks a column the
        # model no longer selects: select what each side has and let UNION BY NAME fill NULLs.
        # Columns neither side has are left out of the new files; the schema still holds them.
        present = set(staged.schema.names) if changes else set()
        kept_changes = (
            f" WHERE {identifier(delete_column)} IS NOT TRUE"
            if delete_column and delete_column in present
            else ""
        )
        parts = [f"SELECT * FROM {changes}{kept_changes}"] if changes else []
        if touched:
            scan = _scan(ctx, touched, snapshot)
            in_files = set(session.schema(f"SELECT * FROM {scan}").names)
            kept = [n for n in schema.names if n in in_files]
            present.update(kept)
            parts.insert(
                0,
                f"SELECT {column_list(kept)} FROM {scan} AS t WHERE NOT EXISTS "
                f"(SELECT 1 FROM {removed} AS c WHERE {_key_match(keys, 't', 'c')})",
            )
        if not parts:
            return MergeOutcome(0, 0, None)
        rewrite = " UNION ALL BY NAME ".join(f"({part})" for part in parts)
        columns = column_list([n for n in schema.names if n in present])
        written = session.write_parquet(
            f"SELECT {columns} FROM ({rewrite})",
            ctx.store.new_file_dir(ctx.ref, ctx.run_id),
            list(snapshot.partition_by),
            conform_to=schema,
        )
        ctx.fault("before_commit")
        version = ctx.publish(
            written.files,
            schema,
            "append",
            # committed as file actions, which the log calls WRITE: say it was a merge, and
            # what it changed rather than the rows of the files it rewrote
            dataclasses.replace(
                ctx.commit_info(operation, written.rows), kind="MERGE", metrics=counts
            ),
            partition_by=list(snapshot.partition_by),
            remove=touched,
            fresh=[],  # the change was screened above; the rest is carried over
        )
        ctx.fault("after_commit")
        return MergeOutcome(change_rows, len(touched), version)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        for file in screened:  # read by the rewrite, never committed
            _remove(file.path)


def _row_counts(
    ctx: BuildContext,
    changes: str | None,
    scan: str | None,
    removed: str,
    keys: list[str],
    delete_column: str | None,
    replacing: bool,
) -> dict[str, int]:
    """Count the rows a merge inserts, updates and deletes (delta-rs's MERGE metric names).

    An existing row whose key a change holds is updated, or deleted when the change's
    `delete_column` is true; a change whose key no existing row holds is inserted. When whole
    keys are replaced (`replacing`), the existing rows of those keys are deleted and the new
    rows inserted, as rows sharing a key have no one-to-one match.
    """
    match = _key_match(keys, "t", "c")
    flag = f"c.{identifier(delete_column)}" if delete_column else None
    kept = f"{flag} IS NOT TRUE" if flag else "TRUE"
    dropped = f"{flag} IS TRUE" if flag else "FALSE"

    def existing(condition: str, source: str) -> str:
        if scan is None:
            return "0"
        return (
            f"(SELECT count(*) FROM {scan} AS t WHERE EXISTS "
            f"(SELECT 1 FROM {source} AS c WHERE {match} AND {condition}))"
        )

    if changes is None:
        inserted = "0"
    elif replacing or scan is None:
        inserted = f"(SELECT count(*) FROM {changes} AS c WHERE {kept})"
    else:
        inserted = (
            f"(SELECT count(*) FROM {changes} AS c WHERE {kept} AND NOT EXISTS "
            f"(SELECT 1 FROM {scan} AS t WHERE {match}))"
        )
    if replacing:
        updated, deleted = "0", existing("TRUE", removed)
    else:
        updated, deleted = existing(kept, removed), existing(dropped, removed)
    row = ctx.session.query(
        f"SELECT {inserted} AS inserted, {updated} AS updated, {deleted} AS deleted"
    ).to_pylist()[0]
    return {
        "num_target_rows_inserted": int(row["inserted"]),
        "num_target_rows_updated": int(row["updated"]),
        "num_target_rows_deleted": int(row["deleted"]),
    }


def _refuse_duplicate_keys(ctx: BuildContext, changes: str, keys: list[str]) -> None:
    duplicates = ctx.session.query(
        f"SELECT {column_list(keys)}, count(*) AS n FROM {changes} "
        f"GROUP BY ALL HAVING count(*) > 1 LIMIT 5"
    )
    if duplicates.num_rows:
        sample = "; ".join(
            ", ".join(f"{k}={row[k]!r}" for k in keys) + f" ({row['n']} rows)"
            for row in duplicates.to_pylist()
        )
        raise ModelError(
            f"the new rows hold the same unique_key more than once: {sample}",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
            "deduplicate the model's output (e.g. QUALIFY row_number() OVER (...) = 1) "
            "or widen unique_key",
        )


def _prune(ctx: BuildContext, snapshot: Snapshot, changes: str, keys: list[str]) -> list[DataFile]:
    """Keep the files that may hold a changed key: by partition values, then min/max stats."""
    files = list(snapshot.files)
    if not files:
        return files
    partition_keys = [c for c in snapshot.partition_by if c in keys]
    if partition_keys and len(partition_keys) == len(snapshot.partition_by):
        rows = ctx.session.query(
            f"SELECT DISTINCT {column_list(partition_keys)} FROM {changes}"
        ).to_pylist()
        wanted = {
            tuple(None if row[c] is None else str(row[c]) for c in partition_keys) for row in rows
        }
        files = [
            f for f in files if tuple(f.partition_values.get(c) for c in partition_keys) in wanted
        ]
    stats = ctx.store.file_ranges(snapshot, keys[0])
    if stats:
        first = identifier(keys[0])
        bounds = ctx.session.query(
            f"SELECT min({first}) AS lo, max({first}) AS hi, "
            f"count(*) FILTER (WHERE {first} IS NULL) AS nulls FROM {changes}"
        ).to_pylist()[0]
        low, high = bounds["lo"], bounds["hi"]
        # min/max say nothing about NULLs: a NULL key may be in any file
        if low is not None and high is not None and not bounds["nulls"]:
            files = [f for f in files if _may_overlap(stats.get(f.relative_path), low, high)]
    return files


def _may_overlap(file_range: tuple[Any, Any] | None, low: Any, high: Any) -> bool:
    if file_range is None:
        return True
    file_low, file_high = file_range
    if file_low is None or file_high is None:
        return True
    try:
        return not (file_high < low or file_low > high)
    except TypeError:
        return True


def _touched_files(
    ctx: BuildContext, snapshot: Snapshot, candidates: list[DataFile], changes: str, keys: list[str]
) -> list[DataFile]:
    """Return the candidate files that hold at least one changed key."""
    if not candidates:
        return []
    by_path = {f.path: f for f in candidates}
    scan = _scan(ctx, candidates, snapshot, filename=True)
    rows = (
        ctx.session.query(
            f"SELECT DISTINCT t.filename FROM {scan} AS t "
            f"WHERE EXISTS (SELECT 1 FROM {changes} AS c WHERE {_key_match(keys, 't', 'c')})"
        )
        .column("filename")
        .to_pylist()
    )
    return [by_path[p] for p in rows if p in by_path]


def _remove(path: str) -> None:
    import contextlib
    import os

    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
