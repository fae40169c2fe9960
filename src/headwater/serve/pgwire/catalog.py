"""PostgreSQL's catalog, answered from Headwater's: what BI tools and drivers ask when they
connect and browse (`version()`, `current_schema()`, `pg_catalog.pg_class`, `pg_attribute`,
`pg_type`, `information_schema.tables`/`columns`, `::regclass`, `format_type`...).

The protocol server routes a statement here when `is_catalog_query` says it reads the catalog.
`CatalogQueries` answers it from a private, locked, in-memory DuckDB database holding
PostgreSQL 15's catalog relations, whose rows describe the tables the principal may read and
nothing else (`catalog_rows`), with macros standing in for PostgreSQL's catalog functions
(`catalog_db`); the client's SQL is translated from PostgreSQL's dialect by sqlglot
(`catalog_sql`). A table the principal may not read is in none of it, so no catalog query can
tell it exists. The database is built once per principal, and built again when the tables
it describes changed (looked at once it is `CATALOG_TTL_S` old); every query obeys the
server's time limit, row cap and concurrency slot, and is recorded in the query log.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.serve.pgwire.catalog_text import code_text
from headwater.version import __version__

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.orchestrate.principals import Principal
    from headwater.query.parameters import Parameter
    from headwater.serve.pgwire.catalog_db import CatalogDatabase
    from headwater.serve.service import ServeService

SERVER_VERSION = "15.0"
"""The PostgreSQL version Headwater speaks as (`server_version`)."""
VERSION = (
    f"PostgreSQL {SERVER_VERSION} (Headwater {__version__}) on x86_64-pc-linux-gnu, "
    "compiled by Headwater, 64-bit"
)
"""What `version()` answers."""
CATALOG_TTL_S = 5.0
"""Seconds after which a catalog lists the principal's tables again (and is built again if
they changed), so that new tables and columns show up."""
CACHED_CATALOGS = 32
"""Catalog databases kept per server (one per principal, user name and database)."""
_SENT_AS_IS = ("arrow.json", "arrow.uuid")

_CATALOG_WORDS = re.compile(
    r"""
    \b(?:pg_catalog|information_schema)\b
  | \b(?:version|current_schemas?|current_database|pg_backend_pid|format_type|obj_description
       |col_description|shobj_description|pg_table_is_visible|pg_type_is_visible
       |pg_function_is_visible|to_regclass|to_regtype|to_regnamespace|to_regproc|to_regrole
       |current_setting|pg_get_[a-z_]+|has_[a-z_]+_privilege|pg_has_role|pg_encoding_to_char
       |pg_is_in_recovery|pg_postmaster_start_time|pg_size_pretty|pg_total_relation_size
       |pg_relation_size|pg_typeof|txid_current|pg_[a-z_]+_is_visible
      )\s*\(
  | \b(?:current_user|session_user|current_role|current_catalog|current_schema)\b
  | ::\s*(?:pg_catalog\s*\.\s*)?"?(?:reg(?:class|type|proc|procedure|namespace|role|oper
       |operator|config)|oid)\b
    """,
    re.VERBOSE | re.IGNORECASE,
)


@functools.cache
def _relation_names() -> re.Pattern[str]:
    """The names of pg_catalog's relations, which a query may name unqualified."""
    from headwater.serve.pgwire.catalog_pg15 import RELATIONS

    names = sorted(n.split(".", 1)[1] for n in RELATIONS if n.startswith("pg_catalog."))
    return re.compile(r'\b"?(?:' + "|".join(names) + r')"?\b', re.IGNORECASE)


def is_catalog_query(sql: str) -> bool:
    """Whether `sql` reads PostgreSQL's catalog (and so is answered by `CatalogQueries`): it
    names a `pg_catalog` or `information_schema` relation (also a `pg_*` one unqualified),
    calls one of PostgreSQL's catalog or session functions, or casts to `regclass`, `regtype`,
    `oid`... Strings and comments are not read, so a value that looks like one does not
    count."""
    if not sql or ("pg_" not in sql.lower() and not _maybe_catalog(sql)):
        return False
    code = code_text(sql)
    return bool(_CATALOG_WORDS.search(code) or _relation_names().search(code))


def _maybe_catalog(sql: str) -> bool:
    """A cheap first look: most data queries hold none of these words."""
    lowered = sql.lower()
    return any(
        word in lowered
        for word in (
            "information_schema",
            "version",
            "current_",
            "session_user",
            "format_type",
            "description",
            "to_reg",
            "privilege",
            "::reg",
            "::oid",
            "array_upper",
            "quote_ident",
            "txid_current",
            "has_",
        )
    )


