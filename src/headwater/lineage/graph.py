"""The project's column graph: every asset's columns and where each one comes from.

Models get their lineage from their SQL (`lineage.columns`), computed in dependency order so
that a model reading a view, an ephemeral model or `select *` of another model sees that
model's columns as its SQL makes them now. Seeds and sources are the roots: their columns come
from the schema last recorded for them (or their stored table, or their YAML). A lineage
document computed before is reused while its key, the model's SQL and its upstream columns,
is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from headwater.digest import content_hash
from headwater.lineage.column_sources import (
    DIRECT_SUBTYPES,
    ColumnSource,
    LineageError,
    ModelLineage,
)
from headwater.project.kinds import BuildKind

if TYPE_CHECKING:
    from headwater.catalog.lineage import StoredLineage
    from headwater.catalog.store import Catalog
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore

LINEAGE_VERSION = "4"
"""Part of every cache key: bump when `model_lineage` answers differently for the same SQL.
3: sources say whether they carry the value (`ColumnSource.carries`).
4: a whole row (`to_json(t)`) has every column of `t` as a source, a column bounding a window's
frame is a WINDOW source, and an output that reads a column yet has no source is an error."""

SNAPSHOT_COLUMNS = ("valid_from", "valid_to", "is_current")

SchemaLookup = Callable[[str], list[tuple[str, str]] | None]
"""(column, type) pairs of a stored asset's current table, or None when it has none yet."""

Qualifier = Callable[[str], str]
"""A model's SQL with every table reference fully qualified (ephemeral models not inlined)."""


@dataclass(frozen=True)
class AssetColumns:
    """One asset's columns and, for a model, where each comes from."""

    asset: str
    columns: tuple[str, ...]
    types: Mapping[str, str] = field(default_factory=dict)
    lineage: ModelLineage | None = None
    error: str | None = None
    """Why the model's column lineage could not be computed (its table lineage still holds)."""
    cache_key: str | None = None
    computed: bool = False
    """True when the lineage was computed now rather than reused from the catalog."""

    def document(self) -> dict[str, Any]:
        """What the catalog keeps: the columns and their lineage."""
        return {
            "columns": list(self.columns),
            "types": dict(self.types),
            "lineage": self.lineage.to_json() if self.lineage else None,
            "error": self.error,
        }


def _sql_type(arrow_type: str) -> str:
    """A SQL type sqlglot can read for an Arrow type name; only names matter for lineage, but
    structs must stay structs so `col.field` is read as a field, not a table."""
    lowered = arrow_type.lower()
    if lowered.startswith("struct"):
        return "STRUCT<x INT>"
    if lowered.startswith(("list", "large_list")):
        return "INT[]"
    return "VARCHAR"


def _key(*parts: str) -> str:
    return content_hash(*parts)[:32]


