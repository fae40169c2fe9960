"""Storage-level writers that reliability tests run in subprocesses (and kill).

    python storage_writer.py steps WAREHOUSE UNTIL [--fault-step K --fault-point POINT]
        Apply the deterministic workload's steps (append, overwrite, merge, delete in turn) to
        table crash.facts, one commit each, resuming after the last step that landed (found by
        its app transaction). POINT is before_commit, after_commit or during_commit: the process
        SIGKILLs itself there at step K.

    python storage_writer.py append WAREHOUSE LOG STOP
        Append batches of unique ids to table maint.facts until the file STOP exists; after each
        commit write "batch version" to LOG.

The workload and its serial oracle (`oracle_states`) live here so the test and the writer agree.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

STEPS_REF = ("crash", "facts")
APPEND_REF = ("maint", "facts")
APP_ID = "r1-writer"
APPEND_APP_ID = "r13-appender"
COLUMNS = ("id", "val")
OPERATIONS = ("append", "overwrite", "merge", "delete")
BATCH_ROWS = 25


def operation(step: int) -> str:
    """The write step `step` (1-based) makes."""
    return OPERATIONS[(step - 1) % len(OPERATIONS)]


def next_state(state: dict[int, int], step: int) -> dict[int, int]:
    """The table content (id -> val) after `step`, computed serially in plain Python."""
    kind = operation(step)
    if kind == "append":
        return {**state, **{step * 1000 + j: step for j in range(40)}}
    if kind == "overwrite":
        return {i: (v * 3 + step) % 1000 for i, v in state.items() if i % 11 != step % 11}
    if kind == "merge":
        merged = {i: (step + 10000 if i % 5 == step % 5 else v) for i, v in state.items()}
        merged.update({step * 1000 + 500 + j: step for j in range(10)})
        return merged
    return {i: v for i, v in state.items() if i % 7 != step % 7}


def oracle_states(until: int) -> list[dict[int, int]]:
    """States after steps 0 (no table) .. `until`."""
    states = [{}]
    for step in range(1, until + 1):
        states.append(next_state(states[-1], step))
    return states


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run_steps(warehouse: Path, until: int, fault_step: int | None, fault_point: str | None) -> None:
    from deltalake import DeltaTable

    from headwater.engine.duckdb import DuckDBEngine
    from headwater.storage.base import CommitInfo, TableRef
    from headwater.storage.delta import DeltaStore

    store = DeltaStore(warehouse)
    ref = TableRef(*STEPS_REF)
    session = DuckDBEngine(threads=1).session()
    landed = 0
    if store.current_version(ref) is not None:
        landed = DeltaTable(str(store.location(ref))).transaction_version(APP_ID) or 0
    print("ready", landed, flush=True)

    def cast(sql: str) -> str:
        return f"SELECT CAST(id AS BIGINT) AS id, CAST(val AS BIGINT) AS val FROM ({sql})"

    for step in range(landed + 1, until + 1):
        kind = operation(step)
        remove = []
        if kind == "append":
            sql = f"SELECT {step} * 1000 + range AS id, {step} AS val FROM range(40)"
            mode = "append"
        else:
            snapshot = store.snapshot(ref)
            session.register_table(ref, snapshot)
            mode = "overwrite" if kind == "overwrite" else "append"
            if kind == "overwrite":
                sql = (
                    f"SELECT id, (val * 3 + {step}) % 1000 AS val FROM crash.facts "
                    f"WHERE id % 11 != {step % 11}"
                )
            else:
                hit = f"id % 5 = {step % 5}" if kind == "merge" else f"id % 7 = {step % 7}"
                by_path = {f.path: f for f in snapshot.files}
                paths = ", ".join(f"'{p}'" for p in by_path)
                touched = (
                    session.query(
                        f"SELECT DISTINCT filename FROM read_parquet([{paths}], filename = true) "
                        f"WHERE {hit}"
                    )
                    .column("filename")
                    .to_pylist()
                    if by_path
                    else []
                )
                remove = [by_path[p] for p in touched]
                kept = ", ".join(f"'{p}'" for p in touched)
                parts = []
                if touched and kind == "merge":
                    parts.append(
                        f"SELECT id, CASE WHEN {hit} THEN {step} + 10000 ELSE val END AS val "
                        f"FROM read_parquet([{kept}])"
                    )
                elif touched:
                    parts.append(f"SELECT id, val FROM read_parquet([{kept}]) WHERE NOT ({hit})")
                if kind == "merge":
                    parts.append(
                        f"SELECT {step} * 1000 + 500 + range AS id, {step} AS val FROM range(10)"
                    )
                sql = " UNION ALL ".join(parts) if parts else "SELECT 1 AS id, 1 AS val WHERE false"
        written = session.write_parquet(cast(sql), store.new_file_dir(ref, f"step{step}"))
        info = CommitInfo(run_id=f"step-{step}", operation=kind, app_id=APP_ID, app_version=step)
        if step == fault_step and fault_point == "before_commit":
            _kill_self()
        if step == fault_step and fault_point == "during_commit":
            timer = threading.Timer(random.uniform(0, 0.004), _kill_self)
            timer.daemon = True
            timer.start()
        store.commit_files(ref, written.files, written.schema, mode, info, remove=remove)
        if step == fault_step and fault_point == "after_commit":
            _kill_self()
        print("landed", step, flush=True)


def run_appends(warehouse: Path, log_path: Path, stop: Path) -> None:
    from headwater.engine.duckdb import DuckDBEngine
    from headwater.errors import CommitConflictError
    from headwater.storage.base import CommitInfo, TableRef
    from headwater.storage.delta import DeltaStore

    store = DeltaStore(warehouse)
    ref = TableRef(*APPEND_REF)
    session = DuckDBEngine(threads=1).session()
    batch = 0
    with open(log_path, "a", encoding="utf-8") as log:
        print("ready", flush=True)
        while not stop.exists():
            batch += 1
            written = session.write_parquet(
                f"SELECT CAST({batch} * 1000 + range AS BIGINT) AS id, "
                f"CAST({batch} AS BIGINT) AS val FROM range({BATCH_ROWS})",
                store.new_file_dir(ref, f"batch{batch}"),
            )
            info = CommitInfo(
                run_id=f"batch-{batch}",
                operation="append",
                app_id=APPEND_APP_ID,
                app_version=batch,
            )
            for attempt in range(20):
                try:
                    version = store.commit_files(ref, written.files, written.schema, "append", info)
                    break
                except CommitConflictError:
                    # retried with the same app transaction: applied at most once
                    time.sleep(0.01 * (attempt + 1))
            else:
                raise SystemExit(f"batch {batch} could not be committed")
            log.write(f"{batch} {version}\n")
            log.flush()
            time.sleep(0.005)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    steps = sub.add_parser("steps")
    steps.add_argument("warehouse", type=Path)
    steps.add_argument("until", type=int)
    steps.add_argument("--fault-step", type=int)
    steps.add_argument("--fault-point", choices=["before_commit", "after_commit", "during_commit"])
    appends = sub.add_parser("append")
    appends.add_argument("warehouse", type=Path)
    appends.add_argument("log", type=Path)
    appends.add_argument("stop", type=Path)
    args = parser.parse_args(argv)
    if args.command == "steps":
        run_steps(args.warehouse, args.until, args.fault_step, args.fault_point)
    else:
        run_appends(args.warehouse, args.log, args.stop)


if __name__ == "__main__":
    main(sys.argv[1:])
