"""Capture a PostgreSQL source's `mode: cdc` tables into their Delta mirrors.

The order of things is what makes the mirrors exact across crashes:

1. the publication lists the tables; the slot exists (created with an exported snapshot the
   first time, its consistent point recorded in `slot.json` beside the mirrors);
2. each mirror not yet copied for this slot is copied in a snapshot (the slot's own, or a
   temporary slot's for a table added later) and committed at that snapshot's consistent
   point;
3. whole transactions are read from the slot; each table's changes are collapsed per key and
   applied when the transaction commits at or after the mirror's position; a micro-batch is
   one commit per touched table (change log first, then the mirror), each carrying the LSN
   just past the batch's last transaction;
4. only then is the slot told that position (`acknowledge`), so PostgreSQL keeps the WAL of
   every change a mirror may still lack.
"""

from __future__ import annotations

import gc
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import redact, resolve
from headwater.errors import CdcError, Location, TransientError
from headwater.ingest.cdc import pgoutput
from headwater.ingest.cdc.changes import (
    DELETE_OP,
    INSERT_OP,
    READ_OP,
    TRUNCATE_OP,
    UNCHANGED,
    UPDATE_OP,
    LoggedChange,
    TableChanges,
)
from headwater.ingest.cdc.pgtypes import PgColumn, conversion_sql, mirror_column
from headwater.ingest.cdc.postgres import (
    MirroredTable,
    PostgresCapture,
    first_error_line,
    relation_columns,
)
from headwater.ingest.pipe import through_pipe
from headwater.project.sources import CHANGELOG_SUFFIX, SourceConfig, SourceTable
from headwater.project.strict import duration_seconds
from headwater.sqltext import identifier, literal
from headwater.storage.base import TableRef, TableStore
from headwater.stream.cdc.committer import BackgroundCommitter
from headwater.stream.cdc.mirror import (
    CHANGELOG_COLUMNS,
    FROM_PREFIX,
    KEEP_PREFIX,
    LOG_LSN,
    LOG_OP,
    LOG_SEQ,
    LOG_TIME,
    LOG_UNCHANGED,
    OP,
    Mirror,
)
from headwater.stream.checkpoint import write_atomically

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession

SLOT_FILE = "slot.json"
SCRATCH = "scratch"
"""The capture folder's scratch space (the named pipes of the first copy), emptied at start."""
IDLE_ACK_S = 10.0
"""While no change of the captured tables comes, how often the slot is told it may move on."""
FULL_COLLECTION_EVERY = 20
"""Batches between two full garbage collections while the collector is paused."""
CDC_FOLDER = "_cdc"
"""The warehouse folder holding each capture's `slot.json` (and its run lock)."""


def capture_folder(store: TableStore, source: str) -> Path:
    """Where the capture of source `source` keeps its files, beside the mirrors."""
    return store.warehouse / CDC_FOLDER / source


def default_slot(source: str) -> str:
    """The slot (and publication) name of source `source` unless its YAML names one."""
    return f"headwater_{source}".lower()[:63]


@dataclass
class BatchReport:
    """What one applied micro-batch did."""

    transactions: int
    changes: int
    position: int
    """The LSN just past the batch's last transaction (acknowledged to the slot)."""
    commit_us: int | None
    tables: dict[str, int]
    """Collapsed rows applied per mirror (asset key)."""
    seconds: float


@dataclass
class CaptureSummary:
    """What a run of a capture did."""

    snapshots: dict[str, int] = field(default_factory=dict)
    """Rows copied per mirror copied in this run."""
    batches: int = 0
    transactions: int = 0
    changes: int = 0
    position: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    """Collapsed rows applied per mirror (asset key), over every batch."""
    last: BatchReport | None = None

    def add(self, report: BatchReport) -> None:
        """Count `report` in."""
        for key, count in report.tables.items():
            self.rows[key] = self.rows.get(key, 0) + count
        self.batches += 1
        self.transactions += report.transactions
        self.changes += report.changes
        self.position = report.position
        self.last = report


