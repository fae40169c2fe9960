"""The runner: up-to-date skipping, failure isolation, parallel builds and the catalog record.

Freshness is checked against the Delta log itself (read with delta-rs): an up-to-date asset must
not get a new version, and a rebuilt one gets exactly one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from headwater import Project
from tests.conftest import ProjectFactory, rows, write_files
from tests.support.catalogs import Catalogs

SEEDS = {
    "seeds/a.csv": "id,v\n1,10\n2,20\n3,30\n",
    "seeds/b.csv": "id,w\n1,100\n2,200\n",
}
MODELS = {
    "models/staging/a1.sql": "select id, v * 2 as v2 from raw.a",
    "models/staging/a_view.sql": "select id, v2 + 1 as v3 from staging.a1",
    "models/staging/a_view.yml": "materialized: view\n",
    "models/marts/a2.sql": "select sum(v3) as total from staging.a_view",
    "models/staging/b1.sql": "select id, w from raw.b",
    "models/marts/b2.sql": "select id, w * 3 as w3 from staging.b1",
    "models/marts/ab.sql": """
        select a2.total, count(*) as n, sum(b2.w3) as w3 from marts.a2, marts.b2 group by all
    """,
}


@pytest.fixture
def make_project(make_project: ProjectFactory, catalogs: Catalogs) -> ProjectFactory:
    """Projects whose catalog is SQLite, then PostgreSQL: every test here runs on both."""
    return catalogs.projects(make_project)


STORED = ["raw.a", "raw.b", "staging.a1", "marts.a2", "staging.b1", "marts.b2", "marts.ab"]
ALL = [*STORED, "staging.a_view"]


def table_path(project: Project, key: str) -> Path:
    namespace, name = key.split(".")
    return project.definition.warehouse / namespace / name


def delta(project: Project, key: str) -> DeltaTable:
    return DeltaTable(str(table_path(project, key)))


def versions(project: Project) -> dict[str, int]:
    """The latest Delta version of every stored asset, read with delta-rs."""
    return {key: delta(project, key).version() for key in STORED}


def statuses(summary: Any) -> dict[str, str]:
    return {o.key: o.status for o in summary.outcomes}


def edit(project: Project, files: dict[str, str]) -> None:
    write_files(project.root, files)
    project.reload()


def table_rows(project: Project, key: str) -> list[tuple[Any, ...]]:
    table = delta(project, key).to_pyarrow_table()
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


@pytest.fixture
def dag(make_project) -> Project:
    project = make_project({**SEEDS, **MODELS})
    summary = project.run()
    assert summary.status == "success", [(o.key, o.message) for o in summary.outcomes]
    assert statuses(summary) == dict.fromkeys(ALL, "success")
    return project


# -- up to date ----------------------------------------------------------------------------


def test_second_run_is_entirely_up_to_date_and_writes_no_version(dag):
    before = versions(dag)
    assert table_rows(dag, "marts.ab") == [(123, 2, 900)]
    summary = dag.run()
    assert summary.status == "success"
    assert summary.exit_code == 0
    assert statuses(summary) == dict.fromkeys(ALL, "up_to_date")
    assert summary.count("up_to_date") == len(ALL)
    assert versions(dag) == before
    for outcome in summary.outcomes:
        if outcome.key in STORED:
            assert outcome.version == before[outcome.key]
        assert outcome.message == "definition and inputs unchanged"
    # the catalog holds one up_to_date result per asset for that run
    results = dag.catalog.results(summary.run_id)
    assert sorted(r["asset"] for r in results) == sorted(ALL)
    assert {r["status"] for r in results} == {"up_to_date"}


def test_changing_one_model_rebuilds_it_and_its_downstream_only(dag):
    before = versions(dag)
    edit(dag, {"models/staging/b1.sql": "select id, w + 1 as w from raw.b"})
    summary = dag.run()
    assert statuses(summary) == {
        "raw.a": "up_to_date",
        "raw.b": "up_to_date",
        "staging.a1": "up_to_date",
        "staging.a_view": "up_to_date",
        "marts.a2": "up_to_date",
        "staging.b1": "success",
        "marts.b2": "success",
        "marts.ab": "success",
    }
    after = versions(dag)
    for key in STORED:
        expected = before[key] + (1 if key in ("staging.b1", "marts.b2", "marts.ab") else 0)
        assert after[key] == expected, key
    assert table_rows(dag, "marts.ab") == [(123, 2, 906)]
    # and then it is up to date again
    assert set(statuses(dag.run()).values()) == {"up_to_date"}


def test_changing_a_view_rebuilds_the_tables_that_read_it(dag):
    edit(dag, {"models/staging/a_view.sql": "select id, v2 + 100 as v3 from staging.a1"})
    summary = dag.run()
    assert statuses(summary) == {
        "raw.a": "up_to_date",
        "raw.b": "up_to_date",
        "staging.a1": "up_to_date",
        "staging.a_view": "success",
        "marts.a2": "success",
        "marts.ab": "success",
        "staging.b1": "up_to_date",
        "marts.b2": "up_to_date",
    }
    assert table_rows(dag, "marts.a2") == [(420,)]


def test_changing_only_a_sidecar_rebuilds_the_model(dag):
    edit(dag, {"models/marts/b2.yml": "description: tripled\n"})
    summary = dag.run()
    assert summary.outcome("marts.b2").status == "success"
    assert summary.outcome("marts.ab").status == "success"
    assert summary.outcome("staging.b1").status == "up_to_date"


def test_changing_a_seed_rebuilds_its_downstream(dag):
    before = versions(dag)
    edit(dag, {"seeds/a.csv": "id,v\n1,10\n2,20\n3,30\n4,40\n"})
    summary = dag.run()
    rebuilt = {"raw.a", "staging.a1", "staging.a_view", "marts.a2", "marts.ab"}
    assert {k for k, s in statuses(summary).items() if s == "success"} == rebuilt
    assert {k for k, s in statuses(summary).items() if s == "up_to_date"} == set(ALL) - rebuilt
    assert versions(dag)["raw.b"] == before["raw.b"]
    assert table_rows(dag, "marts.a2") == [(204,)]
    assert table_rows(dag, "marts.ab") == [(204, 2, 900)]


def test_force_rebuilds_everything(dag):
    before = versions(dag)
    summary = dag.run(force=True)
    assert statuses(summary) == dict.fromkeys(ALL, "success")
    assert versions(dag) == {k: v + 1 for k, v in before.items()}
    # and full refresh implies force
    summary = dag.run(full_refresh=True)
    assert statuses(summary) == dict.fromkeys(ALL, "success")
    assert versions(dag) == {k: v + 2 for k, v in before.items()}


def test_a_table_restored_externally_is_rebuilt(dag):
    edit(dag, {"models/staging/b1.sql": "select id, w + 1 as w from raw.b"})
    dag.run()
    assert table_rows(dag, "staging.b1") == [(1, 101), (2, 201)]
    # someone restores the old content with delta-rs directly, outside Headwater
    delta(dag, "staging.b1").restore(0)
    assert table_rows(dag, "staging.b1") == [(1, 100), (2, 200)]
    summary = dag.run()
    assert summary.outcome("staging.b1").status == "success"
    assert summary.outcome("marts.b2").status == "success"
    assert summary.outcome("staging.a1").status == "up_to_date"
    assert table_rows(dag, "staging.b1") == [(1, 101), (2, 201)]
    assert set(statuses(dag.run()).values()) == {"up_to_date"}


def test_a_restore_through_headwater_is_rebuilt_too(dag):
    dag.run(force=True)
    dag.restore("marts.b2", 0)
    summary = dag.run()
    assert summary.outcome("marts.b2").status == "success"
    assert summary.outcome("marts.ab").status == "success"
    assert summary.outcome("staging.b1").status == "up_to_date"


def test_a_table_modified_externally_is_rebuilt(dag):
    write_deltalake(
        str(table_path(dag, "marts.b2")),
        pa.table({"id": pa.array([99], pa.int64()), "w3": pa.array([1], pa.int64())}),
        mode="append",
    )
    assert len(table_rows(dag, "marts.b2")) == 3
    summary = dag.run()
    assert summary.outcome("marts.b2").status == "success"
    assert summary.outcome("marts.ab").status == "success"
    assert table_rows(dag, "marts.b2") == [(1, 300), (2, 600)]


def test_a_table_deleted_externally_is_rebuilt(dag):
    shutil.rmtree(table_path(dag, "marts.b2"))
    summary = dag.run()
    assert summary.outcome("marts.b2").status == "success"
    assert table_rows(dag, "marts.b2") == [(1, 300), (2, 600)]


def test_readers_of_a_table_recreated_at_the_same_version_number_are_rebuilt(dag):
    # b1 is at version 0 and b2 was built from b1@0; b1 is dropped and rebuilt differently
    shutil.rmtree(table_path(dag, "staging.b1"))
    edit(dag, {"models/staging/b1.sql": "select id, w * 10 as w from raw.b"})
    summary = dag.run()
    assert summary.outcome("staging.b1").status == "success"
    assert delta(dag, "staging.b1").version() == 0
    assert summary.outcome("marts.b2").status == "success"
    assert table_rows(dag, "marts.b2") == [(1, 3000), (2, 6000)]


# -- failures ------------------------------------------------------------------------------


def test_a_failing_model_skips_its_downstream_while_other_branches_succeed(dag):
    before = versions(dag)
    edit(dag, {"models/staging/a1.sql": "select id, v * 2 as v2, no_such_col from raw.a"})
    summary = dag.run(force=True)
    assert summary.status == "failed"
    assert summary.exit_code == 1
    got = statuses(summary)
    assert got == {
        "raw.a": "success",
        "raw.b": "success",
        "staging.a1": "failed",
        "staging.a_view": "skipped",
        "marts.a2": "skipped",
        "marts.ab": "skipped",
        "staging.b1": "success",
        "marts.b2": "success",
    }
    failed = summary.outcome("staging.a1")
    assert "no_such_col" in (failed.message or "")
    # every skipped asset names the failure at its root, however deep it is
    for key in ("staging.a_view", "marts.a2", "marts.ab"):
        assert summary.outcome(key).message == "upstream staging.a1 failed"
    after = versions(dag)
    for key in ("staging.a1", "marts.a2", "marts.ab"):
        assert after[key] == before[key], key
    assert after["marts.b2"] == before["marts.b2"] + 1
    # the catalog says the same
    run = dag.catalog.run(summary.run_id)
    assert run is not None
    assert run["status"] == "failed"
    assert "staging.a1" in run["error"]
    assert "no_such_col" in run["error"]
    results = {r["asset"]: r for r in dag.catalog.results(summary.run_id)}
    assert results["staging.a1"]["status"] == "failed"
    assert "no_such_col" in results["staging.a1"]["message"]
    assert results["marts.a2"]["status"] == "skipped"
    assert results["marts.a2"]["message"] == "upstream staging.a1 failed"

    # fixing it rebuilds the failed model and what it skipped, nothing else
    edit(dag, {"models/staging/a1.sql": "select id, v * 3 as v2 from raw.a"})
    summary = dag.run()
    assert summary.status == "success"
    assert {k for k, s in statuses(summary).items() if s == "success"} == {
        "staging.a1",
        "staging.a_view",
        "marts.a2",
        "marts.ab",
    }
    assert table_rows(dag, "marts.a2") == [(183,)]


def test_a_run_mixing_up_to_date_and_skipped_assets_is_recorded(dag):
    """Regression: up-to-date and skipped results are recorded together in one insert."""
    edit(dag, {"models/staging/a1.sql": "select id, v * 2 as v2, no_such_col from raw.a"})
    summary = dag.run()
    assert statuses(summary) == {
        "raw.a": "up_to_date",
        "raw.b": "up_to_date",
        "staging.a1": "failed",
        "staging.a_view": "skipped",
        "marts.a2": "skipped",
        "marts.ab": "skipped",
        "staging.b1": "up_to_date",
        "marts.b2": "up_to_date",
    }
    results = {r["asset"]: r["status"] for r in dag.catalog.results(summary.run_id)}
    assert results == statuses(summary)


def test_a_failure_in_a_seed_skips_everything_downstream(make_project):
    project = make_project(
        {
            **SEEDS,
            **MODELS,
            "seeds/a.yml": "columns:\n  - name: v\n    type: INTEGER\n",
            "seeds/a.csv": "id,v\n1,ten\n",
        }
    )
    summary = project.run()
    got = statuses(summary)
    assert got["raw.a"] == "failed"
    assert {got[k] for k in ("staging.a1", "staging.a_view", "marts.a2", "marts.ab")} == {"skipped"}
    assert summary.outcome("marts.ab").message == "upstream raw.a failed"
    assert got["marts.b2"] == "success"


# -- parallel ------------------------------------------------------------------------------

SLOW = "select {n} as model, sum(hash(range + {n}) % 1000) as h, count(*) as c from range(10000000)"


def slow_project(make_project, folder: str) -> Project:
    files = {f"models/slow_{n}.sql": SLOW.format(n=n) for n in range(4)}
    files["models/all_slow.sql"] = " union all ".join(
        f"select model, h, c from main.slow_{n}" for n in range(4)
    )
    # one DuckDB thread per query, so parallel models are the only parallelism
    return make_project(files, folder=folder, config="engine:\n  threads: 1\n")


def _interval(result: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.fromisoformat(result["started_at"]),
        dt.datetime.fromisoformat(result["finished_at"]),
    )


def test_independent_models_build_in_parallel_with_the_same_results(make_project):
    parallel = slow_project(make_project, "parallel")
    summary = parallel.run(threads=4)
    assert summary.status == "success", [(o.key, o.message) for o in summary.outcomes]
    results = {r["asset"]: r for r in parallel.catalog.results(summary.run_id)}
    slow = [_interval(results[f"main.slow_{n}"]) for n in range(4)]
    # every slow build started before any of them finished: they all ran at once
    assert max(start for start, _ in slow) < min(end for _, end in slow), slow
    # the model reading all four started after all four finished
    final_start, _ = _interval(results["main.all_slow"])
    assert final_start >= max(end for _, end in slow)
    assert parallel.catalog.run(summary.run_id)["threads"] == 4

    serial = slow_project(make_project, "serial")
    summary_1 = serial.run(threads=1)
    assert summary_1.status == "success"
    results_1 = {r["asset"]: r for r in serial.catalog.results(summary_1.run_id)}
    ordered = sorted(_interval(results_1[f"main.slow_{n}"]) for n in range(4))
    # with one thread, builds follow each other
    for (_, end), (start, _) in itertools.pairwise(ordered):
        assert start >= end
    for key in ["main.all_slow", *[f"main.slow_{n}" for n in range(4)]]:
        assert table_rows(parallel, key) == table_rows(serial, key), key
    assert len(table_rows(parallel, "main.all_slow")) == 4


def test_parallel_run_of_a_wide_dag_matches_a_serial_one(make_project):
    files: dict[str, str] = {
        "seeds/base.csv": "k,x\n" + "".join(f"{i},{i * 7 % 13}\n" for i in range(200))
    }
    for n in range(12):
        files[f"models/layer1/m{n}.sql"] = (
            f"select k, x * {n + 1} as x from raw.base where k % 12 = {n}"
        )
    for n in range(6):
        files[f"models/layer2/p{n}.sql"] = (
            f"select k, x from layer1.m{2 * n} union all select k, x from layer1.m{2 * n + 1}"
        )
    files["models/final/total.sql"] = " union all ".join(
        f"select {n} as part, sum(x) as s, count(*) as c from layer2.p{n}" for n in range(6)
    )
    outputs = {}
    for threads in (1, 4):
        project = make_project(files, folder=f"wide{threads}")
        summary = project.run(threads=threads)
        assert summary.status == "success"
        assert summary.count("success") == 1 + 12 + 6 + 1
        outputs[threads] = {key: table_rows(project, key) for key in project.definition.assets}
    assert outputs[1] == outputs[4]


# -- the catalog ---------------------------------------------------------------------------


def test_catalog_records_every_run_and_asset_result(make_project):
    project = make_project({**SEEDS, **MODELS})
    first = project.run(threads=3)
    edit(
        project,
        {"models/marts/b2.sql": "select id, w * 3 as w3, 'x'::integer as bad from staging.b1"},
    )
    second = project.run(force=True)
    third = project.run(full_refresh=True, select=["raw.a"])

    runs = project.catalog.runs()
    assert [r["run_id"] for r in runs[:3]] == [third.run_id, second.run_id, first.run_id]
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[first.run_id]["status"] == "success"
    assert by_id[first.run_id]["threads"] == 3
    assert by_id[first.run_id]["counts"] == {"success": len(ALL)}
    assert by_id[second.run_id]["status"] == "failed"
    assert "marts.b2" in by_id[second.run_id]["error"]
    assert by_id[second.run_id]["counts"] == {"success": 6, "failed": 1, "skipped": 1}
    assert by_id[third.run_id]["full_refresh"] == 1
    assert by_id[third.run_id]["selector"] == "raw.a"
    for run in (by_id[first.run_id], by_id[second.run_id]):
        assert run["command"] == "run"
        assert run["finished_at"] >= run["started_at"]
        assert run["pid"] == os.getpid()

    results = {r["asset"]: r for r in project.catalog.results(first.run_id)}
    assert set(results) == set(ALL)
    for key in STORED:
        result = results[key]
        assert result["status"] == "success"
        assert result["delta_version"] == 0
        assert result["duration_s"] is not None and result["duration_s"] > 0
        assert result["finished_at"] >= result["started_at"]
        assert len(result["fingerprint"]) == 64
    assert results["raw.a"]["rows_written"] == 3
    assert results["staging.b1"]["rows_written"] == 2
    assert results["marts.ab"]["rows_written"] == 1
    assert results["staging.a_view"]["materialization"] == "view"
    assert results["staging.a_view"]["delta_version"] is None

    results = {r["asset"]: r for r in project.catalog.results(second.run_id)}
    assert results["marts.b2"]["status"] == "failed"
    assert "marts.b2" in results["marts.b2"]["message"]
    assert results["marts.b2"]["rows_written"] is None
    assert results["marts.b2"]["delta_version"] is None
    assert results["marts.ab"]["status"] == "skipped"
    assert results["raw.a"]["status"] == "success"
    assert results["raw.a"]["delta_version"] == 1

    results = project.catalog.results(third.run_id)
    assert [(r["asset"], r["status"], r["delta_version"]) for r in results] == [
        ("raw.a", "success", 2)
    ]
    # the API and the catalog agree
    assert project.run_results(third.run_id[:8]) == results
    assert [h.run_id for h in project.history("raw.a")] == [
        third.run_id,
        second.run_id,
        first.run_id,
    ]


def test_runs_are_recorded_with_an_outcome_per_selected_asset(dag):
    summary = dag.run(select=["marts.b2"], force=True)
    assert statuses(summary) == {"marts.b2": "success"}
    assert [r["asset"] for r in dag.catalog.results(summary.run_id)] == ["marts.b2"]


# -- external files ------------------------------------------------------------------------


def test_models_reading_files_are_rebuilt_when_the_files_change(make_project):
    project = make_project(
        {
            "data/points.csv": "x,y\n1,2\n3,4\n",
            "models/from_csv.sql": """
                select sum(x) as sx, sum(y) as sy from read_csv('data/points.csv')
            """,
            "models/from_parquet.sql": """
                select count(*) as n, sum(v) as s from read_parquet('data/parts/*.parquet')
            """,
            "models/plain.sql": "select 1 as one",
        }
    )
    parts = project.root / "data" / "parts"
    parts.mkdir(parents=True)
    pq.write_table(pa.table({"v": [1, 2, 3]}), parts / "p1.parquet")
    summary = project.run()
    assert summary.status == "success", [(o.key, o.message) for o in summary.outcomes]
    assert table_rows(project, "main.from_csv") == [(4, 6)]
    assert table_rows(project, "main.from_parquet") == [(3, 6)]
    assert set(statuses(project.run()).values()) == {"up_to_date"}

    # the CSV changes
    (project.root / "data" / "points.csv").write_text("x,y\n1,2\n3,4\n5,6\n")
    summary = project.run()
    assert statuses(summary) == {
        "main.from_csv": "success",
        "main.from_parquet": "up_to_date",
        "main.plain": "up_to_date",
    }
    assert table_rows(project, "main.from_csv") == [(9, 12)]

    # a new file matches the parquet glob
    pq.write_table(pa.table({"v": [10]}), parts / "p2.parquet")
    summary = project.run()
    assert statuses(summary)["main.from_parquet"] == "success"
    assert statuses(summary)["main.from_csv"] == "up_to_date"
    assert table_rows(project, "main.from_parquet") == [(4, 16)]

    # a file rewritten in place (same size, new content)
    time.sleep(0.01)
    pq.write_table(pa.table({"v": [20]}), parts / "p2.parquet")
    summary = project.run()
    assert statuses(summary)["main.from_parquet"] == "success"
    assert table_rows(project, "main.from_parquet") == [(4, 26)]

    # a file removed
    (parts / "p2.parquet").unlink()
    summary = project.run()
    assert statuses(summary)["main.from_parquet"] == "success"
    assert table_rows(project, "main.from_parquet") == [(3, 6)]
    assert rows(project, "select n from main.from_parquet") == [(3,)]


# -- settling dead runs --------------------------------------------------------------------


def test_a_dead_runs_commit_is_recognised_by_its_run_id_not_by_a_later_version(
    make_project: Any,
) -> None:
    from headwater.build.context import app_id
    from headwater.storage.base import TableRef
    from headwater.storage.delta import DeltaStore

    project = make_project(
        {
            "seeds/batch.csv": "id\n1\n",
            "models/core/app.sql": "select id from raw.batch",
            "models/core/app.yml": "materialized: incremental\n",
        }
    )
    first = project.run()
    write_files(project.root, {"seeds/batch.csv": "id\n2\n"})
    project.reload()
    second = project.run()
    seqs = {r["run_id"]: int(r["seq"]) for r in project.runs(10)}
    store = project.store
    assert isinstance(store, DeltaStore)
    ref, key = TableRef("core", "app"), app_id("core.app")
    landed = [store.landed_version(ref, key, seqs[s.run_id], s.run_id) for s in (first, second)]
    assert landed == [first.outcome("core.app").version, second.outcome("core.app").version]
    # a run between them committed nothing: the later commit is not its own
    assert store.landed_version(ref, key, seqs[first.run_id] + 1, "in-between") is None
    # the same app version under another run's id is not the dead run's commit
    assert store.landed_version(ref, key, seqs[second.run_id], "someone-else") is None


def test_resuming_a_forced_run_forces_what_is_left(make_project: Any) -> None:
    from tests.conftest import run_cli

    project = make_project(
        {
            "headwater.yml": "name: test\nthreads: 1\n",
            "models/a.sql": "select 1 as x",
            "models/b.sql": "select 2 as y",
        }
    )
    assert project.run().status == "success"
    killed = run_cli(
        ["run", "--force"], project.root, env={"HEADWATER_FAULT": "before_commit:main.b"}
    )
    assert killed.returncode == -9, killed.stderr
    forced = Project(project.root).runs(1)[0]
    resumed = run_cli(["run", "--resume", forced["run_id"], "--json"], project.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    import json

    built = {o["key"]: o["status"] for o in json.loads(resumed.stdout)["assets"]}
    assert built == {"main.b": "success"}  # rebuilt, as --force asked, not `up_to_date`
