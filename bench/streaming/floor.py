"""The floor: one Python process, numpy -> Arrow batches, DuckDB merging each batch into an
Arrow state table of open windows, `write_deltalake` of each closed window set.

No checkpoint, no fault tolerance: this is the least work the workload needs. Windows are
10 s tumbling per key (count, sum, max); an event is dropped when its window's end is at or
below the watermark before its batch (Spark's rule), the watermark being the newest event
time seen minus 30 s; after each batch, every window whose end is at or below the new
watermark is written and forgotten. Open windows are not written at the end (as in Spark's
append mode).

Prints one JSON object with its own measurements on the last line.

Usage: python floor.py OUT_TABLE --mode throughput --events 20000000 [--batch 1000000]
       python floor.py OUT_TABLE --mode latency --duration 60 [--rate 10000 --tick 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

import events

if TYPE_CHECKING:
    import pyarrow as pa

SIZE_S, WATERMARK_S = 10, 30
NO_WATERMARK = -(2**62)


class Windows:
    """Open tumbling windows per key, merged batch by batch in DuckDB."""

    def __init__(self, out: str, size_s: float = SIZE_S, watermark_s: float = WATERMARK_S):
        import duckdb
        import pyarrow as pa

        self.out = out
        self.size_us = int(size_s * 1_000_000)
        self.delay_us = int(watermark_s * 1_000_000)
        self.con = duckdb.connect()
        self.state = pa.table(
            {
                "w": pa.array([], pa.int64()),
                "key": pa.array([], pa.int64()),
                "n": pa.array([], pa.int64()),
                "total": pa.array([], pa.float64()),
                "top": pa.array([], pa.float64()),
            }
        )
        self.watermark_us = NO_WATERMARK
        self.dropped = 0
        self.rows_written = 0
        self.commits = 0
        self.events = 0

    def add(self, batch: pa.Table) -> None:
        """Fold `batch` into the open windows, then write the windows it closed."""
        import numpy as np
        import pyarrow.compute as pc

        times = batch.column("event_time").cast("int64").to_numpy()
        size, watermark = self.size_us, self.watermark_us
        self.events += len(times)
        self.dropped += int(np.count_nonzero((times // size + 1) * size <= watermark))
        state = self.state  # noqa: F841 - read by DuckDB's replacement scan
        self.state = self.con.sql(
            f"""
            select w, key, sum(n)::bigint as n, sum(total) as total, max(top) as top
            from (
                select w, key, n, total, top from state
                union all
                select epoch_us(event_time) // {size} as w, key, 1 as n, value, value
                from batch
                where (epoch_us(event_time) // {size} + 1) * {size} > {watermark}
            )
            group by w, key
            """
        ).to_arrow_table()
        self.watermark_us = max(watermark, int(times.max()) - self.delay_us)
        ends = pc.multiply(pc.add(self.state.column("w"), 1), size)
        closed = pc.less_equal(ends, self.watermark_us)
        if pc.any(closed).as_py():
            self.write(self.state.filter(closed))
            self.state = self.state.filter(pc.invert(closed))

    def write(self, closed: pa.Table) -> None:
        """Append the closed windows to the Delta table."""
        import pyarrow as pa
        import pyarrow.compute as pc
        from deltalake import write_deltalake

        start = pc.multiply(closed.column("w"), self.size_us)
        out = pa.table(
            {
                "window_start": start.cast(pa.timestamp("us")),
                "window_end": pc.add(start, self.size_us).cast(pa.timestamp("us")),
                "key": closed.column("key"),
                "n": closed.column("n"),
                "total": closed.column("total"),
                "top": closed.column("top"),
            }
        )
        write_deltalake(self.out, out, mode="append")
        self.rows_written += out.num_rows
        self.commits += 1

    def summary(self) -> dict[str, int]:
        """Counters for the report."""
        return {
            "events": self.events,
            "dropped": self.dropped,
            "rows_written": self.rows_written,
            "commits": self.commits,
            "open_windows_rows": self.state.num_rows,
            "final_watermark_us": self.watermark_us,
        }


def throughput(out: str, total: int, batch: int, spec: events.Spec) -> dict[str, object]:
    """Push `total` events through the windows as fast as possible."""
    started = time.perf_counter()
    windows = Windows(out)
    for table in events.batches(spec, total, batch):
        windows.add(table)
    loop_s = time.perf_counter() - started
    return {**windows.summary(), "loop_s": loop_s, "events_per_s": total / loop_s}


def latency(out: str, duration_s: float, rate: float, tick_s: float, spec: events.Spec) -> dict:
    """Events at `rate` per second in real time for `duration_s`, a micro-batch every tick."""
    windows = Windows(out)
    source = events.RealTime(spec, rate)
    deadline = source.started + duration_s
    next_tick = source.started
    while True:
        next_tick += tick_s
        pause = next_tick - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if time.monotonic() >= deadline:
            break
        table = source.due()
        if table is not None:
            windows.add(table)
    return windows.summary()


def main() -> None:
    """Command line entry point: run one mode and print its counters as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", help="the Delta table to write (a folder)")
    parser.add_argument("--mode", choices=("throughput", "latency"), default="throughput")
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--tick", type=float, default=0.1, help="latency mode: batch interval")
    args = parser.parse_args()
    spec = events.Spec(seed=args.seed)
    if args.mode == "throughput":
        report = throughput(args.out, args.events, args.batch, spec)
    else:
        report = latency(args.out, args.duration, args.rate, args.tick, spec)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
