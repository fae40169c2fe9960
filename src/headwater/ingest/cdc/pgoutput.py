"""Decode the messages of PostgreSQL's built-in `pgoutput` logical decoding plugin.

The format is PostgreSQL's "Logical Replication Message Formats" (protocol version 1, which
every server from 10 on speaks): one message per XLogData payload, big-endian integers,
NUL-terminated strings. Column values arrive in PostgreSQL's text output format, as bytes;
`TupleData` keeps them as bytes (`None` for NULL, `UNCHANGED` for a TOASTed value the update
did not touch, which the server does not send again) so that a whole batch is decoded and
typed at once later (`pgtypes.py`), not value by value here.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

# the one marker the collapsing (`TableChanges`) and the capture compare by identity
from headwater.ingest.cdc.changes import UNCHANGED

PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""PostgreSQL's timestamps count microseconds from here."""
PG_EPOCH_US = int(PG_EPOCH.timestamp()) * 1_000_000

_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_BEGIN = struct.Struct(">QqI")
_COMMIT = struct.Struct(">bQQq")


class DecodeError(ValueError):
    """A message does not follow the pgoutput format."""


@dataclass(slots=True)
class Begin:
    """A transaction starts; its changes follow, then its `Commit`."""

    final_lsn: int
    """The LSN of the transaction's commit record."""
    commit_time_us: int
    """Commit time, microseconds since the Unix epoch."""
    xid: int


@dataclass(slots=True)
class Commit:
    """The transaction whose changes came since `Begin` committed."""

    commit_lsn: int
    end_lsn: int
    """Just past the commit record: where a consumer that has everything up to here resumes."""
    commit_time_us: int


@dataclass(frozen=True)
class RelationColumn:
    """One column of a relation as the publisher describes it."""

    name: str
    type_oid: int
    type_modifier: int
    is_key: bool
    """Part of the replica identity (the primary key, the identity index, or every column
    under REPLICA IDENTITY FULL)."""


@dataclass(frozen=True)
class Relation:
    """A table's shape, sent before the first change to it and again after it changes."""

    oid: int
    namespace: str
    name: str
    replica_identity: str
    """`d` default (the primary key), `n` nothing, `f` full, `i` an index."""
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True)
class TypeInfo:
    """A non-built-in type's name (an enum, a domain, ...), sent before a relation using it."""

    oid: int
    namespace: str
    name: str


TupleData = tuple[bytes | None, ...]
"""A row's values in text format (None: NULL; `UNCHANGED`: an untouched TOASTed value)."""


@dataclass(slots=True)
class Insert:
    """A row was inserted."""

    relation_oid: int
    new: TupleData


@dataclass(slots=True)
class Update:
    """A row was updated. `old` is the old replica identity ('K': key columns only, others
    None) when the key changed, or the whole old row ('O') under REPLICA IDENTITY FULL; else
    None (the key did not change)."""

    relation_oid: int
    old: TupleData | None
    old_is_key: bool
    new: TupleData


@dataclass(slots=True)
class Delete:
    """A row was deleted; `old` is its replica identity (or the whole row under FULL)."""

    relation_oid: int
    old: TupleData
    old_is_key: bool


@dataclass(frozen=True)
class Truncate:
    """Tables were truncated (CASCADE and RESTART IDENTITY in `options`)."""

    relation_oids: tuple[int, ...]
    options: int


@dataclass(frozen=True)
class Origin:
    """The transaction was replicated from another node (`name`)."""

    lsn: int
    name: str


@dataclass(frozen=True)
class LogicalMessage:
    """A message written with `pg_logical_emit_message` (only with `messages 'true'`)."""

    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin
    | Commit
    | Relation
    | TypeInfo
    | Insert
    | Update
    | Delete
    | Truncate
    | Origin
    | LogicalMessage
)


def decode(payload: bytes) -> Message:
    """Decode one pgoutput message (one XLogData payload) and return it.

    Raises:
        DecodeError: the payload is cut short or of a kind pgoutput v1 does not send.
    """
    try:
        return _decode(bytes(payload))
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        kind = chr(payload[0]) if payload else "(empty)"
        raise DecodeError(f"malformed pgoutput message {kind!r}: {exc}") from None


