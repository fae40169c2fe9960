"""Put together a source's capture: every `mode: cdc` table of the source, read from its
change log by the job of its kind (PostgreSQL's replication slot, or Debezium events)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from headwater.errors import CdcError, Location
from headwater.project.kinds import AssetKind
from headwater.project.sources import SourceTable

if TYPE_CHECKING:
    from headwater.engine.base import EngineSession
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore
    from headwater.stream.cdc.postgres_job import BatchReport, CaptureSummary


class CaptureJob(Protocol):
    """One source's capture, ready to run."""

    def run(self, until_caught_up: bool, stop: threading.Event | None = None) -> CaptureSummary:
        """Apply the source's changes until caught up (or until `stop` is set)."""


def captured_tables(definition: ProjectDefinition, source: str) -> list[SourceTable]:
    """The `mode: cdc` tables of source `source`, in the order of their keys."""
    found = [
        a.source
        for k, a in sorted(definition.assets.items())
        if a.kind == AssetKind.SOURCE
        and a.parent is None
        and a.source is not None
        and a.source.source_name == source
        and a.source.mode == "cdc"
    ]
    return [spec for spec in found if spec is not None]


def capture_sources(definition: ProjectDefinition) -> list[str]:
    """The sources with at least one `mode: cdc` table."""
    return sorted(
        {
            a.source.source_name
            for a in definition.assets.values()
            if a.source is not None and a.parent is None and a.source.mode == "cdc"
        }
    )


def capture_job(
    definition: ProjectDefinition,
    source: str,
    store: TableStore,
    session: EngineSession,
    run_id: str,
    on_batch: Callable[[BatchReport], None] | None = None,
) -> CaptureJob:
    """The capture of source `source`.

    Raises:
        CdcError: the source has no cdc table, or its kind has no change log.
    """
    specs = captured_tables(definition, source)
    config = definition.sources.get(source)
    if config is None or not specs:
        raise CdcError(f"source {source} has no mode 'cdc' table", Location(), None)
    for spec in specs:
        if spec.contract == "discard_row":
            raise CdcError(
                f"{spec.source_name}.{spec.name}: contract 'discard_row' cannot apply to a "
                "mirror (it would drop changes and leave the mirror wrong)",
                Location(file=spec.rel_path, asset=f"{spec.source_name}.{spec.name}"),
                "use 'evolve', 'freeze' or 'discard_column' for mode 'cdc' tables",
            )
    if config.kind == "debezium":
        from headwater.stream.cdc.debezium_job import DebeziumCaptureJob

        return DebeziumCaptureJob(
            source, config, specs, store, session, run_id, definition.root, on_batch
        )
    from headwater.ingest.cdc.postgres import is_postgres
    from headwater.stream.cdc.postgres_job import PostgresCaptureJob

    url = config.url or ""
    if not is_postgres(url) and not url.startswith("${"):
        raise CdcError(
            f"source {source}: mode 'cdc' reads PostgreSQL's change log, and {url.split(':')[0]} "
            "is not PostgreSQL",
            Location(file=config.rel_path),
            "use mode 'merge' with a cursor for other databases, or a debezium source fed by "
            "Debezium's connector for that database",
        )
    return PostgresCaptureJob(source, config, specs, store, session, run_id, on_batch)