class LineageBuilder:
    """Works out the columns and column lineage of a project's assets, each once."""

    def __init__(
        self,
        definition: ProjectDefinition,
        qualify: Qualifier,
        schema_of: SchemaLookup,
        stored: Mapping[str, StoredLineage] | None = None,
    ) -> None:
        self.definition = definition
        self.qualify = qualify
        self.schema_of = schema_of
        self.stored = dict(stored or {})
        self._done: dict[str, AssetColumns] = {}

    def all(self) -> dict[str, AssetColumns]:
        """Every asset's columns and lineage, by key."""
        for key in self.definition.assets:
            self.of(key)
        return dict(self._done)

    def of(self, key: str) -> AssetColumns:
        """The columns and lineage of asset `key`."""
        done = self._done.get(key)
        if done is None:
            for parent in self._upstream_first(key):
                self._done[parent] = self._compute(self.definition.assets[parent])
            done = self._done[key]
        return done

    def _upstream_first(self, key: str) -> list[str]:
        """`key` and its not yet computed ancestors, parents before children."""
        order: list[str] = []
        seen: set[str] = set()
        stack: list[tuple[str, bool]] = [(key, False)]
        while stack:
            current, expanded = stack.pop()
            if expanded:
                order.append(current)
                continue
            if current in seen or current in self._done:
                continue
            seen.add(current)
            stack.append((current, True))
            for parent in self.definition.assets[current].depends_on:
                if parent not in seen and parent not in self._done:
                    stack.append((parent, False))
        return order

    def _compute(self, asset: Asset) -> AssetColumns:
        if asset.sql is None:
            return self._root(asset)
        return self._model(asset)

    def _root(self, asset: Asset) -> AssetColumns:
        pairs = self.schema_of(asset.key)
        if pairs is None:
            config = asset.model or asset.seed
            pairs = [(c.name, c.type or "") for c in (config.columns if config else [])]
            if not pairs and asset.source is not None:
                declared = asset.source.table.columns
                pairs = [(name, column.type or "") for name, column in declared.items()]
        return AssetColumns(asset.key, tuple(n for n, _ in pairs), dict(pairs))

    def _model(self, asset: Asset) -> AssetColumns:
        from headwater.errors import HeadwaterError

        try:
            sql = self.qualify(asset.key)
        except HeadwaterError as exc:
            return self._failed(asset, f"the SQL does not compile: {exc.message}")
        schemas: dict[str, dict[str, str]] = {}
        for parent in asset.depends_on:
            upstream = self._done[parent]
            schemas[parent.lower()] = {
                name: _sql_type(upstream.types.get(name, "")) for name in upstream.columns
            }
        cache_key = _key(LINEAGE_VERSION, sql, json.dumps(schemas, sort_keys=True))
        stored = self.stored.get(asset.key)
        if stored is not None and stored.cache_key == cache_key:
            return self._from_document(asset, cache_key, stored.document)
        try:
            lineage = model_lineage_of(sql, schemas)
        except LineageError as exc:
            return self._failed(asset, str(exc), cache_key)
        columns = list(lineage.columns)
        if asset.materialized == BuildKind.SNAPSHOT:
            columns.extend(c for c in SNAPSHOT_COLUMNS if c not in lineage.columns)
        types = dict(self.schema_of(asset.key) or []) if asset.is_stored else {}
        return AssetColumns(
            asset.key, tuple(columns), types, lineage, None, cache_key, computed=True
        )

    def _from_document(
        self, asset: Asset, cache_key: str, document: Mapping[str, Any]
    ) -> AssetColumns:
        raw = document.get("lineage")
        return AssetColumns(
            asset.key,
            tuple(document.get("columns") or ()),
            dict(document.get("types") or {}),
            ModelLineage.from_json(raw) if raw else None,
            document.get("error"),
            cache_key,
        )

    def _failed(self, asset: Asset, error: str, cache_key: str | None = None) -> AssetColumns:
        pairs = self.schema_of(asset.key) or []
        return AssetColumns(
            asset.key,
            tuple(n for n, _ in pairs),
            dict(pairs),
            None,
            error,
            cache_key,
            computed=cache_key is not None,
        )


def model_lineage_of(sql: str, schemas: Mapping[str, Mapping[str, str]]) -> ModelLineage:
    """`model_lineage`, with any failure of the SQL analysis reported as a LineageError."""
    from headwater.lineage.columns import model_lineage

    try:
        return model_lineage(sql, schemas)
    except LineageError:
        raise
    except Exception as exc:  # sqlglot's optimizer raises many kinds; none may stop a run
        raise LineageError(f"{type(exc).__name__}: {exc}") from exc


def stored_schemas(
    definition: ProjectDefinition, catalog: Catalog, store: TableStore
) -> SchemaLookup:
    """Looks up stored assets' columns: as last recorded in the catalog, else as the table
    has them."""
    from headwater.catalog.lineage import latest_schemas
    from headwater.storage.base import TableRef

    recorded = latest_schemas(catalog, [k for k, a in definition.assets.items() if a.is_stored])

    def schema_of(key: str) -> list[tuple[str, str]] | None:
        asset = definition.assets[key]
        if not asset.is_stored:
            return None
        found = recorded.get(key)
        if found is not None:
            return found
        ref = TableRef.of(asset)
        if not store.exists(ref):
            return None
        return [(f.name, str(f.type)) for f in store.snapshot(ref).schema]

    return schema_of


