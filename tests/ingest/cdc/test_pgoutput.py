"""The pgoutput decoder against messages built byte by byte from PostgreSQL's "Logical
Replication Message Formats" (protocol version 1), against malformed input, and against the
messages a real server sends for a real workload."""

from __future__ import annotations

import datetime as dt
import random
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from headwater.ingest.cdc import changes, pgoutput
from headwater.ingest.cdc.pgoutput import (
    Begin,
    Commit,
    DecodeError,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    Relation,
    RelationColumn,
    Truncate,
    TypeInfo,
    Update,
    decode,
    format_lsn,
    parse_lsn,
)
from headwater.ingest.cdc.pgtypes import TEXT_SETTINGS
from tests.support.postgres import PostgresServer

U = pgoutput.UNCHANGED

# -- the wire format, written out from the spec ---------------------------------------------


def int8(n: int) -> bytes:
    return struct.pack(">b", n)


def int16(n: int) -> bytes:
    return struct.pack(">h", n)


def int32(n: int) -> bytes:
    return struct.pack(">i", n)


def uint32(n: int) -> bytes:
    return struct.pack(">I", n)


def int64(n: int) -> bytes:
    return struct.pack(">q", n)


def lsn64(n: int) -> bytes:
    return struct.pack(">Q", n)


def string(s: str) -> bytes:
    return s.encode() + b"\x00"


def tuple_data(*values: bytes | None) -> bytes:
    """TupleData: Int16 column count, then per column 'n' (NULL), 'u' (unchanged TOASTed
    value) or 't' Int32 length and the text."""
    out = int16(len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif value is U:
            out += b"u"
        else:
            out += b"t" + int32(len(value)) + value
    return out


PG_EPOCH_US = 946_684_800 * 1_000_000
"""2000-01-01 in microseconds since the Unix epoch."""
WHEN = dt.datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=dt.UTC)
WHEN_US = int(WHEN.timestamp()) * 1_000_000 + WHEN.microsecond
WHEN_PG = WHEN_US - PG_EPOCH_US


def begin(final_lsn: int, pg_time: int, xid: int) -> bytes:
    return b"B" + lsn64(final_lsn) + int64(pg_time) + uint32(xid)


def commit(commit_lsn: int, end_lsn: int, pg_time: int, flags: int = 0) -> bytes:
    return b"C" + int8(flags) + lsn64(commit_lsn) + lsn64(end_lsn) + int64(pg_time)


def relation(
    oid: int, namespace: str, name: str, identity: str, columns: list[tuple[int, str, int, int]]
) -> bytes:
    out = b"R" + uint32(oid) + string(namespace) + string(name) + identity.encode()
    out += int16(len(columns))
    for flags, column, type_oid, modifier in columns:
        out += int8(flags) + string(column) + uint32(type_oid) + int32(modifier)
    return out


def type_message(oid: int, namespace: str, name: str) -> bytes:
    return b"Y" + uint32(oid) + string(namespace) + string(name)


def insert(oid: int, *values: bytes | None) -> bytes:
    return b"I" + uint32(oid) + b"N" + tuple_data(*values)


def update(oid: int, new: tuple[bytes | None, ...], old: bytes = b"", *old_values: Any) -> bytes:
    prefix = old + tuple_data(*old_values) if old else b""
    return b"U" + uint32(oid) + prefix + b"N" + tuple_data(*new)


def delete(oid: int, marker: bytes, *values: bytes | None) -> bytes:
    return b"D" + uint32(oid) + marker + tuple_data(*values)


def truncate(options: int, *oids: int) -> bytes:
    return b"T" + uint32(len(oids)) + int8(options) + b"".join(uint32(o) for o in oids)


def origin(lsn: int, name: str) -> bytes:
    return b"O" + lsn64(lsn) + string(name)


def message(transactional: bool, lsn: int, prefix: str, content: bytes) -> bytes:
    flags = int8(1 if transactional else 0)
    return b"M" + flags + lsn64(lsn) + string(prefix) + uint32(len(content)) + content


# -- every kind, well formed ------------------------------------------------------------------

BIG_LSN = (0x16 << 32) | 0xB374D848

