"""The quarantine table `<namespace>.<table>__quarantine`: records a load could not take, and why.

A load writes its quarantine before its table commit. If the process dies between the two, the
table (and its cursor) did not move, so the next run reads the same records again; it first
drops the quarantine rows of the run whose table commit never landed, in the same commit that
adds its own, so a record is never quarantined twice and never lost.
"""

from __future__ import annotations

import datetime as dt
import uuid

from headwater.ingest.base import BadRecord
from headwater.storage.base import CommitInfo, TableRef, TableStore, WrittenFile
from headwater.storage.companions import interrupted_files, quarantine_ref, quarantine_schema


def write_quarantine(
    store: TableStore,
    ref: TableRef,
    source: str,
    bad: list[BadRecord],
    run_id: str,
) -> int | None:
    """Append `bad` to `ref`'s quarantine table (dropping an interrupted run's leftovers) and
    return the new version, or None when there was nothing to do."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = quarantine_ref(ref)
    leftovers = interrupted_files(store, ref, target, run_id)
    if not bad and not leftovers:
        return None
    files: list[WrittenFile] = []
    schema = quarantine_schema()
    if bad:
        now = dt.datetime.now(dt.UTC)
        table = pa.table(
            {
                "run_id": [run_id] * len(bad),
                "quarantined_at": [now] * len(bad),
                "source": [source] * len(bad),
                "table": [ref.key] * len(bad),
                "location": [b.location for b in bad],
                "line": [b.line for b in bad],
                "column": [b.column for b in bad],
                "error_class": [b.error_class for b in bad],
                "reason": [b.reason for b in bad],
                "raw": [b.raw for b in bad],
                "raw_bytes": [b.raw_bytes for b in bad],
            },
            schema=schema,
        )
        directory = store.new_file_dir(target, run_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"part-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, str(path))
        files.append(WrittenFile(str(path)))
    return store.commit_files(
        target,
        files,
        schema,
        "append",
        CommitInfo(run_id, "quarantine"),
        remove=leftovers,
    )
