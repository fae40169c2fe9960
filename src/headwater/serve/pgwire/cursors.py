"""Cursors declared in SQL (`DECLARE name CURSOR FOR <query>`, `FETCH`, `MOVE`), as psycopg's
server-side cursors use them: a cursor keeps its query's whole (capped) result and a position
in it, as PostgreSQL counts positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.serve.pgwire.state import (
    IDLE,
    CommandError,
    Cursor,
    Outcome,
    SessionState,
    truncation_notice,
)
from headwater.serve.pgwire.statements import Statement

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class Declare:
    """A parsed DECLARE: the cursor's name, whether it holds past its transaction, and the
    SQL of its query."""

    name: str
    hold: bool
    query: str


_CURSOR_OPTIONS = {"BINARY", "ASENSITIVE", "INSENSITIVE", "SCROLL", "NO"}


def parse_declare(statement: Statement) -> Declare:
    """Read `DECLARE name [BINARY] [NO] SCROLL CURSOR [WITH|WITHOUT HOLD] FOR <query>`.

    Raises:
        CommandError: it is not such a statement (42601), or a BINARY cursor (0A000).
    """
    name, index = statement.name(1), 2
    while statement.word(index) in _CURSOR_OPTIONS:
        if statement.word(index) == "BINARY":
            raise CommandError("binary cursors are not supported", "0A000")
        index += 1
    if not name or statement.word(index) != "CURSOR":
        raise CommandError("syntax error in DECLARE", "42601")
    index += 1
    hold = False
    if statement.word(index) in ("WITH", "WITHOUT") and statement.word(index + 1) == "HOLD":
        hold = statement.word(index) == "WITH"
        index += 2
    if statement.word(index) != "FOR" or index + 1 >= len(statement.words):
        raise CommandError("syntax error in DECLARE", "42601")
    return Declare(name, hold, statement.rest(index + 1))


MAX_CURSORS = 32
"""Cursors one session may hold open: each keeps its whole (capped) result in memory."""


def declare(state: SessionState, declared: Declare, table: pa.Table, truncated: bool) -> Outcome:
    """Open the cursor `declared` over its query's result.

    Raises:
        CommandError: outside a transaction without HOLD (25P01), or the name is taken (42P03).
    """
    if state.transaction == IDLE and not declared.hold:
        raise CommandError("DECLARE CURSOR can only be used in transaction blocks", "25P01")
    if declared.name in state.cursors:
        raise CommandError(f'cursor "{declared.name}" already exists', "42P03")
    if len(state.cursors) >= MAX_CURSORS:
        raise CommandError(
            f"too many open cursors in this session ({MAX_CURSORS})",
            "53400",
            "CLOSE the cursors no longer used",
        )
    state.cursors[declared.name] = Cursor(table, declared.hold, truncated)
    return Outcome("DECLARE CURSOR")


def fetch(state: SessionState, statement: Statement, move: bool) -> Outcome:
    """Answer FETCH (or, with `move`, MOVE): the rows a direction reads from a cursor.

    Raises:
        CommandError: no such cursor (34000), or a direction that does not read (42601).
    """
    import pyarrow as pa

    last = len(statement.words) - 1
    name = statement.name(last) if last >= 1 else ""
    cursor = state.cursors.get(name)
    if cursor is None:
        raise CommandError(f'cursor "{name}" does not exist', "34000")
    words = [statement.word(i) for i in range(1, last)]
    if words and words[-1] in ("FROM", "IN"):
        words = words[:-1]
    try:
        rows = _move(cursor, words)
    except (ValueError, IndexError):
        raise CommandError("syntax error in " + statement.keyword, "42601") from None
    if move:
        return Outcome(f"MOVE {len(rows)}")
    table = cursor.table.take(pa.array(rows, pa.int64()))
    notices = []
    if cursor.truncated and rows and rows[-1] == cursor.table.num_rows - 1:
        notices.append(truncation_notice(cursor.table.num_rows))
    return Outcome(f"FETCH {len(rows)}", table, notices=notices)


def _move(cursor: Cursor, words: list[str]) -> list[int]:
    """Move `cursor` as a FETCH direction says and return the rows (0-based) passed over.

    Positions follow PostgreSQL: 0 is before the first row, k (1..n) on row k, n + 1 after
    the last."""
    total, position = cursor.table.num_rows, cursor.position
    head = words[0] if words else "NEXT"
    absolute: int | None = None
    if head in ("FIRST", "LAST"):
        absolute = 1 if head == "FIRST" else total
    elif head == "ABSOLUTE":
        offset = int(words[1])
        absolute = offset if offset >= 0 else total + 1 + offset
    elif head == "RELATIVE":
        absolute = position + int(words[1])
    if absolute is not None:
        cursor.position = max(0, min(absolute, total + 1))
        return [absolute - 1] if 1 <= absolute <= total else []
    if head in ("NEXT", "PRIOR"):
        count = 1 if head == "NEXT" else -1
    elif head in ("FORWARD", "BACKWARD"):
        count = total + 1 if words[1:2] == ["ALL"] else int(words[1]) if len(words) > 1 else 1
        count = -count if head == "BACKWARD" else count
    else:
        count = total + 1 if head == "ALL" else int(head)
    if count >= 0:
        rows = list(range(min(position, total), min(position + count, total)))
        cursor.position = position + count if len(rows) == count else total + 1
        return rows
    rows = list(range(min(position - 1, total), max(position + count, 1) - 1, -1))
    rows = [r - 1 for r in rows if r >= 1]
    cursor.position = position + count if position + count >= 1 else 0
    return rows
