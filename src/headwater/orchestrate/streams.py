"""Running, watching and resetting a project's streams (`headwater stream run|status|reset`).

Each stream runs in a thread of its own with its own engine session, under a lock on its
checkpoint folder (`run.lock`, holding the pid), so the same stream never runs twice at once,
whichever process starts it. One catalog run records the invocation; a stream that fails stops
alone, and the run is failed once every stream has ended.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, UsageError
from headwater.project.kinds import AssetKind
from headwater.stream.jobs import checkpoint_folder
from headwater.stream.run_lock import running_pid, stream_lock
from headwater.stream.runner import RESET_FILE, BatchReport, StreamSummary

if TYPE_CHECKING:
    from headwater.orchestrate.opening import OpenProject
    from headwater.project.definition import Asset, ProjectDefinition

JOIN_POLL_S = 0.2
"""How often the main thread looks up from waiting for the streams (signals run in between)."""

CommitHandler = Callable[[str, BatchReport], None]
"""Told of each committed micro-batch: the stream's key and what the batch did."""


class StreamsFailedError(HeadwaterError):
    """One or more streams of `headwater stream run` stopped on an error."""


@dataclass
class StreamOutcome:
    """How one stream of a run ended."""

    key: str
    summary: StreamSummary
    error: BaseException | None = None
    started: float = 0.0


def stream_assets(definition: ProjectDefinition, names: list[str] | None) -> list[Asset]:
    """The stream assets `names` pick (a stream's key `namespace.name` or its bare name; all
    streams when `names` is empty), in the order given.

    Raises:
        UsageError: a name matches no stream (with the closest stream's name).
    """
    streams = {k: a for k, a in definition.assets.items() if a.kind == AssetKind.STREAM}
    if not names:
        return [streams[k] for k in sorted(streams)]
    chosen: dict[str, Asset] = {}
    for name in names:
        found = [a for k, a in streams.items() if name in (k, a.name)]
        if len(found) != 1:
            from headwater.project.yamlfile import closest

            options = sorted({*streams, *(a.name for a in streams.values())})
            near = closest(name, options)
            if found:
                hint = "name it as namespace.name: " + ", ".join(sorted(a.key for a in found))
            elif near:
                hint = f"did you mean '{near}'?"
            elif streams:
                hint = "the project's streams: " + ", ".join(sorted(streams))
            else:
                hint = "declare one in streams/<name>.yml"
            what = "several streams are" if found else "no stream is"
            raise UsageError(f"{what} named '{name}'", hint=hint)
        chosen[found[0].key] = found[0]
    return list(chosen.values())


# -- run ------------------------------------------------------------------------------------


