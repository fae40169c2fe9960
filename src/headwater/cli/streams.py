"""The stream commands: `stream run` (long-running), `stream status`, `stream reset` and
`stream collect` (the HTTP event collector)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import click

from headwater.cli.common import JSON
from headwater.cli.common import project_of as _project

if TYPE_CHECKING:
    from headwater.stream.runner import BatchReport

PRINT_EVERY_S = 1.0
"""Commit lines printed when not on a terminal: at most one a second per stream."""


@click.group()
def stream() -> None:
    """Run, watch and reset streams (streams/*.yml)."""


@stream.command(name="run")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop once every stream has read what its source holds now.",
)
@click.pass_context
def run_(ctx: click.Context, names: tuple[str, ...], until_caught_up: bool) -> None:
    """Run the named streams (all by default) until stopped (SIGTERM or Ctrl-C).

    A NAME may be a cdc source: its capture runs continuously beside the streams (with no
    NAME, every stream and every cdc source runs).

    On SIGTERM or Ctrl-C each stream commits the micro-batch in hand and the command exits 0.
    Exit code 1 when a stream failed (the others run on until stopped).
    """
    from headwater.cli.output import is_terminal

    project = _project(ctx)
    stop = threading.Event()
    view: _LiveView | _Lines = _LiveView() if is_terminal() else _Lines()
    with _StopOnSignals(stop), view:
        summaries = project.run_streams(
            list(names), stop=stop, until_caught_up=until_caught_up, on_commit=view.commit
        )
    for key, summary in summaries.items():
        click.echo(
            f"{key}: {summary.events} events, {summary.rows} rows in {summary.batches} "
            f"micro-batches"
            + (f", {summary.late} late" if summary.late else "")
            + (f", {summary.rejected} quarantined" if summary.rejected else "")
            + ("" if summary.last_batch is None else f"; last batch {summary.last_batch}")
        )


@stream.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@JSON
@click.pass_context
def status(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Show each stream: running or not, last commit, watermark, lag per source partition,
    events/s and latency (p50/p99)."""
    from headwater.cli.output import emit_json, print_table

    rows = _project(ctx).stream_status(list(names))
    if as_json:
        emit_json(rows)
        return
    print_table(
        [
            "stream",
            "state",
            "batch",
            "version",
            "last commit",
            "watermark",
            "events/s",
            "latency p50",
            "p99",
        ],
        [
            (
                r["stream"],
                _state(r),
                r["batch"],
                r["version"],
                (r["last_commit"] or "")[:23],
                (r["watermark"] or "")[:23],
                r["events_per_s"],
                _seconds(r["latency_p50_s"]),
                _seconds(r["latency_p99_s"]),
            )
            for r in rows
        ],
    )
    lags = [(r["stream"], p, lag) for r in rows for p, lag in sorted(r["lag"].items())]
    if lags:
        print_table(
            ["stream", "partition", "lag", "position"],
            [
                (key, part, "" if lag is None else lag, _position(rows, key, part))
                for key, part, lag in lags
            ],
            title="lag per source partition",
        )


def _state(row: dict[str, Any]) -> str:
    if row["running"]:
        return f"running (pid {row['pid']})" if row["pid"] else "running"
    return "failed" if row.get("error") else "stopped"


@stream.command()
@click.argument("name")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="earliest|latest|TIMESTAMP",
    help="Where the stream starts reading again: earliest, latest or an ISO timestamp.",
)
@click.pass_context
def reset(ctx: click.Context, name: str, to: str) -> None:
    """Make stream NAME read again from --to on its next run, forgetting its checkpoints.

    The rows already in its table stay; windows read again are written again.
    """
    marker = _project(ctx).reset_stream(name, to)
    after = marker["after_batch"]
    click.echo(
        f"stream {name} reset: its next run starts at {marker['to']}"
        + ("" if after < 0 else f" (after batch {after})")
    )


@stream.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8766, show_default=True)
@click.pass_context
def collect(ctx: click.Context, host: str, port: int) -> None:
    """Run the HTTP event collector: POST NDJSON to /topics/<topic>, read by `kind: http`
    streams. Runs until SIGTERM or Ctrl-C."""
    project = _project(ctx)
    click.echo(f"collector listening on http://{host}:{port} (Ctrl-C to stop)", err=True)
    project.serve_collector(host, port)


COMMANDS = [stream]


# -- helpers --------------------------------------------------------------------------------


class _StopOnSignals:
    """SIGTERM and the first Ctrl-C set `stop` (each stream commits its batch and ends); a
    second Ctrl-C interrupts at once."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        import signal

        def handle(signum: int, _frame: object) -> None:
            if self.stop.is_set() and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop.set()
            click.echo("stopping: committing the batches in hand...", err=True)

        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, handle)

    def __exit__(self, *_: object) -> None:
        import signal

        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


class _Lines:
    """Prints a line per commit (at most one a second per stream) when not on a terminal."""

    def __init__(self) -> None:
        self._printed: dict[str, float] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def commit(self, key: str, report: BatchReport) -> None:
        """Print `report` unless one of `key` was printed less than a second ago."""
        now = time.monotonic()
        with self._lock:
            if now - self._printed.get(key, -PRINT_EVERY_S) < PRINT_EVERY_S:
                return
            self._printed[key] = now
            click.echo(_line(key, report))


class _LiveView:
    """A rich live table on a terminal: a row per stream with its last commit."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[BatchReport, int]] = {}
        self._lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> _LiveView:
        from rich.live import Live

        self._live = Live(self._table(), refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *args: Any) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*args)

    def commit(self, key: str, report: BatchReport) -> None:
        """Show `report` as `key`'s latest commit."""
        with self._lock:
            events = self._rows.get(key, (report, 0))[1] + report.events
            self._rows[key] = (report, events)
            if self._live is not None:
                self._live.update(self._table())

    def _table(self) -> Any:
        from rich.table import Table

        table = Table("stream", "batch", "version", "events", "rows", "watermark", "lag")
        for key, (report, events) in sorted(self._rows.items()):
            table.add_row(
                key,
                str(report.batch),
                str(report.version),
                f"{events:,}",
                f"{report.rows:,}",
                _micros(report.watermark),
                _lag(report.lag),
            )
        return table


def _line(key: str, report: BatchReport) -> str:
    return (
        f"{key}: batch {report.batch} v{report.version} {report.events} events "
        f"{report.rows} rows"
        + (f" {report.late} late" if report.late else "")
        + (f" {report.rejected} quarantined" if report.rejected else "")
        + f" watermark {_micros(report.watermark) or '-'} lag {_lag(report.lag) or '-'}"
    )


def _micros(value: int | None) -> str:
    if value is None:
        return ""
    import datetime as dt

    moment = dt.datetime.fromtimestamp(value / 1_000_000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lag(lag: dict[str, int | None]) -> str:
    known = [v for v in lag.values() if v is not None]
    return "" if not known else f"{sum(known):,}"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}s"


def _position(rows: list[dict[str, Any]], key: str, part: str) -> str:
    for row in rows:
        if row["stream"] == key:
            value = row["positions"].get(part)
            return "" if value is None else str(value)
    return ""
