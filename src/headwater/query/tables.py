"""Which table a query's name means, and which version of it the query reads.

A query names tables like a model does (`orders`, `core.orders`); a table in the warehouse that
no asset declares (a quarantine or failed copy) can be named too. `as_of` reads every table at
one version number or timestamp (Delta time travel).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from headwater.errors import ConfigError, UsageError
from headwater.project.definition import AssetIndex
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.build.relations import SnapshotPicker
    from headwater.project.definition import ProjectDefinition
    from headwater.project.sql import TableReference
    from headwater.storage.base import Snapshot, TableStore

QUERY_FILE = "(query)"
"""What a query's errors name as their file."""

Visible = Callable[[str, str], bool]
"""Whether a table (namespace, name) exists for the reader: a table it may not read is
answered exactly like a table that does not exist."""


class Rewrite(Protocol):
    """What the reader's policies make of a query before it runs (masking and row filters,
    `headwater.governance.masking.Masking`)."""

    def rewrite(
        self, tree: exp.Query, columns_of: Callable[[str, str], Sequence[str] | None] | None
    ) -> exp.Query:
        """The query `tree` (compiled: every table it reads qualified as namespace.name) as
        this reader may run it, given the columns of each table as it is read (None: not
        known); refuses by raising `UsageError`."""
        ...

    def relations(self) -> dict[str, pa.Table]:
        """Relations the rewritten query reads besides the project's tables, by name."""
        ...


def resolve_table(
    definition: ProjectDefinition,
    store: TableStore,
    reference: TableReference,
    visible: Visible | None = None,
) -> tuple[str, str]:
    """Resolve a table name of a query like a model's (`orders`, `core.orders`).

    A table in the warehouse that no asset declares (a quarantine or failed copy) resolves
    too, when both parts of its name are plain names. With `visible`, only the tables it
    admits exist: the error and its suggestions for any other name are those of a table that
    does not exist.

    Returns:
        The (namespace, name) of the table.

    Raises:
        UsageError: no such table, with the closest names.
    """
    assets = definition.assets
    if visible is not None:
        assets = {k: a for k, a in assets.items() if visible(a.namespace, a.name)}
    try:
        key = AssetIndex(assets).resolve(reference, "(query)", QUERY_FILE)
    except ConfigError as exc:
        if _plain(reference.namespace) and _plain(reference.name):
            ref = TableRef(str(reference.namespace), reference.name)
            if (visible is None or visible(ref.namespace, ref.name)) and store.exists(ref):
                return ref.namespace, ref.name
        raise UsageError(
            exc.message.replace("model (query) reads", "the query reads"),
            hint=exc.hint,
        ) from None
    asset = definition.assets[key]
    return asset.namespace, asset.name


def snapshot_picker(store: TableStore, as_of: str | int | None) -> SnapshotPicker:
    """Return what reads a table's snapshot for a query: the current one, or the one at
    `as_of` (a version number, also as digits in a string, or a timestamp)."""

    def pick(ref: TableRef) -> Snapshot:
        if as_of is None:
            return store.snapshot(ref)
        if isinstance(as_of, int) or str(as_of).isdigit():
            return store.snapshot(ref, version=int(as_of))
        return store.snapshot(ref, as_of=str(as_of))

    return pick


def _plain(part: str | None) -> bool:
    """Whether `part` of a table name is a plain name (letters, digits, `_`, `-`), not a path."""
    return bool(part) and re.fullmatch(r"[\w-]+", str(part)) is not None
