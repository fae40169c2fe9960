"""The serving cache: the current version of the tables `serve.tables.<t>.cache` names, held in
an in-memory DuckDB database inside the server, for lookups and pages without a file scan.

Each table is loaded sorted by its keys (so a lookup or a page reads one row group, found
through DuckDB's min/max zonemaps; an ART index on the keys measured barely faster, 0.81 ms
against 0.92 ms for a lookup on 6M rows, for 8% more memory, and is not built). A background
thread looks at each table's latest version every fraction of its `max_staleness` (a listing
of the Delta log: `TableStore.version_token`) and loads a new version beside the old one,
which it then swaps in at once: a reader holds a lease on the version it started with, and an
old version is dropped when its last reader is done.

The cache never answers from a version older than `max_staleness` behind the table's latest:
it answers only while it knows that its version was the latest at most `max_staleness` ago
(it checks inline, cheaply, when the background thread has not told it recently); past that,
reads go to the Delta table until the new version is loaded.

The database is locked down like the read-only path's connections (`lock_down`: no file, no
network, no extension, no setting changes); data comes in only as Arrow streams, which a
separate, private DuckDB reads from the table's files. Table reads run SQL Headwater builds;
a query from a user runs here only when every table it names is cached and the principal may
read it, after the read-only checks (layers 1 and 2 of `headwater.query.readonly`) on both its
text and the rewritten text, with the table names replaced by the cache's own (random) names.
Queries are capped and interrupted at the time limit like the read-only path's.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError, first_line
from headwater.query.readonly import QueryResult

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.governance.masking import Masking
    from headwater.orchestrate.principals import Principal
    from headwater.project.serving import ServedTable
    from headwater.query.parameters import Parameter
    from headwater.serve.service import ServeService

_LOG = logging.getLogger(__name__)

BATCH_ROWS = 1 << 17
"""Rows per Arrow batch streamed into the cache while it loads a table."""
RETRY_FAILED_S = 60.0
"""A table whose load failed is tried again after this long (or at its next version)."""
READY, LOADING, WAITING, FAILED = "ready", "loading", "waiting", "failed"
EXPOSING_FUNCTIONS = frozenset({"current_query", "current_query_id"})
"""Functions whose answer on the cache would differ from the Delta path's (they show the SQL
that runs): a query calling one is not answered from the cache."""


@dataclass
class CachedResult(QueryResult):
    """A query's result answered from the serving cache."""


@dataclass
class Loaded:
    """One version of a table, loaded in the cache."""

    key: str
    physical: str
    """Its table's name in the cache database (random: no query can name it)."""
    version: int
    token: str
    """The store's version token it was loaded from."""
    schema: pa.Schema
    rows: int
    loaded_at: float
    """Wall-clock time of the load (`time.time()`)."""
    readers: int = 0
    retired: bool = False


@dataclass
class _Cached:
    """What the cache knows of one table it serves."""

    name: str
    """The name `serve.tables` gives it."""
    settings: ServedTable
    key: str | None = None
    """Its resolved `namespace.name` (None until it resolves)."""
    current: Loaded | None = None
    confirmed: float = float("-inf")
    """`time.monotonic()` at which `current` was last known to be the latest version."""
    behind: bool = False
    """A newer version than `current` has been seen."""
    state: str = WAITING
    error: str | None = None
    failed_at: float = float("-inf")
    failed_token: str | None = None


class Lease:
    """The loaded versions of some tables, kept for one read; release it (`with`) when done."""

    def __init__(self, cache: ServingCache, tables: dict[str, Loaded]) -> None:
        self._cache = cache
        self.tables = tables

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def release(self) -> None:
        """Let the versions go (an old one is dropped once its last reader is done)."""
        tables, self.tables = self.tables, {}
        self._cache._release(tables.values())


