"""How the CLI shows things: rich tables on a terminal, plain text in pipes, JSON on request.

Query results print exactly: a float in its shortest round-trip form (Python's `repr`; a
32-bit float's own shortest form, inside lists and structs too), a decimal at its scale, unless
the user asks for rounding. A table too wide for the terminal is printed one record at a time
rather than squeezed into unreadable columns; piped, a query's values are escaped so that every
row stays one line of tab-separated text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import struct
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from headwater.catalog.statuses import BuildStatus, RunStatus
from headwater.project.kinds import BuildKind

if TYPE_CHECKING:
    from headwater.orchestrate.results import AssetOutcome, RunSummary

STATUS_STYLE: dict[str, str] = {
    BuildStatus.SUCCESS: "green",
    BuildStatus.UP_TO_DATE: "dim",
    BuildStatus.FAILED: "bold red",
    BuildStatus.SKIPPED: "yellow",
    BuildStatus.INTERRUPTED: "red",
    BuildStatus.RUNNING: "cyan",
}
RESULT_LABEL: dict[str, str] = {
    BuildStatus.SUCCESS: "OK",
    BuildStatus.UP_TO_DATE: "FRESH",
    BuildStatus.FAILED: "FAIL",
    BuildStatus.SKIPPED: "SKIP",
}
"""How a line of run progress names an asset's result (other statuses are shown upper-case)."""


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
    print_texts(columns, [[_plain(v) for v in row] for row in rows], title)


def print_texts(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    title: str | None = None,
    *,
    escape: bool = False,
) -> None:
    """Print rows of ready-made text: tab-separated when piped; on a terminal a boxed table
    if it fits (long text wraps, nothing is cut), else one record at a time.

    With `escape`, piped names and values have backslash, tab, newline and carriage return
    written as `\\`, `\t`, `\n` and `\r`, so each row is exactly one line.
    """
    if not is_terminal():
        clean = tsv_escape if escape else str
        if title:
            sys.stdout.write(f"# {title}\n")
        sys.stdout.write("\t".join(clean(c) for c in columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(clean(v) for v in row) + "\n")
        return
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    console = Console()
    table = Table(title=title, header_style="bold")
    for column in columns:
        # fold, not ellipsis: a value too long for its column wraps and is never cut short
        table.add_column(Text(column), overflow="fold")
    for row in rows:
        cells = []
        for column, text in zip(columns, row, strict=False):
            style = STATUS_STYLE.get(text) if column == "status" else None
            cells.append(Text(text, style=style or ""))
        table.add_row(*cells)
    unbounded = console.options.update_width(sys.maxsize)
    if Measurement.get(console, unbounded, table).minimum <= console.width:
        console.print(table)
        return
    _print_records(columns, rows, title, console.width)


_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_escape(text: str) -> str:
    """`text` as one TSV field: backslash, tab, newline and carriage return escaped."""
    return text.translate(_TSV_ESCAPES)


def _print_records(
    columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None, width: int
) -> None:
    """Print each row as `column | value` lines, like psql's expanded display: a table
    with more columns than the terminal can show side by side stays readable."""
    from rich.cells import cell_len

    if title:
        sys.stdout.write(f"{title}\n")
    label = max((cell_len(c) for c in columns), default=0)
    for number, row in enumerate(rows, start=1):
        head = f"-[ row {number} ]"
        sys.stdout.write(head + "-" * max(3, min(width, label + 40) - len(head)) + "\n")
        for column, text in zip(columns, row, strict=False):
            pad = " " * (label - cell_len(column))
            lines = text.split("\n")
            sys.stdout.write(f"{column}{pad} | {lines[0]}\n")
            for more in lines[1:]:
                sys.stdout.write(f"{' ' * label} | {more}\n")
    if not rows:
        sys.stdout.write("(no rows)\n")


def print_arrow(table: Any, fmt: str, round_digits: int | None = None) -> None:
    """Print an Arrow table as a table (tab-separated when piped), CSV or JSON lines.

    Numbers are exact: floats in their shortest round-trip form, decimals at their scale.
    With `round_digits`, floats and decimals are rounded (half to even) to that many decimal
    places first, and the table shows exactly that many.
    """
    if round_digits is not None:
        table = round_numbers(table, round_digits)
    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = sys.stdout.buffer
        pacsv.write_csv(table, sink)
        sink.flush()
        return
    if fmt == "json":
        for row in table.to_pylist():
            sys.stdout.write(json.dumps(row, default=_json_default) + "\n")
        return
    columns = [
        [_formatter(field.type, round_digits)(v) for v in table.column(i).to_pylist()]
        for i, field in enumerate(table.schema)
    ]
    print_texts(table.column_names, [list(row) for row in zip(*columns, strict=True)], escape=True)


def round_numbers(table: Any, digits: int) -> Any:
    """Return `table` with float and decimal columns rounded (half to even) to `digits`
    decimal places; a decimal's scale becomes `digits` when it was larger."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_floating(kind):
            rounded = pc.round(table.column(index), ndigits=digits, round_mode="half_to_even")
        elif pa.types.is_decimal(kind) and kind.scale > digits:
            rounded = pc.round(table.column(index), ndigits=digits, round_mode="half_to_even").cast(
                (pa.decimal256 if kind.bit_width > 128 else pa.decimal128)(kind.precision, digits)
            )
        else:
            continue
        table = table.set_column(index, field.with_type(rounded.type), rounded)
    return table


def _formatter(kind: Any, digits: int | None) -> Callable[[Any], str]:
    """How to show one value of an Arrow type exactly (or at `digits` decimal places).

    Lists and structs show their elements by their own types (a REAL inside a list in its
    32-bit shortest form); `digits` applies to top-level float and decimal columns only, which
    are the ones `round_numbers` rounds.
    """
    import pyarrow as pa

    if pa.types.is_floating(kind):
        if digits is not None:
            return lambda v: "" if v is None else f"{v:.{digits}f}"
        if pa.types.is_float32(kind) or pa.types.is_float16(kind):
            return lambda v: "" if v is None else _float32_text(v)
    if pa.types.is_decimal(kind) and digits is not None:
        return lambda v: "" if v is None else _decimal_places(v, digits)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        element = _formatter(kind.value_type, None)
        return lambda v: "" if v is None else "[" + ", ".join(_or_null(element, x) for x in v) + "]"
    if pa.types.is_struct(kind):
        fields = {
            kind.field(i).name: _formatter(kind.field(i).type, None) for i in range(kind.num_fields)
        }
        return lambda v: (
            ""
            if v is None
            else "{"
            + ", ".join(f"{k}: {_or_null(fields.get(k, exact_text), x)}" for k, x in v.items())
            + "}"
        )
    return exact_text


def _or_null(show: Callable[[Any], str], value: Any) -> str:
    return "NULL" if value is None else show(value)


def _decimal_places(value: decimal.Decimal, digits: int) -> str:
    """A decimal (already rounded to at most `digits` places) with exactly `digits` places:
    12.50 at 4 places is 12.5000."""
    whole, _, fraction = format(value, "f").partition(".")
    return f"{whole}.{fraction.ljust(digits, '0')}" if digits > 0 else whole


def exact_text(value: Any) -> str:
    """Show a value without losing anything: floats in their shortest round-trip form (repr),
    decimals at their scale without exponent, lists and structs element by element."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join("NULL" if v is None else exact_text(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(
            f"{k}: {'NULL' if v is None else exact_text(v)}" for k, v in value.items()
        )
        return "{" + inner + "}"
    return str(value)


