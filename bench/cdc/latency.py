"""Visibility latency: a writer committing changes at a steady rate, and the time each of its
transactions first shows in the Delta mirror.

The writer calls the workload procedure one transaction at a time on a fixed schedule; each
transaction stamps the rows it updates or inserts with `lat <txn> <µs>` in `o_comment`, the µs
being PostgreSQL's `clock_timestamp()` just before the transaction's statements (its commit
follows within milliseconds). Afterwards the mirror's Delta log is read version by version:
a transaction is visible from the first version whose added files hold one of its stamps
(its inserted rows are never touched again, so every transaction leaves a stamp), and that
version's time is the mtime of its `_delta_log/<version>.json`, written as the commit lands.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pg import Database, Mix, Plan


@dataclass(eq=False)
class Writer(threading.Thread):
    """Commits `mix`-sized transactions at `rate` changes/s for `duration` seconds, once
    `ready()` says the capture is streaming."""

    db: Database
    plan: Plan
    mix: Mix
    rate: float
    duration: float
    ready: Callable[[], bool]
    sent: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Per transaction: the client's wall time before the call and after it returned."""
    error: str | None = None
    started_at: float | None = None
    behind: int = 0
    """Transactions that started late because the previous one took longer than its slot."""

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        """Wait for the capture, then write on schedule."""
        try:
            deadline = time.monotonic() + 120
            while not self.ready():
                if time.monotonic() > deadline:
                    raise RuntimeError("the capture did not start streaming within 120 s")
                time.sleep(0.05)
            interval = self.mix.size / self.rate
            with self.db.connect() as connection:
                self.started_at = time.time()
                start = time.monotonic()
                n = 0
                while True:
                    due = start + n * interval
                    now = time.monotonic()
                    if due - start >= self.duration:
                        break
                    if due > now:
                        time.sleep(due - now)
                    elif now - due > interval:
                        self.behind += 1
                    txn = self.plan.next_txn
                    before = time.time()
                    self.db.changes(connection, self.plan, self.mix, 1, marker=True)
                    self.sent[txn] = (before, time.time())
                    n += 1
        except Exception as exc:  # the runner reports it
            self.error = f"{type(exc).__name__}: {exc}"

    @property
    def last_before(self) -> float | None:
        """Client time before the last transaction was sent (None: nothing sent)."""
        return max((b for b, _ in self.sent.values()), default=None)


def versions(table: Path, since: int) -> list[dict[str, Any]]:
    """The mirror's Delta versions after `since`: version, mtime, commitInfo, added paths."""
    log = table / "_delta_log"
    found = []
    for path in sorted(log.glob("*.json")):
        version = int(path.stem)
        if version <= since:
            continue
        info: dict[str, Any] = {}
        adds: list[str] = []
        for line in path.read_text().splitlines():
            action = json.loads(line)
            if "commitInfo" in action:
                info = action["commitInfo"]
            elif "add" in action:
                adds.append(str(table / urllib.parse.unquote(action["add"]["path"])))
        found.append(
            {"version": version, "mtime": path.stat().st_mtime, "info": info, "adds": adds}
        )
    return found


def latest_version(table: Path) -> int:
    """The newest version of the Delta table (from its log file names)."""
    return max(int(p.stem) for p in (table / "_delta_log").glob("*.json"))


def applied_commit_us(table: Path) -> int | None:
    """The PostgreSQL commit time (µs) of the last transaction the mirror holds, from the
    newest version carrying the capture's state."""
    log = table / "_delta_log"
    for path in sorted(log.glob("*.json"), reverse=True):
        for line in path.read_text().splitlines():
            info = json.loads(line).get("commitInfo")
            if info is None:
                continue
            for value in info.values():
                if isinstance(value, str) and '"cdc"' in value:
                    state = json.loads(value).get("cdc") or {}
                    if state.get("commit_us") is not None:
                        return int(state["commit_us"])
    return None


@dataclass
class Visibility:
    """Per transaction: when its stamp was made, when the client saw its commit return, and
    when the mirror first showed it."""

    stamped: dict[int, float]
    committed: dict[int, float]
    visible: dict[int, float]
    versions: int
    """Mirror versions written while the writer ran (merges and any compaction)."""

    def latencies(self, since_commit: bool = False) -> list[float]:
        """Seconds from each visible transaction's stamp (or its commit's return) to its
        first visible version."""
        base = self.committed if since_commit else self.stamped
        return [self.visible[t] - base[t] for t in self.visible if t in base]

    def missing(self) -> list[int]:
        """Transactions sent but never seen in the mirror."""
        return sorted(t for t in self.committed if t not in self.visible)


def visibility(table: Path, since: int, sent: dict[int, tuple[float, float]]) -> Visibility:
    """Match the writer's transactions to the first mirror version showing them."""
    import duckdb

    found = versions(table, since)
    version_of: dict[str, int] = {}
    mtime: dict[int, float] = {}
    for entry in found:
        mtime[entry["version"]] = entry["mtime"]
        for path in entry["adds"]:
            version_of.setdefault(path, entry["version"])
    stamped: dict[int, float] = {}
    visible: dict[int, float] = {}
    if version_of:
        con = duckdb.connect()
        files = sorted(version_of)
        rows = con.execute(
            "SELECT filename, o_comment FROM read_parquet(?, filename = true) "
            "WHERE o_comment LIKE 'lat %'",
            [files],
        ).fetchall()
        first: dict[int, int] = {}
        for filename, comment in rows:
            _, txn_text, us_text = comment.split(" ")[:3]
            txn = int(txn_text)
            stamped[txn] = int(us_text) / 1_000_000
            version = version_of[filename]
            if txn not in first or version < first[txn]:
                first[txn] = version
        visible = {txn: mtime[v] for txn, v in first.items()}
    committed = {txn: after for txn, (_, after) in sent.items()}
    return Visibility(stamped, committed, visible, len(found))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), NaN without values."""
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")
