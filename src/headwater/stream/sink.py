"""Write one micro-batch's rows to the stream's Delta table (and its quarantine) in one commit
each, under the stream's app transaction, so a batch replayed after a crash is applied once."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from headwater.errors import CommitConflictError
from headwater.storage.base import CommitInfo, MergeClause, TableRef, TableStore, WrittenFile
from headwater.storage.companions import quarantine_ref, quarantine_schema

if TYPE_CHECKING:
    import pyarrow as pa

APP_ID_PREFIX = "headwater:stream:"
COMMIT_ATTEMPTS = 5
"""Tries of a commit that lost a race with the stream's own background compaction."""


def stream_app_id(key: str) -> str:
    """The app transaction id under which the stream `key` commits its batches."""
    return APP_ID_PREFIX + key


class StreamSink:
    """The Delta table a stream writes, and its quarantine table."""

    def __init__(self, store: TableStore, ref: TableRef, key: str, run_id: str) -> None:
        self.store = store
        self.ref = ref
        self.app_id = stream_app_id(key)
        self.run_id = run_id

    def committed_batch(self) -> int | None:
        """The last batch committed to the table (None: none yet)."""
        return self.store.app_version(self.ref, self.app_id)

    def rejected_batch(self) -> int | None:
        """The last batch whose set-aside events reached the quarantine table."""
        return self.store.app_version(quarantine_ref(self.ref), self.app_id)

    def commit(
        self,
        batch: int,
        appends: pa.Table,
        merges: pa.Table | None,
        on: list[str],
        clauses: list[MergeClause],
        metadata: dict[str, str],
    ) -> int:
        """Commit batch `batch`: append `appends` and merge `merges` (rows with an `_op`
        column, matched on the columns `on`, applied by `clauses`) in one version; return it.
        """
        commit = self._commit_info("STREAMING UPDATE", batch, metadata)
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                if merges is None or not merges.num_rows:
                    return self._append(appends, commit)
                return self._merge(appends, merges, on, clauses, commit)
            except CommitConflictError:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def commit_rejected(self, batch: int, rows: pa.Table) -> None:
        """Append the events batch `batch` set aside to the quarantine table (once)."""
        target = quarantine_ref(self.ref)
        commit = self._commit_info("QUARANTINE", batch, {})
        files = self._write_files(target, rows.cast(quarantine_schema()))
        self.store.commit_files(target, files, quarantine_schema(), "append", commit)

    def _append(self, rows: pa.Table, commit: CommitInfo) -> int:
        files = self._write_files(self.ref, rows) if rows.num_rows else []
        return self.store.commit_files(self.ref, files, rows.schema, "append", commit)

    def _merge(
        self,
        appends: pa.Table,
        merges: pa.Table,
        on: list[str],
        clauses: list[MergeClause],
        commit: CommitInfo,
    ) -> int:
        import pyarrow as pa

        from headwater.stream.windows import OP

        if self.store.current_version(self.ref) is None:
            # an empty first version (no app transaction: making it twice is harmless)
            empty = appends.schema.empty_table()
            self.store.commit_files(
                self.ref, [], empty.schema, "append", CommitInfo(self.run_id, "CREATE TABLE")
            )
        rows = pa.concat_tables(
            [
                appends.append_column(OP, pa.array(["replace"] * appends.num_rows, pa.string())),
                merges,
            ],
            promote_options="permissive",
        )
        return self.store.merge_rows(self.ref, rows, on, commit, clauses, "source._op <> 'delete'")

    def _write_files(self, target: TableRef, rows: pa.Table) -> list[WrittenFile]:
        import pyarrow.parquet as pq

        folder = self.store.new_file_dir(target, self.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{os.urandom(6).hex()}.parquet"
        pq.write_table(rows, path, compression="zstd")
        return [WrittenFile(str(path))]

    def _commit_info(self, operation: str, batch: int, metadata: dict[str, str]) -> CommitInfo:
        return CommitInfo(
            run_id=self.run_id,
            operation=operation,
            app_id=self.app_id,
            app_version=batch,
            extra={"headwater.stream.batch": str(batch), **metadata},
        )
