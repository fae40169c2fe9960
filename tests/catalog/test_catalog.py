"""The catalog on both databases: SQLite through sqlite3, PostgreSQL through SQLAlchemy."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.catalog.migrations import MIGRATIONS, current_version
from headwater.catalog.store import Catalog
from headwater.errors import ConfigError, TransientError
from tests.conftest import ProjectFactory, run_cli
from tests.support.catalogs import Catalogs


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = Catalog(catalog_url)
    yield opened
    opened.close()


def test_runs_and_results_round_trip(catalog: Catalog) -> None:
    first = catalog.start_run("run", "marts+", 4, False)
    second = catalog.start_run("run", None, 1, True)
    assert second.seq > first.seq

    built = catalog.start_asset(first.run_id, "marts.orders", "table", "abc")
    catalog.finish_asset(built, "success", rows=10, version=3, duration_s=0.5)
    failed = catalog.start_asset(first.run_id, "marts.items", "view", None)
    catalog.finish_asset(failed, "failed", message="boom")
    catalog.record_assets(
        first.run_id,
        [
            {"asset": "staging.a", "status": "up_to_date", "delta_version": 7},
            {"asset": "staging.b", "status": "skipped", "message": "upstream failed"},
        ],
    )
    catalog.finish_run(first.run_id, "failed", "1 asset failed")

    results = catalog.results(first.run_id)
    assert [(r["asset"], r["status"]) for r in results] == [
        ("marts.orders", "success"),
        ("marts.items", "failed"),
        ("staging.a", "up_to_date"),
        ("staging.b", "skipped"),
    ]
    assert results[0]["rows_written"] == 10
    assert results[0]["delta_version"] == 3
    assert results[0]["fingerprint"] == "abc"
    assert results[1]["message"] == "boom"
    assert results[2]["delta_version"] == 7

    runs = catalog.runs()
    assert [r["run_id"] for r in runs] == [second.run_id, first.run_id]
    assert runs[1]["counts"] == {"success": 1, "failed": 1, "up_to_date": 1, "skipped": 1}
    assert runs[1]["status"] == "failed"
    assert runs[1]["error"] == "1 asset failed"
    assert runs[0]["counts"] == {}
    assert [r["run_id"] for r in catalog.unfinished_runs()] == [second.run_id]
    assert catalog.asset_results("marts.orders")[0]["id"] == built


def test_run_lookup_by_unique_prefix(catalog: Catalog) -> None:
    record = catalog.start_run("run", None, 1, False)
    found = catalog.run(record.run_id[:6])
    assert found is not None and found["run_id"] == record.run_id
    assert catalog.run("zz") is None
    assert catalog.run("%") is None


def test_state_upsert_and_forget(catalog: Catalog) -> None:
    run = catalog.start_run("run", None, 1, False)
    catalog.set_state("marts.orders", "f1", 1, "incremental", run.run_id, {"cursor": 5})
    catalog.set_state("marts.orders", "f2", 2, "incremental", run.run_id, {"cursor": 9})
    catalog.set_state("staging.a", "g1", None, "view", run.run_id)
    states = catalog.states()
    assert states["marts.orders"].fingerprint == "f2"
    assert states["marts.orders"].delta_version == 2
    assert states["marts.orders"].state == {"cursor": 9}
    assert states["staging.a"].state == {}
    catalog.forget_state("marts.orders")
    assert set(catalog.states()) == {"staging.a"}


def test_reopening_keeps_data_and_schema_version(catalog_url: str) -> None:
    first = Catalog(catalog_url)
    record = first.start_run("run", None, 1, False)
    first.close()
    second = Catalog(catalog_url)
    try:
        assert current_version(second.db) == MIGRATIONS[-1].version
        assert second.run(record.run_id) is not None
    finally:
        second.close()


def test_failed_transaction_rolls_back(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError), catalog.db.transaction() as tx:
        tx.execute(
            "INSERT INTO hw_asset_state (asset, fingerprint, updated_at) VALUES ('x.y', 'f', 'now')"
        )
        raise RuntimeError("abort")
    assert catalog.states() == {}


def test_threads_share_one_catalog(catalog: Catalog) -> None:
    run = catalog.start_run("run", None, 8, False)

    def build(i: int) -> None:
        result = catalog.start_asset(run.run_id, f"m.a{i}", "table", None)
        catalog.finish_asset(result, "success", rows=i)
        catalog.set_state(f"m.a{i}", str(i), i, "table", run.run_id)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(catalog.results(run.run_id)) == 16
    assert len(catalog.states()) == 16


def _open_and_record(url: str) -> None:
    catalog = Catalog(url)
    catalog.start_run("run", None, 1, False)
    catalog.close()


def test_processes_migrating_at_once_agree(catalog_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open_and_record, args=(catalog_url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(600)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    catalog = Catalog(catalog_url)
    try:
        assert len(catalog.runs()) == 4
    finally:
        catalog.close()


def test_bad_sqlite_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a SQLite URL") as caught:
        Catalog("sqlite://relative.db")
    assert "sqlite:///relative/path.db" in (caught.value.hint or "")


def test_unreadable_sqlite_folder_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot open the catalog database"):
        Catalog(f"sqlite:///{blocker}/sub/catalog.db")


def test_an_unreachable_catalog_server_is_a_typed_error_that_hides_the_password(
    make_project: ProjectFactory,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://headwater:canary-pw-7731@127.0.0.1:{port}/catalog"
    with pytest.raises(TransientError) as caught:
        Catalog(url)
    message = str(caught.value)
    assert message.startswith(
        f"headwater.yml: cannot reach the catalog database "
        f"postgresql+psycopg://headwater:***@127.0.0.1:{port}/catalog: "
    )
    assert "refused" in message and "PGPASSWORD" in (caught.value.hint or "")
    assert "canary-pw-7731" not in message
    project = make_project({"models/m.sql": "select 1 as x"}, config=f"catalog: {url}\n")
    result = run_cli(["run"], project.root)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: headwater.yml: cannot reach the catalog database")
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "canary-pw-7731" not in result.stderr + result.stdout


def test_a_project_runs_on_each_catalog(make_project: ProjectFactory, catalogs: Catalogs) -> None:
    project = catalogs.projects(make_project)(
        {
            "seeds/people.csv": "id,name\n1,ada\n2,bob\n",
            "models/marts/names.sql": "select id, upper(name) as name from people",
        }
    )
    result = run_cli(["run"], project.root)
    assert result.returncode == 0, result.stderr
    again = run_cli(["run"], project.root)
    assert "up to date" in again.stdout
    runs = run_cli(["runs"], project.root)
    assert runs.returncode == 0 and runs.stdout.count("success") >= 2


PROBE = (
    "import sys\n"
    "from headwater.cli.main import main\n"
    "try:\n"
    "    main(['run'])\n"
    "except SystemExit as exit:\n"
    "    assert not exit.code, exit.code\n"
    "heavy = [m for m in ('sqlalchemy', 'sqlglot', 'jinja2', 'pyarrow', 'duckdb') "
    "if m in sys.modules]\n"
    "print('HEAVY', heavy)\n"
)


def _imports_of_a_run(root: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_runs_on_sqlite_never_import_sqlalchemy(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/people.csv": "id,name\n1,ada\n",
            "models/marts/names.sql": "select id, name from people",
        }
    )
    # the first run creates the catalog: still no SQLAlchemy
    assert "sqlalchemy" not in _imports_of_a_run(project.root)
    # a no-op run imports none of the heavy libraries at all
    assert _imports_of_a_run(project.root) == "HEAVY []"
