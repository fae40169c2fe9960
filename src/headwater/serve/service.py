"""What both faces of `headwater serve` share: signing in, the limits, and running a query as
a principal with a record of it in the catalog.

The HTTP API and the PostgreSQL protocol call the same `ServeService`, so a role, a limit or
the query log cannot differ between them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.catalog.access import TOKEN_PREFIX
from headwater.catalog.query_log import FAILED, REFUSED, TIMED_OUT, QueryRecord, record_queries
from headwater.catalog.store import now_iso
from headwater.errors import UsageError, first_line
from headwater.orchestrate.principals import ANONYMOUS_READS_ALL, Principal, principal_of

if TYPE_CHECKING:
    from headwater.catalog.access import ScramVerifier, UserStore
    from headwater.governance.classification import Classification
    from headwater.governance.masking import Masking
    from headwater.lineage.graph import ColumnGraph
    from headwater.project.definition import ProjectDefinition
    from headwater.project.serving import ServeConfig, ServeLimits
    from headwater.query.parameters import Parameter
    from headwater.query.readonly import QueryResult
    from headwater.serve.cache import ServingCache
    from headwater.ui.pages import Workspace
    from headwater.workspace import Project

_LOG = logging.getLogger(__name__)
PASSWORD_CACHE_S = 60.0
"""A password checked over HTTP is trusted this long (by its hash, in memory), so that a client
sending Basic credentials on every request does not pay the SCRAM key derivation each time;
the user must still be active with the same password (`CREDENTIALS_CACHE_S`)."""
CREDENTIALS_CACHE_S = 2.0
"""What the catalog says of a token or a user (active, roles, password verifier) is trusted
this long, so that a request does not look it up in the catalog each time: a revoked token or
user, a new password or new roles take effect within this many seconds."""


class ServerBusy(UsageError):
    """Every query slot stayed taken for the whole time limit."""

    def __init__(self, limit: int, waited_s: float) -> None:
        super().__init__(
            f"the server is busy: {limit} queries are running and none finished in {waited_s:g} s",
            hint="try again shortly, or raise serve.limits.max_concurrent",
        )


@dataclass(frozen=True)
class Caller:
    """Who sent a query, and how."""

    principal: Principal
    interface: str
    """`http` or `postgres`."""
    client: str | None = None
    """The client's address."""


