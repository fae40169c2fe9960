"""Storage-level writers that reliability tests run in subprocesses (and kill).

    python storage_writer.py steps WAREHOUSE UNTIL [--scratch DIR]
                                   [--fault-step K --fault-point POINT]
        Apply the deterministic workload's steps (append, overwrite, merge, delete in turn) to
        table crash.facts, one commit each, resuming after the last step that landed (found by
        its app transaction). At step K the process SIGKILLs itself at POINT: before_commit
        (files written, commit not called), before_log_write (files in the warehouse, uploaded
        on S3, no log entry yet), during_commit (a random moment of the commit) or
        after_commit.

    python storage_writer.py append WAREHOUSE LOG STOP [--scratch DIR]
        Append batches of unique ids to table maint.facts until the file STOP exists; after each
        commit write "batch version" to LOG.

WAREHOUSE is a folder or a URI (`s3://bucket/prefix`, reached through the AWS_* environment);
DIR is where a store elsewhere stages files. The workload and its serial oracle
(`oracle_states`) live here so the test and the writer agree.
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

if __package__ in (None, ""):  # run as a script: make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

STEPS_REF = ("crash", "facts")
APPEND_REF = ("maint", "facts")
APP_ID = "r1-writer"
APPEND_APP_ID = "r13-appender"
COLUMNS = ("id", "val")
OPERATIONS = ("append", "overwrite", "merge", "delete")
BATCH_ROWS = 25
FAULT_POINTS = ("before_commit", "before_log_write", "during_commit", "after_commit")


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


def step_rows(step: int, per_file: list[list[tuple[int, int]]]) -> tuple[list[int], dict[int, int]]:
    """What step `step` (not an append) does to a table whose files hold `per_file`: the
    indexes of the files it replaces and the rows it writes in their place."""
    kind = operation(step)
    if kind == "overwrite":
        touched = list(range(len(per_file)))
    else:
        hit = 5 if kind == "merge" else 7
        touched = [
            k for k, rows in enumerate(per_file) if any(i % hit == step % hit for i, _ in rows)
        ]
    state = {i: v for k in touched for i, v in per_file[k]}
    return touched, next_state(state, step)


def run_steps(
    location: str, scratch: Path | None, until: int, fault_step: int | None, fault_point: str | None
) -> None:
    from headwater.engine.duckdb import DuckDBEngine
    from headwater.storage.base import CommitInfo, TableRef
    from tests.reliability.table_io import (
        kill_before_log_write,
        open_warehouse,
        read_file_rows,
        write_rows,
    )

    store = open_warehouse(location, scratch)
    ref = TableRef(*STEPS_REF)
    session = DuckDBEngine(threads=1).session()
    landed = store.app_version(ref, APP_ID) or 0
    print("ready", landed, flush=True)
    commit_seconds = 0.004  # how long a commit takes here, measured as steps go

    for step in range(landed + 1, until + 1):
        kind = operation(step)
        remove = []
        mode = "append"
        if kind == "append":
            rows = next_state({}, step)
        else:
            snapshot = store.snapshot(ref)
            touched, rows = step_rows(step, read_file_rows(store, snapshot.files))
            if kind == "overwrite":
                mode = "overwrite"
            else:
                remove = [snapshot.files[k] for k in touched]
        written = write_rows(session, store, ref, f"step{step}", rows.items())
        info = CommitInfo(run_id=f"step-{step}", operation=kind, app_id=APP_ID, app_version=step)
        if step == fault_step and fault_point == "before_commit":
            _kill_self()
        if step == fault_step and fault_point == "before_log_write":
            kill_before_log_write()
        if step == fault_step and fault_point == "during_commit":
            timer = threading.Timer(random.uniform(0, commit_seconds), _kill_self)
            timer.daemon = True
            timer.start()
        began = time.monotonic()
        store.commit_files(ref, written.files, written.schema, mode, info, remove=remove)
        commit_seconds = time.monotonic() - began
        if step == fault_step and fault_point == "during_commit":
            # the commit ended before the timer fired (a loaded machine runs timers late):
            # the kill still belongs to this step, not to the next one's commit
            timer.join()
        if step == fault_step and fault_point == "after_commit":
            _kill_self()
        print("landed", step, flush=True)


def run_appends(location: str, scratch: Path | None, log_path: Path, stop: Path) -> None:
    from headwater.engine.duckdb import DuckDBEngine
    from headwater.errors import CommitConflictError
    from headwater.storage.base import CommitInfo, TableRef
    from tests.reliability.table_io import open_warehouse, write_rows

    store = open_warehouse(location, scratch)
    ref = TableRef(*APPEND_REF)
    session = DuckDBEngine(threads=1).session()
    batch = 0
    with open(log_path, "a", encoding="utf-8") as log:
        print("ready", flush=True)
        while not stop.exists():
            batch += 1
            written = write_rows(
                session,
                store,
                ref,
                f"batch{batch}",
                ((batch * 1000 + i, batch) for i in range(BATCH_ROWS)),
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
    steps.add_argument("warehouse")
    steps.add_argument("until", type=int)
    steps.add_argument("--scratch", type=Path)
    steps.add_argument("--fault-step", type=int)
    steps.add_argument("--fault-point", choices=FAULT_POINTS)
    appends = sub.add_parser("append")
    appends.add_argument("warehouse")
    appends.add_argument("log", type=Path)
    appends.add_argument("stop", type=Path)
    appends.add_argument("--scratch", type=Path)
    args = parser.parse_args(argv)
    if args.command == "steps":
        run_steps(args.warehouse, args.scratch, args.until, args.fault_step, args.fault_point)
    else:
        run_appends(args.warehouse, args.scratch, args.log, args.stop)


if __name__ == "__main__":
    main(sys.argv[1:])
