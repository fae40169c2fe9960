"""The store's API for files an engine wrote: moving them between tables, and the capability
a store needs to commit them.

A publish gate moves a refused version's files into the table's `__failed` companion through
`TableStore.move_files`; every `commit_files` goes through `TableStore.require("file_commits")`.
Both are checked on real Delta tables, read back with DuckDB over the snapshot's files.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.errors import UsageError
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.companions import failed_ref
from headwater.storage.delta import DeltaStore

REF = TableRef("core", "events")
ROWS_SQL = "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'a')) AS t(id, kind)"


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.close()


def test_moved_files_keep_their_place_in_the_target_and_commit_there(
    tmp_path: Path, engine: DuckDBEngine
) -> None:
    store = DeltaStore(tmp_path / "wh")
    written = engine.session().write_parquet(ROWS_SQL, store.new_file_dir(REF, "run1"), ["kind"])
    target = failed_ref(REF)
    moved = store.move_files(REF, written.files, target)

    assert len(moved) == len(written.files) > 1
    for before, after in zip(written.files, moved, strict=True):
        assert not os.path.exists(before.path)
        assert os.path.isfile(after.path)
        assert os.path.relpath(after.path, store.location(target)) == os.path.relpath(
            before.path, store.location(REF)
        )
        assert after.partition_values == before.partition_values
    store.commit_files(
        target, moved, written.schema, "overwrite", CommitInfo("run1", "failed audit"), ["kind"]
    )
    assert not store.exists(REF)
    session = engine.session()
    session.register_table(target, store.snapshot(target))
    rows = session.query(f"SELECT id, kind FROM core.{target.name} ORDER BY id").to_pylist()
    assert [(r["id"], r["kind"]) for r in rows] == [(1, "a"), (2, "b"), (3, "a")]


def test_a_store_without_file_commits_refuses_to_commit_files(
    tmp_path: Path, engine: DuckDBEngine
) -> None:
    class NoFileCommits(DeltaStore):
        capabilities = dataclasses.replace(DeltaStore.capabilities, file_commits=False)

    store = NoFileCommits(tmp_path / "wh")
    written = engine.session().write_parquet(ROWS_SQL, store.new_file_dir(REF, "run1"))
    with pytest.raises(UsageError) as refused:
        store.commit_files(
            REF, written.files, written.schema, "overwrite", CommitInfo("run1", "write")
        )
    message = refused.value.message
    assert f"table {REF}" in message
    assert "committing Parquet files an engine wrote" in message
    assert str(tmp_path / "wh") in message
    assert not store.exists(REF)


def test_removing_files_another_writer_already_replaced_is_a_conflict(tmp_path: Path) -> None:
    # two writers read version 0 and each rewrite its file; the second would bring the first
    # one's removed rows back (a lost update) unless its commit is refused
    import pyarrow.parquet as pq

    from headwater.errors import CommitConflictError

    store = DeltaStore(tmp_path / "warehouse")
    ref = TableRef("core", "t")
    engine = DuckDBEngine(threads=1)
    try:
        session = engine.session()

        def write(sql: str, tag: str) -> object:
            return session.write_parquet(sql, store.new_file_dir(ref, tag))

        first = write("SELECT range::BIGINT AS id FROM range(10)", "a")
        store.commit_files(ref, first.files, first.schema, "append", CommitInfo("r0", "append"))
        read_by_a, read_by_b = store.snapshot(ref), store.snapshot(ref)
        b = write("SELECT range::BIGINT AS id FROM range(3, 10)", "b")
        store.commit_files(
            ref,
            b.files,
            b.schema,
            "append",
            CommitInfo("rb", "delete"),
            remove=list(read_by_b.files),
        )
        a = write("SELECT range::BIGINT AS id FROM range(0, 8)", "c")
        with pytest.raises(CommitConflictError, match="another writer replaced"):
            store.commit_files(
                ref,
                a.files,
                a.schema,
                "append",
                CommitInfo("ra", "delete"),
                remove=list(read_by_a.files),
            )
        ids = [
            i for f in store.snapshot(ref).files for i in pq.read_table(f.path)["id"].to_pylist()
        ]
        assert sorted(ids) == list(range(3, 10))
        assert store.current_version(ref) == 1
    finally:
        engine.close()


def test_a_table_another_writer_created_first_is_a_conflict(tmp_path: Path) -> None:
    # two first commits race: the loser's create finds the winner's table, which delta-rs
    # raises as a plain DeltaError; it is a conflict (run again), not a storage failure
    import pyarrow as pa
    from deltalake import Schema, write_deltalake
    from deltalake.exceptions import DeltaError
    from deltalake.transaction import create_table_with_add_actions

    from headwater.errors import CommitConflictError
    from headwater.storage.delta_commit import write_error

    location = tmp_path / "t"
    write_deltalake(location, pa.table({"a": [1]}))
    schema = Schema.from_arrow(pa.schema([("a", pa.int64())]))
    with pytest.raises(DeltaError) as raised:
        create_table_with_add_actions(str(location), schema, [], mode="error")
    error = write_error(REF, raised.value)
    assert isinstance(error, CommitConflictError)
    assert "another writer committed first" in error.message


@pytest.mark.parametrize("value", ["New York", "2024-01-01 00:00:00", "100%", "a/b", "é"])
def test_rewriting_a_partition_whose_folder_name_is_escaped_is_no_conflict(
    tmp_path: Path, value: str
) -> None:
    store = DeltaStore(tmp_path / "wh")
    ref = TableRef("core", "t")
    engine = DuckDBEngine(threads=1)
    try:
        session = engine.session()
        first = session.write_parquet(
            f"SELECT 1::BIGINT AS id, '{value}' AS p", store.new_file_dir(ref, "a"), ["p"]
        )
        store.commit_files(ref, first.files, first.schema, "append", CommitInfo("r0", "w"), ["p"])
        read = store.snapshot(ref)
        again = session.write_parquet(
            f"SELECT 2::BIGINT AS id, '{value}' AS p", store.new_file_dir(ref, "b"), ["p"]
        )
        store.commit_files(
            ref,
            again.files,
            again.schema,
            "append",
            CommitInfo("r1", "rewrite"),
            ["p"],
            remove=list(read.files),
        )
        assert len(store.snapshot(ref).files) == 1
    finally:
        engine.close()


def _race_first_commits(
    store: DeltaStore, ref: TableRef, written: dict[int, Any]
) -> dict[int, str]:
    """Commit each writer's files as an overwrite of the new table `ref`, all at once; return
    each writer's outcome."""
    import threading

    from headwater.errors import CommitConflictError

    start = threading.Barrier(len(written))
    outcomes: dict[int, str] = {}

    def commit(writer: int) -> None:
        files = written[writer]
        start.wait()
        try:
            info = CommitInfo(f"r{writer}", "w")
            store.commit_files(ref, files.files, files.schema, "overwrite", info)
            outcomes[writer] = "committed"
        except CommitConflictError:
            outcomes[writer] = "conflict"

    threads = [threading.Thread(target=commit, args=(w,)) for w in written]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_first_commits_racing_never_keep_both_writers_rows(tmp_path: Path) -> None:
    # both writers find no table and create it at once: the loser's create must fail as a
    # conflict (delta-rs would otherwise retry it as version 1, and an overwrite would keep
    # the winner's rows beside its own); a loser that comes after the winner overwrites it
    import pyarrow.parquet as pq

    engine = DuckDBEngine(threads=1)
    try:
        session = engine.session()
        for attempt in range(12):
            store = DeltaStore(tmp_path / f"race{attempt}")
            ref = TableRef("core", "t")
            written = {
                writer: session.write_parquet(
                    f"SELECT {writer}::BIGINT AS id", store.new_file_dir(ref, f"w{writer}")
                )
                for writer in (1, 2)
            }
            outcomes = _race_first_commits(store, ref, written)
            ids = sorted(
                i
                for f in store.snapshot(ref).files
                for i in pq.read_table(f.path)["id"].to_pylist()
            )
            assert len(ids) == 1, (attempt, outcomes, ids)
            assert "committed" in outcomes.values()
            if "conflict" in outcomes.values():
                assert store.current_version(ref) == 0
    finally:
        engine.close()