def run_streams(
    project: OpenProject,
    names: list[str] | None,
    stop: threading.Event,
    until_caught_up: bool = False,
    on_commit: CommitHandler | None = None,
) -> dict[str, StreamSummary]:
    """Run the streams `names` (all by default), each in a thread of its own, until `stop` is
    set (each commits the batch in hand first) or, with `until_caught_up`, until each has read
    what its source holds; return what each did. A name may be a cdc source's: its capture
    runs beside the streams (all captures when no name is given; see
    `headwater.orchestrate.cdc.ContinuousCaptures`).

    Raises:
        UsageError: a name matches no stream, or the project has none.
        RunLockedError: one of them runs already (nothing was started).
        StreamsFailedError: a stream stopped on an error (the others ran on to the end).
    """
    from headwater.catalog.statuses import BuildStatus, RunStatus
    from headwater.catalog.store import keep_alive, new_run_id
    from headwater.orchestrate.cdc import ContinuousCaptures, split_stream_names
    from headwater.orchestrate.lock import RunLocks
    from headwater.orchestrate.planning import claim_of

    definition, catalog, store = project.definition, project.catalog, project.store
    stream_names, sources = split_stream_names(definition, names)
    assets = stream_assets(definition, stream_names) if stream_names != [] else []
    if not assets and not sources:
        raise UsageError(
            "the project has no streams and no cdc sources",
            hint="declare one in streams/<name>.yml (see docs/streaming.md)",
        )
    keys = [a.key for a in assets]
    run_id = new_run_id()
    captures = ContinuousCaptures(project, sources, run_id, stop, until_caught_up, on_commit)
    claims = RunLocks(catalog, definition.state_dir, run_id, "stream")
    # the stream's own lock first: a second `stream run` is refused naming the pid running it;
    # a capture's mirrors are not claimed: a `headwater run` leaves a running capture alone
    with _locks(store, assets), captures.locked():
        claims.acquire({claim_of(definition, k) for k in keys})
        try:
            record = catalog.start_run(
                "stream",
                " ".join(names or []) or None,
                len(keys) + len(captures.keys),
                False,
                arguments={
                    "streams": keys,
                    "captures": sources,
                    "until_caught_up": until_caught_up,
                },
                run_id=run_id,
            )
            results = {k: catalog.start_asset(run_id, k, "stream", None) for k in keys}
            captures.record_start(catalog, run_id)
            outcomes = {k: StreamOutcome(k, StreamSummary()) for k in keys}
            try:
                with keep_alive(catalog, run_id):
                    threads = [
                        threading.Thread(
                            target=_run_one,
                            args=(
                                project,
                                asset,
                                record.run_id,
                                stop,
                                until_caught_up,
                                on_commit,
                                outcomes[asset.key],
                            ),
                            name=f"hw-stream-{asset.key}",
                            daemon=True,
                        )
                        for asset in assets
                    ] + captures.threads()
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        while thread.is_alive():
                            thread.join(JOIN_POLL_S)
            except BaseException as exc:
                stop.set()
                catalog.finish_run(run_id, RunStatus.INTERRUPTED, repr(exc)[:4000])
                raise
            for key, outcome in outcomes.items():
                summary = outcome.summary
                catalog.finish_asset(
                    results[key],
                    BuildStatus.FAILED if outcome.error is not None else BuildStatus.SUCCESS,
                    rows=summary.rows,
                    version=store.current_version(_ref(definition, key)),
                    duration_s=time.monotonic() - outcome.started if outcome.started else None,
                    message=(
                        _message(outcome.error)
                        if outcome.error is not None
                        else f"{summary.events} events in {summary.batches} micro-batches"
                    ),
                )
            failed = {k: o.error for k, o in outcomes.items() if o.error is not None}
            failed.update(captures.record_end(catalog))
            if failed:
                text = "; ".join(f"{k}: {_message(e)}" for k, e in failed.items())
                catalog.finish_run(run_id, RunStatus.FAILED, text[:4000])
                raise StreamsFailedError(
                    f"{len(failed)} of {len(keys) + len(sources)} streams failed: {text}",
                    hint="fix the cause and run them again: each resumes from its last commit",
                )
            interrupted = stop.is_set() and not until_caught_up
            catalog.finish_run(
                run_id,
                RunStatus.INTERRUPTED if interrupted else RunStatus.SUCCESS,
                "stopped (SIGTERM or Ctrl-C) after committing its batch" if interrupted else None,
            )
            return {k: o.summary for k, o in outcomes.items()} | captures.summaries()
        finally:
            claims.release()


@contextmanager
def _locks(store: Any, assets: list[Asset]) -> Iterator[None]:
    """Hold every stream's run lock (all or none)."""
    from contextlib import ExitStack

    from headwater.storage.base import TableRef

    with ExitStack() as stack:
        for asset in assets:
            stack.enter_context(
                stream_lock(checkpoint_folder(store, TableRef.of(asset)), asset.key)
            )
        yield


def _run_one(
    project: OpenProject,
    asset: Asset,
    run_id: str,
    stop: threading.Event,
    until_caught_up: bool,
    on_commit: CommitHandler | None,
    outcome: StreamOutcome,
) -> None:
    """Run one stream in its own engine session, keeping how it ended in `outcome`."""
    from headwater.build.compiler import Compiler
    from headwater.build.relations import Relations
    from headwater.engine.registry import EnginePlace, create_engine
    from headwater.stream.jobs import stream_job
    from headwater.stream.runner import StreamRunner

    outcome.started = time.monotonic()
    definition, store = project.definition, project.store
    engine = None
    try:
        engine = create_engine(definition.embedded_engine, EnginePlace.of(definition, store))
        session = engine.session()
        compiler = Compiler(definition)
        relations = Relations(definition, store, compiler.compile)

        progress = ProgressRecorder(project, asset.key, run_id)
        progress.started()

        def committed(report: BatchReport) -> None:
            progress.committed(report)
            outcome.summary.add(report)
            if on_commit is not None:
                on_commit(asset.key, report)

        job = stream_job(asset, definition, store, session, compiler, relations, run_id, committed)
        StreamRunner(job).run(stop, until_caught_up)
        progress.ended(None)
    except BaseException as exc:  # one stream's failure stops only that stream
        outcome.error = exc
        _record_end(project, asset.key, run_id, exc)
    finally:
        if engine is not None:
            try:
                engine.close()
            except Exception as exc:  # closing must not hide how the stream ended
                outcome.error = outcome.error or exc


