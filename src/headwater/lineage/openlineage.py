"""OpenLineage run events for asset builds, and the transports that deliver them.

Each build of an asset is one OpenLineage run: START when it begins, COMPLETE or FAIL when it
ends. The job is the asset; its parent run is the Headwater run it belongs to. Outputs carry the
schema, column lineage, check results (data-quality assertions) and row count; inputs carry
their schemas. Events follow the OpenLineage 2-0-2 spec and its facet schemas; the tests
validate them against those JSON schemas.

Datasets are named by OpenLineage's conventions: a stored table is `file` + its folder, a view
or ephemeral model (which has no folder) is `headwater://<project>` + its key, and a source's
origin is its database (`postgres://host:port` + `db.schema.table`), files or endpoint.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from headwater.catalog.statuses import CheckStatus
from headwater.project.sql import DIALECT
from headwater.version import __version__

_LOG = logging.getLogger(__name__)

PRODUCER = f"https://github.com/headwater-data/headwater/tree/v{__version__}"
SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"

FACET_SCHEMAS: dict[str, tuple[str, str]] = {
    # facet key: (where its schema lives under the spec, the facet's type name)
    "schema": ("facets/1-0-0", "SchemaDatasetFacet"),
    "columnLineage": ("facets/1-1-0", "ColumnLineageDatasetFacet"),
    "dataQualityAssertions": ("facets/1-0-0", "DataQualityAssertionsDatasetFacet"),
    "dataQualityMetrics": ("facets/1-0-2", "DataQualityMetricsInputDatasetFacet"),
    "outputStatistics": ("1-0-1", "OutputStatisticsOutputDatasetFacet"),
    "documentation": ("1-0-1", "DocumentationDatasetFacet"),
    "version": ("facets/1-0-0", "DatasetVersionDatasetFacet"),
    "ownership": ("facets/1-0-0", "OwnershipDatasetFacet"),
    "errorMessage": ("facets/1-0-0", "ErrorMessageRunFacet"),
    "parent": ("1-0-1", "ParentRunFacet"),
    "processing_engine": ("facets/1-1-0", "ProcessingEngineRunFacet"),
    "sql": ("1-0-1", "SQLJobFacet"),
    "jobType": ("facets/2-0-4", "JobTypeJobFacet"),
    "jobDocumentation": ("facets/1-0-0", "DocumentationJobFacet"),
}
"""The facets Headwater emits and the versions of the spec's facet schemas they follow."""


def facet(key: str, **fields: Any) -> dict[str, Any]:
    """A facet of kind `key` (see FACET_SCHEMAS) with its producer and schema URL."""
    where, name = FACET_SCHEMAS[key]
    return {
        "_producer": PRODUCER,
        "_schemaURL": f"{SPEC}/{where}/{name}.json#/$defs/{name}",
        **{k: v for k, v in fields.items() if v is not None},
    }


def run_uuid(*parts: str) -> str:
    """A stable UUID for a run (OpenLineage wants UUIDs; Headwater's run ids are shorter)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "headwater:" + ":".join(parts)))


def now() -> str:
    """The current time as OpenLineage writes it (ISO 8601 with a zone)."""
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass(frozen=True)
class Dataset:
    """An OpenLineage dataset: where it lives, its name and its facets."""

    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    io_facets: dict[str, Any] = field(default_factory=dict)
    """`inputFacets` of an input, `outputFacets` of an output."""

    def to_json(self, io_key: str) -> dict[str, Any]:
        """The dataset as an event's input (`io_key` "inputFacets") or output."""
        found: dict[str, Any] = {"namespace": self.namespace, "name": self.name}
        if self.facets:
            found["facets"] = self.facets
        if self.io_facets:
            found[io_key] = self.io_facets
        return found


