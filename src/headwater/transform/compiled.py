"""The SQL that builds a model, as `headwater compile` shows it: templates rendered, names
qualified, and the incremental branch taken when the model's table already exists (as the next
build would take it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.project.kinds import BuildKind
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore


def compiled_sql(definition: ProjectDefinition, store: TableStore, asset: Asset) -> str:
    """Return the SQL that builds model `asset` now.

    Raises:
        UsageError: the asset has no SQL (a seed or a source table).
    """
    from headwater.build.compiler import Compiler

    if asset.sql is None:
        raise UsageError(f"{asset.key} is a seed; it has no SQL", hint="compile a model")
    incremental = asset.materialized in (
        BuildKind.INCREMENTAL,
        BuildKind.SNAPSHOT,
    ) and store.exists(TableRef.of(asset))
    compiler = Compiler(definition)
    sql = compiler.compile(asset.key, is_incremental=incremental)
    compiler.save()
    return sql
