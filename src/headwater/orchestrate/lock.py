"""Run locks per asset and partition, so runs of disjoint selections go on side by side.

Before it writes anything, a run claims every asset (every partition, for a partitioned one) it
may build, in one catalog transaction: all or nothing, so two runs claiming overlapping sets
never deadlock, and the second is refused naming the asset, the run holding it, its command and
pid. Claims live in the catalog (`catalog/locks.py`), which every process of a project shares,
on SQLite as on PostgreSQL.

A crashed run must not block the next one. While it runs, a run holds an exclusive `flock` on
`.headwater/locks/runs/RUN_ID.lock`; the operating system lets go of it when the process dies,
even by SIGKILL, so on the same machine a dead holder's claims are taken over at once. A holder
on another machine (a shared PostgreSQL catalog) is judged by its run's heartbeat instead, and
its claims are taken over once the heartbeat is `STALE_AFTER_S` old.

Partitions of one table may be built by different runs at once, but their commits replace rows
of a snapshot they read, so they take turns: `TableCommitLock` serialises them across the
threads and processes of one machine (a commit waits for the other, it does not fail), and,
on a shared PostgreSQL catalog, across machines too.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO

from headwater.catalog import locks
from headwater.catalog.locks import Claim, HeldLock
from headwater.catalog.store import Catalog
from headwater.errors import Location, RunLockedError

STALE_AFTER_S = 60.0
"""How long a run on another machine may go without a heartbeat before its locks are taken
over (runs renew it every few seconds)."""

NAMED = 3
"""How many held assets a refusal names before it says how many more."""

SETTLING = "settle "
"""The start of the command recorded with a claim borrowed to settle a dead run's build
(`settle RUN_ID`): that claim is held only for the moment the settling takes."""

SETTLE_RETRIES = 20
SETTLE_PAUSE_S = 0.1
"""A claim refused only by settlings is tried again this often, this long apart."""


def liveness_path(state_dir: Path, run_id: str) -> Path:
    """The file run `run_id` holds an exclusive lock on for as long as its process lives."""
    return state_dir / "locks" / "runs" / f"{run_id}.lock"


def run_alive(
    state_dir: Path,
    run_id: str,
    hostname: str | None,
    last_beat: dt.datetime,
    stale_after_s: float = STALE_AFTER_S,
    now: dt.datetime | None = None,
) -> bool:
    """Return whether the process of run `run_id` still lives.

    On this machine the run's liveness file says for sure; a run that left none here (it runs
    on another machine sharing the catalog) is alive while its heartbeat is recent (at `now`,
    by default the current time).
    """
    if hostname == socket.gethostname():
        path = liveness_path(state_dir, run_id)
        try:
            handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError:
            handle = None  # not a run of this checkout: judge it by its heartbeat
        if handle is not None:
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            # nobody holds it: the operating system released it when the run's process died
            # (the file stays, so the run is still known dead until it is settled: `forget`)
            return False
    return (now or dt.datetime.now(dt.UTC)) - last_beat < dt.timedelta(seconds=stale_after_s)


def forget(state_dir: Path, run_id: str) -> None:
    """Remove the liveness file of a dead run once it has been settled."""
    liveness_path(state_dir, run_id).unlink(missing_ok=True)


class RunLocks:
    """The locks one run holds: its liveness file and its claims in the catalog."""

    def __init__(self, catalog: Catalog, state_dir: Path, run_id: str, command: str) -> None:
        self.catalog = catalog
        self.state_dir = state_dir
        self.run_id = run_id
        self.command = command
        self._handle: IO[str] | None = None

    def acquire(self, claims: Iterable[Claim]) -> None:
        """Claim every asset and partition in `claims` at once, before anything is written.

        Raises:
            RunLockedError: a live run holds one of them; nothing was claimed.
        """
        self._stay_alive()
        wanted = list(claims)
        try:
            for _ in range(SETTLE_RETRIES):
                conflicts = locks.claim(
                    self.catalog, self.run_id, wanted, self._holder(), self.alive, self._forget
                )
                # a settling holds its claim for moments only: wait for it rather than refuse
                if not conflicts or not all(_settling(c) for c in conflicts):
                    break
                time.sleep(SETTLE_PAUSE_S)
        except BaseException:
            self.release()
            raise
        if conflicts:
            self.release()
            raise _refusal(conflicts)

    def borrow(self, claims: Iterable[Claim], settling: str) -> bool:
        """Claim more while running, to settle the builds of dead run `settling`; False, and
        nothing taken, when a live run holds any of them."""
        self._stay_alive()
        holder = {**self._holder(), "command": f"{SETTLING}{settling}"}
        return not locks.claim(self.catalog, self.run_id, claims, holder, self.alive, self._forget)

    def _forget(self, run_id: str) -> None:
        """Remove the liveness file a dead run left that has nothing left to settle."""
        if run_id != self.run_id:
            forget(self.state_dir, run_id)

    def fence(self, claim: Claim) -> None:
        """Refuse a commit under `claim` once this run no longer holds it.

        Only a run on another machine judges this one by its heartbeat, and may take its
        locks over while it still runs (its catalog was out of reach, or the machine was
        suspended, for `STALE_AFTER_S`); a commit then would race the new holder's. On one
        machine a run's locks are taken over only once its process has died, so a SQLite
        catalog needs no check.

        Raises:
            RunLockedError: another run took `claim` over; nothing was committed.
        """
        if self.catalog.db.dialect != "postgresql" or locks.holds(self.catalog, self.run_id, claim):
            return
        raise RunLockedError(
            f"run {self.run_id} no longer holds the lock of {claim}: another run took it "
            f"over after {STALE_AFTER_S:g} s without a heartbeat from this one; nothing was "
            "committed",
            Location(asset=claim.asset),
            "check that this machine reaches the catalog database steadily (the heartbeat "
            "writes to it every few seconds), then run again",
        )

    def give_back(self, claims: Iterable[Claim]) -> None:
        """Release some of this run's claims (what `borrow` took)."""
        locks.release(self.catalog, self.run_id, claims)

    def release(self) -> None:
        """Release every claim and the liveness file (idempotent). Should the catalog be out of
        reach, the claims are left to be taken over as a dead run's."""
        try:
            if self._handle is not None:
                locks.release(self.catalog, self.run_id)
        finally:
            if self._handle is not None:
                # claims first: a reader must never find live claims without a live holder
                liveness_path(self.state_dir, self.run_id).unlink(missing_ok=True)
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
                self._handle.close()
                self._handle = None

    def alive(self, lock: HeldLock) -> bool:
        """Whether the run holding `lock` still lives."""
        return run_alive(self.state_dir, lock.run_id, lock.hostname, lock.last_beat)

    def _holder(self) -> dict[str, object]:
        return {"command": self.command, "pid": os.getpid(), "hostname": socket.gethostname()}

    def _stay_alive(self) -> None:
        """Hold the liveness file; it exists and is locked before any claim names this run."""
        if self._handle is not None:
            return
        path = liveness_path(self.state_dir, self.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the run
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh run id: free
        self._handle = handle


def _settling(lock: HeldLock) -> bool:
    """Whether `lock` is held only to settle a dead run's build."""
    return (lock.command or "").startswith(SETTLING)


def _refusal(conflicts: list[HeldLock]) -> RunLockedError:
    """The error naming what is held, and the run holding it."""
    holder = next((lock for lock in conflicts if not _settling(lock)), conflicts[0])
    theirs = sorted(
        {lock.claim for lock in conflicts if lock.run_id == holder.run_id},
        key=lambda c: (c.asset, c.partition or ""),
    )
    named = ", ".join(str(c) for c in theirs[:NAMED])
    if len(theirs) > NAMED:
        named += f" and {len(theirs) - NAMED} more"
    others = len({lock.run_id for lock in conflicts}) - 1
    also = f" (and {others} other run{'s' if others > 1 else ''})" if others else ""
    if _settling(holder):
        dead = (holder.command or "").removeprefix(SETTLING)
        return RunLockedError(
            f"{'asset' if len(theirs) == 1 else 'assets'} {named} "
            f"{'is' if len(theirs) == 1 else 'are'} being settled by {_describe(holder)} after "
            f"run {dead} died{also}; this run was not started and wrote nothing",
            Location(asset=theirs[0].asset),
            "run it again in a moment: settling a dead run's build only records whether its "
            "commit landed",
        )
    return RunLockedError(
        f"{'asset' if len(theirs) == 1 else 'assets'} {named} {'is' if len(theirs) == 1 else 'are'}"
        f" held by {_describe(holder)}, already running in this project{also}; this run was not "
        "started and wrote nothing",
        Location(asset=theirs[0].asset),
        "wait for that run to finish (see 'headwater runs'), or select assets it does not build; "
        "a run whose process died loses its locks at once on the same machine, and after "
        f"{STALE_AFTER_S:g} s without a heartbeat from another machine",
    )


def _describe(lock: HeldLock) -> str:
    command = lock.command or "run"
    what = f"'headwater {command}'" if command in ("run", "backfill", "ingest") else command
    details = [] if _settling(lock) else [what]
    if lock.pid is not None:
        details.append(f"pid {lock.pid}" + (f" on {lock.hostname}" if lock.hostname else ""))
    details.append(f"started {lock.acquired_at[:19]}")
    return f"run {lock.run_id} ({', '.join(details)})"


TABLE_TURNS = 0x4857_5462
"""The PostgreSQL advisory lock class of table commit turns ('HWTb'); the table's key hashes
to the lock's id within it."""


def table_turn(key: str) -> tuple[int, int]:
    """The (class, id) of the catalog-wide turn of commits to asset `key`'s table."""
    objid = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)
    return TABLE_TURNS, objid


class TableCommitLock:
    """Lets one commit at a time into a table: across the threads and processes of a machine
    by a file lock, and across the machines sharing a PostgreSQL `catalog` by its advisory
    lock. Partitions of one table built by different runs wait for each other's commit."""

    def __init__(self, state_dir: Path, key: str, catalog: Catalog | None = None) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:80]
        self.path = state_dir / "locks" / "tables" / f"{safe}-{digest}.lock"
        self.key = key
        self.catalog = catalog
        self._thread_lock = threading.Lock()
        self._held: ExitStack | None = None

    def __enter__(self) -> TableCommitLock:
        held = ExitStack()
        held.enter_context(self._thread_lock)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = held.enter_context(open(self.path, "a", encoding="utf-8"))
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # waits for the other commit
            held.callback(fcntl.flock, handle.fileno(), fcntl.LOCK_UN)
            if self.catalog is not None:
                # after the machine's turn: one process per machine waits on the catalog
                held.enter_context(self.catalog.db.hold_turn(*table_turn(self.key)))
        except BaseException:
            held.close()
            raise
        self._held = held
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()  # the catalog's turn, the file lock, then the threads' lock
