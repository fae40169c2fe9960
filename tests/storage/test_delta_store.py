"""DeltaStore on real Delta tables: time travel, history, restore, optimize, vacuum, readers.

Each test writes through the same path a run uses (DuckDB writes Parquet, DeltaStore commits the
files) and checks the result with an independent reader (DuckDB over the snapshot's files and
the pyarrow dataset fallback).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.errors import StorageError, TableNotFoundError
from headwater.storage.base import CommitInfo, Snapshot, TableRef
from headwater.storage.delta import DeltaStore
from headwater.storage.delta_maintenance import IN_FLIGHT_GRACE_SECONDS

REF = TableRef("core", "events")


@pytest.fixture
def engine():
    engine = DuckDBEngine()
    yield engine
    engine.close()


def commit(
    store: DeltaStore,
    engine: DuckDBEngine,
    sql: str,
    mode: str = "append",
    run_id: str = "run",
    partition_by: list[str] | None = None,
    ref: TableRef = REF,
    **extra: object,
) -> int:
    """Write `sql` as Parquet and commit it the way a run does; return the new version."""
    result = engine.session().write_parquet(sql, store.new_file_dir(ref, run_id), partition_by)
    return store.commit_files(
        ref,
        result.files,
        result.schema,
        mode,  # type: ignore[arg-type]
        CommitInfo(run_id=run_id, operation=mode, **extra),  # type: ignore[arg-type]
        partition_by=partition_by,
    )


def read(engine: DuckDBEngine, snapshot: Snapshot, order: str = "id") -> list[tuple]:
    """Rows of `snapshot` through DuckDB's own Parquet reader, ordered."""
    session = engine.session()
    session.register_table(snapshot.ref, snapshot)
    table = session.query(
        f"SELECT * FROM {snapshot.ref.namespace}.{snapshot.ref.name} ORDER BY {order}"
    )
    return [tuple(r.values()) for r in table.to_pylist()]


def read_arrow(snapshot: Snapshot, order: str = "id") -> list[tuple]:
    """Rows of `snapshot` through the pyarrow dataset fallback, ordered."""
    table = snapshot.arrow_dataset().to_table().select(snapshot.schema.names)
    return sorted(
        (tuple(r.values()) for r in table.to_pylist()),
        key=lambda r: r[snapshot.schema.names.index(order)],
    )


def table_files(store: DeltaStore, ref: TableRef = REF) -> set[str]:
    """Every data file in the table's folder (relative paths), the log left out."""
    root = store.location(ref)
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "_delta_log" not in p.parts
    }


# -- time travel -------------------------------------------------------------------------


def test_time_travel_by_version_and_timestamp(make_project):
    project = make_project({"models/core/events.sql": "select 1 as id, 'a' as v"})
    project.run()
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.05)
    (project.root / "models/core/events.sql").write_text(
        "select 1 as id, 'b' as v union all select 2, 'c'"
    )
    project.reload()
    project.run()

    sql = "select id, v from core.events order by id"
    assert [tuple(r.values()) for r in project.query(sql).to_pylist()] == [(1, "b"), (2, "c")]
    assert [tuple(r.values()) for r in project.query(sql, as_of=0).to_pylist()] == [(1, "a")]
    assert [tuple(r.values()) for r in project.query(sql, as_of="0").to_pylist()] == [(1, "a")]
    assert [tuple(r.values()) for r in project.query(sql, as_of=between).to_pylist()] == [(1, "a")]

    store = project.store
    assert store.snapshot(REF, version=0).version == 0
    assert sum(f.rows for f in store.snapshot(REF, version=0).files) == 1
    assert store.snapshot(REF, as_of=between).version == 0
    assert store.snapshot(REF).version == 1


def test_time_travel_to_a_missing_version_or_time_is_a_typed_error(make_project):
    project = make_project({"models/core/events.sql": "select 1 as id"})
    project.run()
    with pytest.raises(TableNotFoundError):
        project.store.snapshot(REF, version=7)
    with pytest.raises(TableNotFoundError):
        project.store.snapshot(REF, as_of="2000-01-01T00:00:00Z")
    with pytest.raises(TableNotFoundError):
        project.store.snapshot(TableRef("core", "nothing"))


def test_history_entries_carry_the_run_id(make_project):
    project = make_project({"models/core/events.sql": "select 1 as id"})
    first = project.run()
    second = project.run(force=True)
    history = project.history("core.events")
    assert [(h.version, h.run_id) for h in history] == [
        (1, second.run_id),
        (0, first.run_id),
    ]
    assert all(h.timestamp_ms for h in history)


