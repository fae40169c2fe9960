"""The micro-batch loop of one stream: read, decode, transform, window, checkpoint, commit,
acknowledge.

Each batch is numbered. Its checkpoint (open windows, source positions, watermark, events set
aside) is written first; then one Delta commit carries the batch's rows under the stream's app
transaction with the batch number; then the quarantine commit; then the source is acknowledged.
Killed at any moment, the stream resumes from the last batch the table holds: its positions,
its windows and its watermark, so no event is lost and none counted twice.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, HeadwaterError, Location, ModelError, first_line
from headwater.ingest.event_sources import (
    OFFSET,
    PARTITION,
    PAYLOAD,
    SOURCE_TIME,
    EventBatch,
    EventSource,
    Positions,
)
from headwater.project.streams import StreamConfig
from headwater.storage.base import CommitInfo, TableRef, TableStore
from headwater.stream.checkpoint import Checkpoint, CheckpointStore
from headwater.stream.decode import Decoded, EventDecoder, Rejected
from headwater.stream.read_ahead import ReadAhead
from headwater.stream.sink import StreamSink
from headwater.stream.status import ProgressMeter, Rates
from headwater.stream.windows import NO_WATERMARK, WindowOperator, WindowOutput

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession

SEQUENCE = "_hw_seq"
"""The column numbering a micro-batch's events in arrival order while its SQL runs."""
BATCH_NAME = "_hw_stream_batch"
"""The name the micro-batch is registered under in the stream's engine session."""
INPUT_REFRESH_S = 10.0
"""How often the tables a stream joins are looked at again for a newer version."""
RESET_FILE = "reset.json"
"""A reset's marker in the checkpoint folder (`headwater stream reset`): `to` (where the
source starts again) and `after_batch` (the batch committed when it was reset). It is deleted
after the first commit that follows."""


@dataclass
class StreamJob:
    """One stream, ready to run."""

    key: str
    config: StreamConfig
    ref: TableRef
    sql: str
    """The transformation, compiled: a SELECT reading the micro-batch where the stream's
    `events` was (`BATCH_NAME`); empty when the stream has none (its events are its rows)."""
    store: TableStore
    session: EngineSession
    source: EventSource
    checkpoints: Path
    run_id: str
    source_label: str = ""
    """How quarantine rows name where the events came from (e.g. `kafka clicks`)."""
    refresh_inputs: Callable[[], None] | None = None
    """Registers the tables the SQL joins at their latest versions (None: it joins none)."""
    on_commit: Callable[[BatchReport], None] | None = None


@dataclass
class BatchReport:
    """What one committed micro-batch did."""

    batch: int
    version: int
    events: int
    rows: int
    rejected: int
    late: int
    windows_closed: int
    watermark: int | None
    """Microseconds since the epoch (None: no watermark yet)."""
    positions: Positions
    lag: dict[str, int | None]
    committed_at: float
    seconds: float
    latency_s: float | None
    """Commit time minus the source time of the batch's oldest event."""
    rates: Rates | None = None
    """The stream's pace over its recent batches, this one included."""
    totals: dict[str, int] = field(default_factory=dict)
    """Counts since the stream's first batch (events, rows, rejected, late)."""


@dataclass
class StreamSummary:
    """What a run of a stream did, from start to stop."""

    batches: int = 0
    events: int = 0
    rows: int = 0
    rejected: int = 0
    late: int = 0
    last_batch: int | None = None
    last: BatchReport | None = None

    def add(self, report: BatchReport) -> None:
        """Count the committed batch `report` in."""
        self.batches += 1
        self.events += report.events
        self.rows += report.rows
        self.rejected += report.rejected
        self.late += report.late
        self.last_batch = report.batch
        self.last = report


