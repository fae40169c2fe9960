"""Opening a project: its definition loaded with the tables of schema-loading sources listed,
and those lists refreshed before a run or on request.

The loader never connects to a database, so a sql source that loads a whole schema
(`include:` patterns) has its tables listed here (`headwater.ingest.discovery`) the first time the
project is opened, and again before each run that loads from it; when a list changed, the
project is read again so the run sees the new tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from headwater.ingest import discovery
from headwater.project.loader import load_project

if TYPE_CHECKING:
    from pathlib import Path

    from headwater.catalog.store import Catalog
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore


class OpenProject(Protocol):
    """What starting a run needs of an open project: its definition as loaded now, its
    catalog and store, and a way to read its files again. `headwater.Project` is one."""

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
        """Read the project's files again the next time its definition is asked for."""


def load_definition(root: Path) -> ProjectDefinition:
    """Load and validate the project at `root` and return it; a sql source that loads a whole
    schema and has no list of its tables yet has them listed from its database first.

    Raises:
        HeadwaterError: the project is not valid, or such a source could not be listed.
    """
    definition = load_project(root)
    if definition.undiscovered:
        discovery.discover_tables(definition, definition.undiscovered, strict=True)
        definition = load_project(root)
    return definition


def discover_again(project: OpenProject, names: list[str] | None = None) -> dict[str, list[str]]:
    """List again the tables of the sql sources `names` (all with `include` patterns by
    default) and return them by source; the project is reloaded when a list changed.

    Raises:
        HeadwaterError: a source could not be listed.
    """
    definition = project.definition
    found, changed = discovery.discover_tables(
        definition, discovery.listing_sources(definition, names), True
    )
    if changed:
        project.reload()
    return found


def refresh_sources(project: OpenProject, keys: set[str], everything: bool) -> bool:
    """Before a run of asset `keys`: list again the tables of the schema-loading sources it
    touches (all of them when it runs `everything`); reload the project and return True when a
    list changed. A source that cannot be listed keeps its last list."""
    definition = project.definition
    names = discovery.sources_touched(definition, keys, everything)
    if not names:
        return False
    _, changed = discovery.discover_tables(definition, names, strict=False)
    if changed:
        project.reload()
    return changed
