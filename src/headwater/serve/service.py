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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.catalog.query_log import FAILED, REFUSED, TIMED_OUT, QueryRecord, record_queries
from headwater.catalog.store import now_iso
from headwater.errors import UsageError, first_line
from headwater.serve.principal import ANONYMOUS_READS_ALL, Principal, principal_of

if TYPE_CHECKING:
    from headwater.catalog.access import ScramVerifier, UserStore
    from headwater.project.definition import ProjectDefinition
    from headwater.project.serving import ServeConfig, ServeLimits
    from headwater.query.parameters import Parameter
    from headwater.query.readonly import QueryResult
    from headwater.ui.pages import Workspace
    from headwater.workspace import Project

_LOG = logging.getLogger(__name__)
PASSWORD_CACHE_S = 60.0
"""A password checked over HTTP is trusted this long (by its hash, in memory), so that a client
sending Basic credentials on every request does not pay the SCRAM key derivation each time."""


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
        self._principals: dict[tuple[int, str, tuple[str, ...]], Principal] = {}
        self._passwords: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._log = _QueryLogWriter(self)

    # -- the project -------------------------------------------------------------------------

    @property
    def project(self) -> Project:
        """The project, reloaded when its files changed."""
        return self.workspace.fresh()

    @property
    def limits(self) -> ServeLimits:
        """The limits every query obeys."""
        return self.config.limits

    @property
    def users(self) -> UserStore:
        """The users in the project's catalog."""
        from headwater.catalog.access import UserStore

        return UserStore(self.workspace.project.catalog)

    def close(self) -> None:
        """Write the queries not yet recorded and stop the query log's writer."""
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
        found = self.users.by_token(token)
        if found is None:
            return None
        return self.principal(found[0], found[1])

    def by_password(self, user: str, password: str) -> Principal | None:
        """The principal of `user` signing in with `password` (or with one of its API tokens
        in place of the password), or None when they do not match an active user."""
        if password.startswith("hw_"):
            principal = self.by_token(password)
            return principal if principal is not None and principal.name == user else None
        key = (user, hashlib.sha256(password.encode()).hexdigest())
        now = time.monotonic()
        with self._lock:
            cached = self._passwords.get(key)
        if cached is not None and now - cached[0] < PASSWORD_CACHE_S:
            # a revoked user is seen by the next check: the cache is short and per password
            return self.principal(user, cached[1])
        found = self.users.credentials(user)
        if found is None or found[1] is None or not found[1].matches(password):
            return None
        with self._lock:
            self._passwords[key] = (now, found[0])
        return self.principal(user, found[0])

    def verifier(self, user: str) -> ScramVerifier | None:
        """The SCRAM verifier of an active user with a password, for the PostgreSQL
        protocol's exchange; None when there is none."""
        found = self.users.credentials(user)
        return None if found is None else found[1]

    def by_name(self, user: str) -> Principal | None:
        """The principal of the active user `user` (once it proved who it is), or None."""
        found = self.users.credentials(user)
        return None if found is None else self.principal(user, found[0])

    def principal(self, user: str, roles: tuple[str, ...]) -> Principal:
        """The principal of `user` with `roles` in the project as it is now."""
        definition = self.project.definition
        key = (id(definition), user, roles)
        with self._lock:
            found = self._principals.get(key)
        if found is None:
            found = principal_of(definition, user, roles)
            with self._lock:
                if len(self._principals) > 10_000:
                    self._principals.clear()
                self._principals[key] = found
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
        from headwater.query.readonly import QueryCancelled, QueryTimeout, run_readonly

        limits = self.limits
        cap = limits.max_rows if max_rows is None else max(0, min(max_rows, limits.max_rows))
        started = time.monotonic()
        record = QueryRecord(
            user=caller.principal.name,
            interface=caller.interface,
            client=caller.client,
            statement=sql if isinstance(sql, str) else repr(sql),
            at=now_iso(),
        )
        principal = caller.principal
        try:
            with self.slot(started):
                result = run_readonly(
                    self.project,
                    sql,
                    timeout_s=max(0.001, float(limits.timeout) - (time.monotonic() - started)),
                    max_rows=cap,
                    as_of=as_of,
                    visible=None if principal.everything else principal.can_read,
                    params=params,
                    cancel=cancel,
                )
        except (QueryTimeout, QueryCancelled) as exc:
            self._log.put(self._finished(record, started, TIMED_OUT, exc))
            raise
        except UsageError as exc:
            outcome = REFUSED if isinstance(exc, ServerBusy) else FAILED
            self._log.put(self._finished(record, started, outcome, exc))
            raise
        self._log.put(
            dataclasses.replace(
                record,
                tables=result.tables,
                rows=result.table.num_rows,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
        )
        return result

    def record(self, record: QueryRecord) -> None:
        """Add a query answered without `run_sql` (a table read, a catalog query of a BI
        tool) to the query log."""
        self._log.put(record)

    def slot(self, started: float | None = None) -> _Slot:
        """A context that holds one of the server's query slots, waiting at most the time
        limit (counted from `started`) for one.

        Raises:
            ServerBusy: no slot came free in time.
        """
        return _Slot(self, time.monotonic() if started is None else started)

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

    def definition(self) -> ProjectDefinition:
        """The project's definition as it is now."""
        return self.project.definition


class _Slot:
    def __init__(self, service: ServeService, started: float) -> None:
        self._service = service
        self._started = started

    def __enter__(self) -> None:
        limits = self._service.limits
        wait = max(0.0, float(limits.timeout) - (time.monotonic() - self._started))
        if not self._service._slots.acquire(timeout=wait):
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
        self._thread.start()

    def put(self, record: QueryRecord) -> None:
        self._queue.put(record)

    def flush(self) -> None:
        """Wait until every record put so far is in the catalog."""
        done = threading.Event()
        self._queue.put(done)
        done.wait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

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
                try:
                    record_queries(self._service.workspace.project.catalog, records)
                except Exception:  # the log must not stop the server; say so loudly
                    _LOG.exception("could not record %d queries in the catalog", len(records))
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
            if any(i is None for i in items):
                return
