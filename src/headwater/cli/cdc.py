"""The change data capture commands: `cdc status` (slots, lag and mirrors) and `cdc reset`
(a new slot and a fresh copy). Captures run in `headwater run` / `ingest` (up to the current
position) and continuously in `headwater stream run`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from headwater.cli.common import JSON
from headwater.cli.common import project_of as _project

if TYPE_CHECKING:
    from headwater.orchestrate.cdc import CaptureStatus


@click.group()
def cdc() -> None:
    """Watch and reset change data capture (sources with mode: cdc tables)."""


@cdc.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@JSON
@click.pass_context
def status(ctx: click.Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Show each cdc source (all by default): its replication slot (lag and retained WAL),
    how far behind its last applied commit is, and each mirror's position, last commit and
    rows. A source past its max_retained_wal or max_lag is shown with a warning."""
    from headwater.cli.output import emit_json, print_table
    from headwater.orchestrate.cdc import capture_statuses

    project = _project(ctx)
    # read-only: the slots of removed sources are dropped by `run` and `ingest`, not here
    found = capture_statuses(project, list(sources))
    if as_json:
        emit_json([s.as_json() for s in found])
    else:
        print_table(
            ["source", "capture", "slot", "lag", "retained WAL", "behind", "last commit"],
            [
                (
                    s.source,
                    _capture(s),
                    _slot(s),
                    _bytes(s.lag_bytes),
                    _bytes(s.retained_bytes),
                    _age(s.lag_s) if s.lag_s is not None else "",
                    (s.last_commit_time or "")[:23],
                )
                for s in found
            ],
        )
        print_table(
            ["table", "position", "last commit", "ago", "rows"],
            [
                (
                    t.table,
                    t.position or "(not copied)",
                    (t.commit_time or "")[:23],
                    _age(t.commit_age_s),
                    t.rows,
                )
                for s in found
                for t in s.tables
            ],
            title="mirrors",
        )
    for s in found:
        for alert in s.alerts:
            click.echo(f"Warning: {alert.kind}: {alert.message}", err=True)


@cdc.command()
@click.argument("source")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset(ctx: click.Context, source: str, yes: bool) -> None:
    """Drop SOURCE's replication slot and publication, so that its next run creates a new
    slot and copies every mirror again (from a new snapshot).

    Refused while the capture runs. The slot is dropped even when this warehouse has no
    record of it (a lost warehouse).
    """
    from headwater.orchestrate.cdc import reset_capture

    project = _project(ctx)
    if not yes:
        click.confirm(
            f"Drop the replication slot of source {source} and copy its mirrors again on "
            "the next run?",
            abort=True,
        )
    done = reset_capture(project, source)
    what = "dropped" if done["slot_dropped"] else "had no slot"
    click.echo(
        f"source {done['source']}: {what} {done['slot']} (publication {done['publication']} "
        "dropped); its next run creates a new slot and copies every mirror again"
    )


COMMANDS = [cdc]


# -- helpers --------------------------------------------------------------------------------


def _capture(found: CaptureStatus) -> str:
    if found.running:
        return f"running (pid {found.pid})" if found.pid else "running"
    return "stopped"


def _slot(found: CaptureStatus) -> str:
    if found.kind != "postgres":
        return f"({found.kind}: no slot)"
    if found.error is not None:
        return f"unreachable: {found.error}"
    if not found.slot_exists:
        return f"{found.slot} (not created yet)"
    reader = "" if found.active_pid is None else f", read by pid {found.active_pid}"
    return f"{found.slot} at {found.confirmed_flush_lsn}{reader}"


def _bytes(value: int | None) -> str:
    from headwater.orchestrate.cdc import human_size

    return "" if value is None else human_size(value)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
