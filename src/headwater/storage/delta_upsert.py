"""Merge a small set of Arrow rows into a Delta table with delta-rs's MERGE, in one commit.

For writers whose rows are few and whose keys say which existing rows they replace (a stream's
window rows written again, say); a model's merge of many rows is planned by the build kernel
instead (`build/merge.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.errors import StorageError
from headwater.storage.base import CommitInfo, MergeClause, TableRef
from headwater.storage.delta_commit import (
    app_transactions,
    commit_properties,
    landed_already,
    write_error,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.storage.delta import DeltaStore


def merge_rows(
    store: DeltaStore,
    ref: TableRef,
    rows: pa.Table,
    on: list[str],
    commit: CommitInfo,
    matched: list[MergeClause],
    insert_when: str | None,
    columns: list[str] | None = None,
    nullable_keys: bool = True,
) -> int:
    """Merge `rows` into `ref` matching on the columns `on` (NULLs match NULLs) and return the
    new version; see `TableStore.merge_rows`."""
    from headwater.sqltext import identifier

    landed = landed_already(store, ref, commit)
    if landed is not None:
        return landed
    table = store.open_table(ref)
    target_columns = table.schema().to_arrow().names
    written = (
        columns if columns is not None else [c for c in target_columns if c in rows.column_names]
    )
    if nullable_keys:
        predicate = " and ".join(
            f"(target.{identifier(c)} = source.{identifier(c)} or "
            f"(target.{identifier(c)} is null and source.{identifier(c)} is null))"
            for c in on
        )
    else:
        # plain equality is planned as a hash join; the OR above is a nested loop (merging
        # 50k rows into 1.5M: 1.5 s against 52 s)
        predicate = " and ".join(f"target.{identifier(c)} = source.{identifier(c)}" for c in on)
    properties = commit_properties(
        commit,
        {**commit.extra, "headwater.kind": "MERGE"},
        app_transactions(commit),
    )
    try:
        merger = table.merge(
            rows,
            predicate=predicate,
            source_alias="source",
            target_alias="target",
            merge_schema=not set(written) <= set(target_columns),
            commit_properties=properties,
        )
        for clause in matched:
            if clause.updates is None:
                merger = merger.when_matched_delete(predicate=clause.when)
            else:
                merger = merger.when_matched_update(clause.updates, predicate=clause.when)
        if insert_when is not None:
            merger = merger.when_not_matched_insert(
                {c: f"source.{identifier(c)}" for c in written},
                predicate=insert_when or None,
            )
        merger.execute()
    except StorageError:
        raise
    except Exception as exc:
        raise write_error(ref, exc) from None
    # the merge's own version: another writer may have committed after it already
    return int(table.version())
