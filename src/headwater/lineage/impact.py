"""What changing or dropping one column would affect: columns, checks and assets downstream."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.lineage.graph import ColumnGraph, ColumnRef
from headwater.project.definition import AssetIndex

if TYPE_CHECKING:
    from headwater.project.checks import Check
    from headwater.project.definition import Asset


@dataclass(frozen=True)
class AffectedColumn:
    """A downstream column, how far away it is and how it depends on the changed one."""

    ref: ColumnRef
    distance: int
    type: str
    subtype: str
    via: ColumnRef
    """The column one step up through which the change reaches it."""


@dataclass(frozen=True)
class AffectedCheck:
    """A check that reads an affected column."""

    asset: str
    check: str
    check_type: str
    column: str
    severity: str


@dataclass
class Impact:
    """Everything downstream of one column."""

    ref: ColumnRef
    columns: list[AffectedColumn] = field(default_factory=list)
    checks: list[AffectedCheck] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    """Assets holding an affected column (the consumers), nearest first."""
    unknown: list[str] = field(default_factory=list)
    """Downstream assets whose column lineage could not be worked out (they may be affected)."""
    consumers: list[dict[str, str]] = field(default_factory=list)
    """Other things that use the affected assets (jobs, sensors), filled in by the caller."""

    def to_json(self) -> dict[str, Any]:
        """The impact as plain data."""
        return {
            "column": str(self.ref),
            "columns": [
                {
                    "asset": c.ref.asset,
                    "column": c.ref.column,
                    "distance": c.distance,
                    "type": c.type,
                    "subtype": c.subtype,
                    "via": str(c.via),
                }
                for c in self.columns
            ],
            "checks": [c.__dict__ for c in self.checks],
            "assets": self.assets,
            "unknown": self.unknown,
            "consumers": self.consumers,
        }


def impact_of(graph: ColumnGraph, ref: ColumnRef) -> Impact:
    """What depends on `ref`: every downstream column (directly or as a join key, filter,
    grouping...), every check reading one of those columns (or `ref` itself), and the assets
    holding them."""
    reached = graph.reachable(ref, "downstream")
    impact = Impact(ref)
    for target, (distance, edge) in sorted(
        reached.items(), key=lambda item: (item[1][0], item[0].asset, item[0].column)
    ):
        impact.columns.append(
            AffectedColumn(target, distance, edge.type, edge.subtype, edge.source)
        )
    affected = {(c.asset.lower(), c.column.lower()) for c in (ref, *reached)}
    nearest: dict[str, int] = {}
    for target, (distance, _) in reached.items():
        nearest[target.asset] = min(distance, nearest.get(target.asset, distance))
    impact.assets = sorted(nearest, key=lambda key: (nearest[key], key))
    index = AssetIndex(graph.definition.assets)
    for asset in graph.definition.assets.values():
        for check in asset.checks:
            for column in _check_columns(check, asset, index):
                if (column.asset.lower(), column.column.lower()) in affected:
                    impact.checks.append(
                        AffectedCheck(
                            asset.key,
                            check.label,
                            str(getattr(check, "type", "")),
                            column.column,
                            check.severity,
                        )
                    )
                    break
    impact.unknown = _unanalysed_downstream(graph, ref.asset)
    return impact


def _unanalysed_downstream(graph: ColumnGraph, start: str) -> list[str]:
    children = graph.definition.downstream()
    found: list[str] = []
    seen = {start}
    frontier = [start]
    while frontier:
        following = []
        for key in frontier:
            for child in children.get(key, []):
                if child in seen:
                    continue
                seen.add(child)
                following.append(child)
                info = graph.assets.get(child)
                if info is not None and info.error is not None:
                    found.append(child)
        frontier = following
    return found


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_columns(check: Check, asset: Asset, index: AssetIndex) -> list[ColumnRef]:
    """The columns a check reads: its own, the columns of a uniqueness or expression check
    (every name in its SQL), and the parent column a relationships check points at."""
    from headwater.errors import ConfigError
    from headwater.project.sql import TableReference

    names: list[str] = []
    if check.column:
        names.append(check.column)
    names.extend(getattr(check, "columns", None) or [])
    sql = getattr(check, "sql", None)
    refs = [ColumnRef(asset.key, n) for n in names]
    if sql and str(getattr(check, "type", "")) == "expression":
        refs.extend(ColumnRef(asset.key, word) for word in _WORD.findall(sql))
    target = getattr(check, "to", None)
    if target:
        namespace, _, bare = str(target).rpartition(".")
        try:
            key = index.resolve(
                TableReference(namespace or None, bare, None), asset.key, asset.rel_path
            )
        except ConfigError:
            key = str(target)
        refs.append(ColumnRef(key, str(getattr(check, "field", ""))))
    return refs
