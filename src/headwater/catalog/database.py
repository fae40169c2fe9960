"""Connections to the catalog database behind one small interface.

Statements are portable SQL text with `:name` parameters, written once: SQLite (3.35+) and
PostgreSQL agree on `RETURNING` and `INSERT ... ON CONFLICT`. SQLite, the default, is reached
through the standard library's `sqlite3`, because importing SQLAlchemy costs about 0.2 s, a third
of a no-op run. Every other URL goes through SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, Location, TransientError, first_line

if TYPE_CHECKING:
    from sqlalchemy import Connection

Row = dict[str, Any]
Params = Mapping[str, Any]

_SQLITE_PREFIX = "sqlite://"


class Transaction(ABC):
    """Statements run inside one transaction of the catalog database."""

    @abstractmethod
    def execute(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run one statement and return the rows it produced (empty when it produces none)."""

    @abstractmethod
    def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement once per parameter set."""


class CatalogDatabase(ABC):
    """A catalog database: transactions and table existence."""

    dialect: str
    """`sqlite` or `postgresql` (SQLAlchemy's name for any other database)."""

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def transaction(self, write: bool = True) -> AbstractContextManager[Transaction]:
        """Open a transaction, committed when the block ends and rolled back if it raises."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Return whether a table called `name` exists."""

    def take_turns(self, tx: Transaction, key: int) -> None:
        """Within `tx`, wait for any other process holding turn `key` until `tx` ends.

        On PostgreSQL this is an advisory transaction lock; SQLite's write transactions
        (BEGIN IMMEDIATE) already let one writer in at a time, so there it does nothing.
        """
        if self.dialect == "postgresql":
            tx.execute(f"SELECT pg_advisory_xact_lock({int(key)})")

    def hold_turn(self, classid: int, objid: int) -> AbstractContextManager[None]:
        """Hold turn (`classid`, `objid`) for the block, waiting for any other process, on any
        machine, that holds it.

        On PostgreSQL this is a session advisory lock on a connection of its own, so it spans
        transactions; a SQLite catalog is one machine's, whose file locks order it already,
        so there it does nothing.
        """
        return nullcontext()

    def zeroing_replaced(self) -> AbstractContextManager[None]:
        """Within the block, the bytes of text that writes replace or delete are zeroed
        (SQLite). A server database keeps old row versions until its own vacuum, so there it
        does nothing."""
        return nullcontext()

    def reclaim(self) -> bool:
        """Rewrite the database's files so that no byte of replaced or deleted content is left
        in free space or the write-ahead log (SQLite); False when another process's
        transaction kept it from finishing. A server database's are the server's."""
        return True

    def files(self) -> list[Path]:
        """The files the database keeps its content in, when it is a file (SQLite): the
        database and its write-ahead log. A server database's are the server's."""
        return []

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


def open_database(url: str) -> CatalogDatabase:
    """Open the catalog database at `url` (a `sqlite:///path` file, or any SQLAlchemy URL)."""
    if url.startswith(_SQLITE_PREFIX):
        return SQLiteDatabase(url)
    return SQLAlchemyDatabase(url)


def safe_url(url: str) -> str:
    """`url` with its password, if it has one, shown as `***` (for messages). The password
    is everything between the user's `:` and the last `@` before the host, so one holding
    `/` or `@` is hidden whole."""
    scheme, separator, rest = url.partition("://")
    if not separator or "@" not in rest:
        return url
    credentials, _, location = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}://{user}:***@{location}" if colon else url


def sqlite_path(url: str) -> str:
    """The file a `sqlite://` URL names (`:memory:` for an in-memory database)."""
    rest = url[len(_SQLITE_PREFIX) :]
    if rest in ("", "/", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/") or "?" in rest:
        raise ConfigError(
            f"catalog URL '{url}' (key `catalog`) is not a SQLite URL Headwater can open",
            Location(file="headwater.yml"),
            "use sqlite:///relative/path.db or sqlite:////absolute/path.db (no query options)",
        )
    return rest[1:]


BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite write waits for another process's."""
RECLAIM_WAIT_MS = 5_000
"""How long reclaiming a SQLite catalog's space waits for other processes' transactions."""


class _SQLiteTransaction(Transaction):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Params | None = None) -> list[Row]:
        cursor = self._connection.execute(sql, params or {})
        if cursor.description is None:
            return []
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        self._connection.executemany(sql, rows)