VALID: list[tuple[str, bytes, pgoutput.Message]] = [
    ("begin", begin(BIG_LSN, WHEN_PG, 4_000_000_000), Begin(BIG_LSN, WHEN_US, 4_000_000_000)),
    (
        "commit",
        commit(BIG_LSN, BIG_LSN + 48, WHEN_PG),
        Commit(BIG_LSN, BIG_LSN + 48, WHEN_US),
    ),
    (
        "relation with a primary key",
        relation(
            16385,
            "shop",
            "orders",
            "d",
            [(1, "id", 23, -1), (0, "amount", 1700, (10 << 16 | 2) + 4), (0, "note", 25, -1)],
        ),
        Relation(
            16385,
            "shop",
            "orders",
            "d",
            (
                RelationColumn("id", 23, -1, True),
                RelationColumn("amount", 1700, (10 << 16 | 2) + 4, False),
                RelationColumn("note", 25, -1, False),
            ),
        ),
    ),
    (
        "relation under replica identity full",
        relation(7, "public", "events", "f", [(1, "a", 25, -1), (1, "b", 20, -1)]),
        Relation(
            7,
            "public",
            "events",
            "f",
            (RelationColumn("a", 25, -1, True), RelationColumn("b", 20, -1, True)),
        ),
    ),
    (
        "relation in pg_catalog (empty namespace), an index identity, no columns",
        relation(8, "", "odd", "i", []),
        Relation(8, "pg_catalog", "odd", "i", ()),
    ),
    (
        "relation with non-ASCII names",
        relation(9, "économie", "café", "d", [(1, "clé", 23, -1)]),
        Relation(9, "économie", "café", "d", (RelationColumn("clé", 23, -1, True),)),
    ),
    ("type", type_message(16400, "shop", "mood"), TypeInfo(16400, "shop", "mood")),
    ("insert", insert(16385, b"1", b"12.50", None), Insert(16385, (b"1", b"12.50", None))),
    ("insert of no columns", insert(3), Insert(3, ())),
    (
        "insert of an empty string and binary-looking text",
        insert(3, b"", b"\\x00ff", "é".encode()),
        Insert(3, (b"", b"\\x00ff", "é".encode())),
    ),
    (
        "update without an old tuple",
        update(16385, (b"1", U, b"x")),
        Update(16385, None, False, (b"1", U, b"x")),
    ),
    (
        "update of the key (K: the old key only)",
        update(16385, (b"2", b"5.00", U), b"K", b"1", None, None),
        Update(16385, (b"1", None, None), True, (b"2", b"5.00", U)),
    ),
    (
        "update under replica identity full (O: the whole old row)",
        update(7, (b"a", b"2"), b"O", b"a", b"1"),
        Update(7, (b"a", b"1"), False, (b"a", b"2")),
    ),
    (
        "delete by key",
        delete(16385, b"K", b"1", None, None),
        Delete(16385, (b"1", None, None), True),
    ),
    ("delete of a whole row", delete(7, b"O", b"a", b"1"), Delete(7, (b"a", b"1"), False)),
    ("truncate of one table", truncate(0, 16385), Truncate((16385,), 0)),
    (
        "truncate of several tables, cascade and restart identity",
        truncate(3, 16385, 7, 4_294_967_295),
        Truncate((16385, 7, 4_294_967_295), 3),
    ),
    ("origin", origin(BIG_LSN, "node_b"), Origin(BIG_LSN, "node_b")),
    (
        "transactional logical message",
        message(True, BIG_LSN, "audit", b"\x00\x01 binary \xff"),
        LogicalMessage(True, BIG_LSN, "audit", b"\x00\x01 binary \xff"),
    ),
    (
        "non-transactional empty logical message",
        message(False, 1, "", b""),
        LogicalMessage(False, 1, "", b""),
    ),
]