def test_storage_commit_carries_run_id_and_returns_its_version(tmp_path, engine):
    store = DeltaStore(tmp_path)
    assert commit(store, engine, "select 1 as id", run_id="r-one") == 0
    assert commit(store, engine, "select 2 as id", run_id="r-two") == 1
    assert [(h.version, h.run_id) for h in store.history(REF)] == [(1, "r-two"), (0, "r-one")]
    assert store.current_version(REF) == 1
    assert store.history(REF, limit=1)[0].version == 1


# -- restore -----------------------------------------------------------------------------


def test_restore_makes_a_new_version_with_the_old_content(make_project):
    project = make_project({"models/core/events.sql": "select range as id from range(3)"})
    project.run()
    (project.root / "models/core/events.sql").write_text("select range as id from range(10, 15)")
    project.reload()
    project.run()
    old = project.query("select id from core.events order by id", as_of=0)

    new_version = project.restore("core.events", 0)

    assert new_version == 2
    assert project.query("select id from core.events order by id").equals(old)
    entry = project.history("core.events", limit=1)[0]
    assert entry.version == 2 and entry.operation == "RESTORE" and entry.run_id
    # the restore is itself a version one can travel back from
    assert project.store.restore(REF, "1", CommitInfo("r", "restore")) == 3
    assert project.query("select count(*) as n from core.events").column("n")[0].as_py() == 5
    with pytest.raises(TableNotFoundError):
        project.restore("core.events", 42)


# -- optimize ----------------------------------------------------------------------------


def _checksum(engine: DuckDBEngine, snapshot: Snapshot) -> tuple[int, int]:
    session = engine.session()
    session.register_table(snapshot.ref, snapshot)
    row = session.query(
        f"SELECT count(*) AS n, coalesce(sum(hash(id, v)), 0)::HUGEINT % 1000000007 AS h "
        f"FROM {snapshot.ref.namespace}.{snapshot.ref.name}"
    ).to_pylist()[0]
    return row["n"], int(row["h"])


@pytest.mark.parametrize("zorder", [None, ["v", "id"]])
def test_optimize_keeps_content_and_leaves_fewer_files(tmp_path, engine, zorder):
    store = DeltaStore(tmp_path)
    for i in range(8):
        commit(
            store, engine, f"select range + {i * 100} as id, (range * 7) % 13 as v from range(100)"
        )
    before = store.snapshot(REF)
    assert len(before.files) == 8

    metrics = store.optimize(REF, CommitInfo("r-opt", "optimize"), zorder=zorder)

    after = store.snapshot(REF)
    assert after.version == before.version + 1
    assert len(after.files) < len(before.files)
    assert metrics["numFilesRemoved"] == 8
    assert (
        _checksum(engine, after) == _checksum(engine, before) == (800, _checksum(engine, before)[1])
    )
    assert read(engine, after) == read(engine, before)
    assert store.history(REF, limit=1)[0].run_id == "r-opt"


def test_zorder_by_unknown_column_is_a_typed_error(tmp_path, engine):
    store = DeltaStore(tmp_path)
    commit(store, engine, "select 1 as id")
    with pytest.raises(StorageError, match="no column nope"):
        store.optimize(REF, CommitInfo("r", "optimize"), zorder=["nope"])


# -- vacuum ------------------------------------------------------------------------------


def test_vacuum_dry_run_lists_exactly_what_a_real_vacuum_deletes(tmp_path, engine):
    store = DeltaStore(tmp_path)
    commit(store, engine, "select range as id from range(10)")
    commit(store, engine, "select range + 10 as id from range(10)")
    commit(store, engine, "select range as id from range(5)", mode="overwrite")
    store.optimize(REF, CommitInfo("r", "optimize"))
    current = {f.relative_path for f in store.snapshot(REF).files}
    before = table_files(store)

    listed = store.vacuum(REF, retain_hours=0, dry_run=True)
    assert table_files(store) == before  # a dry run deletes nothing
    assert listed and set(listed) == before - current
    deleted = store.vacuum(REF, retain_hours=0, dry_run=False)

    assert deleted == listed
    assert before - table_files(store) == set(listed)
    assert table_files(store) == current
    assert read(engine, store.snapshot(REF)) == [(i,) for i in range(5)]
    # nothing left to delete, and the default retention keeps recent removals
    assert store.vacuum(REF, retain_hours=0, dry_run=True) == []


def test_vacuum_keeps_recent_removals_within_retention(tmp_path, engine):
    store = DeltaStore(tmp_path)
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 2 as id", mode="overwrite")
    assert store.vacuum(REF, retain_hours=168, dry_run=True) == []
    assert store.vacuum(REF, retain_hours=168, dry_run=False) == []
    assert read(engine, store.snapshot(REF, version=0)) == [(1,)]


