"""Apply a debezium source's change events (from Kafka topics or a folder) to its mirrors.

Events are read through the event sources streams use (`cdc.events`), routed to a table by
their `source` block (or their topic, `<prefix>.<schema>.<table>`), decoded, collapsed per key
and merged into each table's Delta mirror exactly as a PostgreSQL capture applies its
transactions (`Mirror`, `TableChanges`). What makes it exact across crashes:

1. a micro-batch is what the source's polls returned since the last checkpoint; it is
   committed to every touched table (quarantine, change log, mirror), each commit numbered
   with a batch number never used before (the app transaction's version, so a commit never
   lands twice) and carrying `marks`: the last offset read in each partition (a topic
   partition, a file) since the checkpoint;
2. only then is the checkpoint (`positions.json` beside the mirrors: the source's positions
   and the batch number) replaced, atomically, and the source acknowledged;
3. a capture restarted after a crash reads again from the checkpoint. A table committed after
   it skips the events its marks cover, so neither its mirror nor its change log (nor a
   quarantine) takes an event twice; marks a restarted capture has not read past yet are kept
   in the checkpoint until it has.

Debezium events carry whole after-images, so a mirror would also converge on its own; the
marks keep the append-only change log and quarantine free of duplicates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import CdcError, Location
from headwater.ingest.cdc.changes import (
    DELETE_OP,
    TRUNCATE_OP,
    UNCHANGED,
    UPDATE_OP,
    TableChanges,
)
from headwater.ingest.cdc.debezium import (
    MESSAGE_OP,
    BadEvent,
    DebeziumEvent,
    converter,
    decode_event,
    infer_type,
    key_fields,
)
from headwater.ingest.event_sources import (
    KEY,
    OFFSET,
    PARTITION,
    PAYLOAD,
    TOPIC,
    EventSource,
    Positions,
    SourceContext,
    event_source_for,
)
from headwater.ingest.state import STATE_KEY, committed_state, encode_state
from headwater.project.sources import CHANGELOG_SUFFIX, SourceConfig, SourceTable
from headwater.project.streams import KafkaSource
from headwater.project.strict import duration_seconds
from headwater.storage.base import CommitInfo, TableRef, TableStore, WrittenFile
from headwater.storage.companions import quarantine_ref, quarantine_schema
from headwater.stream.cdc.mirror import (
    KEEP_PREFIX,
    LOG_LSN,
    LOG_OP,
    LOG_SEQ,
    LOG_TIME,
    LOG_UNCHANGED,
    OP,
    Mirror,
    cdc_app_id,
)
from headwater.stream.cdc.postgres_job import BatchReport, CaptureSummary, capture_folder
from headwater.stream.checkpoint import write_atomically

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession

CHECKPOINT_FILE = "positions.json"
UNROUTED = "_events"
"""Events no table can be told for (not JSON, from a folder) go to the quarantine of
`<source>._events`."""
EVENT_KINDS = ("kafka", "folder")
MARKS = "marks"
_LOG = logging.getLogger(__name__)

Marks = dict[str, int]
"""The last offset read per partition (`topic/0`, or a file of the folder)."""
Decode = Callable[[Any], Any]


@dataclass
class _Checkpoint:
    batch: int
    positions: Positions | None
    skip: dict[str, Marks] = field(default_factory=dict)
    """Per table (key): marks of events it holds past `positions` (a crashed run's)."""


@dataclass
class _Target:
    """A table a batch commits to (mirror, change log, quarantine): what it already holds
    past the checkpoint, so a replayed event is not taken twice."""

    ref: TableRef
    skip: Marks = field(default_factory=dict)

    def takes(self, partition: str, offset: int) -> bool:
        """Whether the event at (`partition`, `offset`) is new to this table."""
        held = self.skip.get(partition)
        return held is None or offset > held


@dataclass
class _Column:
    name: str
    type: pa.DataType | None
    """The mirror's type (None: only nulls seen so far, no schema, not declared)."""
    convert: Decode | None


@dataclass
class _Logged:
    op: str
    position: int | None
    ts_us: int | None
    seq: int
    values: tuple[Any, ...]


@dataclass
class _Table:
    """One captured table while the capture runs."""

    spec: SourceTable
    key: str
    mirror: _MarkedMirror
    target: _Target
    log_target: _Target | None
    quarantine: _Target
    declared: dict[str, pa.DataType]
    columns: list[_Column] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    discarded: set[str] = field(default_factory=set)
    changes: TableChanges | None = None
    log: list[_Logged] = field(default_factory=list)
    commit_us: int | None = None

    def add_column(self, column: _Column) -> None:
        self.index[column.name] = len(self.columns)
        self.columns.append(column)
        if self.changes is not None:
            # rows collapsed before the column showed up did not have it: NULL
            self.changes.columns.append(column.name)
            for _, row in self.changes.rows.values():
                row.append(None)

    def fresh_changes(self) -> TableChanges:
        key = [self.index[name] for name in self.mirror.key]
        return TableChanges([c.name for c in self.columns], key)


class _MarkedMirror(Mirror):
    """A mirror whose commits (and change log commits) also carry the batch's marks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marks: Marks = {}
        """Set before each commit: the events the commit holds (with those it held)."""

    def _commit(
        self, operation: str, position: int, generation: str | None, commit_us: int | None
    ) -> CommitInfo:
        return _with_marks(super()._commit(operation, position, generation, commit_us), self.marks)

    def log_commit(self, position: int) -> CommitInfo:
        """The change log's commit up to batch `position`, with the batch's marks."""
        return _with_marks(super().log_commit(position), self.marks)


def _with_marks(commit: CommitInfo, marks: Marks) -> CommitInfo:
    state: dict[str, Any] = json.loads(commit.extra.get(STATE_KEY, "{}"))
    state.setdefault("cdc", {})[MARKS] = marks
    return dataclasses.replace(commit, extra={**commit.extra, **encode_state(state)})


class DebeziumCaptureJob:
    """The capture of one debezium source."""

    def __init__(
        self,
        source_name: str,
        config: SourceConfig,
        specs: list[SourceTable],
        store: TableStore,
        session: EngineSession,
        run_id: str,
        project_root: Path,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        self.name = source_name
        self.config = config
        self.specs = specs
        self.store = store
        self.session = session
        self.run_id = run_id
        self.project_root = project_root
        self.on_batch = on_batch
        self.where = Location(file=config.rel_path or f"sources/{source_name}.yml")
        self.folder = capture_folder(store, source_name)
        self.app_id = cdc_app_id(source_name)
        events = config.cdc.events
        if events is None or events.kind not in EVENT_KINDS:
            raise CdcError(
                f"source {source_name}: debezium events are read from "
                f"{' or '.join(EVENT_KINDS)} (cdc.events.kind), not "
                f"{events.kind if events else 'nowhere'}",
                self.where,
                "set `cdc: {events: {kind: kafka, brokers: ..., topics: [...]}}` or "
                "`cdc: {events: {kind: folder, path: ...}}`",
            )
        self.events = events
        for spec in specs:
            if not spec.table.primary_key:
                raise CdcError(
                    f"{spec.source_name}.{spec.name}: a debezium table needs `primary_key` "
                    "(the columns changes are matched on in the mirror)",
                    Location(file=spec.rel_path, asset=f"{spec.source_name}.{spec.name}"),
                    f"add `primary_key: [...]` to table {spec.name} (the table's key in the "
                    "source database, as Debezium's message keys carry it)",
                )
        self.tables: list[_Table] = []
        self.routes: dict[str, _Table] = {}
        self.unrouted = _Target(quarantine_ref(TableRef(source_name, UNROUTED)))
        self.rejected: dict[str, tuple[_Target, list[dict[str, Any]]]] = {}
        """Quarantine rows of the batch, per quarantine table (key)."""
        self.summary = CaptureSummary()
        self.skipped = 0
        """Events of tables this source does not mirror (and logical messages)."""
        self.tombstones = 0
        self.quarantined = 0
        self._batch = 0
        """The last batch number used (by a commit or the checkpoint)."""
        self._read: Marks = {}
        """Marks of the events taken since the checkpoint."""
        self._reached: Marks = {}
        """The last offset read per partition in this run."""
        self._positions: Positions | None = None
        """The source's positions after the last poll, not yet checkpointed."""
        self._pending = 0
        self._changes = 0
        self._transactions: set[str] = set()
        self._untracked = 0
        self._started: float | None = None
        self._source: EventSource | None = None

    # -- running -----------------------------------------------------------------------------

    def run(self, until_caught_up: bool, stop: threading.Event | None = None) -> CaptureSummary:
        """Apply the source's change events micro-batch by micro-batch: until the event
        source holds no more (`until_caught_up`), or until `stop` is set. Return what was
        done."""
        checkpoint = self._read_checkpoint()
        self._prepare(checkpoint)
        source = event_source_for(self._context())
        self._source = source
        try:
            source.open(checkpoint.positions)
            if checkpoint.positions is None:
                # a new capture records where it starts before reading (a `start: latest`
                # resolved to exact offsets), so a restart never moves its start
                self._write_checkpoint(source.positions())
            self._stream(source, until_caught_up, stop)
        finally:
            self._source = None
            source.close()
        if self.skipped or self.tombstones or self.quarantined:
            _LOG.info(
                "capture of %s: %d events of other tables skipped, %d tombstones, "
                "%d events quarantined",
                self.name,
                self.skipped,
                self.tombstones,
                self.quarantined,
            )
        return self.summary

    def _stream(
        self, source: EventSource, until_caught_up: bool, stop: threading.Event | None
    ) -> None:
        settings = self.config.cdc
        trigger = duration_seconds(settings.trigger)
        wait = min(trigger, 0.2) if until_caught_up else trigger
        while stop is None or not stop.is_set():
            room = max(1, settings.batch_changes - self._pending)
            batch = source.poll(room, wait)
            if batch is not None and batch.events.num_rows:
                if self._started is None:
                    self._started = time.monotonic()
                self._take(batch.events)
                self._positions = batch.positions
            due = (
                not until_caught_up
                and self._started is not None
                and time.monotonic() - self._started >= trigger
            )
            if self._pending >= settings.batch_changes or due:
                self._flush()
            if until_caught_up and source.caught_up():
                break
        self._flush()

    def _context(self) -> SourceContext:
        from headwater.project.streams import StreamConfig

        stream = StreamConfig.model_validate(
            {
                "name": self.name,
                "namespace": self.name,
                "source": self.events,
                "trigger": self.config.cdc.trigger,
                "max_batch_events": self.config.cdc.batch_changes,
            }
        ).declared_in(self.config.rel_path or f"sources/{self.name}.yml")
        return SourceContext(
            stream=self.name,
            project_root=self.project_root,
            state_dir=self.folder / "events",
            config=stream,
            columns=frozenset({KEY, PARTITION, OFFSET, TOPIC}),
        )

    # -- start -------------------------------------------------------------------------------

    def _prepare(self, checkpoint: _Checkpoint) -> None:
        """Describe each table from its mirror, and load what each target holds past the
        checkpoint."""
        latest = checkpoint.batch
        for spec in self.specs:
            ref = TableRef(spec.source_name, spec.name)
            changelog = (
                TableRef(spec.source_name, spec.name + CHANGELOG_SUFFIX)
                if spec.table.changelog
                else None
            )
            mirror = _MarkedMirror(
                self.store,
                ref,
                self.name,
                list(spec.table.primary_key),
                self.run_id,
                spec.table.delete_column,
                changelog,
            )
            table = _Table(
                spec,
                ref.key,
                mirror,
                self._target(ref, checkpoint),
                self._target(changelog, checkpoint) if changelog else None,
                self._target(quarantine_ref(ref), checkpoint),
                self._declared(spec),
            )
            if self.store.exists(ref):
                schema = self.store.snapshot(ref).schema
                for column in schema:
                    if column.name != spec.table.delete_column:
                        table.add_column(_Column(column.name, column.type, converter(column.type)))
            if changelog is not None and not self.store.exists(changelog):
                # the change log is an asset of its own: it exists before the first change
                self._create(changelog, _log_schema(table.columns))
            self.tables.append(table)
            self.routes.setdefault(spec.table.table or spec.name, table)
            for target in (table.target, table.log_target, table.quarantine):
                if target is not None:
                    latest = max(latest, self.store.app_version(target.ref, self.app_id) or 0)
        self.unrouted = self._target(self.unrouted.ref, checkpoint)
        latest = max(latest, self.store.app_version(self.unrouted.ref, self.app_id) or 0)
        self._batch = latest

    def _target(self, ref: TableRef, checkpoint: _Checkpoint) -> _Target:
        """The table `ref` as a target: the marks of a commit it got after the checkpoint,
        and those the checkpoint kept for it."""
        skip = dict(checkpoint.skip.get(ref.key, {}))
        version = self.store.app_version(ref, self.app_id)
        if version is not None and version > checkpoint.batch:
            state = committed_state(self.store, ref).get("cdc") or {}
            for partition, offset in (state.get(MARKS) or {}).items():
                skip[partition] = max(int(offset), skip.get(partition, -1))
        return _Target(ref, skip)

    def _declared(self, spec: SourceTable) -> dict[str, pa.DataType]:
        """The Delta types of the table's declared `columns:`."""
        from sqlglot import exp

        declared: dict[str, pa.DataType] = {}
        for name, kind in spec.table.column_types.items():
            try:
                cast = exp.cast(exp.null(), exp.DataType.build(kind, dialect="duckdb"))
                select = exp.select(cast.as_("x")).sql(dialect="duckdb")
                declared[name] = self.session.schema(select).field("x").type
            except Exception as exc:  # sqlglot's or the engine's: the type is the cause
                raise CdcError(
                    f"{spec.source_name}.{spec.name}: column {name} is declared {kind!r}, "
                    f"which cannot type a mirror column ({exc})",
                    Location(file=spec.rel_path, asset=f"{spec.source_name}.{spec.name}"),
                    "declare a DuckDB type such as BIGINT, DECIMAL(12,2), TIMESTAMPTZ or VARCHAR",
                ) from None
        return declared

    # -- the checkpoint ----------------------------------------------------------------------

    def _signature(self) -> dict[str, Any]:
        """What the positions are positions in (other topics or another folder: not these)."""
        if isinstance(self.events, KafkaSource):
            return {"kind": "kafka", "topics": sorted(self.events.topic_names)}
        return {"kind": self.events.kind, "path": getattr(self.events, "path", None)}

    def _read_checkpoint(self) -> _Checkpoint:
        try:
            saved: dict[str, Any] = json.loads((self.folder / CHECKPOINT_FILE).read_text())
        except FileNotFoundError:
            return _Checkpoint(0, None)
        except (OSError, ValueError) as exc:
            raise CdcError(
                f"source {self.name}: the capture's checkpoint "
                f"{self.folder / CHECKPOINT_FILE} cannot be read ({exc})",
                self.where,
                "restore the file, or delete it to read the events again from the start "
                "(the mirrors converge; a change log would get the events again)",
            ) from None
        batch = int(saved.get("batch", 0))
        if saved.get("events") != self._signature():
            _LOG.warning(
                "capture of %s: the events now come from %s, not %s; reading from the start",
                self.name,
                self._signature(),
                saved.get("events"),
            )
            return _Checkpoint(batch, None)
        skip = {k: {p: int(o) for p, o in v.items()} for k, v in saved.get("skip", {}).items()}
        return _Checkpoint(batch, saved.get("positions"), skip)

    def _write_checkpoint(self, positions: Positions) -> None:
        """Replace the checkpoint (atomically): the positions to resume from, and the marks
        of events a table already holds that this run has not read past yet."""
        skip: dict[str, Marks] = {}
        targets = [self.unrouted]
        for table in self.tables:
            targets += [t for t in (table.target, table.log_target, table.quarantine) if t]
        for target in targets:
            target.skip = {p: o for p, o in target.skip.items() if self._reached.get(p, -1) < o}
            if target.skip:
                skip[target.ref.key] = target.skip
        saved = {
            "batch": self._batch,
            "events": self._signature(),
            "positions": positions,
            "skip": skip,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / CHECKPOINT_FILE, json.dumps(saved).encode())

    # -- taking events -----------------------------------------------------------------------

    def _take(self, events: pa.Table) -> None:
        if PAYLOAD not in events.column_names:
            raise CdcError(
                f"source {self.name}: Debezium events are JSON, but the event source gave "
                "typed rows (Parquet files?)",
                self.where,
                "deliver the events as NDJSON files (one event per line) or Kafka messages",
            )
        payloads = events.column(PAYLOAD).to_pylist()
        partitions = events.column(PARTITION).to_pylist()
        offsets = events.column(OFFSET).to_pylist()
        count = len(payloads)
        topics: list[str | None]
        if TOPIC in events.column_names:
            topics = events.column(TOPIC).to_pylist()
        elif isinstance(self.events, KafkaSource):
            topics = [self.events.topic_names[0]] * count
        else:
            topics = [None] * count
        keys = events.column(KEY).to_pylist() if KEY in events.column_names else [None] * count
        for payload, partition, offset, topic, key in zip(
            payloads, partitions, offsets, topics, keys, strict=True
        ):
            where = f"{topic}/{partition}" if topic is not None else str(partition)
            self._event(payload, where, int(offset), topic, key)
            # marked only once taken: an event that stopped the capture is not held
            self._read[where] = max(self._read.get(where, -1), int(offset))
            self._reached[where] = max(self._reached.get(where, -1), int(offset))
            self._pending += 1

    def _event(
        self, payload: bytes | None, where: str, offset: int, topic: str | None, key: Any
    ) -> None:
        try:
            event = decode_event(payload)
        except BadEvent as bad:
            table = self._route_topic(topic)
            if bad.origin is not None and bad.origin[2] is not None:
                table = self._route(bad.origin[0], bad.origin[1], bad.origin[2])
            self._reject(table, bad, payload, where, offset)
            return
        if event is None:
            self.tombstones += 1
            return
        if event.op == MESSAGE_OP:
            self.skipped += 1
            return
        table = (
            self._route(event.schema, event.database, event.table)
            if event.table
            else self._route_topic(topic)
        )
        if table is None:
            self.skipped += 1
            return
        try:
            self._apply(table, event, where, offset, key)
        except BadEvent as bad:
            self._reject(table, bad, payload, where, offset)

    def _route(self, schema: str | None, database: str | None, name: str) -> _Table | None:
        """The table an event belongs to, by its `source` block (the most qualified name a
        table's `table:` (or name) matches)."""
        candidates = [
            f"{database}.{schema}.{name}" if database and schema else None,
            f"{schema}.{name}" if schema else None,
            f"{database}.{name}" if database else None,
            name,
        ]
        for candidate in candidates:
            if candidate is not None and candidate in self.routes:
                return self.routes[candidate]
        return None

    def _route_topic(self, topic: str | None) -> _Table | None:
        """The table of a topic named as Debezium names them: `<prefix>.<schema>.<table>`."""
        if not topic:
            return None
        parts = topic.split(".")
        for candidate in (".".join(parts[-2:]), parts[-1]):
            if candidate in self.routes:
                return self.routes[candidate]
        return None

    def _apply(
        self, table: _Table, event: DebeziumEvent, where: str, offset: int, key: Any
    ) -> None:
        to_mirror = table.target.takes(where, offset)
        to_log = table.log_target is not None and table.log_target.takes(where, offset)
        if event.op == TRUNCATE_OP:
            self._truncate(table, event, to_mirror, to_log, where, offset)
            return
        old = None
        if event.op == UPDATE_OP and event.before is not None:
            old = self._row(table, event.before, event.types, after=False)
        if event.op == DELETE_OP:
            image = event.before
            if image is None or any(image.get(k) is None for k in table.mirror.key):
                image = {**(image or {}), **(key_fields(key) or {})}
            values = self._row(table, image, event.types, after=False)
        else:
            assert event.after is not None
            values = self._row(table, event.after, event.types, after=True)
        missing = [
            k for k in table.mirror.key if k not in table.index or values[table.index[k]] is None
        ]
        if missing:
            raise BadEvent(
                f"the event carries no value of the key column(s) {', '.join(missing)}",
                "bad_value",
                missing[0],
            )
        if old is not None:
            # a whole old row (REPLICA IDENTITY FULL) fills in what the new one did not send;
            # it lacks the columns the new one added
            old = (*old, *([None] * (len(values) - len(old))))
            values = tuple(
                o if n is UNCHANGED and o is not None and o is not UNCHANGED else n
                for n, o in zip(values, old, strict=True)
            )
        if to_mirror:
            if table.changes is None:
                table.changes = table.fresh_changes()
            changes = table.changes
            if event.op == DELETE_OP:
                changes.delete(values)
            elif old is not None and changes.key_of(old) != changes.key_of(values):
                changes.update_key(old, values)
            else:
                changes.upsert(values)
        if to_log:
            table.log.append(_Logged(event.op, event.position, event.ts_us, offset, values))
        if to_mirror or to_log:
            self._count(table, event)

    def _truncate(
        self,
        table: _Table,
        event: DebeziumEvent,
        to_mirror: bool,
        to_log: bool,
        where: str,
        offset: int,
    ) -> None:
        setting = table.spec.table.on_truncate
        if setting == "ignore" or not (to_mirror or to_log):
            return
        if setting == "fail":
            self._flush(checkpoint=False)
            raise CdcError(
                f"{table.key}: the source table was truncated (the event at {where}:{offset}); the "
                "mirror was left as it was before, and nothing after the truncate was applied",
                self.where,
                f"set 'on_truncate: apply' on table {table.spec.name} to empty the mirror too "
                "(or 'ignore' to keep its rows), then run again",
            )
        if to_mirror:
            if table.changes is None:
                table.changes = table.fresh_changes()
            table.changes.truncate()
        if to_log:
            empty = tuple(None for _ in table.columns)
            table.log.append(_Logged(TRUNCATE_OP, event.position, event.ts_us, offset, empty))
        self._count(table, event)

    def _count(self, table: _Table, event: DebeziumEvent) -> None:
        self._changes += 1
        if event.transaction is not None:
            self._transactions.add(event.transaction)
        else:
            self._untracked += 1
        if event.ts_us is not None:
            table.commit_us = max(table.commit_us or event.ts_us, event.ts_us)

    def _row(
        self,
        table: _Table,
        image: dict[str, Any],
        types: dict[str, pa.DataType] | None,
        after: bool,
    ) -> tuple[Any, ...]:
        """The image's values in the mirror's columns and types (a new field joins the
        columns under the table's contract).

        Raises:
            BadEvent: a value is not of its column's type.
            CdcError: the contract is 'freeze' and the image has another shape.
        """
        established = bool(table.columns)
        for name, value in image.items():
            if name in table.discarded:
                continue
            column = table.columns[table.index[name]] if name in table.index else None
            if column is None:
                column = self._new_column(table, name, established)
                if column is None:
                    continue
            if column.type is None:
                # the schema's type, even for a null; else the first value's
                kind = (types or {}).get(name) or infer_type(value)
                if kind is not None:
                    column.type, column.convert = kind, converter(kind)
        if after and established and table.spec.contract == "freeze":
            lost = [c.name for c in table.columns if c.name not in image]
            if lost:
                self._frozen(table, f"lost field(s) {', '.join(lost)}")
        values: list[Any] = [None] * len(table.columns)
        for name, value in image.items():
            position = table.index.get(name)
            if position is None:
                continue
            if value is None or value is UNCHANGED:
                values[position] = value
                continue
            convert = table.columns[position].convert
            try:
                values[position] = value if convert is None else convert(value)
            except (ValueError, TypeError, ArithmeticError, OverflowError) as exc:
                hint = "" if types else "; declare the column's type under `columns:`"
                raise BadEvent(
                    f"column {name}: {str(value)[:80]!r} is not a {table.columns[position].type} "
                    f"value, the mirror's type ({exc}){hint}",
                    "bad_value",
                    name,
                ) from None
        return tuple(values)

    def _new_column(self, table: _Table, name: str, established: bool) -> _Column | None:
        """A field the table's columns lack: added under `evolve`, left out under
        `discard_column`, refused under `freeze` (once the table has columns)."""
        contract = table.spec.contract
        if contract == "discard_column" and established:
            table.discarded.add(name)
            return None
        if contract == "freeze" and established:
            self._frozen(table, f"gained field {name}")
        kind = table.declared.get(name)
        column = _Column(name, kind, converter(kind) if kind is not None else None)
        table.add_column(column)
        return column

    def _frozen(self, table: _Table, what: str) -> None:
        self._flush(checkpoint=False)
        raise CdcError(
            f"{table.key}: the source table {what} and its contract is 'freeze'; nothing "
            "after that change was applied",
            Location(file=table.spec.rel_path, asset=table.key),
            "set contract 'evolve' (add them to the mirror) or 'discard_column' (leave them "
            "out), then run again",
        )

    def _reject(
        self,
        table: _Table | None,
        bad: BadEvent,
        payload: bytes | None,
        where: str,
        offset: int,
    ) -> None:
        target = table.quarantine if table is not None else self.unrouted
        if not target.takes(where, offset):
            return
        self.quarantined += 1
        text: str | None
        exact: bytes | None = None
        try:
            text = None if payload is None else payload.decode("utf-8")
        except UnicodeDecodeError:
            text = payload.decode("utf-8", errors="replace") if payload else None
            exact = payload
        self.rejected.setdefault(target.ref.key, (target, []))[1].append(
            {
                "run_id": self.run_id,
                "quarantined_at": dt.datetime.now(dt.UTC),
                "source": self.name,
                "table": table.key if table is not None else None,
                "location": where,
                "line": offset,
                "column": bad.column,
                "error_class": bad.error_class,
                "reason": bad.reason,
                "raw": text,
                "raw_bytes": exact,
            }
        )
        _LOG.warning("capture of %s: event at %s:%d quarantined: %s", self.name, where, offset, bad)

    # -- applying a micro-batch --------------------------------------------------------------

    def _flush(self, checkpoint: bool = True) -> None:
        """Commit the micro-batch to every touched table, then (`checkpoint`) replace the
        checkpoint and acknowledge the source."""
        if self._positions is None and not self._pending:
            return
        started = time.monotonic()
        number = self._batch + 1
        marks = dict(self._read)
        committed = False
        for target, rows in self.rejected.values():
            self._commit_quarantine(target, rows, number, marks)
            committed = True
        self.rejected = {}
        applied: dict[str, int] = {}
        commit_us: int | None = None
        for table in self.tables:
            if table.log and table.log_target is not None:
                table.mirror.marks = _merged(marks, table.log_target.skip)
                self._append_log(table, number)
                committed = True
            table.log = []
            changes = table.changes
            if changes is not None and changes.count:
                table.mirror.marks = _merged(marks, table.target.skip)
                self._apply_changes(table, changes, number)
                applied[table.key] = len(changes.rows)
                committed = True
                table.mirror.compact_if_due(self.config.cdc.compact_every)
            table.changes = None
            if table.commit_us is not None:
                commit_us = max(commit_us or table.commit_us, table.commit_us)
        if committed:
            self._batch = number
        if checkpoint and self._positions is not None:
            self._write_checkpoint(self._positions)
            assert self._source is not None
            self._source.acknowledge(self._positions)
            self._read = {}
            self._positions = None
        report = BatchReport(
            len(self._transactions) + self._untracked,
            self._changes,
            self._batch,
            commit_us,
            applied,
            time.monotonic() - started,
        )
        self._pending = self._changes = self._untracked = 0
        self._transactions = set()
        self._started = None
        if not committed:
            return
        self.summary.add(report)
        if self.on_batch is not None:
            self.on_batch(report)

    def _apply_changes(self, table: _Table, changes: TableChanges, number: int) -> None:
        import pyarrow as pa

        values, ops, keep = changes.column_values()
        data: dict[str, Any] = {}
        flags: dict[str, Any] = {}
        for column, column_values, column_keep in zip(table.columns, values, keep, strict=True):
            if column.type is None:
                continue  # only nulls so far: the column joins the mirror with a value
            data[column.name] = pa.array(column_values, column.type)
            if any(column_keep):
                flags[KEEP_PREFIX + column.name] = pa.array(column_keep, pa.bool_())
        rows = pa.table({**data, **flags, OP: pa.array(ops, pa.string())})
        if not self.store.exists(table.mirror.ref):
            schema = pa.schema([pa.field(name, array.type) for name, array in data.items()])
            if table.spec.table.delete_column:
                schema = schema.append(pa.field(table.spec.table.delete_column, pa.bool_()))
            self._create(table.mirror.ref, schema)
        table.mirror.apply(changes, rows, number, None, table.commit_us)

    def _create(self, ref: TableRef, schema: pa.Schema) -> None:
        """Make the empty table `ref` (no app transaction: making it twice is harmless)."""
        self.store.commit_files(ref, [], schema, "append", CommitInfo(self.run_id, "CREATE TABLE"))

    def _append_log(self, table: _Table, number: int) -> None:
        import pyarrow as pa

        width = len(table.columns)
        log = table.log
        padded = [(*e.values, *([None] * (width - len(e.values)))) for e in log]
        values: list[list[Any]] = [
            [e.op for e in log],
            [e.position for e in log],
            [None if e.ts_us is None else _EPOCH + dt.timedelta(microseconds=e.ts_us) for e in log],
            [e.seq for e in log],
            [
                [table.columns[i].name for i, v in enumerate(row) if v is UNCHANGED]
                for row in padded
            ],
        ]
        for i, column in enumerate(table.columns):
            if column.type is not None:
                values.append([None if row[i] is UNCHANGED else row[i] for row in padded])
        schema = _log_schema(table.columns)
        arrays = [pa.array(v, f.type) for v, f in zip(values, schema, strict=True)]
        table.mirror.append_log(pa.Table.from_arrays(arrays, schema=schema), number)

    def _commit_quarantine(
        self, target: _Target, rows: list[dict[str, Any]], number: int, marks: Marks
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = quarantine_schema()
        folder = self.store.new_file_dir(target.ref, self.run_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{os.urandom(6).hex()}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")
        commit = CommitInfo(
            run_id=self.run_id,
            operation="QUARANTINE",
            app_id=self.app_id,
            app_version=number,
            extra=encode_state({"cdc": {MARKS: _merged(marks, target.skip)}}),
        )
        self.store.commit_files(target.ref, [WrittenFile(str(path))], schema, "append", commit)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _log_schema(columns: list[_Column]) -> pa.Schema:
    """A change log's columns: the operation, the change's position in the database's log,
    its commit time, its offset in its partition, the columns not sent, then the data."""
    import pyarrow as pa

    fields = [
        pa.field(LOG_OP, pa.string()),
        pa.field(LOG_LSN, pa.int64()),
        pa.field(LOG_TIME, pa.timestamp("us", tz="UTC")),
        pa.field(LOG_SEQ, pa.int64()),
        pa.field(LOG_UNCHANGED, pa.list_(pa.string())),
    ]
    return pa.schema(fields + [pa.field(c.name, c.type) for c in columns if c.type is not None])


def _merged(marks: Marks, more: Marks) -> Marks:
    """The higher mark of each partition in either."""
    merged = dict(marks)
    for partition, offset in more.items():
        merged[partition] = max(offset, merged.get(partition, -1))
    return merged