class SQLiteDatabase(CatalogDatabase):
    """A SQLite file in WAL mode, so readers never block the run that writes.

    One connection is shared by the threads of a run; a lock keeps their transactions apart.
    Catalog transactions are a few small statements, so serialising them costs nothing.
    """

    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._connection.execute("PRAGMA journal_mode=WAL")
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot open the catalog database {self.path}: {exc}",
                Location(file="headwater.yml"),
                "check that the folder is writable, or point `catalog:` somewhere else",
            ) from None
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        # BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that upgrades
        # to writing later fails at once with SQLITE_BUSY instead of waiting for the timeout.
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SQLiteTransaction(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def has_table(self, name: str) -> bool:
        with self.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = :name",
                {"name": name},
            )
        return bool(rows)

    @contextmanager
    def zeroing_replaced(self) -> Iterator[None]:
        # secure_delete is set outside a transaction
        with self._lock:
            self._connection.execute("PRAGMA secure_delete = ON")
        try:
            yield
        finally:
            with self._lock:
                self._connection.execute("PRAGMA secure_delete = OFF")

    def reclaim(self) -> bool:
        # free pages from before (a row deleted then) still hold their bytes: VACUUM writes
        # the file anew; the TRUNCATE checkpoint drops the write-ahead log's earlier frames,
        # which hold the old text. Neither waits long for another process's transaction.
        with self._lock:
            self._connection.execute(f"PRAGMA busy_timeout = {RECLAIM_WAIT_MS}")
            try:
                with suppress(sqlite3.OperationalError):
                    self._connection.execute("VACUUM")
                busy = self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError:
                return False
            finally:
                self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return busy is None or busy[0] == 0

    def files(self) -> list[Path]:
        if self.path == ":memory:":
            return []
        return [Path(self.path + suffix) for suffix in ("", "-wal", "-journal")]

    def close(self) -> None:
        self._connection.close()


class _SQLAlchemyTransaction(Transaction):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Params | None = None) -> list[Row]:
        from sqlalchemy import text

        result = self._connection.execute(text(sql), dict(params or {}))
        if not result.returns_rows:
            return []
        return [dict(row) for row in result.mappings()]

    def execute_many(self, sql: str, rows: Sequence[Params]) -> None:
        from sqlalchemy import text

        self._connection.execute(text(sql), [dict(r) for r in rows])


class SQLAlchemyDatabase(CatalogDatabase):
    """Any database SQLAlchemy can reach by URL, PostgreSQL above all."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        try:
            make_url(url)
        except Exception:
            raise ConfigError(
                f"catalog URL '{safe_url(url)}' is not a valid SQLAlchemy URL",
                Location(file="headwater.yml"),
                "use sqlite:///path/catalog.db or postgresql+psycopg://user@host/db",
            ) from None
        try:
            self._engine = create_engine(url, pool_pre_ping=True, connect_args=_keepalives(url))
            self.dialect = self._engine.dialect.name
        except ImportError as exc:
            raise ConfigError(
                f"the driver for catalog URL scheme '{url.split(':', 1)[0]}' is not installed "
                f"({exc})",
                Location(file="headwater.yml"),
                "install it, e.g. pip install 'headwater[postgres]' for PostgreSQL",
            ) from None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        with self._connect() as connection, connection.begin():
            yield _SQLAlchemyTransaction(connection)

    def has_table(self, name: str) -> bool:
        from sqlalchemy import inspect

        with self._connect() as connection:
            return inspect(connection).has_table(name)

    @contextmanager
    def hold_turn(self, classid: int, objid: int) -> Iterator[None]:
        if self.dialect != "postgresql":
            yield
            return
        from sqlalchemy import text

        turn = {"classid": int(classid), "objid": int(objid)}
        with self._connect() as pooled:
            # autocommit: the lock belongs to the session, not to a transaction left open
            connection = pooled.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("SELECT pg_advisory_lock(:classid, :objid)"), turn)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:classid, :objid)"), turn)

    def _connect(self) -> Connection:
        """A connection from the pool; an unreachable server is a typed error saying which."""
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            return self._engine.connect()
        except (OperationalError, InterfaceError) as exc:
            raise TransientError(
                f"cannot reach the catalog database {safe_url(self.url)}: "
                f"{first_line(exc.orig or exc)}",
                Location(file="headwater.yml"),
                "check that the database server is running and reachable from this machine "
                "and that `catalog:` names it; a password belongs in the environment "
                "(PGPASSWORD) or ~/.pgpass, not in the URL",
            ) from None

    def close(self) -> None:
        self._engine.dispose()


def _keepalives(url: str) -> dict[str, int]:
    """TCP keepalives for a PostgreSQL catalog: a machine that dies holding an advisory lock
    (a table's commit turn) loses it within about a minute, not after the operating system's
    default of two hours."""
    if not url.startswith(("postgresql", "postgres:")):
        return {}
    return {
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
