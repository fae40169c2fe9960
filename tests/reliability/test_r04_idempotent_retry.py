"""R4: the commit is durable but the caller never hears; a retry with the same key applies nothing.

Pass: 0 duplicates. At the storage level a retry carries the same app transaction (app id,
version) and returns the version that already landed; at the run level a run killed right after
its commit (HEADWATER_FAULT=after_commit) is settled by the next run, which completes without
duplicating rows and marks the killed run 'interrupted'.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.delta import DeltaStore
from tests.reliability.helpers import HEADWATER, HERE, PYTHON, Reader, start

REF = TableRef("ns", "facts")


def _append(store: DeltaStore, engine: DuckDBEngine, sql: str, app_version: int) -> int:
    """One attempt of a write: new files every time, the same idempotency key."""
    written = engine.session().write_parquet(sql, store.new_file_dir(REF, f"try{app_version}"))
    return store.commit_files(
        REF,
        written.files,
        written.schema,
        "append",
        CommitInfo(run_id="r", operation="append", app_id="loader", app_version=app_version),
    )


@pytest.mark.parametrize("attempts", [2, 5])
def test_r4_storage_retry_with_the_same_key_applies_once(tmp_path, attempts):
    store = DeltaStore(tmp_path)
    engine = DuckDBEngine()
    reader = Reader()
    try:
        batch = "select range as id from range({lo}, {hi})"
        # the very first commit creates the table: its retry must be recognised too
        versions = [_append(store, engine, batch.format(lo=0, hi=10), 1) for _ in range(attempts)]
        assert versions == [0] * attempts
        versions = [_append(store, engine, batch.format(lo=10, hi=20), 2) for _ in range(attempts)]
        assert versions == [1] * attempts
        assert store.current_version(REF) == 1
        assert store.already_committed(REF, "loader", 2)
        assert store.already_committed(REF, "loader", 1)  # an earlier key also counts as landed
        assert not store.already_committed(REF, "loader", 3)
        assert not store.already_committed(REF, "someone-else", 1)
        snapshot = store.snapshot(REF)
        assert reader.rows(snapshot, ["id"]) == [(i,) for i in range(20)]  # 0 duplicates
    finally:
        reader.close()
        engine.close()


def test_r4_storage_killed_after_commit_then_retried_from_another_process(tmp_path):
    """The writer dies between a durable commit and hearing of it; a new process retries."""
    warehouse = tmp_path / "warehouse"
    writer = [PYTHON, str(HERE / "storage_writer.py"), "steps", str(warehouse)]
    first = start([*writer, "3", "--fault-step", "3", "--fault-point", "after_commit"], tmp_path)
    first.wait(timeout=600)
    assert first.returncode == -9
    store = DeltaStore(warehouse)
    ref = TableRef("crash", "facts")
    assert store.already_committed(ref, "r1-writer", 3)
    version = store.current_version(ref)

    # the retry of step 3 from a fresh process: the same key, so nothing is applied again
    engine = DuckDBEngine()
    written = engine.session().write_parquet(
        "select 3 * 1000 + range as id, 3 as val from range(40)", store.new_file_dir(ref, "retry")
    )
    info = CommitInfo(run_id="step-3", operation="append", app_id="r1-writer", app_version=3)
    assert store.commit_files(ref, written.files, written.schema, "append", info) == version
    assert store.current_version(ref) == version
    engine.close()

    resumed = start([*writer, "4"], tmp_path)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert out.splitlines() == ["ready 3", "landed 4"]  # resumed after the step that landed
    reader = Reader()
    try:
        ids = [r[0] for r in reader.rows(store.snapshot(ref), ["id"])]
        assert len(ids) == len(set(ids))
    finally:
        reader.close()


PROJECT = {
    "headwater.yml": "name: retry\nthreads: 2\n",
    "seeds/events.yml": "columns:\n  - name: id\n    type: BIGINT\n",
    "models/core/app.sql": (
        "select id from raw.events\n"
        "{% if is_incremental() %}\n"
        "where id > (select coalesce(max(id), -1) from {{ this }})\n"
        "{% endif %}\n"
    ),
    "models/core/app.yml": "materialized: incremental\n",
}


def _write_events(root: Path, count: int) -> None:
    (root / "seeds" / "events.csv").write_text(
        "id\n" + "".join(f"{i}\n" for i in range(count)), encoding="utf-8"
    )


def _runs(root: Path) -> list[dict]:
    listing = start([*HEADWATER, "runs", "--json"], root)
    out, err = listing.communicate(timeout=600)
    assert listing.returncode == 0, err
    return json.loads(out)


def _crash_after_commit_then_rerun(project, asset: str) -> tuple[str, list[dict]]:
    root = project.root
    crashed = start([*HEADWATER, "run"], root, {"HEADWATER_FAULT": f"after_commit:{asset}"})
    crashed.wait(timeout=600)
    assert crashed.returncode == -9
    before = project.runs()
    assert before[0]["status"] == "running"  # nobody settled it yet
    crashed_id = before[0]["run_id"]

    rerun = start([*HEADWATER, "run"], root)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out + err
    return crashed_id, _runs(root)


def test_r4_run_killed_after_commit_is_settled_and_not_applied_twice(make_project):
    project = make_project(PROJECT)
    root = project.root
    _write_events(root, 10)
    assert project.run().status == "success"
    _write_events(root, 25)
    project.reload()

    crashed_id, runs = _crash_after_commit_then_rerun(project, "core.app")

    crashed = next(r for r in runs if r["run_id"] == crashed_id)
    assert crashed["status"] == "interrupted"
    assert runs[0]["status"] == "success"
    results = {r["asset"]: r for r in project.run_results(crashed_id)}
    assert results["core.app"]["status"] == "success"  # its commit had landed
    assert "landed" in results["core.app"]["message"]
    table = project.query("select count(*) as n, count(distinct id) as d from core.app")
    assert table.to_pylist() == [{"n": 25, "d": 25}]


def test_r4_rerun_does_not_reapply_a_landed_append_of_a_batch_model(make_project):
    """An incremental model that appends whatever its input holds (a batch per run)."""
    files = {
        **PROJECT,
        "models/core/app.sql": "select id from raw.events\n",
    }
    project = make_project(files)
    root = project.root
    _write_events(root, 10)
    assert project.run().status == "success"
    (root / "seeds" / "events.csv").write_text(
        "id\n" + "".join(f"{i}\n" for i in range(10, 20)), encoding="utf-8"
    )
    project.reload()

    _crash_after_commit_then_rerun(project, "core.app")

    table = project.query("select count(*) as n, count(distinct id) as d from core.app")
    assert table.to_pylist() == [{"n": 20, "d": 20}]
