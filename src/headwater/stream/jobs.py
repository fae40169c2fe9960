"""Put together a stream's job from an open project: its source, its compiled SQL, its table,
its checkpoint folder, and the project's tables it joins registered in the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.ingest.event_sources import SourceContext, event_source_for
from headwater.project.streams import EVENTS_RELATION, StreamConfig
from headwater.storage.base import TableRef, TableStore
from headwater.stream.runner import BATCH_NAME, RESET_FILE, SEQUENCE, BatchReport, StreamJob

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
    if sql and config.window is not None:
        sql = _carrying_sequence(sql, asset)

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


def _carrying_sequence(sql: str, asset: Asset) -> str:
    """A windowed stream's SQL with each event's arrival number (`SEQUENCE`) added to its
    output, so its rows can be put back in arrival order, which the per-event watermark
    follows (a join returns rows in any order). SQL that only filters and projects keeps the
    order by itself and is left as it is.

    Raises:
        ConfigError: the SQL joins, but its outermost query does not read `events` directly
            (so the arrival order cannot be carried through).
    """
    import sqlglot
    from sqlglot import exp

    from headwater.errors import ConfigError, Location

    tree = sqlglot.parse_one(sql, read="duckdb")
    if isinstance(tree, exp.Select) and not (tree.args.get("group") or tree.args.get("distinct")):
        clause = tree.args.get("from_") or tree.args.get("from")
        sources = [clause.this] if clause is not None else []
        sources += [join.this for join in tree.args.get("joins") or []]
        batch = next(
            (s.alias_or_name for s in sources if isinstance(s, exp.Table) and s.name == BATCH_NAME),
            None,
        )
        if batch is not None:
            if not any(p.is_star for p in tree.expressions):  # a star carries it already
                tree.select(exp.column(SEQUENCE, table=batch).as_(SEQUENCE), copy=False)
            return tree.sql(dialect="duckdb")
    if not any(True for _ in tree.find_all(exp.Join)):
        return sql
    assert asset.stream is not None
    raise ConfigError(
        f"stream {asset.key}: its SQL joins tables, but not in the query that reads `events`, "
        "so its rows cannot be put back in the order the events arrived (which the watermark "
        "follows)",
        Location(file=asset.rel_path, asset=asset.key),
        "write the join in the outermost SELECT: `select ... from events e join <table> t on "
        "...`, without GROUP BY or DISTINCT",
    )


def _label(asset: Asset) -> str:
    assert asset.stream is not None
    source = asset.stream.source
    where = getattr(source, "topic", None) or getattr(source, "stream", None)
    where = where or getattr(source, "path", None) or ""
    return f"{source.kind} {where}".strip()