def project_graph(
    definition: ProjectDefinition, qualify: Qualifier, catalog: Catalog, store: TableStore
) -> ColumnGraph:
    """The column graph of the whole project, reusing the lineage the catalog keeps."""
    from headwater.catalog.lineage import stored_lineage

    builder = LineageBuilder(
        definition, qualify, stored_schemas(definition, catalog, store), stored_lineage(catalog)
    )
    return ColumnGraph(definition, builder.all())


# -- the graph ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRef:
    """One column of one asset."""

    asset: str
    column: str

    def __str__(self) -> str:
        return f"{self.asset}.{self.column}"


@dataclass(frozen=True)
class Edge:
    """`target` is derived from (or influenced by) `source`, as `type`/`subtype` say.

    Attributes:
        source: the upstream column.
        target: the downstream column.
        type: DIRECT or INDIRECT.
        subtype: as `ColumnSource.subtype`.
        carries: `target` still holds `source`'s value or part of it (`ColumnSource.carries`);
            always False for an INDIRECT edge. Personal-data tags follow only such edges.
    """

    source: ColumnRef
    target: ColumnRef
    type: str
    subtype: str
    carries: bool


@dataclass
class LineageNode:
    """A column in a lineage tree, with the columns one step further up or down."""

    ref: ColumnRef
    type: str | None = None
    subtype: str | None = None
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False
    """The column was already shown higher in the tree (its branch is not repeated)."""
    truncated: bool = False
    """The depth limit cut the branch here."""

    def to_json(self) -> dict[str, Any]:
        """The tree as plain data."""
        return {
            "asset": self.ref.asset,
            "column": self.ref.column,
            "type": self.type,
            "subtype": self.subtype,
            "repeated": self.repeated,
            "truncated": self.truncated,
            "children": [child.to_json() for child in self.children],
        }


