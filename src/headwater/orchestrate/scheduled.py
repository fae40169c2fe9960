"""What the scheduler drives: a narrow view of a project, so that it depends on the few things it
uses (definition, catalog, store, reload and run) and not on the Python API above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from headwater.orchestrate.opening import OpenProject

if TYPE_CHECKING:
    from headwater.orchestrate.results import RunSummary
    from headwater.project.definition import Asset


class ScheduledProject(OpenProject, Protocol):
    """What the scheduler needs of a project: what starting a run needs (its definition,
    catalog and store, and `reload`), its folder, and a way to run a selection. The Python
    API's `headwater.Project` is one."""

    @property
    def root(self) -> Path:
        """The project's folder."""

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
