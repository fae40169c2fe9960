"""Builders by build kind: how each kind of asset is built, registered by name.

Every capability registers its builders here through the same `register` call a plugin would
use (transform its materializations, ingest its source loads), and the orchestrator looks a
builder up by the asset's `build_kind`: it never dispatches on the kind itself.
"""

from __future__ import annotations

from collections.abc import Callable

from headwater.build.context import BuildContext, BuildResult
from headwater.errors import ModelError

Builder = Callable[[BuildContext], BuildResult]
"""Builds one asset in its context and says what it committed."""

_REGISTRY: dict[str, Builder] = {}


def register(name: str, builder: Builder) -> None:
    """Make `builder` the way assets of build kind `name` are built (`materialized: name` for
    a model)."""
    _REGISTRY[name] = builder


def builder_for(name: str) -> Builder:
    """Return the builder registered for build kind `name`; raises `ModelError` naming the
    registered ones when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"no materialization named '{name}'",
            hint=f"use one of: {', '.join(sorted(_REGISTRY))}",
        ) from None
