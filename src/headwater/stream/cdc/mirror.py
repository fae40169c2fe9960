"""A table's Delta mirror, and its change log: written only by change data capture.

Each commit carries the capture's app transaction, whose version is the position in the
source's log up to which the mirror holds every change (an LSN for PostgreSQL). A change is
applied to the mirror only when its transaction commits at or after that position, so a
capture restarted after a crash skips what a mirror already holds and applies what it lacks,
whatever the other mirrors of the source hold. The change log has the same rule of its own.

A micro-batch's changes of one table are collapsed per key (`TableChanges`) and merged in one
commit: upserts replace the row (keeping the mirror's value where the source did not send one),
deletes remove it or, with a soft-delete column, flag it. A truncate in the batch makes the
commit an overwrite holding only the rows written after it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.ingest.cdc.changes import DELETE, UPSERT, TableChanges
from headwater.ingest.state import committed_state, encode_state
from headwater.sqltext import identifier
from headwater.storage.base import CommitInfo, MergeClause, TableRef, TableStore, WrittenFile

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession

APP_ID_PREFIX = "headwater:cdc:"
OP = "_hw_op"
"""The collapsed change of a row in a merge's source rows (`u` upsert, `d` delete)."""
KEEP_PREFIX = "_hw_keep_"
"""`_hw_keep_<i>`: the row keeps the mirror's value of column i (the source did not send it)."""
FROM_PREFIX = "_hw_from_"
"""`_hw_from_<key column>`: the key a row had in the mirror before an update in the batch
moved it; its kept values are that row's (NULL: the row's own key)."""
LOG_OP, LOG_LSN, LOG_TIME, LOG_SEQ, LOG_UNCHANGED = (
    "_op",
    "_lsn",
    "_commit_time",
    "_seq",
    "_unchanged",
)
"""The change log's own columns: the operation (c, u, d, r, t), the position of the change's
transaction in the source's log, its commit time, its order in the log, and the columns the
source did not send (values an update left unchanged)."""
CHANGELOG_COLUMNS = (LOG_OP, LOG_LSN, LOG_TIME, LOG_SEQ, LOG_UNCHANGED)


def cdc_app_id(source: str) -> str:
    """The app transaction under which the capture of source `source` commits."""
    return APP_ID_PREFIX + source


@dataclass
class MirrorState:
    """What a mirror's last capture commit says about it."""

    position: int | None
    """Every change committed before this position in the source's log is in the mirror
    (None: the mirror has never been filled by this capture)."""
    generation: str | None
    """Which slot (and its creation) the mirror was copied for; a new slot means a new copy."""
    commit_us: int | None
    """Commit time of the last applied transaction (microseconds since the epoch)."""


