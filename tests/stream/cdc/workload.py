"""A seeded random workload over several PostgreSQL tables for the change data capture tests,
a test database with its slot, and the independent readers that compare the Delta mirrors and
change logs with the database and the committed transactions.

Four tables hold what breaks CDC pipelines in practice:

- `accounts`: a bigint primary key that updates change, TOASTed text (> 8 kB, random so that
  it is stored out of line) that most updates leave unchanged, numeric, float, text[] and
  timestamptz columns, deletes; a column is added midway (`ALTER TABLE ... ADD COLUMN`,
  inside a transaction that changes rows before and after it);
- `items`: a composite primary key (a, b) whose b updates change, jsonb;
- `events`: no primary key, REPLICA IDENTITY FULL, `primary_key: [event_id]` in YAML (the
  workload keeps event_id unique), a uuid key that updates change, an enum, bytea with zero
  bytes, TOASTed text; a column is added midway too;
- `ledger`: many small inserts, now and then a TRUNCATE (`on_truncate: apply`).

Transactions hold one to six statements of one to five rows each; some roll back, some roll
back to a savepoint and go on. Every row written takes `version` from one sequence, so each
insert or update is a distinct version: the change logs must hold each committed change
exactly once. The writer keeps every committed transaction's changes, in commit order, with
WAL positions around its commit (`Committed.low`, `Committed.high`) that bracket its commit
LSN, and it writes in a session whose time zone is not UTC.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import random
import string
import struct
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from deltalake import DeltaTable
from psycopg import sql

from headwater import Project
from headwater.ingest.cdc.postgres import session_options
from headwater.orchestrate.results import RunSummary
from tests.support.postgres import PostgresServer

WRITER_TIME_ZONE = "America/Sao_Paulo"
"""The writer's session zone: timestamptz values must not depend on it."""

KEYS: dict[str, tuple[str, ...]] = {
    "accounts": ("id",),
    "items": ("a", "b"),
    "events": ("event_id",),
    "ledger": ("id",),
}
"""Each table's key (events': the YAML primary_key; the table has none)."""

SETUP_SQL = """
CREATE SEQUENCE hw_version;
CREATE TYPE event_kind AS ENUM ('open', 'held', 'closed', 'it''s "odd"');
CREATE TABLE accounts (
    id bigint PRIMARY KEY,
    owner text NOT NULL,
    balance numeric(12, 2),
    score float8,
    note text,
    tags text[],
    updated timestamptz,
    version bigint NOT NULL
);
CREATE TABLE items (
    a int,
    b text,
    qty int,
    doc jsonb,
    version bigint NOT NULL,
    PRIMARY KEY (a, b)
);
CREATE TABLE events (
    event_id uuid NOT NULL,
    kind event_kind,
    at timestamp,
    data bytea,
    body text,
    version bigint NOT NULL
);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE ledger (id bigint PRIMARY KEY, amount float8, memo text, version bigint NOT NULL);
"""

EVOLVE_SQL = (
    "ALTER TABLE accounts ADD COLUMN rating int",
    "ALTER TABLE events ADD COLUMN extra text",
)
"""The columns added midway (no default: PostgreSQL logs no change for existing rows)."""

ALPHABET = string.ascii_letters + string.digits + " ,{}\"'\\\n\t;é€"


def table_specs(truncate: str = "apply") -> dict[str, dict[str, Any]]:
    """The source YAML of the workload's tables (every one with a change log)."""
    return {
        "accounts": {"mode": "cdc", "changelog": True},
        "items": {"mode": "cdc", "changelog": True},
        "events": {"mode": "cdc", "changelog": True, "primary_key": ["event_id"]},
        "ledger": {"mode": "cdc", "changelog": True, "on_truncate": truncate},
    }


def source_file(
    url: str, slot: str, tables: dict[str, dict[str, Any]], **cdc: Any
) -> dict[str, str]:
    """The project file `sources/pg.yml` for a PostgreSQL source at `url` (JSON is YAML)."""
    source = {"kind": "sql", "url": url, "cdc": {"slot": slot, **cdc}, "tables": tables}
    return {"sources/pg.yml": json.dumps(source, indent=1)}


@dataclass(frozen=True)
class Change:
    """One change as a change log must hold it: a delete of a table with REPLICA IDENTITY
    DEFAULT carries only its key (version None); a truncate neither."""

    table: str
    op: str
    key: tuple[Any, ...] | None
    version: int | None


@dataclass
class Committed:
    """A committed transaction's changes in statement order, and WAL positions taken just
    before its COMMIT and just after it (its commit record lies between them)."""

    changes: list[Change]
    low: int
    high: int


