"""How the CLI shows things: rich tables on a terminal, plain text in pipes, JSON on request."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from headwater.orchestrate.runner import AssetOutcome, RunSummary

STATUS_STYLE = {
    "success": "green",
    "up_to_date": "dim",
    "failed": "bold red",
    "skipped": "yellow",
    "interrupted": "red",
    "running": "cyan",
}


def is_terminal() -> bool:
    """True when standard output is an interactive terminal."""
    return sys.stdout.isatty()


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.1f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def emit_json(value: Any) -> None:
    """Print `value` as JSON (datetimes and other objects as strings)."""
    sys.stdout.write(json.dumps(value, default=str, indent=2) + "\n")


def finish_run(reporter: RunReporter, summary: RunSummary, as_json: bool) -> NoReturn:
    """End a command that ran assets: the reporter's last lines, the summary as JSON when
    asked, and the run's exit code (1 when an asset failed)."""
    reporter.finish(summary)
    if as_json:
        emit_json(
            {
                "run_id": summary.run_id,
                "status": summary.status,
                "duration_s": summary.duration_s,
                "assets": [vars(o) for o in summary.outcomes],
            }
        )
    sys.exit(summary.exit_code)


def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    """Print rows as a table: boxed on a terminal, tab-separated otherwise."""
    if not is_terminal():
        if title:
            sys.stdout.write(f"# {title}\n")
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(_plain(v) for v in row) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=False):
            text = _plain(value)
            style = STATUS_STYLE.get(text) if column == "status" else None
            cells.append(f"[{style}]{text}[/]" if style else text.replace("[", r"\["))
        table.add_row(*cells)
    Console().print(table)


def print_arrow(table: Any, fmt: str) -> None:
    """Print an Arrow table as a table, CSV or JSON lines."""
    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = sys.stdout.buffer
        pacsv.write_csv(table, sink)
        sink.flush()
        return
    if fmt == "json":
        for row in table.to_pylist():
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        return
    print_table(table.column_names, [tuple(r.values()) for r in table.to_pylist()])


def _worth_showing(outcome: AssetOutcome) -> bool:
    """A success whose message says what a reader should know: what a load brought (rows
    loaded and quarantined), or checks that warned."""
    message = outcome.message or ""
    return outcome.status == "success" and (
        outcome.materialization == "ingest" or "quarantined" in message or "warn " in message
    )


TIMELINE_WIDTH = 50


def print_timeline(attempts: list[dict[str, Any]]) -> None:
    """A Gantt chart of a run's attempts: one bar per attempt on a shared time axis."""
    import datetime as dt

    spans = []
    for item in attempts:
        if not item.get("finished_at"):
            continue
        start = dt.datetime.fromisoformat(str(item["started_at"]))
        end = dt.datetime.fromisoformat(str(item["finished_at"]))
        spans.append((item, start, end))
    if not spans:
        return
    origin = min(s for _, s, _ in spans)
    total = max((e - origin).total_seconds() for _, _, e in spans) or 1e-9
    width = max(len(f"{i['asset']} #{i['attempt']}") for i, _, _ in spans)
    sys.stdout.write(f"\ntimeline ({total:.2f}s)\n")
    for item, start, end in spans:
        left = int((start - origin).total_seconds() / total * TIMELINE_WIDTH)
        length = max(1, round((end - start).total_seconds() / total * TIMELINE_WIDTH))
        mark = (
            "#" if item["status"] == "success" else ("~" if item["status"] == "retrying" else "x")
        )
        label = f"{item['asset']} #{item['attempt']}"
        bar = " " * left + mark * length
        sys.stdout.write(
            f"{label:<{width}} |{bar:<{TIMELINE_WIDTH + 1}}| {item['duration_s'] or 0:.2f}s "
            f"{item['status']}\n"
        )


class RunReporter:
    """Shows a run's progress: a rich progress bar on a terminal, a line per asset otherwise."""

    def __init__(self, total: int, quiet: bool = False, verb: str = "building") -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.started = time.perf_counter()
        self._progress: Any = None
        self._task: Any = None
        if is_terminal() and not quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn(f"[bold]{verb}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=total)

    def __call__(self, event: str, outcome: AssetOutcome) -> None:
        if self.quiet:
            return
        if event == "start":
            if self._progress is not None:
                self._progress.update(self._task, description=outcome.key)
            return
        self.done += 1
        line = self._line(outcome)
        if self._progress is not None:
            self._progress.advance(self._task)
            self._progress.console.print(line)
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def _line(self, outcome: AssetOutcome) -> str:
        label = {
            "success": "OK",
            "up_to_date": "FRESH",
            "failed": "FAIL",
            "skipped": "SKIP",
        }.get(outcome.status, outcome.status.upper())
        parts = [
            f"[{self.done}/{self.total}]",
            f"{label:5}",
            outcome.key + (f"[{outcome.partition}]" if outcome.partition else ""),
            f"({outcome.materialization})",
        ]
        if outcome.rows is not None:
            parts.append(f"{outcome.rows:,} rows")
        if outcome.version is not None and outcome.status == "success":
            parts.append(f"v{outcome.version}")
        if outcome.status in ("success", "failed"):
            parts.append(f"{outcome.duration_s:.2f}s")
        if outcome.message and (outcome.status in ("failed", "skipped") or _worth_showing(outcome)):
            parts.append("\n      " + outcome.message.replace("\n", "\n      "))
        text = " ".join(parts)
        if self._progress is not None:
            style = STATUS_STYLE.get(outcome.status)
            escaped = text.replace("[", r"\[")
            return f"[{style}]{escaped}[/]" if style else escaped
        return text

    def finish(self, summary: RunSummary) -> None:
        """Stop the progress display and print the summary line."""
        if self._progress is not None:
            self._progress.stop()
        if self.quiet:
            return
        counts = [
            f"{summary.count('success')} built",
            f"{summary.count('up_to_date')} up to date",
        ]
        if summary.count("failed"):
            counts.append(f"{summary.count('failed')} failed")
        if summary.count("skipped"):
            counts.append(f"{summary.count('skipped')} skipped")
        verdict = "Done" if summary.status == "success" else "Run failed"
        sys.stdout.write(
            f"{verdict}: {', '.join(counts)} in {summary.duration_s:.2f}s (run {summary.run_id})\n"
        )
