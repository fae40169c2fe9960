"""One signed-in PostgreSQL session: its prepared statements, portals and cursors, and how a
statement is answered.

Every query goes through `ServeService.run_sql` as the session's principal (so roles, limits
and the query log apply); the queries BI tools send about the catalog go to
`pgwire.catalog`; session commands (SET, BEGIN, FETCH...) are answered by `commands`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.serve.pgwire import commands, cursors, statements
from headwater.serve.pgwire.state import (
    FAILED,
    IDLE,
    CommandError,
    Outcome,
    SessionState,
    truncation_notice,
)
from headwater.serve.pgwire.statements import Statement
from headwater.serve.pgwire.types import (
    BOOL,
    DATE,
    FLOAT4,
    FLOAT8,
    INT2,
    INT4,
    INT8,
    INTERVAL,
    NUMERIC,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    UUID,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.orchestrate.principals import Principal
    from headwater.query.parameters import Parameter
    from headwater.serve.pgwire.catalog import CatalogQueries
    from headwater.serve.service import ServeService

_STARTUP_ONLY = {"user", "database", "options", "replication"}


@dataclass
class Prepared:
    """A statement a Parse message prepared."""

    statement: Statement | None
    """None for an empty query."""
    oids: list[int]
    """The type OID of each parameter the client declared (0: unspecified)."""
    schema: pa.Schema | None = None
    described: bool = False

    @property
    def declared_oids(self) -> list[int]:
        """One OID per parameter of the statement, 0 where the client left it unspecified."""
        count = max(len(self.oids), self.statement.parameters if self.statement else 0)
        return [*self.oids, *([0] * (count - len(self.oids)))]

    @property
    def parameter_oids(self) -> list[int]:
        """One OID per parameter as a ParameterDescription states them (unspecified: text)."""
        return [oid or TEXT for oid in self.declared_oids]


@dataclass
class Portal:
    """A prepared statement bound to parameters and result formats."""

    prepared: Prepared
    params: list[Parameter]
    formats: list[int]
    outcome: Outcome | None = None


class SignedOut(Exception):
    """The session's user was revoked (or removed) after it signed in: the connection ends."""


