"""DuckDB locked down for untrusted SQL: the read-only query path's engine.

`lock_down` takes external access and every later setting change away from a database: after
it, the connection opens exactly the Parquet files it was allowed and nothing else (no other
file, directory listing, URL, database file or extension) and nothing spills to disk. A
`ReadOnlyEngine` hands out `ReadOnlySession`s that record the files of the tables they
register, create views only once locked (`seal`), refuse every write, and run one query under a
deadline (a timer thread interrupts it) with a row cap (results stream as Arrow record batches).
Databases come from a pool of spares, since opening one costs about half of a trivial query.

`DuckDBReadOnly` is what DuckDB registers for the read-only path: those engines, and DuckDB's
reading of SQL (`statement_kinds` and `tokens`, which run nothing) with the statement words
(`DENIED_WORDS`), functions (`DENIED_FUNCTIONS`) and schemas (`SYSTEM_SCHEMAS`) of DuckDB no
query may use. What may run at all is decided above, in `headwater.query.readonly`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import duckdb

from headwater.engine.base import Engine
from headwater.engine.duckdb import DuckDBEngine, DuckDBSession
from headwater.engine.readonly import (
    DeadlineExceeded,
    FileAccessRefused,
    LockableSession,
    ReadOnlyCall,
    ReadOnlyRefusal,
    ReadOnlySupport,
)
from headwater.errors import UsageError
from headwater.sqltext import literal

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineCapabilities, WriteResult
    from headwater.engine.registry import EnginePlace
    from headwater.project.config import EngineConfig
    from headwater.storage.base import Snapshot, TableRef

DENIED_FUNCTIONS: tuple[str, ...] = (
    # files, directories and other databases
    "read_*",
    "*_scan",
    "*_scan_*",
    "parquet_*",
    "sniff_csv",
    "glob",
    "iceberg_*",
    "delta_*",
    "postgres_*",
    "sqlite_*",
    "mysql_*",
    "odbc_*",
    "ducklake_*",
    "st_read*",
    "http_*",
    # settings, secrets, extensions, the catalog, logs and profiling
    "duckdb_*",
    "pragma_*",
    "current_setting",
    "current_query",  # the SQL that runs: what masking added to the reader's
    "getenv",
    "getvariable",
    "which_secret",
    "*secret*",
    "*extension*",
    "*external_resource*",
    "*_logging",
    "*_logs",
    "write_log",
    "enable_*",
    "disable_*",
    "checkpoint",
    "force_checkpoint",
    "load_aws_credentials",
    "pg_get_*",
    # SQL held in a string, which the layers above cannot inspect
    "query",
    "query_table",
    "json_execute_serialized_sql",
    "json_serialize_*",
    "json_deserialize_sql",
    # state of the session or the process
    "nextval",
    "currval",
    "setseed",
    "sleep_ms",
    "pg_sleep",
    "python_*",
    "pandas_*",
    "arrow_*",
    "__*",
)
"""DuckDB's function names (fnmatch patterns, matched case-insensitively) no query may call
anywhere."""

DENIED_PATTERN = re.compile("|".join(fnmatch.translate(p) for p in DENIED_FUNCTIONS))

DENIED_WORDS = frozenset(
    {
        "ABORT",
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "CALL",
        "CHECKPOINT",
        "COMMIT",
        "COPY",
        "CREATE",
        "DEALLOCATE",
        "DELETE",
        "DESCRIBE",
        "DETACH",
        "DROP",
        "EXECUTE",
        "EXPLAIN",
        "EXPORT",
        "FORCE",
        "GRANT",
        "IMPORT",
        "INSERT",
        "INSTALL",
        "LOAD",
        "MERGE",
        "PRAGMA",
        "PREPARE",
        "RESET",
        "REVOKE",
        "ROLLBACK",
        "SET",
        "SHOW",
        "SUMMARIZE",
        "TRANSACTION",
        "TRUNCATE",
        "UPDATE",
        "USE",
        "VACUUM",
    }
)
"""DuckDB's statement words, refused anywhere outside a string or a quoted name."""

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "system", "temp"})
"""Schemas of DuckDB's own catalog; a query reads the project's tables only."""

UNICODE_SPACES = re.compile(
    r"[\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]+"
)
"""Characters DuckDB's parser reads as a space (it strips U+00A0, U+2000-U+200B, U+202F, U+205F,
U+2060, U+3000 and U+FEFF before parsing), and a few more. Its `tokenize` does not strip them,
and sqlglot keeps the zero-width ones inside names it renders unquoted: `x<U+200B>from` is one
name to both, but `x from` to the engine."""


