"""Protocol messages that are not results: errors and notices with their SQLSTATE, command
completion, readiness, parameter status.

An error's SQLSTATE is what a client branches on (psycopg raises `UndefinedTable` for 42P01,
`QueryCanceled` for 57014), so each kind of Headwater error maps to PostgreSQL's code for the
same situation: an unknown (or invisible) table is 42P01, SQL that does not parse 42601, a
refused statement 42501, a cancelled or timed-out query 57014, a busy server 53300.
"""

from __future__ import annotations

import re
import struct

from headwater.errors import HeadwaterError, UsageError

_CODES = [
    (re.compile(r"unknown table|table .* does not exist|Catalog Error: Table", re.I), "42P01"),
    (re.compile(r"does not parse|Parser Error|syntax error", re.I), "42601"),
    (re.compile(r"Referenced column .* not found|column .* does not exist", re.I), "42703"),
    (re.compile(r"function .* does not exist|No function matches", re.I), "42883"),
    (re.compile(r"Conversion Error|Could not convert|invalid input syntax", re.I), "22P02"),
    (re.compile(r"Out of Range|out of range", re.I), "22003"),
    (re.compile(r"division by zero", re.I), "22012"),
    (re.compile(r"parameter\(s\) but .* value\(s\)|\$\d+ is not a parameter", re.I), "08P01"),
    (re.compile(r"Binder Error", re.I), "42703"),
]


def sqlstate_of(error: BaseException) -> str:
    """The SQLSTATE of an error a statement raised."""
    from headwater.query.policy import QueryRejected
    from headwater.query.readonly import QueryCancelled, QueryTimeout
    from headwater.serve.service import ServerBusy

    code = getattr(error, "sqlstate", None)
    if isinstance(code, str):
        return code
    if isinstance(error, QueryCancelled | QueryTimeout):
        return "57014"
    if isinstance(error, ServerBusy):
        return "53300"
    text = error.message if isinstance(error, HeadwaterError) else str(error)
    if isinstance(error, QueryRejected):
        return "42601" if "does not parse" in text or "does not tokenize" in text else "42501"
    for pattern, found in _CODES:
        if pattern.search(text):
            return found
    return "XX000"


def error_response(
    message: str,
    sqlstate: str,
    hint: str | None = None,
    severity: str = "ERROR",
    kind: bytes = b"E",
) -> bytes:
    """An ErrorResponse ('E') or, with `kind` b'N', a NoticeResponse."""
    fields = [(b"S", severity), (b"V", severity), (b"C", sqlstate), (b"M", message)]
    if hint:
        fields.append((b"H", hint))
    body = b"".join(
        code + value.replace("\x00", "").encode("utf-8", "replace") + b"\x00"
        for code, value in fields
    )
    body += b"\x00"
    return kind + struct.pack("!i", len(body) + 4) + body


def error_of(error: BaseException, severity: str = "ERROR") -> bytes:
    """The ErrorResponse of an error a statement raised: its message, hint and SQLSTATE
    (a Headwater error's message is meant for the user; anything else is named only by
    its kind, with no internals)."""
    from headwater.query.readonly import QueryCancelled

    if isinstance(error, QueryCancelled):
        return error_response(
            "canceling statement due to user request", "57014", error.message, severity
        )
    if isinstance(error, UsageError | HeadwaterError):
        return error_response(error.message, sqlstate_of(error), error.hint, severity)
    return error_response(
        f"internal error: {type(error).__name__}", sqlstate_of(error), None, severity
    )


def notice(message: str, sqlstate: str = "01000", severity: str = "WARNING") -> bytes:
    """A NoticeResponse."""
    return error_response(message, sqlstate, None, severity, kind=b"N")


def command_complete(tag: str) -> bytes:
    """CommandComplete with `tag` (`SELECT 3`, `SET`)."""
    data = tag.encode() + b"\x00"
    return b"C" + struct.pack("!i", len(data) + 4) + data


def ready_for_query(status: str) -> bytes:
    """ReadyForQuery with the transaction status (I, T or E)."""
    return b"Z" + struct.pack("!i", 5) + status.encode()


EMPTY_QUERY = b"I\x00\x00\x00\x04"
NO_DATA = b"n\x00\x00\x00\x04"
