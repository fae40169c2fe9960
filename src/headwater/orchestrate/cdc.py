"""Operating change data capture: where each capture stands (`headwater cdc status`), a fresh
copy on request (`headwater cdc reset`), the slots of removed sources dropped, captures run
continuously beside streams (`headwater stream run`), and the `slot_wal` and `cdc_lag` alerts.

A replication slot belongs to the database, not to the warehouse: a slot nobody reads keeps
the server's WAL until its disk is full. So every place that learns a slot is no longer
wanted (a reset, a source gone from the project, a slot renamed) drops it, and the alerts
watch how much WAL each slot holds back.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import redact, resolve
from headwater.errors import CdcError, HeadwaterError, Location, RunLockedError, UsageError
from headwater.ingest.cdc.pgoutput import format_lsn
from headwater.ingest.cdc.postgres import PostgresCapture, SlotInfo, first_error_line
from headwater.project.sources import size_bytes
from headwater.project.strict import duration_seconds
from headwater.storage.base import TableRef
from headwater.stream.cdc.jobs import capture_job, capture_sources, captured_tables
from headwater.stream.cdc.mirror import Mirror
from headwater.stream.cdc.postgres_job import CDC_FOLDER, SLOT_FILE, capture_folder, default_slot
from headwater.stream.run_lock import running_pid, stream_lock
from headwater.stream.runner import BatchReport, StreamSummary

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.orchestrate.alerts import Alerter
    from headwater.orchestrate.opening import OpenProject
    from headwater.project.definition import ProjectDefinition
    from headwater.project.sources import SourceConfig
    from headwater.storage.base import TableStore
    from headwater.stream.cdc.postgres_job import BatchReport as CaptureBatch

_LOG = logging.getLogger(__name__)

CONNECT_S = 5.0
"""How long status, reset and clean-up wait for a source's database to answer (at most)."""
CHECK_EVERY_S = 30.0
"""How often the scheduler looks at the slots (each look opens a connection per source)."""


# -- which captures -------------------------------------------------------------------------


def pick_captures(definition: ProjectDefinition, names: list[str] | None) -> list[str]:
    """The capture sources `names` name (all of them when empty), in the order given.

    Raises:
        UsageError: a name is not a source with a `mode: cdc` table.
    """
    known = capture_sources(definition)
    if not names:
        return known
    chosen: list[str] = []
    for name in names:
        if name not in known:
            raise _not_a_capture(definition, name, known)
        if name not in chosen:
            chosen.append(name)
    return chosen


def split_stream_names(
    definition: ProjectDefinition, names: list[str] | None
) -> tuple[list[str] | None, list[str]]:
    """Split what `headwater stream run` was given into stream names and capture sources.

    No names: every stream (None) and every capture source. A stream's key
    (`namespace.name`) always names the stream; any other name that is a capture source's
    names the capture; the rest are left to the streams to recognise.
    """
    sources = capture_sources(definition)
    if not names:
        return None, sources
    streams = {k for k, a in definition.assets.items() if a.stream is not None}
    captures = [n for n in names if n in sources and n not in streams]
    return [n for n in names if n not in captures], list(dict.fromkeys(captures))


def _not_a_capture(definition: ProjectDefinition, name: str, known: list[str]) -> UsageError:
    from headwater.project.yamlfile import closest

    if name in definition.sources:
        return UsageError(
            f"source {name} has no mode 'cdc' table",
            Location(file=definition.sources[name].rel_path),
            "set 'mode: cdc' on the tables to mirror (see docs/cdc.md)",
        )
    near = closest(name, known)
    if near:
        hint = f"did you mean '{near}'?"
    elif known:
        hint = "the project's cdc sources: " + ", ".join(known)
    else:
        hint = "set 'mode: cdc' on a PostgreSQL source's tables (see docs/cdc.md)"
    return UsageError(f"no cdc source named '{name}'", hint=hint)


def _where(name: str, config: SourceConfig) -> Location:
    return Location(file=config.rel_path or f"sources/{name}.yml")


def _slot_names(name: str, config: SourceConfig) -> tuple[str, str]:
    slot = config.cdc.slot or default_slot(name)
    return slot, config.cdc.publication or slot


def _is_postgres(config: SourceConfig) -> bool:
    return config.kind != "debezium"