class Mirror:
    """One mirrored table (and its change log, when kept)."""

    def __init__(
        self,
        store: TableStore,
        ref: TableRef,
        source: str,
        key: list[str],
        run_id: str,
        soft_delete: str | None = None,
        changelog: TableRef | None = None,
    ) -> None:
        self.store = store
        self.ref = ref
        self.key = key
        self.run_id = run_id
        self.soft_delete = soft_delete
        self.changelog = changelog
        self.app_id = cdc_app_id(source)
        self.commits = 0

    def state(self) -> MirrorState:
        """The mirror's capture state, from its Delta log."""
        if not self.store.exists(self.ref):
            return MirrorState(None, None, None)
        cdc = committed_state(self.store, self.ref).get("cdc") or {}
        position = self.store.app_version(self.ref, self.app_id)
        return MirrorState(position, cdc.get("generation"), cdc.get("commit_us"))

    def log_position(self) -> int | None:
        """Where the change log stands (None: no change log, or never written)."""
        if self.changelog is None or not self.store.exists(self.changelog):
            return None
        return self.store.app_version(self.changelog, self.app_id)

    def replace(
        self,
        files: list[WrittenFile],
        schema: pa.Schema,
        position: int,
        generation: str,
    ) -> int:
        """Make `files` the mirror's whole content (a snapshot copy) as of `position`."""
        if self.soft_delete is not None and self.soft_delete not in schema.names:
            raise AssertionError("a soft-delete mirror's copy carries its flag column")
        return self.store.commit_files(
            self.ref,
            files,
            schema,
            "overwrite",
            dataclasses.replace(
                self._commit("CDC SNAPSHOT", position, generation, None), restarts=True
            ),
        )

    def compact_if_due(self, every: int) -> None:
        """Compact the mirror's small files and checkpoint its log every `every` commits of
        this capture (0: never)."""
        if every and self.commits and self.commits % every == 0:
            self.store.optimize(self.ref, CommitInfo(self.run_id, "OPTIMIZE"))
            self.store.checkpoint(self.ref)

    def add_columns(self, session: EngineSession, values: dict[str, str]) -> int:
        """Add columns to every row of the mirror, each with the value of a SQL expression
        (`values`: name -> expression), in one commit that keeps the capture's state."""
        snapshot = self.store.snapshot(self.ref)
        if snapshot.files and not snapshot.needs_arrow_reader:
            scan = session.scan_parquet(
                [f.path for f in snapshot.files], hive_partitioning=bool(snapshot.partition_by)
            )
        else:
            scan = f"_hw_cdc_rows_{abs(hash(self.ref.key))}"
            session.register_arrow(scan, self.store.arrow_dataset(snapshot).to_table())
        added = ", ".join(f"{sql} AS {identifier(name)}" for name, sql in values.items())
        written = session.copy_parquet(
            f"SELECT *, {added} FROM {scan}", self.store.new_file_dir(self.ref, self.run_id)
        )
        state = committed_state(self.store, self.ref)
        commit = CommitInfo(
            run_id=self.run_id,
            operation="CDC ADD COLUMNS",
            extra=encode_state(state) if state else {},
        )
        return self.store.commit_files(self.ref, written.files, written.schema, "overwrite", commit)

    def apply(
        self,
        changes: TableChanges,
        rows: pa.Table,
        position: int,
        generation: str | None,
        commit_us: int | None,
    ) -> int | None:
        """Apply a batch's collapsed `changes` (typed as `rows`: the columns, `OP` and the
        `KEEP_PREFIX` flags) as of `position`; return the new version (None: nothing to do)."""
        import pyarrow as pa

        commit = self._commit("CDC MERGE", position, generation, commit_us)
        rows = self._fill_moved(rows)
        data = [c for c in rows.column_names if c != OP and not c.startswith(KEEP_PREFIX)]
        if self.soft_delete is not None:
            flags = pa.array([op == DELETE for op in rows.column(OP).to_pylist()], pa.bool_())
            rows = rows.append_column(self.soft_delete, flags)
            data.append(self.soft_delete)
        self.commits += 1
        if changes.truncated:
            return self._after_truncate(rows, data, commit)
        keep = {c[len(KEEP_PREFIX) :]: c for c in rows.column_names if c.startswith(KEEP_PREFIX)}
        updates = {}
        for column in data:
            name = identifier(column)
            flag = keep.get(column)
            updates[column] = (
                f"CASE WHEN source.{identifier(flag)} THEN target.{name} ELSE source.{name} END"
                if flag
                else f"source.{name}"
            )
        if self.soft_delete is None:
            on_delete = MergeClause(f"source.{OP} = '{DELETE}'", None)
        else:
            on_delete = MergeClause(f"source.{OP} = '{DELETE}'", {self.soft_delete: "true"})
        # a soft-delete mirror keeps every row it was told of, a deleted one flagged, however
        # the micro-batches fell (a row inserted and deleted in one batch included)
        insert_when = "" if self.soft_delete is not None else f"source.{OP} = '{UPSERT}'"
        return self.store.merge_rows(
            self.ref,
            rows,
            self.key,
            commit,
            [on_delete, MergeClause(None, updates)],
            insert_when,
            columns=data,
            nullable_keys=False,
        )

    def _fill_moved(self, rows: pa.Table) -> pa.Table:
        """Take the kept values of rows an update moved to another key from the mirror's
        rows at their old keys (a TOASTed value unchanged by a key update is not sent), and
        drop the `FROM_PREFIX` columns."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        origin = [FROM_PREFIX + k for k in self.key]
        if origin[0] not in rows.column_names:
            return rows
        moved = [
            (i, key)
            for i, key in enumerate(zip(*(rows.column(c).to_pylist() for c in origin), strict=True))
            if key[0] is not None
        ]
        keeps = [c for c in rows.column_names if c.startswith(KEEP_PREFIX)]
        rows = rows.drop_columns(origin)
        if not moved or not keeps or not self.store.exists(self.ref):
            return rows
        kept = [c[len(KEEP_PREFIX) :] for c in keeps]
        wanted = None
        for j, name in enumerate(self.key):
            values = pa.array([key[j] for _, key in moved], rows.schema.field(name).type)
            test = ds.field(name).isin(values)
            wanted = test if wanted is None else wanted & test
        source = self.store.arrow_dataset(self.store.snapshot(self.ref))
        if isinstance(source, ds.Dataset):
            found = source.to_table(columns=[*self.key, *kept], filter=wanted)
        else:
            found = source.to_table().select([*self.key, *kept]).filter(wanted)
        found_keys = zip(*(found.column(k).to_pylist() for k in self.key), strict=True)
        at = {key: n for n, key in enumerate(found_keys)}
        index: list[int | None] = [None] * rows.num_rows
        for i, key in moved:
            index[i] = at.get(tuple(key))
        taken = pa.array(index, pa.int64())
        hit = pc.is_valid(taken)
        for name, flag in zip(kept, keeps, strict=True):
            use = pc.and_(rows.column(flag), hit)
            value = pc.if_else(use, found.column(name).take(taken), rows.column(name))
            rows = rows.set_column(rows.schema.get_field_index(name), name, value)
            rows = rows.set_column(
                rows.schema.get_field_index(flag), flag, pc.and_(rows.column(flag), pc.invert(hit))
            )
        return rows

    def _after_truncate(self, rows: pa.Table, data: list[str], commit: CommitInfo) -> int:
        """The batch truncated the table: its content is the rows upserted after that."""
        import pyarrow.compute as pc

        kept = rows.filter(pc.equal(rows.column(OP), UPSERT)).select(data)
        if self.soft_delete is not None and self.store.exists(self.ref):
            # a soft-delete mirror keeps the truncated rows, flagged
            import pyarrow as pa

            current = self.store.arrow_dataset(self.store.snapshot(self.ref)).to_table()
            flagged = current.set_column(
                current.schema.get_field_index(self.soft_delete),
                self.soft_delete,
                pa.array([True] * current.num_rows, pa.bool_()),
            )
            keys = {
                tuple(r) for r in zip(*(kept.column(k).to_pylist() for k in self.key), strict=True)
            }
            stale = [
                i
                for i, r in enumerate(
                    zip(*(flagged.column(k).to_pylist() for k in self.key), strict=True)
                )
                if tuple(r) not in keys
            ]
            kept = pa.concat_tables(
                [flagged.take(stale).select(kept.column_names), kept], promote_options="permissive"
            )
        files = self._write(self.ref, kept) if kept.num_rows else []
        return self.store.commit_files(self.ref, files, kept.schema, "overwrite", commit)

    def append_log(self, rows: pa.Table, position: int) -> int | None:
        """Append a batch's changes (`rows`, the change log's columns) to the change log."""
        if self.changelog is None:
            return None
        files = self._write(self.changelog, rows) if rows.num_rows else []
        return self.store.commit_files(
            self.changelog, files, rows.schema, "append", self.log_commit(position)
        )

    def log_commit(self, position: int) -> CommitInfo:
        """The commit of the change log's rows up to `position`."""
        return CommitInfo(
            run_id=self.run_id,
            operation="CDC CHANGES",
            app_id=self.app_id,
            app_version=position,
            extra={"headwater.cdc.position": str(position)},
        )

    def _commit(
        self, operation: str, position: int, generation: str | None, commit_us: int | None
    ) -> CommitInfo:
        state: dict[str, Any] = {"position": position, "generation": generation}
        if commit_us is not None:
            state["commit_us"] = commit_us
        return CommitInfo(
            run_id=self.run_id,
            operation=operation,
            app_id=self.app_id,
            app_version=position,
            extra={**encode_state({"cdc": state}), "headwater.cdc.position": str(position)},
        )

    def _write(self, target: TableRef, rows: pa.Table) -> list[WrittenFile]:
        import pyarrow.parquet as pq

        folder = self.store.new_file_dir(target, self.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{os.urandom(6).hex()}.parquet"
        pq.write_table(rows, path, compression="zstd")
        return [WrittenFile(str(path))]


def describe_state(state: MirrorState) -> str:
    """The state as JSON, for logs and status output."""
    return json.dumps(
        {"position": state.position, "generation": state.generation, "commit_us": state.commit_us}
    )
