"""Profiling a published table, refused with a clear message when there is none yet.

`headwater.quality.suite.profile` measures a table; this is the door the Python API and the
commands use, so that profiling an asset never built says so instead of failing on a missing
table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.quality import suite
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.quality.suite import TableProfile
    from headwater.storage.base import TableStore


def profile_published(
    definition: ProjectDefinition, store: TableStore, asset: Asset
) -> TableProfile:
    """Column statistics of `asset`'s published version (see `suite.profile`).

    Raises:
        UsageError: the asset is stored and has not been built yet.
    """
    if asset.is_stored and store.current_version(TableRef.of(asset)) is None:
        raise UsageError(f"{asset.key} has not been built yet", hint="run it first")
    return suite.profile(definition, store, asset)