class CatalogQueries:
    """Answers the catalog queries of one PostgreSQL session."""

    def __init__(
        self,
        service: ServeService,
        principal: Principal,
        database: str,
        user: str,
        client: str | None = None,
    ) -> None:
        """For `principal`, signed in as `user` to database `database` of `service` from the
        address `client` (which the query log records)."""
        self.service = service
        self.principal = principal
        self.database = database
        self.user = user
        self.client = client

    def run(
        self,
        sql: str,
        params: Sequence[Parameter],
        *,
        cancel: threading.Event | None = None,
    ) -> pa.Table:
        """Answer the catalog query `sql` (PostgreSQL SQL) with `params` bound to its `$n`
        placeholders (none at all: each is NULL, to describe the statement), within the
        server's time limit and row cap, and record it in the query log.

        Returns:
            The rows, with the column names PostgreSQL would give them.

        Raises:
            UsageError: the query is not one the catalog answers (it writes, reads tables,
                uses a function Headwater does not answer), it fails, runs out of time, or
                the server is busy.
        """
        from headwater.catalog.query_log import FAILED, REFUSED, TIMED_OUT, QueryRecord
        from headwater.catalog.store import now_iso
        from headwater.query.policy import QueryRejected
        from headwater.query.readonly import QueryCancelled
        from headwater.serve.pgwire.catalog_db import CatalogQueryTimeout
        from headwater.serve.service import ServerBusy

        started = time.monotonic()
        record = QueryRecord(
            user=self.principal.name,
            interface="postgres",
            client=self.client,
            statement=sql,
            at=now_iso(),
        )
        try:
            with self.service.slot(started, cancel):
                table = self._run(sql, params, cancel)
        except UsageError as exc:
            outcome = (
                TIMED_OUT
                if isinstance(exc, CatalogQueryTimeout | QueryCancelled)
                else REFUSED
                if isinstance(exc, QueryRejected | ServerBusy)
                else FAILED
            )
            self.service.record(
                dataclasses.replace(
                    record,
                    outcome=outcome,
                    error=exc.message,
                    duration_ms=round((time.monotonic() - started) * 1000, 3),
                )
            )
            raise
        self.service.record(
            dataclasses.replace(
                record,
                rows=table.num_rows,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
        )
        return table

    def _run(
        self, sql: str, params: Sequence[Parameter], cancel: threading.Event | None
    ) -> pa.Table:
        from headwater.serve.pgwire.catalog_sql import Resolver, translate

        limits = self.service.limits
        timeout = float(limits.timeout)
        # listing the principal's tables has a time limit of its own; the query's starts
        # once its catalog is there
        database = _catalogs.get(self, timeout)
        resolver = Resolver(database.relation_oid, database.type_oid)
        translated = translate(sql, params, resolver)
        result = database.query(
            translated, timeout_s=timeout, max_rows=limits.max_rows, cancel=cancel
        )
        return postgres_columns(result.table)


def postgres_columns(table: pa.Table) -> pa.Table:
    """`table` with types the protocol sends as PostgreSQL's: a column of NULLs is text (as
    PostgreSQL types an untyped NULL), an extension type other than JSON and UUID its
    storage, a large or view string a string."""
    import pyarrow as pa

    fields = []
    changed = False
    for field in table.schema:
        kind = field.type
        if pa.types.is_null(kind):
            kind = pa.string()
        elif isinstance(kind, pa.ExtensionType) and kind.extension_name not in _SENT_AS_IS:
            kind = kind.storage_type
        elif pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        changed = changed or kind != field.type
        fields.append(pa.field(field.name, kind))
    if not changed:
        return table
    columns = [
        column
        if column.type == field.type
        else column.cast(field.type)
        if not isinstance(column.type, pa.ExtensionType)
        else pa.chunked_array([c.storage for c in column.chunks], field.type)
        for column, field in zip(table.columns, fields, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


class _Catalogs:
    """The catalog databases of each server's sessions, one per principal, signed-in name
    and database (a server's go when the server goes). Once `CATALOG_TTL_S` old, the
    principal's tables are listed again, and the database is built again if they changed
    (a new table, column or description)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_service: weakref.WeakKeyDictionary[
            ServeService, OrderedDict[tuple[object, ...], _Built]
        ] = weakref.WeakKeyDictionary()
        self._building: dict[tuple[object, ...], threading.Lock] = {}

    def get(self, queries: CatalogQueries, timeout_s: float) -> CatalogDatabase:
        """The catalog database of `queries`' session, listing the tables again (within
        `timeout_s`) when it is due."""
        key = (queries.principal, queries.database, queries.user)
        with self._lock:
            built = self._by_service.setdefault(queries.service, OrderedDict())
            found = _fresh(built, key)
            if found is not None:
                return found
            building = self._building.setdefault((id(built), *key), threading.Lock())
        with building:
            with self._lock:
                found = _fresh(built, key)
                previous = built.get(key)
            if found is None:
                database = _build(queries, previous, timeout_s)
                with self._lock:
                    built[key] = database
                    built.move_to_end(key)
                    while len(built) > CACHED_CATALOGS:
                        built.popitem(last=False)
                found = database.database
        with self._lock:
            self._building.pop((id(built), *key), None)
        return found


def _fresh(
    built: OrderedDict[tuple[object, ...], _Built], key: tuple[object, ...]
) -> CatalogDatabase | None:
    found = built.get(key)
    if found is None or time.monotonic() - found.checked >= CATALOG_TTL_S:
        return None
    built.move_to_end(key)
    return found.database


@dataclasses.dataclass
class _Built:
    database: CatalogDatabase
    tables: tuple[object, ...]
    """What it describes (the principal's `ServedTable`s)."""
    checked: float
    """When its tables were last listed (time.monotonic)."""


def _build(queries: CatalogQueries, previous: _Built | None, timeout_s: float) -> _Built:
    from headwater.serve.pgwire.catalog_db import CatalogDatabase
    from headwater.serve.pgwire.catalog_rows import Session, build_catalog
    from headwater.serve.pgwire.catalog_source import metric_tables, served_tables

    served = served_tables(queries.service.project, queries.principal, timeout_s)
    served += metric_tables(queries.service.metrics.describe(queries.principal))
    if previous is not None and previous.tables == served:
        return _Built(previous.database, served, time.monotonic())
    session = Session(
        database=queries.database,
        user=queries.user,
        version=VERSION,
        server_version=SERVER_VERSION,
        statement_timeout_ms=int(float(queries.service.limits.timeout) * 1000),
    )
    database = CatalogDatabase(build_catalog(served, session))
    return _Built(database, served, time.monotonic())


_catalogs = _Catalogs()