def test_vacuum_never_deletes_an_in_flight_writers_files(tmp_path, engine):
    store = DeltaStore(tmp_path)
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 2 as id", mode="overwrite")
    # a concurrent writer: files written, not committed yet, fresh modification time
    pending = engine.session().write_parquet(
        "select range + 100 as id from range(3)", store.new_file_dir(REF, "in-flight")
    )
    pending_paths = {os.path.relpath(f.path, store.location(REF)) for f in pending.files}

    listed = store.vacuum(REF, retain_hours=0, dry_run=True)
    deleted = store.vacuum(REF, retain_hours=0, dry_run=False)

    assert deleted == listed and len(deleted) == 1  # only the file version 1 removed
    assert not pending_paths & set(deleted)
    assert all((store.location(REF) / p).exists() for p in pending_paths)
    # the writer commits after the vacuum: its table is complete
    store.commit_files(REF, pending.files, pending.schema, "append", CommitInfo("w", "append"))
    assert read(engine, store.snapshot(REF)) == [(2,), (100,), (101,), (102,)]


def test_vacuum_deletes_files_of_a_killed_write_after_the_grace_period(tmp_path, engine):
    store = DeltaStore(tmp_path)
    commit(store, engine, "select 1 as id")
    orphan = engine.session().write_parquet("select 9 as id", store.new_file_dir(REF, "killed"))
    stale = time.time() - IN_FLIGHT_GRACE_SECONDS - 60
    for written in orphan.files:
        os.utime(written.path, (stale, stale))
    orphans = {os.path.relpath(f.path, store.location(REF)) for f in orphan.files}

    assert set(store.vacuum(REF, retain_hours=0, dry_run=True)) == orphans
    assert set(store.vacuum(REF, retain_hours=0, dry_run=False)) == orphans
    assert not any((store.location(REF) / p).exists() for p in orphans)
    assert not (store.location(REF) / next(iter(orphans))).parent.exists()
    assert read(engine, store.snapshot(REF)) == [(1,)]


def test_project_vacuum_through_the_api(make_project):
    project = make_project({"models/core/events.sql": "select 1 as id"})
    project.run()
    project.run(force=True)
    dry = project.vacuum("core.events", retain_hours=0, dry_run=True)
    assert len(dry) == 1
    assert project.vacuum("core.events", retain_hours=0, force=True) == dry
    assert project.query("select id from core.events").column("id").to_pylist() == [1]


# -- readers -----------------------------------------------------------------------------


@pytest.mark.parametrize("partition_by", [None, ["part"]])
def test_duckdb_reader_and_arrow_fallback_give_the_same_rows(tmp_path, engine, partition_by):
    store = DeltaStore(tmp_path)
    sql = (
        "select range as id, range % 3 as part, 'v' || range as v, "
        "timestamp '2026-01-01' + to_seconds(range) as at from range({lo}, {hi})"
    )
    commit(store, engine, sql.format(lo=0, hi=50), partition_by=partition_by)
    commit(store, engine, sql.format(lo=50, hi=120), partition_by=partition_by)
    snapshot = store.snapshot(REF)
    assert not snapshot.needs_arrow_reader
    assert snapshot.partition_by == tuple(partition_by or ())

    via_duckdb = read(engine, snapshot)
    via_arrow = read_arrow(snapshot)

    assert len(via_duckdb) == 120
    assert [r[:3] for r in via_duckdb] == [r[:3] for r in via_arrow]
    assert [r[3].replace(tzinfo=None) for r in via_duckdb] == [
        r[3].replace(tzinfo=None) for r in via_arrow
    ]
    # the snapshot's files are plain Parquet files: any reader can scan them
    assert sum(f.rows for f in snapshot.files) == 120
    assert all(Path(f.path).is_file() for f in snapshot.files)


def test_column_mapped_table_reads_through_the_arrow_fallback(tmp_path, engine):
    from deltalake import write_deltalake

    location = tmp_path / REF.namespace / REF.name
    write_deltalake(
        str(location),
        pa.table({"id": [1, 2, 3], "a name": ["x", "y", "z"]}),
        configuration={
            "delta.columnMapping.mode": "name",
            "delta.minReaderVersion": "2",
            "delta.minWriterVersion": "5",
        },
    )
    snapshot = DeltaStore(tmp_path).snapshot(REF)
    assert snapshot.needs_arrow_reader

    assert read(engine, snapshot) == [(1, "x"), (2, "y"), (3, "z")]
    assert read_arrow(snapshot) == [(1, "x"), (2, "y"), (3, "z")]


def test_list_tables_and_missing_tables(tmp_path, engine):
    store = DeltaStore(tmp_path)
    assert store.list_tables() == []
    assert not store.exists(REF) and store.current_version(REF) is None
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 1 as id", ref=TableRef("raw", "seed"))
    assert store.list_tables() == [REF, TableRef("raw", "seed")]
    assert store.exists(REF)
