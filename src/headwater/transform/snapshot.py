"""SCD type 2 snapshots: keep every version of each source row with `valid_from`/`valid_to`.

Each run compares the source's current rows with the snapshot's current rows on the unique key:
a changed row is closed (`valid_to` set, `is_current` false) and its new version inserted; a key
gone from the source is closed; a key that comes back gets a new current row. The change set is
upserted on (key, valid_from) through the planned merge, so memory follows the change. A guard
refuses to end-date more than `max_close_share` of current rows at once: an empty or truncated
source must not wipe history.
"""

from __future__ import annotations

from headwater.build.context import BuildContext, BuildResult
from headwater.build.merge import merge_changes
from headwater.errors import Location, ModelError
from headwater.project.config import SnapshotConfig
from headwater.sqltext import column_list, identifier, literal, qualified

VALID_FROM, VALID_TO, IS_CURRENT = "valid_from", "valid_to", "is_current"
SCD_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT)


def _match(keys: list[str], left: str, right: str) -> str:
    """Key equality where NULL equals NULL, as in the duplicate check's GROUP BY."""
    return " AND ".join(
        f"{left}.{identifier(k)} IS NOT DISTINCT FROM {right}.{identifier(k)}" for k in keys
    )


def build_snapshot(ctx: BuildContext) -> BuildResult:
    """Build one run of an SCD2 snapshot and return what it wrote."""
    asset = ctx.asset
    assert asset.model is not None
    config = asset.model.snapshot or SnapshotConfig(strategy="check", max_close_share=None)
    keys = asset.unique_key
    source_sql = ctx.compiler.compile(asset.key, is_incremental=ctx.store.exists(ctx.ref))
    ctx.relations.ensure_inputs(ctx.session, asset.key)
    source_columns = ctx.session.schema(source_sql).names
    _validate(ctx, config, keys, source_columns)
    run_ts = f"CAST({literal(ctx.run_started.isoformat(sep=' '))} AS TIMESTAMP)"
    changed_at = (
        f"CAST(s.{identifier(config.updated_at)} AS TIMESTAMP)"
        if config.strategy == "timestamp" and config.updated_at
        else run_ts
    )
    _refuse_duplicate_source_keys(ctx, source_sql, keys)

    if not ctx.store.exists(ctx.ref):
        first = (
            f"SELECT s.*, {changed_at} AS {VALID_FROM}, CAST(NULL AS TIMESTAMP) AS {VALID_TO}, "
            f"TRUE AS {IS_CURRENT} FROM ({source_sql}) AS s"
        )
        written = ctx.session.write_parquet(
            first, ctx.store.new_file_dir(ctx.ref, ctx.run_id), asset.partition_by
        )
        ctx.fault("before_commit")
        version = ctx.publish(
            written.files,
            written.schema,
            "overwrite",
            ctx.commit_info("snapshot", written.rows),
            partition_by=asset.partition_by,
        )
        ctx.fault("after_commit")
        return BuildResult(rows=written.rows, version=version, message="first snapshot")

    this = qualified(ctx.ref)
    ctx.relations.ensure(ctx.session, asset.key)
    if config.strategy == "timestamp":
        assert config.updated_at
        differs = f"s.{identifier(config.updated_at)} > c.{identifier(config.updated_at)}"
    else:
        compared = (
            [c for c in source_columns if c not in keys]
            if config.check_cols == "all"
            else list(config.check_cols)
        )
        # A column the source gained is NULL in every stored version: a value in it is a change.
        stored = set(ctx.store.snapshot(ctx.ref).schema.names)
        differs = (
            " OR ".join(
                f"s.{identifier(c)} IS DISTINCT FROM c.{identifier(c)}"
                if c in stored
                else f"s.{identifier(c)} IS NOT NULL"
                for c in compared
            )
            or "FALSE"
        )
    key_list = column_list(keys)
    source = f"({source_sql})"
    current = f"(SELECT * FROM {this} WHERE {IS_CURRENT})"
    closed_changed = (
        f"SELECT c.* REPLACE ({changed_at} AS {VALID_TO}, FALSE AS {IS_CURRENT}) "
        f"FROM {current} AS c JOIN {source} AS s ON {_match(keys, 's', 'c')} WHERE {differs}"
    )
    new_versions = (
        f"SELECT s.*, {changed_at} AS {VALID_FROM}, CAST(NULL AS TIMESTAMP) AS {VALID_TO}, "
        f"TRUE AS {IS_CURRENT} "
        f"FROM {source} AS s JOIN {current} AS c ON {_match(keys, 's', 'c')} WHERE {differs}"
    )
    reopened_or_new = (
        f"SELECT s.*, CASE WHEN EXISTS (SELECT 1 FROM {this} AS h WHERE {_match(keys, 'h', 's')}) "
        f"THEN {run_ts} ELSE {changed_at} END AS {VALID_FROM}, "
        f"CAST(NULL AS TIMESTAMP) AS {VALID_TO}, TRUE AS {IS_CURRENT} "
        f"FROM {source} AS s WHERE NOT EXISTS (SELECT 1 FROM {current} AS c "
        f"WHERE {_match(keys, 's', 'c')})"
    )
    parts = [closed_changed, new_versions, reopened_or_new]
    deleted = None
    if config.invalidate_hard_deletes:
        deleted = (
            f"SELECT c.* REPLACE ({run_ts} AS {VALID_TO}, FALSE AS {IS_CURRENT}) "
            f"FROM {current} AS c WHERE NOT EXISTS (SELECT 1 FROM {source} AS s "
            f"WHERE {_match(keys, 's', 'c')})"
        )
        parts.append(deleted)

    _guard_closures(ctx, config, current, closed_changed, deleted)
    changes = " UNION ALL BY NAME ".join(f"({p})" for p in parts)
    outcome = merge_changes(ctx, f"SELECT * FROM ({changes})", [*keys, VALID_FROM], "snapshot")
    if outcome.version is None:
        return BuildResult(rows=0, version=ctx.store.current_version(ctx.ref), message="no changes")
    return BuildResult(
        rows=outcome.changed_rows,
        version=outcome.version,
        message=f"{outcome.changed_rows} rows changed ({key_list})",
    )


