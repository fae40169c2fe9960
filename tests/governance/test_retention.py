"""Retention (`retention:` in a table's YAML, enforced by `headwater maintain`): expired rows
leave the current version, the files only older versions read are deleted once those versions
pass the window, and bad settings are refused with their place."""

from __future__ import annotations

import datetime as dt
import subprocess
from typing import Any

import pytest

from headwater.errors import ConfigError, UsageError
from tests.conftest import HEADWATER, ProjectFactory

EVENTS = "id,at,note\n" + "".join(
    f"{i},{(dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat()} 12:00:00,n{i}\n"
    for i in range(1, 31)
)


def sidecar(retention: str) -> dict[str, str]:
    return {
        "seeds/events.csv": EVENTS,
        "seeds/events.yml": "columns:\n  - {name: at, type: TIMESTAMP}\n" + retention,
    }


def test_expired_rows_leave_the_current_version_and_old_versions_their_files(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        sidecar("retention:\n  versions: 0s\n  rows: {column: at, older_than: 330d}\n")
    )
    for _ in range(3):
        assert project.run(full_refresh=True).status == "success"
    assert len(project.history("raw.events")) == 3
    from headwater.orchestrate.retention import maintain

    def enforce(dry_run: bool) -> list[Any]:
        # 330 days before 2026-12-07: rows at or after 2026-01-11 stay (days 1-9 expire)
        now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
        keys = ["raw.events"]
        return maintain(
            project.definition, project.catalog, project.store, keys, now=now, dry_run=dry_run
        )

    dry = enforce(dry_run=True)
    assert [(m.table, m.expired_rows, m.version) for m in dry] == [("raw.events", 9, None)]
    assert project.query("select count(*) as n from raw.events").to_pylist() == [{"n": 30}]
    assert len(project.history("raw.events")) == 3
    (done,) = enforce(dry_run=False)
    assert done.expired_rows == 9 and done.version is not None
    kept = project.query("select min(id) as first, count(*) as n from raw.events")
    assert kept.to_pylist() == [{"first": 10, "n": 21}]
    assert done.files_deleted  # the files of the three versions before
    readable = [h.version for h in project.history("raw.events") if h.readable]
    assert readable == [done.version]


def test_maintain_selects_tables_and_says_when_none_declares_retention(
    make_project: ProjectFactory,
) -> None:
    project = make_project({"seeds/plain.csv": "id\n1\n"})
    assert project.run().status == "success"
    done = subprocess.run(
        [*HEADWATER, "maintain"], cwd=project.root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "declares a retention" in done.stdout


@pytest.mark.parametrize(
    ("retention", "message"),
    [
        ("retention:\n  versions: forever\n", "is not a duration"),
        ("retention:\n  rows: {older_than: 3d}\n", "column"),
        ("retention:\n  keep: 3d\n", "keep"),
    ],
)
def test_a_bad_retention_is_refused_at_load(
    make_project: ProjectFactory, retention: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _ = make_project(sidecar(retention)).definition
    assert message in str(raised.value) and "events.yml" in str(raised.value)


def test_a_row_expiry_by_a_column_that_is_no_time_is_refused(make_project: ProjectFactory) -> None:
    project = make_project(sidecar("retention:\n  rows: {column: note, older_than: 3d}\n"))
    assert project.run().status == "success"
    with pytest.raises(UsageError) as refused:
        project.maintain()
    assert "not a date or time column" in refused.value.message
