"""Run untrusted SQL read-only, with a time limit and a row cap (the SQL box and query API).

A query from a reader passes three independent layers, and each one fails closed:

1. **DuckDB's parser** (`check_readonly`) splits the text into statements: there must be exactly
   one and DuckDB must call it a SELECT. Stacked statements, PRAGMA, ATTACH, COPY, SET, CALL,
   INSTALL/LOAD, EXPORT/IMPORT, DDL and DML are statement kinds of their own and stop here,
   whatever comments or quoting hide them. DuckDB's tokenizer then reads every word that is not
   a string or a comment (after turning the Unicode spaces the parser ignores into spaces, as
   the parser does): a statement word (`DENIED_WORDS`) anywhere, or a call of a function whose
   name matches `DENIED_FUNCTIONS`, is refused — so a DELETE inside a CTE or `read_csv` in a
   lateral join is caught as the engine reads the text. The parser, the tokenizer and those
   lists are the engine's: the project's engine gives them with its `ReadOnlySupport` (from
   `headwater.engine.registry`; `headwater.engine.duckdb_readonly` for DuckDB).
2. **sqlglot** (`check_readonly`) must parse the same text as one query (`exp.Query`), and its
   tree is walked: no node may be a statement (DDL, DML, COPY, SET, PRAGMA, ...); a table
   function in FROM must be one of `TABLE_FUNCTIONS`; no table may be a file path, a schema of
   the engine's own catalog or catalog-qualified; no function may match `DENIED_FUNCTIONS`; no
   name may hold a character the engine reads as a space. The SQL that runs is sqlglot's
   rendering of this tree (names qualified like a model's), and both layers check that
   rendering again before it runs.
3. **The connection** (`lock_down`, in `headwater.engine.duckdb_readonly`) is a private
   in-memory DuckDB holding only views over the tables the query names. Before the query runs,
   `enable_external_access = false` with `allowed_paths` set to exactly the Parquet files of
   those snapshots leaves it able to open those files and nothing else (no other file,
   directory listing, URL, database file or extension); auto-install/auto-load of extensions,
   Python replacement scans and the temporary directory (spilling) are turned off;
   `lock_configuration = true` then freezes every setting, the thread count and memory limit of
   the project's engine config included. What this layer cannot stop is a COPY ... TO one of
   those allowed files with USE_TMP_FILE false, which DuckDB treats as allowed: only a COPY
   statement does that, and layers 1 and 2 refuse it. The views of view models are created
   (bound) only on the locked connection, the views that answer `DESCRIBE` and
   `information_schema.columns` included, so a view model that scans a file outside the
   warehouse reads nothing of it: a query that reads it is refused, and it is listed without
   columns (`DESCRIBE` of it is an error naming no file). Serve it as a table.

The lists layers 1 and 2 apply, apart from the engine's, are in `headwater.query.policy`. A
timer thread interrupts the connection when the time limit passes (`QueryTimeout`); results
stream as Arrow record batches and stop after `max_rows + 1` rows (`QueryResult.truncated`).
Every call opens its own engine (`create_readonly_engine`), so calls on different threads never
share a connection.
"""

from __future__ import annotations

import math
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from headwater.engine.readonly import (
    DeadlineExceeded,
    FileAccessRefused,
    LockableSession,
    ReadOnlyCall,
    ReadOnlyRefusal,
)
from headwater.engine.registry import EnginePlace, create_readonly_engine, readonly_support
from headwater.errors import UsageError, first_line
from headwater.project.config import EngineConfig
from headwater.query.metadata import METADATA_SCHEMA, METADATA_TABLES, metadata_statement_sql
from headwater.query.parameters import Parameter, bind_parameters
from headwater.query.policy import (
    ALLOWED,
    CONTROL,
    FILE_LIKE,
    MAX_SQL_CHARS,
    PLAIN_NAME,
    STATEMENT_NODES,
    TABLE_FUNCTIONS,
    QueryRejected,
)
from headwater.query.session import QuerySession
from headwater.query.tables import Rewrite, Visible, resolve_table

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.engine.base import EngineSession
    from headwater.engine.readonly import ReadOnlySupport
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore


class ProjectTables(Protocol):
    """What the read-only path reads of a project (a `headwater.Project` is one)."""

    @property
    def definition(self) -> ProjectDefinition: ...

    @property
    def store(self) -> TableStore: ...


@dataclass
class QueryResult:
    """The (capped) result of a read-only query."""

    table: pa.Table
    """At most `max_rows` rows."""
    truncated: bool
    """True when the query had more rows than `max_rows`."""
    elapsed_s: float
    """Wall time of the whole call, checks and registration included."""
    tables: tuple[str, ...] = ()
    """The tables (`namespace.name`) the query named, sorted."""
    masked: tuple[str, ...] = ()
    """What the reader's masking hid from the query: columns (`namespace.table.column`) and
    row-filtered tables (`namespace.table (rows)`), sorted."""


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


