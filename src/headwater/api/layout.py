"""Left-to-right layout of the asset graph, for drawing it as SVG.

A layered (Sugiyama-style) layout, small enough to read: each asset sits in the column of its
longest path from a root, and a few sweeps order each column by the mean position of its
neighbours, which untangles most crossings of a typical staging -> marts project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NODE_WIDTH = 200
NODE_HEIGHT = 40
COLUMN_GAP = 70
ROW_GAP = 12
MARGIN = 16
SWEEPS = 4


@dataclass(frozen=True)
class PlacedNode:
    """An asset's box: its top-left corner and column."""

    key: str
    x: int
    y: int
    layer: int


@dataclass(frozen=True)
class PlacedEdge:
    """A dependency drawn from the right side of `source` to the left side of `target`."""

    source: str
    target: str
    path: str
    """SVG path data of a smooth curve."""


@dataclass(frozen=True)
class Layout:
    """Where everything goes, and how big the drawing is."""

    nodes: list[PlacedNode]
    edges: list[PlacedEdge]
    width: int
    height: int


def layout(keys: Sequence[str], parents: Mapping[str, Sequence[str]]) -> Layout:
    """Place `keys` (in dependency order) given each one's `parents`; parents outside `keys`
    are ignored."""
    chosen = set(keys)
    layer: dict[str, int] = {}
    for key in keys:
        ups = [p for p in parents.get(key, ()) if p in chosen]
        layer[key] = 1 + max((layer[p] for p in ups if p in layer), default=-1)
    columns: dict[int, list[str]] = {}
    for key in keys:
        columns.setdefault(layer[key], []).append(key)
    children: dict[str, list[str]] = {key: [] for key in keys}
    for key in keys:
        for parent in parents.get(key, ()):
            if parent in chosen:
                children[parent].append(key)
    order = {key: n for column in columns.values() for n, key in enumerate(column)}
    depth = max(columns, default=-1) + 1
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        for index in range(1, depth) if downward else range(depth - 2, -1, -1):
            column = columns[index]
            neighbours = (
                {k: [p for p in parents.get(k, ()) if p in chosen] for k in column}
                if downward
                else children
            )
            column.sort(key=lambda k: _barycenter(neighbours.get(k, []), order, order[k]))
            for n, key in enumerate(column):
                order[key] = n
    nodes = []
    position: dict[str, PlacedNode] = {}
    for index, column in sorted(columns.items()):
        for row, key in enumerate(column):
            node = PlacedNode(
                key,
                MARGIN + index * (NODE_WIDTH + COLUMN_GAP),
                MARGIN + row * (NODE_HEIGHT + ROW_GAP),
                index,
            )
            nodes.append(node)
            position[key] = node
    edges = []
    for key in keys:
        for parent in parents.get(key, ()):
            if parent in position:
                edges.append(PlacedEdge(parent, key, _curve(position[parent], position[key])))
    tallest = max((len(c) for c in columns.values()), default=0)
    width = 2 * MARGIN + depth * NODE_WIDTH + max(depth - 1, 0) * COLUMN_GAP
    height = 2 * MARGIN + tallest * NODE_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    return Layout(nodes, edges, width, height)


def _barycenter(neighbours: Sequence[str], order: Mapping[str, int], current: int) -> float:
    if not neighbours:
        return float(current)
    return sum(order[n] for n in neighbours) / len(neighbours)


def _curve(source: PlacedNode, target: PlacedNode) -> str:
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT // 2
    x2, y2 = target.x, target.y + NODE_HEIGHT // 2
    bend = max((x2 - x1) // 2, 20)
    return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