@pytest.mark.parametrize(("payload", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_decodes_every_message_kind(payload: bytes, expected: pgoutput.Message) -> None:
    assert decode(payload) == expected


def test_begin_and_commit_times_are_unix_microseconds() -> None:
    decoded = decode(begin(1, WHEN_PG, 1))
    assert isinstance(decoded, Begin)
    assert dt.datetime.fromtimestamp(decoded.commit_time_us / 1e6, dt.UTC) == WHEN
    assert decode(commit(1, 2, 0)) == Commit(1, 2, PG_EPOCH_US)
    # before 2000 the server's count is negative
    assert decode(begin(1, -PG_EPOCH_US, 1)) == Begin(1, 0, 1)


def test_tuple_values_null_unchanged_and_text() -> None:
    decoded = decode(insert(1, None, b"t", U, b"", b"NULL"))
    assert isinstance(decoded, Insert)
    null, text, unchanged, empty, word = decoded.new
    assert null is None
    assert text == b"t"
    assert empty == b""
    assert word == b"NULL"
    # the capture and the collapsing tell an unsent value by identity: one marker for both
    assert unchanged is changes.UNCHANGED
    assert pgoutput.UNCHANGED is changes.UNCHANGED


def test_a_value_as_long_as_the_rest_of_the_message() -> None:
    big = bytes(range(256)) * 1000
    decoded = decode(insert(5, big))
    assert isinstance(decoded, Insert)
    assert decoded.new == (big,)


def test_read_tuple_returns_the_offset_past_it() -> None:
    data = b"xx" + tuple_data(b"ab", None, U) + b"rest"
    values, at = pgoutput.read_tuple(memoryview(data), 2)
    assert values == (b"ab", None, U)
    assert data[at:] == b"rest"


# -- malformed input: DecodeError, never another exception ------------------------------------


@pytest.mark.parametrize(("payload", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID])
def test_every_truncation_is_a_decode_error(payload: bytes, expected: pgoutput.Message) -> None:
    for end in range(len(payload)):
        with pytest.raises(DecodeError):
            decode(payload[:end])


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"Z",
        b"Z\x00\x00\x00\x01",
        b"\x00",
        b"\xff" * 20,
        b"S" + uint32(1) + int8(1),  # stream start: protocol version 2, not asked for
        b"E" + uint32(1),  # stream stop
        b"P" + b"\x00" * 30,  # prepare: protocol version 3
        b"A" + b"\x00" * 30,  # stream abort
    ],
    ids=[
        "empty",
        "Z",
        "Z with body",
        "NUL",
        "0xff",
        "stream start",
        "stream stop",
        "prepare",
        "abort",
    ],
)
def test_unknown_kinds_are_decode_errors(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(payload)


@pytest.mark.parametrize(
    "payload",
    [
        # a value's length runs past the end of the message
        b"I" + uint32(1) + b"N" + int16(1) + b"t" + int32(10) + b"abc",
        b"I" + uint32(1) + b"N" + int16(2) + b"t" + int32(3) + b"abc" + b"t" + uint32(2**31),
        b"I" + uint32(1) + b"N" + int16(1) + b"t" + uint32(0xFFFFFFFF) + b"abc",
        b"U" + uint32(1) + b"K" + int16(1) + b"t" + int32(9) + b"ab" + b"N" + tuple_data(b"a"),
        b"D" + uint32(1) + b"O" + int16(1) + b"t" + int32(4) + b"abc",
        # a tuple says more columns than it holds
        b"I" + uint32(1) + b"N" + int16(3) + b"n" + b"n",
        # unknown column kind, tuple marker, missing new tuple
        b"I" + uint32(1) + b"N" + int16(1) + b"x",
        b"I" + uint32(1) + b"K" + tuple_data(b"a"),
        b"U" + uint32(1) + b"X" + tuple_data(b"a"),
        b"U" + uint32(1) + b"K" + tuple_data(b"a") + b"K" + tuple_data(b"a"),
        b"U" + uint32(1) + b"O" + tuple_data(b"a"),
        b"D" + uint32(1) + b"N" + tuple_data(b"a"),
        # truncate listing more relations than it holds; a huge count
        b"T" + uint32(3) + int8(0) + uint32(1) + uint32(2),
        b"T" + uint32(0xFFFFFFFF) + int8(0) + uint32(1),
        # a logical message whose content length runs past the end
        b"M" + int8(1) + lsn64(1) + string("p") + uint32(10) + b"short",
        b"M" + int8(1) + lsn64(1) + string("p") + uint32(0xFFFFFFFF),
        # names that are not UTF-8, or not NUL-terminated
        b"Y" + uint32(1) + b"\xff\xfe\x00" + string("t"),
        b"R" + uint32(1) + string("s") + b"table without end",
        b"O" + lsn64(1) + b"origin without end",
        # a relation saying more columns than it describes
        b"R"
        + uint32(1)
        + string("s")
        + string("t")
        + b"d"
        + int16(2)
        + int8(1)
        + string("a")
        + uint32(23)
        + int32(-1),
    ],
)
def test_malformed_messages_are_decode_errors(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(payload)


def test_decode_errors_name_the_message_kind() -> None:
    with pytest.raises(DecodeError, match="malformed pgoutput message 'I'"):
        decode(insert(1, b"abc")[:3])
    with pytest.raises(DecodeError, match="runs past the end"):
        decode(insert(1, b"abc")[:-1])
    with pytest.raises(DecodeError, match="unknown pgoutput message kind 'Z'"):
        decode(b"Z")
    with pytest.raises(DecodeError, match="empty"):
        decode(b"")


def test_random_corruption_never_raises_anything_but_decode_error() -> None:
    """Bytes flipped, inserted and dropped at random in every valid message: the decoder
    either returns a message or raises DecodeError (a ValueError the capture reports)."""
    rng = random.Random(14)
    payloads = [v[1] for v in VALID]
    for _ in range(20_000):
        data = bytearray(rng.choice(payloads))
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(data) + 1)
            action = rng.randrange(3)
            if action == 0 and where < len(data):
                data[where] = rng.randrange(256)
            elif action == 1:
                data[where:where] = bytes([rng.randrange(256)])
            elif where < len(data):
                del data[where]
        try:
            decoded = decode(bytes(data))
        except DecodeError:
            continue
        assert isinstance(
            decoded,
            Begin
            | Commit
            | Relation
            | TypeInfo
            | Insert
            | Update
            | Delete
            | Truncate
            | Origin
            | LogicalMessage,
        )


# -- LSNs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0/0", 0),
        ("0/1", 1),
        ("0/FFFFFFFF", 0xFFFFFFFF),
        ("1/0", 1 << 32),
        ("16/B374D848", 0x16B374D848),
        ("FFFFFFFF/FFFFFFFF", 2**64 - 1),
    ],
)
def test_lsn_text_round_trip(text: str, value: int) -> None:
    assert parse_lsn(text) == value
    assert format_lsn(value) == text
    assert parse_lsn(format_lsn(value)) == value


