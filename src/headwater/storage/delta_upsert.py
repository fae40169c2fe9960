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
    # IS NOT DISTINCT FROM matches NULLs like `=` matches values and, unlike spelling that out
    # with OR, is planned as a hash join (about 30x faster merging 50k rows into 1.5M)
    predicate = " and ".join(
        f"target.{identifier(c)} is not distinct from source.{identifier(c)}" for c in on
    )
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
    latest = store.current_version(ref)
    assert latest is not None
    return latest
