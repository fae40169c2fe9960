"""Finding an asset by the name a user typed: `namespace.name`, or a bare name that is unique.

Commands, the API and the UI all name assets this way; a name that matches nothing (or several
assets) is a `NotFoundError` that suggests the closest asset.
"""

from __future__ import annotations

from headwater.errors import ConfigError, NotFoundError
from headwater.project.definition import Asset, AssetIndex, ProjectDefinition
from headwater.project.sql import TableReference


def find_asset(definition: ProjectDefinition, name: str) -> Asset:
    """Return the asset of `definition` called `name` (`namespace.name` or a unique bare name).

    Raises:
        NotFoundError: no asset, or more than one, is called `name`.
    """
    namespace, _, bare = name.rpartition(".")
    assets = definition.assets
    try:
        key = AssetIndex(assets).resolve(
            TableReference(namespace or None, bare, None), "(command line)", "(command line)"
        )
    except ConfigError as exc:
        raise NotFoundError(
            f"no asset named '{name}'", hint=exc.hint or "list assets with 'headwater dag'"
        ) from None
    return assets[key]