def _decode(data: bytes) -> Message:
    kind = data[0]
    if kind == 0x49:  # I
        oid = _UINT32.unpack_from(data, 1)[0]
        if data[5] != 0x4E:  # N
            raise DecodeError("insert without a new tuple")
        new, _ = read_tuple(data, 6)
        return Insert(oid, new)
    if kind == 0x55:  # U
        oid = _UINT32.unpack_from(data, 1)[0]
        marker = data[5]
        old: TupleData | None = None
        at = 6
        if marker in (0x4B, 0x4F):  # K, O
            old, at = read_tuple(data, 6)
            if data[at] != 0x4E:
                raise DecodeError("update without a new tuple")
            at += 1
        elif marker != 0x4E:
            raise DecodeError(f"update with tuple marker {chr(marker)!r}")
        new, _ = read_tuple(data, at)
        return Update(oid, old, marker == 0x4B, new)
    if kind == 0x44:  # D
        oid = _UINT32.unpack_from(data, 1)[0]
        marker = data[5]
        if marker not in (0x4B, 0x4F):
            raise DecodeError(f"delete with tuple marker {chr(marker)!r}")
        old_row, _ = read_tuple(data, 6)
        return Delete(oid, old_row, marker == 0x4B)
    if kind == 0x42:  # B
        final_lsn, commit_time, xid = _BEGIN.unpack_from(data, 1)
        return Begin(final_lsn, commit_time + PG_EPOCH_US, xid)
    if kind == 0x43:  # C
        _flags, commit_lsn, end_lsn, commit_time = _COMMIT.unpack_from(data, 1)
        return Commit(commit_lsn, end_lsn, commit_time + PG_EPOCH_US)
    if kind == 0x52:  # R
        return _relation(data)
    if kind == 0x59:  # Y
        oid = _UINT32.unpack_from(data, 1)[0]
        namespace, at = _string(data, 5)
        name, _ = _string(data, at)
        return TypeInfo(oid, namespace, name)
    if kind == 0x54:  # T
        count = _UINT32.unpack_from(data, 1)[0]
        options = data[5]
        oids = struct.unpack_from(f">{count}I", data, 6)
        return Truncate(tuple(oids), options)
    if kind == 0x4F:  # O
        lsn = struct.unpack_from(">Q", data, 1)[0]
        name, _ = _string(data, 9)
        return Origin(lsn, name)
    if kind == 0x4D:  # M
        flags = data[1]
        lsn = struct.unpack_from(">Q", data, 2)[0]
        prefix, at = _string(data, 10)
        length = _UINT32.unpack_from(data, at)[0]
        if at + 4 + length > len(data):
            raise DecodeError("a logical message's content runs past the end of the message")
        return LogicalMessage(bool(flags & 1), lsn, prefix, bytes(data[at + 4 : at + 4 + length]))
    raise DecodeError(f"unknown pgoutput message kind {chr(kind)!r}")


def _relation(data: bytes) -> Relation:
    oid = _UINT32.unpack_from(data, 1)[0]
    namespace, at = _string(data, 5)
    name, at = _string(data, at)
    identity = chr(data[at])
    count = _INT16.unpack_from(data, at + 1)[0]
    at += 3
    columns = []
    for _ in range(count):
        flags = data[at]
        column, at = _string(data, at + 1)
        type_oid, modifier = struct.unpack_from(">Ii", data, at)
        at += 8
        columns.append(RelationColumn(column, type_oid, modifier, bool(flags & 1)))
    return Relation(oid, namespace or "pg_catalog", name, identity, tuple(columns))


def _string(data: bytes, at: int) -> tuple[str, int]:
    end = data.find(0, at)
    if end < 0:
        raise DecodeError("a string runs past the end of the message")
    return data[at:end].decode(), end + 1


def read_tuple(data: bytes, at: int) -> tuple[TupleData, int]:
    """Read a TupleData at `at`; return its values and the offset just past it.

    The hot loop of a capture (once per column of every change), so it indexes `bytes`
    directly and checks the message's end once, after the last value.

    Raises:
        DecodeError: a value runs past the end of `data`, or a column kind is unknown.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    count = (data[at] << 8) | data[at + 1]
    at += 2
    values: list[bytes | None] = []
    append = values.append
    unpack = _UINT32.unpack_from
    for _ in range(count):
        kind = data[at]
        if kind == 0x74 or kind == 0x62:  # noqa: PLR1714  t: text (b: binary, never asked)
            start = at + 5
            at = start + unpack(data, at + 1)[0]
            append(data[start:at])
        elif kind == 0x6E:  # n: NULL
            append(None)
            at += 1
        elif kind == 0x75:  # u: a TOASTed value the update did not change
            append(UNCHANGED)
            at += 1
        else:
            raise DecodeError(f"unknown column kind {chr(kind)!r} in tuple data")
    if at > len(data):
        raise DecodeError("a column value runs past the end of the message")
    return tuple(values), at


def format_lsn(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (`16/B374D848`)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """The LSN written as `16/B374D848`, as an integer.

    Raises:
        ValueError: `text` is not an LSN.
    """
    high, sep, low = text.strip().partition("/")
    if not sep:
        raise ValueError(f"'{text}' is not an LSN (like 16/B374D848)")
    return (int(high, 16) << 32) | int(low, 16)