def test_parse_lsn_accepts_lower_case_and_spaces() -> None:
    assert parse_lsn(" 16/b374d848\n") == 0x16B374D848


def test_format_lsn_round_trips_random_values() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        value = rng.randrange(2**64)
        assert parse_lsn(format_lsn(value)) == value


@pytest.mark.parametrize("text", ["", "16B374D848", "x/1", "1/y", "/", "1/"])
def test_parse_lsn_refuses_what_is_not_an_lsn(text: str) -> None:
    with pytest.raises(ValueError):
        parse_lsn(text)


# -- a real server ----------------------------------------------------------------------------


@pytest.fixture
def source(postgres_server: PostgresServer, postgres_db: str) -> Iterator[tuple[Any, str]]:
    """A connection to a fresh database with text settings pinned, and a pgoutput slot name
    unique in the cluster (slots are per cluster); the slot is dropped afterwards."""
    options = " ".join(f"-c {k}={v}" for k, v in TEXT_SETTINGS.items())
    connection = psycopg.connect(postgres_server.dsn(postgres_db), autocommit=True, options=options)
    slot = f"t_{uuid.uuid4().hex[:16]}"
    try:
        yield connection, slot
    finally:
        connection.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (slot,),
        )
        connection.close()


def peek(connection: Any, slot: str, *options: str) -> list[pgoutput.Message]:
    rows = connection.execute(
        "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, "
        "'proto_version', '1', 'publication_names', 'pub'"
        + "".join(f", '{o}'" for o in options)
        + ")",
        (slot,),
    ).fetchall()
    return [decode(bytes(row[0])) for row in rows]


def transactions(messages: list[pgoutput.Message]) -> list[list[pgoutput.Message]]:
    """The messages between each Begin and its Commit, checking the brackets."""
    found: list[list[pgoutput.Message]] = []
    current: list[pgoutput.Message] | None = None
    opened: Begin | None = None
    for decoded in messages:
        if isinstance(decoded, Begin):
            assert current is None
            current, opened = [], decoded
        elif isinstance(decoded, Commit):
            assert current is not None and opened is not None
            assert decoded.commit_lsn == opened.final_lsn
            assert decoded.end_lsn > decoded.commit_lsn
            assert decoded.commit_time_us == opened.commit_time_us
            found.append(current)
            current = opened = None
        else:
            assert current is not None, f"{decoded} outside a transaction"
            current.append(decoded)
    assert current is None
    return found


