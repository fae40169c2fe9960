"""R3: 2, 4 and 8 processes each make mixed commits to one table at the same time.

Writers append, overwrite, delete and upsert through `commit_files` (the files they replace
named as `remove`, as a model's merge does) and merge rows through `merge_rows`; a rejected
commit is tried again from a fresh read (`concurrent_writer.py`).

Pass: the final table equals a serial replay of the committed log, and every rejected commit
is Headwater's typed `CommitConflictError`. The replay applies each version's operation (named
by its run id) to the state before it, in version order, as Delta's WriteSerializable
isolation defines it: appends that landed after an operation read the table, which it never
saw, stay as they are (delta-rs lets blind appends pass a concurrent write). Every remove
action must name a file the previous version has (else a write computed from an older version
landed without a conflict: a lost update), and each writer was told the version its commit
really landed at. On local disk and on S3.

Scaled down in the regular suite (a few commits per writer). The slow tier makes 100 commits
per writer on local disk; on S3 it makes 200 in all per writer count (2x100, 4x50, 8x25),
because the S3 test server is the bottleneck there: moto answers each LIST (Headwater and
delta-rs list the log several times per commit) in time proportional to the bucket's keys,
and took 3/4 of the CPU of a run; 8x100 on S3 took about 27 minutes here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.delta import DeltaStore
from tests.reliability import concurrent_writer as cw
from tests.reliability.helpers import (
    HERE,
    PYTHON,
    Reader,
    Warehouse,
    kill,
    start,
    warehouse_for,
)
from tests.reliability.table_io import write_rows

REF = TableRef(*cw.REF)
COLUMNS = ("id", "val")
CHECKED_VERSIONS = 120
"""At most this many versions are also read back one by one (time travel), spread evenly."""
CHECKPOINT_INTERVAL = "10"
"""Writers open the table hundreds of times; a checkpoint every 10 versions (rather than
Delta's 100) keeps each open short on S3, and has writers write checkpoints while others
commit."""
FIRST = 2
"""The first version a writer makes (0: the seed rows, 1: the table's properties)."""


@dataclass(frozen=True)
class Commit:
    """One version of the log, as the replay needs it."""

    version: int
    writer: int
    seq: int
    attempt: int
    op: str
    read: int
    adds: frozenset[str]
    removes: frozenset[str]


def _log(warehouse: Warehouse, final: int) -> list[Commit]:
    """The writers' versions (`FIRST`..`final`) read straight from the JSON commits."""
    commits = []
    for version in range(FIRST, final + 1):
        actions = warehouse.commit(REF, version)
        info = next(a["commitInfo"] for a in actions if "commitInfo" in a)
        writer, seq, attempt = cw.parse_run_id(info["headwater.run_id"])
        commits.append(
            Commit(
                version=version,
                writer=writer,
                seq=seq,
                attempt=attempt,
                op=info["headwater.operation"],
                read=int(info[cw.READ_KEY]),
                adds=frozenset(a["add"]["path"] for a in actions if "add" in a),
                removes=frozenset(a["remove"]["path"] for a in actions if "remove" in a),
            )
        )
    return commits


def _rows(store: DeltaStore, reader: Reader, version: int | None = None) -> cw.State:
    rows = reader.rows(store.snapshot(REF, version=version), COLUMNS)
    state = dict(rows)
    assert len(state) == len(rows), f"version {version}: an id is in the table twice"
    return state


def _outcome(commit: Commit, state: cw.State, born: dict[int, int], read: int) -> cw.State:
    """`commit`'s operation applied to `state` as of version `read`: rows inserted after
    `read` were not there when it read the table, so they stay as they are."""
    unseen = {i: v for i, v in state.items() if born[i] > read}
    seen = {i: v for i, v in state.items() if born[i] <= read}
    return {**cw.apply(commit.op, commit.writer, commit.seq, seen), **unseen}


def replay(
    commits: list[Commit], first_files: frozenset[str], actual: Any
) -> tuple[dict[int, cw.State], list[str], int]:
    """Replay `commits` from the seed (version `FIRST - 1`, whose files are `first_files`);
    return the state at each version, the problems found and how many operations blind
    appends passed (which a replay in plain version order would get wrong).

    `actual(version)` reads a version back; it is asked only when Delta's isolation allows
    more than one outcome (an overwrite or a merge that blind appends passed) to pick the one
    delta-rs made, which must be among them.
    """
    state = cw.seed_state()
    states = {FIRST - 1: state}
    born = dict.fromkeys(state, FIRST - 1)  # id -> version that (last) inserted it
    live = set(first_files)
    last_removing = FIRST - 1
    problems: list[str] = []
    passed = 0
    for commit in commits:
        c, op = commit.version, commit.op
        name = f"version {c} ({op} by writer {commit.writer}, read at version {commit.read})"
        stale = commit.removes - live
        if stale:
            problems.append(
                f"{name} removes {len(stale)} file(s) version {c - 1} no longer has: a write "
                "computed from an older version landed without a conflict (a lost update)"
            )
        live = (live - commit.removes) | commit.adds

        if op in ("delete", "upsert"):
            reads = [commit.read]  # planned from the snapshot the writer read
        else:
            # delta-rs read the table again inside the commit; a commit that removed files
            # after that read would have been a conflict
            reads = list(range(max(commit.read, last_removing), c))
        candidates: list[cw.State] = []
        for read in reads:
            candidate = _outcome(commit, state, born, read)
            if candidate not in candidates:
                candidates.append(candidate)
        if len(candidates) == 1:
            new = candidates[0]
        else:
            new = actual(c)
            if new not in candidates:
                problems.append(f"{name} is none of the {len(candidates)} serial outcomes")
        passed += new != cw.apply(op, commit.writer, commit.seq, state)
        for i in new:
            if i not in state:
                born[i] = c
        state = new
        states[c] = state
        if commit.removes:
            last_removing = c
    return states, problems, passed


def _seed(store: DeltaStore) -> frozenset[str]:
    """Create the table (the seed rows, then its properties); return the seed's files."""
    engine = DuckDBEngine(threads=1)
    try:
        written = write_rows(engine.session(), store, REF, "seed", cw.seed_state().items())
        info = CommitInfo(cw.run_id(0, 0, 1), "seed", extra={cw.READ_KEY: "-1"})
        assert store.commit_files(REF, written.files, written.schema, "append", info) == 0
    finally:
        engine.close()
    store.open_table(REF).alter.set_table_properties(
        {"delta.checkpointInterval": CHECKPOINT_INTERVAL}
    )
    assert store.current_version(REF) == FIRST - 1
    return frozenset(f.relative_path for f in store.snapshot(REF).files)


def _run_writers(
    warehouse: Warehouse, tmp_path: Path, writers: int, ops: int
) -> list[dict[str, Any]]:
    go = tmp_path / "go"
    outs = [tmp_path / f"writer{w}.jsonl" for w in range(1, writers + 1)]
    processes = [
        start(
            [
                PYTHON,
                str(HERE / "concurrent_writer.py"),
                *warehouse.writer_args(),
                str(w),
                str(ops),
                str(go),
                str(out),
            ],
            tmp_path,
            warehouse.env,
        )
        for w, out in enumerate(outs, start=1)
    ]
    try:
        for process in processes:
            assert process.stdout is not None and process.stderr is not None
            assert process.stdout.readline().startswith("ready"), process.stderr.read()
        go.touch()  # all at once
        for process in processes:
            _, err = process.communicate(timeout=3600)
            assert process.returncode == 0, err
    finally:
        for process in processes:
            kill(process)
    return [json.loads(line) for out in outs for line in out.read_text().splitlines()]


def _sizes() -> list[Any]:
    """(where, writers, operations each): scaled down in the regular suite; in the slow tier
    100 each on local disk, and on S3 200 commits per writer count (moto, the S3 test server,
    is one Python process whose every LIST costs time in proportion to the bucket's keys, so
    8 writers x 100 there takes over 20 minutes: see the module docstring)."""
    slow = pytest.mark.slow
    return [
        *(
            pytest.param(where, writers, ops, id=f"{where}-{writers}x{ops}")
            for where in ("local", "s3")
            for writers, ops in ((2, 8), (4, 6), (8, 4))
        ),
        *(
            pytest.param("local", writers, 100, id=f"local-{writers}x100", marks=slow)
            for writers in (2, 4, 8)
        ),
        *(
            pytest.param("s3", writers, ops, id=f"s3-{writers}x{ops}", marks=slow)
            for writers, ops in ((2, 100), (4, 50), (8, 25))
        ),
    ]


@pytest.mark.parametrize("where,writers,ops", _sizes())
def test_r3_concurrent_writers_equal_a_serial_replay(tmp_path, request, where, writers, ops):
    warehouse = warehouse_for(where, tmp_path, request)
    store = warehouse.store()
    first_files = _seed(store)
    outcomes = _run_writers(warehouse, tmp_path, writers, ops)

    # every rejected commit is the store's typed conflict; nothing else failed
    errors = [o for o in outcomes if o["status"] == "error"]
    assert not errors, [f"{o['op']}: {o['error']}: {o['message']}" for o in errors[:5]]
    assert {o["status"] for o in outcomes} <= {"committed", "conflict", "noop"}
    statuses = Counter(o["status"] for o in outcomes)

    final = store.current_version(REF)
    assert final is not None
    commits = _log(warehouse, final)

    reader = warehouse.reader()
    try:
        states, problems, passed = replay(commits, first_files, lambda v: _rows(store, reader, v))
        assert not problems, problems[:5]
        assert _rows(store, reader) == states[final]  # the final table equals the replay

        # and so does every version read back (all of them, or an even spread)
        step = max(1, final // CHECKED_VERSIONS)
        for version in sorted({*range(FIRST - 1, final + 1, step), final}):
            assert _rows(store, reader, version) == states[version], f"version {version}"
    finally:
        reader.close()

    # the log holds exactly the commits writers were told about, at the versions they were
    # told; a rejected attempt left nothing
    told = {(o["writer"], o["seq"], o["attempt"]): o["version"] for o in outcomes if "version" in o}
    logged = {(c.writer, c.seq, c.attempt): c.version for c in commits}
    wrong = {k: (told.get(k), logged.get(k)) for k in told.keys() | logged.keys()}
    wrong = {k: pair for k, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"(writer, op, attempt): (version told, version in the log): {wrong}"
    rejected = {
        (o["writer"], o["seq"], o["attempt"]) for o in outcomes if o["status"] == "conflict"
    }
    assert not rejected & set(logged)
    assert len({(w, s) for w, s, _ in logged}) == len(logged)  # each operation at most once
    done = Counter((o["writer"], o["seq"]) for o in outcomes if o["status"] != "conflict")
    every = {(w, s) for w in range(1, writers + 1) for s in range(1, ops + 1)}
    assert set(done) == every, f"operations that never landed: {sorted(every - set(done))}"

    kinds = Counter(c.op for c in commits)
    print(
        f"R3 {where} {writers}x{ops}: {dict(statuses)}, commits {dict(kinds)}, "
        f"{passed} passed by blind appends"
    )
    assert statuses["committed"] == final - FIRST + 1
    if writers * ops >= 200:
        assert set(kinds) == set(cw.OPERATIONS)
