"""Listing the tables of sql sources that load a whole schema (`include:` patterns).

The loader never connects to a database, so the tables such a source loads are listed here and
kept in the project's state folder (`headwater.project.discovered`), where the next load of the
project finds them: on first use, on `Project.discover`, and before each run that touches the
source.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from headwater.errors import HeadwaterError
from headwater.project.definition import ProjectDefinition

_LOG = logging.getLogger(__name__)


def discover_tables(
    definition: ProjectDefinition, names: Iterable[str], strict: bool
) -> tuple[dict[str, list[str]], bool]:
    """List the tables of sources `names` and keep the lists; return them by source and whether
    one changed. Unless `strict`, a source that cannot be listed keeps its last list (its loads
    will report the failure).

    Raises:
        HeadwaterError: a source could not be listed, when `strict` or when it has no list yet.
    """
    from headwater.ingest.database import list_tables
    from headwater.project.discovered import read_discovered, write_discovered

    found: dict[str, list[str]] = {}
    changed = False
    for name in names:
        source = definition.sources[name]
        try:
            found[name] = list_tables(name, source)
        except HeadwaterError as exc:
            if strict or read_discovered(definition.state_dir, name, source) is None:
                raise
            _LOG.warning("%s", exc)
            continue
        changed |= write_discovered(definition.state_dir, name, source, found[name])
    return found, changed


def listing_sources(definition: ProjectDefinition, names: list[str] | None = None) -> list[str]:
    """The sources among `names` (all by default) whose tables are listed from their database."""
    return [n for n, s in definition.sources.items() if s.include and (not names or n in names)]


def sources_touched(definition: ProjectDefinition, keys: set[str], everything: bool) -> list[str]:
    """The listing sources a run of asset `keys` loads from (all of them when it runs
    `everything`): before the run their tables are listed again."""
    touched = {
        a.source.source_name
        for k in keys
        if (a := definition.assets[k]).source is not None and a.parent is None
    }
    return [n for n, s in definition.sources.items() if s.include and (everything or n in touched)]
