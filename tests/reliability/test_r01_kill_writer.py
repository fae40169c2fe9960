"""R1: SIGKILL the writer at random points during writes (append, overwrite, merge, delete).

Pass: every table opens; each is exactly at the old or the new version (row count and content
checksum equal a serial oracle computed for each version); every interrupted job finishes when
run again. Kills are aimed at random moments, at "files written, commit not yet"
(before_commit), at "files in the warehouse, log entry not yet" (before_log_write: on S3 the
files are uploaded, not committed), at "commit in flight" (during_commit) and right after the
commit landed (after_commit) — for a storage-level writer on local disk and on S3, and for
`headwater run`.

Scaled down in the regular suite; 200 kills in all (per warehouse) in the slow tier.
"""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path

import pytest

from headwater.storage.base import TableRef
from headwater.storage.delta import DeltaStore
from tests.reliability import storage_writer
from tests.reliability.helpers import (
    HEADWATER,
    HERE,
    PYTHON,
    WHERE,
    Reader,
    kill,
    start,
    warehouse_for,
)

WRITER = [PYTHON, str(HERE / "storage_writer.py")]

# -- storage level -------------------------------------------------------------------------


def _steps(store: DeltaStore, ref: TableRef, limit: int | None = None) -> dict[int, int]:
    """Version -> the workload step whose commit made it (its run id is step-K)."""
    steps = {}
    for entry in store.history(ref, limit):
        assert entry.run_id and entry.run_id.startswith("step-"), entry
        steps[entry.version] = int(entry.run_id.removeprefix("step-"))
    return steps


class StepOracle:
    """Checksums of the serial oracle's state after each step, computed on demand."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.states = storage_writer.oracle_states(0)
        self.sums: dict[int, tuple[int, int]] = {}

    def checksum(self, step: int) -> tuple[int, int]:
        while len(self.states) <= step:
            self.states.append(storage_writer.next_state(self.states[-1], len(self.states)))
        if step not in self.sums:
            self.sums[step] = self.reader.oracle_checksum(
                sorted(self.states[step].items()), storage_writer.COLUMNS
            )
        return self.sums[step]


def _check_version(store, ref, reader, oracle, version, steps) -> int:
    step = steps[version]
    got = reader.checksum(store.snapshot(ref, version=version), storage_writer.COLUMNS)
    assert got == oracle.checksum(step), f"version {version} (step {step}) differs from the oracle"
    return step


POINTS = ("random", *storage_writer.FAULT_POINTS)


def _named_files(store: DeltaStore, ref: TableRef, versions: range) -> set[str]:
    """The data files `versions` of the table name (relative to its folder)."""
    return {f.relative_path for v in versions for f in store.snapshot(ref, version=v).files}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(
    "kills",
    [pytest.param(20, id="scaled"), pytest.param(100, id="full", marks=pytest.mark.slow)],
)
def test_r1_storage_writer_killed_at_random_points(tmp_path, request, where, kills):
    rng = random.Random(1)
    warehouse = warehouse_for(where, tmp_path, request)
    store = warehouse.store()
    ref = TableRef(*storage_writer.STEPS_REF)
    reader = warehouse.reader()
    oracle = StepOracle(reader)
    landed = 0
    aimed = dict.fromkeys(POINTS, 0)
    try:
        for i in range(kills):
            point = POINTS[i % len(POINTS)]
            fault_step = landed + rng.randint(1, 3)
            args = [*WRITER, "steps", *warehouse.writer_args(), "1000000"]
            if point != "random":
                args += ["--fault-step", str(fault_step), "--fault-point", point]
            files_before = warehouse.data_files(ref)
            version_before = store.current_version(ref)
            writer = start(args, tmp_path, warehouse.env)
            assert writer.stdout is not None
            assert writer.stdout.readline().startswith("ready"), writer.stderr.read()
            if point == "random":
                time.sleep(rng.uniform(0.0, 0.25 if where == "local" else 1.0))
                kill(writer)
            else:
                writer.wait(timeout=600)
            assert writer.returncode == -9, (point, writer.stderr.read())
            aimed[point] += 1

            # the table opens and is exactly at the version of the last step that landed
            latest = store.current_version(ref)
            if latest is None:  # killed before the first commit: no table, as before
                assert landed == 0 and point not in ("after_commit",), point
                continue
            steps = _steps(store, ref, limit=2)
            step = _check_version(store, ref, reader, oracle, latest, steps)
            if point in ("before_commit", "before_log_write"):
                assert step == fault_step - 1  # files written, never committed: old version
            elif point == "after_commit":
                assert step == fault_step  # committed, then killed: new version
            elif point == "during_commit":
                assert step in (fault_step - 1, fault_step)
            assert step >= landed
            if point == "before_log_write":
                # the step's files reached the warehouse (uploaded, on S3), no version names
                # them (only the versions this writer made can name files new since it started)
                first_new = 0 if version_before is None else version_before + 1
                new = warehouse.data_files(ref) - files_before
                orphans = new - _named_files(store, ref, range(first_new, latest + 1))
                assert orphans, "the kill came before the files were in the warehouse"
            if latest > 0:
                _check_version(store, ref, reader, oracle, latest - 1, steps)
            landed = step

        # re-running finishes the job; every version ever committed equals the oracle
        until = landed + 8
        finish = start(
            [*WRITER, "steps", *warehouse.writer_args(), str(until)], tmp_path, warehouse.env
        )
        _, err = finish.communicate(timeout=600)
        assert finish.returncode == 0, err
        final = store.current_version(ref)
        assert final is not None
        by_version = _steps(store, ref)
        assert _check_version(store, ref, reader, oracle, final, by_version) == until
        done = [_check_version(store, ref, reader, oracle, v, by_version) for v in range(final + 1)]
        assert done == list(range(1, until + 1))  # one version per step, none twice
        assert {storage_writer.operation(s) for s in done} == set(storage_writer.OPERATIONS)
        assert sum(aimed.values()) == kills
    finally:
        reader.close()


# -- run level ------------------------------------------------------------------------------

RUN_TABLES = {
    "raw.src": ("id", "val"),
    "core.snap": ("id", "val"),
    "core.app": ("id", "val"),
    "core.mrg": ("id", "val"),
    "core.agg": ("n", "total"),
}
PROJECT = {
    "headwater.yml": "name: crash\nthreads: 2\n",
    "seeds/src.yml": "columns:\n  - name: id\n    type: BIGINT\n  - name: val\n    type: BIGINT\n",
    "models/core/snap.sql": "select id, val from raw.src\n",
    "models/core/app.sql": (
        "select id, val from raw.src\n"
        "{% if is_incremental() %}\n"
        "where id > (select coalesce(max(id), -1) from {{ this }})\n"
        "{% endif %}\n"
    ),
    "models/core/app.yml": "materialized: incremental\n",
    "models/core/mrg.sql": "select id, val from raw.src\n",
    "models/core/mrg.yml": "materialized: incremental\nunique_key: id\n",
    "models/core/agg.sql": "select count(*) as n, sum(val) as total from core.mrg\n",
}


def source_rows(step: int) -> list[tuple[int, int]]:
    """The seed at `step`: it grows, changes values and loses rows from step to step."""
    return [
        (i, (i * 7 + (step if i % 4 == step % 4 else 0)) % 100)
        for i in range(30 + 15 * step)
        if i % 9 != step % 9
    ]


def run_oracle(steps: int) -> list[dict[str, list[tuple[int, int]]]]:
    """Every table's rows after each step, computed serially."""
    states: list[dict[str, list[tuple[int, int]]]] = []
    appended: list[tuple[int, int]] = []
    merged: dict[int, int] = {}
    for step in range(steps):
        src = source_rows(step)
        top = max((i for i, _ in appended), default=-1)
        appended = appended + [r for r in src if r[0] > top]
        merged = {**merged, **dict(src)}
        states.append(
            {
                "raw.src": src,
                "core.snap": src,
                "core.app": appended,
                "core.mrg": sorted(merged.items()),
                "core.agg": [(len(merged), sum(merged.values()))],
            }
        )
    return states


