"""A cdc table in a run (`headwater run`, `headwater ingest`): the source's capture applies
every change logged so far to all of its mirrors and stops there, once per run and source,
whichever of its tables is built first. A capture already running in another process
(`headwater stream run`) keeps the mirrors current itself, so the run leaves it alone."""

from __future__ import annotations

import os
import threading

from headwater.build.builders import register
from headwater.build.context import BuildContext, BuildResult
from headwater.errors import RunLockedError
from headwater.project.kinds import BuildKind
from headwater.storage.base import TableRef
from headwater.stream.cdc.jobs import capture_job
from headwater.stream.cdc.postgres_job import CaptureSummary, capture_folder
from headwater.stream.run_lock import running_pid, stream_lock

_DONE: dict[tuple[str, str], CaptureSummary] = {}
"""The capture each (run, source) did, so the source's other tables only report."""
_GUARD = threading.Lock()
_SOURCE_LOCKS: dict[str, threading.Lock] = {}


def build_cdc(ctx: BuildContext) -> BuildResult:
    """Apply the source's logged changes (once per run) and report this table's share."""
    spec = ctx.asset.source
    assert spec is not None
    source = spec.source_name
    folder = capture_folder(ctx.store, source)
    with _GUARD:
        local = _SOURCE_LOCKS.setdefault(source, threading.Lock())
    with local:
        summary = _DONE.get((ctx.run_id, source))
        if summary is None:
            holder = running_pid(folder)
            if holder is not None and holder != os.getpid():
                return BuildResult(
                    version=ctx.store.current_version(ctx.ref),
                    message=f"captured continuously by pid {holder}",
                )
            try:
                with stream_lock(folder, f"capture of {source}"):
                    job = capture_job(ctx.definition, source, ctx.store, ctx.session, ctx.run_id)
                    summary = job.run(until_caught_up=True)
            except RunLockedError:
                return BuildResult(
                    version=ctx.store.current_version(ctx.ref),
                    message="captured by another process",
                )
            with _GUARD:
                _DONE[(ctx.run_id, source)] = summary
    copied = summary.snapshots.get(ctx.asset.key)
    applied = summary.rows.get(ctx.asset.key, 0)
    parts = []
    if copied is not None:
        parts.append(f"copied {copied} rows")
    parts.append(
        f"{applied} rows changed by {summary.changes} changes in {summary.transactions} "
        f"transactions of {source}"
    )
    return BuildResult(
        rows=(copied or 0) + applied,
        version=ctx.store.current_version(TableRef.of(ctx.asset)),
        message="; ".join(parts),
    )


register(BuildKind.CDC, build_cdc)
