"""Run locks in the catalog: which run builds which asset (or partition of one) right now.

A run claims every asset and partition it may write in one transaction, all or nothing, before
it writes anything; a claim overlapping a live run's is refused with that run named. Whole-asset
claims overlap every partition of the asset. Claims of dead runs are deleted in the same
transaction, so a crashed run never blocks the next one; whether a holder is alive is the
caller's judgement (`orchestrate/lock.py` asks the operating system, or the run's heartbeat).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from headwater.catalog.database import Transaction
from headwater.catalog.statuses import RunStatus
from headwater.catalog.store import Catalog, now_iso

LOCKS_KEY = 0x4857_4C6B
"""PostgreSQL advisory lock key of claiming run locks ('HWLk'): claims take turns."""

WHOLE = ""
"""`partition_key` of a claim on the whole asset (a primary key column cannot be NULL)."""


@dataclass(frozen=True)
class Claim:
    """What a run may write: an asset, or one partition of it (`partition` None: all of it)."""

    asset: str
    partition: str | None = None

    def overlaps(self, other: Claim) -> bool:
        """Whether two claims could write the same rows (same asset, and partition unknown or
        equal)."""
        return self.asset == other.asset and (
            self.partition is None or other.partition is None or self.partition == other.partition
        )

    def __str__(self) -> str:
        return self.asset if self.partition is None else f"{self.asset} partition {self.partition}"


@dataclass(frozen=True)
class HeldLock:
    """A claim held by a run, with who holds it and its last sign of life."""

    claim: Claim
    run_id: str
    command: str | None
    pid: int | None
    hostname: str | None
    acquired_at: str
    last_beat: dt.datetime
    """The run's last heartbeat (when the claim was made, before the run was recorded)."""


Alive = Callable[[HeldLock], bool]
"""Judges whether the run holding a lock still lives."""


def _held(tx: Transaction) -> list[HeldLock]:
    rows = tx.execute(
        "SELECT l.asset, l.partition_key, l.run_id, l.command, l.pid, l.hostname, "
        "l.acquired_at, r.heartbeat_at FROM hw_locks l "
        "LEFT JOIN hw_runs r ON r.run_id = l.run_id ORDER BY l.asset, l.partition_key"
    )
    held = []
    for row in rows:
        beat = dt.datetime.fromisoformat(str(row["heartbeat_at"] or row["acquired_at"]))
        held.append(
            HeldLock(
                Claim(row["asset"], row["partition_key"] or None),
                row["run_id"],
                row["command"],
                row["pid"],
                row["hostname"],
                row["acquired_at"],
                beat if beat.tzinfo else beat.replace(tzinfo=dt.UTC),
            )
        )
    return held


def claim(
    catalog: Catalog,
    run_id: str,
    claims: Iterable[Claim],
    holder: dict[str, object],
    alive: Alive,
    forget: Callable[[str], None] | None = None,
) -> list[HeldLock]:
    """Take every claim for `run_id` at once, or none of them.

    Locks of runs `alive` judges dead are deleted first; `forget` is then called with each of
    those runs that the catalog does not show running (killed before it was recorded, or
    settled already): nothing is left to settle of it. `holder` gives `command`, `pid` and
    `hostname` for the message of whoever is refused later.

    Returns:
        The live locks that overlap the claims (then nothing was taken); empty when every
        claim is now held by `run_id`.
    """
    wanted = sorted(set(claims), key=lambda c: (c.asset, c.partition or WHOLE))
    finished: list[str] = []
    conflicts = _claim(catalog, run_id, wanted, holder, alive, finished)
    # only once its locks are gone: without its file, a run would be judged by its heartbeat
    if forget is not None:
        for run in finished:
            forget(run)
    return conflicts


def _claim(
    catalog: Catalog,
    run_id: str,
    wanted: list[Claim],
    holder: dict[str, object],
    alive: Alive,
    finished: list[str],
) -> list[HeldLock]:
    with catalog.db.transaction() as tx:
        # without turns two claims on PostgreSQL could both read "free" and both insert
        catalog.db.take_turns(tx, LOCKS_KEY)
        verdicts: dict[str, bool] = {}
        live: list[HeldLock] = []
        for lock in _held(tx):
            if lock.run_id == run_id:
                live.append(lock)
                continue
            if lock.run_id not in verdicts:
                verdicts[lock.run_id] = alive(lock)
            if verdicts[lock.run_id]:
                live.append(lock)
        dead = sorted(run for run, is_alive in verdicts.items() if not is_alive)
        for run in dead:
            tx.execute("DELETE FROM hw_locks WHERE run_id = :run_id", {"run_id": run})
            recorded = tx.execute(
                "SELECT 1 AS x FROM hw_runs WHERE run_id = :run_id AND status = :running",
                {"run_id": run, "running": RunStatus.RUNNING},
            )
            if not recorded:
                finished.append(run)
        by_asset: dict[str, list[HeldLock]] = {}
        for lock in live:
            by_asset.setdefault(lock.claim.asset, []).append(lock)
        conflicts = [
            lock
            for want in wanted
            for lock in by_asset.get(want.asset, [])
            if lock.run_id != run_id and want.overlaps(lock.claim)
        ]
        if conflicts:
            return conflicts
        mine = {lock.claim for lock in live if lock.run_id == run_id}
        stamp = now_iso()
        rows = [
            {
                "asset": want.asset,
                "partition_key": want.partition or WHOLE,
                "run_id": run_id,
                "command": holder.get("command"),
                "pid": holder.get("pid"),
                "hostname": holder.get("hostname"),
                "acquired_at": stamp,
            }
            for want in wanted
            if want not in mine
        ]
        if not rows:
            return []
        tx.execute_many(
            "INSERT INTO hw_locks (asset, partition_key, run_id, command, pid, hostname, "
            "acquired_at) VALUES (:asset, :partition_key, :run_id, :command, :pid, :hostname, "
            ":acquired_at)",
            rows,
        )
    return []


def release(catalog: Catalog, run_id: str, claims: Iterable[Claim] | None = None) -> None:
    """Give up the locks of `run_id` (only `claims` of them, when given)."""
    chosen = None if claims is None else list(claims)
    if chosen == []:
        return
    with catalog.db.transaction() as tx:
        catalog.db.take_turns(tx, LOCKS_KEY)
        if chosen is None:
            tx.execute("DELETE FROM hw_locks WHERE run_id = :run_id", {"run_id": run_id})
            return
        tx.execute_many(
            "DELETE FROM hw_locks WHERE run_id = :run_id AND asset = :asset AND "
            "partition_key = :partition_key",
            [
                {"run_id": run_id, "asset": c.asset, "partition_key": c.partition or WHOLE}
                for c in chosen
            ],
        )


def holds(catalog: Catalog, run_id: str, claim: Claim) -> bool:
    """Whether `run_id` still holds a lock covering `claim` (another run may have taken its
    locks over, judging it dead)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT 1 AS x FROM hw_locks WHERE run_id = :run_id AND asset = :asset AND "
            "partition_key IN (:whole, :partition_key)",
            {
                "run_id": run_id,
                "asset": claim.asset,
                "whole": WHOLE,
                "partition_key": claim.partition or WHOLE,
            },
        )
    return bool(rows)


def held(catalog: Catalog) -> list[HeldLock]:
    """Every lock recorded in the catalog, live or left by a dead run, by asset."""
    with catalog.db.transaction(write=False) as tx:
        return _held(tx)
