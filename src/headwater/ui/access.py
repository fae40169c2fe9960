"""What one request of the UI may see: every asset, or only those its reader's roles grant.

Under `headwater serve` each request carries a reader (the signed-in user); plain `headwater
ui` has none and shows everything. For a reader that does not read everything an asset it may
not read does not exist: listings leave it out, its page is the 404 of an unknown name, edges
and column lineage stop before it, and text that would name it (run selectors and errors, the
SQL of a model reading it) is left out or has the name replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from headwater.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from headwater.lineage.graph import ColumnGraph
    from headwater.project.definition import Asset, ProjectDefinition

QUOTED_VALUE = re.compile(r"'(?:[^']|'')*'")
"""A single-quoted value in a message."""
HIDDEN = "(hidden)"
"""What replaces the name of an asset the reader may not read in text shown to it."""


class Reader(Protocol):
    """Who reads the UI (a `headwater.orchestrate.principals.Principal`, duck-typed: the UI sits
    below the server and does not import it)."""

    @property
    def everything(self) -> bool:
        """Reads every asset."""
        ...

    def can_read_key(self, key: str) -> bool:
        """Whether asset `key` (`namespace.name`) exists for this reader."""
        ...

    @property
    def masked(self) -> bool:
        """Whether masking or row filters hide anything from it."""
        ...


@dataclass(frozen=True)
class Sight:
    """The assets of `definition` that `reader` may see (all of them without a reader)."""

    definition: ProjectDefinition
    reader: Reader | None = None

    @property
    def everything(self) -> bool:
        """Whether every asset is visible (no reader, or one that reads everything)."""
        return self.reader is None or self.reader.everything

    def sees(self, key: str) -> bool:
        """Whether asset `key` is visible."""
        return self.everything or (self.reader is not None and self.reader.can_read_key(key))

    def sees_all(self, keys: Iterable[str]) -> bool:
        """Whether every asset of `keys` is visible."""
        return all(self.sees(key) for key in keys)

    def only(self, keys: Iterable[str]) -> list[str]:
        """The visible keys of `keys`, in their order."""
        return [key for key in keys if self.sees(key)]

    @cached_property
    def keys(self) -> set[str]:
        """Every visible asset key."""
        return {key for key in self.definition.assets if self.sees(key)}

    def select(self, select: list[str] | None = None) -> list[str]:
        """The visible assets a selector picks, in dependency order (all visible ones
        without a selector).

        The selector is evaluated on the graph of visible assets alone, so `+a` does not
        reach through a hidden asset and a selector's error suggests only visible names.

        Raises:
            UsageError: the selector cannot be parsed or matches no visible asset.
        """
        from headwater.orchestrate.selectors import Selector, topological

        chooser = Selector(self.definition)
        if not self.everything:
            chooser.assets = {k: a for k, a in chooser.assets.items() if self.sees(k)}
            chooser.parents = {
                k: self.only(parents) for k, parents in chooser.parents.items() if self.sees(k)
            }
            chooser.children = {
                k: self.only(children) for k, children in chooser.children.items() if self.sees(k)
            }
        return topological(self.definition.assets, chooser.select(select))

    def asset(self, name: str) -> Asset:
        """The visible asset called `name` (`namespace.name` or a bare name unique among the
        visible ones).

        Raises:
            NotFoundError: no visible asset is called `name`: the same error, hint included,
                as for a name no asset has, suggesting only visible names.
        """
        from headwater.project.definition import AssetIndex
        from headwater.project.lookup import find_asset
        from headwater.project.sql import TableReference

        if self.everything:
            return find_asset(self.definition, name)
        namespace, _, bare = name.rpartition(".")
        index = AssetIndex(dict.fromkeys(self.keys))
        try:
            key = index.resolve(
                TableReference(namespace or None, bare, None), "(command line)", "(command line)"
            )
        except ConfigError as exc:
            raise NotFoundError(
                f"no asset named '{name}'", hint=exc.hint or "list assets with 'headwater dag'"
            ) from None
        return self.definition.assets[key]

    def asset_and_column(self, name: str) -> tuple[str, str | None]:
        """Split `name` (`asset` or `asset.column`) into a visible asset's key and the column
        as written (None when `name` is an asset).

        Raises:
            NotFoundError: `name` names no visible asset, and without its last part names
                none either.
        """
        try:
            return self.asset(name).key, None
        except NotFoundError as missing:
            if "." not in name:
                raise
            table, _, wanted = name.rpartition(".")
            try:
                return self.asset(table).key, wanted
            except NotFoundError:
                raise missing from None

    def columns(self, graph: ColumnGraph) -> ColumnGraph:
        """`graph` with only the visible assets' columns: lineage stops at a hidden asset."""
        if self.everything:
            return graph
        from headwater.ui.lineage_view import VisibleColumns

        return VisibleColumns(graph, self.sees)

    @cached_property
    def _hidden_names(self) -> re.Pattern[str] | None:
        hidden = sorted((k for k in self.definition.assets if not self.sees(k)), key=len)
        if not hidden:
            return None
        names = "|".join(re.escape(key) for key in reversed(hidden))
        # a key inside a longer name (`a.b` in `a.bc`, `x.a.b`) is another name: left alone
        return re.compile(rf"(?<![\w.])(?:{names})(?![\w])", re.IGNORECASE)

    @property
    def masked(self) -> bool:
        """Whether masking hides values from the reader: messages lose their quoted values."""
        return self.reader is not None and self.reader.masked

    def redact(self, text: str | None) -> str | None:
        """`text` with the name of every hidden asset replaced by `HIDDEN`, and, for a masked
        reader, every quoted value (an engine's error quotes the value it failed on:
        `Could not convert string 'Ada Lovelace'`) replaced by `'…'`."""
        if text is None:
            return text
        if self.masked:
            text = QUOTED_VALUE.sub("'…'", text)
        if self.everything or self._hidden_names is None:
            return text
        return self._hidden_names.sub(HIDDEN, text)