@dataclass
class Session:
    """The state of one connection after it signed in."""

    service: ServeService
    principal: Principal
    user: str
    database: str
    client: str | None
    state: SessionState = field(default_factory=SessionState)
    statements: dict[str, Prepared] = field(default_factory=dict)
    portals: dict[str, Portal] = field(default_factory=dict)
    process_id: int = field(default_factory=lambda: secrets.randbelow(2**31 - 1) + 1)
    secret_key: int = field(default_factory=lambda: secrets.randbits(32))
    _active: threading.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _catalog: CatalogQueries | None = None

    def reader(self) -> Principal:
        """The session's principal as the catalog has it now (its roles read again at most
        every few seconds), so that a revoked user or a changed role reaches connections that
        stay open, as BI tools' pools do.

        Raises:
            SignedOut: the user is no longer active.
        """
        if not self.service.auth:
            return self.principal
        found = self.service.by_name(self.user)
        if found is None:
            raise SignedOut()
        self.principal = found
        return found

    def configure(self, startup: dict[str, str]) -> None:
        """Apply the settings of the startup message (application_name, TimeZone, and
        `-c name=value` in options); one this server cannot honour (an encoding) is left
        at its default."""
        self.state.settings["session_authorization"] = self.user
        settings = {k: v for k, v in startup.items() if k not in _STARTUP_ONLY}
        words = startup.get("options", "").replace("-c ", "--").split()
        for word in words:
            name, equals, value = word.lstrip("-").partition("=")
            if equals:
                settings[name] = value
        for name, value in settings.items():
            if name.startswith("_pq_."):
                continue
            try:
                commands.assign(self.state, name.lower().replace("-", "_"), value)
            except CommandError:
                continue
        self.state.defaults = dict(self.state.settings)

    # -- cancelling ---------------------------------------------------------------------------

    def begin(self) -> threading.Event:
        """Start answering a message: a fresh cancel event a CancelRequest may set."""
        with self._lock:
            if self._active is None:
                self._active = threading.Event()
            return self._active

    def idle(self) -> None:
        """The session is waiting for the client again: a cancel request does nothing now."""
        with self._lock:
            self._active = None

    def cancel(self) -> None:
        """Stop what the session runs or sends now (a CancelRequest)."""
        with self._lock:
            if self._active is not None:
                self._active.set()

    @property
    def cancelled(self) -> bool:
        """Whether a cancel request arrived for what runs now."""
        active = self._active
        return active is not None and active.is_set()

    # -- statements ---------------------------------------------------------------------------

    def execute(self, statement: Statement | None, params: Sequence[Parameter] = ()) -> Outcome:
        """Answer one statement.

        Raises:
            UsageError: it fails or is refused (the SQLSTATE is derived from the error).
        """
        if statement is None:
            return Outcome("", empty=True)
        state = self.state
        if state.transaction == FAILED and not commands.ends_transaction(statement):
            raise CommandError(
                "current transaction is aborted, commands ignored until end of transaction block",
                "25P02",
                hint="ROLLBACK ends it",
            )
        keyword = statement.keyword
        if keyword == "DECLARE":
            declared = cursors.parse_declare(statement)
            inner = statements.split(declared.query)
            if len(inner) != 1:
                raise CommandError("a cursor is declared for one query", "42601")
            table, truncated = self._query(inner[0], params)
            return cursors.declare(state, declared, table, truncated)
        if keyword == "DEALLOCATE":
            return self._deallocate(statement)
        if keyword == "DISCARD":
            self.statements.clear()
            self.portals.clear()
        if commands.is_command(statement):
            return commands.run_command(state, statement)
        number = commands.keepalive(statement)
        if number is not None:
            return Outcome("SELECT 1", _keepalive_table(number))
        table, truncated = self._query(statement, params)
        notices = [truncation_notice(table.num_rows)] if truncated else []
        return Outcome(f"SELECT {table.num_rows}", table, notices=notices)

    def _deallocate(self, statement: Statement) -> Outcome:
        index = 2 if statement.word(1) == "PREPARE" else 1
        if statement.word(index) == "ALL":
            self.statements = {k: v for k, v in self.statements.items() if not k}
            return Outcome("DEALLOCATE ALL")
        name = statement.name(index)
        if self.statements.pop(name, None) is None:
            raise CommandError(f'prepared statement "{name}" does not exist', "26000")
        return Outcome("DEALLOCATE")

    def _query(self, statement: Statement, params: Sequence[Parameter]) -> tuple[pa.Table, bool]:
        """Run a query: a catalog query of a BI tool, or SQL through `run_sql`."""
        catalog = self._catalog_for(statement.text)
        if catalog is not None:
            return catalog.run(statement.text, list(params), cancel=self.begin()), False
        from headwater.serve.service import Caller

        answered = self._metric(statement, params)
        if answered is not None:
            return answered
        result = self.service.run_sql(
            Caller(self.reader(), "postgres", self.client),
            statement.text,
            params=list(params) or None,
            cancel=self.begin(),
        )
        return result.table, result.truncated

    def _metric(
        self, statement: Statement, params: Sequence[Parameter], max_rows: int | None = None
    ) -> tuple[pa.Table, bool] | None:
        """The answer of a query over the `metrics` schema (None for any other query)."""
        from headwater.serve import metric_sql
        from headwater.serve.service import Caller

        if not metric_sql.reads_metrics(statement.text):
            return None
        select = metric_sql.metric_select(statement.text)
        if select is None:
            return None
        if params:
            raise CommandError(
                "a query over the metrics schema takes no parameters",
                "0A000",
                hint="write the values into its WHERE",
            )
        caller = Caller(self.reader(), "postgres", self.client)
        answer = self.service.metrics.answer(caller, select.request, max_rows)
        return metric_sql.shaped(answer.result.table, select), answer.result.truncated

    def _catalog_for(self, sql: str) -> CatalogQueries | None:
        """The catalog emulation when `sql` is one of its queries, else None."""
        from headwater.serve.pgwire import catalog

        if not catalog.is_catalog_query(sql):
            return None
        principal = self.reader()
        if self._catalog is None or self._catalog.principal != principal:
            self._catalog = catalog.CatalogQueries(
                self.service, principal, self.database, self.user, self.client
            )
        return self._catalog

    # -- describing ---------------------------------------------------------------------------

    def describe_statement(self, prepared: Prepared) -> pa.Schema | None:
        """The columns a prepared statement returns (None: no rows), found without running
        the query: a query runs as `SELECT * FROM (<query>) LIMIT 0` with placeholder values
        of the declared types."""
        if prepared.described:
            return prepared.schema
        statement = prepared.statement
        schema: pa.Schema | None = None
        if statement is None:
            schema = None
        elif statement.keyword == "SHOW" and commands.is_command(statement):
            outcome = commands.run_command(self.state, statement)
            schema = outcome.table.schema if outcome.table is not None else None
        elif statement.keyword in ("FETCH", "MOVE"):
            name = statement.name(len(statement.words) - 1)
            cursor = self.state.cursors.get(name)
            schema = cursor.table.schema if cursor and statement.keyword == "FETCH" else None
        elif commands.is_command(statement) or statement.keyword in ("DECLARE", "DEALLOCATE"):
            schema = None
        elif commands.keepalive(statement) is not None:
            schema = _keepalive_table(1).schema
        else:
            schema = self._describe_query(statement, prepared.parameter_oids)
        prepared.schema, prepared.described = schema, True
        return schema

    def _describe_query(self, statement: Statement, oids: list[int]) -> pa.Schema:
        params = [_placeholder(oid) for oid in oids]
        catalog = self._catalog_for(statement.text)
        if catalog is not None:
            schema: pa.Schema = catalog.run(statement.text, params).schema
            return schema
        from headwater.serve.service import Caller

        if not oids:
            answered = self._metric(statement, (), max_rows=0)
            if answered is not None:
                return answered[0].schema
        sql = statement.text
        if statement.keyword in ("SELECT", "WITH", "VALUES", "FROM", "TABLE", "("):
            sql = f"SELECT * FROM (\n{sql}\n) AS hw_describe LIMIT 0"
        result = self.service.run_sql(
            Caller(self.reader(), "postgres", self.client),
            sql,
            params=params or None,
            max_rows=0,
            cancel=self.begin(),
        )
        return result.table.schema

    def run_portal(self, portal: Portal) -> Outcome:
        """The outcome of a portal, running its statement the first time.

        Raises:
            UsageError: the statement fails.
        """
        if portal.outcome is None:
            portal.outcome = self.execute(portal.prepared.statement, portal.params)
        return portal.outcome

    def end_of_transaction(self) -> None:
        """Drop the portals of a finished (implicit or explicit) transaction."""
        if self.state.transaction == IDLE:
            self.portals.clear()


def _keepalive_table(number: int) -> pa.Table:
    import pyarrow as pa

    return pa.table({"?column?": pa.array([number], pa.int32())})


_PLACEHOLDERS = {
    BOOL: b"f",
    DATE: b"2000-01-01",
    TIME: b"00:00:00",
    TIMESTAMP: b"2000-01-01 00:00:00",
    TIMESTAMPTZ: b"2000-01-01 00:00:00+00",
    INTERVAL: b"0",
    UUID: b"00000000-0000-0000-0000-000000000000",
}


def _placeholder(oid: int) -> Parameter:
    """A value of type `oid` to describe a query with (its value does not matter under
    LIMIT 0, its type does); an unknown type is NULL."""
    from headwater.serve.pgwire.params import parameter

    if oid in (INT2, INT4, INT8, FLOAT4, FLOAT8, NUMERIC):
        return parameter(oid, b"0", binary=False)
    if oid in _PLACEHOLDERS:
        return parameter(oid, _PLACEHOLDERS[oid], binary=False)
    return None