# -- status ---------------------------------------------------------------------------------


@dataclass
class MirrorStatus:
    """Where one mirror stands."""

    table: str
    position: str | None
    """PostgreSQL: the LSN up to which the mirror holds every change; debezium: the number
    of the capture's last micro-batch committed to it (`batch N`)."""
    commit_time: str | None
    """Commit time of the last transaction applied to it (ISO, UTC)."""
    commit_age_s: float | None
    """Seconds since that commit."""
    rows: int | None
    generation: str | None


@dataclass
class CaptureAlert:
    """A capture past one of its limits (`slot_wal` or `cdc_lag`)."""

    kind: str
    incident: str
    source: str
    message: str


@dataclass
class CaptureStatus:
    """Where one source's capture stands: its slot (PostgreSQL) and its mirrors."""

    source: str
    kind: str
    """`postgres` or `debezium`."""
    running: bool
    """A capture of this project holds the source's run lock now."""
    pid: int | None
    slot: str | None = None
    publication: str | None = None
    reachable: bool | None = None
    """Whether the database answered (None: not asked, a debezium source)."""
    error: str | None = None
    slot_exists: bool | None = None
    active_pid: int | None = None
    """The server process reading the slot (None: nobody reads it now)."""
    current_lsn: str | None = None
    confirmed_flush_lsn: str | None = None
    restart_lsn: str | None = None
    lag_bytes: int | None = None
    """WAL written since the position the slot's reader last confirmed."""
    retained_bytes: int | None = None
    """WAL the server keeps for the slot."""
    events_positions: dict[str, Any] | None = None
    """debezium: where the capture resumes reading its events, per partition (a topic
    partition's offset, a file's), as its last checkpoint says."""
    changes_waiting: bool | None = None
    """The slot has WAL its reader has not confirmed (None: unknown)."""
    last_commit_time: str | None = None
    """Commit time of the last transaction applied to any of the mirrors."""
    lag_s: float | None = None
    """Seconds since that commit, while changes wait (None when caught up or unknown)."""
    tables: list[MirrorStatus] = field(default_factory=list)
    alerts: list[CaptureAlert] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The status as plain JSON values."""
        return asdict(self)


def capture_statuses(
    project: OpenProject, names: list[str] | None, now: float | None = None
) -> list[CaptureStatus]:
    """Where each capture source `names` picks (all by default) stands, with the alerts its
    limits raise. A database that does not answer is reported in the status, not raised.

    Raises:
        UsageError: a name is not a source with a `mode: cdc` table.
    """
    definition, store = project.definition, project.store
    moment = time.time() if now is None else now
    return [_status(definition, store, name, moment) for name in pick_captures(definition, names)]


def _status(
    definition: ProjectDefinition, store: TableStore, name: str, now: float
) -> CaptureStatus:
    config = definition.sources[name]
    postgres = _is_postgres(config)
    holder = running_pid(capture_folder(store, name))
    status = CaptureStatus(
        name,
        "postgres" if postgres else "debezium",
        holder is not None,
        holder if holder is not None and holder > 0 else None,
    )
    commits: list[float] = []
    for spec in captured_tables(definition, name):
        ref = TableRef(spec.source_name, spec.name)
        state = Mirror(store, ref, name, [], "status").state()
        position = None
        if state.position is not None:
            position = format_lsn(state.position) if postgres else f"batch {state.position}"
        seconds = None if state.commit_us is None else state.commit_us / 1e6
        if seconds is not None:
            commits.append(seconds)
        status.tables.append(
            MirrorStatus(
                ref.key,
                position,
                None if seconds is None else _iso(seconds),
                None if seconds is None else max(0.0, now - seconds),
                _rows(store, ref) if state.position is not None else None,
                state.generation,
            )
        )
    # the capture applies every mirror's changes together: its newest commit says how far
    # it has come, whichever mirror it touched
    newest = max(0.0, now - max(commits)) if commits else None
    if commits:
        status.last_commit_time = _iso(max(commits))
    if postgres:
        status.slot, status.publication = _slot_names(name, config)
        info, error = _read_slot(name, config)
        status.reachable = error is None
        status.error = error
        if error is None:
            _fill_slot(status, info)
            if status.changes_waiting:
                status.lag_s = newest
    else:
        status.events_positions = _events_positions(capture_folder(store, name))
    status.alerts = _alerts(status, config)
    return status


def _read_slot(name: str, config: SourceConfig) -> tuple[SlotInfo | None, str | None]:
    """The slot as the server sees it, or why the server could not say."""
    import psycopg

    slot, publication = _slot_names(name, config)
    where = _where(name, config)
    try:
        capture = PostgresCapture(
            resolve(config.url or "", where, "url"),
            slot,
            publication,
            where,
            min(config.request_timeout, CONNECT_S),
        )
        with capture.connection() as connection:
            return capture.slot_info(connection), None
    except HeadwaterError as exc:
        return None, exc.message
    except psycopg.Error as exc:
        return None, redact(first_error_line(exc))


def _events_positions(folder: Path) -> dict[str, Any] | None:
    """A debezium capture's positions in its events, from its checkpoint (None: none yet)."""
    from headwater.stream.cdc.debezium_job import CHECKPOINT_FILE

    try:
        saved = json.loads((folder / CHECKPOINT_FILE).read_text())
    except (OSError, ValueError):
        return None
    positions = saved.get("positions") if isinstance(saved, dict) else None
    return positions if isinstance(positions, dict) else None