def write_seed(root: Path, step: int) -> None:
    with open(root / "seeds" / "src.csv", "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "val"])
        out.writerows(source_rows(step))


def _table_state(store, reader, key):
    ref = TableRef.parse(key)
    if store.current_version(ref) is None:
        return None
    return reader.checksum(store.snapshot(ref), RUN_TABLES[key])


@pytest.mark.parametrize(
    "steps,kills_per_step",
    [pytest.param(3, 2, id="scaled"), pytest.param(34, 3, id="full", marks=pytest.mark.slow)],
)
def test_r1_headwater_run_killed_at_random_points(make_project, steps, kills_per_step):
    rng = random.Random(7)
    project = make_project(PROJECT)
    root = project.root
    store = DeltaStore(root / "warehouse")
    reader = Reader()
    states = run_oracle(steps)
    sums = [
        {k: reader.oracle_checksum(rows, RUN_TABLES[k]) for k, rows in s.items()} for s in states
    ]
    run_seconds = 1.5
    killed = 0
    try:
        for step in range(steps):
            write_seed(root, step)
            for attempt in range(kills_per_step):
                choice = (step * kills_per_step + attempt) % 3
                env = {}
                if choice == 0:
                    delay = rng.uniform(0.3, run_seconds)
                else:
                    point = "before_commit" if choice == 1 else "after_commit"
                    env = {"HEADWATER_FAULT": f"{point}:{rng.choice(sorted(RUN_TABLES))}"}
                    delay = None
                run = start([*HEADWATER, "run"], root, env)
                if delay is not None:
                    time.sleep(delay)
                    kill(run)
                else:
                    run.wait(timeout=600)
                killed += run.returncode == -9
                # every table opens and is at the old or the new version, as a whole
                for key in RUN_TABLES:
                    got = _table_state(store, reader, key)
                    old = sums[step - 1][key] if step else None
                    assert got in (old, sums[step][key]), (step, attempt, key, env, delay)
            began = time.monotonic()
            finish = start([*HEADWATER, "run"], root)
            out, err = finish.communicate(timeout=600)
            run_seconds = max(0.5, time.monotonic() - began)
            assert finish.returncode == 0, out + err
            for key in RUN_TABLES:
                assert _table_state(store, reader, key) == sums[step][key], (step, key)
        # the app model never holds a row twice, whatever happened
        assert (
            reader.rows(store.snapshot(TableRef("core", "app")), ["id", "val"])
            == states[-1]["core.app"]
        )
        # killed runs are settled by the next run: none is left 'running'
        listing = start([*HEADWATER, "runs", "--json", "--limit", "1000"], root)
        out, err = listing.communicate(timeout=600)
        runs = json.loads(out)
        assert not [r for r in runs if r["status"] == "running"]
        # (a run killed before it recorded itself leaves no trace to settle)
        assert 0 < sum(r["status"] == "interrupted" for r in runs) <= killed
    finally:
        reader.close()
