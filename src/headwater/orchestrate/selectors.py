"""dbt's node selection grammar over the asset graph.

`a b` is a union, `a,b` an intersection. An atom is a name or `method:value` (`tag:`, `path:`,
`namespace:`, `kind:`, `config.<key>:`), with wildcards, optionally wrapped in graph operators:
`+name` (ancestors), `name+` (descendants), `2+name` / `name+1` (to a depth) and `@name` (the
descendants and every ancestor they need).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import UsageError
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.kinds import AssetKind
from headwater.project.yamlfile import closest

ATOM = re.compile(r"^(?P<at>@)?(?:(?P<up>\d*)\+)?(?P<body>[^+]+?)(?:\+(?P<down>\d*))?$")


@dataclass(frozen=True)
class Atom:
    """One parsed selector atom."""

    method: str
    value: str
    ancestors: int | None
    descendants: int | None
    at: bool


def parse_atom(text: str) -> Atom:
    """Parse one atom like `2+config.materialized:incremental+`."""
    match = ATOM.match(text)
    if not match:
        raise UsageError(
            f"cannot parse selector '{text}'",
            hint="examples: orders, +orders, orders+, 2+orders, @orders, tag:daily, "
            "path:models/marts",
        )
    body = match.group("body")
    method, sep, value = body.partition(":")
    if not sep:
        method, value = "name", body
    up, down = match.group("up"), match.group("down")
    return Atom(
        method=method,
        value=value,
        ancestors=None if up is None else (int(up) if up else -1),
        descendants=None if down is None else (int(down) if down else -1),
        at=bool(match.group("at")),
    )


def _config_value(asset: Asset, key: str) -> list[str]:
    if key == "materialized":
        return [asset.materialized]
    config = asset.model or asset.seed
    value = getattr(config, key, None) if config is not None else None
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _matches(asset: Asset, method: str, value: str) -> bool:
    if method == "name":
        return fnmatch.fnmatchcase(asset.key, value) or fnmatch.fnmatchcase(asset.name, value)
    if method == "tag":
        return any(fnmatch.fnmatchcase(t, value) for t in asset.tags)
    if method == "path":
        pattern = value.rstrip("/")
        return (
            asset.rel_path == pattern
            or asset.rel_path.startswith(pattern + "/")
            or fnmatch.fnmatchcase(asset.rel_path, pattern)
        )
    if method == "namespace":
        return fnmatch.fnmatchcase(asset.namespace, value)
    if method == "kind":
        return asset.kind == value
    if method.startswith("config."):
        return any(fnmatch.fnmatchcase(v, value) for v in _config_value(asset, method[7:]))
    raise UsageError(
        f"unknown selector method '{method}'",
        hint="use a name, tag:, path:, namespace:, kind: or config.<key>:",
    )


def _walk(start: Iterable[str], edges: dict[str, list[str]], depth: int) -> set[str]:
    seen: set[str] = set()
    frontier = list(start)
    level = 0
    while frontier and (depth < 0 or level < depth):
        level += 1
        following = []
        for key in frontier:
            for other in edges[key]:
                if other not in seen:
                    seen.add(other)
                    following.append(other)
        frontier = following
    return seen


class Selector:
    """Evaluates selection expressions against one project's graph."""

    def __init__(self, definition: ProjectDefinition) -> None:
        self.assets = definition.assets
        self.parents = {k: list(a.depends_on) for k, a in definition.assets.items()}
        self.children = definition.downstream()

    def ancestors(self, keys: Iterable[str], depth: int = -1) -> set[str]:
        """Every asset that `keys` read, directly or not (to `depth` steps)."""
        return _walk(keys, self.parents, depth)

    def descendants(self, keys: Iterable[str], depth: int = -1) -> set[str]:
        """Every asset that reads `keys`, directly or not (to `depth` steps)."""
        return _walk(keys, self.children, depth)

    def _known_values(self, method: str) -> list[str]:
        """Every value `method` could match, to suggest the closest one to a selector."""
        assets = list(self.assets.values())
        if method == "tag":
            values = [t for a in assets for t in a.tags]
        elif method == "path":
            values = [a.rel_path for a in assets]
            values += [str(Path(v).parent) for v in values]
        elif method == "namespace":
            values = [a.namespace for a in assets]
        elif method == "kind":
            values = [AssetKind.SEED, AssetKind.MODEL]
        elif method.startswith("config."):
            values = [v for a in assets for v in _config_value(a, method[7:])]
        else:
            values = [*self.assets, *(a.name for a in assets)]
        return sorted(set(values))

    def atom(self, text: str) -> set[str]:
        """Assets selected by one atom."""
        atom = parse_atom(text)
        base = {k for k, a in self.assets.items() if _matches(a, atom.method, atom.value)}
        if not base:
            suggestion = closest(atom.value, self._known_values(atom.method))
            if suggestion and atom.method != "name":
                suggestion = f"{atom.method}:{suggestion}"
            raise UsageError(
                f"selector '{text}' matches no asset",
                hint=f"did you mean {suggestion}?"
                if suggestion
                else "list assets with 'headwater dag'",
            )
        selected = set(base)
        if atom.at:
            below = base | self.descendants(base)
            return below | self.ancestors(below)
        if atom.ancestors is not None:
            selected |= self.ancestors(base, atom.ancestors)
        if atom.descendants is not None:
            selected |= self.descendants(base, atom.descendants)
        return selected

    def _intersection(self, term: str) -> set[str]:
        """Assets selected by every atom of `a,b,c`."""
        parts = [self.atom(a) for a in term.split(",") if a]
        return set.intersection(*parts) if parts else set()

    def select(
        self, select: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> set[str]:
        """Assets chosen by `select` (everything when empty) minus those chosen by `exclude`."""
        terms = [t for s in select or [] for t in s.split()]
        chosen = set(self.assets) if not terms else set()
        for term in terms:
            chosen |= self._intersection(term)
        for term in [t for s in exclude or [] for t in s.split()]:
            chosen -= self._intersection(term)
        return chosen


def topological(assets: dict[str, Asset], keys: Iterable[str]) -> list[str]:
    """Order `keys` so every asset comes after the ones it reads (stable by name)."""
    wanted = set(keys)
    remaining = {k: {p for p in assets[k].depends_on if p in wanted} for k in wanted}
    order: list[str] = []
    ready = sorted(k for k, parents in remaining.items() if not parents)
    children: dict[str, list[str]] = {k: [] for k in wanted}
    for key, parents in remaining.items():
        for parent in parents:
            children[parent].append(key)
    while ready:
        key = ready.pop(0)
        order.append(key)
        for child in sorted(children[key]):
            remaining[child].discard(key)
            if not remaining[child]:
                ready.append(child)
    return order