@dataclass
class BuildRun:
    """One asset build as an OpenLineage run."""

    namespace: str
    job: str
    run_id: str
    parent_run_id: str
    parent_job: str
    job_type: str
    sql: str | None = None
    """The model's SQL as written (in `DIALECT`, the dialect of models)."""
    description: str | None = None
    inputs: list[Dataset] = field(default_factory=list)
    outputs: list[Dataset] = field(default_factory=list)

    def event(
        self,
        event_type: str,
        *,
        error: str | None = None,
        event_time: str | None = None,
    ) -> dict[str, Any]:
        """The run event of `event_type` (START, COMPLETE, FAIL)."""
        run_facets: dict[str, Any] = {
            "parent": facet(
                "parent",
                run={"runId": self.parent_run_id},
                job={"namespace": self.namespace, "name": self.parent_job},
            ),
            "processing_engine": facet("processing_engine", version=__version__, name="headwater"),
        }
        if error is not None:
            run_facets["errorMessage"] = facet(
                "errorMessage", message=error, programmingLanguage="python"
            )
        job_facets: dict[str, Any] = {
            "jobType": facet(
                "jobType",
                processingType="BATCH",
                integration="HEADWATER",
                jobType=self.job_type.upper(),
            )
        }
        if self.sql:
            # the model's SQL as written, in the dialect of models whichever engine ran it
            job_facets["sql"] = facet("sql", query=self.sql, dialect=DIALECT)
        if self.description:
            job_facets["documentation"] = facet("jobDocumentation", description=self.description)
        return {
            "eventType": event_type,
            "eventTime": event_time or now(),
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": self.run_id, "facets": run_facets},
            "job": {"namespace": self.namespace, "name": self.job, "facets": job_facets},
            "inputs": [d.to_json("inputFacets") for d in self.inputs],
            "outputs": [d.to_json("outputFacets") for d in self.outputs],
        }


def schema_facet(
    columns: Sequence[str], types: Mapping[str, str], descriptions: Mapping[str, str]
) -> dict[str, Any]:
    """The `schema` facet of a dataset's columns."""
    fields = []
    for name in columns:
        entry = {"name": name, "type": types.get(name), "description": descriptions.get(name)}
        fields.append({k: v for k, v in entry.items() if v})
    return facet("schema", fields=fields)


def column_lineage_facet(
    columns: Mapping[str, Sequence[Any]],
    dataset: Sequence[Any],
    locate: Any,
) -> dict[str, Any]:
    """The `columnLineage` facet: each output column's input fields with their
    transformations, and the dataset-wide (indirect) ones. `locate(asset)` gives an input's
    (namespace, name)."""

    def inputs(sources: Sequence[Any]) -> list[dict[str, Any]]:
        grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for source in sources:
            namespace, name = locate(source.asset)
            grouped.setdefault((namespace, name, source.column), []).append(
                {"type": source.type, "subtype": source.subtype, "masking": False}
            )
        return [
            {"namespace": ns, "name": name, "field": column, "transformations": how}
            for (ns, name, column), how in grouped.items()
        ]

    return facet(
        "columnLineage",
        fields={column: {"inputFields": inputs(sources)} for column, sources in columns.items()},
        dataset=inputs(dataset) or None,
    )


def assertions_facet(results: Sequence[Any]) -> dict[str, Any]:
    """The `dataQualityAssertions` facet of check results (name, pass/fail, column); a warning
    counts as a failed assertion."""
    assertions = []
    for result in results:
        entry = {"assertion": result.name, "success": result.status == CheckStatus.PASS}
        if result.column:
            entry["column"] = result.column
        assertions.append(entry)
    return facet("dataQualityAssertions", assertions=assertions)


def quality_metrics_facet(metrics: Sequence[Any]) -> dict[str, Any]:
    """The `dataQualityMetrics` facet of an audit's metrics: the row count, and per column
    the null count, distinct count, min and max."""
    rows = next((m.value for m in metrics if m.name == "row_count" and m.column is None), None)
    columns: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        if metric.column is None or metric.value is None:
            continue
        entry = columns.setdefault(metric.column, {})
        if metric.name == "null_fraction" and rows is not None:
            entry["nullCount"] = round(metric.value * rows)
        elif metric.name == "distinct_count":
            entry["distinctCount"] = int(metric.value)
        elif metric.name in ("min", "max") and metric.text is None:
            entry[metric.name] = metric.value
    return facet(
        "dataQualityMetrics",
        rowCount=int(rows) if rows is not None else None,
        columnMetrics=columns,
    )


# -- transports ------------------------------------------------------------------------------


class Transport(Protocol):
    """Delivers events somewhere."""

    def send(self, event: Mapping[str, Any]) -> None:
        """Deliver one event; raise when it could not be delivered."""


