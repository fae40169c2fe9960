"""Extractors by source kind: `kind: files` in a source's YAML picks the factory registered here.

Each built-in extractor module (`files.py`, `database.py`, `rest.py`) registers its factory, and
how its tables' origin is named for lineage, at import through the same `register_extractor` a
plugin would call; the loader asks `extractor_for(kind)` and lineage asks `origin_of(spec, root)`,
and neither branches on the kind itself. The built-ins are imported on the first look-up, so
importing Headwater loads no extractor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import ConfigError
from headwater.ingest.base import DatasetOrigin, Extractor
from headwater.project.sources import SourceTable

ExtractorFactory = Callable[[], Extractor]
"""Makes the extractor that reads one table of a source of its kind."""

OriginNamer = Callable[[SourceTable, Path], DatasetOrigin]
"""Names where a table of a source of its kind comes from, given the project's folder."""


@dataclass(frozen=True)
class _Registration:
    factory: ExtractorFactory
    origin: OriginNamer


_REGISTERED: dict[str, _Registration] = {}


def register_extractor(kind: str, factory: ExtractorFactory, origin: OriginNamer) -> None:
    """Make sources of `kind` (their `kind:` key) read their tables with `factory`'s extractor,
    and name their tables' origin in lineage with `origin`."""
    _REGISTERED[kind] = _Registration(factory, origin)


def extractor_for(kind: str) -> Extractor:
    """Return a new extractor for sources of `kind`.

    Raises:
        ConfigError: no extractor is registered for `kind`.
    """
    return _registration(kind).factory()


def origin_of(spec: SourceTable, project_root: Path) -> DatasetOrigin:
    """Return where the source table `spec` comes from, as OpenLineage names its input dataset
    (`project_root`: the project's folder, which relative paths are under).

    Raises:
        ConfigError: no extractor is registered for the source's kind.
    """
    return _registration(spec.source.kind).origin(spec, project_root)


def _registration(kind: str) -> _Registration:
    _register_builtins()
    found = _REGISTERED.get(kind)
    if found is None:
        raise ConfigError(
            f"no extractor reads sources of kind {kind!r}",
            hint=f"use one of: {', '.join(sorted(_REGISTERED))}",
        )
    return found


def _register_builtins() -> None:
    # imported here: each module registers its extractor when first imported
    import headwater.ingest.database
    import headwater.ingest.files
    import headwater.ingest.rest  # noqa: F401
