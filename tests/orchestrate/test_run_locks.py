"""Run locks per asset and partition, on SQLite and PostgreSQL catalogs: all or nothing,
whole assets against partitions, dead holders taken over, remote holders judged by heartbeat."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.catalog import locks
from headwater.catalog.locks import Claim
from headwater.catalog.store import Catalog, new_run_id
from headwater.errors import RunLockedError
from headwater.orchestrate.lock import STALE_AFTER_S, RunLocks, liveness_path


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """An empty catalog on each backend (`catalog_url`: SQLite, then PostgreSQL)."""
    opened = Catalog(catalog_url)
    yield opened
    opened.close()


def _locks(catalog: Catalog, state: Path, command: str = "run") -> RunLocks:
    return RunLocks(catalog, state, new_run_id(), command)


def test_claims_are_all_or_nothing(catalog: Catalog, tmp_path: Path) -> None:
    first = _locks(catalog, tmp_path)
    first.acquire([Claim("marts.a"), Claim("marts.daily", "2024-05-01")])
    second = _locks(catalog, tmp_path)
    with pytest.raises(RunLockedError) as refused:
        second.acquire([Claim("marts.b"), Claim("marts.daily", "2024-05-01")])
    message = str(refused.value)
    assert "asset marts.daily partition 2024-05-01 is held by run " + first.run_id in message
    assert f"'headwater run', pid {os.getpid()} on {socket.gethostname()}" in message
    assert "this run was not started" in message and "hint:" in message
    # the refused run took nothing, not even marts.b, and left no liveness file
    assert {lock.claim for lock in locks.held(catalog)} == {
        Claim("marts.a"),
        Claim("marts.daily", "2024-05-01"),
    }
    assert not liveness_path(tmp_path, second.run_id).exists()
    third = _locks(catalog, tmp_path)
    third.acquire([Claim("marts.b"), Claim("marts.daily", "2024-05-02")])  # disjoint: fine
    first.release()
    third.release()
    assert locks.held(catalog) == []


def test_a_whole_asset_overlaps_each_of_its_partitions(catalog: Catalog, tmp_path: Path) -> None:
    partition = _locks(catalog, tmp_path, "backfill")
    partition.acquire([Claim("core.daily", "2024-05-03")])
    whole = _locks(catalog, tmp_path)
    with pytest.raises(RunLockedError, match=r"'headwater backfill'"):
        whole.acquire([Claim("core.daily")])
    partition.release()
    whole.acquire([Claim("core.daily")])
    with pytest.raises(RunLockedError, match=r"asset core\.daily is held by run"):
        _locks(catalog, tmp_path).acquire([Claim("core.daily", "2024-05-04")])
    whole.release()


def test_a_refusal_names_a_few_assets_and_counts_the_rest(catalog: Catalog, tmp_path: Path) -> None:
    holder = _locks(catalog, tmp_path, "job nightly")
    held = [Claim("core.daily", f"2024-05-{d:02d}") for d in range(1, 11)]
    holder.acquire(held)
    with pytest.raises(RunLockedError) as refused:
        _locks(catalog, tmp_path).acquire(held)
    message = str(refused.value)
    assert "assets core.daily partition 2024-05-01, core.daily partition 2024-05-02, " in message
    assert "and 7 more are held by run " + holder.run_id + " (job nightly, pid" in message
    holder.release()


def test_a_dead_holders_locks_are_taken_over_at_once(catalog: Catalog, tmp_path: Path) -> None:
    crashed = _locks(catalog, tmp_path)
    crashed.acquire([Claim("marts.a")])
    # what SIGKILL does to a holder: the operating system drops its file lock, nothing else
    # runs (the catalog row and the liveness file stay behind)
    assert crashed._handle is not None
    crashed._handle.close()
    crashed._handle = None
    assert [lock.run_id for lock in locks.held(catalog)] == [crashed.run_id]
    successor = _locks(catalog, tmp_path)
    successor.acquire([Claim("marts.a")])
    assert [lock.run_id for lock in locks.held(catalog)] == [successor.run_id]
    successor.release()


def _remote_lock(catalog: Catalog, run_id: str, beat: dt.datetime) -> None:
    """A lock held by a run on another machine, whose last sign of life was `beat`."""
    with catalog.db.transaction() as tx:
        tx.execute(
            "INSERT INTO hw_locks (asset, partition_key, run_id, command, pid, hostname, "
            "acquired_at) VALUES ('marts.a', '', :run_id, 'run', 4242, 'elsewhere', :at)",
            {"run_id": run_id, "at": beat.isoformat(timespec="microseconds")},
        )


def test_a_holder_on_another_machine_is_judged_by_its_heartbeat(
    catalog: Catalog, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    _remote_lock(catalog, "remote-live", now)
    with pytest.raises(RunLockedError, match=r"run remote-live \('headwater run', pid 4242 on "):
        _locks(catalog, tmp_path).acquire([Claim("marts.a")])
    locks.release(catalog, "remote-live")
    _remote_lock(catalog, "remote-dead", now - dt.timedelta(seconds=STALE_AFTER_S + 1))
    taker = _locks(catalog, tmp_path)
    taker.acquire([Claim("marts.a")])
    assert [lock.run_id for lock in locks.held(catalog)] == [taker.run_id]
    taker.release()


def test_borrowed_claims_are_given_back(catalog: Catalog, tmp_path: Path) -> None:
    run = _locks(catalog, tmp_path)
    run.acquire([Claim("marts.a")])
    other = _locks(catalog, tmp_path)
    other.acquire([Claim("marts.b")])
    assert not run.borrow([Claim("marts.b")], "dead-run")  # a live run holds it
    assert run.borrow([Claim("marts.c")], "dead-run")
    run.give_back([Claim("marts.c")])
    assert {lock.claim for lock in locks.held(catalog)} == {Claim("marts.a"), Claim("marts.b")}
    run.release()
    other.release()


def _die(holder: RunLocks) -> None:
    """What SIGKILL does to a holder: the OS drops its file lock, nothing else runs."""
    assert holder._handle is not None
    holder._handle.close()
    holder._handle = None


def test_a_dead_runs_liveness_file_goes_with_its_locks_when_nothing_is_left_to_settle(
    catalog: Catalog, tmp_path: Path
) -> None:
    # killed between its claim and its run's record: nothing in the catalog to settle
    unrecorded = _locks(catalog, tmp_path)
    unrecorded.acquire([Claim("marts.a")])
    # killed while recorded running: its file marks it dead until a run settles it
    recorded = _locks(catalog, tmp_path)
    recorded.acquire([Claim("marts.b")])
    catalog.start_run("run", None, 1, False, run_id=recorded.run_id)
    _die(unrecorded)
    _die(recorded)
    taker = _locks(catalog, tmp_path)
    taker.acquire([Claim("marts.a"), Claim("marts.b")])
    assert not liveness_path(tmp_path, unrecorded.run_id).exists()
    assert liveness_path(tmp_path, recorded.run_id).exists()
    assert {lock.run_id for lock in locks.held(catalog)} == {taker.run_id}
    taker.release()
    assert not liveness_path(tmp_path, taker.run_id).exists()


def test_a_claim_borrowed_to_settle_a_dead_run_is_named_as_such_and_waited_for(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.orchestrate import lock as lock_module

    settler = _locks(catalog, tmp_path, "scheduler")
    assert settler.borrow([Claim("marts.a")], "deadbeef")
    monkeypatch.setattr(lock_module, "SETTLE_PAUSE_S", 0.0)
    with pytest.raises(RunLockedError) as refused:
        _locks(catalog, tmp_path).acquire([Claim("marts.a")])
    message = str(refused.value)
    assert f"asset marts.a is being settled by run {settler.run_id} (pid {os.getpid()}" in message
    assert "after run deadbeef died" in message and "not started" in message
    assert "'headwater" not in message  # the settler builds nothing: no command is named
    # a settling ends within moments: a claim waits for it rather than being refused
    calls = 0
    real_claim = locks.claim

    def claim_then_settled(*args: object, **kwargs: object) -> list[locks.HeldLock]:
        nonlocal calls
        calls += 1
        if calls == 2:
            settler.give_back([Claim("marts.a")])
        return real_claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(locks, "claim", claim_then_settled)
    taker = _locks(catalog, tmp_path)
    taker.acquire([Claim("marts.a")])
    assert calls == 2
    assert {lock.run_id for lock in locks.held(catalog)} == {taker.run_id}
    taker.release()
    settler.release()