class ColumnGraph:
    """Column-to-column edges of a whole project, walkable both ways."""

    def __init__(self, definition: ProjectDefinition, assets: Mapping[str, AssetColumns]) -> None:
        self.definition = definition
        self.assets = dict(assets)
        self._up: dict[ColumnRef, list[Edge]] = {}
        self._down: dict[ColumnRef, list[Edge]] = {}
        keys = {key.lower(): key for key in self.assets}
        for info in self.assets.values():
            for edge in self._edges_of(info, keys):
                self._up.setdefault(edge.target, []).append(edge)
                self._down.setdefault(edge.source, []).append(edge)

    def columns(self, asset: str) -> tuple[str, ...]:
        """The columns of `asset` in order."""
        info = self.assets.get(asset)
        return info.columns if info else ()

    def column(self, asset: str, name: str) -> str | None:
        """`name` as `asset` spells it (names match case-insensitively), or None."""
        wanted = name.lower()
        return next((c for c in self.columns(asset) if c.lower() == wanted), None)

    def upstream(self, ref: ColumnRef) -> list[Edge]:
        """The edges into `ref`: what it is computed from."""
        return list(self._up.get(ref, ()))

    def downstream(self, ref: ColumnRef) -> list[Edge]:
        """The edges out of `ref`: what is computed from it."""
        return list(self._down.get(ref, ()))

    def _edges_of(self, info: AssetColumns, keys: Mapping[str, str]) -> Iterator[Edge]:
        """The edges into `info`'s columns: each column's own sources, and the dataset-wide
        influences (join keys, filters, grouping) on every column."""
        if info.lineage is None:
            return
        targets = [self._ref(info.asset, column) for column in info.lineage.columns]
        for target, sources in zip(targets, info.lineage.columns.values(), strict=True):
            for source in sources:
                yield self._edge(source, target, keys)
        for source in info.lineage.dataset:
            for target in targets:
                yield self._edge(source, target, keys)

    def _edge(self, source: ColumnSource, target: ColumnRef, keys: Mapping[str, str]) -> Edge:
        return Edge(self._source(source, keys), target, source.type, source.subtype, source.carries)

    def _ref(self, asset: str, column: str) -> ColumnRef:
        return ColumnRef(asset, self.column(asset, column) or column)

    def _source(self, source: ColumnSource, keys: Mapping[str, str]) -> ColumnRef:
        return self._ref(keys.get(source.asset.lower(), source.asset), source.column)

    def edges(self) -> Iterator[Edge]:
        """Every edge of the graph."""
        for edges in self._up.values():
            yield from edges

    def tree(self, ref: ColumnRef, direction: str, depth: int | None = None) -> LineageNode:
        """The lineage of `ref` as a tree, `direction` "upstream" or "downstream", at most
        `depth` steps deep (None: all the way)."""
        step = self.upstream if direction == "upstream" else self.downstream
        root = LineageNode(ref)
        shown: set[ColumnRef] = {ref}
        frontier = [(root, 0)]
        while frontier:
            node, level = frontier.pop(0)
            edges = step(node.ref)
            if edges and depth is not None and level >= depth:
                node.truncated = True
                continue
            for edge in sorted(edges, key=lambda e: (e.type, str(e.source), str(e.target))):
                other = edge.source if direction == "upstream" else edge.target
                child = LineageNode(other, edge.type, edge.subtype)
                node.children.append(child)
                if other in shown:
                    child.repeated = bool(step(other))
                    continue
                shown.add(other)
                frontier.append((child, level + 1))
        return root

    def reachable(self, ref: ColumnRef, direction: str) -> dict[ColumnRef, tuple[int, Edge]]:
        """Every column reachable from `ref`, with its distance and how it depends on `ref`
        (or `ref` on it) along the whole path.

        The returned edge is the last step (its `source` is the column it was reached through)
        with the type and subtype of the path: a path with an INDIRECT step is INDIRECT, of the
        subtype of the first such step from the upstream end (how the upstream column's
        influence enters); an all-DIRECT path has the strongest subtype on it (IDENTITY <
        TRANSFORMATION < AGGREGATION). Its `carries` is True when every step of the path
        carries the value.
        Of paths of the same length a DIRECT one is kept, and of DIRECT ones one that carries
        the value (so `carries` is True when any shortest DIRECT path carries). Only the
        shortest paths to a column count, so a column reached through a JOIN at one step and by
        value at two comes out INDIRECT: to follow values, walk the `carries` edges of
        `downstream`.
        """
        downstream = direction != "upstream"
        step = self.downstream if downstream else self.upstream
        found: dict[ColumnRef, tuple[int, Edge]] = {}
        frontier: list[tuple[ColumnRef, Edge | None]] = [(ref, None)]
        level = 0
        while frontier:
            level += 1
            reached: dict[ColumnRef, Edge] = {}
            for current, path in frontier:
                for edge in step(current):
                    other = edge.target if downstream else edge.source
                    if other == ref or other in found:
                        continue
                    if path is None:
                        kind = (edge.type, edge.subtype)
                    elif downstream:
                        kind = _chain((path.type, path.subtype), (edge.type, edge.subtype))
                    else:
                        kind = _chain((edge.type, edge.subtype), (path.type, path.subtype))
                    carries = edge.carries and (path is None or path.carries)
                    composed = replace(edge, type=kind[0], subtype=kind[1], carries=carries)
                    if _better(composed, reached.get(other)):
                        reached[other] = composed
            for other, composed in reached.items():
                found[other] = (level, composed)
            frontier = list(reached.items())
        return found


def _better(path: Edge, before: Edge | None) -> bool:
    """Whether `path` describes a column better than `before`, a path of the same length:
    a DIRECT path beats an INDIRECT one, and a DIRECT path that carries the value one that
    does not (`length(email)` and `email` meeting in `a || b`: the result holds the e-mail)."""
    if before is None:
        return True
    if before.type != "DIRECT":
        return path.type == "DIRECT"
    return path.type == "DIRECT" and path.carries and not before.carries


def _chain(upstream: tuple[str, str], use: tuple[str, str]) -> tuple[str, str]:
    """How a column depends on a column further up, given how it uses (`use`) a column that
    depends on that one as `upstream` says: once INDIRECT, the path stays so, named by the
    role the upstream column plays where its influence enters (a FILTER stays a FILTER through
    the joins after it); DIRECT steps keep the strongest direct subtype."""
    if upstream[0] == "INDIRECT":
        return upstream
    if use[0] == "INDIRECT":
        return use
    if DIRECT_SUBTYPES.index(use[1]) > DIRECT_SUBTYPES.index(upstream[1]):
        return use
    return upstream