def lock_down(connection: Any, allowed_paths: Iterable[str]) -> None:
    """Take external access and every later setting change away from a DuckDB database.

    Views registered before still read their files if those are among `allowed_paths`; nothing
    else on disk or on the network can be opened, no extension loads, nothing spills to disk.
    DuckDB does not tell reading from writing: an allowed path could be overwritten by a COPY,
    which the checks before this layer refuse.
    """
    paths = sorted(set(allowed_paths))
    for statement in (
        "SET GLOBAL python_enable_replacements = false",
        "SET GLOBAL autoinstall_known_extensions = false",
        "SET GLOBAL autoload_known_extensions = false",
        "SET GLOBAL allow_community_extensions = false",
        "SET GLOBAL temp_directory = ''",
        "SET GLOBAL allowed_directories = []",
        f"SET GLOBAL allowed_paths = [{', '.join(literal(p) for p in paths)}]",
        "SET GLOBAL enable_external_access = false",
        "SET GLOBAL lock_configuration = true",
    ):
        connection.execute(statement)


# -- reading SQL without running it ---------------------------------------------------------

_parser_lock = threading.Lock()
_parser: Any = None


def statement_kinds(sql: str) -> list[str]:
    """Split `sql` into statements with DuckDB's parser and return the kind DuckDB gives each
    (`SELECT` also for DESCRIBE, SHOW and SUMMARIZE), on a parsing connection that can open
    nothing.

    Raises:
        UsageError: the parser rejects `sql`; the message is the parser's.
    """
    global _parser  # noqa: PLW0603 - one parsing connection per process, made on first use
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect(":memory:", config={"enable_external_access": False})
        try:
            statements = _parser.extract_statements(sql)
        except duckdb.Error as exc:
            raise UsageError(str(exc).strip() or type(exc).__name__) from None
    return [statement.type.name for statement in statements]


def tokens(sql: str) -> list[tuple[str, str]]:
    """The tokens of `sql` as DuckDB's tokenizer reads it: each one's text (stripped) and kind
    (`keyword`, `identifier`, `string_const`, `comment`, ...).

    Raises:
        Exception: whatever the tokenizer raises for text it cannot read.
    """
    data = sql.encode("utf-8")  # DuckDB's token offsets count bytes
    found = duckdb.tokenize(sql)
    return [
        (
            data[offset : found[i + 1][0] if i + 1 < len(found) else len(data)]
            .decode("utf-8", "replace")
            .strip(),
            kind.name,
        )
        for i, (offset, kind) in enumerate(found)
    ]


# -- the read-only engine -------------------------------------------------------------------


class _Watchdog:
    """Interrupts a connection once the deadline passes or the call is cancelled, and again
    until told to stop."""

    RETRY_S = 0.02
    POLL_S = 0.05

    def __init__(self, connection: Any, seconds: float, call: ReadOnlyCall) -> None:
        self._connection = connection
        self._deadline = time.monotonic() + seconds
        self._call = call
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, name="headwater-query-timer")
        self._thread.daemon = True

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._call.cancel.is_set():
            left = self._deadline - time.monotonic()
            if left <= 0:
                break
            if self._stop.wait(min(left, self.POLL_S)):
                return
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                self.fired = True
                self._connection.interrupt()
            if self._stop.wait(self.RETRY_S):
                return


class ReadOnlySession(DuckDBSession, LockableSession):
    """A DuckDB session that records what it registers and runs one capped query before its
    call's deadline; a file its lock refuses is a `FileAccessRefused`, wherever it is opened."""

    def __init__(self, engine: DuckDBEngine, connection: Any, call: ReadOnlyCall) -> None:
        super().__init__(engine, connection)
        self._call = call

    @property
    def capabilities(self) -> EngineCapabilities:
        return ReadOnlyEngine.capabilities

    def register_table(self, ref: TableRef, snapshot: Snapshot) -> None:
        if self._call.sealed:
            raise ReadOnlyRefusal(
                f"the table {ref.key}", "tables register before the connection is locked down"
            )
        if not snapshot.needs_arrow_reader:
            self._call.files.update(f.path for f in snapshot.files)
        super().register_table(ref, snapshot)

    def register_view(self, ref: TableRef, sql: str) -> None:
        if self._call.sealed:
            super().register_view(ref, sql)
        else:
            # creating a view binds it, which can open the files it reads: wait for `seal`
            self._call.views.append((ref, sql))

    def seal(self) -> dict[str, Exception]:
        call = self._call
        if call.sealed:
            return {}
        lock_down(self.connection, call.files)
        call.sealed = True
        failed: dict[str, Exception] = {}
        views, call.views = call.views, []
        for ref, sql in views:
            try:
                super().register_view(ref, sql)
            except Exception as exc:  # what it reads is not allowed, or does not bind
                failed[ref.key] = _refused_file(exc) or exc
        return failed

    def column_types(self, ref: TableRef) -> list[tuple[str, str]]:
        try:
            return super().column_types(ref)
        except duckdb.PermissionException:
            raise FileAccessRefused() from None

    def query(self, sql: str, parameters: list[Any] | None = None) -> pa.Table:
        """Run `sql` on the locked connection and return at most the call's `max_rows` rows
        (`truncated` on the call says whether there were more).

        Raises:
            DeadlineExceeded: the call's deadline passed; the query was interrupted.
            FileAccessRefused: the query opened a file the lock does not allow.
            ReadOnlyRefusal: parameters were given.
        """
        import pyarrow as pa

        if parameters:
            raise ReadOnlyRefusal("query parameters", "the read-only path takes none")
        call = self._call
        self.seal()
        remaining = call.deadline - time.monotonic()
        if call.cancel.is_set():
            raise self._timeout()
        if remaining <= 0:
            raise self._timeout()
        batches: list[pa.RecordBatch] = []
        rows = 0
        with _Watchdog(self.connection, remaining, call) as watchdog:
            try:
                reader = self.connection.sql(sql).to_arrow_reader(min(call.max_rows + 1, 65536))
                try:
                    for batch in reader:
                        batches.append(batch)
                        rows += batch.num_rows
                        if rows > call.max_rows:
                            break
                    schema = reader.schema
                finally:
                    reader.close()
            except Exception as exc:
                if watchdog.fired:
                    raise self._timeout() from None
                refused = _refused_file(exc)
                if refused is not None:
                    raise refused from None
                raise
            if watchdog.fired:
                raise self._timeout()
        call.truncated = rows > call.max_rows
        return pa.Table.from_batches(batches, schema=schema).slice(0, call.max_rows)

    def _timeout(self) -> DeadlineExceeded:
        self._call.timed_out = True
        self._call.cancelled = self._call.cancel.is_set()
        elapsed = self._call.limit_s - (self._call.deadline - time.monotonic())
        return DeadlineExceeded(self._call.limit_s, elapsed)

    def execute(self, sql: str, parameters: list[Any] | None = None) -> None:
        raise ReadOnlyRefusal("a statement", "the read-only session runs queries only")

    def write_parquet(self, *_: Any, **__: Any) -> WriteResult:
        raise ReadOnlyRefusal("a write", "the read-only session writes nothing")

    def copy_parquet(self, *_: Any, **__: Any) -> WriteResult:
        raise ReadOnlyRefusal("a write", "the read-only session writes nothing")


