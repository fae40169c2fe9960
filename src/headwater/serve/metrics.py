"""Metric queries through `headwater serve`: compiled from the semantic layer, run as the
caller (its roles' tables, masking, row filters, the query log and the audit trail), and
cached.

An answer is cached under the compiled SQL, the reader and the version of every table the
query reads, a view's tables and its SQL included (a view has no version of its own): a new
version of any of them is a new key, so a cached answer is never stale, and one table's new
version invalidates exactly the answers that read it. A reload of the project (a changed
view, grant or masking rule) empties the cache; an answer the serving cache gave (which may
be of an older version) is not kept. A cached answer is still a read: it is recorded
in the query log and the audit trail like any other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.metrics.compile import CompiledQuery, MetricRequest
    from headwater.orchestrate.principals import Principal
    from headwater.project.definition import ProjectDefinition
    from headwater.query.readonly import QueryResult
    from headwater.serve.service import Caller, ServeService
    from headwater.storage.base import TableStore

CACHED_ANSWERS = 256
"""Metric answers kept, least recently used dropped first."""


@dataclass(frozen=True)
class MetricAnswer:
    """A metric query's result, and whether it came from the cache."""

    result: QueryResult
    compiled: CompiledQuery
    cached: bool


class MetricAnswers:
    """The metric queries of one server, and their cache."""

    def __init__(self, service: ServeService) -> None:
        self._service = service
        self._cache: OrderedDict[tuple[Any, ...], QueryResult] = OrderedDict()
        self._lock = threading.Lock()
        self._definition: ProjectDefinition | None = None
        """The project definition the cached answers were worked out under."""

    def describe(self, principal: Principal) -> list[dict[str, Any]]:
        """The metrics `principal` may ask for: those whose every semantic model's table it
        may read."""
        from headwater.metrics.catalog import describe_metrics

        layer = self._service.project.definition.semantic
        return [
            metric
            for metric in describe_metrics(layer)
            if all(principal.can_read_key(layer.models[m].asset) for m in metric["models"])
        ]

    def compile(self, principal: Principal, request: MetricRequest) -> CompiledQuery:
        """The SQL of `request`, once `principal` may read every table it reads.

        Raises:
            UsageError: the query is invalid, or reads a table the principal may not read
                (named only by the metrics and dimensions asked for).
        """
        from headwater.metrics.compile import compile_metrics

        compiled = compile_metrics(self._service.project.definition.semantic, request)
        if not all(principal.can_read_key(asset) for asset in compiled.assets):
            from headwater.query.policy import QueryRejected

            raise QueryRejected(
                "the metrics and dimensions asked for",
                "they read tables your roles do not grant",
                hint="GET /api/metrics lists the metrics you may ask for; an admin can grant "
                "the tables with serve.roles",
            )
        return compiled

    def answer(
        self, caller: Caller, request: MetricRequest, max_rows: int | None = None
    ) -> MetricAnswer:
        """Answer `request` for `caller`, from the cache when the tables it reads are at the
        versions the cached answer read.

        Raises:
            UsageError: as `compile`, or the query fails, runs out of time or the server is
                busy.
        """
        from headwater.catalog.query_log import QueryRecord
        from headwater.catalog.store import now_iso
        from headwater.serve.cache import CachedResult

        service = self._service
        compiled = self.compile(caller.principal, request)
        project = service.project
        with self._lock:
            if self._definition is not project.definition:
                # a reload can change a view, a grant or what masking hides: start afresh
                self._cache.clear()
                self._definition = project.definition
        versions = table_versions(project.definition, project.store, compiled.assets)
        key = (compiled.sql, caller.principal, versions, max_rows)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
        if found is not None:
            service.record(
                QueryRecord(
                    user=caller.principal.name,
                    interface=caller.interface,
                    statement=compiled.sql,
                    tables=found.tables,
                    rows=found.table.num_rows,
                    duration_ms=0.0,
                    client=caller.client,
                    at=now_iso(),
                    masked=found.masked,
                )
            )
            return MetricAnswer(replace(found, elapsed_s=0.0), compiled, cached=True)
        result = service.run_sql(caller, compiled.sql, max_rows=max_rows)
        if isinstance(result, CachedResult):
            # the serving cache may answer from a version older than `versions`: such an
            # answer is not kept under them
            return MetricAnswer(result, compiled, cached=False)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > CACHED_ANSWERS:
                self._cache.popitem(last=False)
        return MetricAnswer(result, compiled, cached=False)


def table_versions(
    definition: ProjectDefinition, store: TableStore, assets: tuple[str, ...]
) -> tuple[tuple[str, str | None], ...]:
    """The version of every table `assets` read: a stored table's own, a view's (or an
    ephemeral model's) tables' through its upstream assets."""
    from headwater.project.kinds import BuildKind
    from headwater.storage.base import TableRef

    found: dict[str, str | None] = {}
    pending = list(assets)
    while pending:
        key = pending.pop()
        if key in found:
            continue
        asset = definition.assets.get(key)
        if asset is not None and asset.materialized in (BuildKind.VIEW, BuildKind.EPHEMERAL):
            found[key] = f"view:{asset.definition_hash}"  # its SQL, as it is now
            pending += list(asset.depends_on)
            continue
        found[key] = store.version_token(TableRef.parse(key))
    return tuple(sorted(found.items()))
