"""The statements a PostgreSQL session answers without the engine: transactions, settings
and (through `cursors`) cursors.

Clients send these around their queries (psycopg's BEGIN/COMMIT and server-side cursors,
JDBC's SET and SHOW, BI tools' keepalives). Transactions are read-only and hold no snapshot:
each tracks only the status a client sees in ReadyForQuery (idle, in a transaction, or
failed until ROLLBACK). A cursor (DECLARE ... CURSOR FOR <query>) runs its query through the
same guarded path as any other and keeps the (capped) result for FETCH and MOVE.
"""

from __future__ import annotations

import re

from headwater.serve.pgwire import cursors
from headwater.serve.pgwire.state import (
    FAILED,
    IDLE,
    IN_TRANSACTION,
    NAMES,
    REPORTED,
    CommandError,
    Notice,
    Outcome,
    SessionState,
)
from headwater.serve.pgwire.statements import Statement

FIXED = {
    "server_version",
    "server_version_num",
    "server_encoding",
    "integer_datetimes",
    "max_identifier_length",
    "block_size",
    "lc_collate",
    "lc_ctype",
    "transaction_read_only",
    "in_hot_standby",
    "is_superuser",
}
"""Settings a client cannot change (PostgreSQL refuses to SET them too)."""

_ALIASES = {
    "time zone": "timezone",
    "transaction isolation level": "transaction_isolation",
    "names": "client_encoding",
    "session authorization": "session_authorization",
}
_UTF8 = {"utf8", "utf-8", "unicode"}
SQL_TRANSACTION_ENDERS = {"COMMIT", "END", "ROLLBACK", "ABORT"}


def is_command(statement: Statement) -> bool:
    """Whether `statement` is a session command answered here (not a query)."""
    keyword = statement.keyword
    if keyword == "SHOW":
        # SHOW TABLES and SHOW ALL TABLES list tables (a query); SHOW ALL and SHOW <setting>
        # are the session's settings
        first = statement.word(1)
        return first != "TABLES" and not (first == "ALL" and statement.word(2) == "TABLES")
    return keyword in {
        "BEGIN",
        "START",
        "COMMIT",
        "END",
        "ROLLBACK",
        "ABORT",
        "SAVEPOINT",
        "RELEASE",
        "SET",
        "RESET",
        "DISCARD",
        "DEALLOCATE",
        "DECLARE",
        "FETCH",
        "MOVE",
        "CLOSE",
        "LISTEN",
        "UNLISTEN",
    }


def ends_transaction(statement: Statement) -> bool:
    """Whether `statement` may run in a failed transaction (it ends it)."""
    keyword = statement.keyword
    if keyword == "ROLLBACK" and "TO" in (statement.word(1), statement.word(2)):
        return True
    return keyword in SQL_TRANSACTION_ENDERS


_KEEPALIVE = re.compile(r"select\s+(-?\d{1,9})\s*", re.IGNORECASE)


def keepalive(statement: Statement) -> int | None:
    """The number of a `SELECT 1`-style keepalive, answered without the engine."""
    found = _KEEPALIVE.fullmatch(statement.text)
    return int(found.group(1)) if found else None


# -- running commands -----------------------------------------------------------------------


def run_command(state: SessionState, statement: Statement) -> Outcome:
    """Answer a session command (`is_command`), changing `state`.

    DECLARE is not answered here: it runs a query (the session does it, then `declare`).

    Raises:
        CommandError: the command is not valid here (no such cursor or setting, a cursor
            outside a transaction, ...).
    """
    keyword = statement.keyword
    if keyword in ("BEGIN", "START"):
        return _begin(state)
    if keyword in ("COMMIT", "END"):
        return _end(state, "ROLLBACK" if state.transaction == FAILED else "COMMIT")
    if keyword in ("ROLLBACK", "ABORT"):
        if "TO" in (statement.word(1), statement.word(2)):
            if state.transaction == IDLE:
                raise CommandError(
                    "ROLLBACK TO SAVEPOINT can only be used in transaction blocks", "25P01"
                )
            state.transaction = IN_TRANSACTION
            return Outcome("ROLLBACK")
        return _end(state, "ROLLBACK")
    if keyword in ("SAVEPOINT", "RELEASE"):
        if state.transaction == IDLE:
            raise CommandError(f"{keyword} can only be used in transaction blocks", "25P01")
        return Outcome(keyword)
    if keyword == "SET":
        return _set(state, statement)
    if keyword == "RESET":
        return _reset(state, statement)
    if keyword == "SHOW":
        return _show(state, statement)
    if keyword == "DISCARD":
        state.settings = dict(state.defaults)
        state.cursors.clear()
        return Outcome("DISCARD " + (statement.word(1) or "ALL"))
    if keyword in ("FETCH", "MOVE"):
        return cursors.fetch(state, statement, move=keyword == "MOVE")
    if keyword == "CLOSE":
        name = statement.name(1)
        if statement.word(1) == "ALL":
            state.cursors.clear()
        elif state.cursors.pop(name, None) is None:
            raise CommandError(f'cursor "{name}" does not exist', "34000")
        return Outcome("CLOSE CURSOR")
    if keyword in ("LISTEN", "UNLISTEN"):
        return Outcome(keyword)
    raise CommandError(f"{keyword} is not supported", "0A000")


