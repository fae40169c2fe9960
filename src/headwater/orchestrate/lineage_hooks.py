"""What a run tells about lineage: each built model's column lineage, kept in the catalog, and
OpenLineage START / COMPLETE / FAIL events for every asset build.

Nothing here may fail a build: a lineage that cannot be worked out is recorded with the reason,
an event that cannot be delivered is logged.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from headwater.lineage.openlineage import (
    BuildRun,
    Dataset,
    Emitter,
    FileTransport,
    HttpTransport,
    Transport,
    assertions_facet,
    column_lineage_facet,
    facet,
    quality_metrics_facet,
    run_uuid,
    schema_facet,
)
from headwater.project.kinds import AssetKind
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.lineage.graph import AssetColumns, LineageBuilder
    from headwater.project.config import OpenLineageConfig
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore

_LOG = logging.getLogger(__name__)

OPENLINEAGE_URL = "OPENLINEAGE_URL"
"""The environment variable OpenLineage clients read for their HTTP endpoint."""


def transports_of(definition: ProjectDefinition) -> list[Transport]:
    """The transports `headwater.yml` configures, plus HTTP to `OPENLINEAGE_URL` when set."""
    from headwater.build.secrets import resolve
    from headwater.errors import Location
    from headwater.project.config import FileTransport as FileConfig

    config: OpenLineageConfig = definition.config.openlineage
    where = Location(file="headwater.yml", asset="openlineage")
    found: list[Transport] = []
    for position, transport in enumerate(config.transports):
        key = f"openlineage.transports[{position}]"
        if isinstance(transport, FileConfig):
            path = os.path.expanduser(transport.path)
            found.append(FileTransport(definition.root / path))
            continue
        headers = {
            name: resolve(value, where, f"{key}.headers.{name}")
            for name, value in transport.headers.items()
        }
        if transport.api_key:
            headers["Authorization"] = "Bearer " + resolve(
                transport.api_key, where, f"{key}.api_key"
            )
        url = resolve(transport.url, where, f"{key}.url").rstrip("/")
        endpoint = transport.endpoint.strip("/")
        found.append(HttpTransport(f"{url}/{endpoint}", headers, transport.timeout))
    env_url = os.environ.get(OPENLINEAGE_URL)
    if env_url:
        headers = {}
        if os.environ.get("OPENLINEAGE_API_KEY"):
            headers["Authorization"] = "Bearer " + os.environ["OPENLINEAGE_API_KEY"]
        endpoint = os.environ.get("OPENLINEAGE_ENDPOINT", "api/v1/lineage").strip("/")
        found.append(HttpTransport(f"{env_url.rstrip('/')}/{endpoint}", headers, 5.0))
    return found


class RunLineage:
    """Lineage bookkeeping for the builds of one run."""

    def __init__(
        self,
        definition: ProjectDefinition,
        catalog: Catalog,
        store: TableStore,
        qualify: Any,
        run_id: str,
        transports: list[Transport] | None = None,
    ) -> None:
        """`transports`: where events go (None: as the project configures them, see
        `transports_of`)."""
        from headwater.build.secrets import redact
        from headwater.catalog.lineage import stored_lineage
        from headwater.lineage.graph import LineageBuilder

        self.definition = definition
        self.catalog = catalog
        self.store = store
        self.run_id = run_id
        self.namespace = definition.config.openlineage.namespace or definition.config.name
        transports = transports_of(definition) if transports is None else transports
        self.emitter = Emitter(transports, redact) if transports else None
        self._lock = threading.Lock()
        self._builder: LineageBuilder = LineageBuilder(
            definition, qualify, self._schema_of, stored_lineage(catalog)
        )

    def _schema_of(self, key: str) -> list[tuple[str, str]] | None:
        asset = self.definition.assets[key]
        ref = TableRef.of(asset)
        if not asset.is_stored or not self.store.exists(ref):
            return None
        return [(f.name, str(f.type)) for f in self.store.snapshot(ref).schema]

    def close(self) -> None:
        """Wait a little for events still on their way to an endpoint (see `Emitter.close`)."""
        if self.emitter is not None:
            self.emitter.close()

    # -- the hooks -------------------------------------------------------------------------

    def started(self, asset: Asset, partition: str | None) -> None:
        """A build of `asset` (or one partition of it) begins."""
        if self.emitter is None:
            return
        self._safely(lambda: self._emit(self._run(asset, partition, final=False), "START"))

    def completed(
        self,
        asset: Asset,
        partition: str | None,
        rows: int | None,
        version: int | None,
        audit: Any = None,
    ) -> None:
        """A build of `asset` succeeded with `rows` rows at `version`; `audit` is the report of
        its publish gate (None: it has no checks or metrics)."""

        def complete() -> None:
            info = self._lineage(asset)
            if self.emitter is None:
                return
            run = self._run(asset, partition, final=True, info=info)
            output = run.outputs[0]
            if rows is not None:
                output.io_facets["outputStatistics"] = facet("outputStatistics", rowCount=rows)
            if version is not None:
                output.facets["version"] = facet("version", datasetVersion=str(version))
            self._emit(run, "COMPLETE")
            if audit is not None:
                self._checked(asset, partition, audit, passed=True)

        self._safely(complete)

    def failed(self, asset: Asset, partition: str | None, message: str, audit: Any = None) -> None:
        """A build of `asset` failed for good with `message`; `audit` is the report of the
        publish gate when that is what refused it."""
        if self.emitter is None:
            return

        def fail() -> None:
            self._emit(self._run(asset, partition, final=False), "FAIL", message)
            if audit is not None:
                self._checked(asset, partition, audit, passed=False)

        self._safely(fail)

    def _checked(self, asset: Asset, partition: str | None, audit: Any, passed: bool) -> None:
        """The audit as a run of its own, as OpenLineage models tests: job `<asset>.checks`,
        reading the audited table, whose input facets carry the assertions and metrics."""
        if not audit.results and not audit.metrics:
            return
        job = f"{asset.key}.checks"
        label = job if partition is None else f"{job}[{partition}]"
        dataset = Dataset(*self.locate(asset.key))
        if audit.results:
            dataset.io_facets["dataQualityAssertions"] = assertions_facet(audit.results)
        if audit.metrics:
            dataset.io_facets["dataQualityMetrics"] = quality_metrics_facet(audit.metrics)
        run = BuildRun(
            namespace=self.namespace,
            job=job,
            run_id=run_uuid(self.run_id, label),
            parent_run_id=run_uuid(self.run_id),
            parent_job=self.definition.config.name,
            job_type="check",
            description=f"The checks of {asset.key} before it is published.",
            inputs=[dataset],
        )
        self._emit(run, "START")
        blocking = [r.name for r in audit.results if getattr(r, "blocks", False)]
        error = None if passed else f"checks failed: {', '.join(blocking) or 'see assertions'}"
        self._emit(run, "COMPLETE" if passed else "FAIL", error)

    # -- building events -------------------------------------------------------------------

    def _safely(self, work: Any) -> None:
        try:
            work()
        except Exception:  # lineage is a report on the build; it must never fail one
            _LOG.warning("lineage of this build could not be recorded", exc_info=True)

    def _lineage(self, asset: Asset) -> AssetColumns:
        """The asset's columns and lineage now that it is built; a model's is recorded."""
        from headwater.catalog.lineage import record_lineage

        with self._lock:
            info = self._builder.of(asset.key)
        if info.computed and info.cache_key is not None and asset.sql is not None:
            record_lineage(self.catalog, asset.key, info.cache_key, self.run_id, info.document())
        return info

    def _emit(self, run: BuildRun, event_type: str, error: str | None = None) -> None:
        assert self.emitter is not None
        self.emitter.emit(run.event(event_type, error=error))

    def _run(
        self,
        asset: Asset,
        partition: str | None,
        *,
        final: bool,
        info: AssetColumns | None = None,
    ) -> BuildRun:
        job = asset.key if partition is None else f"{asset.key}[{partition}]"
        run = BuildRun(
            namespace=self.namespace,
            job=asset.key,
            run_id=run_uuid(self.run_id, job),
            parent_run_id=run_uuid(self.run_id),
            parent_job=self.definition.config.name,
            job_type=asset.build_kind,
            sql=asset.sql,
            description=asset.description,
        )
        run.inputs = self._inputs(asset, final)
        output = Dataset(*self.locate(asset.key))
        if final and info is not None:
            description, columns = self._descriptions(asset)
            output.facets["schema"] = schema_facet(info.columns, info.types, columns)
            if info.lineage is not None:
                output.facets["columnLineage"] = column_lineage_facet(
                    info.lineage.columns, info.lineage.dataset, self.locate
                )
            if description:
                output.facets["documentation"] = facet("documentation", description=description)
            if asset.owner:
                output.facets["ownership"] = facet(
                    "ownership", owners=[{"name": asset.owner, "type": "OWNER"}]
                )
        run.outputs = [output]
        return run

    def _descriptions(self, asset: Asset) -> tuple[str | None, dict[str, str]]:
        """The asset's description and its columns': YAML first, then the source's comments."""
        from headwater.catalog.lineage import asset_descriptions

        return asset_descriptions(self.catalog, asset)

    def _inputs(self, asset: Asset, final: bool) -> list[Dataset]:
        inputs = []
        origin = self._origin(asset)
        if origin is not None:
            inputs.append(origin)
        for parent in asset.depends_on:
            dataset = Dataset(*self.locate(parent))
            if final:
                with self._lock:
                    upstream = self._builder.of(parent)
                if upstream.columns:
                    dataset.facets["schema"] = schema_facet(
                        upstream.columns,
                        upstream.types,
                        self._descriptions(self.definition.assets[parent])[1],
                    )
            inputs.append(dataset)
        return inputs

    def locate(self, key: str) -> tuple[str, str]:
        """An asset's OpenLineage dataset (namespace, name)."""
        asset = self.definition.assets.get(key)
        if asset is not None and asset.export is not None:
            from headwater.exports.lineage import destination_dataset

            return destination_dataset(asset.export, self.definition.root)
        if asset is None or not asset.is_stored:
            return f"headwater://{self.definition.config.name}", key
        uri = self.store.table_uri(TableRef.of(asset))
        if "://" not in uri:
            return "file", uri
        # object storage, as OpenLineage names it: namespace s3://bucket, name the key
        scheme, _, rest = uri.partition("://")
        bucket, _, path = rest.partition("/")
        return f"{scheme}://{bucket}", path

    def _origin(self, asset: Asset) -> Dataset | None:
        """Where a seed or a source table's rows come from (None for a model); a source's kind
        names it through the extractor registry."""
        from headwater.ingest.extractors import origin_of

        if asset.kind == AssetKind.SEED:
            return Dataset("file", str(asset.path))
        if asset.source is None or asset.parent is not None:
            return None
        origin = origin_of(asset.source, self.definition.root)
        return Dataset(origin.namespace, origin.name)


def _resolved(url: str) -> str:
    """`url` with its `${VAR}`s filled in, as written when one is unset (see `origin_url`)."""
    from headwater.ingest.base import origin_url

    return origin_url(url)


def _database_dataset(url: str, schema: str | None, table: str | None, asset: Asset) -> Dataset:
    """A database table as OpenLineage names it (see `database_dataset`), `asset`'s source
    table (or the asset) naming it when `table` is None. Builds name their origin through
    `origin_of`; this names one table directly, as the lineage tests do."""
    from headwater.ingest.database import database_dataset

    name = table or asset.source.name if asset.source else asset.name
    origin = database_dataset(url, schema, name)
    return Dataset(origin.namespace, origin.name)
