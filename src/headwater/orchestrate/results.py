"""What a run reports to its caller: each asset's outcome as it finishes and the run's summary.

These are the values the faces show (`headwater run`'s lines and JSON, the Python API's
return value, the scheduler's alerts); the catalog keeps the same facts in its own rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from headwater.catalog.statuses import BuildStatus, RunStatus


@dataclass
class AssetOutcome:
    """How one asset (or one partition of it) fared in a run."""

    key: str
    status: BuildStatus
    materialization: str
    rows: int | None = None
    version: int | None = None
    duration_s: float = 0.0
    message: str | None = None
    partition: str | None = None


@dataclass
class RunSummary:
    """The result of a run: its id, status and every asset's outcome in completion order."""

    run_id: str
    status: RunStatus
    outcomes: list[AssetOutcome] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every asset succeeded or was fresh, 1 otherwise."""
        return 0 if self.status == RunStatus.SUCCESS else 1

    def count(self, status: str) -> int:
        """Return how many assets ended with `status`."""
        return sum(1 for o in self.outcomes if o.status == status)

    def outcome(self, key: str, partition: str | None = None) -> AssetOutcome:
        """Return the outcome of asset `key` (of one of its partitions, when given)."""
        return next(
            o
            for o in self.outcomes
            if o.key == key and (partition is None or o.partition == partition)
        )


EventHandler = Callable[[str, AssetOutcome], None]
"""Called with ("start" | "finish", outcome) as assets progress."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped run `run_id`: what it finished is kept and recorded, the builds that were
    running were stopped before they committed, and the run is recorded as interrupted, so
    `headwater run --resume RUN_ID` builds the rest."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id
