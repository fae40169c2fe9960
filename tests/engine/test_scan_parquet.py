"""`EngineSession.scan_parquet` over real Parquet files: hive partition folders read as
columns (typed when asked), files with different columns matched by name, the file of each row,
and paths quoted however they are spelt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.engine.base import EngineSession
from headwater.engine.registry import EnginePlace, create_engine
from headwater.project.config import EngineConfig


@pytest.fixture
def session(tmp_path: Path) -> Iterator[EngineSession]:
    engine = create_engine(EngineConfig(threads=1), EnginePlace(tmp_path))
    yield engine.session()
    engine.close()


def write(path: Path, columns: dict[str, list[Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return str(path)


def read(session: EngineSession, scan: str, order: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = session.query(f"SELECT * FROM {scan} ORDER BY {order}").to_pylist()
    return rows


@pytest.fixture
def partitioned(tmp_path: Path) -> list[str]:
    """Two files of a table partitioned by `day` (an integer) and `region`."""
    return [
        write(tmp_path / "t" / "day=1" / "region=eu" / "a.parquet", {"id": [1, 2]}),
        write(tmp_path / "t" / "day=2" / "region=us" / "b.parquet", {"id": [3]}),
    ]


def test_hive_partition_folders_become_columns(
    session: EngineSession, partitioned: list[str]
) -> None:
    scan = session.scan_parquet(partitioned, hive_partitioning=True)
    assert [(r["id"], r["region"]) for r in read(session, scan, "id")] == [
        (1, "eu"),
        (2, "eu"),
        (3, "us"),
    ]


def test_partition_types_type_the_partition_columns(
    session: EngineSession, partitioned: list[str]
) -> None:
    types = pa.schema([("day", pa.string()), ("region", pa.string())])
    scan = session.scan_parquet(partitioned, hive_partitioning=True, partition_types=types)
    table = session.query(f"SELECT * FROM {scan} ORDER BY id")
    # without the types DuckDB would read day=1 as a number
    assert table.schema.field("day").type == pa.string()
    assert table.column("day").to_pylist() == ["1", "1", "2"]


def test_partition_types_need_hive_partitioning(
    session: EngineSession, partitioned: list[str]
) -> None:
    with pytest.raises(ValueError, match="hive_partitioning"):
        session.scan_parquet(partitioned, partition_types=pa.schema([("day", pa.string())]))


def test_without_hive_partitioning_folders_are_not_columns(
    session: EngineSession, partitioned: list[str]
) -> None:
    scan = session.scan_parquet(partitioned, hive_partitioning=False)
    assert read(session, scan, "id") == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_the_engine_default_detects_partition_folders(
    session: EngineSession, partitioned: list[str]
) -> None:
    # hive_partitioning=None leaves it to DuckDB, which reads key=value folders as columns
    scan = session.scan_parquet(partitioned)
    assert {"day", "region"} <= set(session.schema(f"SELECT * FROM {scan}").names)


def test_union_by_name_matches_columns_by_name(session: EngineSession, tmp_path: Path) -> None:
    before = write(tmp_path / "before.parquet", {"id": [1], "name": ["a"]})
    # written after a column was added, with the columns in another order
    after = write(tmp_path / "after.parquet", {"email": ["b@x"], "name": ["b"], "id": [2]})
    scan = session.scan_parquet([before, after])
    assert read(session, scan, "id") == [
        {"id": 1, "name": "a", "email": None},
        {"id": 2, "name": "b", "email": "b@x"},
    ]


def test_without_union_by_name_files_must_agree(session: EngineSession, tmp_path: Path) -> None:
    first = write(tmp_path / "first.parquet", {"id": [1], "name": ["a"]})
    second = write(tmp_path / "second.parquet", {"id": [2], "name": ["b"]})
    scan = session.scan_parquet([first, second], union_by_name=False)
    assert read(session, scan, "id") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    odd = write(tmp_path / "odd.parquet", {"id": [3], "email": ["c@x"]})
    with pytest.raises(Exception, match="schema mismatch"):
        session.query(f"SELECT * FROM {session.scan_parquet([first, odd], union_by_name=False)}")


def test_filename_names_each_rows_file(session: EngineSession, partitioned: list[str]) -> None:
    scan = session.scan_parquet(partitioned, hive_partitioning=True, filename=True)
    assert [(r["id"], r["filename"]) for r in read(session, scan, "id")] == [
        (1, partitioned[0]),
        (2, partitioned[0]),
        (3, partitioned[1]),
    ]


def test_paths_are_quoted(session: EngineSession, tmp_path: Path) -> None:
    odd = write(tmp_path / "it's a file, [really].parquet", {"id": [7]})
    assert read(session, session.scan_parquet([odd]), "id") == [{"id": 7}]


def test_the_same_arguments_give_the_same_sql(
    session: EngineSession, partitioned: list[str]
) -> None:
    # compile caches and view definitions compare the SQL text
    types = pa.schema([("day", pa.int64())])
    assert session.scan_parquet(
        partitioned, hive_partitioning=True, partition_types=types, filename=True
    ) == session.scan_parquet(
        partitioned, hive_partitioning=True, partition_types=types, filename=True
    )