@dataclass
class _Table:
    """One captured table while the capture runs."""

    spec: SourceTable
    key: str
    """The asset key (`shop.orders`)."""
    described: MirroredTable
    mirror: Mirror
    columns: list[PgColumn]
    """The mirror's columns, in the order the source sends them."""
    take: list[int] | None = None
    """Positions of `columns` in the source's rows, when the source sends others too."""
    position: int | None = None
    log_position: int | None = None
    changes: TableChanges | None = None
    log: list[LoggedChange] = field(default_factory=list)
    missing_values: Callable[[list[str]], dict[str, str]] = lambda names: {}
    """The catalog's value for rows that existed before a column was added (by name)."""
    added_defaults: dict[str, bytes] = field(default_factory=dict)
    """Those values, for the changes the transaction adding the columns made before."""

    def pending(self) -> bool:
        return bool(self.changes is not None and self.changes.count) or bool(self.log)

    def fresh_changes(self) -> TableChanges:
        key = [i for i, c in enumerate(self.columns) if c.name in self.described.key]
        return TableChanges([c.name for c in self.columns], key)


class PostgresCaptureJob:
    """The capture of one PostgreSQL source."""

    def __init__(
        self,
        source_name: str,
        source: SourceConfig,
        specs: list[SourceTable],
        store: TableStore,
        session: EngineSession,
        run_id: str,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        self.name = source_name
        self.source = source
        self.specs = specs
        self.store = store
        self.session = session
        self.run_id = run_id
        self.on_batch = on_batch
        self.where = Location(file=source.rel_path or f"sources/{source_name}.yml")
        self.slot = source.cdc.slot or default_slot(source_name)
        self.publication = source.cdc.publication or self.slot
        self.folder = capture_folder(store, source_name)
        self.url = _recordable_url(source.url or "")
        """The source's URL as written (secrets as `${VAR}`), recorded for dropping the slot
        once the source is gone."""
        self.capture = PostgresCapture(
            resolve(source.url or "", self.where, "url"),
            self.slot,
            self.publication,
            self.where,
            source.request_timeout,
        )
        self.tables: dict[tuple[str, str], _Table] = {}
        self.generation = ""
        self.summary = CaptureSummary()
        self._batch_txns = 0
        self._batch_changes = 0
        self._batch_end: int | None = None
        self._batch_commit_us: int | None = None
        self._batch_started = 0.0
        self._types: Any = None
        self._committer: BackgroundCommitter[BatchReport] = BackgroundCommitter(
            f"headwater-cdc-{source_name}"
        )
        self._acknowledged = 0
        self._idle_since = time.monotonic()
        self._recorded: dict[str, Any] = {}

    # -- start ------------------------------------------------------------------------------

    def run(self, until_caught_up: bool, stop: threading.Event | None = None) -> CaptureSummary:
        """Copy what needs copying, then apply the slot's changes micro-batch by micro-batch:
        until every change committed before the call is in the mirrors (`until_caught_up`),
        or until `stop` is set. Return what was done."""
        scratch = self.folder / SCRATCH
        shutil.rmtree(scratch, ignore_errors=True)  # a killed capture's pipes
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            with (
                _driver_errors(self.name, self.where),
                self.capture.connection() as connection,
                _collector_paused(),
            ):
                self._types = connection
                exported = self._prepare(connection)
                self._copy_missing(exported, scratch)
                target = self.capture.server_position() if until_caught_up else None
                self.capture.start()
                self._stream(target, stop)
        finally:
            try:
                self._committer.wait()  # never leave a commit running behind the caller
            finally:
                self.capture.close()
                self._types = None
                shutil.rmtree(scratch, ignore_errors=True)
        return self.summary

    def _prepare(self, connection: Any) -> tuple[int, str] | None:
        """Describe the tables, set the publication, find or create the slot; return the
        slot's exported snapshot when the slot is new."""
        for spec in self.specs:
            schema, name = _table_name(spec)
            described = self.capture.describe(connection, schema, name, spec.table.primary_key)
            ref = TableRef(spec.source_name, spec.name)
            changelog = (
                TableRef(spec.source_name, spec.name + CHANGELOG_SUFFIX)
                if spec.table.changelog
                else None
            )
            mirror = Mirror(
                self.store,
                ref,
                self.name,
                list(described.key),
                self.run_id,
                spec.table.delete_column,
                changelog,
            )
            self.tables[(schema, name)] = _Table(
                spec,
                ref.key,
                described,
                mirror,
                list(described.columns),
                missing_values=self._missing_values_of(schema, name),
            )
        self.capture.ensure_publication(connection, [t.described for t in self.tables.values()])
        recorded = self._recorded_slot()
        info = self.capture.slot_info(connection)
        if info is not None and recorded is None:
            raise CdcError(
                f"replication slot {self.slot} exists in the source database, but this project "
                "did not create it (another project, or a tool, reads it)",
                self.where,
                f"name another slot in the source's 'cdc: {{slot: ...}}', or, if the slot is "
                f"this project's and its warehouse was lost, drop it: headwater cdc reset "
                f"{self.name}",
            )
        if info is not None and recorded is not None and recorded.get("consistent_point") is None:
            # created by a capture killed before it recorded where the slot starts: nothing
            # was read from it, so it is made again
            self.capture.drop_slot(connection)
            info = None
        self.capture.open_replication()
        server, _ = self.capture.identify()
        if recorded is not None and recorded.get("server", server) != server:
            # LSNs are a server's own: another cluster's would be taken for positions the
            # mirrors already hold (or not), losing changes without a word
            raise CdcError(
                f"source {self.name} now points at another PostgreSQL server (or database) "
                f"than the one its slot {self.slot} was made on",
                self.where,
                f"copy every mirror again from this one: headwater cdc reset {self.name} (and "
                f"drop slot {self.slot} on the old server if it is still there)",
            )
        exported = None
        if info is None:
            recorded = {
                "slot": self.slot,
                "publication": self.publication,
                "server": server,
                "consistent_point": None,
                "url": self.url,
            }
            self._record_slot(recorded)
            consistent_point, snapshot = self.capture.create_slot()
            recorded["consistent_point"] = consistent_point
            self._record_slot(recorded)
            exported = (consistent_point, snapshot)
        assert recorded is not None
        self.generation = f"{self.slot}@{pgoutput.format_lsn(int(recorded['consistent_point']))}"
        self._recorded = recorded
        return exported

    def _missing_values_of(self, schema: str, name: str) -> Callable[[list[str]], dict[str, str]]:
        def missing(columns: list[str]) -> dict[str, str]:
            return self.capture.missing_values(self._types, schema, name, columns)

        return missing

    def _recorded_slot(self) -> dict[str, Any] | None:
        try:
            recorded: dict[str, Any] = json.loads((self.folder / SLOT_FILE).read_text())
        except (OSError, ValueError):
            return None
        return recorded if recorded.get("slot") == self.slot else None

    def _record_slot(self, recorded: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / SLOT_FILE, json.dumps(recorded).encode())

    # -- the initial copy -------------------------------------------------------------------

    def _copy_missing(self, exported: tuple[int, str] | None, scratch: Path) -> None:
        """Copy each mirror that holds nothing of this slot's generation, in one snapshot."""
        missing = []
        for table in self.tables.values():
            state = table.mirror.state()
            if state.position is None or state.generation != self.generation:
                missing.append(table)
            else:
                table.position = state.position
                table.log_position = table.mirror.log_position()
                schema = self.store.snapshot(table.mirror.ref).schema
                table.columns = _mirrored_columns(table.described, schema)
        if not missing:
            return
        if exported is not None:
            for table in missing:
                self._copy(table, *exported, scratch)
            return
        with self.capture.temporary_snapshot() as (consistent_point, snapshot):
            for table in missing:
                self._copy(table, consistent_point, snapshot, scratch)

    def _copy(self, table: _Table, position: int, snapshot: str, scratch: Path) -> None:
        described = table.described
        ref = table.mirror.ref
        stage = self.store.new_file_dir(ref, self.run_id)
        text_columns = (
            "{" + ", ".join(f"{literal(c.name)}: 'VARCHAR'" for c in described.columns) + "}"
        )

        def scan(path: Path) -> str:
            return (
                f"read_csv({literal(str(path))}, columns = {text_columns}, header = false, "
                "delim = ',', quote = '\"', escape = '\"', nullstr = '\\N', "
                "allow_quoted_nulls = false, auto_detect = false, max_line_size = 100000000, "
                "hive_partitioning = false)"
            )

        extra = (
            [f"false AS {identifier(table.spec.table.delete_column)}"]
            if table.spec.table.delete_column
            else []
        )

        def consume(path: Path) -> Any:
            converted = conversion_sql(list(described.columns), scan(path), [])
            if extra:
                converted = f"SELECT *, {', '.join(extra)} FROM ({converted})"
            return self.session.copy_parquet(converted, stage)

        written = through_pipe(
            scratch, lambda out: self.capture.copy_rows(snapshot, described, out), consume
        )
        if table.mirror.changelog is not None:
            self._log_snapshot(table, written.files, written.schema, position)
        table.mirror.replace(written.files, written.schema, position, self.generation)
        table.position = position
        table.log_position = position
        table.columns = list(described.columns)
        self.summary.snapshots[table.key] = written.rows

    def _log_snapshot(
        self, table: _Table, files: list[Any], schema: pa.Schema, position: int
    ) -> None:
        """The copied rows enter the change log as reads (`r`), before the mirror commits."""
        changelog = table.mirror.changelog
        assert changelog is not None
        data = [identifier(c.name) for c in table.columns]
        if files:
            scan = self.session.scan_parquet([f.path for f in files], hive_partitioning=False)
        else:  # an empty table: the change log starts empty, with its columns
            scan = f"_hw_cdc_empty_{abs(hash(table.key))}"
            self.session.register_arrow(scan, schema.empty_table())
        sql = (
            f"SELECT {literal(READ_OP)} AS {LOG_OP}, CAST({position} AS BIGINT) AS {LOG_LSN}, "
            f"CAST(NULL AS TIMESTAMPTZ) AS {LOG_TIME}, "
            f"CAST(row_number() OVER () - 1 AS BIGINT) AS {LOG_SEQ}, "
            f"CAST([] AS VARCHAR[]) AS {LOG_UNCHANGED}, {', '.join(data)} FROM {scan}"
        )
        written = self.session.copy_parquet(sql, self.store.new_file_dir(changelog, self.run_id))

        self.store.commit_files(
            changelog,
            written.files,
            written.schema,
            "overwrite",
            table.mirror.log_commit(position),
        )

    # -- streaming --------------------------------------------------------------------------

    def _stream(self, target: int | None, stop: threading.Event | None) -> None:
        config = self.source.cdc
        trigger = duration_seconds(config.trigger)
        while stop is None or not stop.is_set():
            room = max(1, config.batch_changes - self._batch_changes)
            wait = trigger if target is None else 0.2
            for transaction in self.capture.read(room, wait):
                self._take(transaction)
            if self._batch_changes >= config.batch_changes or (
                # running continuously, a batch goes as soon as the previous commit is done
                # (or once it is `trigger` old): latency is then about one merge, not a
                # trigger plus the merge in flight plus its own
                target is None
                and self._batch_end is not None
                and (not self._committer.busy or time.monotonic() - self._batch_started >= trigger)
            ):
                self._flush()
            elif self._committer.busy and self._batch_end is None:
                self._settle()
            if target is not None and self.capture.caught_up(target):
                break
            if target is None and self._batch_end is None:
                self._acknowledge_idle(every=IDLE_ACK_S)
        self._flush(wait=True)
        self._acknowledge_idle(every=0.0)

    def _acknowledge_idle(self, every: float) -> None:
        """With every change received applied, let the slot move up to the server's WAL end
        (writes to other tables and databases would otherwise keep WAL for it forever). The
        position is recorded in `slot.json` first, so that what the slot was told is known."""
        if self._batch_end is not None or self._committer.busy:
            self._idle_since = time.monotonic()
            return
        if time.monotonic() - self._idle_since < every:
            return
        self._idle_since = time.monotonic()
        position = self.capture.idle_position()
        if position is None or position <= self._acknowledged:
            return
        self._recorded["acknowledged"] = position
        self._record_slot(self._recorded)
        self.capture.acknowledge(position)
        self._acknowledged = position

    def _take(self, transaction: Any) -> None:
        """Add a whole transaction to the micro-batch (applying the batch first when the
        transaction changes the shape of a table the batch holds changes of)."""
        self._check_relations(transaction)
        if self._batch_end is None:
            self._batch_started = time.monotonic()
        commit_lsn, commit_us = transaction.commit_lsn, transaction.commit_us
        seq = 0
        for message in transaction.messages:
            if isinstance(message, pgoutput.Relation):
                self._relation(message)
                continue
            if isinstance(message, pgoutput.Truncate):
                self._truncate(message, commit_lsn, commit_us, seq)
                seq += 1
                continue
            if not isinstance(message, pgoutput.Insert | pgoutput.Update | pgoutput.Delete):
                continue
            table = self._table_of(message.relation_oid)
            if table is None:
                continue
            to_mirror = table.position is None or commit_lsn >= table.position
            to_log = table.mirror.changelog is not None and (
                table.log_position is None or commit_lsn >= table.log_position
            )
            if to_mirror or to_log:
                self._change(table, message, to_mirror, to_log, commit_lsn, commit_us, seq)
            seq += 1
        self._batch_txns += 1
        self._batch_changes += transaction.changes
        self._batch_end = transaction.end_lsn
        self._batch_commit_us = commit_us

    def _table_of(self, oid: int) -> _Table | None:
        relation = self.capture.relations.get(oid)
        if relation is None:
            return None
        return self.tables.get((relation.namespace, relation.name))

    def _change(
        self,
        table: _Table,
        message: pgoutput.Insert | pgoutput.Update | pgoutput.Delete,
        to_mirror: bool,
        to_log: bool,
        commit_lsn: int,
        commit_us: int,
        seq: int,
    ) -> None:
        take = table.take
        if table.changes is None:
            table.changes = table.fresh_changes()
        changes = table.changes
        if isinstance(message, pgoutput.Insert):
            new = _taken(message.new, take)
            if to_mirror:
                changes.upsert(new)
            op = INSERT_OP
        elif isinstance(message, pgoutput.Update):
            new = _taken(message.new, take)
            old = _taken(message.old, take) if message.old is not None else None
            if old is not None and not message.old_is_key:
                # REPLICA IDENTITY FULL sends the whole old row: it fills what was not sent
                new = tuple(o if n is UNCHANGED else n for n, o in zip(new, old, strict=True))
            if to_mirror:
                if old is not None and changes.key_of(old) != changes.key_of(new):
                    changes.update_key(old, new)
                else:
                    changes.upsert(new)
            op = UPDATE_OP
        else:
            new = _taken(message.old, take)
            if to_mirror:
                changes.delete(new)
            op = DELETE_OP
        if to_log:
            table.log.append(LoggedChange(op, commit_lsn, commit_us, seq, new))

    def _truncate(
        self, message: pgoutput.Truncate, commit_lsn: int, commit_us: int, seq: int
    ) -> None:
        for oid in message.relation_oids:
            table = self._table_of(oid)
            if table is None:
                continue
            if table.position is not None and commit_lsn < table.position:
                continue
            setting = table.spec.table.on_truncate
            if setting == "ignore":
                continue
            if table.changes is None:
                table.changes = table.fresh_changes()
            table.changes.truncate()
            if table.mirror.changelog is not None and (
                table.log_position is None or commit_lsn >= table.log_position
            ):
                empty = tuple(None for _ in table.columns)
                table.log.append(LoggedChange(TRUNCATE_OP, commit_lsn, commit_us, seq, empty))

    def _check_relations(self, transaction: Any) -> None:
        """Before a transaction is taken: refuse what cannot be applied (a guarded truncate,
        a frozen schema, a changed column type) after applying everything before it, and
        apply the batch when the transaction changes the shape of a table it holds."""
        for message in transaction.messages:
            if isinstance(message, pgoutput.Truncate):
                for oid in message.relation_oids:
                    table = self._table_of(oid)
                    if table is None or table.spec.table.on_truncate != "fail":
                        continue
                    if table.position is not None and transaction.commit_lsn < table.position:
                        continue
                    self._flush(wait=True)
                    raise CdcError(
                        f"{table.key}: the source table was truncated (at LSN "
                        f"{pgoutput.format_lsn(transaction.commit_lsn)}); the mirror was left "
                        "as it was before, and nothing after the truncate was applied",
                        self.where,
                        f"set 'on_truncate: apply' on table {table.spec.name} to empty the "
                        "mirror too (or 'ignore' to keep its rows), then run again",
                    )
            if not isinstance(message, pgoutput.Relation):
                continue
            table = self.tables.get((message.namespace, message.name))
            if table is None:
                continue
            columns = relation_columns(message, self._type_names)
            if not _shape_change(table, columns):
                continue
            problem = _refusal(table, columns)
            added = _added_with_default(table, columns)
            if problem is not None or table.pending() or added:
                self._flush(wait=problem is not None or bool(added))
            if problem is not None:
                raise problem
            if added:
                self._backfill(table, columns, added)
                table.added_defaults = {k: v.encode() for k, v in added.items()}

    def _relation(self, message: pgoutput.Relation) -> None:
        table = self.tables.get((message.namespace, message.name))
        if table is None:
            return
        columns = relation_columns(message, self._type_names)
        if _shape_change(table, columns):
            before = [c.name for c in table.columns]
            table.columns, table.take = _layout(table, columns)
            _relayout(table, before, table.added_defaults)
            table.added_defaults = {}

    def _backfill(
        self, table: _Table, columns: tuple[PgColumn, ...], added: dict[str, str]
    ) -> None:
        """Give the mirror's rows the value PostgreSQL shows for columns added with a
        default (`ADD COLUMN ... DEFAULT`): the server keeps that value in its catalog for the
        rows it already had and logs no change for them."""
        by_name = {c.name: c for c in columns}
        values = {name: by_name[name].convert(literal(text)) for name, text in added.items()}
        table.mirror.add_columns(self.session, values)

    def _type_names(self, oids: list[int]) -> dict[int, tuple[str, str, int]]:
        return self.capture.type_names(self._types, oids)

    # -- applying a micro-batch -------------------------------------------------------------

    def _flush(self, wait: bool = False) -> None:
        """Hand the micro-batch to the background commit (after the previous one finished,
        and acknowledging it), and with `wait` see this one through as well."""
        if self._batch_end is None:
            if wait:
                self._settle()
            return
        started = time.monotonic()
        position, commit_us = self._batch_end, self._batch_commit_us
        # each table's changes with the columns they were made with: converting them is left
        # to the background commit too (the engine session is used by one thread at a time:
        # this one touches it again only after `_settle`)
        work: list[tuple[_Table, list[PgColumn], list[LoggedChange], TableChanges | None]] = []
        for table in self.tables.values():
            changes = table.changes if table.changes is not None and table.changes.count else None
            if table.log or changes is not None:
                work.append((table, list(table.columns), table.log, changes))
            table.log = []
            table.changes = None
        transactions, count = self._batch_txns, self._batch_changes
        self._batch_txns = self._batch_changes = 0
        self._batch_end = self._batch_commit_us = None
        self._settle()

        def commit() -> BatchReport:
            applied: dict[str, int] = {}
            for table, columns, log, changes in work:
                if log:
                    table.mirror.append_log(self._log_rows(table, columns, log), position)
                if changes is not None:
                    rows = self._typed(table, columns, changes)
                    table.mirror.apply(changes, rows, position, self.generation, commit_us)
                    applied[table.key] = len(changes.rows)
                    table.mirror.compact_if_due(self.source.cdc.compact_every)
            return BatchReport(
                transactions, count, position, commit_us, applied, time.monotonic() - started
            )

        self._committer.submit(commit)
        if wait:
            self._settle()

    def _settle(self) -> None:
        """Wait for the background commit, then acknowledge its position to the slot: only
        now does PostgreSQL learn that the mirrors hold it."""
        report = self._committer.wait(tick=self.capture.keepalive)
        if report is None:
            return
        for table in self.tables.values():
            if table.key in report.tables:
                table.position = report.position
            if table.mirror.changelog is not None:
                table.log_position = max(table.log_position or 0, report.position)
        self.capture.acknowledge(report.position)
        self._acknowledged = max(self._acknowledged, report.position)
        # the collector is paused (see _collector_paused): young objects after each batch,
        # everything now and then for whatever else the process runs
        gc.collect(2 if self.summary.batches % FULL_COLLECTION_EVERY == 0 else 1)
        self.summary.add(report)
        if self.on_batch is not None:
            self.on_batch(report)

    def _typed(self, table: _Table, columns: list[PgColumn], changes: TableChanges) -> pa.Table:
        """The collapsed changes (made with `columns`) with the mirror's types, converted by
        the engine."""
        import pyarrow as pa

        values, ops, keep = changes.column_values()
        raw: dict[str, Any] = {}
        flags: list[str] = []
        for column, column_values, column_keep in zip(columns, values, keep, strict=True):
            raw[column.name] = _text_array(column_values)
            if any(column_keep):
                flag = KEEP_PREFIX + column.name
                raw[flag] = pa.array(column_keep, pa.bool_())
                flags.append(flag)
        raw[OP] = pa.array(ops, pa.string())
        converted = list(columns)
        origins = changes.origins()
        if flags and any(o is not None for o in origins):
            # rows an update moved to another key: their kept values are at the old key
            for j, i in enumerate(changes.key):
                moved_from = replace(columns[i], name=FROM_PREFIX + columns[i].name)
                raw[moved_from.name] = _text_array([o and o[j] for o in origins])
                converted.append(moved_from)
        name = f"_hw_cdc_{abs(hash(table.key))}"
        self.session.register_arrow(name, pa.table(raw))
        return self.session.query(conversion_sql(converted, name, [OP, *flags]))

    def _log_rows(
        self, table: _Table, columns: list[PgColumn], log: list[LoggedChange]
    ) -> pa.Table:
        """The batch's logged changes of `table` (made with `columns`) as change log rows."""
        import pyarrow as pa

        width = len(columns)
        raw: dict[str, Any] = {}
        for i, column in enumerate(columns):
            raw[column.name] = _text_array(
                [None if e.values[i] is UNCHANGED else e.values[i] for e in log] if width else []
            )
        unchanged = [
            [columns[i].name for i, v in enumerate(e.values) if v is UNCHANGED] for e in log
        ]
        raw[LOG_OP] = pa.array([e.op for e in log], pa.string())
        raw[LOG_LSN] = pa.array([e.position for e in log], pa.int64())
        raw[LOG_TIME] = pa.array([e.commit_us for e in log], pa.timestamp("us", tz="UTC"))
        raw[LOG_SEQ] = pa.array([e.seq for e in log], pa.int64())
        raw[LOG_UNCHANGED] = pa.array(unchanged, pa.list_(pa.string()))
        name = f"_hw_cdc_log_{abs(hash(table.key))}"
        self.session.register_arrow(name, pa.table(raw))
        converted = conversion_sql(columns, name, list(CHANGELOG_COLUMNS))
        ordered = [identifier(c) for c in (*CHANGELOG_COLUMNS, *(c.name for c in columns))]
        return self.session.query(f"SELECT {', '.join(ordered)} FROM ({converted})")


@contextmanager
def _driver_errors(source: str, where: Location) -> Iterator[None]:
    """Say what a database driver's error means instead of letting it through raw: a lost
    connection or server trouble may pass on a retry, a missing privilege will not."""
    import psycopg
    import psycopg2

    try:
        yield
    except (psycopg.Error, psycopg2.Error) as exc:
        message = redact(first_error_line(exc))
        privilege = isinstance(exc, psycopg.errors.InsufficientPrivilege) or (
            getattr(exc, "pgcode", None) == "42501"
        )
        if privilege:
            raise CdcError(
                f"capture of {source}: PostgreSQL refused: {message}",
                where,
                "grant the source's user what docs/cdc.md lists (REPLICATION, SELECT on the "
                "tables, ownership of them or a publication made by a superuser)",
            ) from None
        raise TransientError(
            f"capture of {source}: PostgreSQL failed: {message}",
            where,
            "check that the server is up and runs with wal_level=logical, then run again: "
            "the capture resumes where its mirrors stand",
        ) from None


def _recordable_url(url: str) -> str:
    """`url` as it may be written to `slot.json`: a password written in it literally (not as a
    `${VAR}`) is left out, so the file holds no secret (dropping the slot of a removed source
    then needs the password in the URL as `${VAR}`)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if not parts.password or parts.password.startswith("${"):
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a capture runs.

    A batch holds a few hundred thousand rows as tuples and lists; every collection of the
    oldest generation walks all of them, which cost about 40 % of collapsing time. They hold
    no reference cycles, so reference counting frees them; a young collection runs after
    each batch for anything else.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _taken(values: tuple[Any, ...], take: list[int] | None) -> tuple[Any, ...]:
    return values if take is None else tuple(values[i] for i in take)


def _text_array(values: list[Any]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.binary()).cast(pa.string())


def _layout(
    table: _Table, columns: tuple[PgColumn, ...]
) -> tuple[list[PgColumn], list[int] | None]:
    """The mirror's columns once the source has `columns`, and where each is in the source's
    rows (None: in the same places). New columns join the mirror at its end under `evolve`
    and are left out under `discard_column`; a dropped column stays in the mirror (NULL in
    rows written from then on)."""
    known = {c.name for c in table.columns}
    kept = [c for c in columns if c.name in known]
    if table.spec.contract != "discard_column":
        kept += [c for c in columns if c.name not in known]
    names = [c.name for c in columns]
    order = [names.index(c.name) for c in kept]
    return kept, None if order == list(range(len(names))) else order


def _mirrored_columns(described: MirroredTable, schema: pa.Schema) -> list[PgColumn]:
    """The source's columns as the mirror (`schema`) holds them: those it has, with its
    types. The transactions still to stream may predate a change of the table that the
    catalog already shows: their relation messages compare with what the mirror holds, so
    that a column added or retyped since is seen where it happened."""
    held = {f.name: f.type for f in schema}
    columns = []
    for column in described.columns:
        if column.name not in held:
            continue
        mirrored = mirror_column(column.name, held[column.name]) or column
        retyped = mirrored.duckdb_type != column.duckdb_type
        columns.append(replace(mirrored, in_key=column.in_key) if retyped else column)
    return columns


def _relayout(table: _Table, before: list[str], defaults: dict[str, bytes]) -> None:
    """Carry the changes taken before the table's shape changed (earlier in the same
    transaction: the batch was applied before it) over to its new columns; a column new to
    them holds the default PostgreSQL gave the rows that existed when it was added
    (`defaults`, by name), else NULL."""
    at = {name: i for i, name in enumerate(before)}
    order = [(at.get(c.name), defaults.get(c.name)) for c in table.columns]

    def moved(values: Any) -> tuple[Any, ...]:
        return tuple(default if i is None else values[i] for i, default in order)

    table.log = [replace(e, values=moved(e.values)) for e in table.log]
    old = table.changes
    if old is None:
        return
    table.changes = table.fresh_changes()
    table.changes.truncated, table.changes.count = old.truncated, old.count
    for key, (op, values) in old.rows.items():
        row = moved(values)
        new_key = table.changes.key_of(row)
        table.changes.rows[new_key] = (op, list(row))
        if key in old.moved:
            table.changes.moved[new_key] = old.moved[key]


def _added_with_default(table: _Table, columns: tuple[PgColumn, ...]) -> dict[str, str]:
    """The columns `columns` add to the mirror that the source filled for its existing rows
    without logging it (a default kept in the catalog), with that value's text."""
    if table.spec.contract == "discard_column":
        return {}
    known = {c.name for c in table.columns}
    new = [c.name for c in columns if c.name not in known]
    if not new or table.mirror.state().position is None:
        return {}
    return table.missing_values(new)