@dataclass
class _Keys:
    """The keys each table holds (dicts as ordered sets, so picks follow the seed)."""

    tables: dict[str, dict[tuple[Any, ...], None]] = field(
        default_factory=lambda: {name: {} for name in KEYS}
    )

    def copy(self) -> _Keys:
        return _Keys({name: dict(keys) for name, keys in self.tables.items()})


def lsn_int(text: str) -> int:
    """An LSN written as PostgreSQL writes it (`16/B374D848`), as an integer."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A writer's connection, in a time zone that is not UTC."""
    return psycopg.connect(dsn, autocommit=autocommit, options=f"-c TimeZone={WRITER_TIME_ZONE}")


class Workload:
    """The random workload over one database; one writer at a time."""

    def __init__(self, dsn: str, seed: int) -> None:
        self.dsn = dsn
        self.rng = random.Random(seed)
        self.keys = _Keys()
        self.committed: list[Committed] = []
        self.rolled_back = 0
        self.savepoints = 0
        self.truncates = 0
        self.moves = 0
        """Key updates run (some in transactions rolled back)."""
        self.evolved = False
        self.evolve_at: int | None = None
        """Add the columns in the transaction after this many commits (None: not yet)."""
        self.allow_truncate = True
        self._next = {"accounts": 1, "items": 1, "ledger": 1}

    # -- set-up ------------------------------------------------------------------------------

    def setup(self, accounts: int = 2000, ledger: int = 2000, big: int = 40) -> None:
        """Create the tables and fill them (`big` accounts with out-of-line TOASTed notes)."""
        with connect(self.dsn, autocommit=True) as connection:
            connection.execute(SETUP_SQL)
            connection.execute(
                "INSERT INTO accounts SELECT i, 'owner ' || i, i * 1.25, i / 7.0, "
                "CASE WHEN i %% 3 = 0 THEN NULL ELSE 'note ' || i END, "
                "ARRAY['t' || i, NULL, 'a,b'], timestamptz '2024-03-10 12:00:00+00' "
                "+ i * interval '1 minute', nextval('hw_version') "
                "FROM generate_series(1, %s) i",
                (accounts,),
            )
            for i in range(1, big + 1):
                connection.execute(
                    "UPDATE accounts SET note = %s WHERE id = %s", (self.big_text(), i * 7)
                )
            connection.execute(
                "INSERT INTO items SELECT i %% 50, 'b' || i, i, jsonb_build_object('n', i), "
                "nextval('hw_version') FROM generate_series(1, %s) i",
                (accounts // 2,),
            )
            connection.execute(
                "INSERT INTO events SELECT gen_random_uuid(), 'open', "
                "timestamp '2024-01-01' + i * interval '1 second', '\\x00ff00'::bytea, "
                "'body ' || i, nextval('hw_version') FROM generate_series(1, %s) i",
                (accounts // 4,),
            )
            connection.execute(
                "INSERT INTO ledger SELECT i, i * 0.5, 'memo ' || i, nextval('hw_version') "
                "FROM generate_series(1, %s) i",
                (ledger,),
            )
            for name, key in KEYS.items():
                columns = sql.SQL(", ").join(map(sql.Identifier, key))
                query = sql.SQL(
                    "SELECT {} FROM {} ORDER BY 1, 2"
                    if len(key) > 1
                    else "SELECT {} FROM {} ORDER BY 1"
                ).format(columns, sql.Identifier(name))
                for row in connection.execute(query).fetchall():
                    self.keys.tables[name][_key(row)] = None
        self._next = {"accounts": accounts + 1, "items": accounts + 1, "ledger": ledger + 1}

    # -- values ------------------------------------------------------------------------------

    def text(self, low: int = 0, high: int = 12) -> str:
        """Short text with quotes, commas, braces, backslashes, newlines and non-ASCII."""
        return "".join(self.rng.choices(ALPHABET, k=self.rng.randint(low, high)))

    def big_text(self) -> str:
        """Random text over 8 kB that does not compress: PostgreSQL stores it out of line."""
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=9000))

    def tags(self) -> list[str | None] | None:
        if self.rng.random() < 0.1:
            return None
        choices: list[str | None] = ["a", "b,c", '"q"', "{x}", "", "NULL", None, "back\\slash"]
        return [self.rng.choice(choices) for _ in range(self.rng.randint(0, 4))]

    def moment(self) -> str:
        """A timestamp literal at a random moment, to the microsecond."""
        return (
            f"20{self.rng.randint(10, 30)}-0{self.rng.randint(1, 9)}-{self.rng.randint(10, 28)} "
            f"{self.rng.randint(10, 23)}:{self.rng.randint(10, 59)}:{self.rng.randint(10, 59)}"
            f".{self.rng.randint(0, 999999):06d}"
        )

    def instant(self) -> str:
        """A timestamptz literal at a random moment, in a random UTC offset."""
        return self.moment() + self.rng.choice(["+00", "+05:30", "-03", "+14"])

    def score(self) -> float | None:
        roll = self.rng.random()
        if roll < 0.03:
            return math.nan
        if roll < 0.05:
            return self.rng.choice([math.inf, -math.inf])
        if roll < 0.1:
            return None
        return self.rng.uniform(-1e6, 1e6)

    # -- transactions ------------------------------------------------------------------------

    def transaction(self, connection: psycopg.Connection[Any]) -> Committed | None:
        """Run one random transaction; return it when committed (None: rolled back)."""
        keys = self.keys.copy()
        changes: list[Change] = []
        cursor = connection.cursor()
        evolve = (
            self.evolve_at is not None
            and not self.evolved
            and (len(self.committed) >= self.evolve_at)
        )
        if evolve:
            # rows change before and after the new columns in the same transaction
            changes += self.insert_accounts(cursor, keys)
            changes += self.update_events(cursor, keys)
            for statement in EVOLVE_SQL:
                cursor.execute(statement)
            self.evolved = True
        for _ in range(self.rng.randint(1, 6)):
            if self.rng.random() < 0.06:
                cursor.execute("SAVEPOINT s")
                saved = keys.copy()
                self.statement(cursor, saved)
                cursor.execute("ROLLBACK TO SAVEPOINT s")
                self.savepoints += 1
            changes += self.statement(cursor, keys)
        if not evolve and self.rng.random() < 0.08:
            connection.rollback()
            self.rolled_back += 1
            return None
        low = cursor.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        connection.commit()
        high = cursor.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        connection.commit()
        assert low is not None and high is not None
        self.keys = keys
        done = Committed(changes, lsn_int(low[0]), lsn_int(high[0]))
        self.committed.append(done)
        return done

    def statement(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        """One random statement; return its changes."""
        roll = self.rng.random()
        if roll < 0.08 and self.allow_truncate:
            if self.rng.random() < 0.1:
                return self.truncate_ledger(cursor, keys)
            return self.insert_ledger(cursor, keys)
        if roll < 0.22:
            return self.insert_accounts(cursor, keys)
        if roll < 0.40:
            return self.update_accounts(cursor, keys)
        if roll < 0.47:
            return self.move_accounts(cursor, keys)
        if roll < 0.53:
            return self.delete(cursor, keys, "accounts")
        if roll < 0.61:
            return self.insert_items(cursor, keys)
        if roll < 0.68:
            return self.update_items(cursor, keys)
        if roll < 0.72:
            return self.delete(cursor, keys, "items")
        if roll < 0.79:
            return self.insert_events(cursor, keys)
        if roll < 0.88:
            return self.update_events(cursor, keys)
        if roll < 0.92:
            return self.delete(cursor, keys, "events")
        return self.insert_ledger(cursor, keys)

    def pick(self, keys: _Keys, table: str, most: int = 5) -> list[tuple[Any, ...]]:
        """Up to `most` distinct keys of `table`."""
        held = list(keys.tables[table])
        if not held:
            return []
        return self.rng.sample(held, min(len(held), self.rng.randint(1, most)))

    def new_id(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value

    def insert_accounts(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        changes = []
        for _ in range(self.rng.randint(1, 5)):
            note = self.big_text() if self.rng.random() < 0.2 else self.text()
            values = [
                self.new_id("accounts"),
                self.text(1),
                Decimal(self.rng.randint(-(10**9), 10**9)) / 100,
                self.score(),
                note if self.rng.random() > 0.1 else None,
                self.tags(),
                self.instant(),
            ]
            rating = ", rating" if self.evolved else ""
            rating_value = ", %s" if self.evolved else ""
            if self.evolved:
                values.append(self.rng.choice([None, self.rng.randint(-5, 5)]))
            row = cursor.execute(
                f"INSERT INTO accounts (id, owner, balance, score, note, tags, updated{rating}, "
                f"version) VALUES (%s, %s, %s, %s, %s, %s, %s{rating_value}, "
                "nextval('hw_version')) RETURNING id, version",
                values,
            ).fetchone()
            assert row is not None
            keys.tables["accounts"][(row[0],)] = None
            changes.append(Change("accounts", "c", (row[0],), row[1]))
        return changes

    def update_accounts(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        """Update columns other than the note (its TOASTed value is not sent), now and then
        the note itself."""
        ids = [k[0] for k in self.pick(keys, "accounts")]
        if not ids:
            return []
        roll = self.rng.random()
        if roll < 0.15:
            setting, values = "note = %s", [self.big_text()]
        elif roll < 0.3 and self.evolved:
            setting, values = "rating = %s", [self.rng.randint(-9, 9)]
        elif roll < 0.45:
            setting, values = "tags = %s, score = %s", [self.tags(), self.score()]
        else:
            setting, values = (
                "balance = balance + %s, updated = now()",
                [Decimal(self.rng.randint(-500, 500)) / 100],
            )
        rows = cursor.execute(
            f"UPDATE accounts SET {setting}, version = nextval('hw_version') "
            "WHERE id = ANY(%s) RETURNING id, version",
            [*values, ids],
        ).fetchall()
        return [Change("accounts", "u", (r[0],), r[1]) for r in rows]

    def move_accounts(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        """Change a row's key (its TOASTed note left as it was), sometimes twice over."""
        picked = self.pick(keys, "accounts", 1)
        if not picked:
            return []
        changes = []
        old = picked[0][0]
        for _ in range(self.rng.choice([1, 1, 2])):
            new = self.new_id("accounts")
            row = cursor.execute(
                "UPDATE accounts SET id = %s, version = nextval('hw_version') WHERE id = %s "
                "RETURNING id, version",
                (new, old),
            ).fetchone()
            assert row is not None
            del keys.tables["accounts"][(old,)]
            keys.tables["accounts"][(new,)] = None
            changes.append(Change("accounts", "u", (new,), row[1]))
            self.moves += 1
            old = new
        return changes

    def delete(self, cursor: psycopg.Cursor[Any], keys: _Keys, table: str) -> list[Change]:
        picked = self.pick(keys, table, 3)
        if not picked:
            return []
        key = KEYS[table]
        condition = sql.SQL(" OR ").join(
            sql.SQL("({})").format(
                sql.SQL(" AND ").join(
                    sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v))
                    for c, v in zip(key, k, strict=True)
                )
            )
            for k in picked
        )
        returning = sql.SQL(", ").join(map(sql.Identifier, (*key, "version")))
        rows = cursor.execute(
            sql.SQL("DELETE FROM {} WHERE {} RETURNING {}").format(
                sql.Identifier(table), condition, returning
            )
        ).fetchall()
        changes = []
        for row in rows:
            found = _key(row[: len(key)])
            del keys.tables[table][found]
            # REPLICA IDENTITY FULL logs the whole old row, DEFAULT only its key
            version = row[-1] if table == "events" else None
            changes.append(Change(table, "d", found, version))
        return changes

    def insert_items(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        changes = []
        for _ in range(self.rng.randint(1, 4)):
            a, b = self.rng.randint(0, 49), f"n{self.new_id('items')}"
            doc = json.dumps({"t": self.text(), "n": self.rng.random(), "l": [1, None]})
            row = cursor.execute(
                "INSERT INTO items VALUES (%s, %s, %s, %s, nextval('hw_version')) "
                "RETURNING a, b, version",
                (a, b, self.rng.randint(-5, 500), doc if self.rng.random() > 0.1 else None),
            ).fetchone()
            assert row is not None
            keys.tables["items"][(row[0], row[1])] = None
            changes.append(Change("items", "c", (row[0], row[1]), row[2]))
        return changes

    def update_items(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        """Update quantities, or change b (part of the key) of one row."""
        picked = self.pick(keys, "items")
        if not picked:
            return []
        if self.rng.random() < 0.3:
            a, b = picked[0]
            new_b = f"m{self.new_id('items')}"
            row = cursor.execute(
                "UPDATE items SET b = %s, version = nextval('hw_version') "
                "WHERE a = %s AND b = %s RETURNING a, b, version",
                (new_b, a, b),
            ).fetchone()
            assert row is not None
            del keys.tables["items"][(a, b)]
            keys.tables["items"][(row[0], row[1])] = None
            self.moves += 1
            return [Change("items", "u", (row[0], row[1]), row[2])]
        changes = []
        for a, b in picked:
            row = cursor.execute(
                "UPDATE items SET qty = qty + 1, version = nextval('hw_version') "
                "WHERE a = %s AND b = %s RETURNING a, b, version",
                (a, b),
            ).fetchone()
            assert row is not None
            changes.append(Change("items", "u", (row[0], row[1]), row[2]))
        return changes

    def insert_events(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        changes = []
        for _ in range(self.rng.randint(1, 3)):
            event_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            body = self.big_text() if self.rng.random() < 0.15 else self.text()
            extra = ", extra" if self.evolved else ""
            extra_value = ", %s" if self.evolved else ""
            values: list[Any] = [
                event_id,
                self.rng.choice(["open", "held", "closed", 'it\'s "odd"', None]),
                self.moment(),
                bytes(self.rng.choice([0, 0, 1, 255, 92]) for _ in range(self.rng.randint(0, 8))),
                body,
            ]
            if self.evolved:
                values.append(self.text())
            row = cursor.execute(
                f"INSERT INTO events (event_id, kind, at, data, body{extra}, version) VALUES "
                f"(%s, %s, %s, %s, %s{extra_value}, nextval('hw_version')) "
                "RETURNING event_id, version",
                values,
            ).fetchone()
            assert row is not None
            keys.tables["events"][(str(row[0]),)] = None
            changes.append(Change("events", "c", (str(row[0]),), row[1]))
        return changes

    def update_events(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        """Update an event's kind (its TOASTed body unchanged), or its event_id (the key)."""
        picked = self.pick(keys, "events", 3)
        if not picked:
            return []
        changes = []
        for (event_id,) in picked:
            if self.rng.random() < 0.25:
                setting = "event_id = gen_random_uuid()"
                self.moves += 1
            else:
                setting = "kind = 'held', at = at + interval '1 hour'"
            row = cursor.execute(
                f"UPDATE events SET {setting}, version = nextval('hw_version') "
                "WHERE event_id = %s RETURNING event_id, version",
                (event_id,),
            ).fetchone()
            assert row is not None
            del keys.tables["events"][(event_id,)]
            keys.tables["events"][(str(row[0]),)] = None
            changes.append(Change("events", "u", (str(row[0]),), row[1]))
        return changes

    def insert_ledger(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        count = self.rng.randint(1, 20)
        first = self._next["ledger"]
        self._next["ledger"] += count
        rows = cursor.execute(
            "INSERT INTO ledger SELECT i, i * 0.25, %s, nextval('hw_version') "
            "FROM generate_series(%s::bigint, %s::bigint) i RETURNING id, version",
            (self.text(), first, first + count - 1),
        ).fetchall()
        for row in rows:
            keys.tables["ledger"][(row[0],)] = None
        return [Change("ledger", "c", (r[0],), r[1]) for r in rows]

    def truncate_ledger(self, cursor: psycopg.Cursor[Any], keys: _Keys) -> list[Change]:
        cursor.execute("TRUNCATE ledger")
        keys.tables["ledger"].clear()
        self.truncates += 1
        return [Change("ledger", "t", None, None)]

    def run(self, transactions: int) -> None:
        """Run `transactions` transactions (rolled-back ones count)."""
        with connect(self.dsn) as connection:
            for _ in range(transactions):
                self.transaction(connection)


class Writer(threading.Thread):
    """Runs the workload's transactions until told to stop (or `limit` is reached).

    With `slot` and `max_ahead`, the writer waits before a transaction while `max_ahead`
    committed transactions or more lie past the slot's confirmed position: it never gets
    further ahead of what the capture acknowledged, however often the capture is killed and
    however slow the machine is, so the catch-up left after the last kill stays bounded.
    """

    def __init__(
        self,
        workload: Workload,
        pause_s: float = 0.0,
        limit: int | None = None,
        slot: str | None = None,
        max_ahead: int | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.workload = workload
        self.pause_s = pause_s
        self.limit = limit
        self.slot = slot
        self.max_ahead = max_ahead
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.count = 0
        self.held_back = 0
        """Transactions that waited for the capture before they started."""
        self._acknowledged = 0
        """How many of the committed transactions the slot was last seen to have confirmed."""

    def run(self) -> None:
        try:
            with (
                connect(self.workload.dsn) as connection,
                connect(self.workload.dsn, autocommit=True) as watch,
            ):
                while not self.stop.is_set() and (self.limit is None or self.count < self.limit):
                    self._hold_back(watch)
                    if self.stop.is_set():
                        break
                    self.workload.transaction(connection)
                    self.count += 1
                    if self.pause_s:
                        time.sleep(self.workload.rng.uniform(0, self.pause_s))
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def ahead(self) -> int:
        """Committed transactions past the slot's confirmed position when last looked at."""
        return len(self.workload.committed) - self._acknowledged

    def _hold_back(self, watch: psycopg.Connection[Any]) -> None:
        """Wait while `max_ahead` transactions or more are past the slot, until stopped."""
        if self.slot is None or self.max_ahead is None:
            return
        waited = False
        while not self.stop.is_set() and self.ahead() >= self.max_ahead:
            row = watch.execute(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                (self.slot,),
            ).fetchone()
            if row is None or row[0] is None:
                return  # no slot yet: everything written now is in its first copy
            confirmed = lsn_int(row[0])
            # a transaction is confirmed once the slot is past its commit (before `high`)
            self._acknowledged = bisect.bisect_right(
                self.workload.committed, confirmed, key=lambda c: c.high
            )
            if self.ahead() < self.max_ahead:
                return
            if not waited:
                waited = True
                self.held_back += 1
            time.sleep(0.02)

    def finish(self) -> None:
        """Stop writing, wait for the transaction in hand, raise what went wrong."""
        self.stop.set()
        self.join(120)
        assert not self.is_alive(), "the writer did not stop"
        if self.error is not None:
            raise self.error


def _key(row: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(str(v) if isinstance(v, uuid.UUID) else v for v in row)


# -- the database and the runs ----------------------------------------------------------------


DEADLINE_S = 120.0
"""A hang guard for waits on the server, never a measurement."""


@dataclass
class CdcDatabase:
    """A fresh database on the session's server and a slot name no other test uses."""

    server: PostgresServer
    name: str
    slot: str

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    def execute(self, *statements: str) -> None:
        """Run each statement in its own transaction, as the writer (not UTC)."""
        with connect(self.dsn, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            return connection.execute(statement, params).fetchall()

    def slot_state(self) -> tuple[int | None, int | None]:
        """The slot's (confirmed_flush_lsn, restart_lsn) once no reader holds it."""
        deadline = time.monotonic() + DEADLINE_S
        while True:
            rows = self.query(
                "SELECT active_pid, confirmed_flush_lsn::text, restart_lsn::text "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (self.slot,),
            )
            if not rows:
                return None, None
            active, confirmed, restart = rows[0]
            if active is None:
                return lsn_int(confirmed), lsn_int(restart)
            assert time.monotonic() < deadline, "the slot stays in use"
            time.sleep(0.02)


def drop_slots(server: PostgresServer, database: str) -> None:
    """Drop the slots of `database` (slots are per server: the session's has ten)."""
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            rows = connection.execute(
                "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s",
                (database,),
            ).fetchall()
            if not rows:
                return
            for name, pid in rows:
                if pid is not None:
                    connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    continue
                # taken again, or gone (a temporary slot): look again
                with contextlib.suppress(
                    psycopg.errors.ObjectInUse, psycopg.errors.UndefinedObject
                ):
                    connection.execute("SELECT pg_drop_replication_slot(%s)", (name,))
            time.sleep(0.05)


def run(project: Project) -> RunSummary:
    """A `headwater run` of the project that must succeed."""
    summary = project.run()
    failed = [f"{o.key}: {o.message}" for o in summary.outcomes if o.status.value != "success"]
    assert failed == [], "\n".join(failed)
    return summary


# -- comparing a mirror with its table -----------------------------------------------------------


def mirror_table(warehouse: Path, table: str, columns: list[str] | None = None) -> pa.Table:
    """A mirror (or change log) as delta-rs reads it (not through Headwater)."""
    return DeltaTable(str(warehouse / "pg" / table)).to_pyarrow_table(columns=columns)


def _canonical(value: Any, kind: pa.DataType) -> Any:
    """A value in a form both sides compare equal in: NaN as a marker (NaN equals nothing),
    a float4 rounded to 32 bits (psycopg reads it as a double), numeric NaN as NULL (a
    decimal has no NaN: the mirror holds NULL). Aware datetimes compare as instants."""
    if value is None:
        return None
    if pa.types.is_list(kind):
        return tuple(_canonical(v, kind.value_type) for v in value)
    if pa.types.is_floating(kind):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if pa.types.is_float32(kind):
            return struct.unpack("f", struct.pack("f", number))[0]
        return number
    if pa.types.is_decimal(kind):
        return None if value.is_nan() else value
    return value


def _canonical_column(values: list[Any], kind: pa.DataType) -> list[Any]:
    if pa.types.is_list(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return [_canonical(v, kind) for v in values]
    return values


def pg_rows(
    dsn: str, table: str, schema: pa.Schema, skip: Iterable[str] = ()
) -> list[tuple[Any, ...]]:
    """The table's rows read from PostgreSQL with the mirror's column order and types:
    a VARCHAR column (uuid, json, enum, interval, time, char...) as PostgreSQL's text in
    the settings the capture pins (ISO dates, UTC), other columns as psycopg loads them."""
    skipped = set(skip)
    fields = [f for f in schema if f.name not in skipped]
    selected = []
    for f in fields:
        column = sql.Identifier(f.name)
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            # the type's output function (`::text` would strip char(n)'s padding)
            text = "CASE WHEN {0} IS NULL THEN NULL ELSE format('%s', {0}) END"
            selected.append(sql.SQL(text).format(column))
        elif pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            selected.append(sql.SQL("{}::text[]").format(column))
        else:
            selected.append(column)
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(selected), sql.Identifier(table))
    with psycopg.connect(dsn, options=session_options()) as connection:
        rows = connection.execute(query).fetchall()
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in fields]
    canonical = [_canonical_column(c, f.type) for c, f in zip(columns, fields, strict=True)]
    return list(zip(*canonical, strict=True))


def mirror_rows(table: pa.Table, skip: Iterable[str] = ()) -> list[tuple[Any, ...]]:
    """A mirror's rows, each value in the canonical form."""
    skipped = set(skip)
    fields = [f for f in table.schema if f.name not in skipped]
    columns = [_canonical_column(table.column(f.name).to_pylist(), f.type) for f in fields]
    return list(zip(*columns, strict=True))


def pg_columns(dsn: str, table: str) -> list[str]:
    """The table's columns that PostgreSQL publishes (not dropped, not generated)."""
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            (table,),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _short(row: tuple[Any, ...] | None) -> str:
    if row is None:
        return "(missing)"
    return "(" + ", ".join(repr(v)[:40] for v in row) + ")"


def mirror_problems(
    dsn: str,
    warehouse: Path,
    table: str,
    key: tuple[str, ...] | None = None,
    delete_column: str | None = None,
) -> list[str]:
    """How the mirror of `table` differs from the table in PostgreSQL (empty: equal): its
    columns, then its rows by key. With a soft-delete column, the rows flagged deleted are
    left out (the caller checks them)."""
    mirror = mirror_table(warehouse, table)
    names = [n for n in mirror.column_names if n != delete_column]
    expected = pg_columns(dsn, table)
    if names != expected:
        return [f"{table}: mirror columns {names}, PostgreSQL's {expected}"]
    if delete_column is not None:
        flags = mirror.column(delete_column).to_pylist()
        assert all(f is not None for f in flags)
        mirror = mirror.filter(pa.array([not f for f in flags]))
    key = key or KEYS[table]
    at = [names.index(k) for k in key]
    ours = mirror_rows(mirror, skip=[delete_column] if delete_column else [])
    theirs = pg_rows(dsn, table, mirror.schema, skip=[delete_column] if delete_column else [])
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{table}: {len(ours)} rows in the mirror, {len(theirs)} in PostgreSQL")
    by_key = {tuple(r[i] for i in at): r for r in ours}
    if len(by_key) != len(ours):
        problems.append(f"{table}: the mirror holds a key twice")
    wanted = {tuple(r[i] for i in at): r for r in theirs}
    if by_key == wanted:
        return problems
    for k in sorted(set(by_key) | set(wanted), key=repr):
        ours_row, theirs_row = by_key.get(k), wanted.get(k)
        if ours_row is None or theirs_row is None:
            problems.append(f"{table} {k}: mirror {_short(ours_row)} != {_short(theirs_row)}")
        elif ours_row != theirs_row:
            differ = [
                f"{name}: {repr(a)[:60]} != {repr(b)[:60]}"
                for name, a, b in zip(names, ours_row, theirs_row, strict=True)
                if a != b
            ]
            problems.append(f"{table} {k}: mirror != PostgreSQL in " + "; ".join(differ))
        if len(problems) > 8:
            break
    return problems


def assert_mirrors_equal(dsn: str, warehouse: Path, tables: Iterable[str] = KEYS) -> None:
    """Every mirror equals its PostgreSQL table: columns, rows and values."""
    problems = [p for t in tables for p in mirror_problems(dsn, warehouse, t)]
    assert problems == [], "\n".join(problems)


# -- comparing the change logs with the committed transactions ----------------------------------


@dataclass(frozen=True)
class Logged:
    """One row of a change log (not a snapshot read)."""

    change: Change
    lsn: int
    seq: int
    commit_us: int | None


def logged_changes(warehouse: Path, tables: Iterable[str] = KEYS) -> dict[str, list[Logged]]:
    """Each table's change log rows other than the initial copy's (`r`)."""
    found: dict[str, list[Logged]] = {}
    for table in tables:
        key = KEYS[table]
        wanted = ["_op", "_lsn", "_seq", "_commit_time", *key, "version"]
        log = mirror_table(warehouse, table + "__changes", wanted)
        columns = {n: log.column(n).to_pylist() for n in ("_op", "_lsn", "_seq", "_commit_time")}
        keys = [log.column(k).to_pylist() for k in key]
        versions = log.column("version").to_pylist()
        rows = []
        for i, op in enumerate(columns["_op"]):
            if op == "r":
                continue
            when = columns["_commit_time"][i]
            rows.append(
                Logged(
                    Change(
                        table,
                        op,
                        None if op == "t" else tuple(k[i] for k in keys),
                        versions[i],
                    ),
                    columns["_lsn"][i],
                    columns["_seq"][i],
                    None if when is None else int(when.timestamp() * 1_000_000),
                )
            )
        found[table] = rows
    return found


def copy_positions(warehouse: Path, tables: Iterable[str] = KEYS) -> dict[str, int | None]:
    """The LSN at which each table's mirror was last copied, from its change log's `r`
    rows (None: the copy had no rows)."""
    found: dict[str, int | None] = {}
    for table in tables:
        log = mirror_table(warehouse, table + "__changes", ["_op", "_lsn"])
        reads = {lsn for op, lsn in zip(*log.to_pydict().values(), strict=True) if op == "r"}
        assert len(reads) <= 1, f"{table}: the copy's rows are at several LSNs: {reads}"
        found[table] = reads.pop() if reads else None
    return found


def change_log_problems(
    committed: list[Committed],
    logged: dict[str, list[Logged]],
    copies: dict[str, int | None],
) -> list[str]:
    """How the change logs differ from the committed transactions (empty: none lost, none
    twice, none that was rolled back). Each table's log holds exactly the changes of the
    transactions that committed after its copy's snapshot (`copies`; the earlier ones are
    the copy's `r` rows), each with its transaction's commit LSN, which lies between the WAL
    positions taken around the commit; a transaction's changes have distinct `_seq`s; the
    commit times never go back in commit order."""
    problems: list[str] = []
    span = [(c.low, c.high) for c in committed]
    lows = [c.low for c in committed]
    for table, rows in logged.items():
        by_lsn: dict[int, list[Logged]] = {}
        for row in rows:
            by_lsn.setdefault(row.lsn, []).append(row)
        placed: dict[int, list[Change]] = {}
        for lsn, group in by_lsn.items():
            index = bisect.bisect_right(lows, lsn) - 1
            if index < 0 or not span[index][0] <= lsn < span[index][1]:
                problems.append(
                    f"{table}: logged changes at LSN {lsn} match no committed transaction: "
                    f"{group[0].change}"
                )
                continue
            seqs = sorted(r.seq for r in group)
            if len(set(seqs)) != len(seqs):
                problems.append(f"{table}: transaction {index} logs a _seq twice: {seqs}")
            placed[index] = [r.change for r in sorted(group, key=lambda r: r.seq)]
        expected = {
            i: [c for c in txn.changes if c.table == table] for i, txn in enumerate(committed)
        }
        expected = {i: changes for i, changes in expected.items() if changes}
        copy = copies.get(table)
        first = min(placed, default=len(committed))
        for i, changes in sorted(expected.items()):
            got = placed.get(i)
            if copy is not None and committed[i].high <= copy:
                if got is not None:
                    problems.append(f"{table}: transaction {i} is in the copy and the log")
                continue
            straddles = copy is not None and committed[i].low < copy
            if (copy is None and i < first) or (straddles and got is None):
                continue  # committed before the copy's snapshot
            if got is None:
                problems.append(f"{table}: transaction {i} is not in the change log: {changes[:3]}")
            elif sorted(got, key=repr) != sorted(changes, key=repr):
                problems.append(
                    f"{table}: transaction {i} logged {len(got)} changes, committed "
                    f"{len(changes)}: logged {got[:4]} != {changes[:4]}"
                )
            if len(problems) > 10:
                return problems
        for i in placed:
            if i not in expected:
                problems.append(f"{table}: transaction {i} did not change {table} but is logged")
        times = [r.commit_us or 0 for r in sorted(rows, key=lambda r: (r.lsn, r.seq))]
        if 0 in times or times != sorted(times):
            problems.append(f"{table}: commit times go back in commit order, or are missing")
    return problems


def assert_change_logs_exact(committed: list[Committed], warehouse: Path) -> None:
    """The change logs hold every committed change once (see `change_log_problems`)."""
    problems = change_log_problems(committed, logged_changes(warehouse), copy_positions(warehouse))
    assert problems == [], "\n".join(problems)


def acknowledged_unheld(
    logged: dict[str, list[Logged]],
    held: dict[str, tuple[int | None, int | None]],
    confirmed: int,
) -> list[str]:
    """The changes the slot was confirmed past (their transaction commits before
    `confirmed`) that a mirror or its change log did not hold (at or after its position in
    `held`: table -> (mirror's, change log's); None: not copied yet, the copy will hold
    them). PostgreSQL never sends those again, so each one is a lost change."""
    problems = []
    for table, rows in logged.items():
        positions = held.get(table, (None, None))
        for what, position in zip(("mirror", "change log"), positions, strict=True):
            if position is None:
                continue
            lost = sorted(r.lsn for r in rows if position <= r.lsn < confirmed)
            if lost:
                problems.append(
                    f"{table}: slot confirmed at {confirmed}, past {len(lost)} changes the "
                    f"{what} (at {position}) did not hold, from LSN {lost[0]}"
                )
    return problems