PROGRESS_EVERY_S = 1.0
"""How often a running stream's progress is written to the catalog (and at start and end)."""


class ProgressRecorder:
    """Writes one running stream's progress to the catalog, at most every `PROGRESS_EVERY_S`
    seconds and when it starts and ends."""

    def __init__(self, project: OpenProject, key: str, run_id: str) -> None:
        from headwater.catalog.streams import RUNNING, StreamProgress

        self.project = project
        self.progress = StreamProgress(
            key, RUNNING, run_id=run_id, pid=os.getpid(), started_at=_now()
        )
        self._written = 0.0

    def started(self) -> None:
        """Record that the stream runs."""
        self._write()

    def committed(self, report: BatchReport) -> None:
        """Note a committed batch; write it when the last write is old enough."""
        found = self.progress
        found.batch, found.delta_version = report.batch, report.version
        found.committed_at = _iso(report.committed_at)
        found.watermark = None if report.watermark is None else _iso(report.watermark / 1e6)
        found.events_total = report.totals.get("events")
        found.rows_total = report.totals.get("rows")
        found.rejected_total = report.totals.get("rejected")
        found.late_total = report.totals.get("late")
        if report.rates is not None:
            found.events_per_s = report.rates.events_per_s
            found.latency_p50_s = report.rates.latency_p50_s
            found.latency_p99_s = report.rates.latency_p99_s
        found.lag = dict(report.lag)
        known = [v for v in report.lag.values() if v is not None]
        found.lag_total = sum(known) if known else None
        if time.monotonic() - self._written >= PROGRESS_EVERY_S:
            self._write()

    def ended(self, error: BaseException | None) -> None:
        """Record that the stream stopped (on `error`, or on request)."""
        from headwater.catalog.streams import FAILED, STOPPED

        self.progress.status = STOPPED if error is None else FAILED
        self.progress.error = None if error is None else _message(error)[:4000]
        self._write()

    def _write(self) -> None:
        from headwater.catalog.streams import record_progress

        record_progress(self.project.catalog, self.progress)
        self._written = time.monotonic()


def _record_end(project: OpenProject, key: str, run_id: str, error: BaseException) -> None:
    """Record that stream `key` failed, keeping what its last progress said."""
    from headwater.catalog.streams import FAILED, StreamProgress, record_progress, stream_progress

    try:
        found = stream_progress(project.catalog).get(key) or StreamProgress(key, FAILED)
        found.status, found.run_id, found.error = FAILED, run_id, _message(error)[:4000]
        record_progress(project.catalog, found)
    except Exception:  # the failure itself is reported by the run; this is a report
        return


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")


