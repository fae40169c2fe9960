"""A 1M-row result streamed to psycopg 3, from Headwater's PostgreSQL port and from
PostgreSQL itself serving the same table.

Two ways a client takes a big result, each timed from sending the query to the last row:
- `libpq`: a client-side cursor's `execute()`: the server sends every row and libpq receives
  and parses them all (no Python object per value): the server and the wire.
- `python`: a server-side cursor (`DECLARE`/`FETCH` of 10,000 rows at a time) iterated into
  Python tuples, as an application reading a big result would.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

ITERSIZE = 10_000
MODES = ("libpq", "python")


@dataclass
class Stream:
    """The runs of one mode on one server."""

    seconds: list[float] = field(default_factory=list)
    rows: int = 0
    error: str | None = None

    @property
    def median_s(self) -> float:
        """Median seconds."""
        return statistics.median(self.seconds)

    @property
    def rows_per_s(self) -> float:
        """Rows per second at the median."""
        return self.rows / self.median_s


def stream_once(dsn: str, sql: str, mode: str) -> tuple[float, int, Any]:
    """Take the result of `sql` once; (seconds, rows, the first row)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=mode == "libpq") as connection:
        started = time.perf_counter()
        if mode == "libpq":
            cursor = connection.execute(sql)
            rows = cursor.rowcount
            elapsed = time.perf_counter() - started
            first = cursor.fetchone()
            return elapsed, rows, first
        rows, first = 0, None
        with connection.cursor(name="bench_stream") as named:
            named.itersize = ITERSIZE
            named.execute(sql)
            for row in named:
                if first is None:
                    first = row
                rows += 1
        return time.perf_counter() - started, rows, first


def measure(dsn: str, sql: str, mode: str, runs: int) -> Stream:
    """`runs` timed runs of one mode (after one untimed run that warms the server)."""
    result = Stream()
    try:
        stream_once(dsn, sql, mode)
        for _ in range(runs):
            seconds, rows, _first = stream_once(dsn, sql, mode)
            result.seconds.append(seconds)
            result.rows = rows
    except Exception as exc:
        result.error = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
    return result
