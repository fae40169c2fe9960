"""Column lineage as commands and the API report it: the project's column graph, a column
named by a user, its lineage trees and the impact of changing it.

Names are resolved as every command resolves them (`asset` or `asset.column`, columns matched
case-insensitively and returned as the asset spells them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.lineage.graph import ColumnGraph
    from headwater.lineage.impact import Impact
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore


def project_column_graph(
    definition: ProjectDefinition, catalog: Catalog, store: TableStore
) -> ColumnGraph:
    """Every asset's columns and where each comes from, reusing the lineage the catalog keeps."""
    from headwater.build.compiler import Compiler
    from headwater.lineage.graph import project_graph

    compiler = Compiler(definition)
    return project_graph(definition, compiler.qualified, catalog, store)


def asset_and_column(definition: ProjectDefinition, name: str) -> tuple[str, str | None]:
    """Split `name` (`asset`, or `asset.column`) into an asset key and the column as written
    (None when `name` is an asset).

    Raises:
        NotFoundError: `name` names no asset, and without its last part names none either.
    """
    from headwater.project.lookup import find_asset

    try:
        return find_asset(definition, name).key, None
    except NotFoundError as missing:
        if "." not in name:
            raise
        table, _, wanted = name.rpartition(".")
        try:
            return find_asset(definition, table).key, wanted
        except NotFoundError:
            raise missing from None


def column_named(graph: ColumnGraph, key: str, wanted: str) -> str:
    """Column `wanted` of asset `key` as the asset spells it.

    Raises:
        NotFoundError: the asset has no such column; lists the columns it has.
    """
    found = graph.column(key, wanted)
    if found is None:
        columns = ", ".join(graph.columns(key)) or "(none known: build it first)"
        raise NotFoundError(f"{key} has no column '{wanted}'", hint=f"its columns are: {columns}")
    return found


def column_of(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    name: str,
    graph: ColumnGraph | None = None,
) -> tuple[str, str | None]:
    """Split `name` (`asset`, or `asset.column`) into an asset key and a column as the asset
    spells it (None when `name` is an asset); the column is looked up in `graph` (the
    project's column graph, made when it is needed and not given).

    Raises:
        NotFoundError: no such asset, or the asset has no such column.
    """
    key, wanted = asset_and_column(definition, name)
    if wanted is None:
        return key, None
    return key, column_named(graph or project_column_graph(definition, catalog, store), key, wanted)


def lineage_report(
    definition: ProjectDefinition,
    graph: ColumnGraph,
    key: str,
    column: str | None,
    direction: str = "both",
    depth: int | None = None,
) -> dict[str, Any]:
    """The column lineage of asset `key` (only of `column`, when given): the assets it reads
    and is read by and, for each column, its upstream and/or downstream tree (`direction`:
    upstream, downstream or both), at most `depth` steps deep."""
    from headwater.lineage.graph import ColumnRef

    info = graph.assets[key]
    directions = ["upstream", "downstream"] if direction == "both" else [direction]
    columns = [column] if column else list(info.columns)
    return {
        "asset": key,
        "error": info.error,
        "upstream_assets": sorted(definition.assets[key].depends_on),
        "downstream_assets": sorted(definition.downstream()[key]),
        "columns": {
            c: {d: graph.tree(ColumnRef(key, c), d, depth).to_json() for d in directions}
            for c in columns
        },
    }


def column_impact(graph: ColumnGraph, key: str, column: str | None, name: str) -> Impact:
    """What changing or dropping `column` of asset `key` (as the user wrote it: `name`)
    affects downstream: columns, checks and assets.

    Raises:
        UsageError: `name` names an asset, not a column.
    """
    from headwater.lineage.graph import ColumnRef
    from headwater.lineage.impact import impact_of

    if column is None:
        raise UsageError(
            f"'{name}' names an asset; impact is about one column",
            hint=f"name a column: {key}.<column> (its columns: {', '.join(graph.columns(key))})",
        )
    return impact_of(graph, ColumnRef(key, column))


def lineage_of(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    name: str,
    direction: str = "both",
    depth: int | None = None,
) -> dict[str, Any]:
    """The column lineage of `name` (`asset` or `asset.column`) as `lineage_report` gives it,
    over the project's column graph.

    Raises:
        NotFoundError: no such asset, or the asset has no such column.
    """
    graph = project_column_graph(definition, catalog, store)
    key, column = column_of(definition, catalog, store, name, graph)
    return lineage_report(definition, graph, key, column, direction, depth)


def impact_of_column(
    definition: ProjectDefinition, catalog: Catalog, store: TableStore, name: str
) -> Impact:
    """What changing or dropping column `name` (`asset.column`) affects downstream in the
    project's column graph: columns, checks and assets (not yet who runs them).

    Raises:
        NotFoundError: no such asset, or the asset has no such column.
        UsageError: `name` names an asset, not a column.
    """
    graph = project_column_graph(definition, catalog, store)
    key, column = column_of(definition, catalog, store, name, graph)
    return column_impact(graph, key, column, name)
