"""Run untrusted SQL read-only, with a time limit and a row cap (the SQL box and query API).

A query from a reader passes three independent layers, and each one fails closed:

1. **DuckDB's parser** (`check_readonly`) splits the text into statements: there must be exactly
   one and DuckDB must call it a SELECT. Stacked statements, PRAGMA, ATTACH, COPY, SET, CALL,
   INSTALL/LOAD, EXPORT/IMPORT, DDL and DML are statement kinds of their own and stop here,
   whatever comments or quoting hide them. DuckDB's tokenizer then reads every word that is not
   a string or a comment (after turning the Unicode spaces the parser ignores into spaces, as
   the parser does): a statement word (`DENIED_WORDS`) anywhere, or a call of a function whose
   name matches `DENIED_FUNCTIONS`, is refused — so a DELETE inside a CTE or `read_csv` in a
   lateral join is caught as the engine reads the text.
2. **sqlglot** (`check_readonly`) must parse the same text as one query (`exp.Query`), and its
   tree is walked: no node may be a statement (DDL, DML, COPY, SET, PRAGMA, ...); a table
   function in FROM must be one of `TABLE_FUNCTIONS`; no table may be a file path, a system
   schema or catalog-qualified; no function may match `DENIED_FUNCTIONS`; no name may hold a
   character the engine reads as a space. The SQL that runs is sqlglot's rendering of this tree
   (names qualified like a model's), and both layers check that rendering again before it runs.
3. **The connection** (`lock_down`) is a private in-memory DuckDB holding only views over the
   tables the query names. Before the query runs, `enable_external_access = false` with
   `allowed_paths` set to exactly the Parquet files of those snapshots leaves it able to open
   those files and nothing else (no other file, directory listing, URL, database file or
   extension); auto-install/auto-load of extensions, Python replacement scans and the temporary
   directory (spilling) are turned off; `lock_configuration = true` then freezes every setting,
   the thread count and memory limit of the project's engine config included. What this layer
   cannot stop is a COPY ... TO one of those allowed files with USE_TMP_FILE false, which
   DuckDB treats as allowed: only a COPY statement does that, and layers 1 and 2 refuse it.
   The views of view models are created (bound) only on the locked connection, the views that
   answer `DESCRIBE` and `information_schema.columns` included, so a view model that scans a
   file outside the warehouse reads nothing of it: a query that reads it is refused, and it is
   listed without columns (`DESCRIBE` of it is an error naming no file). Serve it as a table.

A timer thread interrupts the connection when the time limit passes (`QueryTimeout`); results
stream as Arrow record batches and stop after `max_rows + 1` rows (`QueryResult.truncated`).
Every call opens its own engine, so calls on different threads never share a connection.
"""

from __future__ import annotations

import fnmatch
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.engine.duckdb import DuckDBEngine, DuckDBSession
from headwater.errors import UsageError, first_line
from headwater.query.session import (
    METADATA_SCHEMA,
    METADATA_TABLES,
    QuerySession,
    metadata_statement_sql,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import pyarrow as pa
    from sqlglot import exp

    from headwater.storage.base import Snapshot, TableRef
    from headwater.workspace import Project

MAX_SQL_CHARS = 100_000
"""Longer SQL is refused before any parser sees it."""

TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
"""The only table functions a query may call in FROM: generators that read nothing."""

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
"""Function names (fnmatch patterns, matched case-insensitively) no query may call anywhere."""

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
"""Statement words refused anywhere outside a string or a quoted name."""

STATEMENT_NODES = (
    *("DDL", "DML", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Copy"),
    *("TruncateTable", "Command", "Pragma", "Set", "Use", "Attach", "Detach", "Install"),
    *("LoadData", "Export", "Describe", "Show", "Summarize", "Analyze", "Into", "Lock"),
    *("Execute", "Transaction", "Commit", "Rollback", "Grant", "Revoke", "Comment", "Refresh"),
    *("Cache", "Uncache"),
)
"""sqlglot node types (by name, as sqlglot versions differ) that may not appear in a query."""

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "system", "temp"})
"""Schemas of the engine's own catalog; a query reads the project's tables only."""

