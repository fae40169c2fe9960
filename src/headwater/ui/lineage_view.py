"""A project's column graph as one reader sees it: only the columns of assets it may read.

Walking it (trees, reachable columns) stops at a column of a hidden asset, so a lineage shown
to the reader neither names a hidden asset or column nor reveals a path through one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from headwater.lineage.graph import ColumnGraph, ColumnRef, Edge


class VisibleColumns(ColumnGraph):
    """The part of `graph` whose assets `sees` admits; it shares the graph's edges, built
    once per project, instead of building its own."""

    def __init__(self, graph: ColumnGraph, sees: Callable[[str], bool]) -> None:
        # no ColumnGraph.__init__: that would compute every edge again
        self.definition = graph.definition
        self.assets = {key: info for key, info in graph.assets.items() if sees(key)}
        self._whole = graph
        self._sees = sees

    def upstream(self, ref: ColumnRef) -> list[Edge]:
        """The edges into `ref` from visible columns (none into a hidden column)."""
        if not self._sees(ref.asset):
            return []
        return [e for e in self._whole.upstream(ref) if self._sees(e.source.asset)]

    def downstream(self, ref: ColumnRef) -> list[Edge]:
        """The edges out of `ref` into visible columns (none out of a hidden column)."""
        if not self._sees(ref.asset):
            return []
        return [e for e in self._whole.downstream(ref) if self._sees(e.target.asset)]

    def edges(self) -> Iterator[Edge]:
        """Every edge between two visible columns."""
        for edge in self._whole.edges():
            if self._sees(edge.source.asset) and self._sees(edge.target.asset):
                yield edge