class ServeService:
    """Signing in, limits and the query log of one server over one project."""

    def __init__(self, workspace: Workspace, config: ServeConfig | None = None) -> None:
        """Serve the project of `workspace` with `config` (default: the project's `serve:`)."""
        self.workspace = workspace
        self.config = config or workspace.project.definition.config.serve
        self._slots = threading.BoundedSemaphore(self.limits.max_concurrent)
        self._principals: dict[
            tuple[int, str, tuple[str, ...]], tuple[ProjectDefinition, Principal]
        ] = {}
        self._passwords: dict[tuple[str, str, bytes], float] = {}
        self._tokens: dict[str, tuple[float, tuple[str, tuple[str, ...]]]] = {}
        self._credentials: dict[
            str, tuple[float, tuple[tuple[str, ...], ScramVerifier | None] | None]
        ] = {}
        self._lock = threading.Lock()
        self._last_good: Project | None = None
        self._broken: Project | None = None
        self._log = _QueryLogWriter(self)
        self._classification: tuple[ColumnGraph, Classification] | None = None
        self._maskings: dict[Principal, _Made] = {}
        from headwater.serve.metrics import MetricAnswers

        self.metrics = MetricAnswers(self)
        """Metric queries, and their cache."""
        self.cache: ServingCache | None = None
        """The serving cache, when `serve.tables` caches a table: it starts loading them in
        the background now (reads go to the Delta tables until each is loaded)."""
        if any(t.cache for t in self.config.tables.values()):
            from headwater.serve.cache import ServingCache

            self.cache = ServingCache(self)
            self.cache.start()

    # -- the project -------------------------------------------------------------------------

    @property
    def project(self) -> Project:
        """The project, reloaded when its files changed; while a change leaves them broken
        (a half-saved `headwater.yml`), the last project that loaded, with a warning once."""
        from headwater.errors import HeadwaterError

        try:
            project = self.workspace.fresh()
            if project is self._last_good:
                return project
            project.definition  # noqa: B018 -- loads it, or says what is broken
        except HeadwaterError as exc:
            project = self.workspace.project
            if self._last_good is None:
                raise
            if self._broken is not project:
                self._broken = project
                _LOG.warning("the project's files are broken, serving them as they were: %s", exc)
            return self._last_good
        self._last_good = project
        self._record_grants(project)
        return project

    @staticmethod
    def _record_grants(project: Project) -> None:
        """Put the grants of a newly loaded project in the audit trail (when they changed),
        before any read made under them."""
        from headwater.catalog.audit import operator, record_grants
        from headwater.orchestrate.principals import grants_document

        try:
            record_grants(project.catalog, operator(), grants_document(project.definition))
        except Exception:  # the trail must not stop the server; say so loudly
            _LOG.exception("could not record the grants in effect in the audit trail")

    def with_columns(self, records: list[QueryRecord]) -> list[QueryRecord]:
        """`records` with the columns each read, by table (worked out here, on the query log's
        thread, rather than while the caller waits for its answer)."""
        from headwater.errors import HeadwaterError
        from headwater.lineage.columns_read import columns_read_or_none

        if not any(r.tables and r.columns is None for r in records):
            return records
        try:
            graph = self.workspace.column_graph()
        except HeadwaterError:
            return records
        known = {key: info.columns for key, info in graph.assets.items()}
        return [
            dataclasses.replace(r, columns=columns_read_or_none(r.statement, known, r.tables))
            if r.tables and r.columns is None
            else r
            for r in records
        ]

    @property
    def limits(self) -> ServeLimits:
        """The limits every query obeys."""
        return self.config.limits

    @property
    def users(self) -> UserStore:
        """The users in the project's catalog."""
        from headwater.catalog.access import UserStore

        return UserStore(self.project.catalog)

    def close(self) -> None:
        """Stop the serving cache, write the queries not yet recorded and stop the query
        log's writer."""
        if self.cache is not None:
            self.cache.close()
        self._log.close()

    def flush_log(self) -> None:
        """Wait until every query answered so far is in the query log."""
        self._log.flush()

    # -- signing in --------------------------------------------------------------------------

    @property
    def auth(self) -> bool:
        """Whether every request must sign in."""
        return self.config.auth

    def anonymous(self) -> Principal | None:
        """The principal of a request that did not sign in: None (denied) when the server
        requires signing in."""
        return None if self.auth else ANONYMOUS_READS_ALL

    def by_token(self, token: str) -> Principal | None:
        """The principal of an API token, or None when it is not a valid token."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(digest)
        found: tuple[str, tuple[str, ...]] | None
        if cached is not None and now - cached[0] < CREDENTIALS_CACHE_S:
            found = cached[1]
        else:
            found = self.users.by_token(token)
            if found is not None:  # unknown tokens are not kept: anyone can send many
                with self._lock:
                    if len(self._tokens) > 10_000:
                        self._tokens.clear()
                    self._tokens[digest] = (now, found)
        if found is None:
            return None
        return self.principal(found[0], found[1])

    def _user_credentials(self, user: str) -> tuple[tuple[str, ...], ScramVerifier | None] | None:
        """`UserStore.credentials`, trusted for `CREDENTIALS_CACHE_S`."""
        now = time.monotonic()
        with self._lock:
            cached = self._credentials.get(user)
        if cached is not None and now - cached[0] < CREDENTIALS_CACHE_S:
            return cached[1]
        found = self.users.credentials(user)
        with self._lock:
            if len(self._credentials) > 10_000:
                self._credentials.clear()
            self._credentials[user] = (now, found)
        return found

    def by_password(self, user: str, password: str) -> Principal | None:
        """The principal of `user` signing in with `password` (or with one of its API tokens
        in place of the password), or None when they do not match an active user."""
        if password.startswith(TOKEN_PREFIX):
            principal = self.by_token(password)
            return principal if principal is not None and principal.name == user else None
        found = self._user_credentials(user)
        if found is None:
            return None
        roles, verifier = found
        if verifier is None:
            return None
        # the verifier is part of the key: a new password makes the old one unknown at once
        key = (user, hashlib.sha256(password.encode()).hexdigest(), verifier.stored_key)
        now = time.monotonic()
        with self._lock:
            checked = self._passwords.get(key)
        if checked is None or now - checked >= PASSWORD_CACHE_S:
            if not verifier.matches(password):
                return None
            with self._lock:
                if len(self._passwords) > 10_000:
                    self._passwords.clear()
                self._passwords[key] = now
        return self.principal(user, roles)

    def verifier(self, user: str) -> ScramVerifier | None:
        """The SCRAM verifier of an active user with a password, for the PostgreSQL
        protocol's exchange; None when there is none."""
        found = self.users.credentials(user)
        return None if found is None else found[1]

    def by_name(self, user: str) -> Principal | None:
        """The principal of the active user `user` (once it proved who it is), or None when
        it is not an active user (revoked, or never added); its roles as they are now, read
        again at most every `CREDENTIALS_CACHE_S`."""
        found = self._user_credentials(user)
        return None if found is None else self.principal(user, found[0])

    def principal(self, user: str, roles: tuple[str, ...]) -> Principal:
        """The principal of `user` with `roles` in the project as it is now."""
        definition = self.project.definition
        key = (id(definition), user, roles)
        with self._lock:
            cached = self._principals.get(key)
        # the definition itself is kept with it: a freed definition's id can be reused
        if cached is not None and cached[0] is definition:
            return cached[1]
        found = principal_of(definition, user, roles)
        with self._lock:
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[key] = (definition, found)
        return found

    # -- queries -----------------------------------------------------------------------------

    def run_sql(
        self,
        caller: Caller,
        sql: str,
        *,
        params: Sequence[Parameter] | None = None,
        as_of: str | int | None = None,
        max_rows: int | None = None,
        cancel: threading.Event | None = None,
    ) -> QueryResult:
        """Run one read-only query for `caller`, within the server's limits, and record it.

        A query whose every table is in the serving cache (fresh, and readable by the
        caller), with no `as_of`, runs there, after the same checks; any other runs on the
        read-only path (`headwater.query.readonly.run_readonly`).

        Args:
            caller: who asks; only the tables its principal may read exist for the query.
            sql: one SELECT (or DESCRIBE, SHOW TABLES, information_schema) in DuckDB SQL.
            params: values of the query's `$n` or `?` placeholders.
            as_of: a version or timestamp to read every table at.
            max_rows: fewer rows than the server's cap, if the caller wants.
            cancel: set from another thread to stop the query.

        Returns:
            The result, capped at the row limit (`truncated` says so).

        Raises:
            UsageError: the query is refused, fails, runs out of time or the server is busy.
        """
        from headwater.query.readonly import run_readonly

        principal = caller.principal
        visible = None if principal.everything else principal.can_read
        masking = self.masking(principal)

        def execute(deadline: float, cap: int) -> QueryResult:
            timeout_s = max(0.001, deadline - time.monotonic())
            if self.cache is not None:
                cached = self.cache.run_sql(
                    principal,
                    sql,
                    params=params,
                    as_of=as_of,
                    max_rows=cap,
                    deadline=deadline,
                    limit_s=float(self.limits.timeout),
                    cancel=cancel,
                    masking=masking,
                )
                if cached is not None:
                    return cached
                timeout_s = max(0.001, deadline - time.monotonic())
            result = run_readonly(
                self.project,
                sql,
                timeout_s=timeout_s,
                max_rows=cap,
                as_of=as_of,
                visible=visible,
                params=params,
                cancel=cancel,
                rewrite=masking,
            )
            if masking is not None:
                result = dataclasses.replace(result, masked=tuple(sorted(masking.applied)))
            return result

        return self.run_logged(caller, sql, execute, max_rows=max_rows, cancel=cancel)

    def masking(self, principal: Principal) -> Masking | None:
        """The masking and row filters `principal`'s next read goes through (its own record
        of what it hid; the policies worked out for the principal are kept); None when it
        reads everything raw and unfiltered."""
        if not principal.masked:
            return None
        from headwater.errors import HeadwaterError
        from headwater.governance.classification import classify
        from headwater.governance.masking import Masking

        project = self.project
        definition = project.definition
        with self._lock:
            made = self._maskings.get(principal)
        try:
            graph = self.workspace.column_graph()
        except HeadwaterError:
            # the files are broken (a half-saved headwater.yml): serve as the project last was
            if made is not None and made.definition is definition:
                return made.masking.fresh()
            graph = project.column_graph()
        if made is None or made.definition is not definition or made.graph is not graph:
            with self._lock:
                cached = self._classification
            if cached is None or cached[0] is not graph:
                cached = (graph, classify(definition, graph))
            known = {key: info.columns for key, info in graph.assets.items()}
            masking = Masking(definition, cached[1], principal.grants(), known=known)
            made = _Made(definition, graph, masking)
            with self._lock:
                self._classification = cached
                if len(self._maskings) > 10_000:
                    self._maskings.clear()
                self._maskings[principal] = made
        return made.masking.fresh()

    def run_logged(
        self,
        caller: Caller,
        statement: str,
        execute: Callable[[float, int], QueryResult],
        *,
        max_rows: int | None = None,
        cancel: threading.Event | None = None,
    ) -> QueryResult:
        """Run one read within the server's limits and record it in the query log.

        `execute(deadline, cap)` does the read: it must be done by `deadline` (a
        `time.monotonic()` value: the time limit counts from this call, the wait for a query
        slot included) and return at most `cap` rows (the server's row cap, or `max_rows`
        when lower). The log records `statement` (the SQL the read means), the caller, the
        tables it read, the rows and the duration, or how it failed.

        Raises:
            ServerBusy: no query slot came free within the time limit.
            UsageError: whatever `execute` raises (a refusal, a failure, a timeout).
        """
        from headwater.query.policy import QueryRejected
        from headwater.query.readonly import QueryCancelled, QueryTimeout

        limits = self.limits
        cap = limits.max_rows if max_rows is None else max(0, min(max_rows, limits.max_rows))
        started = time.monotonic()
        record = QueryRecord(
            user=caller.principal.name,
            interface=caller.interface,
            client=caller.client,
            statement=statement if isinstance(statement, str) else repr(statement),
            at=now_iso(),
        )
        try:
            with self.slot(started, cancel):
                result = execute(started + float(limits.timeout), cap)
        except QueryTimeout:
            # the read was given what was left of the limit: say the limit, not that
            timeout = QueryTimeout(float(limits.timeout), time.monotonic() - started)
            self._log.put(self._finished(record, started, TIMED_OUT, timeout))
            raise timeout from None
        except QueryCancelled as exc:
            self._log.put(self._finished(record, started, TIMED_OUT, exc))
            raise
        except UsageError as exc:
            outcome = REFUSED if isinstance(exc, ServerBusy | QueryRejected) else FAILED
            self._log.put(self._finished(record, started, outcome, exc))
            raise
        self._log.put(
            dataclasses.replace(
                record,
                tables=result.tables,
                masked=result.masked,
                rows=result.table.num_rows,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
        )
        return result

    def record(self, record: QueryRecord) -> None:
        """Add a query answered without `run_sql` (a table read, a catalog query of a BI
        tool) to the query log."""
        self._log.put(record)

    def slot(self, started: float | None = None, cancel: threading.Event | None = None) -> _Slot:
        """A context that holds one of the server's query slots, waiting at most the time
        limit (counted from `started`) for one, and no longer once `cancel` is set.

        Raises:
            ServerBusy: no slot came free in time.
            QueryCancelled: `cancel` was set while waiting.
        """
        return _Slot(self, time.monotonic() if started is None else started, cancel)

    @staticmethod
    def _finished(
        record: QueryRecord, started: float, outcome: str, error: Exception
    ) -> QueryRecord:
        message = error.message if isinstance(error, UsageError) else first_line(error)
        return dataclasses.replace(
            record,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
            outcome=outcome,
            error=message,
        )


class _Slot:
    POLL_S = 0.05
    """How often a wait for a slot looks at its cancel event."""

    def __init__(
        self, service: ServeService, started: float, cancel: threading.Event | None
    ) -> None:
        self._service = service
        self._started = started
        self._cancel = cancel

    def __enter__(self) -> None:
        from headwater.query.readonly import QueryCancelled

        limits = self._service.limits
        deadline = self._started + float(limits.timeout)
        while True:
            left = deadline - time.monotonic()
            if self._cancel is not None and self._cancel.is_set():
                raise QueryCancelled()
            if self._service._slots.acquire(timeout=max(0.0, min(left, self.POLL_S))):
                return
            if left <= self.POLL_S:
                raise ServerBusy(limits.max_concurrent, float(limits.timeout))

    def __exit__(self, *_: object) -> None:
        self._service._slots.release()


class _QueryLogWriter:
    """Writes query records to the catalog on a thread of its own, as many as are waiting in
    one transaction, so that a lookup does not wait for the catalog's commit."""

    BATCH = 500

    def __init__(self, service: ServeService) -> None:
        self._service = service
        self._queue: queue.Queue[QueryRecord | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write, name="headwater-query-log")
        self._thread.daemon = True
        self._closed = threading.Event()
        self._thread.start()

    def put(self, record: QueryRecord) -> None:
        if self._closed.is_set():
            # a connection's thread answering after the server stopped: write it here
            self._record([record])
            return
        self._queue.put(record)

    def flush(self) -> None:
        """Wait until every record put so far is in the catalog."""
        if self._closed.is_set():
            return  # written as they come now
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._closed.set()
        while True:  # what was put between the end marker and now
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, QueryRecord):
                self._record([item])
            elif isinstance(item, threading.Event):
                item.set()

    def _record(self, records: list[QueryRecord]) -> None:
        try:
            records = self._service.with_columns(records)
        except Exception:  # the columns are a detail: the reads are recorded without them
            _LOG.exception("could not work out the columns %d queries read", len(records))
        try:
            record_queries(self._service.project.catalog, records)
        except Exception:  # the log must not stop the server; say so loudly
            _LOG.exception("could not record %d queries in the catalog", len(records))

    def _write(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self.BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [i for i in items if isinstance(i, QueryRecord)]
            if records:
                self._record(records)
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
            if any(i is None for i in items):
                return


@dataclass(frozen=True)
class _Made:
    """A principal's masking, and the project and lineage it was worked out from."""

    definition: ProjectDefinition
    graph: ColumnGraph
    masking: Masking
