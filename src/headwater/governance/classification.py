"""Which columns hold personal data: those declared (`pii:` in YAML) and every column derived
from one that still carries its value, found along column lineage.

A declared kind flows along the edges of the column graph whose target carries the source's
value (`Edge.carries`: identity, `lower(email)`, `max(email)`; not `count(email)`, `length`, a
join key or a filter). A column reached from several declared columns holds each of their
kinds. A model whose column lineage could not be computed is not guessed at: when it reads an
asset holding personal data it is listed as unanalysed, with every downstream asset it feeds,
so a report says where classification stops (fail closed) rather than calling it clean.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from headwater.lineage.graph import ColumnGraph, ColumnRef, Edge
from headwater.project.definition import ProjectDefinition


@dataclass(frozen=True)
class Classified:
    """One column holding personal data, and how Headwater knows."""

    column: ColumnRef
    kinds: tuple[str, ...]
    """The kinds of personal data it holds, sorted."""
    declared: bool
    """True when its own YAML says so (`pii:`); False when lineage found it."""
    origins: tuple[ColumnRef, ...]
    """The declared columns its value comes from (itself, when declared), sorted."""
    path: tuple[ColumnRef, ...]
    """One shortest chain of columns from a declared column to this one (both included)."""


@dataclass(frozen=True)
class Unanalysed:
    """An asset downstream of personal data whose columns lineage cannot trace (a model whose
    column lineage is unknown, a stream, a nested child table, or a model reading one of
    those): any of its columns may hold personal data."""

    asset: str
    reason: str
    reads: tuple[str, ...]
    """The assets holding (or possibly holding) personal data that it reads."""


@dataclass
class Classification:
    """Every column known to hold personal data, and where the lineage could not tell."""

    columns: dict[ColumnRef, Classified] = field(default_factory=dict)
    unanalysed: dict[str, Unanalysed] = field(default_factory=dict)
    missing: dict[ColumnRef, str] = field(default_factory=dict)
    """Declared columns (with their kind) that their asset's known columns do not include: a
    misspelt name, which leaves the real column unclassified."""

    def __iter__(self) -> Iterator[Classified]:
        return iter(sorted(self.columns.values(), key=lambda c: (c.column.asset, c.column.column)))

    def kinds(self, asset: str, column: str) -> tuple[str, ...]:
        """The kinds of personal data `asset.column` holds (names match case-insensitively);
        empty when none is known."""
        wanted = column.lower()
        for ref, classified in self.columns.items():
            if ref.asset == asset and ref.column.lower() == wanted:
                return classified.kinds
        return ()


def declared_personal_data(definition: ProjectDefinition) -> dict[ColumnRef, str]:
    """Every column whose YAML declares the kind of personal data it holds (`pii:`)."""
    declared: dict[ColumnRef, str] = {}
    for key in sorted(definition.assets):
        for column, kind in definition.assets[key].personal_data.items():
            declared[ColumnRef(key, column)] = kind
    return declared


def classify(definition: ProjectDefinition, graph: ColumnGraph) -> Classification:
    """Classify every column of the project: the declared ones, then every column their value
    reaches along `graph`'s value-carrying edges.

    Returns:
        The classification; `unanalysed` lists the models downstream of personal data whose
        column lineage is unknown.
    """
    declared: dict[ColumnRef, str] = {}
    missing: dict[ColumnRef, str] = {}
    for ref, kind in declared_personal_data(definition).items():
        spelled = graph.column(ref.asset, ref.column)
        if spelled is None and graph.columns(ref.asset):
            missing[ref] = kind
        declared[ColumnRef(ref.asset, spelled or ref.column)] = kind
    kinds: dict[ColumnRef, set[str]] = {}
    origins: dict[ColumnRef, set[ColumnRef]] = {}
    paths: dict[ColumnRef, tuple[ColumnRef, ...]] = {}
    for origin, kind in declared.items():
        # a walk per declared column: each column learns every kind and origin that reaches it
        seen = {origin}
        queue: deque[tuple[ColumnRef, tuple[ColumnRef, ...]]] = deque([(origin, (origin,))])
        while queue:
            ref, path = queue.popleft()
            kinds.setdefault(ref, set()).add(kind)
            origins.setdefault(ref, set()).add(origin)
            if ref not in paths or len(path) < len(paths[ref]):
                paths[ref] = path
            for edge in graph.downstream(ref):
                if _carries(edge) and edge.target not in seen:
                    seen.add(edge.target)
                    queue.append((edge.target, (*path, edge.target)))
    classification = Classification(missing=missing)
    for ref, held in kinds.items():
        classification.columns[ref] = Classified(
            column=ref,
            kinds=tuple(sorted(held)),
            declared=ref in declared,
            origins=tuple(sorted(origins[ref], key=str)),
            path=paths[ref],
        )
    classification.unanalysed = _unanalysed(definition, graph, {ref.asset for ref in kinds})
    return classification


def _carries(edge: Edge) -> bool:
    """Whether `edge`'s target holds (part of) its source's value."""
    return edge.type == "DIRECT" and edge.carries


def _unanalysed(
    definition: ProjectDefinition, graph: ColumnGraph, holding: set[str]
) -> dict[str, Unanalysed]:
    """The assets whose columns may hold personal data that column lineage cannot trace, in
    dependency order: models reading personal data whose lineage is unknown, streams and
    nested child tables reading it (their columns are not traced), and every model reading
    one of those (what it takes from them is unknown too)."""
    found: dict[str, Unanalysed] = {}
    for key in _in_dependency_order(definition):
        asset = definition.assets[key]
        reads = tuple(
            p for p in (*asset.depends_on, asset.parent or "") if p in holding or p in found
        )
        opaque = tuple(p for p in reads if p in found)
        if asset.sql is None:
            if asset.stream is not None and reads:
                found[key] = Unanalysed(key, "a stream's columns are not traced by lineage", reads)
            elif asset.parent is not None and not asset.is_change_log and reads:
                reason = "a nested child table: its fields are not classified"
                found[key] = Unanalysed(key, reason, reads)
            continue
        info = graph.assets.get(key)
        if info is not None and info.lineage is not None:
            if opaque:
                reason = f"it reads {', '.join(opaque)}, whose columns are not traced"
                found[key] = Unanalysed(key, reason, opaque)
            continue
        if reads:
            reason = (info.error if info is not None else None) or "its column lineage is unknown"
            found[key] = Unanalysed(key, reason, reads)
    return found


def _in_dependency_order(definition: ProjectDefinition) -> list[str]:
    """Every asset key, each after the assets it depends on (a loaded project has no cycle)."""
    from graphlib import TopologicalSorter

    assets = definition.assets
    graph = {key: [p for p in assets[key].depends_on if p in assets] for key in sorted(assets)}
    return list(TopologicalSorter(graph).static_order())
