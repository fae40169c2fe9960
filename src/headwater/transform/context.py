"""What a materialization gets to build one asset, and what it gives back."""

from __future__ import annotations

import datetime as dt
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headwater.engine.base import EngineSession
from headwater.project.loader import Asset, ProjectDefinition
from headwater.storage.base import CommitInfo, TableRef, TableStore
from headwater.transform.compiler import Compiler
from headwater.transform.relations import Relations

APP_ID_PREFIX = "headwater:"
FAULT_ENV = "HEADWATER_FAULT"


@dataclass
class BuildContext:
    """Everything one asset's build may use."""

    asset: Asset
    project: ProjectDefinition
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

    @property
    def ref(self) -> TableRef:
        """The asset's table."""
        return TableRef(self.asset.namespace, self.asset.name)

    def commit_info(self, operation: str, rows: int | None = None) -> CommitInfo:
        """Commit metadata for this build: run id, rows written, the asset's idempotency key."""
        return CommitInfo(
            run_id=self.run_id,
            operation=operation,
            app_id=APP_ID_PREFIX + self.asset.key,
            app_version=self.run_seq,
            extra={**self.commit_extra, **({} if rows is None else {"headwater.rows": str(rows)})},
        )

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