class ServingCache:
    """The cached tables of one server and the database holding them."""

    def __init__(self, service: ServeService) -> None:
        """Serve the tables of `service.config.tables` whose `cache` is on; call `start`."""
        self.service = service
        self._tables = {
            name: _Cached(name, settings)
            for name, settings in service.config.tables.items()
            if settings.cache
        }
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._interrupter = _Interrupter()
        self._db: Any = None
        self._ddl = threading.Lock()
        self._loading: Any = None
        """The cursor loading a table, which `close` interrupts."""

    @property
    def poll_s(self) -> float:
        """How often the background thread looks for new versions."""
        least = min((_staleness(c.settings) for c in self._tables.values()), default=4)
        return min(1.0, max(0.05, least / 4))

    def start(self) -> None:
        """Open the cache database and start loading the tables in the background."""
        if not self._tables or self._thread is not None:
            return
        self._db = _open_database(self.service)
        self._thread = threading.Thread(target=self._run, name="headwater-cache", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the background thread and close the database."""
        self._stop.set()
        self._wake.set()
        loading = self._loading
        if loading is not None:
            loading.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self._interrupter.close()
        if self._db is not None:
            with self._ddl:
                self._db.close()

    # -- what it serves --------------------------------------------------------------------------

    def serves(self, key: str) -> bool:
        """Whether `key` (`namespace.name`) is a table the cache is asked to hold."""
        return any(key in (c.key, c.name) for c in self._tables.values())

    def status(self, key: str) -> dict[str, Any] | None:
        """The cache's state for a table (None when it is not cached): `state` (`ready`,
        `loading`, `waiting` for the table, `failed`), the version held, its rows, when it was
        loaded, whether it is fresh enough to answer, and the whole database's memory."""
        import datetime as dt

        cached = next((c for c in self._tables.values() if key in (c.key, c.name)), None)
        if cached is None:
            return None
        with self._lock:
            current = cached.current
            status: dict[str, Any] = {
                "state": cached.state,
                "version": current.version if current else None,
                "rows": current.rows if current else None,
                "loaded_at": (
                    dt.datetime.fromtimestamp(current.loaded_at, dt.UTC).isoformat()
                    if current
                    else None
                ),
                "max_staleness_s": _staleness(cached.settings),
                "error": cached.error,
            }
        status["fresh"] = current is not None and self._fresh(cached, time.monotonic())
        status["memory_bytes"] = self.memory_bytes()
        return status

    def memory_bytes(self) -> int | None:
        """Bytes the cache database holds in memory (its tables and buffers)."""
        if self._db is None:
            return None
        cursor = self._db.cursor()
        try:
            found = cursor.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
            row = found[0] if found else None
        finally:
            cursor.close()
        return int(row[0]) if row and row[0] is not None else None

    # -- leases ----------------------------------------------------------------------------------

    def lease(self, keys: Iterable[str]) -> Lease | None:
        """Hold the loaded versions of every table of `keys` for one read, or None when one
        of them is not cached, not loaded, or not fresh enough (read the Delta table then)."""
        wanted = set(keys)
        found: list[_Cached] = []
        for key in wanted:
            cached = self._by_key(key)
            if cached is None or cached.current is None:
                return None
            found.append(cached)
        now = time.monotonic()
        for cached in found:
            if not self._fresh(cached, now):
                return None
        with self._lock:
            tables: dict[str, Loaded] = {}
            for cached in found:
                current = cached.current
                if current is None:
                    break
                current.readers += 1
                tables[current.key] = current
        if len(tables) != len(found):
            self._release(tables.values())
            return None
        return Lease(self, tables)

    def _by_key(self, key: str) -> _Cached | None:
        for cached in self._tables.values():
            if cached.key == key:
                return cached
        return None

    def _fresh(self, cached: _Cached, now: float) -> bool:
        """Whether `cached.current` may answer now: it was the latest version less than
        `max_staleness` ago. Looks at the table's latest version itself when the background
        thread has not done so in the last half of that."""
        limit = _staleness(cached.settings)
        with self._lock:
            if cached.current is None:
                return False
            if not cached.behind and now - cached.confirmed <= limit / 2:
                return True
            current = cached.current
        checked = time.monotonic()
        token = self._token(cached)
        with self._lock:
            if token is not None and cached.current is current and token == current.token:
                cached.confirmed = max(cached.confirmed, checked)
                cached.behind = False
                return True
            if cached.current is not current:
                return cached.current is not None and now - cached.confirmed <= limit
            cached.behind = True
        self._wake.set()
        return now - cached.confirmed <= limit

    def _token(self, cached: _Cached) -> str | None:
        from headwater.storage.base import TableRef

        if cached.key is None:
            return None
        try:
            return self.service.project.store.version_token(TableRef.parse(cached.key))
        except Exception:  # an unreadable log: not fresh, the Delta path will say why
            return None

    def _release(self, tables: Iterable[Loaded]) -> None:
        dropped: list[Loaded] = []
        with self._lock:
            for loaded in tables:
                loaded.readers -= 1
                if loaded.retired and loaded.readers == 0:
                    dropped.append(loaded)
        for loaded in dropped:
            self._drop(loaded)

    # -- reading ---------------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        *,
        params: Sequence[Any] | None = None,
        deadline: float,
        limit_s: float,
        max_rows: int,
        cancel: threading.Event | None = None,
        relations: Mapping[str, pa.Table] | None = None,
    ) -> tuple[pa.Table, bool]:
        """Run `sql` (naming leased tables by their cache names, `params` bound to its
        placeholders, `relations` registered for it alone) and return at most `max_rows`
        rows and whether there were more.

        Raises:
            QueryTimeout: the deadline passed; the query was interrupted.
            QueryCancelled: `cancel` was set.
            CacheQueryFailed: the engine failed (the caller reads the Delta table instead, whose
                error names no cache table).
        """
        import pyarrow as pa

        from headwater.query.readonly import QueryCancelled, QueryTimeout

        started = time.monotonic()
        if deadline <= started or (cancel is not None and cancel.is_set()):
            if cancel is not None and cancel.is_set():
                raise QueryCancelled()
            raise QueryTimeout(limit_s, limit_s)
        cursor = self._db.cursor()
        batches: list[pa.RecordBatch] = []
        rows = 0
        try:
            for name, relation in (relations or {}).items():
                cursor.register(name, relation)  # this cursor's own: gone when it closes
            with self._interrupter.watch(cursor, deadline, cancel) as watch:
                try:
                    relation = cursor.sql(sql, params=list(params)) if params else cursor.sql(sql)
                    reader = relation.to_arrow_reader(min(max_rows + 1, 65536))
                    try:
                        for batch in reader:
                            batches.append(batch)
                            rows += batch.num_rows
                            if rows > max_rows:
                                break
                        schema = reader.schema
                    finally:
                        reader.close()
                except Exception as exc:
                    if not watch.fired:
                        raise CacheQueryFailed(first_line(exc)) from None
                if watch.fired:
                    if cancel is not None and cancel.is_set():
                        raise QueryCancelled()
                    raise QueryTimeout(limit_s, limit_s - (deadline - time.monotonic()))
        finally:
            cursor.close()
        table = pa.Table.from_batches(batches, schema=schema)
        return table.slice(0, max_rows), rows > max_rows

    def run_sql(
        self,
        principal: Principal,
        sql: str,
        *,
        params: Sequence[Parameter] | None,
        as_of: str | int | None,
        max_rows: int,
        deadline: float,
        limit_s: float,
        cancel: threading.Event | None = None,
        masking: Masking | None = None,
    ) -> QueryResult | None:
        """Answer a user's query from the cache when it can: every table it names is cached,
        fresh, and readable by `principal`, and there is no `as_of`. None otherwise, and also
        when the query is refused or fails here: the read-only path then answers (or refuses)
        in its own words. `masking` is the principal's masking and row filters, applied to
        the query that runs here as on the read-only path.

        Raises:
            QueryTimeout: the query ran out of time here (it would there too).
            QueryCancelled: `cancel` was set.
        """
        started = time.monotonic()
        if as_of is not None or not isinstance(sql, str) or not self._tables:
            return None
        planned = self._plan(principal, sql, params)
        if planned is None:
            return None
        tree, references = planned
        lease = self.lease({key for _, key in references})
        if lease is None:
            return None
        with lease:
            final = _rewrite(tree, references, lease.tables)
            try:
                self._check(final)
                key: list[str] = []
                if masking is not None:
                    # what masking adds is Headwater's own SQL: the check above is the reader's.
                    # The parameters are bound in the text (`_plan`): the key is `$1`
                    final = masked_sql(final, lease.tables, masking, tree=tree)
                    key = masking.parameters()
                table, truncated = self.query(
                    final,
                    params=key,
                    deadline=deadline,
                    limit_s=limit_s,
                    max_rows=max_rows,
                    cancel=cancel,
                )
            except (UsageError, CacheQueryFailed) as exc:
                if not isinstance(exc, CacheQueryFailed) and _timed_out(exc):
                    raise
                return None
        keys = tuple(sorted({key for _, key in references}))
        hidden = tuple(sorted(masking.applied)) if masking is not None else ()
        return CachedResult(table, truncated, time.monotonic() - started, keys, hidden)

    def _plan(
        self, principal: Principal, sql: str, params: Sequence[Parameter] | None
    ) -> tuple[exp.Query, list[tuple[exp.Table, str]]] | None:
        """The checked tree of a user's query and the cached table each of its table names
        resolves to; None when it is refused, names anything else, or names nothing."""
        import sqlglot
        from sqlglot import exp

        from headwater.project.sql import TableReference, is_cte_reference
        from headwater.query.parameters import bind_parameters
        from headwater.query.session import keep_output_names
        from headwater.query.tables import resolve_table

        project = self.service.project
        try:
            if params:
                sql = bind_parameters(sql, params)
            self._check(sql)
            tree = sqlglot.parse_one(sql, read="duckdb")
        except Exception:
            return None
        if not isinstance(tree, exp.Query) or tree.find(exp.With) is not None:
            # a CTE's name could be bound by the cache's engine to a relation of its own;
            # the read-only path isolates CTEs (headwater.query.ctes)
            return None
        keep_output_names(tree)  # the cache's table names must not show in a column's name
        for function in tree.find_all(exp.Func):
            # it would show the SQL that runs here, with the cache's own table names
            if function.sql_name().lower() in EXPOSING_FUNCTIONS or (
                isinstance(function, exp.Anonymous)
                and str(function.name).lower() in EXPOSING_FUNCTIONS
            ):
                return None
        visible = None if principal.everything else principal.can_read
        references: list[tuple[exp.Table, str]] = []
        for node in tree.find_all(exp.Table):
            if not isinstance(node.this, exp.Identifier):
                continue  # a table function, which the checks allow only if it reads nothing
            if is_cte_reference(node):
                continue
            if node.catalog:
                return None
            try:
                namespace, name = resolve_table(
                    project.definition,
                    project.store,
                    TableReference(node.db or None, node.name, None),
                    visible,
                )
            except UsageError:
                return None
            key = f"{namespace}.{name}"
            if self._by_key(key) is None:
                return None
            references.append((node, key))
        if not references:
            return None
        return tree, references

    def _check(self, sql: str) -> None:
        from headwater.query.readonly import check_readonly

        check_readonly(sql, engine=self.service.project.definition.embedded_engine)

    # -- loading ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            for cached in list(self._tables.values()):
                if self._stop.is_set():
                    return
                try:
                    self._poll(cached)
                except Exception as exc:  # the server goes on; the table is read from Delta
                    _LOG.exception("the serving cache could not load %s", cached.name)
                    with self._lock:
                        cached.state, cached.error = FAILED, first_line(exc)
                        cached.failed_at = time.monotonic()
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _poll(self, cached: _Cached) -> None:
        """Look at the table's latest version; load it when the cache does not hold it."""
        started = time.monotonic()
        if cached.key is None:
            cached.key = self._resolve(cached.name)
            if cached.key is None:
                return
        token = self._token(cached)
        with self._lock:
            current = cached.current
            if current is not None and token == current.token:
                cached.confirmed = max(cached.confirmed, started)
                cached.behind = False
                return
            if current is not None:
                cached.behind = True
            if token is None:
                cached.state = WAITING if current is None else cached.state
                return
            if (
                cached.state == FAILED
                and token == cached.failed_token
                and started - cached.failed_at < RETRY_FAILED_S
            ):
                return
            cached.state = LOADING
        try:
            loaded = self._load(cached, token)
        except Exception as exc:
            if self._stop.is_set():
                return  # interrupted by `close`
            with self._lock:
                cached.state, cached.error = FAILED, first_line(exc)
                cached.failed_at, cached.failed_token = time.monotonic(), token
            _LOG.warning("the serving cache could not load %s: %s", cached.key, first_line(exc))
            return
        if loaded is None:
            with self._lock:
                cached.state = READY if cached.current is not None else WAITING
            return
        with self._lock:
            old, cached.current = cached.current, loaded
            # the token it was loaded from was the latest when this poll began
            cached.confirmed = started
            cached.behind = False
            cached.state, cached.error = READY, None
            drop = old is not None and old.readers == 0
            if old is not None:
                old.retired = True
        if drop and old is not None:
            self._drop(old)
        # the load took a while: look again before anyone has to
        self._wake.set()

    def _resolve(self, name: str) -> str | None:
        from headwater.project.sql import TableReference
        from headwater.query.tables import resolve_table

        project = self.service.project
        namespace, dot, table = name.rpartition(".")
        try:
            ns, resolved = resolve_table(
                project.definition,
                project.store,
                TableReference(namespace if dot else None, table, None),
            )
        except UsageError:
            return None
        key = f"{ns}.{resolved}"
        asset = project.definition.assets.get(key)
        if asset is not None and not asset.is_stored:
            _LOG.warning("serve.tables.%s: a %s is not cached", name, asset.build_kind)
            return None
        return key

    def _load(self, cached: _Cached, token: str) -> Loaded | None:
        """Load the version `token` names into a new table of the cache database; None when
        the table moved on meanwhile (the next poll loads the newer one)."""
        from headwater.engine.duckdb import DuckDBEngine
        from headwater.sqltext import identifier, qualified
        from headwater.storage.base import TableRef

        assert cached.key is not None
        project = self.service.project
        store = project.store
        ref = TableRef.parse(cached.key)
        snapshot = store.snapshot(ref)
        if store.version_token(ref) != token:
            return None
        keys = [k for k in self._keys(cached, snapshot.schema) if k in snapshot.schema.names]
        physical = "hwc_" + secrets.token_hex(8)
        source = "hws_" + secrets.token_hex(8)
        order = (
            " ORDER BY " + ", ".join(identifier(k) + " ASC NULLS LAST" for k in keys)
            if keys
            else ""
        )
        engine_config = project.definition.embedded_engine
        reader_db = DuckDBEngine(threads=engine_config.threads, object_store=store.object_store)
        cursor = self._db.cursor()
        self._loading = cursor
        try:
            session = reader_db.session()
            session.register_table(ref, snapshot)
            reader = session.connection.sql(f"SELECT * FROM {qualified(ref)}").to_arrow_reader(
                BATCH_ROWS
            )
            cursor.register(source, reader)
            try:
                with self._ddl:
                    cursor.execute(
                        f"CREATE TABLE main.{identifier(physical)} AS "
                        f"SELECT * FROM {identifier(source)}{order}"
                    ).fetchall()
            finally:
                cursor.unregister(source)
            rows = cursor.execute(f"SELECT count(*) FROM main.{identifier(physical)}").fetchall()[0]
            schema = (
                cursor.sql(f"SELECT * FROM main.{identifier(physical)} LIMIT 0")
                .to_arrow_table()
                .schema
            )
        finally:
            self._loading = None
            cursor.close()
            reader_db.close()
        _LOG.info("serving cache: %s version %s loaded", cached.key, snapshot.version)
        return Loaded(
            cached.key,
            physical,
            snapshot.version,
            token,
            schema,
            int(rows[0]) if rows else 0,
            time.time(),
        )

    def _keys(self, cached: _Cached, schema: pa.Schema) -> list[str]:
        if cached.settings.keys:
            return list(cached.settings.keys)
        asset = self.service.project.definition.assets.get(cached.key or "")
        return list(asset.key_columns) if asset is not None else []

    def _drop(self, loaded: Loaded) -> None:
        from headwater.sqltext import identifier

        if self._db is None or self._stop.is_set():
            return
        with self._ddl:
            cursor = self._db.cursor()
            try:
                cursor.execute(
                    f"DROP TABLE IF EXISTS main.{identifier(loaded.physical)}"
                ).fetchall()
            finally:
                cursor.close()