def _float32_text(value: float) -> str:
    """The shortest decimal that reads back as the same 32-bit float (a REAL column's
    0.1 is 0.10000000149011612 as a Python float)."""
    if not math.isfinite(value):
        return repr(value)
    for precision in range(1, 10):
        text = f"{value:.{precision}g}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == value:
            return repr(float(text))
    return repr(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def _worth_showing(outcome: AssetOutcome) -> bool:
    """A success whose message says what a reader should know: what a load brought (rows
    loaded and quarantined, rows of erased subjects skipped), or checks that warned."""
    message = outcome.message or ""
    return outcome.status == BuildStatus.SUCCESS and (
        outcome.materialization == BuildKind.INGEST
        or "quarantined" in message
        or "erased subjects skipped" in message
        or "warn " in message
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
            "#"
            if item["status"] == BuildStatus.SUCCESS
            else ("~" if item["status"] == BuildStatus.RETRYING else "x")
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
        label = RESULT_LABEL.get(outcome.status, outcome.status.upper())
        parts = [
            f"[{self.done}/{self.total}]",
            f"{label:5}",
            outcome.key + (f"[{outcome.partition}]" if outcome.partition else ""),
            f"({outcome.materialization})",
        ]
        if outcome.rows is not None:
            parts.append(f"{outcome.rows:,} rows")
        if outcome.version is not None and outcome.status == BuildStatus.SUCCESS:
            parts.append(f"v{outcome.version}")
        if outcome.status in (BuildStatus.SUCCESS, BuildStatus.FAILED):
            parts.append(f"{outcome.duration_s:.2f}s")
        ended_badly = outcome.status in (BuildStatus.FAILED, BuildStatus.SKIPPED)
        if outcome.message and (ended_badly or _worth_showing(outcome)):
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
            f"{summary.count(BuildStatus.SUCCESS)} built",
            f"{summary.count(BuildStatus.UP_TO_DATE)} up to date",
        ]
        if summary.count(BuildStatus.FAILED):
            counts.append(f"{summary.count(BuildStatus.FAILED)} failed")
        if summary.count(BuildStatus.SKIPPED):
            counts.append(f"{summary.count(BuildStatus.SKIPPED)} skipped")
        verdict = "Done" if summary.status == RunStatus.SUCCESS else "Run failed"
        sys.stdout.write(
            f"{verdict}: {', '.join(counts)} in {summary.duration_s:.2f}s (run {summary.run_id})\n"
        )
