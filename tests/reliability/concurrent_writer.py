"""One of several processes committing to the same table at once (R3); run in a subprocess.

    python concurrent_writer.py WAREHOUSE WRITER OPS GO OUT [--scratch DIR] [--seed N]

Waits until the file GO exists (so that every writer starts together), then makes OPS
operations on table r3.facts through Headwater's store API, each one commit: appends,
overwrites, deletes and upserts planned as file rewrites (`commit_files` with the files they
replace, as a model's merge is) and merges of given rows (`merge_rows`). A rejected commit is
tried again from a fresh read until it lands. Every attempt's outcome is a JSON
line in OUT: committed (with the version the store returned), conflict (the store's typed
error) or error (anything else: a failure of the test).

Each commit's run id names its writer, operation and attempt (`r3-w<W>-s<S>-a<A>`) and its
metadata the version it was computed from (`r3.read`), so the test can replay the log with
the pure functions below (`apply`) and compare.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

REF = ("r3", "facts")
OPERATIONS = ("append", "overwrite", "delete", "upsert", "merge")
WEIGHTS = (4, 1, 2, 2, 2)
MAX_ATTEMPTS = 1000
"""A rejected operation is tried again until it lands; this only stops a writer that never
could (with 8 writers on S3 an operation needed up to 40 attempts)."""
POOL = 60
"""Ids 0..POOL-1 are shared: the seed holds them, merges upsert them."""
READ_KEY = "r3.read"

State = dict[int, int]


def plan(writer: int, ops: int, seed: int) -> list[str]:
    """The operations writer `writer` makes, in order."""
    return random.Random(seed * 1009 + writer).choices(OPERATIONS, WEIGHTS, k=ops)


def run_id(writer: int, seq: int, attempt: int) -> str:
    """The run id of attempt `attempt` of writer `writer`'s operation `seq`."""
    return f"r3-w{writer}-s{seq}-a{attempt}"


def parse_run_id(text: str) -> tuple[int, int, int]:
    """(writer, seq, attempt) of a run id made by `run_id`."""
    _, w, s, a = text.split("-")
    return int(w[1:]), int(s[1:]), int(a[1:])


def seed_state() -> State:
    """The table's first version, which the test commits before the writers start."""
    return dict.fromkeys(range(POOL), 0)


def _key(writer: int, seq: int) -> int:
    # ids no other operation makes: above the pool, one block of 1000 per operation
    return (writer + 1) * 1_000_000 + seq * 1_000


def merge_source(writer: int, seq: int) -> State:
    """The rows a merge upserts: a third of the shared pool, with values of its own."""
    return {p: 20_000 + writer * 100 + seq for p in range(POOL) if p % 3 == (writer + seq) % 3}


def hits(op: str, writer: int, seq: int, row_id: int) -> bool:
    """Whether a delete or upsert touches the row `row_id`."""
    if op == "delete":
        return row_id % 7 == (writer + seq) % 7
    return row_id % 5 == (writer + 2 * seq) % 5


def apply(op: str, writer: int, seq: int, state: State) -> State:
    """The table after writer `writer`'s operation `seq` (`op`) applied to `state`."""
    base = _key(writer, seq)
    if op == "append":
        return {**state, **{base + j: seq for j in range(5)}}
    if op == "overwrite":
        return {base + j: 10_000 + seq for j in range(10)}
    if op == "delete":
        return {i: v for i, v in state.items() if not hits(op, writer, seq, i)}
    if op == "upsert":
        updated = {i: v + 1 if hits(op, writer, seq, i) else v for i, v in state.items()}
        return {**updated, **{base + 500 + j: seq for j in range(3)}}
    if op == "merge":
        return {**state, **merge_source(writer, seq)}
    raise ValueError(op)


def _attempt(store: Any, session: Any, op: str, writer: int, seq: int, attempt: int) -> dict:
    """Make one attempt at the operation; return what it committed (or that it had nothing
    to do). Raises what the store raises."""
    import pyarrow as pa

    from headwater.storage.base import CommitInfo, MergeClause, TableRef
    from tests.reliability.table_io import read_file_rows, write_rows

    ref = TableRef(*REF)
    tag = run_id(writer, seq, attempt)
    if op in ("delete", "upsert"):
        # read, then replace the files holding rows the operation changes (a model's merge)
        snapshot = store.snapshot(ref)
        read = snapshot.version
        per_file = read_file_rows(store, snapshot.files)
        touched = [
            k for k, rows in enumerate(per_file) if any(hits(op, writer, seq, i) for i, _ in rows)
        ]
        if not touched and op == "delete":
            return {"status": "noop", "read": read}
        old = {i: v for k in touched for i, v in per_file[k]}
        new = apply(op, writer, seq, old)
        written = write_rows(session, store, ref, tag, new.items())
        info = CommitInfo(tag, op, extra={READ_KEY: str(read)})
        remove = [snapshot.files[k] for k in touched]
        version = store.commit_files(
            ref, written.files, written.schema, "append", info, remove=remove
        )
        return {"status": "committed", "read": read, "version": version, "removed": len(remove)}
    read = store.current_version(ref)
    info = CommitInfo(tag, op, extra={READ_KEY: str(read)})
    if op == "merge":
        source = merge_source(writer, seq)
        rows = pa.table(
            {
                "id": pa.array(list(source), pa.int64()),
                "val": pa.array(list(source.values()), pa.int64()),
            }
        )
        version = store.merge_rows(
            ref,
            rows,
            ["id"],
            info,
            [MergeClause(None, {"val": "source.val"})],
            nullable_keys=False,
        )
        return {"status": "committed", "read": read, "version": version}
    written = write_rows(session, store, ref, tag, apply(op, writer, seq, {}).items())
    mode = "overwrite" if op == "overwrite" else "append"
    version = store.commit_files(ref, written.files, written.schema, mode, info)
    return {"status": "committed", "read": read, "version": version}


def run(location: str, scratch: Path | None, writer: int, ops: int, seed: int, go: Path, out: Path):
    from headwater.engine.duckdb import DuckDBEngine
    from headwater.errors import CommitConflictError, HeadwaterError
    from tests.reliability.table_io import open_warehouse

    store = open_warehouse(location, scratch)
    session = DuckDBEngine(threads=1).session()
    rng = random.Random(seed * 7919 + writer)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    with open(out, "a", encoding="utf-8") as report:
        for seq, op in enumerate(plan(writer, ops, seed), start=1):
            for attempt in range(1, MAX_ATTEMPTS + 1):
                outcome: dict[str, Any] = {"writer": writer, "seq": seq, "op": op}
                outcome["attempt"] = attempt
                try:
                    outcome.update(_attempt(store, session, op, writer, seq, attempt))
                except CommitConflictError as exc:
                    outcome.update(status="conflict", message=exc.message)
                except Exception as exc:
                    outcome.update(
                        status="error",
                        error=f"{type(exc).__module__}.{type(exc).__qualname__}",
                        typed=isinstance(exc, HeadwaterError),
                        message=str(exc)[:2000],
                    )
                report.write(json.dumps(outcome) + "\n")
                report.flush()
                if outcome["status"] != "conflict":
                    break
                time.sleep(rng.uniform(0, min(0.25, 0.01 * attempt)))  # back off, read again


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse")
    parser.add_argument("writer", type=int)
    parser.add_argument("ops", type=int)
    parser.add_argument("go", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scratch", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run(args.warehouse, args.scratch, args.writer, args.ops, args.seed, args.go, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
