"""The tables that accompany a table `<ns>.<t>`: its quarantine and its failed versions.

`<t>__quarantine` holds the rows a load or a check set aside, each with where it came from and
why; `<t>__failed` holds the last version that a contract or a check kept from being published,
for inspection. Both are written before (or instead of) the table's own commit, so their commits
carry the run that made them: a run whose table commit never landed is recognised by the next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.storage.base import DataFile, TableRef, TableStore

if TYPE_CHECKING:
    import pyarrow as pa

QUARANTINE_SUFFIX = "__quarantine"
FAILED_SUFFIX = "__failed"
RECENT_COMMITS = 100


def quarantine_ref(ref: TableRef) -> TableRef:
    """The quarantine table of `ref`."""
    return TableRef(ref.namespace, ref.name + QUARANTINE_SUFFIX)


def quarantine_schema() -> pa.Schema:
    """Columns of every quarantine table."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("run_id", pa.string()),
            pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
            pa.field("source", pa.string()),
            pa.field("table", pa.string()),
            pa.field("location", pa.string()),
            pa.field("line", pa.int64()),
            pa.field("column", pa.string()),
            pa.field("error_class", pa.string()),
            pa.field("reason", pa.string()),
            pa.field("raw", pa.string()),
            # the exact bytes when `raw` (text) cannot hold them, e.g. invalid UTF-8
            pa.field("raw_bytes", pa.binary()),
        ]
    )


def failed_ref(ref: TableRef) -> TableRef:
    """The table holding `ref`'s last version that was kept from being published."""
    return TableRef(ref.namespace, ref.name + FAILED_SUFFIX)


def interrupted_files(
    store: TableStore, owner: TableRef, target: TableRef, run_id: str
) -> list[DataFile]:
    """Files that the latest commit to `target` (a quarantine or child table, committed before
    its `owner`) added for a run whose commit to `owner` never landed: the next load reads the
    same records again, so these are dropped in the commit that adds them anew."""
    if not store.exists(target):
        return []
    history = store.history(target, 1)
    if not history or history[0].operation is None:
        return []
    last_run = history[0].run_id
    if last_run is None or last_run == run_id:
        return []
    if _owner_committed(store, owner, last_run, history[0].timestamp_ms):
        return []
    marker = f"hw-{last_run}-"
    return [f for f in store.snapshot(target).files if marker in f.relative_path]


def _owner_committed(store: TableStore, owner: TableRef, run_id: str, since_ms: int | None) -> bool:
    """Whether `owner` has a commit of `run_id`. The owner commits after its companions, so
    only its versions newer than the companion's commit (`since_ms`) are read, however many."""
    if not store.exists(owner):
        return False
    limit = RECENT_COMMITS
    while True:
        entries = store.history(owner, limit)
        if any(e.run_id == run_id for e in entries):
            return True
        oldest = entries[-1].timestamp_ms if entries else None
        if len(entries) < limit or since_ms is None or oldest is None or oldest < since_ms:
            return False
        limit *= 10