def _staleness(settings: ServedTable) -> float:
    from headwater.project.strict import duration_seconds

    return duration_seconds(settings.max_staleness)


class CacheQueryFailed(Exception):
    """The engine failed on a query in the cache database (the read-only path answers it)."""


def _timed_out(exc: Exception) -> bool:
    from headwater.query.readonly import QueryCancelled, QueryTimeout

    return isinstance(exc, QueryTimeout | QueryCancelled)


def _rewrite(
    tree: exp.Query, references: list[tuple[exp.Table, str]], tables: dict[str, Loaded]
) -> str:
    """The query's SQL with each table name replaced by its leased version's name in the cache
    (aliased as written, so `orders.col` still binds)."""
    from sqlglot import exp

    targets = {id(node): key for node, key in references}

    def rename(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or id(node) not in targets:
            return node
        renamed = node.copy()
        if renamed.args.get("alias") is None:
            renamed.set("alias", exp.TableAlias(this=node.this.copy()))
        renamed.set("this", exp.to_identifier(tables[targets[id(node)]].physical, quoted=True))
        renamed.set("db", exp.to_identifier("main", quoted=True))
        return renamed

    return tree.transform(rename, copy=False).sql("duckdb")


def masked_sql(
    sql: str,
    tables: Mapping[str, Loaded],
    masking: Masking,
    *,
    parameters: int = 0,
    tree: exp.Query | None = None,
) -> str:
    """`sql`, which reads the cached `tables` by their cache names, with `masking` applied to
    each of them as the read-only path applies it to the Delta tables.

    The hash key is the query's parameter after its own `parameters` (`$1` to `$n`): run the
    SQL with `masking.parameters()` bound after them. A masked query is kept by the reader's
    masking, so the same text on the same versions of the tables (a table page's SQL, whose
    values are parameters) is rewritten once.

    Args:
        sql: the query, on the cache's names of `tables`.
        tables: the cached tables it reads, by asset key.
        masking: the reader's masking (a fresh one for this query).
        parameters: how many parameters the query binds itself.
        tree: `sql` already parsed, if the caller has it (changed in place).

    Raises:
        QueryRejected: the reader may not read one of them under masking, or the query has a
            placeholder for which it binds no value.
        UsageError: a hashing rule has no key.
    """
    # the physical names are new at each load, so they name the versions (and columns) read
    kept = ("serving cache", sql, parameters, tuple(sorted(t.physical for t in tables.values())))
    found = masking.recall(kept)
    if found is not None:
        return found
    import sqlglot
    from sqlglot import exp

    by_physical = {loaded.physical.lower(): key for key, loaded in tables.items()}
    parsed = sqlglot.parse_one(sql, read="duckdb") if tree is None else tree
    assert isinstance(parsed, exp.Query)
    tree = parsed
    for node in tree.find_all(exp.Table):
        key = by_physical.get(node.name.lower()) if node.db.lower() == "main" else None
        if key is not None:
            # named as the asset, so masking knows it; the alias keeps the query's columns bound
            if node.args.get("alias") is None:
                node.set("alias", exp.TableAlias(this=node.this.copy()))
            namespace, name = key.split(".", 1)
            node.set("db", exp.to_identifier(namespace, quoted=True))
            node.set("this", exp.to_identifier(name, quoted=True))

    def columns_of(namespace: str, name: str) -> list[str] | None:
        loaded = tables.get(f"{namespace}.{name}")
        return None if loaded is None else list(loaded.schema.names)

    tree = masking.rewrite(tree, columns_of, key_parameter=parameters + 1)
    for node in tree.find_all(exp.Table):
        loaded = tables.get(f"{node.db}.{node.name}")
        if loaded is not None:
            node.set("db", exp.to_identifier("main", quoted=True))
            node.set("this", exp.to_identifier(loaded.physical, quoted=True))
    masked = tree.sql("duckdb")
    masking.keep(kept, masked)
    return masked


def _open_database(service: ServeService) -> Any:
    """The cache's in-memory DuckDB, locked down before anything is loaded."""
    import duckdb

    from headwater.engine.duckdb_readonly import lock_down

    engine = service.project.definition.embedded_engine
    config: dict[str, Any] = {}
    if engine.threads:
        config["threads"] = engine.threads
    connection = duckdb.connect(":memory:", config=config)
    # as the read-only path's engine reads them (TIMESTAMPTZ shown in UTC)
    connection.execute("SET GLOBAL TimeZone = 'UTC'")
    lock_down(connection, [])
    return connection


@dataclass(eq=False)
class _Watch:
    """One query watched by the `_Interrupter`."""

    deadline: float
    cursor: Any = field(compare=False)
    cancel: threading.Event | None = field(compare=False, default=None)
    fired: bool = field(compare=False, default=False)
    done: bool = field(compare=False, default=False)
    _owner: _Interrupter | None = field(compare=False, default=None, repr=False)

    def __enter__(self) -> _Watch:
        return self

    def __exit__(self, *_: object) -> None:
        assert self._owner is not None
        self._owner.forget(self)


class _Interrupter:
    """One thread that interrupts the cache's queries past their deadline or cancelled, and
    again until each is forgotten (an interrupt that lands before the query starts is lost).
    A thread per query, as the read-only path starts, costs a lookup more than the lookup."""

    RETRY_S = 0.02
    POLL_S = 0.05
    IDLE_S = 0.1

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: list[_Watch] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wakes_at = float("-inf")
        """When the thread wakes up next (`time.monotonic()`)."""

    def watch(self, cursor: Any, deadline: float, cancel: threading.Event | None) -> _Watch:
        """Watch a query running on `cursor` until the returned watch is left."""
        watch = _Watch(deadline, cursor, cancel, _owner=self)
        with self._cond:
            self._watches.append(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="headwater-cache-timer", daemon=True
                )
                self._thread.start()
            # the thread sleeps until the earliest deadline: wake it only for an earlier one
            if deadline < self._wakes_at:
                self._cond.notify()
        return watch

    def forget(self, watch: _Watch) -> None:
        """Stop watching (no interrupt reaches the cursor after this returns)."""
        with self._cond:
            watch.done = True
            self._watches.remove(watch)

    def close(self) -> None:
        """Stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                wait: float | None = None
                for watch in self._watches:
                    cancelled = watch.cancel is not None and watch.cancel.is_set()
                    if cancelled or watch.deadline <= now:
                        watch.fired = True
                        watch.cursor.interrupt()
                        wait = self.RETRY_S
                    else:
                        left = watch.deadline - now
                        if watch.cancel is not None:
                            left = min(left, self.POLL_S)
                        wait = left if wait is None else min(wait, left)
                # idle, it still ticks: a new query then needs no wake-up unless its deadline
                # comes before the next tick (waking this thread per query costs the query)
                wait = self.IDLE_S if wait is None else min(wait, self.IDLE_S)
                self._wakes_at = now + wait
                self._cond.wait(wait)
