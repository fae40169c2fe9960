"""What the asset graph draws, and the settings of the layout that places it.

The layout itself runs in the browser (`static/graph.js`) with dagre, a maintained layered-graph
(Sugiyama) layout vendored from npm by `scripts/vendor_js.sh`: it ranks the assets left to
right, orders each column to untangle crossings and threads every edge that skips columns
through a free slot of each column it crosses, so an edge never runs through a box it does not
connect. This module decides the nodes and edges given to it, the same for the live UI and the
static docs site.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NODE_WIDTH = 200
NODE_HEIGHT = 40
RANK_GAP = 80
"""Horizontal space between two columns, where edges bend."""
NODE_GAP = 14
"""Vertical space between two boxes of a column."""
EDGE_GAP = 10
"""Vertical space around an edge passing through a column."""
MARGIN = 16


@dataclass(frozen=True)
class GraphEdge:
    """A dependency: `target` reads `source`."""

    source: str
    target: str


def graph_edges(keys: Sequence[str], parents: Mapping[str, Sequence[str]]) -> list[GraphEdge]:
    """Return the edges among `keys` given each key's `parents`, each once, in `keys` order.

    Parents outside `keys` (left out by a selector) are dropped, as is a repeated dependency.
    """
    chosen = set(keys)
    edges: list[GraphEdge] = []
    seen: set[tuple[str, str]] = set()
    for key in keys:
        for parent in parents.get(key, ()):
            if parent in chosen and parent != key and (parent, key) not in seen:
                seen.add((parent, key))
                edges.append(GraphEdge(parent, key))
    return edges


def layout_settings() -> dict[str, int]:
    """Return the sizes the browser lays the graph out with (box size and gaps, in pixels)."""
    return {
        "nodeWidth": NODE_WIDTH,
        "nodeHeight": NODE_HEIGHT,
        "rankGap": RANK_GAP,
        "nodeGap": NODE_GAP,
        "edgeGap": EDGE_GAP,
        "margin": MARGIN,
    }