class QueryCancelled(UsageError):
    """The query was stopped at the caller's request (a cancel request)."""

    def __init__(self) -> None:
        super().__init__("the query was cancelled at the client's request")


def run_readonly(
    project: ProjectTables,
    sql: str,
    *,
    timeout_s: float = 10.0,
    max_rows: int = 1000,
    as_of: str | int | None = None,
    visible: Visible | None = None,
    params: Sequence[Parameter] | None = None,
    cancel: threading.Event | None = None,
    rewrite: Rewrite | None = None,
) -> QueryResult:
    """Run one read-only SELECT over the project's tables and return at most `max_rows` rows.

    Table names resolve like a model's (`orders`, `core.orders`); view and ephemeral models
    work; `as_of` reads every table at a version number or a timestamp. With `visible`, a table
    it does not admit does not exist for the query (the error is that of an unknown table).
    `params` are bound to the query's placeholders (`$1` or `?`) as literals before the checks.
    Setting `cancel` from another thread stops the query (a client's cancel request).
    `rewrite` makes the query what the reader may run (masking and row filters) after the
    checks and before the final ones.
    `DESCRIBE <table>`,
    `SHOW TABLES` and SELECTs from `information_schema.tables`, `.columns` and `.schemata`
    describe the project's tables (from tables Headwater builds, not the engine's catalog).

    Args:
        project: the project whose tables the query reads.
        sql: one SELECT in DuckDB SQL, from an untrusted caller.
        timeout_s: time limit of the whole call; the query is cancelled when it passes.
        max_rows: most rows returned; `truncated` says whether there were more.
        as_of: a table version or an ISO timestamp to read every table at.
        visible: the tables that exist for the caller (None: all).
        params: values of the query's placeholders.
        cancel: set by another thread to stop the query (`QueryCancelled`).
        rewrite: the reader's masking and row filters.

    Returns:
        The result, capped at `max_rows` rows.

    Raises:
        QueryRejected: the SQL is not a single read-only SELECT, or it tried to read a file.
        QueryTimeout: the query ran past `timeout_s` and was cancelled.
        QueryCancelled: `cancel` was set while the query ran.
        UsageError: the query names an unknown table or fails in the engine.
    """
    started = time.monotonic()
    if not (isinstance(timeout_s, int | float) and timeout_s > 0 and math.isfinite(timeout_s)):
        raise UsageError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}")
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 0:
        raise UsageError(f"max_rows must be a whole number of rows (0 or more), not {max_rows!r}")
    if params and isinstance(sql, str) and len(sql) <= MAX_SQL_CHARS:
        sql = bind_parameters(sql, params)
    if isinstance(sql, str) and len(sql) <= MAX_SQL_CHARS:
        # DESCRIBE and SHOW TABLES become the SELECT over information_schema that answers them
        sql = metadata_statement_sql(
            sql,
            lambda reference: resolve_table(project.definition, project.store, reference, visible),
        )
    definition = project.definition
    check_readonly(sql, metadata=True, engine=definition.embedded_engine)
    call = ReadOnlyCall(deadline=started + timeout_s, limit_s=timeout_s, max_rows=max_rows)
    if cancel is not None:
        call.cancel = cancel
    engine = create_readonly_engine(
        definition.embedded_engine, EnginePlace.of(definition, project.store), call
    )
    with _ReadOnlyQuerySession(definition, project.store, engine, visible, rewrite) as session:
        try:
            table = session.query(sql, as_of)
        except ReadOnlyRefusal as exc:
            raise QueryRejected(exc.refused, exc.reason) from None
        except DeadlineExceeded as exc:
            if call.cancelled:
                raise QueryCancelled() from None
            raise QueryTimeout(exc.limit_s, exc.elapsed_s) from None
        read = tuple(sorted(session.tables_read))
    return QueryResult(table, call.truncated, time.monotonic() - started, read)


class _ReadOnlyQuerySession(QuerySession):
    """`QuerySession` (table resolution, registration, time travel) on a read-only engine:
    it locks the connection down before any view binds and checks the SQL that runs."""

    def _seal(self, session: EngineSession, required: set[str]) -> dict[str, Exception]:
        assert isinstance(session, LockableSession)
        failed = session.seal()
        for key in sorted(required & failed.keys()):
            raise _view_refused(key, failed[key])
        return failed

    def _run(self, session: EngineSession, sql: str) -> pa.Table:
        # the SQL that runs, as rendered from the checked tree
        check_readonly(sql, engine=self.definition.embedded_engine)
        return session.query(sql)

    def _unbound_view(self, key: str, exc: Exception) -> UsageError:
        return _view_refused(key, exc)


