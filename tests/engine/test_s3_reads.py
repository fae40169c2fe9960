"""DuckDB reading tables on S3 (no `httpfs`): snapshots as pyarrow datasets, files by path.

A DuckDB engine built for a warehouse on object storage (`EnginePlace.object_store`) registers
an fsspec filesystem, so `read_parquet('s3://...')` (what merges and partition builds scan)
works; a snapshot on S3 is registered as a pyarrow dataset over pyarrow's S3 filesystem, the
faster route (bench/s3_reads), shared by every worker thread's session. Each read is compared
with delta-rs reading the same table from S3 itself.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater.engine.duckdb import DuckDBEngine, DuckDBSession
from headwater.engine.registry import EnginePlace, create_engine
from headwater.project.config import EngineConfig
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.s3 import S3DeltaStore
from tests.support.s3 import S3Bucket

REF = TableRef("core", "events")
ROWS_SQL = (
    "select range as id, case when range % 4 = 3 then null else range % 4 end as part, "
    "date '2026-01-01' + (range % 3)::integer as day, "
    "timestamptz '2026-01-01 00:00:00+00' + to_seconds(range) as ts, 'v' || range as v "
    "from range({lo}, {hi})"
)


@pytest.fixture
def store(s3_bucket: S3Bucket, tmp_path: Path) -> S3DeltaStore:
    return S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path / "stage")


@pytest.fixture
def engine(store: S3DeltaStore, tmp_path: Path) -> Iterator[DuckDBEngine]:
    built = create_engine(EngineConfig(), EnginePlace(tmp_path, None, store.object_store))
    assert isinstance(built, DuckDBEngine)
    yield built
    built.close()


def write(
    store: S3DeltaStore, engine: DuckDBEngine, sql: str, partition_by: list[str] | None = None
) -> int:
    written = engine.session().write_parquet(sql, store.new_file_dir(REF, "run"), partition_by)
    return store.commit_files(
        REF,
        written.files,
        written.schema,
        "append",
        CommitInfo("run", "append"),
        partition_by=partition_by,
    )


def by_delta_rs(bucket: S3Bucket) -> list[tuple[Any, ...]]:
    """The table's rows as delta-rs reads them from S3 (columns id, part, day, ts, v)."""
    env = bucket.environment()
    table = DeltaTable(
        f"{bucket.warehouse}/core/events",
        storage_options={
            "AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"],
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": env["AWS_REGION"],
            "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
        },
    ).to_pyarrow_table()
    return sorted(tuple(r[c] for c in ("id", "part", "day", "ts", "v")) for r in table.to_pylist())


def rows(session: DuckDBSession, sql: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in session.query(sql).to_pylist())


@pytest.mark.parametrize("partition_by", [None, ["part"], ["day"]])
def test_a_snapshot_on_s3_reads_as_delta_rs_reads_it(
    store: S3DeltaStore,
    engine: DuckDBEngine,
    s3_bucket: S3Bucket,
    partition_by: list[str] | None,
) -> None:
    write(store, engine, ROWS_SQL.format(lo=0, hi=40), partition_by)
    write(store, engine, ROWS_SQL.format(lo=40, hi=90), partition_by)
    snapshot = store.snapshot(REF)
    assert snapshot.on_object_store and not snapshot.needs_arrow_reader
    session = engine.session()
    session.register_table(REF, snapshot)

    read = rows(session, "select id, part, day, ts, v from core.events")
    assert len(read) == 90
    assert read == by_delta_rs(s3_bucket)
    assert read[3][1] is None and read[5] == (
        5,
        1,
        dt.date(2026, 1, 3),
        dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=dt.UTC),
        "v5",
    )
    # the types a build sees are the table's, partition columns included
    types = dict(session.column_types(REF))
    assert types == {
        "id": "BIGINT",
        "part": "BIGINT",
        "day": "DATE",
        "ts": "TIMESTAMP WITH TIME ZONE",
        "v": "VARCHAR",
    }
    # filters and aggregates go through the dataset (pushed into pyarrow's scanner)
    assert rows(session, "select count(*), sum(id) from core.events where part = 2") == [
        (22, sum(i for i in range(90) if i % 4 == 2))
    ]
    assert rows(session, "select v from core.events where id = 77") == [("v77",)]
    view = (
        session.query(
            "select sql from duckdb_views() where schema_name = 'core' and view_name = 'events'"
        )
        .column("sql")[0]
        .as_py()
    )
    assert "__hw_arrow_core_events_1" in view


def test_files_on_s3_scan_by_path_through_the_registered_filesystem(
    store: S3DeltaStore, engine: DuckDBEngine
) -> None:
    write(store, engine, ROWS_SQL.format(lo=0, hi=20), ["part"])
    files = store.snapshot(REF).files
    assert all(f.path.startswith("s3://") for f in files)
    session = engine.session()
    scan = session.scan_parquet([f.path for f in files], hive_partitioning=True, filename=True)
    counted = rows(session, f"select filename, count(*), min(part) from {scan} group by filename")
    by_path = {f.path: f for f in files}
    assert {name for name, _, _ in counted} == set(by_path)
    for name, count, part in counted:
        assert count == by_path[name].rows
        value = by_path[name].partition_values["part"]
        assert part == (None if value is None else int(value))


def test_a_table_registered_by_one_thread_reads_in_every_threads_session(
    store: S3DeltaStore, engine: DuckDBEngine
) -> None:
    write(store, engine, "select range as id from range(10)")
    engine.session().register_table(REF, store.snapshot(REF))
    seen: dict[str, Any] = {}

    def other_thread(label: str) -> None:
        try:
            seen[label] = rows(engine.session(), "select count(*), sum(id) from core.events")
        except Exception as exc:  # reported below, with the thread's label
            seen[label] = exc

    worker = threading.Thread(target=other_thread, args=("first",))
    worker.start()
    worker.join(timeout=120)
    assert seen["first"] == [(10, 45)]

    # a newer version registered by this thread replaces the dataset in every session
    write(store, engine, "select 100 as id")
    engine.session().register_table(REF, store.snapshot(REF))
    worker = threading.Thread(target=other_thread, args=("second",))
    worker.start()
    worker.join(timeout=120)
    assert seen["second"] == [(11, 145)]
    generation, shared = engine.shared_datasets()
    assert list(shared) == ["__hw_arrow_core_events_1"] and generation == 2


def test_an_empty_table_on_s3_reads_as_no_rows_with_its_columns(
    store: S3DeltaStore, engine: DuckDBEngine
) -> None:
    write(store, engine, "select 1 as id, 'a' as v where false")
    session = engine.session()
    session.register_table(REF, store.snapshot(REF))
    assert rows(session, "select * from core.events") == []
    assert dict(session.column_types(REF)) == {"id": "INTEGER", "v": "VARCHAR"}