def test_decodes_a_real_servers_messages(source: tuple[Any, str]) -> None:
    connection, slot = source
    execute = connection.execute
    execute("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    execute(
        "CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10, 2), note text, "
        "feeling mood, at timestamptz, tags text[], raw bytea)"
    )
    execute("CREATE TABLE events (a text, b bigint)")
    execute("ALTER TABLE events REPLICA IDENTITY FULL")
    execute("CREATE TABLE other (id int PRIMARY KEY)")
    execute("CREATE TABLE unpublished (id int PRIMARY KEY)")
    execute("CREATE PUBLICATION pub FOR TABLE orders, events, other")
    execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    before_us = int(execute("SELECT extract(epoch FROM clock_timestamp()) * 1e6").fetchone()[0])
    # incompressible text longer than the TOAST threshold is stored out of line: an update
    # that does not touch it does not send it again
    big = "".join(uuid.uuid4().hex for _ in range(400))
    with connection.transaction():
        execute(
            "INSERT INTO orders VALUES (1, 12.5, %s, 'happy', '2024-05-17 09:30:15.123456+00', "
            "ARRAY['a', 'b,c', NULL], '\\x00ff'), (2, NULL, 'short', NULL, NULL, NULL, NULL)",
            (big,),
        )
        execute("INSERT INTO events VALUES ('x', 1)")
        execute("INSERT INTO unpublished VALUES (1)")
    try:
        with connection.transaction():
            execute("INSERT INTO orders (id) VALUES (99)")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    execute("UPDATE orders SET amount = 13 WHERE id = 1")  # note (TOASTed) left unchanged
    execute("UPDATE orders SET id = 3 WHERE id = 2")  # a key update: K then N
    execute("UPDATE events SET b = 2")  # replica identity full: O then N
    execute("DELETE FROM orders WHERE id = 3")  # K: the key only
    execute("DELETE FROM events")  # O: the whole row
    # not transactional: decoded where it is written, once a later commit flushed the WAL
    execute("SELECT pg_logical_emit_message(false, 'ping', '\\x00ff'::bytea)")
    execute("INSERT INTO other VALUES (1)")
    execute("TRUNCATE orders, other RESTART IDENTITY")
    execute("SELECT pg_logical_emit_message(true, 'audit', 'hello')")
    after_us = int(execute("SELECT extract(epoch FROM clock_timestamp()) * 1e6").fetchone()[0])

    messages = peek(connection, slot, "messages", "true")
    relations = {m.name: m for m in messages if isinstance(m, Relation)}
    assert set(relations) == {"orders", "events", "other"}
    orders, events = relations["orders"], relations["events"]
    assert orders.namespace == "public"
    assert orders.replica_identity == "d"
    assert [(c.name, c.is_key) for c in orders.columns] == [
        ("id", True),
        ("amount", False),
        ("note", False),
        ("feeling", False),
        ("at", False),
        ("tags", False),
        ("raw", False),
    ]
    assert orders.columns[1].type_modifier == (10 << 16 | 2) + 4
    assert orders.columns[0].type_oid == 23
    assert events.replica_identity == "f"
    assert all(c.is_key for c in events.columns)
    types = [m for m in messages if isinstance(m, TypeInfo)]
    assert {(t.namespace, t.name) for t in types} == {("public", "mood")}
    assert types[0].oid == orders.columns[3].type_oid

    # a non-transactional message arrives on its own, outside any Begin/Commit
    loose = [m for m in messages if isinstance(m, LogicalMessage) and not m.transactional]
    assert [(m.prefix, m.content) for m in loose] == [("ping", b"\x00\xff")]
    bracketed = [m for m in messages if m not in loose]
    found = transactions(bracketed)
    for decoded in bracketed:
        if isinstance(decoded, Begin):
            assert before_us <= decoded.commit_time_us <= after_us

    def changes_of(txn: list[pgoutput.Message]) -> list[pgoutput.Message]:
        return [m for m in txn if not isinstance(m, Relation | TypeInfo)]

    oid = orders.oid
    assert len(found) == 9
    assert [changes_of(t) for t in found[:8]] == [
        [
            Insert(
                oid,
                (
                    b"1",
                    b"12.50",
                    big.encode(),
                    b"happy",
                    b"2024-05-17 09:30:15.123456+00",
                    b'{a,"b,c",NULL}',
                    b"\\x00ff",
                ),
            ),
            Insert(oid, (b"2", None, b"short", None, None, None, None)),
            Insert(events.oid, (b"x", b"1")),
        ],
        [
            Update(
                oid,
                None,
                False,
                (
                    b"1",
                    b"13.00",
                    U,
                    b"happy",
                    b"2024-05-17 09:30:15.123456+00",
                    b'{a,"b,c",NULL}',
                    b"\\x00ff",
                ),
            )
        ],
        [
            Update(
                oid,
                (b"2", None, None, None, None, None, None),
                True,
                (b"3", None, b"short", None, None, None, None),
            )
        ],
        [Update(events.oid, (b"x", b"1"), False, (b"x", b"2"))],
        [Delete(oid, (b"3", None, None, None, None, None, None), True)],
        [Delete(events.oid, (b"x", b"2"), False)],
        [Insert(relations["other"].oid, (b"1",))],
        [Truncate((oid, relations["other"].oid), 2)],
    ]
    [emitted] = found[8]
    assert isinstance(emitted, LogicalMessage)
    assert (emitted.transactional, emitted.prefix, emitted.content) == (True, "audit", b"hello")
    assert emitted.lsn > 0
    unchanged = changes_of(found[1])[0]
    assert isinstance(unchanged, Update)
    assert unchanged.new[2] is changes.UNCHANGED