def _view_refused(key: str, exc: Exception) -> QueryRejected:
    """Why the view model `key` cannot be read or described on the read-only path, without
    the engine's message: it can name (or quote) a file the view reads."""
    hint = (
        "a view model is read here only if it reads the project's tables: build one that "
        "scans a file as a table to serve it"
    )
    if isinstance(exc, FileAccessRefused):
        return QueryRejected(
            f"the view {key}", "it needs access to a file the read-only path does not open", hint
        )
    return QueryRejected(
        f"the view {key}", "it does not bind on the read-only path's locked connection", hint
    )


# -- layers 1 and 2: the checks --------------------------------------------------------------


def check_readonly(sql: str, *, metadata: bool = False, engine: EngineConfig | None = None) -> None:
    """Refuse `sql` unless it is a single read-only SELECT (layers 1 and 2 above).

    Pure: it parses the text and runs nothing. With `metadata`, the query may also name
    `information_schema.tables`, `.columns` and `.schemata`, which the query session answers
    from tables it builds (the SQL that runs names those, and is checked without `metadata`).
    `engine` is the project's engine settings, whose engine reads the SQL in layer 1 and says
    what it must refuse (default: the default engine).

    Raises:
        QueryRejected: what was refused and why.
        UsageError: the engine has no read-only support.
    """
    if not isinstance(sql, str):
        raise QueryRejected("a non-text query", "the query must be a string of SQL")
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRejected(
            f"a query of {len(sql)} characters", f"the limit is {MAX_SQL_CHARS} characters"
        )
    if CONTROL.search(sql):
        raise QueryRejected("a control character", "SQL text holds no control characters")
    support = readonly_support(engine) if engine is not None else _default_support()
    _check_statements(sql, support)
    _check_words(sql, support)
    _check_tree(sql, metadata, support)


def _default_support() -> ReadOnlySupport:
    """The read-only support of the default engine (that of a project without `engine:`),
    for a check called on its own."""
    return readonly_support(EngineConfig.model_validate({}))


def _check_statements(sql: str, support: ReadOnlySupport | None = None) -> None:
    """Refuse anything but exactly one statement the engine's parser calls a SELECT."""
    try:
        kinds = (support or _default_support()).statement_kinds(sql)
    except UsageError as exc:
        raise QueryRejected("SQL that does not parse", first_line(exc)) from None
    if not kinds:
        raise QueryRejected("an empty query", "there is no statement in it")
    if len(kinds) > 1:
        raise QueryRejected(f"{len(kinds)} statements", "exactly one SELECT may run")
    if kinds[0] != "SELECT":
        raise QueryRejected(f"a {kinds[0]} statement", "only a SELECT may run")


def _check_words(sql: str, support: ReadOnlySupport | None = None) -> None:
    """Refuse statement words and denied functions as the engine's tokenizer reads the text."""
    support = support or _default_support()
    sql = support.spaces.sub(" ", sql)  # as the parser sees it; the tokenizer alone would not
    try:
        found = support.tokens(sql)
    except Exception as exc:  # the parser accepted it; a tokenizer failure still refuses
        raise QueryRejected("SQL that does not tokenize", first_line(exc)) from None
    words = [t for t in found if t[1] != "comment"]
    for position, (text, kind) in enumerate(words):
        if kind not in ("keyword", "identifier"):
            continue
        quoted = text.startswith('"')
        name = text[1:-1].replace('""', '"') if quoted else text
        follows = words[position + 1][0] if position + 1 < len(words) else ""
        if follows.startswith("("):
            _check_function(name, support)
        if not quoted and _fold(name).upper() in support.denied_words:
            raise QueryRejected(
                f"the word {name.upper()}",
                "it starts a statement that writes, changes settings or reaches outside",
                hint=ALLOWED + '; quote a column with that name ("' + name + '")',
            )


def _check_function(name: str, support: ReadOnlySupport) -> None:
    if support.denied_functions.fullmatch(_fold(name).lower()):
        raise QueryRejected(
            f"the function {name.lower()}",
            "it reads files, settings or other databases, or runs SQL from a string",
        )


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _check_tree(sql: str, metadata: bool = False, support: ReadOnlySupport | None = None) -> None:
    """Refuse anything but one sqlglot query whose tree holds no statement, file, system
    table or denied function."""
    import sqlglot
    from sqlglot import exp

    support = support or _default_support()
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
            _check_table(node, metadata, support)
        elif isinstance(node, exp.Func):
            _check_function(_function_name(node), support)
        if isinstance(node, exp.Identifier | exp.Anonymous) and support.spaces.search(node.name):
            raise QueryRejected(
                f"the name {node.name!r}",
                "it holds a character the engine reads as a space, so it would split the name",
            )


def _statement_nodes() -> tuple[type[exp.Expression], ...]:
    from sqlglot import exp

    return tuple(getattr(exp, name) for name in STATEMENT_NODES if hasattr(exp, name))


def _check_table(table: exp.Table, metadata: bool, support: ReadOnlySupport) -> None:
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
    if table.db and _fold(table.db) in support.system_schemas:
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
