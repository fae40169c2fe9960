"""What a materialization gets to build one asset, and what it gives back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from headwater.build.compiler import Compiler
from headwater.build.relations import Relations
from headwater.build.suppression import Suppression
from headwater.engine.base import EngineSession
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.partitions import Partition
from headwater.storage.base import (
    CommitInfo,
    DataFile,
    TableRef,
    TableStore,
    WriteMode,
    WrittenFile,
)

if TYPE_CHECKING:
    import pyarrow as pa

APP_ID_PREFIX = "headwater:"
FAULT_ENV = "HEADWATER_FAULT"


def app_id(asset: str, partition: str | None = None) -> str:
    """The idempotency key of an asset's commits (one per partition of a partitioned one)."""
    return APP_ID_PREFIX + asset + (f"[{partition}]" if partition is not None else "")


@dataclass
class Admitted:
    """What a publish gate lets through: the files to commit and the rows it set aside."""

    files: list[WrittenFile]
    rows: int | None
    """Rows in `files`, when the gate had to count them (after a quarantine)."""
    quarantined: int = 0
    report: Any = None
    """The gate's audit report, for the run to record."""


class PublishGate(Protocol):
    """Decides whether a new version may be published (write, audit, publish)."""

    def admit(
        self,
        ctx: BuildContext,
        files: list[WrittenFile],
        schema: pa.Schema,
        mode: WriteMode,
        remove: list[DataFile],
        partition_by: list[str],
        fresh: list[WrittenFile] | None = None,
    ) -> Admitted:
        """Audit the version `files` would make and return what to commit; raise a
        `HeadwaterError` (having set the files aside) when it must not be published. Only the
        rows of `fresh` (default: all files) are new."""

    def screen(
        self, ctx: BuildContext, files: list[WrittenFile], schema: pa.Schema
    ) -> tuple[list[WrittenFile], int | None, int]:
        """Quarantine failing new rows staged in `files`; return the passing files, their row
        count (None: unchanged) and how many rows were quarantined."""

    def inspect(self, ctx: BuildContext, relation: str) -> Admitted:
        """Audit rows that are not committed but computed on read (a view); raise a
        `HeadwaterError` when they fail."""

    def admitted_predicate(self) -> str | None:
        """SQL true for a new row the gate publishes rather than quarantines (None: it
        quarantines none), for a build that vets its rows before the gate sees them."""


