"""What the scheduler drives: a narrow view of a project, so that it depends on the few things it
uses (definition, catalog, store, reload and run) and not on the Python API above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.orchestrate.results import RunSummary
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore


class ScheduledProject(Protocol):
    """What the scheduler needs of a project: its definition, catalog and store, and a way
    to reload it and run a selection. The Python API's `headwater.Project` is one."""

    @property
    def root(self) -> Path:
        """The project's folder."""

    @property
    def definition(self) -> ProjectDefinition:
        """The project as loaded now (loaded again after `reload`)."""

    @property
    def catalog(self) -> Catalog:
        """The project's catalog."""

    @property
    def store(self) -> TableStore:
        """The project's table store."""

    def reload(self) -> None:
        """Read the project's files again before the next run (they may have changed)."""

    def asset(self, name: str) -> Asset:
        """Return the asset called `name`."""

    def run(
        self,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        *,
        full_refresh: bool = False,
        stop: Any = None,
        command: str = "run",
    ) -> RunSummary:
        """Build the selected assets (all by default) and return the run's summary; setting
        the event `stop` lets what runs finish and starts nothing more."""