ALLOWED = (
    "run one SELECT (WITH, joins, subqueries, window functions) over the project's tables, "
    "DESCRIBE <table>, SHOW TABLES, or a SELECT from "
    + ", ".join(f"{METADATA_SCHEMA}.{t}" for t in METADATA_TABLES)
    + "; table functions: "
    + ", ".join(sorted(TABLE_FUNCTIONS))
)
PLAIN_NAME = re.compile(r"[\w-]+")
FILE_LIKE = re.compile(r"[/\\:*?~$]|\.\w+$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
UNICODE_SPACES = re.compile(
    r"[\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]+"
)
"""Characters DuckDB's parser reads as a space (it strips U+00A0, U+2000-U+200B, U+202F, U+205F,
U+2060, U+3000 and U+FEFF before parsing), and a few more. Its `tokenize` does not strip them,
and sqlglot keeps the zero-width ones inside names it renders unquoted: `x<U+200B>from` is one
name to both, but `x from` to the engine."""
DENIED_PATTERN = re.compile("|".join(fnmatch.translate(p) for p in DENIED_FUNCTIONS))


@dataclass
class QueryResult:
    """The (capped) result of a read-only query."""

    table: pa.Table
    """At most `max_rows` rows."""
    truncated: bool
    """True when the query had more rows than `max_rows`."""
    elapsed_s: float
    """Wall time of the whole call, checks and registration included."""


class QueryRejected(UsageError):
    """The SQL is not a single read-only SELECT over the project's tables.

    Attributes:
        refused: what was refused (a statement kind, a function, a table name).
        reason: why it is refused.
    """

    def __init__(self, refused: str, reason: str, hint: str = ALLOWED) -> None:
        super().__init__(f"query refused: {refused} ({reason})", hint=hint)
        self.refused = refused
        self.reason = reason


class QueryTimeout(UsageError):
    """The query ran past its time limit and was cancelled.

    Attributes:
        limit_s: the time limit in seconds.
        elapsed_s: how long the call took until the engine stopped.
    """

    def __init__(self, limit_s: float, elapsed_s: float) -> None:
        super().__init__(
            f"the query ran longer than its time limit of {limit_s:g} s and was cancelled "
            f"(after {elapsed_s:.2f} s)",
            hint="make it do less (filter, aggregate, LIMIT), or raise the time limit",
        )
        self.limit_s = limit_s
        self.elapsed_s = elapsed_s


def run_readonly(
    project: Project,
    sql: str,
    *,
    timeout_s: float = 10.0,
    max_rows: int = 1000,
    as_of: str | int | None = None,
) -> QueryResult:
    """Run one read-only SELECT over the project's tables and return at most `max_rows` rows.

    Table names resolve like a model's (`orders`, `core.orders`); view and ephemeral models
    work; `as_of` reads every table at a version number or a timestamp. `DESCRIBE <table>`,
    `SHOW TABLES` and SELECTs from `information_schema.tables`, `.columns` and `.schemata`
    describe the project's tables (from tables Headwater builds, not the engine's catalog).

    Args:
        project: the project whose tables the query reads.
        sql: one SELECT in DuckDB SQL, from an untrusted caller.
        timeout_s: time limit of the whole call; the query is cancelled when it passes.
        max_rows: most rows returned; `truncated` says whether there were more.
        as_of: a table version or an ISO timestamp to read every table at.

    Returns:
        The result, capped at `max_rows` rows.

    Raises:
        QueryRejected: the SQL is not a single read-only SELECT, or it tried to read a file.
        QueryTimeout: the query ran past `timeout_s` and was cancelled.
        UsageError: the query names an unknown table or fails in the engine.
    """
    started = time.monotonic()
    if not (isinstance(timeout_s, int | float) and timeout_s > 0 and math.isfinite(timeout_s)):
        raise UsageError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 0:
        raise UsageError(f"max_rows must be a whole number of rows (0 or more), not {max_rows!r}")
    if isinstance(sql, str) and len(sql) <= MAX_SQL_CHARS:
        # DESCRIBE and SHOW TABLES become the SELECT over information_schema that answers them
        sql = metadata_statement_sql(project, sql)
    check_readonly(sql, metadata=True)
    guard = _Guard(deadline=started + timeout_s, limit_s=timeout_s, max_rows=max_rows)
    with _ReadOnlyQuerySession(project, guard) as session:
        table = session.query(sql, as_of)
    return QueryResult(table, guard.truncated, time.monotonic() - started)


def check_readonly(sql: str, *, metadata: bool = False) -> None:
    """Refuse `sql` unless it is a single read-only SELECT (layers 1 and 2 above).

    Pure: it parses the text and runs nothing. With `metadata`, the query may also name
    `information_schema.tables`, `.columns` and `.schemata`, which the query session answers
    from tables it builds (the SQL that runs names those, and is checked without `metadata`).

    Raises:
        QueryRejected: what was refused and why.
    """
    if not isinstance(sql, str):
        raise QueryRejected("a non-text query", "the query must be a string of SQL")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRejected(
            f"a query of {len(sql)} characters", f"the limit is {MAX_SQL_CHARS} characters"
        )
    if CONTROL.search(sql):
        raise QueryRejected("a control character", "SQL text holds no control characters")
    _check_statements(sql)
    _check_words(sql)
    _check_tree(sql, metadata)


# -- layer 1: DuckDB's parser and tokenizer ------------------------------------------------

_parser_lock = threading.Lock()
_parser: Any = None


def _check_statements(sql: str) -> None:
    import duckdb

    global _parser  # noqa: PLW0603 - one parsing connection per process, made on first use
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect(":memory:", config={"enable_external_access": False})
        try:
            statements = _parser.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryRejected("SQL that does not parse", first_line(exc)) from None
    if not statements:
        raise QueryRejected("an empty query", "there is no statement in it")
    if len(statements) > 1:
        raise QueryRejected(f"{len(statements)} statements", "exactly one SELECT may run")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRejected(f"a {kind.name} statement", "only a SELECT may run")


def _check_words(sql: str) -> None:
    """Refuse statement words and denied functions as DuckDB's tokenizer reads the text."""
    tokens = [t for t in _duckdb_tokens(sql) if t[1] != "comment"]
    for position, (text, kind) in enumerate(tokens):
        if kind not in ("keyword", "identifier"):
            continue
        quoted = text.startswith('"')
        name = text[1:-1].replace('""', '"') if quoted else text
        follows = tokens[position + 1][0] if position + 1 < len(tokens) else ""
        if follows.startswith("("):
            _check_function(name)
        if not quoted and _fold(name).upper() in DENIED_WORDS:
            raise QueryRejected(
                f"the word {name.upper()}",
                "it starts a statement that writes, changes settings or reaches outside",
                hint=ALLOWED + '; quote a column with that name ("' + name + '")',
            )


def _duckdb_tokens(sql: str) -> Iterator[tuple[str, str]]:
    import duckdb

    sql = UNICODE_SPACES.sub(" ", sql)  # as the parser sees it; the tokenizer alone would not
    data = sql.encode("utf-8")  # DuckDB's token offsets count bytes
    try:
        found = duckdb.tokenize(sql)
    except Exception as exc:  # the parser accepted it; a tokenizer failure still refuses
        raise QueryRejected("SQL that does not tokenize", first_line(exc)) from None
    for index, (offset, kind) in enumerate(found):
        end = found[index + 1][0] if index + 1 < len(found) else len(data)
        yield data[offset:end].decode("utf-8", "replace").strip(), kind.name


def _check_function(name: str) -> None:
    if DENIED_PATTERN.fullmatch(_fold(name).lower()):
        raise QueryRejected(
            f"the function {name.lower()}",
            "it reads files, settings or other databases, or runs SQL from a string",
        )


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


# -- layer 2: the sqlglot tree -------------------------------------------------------------


def _check_tree(sql: str, metadata: bool = False) -> None:
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except RecursionError:
        raise QueryRejected("SQL nested too deeply", "sqlglot cannot parse it") from None
    except Exception as exc:  # any parser failure refuses: fail closed
        raise QueryRejected("SQL that does not parse", first_line(exc)) from None
    if len(statements) != 1:
        raise QueryRejected(f"{len(statements)} statements", "exactly one SELECT may run")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise QueryRejected(f"a {tree.key.upper()} statement", "only a SELECT may run")
    for node in tree.walk():
        if isinstance(node, _statement_nodes()):
            raise QueryRejected(f"{node.key.upper()} inside the query", "only a SELECT may run")
        if isinstance(node, exp.Table):
            _check_table(node, metadata)
        elif isinstance(node, exp.Func):
            _check_function(_function_name(node))
        if isinstance(node, exp.Identifier | exp.Anonymous) and UNICODE_SPACES.search(node.name):
            raise QueryRejected(
                f"the name {node.name!r}",
                "it holds a character the engine reads as a space, so it would split the name",
            )


def _statement_nodes() -> tuple[type[exp.Expression], ...]:
    from sqlglot import exp

    return tuple(getattr(exp, name) for name in STATEMENT_NODES if hasattr(exp, name))


def _check_table(table: exp.Table, metadata: bool = False) -> None:
    from sqlglot import exp

    source = table.this
    if isinstance(source, exp.Func):
        name = _function_name(source)
        if name not in TABLE_FUNCTIONS:
            raise QueryRejected(
                f"the table function {name}", "only generators that read nothing may be scanned"
            )
        return
    if not isinstance(source, exp.Identifier):
        raise QueryRejected(f"the table source {table.sql('duckdb')}", "it is not a table name")
    if FILE_LIKE.search(source.name):
        raise QueryRejected(f"the file path {source.name!r}", "a query reads tables, not files")
    for part in (table.db, source.name):
        if part and not PLAIN_NAME.fullmatch(part):
            raise QueryRejected(
                f"the name {table.sql('duckdb')}",
                "a table is named namespace.name in letters, digits, _ and -, not a path",
            )
    if table.catalog:
        raise QueryRejected(
            f"the name {table.sql('duckdb')}", "a table is named as namespace.name, no catalog"
        )
    if table.db and _fold(table.db) in SYSTEM_SCHEMAS:
        if (
            metadata
            and table.db.lower() == METADATA_SCHEMA
            and source.name.lower() in METADATA_TABLES
        ):
            return  # the session answers these from the project's tables, not the engine's
        raise QueryRejected(
            f"the system table {table.sql('duckdb')}", "a query reads the project's tables only"
        )


def _function_name(function: exp.Func) -> str:
    from sqlglot import exp

    if isinstance(function, exp.Anonymous):
        return str(function.name).lower()
    if isinstance(function, exp.Explode):
        return "unnest"
    return function.sql_name().lower()


# -- layer 3: the locked connection --------------------------------------------------------


def lock_down(connection: Any, allowed_paths: Iterable[str]) -> None:
    """Take external access and every later setting change away from a DuckDB database.

    Views registered before still read their files if those are among `allowed_paths`; nothing
    else on disk or on the network can be opened, no extension loads, nothing spills to disk.
    DuckDB does not tell reading from writing: an allowed path could be overwritten by a COPY,
    which the checks before this layer refuse.
    """
    from headwater.sqltext import literal

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


@dataclass
class _Guard:
    """One call's limits and what its session learnt: files to allow, whether it was capped."""

    deadline: float
    limit_s: float
    max_rows: int
    files: set[str] = field(default_factory=set)
    views: list[tuple[TableRef, str]] = field(default_factory=list)
    """Views of view models to create once the connection is locked down, in order."""
    sealed: bool = False
    """The connection is locked down: nothing more registers, views are created as asked."""
    truncated: bool = False
    timed_out: bool = False


class _Watchdog:
    """Interrupts a connection once the deadline passes, and again until told to stop."""

    RETRY_S = 0.02

    def __init__(self, connection: Any, seconds: float) -> None:
        self._connection = connection
        self._seconds = seconds
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
        if self._stop.wait(self._seconds):
            return
        while True:
            with self._lock:
                if self._stop.is_set():
                    return
                self.fired = True
                self._connection.interrupt()
            if self._stop.wait(self.RETRY_S):
                return


class _ReadOnlySession(DuckDBSession):
    """A DuckDB session that records what it registers and runs one guarded, capped query."""

    def __init__(self, engine: DuckDBEngine, connection: Any, guard: _Guard) -> None:
        super().__init__(engine, connection)
        self._guard = guard

    def register_table(self, ref: TableRef, snapshot: Snapshot) -> None:
        if self._guard.sealed:
            raise QueryRejected(
                f"the table {ref.key}", "tables register before the connection is locked down"
            )
        if not snapshot.needs_arrow_reader:
            self._guard.files.update(f.path for f in snapshot.files)
        super().register_table(ref, snapshot)

    def register_view(self, ref: TableRef, sql: str) -> None:
        if self._guard.sealed:
            super().register_view(ref, sql)
        else:
            # creating a view binds it, which can open the files it reads: wait for `seal`
            self._guard.views.append((ref, sql))

    def seal(self) -> dict[str, Exception]:
        """Lock the connection down to the registered tables' files, then create the views
        asked for so far.

        Returns:
            The views (by asset key) that could not be created, with the engine's error.
        """
        guard = self._guard
        if guard.sealed:
            return {}
        lock_down(self.connection, guard.files)
        guard.sealed = True
        failed: dict[str, Exception] = {}
        views, guard.views = guard.views, []
        for ref, sql in views:
            try:
                super().register_view(ref, sql)
            except Exception as exc:  # what it reads is not allowed, or does not bind
                failed[ref.key] = exc
        return failed

    def query(self, sql: str, parameters: list[Any] | None = None) -> pa.Table:
        import duckdb
        import pyarrow as pa

        if parameters:
            raise QueryRejected("query parameters", "the read-only path takes none")
        check_readonly(sql)  # the SQL that runs, as rendered from the checked tree
        guard = self._guard
        self.seal()
        remaining = guard.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        batches: list[pa.RecordBatch] = []
        rows = 0
        with _Watchdog(self.connection, remaining) as watchdog:
            try:
                reader = self.connection.sql(sql).to_arrow_reader(min(guard.max_rows + 1, 65536))
                try:
                    for batch in reader:
                        batches.append(batch)
                        rows += batch.num_rows
                        if rows > guard.max_rows:
                            break
                    schema = reader.schema
                finally:
                    reader.close()
            except Exception as exc:
                if watchdog.fired:
                    raise self._timeout() from None
                if isinstance(exc, duckdb.PermissionException):
                    raise QueryRejected(
                        "access to a file", "the engine refused it (external access is off)"
                    ) from None
                raise
            if watchdog.fired:
                raise self._timeout()
        guard.truncated = rows > guard.max_rows
        return pa.Table.from_batches(batches, schema=schema).slice(0, guard.max_rows)

    def _timeout(self) -> QueryTimeout:
        self._guard.timed_out = True
        elapsed = self._guard.limit_s - (self._guard.deadline - time.monotonic())
        return QueryTimeout(self._guard.limit_s, elapsed)

    def execute(self, sql: str, parameters: list[Any] | None = None) -> None:
        raise QueryRejected("a statement", "the read-only session runs queries only")

    def write_parquet(self, *_: Any, **__: Any) -> Any:
        raise QueryRejected("a write", "the read-only session writes nothing")

    def copy_parquet(self, *_: Any, **__: Any) -> Any:
        raise QueryRejected("a write", "the read-only session writes nothing")


class _ReadOnlyEngine(DuckDBEngine):
    """The query session's engine, handing out read-only sessions of one call's guard."""

    guard: _Guard | None = None

    def session(self) -> _ReadOnlySession:
        assert self.guard is not None, "take the engine with _Spares.take"
        return _ReadOnlySession(self, super().session().connection, self.guard)

    def close(self) -> None:
        if self.guard is None or not self.guard.timed_out:
            super().close()
            return
        # Tearing down a database whose query was just interrupted takes DuckDB ~0.1 s of CPU;
        # the caller gets its QueryTimeout now and the teardown finishes on its own thread.
        threading.Thread(target=super().close, name="headwater-query-close").start()


class _Spares:
    """One opened, unused engine kept ready per engine configuration.

    Starting an in-memory DuckDB takes ~10 ms, half of a trivial query; a call takes the ready
    engine and a background thread opens the next one. Engines are never shared: each is
    taken by one call and closed by it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[tuple[Any, ...], _ReadOnlyEngine] = {}

    def take(self, options: tuple[tuple[str, Any], ...], guard: _Guard) -> _ReadOnlyEngine:
        with self._lock:
            engine = self._ready.pop(options, None)
        if engine is None:
            engine = _ReadOnlyEngine(**dict(options))
        engine.guard = guard
        threading.Thread(target=self._refill, args=(options,), name="headwater-query-spare").start()
        return engine

    def _refill(self, options: tuple[tuple[str, Any], ...]) -> None:
        engine = _ReadOnlyEngine(**dict(options))
        with self._lock:
            if options not in self._ready:
                self._ready[options] = engine
                return
        engine.close()


_spares = _Spares()


class _ReadOnlyQuerySession(QuerySession):
    """`QuerySession` (table resolution, registration, time travel) on a read-only engine.

    It sets the attributes `QuerySession.__init__` sets rather than calling it, because that
    would open a second in-memory database only to close it again; a factory argument on
    `QuerySession` would remove this copy.
    """

    def __init__(self, project: Project, guard: _Guard) -> None:
        self.project = project
        self.definition = project.definition
        config = self.definition.config.engine
        options = (
            ("threads", config.threads),
            ("memory_limit", config.memory_limit),
            ("file_search_path", self.definition.root),
        )
        self.engine = _spares.take(options, guard)

    def _seal(self, session: DuckDBSession, required: set[str]) -> dict[str, Exception]:
        assert isinstance(session, _ReadOnlySession)
        failed = session.seal()
        for key in sorted(required & failed.keys()):
            raise _view_refused(key, failed[key])
        return failed

    def _unbound_view(self, key: str, exc: Exception) -> UsageError:
        return _view_refused(key, exc)


def _view_refused(key: str, exc: Exception) -> QueryRejected:
    """Why the view model `key` cannot be read or described on the read-only path, without
    the engine's message: it can name (or quote) a file the view reads."""
    import duckdb

    hint = (
        "a view model is read here only if it reads the project's tables: build one that "
        "scans a file as a table to serve it"
    )
    if isinstance(exc, duckdb.PermissionException):
        return QueryRejected(
            f"the view {key}", "it needs access to a file the read-only path does not open", hint
        )
    return QueryRejected(
        f"the view {key}", "it does not bind on the read-only path's locked connection", hint
    )