def _begin(state: SessionState) -> Outcome:
    if state.transaction != IDLE:
        return Outcome("BEGIN", notices=[Notice("there is already a transaction in progress")])
    state.transaction = IN_TRANSACTION
    return Outcome("BEGIN")


def _end(state: SessionState, tag: str) -> Outcome:
    notices = []
    if state.transaction == IDLE:
        notices.append(Notice("there is no transaction in progress"))
    state.transaction = IDLE
    close_transaction_cursors(state)
    return Outcome(tag, notices=notices)


def close_transaction_cursors(state: SessionState) -> None:
    """Close the cursors that do not outlive their transaction (those without HOLD)."""
    for name in [n for n, c in state.cursors.items() if not c.hold]:
        del state.cursors[name]


def _setting_name(statement: Statement, index: int) -> tuple[str, int]:
    """The setting named at word `index` of `statement` and the index of the word after."""
    phrase = " ".join(w.lower() for w in statement.words[index : index + 3])
    for alias, name in _ALIASES.items():
        if phrase.startswith(alias):
            return name, index + len(alias.split())
    name, index = statement.name(index), index + 1
    while statement.words[index : index + 1] == ["."]:
        name += "." + statement.name(index + 1)
        index += 2
    return name, index


def _set(state: SessionState, statement: Statement) -> Outcome:
    index = 1
    if statement.word(1) in ("SESSION", "LOCAL"):
        if statement.word(2) in ("CHARACTERISTICS", "AUTHORIZATION"):
            return Outcome("SET")
        index = 2
    if statement.word(index) in ("", "TRANSACTION", "CONSTRAINTS", "ROLE"):
        return Outcome("SET")
    name, index = _setting_name(statement, index)
    if statement.word(index) in ("TO", "="):
        index += 1
    words = statement.words[index:]
    if len(words) == 1:
        value = words[0] if statement.quoted[index] else statement.name(index)
    else:
        value = statement.rest(index).strip()
    if not words or statement.word(index) == "DEFAULT":
        value = state.defaults.get(name, "")
    return assign(state, name, value)


def assign(state: SessionState, name: str, value: str) -> Outcome:
    """Set the setting `name` (lower case) to `value`.

    Raises:
        CommandError: it cannot be changed, or not to that value.
    """
    if name in FIXED:
        raise CommandError(f'parameter "{name}" cannot be changed', "55P02")
    if name == "client_encoding" and value.lower() not in _UTF8:
        raise CommandError(
            f"client encoding {value!r} is not supported",
            "0A000",
            hint="Headwater speaks UTF8 only",
        )
    if name == "client_encoding":
        value = "UTF8"
    if name == "datestyle":
        value = "ISO, MDY"  # results are always printed in ISO style
    state.settings[name] = value
    status = {NAMES.get(name, name): value} if name in REPORTED else {}
    return Outcome("SET", status=status)


def _reset(state: SessionState, statement: Statement) -> Outcome:
    if statement.word(1) in ("", "ALL"):
        changed = {k: v for k, v in state.defaults.items() if state.settings.get(k) != v}
        state.settings = dict(state.defaults)
        reported = {NAMES.get(k, k): v for k, v in changed.items() if k in REPORTED}
        return Outcome("RESET", status=reported)
    name, _ = _setting_name(statement, 1)
    outcome = assign(state, name, state.defaults.get(name, ""))
    outcome.tag = "RESET"
    return outcome


def _show(state: SessionState, statement: Statement) -> Outcome:
    import pyarrow as pa

    if statement.word(1) == "":
        raise CommandError("SHOW needs the name of a setting", "42601")
    if statement.word(1) == "ALL":
        names = sorted(state.settings)
        table = pa.table(
            {
                "name": [NAMES.get(n, n) for n in names],
                "setting": [state.settings[n] for n in names],
                "description": ["" for _ in names],
            }
        )
        return Outcome("SHOW", table)
    name, _ = _setting_name(statement, 1)
    if name not in state.settings:
        raise CommandError(f'unrecognized configuration parameter "{name}"', "42704")
    value = state.settings[name]
    return Outcome("SHOW", pa.table({NAMES.get(name, name): pa.array([value], pa.string())}))