class FileTransport:
    """Appends each event to a file as one line of JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, event: Mapping[str, Any]) -> None:
        """Append `event` as one line."""
        line = json.dumps(event, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _events_lock(self.path), self.path.open("a", encoding="utf-8") as sink:
                sink.write(line)


@contextmanager
def _events_lock(path: Path) -> Iterator[None]:
    """Hold the lock of the events file `path` across processes (a file of its own beside it,
    so it outlives the events file being replaced by `rewrite_events`)."""
    import fcntl

    with path.with_name(f".{path.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def rewrite_events(path: Path, rewrite: Callable[[str], str]) -> int:
    """Rewrite each line of the events file `path` through `rewrite`, atomically and while no
    `FileTransport` (of any process) appends to it; the number of lines changed."""
    import os

    with _events_lock(path):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        out = [rewrite(line) for line in lines]
        count = sum(new != old for new, old in zip(out, lines, strict=True))
        if count:
            temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            temporary.write_text("".join(out), encoding="utf-8")
            os.replace(temporary, path)
    return count


class HttpTransport:
    """POSTs each event as JSON to an OpenLineage endpoint (as Marquez accepts them)."""

    remote = True
    """Sent from a background thread, so a slow endpoint never holds a build up."""

    def __init__(
        self, url: str, headers: Mapping[str, str], timeout_s: float, attempts: int = 3
    ) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", **headers}
        self.timeout_s = timeout_s
        self.attempts = attempts
        self._client: Any = None

    def send(self, event: Mapping[str, Any]) -> None:
        """POST `event`; transient failures (connection errors, 5xx, 429) are tried again a
        few times with a growing pause."""
        import time

        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        body = json.dumps(event, default=str)
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._client.post(self.url, content=body, headers=self.headers)
            except httpx.TransportError:
                if attempt == self.attempts:
                    raise
            else:
                transient = response.status_code >= 500 or response.status_code == 429
                if not transient or attempt == self.attempts:
                    response.raise_for_status()
                    return
            time.sleep(0.2 * 2 ** (attempt - 1))

    def close(self) -> None:
        """Close the connection to the endpoint."""
        if self._client is not None:
            self._client.close()
            self._client = None


class Emitter:
    """Sends events to every transport; a transport that fails is logged, never raised, so
    lineage never fails a build.

    Local transports (a file) are written at once, in the build's thread. Remote ones (HTTP)
    are fed from a queue by one background thread, in order, so a slow or unreachable endpoint
    costs a build nothing; a remote transport that failed is given a rest of `REST_S` seconds,
    its events meanwhile counted as lost rather than each waiting out the timeouts again.
    """

    REST_S = 30.0
    DRAIN_S = 10.0
    """How long `close` waits at most for queued events to go out."""

    def __init__(self, transports: Sequence[Transport], redact: Any = None) -> None:
        self.transports = list(transports)
        self.redact = redact or (lambda text: text)
        self._local = [t for t in self.transports if not getattr(t, "remote", False)]
        self._remote = [t for t in self.transports if getattr(t, "remote", False)]
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue()
        self._resting: dict[int, float] = {}
        self.lost: dict[str, int] = {}
        """Events not delivered, by transport."""
        self._sender: threading.Thread | None = None
        if self._remote:
            self._sender = threading.Thread(
                target=self._drain, name="headwater-openlineage", daemon=True
            )
            self._sender.start()

    def emit(self, event: Mapping[str, Any]) -> None:
        """Deliver `event` to each transport (the remote ones soon after)."""
        for transport in self._local:
            self._send(transport, event)
        if self._sender is not None:
            self._queue.put(event)

    def close(self, timeout_s: float | None = None) -> int:
        """Wait up to `timeout_s` (`DRAIN_S`) for queued events to be sent; returns how many
        were not delivered (lost, or still queued when the wait ended)."""
        if self._sender is not None:
            self._queue.put(None)
            self._sender.join(self.DRAIN_S if timeout_s is None else timeout_s)
            if self._sender.is_alive():
                waiting = self._queue.qsize()
                self.lost["queued"] = self.lost.get("queued", 0) + waiting
            self._sender = None
        lost = sum(self.lost.values())
        if lost:
            _LOG.warning(
                "%d OpenLineage events were not delivered (%s)",
                lost,
                ", ".join(f"{name}: {n}" for name, n in sorted(self.lost.items())),
            )
        return lost

    def _drain(self) -> None:
        import time

        while (event := self._queue.get()) is not None:
            for transport in self._remote:
                rested = self._resting.get(id(transport))
                if rested is not None and time.monotonic() - rested < self.REST_S:
                    self._lose(transport)
                    continue
                if self._send(transport, event):
                    self._resting.pop(id(transport), None)
                else:
                    self._resting[id(transport)] = time.monotonic()
        for transport in self._remote:
            closing = getattr(transport, "close", None)
            if closing is not None:
                closing()

    def _lose(self, transport: Transport) -> None:
        name = getattr(transport, "url", type(transport).__name__)
        self.lost[name] = self.lost.get(name, 0) + 1

    def _send(self, transport: Transport, event: Mapping[str, Any]) -> bool:
        try:
            transport.send(event)
        except Exception as exc:
            self._lose(transport)
            _LOG.warning(
                "OpenLineage event %s of %s could not be sent through %s: %s",
                event.get("eventType"),
                event.get("job", {}).get("name"),
                type(transport).__name__,
                self.redact(str(exc)),
            )
            return False
        return True
