"""Where one subject's data is, for erasure: the subject's identity and every table column
that holds a part of it.

A subject is named by one column of one table and a value (`raw.customers.customer_id=45`).
Its rows in that table (in every version: an e-mail it had before is its data too) give its
identity: the values of that column, of the table's key and of its columns holding identifying
personal data (e-mail, phone, national id, IBAN, card number, IP). A table holds the subject's
data where one of its columns holds one of those values, which Headwater finds by:

- **lineage**: a column derived from an identity column that still carries its value
  (`lower(email)`, a join that copies `customer_id`), however many models away;
- **references**: a column with a `relationships` check pointing at an identity column (a
  foreign key), and everything derived from it;
- **the key's name**: a column named like the subject's column or its table's key
  (`customer_id` in `raw.orders`), unless that name says nothing (`id`): the convention every
  warehouse follows for foreign keys nobody declared.

Values are compared as trimmed, lower-case text, so `lower(trim(email))` in a staging model
matches the raw ` Ada@Example.org`.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError
from headwater.lineage.graph import ColumnGraph, ColumnRef
from headwater.project.checks import Relationships

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.governance.classification import Classification
    from headwater.project.definition import ProjectDefinition

IDENTIFYING_KINDS = frozenset({"email", "phone", "national_id", "iban", "card_number", "ip"})
"""Kinds of personal data that single a person out: their values find the subject's rows."""
GENERIC_KEYS = frozenset({"id", "key", "pk", "uuid"})
"""Key names too common to take as a reference wherever they appear."""
_SUBJECT = re.compile(r"^\s*([\w-]+)\.([\w-]+)\.([\w-]+)\s*=(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Subject:
    """Whose data to erase: the rows of `asset` whose `column` equals `value`."""

    asset: str
    column: str
    value: str

    @classmethod
    def parse(cls, text: str, definition: ProjectDefinition) -> Subject:
        """Read `namespace.table.column=value`.

        Raises:
            UsageError: it is not in that form, or names no asset of the project.
        """
        match = _SUBJECT.match(text)
        if match is None or not match.group(4).strip():
            raise UsageError(
                f"'{text}' does not name a subject",
                hint="name it as namespace.table.column=value, e.g. raw.customers.customer_id=45",
            )
        namespace, table, column, value = (match.group(i) for i in range(1, 5))
        key = f"{namespace}.{table}"
        if key not in definition.assets:
            from headwater.project.yamlfile import closest

            near = closest(key, definition.assets)
            raise UsageError(
                f"there is no table {key} to find the subject in",
                hint=f"did you mean {near}?" if near else "name one of the project's tables",
            )
        return cls(key, column, value.strip().strip("'\""))

    def __str__(self) -> str:
        return f"{self.asset}.{self.column}={self.value}"


@dataclass
class TableMatch:
    """The columns of one table that hold the subject's values, and why."""

    table: str
    columns: dict[str, set[str]] = field(default_factory=dict)
    """Column -> the normalised values that mark the subject's rows."""
    reasons: set[str] = field(default_factory=set)


@dataclass
class ErasurePlan:
    """Every table column holding the subject's identity."""

    subject: Subject
    identity: dict[str, set[str]]
    """Column of the subject's table -> its values in the subject's rows (normalised)."""
    texts: set[str]
    """Every value of the subject's rows worth looking for in text (its personal data, the
    identity): what must not remain in the tables' logs."""
    tables: dict[str, TableMatch] = field(default_factory=dict)

    def reach(
        self,
        definition: ProjectDefinition,
        graph: ColumnGraph,
        seeds: list[tuple[ColumnRef, set[str], str]],
    ) -> None:
        """Add each (column, values, why) of `seeds` to the plan, and every column that
        carries their values along lineage or references them by a `relationships` check."""
        references = _references(definition)
        queue = deque(seeds)
        while queue:
            ref, values, why = queue.popleft()
            if not values:
                continue
            match = self.tables.setdefault(ref.asset, TableMatch(ref.asset))
            known = match.columns.setdefault(ref.column, set())
            match.reasons.add(why)
            if values <= known:
                continue
            known.update(values)
            for edge in graph.downstream(ref):
                if edge.type == "DIRECT" and edge.carries:
                    queue.append((edge.target, values, f"derived from {ref}"))
            for referencing in references.get((ref.asset, ref.column.lower()), ()):
                queue.append((referencing, values, f"references {ref}"))

    def referencing(self, definition: ProjectDefinition) -> dict[str, list[tuple[str, ColumnRef]]]:
        """For each planned table, the (its column, referencing column) pairs of the
        `relationships` checks that point at it: the subject's rows there make the
        referencing rows the subject's too."""
        found: dict[str, list[tuple[str, ColumnRef]]] = {}
        for (asset, column), refs in _references(definition).items():
            if asset in self.tables:
                found.setdefault(asset, []).extend((column, ref) for ref in refs)
        return found

    def by_name(self) -> dict[str, set[str]]:
        """Every matched column name (lower case) -> the values it is matched on, across
        tables: how a table lineage cannot see into is matched."""
        found: dict[str, set[str]] = {}
        for match in self.tables.values():
            for column, values in match.columns.items():
                found.setdefault(column.lower(), set()).update(values)
        return found


def normalise(value: Any) -> str:
    """How values are compared: as trimmed, lower-case text."""
    return str(value).strip().lower()


def plan_erasure(
    definition: ProjectDefinition,
    graph: ColumnGraph,
    classification: Classification,
    subject: Subject,
    rows: pa.Table,
) -> ErasurePlan:
    """Plan the erasure of `subject`, whose rows (in every version of its table) are `rows`.

    Returns:
        The identity and the table columns holding it.

    Raises:
        UsageError: `rows` is empty (no such subject).
    """
    if rows.num_rows == 0:
        raise UsageError(
            f"no row of {subject.asset} has {subject.column} = {subject.value!r}, in any of "
            "its versions",
            hint=f'check the value with: headwater query "select * from {subject.asset} '
            f"where {subject.column} = '{subject.value}'\"",
        )
    asset = definition.assets[subject.asset]
    spelled = {c.lower(): c for c in rows.column_names}
    identifying = {subject.column.lower(), *(k.lower() for k in asset.key_columns)}
    for name in rows.column_names:
        kinds = set(classification.kinds(subject.asset, name))
        if kinds & IDENTIFYING_KINDS:
            identifying.add(name.lower())
    identity = {
        spelled[name]: _normalised(rows.column(spelled[name]).to_pylist())
        for name in sorted(identifying)
        if name in spelled
    }
    texts = {
        str(v).strip()
        for name in rows.column_names
        if classification.kinds(subject.asset, name) or name in identity
        for v in rows.column(name).to_pylist()
        if v is not None and str(v).strip()
    }
    texts |= {v for values in identity.values() for v in values}
    plan = ErasurePlan(subject, identity, texts)
    keys = {subject.column.lower(), *(k.lower() for k in asset.key_columns)} - GENERIC_KEYS
    keys &= set(spelled)
    seeds = [
        (ColumnRef(subject.asset, column), values, "the subject's table")
        for column, values in identity.items()
    ]
    for other in sorted(definition.assets):
        if other == subject.asset:
            continue
        # the subject's column names it like a key (customer_id=45) where no key is declared
        for column in graph.columns(other):
            if column.lower() in keys:
                why = f"named like {subject.asset}.{spelled[column.lower()]}"
                seeds.append((ColumnRef(other, column), identity[spelled[column.lower()]], why))
    plan.reach(definition, graph, seeds)
    return plan


def _references(definition: ProjectDefinition) -> dict[tuple[str, str], list[ColumnRef]]:
    """The columns a `relationships` check declares as references, by the column they point
    at (asset, lower-case column)."""
    found: dict[tuple[str, str], list[ColumnRef]] = {}
    for key in sorted(definition.assets):
        for check in definition.assets[key].checks:
            if not isinstance(check, Relationships) or not check.column:
                continue
            target = (check.to, check.field.lower())
            found.setdefault(target, []).append(ColumnRef(key, check.column))
    return found


def _normalised(values: list[Any]) -> set[str]:
    return {normalise(v) for v in values if v is not None}