def _shape_change(table: _Table, columns: tuple[PgColumn, ...]) -> bool:
    """True when the source's `columns` change what the mirror takes from its rows."""
    kept, take = _layout(table, columns)
    same = [(c.name, c.duckdb_type) for c in kept] == [
        (c.name, c.duckdb_type) for c in table.columns
    ]
    return not same or take != table.take


def _refusal(table: _Table, columns: tuple[PgColumn, ...]) -> CdcError | None:
    """Why the source's new columns cannot reach the mirror (None: they can)."""
    before = {c.name: c for c in table.columns}
    for column in columns:
        known = before.get(column.name)
        if known is not None and known.duckdb_type != column.duckdb_type:
            return CdcError(
                f"{table.key}: column {column.name} changed type at the source, from "
                f"{known.duckdb_type} to {column.duckdb_type}; a Delta column keeps its type",
                Location(file=table.spec.rel_path, asset=table.key),
                f"copy the table again: headwater cdc reset {table.spec.source_name}",
            )
    if table.spec.contract == "freeze":
        added = [c.name for c in columns if c.name not in before]
        now = {c.name for c in columns}
        dropped = [name for name in before if name not in now]
        what = (
            f"gained column(s) {', '.join(added)}"
            if added
            else f"lost column(s) {', '.join(dropped)}"
        )
        return CdcError(
            f"{table.key}: the source table {what} and its contract is 'freeze'; nothing "
            "after that change was applied",
            Location(file=table.spec.rel_path, asset=table.key),
            "set contract 'evolve' (add them to the mirror) or 'discard_column' (leave them "
            "out), then run again",
        )
    return None


def _table_name(spec: SourceTable) -> tuple[str, str]:
    name = spec.table.table or spec.name
    if "." in name:
        schema, _, table = name.partition(".")
        return schema, table
    return spec.source.schema_name or "public", name
