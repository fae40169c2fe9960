"""PostgreSQL's side of change data capture: the publication, the slot, the snapshot copy and
the replication stream, through the built-in `pgoutput` plugin.

`psycopg2` speaks the replication protocol (`LogicalReplicationConnection`); everything else
goes through `psycopg` 3 like the rest of Headwater. The slot is created with an exported
snapshot, so the initial copy of each table reads exactly the rows committed before the slot's
consistent point, and the stream starts there: no change is missed and none is seen twice.
A table added to a running capture is copied in a snapshot of a temporary slot instead, and
the changes streamed before that snapshot's consistent point are skipped for it.

The stream is read in whole transactions (`Transaction`): nothing of a transaction reaches
the mirrors before its commit, and a rolled-back one never arrives at all. `acknowledge` tells
the server what the mirrors hold; it keeps the WAL after that until told more.
"""

from __future__ import annotations

import re
import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from headwater.build.secrets import redact
from headwater.errors import CdcError, Location, TransientError
from headwater.ingest.cdc import pgoutput
from headwater.ingest.cdc.pgtypes import COLUMNS_SQL, TEXT_SETTINGS, PgColumn
from headwater.sqltext import identifier

REPLY_WAIT_S = 0.05
"""How long a caught-up check waits for the server's answer to a keepalive request."""
STABLE_REPLIES = 3
"""Keepalives in a row with the same WAL end that count as the server having nothing more."""


@dataclass(frozen=True)
class MirroredTable:
    """A PostgreSQL table captured into a mirror."""

    schema: str
    name: str
    columns: tuple[PgColumn, ...]
    key: tuple[str, ...]
    identity: str
    """REPLICA IDENTITY: `d` (the primary key), `f` (full), `i` (an index), `n` (nothing)."""

    @property
    def qualified(self) -> str:
        """`schema.table`, quoted for SQL."""
        return f"{identifier(self.schema)}.{identifier(self.name)}"


@dataclass
class Transaction:
    """One committed transaction's messages for the published tables, in order."""

    commit_lsn: int
    end_lsn: int
    commit_us: int
    messages: list[pgoutput.Message] = field(default_factory=list)
    changes: int = 0
    """Inserts, updates and deletes among `messages`."""


@dataclass(frozen=True)
class SlotInfo:
    """A replication slot as `pg_replication_slots` shows it."""

    name: str
    confirmed_flush: int | None
    restart: int | None
    active_pid: int | None
    current: int
    """The server's current WAL position (`pg_current_wal_lsn()`)."""

    @property
    def lag_bytes(self) -> int | None:
        """WAL written since the last position the slot's reader confirmed."""
        return None if self.confirmed_flush is None else max(0, self.current - self.confirmed_flush)

    @property
    def retained_bytes(self) -> int | None:
        """WAL the server keeps for the slot (from its restart point)."""
        return None if self.restart is None else max(0, self.current - self.restart)


def conninfo(url: str) -> str:
    """A libpq connection URL for the source URL `url` (a SQLAlchemy URL naming a driver)."""
    return re.sub(r"^postgres(ql)?(\+[a-z0-9]+)?:", "postgresql:", url)


def session_options() -> str:
    """The `options` connection parameter pinning how values are written as text."""
    return " ".join(f"-c {name}={value}" for name, value in TEXT_SETTINGS.items())


def is_postgres(url: str) -> bool:
    """True when `url` names a PostgreSQL database."""
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