def _fill_slot(status: CaptureStatus, info: SlotInfo | None) -> None:
    status.slot_exists = info is not None
    if info is None:
        return
    status.active_pid = info.active_pid
    status.current_lsn = format_lsn(info.current)
    status.confirmed_flush_lsn = _lsn(info.confirmed_flush)
    status.restart_lsn = _lsn(info.restart)
    status.lag_bytes = info.lag_bytes
    status.retained_bytes = info.retained_bytes
    status.changes_waiting = None if info.lag_bytes is None else info.lag_bytes > 0


def _alerts(status: CaptureStatus, config: SourceConfig) -> list[CaptureAlert]:
    """The limits `status` is past: the WAL its slot holds, the age of its last commit."""
    found: list[CaptureAlert] = []
    source = status.source
    limit = size_bytes(config.cdc.max_retained_wal)
    if status.retained_bytes is not None and status.retained_bytes > limit:
        reader = (
            f"its reader (server pid {status.active_pid}) is falling behind"
            if status.active_pid is not None
            else "nobody reads it now"
        )
        found.append(
            CaptureAlert(
                "slot_wal",
                f"slot-wal:{source}",
                source,
                f"replication slot {status.slot} of source {source} holds "
                f"{human_size(status.retained_bytes)} of WAL (max_retained_wal "
                f"{human_size(limit)}) and {reader}: run the capture (headwater run, or "
                f"headwater stream run {source}), or drop the slot with headwater cdc reset "
                f"{source} (the mirrors are copied again)",
            )
        )
    if config.cdc.max_lag is not None and status.lag_s is not None:
        most = duration_seconds(config.cdc.max_lag)
        if status.lag_s > most:
            found.append(
                CaptureAlert(
                    "cdc_lag",
                    f"cdc-lag:{source}",
                    source,
                    f"the mirrors of source {source} are {status.lag_s:.0f} s behind (last "
                    f"applied commit {status.last_commit_time}, max_lag {most:g} s) while "
                    "changes wait in the slot: run the capture (headwater run, or headwater "
                    f"stream run {source})",
                )
            )
    return found


def _rows(store: TableStore, ref: TableRef) -> int | None:
    counts = [f.rows for f in store.snapshot(ref).files]
    return None if any(c is None for c in counts) else sum(c or 0 for c in counts)


def _lsn(value: int | None) -> str | None:
    return None if value is None else format_lsn(value)


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")


