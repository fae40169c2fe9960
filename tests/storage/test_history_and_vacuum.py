"""Regression tests for history, time travel and vacuum as users saw them from outside (issue 11).

Every table here is a real Delta table: built by a project run, committed by DeltaStore, or
written by delta-rs itself. What a history says is checked against what the commits did.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from headwater.engine.duckdb import DuckDBEngine
from headwater.errors import TableNotFoundError, UsageError
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.delta import DeltaStore
from tests.conftest import ProjectFactory, write_files
from tests.storage.test_delta_store import commit, read, table_files
from tests.support.ui_server import serve

REF = TableRef("core", "events")
MERGED = {
    "seeds/src.csv": "id,v\n0,a\n1,a\n2,a\n3,a\n4,a\n",
    "models/core/events.sql": (
        "{{ config(materialized='incremental', unique_key='id') }}\nselect id, v from raw.src"
    ),
}


@pytest.fixture
def engine():
    engine = DuckDBEngine()
    yield engine
    engine.close()


def _rebuilt_three_times(make_project: ProjectFactory):  # type: ignore[no-untyped-def]
    """A table model built three times: versions 0, 1 and 2 each replace the whole table."""
    project = make_project({"models/core/events.sql": "select 0 as id"})
    for n in (1, 2):
        project.run()
        (project.root / "models/core/events.sql").write_text(f"select {n} as id")
        project.reload()
    project.run()
    assert project.store.current_version(REF) == 2
    return project


# -- history: what each commit did ----------------------------------------------------------


def test_history_shows_merge_and_the_rows_the_merge_changed(make_project: ProjectFactory) -> None:
    project = make_project(MERGED)
    project.run()
    # ids 3 and 4 change, 5 to 7 are new; ids 0 to 2 are carried over untouched
    write_files(project.root, {"seeds/src.csv": "id,v\n3,b\n4,b\n5,b\n6,b\n7,b\n"})
    project.reload()
    project.run()

    merge, create = project.history("core.events")
    assert merge.operation == "MERGE"  # not WRITE, although it is committed as file actions
    assert merge.metrics["num_target_rows_inserted"] == 3
    assert merge.metrics["num_target_rows_updated"] == 2
    assert merge.metrics["num_target_rows_deleted"] == 0
    assert merge.rows_written == 5  # not the 8 rows of the table
    assert merge.metadata["headwater.operation"] == "incremental merge"
    assert create.rows_written == 5
    assert project.query("select count(*) as n from core.events").column("n")[0].as_py() == 8


def test_history_of_a_hard_delete_merge_counts_the_deleted_row(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ndefaults:\n  mode: merge\n  primary_key: id\n  cursor: version\n"
                "tables:\n  users:\n    path: data/u*.csv\n    delete_column: deleted\n"
                "    delete: hard\n"
            ),
            "data/u1.csv": "id,name,version,deleted\n1,a,1,false\n2,b,1,false\n",
        }
    )
    assert project.run().status == "success"
    write_files(project.root, {"data/u2.csv": "id,name,version,deleted\n2,b,3,true\n3,c,3,false\n"})
    assert project.run().status == "success"

    latest = project.history("shop.users", limit=1)[0]
    assert latest.operation == "MERGE"
    assert (
        latest.metrics["num_target_rows_inserted"],
        latest.metrics["num_target_rows_updated"],
        latest.metrics["num_target_rows_deleted"],
    ) == (1, 0, 1)
    assert latest.rows_written == 2


def test_history_counts_delta_rs_operations_by_their_own_metrics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = DeltaStore(tmp_path)
    where = str(store.location(REF))
    write_deltalake(where, pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}))
    (
        DeltaTable(where)
        .merge(pa.table({"id": [1, 5], "v": ["A", "E"]}), "s.id = t.id", "s", "t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    DeltaTable(where).delete("id = 2")
    DeltaTable(where).update({"v": "'z'"}, predicate="id = 3")

    history = store.history(REF)
    assert [(h.operation, h.rows_written) for h in history] == [
        ("UPDATE", 1),
        ("DELETE", 1),
        ("MERGE", 2),  # one inserted, one updated; delta-rs's num_output_rows would say 4
        ("WRITE", 3),
    ]


# -- vacuum ---------------------------------------------------------------------------------


def test_vacuum_below_the_safe_retention_is_refused_without_force(
    make_project: ProjectFactory,
) -> None:
    project = _rebuilt_three_times(make_project)
    before = table_files(project.store)

    with pytest.raises(UsageError) as refused:
        project.vacuum("core.events", retain_hours=0)
    assert "below the safe minimum of 168 hours" in refused.value.message
    assert "--force" in (refused.value.hint or "")
    assert table_files(project.store) == before  # nothing deleted
    assert project.query("select id from core.events", as_of=0).column("id").to_pylist() == [0]

    listed = project.vacuum("core.events", retain_hours=0, dry_run=True)  # a dry run may look
    assert len(listed) == 2
    assert project.vacuum("core.events", retain_hours=0, force=True) == listed
    assert before - table_files(project.store) == set(listed)


def test_vacuum_minimum_follows_the_tables_own_retention(make_project: ProjectFactory) -> None:
    project = _rebuilt_three_times(make_project)
    DeltaTable(str(project.store.location(REF))).alter.set_table_properties(
        {"delta.deletedFileRetentionDuration": "interval 2 hours"}
    )
    assert project.store.safe_retention_hours(REF) == 2.0
    with pytest.raises(UsageError, match="below the safe minimum of 2 hours"):
        project.vacuum("core.events", retain_hours=1)
    # the removals are younger than two hours: nothing is due yet
    assert project.vacuum("core.events", retain_hours=2) == []


def test_vacuum_lists_a_file_removed_twice_once(tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    store = DeltaStore(tmp_path)
    commit(store, engine, "select 1 as id")
    first = {f.relative_path for f in store.snapshot(REF).files}
    commit(store, engine, "select 2 as id", mode="overwrite")
    second = {f.relative_path for f in store.snapshot(REF).files}
    # the restore adds version 0's file again, the overwrite removes it a second time
    store.restore(REF, 0, CommitInfo("r", "restore"))
    commit(store, engine, "select 3 as id", mode="overwrite")

    listed = store.vacuum(REF, retain_hours=0, dry_run=True)

    assert listed == sorted(first | second)  # each file once: two files, not three entries
    assert store.vacuum(REF, retain_hours=0, dry_run=False) == listed
    assert not table_files(store) & (first | second)
    assert read(engine, store.snapshot(REF)) == [(3,)]


# -- time travel to vacuumed versions -------------------------------------------------------


def test_query_as_of_a_vacuumed_version_names_the_readable_versions(
    make_project: ProjectFactory,
) -> None:
    project = _rebuilt_three_times(make_project)
    stamps = {h.version: h.timestamp_ms for h in project.history("core.events")}
    project.vacuum("core.events", retain_hours=0, force=True)

    with pytest.raises(TableNotFoundError) as by_version:
        project.query("select id from core.events", as_of=0)
    message = by_version.value.message
    assert "table core.events version 0 can no longer be read" in message
    assert "vacuum deleted 1 of its 1 data files" in message
    assert "versions still readable: 2" in message
    assert ".parquet" not in message and "IO Error" not in message
    assert "--as-of 2" in (by_version.value.hint or "")

    moment = dt.datetime.fromtimestamp((stamps[1] or 0) / 1000, dt.UTC)
    with pytest.raises(TableNotFoundError, match=r"as of .* can no longer be read"):
        project.query("select id from core.events", as_of=moment.isoformat())
    # a readable version still reads; restoring a vacuumed one is refused, not half-done
    assert project.query("select id from core.events", as_of=2).column("id").to_pylist() == [2]
    with pytest.raises(TableNotFoundError, match="versions still readable: 2"):
        project.restore("core.events", 0)
    assert project.store.current_version(REF) == 2


def test_history_marks_versions_whose_files_vacuum_deleted(tmp_path, engine) -> None:  # type: ignore[no-untyped-def]
    store = DeltaStore(tmp_path)
    commit(store, engine, "select 1 as id")  # v0: file A
    commit(store, engine, "select 2 as id", mode="overwrite")  # v1: B (A removed)
    commit(store, engine, "select 3 as id")  # v2: B and C
    assert all(h.readable for h in store.history(REF, check_readable=True))

    store.vacuum(REF, retain_hours=0, dry_run=False)

    marks = {h.version: h.readable for h in store.history(REF, check_readable=True)}
    assert marks == {2: True, 1: True, 0: False}  # v1 keeps every file it needs
    assert all(h.readable is None for h in store.history(REF))  # unchecked unless asked
    with pytest.raises(TableNotFoundError, match="versions still readable: 1-2"):
        store.snapshot(REF, version=0)
    assert read(engine, store.snapshot(REF, version=1)) == [(2,)]


def test_ui_marks_vacuumed_versions_and_explains_their_preview(
    make_project: ProjectFactory,
) -> None:
    project = _rebuilt_three_times(make_project)
    project.vacuum("core.events", retain_hours=0, force=True)

    with serve(project) as base:
        page = httpx.get(base + "/assets/core.events").text
        preview = httpx.get(base + "/assets/core.events", params={"version": 0}).text

    assert page.count('class="vacuumed"') == 2
    assert page.count("files vacuumed") == 2
    assert 'href="?version=2#preview"' in page
    assert 'href="?version=0#preview"' not in page
    assert "version 0 can no longer be read" in preview
    assert "versions still readable: 2" in preview
    assert "IO Error" not in preview
