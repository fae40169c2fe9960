"""DuckDB locked down for untrusted SQL: the read-only query path's engine.

`lock_down` takes external access and every later setting change away from a database: after
it, the connection opens exactly the Parquet files it was allowed and nothing else (no other
file, directory listing, URL, database file or extension) and nothing spills to disk. A
`ReadOnlyEngine` hands out `ReadOnlySession`s that record the files of the tables they
register, create views only once locked (`seal`), refuse every write, and run one query under a
deadline (a timer thread interrupts it) with a row cap (results stream as Arrow record batches).
Engines come from a pool of spares, since opening one costs about half of a trivial query.
`statement_kinds` and `tokens` read SQL with DuckDB's parser and tokenizer and run nothing.

What may run at all is decided above, in `headwater.query.readonly`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from headwater.engine.duckdb import DuckDBEngine, DuckDBSession
from headwater.errors import UsageError
from headwater.sqltext import literal

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import WriteResult
    from headwater.engine.registry import EnginePlace
    from headwater.project.config import EngineConfig
    from headwater.storage.base import Snapshot, TableRef

LockDown = Callable[[Any, Iterable[str]], None]
"""What locks a DuckDB connection down to a set of files (`lock_down`)."""


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


class ReadOnlyRefusal(UsageError):
    """Something a read-only session does not do: write, run a statement, register a table
    once locked, take parameters, or open a file its lock does not allow.

    Attributes:
        refused: what was refused.
        reason: why.
    """

    def __init__(self, refused: str, reason: str) -> None:
        super().__init__(f"{refused} refused ({reason})")
        self.refused = refused
        self.reason = reason


class FileAccessRefused(ReadOnlyRefusal):
    """The locked connection refused to open a file (external access is off). The engine's
    message is left out: it names the file."""

    def __init__(self) -> None:
        super().__init__("access to a file", "the engine refused it (external access is off)")


class DeadlineExceeded(UsageError):
    """The query ran past its call's deadline and was interrupted.

    Attributes:
        limit_s: the call's time limit in seconds.
        elapsed_s: how long the call took until the engine stopped.
    """

    def __init__(self, limit_s: float, elapsed_s: float) -> None:
        super().__init__(f"the query ran past its time limit of {limit_s:g} s")
        self.limit_s = limit_s
        self.elapsed_s = elapsed_s


@dataclass
class ReadOnlyCall:
    """One read-only call's limits, and what its sessions learnt: the files to allow, the
    views waiting for the lock, whether the result was capped or the query interrupted."""

    deadline: float
    """`time.monotonic()` by which the call must be done."""
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


class ReadOnlySession(DuckDBSession):
    """A DuckDB session that records what it registers and runs one capped query before its
    call's deadline; a file its lock refuses is a `FileAccessRefused`, wherever it is opened."""

    def __init__(self, engine: DuckDBEngine, connection: Any, call: ReadOnlyCall) -> None:
        super().__init__(engine, connection)
        self._call = call

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

    def seal(self, lock: LockDown = lock_down) -> dict[str, Exception]:
        """Lock the connection down to the registered tables' files with `lock`, then create
        the views asked for so far.

        Returns:
            The views (by asset key) that could not be created: `FileAccessRefused` for one
            that reads a file the lock does not allow, else the engine's error.
        """
        call = self._call
        if call.sealed:
            return {}
        lock(self.connection, call.files)
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
        if remaining <= 0:
            raise self._timeout()
        batches: list[pa.RecordBatch] = []
        rows = 0
        with _Watchdog(self.connection, remaining) as watchdog:
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


class ReadOnlyEngine(DuckDBEngine):
    """An engine of one read-only call, handing out read-only sessions of that call."""

    call: ReadOnlyCall | None = None

    def session(self) -> ReadOnlySession:
        assert self.call is not None, "take the engine with readonly_engine"
        return ReadOnlySession(self, super().session().connection, self.call)

    def close(self) -> None:
        if self.call is None or not self.call.timed_out:
            super().close()
            return
        # Tearing down a database whose query was just interrupted takes DuckDB ~0.1 s of CPU;
        # the caller gets its timeout now and the teardown finishes on its own thread.
        threading.Thread(target=super().close, name="headwater-query-close").start()


class _Spares:
    """One opened, unused engine kept ready per engine configuration.

    Starting an in-memory DuckDB takes ~10 ms, half of a trivial query; a call takes the ready
    engine and a background thread opens the next one. Engines are never shared: each is
    taken by one call and closed by it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[tuple[Any, ...], ReadOnlyEngine] = {}

    def take(self, options: tuple[tuple[str, Any], ...], call: ReadOnlyCall) -> ReadOnlyEngine:
        with self._lock:
            engine = self._ready.pop(options, None)
        if engine is None:
            engine = ReadOnlyEngine(**dict(options))
        engine.call = call
        threading.Thread(target=self._refill, args=(options,), name="headwater-query-spare").start()
        return engine

    def _refill(self, options: tuple[tuple[str, Any], ...]) -> None:
        engine = ReadOnlyEngine(**dict(options))
        with self._lock:
            if options not in self._ready:
                self._ready[options] = engine
                return
        engine.close()


_spares = _Spares()


def readonly_engine(config: EngineConfig, place: EnginePlace, call: ReadOnlyCall) -> ReadOnlyEngine:
    """Return an engine (opened ahead, when one is ready) for the read-only `call`, with the
    threads and memory limit of the project's `engine:` settings; the caller closes it."""
    options: tuple[tuple[str, Any], ...] = (
        ("threads", config.threads),
        ("memory_limit", config.memory_limit),
        ("file_search_path", place.root),
    )
    return _spares.take(options, call)