def human_size(count: int) -> str:
    """`count` bytes as text (`3.2 MB`, units of 1024 as sizes in YAML are read)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# -- alerts in the scheduler ----------------------------------------------------------------


class CaptureWatch:
    """Raises and resolves the `slot_wal` and `cdc_lag` incidents of a project's captures,
    looking at most every `every_s` seconds. A source whose database does not answer keeps
    its incidents as they were."""

    def __init__(self, project: OpenProject, alerter: Alerter, every_s: float = CHECK_EVERY_S):
        self.project = project
        self.alerter = alerter
        self.every_s = every_s
        self._looked = float("-inf")

    def check(self) -> None:
        """Look at every capture source's slot and mirrors when the last look is old enough."""
        if time.monotonic() - self._looked < self.every_s:
            return
        self._looked = time.monotonic()
        try:
            statuses = capture_statuses(self.project, None)
        except Exception as exc:  # a look that fails is tried again at the next one
            _LOG.warning("could not look at the cdc slots: %s", redact(first_error_line(exc)))
            return
        for status in statuses:
            if status.error is not None:
                _LOG.warning("cdc source %s: %s", status.source, status.error)
                continue
            raised = {a.kind: a for a in status.alerts}
            for kind, incident in (
                ("slot_wal", f"slot-wal:{status.source}"),
                ("cdc_lag", f"cdc-lag:{status.source}"),
            ):
                alert = raised.get(kind)
                if alert is not None:
                    self.alerter.raise_incident(kind, incident, status.source, alert.message)
                else:
                    self.alerter.resolve(incident, _resolution(kind, status))


def _resolution(kind: str, status: CaptureStatus) -> str:
    if kind == "slot_wal":
        return f"replication slot {status.slot} of source {status.source} is back under its limit"
    return f"the mirrors of source {status.source} have caught up"


# -- reset ----------------------------------------------------------------------------------


def reset_capture(project: OpenProject, source: str) -> dict[str, Any]:
    """Make the capture of `source` start afresh: its slot and publication are dropped (even
    when this warehouse holds no record of them) and its record of the slot removed, so its
    next run creates a new slot and copies every mirror again. Returns what was done.

    Raises:
        UsageError: `source` is not a PostgreSQL source with a cdc table.
        RunLockedError: its capture is running.
        CdcError: another process reads the slot.
        TransientError: the database does not answer.
    """
    definition, store = project.definition, project.store
    name = pick_captures(definition, [source])[0]
    config = definition.sources[name]
    where = _where(name, config)
    if not _is_postgres(config):
        raise UsageError(
            f"source {name} is a debezium source: Headwater holds no slot for it",
            where,
            "take a new snapshot on Debezium's side (its connector's snapshot settings); the "
            "mirrors apply its 'r' events",
        )
    folder = capture_folder(store, name)
    holder = running_pid(folder)
    if holder is not None:
        raise RunLockedError(
            f"the capture of source {name} is running" + (f" (pid {holder})" if holder > 0 else ""),
            where,
            "stop it first (SIGTERM or Ctrl-C to headwater stream run), then reset",
        )
    slot, publication = _slot_names(name, config)
    with stream_lock(folder, f"capture of {name}"):
        recorded = _recorded(folder)
        if recorded is not None and recorded.get("slot") not in (None, slot):
            _drop_recorded(recorded, Location(file=str(folder / SLOT_FILE)))
        capture = PostgresCapture(
            resolve(config.url or "", where, "url"), slot, publication, where, CONNECT_S
        )
        dropped = _drop(capture)
        (folder / SLOT_FILE).unlink(missing_ok=True)
    return {"source": name, "slot": slot, "publication": publication, "slot_dropped": dropped}


def _drop(capture: PostgresCapture) -> bool:
    """Drop the capture's slot (unless someone reads it) and publication; True when the slot
    existed."""
    with capture.connection() as connection:
        info = capture.slot_info(connection)
        if info is not None and info.active_pid is not None:
            raise CdcError(
                f"replication slot {capture.slot} is being read by server process "
                f"{info.active_pid}, not by a capture of this warehouse",
                capture.where,
                "stop that reader (a headwater stream run elsewhere, pg_recvlogical) and try again",
            )
        dropped = capture.drop_slot(connection)
        capture.drop_publication(connection)
    return dropped


