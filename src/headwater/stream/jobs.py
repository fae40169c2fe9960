"""Put together a stream's job from an open project: its source, its compiled SQL, its table,
its checkpoint folder, and the project's tables it joins registered in the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.ingest.event_sources import SourceContext, event_source_for
from headwater.project.streams import EVENTS_RELATION
from headwater.storage.base import TableRef, TableStore
from headwater.stream.runner import BatchReport, StreamJob

if TYPE_CHECKING:
    from headwater.build.compiler import Compiler
    from headwater.build.relations import Relations
    from headwater.engine.base import EngineSession
    from headwater.project.definition import Asset, ProjectDefinition

BATCH_SCHEMA = "_hw_stream"
"""The engine schema holding a running stream's micro-batch (`events` in its SQL)."""
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
    config = asset.stream
    ref = TableRef.of(asset)
    context = SourceContext(
        stream=asset.key,
        project_root=definition.root,
        state_dir=definition.state_dir / "streams" / asset.key,
        config=config,
    )
    sql = _compiled(asset, compiler) if config.sql and config.sql.strip() else ""
    if sql:
        session.execute(f"create schema if not exists {BATCH_SCHEMA}")
        session.execute(
            f"create or replace view {BATCH_SCHEMA}.{EVENTS_RELATION} as from _hw_stream_batch"
        )

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
            return BATCH_SCHEMA, EVENTS_RELATION
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