def _message(exc: BaseException) -> str:
    if isinstance(exc, HeadwaterError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"


def _ref(definition: ProjectDefinition, key: str) -> Any:
    from headwater.storage.base import TableRef

    return TableRef.of(definition.assets[key])


# -- status ---------------------------------------------------------------------------------


def stream_statuses(project: OpenProject, names: list[str] | None) -> list[dict[str, Any]]:
    """Where each stream `names` picks (all by default) stands: running or not (and its
    pid), its last committed batch and table version, and what the catalog has of its last
    commits: watermark, lag per source partition, events/s, latency p50/p99, totals; the
    positions are its last checkpoint's."""
    from headwater.catalog.streams import stream_progress
    from headwater.stream.checkpoint import CheckpointStore
    from headwater.stream.sink import StreamSink
    from headwater.stream.windows import NO_WATERMARK

    definition, store = project.definition, project.store
    recorded = stream_progress(project.catalog)
    rows: list[dict[str, Any]] = []
    for asset in stream_assets(definition, names):
        ref = _ref(definition, asset.key)
        folder = checkpoint_folder(store, ref)
        pid = running_pid(folder)
        batch = StreamSink(store, ref, asset.key, "status").committed_batch()
        found = recorded.get(asset.key)
        checkpoint = None
        if batch is not None and batch in CheckpointStore(folder).batches():
            checkpoint = CheckpointStore(folder).read(batch)
        positions = checkpoint.positions if checkpoint is not None else {}
        watermark = found.watermark if found else None
        if watermark is None and checkpoint is not None and checkpoint.watermark > NO_WATERMARK:
            watermark = _iso(checkpoint.watermark / 1e6)
        totals = dict(checkpoint.totals) if checkpoint is not None else {}
        status = {
            "last_commit": found.committed_at if found else None,
            "watermark": watermark,
            "events_per_s": found.events_per_s if found else None,
            "latency_p50_s": found.latency_p50_s if found else None,
            "latency_p99_s": found.latency_p99_s if found else None,
            "lag": found.lag if found else {},
            "positions": positions,
            "totals": totals,
        }
        assert asset.stream is not None
        rows.append(
            {
                "stream": asset.key,
                "source": asset.stream.source.kind,
                "running": pid is not None,
                "pid": pid if pid is not None and pid > 0 else None,
                "batch": batch,
                "error": found.error if found and found.status == "failed" else None,
                "version": store.current_version(ref),
                "last_commit": status.get("last_commit"),
                "watermark": status.get("watermark"),
                "events_per_s": status.get("events_per_s"),
                "latency_p50_s": status.get("latency_p50_s"),
                "latency_p99_s": status.get("latency_p99_s"),
                "lag": status.get("lag") or {},
                "positions": status.get("positions") or {},
                "totals": status.get("totals") or {},
                "reset_pending": _read_reset(folder),
            }
        )
    return rows


# -- reset ----------------------------------------------------------------------------------


def reset_stream(project: OpenProject, name: str, to: str) -> dict[str, Any]:
    """Make stream `name` start again from `to` (`earliest`, `latest` or an ISO timestamp)
    the next time it runs: its checkpoints are deleted and a reset marker written. Its
    batches keep their numbering (the table's app transaction only grows). Returns the
    marker.

    Raises:
        UsageError: no such stream, or `to` is not valid (for the source).
        RunLockedError: the stream is running.
    """
    from headwater.stream.checkpoint import CheckpointStore
    from headwater.stream.sink import StreamSink

    definition, store = project.definition, project.store
    asset = stream_assets(definition, [name])[0]
    assert asset.stream is not None
    target = _valid_start(to)
    source = asset.stream.source
    if target != "earliest" and not hasattr(source, "start"):
        raise UsageError(
            f"stream {asset.key}: a {source.kind} source starts only at the earliest event",
            hint="use --to earliest",
        )
    ref = _ref(definition, asset.key)
    folder = checkpoint_folder(store, ref)
    with stream_lock(folder, asset.key):
        committed = StreamSink(store, ref, asset.key, "reset").committed_batch()
        marker = {
            "to": target,
            "after_batch": -1 if committed is None else committed,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        temporary = folder / (RESET_FILE + ".tmp")
        temporary.write_text(json.dumps(marker))
        os.replace(temporary, folder / RESET_FILE)
        # only the numbered checkpoints: the lock, the marker and the status stay
        CheckpointStore(folder).discard_after(-1)
        CheckpointStore(folder).clear_start()
    return marker


def _valid_start(to: str) -> str:
    text = to.strip()
    if text.lower() in ("earliest", "latest"):
        return text.lower()
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"'{to}' is not a place a stream can start from",
            hint="use earliest, latest or an ISO timestamp (e.g. 2026-01-01T12:00:00Z)",
        ) from None
    return text


def _read_reset(folder: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads((folder / RESET_FILE).read_text())
    except (OSError, ValueError):
        return None
    return loaded


# -- the collector --------------------------------------------------------------------------


def serve_collector(project_root: Path, host: str, port: int) -> None:
    """Run the HTTP event collector of the project at `project_root` on `host:port` until
    SIGINT or SIGTERM (its topics are read by `kind: http` streams).

    Raises:
        SourceError: another collector already writes to the project's log.
    """
    from headwater.ingest.events.collector_app import serve_collector as serve
    from headwater.ingest.events.segment_log import collector_root

    serve(collector_root(project_root), host, port)