def _recorded(folder: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads((folder / SLOT_FILE).read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _drop_recorded(recorded: dict[str, Any], where: Location) -> bool:
    """Drop the slot (and publication) a `slot.json` records, through the URL it records
    (its `${VAR}` secrets read from the environment now); True when the slot existed.

    Raises:
        ConfigError: a variable of the URL is not set.
        TransientError: the database does not answer.
        CdcError: someone reads the slot.
    """
    slot = str(recorded["slot"])
    publication = str(recorded.get("publication") or slot)
    url = resolve(str(recorded["url"]), where, "url")
    return _drop(PostgresCapture(url, slot, publication, where, CONNECT_S))


# -- removed sources ------------------------------------------------------------------------


def drop_removed_captures(project: OpenProject) -> list[str]:
    """Drop the slots no capture of the project will read again, before they fill the
    database's disk: those of sources gone from the project (or left without a cdc table),
    whose capture folders are then removed, and a slot renamed in a source's `cdc:`. Each
    is dropped through the URL recorded with it. What cannot be done now (a variable unset,
    the database away, the capture still running) is kept for the next try. Returns what was
    done and what was not, one message each (also logged)."""
    root = project.store.warehouse / CDC_FOLDER
    if not root.is_dir():
        return []
    definition = project.definition
    wanted = set(capture_sources(definition))
    messages: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = folder.name
        if name not in wanted:
            message = _forget(folder, name)
        else:
            config = definition.sources[name]
            message = _renamed(folder, name, config) if _is_postgres(config) else None
        if message is not None:
            _LOG.warning("%s", message)
            messages.append(message)
    return messages


def _forget(folder: Path, name: str) -> str | None:
    """Drop the slot of removed source `name` and remove its capture folder."""
    import psycopg

    where = Location(file=str(folder / SLOT_FILE))
    try:
        with stream_lock(folder, f"capture of {name}"):
            recorded = _recorded(folder)
            dropped = None
            if recorded is not None and recorded.get("slot") and recorded.get("url"):
                dropped = _drop_recorded(recorded, where)
            shutil.rmtree(folder)
    except RunLockedError:
        return (
            f"source {name} left the project, but its capture still runs; its slot is "
            "dropped once it stops"
        )
    except (HeadwaterError, psycopg.Error, OSError) as exc:
        return (
            f"source {name} left the project, but its replication slot could not be dropped "
            f"yet: {_reason(exc)}; kept {folder} to try again at the next run"
        )
    if not dropped:
        return None
    assert recorded is not None
    return f"dropped replication slot {recorded['slot']} of source {name}, which left the project"


def _renamed(folder: Path, name: str, config: SourceConfig) -> str | None:
    """Drop the slot a source's capture recorded when its `cdc.slot` now names another."""
    import psycopg

    recorded = _recorded(folder)
    slot, _ = _slot_names(name, config)
    if recorded is None or not recorded.get("url") or recorded.get("slot") in (None, slot):
        return None
    where = Location(file=str(folder / SLOT_FILE))
    try:
        with stream_lock(folder, f"capture of {name}"):
            dropped = _drop_recorded(recorded, where)
            (folder / SLOT_FILE).unlink(missing_ok=True)
    except RunLockedError:
        return None
    except (HeadwaterError, psycopg.Error, OSError) as exc:
        return (
            f"source {name} now uses slot {slot}, but its former slot {recorded['slot']} could "
            f"not be dropped yet: {_reason(exc)}"
        )
    if not dropped:
        return None
    return f"dropped replication slot {recorded['slot']} of source {name}, which now uses {slot}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HeadwaterError):
        return exc.message
    return redact(first_error_line(exc))


# -- continuous captures (`headwater stream run`) -------------------------------------------


@dataclass
class CaptureOutcome:
    """How one capture of a `headwater stream run` ended."""

    source: str
    summary: StreamSummary = field(default_factory=StreamSummary)
    error: BaseException | None = None
    started: float = 0.0


class ContinuousCaptures:
    """The captures one `headwater stream run` runs beside its streams: each in a thread of
    its own with its own engine session, under its capture folder's run lock, until `stop`
    is set (or, with `until_caught_up`, until it has applied what the source logged so far).

    Each applied micro-batch is told to `on_commit` as a stream's `BatchReport` keyed by the
    source: its changes as events, its collapsed rows as rows, the commit time of its last
    transaction as watermark, and as position the LSN it reached (PostgreSQL) or its number
    (debezium).
    """

    def __init__(
        self,
        project: OpenProject,
        sources: list[str],
        run_id: str,
        stop: threading.Event,
        until_caught_up: bool,
        on_commit: Callable[[str, BatchReport], None] | None,
    ) -> None:
        self.project = project
        self.run_id = run_id
        self.stop = stop
        self.until_caught_up = until_caught_up
        self.on_commit = on_commit
        self.outcomes = {s: CaptureOutcome(s) for s in sources}
        self.tables = {
            s: [f"{t.source_name}.{t.name}" for t in captured_tables(project.definition, s)]
            for s in sources
        }
        self._results: dict[str, Any] = {}

    @property
    def keys(self) -> list[str]:
        """The mirrors' asset keys, as the run records them."""
        return [k for keys in self.tables.values() for k in keys]

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold every capture's run lock (all or none); removed sources' slots are dropped
        first.

        Raises:
            RunLockedError: a capture runs already (in `headwater run` or another process).
        """
        if self.outcomes:
            drop_removed_captures(self.project)
        with ExitStack() as stack:
            for source in self.outcomes:
                stack.enter_context(
                    stream_lock(capture_folder(self.project.store, source), f"capture of {source}")
                )
            yield

    def record_start(self, catalog: Catalog, run_id: str) -> None:
        """Record each mirror as an asset of run `run_id`."""
        self._results = {k: catalog.start_asset(run_id, k, "stream", None) for k in self.keys}

    def threads(self) -> list[threading.Thread]:
        """A thread per capture, not started."""
        return [
            threading.Thread(
                target=self._run_one, args=(source,), name=f"hw-cdc-{source}", daemon=True
            )
            for source in self.outcomes
        ]

    def record_end(self, catalog: Catalog) -> dict[str, BaseException]:
        """Record how each mirror's capture ended; return the captures that failed."""
        from headwater.catalog.statuses import BuildStatus

        store = self.project.store
        for source, outcome in self.outcomes.items():
            summary = outcome.summary
            for key in self.tables[source]:
                catalog.finish_asset(
                    self._results[key],
                    BuildStatus.FAILED if outcome.error is not None else BuildStatus.SUCCESS,
                    rows=summary.rows,
                    version=store.current_version(TableRef.parse(key)),
                    duration_s=time.monotonic() - outcome.started if outcome.started else None,
                    message=(
                        _reason(outcome.error)
                        if outcome.error is not None
                        else f"{summary.events} changes applied in {summary.batches} "
                        f"micro-batches by the capture of {source}"
                    ),
                )
        return {s: o.error for s, o in self.outcomes.items() if o.error is not None}

    def summaries(self) -> dict[str, StreamSummary]:
        """What each capture did, by source."""
        return {s: o.summary for s, o in self.outcomes.items()}

    def _run_one(self, source: str) -> None:
        """Run the capture of `source` in its own engine session, keeping how it ended."""
        from headwater.engine.registry import EnginePlace, create_engine

        outcome = self.outcomes[source]
        outcome.started = time.monotonic()
        definition, store = self.project.definition, self.project.store
        postgres = _is_postgres(definition.sources[source])
        numbers = itertools.count()
        version = [0]
        engine = None

        def applied(report: CaptureBatch) -> None:
            versions = [store.current_version(TableRef.parse(k)) for k in report.tables]
            version[0] = max([v for v in versions if v is not None] or version)
            told = stream_report(report, next(numbers), version[0], postgres)
            outcome.summary.add(told)
            if self.on_commit is not None:
                self.on_commit(source, told)

        try:
            engine = create_engine(definition.embedded_engine, EnginePlace.of(definition, store))
            session = engine.session()
            job = capture_job(definition, source, store, session, self.run_id, applied)
            job.run(self.until_caught_up, self.stop)
        except BaseException as exc:  # one capture's failure stops only that capture
            outcome.error = exc
        finally:
            if engine is not None:
                try:
                    engine.close()
                except Exception as exc:  # closing must not hide how the capture ended
                    outcome.error = outcome.error or exc


def stream_report(report: CaptureBatch, batch: int, version: int, postgres: bool) -> BatchReport:
    """A capture's applied micro-batch told as a stream's commit (see `ContinuousCaptures`)."""
    now = time.time()
    position = {"lsn": format_lsn(report.position)} if postgres else {"batch": report.position}
    return BatchReport(
        batch=batch,
        version=version,
        events=report.changes,
        rows=sum(report.tables.values()),
        rejected=0,
        late=0,
        windows_closed=0,
        watermark=report.commit_us,
        positions=position,
        lag={},
        committed_at=now,
        seconds=report.seconds,
        latency_s=None if report.commit_us is None else max(0.0, now - report.commit_us / 1e6),
    )