def _refused_file(exc: BaseException) -> FileAccessRefused | None:
    """`exc` as a `FileAccessRefused` when it is DuckDB refusing to open a file, else None."""
    return FileAccessRefused() if isinstance(exc, duckdb.PermissionException) else None


class ReadOnlyEngine(Engine):
    """An engine of one read-only call: a DuckDB database of its own, handing out read-only
    sessions of that call."""

    # it refuses every write: nothing may read it as an engine that builds tables
    capabilities = dataclasses.replace(DuckDBEngine.capabilities, writes_parquet=False)

    def __init__(self, database: DuckDBEngine, call: ReadOnlyCall) -> None:
        """Serve `call` from `database`, which the engine owns (and closes) from now on."""
        self._database = database
        self.call = call

    def is_engine_error(self, exc: BaseException) -> bool:
        return self._database.is_engine_error(exc)

    def session(self) -> ReadOnlySession:
        return ReadOnlySession(self._database, self._database.session().connection, self.call)

    def close(self) -> None:
        if not self.call.timed_out:
            self._database.close()
            return
        # Tearing down a database whose query was just interrupted takes DuckDB ~0.1 s of CPU;
        # the caller gets its timeout now and the teardown finishes on its own thread.
        threading.Thread(target=self._database.close, name="headwater-query-close").start()


class _Spares:
    """One opened, unused database kept ready per engine configuration.

    Starting an in-memory DuckDB takes ~10 ms, half of a trivial query; a call takes the ready
    database and a background thread opens the next one. Databases are never shared: each is
    taken by one call and closed by it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[tuple[Any, ...], DuckDBEngine] = {}

    def take(self, options: tuple[tuple[str, Any], ...]) -> DuckDBEngine:
        with self._lock:
            database = self._ready.pop(options, None)
        if database is None:
            database = DuckDBEngine(**dict(options))
        threading.Thread(target=self._refill, args=(options,), name="headwater-query-spare").start()
        return database

    def _refill(self, options: tuple[tuple[str, Any], ...]) -> None:
        database = DuckDBEngine(**dict(options))
        with self._lock:
            if options not in self._ready:
                self._ready[options] = database
                return
        database.close()


_spares = _Spares()


class DuckDBReadOnly(ReadOnlySupport):
    """DuckDB's offer to the read-only query path (registered with the `duckdb` engine)."""

    denied_words = DENIED_WORDS
    denied_functions = DENIED_PATTERN
    system_schemas = SYSTEM_SCHEMAS
    spaces = UNICODE_SPACES

    def engine(
        self, config: EngineConfig, place: EnginePlace, call: ReadOnlyCall
    ) -> ReadOnlyEngine:
        """Return an engine (on a database opened ahead, when one is ready) for the
        read-only `call`, with the threads and memory limit of the project's `engine:`
        settings; the caller closes it."""
        options: tuple[tuple[str, Any], ...] = (
            ("threads", config.threads),
            ("memory_limit", config.memory_limit),
            ("file_search_path", place.root),
        )
        return ReadOnlyEngine(_spares.take(options), call)

    def statement_kinds(self, sql: str) -> list[str]:
        return statement_kinds(sql)

    def tokens(self, sql: str) -> list[tuple[str, str]]:
        return tokens(sql)
