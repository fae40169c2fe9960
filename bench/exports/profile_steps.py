"""Where an export into PostgreSQL spends its time: the export run in this process with each
step timed (wrappers around the functions that do it, no sampling).

Steps: reading the changes (DuckDB: the two versions' `EXCEPT`, the key checks, the temporary
table of changed rows), producing the record batches from it, converting them to CSV,
`COPY` (the wait for PostgreSQL beyond the batch and CSV work it overlaps: a writer thread
sends while the next batch is made), the upsert statement, the rest of
the transaction (the position, the commit) and the rest of the build.

Usage: python bench/exports/profile_steps.py PROJECT exports.NAME   (after the model is built)
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Timings = dict[str, float]


def _timed(totals: Timings, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[step] += time.perf_counter() - started

    return wrapper


def _timed_iterator(
    totals: Timings, step: str, function: Callable[..., Iterator[Any]]
) -> Callable[..., Iterator[Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        iterator = function(*args, **kwargs)
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                totals[step] += time.perf_counter() - started
                return
            totals[step] += time.perf_counter() - started
            yield item

    return wrapper


def profile(project_root: Path, select: str) -> list[str]:
    """Run `select` (an export) in `project_root` with its steps timed; return report lines."""
    from headwater import Project
    from headwater.exports import builder, changes, postgres

    totals: Timings = defaultdict(float)
    patches = [
        (builder, "read_changes", _timed(totals, "read changes (DuckDB)", builder.read_changes)),
        (changes, "_batches", _timed_iterator(totals, "batches from DuckDB", changes._batches)),
        (postgres, "_csv", _timed(totals, "CSV conversion", postgres._csv)),
        (
            postgres.PostgresTable,
            "_stage",
            _timed(totals, "stage (batches + CSV + COPY)", postgres.PostgresTable._stage),
        ),
        (
            postgres.PostgresTable,
            "_apply",
            _timed(totals, "upsert statement", postgres.PostgresTable._apply),
        ),
        (postgres.PostgresTable, "send", _timed(totals, "send", postgres.PostgresTable.send)),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, wrapper in patches:
        setattr(owner, name, wrapper)
    try:
        project = Project(project_root)
        summary = project.run(select=[select], force=True)
        project.close()
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
    (outcome,) = [o for o in summary.outcomes if o.key == select]
    if outcome.rows is None:
        raise RuntimeError(f"{select}: {outcome.status} {outcome.message}")
    total = outcome.duration_s
    stage = totals["stage (batches + CSV + COPY)"]
    batches, csv = totals["batches from DuckDB"], totals["CSV conversion"]
    send = totals["send"]
    steps = [
        ("read changes (DuckDB EXCEPT, key checks, temp table)", totals["read changes (DuckDB)"]),
        ("record batches out of DuckDB", batches),
        ("Arrow -> CSV conversion", csv),
        (
            "COPY (waiting on PostgreSQL to take the CSV, beyond the batches and CSV it overlaps)",
            stage - batches - csv,
        ),
        ("INSERT ... ON CONFLICT DO UPDATE (from the staging table)", totals["upsert statement"]),
        (
            "rest of the transaction (position row, commit)",
            send - stage - totals["upsert statement"],
        ),
        (
            "rest of the build (connect, checks, drop)",
            total - send - totals["read changes (DuckDB)"],
        ),
    ]
    lines = [
        f"- `{select}` in-process: {outcome.status}, {outcome.rows:,} rows, {total:.2f} s "
        f"({outcome.message})"
    ]
    lines += [f"  - {name}: {seconds:.2f} s ({seconds / total:.0%})" for name, seconds in steps]
    return lines


def main() -> None:
    """Command line entry point."""
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print("\n".join(profile(Path(sys.argv[1]), sys.argv[2])))


if __name__ == "__main__":
    main()