def _validate(
    ctx: BuildContext, config: SnapshotConfig, keys: list[str], columns: list[str]
) -> None:
    where = Location(file=ctx.asset.rel_path, asset=ctx.asset.key)
    clash = [c for c in SCD_COLUMNS if c in columns]
    if clash:
        raise ModelError(
            f"the snapshot source already has column {', '.join(clash)}",
            where,
            "rename it in the SELECT; Headwater adds valid_from, valid_to and is_current",
        )
    needed = [*keys]
    if config.strategy == "timestamp" and config.updated_at:
        needed.append(config.updated_at)
    if isinstance(config.check_cols, list):
        needed.extend(config.check_cols)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ModelError(
            f"the snapshot source has no column {', '.join(missing)}",
            where,
            f"its columns are: {', '.join(columns)}",
        )


def _refuse_duplicate_source_keys(ctx: BuildContext, source_sql: str, keys: list[str]) -> None:
    rows = ctx.session.query(
        f"SELECT {column_list(keys)}, count(*) AS n FROM ({source_sql}) "
        f"GROUP BY ALL HAVING count(*) > 1 LIMIT 3"
    ).to_pylist()
    if rows:
        sample = "; ".join(", ".join(f"{k}={r[k]!r}" for k in keys) for r in rows)
        raise ModelError(
            f"the snapshot source holds the same unique_key more than once: {sample}",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
            "a snapshot source must have one row per key; deduplicate it",
        )


def _guard_closures(
    ctx: BuildContext,
    config: SnapshotConfig,
    current: str,
    closed_changed: str,
    deleted: str | None,
) -> None:
    share = (
        config.max_close_share
        if config.max_close_share is not None
        else ctx.definition.config.defaults.snapshot.max_close_share
    )
    counted = [f"(SELECT count(*) FROM ({closed_changed}))"]
    if deleted:
        counted.append(f"(SELECT count(*) FROM ({deleted}))")
    row = ctx.session.query(
        f"SELECT (SELECT count(*) FROM {current}) AS current_rows, {' + '.join(counted)} AS closing"
    ).to_pylist()[0]
    current_rows, closing = int(row["current_rows"]), int(row["closing"])
    if current_rows and closing / current_rows > share:
        raise ModelError(
            f"snapshot would end-date {closing} of {current_rows} current rows "
            f"({closing / current_rows:.0%}), more than max_close_share {share:.0%}; "
            "nothing was written",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
            "check the source is complete; if the change is real, raise snapshot.max_close_share "
            "in the model's sidecar for one run",
        )
