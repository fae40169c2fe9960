"""Partitioned models and backfills: one slice replaced at a time, idempotent, resumable."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.project.partitions import PartitionsConfig, PartitionSet
from tests.conftest import HEADWATER, ProjectFactory, run_cli, write_files

DAYS = 30
EVENTS = "id,day,amount\n" + "\n".join(
    f"{i},{dt.date(2024, 5, 1) + dt.timedelta(days=i % DAYS)},{i}" for i in range(300)
)
DAILY_SQL = """
select day, count(*) as events, sum(amount) as amount
from raw.events
where day >= {{ partition_start }} and day < {{ partition_end }}
group by day
"""
DAILY = "partitions: {column: day, grain: daily, start: 2024-05-01, end: 2024-05-31}\n"


def daily_project(make_project: ProjectFactory, folder: str = "proj") -> Project:
    project = make_project(
        {
            "seeds/events.csv": EVENTS + "\n",
            "models/core/daily.sql": DAILY_SQL,
            "models/core/daily.yml": DAILY,
            "models/marts/weekly_view.sql": "select count(*) as days from core.daily",
        },
        folder=folder,
    )
    assert project.run(select=["raw.events"]).status == "success"
    return project


def content(project: Project, key: str = "core.daily") -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in project.query(f"select * from {key} order by 1").to_pylist()]


def test_a_backfill_builds_each_partition_and_running_one_again_changes_nothing(
    make_project: ProjectFactory,
) -> None:
    project = daily_project(make_project)
    summary = project.backfill(["core.daily"], "2024-05-01", "2024-05-10")
    assert summary.status == "success"
    assert [o.partition for o in summary.outcomes] == [
        f"2024-05-{d:02d}" for d in range(1, 11)
    ] or sorted(o.partition or "" for o in summary.outcomes) == [
        f"2024-05-{d:02d}" for d in range(1, 11)
    ]
    before = content(project)
    assert len(before) == 10 and sum(r[1] for r in before) == 100
    again = project.backfill(["core.daily"], "2024-05-03", "2024-05-03", force=True)
    assert again.status == "success" and again.outcome("core.daily").rows == 1
    assert content(project) == before  # idempotent: the same slice, replaced
    skipped = project.backfill(["core.daily"], "2024-05-01", "2024-05-10")
    assert skipped.count("up_to_date") == 10  # already built from this definition
    statuses = {r["partition"]: r["status"] for r in project.partitions("core.daily")}
    assert [statuses[f"2024-05-{d:02d}"] for d in range(1, 11)] == ["success"] * 10
    assert statuses["2024-05-11"] == "missing"


def test_rows_outside_the_partition_are_refused(make_project: ProjectFactory) -> None:
    project = daily_project(make_project)
    leaky = DAILY_SQL.replace("and day <", "or day <")
    write_files(project.root, {"models/core/daily.sql": leaky})
    project.reload()
    summary = project.backfill(["core.daily"], "2024-05-02", "2024-05-02")
    outcome = summary.outcome("core.daily")
    assert outcome.status == "failed"
    assert "rows outside partition 2024-05-02" in (outcome.message or "")
    assert not (project.definition.warehouse / "core" / "daily" / "_delta_log").exists()


def test_a_partition_replaces_its_rows_inside_files_that_also_hold_others(
    make_project: ProjectFactory,
) -> None:
    project = daily_project(make_project)
    # first built whole, in one file holding every day; then partitioned
    write_files(
        project.root,
        {"models/core/daily.sql": DAILY_SQL.split("where", maxsplit=1)[0] + "group by day"},
    )
    (project.root / "models/core/daily.yml").unlink()
    project.reload()
    assert project.run(select=["core.daily"]).status == "success"
    write_files(
        project.root, {"models/core/daily.sql": DAILY_SQL.replace("count(*)", "100 + count(*)")}
    )
    write_files(project.root, {"models/core/daily.yml": DAILY})
    project.reload()
    assert project.backfill(["core.daily"], "2024-05-07", "2024-05-07").status == "success"
    rows = dict((r[0].isoformat(), r[1]) for r in content(project))
    assert rows["2024-05-07"] == 110 and rows["2024-05-06"] == 10 and len(rows) == DAYS


def test_listed_keys_are_all_built_by_a_plain_run(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/sales.csv": "region,amount\neu,1\nus,2\neu,3\napac,4\n",
            "models/core/by_region.sql": (
                "select region, sum(amount) as total from raw.sales "
                "where region = {{ partition_key }} group by region"
            ),
            "models/core/by_region.yml": "partitions: {column: region, keys: [eu, us, apac]}\n",
        }
    )
    summary = project.run()
    assert summary.status == "success"
    assert sorted(o.partition for o in summary.outcomes if o.key == "core.by_region") == [
        "apac",
        "eu",
        "us",
    ]
    assert content(project, "core.by_region") == [("apac", 4), ("eu", 4), ("us", 2)]
    shown = run_cli(["partitions", "core.by_region"], project.root)
    assert "# eu" in shown.stdout and "3 partitions: 3 success" in shown.stdout


def test_partition_ranges_in_a_time_zone() -> None:
    config = PartitionsConfig.model_validate(
        {
            "column": "at",
            "grain": "hourly",
            "start": "2024-03-31T00:00",
            "timezone": "Europe/Berlin",
        }
    )
    now = dt.datetime(2024, 3, 31, 6, 30, tzinfo=dt.UTC)  # 08:30 in Berlin, after the DST jump
    partitions = PartitionSet(config).all(now)
    # 02:00-03:00 does not exist on that day in Berlin: 00, 01, 03, ..., 07
    assert [p.key for p in partitions] == [
        "2024-03-31T00",
        "2024-03-31T01",
        "2024-03-31T03",
        "2024-03-31T04",
        "2024-03-31T05",
        "2024-03-31T06",
        "2024-03-31T07",
    ]
    hour = dt.timedelta(hours=1)
    assert all(p.end.astimezone(dt.UTC) - p.start.astimezone(dt.UTC) == hour for p in partitions)  # type: ignore[union-attr]
    weekly = PartitionSet(
        PartitionsConfig.model_validate({"column": "d", "grain": "weekly", "start": "2024-05-01"})
    )
    first = weekly.all(dt.datetime(2024, 5, 20, tzinfo=dt.UTC))[0]
    assert first.key == "2024-W18" and first.start.date() == dt.date(2024, 4, 29)  # type: ignore[union-attr]


def test_a_partitioned_view_is_a_config_error(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/v.sql": "select 1 as x, current_date as day",
            "models/v.yml": f"materialized: view\n{DAILY}",
        }
    )
    result = run_cli(["dag"], project.root)
    assert result.returncode == 2
    assert "main.v is partitioned but materialized as view" in result.stderr


PLUS = {
    "models/marts/daily_plus.sql": (
        "select day, events + 1 as e from core.daily where day = {{ partition_start }}"
    ),
    "models/marts/daily_plus.yml": DAILY,
}


def _built(root: Path) -> int:
    try:
        with sqlite3.connect(root / ".headwater" / "catalog.db") as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM hw_partitions WHERE status = 'success'"
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(count)


@pytest.mark.parametrize("kills", [1, 3])
def test_a_backfill_killed_midway_resumes_to_the_same_result(
    make_project: ProjectFactory, kills: int
) -> None:
    project = daily_project(make_project)
    write_files(project.root, PLUS)
    command = [
        *HEADWATER,
        "backfill",
        "core.daily+",
        "--start",
        "2024-05-01",
        "--end",
        "2024-05-30",
    ]
    for kill in range(kills):
        process = subprocess.Popen(
            command, cwd=project.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        target = 6 * (kill + 1)
        deadline = time.monotonic() + 600
        while _built(project.root) < target and process.poll() is None:
            assert time.monotonic() < deadline, "the backfill made no progress"
            time.sleep(0.02)
        assert process.poll() is None, "the backfill ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(60) == -signal.SIGKILL
    assert _built(project.root) < 2 * DAYS
    resumed = run_cli(
        ["backfill", "core.daily+", "--start", "2024-05-01", "--end", "2024-05-30", "--json"],
        project.root,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    outcomes = json.loads(resumed.stdout)["assets"]
    assert any(o["status"] == "up_to_date" for o in outcomes)  # resumed, not redone

    reference = daily_project(make_project, folder="reference")
    write_files(reference.root, PLUS)
    reference.reload()
    assert reference.backfill(["core.daily+"], "2024-05-01", "2024-05-30").status == "success"
    project.reload()
    for key in ("core.daily", "marts.daily_plus", "marts.weekly_view"):
        assert content(project, key) == content(reference, key), key
    assert len(content(project)) == DAYS


def test_daily_partitions_in_a_time_zone_replace_their_local_day(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/clicks.csv": (
                "id,at\n1,2024-05-01 10:00:00+00\n2,2024-05-01 22:30:00+00\n"
                "3,2024-05-02 12:00:00+00\n"
            ),
            "seeds/clicks.yml": "columns:\n  - {name: at, type: TIMESTAMPTZ}\n",
            "models/core/clicks_daily.sql": (
                "select id, at from raw.clicks "
                "where at >= {{ partition_start }} and at < {{ partition_end }}"
            ),
            "models/core/clicks_daily.yml": (
                "partitions: {column: at, grain: daily, start: 2024-05-01, end: 2024-05-03, "
                "timezone: Europe/Berlin}\n"
            ),
        }
    )
    assert project.run(select=["raw.clicks"]).status == "success"
    for _ in range(3):  # rebuilding the same local day never duplicates its rows
        summary = project.backfill(["core.clicks_daily"], force=True)
        assert summary.status == "success", [o.message for o in summary.outcomes]
    rows = project.query("select id from core.clicks_daily order by id").to_pylist()
    assert [r["id"] for r in rows] == [1, 2, 3]
    # 22:30 UTC on May 1st is already May 2nd in Berlin
    built = {o.partition: o.rows for o in summary.outcomes}
    assert built == {"2024-05-01": 1, "2024-05-02": 2}


def test_rows_quarantined_by_each_partition_are_all_kept(make_project: ProjectFactory) -> None:
    events = "id,day,amount\n" + "\n".join(
        f"{i},2024-05-0{1 + i % 3},{-1 if i < 3 else i}" for i in range(30)
    )
    project = make_project(
        {
            "seeds/events.csv": events + "\n",
            "models/core/daily.sql": (
                "select id, day, amount from raw.events "
                "where day >= {{ partition_start }} and day < {{ partition_end }}"
            ),
            "models/core/daily.yml": (
                "partitions: {column: day, grain: daily, start: 2024-05-01, end: 2024-05-04}\n"
                "columns:\n  - name: amount\n    checks: [{range: {min: 0, on_fail: quarantine}}]\n"
            ),
        }
    )
    assert project.run(select=["raw.events"]).status == "success"
    summary = project.backfill(["core.daily"])
    assert summary.status == "success"
    assert sorted(
        json.loads(r["raw"])["id"] for r in project.quarantine("core.daily").to_pylist()
    ) == [0, 1, 2]
    assert project.query("select count(*) as n from core.daily").to_pylist() == [{"n": 27}]
    # rebuilding a partition screens only its own new rows: the others are left alone
    assert (
        project.backfill(["core.daily"], "2024-05-02", "2024-05-02", force=True).status == "success"
    )
    assert project.query("select count(*) as n from core.daily").to_pylist() == [{"n": 27}]


def test_resuming_a_backfill_keeps_its_exclusions(make_project: ProjectFactory) -> None:
    project = daily_project(make_project)
    write_files(project.root, PLUS)
    project.reload()
    first = project.backfill(
        ["core.daily+"], "2024-05-01", "2024-05-03", exclude=["marts.daily_plus"]
    )
    assert first.status == "success"
    again = project.resume(first.run_id)
    assert {o.key for o in again.outcomes} == {"core.daily", "marts.weekly_view"}


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            "2024-05-10",
            "2024-05-01",
            "the range --start 2024-05-10 --end 2024-05-01 is reversed: 2024-05-10 is after "
            "2024-05-01; swap them (partitions run from 2024-05-01 to 2024-05-30)",
        ),
        (
            "2023-01-01",
            "2024-05-03",
            "--start 2023-01-01 is before the first partition (2024-05-01, the definition's "
            "start); partitions run from 2024-05-01 to 2024-05-30",
        ),
        (
            None,
            "2024-04-30",
            "--end 2024-04-30 is before the first partition (2024-05-01, the definition's "
            "start); partitions run from 2024-05-01 to 2024-05-30",
        ),
        (
            "2024-07-01",
            None,
            "the range --start 2024-07-01 --end (last) holds no partition: partitions run "
            "from 2024-05-01 to 2024-05-30",
        ),
    ],
    ids=["reversed", "before-start", "end-before-start", "after-the-last"],
)
def test_a_backfill_range_outside_the_partitions_is_an_error_not_zero_built(
    make_project: ProjectFactory, start: str | None, end: str | None, message: str
) -> None:
    project = daily_project(make_project)
    runs_before = len(project.runs(100))
    bounds = [*(["--start", start] if start else []), *(["--end", end] if end else [])]

    result = run_cli(["backfill", "core.daily", *bounds], project.root)

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"Error: asset core.daily: {message}\n" in result.stderr
    assert "hint: give --start and --end as partition keys or dates" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Done:" not in result.stdout
    assert len(project.runs(100)) == runs_before  # refused before a run started


def test_a_backfill_range_of_listed_keys_names_the_keys(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/sales.csv": "region,amount\neu,1\nus,2\n",
            "models/core/by_region.sql": (
                "select region, sum(amount) as total from raw.sales "
                "where region = {{ partition_key }} group by region"
            ),
            "models/core/by_region.yml": "partitions: {column: region, keys: [eu, us, apac]}\n",
        }
    )

    reversed_ = run_cli(
        ["backfill", "core.by_region", "--start", "us", "--end", "eu"], project.root
    )
    unknown = run_cli(["backfill", "core.by_region", "--start", "asia"], project.root)

    assert reversed_.returncode == unknown.returncode == 2
    assert (
        "Error: asset core.by_region: the range --start us --end eu is reversed: us comes after "
        "eu in the keys (eu, us, apac); swap them" in reversed_.stderr
    )
    assert (
        "Error: asset core.by_region: --start asia is not one of the partition keys "
        "(eu, us, apac)" in unknown.stderr
    )


def test_a_range_within_and_past_the_last_partition_is_clipped_to_it() -> None:
    config = PartitionsConfig.model_validate(
        {"column": "d", "grain": "daily", "start": "2024-05-01", "end": "2024-05-31"}
    )
    now = dt.datetime(2024, 6, 10, tzinfo=dt.UTC)
    partitions = PartitionSet(config).between("2024-05-29", "2024-06-30", now)
    assert [p.key for p in partitions] == ["2024-05-29", "2024-05-30"]
    with pytest.raises(KeyError):
        PartitionSet(config).get("2024-04-30", now)


def test_a_failed_partition_keeps_no_secret_in_its_message(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.build.secrets import resolve
    from headwater.errors import Location

    secret = "s3cr3t-partition-token"
    monkeypatch.setenv("HW_PARTITION_SECRET", secret)
    # as a source's connection would: the value is known to redaction from now on
    assert resolve("${HW_PARTITION_SECRET}", Location(), "url") == secret
    project = make_project(
        {
            "seeds/events.csv": EVENTS + "\n",
            "models/core/daily.sql": DAILY_SQL.replace(
                "select day,", f"select day, cast('{secret}' as int) as token,"
            ),
            "models/core/daily.yml": DAILY,
        }
    )
    assert project.run(select=["raw.events"]).status == "success"
    summary = project.backfill(["core.daily"], "2024-05-01", "2024-05-01")
    assert summary.status == "failed"
    [outcome] = summary.outcomes
    assert secret not in (outcome.message or "") and "***" in (outcome.message or "")
    stored = project.catalog.partitions("core.daily")["2024-05-01"]["message"]
    assert secret not in stored and "***" in stored
