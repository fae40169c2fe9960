"""Extractors by source kind: `kind: files` in a source's YAML picks the factory registered here.

Each built-in extractor module (`files.py`, `database.py`, `rest.py`) registers its factory at
import through the same `register_extractor` a plugin would call; the loader asks
`extractor_for(kind)` and never branches on the kind itself. The built-ins are imported on the
first look-up, so importing Headwater loads no extractor.
"""

from __future__ import annotations

from collections.abc import Callable

from headwater.errors import ConfigError
from headwater.ingest.base import Extractor

ExtractorFactory = Callable[[], Extractor]
"""Makes the extractor that reads one table of a source of its kind."""

_FACTORIES: dict[str, ExtractorFactory] = {}


def register_extractor(kind: str, factory: ExtractorFactory) -> None:
    """Make sources of `kind` (their `kind:` key) read their tables with `factory`'s extractor."""
    _FACTORIES[kind] = factory


def extractor_for(kind: str) -> Extractor:
    """Return a new extractor for sources of `kind`.

    Raises:
        ConfigError: no extractor is registered for `kind`.
    """
    _register_builtins()
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigError(
            f"no extractor reads sources of kind {kind!r}",
            hint=f"use one of: {', '.join(sorted(_FACTORIES))}",
        )
    return factory()


def _register_builtins() -> None:
    # imported here: each module registers its extractor when first imported
    import headwater.ingest.database
    import headwater.ingest.files
    import headwater.ingest.rest  # noqa: F401
