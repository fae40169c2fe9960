"""Commit a load's staged rows as the table's next version, in the table's load mode.

`append` and `replace` commit the staged files as they are when they already have the table's
shape, and a rewrite of them otherwise; `merge` (and `incremental` with a key) merges the
newest row per key into the table. A widened column type rewrites the existing rows too, in the
same commit for an append or replace and in a commit of its own before a merge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.build.context import BuildContext
from headwater.ingest.base import Extracted
from headwater.ingest.contract import WritePlan
from headwater.project.sources import SourceTable
from headwater.sqltext import column_list, identifier
from headwater.storage.base import CommitInfo, WrittenFile

if TYPE_CHECKING:
    import pyarrow as pa


def commit_rows(
    ctx: BuildContext,
    spec: SourceTable,
    extracted: Extracted,
    plan: WritePlan,
    table_schema: pa.Schema | None,
) -> tuple[int, int]:
    """Write the staged rows per the load mode in one commit; return (version, rows)."""
    store, ref, session = ctx.store, ctx.ref, ctx.session
    mode = spec.mode
    keys = spec.table.primary_key
    if not plan.select:
        # nothing new but the state moved (e.g. empty files seen): an empty commit records it
        ctx.may_commit()
        version = store.commit_files(
            ref, [], plan.schema, "append", ctx.commit_info(f"ingest {mode}", 0)
        )
        return version, 0
    deduped = deduplicated(plan.select, keys, spec.table.cursor)
    if table_schema is not None and (mode == "merge" or (mode == "incremental" and keys)):
        from headwater.build.merge import merge_changes

        if plan.widen_table:
            _widen_existing(ctx, plan)
        outcome = merge_changes(
            ctx,
            deduped,
            keys,
            f"ingest {mode}",
            delete_column=spec.table.delete_column if spec.table.delete == "hard" else None,
        )
        if outcome.version is None:
            ctx.may_commit()
            version = store.commit_files(
                ref, [], plan.schema, "append", ctx.commit_info(f"ingest {mode}", 0)
            )
            return version, 0
        return outcome.version, outcome.changed_rows
    replace = mode == "replace" or table_schema is None or plan.widen_table
    hard_delete = spec.table.delete_column if spec.table.delete == "hard" else None
    if hard_delete not in plan.schema.names:
        hard_delete = None  # no row says it is deleted
    if mode == "replace" or table_schema is None:
        source_sql = deduped if keys else plan.select
        if hard_delete:
            source_sql = f"SELECT * FROM ({source_sql}) WHERE {identifier(hard_delete)} IS NOT TRUE"
        files, rows = _files_for(
            ctx, extracted, plan, source_sql, rewrite=bool(keys or hard_delete)
        )
    elif plan.widen_table:
        # an append that widens a column rewrites the existing rows too, in the same commit
        rows = int(session.query(f"SELECT count(*) AS n FROM ({plan.select})").column("n")[0])
        union = f"({_existing_rows(ctx, plan)}) UNION ALL BY NAME ({plan.select})"
        written = session.write_parquet(
            union, store.new_file_dir(ref, ctx.run_id), conform_to=plan.schema
        )
        files = written.files
    else:
        files, rows = _files_for(ctx, extracted, plan, plan.select, rewrite=False)
    version = ctx.publish(
        files,
        plan.schema,
        "overwrite" if replace else "append",
        ctx.commit_info(f"ingest {mode}", rows),
    )
    return version, rows


def _files_for(
    ctx: BuildContext, extracted: Extracted, plan: WritePlan, sql: str, rewrite: bool
) -> tuple[list[WrittenFile], int]:
    """The staged files themselves when they fit, else a rewrite of `sql`."""
    if not plan.rewrite and not rewrite:
        return extracted.files, extracted.rows
    written = ctx.session.write_parquet(
        sql, ctx.store.new_file_dir(ctx.ref, ctx.run_id), conform_to=plan.schema
    )
    for file in extracted.files:
        remove_file(file.path)
    return written.files, written.rows


def _widen_existing(ctx: BuildContext, plan: WritePlan) -> None:
    """Rewrite the table's rows with its widened column types (one overwrite commit, no state
    change), before a merge that needs them."""
    written = ctx.session.write_parquet(
        _existing_rows(ctx, plan),
        ctx.store.new_file_dir(ctx.ref, ctx.run_id),
        conform_to=plan.schema,
    )
    # no idempotency key: it is not the build's commit, which follows with the build's key
    ctx.may_commit()
    ctx.store.commit_files(
        ctx.ref,
        written.files,
        plan.schema,
        "overwrite",
        CommitInfo(ctx.run_id, "ingest widen types", extra={"headwater.rows": str(written.rows)}),
    )


def _existing_rows(ctx: BuildContext, plan: WritePlan) -> str:
    snapshot = ctx.store.snapshot(ctx.ref)
    ctx.session.register_table(ctx.ref, snapshot)
    casts = ", ".join(
        f"CAST({identifier(f.name)} AS {ctx.session.sql_types(plan.schema)[f.name]}) "
        f"AS {identifier(f.name)}"
        for f in snapshot.schema
    )
    return f"SELECT {casts} FROM {identifier(ctx.ref.namespace)}.{identifier(ctx.ref.name)}"


def deduplicated(
    select: str, keys: list[str], cursor: str | None, read_order: str | None = None
) -> str:
    """`select` keeping one row per key: the one with the highest cursor, then the last read
    (by column `read_order`, when the rows have one)."""
    if not keys:
        return select
    order = (
        ", ".join(
            [
                *([f"{identifier(cursor)} DESC NULLS LAST"] if cursor else []),
                *([f"{identifier(read_order)} DESC"] if read_order else []),
            ]
        )
        or "1"
    )
    return (
        f"SELECT * FROM ({select}) QUALIFY row_number() OVER "
        f"(PARTITION BY {column_list(keys)} ORDER BY {order}) = 1"
    )


def remove_file(path: str) -> None:
    """Delete the staged file at `path`, if it is still there."""
    import contextlib
    import os

    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
