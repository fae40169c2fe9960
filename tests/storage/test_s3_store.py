"""The Delta store on S3 (`warehouse: s3://bucket/prefix`), against a real S3 server (moto).

Every table feature of the local store, on S3: writes (overwrite, append, partitioned), merge,
time travel, history, restore, optimize, checkpoints (and a damaged one), vacuum (its dry run
is exactly what it deletes, a writer's uploaded but uncommitted files survive it), app
transactions, concurrent writers, and the errors of a bad location or bad credentials, none of
which shows a secret. Writes go the way a run makes them (DuckDB writes Parquet into the local
staging folder, the store uploads and commits); what lands is checked with independent readers:
delta-rs opening the table's URI itself, and the object keys boto3 lists in the bucket.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.engine.duckdb import DuckDBEngine
from headwater.errors import (
    CommitConflictError,
    ConfigError,
    StorageError,
    TableDamagedError,
    TableNotFoundError,
    TransientError,
)
from headwater.storage import delta_maintenance
from headwater.storage.base import CommitInfo, MergeClause, TableRef
from headwater.storage.companions import failed_ref
from headwater.storage.s3 import S3DeltaStore, S3Settings
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, S3Bucket

REF = TableRef("core", "events")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(s3_bucket: S3Bucket, tmp_path: Path) -> S3DeltaStore:
    return S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path / "stage")


@pytest.fixture
def engine(store: S3DeltaStore) -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine(object_store=store.object_store)
    yield engine
    engine.close()


def commit(
    store: S3DeltaStore,
    engine: DuckDBEngine,
    sql: str,
    mode: str = "append",
    run_id: str = "run",
    partition_by: list[str] | None = None,
    ref: TableRef = REF,
    **extra: Any,
) -> int:
    """Write `sql` as Parquet into the staging folder and commit it as a run does."""
    written = engine.session().write_parquet(sql, store.new_file_dir(ref, run_id), partition_by)
    return store.commit_files(
        ref,
        written.files,
        written.schema,
        mode,  # type: ignore[arg-type]
        CommitInfo(run_id=run_id, operation=mode, **extra),
        partition_by=partition_by,
    )


def options(bucket: S3Bucket) -> dict[str, str]:
    """delta-rs's storage options for the bucket, built here and not by the store."""
    env = bucket.environment()
    return {
        "AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": env["AWS_REGION"],
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
    }


def delta_rows(
    bucket: S3Bucket, ref: TableRef = REF, version: int | None = None
) -> list[tuple[Any, ...]]:
    """The table's rows read by delta-rs straight from S3, sorted."""
    table = DeltaTable(
        f"{bucket.warehouse}/{ref.namespace}/{ref.name}",
        version=version,
        storage_options=options(bucket),
    ).to_pyarrow_table()
    return sorted(tuple(r.values()) for r in table.to_pylist())


def data_keys(bucket: S3Bucket, ref: TableRef = REF) -> set[str]:
    """The table's data files in the bucket, relative to the table (the log left out)."""
    prefix = f"warehouse/{ref.namespace}/{ref.name}/"
    return {
        key[len(prefix) :]
        for key in bucket.server.keys(bucket.name, prefix)
        if "/_delta_log/" not in key
    }


def staged_files(store: S3DeltaStore) -> list[Path]:
    """Every file left in the store's local staging folder."""
    return [p for p in store.warehouse.rglob("*") if p.is_file()]


def read(engine: DuckDBEngine, store: S3DeltaStore, **at: Any) -> list[tuple[Any, ...]]:
    """Rows of a snapshot of REF through DuckDB, the way builds read it."""
    session = engine.session()
    session.register_table(REF, store.snapshot(REF, **at))
    table = session.query(f"SELECT * FROM {REF.namespace}.{REF.name}")
    return sorted(tuple(r.values()) for r in table.to_pylist())


# -- writes ------------------------------------------------------------------------------


