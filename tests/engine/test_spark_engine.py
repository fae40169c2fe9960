"""The Spark engine on a real local Spark: reading Delta snapshots (partition values typed from
the log), scanning Parquet files, writing results with the types DuckDB would give them,
cancelling a thread's jobs, and its errors. One Spark runs for the whole test session
(`tests/support/spark.py`); each test gets an engine of its own on it."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.engine.registry import EnginePlace, create_engine
from headwater.engine.spark import SparkEngine
from headwater.engine.spark_sql import unsupported
from headwater.errors import ConfigError, ModelError
from headwater.project.config import EngineConfig
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.delta import DeltaStore
from headwater.storage.registry import open_store
from tests.support.s3 import SECRET_KEY, S3Bucket

EVENTS = TableRef("core", "events")
DEADLINE_S = 120.0


def commit(store: DeltaStore, ref: TableRef, table: pa.Table, partition_by: list[str]) -> None:
    """Write `table` as a Delta table `ref` through DuckDB and storage (as a build would)."""
    duck = DuckDBEngine(threads=1)
    try:
        session = duck.session()
        session.register_arrow("incoming", table)
        written = session.write_parquet(
            "SELECT * FROM incoming", store.new_file_dir(ref, "t"), partition_by
        )
        store.commit_files(
            ref, written.files, written.schema, "overwrite", CommitInfo("t", "test"), partition_by
        )
    finally:
        duck.close()


@pytest.fixture
def store(tmp_path: Path) -> DeltaStore:
    return DeltaStore(tmp_path / "warehouse")


@pytest.fixture
def events(store: DeltaStore) -> TableRef:
    """A table partitioned by `day` (a date, one partition NULL) with a naive timestamp and a
    decimal among its columns."""
    table = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "day": pa.array(
                [dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 1, 2), None], pa.date32()
            ),
            "seen": pa.array(
                [dt.datetime(2024, 1, 1, 10, 30), None, dt.datetime(2024, 1, 2, 8), None],
                pa.timestamp("us"),
            ),
            "amount": pa.array(
                [decimal.Decimal("1.50"), decimal.Decimal("2.25"), None, decimal.Decimal("0.05")],
                pa.decimal128(10, 2),
            ),
            "name": ["a", "b c", None, "d"],
        }
    )
    commit(store, EVENTS, table, ["day"])
    return EVENTS


def rows(engine: SparkEngine, sql: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = engine.session().query(sql).to_pylist()
    return result


# -- reading -----------------------------------------------------------------------------------


def test_a_snapshot_reads_with_its_columns_types_and_partition_values(
    spark_engine: SparkEngine, store: DeltaStore, events: TableRef
) -> None:
    snapshot = store.snapshot(events)
    session = spark_engine.session()
    session.register_table(events, snapshot)
    table = session.query("SELECT * FROM core.events ORDER BY id")
    assert table.schema.names == snapshot.schema.names
    assert table.schema.field("seen").type == pa.timestamp("us")  # naive, as Delta keeps it
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("amount").type == pa.decimal128(10, 2)
    assert table.to_pylist() == [
        {
            "id": 1,
            "day": dt.date(2024, 1, 1),
            "seen": dt.datetime(2024, 1, 1, 10, 30),
            "amount": decimal.Decimal("1.50"),
            "name": "a",
        },
        {
            "id": 2,
            "day": dt.date(2024, 1, 1),
            "seen": None,
            "amount": decimal.Decimal("2.25"),
            "name": "b c",
        },
        {
            "id": 3,
            "day": dt.date(2024, 1, 2),
            "seen": dt.datetime(2024, 1, 2, 8),
            "amount": None,
            "name": None,
        },
        {"id": 4, "day": None, "seen": None, "amount": decimal.Decimal("0.05"), "name": "d"},
    ]
    # a filter on the partition column reads only that partition's files
    assert rows(spark_engine, "SELECT count(*) AS n FROM core.events WHERE day IS NULL") == [
        {"n": 1}
    ]


def test_an_empty_table_reads_as_no_rows_of_its_schema(
    spark_engine: SparkEngine, store: DeltaStore
) -> None:
    ref = TableRef("core", "empty")
    commit(
        store,
        ref,
        pa.table({"id": pa.array([], pa.int32()), "seen": pa.array([], pa.timestamp("us"))}),
        [],
    )
    session = spark_engine.session()
    session.register_table(ref, store.snapshot(ref))
    table = session.query("SELECT * FROM core.empty")
    assert table.num_rows == 0
    assert table.schema == pa.schema([("id", pa.int32()), ("seen", pa.timestamp("us"))])


def test_a_view_reads_the_tables_registered_after_it(
    spark_engine: SparkEngine, store: DeltaStore, events: TableRef
) -> None:
    session = spark_engine.session()
    session.register_table(events, store.snapshot(events))
    session.register_view(TableRef("core", "big"), "SELECT id FROM core.events WHERE id > 1")
    assert rows(spark_engine, "SELECT count(*) AS n FROM core.big") == [{"n": 3}]
    commit(
        store,
        events,
        pa.table({"id": pa.array([5, 6], pa.int64()), "day": pa.array([None, None], pa.date32())}),
        ["day"],
    )
    session.register_table(events, store.snapshot(events))
    # as in DuckDB, the view is bound again when read: it sees the table's new version
    assert rows(spark_engine, "SELECT id FROM core.big ORDER BY id") == [{"id": 5}, {"id": 6}]
    assert session.column_types(TableRef("core", "big")) == [("id", "BIGINT")]


def parquet(path: Path, columns: dict[str, Any]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return str(path)


def test_scan_parquet_reads_partition_folders_file_names_and_odd_paths(
    spark_engine: SparkEngine, tmp_path: Path
) -> None:
    files = [
        parquet(tmp_path / "t" / "day=1" / "region=eu" / "a b+[1].parquet", {"id": [1, 2]}),
        parquet(tmp_path / "t" / "day=2" / "region=%25us" / "it's {x}.parquet", {"id": [3]}),
        parquet(
            tmp_path / "t" / "day=2" / "region=__HIVE_DEFAULT_PARTITION__" / "ü.parquet",
            {"id": [4]},
        ),
    ]
    session = spark_engine.session()
    scan = session.scan_parquet(files, hive_partitioning=True, filename=True)
    assert scan == session.scan_parquet(files, hive_partitioning=True, filename=True)
    found = session.query(f"SELECT * FROM {scan} ORDER BY id")
    assert found.schema.field("day").type == pa.int64()
    assert found.to_pylist() == [
        {"id": 1, "day": 1, "region": "eu", "filename": files[0]},
        {"id": 2, "day": 1, "region": "eu", "filename": files[0]},
        {"id": 3, "day": 2, "region": "%us", "filename": files[1]},
        {"id": 4, "day": 2, "region": None, "filename": files[2]},
    ]
    typed = session.scan_parquet(
        files, hive_partitioning=True, partition_types=pa.schema([("day", pa.string())])
    )
    assert session.query(f"SELECT DISTINCT day FROM {typed} ORDER BY day").column(
        "day"
    ).to_pylist() == ["1", "2"]
    plain = session.scan_parquet(files, hive_partitioning=False)
    assert session.schema(f"SELECT * FROM {plain}").names == ["id"]
    with pytest.raises(ValueError, match="hive_partitioning"):
        session.scan_parquet(files, partition_types=pa.schema([("day", pa.string())]))


def test_scan_parquet_matches_columns_by_name(spark_engine: SparkEngine, tmp_path: Path) -> None:
    before = parquet(tmp_path / "before.parquet", {"id": [1], "name": ["a"]})
    after = parquet(tmp_path / "after.parquet", {"email": ["b@x"], "name": ["b"], "id": [2]})
    session = spark_engine.session()
    scan = session.scan_parquet([before, after])
    assert rows(spark_engine, f"SELECT id, name, email FROM {scan} ORDER BY id") == [
        {"id": 1, "name": "a", "email": None},
        {"id": 2, "name": "b", "email": "b@x"},
    ]


def test_a_relative_path_is_read_from_the_project_folder(
    spark_engine: SparkEngine, tmp_path: Path
) -> None:
    parquet(tmp_path / "data" / "x.parquet", {"id": [7]})
    session = spark_engine.session()
    assert rows(spark_engine, f"SELECT * FROM {session.scan_parquet(['data/x.parquet'])}") == [
        {"id": 7}
    ]


# -- writing -----------------------------------------------------------------------------------

TYPED = """
    SELECT day, count(*) AS n, sum(amount) AS total, avg(amount) AS mean,
           sum(id) AS ids, max(seen) AS last_at, CAST(min(seen) AS TIMESTAMPTZ) AS first_at,
           row_number() OVER (ORDER BY day) AS rank, 1 AS one
    FROM core.events GROUP BY day