class PostgresCapture:
    """One source's capture: its publication, its slot and its replication connection."""

    def __init__(
        self,
        url: str,
        slot: str,
        publication: str,
        where: Location,
        connect_timeout: float = 30.0,
    ) -> None:
        self.url = conninfo(url)
        self.slot = slot
        self.publication = publication
        self.where = where
        self.connect_timeout = max(1, int(connect_timeout))
        self._replication: Any = None
        self._cursor: Any = None
        self._partial: Transaction | None = None
        self._stable = 0
        self._last_wal_end = 0
        self.relations: dict[int, pgoutput.Relation] = {}

    # -- plain SQL --------------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A psycopg (3) connection to the source in autocommit, text settings pinned."""
        import psycopg

        try:
            connection = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=self.connect_timeout,
                options=session_options(),
            )
        except psycopg.OperationalError as exc:
            raise TransientError(
                f"cannot connect to the source's PostgreSQL: {redact(first_error_line(exc))}",
                self.where,
                "check the source's url and that the server is up",
            ) from None
        try:
            yield connection
        finally:
            connection.close()

    def describe(self, connection: Any, schema: str, name: str, key: list[str]) -> MirroredTable:
        """Describe the table `schema.name` for mirroring, with its key (`key` when the table
        declares one in YAML, else its primary key or replica identity index).

        Raises:
            CdcError: the table does not exist, or has no key to mirror by.
        """
        qualified = f"{identifier(schema)}.{identifier(name)}"
        found = connection.execute(
            "SELECT c.relreplident, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (schema, name),
        ).fetchone()
        if found is None:
            raise CdcError(
                f"table {schema}.{name} does not exist in the source database",
                self.where,
                "fix the table's name ('table: schema.name') or create it",
            )
        identity, relkind = str(found[0]), str(found[1])
        if relkind not in ("r", "p"):
            raise CdcError(
                f"{schema}.{name} is not a table (a view or foreign table has no change log)",
                self.where,
                "capture the tables it reads, or load it with mode 'replace'",
            )
        rows = connection.execute(COLUMNS_SQL, {"relation": qualified}).fetchall()
        columns = tuple(
            PgColumn(str(r[0]), str(r[1]), int(r[2]), str(r[3]), bool(r[4])) for r in rows
        )
        names = [c.name for c in columns]
        missing = [k for k in key if k not in names]
        if missing:
            raise CdcError(
                f"primary_key column {missing[0]!r} is not a column of {schema}.{name}",
                self.where,
                f"its columns are: {', '.join(names)}",
            )
        chosen = tuple(key) or tuple(c.name for c in columns if c.in_key)
        if identity == "n":
            raise CdcError(
                f"{schema}.{name} has REPLICA IDENTITY NOTHING, so its updates and deletes "
                "do not say which row they change",
                self.where,
                f"ALTER TABLE {qualified} REPLICA IDENTITY DEFAULT (with a primary key) or FULL",
            )
        if not any(c.in_key for c in columns) and identity != "f":
            raise CdcError(
                f"{schema}.{name} has no primary key, so PostgreSQL cannot log which row an "
                "update or delete changes (and refuses them once the table is published)",
                self.where,
                f"add a primary key, or ALTER TABLE {qualified} REPLICA IDENTITY FULL and name "
                "the columns that identify a row in 'primary_key:'",
            )
        if not chosen:
            raise CdcError(
                f"{schema}.{name} has no primary key and REPLICA IDENTITY FULL: the mirror "
                "needs to know which columns identify a row",
                self.where,
                "name them in the table's 'primary_key:'",
            )
        return MirroredTable(schema, name, columns, chosen, identity)

    def ensure_publication(self, connection: Any, tables: list[MirroredTable]) -> None:
        """Create the publication for `tables`, or make its table list exactly `tables`.

        Raises:
            CdcError: the user may not create or change the publication.
        """
        import psycopg

        listed = ", ".join(t.qualified for t in tables)
        try:
            exists = connection.execute(
                "SELECT 1 FROM pg_publication WHERE pubname = %s", (self.publication,)
            ).fetchone()
            if exists is None:
                # a partitioned table's changes are otherwise sent under its partitions' names
                version = connection.execute("SHOW server_version_num").fetchone()
                via_root = " WITH (publish_via_partition_root)" if int(version[0]) >= 130000 else ""
                connection.execute(
                    f"CREATE PUBLICATION {identifier(self.publication)} FOR TABLE {listed}"
                    + via_root
                )
                return
            published = {
                (str(s), str(t))
                for s, t in connection.execute(
                    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
                    (self.publication,),
                ).fetchall()
            }
            if published != {(t.schema, t.name) for t in tables}:
                connection.execute(
                    f"ALTER PUBLICATION {identifier(self.publication)} SET TABLE {listed}"
                )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CdcError(
                f"cannot create or change publication {self.publication}: {first_error_line(exc)}",
                self.where,
                "the source's user must own the tables (or create the publication "
                f"{self.publication} FOR TABLE {listed} as a superuser); see docs/cdc.md",
            ) from None

    def slot_info(self, connection: Any) -> SlotInfo | None:
        """The slot as the server sees it (None: it does not exist)."""
        row = connection.execute(
            "SELECT confirmed_flush_lsn::text, restart_lsn::text, active_pid, "
            "pg_current_wal_lsn()::text FROM pg_replication_slots WHERE slot_name = %s",
            (self.slot,),
        ).fetchone()
        if row is None:
            return None
        return SlotInfo(
            self.slot,
            pgoutput.parse_lsn(row[0]) if row[0] else None,
            pgoutput.parse_lsn(row[1]) if row[1] else None,
            int(row[2]) if row[2] is not None else None,
            pgoutput.parse_lsn(row[3]),
        )

    def drop_slot(self, connection: Any) -> bool:
        """Drop the slot (waiting for its reader to let go); return True if it existed."""
        for _ in range(100):
            row = connection.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (self.slot,)
            ).fetchone()
            if row is None:
                return False
            if row[0] is not None:
                connection.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                time.sleep(0.1)
                continue
            connection.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
            return True
        raise CdcError(
            f"replication slot {self.slot} stays in use by another reader",
            self.where,
            "stop the process reading it (headwater stream run, pg_recvlogical) and retry",
        )

    def drop_publication(self, connection: Any) -> None:
        """Drop the publication if it exists."""
        connection.execute(f"DROP PUBLICATION IF EXISTS {identifier(self.publication)}")

    # -- replication ------------------------------------------------------------------------

    def open_replication(self) -> Any:
        """Open the replication connection (idle, nothing streamed yet) and return its cursor."""
        import psycopg2
        import psycopg2.extras

        try:
            self._replication = psycopg2.connect(
                self.url,
                connection_factory=psycopg2.extras.LogicalReplicationConnection,
                connect_timeout=self.connect_timeout,
                options=session_options(),
            )
        except psycopg2.OperationalError as exc:
            message = first_error_line(exc)
            if "replication" in message and ("permission" in message or "pg_hba" in message):
                raise CdcError(
                    f"the source's user may not use replication: {redact(message)}",
                    self.where,
                    "grant it: ALTER ROLE <user> REPLICATION (and allow replication "
                    "connections in pg_hba.conf)",
                ) from None
            raise TransientError(
                f"cannot open a replication connection: {redact(message)}",
                self.where,
                "check the source's url and that the server runs with wal_level=logical",
            ) from None
        self._cursor = self._replication.cursor()
        return self._cursor

    def create_slot(self) -> tuple[int, str]:
        """Create the slot on the idle replication connection, exporting its snapshot; return
        (consistent point, snapshot name). The snapshot lives while the connection stays idle.

        Raises:
            CdcError: logical replication is off or no slot is free.
        """
        return self._create(self._cursor, self.slot, temporary=False)

    @contextmanager
    def temporary_snapshot(self) -> Iterator[tuple[int, str]]:
        """A snapshot exported by a temporary slot on a second replication connection, with
        its consistent point: for copying tables added to a capture that already streams."""
        import psycopg2.extras

        connection = psycopg2.connect(
            self.url,
            connection_factory=psycopg2.extras.LogicalReplicationConnection,
            connect_timeout=self.connect_timeout,
            options=session_options(),
        )
        try:
            name = f"{self.slot}_copy"[:63]
            yield self._create(connection.cursor(), name, temporary=True)
        finally:
            connection.close()

    def _create(self, cursor: Any, name: str, temporary: bool) -> tuple[int, str]:
        import psycopg2

        kind = "TEMPORARY LOGICAL" if temporary else "LOGICAL"
        try:
            cursor.execute(
                f"CREATE_REPLICATION_SLOT {identifier(name)} {kind} pgoutput EXPORT_SNAPSHOT"
            )
            row = cursor.fetchone()
        except psycopg2.Error as exc:
            message = first_error_line(exc)
            hint = "see docs/cdc.md"
            if "wal_level" in message:
                hint = "set wal_level = logical in postgresql.conf and restart the server"
            elif "replication slots" in message:
                hint = "raise max_replication_slots, or drop slots nobody reads"
            raise CdcError(
                f"cannot create replication slot {name}: {message}", self.where, hint
            ) from None
        return pgoutput.parse_lsn(row[1]), str(row[2])

    def copy_rows(self, snapshot: str, table: MirroredTable, out: BinaryIO) -> None:
        """Write the table's rows as PostgreSQL CSV text (NULL as `\\N`) to `out`, read inside
        the exported `snapshot`."""
        with self.connection() as connection:
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            columns = ", ".join(identifier(c.name) for c in table.columns)
            query = (
                f"COPY (SELECT {columns} FROM {table.qualified}) TO STDOUT (FORMAT csv, NULL '\\N')"
            )
            with connection.cursor() as cursor, cursor.copy(query) as stream:
                for chunk in stream:
                    out.write(chunk)
            connection.execute("COMMIT")

    def start(self) -> None:
        """Start streaming from the slot's confirmed position."""
        self._cursor.start_replication(
            slot_name=self.slot,
            decode=False,
            status_interval=10,
            options={"proto_version": "1", "publication_names": self.publication},
        )

    def read(self, max_changes: int, wait_s: float) -> list[Transaction]:
        """Return the next whole transactions, up to about `max_changes` changes (a larger
        transaction whole), waiting at most `wait_s` for the first one."""
        cursor = self._cursor
        done: list[Transaction] = []
        changes = 0
        deadline = time.monotonic() + wait_s
        while changes < max_changes:
            message = cursor.read_message()
            if message is None:
                if done:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                select.select([self._replication], [], [], min(left, 0.2))
                continue
            finished = self._take(message.payload)
            if finished is not None:
                done.append(finished)
                changes += finished.changes
        return done

    def _take(self, payload: bytes) -> Transaction | None:
        decoded = pgoutput.decode(payload)
        partial = self._partial
        if isinstance(decoded, pgoutput.Begin):
            self._partial = Transaction(decoded.final_lsn, 0, decoded.commit_time_us)
            return None
        if isinstance(decoded, pgoutput.Commit):
            if partial is None:
                raise CdcError("a commit arrived without its transaction's start", self.where)
            partial.end_lsn = decoded.end_lsn
            partial.commit_lsn = decoded.commit_lsn
            self._partial = None
            return partial
        if isinstance(decoded, pgoutput.Relation):
            self.relations[decoded.oid] = decoded
        if partial is None:
            return None
        partial.messages.append(decoded)
        if isinstance(decoded, pgoutput.Insert | pgoutput.Update | pgoutput.Delete):
            partial.changes += 1
        return None

    def caught_up(self, target: int) -> bool:
        """True when every transaction committed before `target` has been read (and no
        transaction is half read): the server's WAL end reached `target`, or it stayed where
        it was over several keepalives."""
        if self._partial is not None:
            return False
        wal_end = int(self._cursor.wal_end)
        if wal_end >= target:
            return True
        self._cursor.send_feedback(reply=True)
        select.select([self._replication], [], [], REPLY_WAIT_S)
        self._stable = self._stable + 1 if wal_end == self._last_wal_end else 0
        self._last_wal_end = wal_end
        return self._stable >= STABLE_REPLIES

    def idle_position(self) -> int | None:
        """Where the server's WAL ends as last reported, when no transaction is half read
        (None otherwise): a position every change before which has been received."""
        if self._partial is not None or self._cursor is None:
            return None
        return int(self._cursor.wal_end) or None

    def missing_values(
        self, connection: Any, schema: str, table: str, columns: list[str]
    ) -> dict[str, str]:
        """The text of the value each of `columns` has in rows that existed before it was
        added (`ADD COLUMN ... DEFAULT`, kept by the catalog, not written to the rows or the
        WAL); columns with none (NULL) are left out."""
        rows = connection.execute(
            "SELECT a.attname, (a.attmissingval::text::text[])[1] FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.atthasmissing "
            "AND NOT a.attisdropped AND a.attname = ANY(%s)",
            (schema, table, columns),
        ).fetchall()
        return {str(name): str(text) for name, text in rows if text is not None}

    def server_position(self) -> int:
        """The server's WAL position now (IDENTIFY_SYSTEM's; call before `start`)."""
        return self.identify()[1]

    def identify(self) -> tuple[str, int]:
        """The server's identity (its system identifier and the database, which change when
        the source moves to another cluster) and its WAL position; call before `start`."""
        self._cursor.execute("IDENTIFY_SYSTEM")
        row = self._cursor.fetchone()
        return f"{row[0]}/{row[3]}", pgoutput.parse_lsn(str(row[2]))

    def keepalive(self) -> None:
        """Answer the server while nothing is read (a long commit): a replication connection
        silent for `wal_sender_timeout` is closed by the server."""
        self._cursor.send_feedback()

    def acknowledge(self, lsn: int) -> None:
        """Tell the server the mirrors hold every change before `lsn`: it may recycle that
        WAL. Called only after the Delta commits."""
        self._cursor.send_feedback(write_lsn=lsn, flush_lsn=lsn, force=True)

    def close(self) -> None:
        """Close the replication connection; safe to call twice."""
        if self._replication is not None:
            try:
                self._replication.close()
            finally:
                self._replication = None
                self._cursor = None

    def type_names(self, connection: Any, oids: list[int]) -> dict[int, tuple[str, str, int]]:
        """Each type OID's base `typname`, for an array its element's, and for a domain its
        type modifier (-1 otherwise)."""
        rows = connection.execute(
            "SELECT t.oid, coalesce(bt.typname, t.typname), coalesce(et.typname, ''), "
            "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE -1 END "
            "FROM pg_type t LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype "
            "LEFT JOIN pg_type et ON et.oid = coalesce(bt.typelem, t.typelem) "
            "AND coalesce(bt.typcategory, t.typcategory) = 'A' WHERE t.oid = ANY(%s)",
            (oids,),
        ).fetchall()
        return {int(r[0]): (str(r[1]), str(r[2]), int(r[3])) for r in rows}


def first_error_line(exc: BaseException) -> str:
    """The first line of a driver error's message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def relation_columns(
    relation: pgoutput.Relation, types: Callable[[list[int]], dict[int, tuple[str, str, int]]]
) -> tuple[PgColumn, ...]:
    """A relation message's columns as `PgColumn`s (type names looked up by OID)."""
    names = types(sorted({c.type_oid for c in relation.columns}))
    unknown = ("text", "", -1)
    return tuple(
        PgColumn(
            c.name,
            names.get(c.type_oid, unknown)[0],
            # a domain column's own modifier is -1: its precision is the domain's (as the copy
            # reads it in COLUMNS_SQL), else numeric(10,2) under a domain looks retyped
            c.type_modifier if c.type_modifier != -1 else names.get(c.type_oid, unknown)[2],
            names.get(c.type_oid, unknown)[1],
            c.is_key,
        )
        for c in relation.columns
    )