def test_a_key_update_leaves_an_untouched_toasted_value_unsent(source: tuple[Any, str]) -> None:
    """What the capture must handle: an update of the key sends the new row with the
    TOASTed value marked unchanged, and only the old key under REPLICA IDENTITY DEFAULT."""
    connection, slot = source
    execute = connection.execute
    execute("CREATE TABLE docs (id int PRIMARY KEY, body text)")
    execute("CREATE PUBLICATION pub FOR TABLE docs")
    execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    big = "".join(uuid.uuid4().hex for _ in range(400))
    execute("INSERT INTO docs VALUES (1, %s)", (big,))
    execute("UPDATE docs SET id = 2")
    decoded = [m for m in peek(connection, slot) if isinstance(m, Update)]
    assert len(decoded) == 1
    assert decoded[0].old == (b"1", None)
    assert decoded[0].old_is_key
    assert decoded[0].new[0] == b"2"
    assert decoded[0].new[1] is changes.UNCHANGED


def test_origin_messages_from_a_real_server(source: tuple[Any, str]) -> None:
    connection, slot = source
    execute = connection.execute
    name = f"o_{uuid.uuid4().hex[:12]}"
    execute("CREATE TABLE t (id int PRIMARY KEY)")
    execute("CREATE PUBLICATION pub FOR TABLE t")
    execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    execute("SELECT pg_replication_origin_create(%s)", (name,))
    try:
        execute("SELECT pg_replication_origin_session_setup(%s)", (name,))
        with connection.transaction():
            execute("SELECT pg_replication_origin_xact_setup('5/A', now())")
            execute("INSERT INTO t VALUES (1)")
        execute("SELECT pg_replication_origin_session_reset()")
    finally:
        execute("SELECT pg_replication_origin_drop(%s)", (name,))
    messages = peek(connection, slot)
    found = [m for m in messages if isinstance(m, Origin)]
    assert found == [Origin(parse_lsn("5/A"), name)]
    assert [type(m) for m in messages] == [Begin, Origin, Relation, Insert, Commit]


def test_server_lsns_parse_as_the_server_counts_them(source: tuple[Any, str]) -> None:
    connection, _ = source
    text, number = connection.execute(
        "SELECT pg_current_wal_lsn()::text, pg_current_wal_lsn() - '0/0'::pg_lsn"
    ).fetchone()
    assert parse_lsn(text) == int(number)
    assert format_lsn(int(number)) == text
    high = connection.execute("SELECT ('16/B374D848'::pg_lsn - '0/0'::pg_lsn)").fetchone()[0]
    assert parse_lsn("16/B374D848") == int(high)
