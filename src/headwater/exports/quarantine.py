"""An export's quarantine, `exports.<name>__quarantine`: the records its destination refused,
each with the destination's error, the batch it was in and the record as JSON.

A destination sets a batch's refused records aside before it confirms the batch, so a kill in
between sends the batch again: the records are then not added a second time, since a batch
already in the quarantine is recognised by its key (the `location` column).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from headwater.exports.base import Refused
from headwater.storage.base import CommitInfo, TableRef, TableStore, WrittenFile
from headwater.storage.companions import quarantine_ref, quarantine_schema


class ExportQuarantine:
    """The quarantine of one export, written by one run."""

    def __init__(self, store: TableStore, export: TableRef, source: str, run_id: str) -> None:
        self.store = store
        self.ref = quarantine_ref(export)
        self.export = export
        self.source = source
        self.run_id = run_id
        self.added = 0

    def add(self, batch: str, refused: list[Refused]) -> None:
        """Append `refused` as batch `batch`, unless that batch is already there."""
        if not refused or self._holds(batch):
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        now = dt.datetime.now(dt.UTC)
        count = len(refused)
        table = pa.table(
            {
                "run_id": [self.run_id] * count,
                "quarantined_at": [now] * count,
                "source": [self.source] * count,
                "table": [self.export.key] * count,
                "location": [batch] * count,
                "line": list(range(1, count + 1)),
                "column": [r.column for r in refused],
                "error_class": [r.error_class for r in refused],
                "reason": [r.reason for r in refused],
                "raw": [json.dumps(r.record, default=_text, sort_keys=True) for r in refused],
                "raw_bytes": [None] * count,
            },
            schema=quarantine_schema(),
        )
        directory = self.store.new_file_dir(self.ref, self.run_id)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"part-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, str(path))
        self.store.commit_files(
            self.ref,
            [WrittenFile(str(path))],
            quarantine_schema(),
            "append",
            CommitInfo(self.run_id, "export quarantine"),
        )
        self.added += count

    def _holds(self, batch: str) -> bool:
        """Whether batch `batch` is already in the quarantine."""
        if self.store.current_version(self.ref) is None:
            return False
        import pyarrow.dataset as ds

        dataset = self.store.snapshot(self.ref).arrow_dataset()
        found = dataset.to_table(columns=["location"], filter=ds.field("location") == batch)
        return bool(found.num_rows)


def _text(value: Any) -> str:
    """JSON for the values `json` does not know (dates, decimals, bytes)."""
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