@dataclass
class BuildContext:
    """Everything one asset's build may use."""

    asset: Asset
    definition: ProjectDefinition
    store: TableStore
    session: EngineSession
    compiler: Compiler
    relations: Relations
    run_id: str
    run_seq: int
    run_started: dt.datetime
    """Start of the run, naive UTC; the `valid_from`/`valid_to` time of snapshot changes."""
    full_refresh: bool
    temp_dir: Path
    commit_extra: dict[str, str] = field(default_factory=dict)
    """Extra metadata every commit of this build carries (an ingest's state)."""
    gate: PublishGate | None = None
    """Audits each new version before it is published (the asset's contract and checks)."""
    partition: Partition | None = None
    """The partition this build writes (partitioned models)."""
    table_lock: AbstractContextManager[Any] = field(default_factory=nullcontext)
    """Held while a build reads the table's current files to replace some of them and commits:
    partitions of one table built at once would otherwise conflict."""
    admitted: list[Admitted] = field(default_factory=list)
    """What the gate let through, publish by publish."""
    expired: threading.Event = field(default_factory=threading.Event)
    """Set when the build ran past its timeout: it must not commit any more."""
    fence: Callable[[], None] | None = None
    """Raises when the run no longer holds the asset's lock (another machine took it over):
    checked just before each commit."""
    idempotent: bool = True
    """Commits carry the asset's idempotency key (not those to a companion table, which a
    failed attempt undoes and a retry makes again)."""
    suppression: Suppression = field(default_factory=Suppression)
    """The erased subjects a load of this table skips (`headwater erase`)."""
    reads_as: Callable[[EngineSession, str, str], str] | None = None
    """For an export with a `role:`: given a session, an asset key and a relation holding some
    of that asset's rows, the SELECT of those rows as the role reads them (masked, filtered)."""
    companion_commits: list[tuple[TableRef, int | None, int]] = field(default_factory=list)
    """Commits this build made to other tables before its own (child and quarantine tables):
    (table, version before, version made). A build that fails afterwards undoes them, so a
    retry does not add their rows a second time."""

    @property
    def ref(self) -> TableRef:
        """The asset's table."""
        return TableRef.of(self.asset)

    def commit_info(self, operation: str, rows: int | None = None) -> CommitInfo:
        """Commit metadata for this build: run id, rows written, the asset's idempotency key."""
        key = app_id(self.asset.key, self.partition.key if self.partition else None)
        # a store without app transactions cannot skip a retried commit; it commits plainly
        idempotent = self.idempotent and self.store.capabilities.idempotent_commits
        return CommitInfo(
            run_id=self.run_id,
            operation=operation,
            app_id=key if idempotent else None,
            app_version=self.run_seq if idempotent else None,
            extra={**self.commit_extra, **({} if rows is None else {"headwater.rows": str(rows)})},
        )

    def publish(
        self,
        files: list[WrittenFile],
        schema: pa.Schema,
        mode: WriteMode,
        commit: CommitInfo,
        partition_by: list[str] | None = None,
        remove: list[DataFile] | None = None,
        fresh: list[WrittenFile] | None = None,
    ) -> int:
        """Commit `files` as the asset's next version once its gate lets them through; return
        the version. The only way a build makes its asset's new content visible. `fresh` says
        which files hold new rows (default: all), the only ones a check may quarantine."""
        self.may_commit()
        if self.gate is not None:
            admitted = self.gate.admit(
                self, files, schema, mode, list(remove or []), list(partition_by or []), fresh
            )
            self.admitted.append(admitted)
            files = admitted.files
            if admitted.rows is not None:
                commit = dataclasses.replace(
                    commit, extra={**commit.extra, "headwater.rows": str(admitted.rows)}
                )
        self.may_commit()
        return self.store.commit_files(self.ref, files, schema, mode, commit, partition_by, remove)

    def may_commit(self) -> None:
        """Raise unless this build may commit now: it ran past its timeout
        (`BuildTimeoutError`), or its run no longer holds the asset's lock (`RunLockedError`).
        Every commit of a build checks this first."""
        self.check_time()
        if self.fence is not None:
            self.fence()

    def check_time(self) -> None:
        """Raise `BuildTimeoutError` when the build ran past its timeout."""
        if self.expired.is_set():
            from headwater.errors import BuildTimeoutError

            raise BuildTimeoutError(self.asset.key, self.asset.rel_path, self.asset.timeout_s)

    def for_table(self, asset: Asset) -> BuildContext:
        """This build's context for a table it also writes (a child table): no gate, no
        state."""
        return dataclasses.replace(
            self,
            asset=asset,
            commit_extra={},
            gate=None,
            admitted=[],
            table_lock=nullcontext(),
            companion_commits=self.companion_commits,
            idempotent=False,
            expired=self.expired,
        )

    def undo_companions(self) -> None:
        """Take back this build's commits to other tables (it failed after making them): each
        table goes back to its version before, when nothing else committed since."""
        for ref, before, made in reversed(self.companion_commits):
            if self.store.current_version(ref) != made:
                continue  # another writer moved on since: leave it to the next load's cleanup
            info = CommitInfo(self.run_id, "undo (the build failed)")
            if before is None:
                snapshot = self.store.snapshot(ref)
                self.store.commit_files(
                    ref, [], snapshot.schema, "overwrite", info, list(snapshot.partition_by)
                )
            else:
                self.store.restore(ref, before, info)
        self.companion_commits.clear()

    def fault(self, point: str) -> None:
        """Kill this process at `point` when the test fault variable names it (crash tests)."""
        wanted = os.environ.get(FAULT_ENV)
        if wanted and wanted in (point, f"{point}:{self.asset.key}"):
            os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class BuildResult:
    """The outcome of one asset's build."""

    rows: int | None = None
    version: int | None = None
    message: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    """What the source says the table (`""`) and its columns are: database comments."""
    audit: dict[str, Any] | None = None
    """What the build sent out of the warehouse, for the audit trail (an export's
    destination, range and counts; no secret)."""
