"""One table's changes within a micro-batch, collapsed to one final change per key.

Changes are added in commit order. An insert or update leaves the row's latest image; a
delete leaves a delete; an update that changed the key deletes the old key and writes the
new. A value the source did not send (`UNCHANGED`: a TOASTed value an update left as it was)
is taken from an earlier image of the same row in the batch, or else flagged so that the
merge keeps the mirror's value. A truncate forgets the batch's earlier changes of the table.

A table's change log (`<table>__changes`) is fed `LoggedChange`s, every change as it came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

UNCHANGED: Final = b"\x00headwater:unchanged"
"""A value the source did not send because it did not change (compared by identity)."""

UPSERT, DELETE = "u", "d"
"""A collapsed change: the row is this image now, or the row is gone."""

INSERT_OP, UPDATE_OP, DELETE_OP, READ_OP, TRUNCATE_OP = "c", "u", "d", "r", "t"
"""Operations in a change log, as Debezium names them: create, update, delete, read (a row
of the initial snapshot), truncate."""

Row = tuple[Any, ...]


@dataclass
class LoggedChange:
    """One change as it came, for the change log."""

    op: str
    """INSERT_OP, UPDATE_OP, DELETE_OP or TRUNCATE_OP."""
    position: int
    """Where the change's transaction commits in the source's log (an LSN, or an offset)."""
    commit_us: int | None
    """Commit time, microseconds since the Unix epoch (None: the source does not say)."""
    seq: int
    """The change's place in its transaction (from 0)."""
    values: Row
    """The row after the change (for a delete: its key, or the whole row it had)."""


@dataclass
class TableChanges:
    """The changes of one table within one micro-batch."""

    columns: list[str]
    key: list[int]
    """Indexes of the key columns in `columns`."""
    rows: dict[Row, tuple[str, list[Any]]] = field(default_factory=dict)
    """The final change per key: (UPSERT or DELETE, the row's values, UNCHANGED where the
    source did not send a value)."""
    truncated: bool = False
    """A truncate came in this batch: the mirror's rows are gone, `rows` came after it."""
    count: int = 0
    """Changes added (before collapsing)."""
    moved: dict[Row, Row] = field(default_factory=dict)
    """Key -> the key its row has in the mirror, for a row an update moved to another key
    in this batch that still lacks values the source did not send: they are the mirror's
    row's at that key (the merge matches by the new key, which the mirror does not have)."""

    def __post_init__(self) -> None:
        # called once per change: a one-column key (the usual case) is read without a loop
        if len(self.key) == 1:
            at = self.key[0]
            self._key: Callable[[Row], Row] = lambda values: (values[at],)
        else:
            self._key = lambda values: tuple(values[i] for i in self.key)

    def key_of(self, values: Row) -> Row:
        """The key of the row `values`."""
        return self._key(values)

    def upsert(self, values: Row) -> None:
        """The row `values` was inserted or updated."""
        key = self._key(values)
        row = list(values)
        # `in` compares in C; no real value equals the marker (text holds no NUL byte)
        if UNCHANGED in row:
            earlier = self.rows.get(key)
            if earlier is not None and earlier[0] == UPSERT:
                previous = earlier[1]
                for i, value in enumerate(row):
                    if value is UNCHANGED:
                        row[i] = previous[i]
            if self.moved and UNCHANGED not in row:
                self.moved.pop(key, None)
        elif self.moved:
            self.moved.pop(key, None)
        self.rows[key] = (UPSERT, row)
        self.count += 1

    def delete(self, values: Row) -> None:
        """The row whose key `values` holds was deleted (other values may be None)."""
        key = self.key_of(values)
        earlier = self.rows.get(key)
        kept = earlier[1] if earlier is not None and earlier[0] == UPSERT else list(values)
        self.rows[key] = (DELETE, kept)
        self.moved.pop(key, None)
        self.count += 1

    def update_key(self, old: Row, new: Row) -> None:
        """An update moved the row from the key in `old` to the key in `new`."""
        old_key = self.key_of(old)
        earlier = self.rows.get(old_key)
        if earlier is not None and earlier[0] == UPSERT:
            merged = [earlier[1][i] if v is UNCHANGED else v for i, v in enumerate(new)]
            new = tuple(merged)
        self.rows[old_key] = (DELETE, list(old))
        origin = self.moved.pop(old_key, old_key)
        self.upsert(new)
        if any(v is UNCHANGED for v in new):
            self.moved[self.key_of(new)] = origin

    def truncate(self) -> None:
        """The table was truncated: every row before this change is gone."""
        self.rows.clear()
        self.moved.clear()
        self.truncated = True
        self.count += 1

    def origins(self) -> list[Row | None]:
        """For each collapsed row (in `column_values`' order), the mirror key whose values
        fill what the source did not send (None: the row's own key)."""
        return [self.moved.get(key) for key in self.rows]

    def column_values(self) -> tuple[list[list[Any]], list[str], list[list[bool]]]:
        """The collapsed rows by column: each column's values (UNCHANGED as None), each
        row's operation (UPSERT or DELETE), and, for each column, whether each row keeps the
        mirror's value (the source did not send it)."""
        width = len(self.columns)
        collapsed = list(self.rows.values())
        ops = [op for op, _ in collapsed]
        if not collapsed:
            return [[] for _ in range(width)], ops, [[] for _ in range(width)]
        values: list[list[Any]] = []
        keep: list[list[bool]] = []
        for column in zip(*(row for _, row in collapsed), strict=True):
            if UNCHANGED in column:
                keep.append([v is UNCHANGED for v in column])
                values.append([None if v is UNCHANGED else v for v in column])
            else:
                keep.append([False] * len(column))
                values.append(list(column))
        return values, ops, keep