def test_overwrite_append_and_partitions_land_on_s3_and_the_staging_folder_empties(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    sql = "select range as id, range % 3 as part, 'v' || range as v from range({lo}, {hi})"
    assert commit(store, engine, sql.format(lo=0, hi=30), "overwrite", partition_by=["part"]) == 0
    assert staged_files(store) == []
    assert commit(store, engine, sql.format(lo=30, hi=45), partition_by=["part"]) == 1
    assert commit(store, engine, sql.format(lo=100, hi=103), partition_by=["part"]) == 2

    expected = sorted((i, i % 3, f"v{i}") for i in [*range(45), *range(100, 103)])
    assert [(r[0], r[2], r[1]) for r in delta_rows(s3_bucket)] == [
        (i, v, p) for i, p, v in expected
    ]
    assert read(engine, store) == expected
    snapshot = store.snapshot(REF)
    assert snapshot.location == f"{s3_bucket.warehouse}/core/events"
    assert snapshot.partition_by == ("part",)
    assert {f.path for f in snapshot.files} == {
        f"{s3_bucket.warehouse}/core/events/{key}" for key in data_keys(s3_bucket)
    }
    assert all(f.relative_path.split("/")[1].startswith("part=") for f in snapshot.files)
    assert staged_files(store) == []
    # an overwrite replaces every file
    overwrite = "select 7 as id, 1 as part, 'x' as v"
    assert commit(store, engine, overwrite, "overwrite", partition_by=["part"]) == 3
    assert read(engine, store) == [(7, 1, "x")]
    assert store.list_tables() == [REF]


def test_a_column_added_by_an_append_reads_null_in_the_older_files(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 2 as id, 'new' as extra")
    assert read(engine, store) == [(1, None), (2, "new")]
    assert delta_rows(s3_bucket) == [(1, None), (2, "new")]


def test_merge_rows_updates_deletes_and_inserts_in_one_commit(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    commit(store, engine, "select range as id, 'old' as v from range(5)", "overwrite")
    changes = pa.table({"id": [1, 3, 9], "v": ["new", "gone", "added"]})
    version = store.merge_rows(
        REF,
        changes,
        ["id"],
        CommitInfo("merge-run", "merge", app_id="headwater:core.events", app_version=1),
        [
            MergeClause("source.v = 'gone'", None),
            MergeClause(None, {"v": "source.v"}),
        ],
    )
    assert version == 1
    expected = [(0, "old"), (1, "new"), (2, "old"), (4, "old"), (9, "added")]
    assert delta_rows(s3_bucket) == expected
    assert read(engine, store) == expected
    entry = store.history(REF, limit=1)[0]
    assert (entry.operation, entry.run_id, entry.rows_written) == ("MERGE", "merge-run", 3)
    # the same app transaction again is a retry: nothing is applied twice
    again = store.merge_rows(
        REF,
        changes,
        ["id"],
        CommitInfo("merge-run", "merge", app_id="headwater:core.events", app_version=1),
        [MergeClause(None, {"v": "'twice'"})],
    )
    assert again == 1 and store.current_version(REF) == 1


def test_refused_files_move_to_the_failed_table_and_commit_there(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    written = engine.session().write_parquet(
        "select range as id, range % 2 as part from range(6)",
        store.new_file_dir(REF, "refused"),
        ["part"],
    )
    target = failed_ref(REF)
    moved = store.move_files(REF, written.files, target)
    assert all(Path(f.path).is_relative_to(store.location(target)) for f in moved)
    store.commit_files(
        target, moved, written.schema, "overwrite", CommitInfo("refused", "failed"), ["part"]
    )
    assert not store.exists(REF)
    assert delta_rows(s3_bucket, target) == [(i, i % 2) for i in range(6)]
    assert staged_files(store) == []


def test_app_transactions_make_a_retried_commit_land_once(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    app = {"app_id": "headwater:core.events", "app_version": 7}
    assert commit(store, engine, "select 1 as id", run_id="r7", **app) == 0
    # the caller never heard: the retry writes its files again and commits nothing
    assert commit(store, engine, "select 1 as id", run_id="r7", **app) == 0
    assert staged_files(store) == []
    assert delta_rows(s3_bucket) == [(1,)]
    assert store.already_committed(REF, "headwater:core.events", 7)
    assert not store.already_committed(REF, "headwater:core.events", 8)
    assert store.app_version(REF, "headwater:core.events") == 7
    assert store.landed_version(REF, "headwater:core.events", 7, "r7") == 0
    assert store.landed_version(REF, "headwater:core.events", 8, "r8") is None


def test_two_writers_on_two_machines_never_both_commit_one_version(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    # two stores with staging folders of their own: two machines sharing the warehouse
    stores = [S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path / f"m{i}") for i in (1, 2)]
    engines = [DuckDBEngine(object_store=s.object_store) for s in stores]
    try:
        commit(stores[0], engines[0], "select -1 as id, 'seed' as writer", "overwrite")
        landed: list[tuple[int, int]] = []
        conflicts: list[str] = []
        start = threading.Barrier(2)

        def write(index: int) -> None:
            start.wait()
            for step in range(8):
                key = index * 100 + step
                try:
                    version = commit(
                        stores[index], engines[index], f"select {key} as id, 'w{index}' as writer"
                    )
                except CommitConflictError as exc:
                    conflicts.append(exc.message)
                else:
                    landed.append((version, key))

        threads = [threading.Thread(target=write, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads)

        assert len(landed) + len(conflicts) == 16 and landed
        versions = [v for v, _ in landed]
        assert len(set(versions)) == len(versions)  # no version committed twice
        assert stores[1].current_version(REF) == len(landed)
        assert sorted(r[0] for r in delta_rows(s3_bucket)) == sorted([-1, *(k for _, k in landed)])
        assert all("another writer committed first" in m for m in conflicts)
    finally:
        for engine in engines:
            engine.close()


WRITER = """
import sys
from pathlib import Path
from headwater.engine.duckdb import DuckDBEngine
from headwater.errors import CommitConflictError
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.s3 import S3DeltaStore

uri, scratch, index = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = S3DeltaStore.from_uri(uri, scratch)
engine = DuckDBEngine(object_store=store.object_store)
ref = TableRef("core", "events")
for step in range(5):
    key = index * 100 + step
    written = engine.session().write_parquet(f"select {key} as id", store.new_file_dir(ref, "p"))
    try:
        version = store.commit_files(
            ref, written.files, written.schema, "append", CommitInfo("p", "append")
        )
    except CommitConflictError:
        print("conflict", key, flush=True)
    else:
        print("landed", version, key, flush=True)
"""


def test_two_writer_processes_each_land_or_get_a_typed_conflict(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    commit(store, engine, "select -1 as id", "overwrite")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, **s3_bucket.environment(), "PYTHONPATH": str(REPO / "src")}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), s3_bucket.warehouse, str(tmp_path / f"p{i}"), str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (1, 2)
    ]
    outputs = [w.communicate(timeout=300) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err for _, err in outputs]
    lines = [line.split() for out, _ in outputs for line in out.splitlines()]
    landed = [(int(v), int(k)) for kind, v, k in (x for x in lines if x[0] == "landed")]
    assert len(lines) == 10 and landed
    assert len({v for v, _ in landed}) == len(landed)
    assert sorted(r[0] for r in delta_rows(s3_bucket)) == sorted([-1, *(k for _, k in landed)])


# -- time travel, history, restore ---------------------------------------------------------


def test_time_travel_by_version_and_timestamp_history_and_restore(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    commit(store, engine, "select 1 as id", "overwrite", run_id="r0")
    time.sleep(1.1)  # S3 keeps modification times to the second; the commit info to the ms
    between = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(1.1)
    commit(store, engine, "select range + 10 as id from range(3)", "overwrite", run_id="r1")

    assert read(engine, store) == [(10,), (11,), (12,)]
    assert read(engine, store, version=0) == [(1,)]
    assert store.snapshot(REF, as_of=between).version == 0
    assert read(engine, store, as_of=between) == [(1,)]
    with pytest.raises(TableNotFoundError):
        store.snapshot(REF, version=5)
    with pytest.raises(TableNotFoundError):
        store.snapshot(REF, as_of="2000-01-01T00:00:00Z")
    history = store.history(REF)
    assert [(h.version, h.run_id) for h in history] == [(1, "r1"), (0, "r0")]
    assert all(h.timestamp_ms for h in history)

    assert store.restore(REF, 0, CommitInfo("r-restore", "restore")) == 2
    assert delta_rows(s3_bucket) == [(1,)]
    entry = store.history(REF, limit=1)[0]
    assert (entry.version, entry.operation, entry.run_id) == (2, "RESTORE", "r-restore")
    with pytest.raises(StorageError, match="nothing to restore"):
        store.restore(REF, 2, CommitInfo("r", "restore"))


def test_version_token_changes_with_each_commit(store: S3DeltaStore, engine: DuckDBEngine) -> None:
    assert store.version_token(REF) is None and store.current_version(REF) is None
    commit(store, engine, "select 1 as id")
    first = store.version_token(REF)
    commit(store, engine, "select 2 as id")
    second = store.version_token(REF)
    assert first is not None and first.startswith("0:")
    assert second is not None and second.startswith("1:")
    assert store.snapshot(REF) is store.snapshot(REF)  # cached by its token


# -- maintenance -------------------------------------------------------------------------


@pytest.mark.parametrize("zorder", [None, ["v", "id"]])
def test_optimize_keeps_content_and_leaves_fewer_files(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket, zorder: list[str] | None
) -> None:
    for i in range(5):
        commit(store, engine, f"select range + {i * 100} as id, range % 7 as v from range(50)")
    before = delta_rows(s3_bucket)
    metrics = store.optimize(REF, CommitInfo("r-opt", "optimize"), zorder=zorder)
    assert metrics["numFilesRemoved"] == 5
    assert len(store.snapshot(REF).files) < 5
    assert delta_rows(s3_bucket) == before == read(engine, store)
    assert store.history(REF, limit=1)[0].run_id == "r-opt"


def test_checkpoint_is_written_to_s3_and_a_damaged_one_is_set_aside(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    for i in range(3):
        commit(store, engine, f"select {i} as id")
    store.checkpoint(REF)
    log = "warehouse/core/events/_delta_log/"
    checkpoint = f"{log}{2:020d}.checkpoint.parquet"
    assert {f"{log}_last_checkpoint", checkpoint} <= set(s3_bucket.server.keys(s3_bucket.name))

    client = s3_bucket.server.client()
    whole = client.get_object(Bucket=s3_bucket.name, Key=checkpoint)["Body"].read()
    client.put_object(Bucket=s3_bucket.name, Key=checkpoint, Body=whole[: len(whole) // 2])
    store._snapshots.clear()

    assert read(engine, store) == [(0,), (1,), (2,)]  # replayed from the JSON commits
    keys = set(s3_bucket.server.keys(s3_bucket.name))
    assert checkpoint + ".damaged" in keys and checkpoint not in keys


def test_a_log_that_cannot_be_replayed_names_the_damaged_file_on_s3(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 2 as id")
    key = f"warehouse/core/events/_delta_log/{1:020d}.json"
    s3_bucket.server.client().put_object(Bucket=s3_bucket.name, Key=key, Body=b"{not json\n")
    store._snapshots.clear()
    with pytest.raises(TableDamagedError) as raised:
        store.snapshot(REF)
    assert f"{s3_bucket.warehouse}/core/events/_delta_log/{1:020d}.json" in raised.value.message


def test_vacuum_dry_run_lists_exactly_what_a_real_vacuum_deletes(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    commit(store, engine, "select range as id from range(10)")
    commit(store, engine, "select range + 10 as id from range(10)")
    commit(store, engine, "select range as id from range(5)", mode="overwrite")
    # the removals are then read from the checkpoint's tombstones, on S3
    store.checkpoint(REF)
    current = {f.relative_path for f in store.snapshot(REF).files}
    before = data_keys(s3_bucket)

    listed = store.vacuum(REF, retain_hours=0, dry_run=True)
    assert data_keys(s3_bucket) == before  # a dry run deletes nothing
    assert listed and set(listed) == before - current
    deleted = store.vacuum(REF, retain_hours=0, dry_run=False)

    assert deleted == listed
    assert data_keys(s3_bucket) == current  # and no empty "folder" objects are left
    assert read(engine, store) == [(i,) for i in range(5)]
    assert store.vacuum(REF, retain_hours=0, dry_run=True) == []
    # the versions whose files are gone say so, and so does reading one
    history = store.history(REF, check_readable=True)
    assert [(h.version, h.readable) for h in history] == [(2, True), (1, False), (0, False)]
    with pytest.raises(TableNotFoundError, match=r"versions still readable: 2\n"):
        store.snapshot(REF, version=0)


def test_vacuum_keeps_recent_removals_within_retention(
    store: S3DeltaStore, engine: DuckDBEngine
) -> None:
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 2 as id", mode="overwrite")
    assert store.vacuum(REF, retain_hours=168, dry_run=False) == []
    assert read(engine, store, version=0) == [(1,)]


def test_vacuum_never_deletes_an_in_flight_writers_uploaded_files(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket
) -> None:
    commit(store, engine, "select 1 as id")
    commit(store, engine, "select 2 as id", mode="overwrite")
    # a concurrent writer: its files uploaded, its commit not made yet
    pending = engine.session().write_parquet(
        "select range + 100 as id from range(3)", store.new_file_dir(REF, "in-flight")
    )
    relative = [os.path.relpath(f.path, store.location(REF)) for f in pending.files]
    store.publish_staged(REF, list(zip([f.path for f in pending.files], relative, strict=True)))
    assert set(relative) <= data_keys(s3_bucket)

    listed = store.vacuum(REF, retain_hours=0, dry_run=True)
    deleted = store.vacuum(REF, retain_hours=0, dry_run=False)

    assert deleted == listed and len(deleted) == 1  # only the file version 1 removed
    assert set(relative) <= data_keys(s3_bucket)
    store.commit_files(REF, pending.files, pending.schema, "append", CommitInfo("w", "append"))
    assert read(engine, store) == [(2,), (100,), (101,), (102,)]


def test_vacuum_deletes_files_of_a_killed_write_after_the_grace_period(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(store, engine, "select 1 as id")
    # killed between upload and commit: files on S3 no version names, and local copies
    orphan = engine.session().write_parquet("select 9 as id", store.new_file_dir(REF, "killed"))
    relative = [os.path.relpath(f.path, store.location(REF)) for f in orphan.files]
    store.publish_staged(REF, list(zip([f.path for f in orphan.files], relative, strict=True)))
    assert read(engine, store) == [(1,)]  # the table is still at its old version
    assert store.vacuum(REF, retain_hours=0, dry_run=True) == []  # young: maybe in flight

    # the grace period has passed (S3 sets modification times itself: move the clock)
    later = time.time() + delta_maintenance.IN_FLIGHT_GRACE_SECONDS + 60
    monkeypatch.setattr(delta_maintenance.time, "time", lambda: later)
    listed = store.vacuum(REF, retain_hours=0, dry_run=True)
    assert listed == sorted(relative)
    assert store.vacuum(REF, retain_hours=0, dry_run=False) == listed
    assert not set(relative) & data_keys(s3_bucket)
    assert staged_files(store) == []  # the killed write's local copies went too
    assert read(engine, store) == [(1,)]


# -- bad locations and credentials ---------------------------------------------------------


def test_a_location_without_a_bucket_or_credentials_is_a_config_error(
    tmp_path: Path, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="names no bucket") as raised:
        S3DeltaStore.from_uri("s3:///warehouse", tmp_path)
    assert "s3://my-bucket/warehouse" in (raised.value.hint or "")
    with pytest.raises(ConfigError, match="not a valid S3 bucket name"):
        S3DeltaStore.from_uri("s3://No_Such/warehouse", tmp_path)

    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError) as raised:
        S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path)
    assert "AWS_SECRET_ACCESS_KEY is not set" in raised.value.message
    assert s3_bucket.warehouse in raised.value.message
    assert "AWS_ACCESS_KEY_ID" in (raised.value.hint or "")

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    with pytest.raises(ConfigError, match="AWS_ALLOW_HTTP=true"):
        S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path)


def test_a_missing_bucket_or_an_unreachable_endpoint_is_a_storage_error(
    tmp_path: Path, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StorageError, match="does not exist") as raised:
        S3DeltaStore.from_uri("s3://no-such-bucket-here/warehouse", tmp_path)
    assert "no-such-bucket-here" in raised.value.message
    assert "create the bucket" in (raised.value.hint or "")

    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError, match="could not be reached") as unreachable:
        S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path)
    assert f"http://127.0.0.1:{port}" in unreachable.value.message
    assert "AWS_ENDPOINT_URL" in (unreachable.value.hint or "")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # the port of the endpoint once held "403" and a refused connection read as refused
        # credentials: a network failure wins, a status is a whole number
        (
            "When getting information for bucket 'b': AWS Error NETWORK_CONNECTION during "
            "HeadBucket operation: curlCode: 7, Couldn't connect to server (127.0.0.1:40312)",
            TransientError,
        ),
        ("Generic S3 error: connection refused http://127.0.0.1:54031/b", TransientError),
        ("AWS Error ACCESS_DENIED during HeadBucket operation: 403 Forbidden", StorageError),
        ("Error: InvalidAccessKeyId: the key does not exist", StorageError),
        ("HeadBucket failed with HTTP status 403", StorageError),
    ],
)
def test_a_request_failure_is_classified_by_its_cause_not_by_digits_in_the_endpoint(
    store: S3DeltaStore, message: str, expected: type[Exception]
) -> None:
    error = store.access_error(OSError(message))
    assert type(error) is expected, error.message


def test_a_server_lost_after_opening_is_a_transient_error_not_an_internal_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.s3 import start_s3_server

    server = start_s3_server()  # a server of its own: the test stops it
    try:
        for key, value in server.environment().items():
            monkeypatch.setenv(key, value)
        store = S3DeltaStore.from_uri(f"s3://{server.create_bucket()}/warehouse", tmp_path)
        ref = TableRef("raw", "t")
        import deltalake
        import pyarrow as pa

        deltalake.write_deltalake(
            store.table_uri(ref),
            pa.table({"a": [1]}),
            storage_options=store.settings.storage_options(),
        )
        assert store.current_version(ref) == 0
    finally:
        server.stop()
    with pytest.raises(TransientError, match="could not be reached"):
        store.snapshot(ref)
    with pytest.raises(TransientError, match="could not be reached"):
        store.history(ref)


def test_no_secret_shows_in_reprs_errors_or_history(
    store: S3DeltaStore, engine: DuckDBEngine, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(store, engine, "select 1 as id")
    shown = [
        repr(store),
        str(store.__dict__.get("settings")),
        repr(store.object_store),
        repr(store.object_store.fsspec_filesystem()),
        repr(S3Settings.from_environment(s3_bucket.warehouse)),
        repr(store.history(REF)),
        repr(store.snapshot(REF)),
    ]
    canary = "secret-canary-0123456789"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", canary)
    with pytest.raises(StorageError) as raised:
        S3DeltaStore.from_uri("s3://no-such-bucket-here/warehouse", Path("unused"))
    shown.append(str(raised.value))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    with pytest.raises(TransientError) as unreachable:
        S3DeltaStore.from_uri(s3_bucket.warehouse, Path("unused"))
    shown.append(str(unreachable.value))
    for text in shown:
        assert SECRET_KEY not in text and canary not in text, text
    assert ACCESS_KEY not in repr(store)
