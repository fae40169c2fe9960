"""R11: SIGKILL the worker during task attempts.

Pass: every task (an asset's build, or one partition's) reaches exactly one terminal state once
the next run has settled the killed one; no task is attempted more often than its retries allow;
and re-running partitions gives identical output. Each attempt here is a `headwater backfill
--force` of 10 daily partitions (20 tasks), killed at a random moment. Scaled down to 12 kills in
the regular suite; 50 in the slow tier.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from headwater.catalog.store import Catalog
from tests.conftest import HEADWATER, ProjectFactory, run_cli
from tests.support.catalogs import Catalogs

EVENTS = "id,day,amount\n" + "\n".join(f"{i},2024-05-{1 + i % 10:02d},{i}" for i in range(2000))
DAILY = "partitions: {column: day, grain: daily, start: 2024-05-01, end: 2024-05-11}\n"
FILES = {
    "seeds/events.csv": EVENTS + "\n",
    "models/core/daily.sql": (
        "select day, count(*) as events, sum(amount) as amount from raw.events "
        "where day >= {{ partition_start }} and day < {{ partition_end }} group by day"
    ),
    "models/core/daily.yml": DAILY + "retries: {attempts: 2, backoff: 0.01}\n",
    "models/marts/daily_share.sql": (
        "select day, amount / (select sum(amount) from raw.events) as share from core.daily "
        "where day = {{ partition_start }}"
    ),
    "models/marts/daily_share.yml": DAILY,
}
TERMINAL = {"success", "failed", "skipped", "up_to_date", "interrupted"}
BACKFILL = ["backfill", "core.daily+", "--start", "2024-05-01", "--end", "2024-05-10", "--force"]


@pytest.fixture
def make_project(make_project: ProjectFactory, catalogs: Catalogs) -> ProjectFactory:
    """Projects whose catalog is SQLite, then PostgreSQL: the test runs on both."""
    return catalogs.projects(make_project)


def _counts(catalog: Catalog, sql: str) -> dict[Any, int]:
    """The (key, value) rows `sql` gives, read from the catalog database."""
    with catalog.db.transaction(write=False) as tx:
        return {row["k"]: row["n"] for row in tx.execute(sql)}


def _content(root: Path, query: str) -> list[tuple[object, ...]]:
    from headwater import Project

    with Project(root) as project:
        return [tuple(r.values()) for r in project.query(query).to_pylist()]


@pytest.mark.parametrize(
    "kills", [pytest.param(12, id="scaled"), pytest.param(50, id="full", marks=pytest.mark.slow)]
)
def test_r11_killed_attempts_end_in_one_terminal_state(
    make_project: ProjectFactory, kills: int
) -> None:
    project = make_project(FILES)  # threads: 2, as make_project writes it
    assert run_cli(["run", "--select", "raw.events"], project.root).returncode == 0
    rng = random.Random(11)
    landed = 0
    for _ in range(kills):
        process = subprocess.Popen(
            [*HEADWATER, *BACKFILL],
            cwd=project.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.2))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            landed += 1
        process.wait(600)
    assert landed >= kills // 2, f"only {landed} of {kills} kills landed mid-run"
    final = run_cli([*BACKFILL, "--json"], project.root)  # settles the last killed run, too
    assert final.returncode == 0, final.stdout + final.stderr

    catalog = Catalog(project.definition.catalog_url())
    try:
        found = _counts(
            catalog, "SELECT status AS k, count(*) AS n FROM hw_asset_results GROUP BY status"
        )
        assert set(found) <= TERMINAL, found  # nothing left 'running'
        per_task = _counts(
            catalog,
            "SELECT result_id AS k, count(*) AS n FROM hw_asset_attempts GROUP BY result_id",
        )
        assert per_task and max(per_task.values()) <= 2  # never more than the configured attempts
        runs = _counts(catalog, "SELECT status AS k, count(*) AS n FROM hw_runs GROUP BY status")
        assert "running" not in runs
    finally:
        catalog.close()

    reference = make_project(FILES, folder="reference")
    assert run_cli(["run", "--select", "raw.events"], reference.root).returncode == 0
    assert run_cli(BACKFILL, reference.root).returncode == 0
    for query in (
        "select * from core.daily order by day",
        "select * from marts.daily_share order by day",
    ):
        assert _content(project.root, query) == _content(reference.root, query), query