class StreamRunner:
    """Runs one stream's micro-batches until told to stop (or until caught up)."""

    def __init__(self, job: StreamJob) -> None:
        self.job = job
        self.config = job.config
        self.sink = StreamSink(job.store, job.ref, job.key, job.run_id)
        self.checkpoints = CheckpointStore(job.checkpoints)
        self.meter = ProgressMeter()
        self.settings = _window_settings(self.config)
        self.decoder = EventDecoder(job.session, self.config.columns)
        self.windows = (
            WindowOperator(job.session, self.config) if self.config.window is not None else None
        )
        self.state: pa.Table | None = None
        self.watermark = NO_WATERMARK
        self.positions: Positions = {}
        self.batch = -1
        self.totals: dict[str, int] = {}
        self._refreshed = 0.0
        self._compactor: threading.Thread | None = None
        self._commits = 0
        self._until_caught_up = False
        self.reader: ReadAhead
        self._reset_pending = False
        self._fresh = False
        """Started afresh (new or reset) and not committed since."""
        self.rewrite_until: int | None = None
        """See `Checkpoint.rewrite_until`."""

    # -- start -----------------------------------------------------------------------------------

    def recover(self) -> None:
        """Load the last committed batch's checkpoint (if any), finish what its commit left
        undone (its quarantine rows, the source's acknowledgement), and open the source just
        after its positions."""
        self._check_table_shape()
        committed = self.sink.committed_batch()
        after = committed if committed is not None else -1
        self.checkpoints.discard_after(after)
        reset = _reset_after(self.job.checkpoints)
        if reset is not None and reset < after:
            # a reset whose first batch committed (the marker outlived a kill): done with
            (self.job.checkpoints / RESET_FILE).unlink(missing_ok=True)
        self._reset_pending = reset == after
        if self._reset_pending or committed is None:
            # new, or reset: no windows; the numbering goes on (the app transaction only grows)
            self.batch = after
            if self._reset_pending:
                self.rewrite_until = self._written_until()
            start = self.checkpoints.read_start(after)
            self.job.source.open(start)
            if start is None:
                self.checkpoints.write_start(after, self.job.source.positions())
            self._fresh = True
            return
        checkpoint = self.checkpoints.read(committed)
        self.batch = committed
        self.positions = checkpoint.positions
        self.watermark = checkpoint.watermark
        self.state = checkpoint.state
        self.totals = dict(checkpoint.totals)
        self.rewrite_until = checkpoint.rewrite_until
        self._check_settings(checkpoint)
        quarantined = self.sink.rejected_batch()
        if checkpoint.rejected is not None and (quarantined is None or quarantined < committed):
            self.sink.commit_rejected(committed, checkpoint.rejected)
        self.job.source.open(self.positions)
        self.job.source.acknowledge(self.positions)

    # -- the loop --------------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event | None = None,
        until_caught_up: bool = False,
        max_batches: int | None = None,
    ) -> StreamSummary:
        """Run batches until `stop` is set (the batch in hand is committed first), until the
        source is caught up (`until_caught_up`), or `max_batches` were committed."""
        stop = stop or threading.Event()
        self._until_caught_up = until_caught_up
        summary = StreamSummary()
        reader: ReadAhead | None = None
        try:
            self.recover()
            reader = self.reader = ReadAhead(self.job.source, self.config.max_batch_events)
            while not stop.is_set():
                if max_batches is not None and summary.batches >= max_batches:
                    break
                batches = self._collect(stop)
                if not batches:
                    if until_caught_up and self.reader.caught_up():
                        break
                    continue
                summary.add(self.process(batches))
                if until_caught_up and self.reader.caught_up():
                    break
        finally:
            if self._compactor is not None:
                self._compactor.join()
            if reader is not None:
                reader.close()
            else:
                self.job.source.close()
        return summary

    def _collect(self, stop: threading.Event) -> list[EventBatch]:
        """Poll until the batch is full or the trigger interval has passed since its first
        event: the batch grows with the arrival rate, within `max_batch_events`."""
        limit = self.config.max_batch_events
        trigger = self.config.trigger_s
        batches: list[EventBatch] = []
        count = 0
        deadline: float | None = None
        while count < limit:
            wait = trigger if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                break
            polled = self.reader.poll(limit - count, min(wait, 0.5))
            if polled is not None and polled.events.num_rows:
                batches.append(polled)
                count += polled.events.num_rows
                if deadline is None:
                    deadline = time.monotonic() + trigger
            elif self.reader.waiting():
                break  # the next polled batch would overfill this one: it starts the next
            if stop.is_set() or (self._until_caught_up and self.reader.caught_up()):
                break
            if deadline is None and polled is None:
                break
        return batches

    def process(self, batches: list[EventBatch]) -> BatchReport:
        """Turn polled events into one committed batch; return what it did."""
        import pyarrow as pa

        started = time.monotonic()
        raw = pa.concat_tables([b.events for b in batches], promote_options="permissive")
        positions = batches[-1].positions  # a source's positions cover every partition
        lag = batches[-1].lag
        decoded = self._decoded(raw)
        rejected_rows = [self._rejected_row(raw, r) for r in decoded.rejected]
        events = self._transform(decoded.events)
        events, missing_time = self._split_missing_time(events)
        rejected_rows.extend(missing_time)
        late = 0
        closed = 0
        if self.windows is not None:
            output = self._windowed(events)
            appends, merges = output.appends, output.merges
            late = output.late.num_rows
            if late and self.config.late_events == "quarantine":
                rejected_rows.extend(self._late_rows(output.late, output.watermark))
            self.state, self.watermark, closed = output.state, output.watermark, output.closed
            appends, merges = self._rewritten(appends, merges)
        else:
            appends, merges = events, None
        batch = self.batch + 1
        source_time = _oldest_source_time(decoded.events)
        rejected = _quarantine_table(rejected_rows) if rejected_rows else None
        self._count(events=raw.num_rows, rows=appends.num_rows, rejected=len(rejected_rows))
        self._count(late=late)
        self.checkpoints.write(
            Checkpoint(
                batch,
                positions,
                self.watermark,
                self.state,
                rejected,
                dict(self.totals),
                settings=self.settings,
                rewrite_until=self.rewrite_until,
            )
        )
        on = self.windows.merge_on if self.windows is not None else []
        clauses = (
            self.windows.merge_clauses(appends.column_names) if self.windows is not None else []
        )
        written = appends.num_rows + (0 if merges is None else merges.num_rows)
        version = self.sink.commit(
            batch,
            appends,
            merges,
            on,
            clauses,
            {
                "headwater.stream.positions": json.dumps(positions, sort_keys=True),
                "headwater.rows": str(
                    appends.num_rows + (0 if merges is None else merges.num_rows)
                ),
            },
        )
        if rejected is not None:
            self.sink.commit_rejected(batch, rejected)
        self.reader.acknowledge(positions)
        self.batch, self.positions = batch, positions
        self.checkpoints.prune(batch)
        if self._fresh:
            self.checkpoints.clear_start()
            (self.job.checkpoints / RESET_FILE).unlink(missing_ok=True)
            self._fresh = self._reset_pending = False
        committed_at = time.time()
        report = BatchReport(
            batch=batch,
            version=version,
            events=raw.num_rows,
            rows=written,
            rejected=len(rejected_rows),
            late=late,
            windows_closed=closed,
            watermark=None if self.watermark == NO_WATERMARK else self.watermark,
            positions=positions,
            lag=lag,
            committed_at=committed_at,
            seconds=time.monotonic() - started,
            latency_s=None if source_time is None else committed_at - source_time,
        )
        report.rates = self.meter.add(report)
        report.totals = dict(self.totals)
        if self.job.on_commit is not None:
            self.job.on_commit(report)
        self._maybe_compact()
        return report

    # -- steps -----------------------------------------------------------------------------------

    def _decoded(self, raw: pa.Table) -> Decoded:
        with self._user_error(
            ConfigError,
            "its `columns` cannot be read",
            "give each column a DuckDB type (BIGINT, DOUBLE, VARCHAR, TIMESTAMP, "
            "DECIMAL(18, 2), ...)",
        ):
            return self.decoder.decode(raw)

    def _windowed(self, events: pa.Table) -> WindowOutput:
        """The window operator's work on `events`; a column its settings name that the rows
        lack is the user's to fix, not an internal error."""
        assert self.windows is not None
        with self._user_error(
            ModelError,
            "its window could not be computed",
            "check that `window.key` and the `window.aggregates` expressions name columns "
            f"the stream's rows have ({', '.join(events.column_names)})",
        ):
            return self.windows.process(events, self.state, self.watermark)

    @contextmanager
    def _user_error(self, kind: type[HeadwaterError], failed: str, hint: str) -> Iterator[None]:
        """Turn the engine refusing what the stream's settings asked of it into `kind`,
        naming the stream's file; anything else passes through as it is."""
        try:
            yield
        except HeadwaterError:
            raise
        except Exception as exc:
            if not self.job.session.is_engine_error(exc):
                raise
            raise kind(
                f"stream {self.job.key}: {failed}: {first_line(exc)}",
                Location(file=self.config.rel_path, asset=self.job.key),
                hint,
            ) from exc

    def _check_table_shape(self) -> None:
        """Refuse to write window rows into a table of another shape (a window setting
        changed the columns; a merge or append would fail or mix two shapes)."""
        expected = self.config.output_columns
        if expected is None or self.job.store.current_version(self.job.ref) is None:
            return
        found = self.job.store.snapshot(self.job.ref).schema.names
        if list(found) == expected:
            return
        raise ConfigError(
            f"stream {self.job.key} writes the columns {', '.join(expected)}, but its table "
            f"{self.job.ref} has {', '.join(found)} (its window settings changed since it "
            "was written)",
            Location(file=self.config.rel_path, asset=self.job.key),
            "give the stream another `name:` to start a new table, or delete the table's "
            f"folder ({self.job.store.location(self.job.ref)}) and its checkpoints "
            f"({self.job.checkpoints}) to start it again",
        )

    def _check_settings(self, checkpoint: Checkpoint) -> None:
        """Refuse to carry on open windows kept under other window settings."""
        if checkpoint.state is None or checkpoint.settings in (None, self.settings):
            return
        raise ConfigError(
            f"stream {self.job.key}: its window settings (window, watermark, lateness or "
            "emission) changed since its last commit, and its open windows were kept under "
            "the old ones",
            Location(file=self.config.rel_path, asset=self.job.key),
            f"undo the change, or start the stream again under the new settings with "
            f"'headwater stream reset {self.job.key} --to earliest' (windows read again "
            "replace their rows)",
        )

    def _written_until(self) -> int | None:
        """The end (µs) of the latest window in the table (None: none, or no windows)."""
        if self.windows is None or self.job.store.current_version(self.job.ref) is None:
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        from headwater.stream.windows import WINDOW_END

        snapshot = self.job.store.snapshot(self.job.ref)
        ranges = self.job.store.file_ranges(snapshot, WINDOW_END)
        if len(ranges) == len(snapshot.files):  # every file's statistics tell its latest end
            highs = [high for _, high in ranges.values()]
            ends = pa.array(highs, pa.timestamp("us")) if highs else pa.array([], pa.int64())
        else:
            ends = snapshot.arrow_dataset().to_table(columns=[WINDOW_END]).column(WINDOW_END)
        latest = pc.max(ends.cast(pa.timestamp("us")).cast(pa.int64())).as_py()
        return None if latest is None else int(latest)

    def _rewritten(
        self, appends: pa.Table, merges: pa.Table | None
    ) -> tuple[pa.Table, pa.Table | None]:
        """After a reset, move new rows of windows the table may already hold from
        `appends` to `merges` (replacing those rows), until the watermark passes them."""
        if self.rewrite_until is None:
            return appends, merges
        import pyarrow as pa
        import pyarrow.compute as pc

        from headwater.stream.windows import OP, WINDOW_END

        until = self.rewrite_until
        lateness = round(self.config.allowed_lateness_s * 1_000_000)
        if self.watermark > until + lateness:
            # no window ending by `until` takes events any more: none can be written again
            self.rewrite_until = None
        ends = appends.column(WINDOW_END).cast(pa.timestamp("us")).cast(pa.int64())
        known = pc.less_equal(ends, pa.scalar(until, pa.int64()))
        again = appends.filter(known)
        if not again.num_rows:
            return appends, merges
        again = again.append_column(OP, pa.array(["replace"] * again.num_rows, pa.string()))
        parts = [again] if merges is None else [merges, again]
        return appends.filter(pc.invert(known)), pa.concat_tables(
            parts, promote_options="permissive"
        )

    def _transform(self, events: pa.Table) -> pa.Table:
        if not self.job.sql:
            return events
        now = time.monotonic()
        if self.job.refresh_inputs is not None and now - self._refreshed > INPUT_REFRESH_S:
            self.job.refresh_inputs()
            self._refreshed = now
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        session = self.job.session
        numbered = events.append_column(SEQUENCE, pa.array(np.arange(events.num_rows)))
        session.register_arrow(BATCH_NAME, numbered)
        with self._user_error(
            ModelError,
            "its SQL failed on a micro-batch",
            "fix the stream's `sql`; the batch was not committed and is read again",
        ):
            result = session.query(self.job.sql)
        if SEQUENCE not in result.column_names:
            return result
        # back in arrival order (a join returns rows in any), which the watermark follows
        ordered = result.take(pc.sort_indices(result.column(SEQUENCE)))
        return ordered.drop_columns([SEQUENCE])

    def _split_missing_time(self, events: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        column = self.config.event_time
        if column is None:
            return events, []
        if column not in events.column_names:
            raise ModelError(
                f"stream {self.job.key}: its SQL returns no column {column!r} (its event_time)",
                Location(file=self.config.rel_path, asset=self.job.key),
                "select the event-time column, or change `event_time`",
            )
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_timestamp(events.schema.field(column).type):
            raise ModelError(
                f"stream {self.job.key}: event_time column {column!r} is "
                f"{events.schema.field(column).type}, not a timestamp",
                Location(file=self.config.rel_path, asset=self.job.key),
                "declare it TIMESTAMP under `columns`, or cast it in the stream's SQL",
            )
        missing = pc.is_null(events.column(column))
        if not pc.any(missing).as_py():
            return events, []
        bad = events.filter(missing)
        rows = [
            _row(
                self.job,
                "missing_event_time",
                f"the event has no {column} (its event time)",
                json.dumps(r, default=str),
                column=column,
                location=_location(r),
            )
            for r in bad.to_pylist()
        ]
        return events.filter(pc.invert(missing)), rows

    def _late_rows(self, late: pa.Table, watermark: int) -> list[dict[str, Any]]:
        from headwater.stream.windows import WINDOW_END, WINDOW_START

        rows = []
        for record in late.to_pylist():
            start, end = record.pop(WINDOW_START), record.pop(WINDOW_END)
            rows.append(
                _row(
                    self.job,
                    "late_event",
                    self._late_reason(start, end),
                    json.dumps(record, default=str),
                    column=self.config.event_time,
                    location=_location(record),
                )
            )
        return rows

    def _late_reason(self, start: Any, end: Any) -> str:
        if self.windows is not None and self.windows.session_windows:
            return (
                "too late for its session: the watermark had passed the event's time plus "
                "the allowed lateness, so a session it belongs to may be closed already"
            )
        return (
            f"too late for window [{start}, {end}): the watermark had passed its end plus "
            "the allowed lateness"
        )

    def _rejected_row(self, raw: pa.Table, rejected: Rejected) -> dict[str, Any]:
        payload = raw.column(PAYLOAD)[rejected.row].as_py()
        record = {
            name: raw.column(name)[rejected.row].as_py()
            for name in (PARTITION, OFFSET)
            if name in raw.column_names
        }
        text = None if payload is None else payload.decode("utf-8", errors="replace")
        exact = payload if rejected.error_class == "invalid_utf8" else None
        return _row(
            self.job,
            rejected.error_class,
            rejected.reason,
            text,
            column=rejected.column,
            location=_location(record),
            raw_bytes=exact,
            line=record.get(OFFSET) if isinstance(record.get(OFFSET), int) else None,
        )

    def _count(self, **counts: int) -> None:
        for name, value in counts.items():
            self.totals[name] = self.totals.get(name, 0) + value

    def _maybe_compact(self) -> None:
        every = self.config.compact_every
        self._commits += 1
        if not every or self._commits % every:
            return
        if self._compactor is not None and self._compactor.is_alive():
            return
        self._compactor = threading.Thread(
            target=_compact, args=(self.job.store, self.job.ref, self.job.run_id), daemon=True
        )
        self._compactor.start()


def run_stream(
    job: StreamJob,
    stop: threading.Event | None = None,
    until_caught_up: bool = False,
    max_batches: int | None = None,
) -> StreamSummary:
    """Run `job`'s stream (see `StreamRunner.run`) and return what it did."""
    return StreamRunner(job).run(stop, until_caught_up, max_batches)


def _reset_after(folder: Path) -> int | None:
    """The batch a pending reset was made after (None: no reset pending)."""
    try:
        marker = json.loads((folder / RESET_FILE).read_text())
        return int(marker["after_batch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _window_settings(config: StreamConfig) -> str | None:
    """A digest of what the open windows' state depends on (None: no windows)."""
    if config.window is None:
        return None
    from headwater.digest import content_hash

    return content_hash(
        "stream-windows",
        config.window.model_dump_json(),
        str(config.event_time),
        str(config.watermark_s),
        str(config.allowed_lateness_s),
        config.emit,
        config.late_events,
    )


def _compact(store: TableStore, ref: TableRef, run_id: str) -> None:
    """Compact the table's small files and checkpoint its log, beside the running stream; a
    compaction that loses a race with a batch's commit is simply tried again later."""
    try:
        store.optimize(ref, CommitInfo(run_id, "OPTIMIZE"))
        store.checkpoint(ref)
    except HeadwaterError:
        return


def _oldest_source_time(events: pa.Table) -> float | None:
    if SOURCE_TIME not in events.column_names or not events.num_rows:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    oldest = pc.min(events.column(SOURCE_TIME).cast(pa.timestamp("us", tz="UTC"))).as_py()
    return None if oldest is None else float(oldest.timestamp())


def _location(record: dict[str, Any]) -> str | None:
    partition, offset = record.get(PARTITION), record.get(OFFSET)
    if partition is None and offset is None:
        return None
    return f"partition {partition} offset {offset}"


def _row(
    job: StreamJob,
    error_class: str,
    reason: str,
    raw: str | None,
    column: str | None = None,
    location: str | None = None,
    raw_bytes: bytes | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    import datetime as dt

    return {
        "run_id": job.run_id,
        "quarantined_at": dt.datetime.now(dt.UTC),
        "source": job.source_label or job.config.source.kind,
        "table": job.key,
        "location": location,
        "line": line,
        "column": column,
        "error_class": error_class,
        "reason": reason,
        "raw": raw,
        "raw_bytes": raw_bytes,
    }


def _quarantine_table(rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    from headwater.storage.companions import quarantine_schema

    return pa.Table.from_pylist(rows, schema=quarantine_schema())
