"""The peer: Spark Structured Streaming, local[2], writing each micro-batch's closed windows to
Delta with delta-rs (`write_deltalake` in foreachBatch; Delta's Spark jars cannot be fetched
here).

Throughput: the `rate-micro-batch` source hands out `rowsPerBatch` rows per micro-batch with a
`value` column counting 0, 1, 2, ... (its `timestamp` is one value per batch), so each event is
derived from `value` with SQL: event_time = start + value x 10 us, minus a delay of U(0, 30 s)
for 5 % of events, key and value from hashes of `value`. The same distribution as the floor's
events, not the same events. The query runs until every event of `--events` went through a
micro-batch; events/s counts from `start()` to the end of that batch (the session's start-up is
reported apart).

Latency: the `rate` source at `--rate` rows/s (its `timestamp` is the wall clock), a trigger
every `--tick` seconds, for `--duration` seconds.

Prints one JSON object with its own measurements on the last line.

Usage: python spark_arm.py OUT_TABLE CHECKPOINT --mode throughput --events 5000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import events

SIZE_S, WATERMARK_S = 10, 30
UNIT = 1 << 53
"""Random doubles in [0, 1) are a 53-bit hash over 2^53."""


def session(shuffle_partitions: int) -> Any:
    """A local[2] session with its UI off and UTC as its time zone."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("headwater-bench-streaming")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.streaming.numRecentProgressUpdates", "100000")
        .getOrCreate()
    )


def derived(frame: Any, spec: events.Spec, event_time_sql: str) -> Any:
    """The benchmark's columns from the rate sources' `value` (and `timestamp`)."""
    late = f"pmod(xxhash64(value, 3), 1000000) < {int(spec.late_fraction * 1_000_000)}"
    delay = f"pmod(xxhash64(value, 4), {int(spec.max_delay_s * 1_000_000)})"
    return frame.selectExpr(
        f"timestamp_micros({event_time_sql} - if({late}, {delay}, 0)) as event_time",
        f"pmod(xxhash64(value, 1), {spec.keys}) as key",
        f"cast(pmod(xxhash64(value, 2), {UNIT}) as double) / {float(UNIT)} as value",
    )


def windowed(frame: Any) -> Any:
    """10 s tumbling windows per key with a 30 s watermark: count, sum, max."""
    from pyspark.sql import functions as F

    return (
        frame.withWatermark("event_time", f"{WATERMARK_S} seconds")
        .groupBy(F.window("event_time", f"{SIZE_S} seconds"), "key")
        .agg(F.count("*").alias("n"), F.sum("value").alias("total"), F.max("value").alias("top"))
        .select(
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "key",
            "n",
            "total",
            "top",
        )
    )


class DeltaSink:
    """foreachBatch: each batch's rows to Arrow, appended with write_deltalake."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.rows = 0
        self.commits = 0

    def __call__(self, frame: Any, batch_id: int) -> None:
        from deltalake import write_deltalake

        table = frame.toArrow()
        if table.num_rows:
            write_deltalake(self.out, table, mode="append")
            self.rows += table.num_rows
            self.commits += 1


def progress_end(progress: dict[str, Any]) -> float:
    """Epoch seconds at which the micro-batch of `progress` finished."""
    started = dt.datetime.fromisoformat(progress["timestamp"].replace("Z", "+00:00"))
    return started.timestamp() + progress["durationMs"]["triggerExecution"] / 1000


def throughput(args: argparse.Namespace, spec: events.Spec) -> dict[str, Any]:
    """Run the rate-micro-batch query until `args.events` events went through."""
    t0 = time.perf_counter()
    spark = session(args.shuffle_partitions)
    startup_s = time.perf_counter() - t0
    spacing_us = round(spec.spacing_s * 1_000_000)
    source = (
        spark.readStream.format("rate-micro-batch")
        .option("rowsPerBatch", args.batch)
        .option("numPartitions", 2)
        .option("startTimestamp", spec.start_us // 1000)
        .option("advanceMillisPerBatch", max(1, args.batch * spacing_us // 1000))
        .load()
    )
    frame = windowed(derived(source, spec, f"{spec.start_us} + value * {spacing_us}"))
    sink = DeltaSink(args.out)
    started = time.time()
    query = (
        frame.writeStream.outputMode("append")
        .option("checkpointLocation", args.checkpoint)
        .foreachBatch(sink)
        .start()
    )
    done_at, batches = None, 0
    while done_at is None:
        time.sleep(0.05)
        if query.exception() is not None:
            raise RuntimeError(str(query.exception()))
        seen, rows = query.recentProgress, 0
        for progress in seen:
            rows += progress["numInputRows"]
            if rows >= args.events:
                done_at, batches = progress_end(progress), progress["batchId"] + 1
                break
    query.stop()
    stream_s = done_at - started
    spark.stop()
    return {
        "events": args.events,
        "startup_s": startup_s,
        "stream_s": stream_s,
        "events_per_s": args.events / stream_s,
        "micro_batches": batches,
        "rows_written": sink.rows,
        "commits": sink.commits,
    }


def latency(args: argparse.Namespace, spec: events.Spec) -> dict[str, Any]:
    """Run the rate query in real time for `args.duration` seconds."""
    spark = session(args.shuffle_partitions)
    source = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", int(args.rate))
        .option("numPartitions", 2)
        .load()
    )
    frame = windowed(derived(source, spec, "unix_micros(timestamp)"))
    sink = DeltaSink(args.out)
    query = (
        frame.writeStream.outputMode("append")
        .option("checkpointLocation", args.checkpoint)
        .foreachBatch(sink)
        .trigger(processingTime=f"{int(args.tick * 1000)} milliseconds")
        .start()
    )
    print(json.dumps({"started": time.time()}), flush=True)
    query.awaitTermination(args.duration)
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    batches = len(query.recentProgress)
    query.stop()
    spark.stop()
    return {"rows_written": sink.rows, "commits": sink.commits, "micro_batches": batches}


def main() -> None:
    """Command line entry point: run one mode and print its measurements as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", help="the Delta table to write (a folder)")
    parser.add_argument("checkpoint", help="Spark's checkpoint folder")
    parser.add_argument("--mode", choices=("throughput", "latency"), default="throughput")
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--batch", type=int, default=1_000_000, help="rowsPerBatch")
    parser.add_argument("--shuffle-partitions", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--tick", type=float, default=0.1, help="latency mode: trigger interval")
    args = parser.parse_args()
    spec = events.Spec()
    report = throughput(args, spec) if args.mode == "throughput" else latency(args, spec)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