"""


def test_results_are_written_with_the_types_duckdb_gives_them(
    spark_engine: SparkEngine, store: DeltaStore, events: TableRef, tmp_path: Path
) -> None:
    snapshot = store.snapshot(events)
    duck = DuckDBEngine(threads=1)
    try:
        duck.session().register_table(events, snapshot)
        expected = duck.session().schema(TYPED)
    finally:
        duck.close()
    session = spark_engine.session()
    session.register_table(events, snapshot)
    assert session.schema(TYPED) == expected
    written = session.write_parquet(TYPED, tmp_path / "out", partition_by=["day"])
    assert written.schema == expected
    assert written.rows == 3
    by_day = {f.partition_values["day"]: f for f in written.files}
    assert set(by_day) == {"2024-01-01", "2024-01-02", None}
    # only the data files are left: no _SUCCESS marker, no checksum files
    left = sorted(
        os.path.relpath(os.path.join(d, n), tmp_path / "out")
        for d, _, ns in os.walk(tmp_path / "out")
        for n in ns
    )
    assert left == sorted(os.path.relpath(f.path, tmp_path / "out") for f in written.files)
    stored = pq.read_table(by_day["2024-01-01"].path)
    assert stored.schema.field("last_at").type == pa.timestamp("us")
    assert stored.schema.field("total").type == pa.decimal128(38, 2)
    assert stored.to_pylist()[0]["total"] == decimal.Decimal("3.75")
    # storage commits the files; DuckDB reads the table Spark wrote
    out = TableRef("core", "typed")
    location = store.new_file_dir(out, "t")
    moved = session.write_parquet(TYPED, location, partition_by=["day"])
    store.commit_files(out, moved.files, moved.schema, "overwrite", CommitInfo("t", "t"), ["day"])
    duck = DuckDBEngine(threads=1)
    try:
        duck.session().register_table(out, store.snapshot(out))
        assert duck.session().query(
            "SELECT day, n, ids FROM core.typed ORDER BY day NULLS LAST"
        ).to_pylist() == [
            {"day": dt.date(2024, 1, 1), "n": 2, "ids": 3},
            {"day": dt.date(2024, 1, 2), "n": 1, "ids": 3},
            {"day": None, "n": 1, "ids": 4},
        ]
    finally:
        duck.close()


def test_conform_to_casts_to_a_tables_types(spark_engine: SparkEngine, tmp_path: Path) -> None:
    session = spark_engine.session()
    target = pa.schema([("id", pa.int32()), ("seen", pa.timestamp("us", tz="UTC"))])
    written = session.write_parquet(
        "SELECT 7 AS id, CAST('2024-05-01 12:00:00' AS TIMESTAMP) AS seen, 'x' AS extra",
        tmp_path / "out",
        conform_to=target,
    )
    assert written.schema == pa.schema(
        [("id", pa.int32()), ("seen", pa.timestamp("us", tz="UTC")), ("extra", pa.string())]
    )
    assert pq.read_table(written.files[0].path).to_pylist() == [
        {"id": 7, "seen": dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), "extra": "x"}
    ]


def test_an_empty_result_writes_no_files(spark_engine: SparkEngine, tmp_path: Path) -> None:
    written = spark_engine.session().write_parquet(
        "SELECT 1 AS id WHERE 1 = 0", tmp_path / "out", partition_by=None
    )
    assert (written.files, written.rows) == ([], 0)
    assert written.schema == pa.schema([("id", pa.int32())])
    assert not (tmp_path / "out").exists()


def test_duplicate_and_missing_partition_columns_are_model_errors(
    spark_engine: SparkEngine, tmp_path: Path
) -> None:
    session = spark_engine.session()
    with pytest.raises(ModelError, match="duplicate column names"):
        session.write_parquet("SELECT 1 AS a, 2 AS A", tmp_path / "a")
    with pytest.raises(ModelError, match="partition column day is not in the model's output"):
        session.write_parquet("SELECT 1 AS a", tmp_path / "b", partition_by=["day"])


def test_register_arrow_and_parameters(spark_engine: SparkEngine) -> None:
    session = spark_engine.session()
    session.register_arrow(
        "changes",
        pa.table(
            {
                "k": pa.array(["a", "b"], pa.string_view()),
                "seen": pa.array([1, 2], pa.timestamp("ns")),
            }
        ),
    )
    found = session.query("SELECT k, seen FROM changes WHERE k = ?", ["b"])
    assert found.to_pylist() == [{"k": "b", "seen": dt.datetime(1970, 1, 1)}]
    assert found.schema.field("seen").type == pa.timestamp("us")


def test_sql_types_and_statement_kinds(spark_engine: SparkEngine) -> None:
    session = spark_engine.session()
    schema = pa.schema(
        [
            ("a", pa.int64()),
            ("b", pa.string()),
            ("c", pa.decimal128(10, 2)),
            ("d", pa.timestamp("us")),
        ]
    )
    assert session.sql_types(schema) == {
        "a": "BIGINT",
        "b": "STRING",
        "c": "DECIMAL(10,2)",
        "d": "TIMESTAMP_NTZ",
    }
    assert session.statement_kinds("SELECT 1; INSERT INTO t VALUES (1)") == ["SELECT", "INSERT"]
    assert spark_engine.capabilities.dialect == "spark"
    assert spark_engine.capabilities.views and spark_engine.capabilities.writes_parquet


# -- errors and cancelling -------------------------------------------------------------------


def test_spark_errors_are_engine_errors_naming_the_model_and_table(
    spark_engine: SparkEngine, store: DeltaStore, events: TableRef
) -> None:
    session = spark_engine.session()
    session.register_table(events, store.snapshot(events))
    with pytest.raises(Exception) as caught:
        session.query("SELECT nope FROM core.events")
    assert spark_engine.is_engine_error(caught.value)
    error = spark_engine.model_error(caught.value, "marts.daily", "models/marts/daily.sql")
    assert str(error).startswith(
        "models/marts/daily.sql, asset marts.daily: model marts.daily failed on Spark:"
    )
    assert "nope" in str(error)
    assert "\n  hint:" in str(error)
    assert not spark_engine.is_engine_error(ValueError("ours"))


def test_a_duckdb_only_function_is_named_with_the_model(spark_engine: SparkEngine) -> None:
    error = spark_engine.model_error(
        unsupported("list_zip"), "marts.daily", "models/marts/daily.sql"
    )
    assert spark_engine.is_engine_error(unsupported("list_zip"))
    assert str(error).startswith(
        "models/marts/daily.sql, asset marts.daily: model marts.daily uses the DuckDB function "
        "list_zip(), which Spark has no equivalent of"
    )


def test_interrupt_cancels_only_its_own_threads_jobs(spark_engine: SparkEngine) -> None:
    spark_engine.session().register_arrow("numbers", pa.table({"x": list(range(100_000))}))
    # ten billion pairs: far longer than the test waits
    slow = "SELECT count(*) AS n FROM numbers AS a, numbers AS b WHERE (a.x * b.x) % 7 = 3"
    failures: list[BaseException] = []
    started = threading.Event()

    def run() -> None:
        session = spark_engine.session()
        started.set()
        try:
            session.query(slow)
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    started.wait(DEADLINE_S)
    sessions = [s for s in spark_engine._sessions if s is not spark_engine.session()]
    deadline = time.monotonic() + DEADLINE_S
    # interrupting before the job started would cancel nothing: keep at it until it fails
    while worker.is_alive() and time.monotonic() < deadline:
        for session in sessions:
            session.interrupt()
        worker.join(0.5)
    assert not worker.is_alive()
    assert failures and spark_engine.is_engine_error(failures[0])
    # this thread's session was not interrupted
    assert rows(spark_engine, "SELECT 1 AS x") == [{"x": 1}]


def test_a_warehouse_on_s3_needs_the_s3a_connector(
    spark_session: Any, tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    store = open_store(s3_bucket.warehouse, tmp_path / "stage")
    assert store.object_store is not None
    with pytest.raises(ConfigError) as caught:
        create_engine(EngineConfig(type="spark"), EnginePlace(tmp_path, None, store.object_store))
    message = str(caught.value)
    assert "org.apache.hadoop.fs.s3a.S3AFileSystem" in message
    assert "org.apache.hadoop:hadoop-aws:" in message
    assert SECRET_KEY not in message


def test_a_second_master_in_one_process_is_refused(spark_session: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already runs Spark with master local"):
        create_engine(
            EngineConfig(type="spark", master="spark://elsewhere:7077"), EnginePlace(tmp_path)
        )


def test_settings_reach_the_engines_session(
    spark_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HW_TEST_PARTITIONS", "3")
    engine = create_engine(
        EngineConfig(
            type="spark", settings={"spark.sql.shuffle.partitions": "${HW_TEST_PARTITIONS}"}
        ),
        EnginePlace(tmp_path),
    )
    try:
        assert isinstance(engine, SparkEngine)
        assert engine.spark.conf.get("spark.sql.shuffle.partitions") == "3"
        assert engine.spark.conf.get("spark.sql.session.timeZone") == "UTC"
        # the process's Spark keeps its own settings
        assert spark_session.conf.get("spark.sql.shuffle.partitions") == "2"
    finally:
        engine.close()
    # closing an engine on a Spark it did not start leaves that Spark running
    assert spark_session.range(3).count() == 3
    monkeypatch.delenv("HW_TEST_PARTITIONS")
    with pytest.raises(ConfigError, match="HW_TEST_PARTITIONS"):
        create_engine(
            EngineConfig(type="spark", settings={"spark.x": "${HW_TEST_PARTITIONS}"}),
            EnginePlace(tmp_path),
        )


def test_columns_of_a_using_join_are_written_under_their_own_names(
    spark_engine: SparkEngine, store: DeltaStore, tmp_path: Path
) -> None:
    # DuckDB and Spark order `*` over a USING join differently (DuckDB: a, id, b, c; Spark:
    # id, a, b, c): values must follow their names, never the position
    left, right = TableRef("core", "left_side"), TableRef("core", "right_side")
    commit(store, left, pa.table({"a": [1], "id": [2], "b": [3]}), [])
    commit(store, right, pa.table({"id": [2], "c": [4]}), [])
    session = spark_engine.session()
    session.register_table(left, store.snapshot(left))
    session.register_table(right, store.snapshot(right))
    written = session.write_parquet(
        "SELECT * FROM core.left_side JOIN core.right_side USING (id)", tmp_path / "joined"
    )
    rows = pa.concat_tables(pq.read_table(f.path) for f in written.files).to_pylist()
    assert rows == [{"a": 1, "id": 2, "b": 3, "c": 4}]
    assert written.schema.names == ["a", "id", "b", "c"]
