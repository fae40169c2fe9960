"""Put together a stream's job from an open project: its source, its compiled SQL, its table,
its checkpoint folder, and the project's tables it joins registered in the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.ingest.event_sources import SourceContext, event_source_for
from headwater.project.streams import EVENTS_RELATION, StreamConfig
from headwater.storage.base import TableRef, TableStore
from headwater.stream.runner import BATCH_NAME, RESET_FILE, BatchReport, StreamJob

if TYPE_CHECKING:
    from headwater.build.compiler import Compiler
    from headwater.build.relations import Relations
    from headwater.engine.base import EngineSession
    from headwater.project.definition import Asset, ProjectDefinition

BATCH_RELATION = ("temp", BATCH_NAME)
"""Where a stream's SQL reads its micro-batch (`events`): the relation the runner registers,
private to the stream's own engine session (so streams running side by side never meet)."""
CHECKPOINTS = "_streams"
"""The warehouse folder holding each stream's checkpoints, beside its tables."""


def checkpoint_folder(store: TableStore, ref: TableRef) -> Path:
    """Where the stream writing `ref` keeps its checkpoints (under the warehouse, so they go
    wherever the table goes)."""
    return store.warehouse / CHECKPOINTS / ref.namespace / ref.name


def stream_job(
    asset: Asset,
    definition: ProjectDefinition,
    store: TableStore,
    session: EngineSession,
    compiler: Compiler,
    relations: Relations,
    run_id: str,
    on_commit: Callable[[BatchReport], None] | None = None,
) -> StreamJob:
    """The job that runs the stream `asset` in `session`."""
    assert asset.stream is not None
    ref = TableRef.of(asset)
    config = _after_reset(asset.stream, checkpoint_folder(store, ref))
    context = SourceContext(
        stream=asset.key,
        project_root=definition.root,
        state_dir=definition.state_dir / "streams" / asset.key,
        config=config,
        restart=(checkpoint_folder(store, ref) / RESET_FILE).is_file(),
        columns=_metadata_read(config),
    )
    sql = _compiled(asset, compiler) if config.sql and config.sql.strip() else ""

    def refresh_inputs() -> None:
        relations.ensure_inputs(session, asset.key)

    return StreamJob(
        key=asset.key,
        config=config,
        ref=ref,
        sql=sql,
        store=store,
        session=session,
        source=event_source_for(context),
        checkpoints=checkpoint_folder(store, ref),
        run_id=run_id,
        source_label=_label(asset),
        refresh_inputs=refresh_inputs if asset.depends_on else None,
        on_commit=on_commit,
    )


def _after_reset(config: StreamConfig, folder: Path) -> StreamConfig:
    """`config` with its source's `start` replaced by where a pending reset starts it."""
    import json

    try:
        to = json.loads((folder / RESET_FILE).read_text())["to"]
    except (OSError, ValueError, KeyError, TypeError):
        return config
    if not isinstance(to, str) or "start" not in type(config.source).model_fields:
        return config
    source = config.source.model_copy(update={"start": to})
    return config.model_copy(update={"source": source})


def _metadata_read(config: StreamConfig) -> frozenset[str]:
    """The metadata columns a source must hand over: all of them for a stream whose events are
    its rows (no SQL), else those the SQL names plus the ones quarantine rows and latency use."""
    import re

    from headwater.ingest.event_sources import METADATA_COLUMNS, OFFSET, PARTITION, SOURCE_TIME

    if not config.sql or not config.sql.strip():
        return frozenset(METADATA_COLUMNS)
    named = {c for c in METADATA_COLUMNS if re.search(rf"\b{c}\b", config.sql, re.IGNORECASE)}
    return frozenset({PARTITION, OFFSET, SOURCE_TIME, *named})


def _compiled(asset: Asset, compiler: Compiler) -> str:
    """The stream's SQL with the project's tables qualified and `events` read from the
    micro-batch."""
    from headwater.project.definition import AssetIndex
    from headwater.project.sql import compile_sql

    assert asset.stream is not None and asset.stream.sql is not None
    definition = compiler.definition
    index = AssetIndex(definition.assets)

    def resolve(reference: object) -> tuple[str, str]:
        from headwater.project.sql import TableReference

        assert isinstance(reference, TableReference)
        if reference.namespace is None and reference.name.lower() == EVENTS_RELATION:
            return BATCH_RELATION
        target = definition.assets[index.resolve(reference, asset.key, asset.rel_path)]
        return target.namespace, target.name

    def ephemeral(namespace: str, name: str) -> str | None:
        target = definition.assets.get(f"{namespace}.{name}")
        if target is None or target.materialized != "ephemeral":
            return None
        return compiler.compile(target.key)

    return compile_sql(asset.stream.sql, asset.rel_path, resolve, ephemeral)


def _label(asset: Asset) -> str:
    assert asset.stream is not None
    source = asset.stream.source
    where = getattr(source, "topic", None) or getattr(source, "stream", None)
    where = where or getattr(source, "path", None) or ""
    return f"{source.kind} {where}".strip()
