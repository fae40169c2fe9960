"""Table reads over HTTP: the tables a principal may read, their schemas, and pages of rows.

A table is named as queries name it (`namespace.name`, or the name alone when no other table
has it); one the principal may not read is "no such table", exactly like one that does not
exist. A page is read from the serving cache when the table is cached and the cache is fresh
enough (see `headwater.serve.cache`), else from the Delta table through the guarded read-only
path (`ServeService.run_sql`), as the principal, with the server's limits and a record in the
query log either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import NotFoundError, UsageError
from headwater.serve.rows import RowsQuery, parse_rows_query

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.orchestrate.principals import Principal
    from headwater.project.definition import Asset
    from headwater.serve.cache import Loaded
    from headwater.serve.service import Caller, ServeService
    from headwater.storage.base import Snapshot


@dataclass(frozen=True)
class ResolvedTable:
    """A table a principal may read, as a request named it."""

    namespace: str
    name: str
    asset: Asset | None
    """Its asset; None for a table of the warehouse no asset declares (a quarantine)."""

    @property
    def key(self) -> str:
        """`namespace.name`."""
        return f"{self.namespace}.{self.name}"

    @property
    def stored(self) -> bool:
        """Whether it is a Delta table (not a view or an ephemeral model)."""
        return self.asset is None or self.asset.is_stored

    @property
    def kind(self) -> str:
        """How it is built (`table`, `view`, `ingest`, ...); `table` for an undeclared one."""
        return "table" if self.asset is None else str(self.asset.build_kind)


@dataclass
class Page:
    """One page of a table read."""

    table: pa.Table
    """The rows, with the requested columns."""
    next: str | None
    """The cursor of the next page (`after=`), None on the last page."""
    key: str
    version: int | None
    """The table's version read (None for a view)."""
    source: str
    """`cache` or `delta`."""
    elapsed_s: float


