"""R12: damage the latest checkpoint (truncate, corrupt, delete `_last_checkpoint`).

Pass: the table opens by replaying the log, or fails with a typed error naming the file.

What delta-rs 1.6 does by itself (DeltaTable() on the damaged table):
- checkpoint truncated: "Parquet error: Invalid Parquet file. Corrupt footer";
- checkpoint truncated to 0 bytes: "Invalid Checkpoint: Had a _last_checkpoint hint but didn't
  find any checkpoints" (an empty file is not listed; without the hint it opens fine);
- bytes corrupted: a Parquet/Thrift decoding error, "invalid utf8", "Unexpected EOF", ... or,
  when the bytes hit unused parts of the file, it opens with the right content;
- `_last_checkpoint` deleted or garbage: opens (it lists the log instead);
- checkpoint deleted, `_last_checkpoint` left: the "hint but didn't find any checkpoints" error;
- it never falls back to the JSON commits, also not when opening an older version that the
  damaged checkpoint covers; every failure is an untyped `DeltaError`.
DeltaStore sets an unreadable checkpoint aside (renamed `*.damaged`) and replays the JSON
commits when they are all still there; otherwise it raises `TableDamagedError` naming the file.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.errors import TableDamagedError
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.delta import DeltaStore
from tests.reliability.helpers import HEADWATER, Reader, start

REF = TableRef("ns", "facts")
COLUMNS = ("id", "val")
VERSIONS = 7  # versions 0..6, checkpoints at 3 and 6


def _log(store: DeltaStore) -> Path:
    return store.location(REF) / "_delta_log"


def _checkpoint(store: DeltaStore, version: int) -> Path:
    return _log(store) / f"{version:020d}.checkpoint.parquet"


def _commit(store: DeltaStore, engine: DuckDBEngine, step: int) -> None:
    written = engine.session().write_parquet(
        f"select {step} * 100 + range as id, {step} as val from range(10)",
        store.new_file_dir(REF, f"v{step}"),
    )
    mode = "overwrite" if step == 4 else "append"
    store.commit_files(REF, written.files, written.schema, mode, CommitInfo(f"r{step}", mode))


def _expected(version: int) -> list[tuple[int, int]]:
    start_step = 4 if version >= 4 else 0
    return [(s * 100 + i, s) for s in range(start_step, version + 1) for i in range(10)]


@pytest.fixture
def table(tmp_path):
    """A table with versions 0..6 and checkpoints at versions 3 and 6."""
    store = DeltaStore(tmp_path / "warehouse")
    engine = DuckDBEngine()
    for step in range(VERSIONS):
        _commit(store, engine, step)
        if step in (3, 6):
            store.checkpoint(REF)
    assert _checkpoint(store, 6).exists() and (_log(store) / "_last_checkpoint").exists()
    reader = Reader()
    yield store, engine, reader
    reader.close()
    engine.close()


def _assert_intact(store: DeltaStore, engine: DuckDBEngine, reader: Reader) -> None:
    """The table opens at its latest version with the right content, and stays writable."""
    snapshot = store.snapshot(REF)
    assert snapshot.version == VERSIONS - 1
    assert reader.rows(snapshot, COLUMNS) == _expected(VERSIONS - 1)
    assert reader.rows(store.snapshot(REF, version=2), COLUMNS) == _expected(2)
    assert store.history(REF, limit=1)[0].version == VERSIONS - 1
    _commit(store, engine, VERSIONS)
    store.checkpoint(REF)
    assert reader.rows(store.snapshot(REF), COLUMNS) == _expected(VERSIONS)


def truncate(store: DeltaStore) -> None:
    path = _checkpoint(store, 6)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def truncate_to_zero(store: DeltaStore) -> None:
    _checkpoint(store, 6).write_bytes(b"")


def corrupt_footer(store: DeltaStore) -> None:
    path = _checkpoint(store, 6)
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 40, len(data) - 8):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def delete_last_checkpoint(store: DeltaStore) -> None:
    (_log(store) / "_last_checkpoint").unlink()


def garble_last_checkpoint(store: DeltaStore) -> None:
    (_log(store) / "_last_checkpoint").write_text("{not json")


def delete_checkpoint_keep_hint(store: DeltaStore) -> None:
    _checkpoint(store, 6).unlink()


def truncate_and_delete_hint(store: DeltaStore) -> None:
    truncate(store)
    delete_last_checkpoint(store)


def damage_both_checkpoints(store: DeltaStore) -> None:
    truncate(store)
    _checkpoint(store, 3).write_bytes(b"PAR1 not really")


DAMAGE: dict[str, Callable[[DeltaStore], None]] = {
    "truncated": truncate,
    "truncated to zero bytes": truncate_to_zero,
    "footer corrupted": corrupt_footer,
    "_last_checkpoint deleted": delete_last_checkpoint,
    "_last_checkpoint garbage": garble_last_checkpoint,
    "checkpoint deleted, hint left": delete_checkpoint_keep_hint,
    "truncated, hint deleted": truncate_and_delete_hint,
    "both checkpoints damaged": damage_both_checkpoints,
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_r12_table_opens_by_replaying_the_log(table, damage):
    store, engine, reader = table
    DAMAGE[damage](store)
    _assert_intact(store, engine, reader)


def test_r12_damaged_checkpoint_is_set_aside_not_deleted(table):
    store, _, _ = table
    truncate(store)
    damaged = _checkpoint(store, 6).read_bytes()
    store.snapshot(REF)
    aside = _log(store) / (_checkpoint(store, 6).name + ".damaged")
    assert aside.read_bytes() == damaged
    assert not _checkpoint(store, 6).exists()
    assert _checkpoint(store, 3).exists()


@pytest.mark.parametrize("seed", range(3))
def test_r12_corrupted_bytes_anywhere(tmp_path, seed):
    """Flip bytes at many places: right content, or a typed error naming the checkpoint."""
    rng = random.Random(seed)
    store = DeltaStore(tmp_path / "pristine")
    engine = DuckDBEngine()
    reader = Reader()
    for step in range(VERSIONS):
        _commit(store, engine, step)
    store.checkpoint(REF)
    pristine = store.location(REF)
    size = _checkpoint(store, 6).stat().st_size
    outcomes = {"opened": 0}
    try:
        for trial in range(12):
            copy = DeltaStore(tmp_path / f"copy{trial}")
            shutil.copytree(pristine, copy.location(REF))
            path = _checkpoint(copy, 6)
            data = bytearray(path.read_bytes())
            at = rng.randrange(0, size - 8)
            for i in range(at, at + 8):
                data[i] ^= 0xA5
            path.write_bytes(bytes(data))
            try:
                snapshot = copy.snapshot(REF)
            except TableDamagedError as exc:  # typed, and it names the file
                assert str(path) in str(exc)
                outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
                continue
            assert reader.rows(snapshot, COLUMNS) == _expected(VERSIONS - 1), at
            outcomes["opened"] += 1
    finally:
        reader.close()
        engine.close()
    # every JSON commit is there, so each damaged copy is recovered by replaying them
    assert outcomes == {"opened": 12}


def test_r12_damaged_checkpoint_without_its_commits_is_a_typed_error(table):
    store, _, _ = table
    truncate(store)
    for version in range(0, 6):  # log clean-up took the commits the checkpoint summarises
        (_log(store) / f"{version:020d}.json").unlink()
    with pytest.raises(TableDamagedError) as caught:
        store.snapshot(REF)
    assert caught.value.location.file == str(_checkpoint(store, 6))
    assert str(_checkpoint(store, 6)) in str(caught.value)
    assert _checkpoint(store, 6).exists()  # not touched: it is the only copy there is


def test_r12_damaged_commit_is_a_typed_error_naming_it(table):
    store, _, _ = table
    for path in _log(store).glob("*.checkpoint.parquet"):
        path.unlink()
    (_log(store) / "_last_checkpoint").unlink()
    damaged = _log(store) / f"{4:020d}.json"
    damaged.write_text(damaged.read_text()[:-40])
    with pytest.raises(TableDamagedError) as caught:
        store.snapshot(REF)
    assert caught.value.location.file == str(damaged)


def test_r12_cli_reports_the_damaged_file(make_project):
    project = make_project({"models/core/m.sql": "select range as id from range(5)"})
    project.run()
    ref = TableRef("core", "m")
    project.store.checkpoint(ref)
    log = project.store.location(ref) / "_delta_log"
    checkpoint = next(log.glob("*.checkpoint.parquet"))
    checkpoint.write_bytes(checkpoint.read_bytes()[:50])
    (log / "00000000000000000000.json").unlink()  # nothing to replay

    query = start([*HEADWATER, "query", "select count(*) as n from core.m"], project.root)
    _, err = query.communicate(timeout=600)
    assert query.returncode == 1
    assert err.startswith("Error:") and str(checkpoint) in err and "Traceback" not in err

    # with the commits there, the same damage is repaired on the fly
    project2 = make_project({"models/core/m.sql": "select range as id from range(5)"}, folder="p2")
    project2.run()
    project2.store.checkpoint(ref)
    log2 = project2.store.location(ref) / "_delta_log"
    checkpoint2 = next(log2.glob("*.checkpoint.parquet"))
    checkpoint2.write_bytes(checkpoint2.read_bytes()[:50])
    assert project2.query("select count(*) as n from core.m").to_pylist() == [{"n": 5}]