class TableReads:
    """Listing, describing and paging the tables of one server."""

    def __init__(self, service: ServeService) -> None:
        self.service = service
        self._resolved: dict[tuple[int, Principal, str], ResolvedTable] = {}
        self._lock = threading.Lock()

    # -- naming ----------------------------------------------------------------------------------

    def resolve(self, principal: Principal, text: str) -> ResolvedTable:
        """The table `text` names for `principal`.

        Raises:
            NotFoundError: no such table (or one the principal may not read).
            UsageError: the name is ambiguous among the tables the principal may read.
        """
        project = self.service.project
        definition = project.definition
        memo = (id(definition), principal, text)
        with self._lock:
            found = self._resolved.get(memo)
        if found is not None:
            return found
        from headwater.project.sql import TableReference
        from headwater.query.tables import resolve_table

        namespace, dot, name = text.strip().rpartition(".")
        reference = TableReference(namespace if dot else None, name, None)
        visible = None if principal.everything else principal.can_read
        try:
            ns, table = resolve_table(definition, project.store, reference, visible)
        except UsageError as exc:
            if "ambiguous" in exc.message:
                raise UsageError(exc.message, hint=exc.hint) from None
            # one answer for any name, whether the table exists or not (no suggestions: they
            # would differ between a hidden table's name and another)
            raise NotFoundError(
                f"no such table: {text}", hint="GET /api/tables lists the tables you may read"
            ) from None
        found = ResolvedTable(ns, table, definition.assets.get(f"{ns}.{table}"))
        if found.asset is not None:
            # an undeclared table resolves only while it exists: it is looked up each time
            with self._lock:
                if len(self._resolved) > 10_000:
                    self._resolved.clear()
                self._resolved[memo] = found
        return found

    def declared_keys(self, table: ResolvedTable) -> list[str]:
        """The keys `serve.tables` or the asset declares (empty: none declared)."""
        served = self.service.config.tables.get(table.key)
        if served is not None and served.keys:
            return list(served.keys)
        return list(table.asset.key_columns) if table.asset is not None else []

    def keys(self, table: ResolvedTable, schema: pa.Schema) -> list[str]:
        """The columns that end every order of `table`: its declared keys, else every column
        that can be ordered.

        Raises:
            UsageError: a declared key is not a column of the table.
        """
        import pyarrow as pa

        declared = self.declared_keys(table)
        missing = [k for k in declared if k not in schema.names]
        if missing:
            raise UsageError(
                f"table {table.key} has no column {missing[0]!r}, which its keys name",
                hint=f"fix serve.tables.{table.key}.keys (or the asset's key) in the project",
            )
        if declared:
            return declared
        return [f.name for f in schema if not pa.types.is_nested(f.type)]

    # -- listing and describing ------------------------------------------------------------------

    def listing(self, principal: Principal) -> list[dict[str, Any]]:
        """The tables `principal` may read: name, kind, version, column count, keys, cached."""
        from headwater.project.kinds import BuildKind
        from headwater.storage.base import TableRef

        project = self.service.project
        definition = project.definition
        store = project.store
        cache = self.service.cache
        found: list[dict[str, Any]] = []
        for key in sorted(definition.assets):
            asset = definition.assets[key]
            if asset.materialized == BuildKind.EPHEMERAL or not principal.can_read_key(key):
                continue
            table = ResolvedTable(asset.namespace, asset.name, asset)
            version = store.current_version(TableRef.of(asset)) if table.stored else None
            columns: int | None = None
            if version is not None:
                columns = len(store.snapshot(TableRef.of(asset)).schema)
            elif definition.columns.get(key):
                columns = len(definition.columns[key])
            found.append(self._entry(table, version, columns, cache))
        if principal.everything:
            for ref in store.list_tables():
                if ref.key in definition.assets:
                    continue
                table = ResolvedTable(ref.namespace, ref.name, None)
                version = store.current_version(ref)
                columns = len(store.snapshot(ref).schema) if version is not None else None
                found.append(self._entry(table, version, columns, cache))
        return found

    def _entry(
        self, table: ResolvedTable, version: int | None, columns: int | None, cache: Any
    ) -> dict[str, Any]:
        return {
            "table": table.key,
            "kind": table.kind,
            "version": version,
            "columns": columns,
            "keys": self.declared_keys(table) or None,
            "cached": bool(cache is not None and cache.serves(table.key)),
        }

    def describe(self, caller: Caller, text: str) -> dict[str, Any]:
        """The schema of a table: columns (name, DuckDB type, nullable), current version,
        keys, description and the serving cache's state."""
        table = self.resolve(caller.principal, text)
        snapshot = self._snapshot(table, None)
        schema = snapshot.schema if snapshot is not None else self._view_schema(caller, table)
        types = duckdb_types(schema)
        cache = self.service.cache
        return {
            "table": table.key,
            "kind": table.kind,
            "version": snapshot.version if snapshot is not None else None,
            "description": table.asset.description if table.asset is not None else None,
            "columns": [
                {"name": f.name, "type": types[i], "nullable": f.nullable}
                for i, f in enumerate(schema)
            ],
            "keys": self.keys(table, schema),
            "cache": cache.status(table.key) if cache is not None else None,
        }

    # -- rows ------------------------------------------------------------------------------------

    def page(self, caller: Caller, text: str, params: Sequence[tuple[str, str]]) -> Page:
        """Read one page of the table `text` names, as `caller`, with the request's query
        parameters (filters, `columns`, `order`, `limit`, `after`, `as_of`).

        Raises:
            NotFoundError: no such table for the caller.
            BadParameter: a parameter cannot be used (the message names it).
            UsageError: the read failed, ran out of time or the server is busy.
        """
        started = time.monotonic()
        table = self.resolve(caller.principal, text)
        as_of = _as_of(params)
        cache = self.service.cache
        lease = cache.lease([table.key]) if cache is not None and as_of is None else None
        if lease is not None:
            with lease:
                page = self._cached_page(caller, table, params, lease.tables[table.key], started)
            if page is not None:
                return page
        snapshot = self._snapshot(table, as_of)
        schema = snapshot.schema if snapshot is not None else self._view_schema(caller, table)
        query = self._query(table, schema, params)
        result = self.service.run_sql(
            caller,
            query.sql(table.namespace, table.name),
            params=query.values,
            as_of=snapshot.version if snapshot is not None and as_of is not None else as_of,
            # the SQL reads one row more; the cap keeps it out of the page (and of the log's
            # count of rows sent) and says there was one
            max_rows=query.limit,
        )
        data, cursor = query.page(result.table, result.truncated)
        version = snapshot.version if snapshot is not None else None
        return Page(data, cursor, table.key, version, "delta", time.monotonic() - started)

    def _cached_page(
        self,
        caller: Caller,
        table: ResolvedTable,
        params: Sequence[tuple[str, str]],
        loaded: Loaded,
        started: float,
    ) -> Page | None:
        """A page read from the serving cache's version `loaded`; None when the cache's engine
        failed on it (the Delta table answers then)."""
        from headwater.query.readonly import QueryResult
        from headwater.serve.cache import CacheQueryFailed, masked_sql

        cache = self.service.cache
        assert cache is not None
        query = self._query(table, loaded.schema, params)
        sql, logged = query.sqls([("main", loaded.physical), (table.namespace, table.name)])
        limit_s = float(self.service.limits.timeout)
        masking = self.service.masking(caller.principal)

        def execute(deadline: float, cap: int) -> QueryResult:
            assert cache is not None
            final, values = sql, list(query.values)
            hidden: tuple[str, ...] = ()
            if masking is not None:  # a refusal here is the reader's, and logged as one
                final = masked_sql(sql, {table.key: loaded}, masking, parameters=len(values))
                values += masking.parameters()  # the hash key, after the page's own values
                hidden = tuple(sorted(masking.applied))
            rows, more = cache.query(
                final,
                params=values,
                deadline=deadline,
                limit_s=limit_s,
                max_rows=cap,
            )
            elapsed = time.monotonic() - started
            return QueryResult(rows, more, elapsed, (table.key,), hidden)

        try:
            result = self.service.run_logged(caller, logged, execute, max_rows=query.limit)
        except CacheQueryFailed:
            return None
        data, cursor = query.page(result.table, result.truncated)
        elapsed = time.monotonic() - started
        return Page(data, cursor, table.key, loaded.version, "cache", elapsed)

    def _query(
        self, table: ResolvedTable, schema: pa.Schema, params: Sequence[tuple[str, str]]
    ) -> RowsQuery:
        limits = self.service.limits
        return parse_rows_query(
            table.key,
            schema,
            self.keys(table, schema),
            params,
            page_size=min(limits.page_size, limits.max_rows),
            max_rows=limits.max_rows,
        )

    def _snapshot(self, table: ResolvedTable, as_of: str | None) -> Snapshot | None:
        """The snapshot read (at `as_of`), None for a view or ephemeral model.

        Raises:
            NotFoundError: the table has not been built yet.
        """
        from headwater.errors import TableNotFoundError
        from headwater.storage.base import TableRef

        if not table.stored:
            return None
        store = self.service.project.store
        ref = TableRef(table.namespace, table.name)
        try:
            if as_of is None:
                return store.snapshot(ref)
            if as_of.strip().isdigit():
                return store.snapshot(ref, version=int(as_of))
            return store.snapshot(ref, as_of=as_of)
        except TableNotFoundError as exc:
            raise NotFoundError(exc.message, hint=exc.hint) from None

    def _view_schema(self, caller: Caller, table: ResolvedTable) -> pa.Schema:
        """The columns of a view (or ephemeral model), from reading none of its rows."""
        from sqlglot import exp

        sql = (
            exp.select(exp.Star())
            .from_(
                exp.Table(
                    this=exp.to_identifier(table.name, quoted=True),
                    db=exp.to_identifier(table.namespace, quoted=True),
                )
            )
            .limit(0)
            .sql("duckdb")
        )
        return self.service.run_sql(caller, sql).table.schema


def _as_of(params: Sequence[tuple[str, str]]) -> str | None:
    values = [v for k, v in params if k == "as_of"]
    if not values:
        return None
    value = values[-1].strip()
    if not value:
        from headwater.serve.rows import BadParameter

        raise BadParameter("as_of", "is empty", hint="as_of=<version> or as_of=<ISO timestamp>")
    return value


_types_lock = threading.Lock()
_types_connection: Any = None


def duckdb_types(schema: pa.Schema) -> list[str]:
    """The DuckDB SQL type of each column of `schema` (what a query sees), in order."""
    global _types_connection  # noqa: PLW0603 - one private connection, made on first use
    import duckdb

    with _types_lock:
        if _types_connection is None:
            _types_connection = duckdb.connect(":memory:", config={"enable_external_access": False})
        relation = _types_connection.from_arrow(schema.empty_table())
        return [str(kind) for kind in relation.types]
