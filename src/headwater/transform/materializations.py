"""Materializations: how each kind of asset is built, registered by name.

Built-in kinds register through the same `register` call a plugin would use. Every stored
materialization writes its files first and commits them in exactly one Delta version, so a
failure or a kill at any point leaves the previous version in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import replace

from headwater.build.builders import register
from headwater.build.context import BuildContext, BuildResult
from headwater.build.merge import merge_changes
from headwater.build.relations import require_views
from headwater.engine.base import WriteResult
from headwater.errors import Location, ModelError, first_line
from headwater.project.definition import Asset
from headwater.project.kinds import BuildKind
from headwater.sqltext import identifier, qualified
from headwater.transform.snapshot import build_snapshot


def _overwrite(
    ctx: BuildContext,
    sql: str,
    operation: str,
    vet: Callable[[BuildContext, WriteResult], None] | None = None,
) -> BuildResult:
    """Write `sql` as the whole new content of the asset's table; `vet` may refuse the
    written files before they are published (it removes them when it does)."""
    written = ctx.session.write_parquet(
        sql, ctx.store.new_file_dir(ctx.ref, ctx.run_id), ctx.asset.partition_by
    )
    if vet is not None:
        vet(ctx, written)
    ctx.fault("before_commit")
    version = ctx.publish(
        written.files,
        written.schema,
        "overwrite",
        ctx.commit_info(operation, written.rows),
        partition_by=ctx.asset.partition_by,
    )
    ctx.fault("after_commit")
    return BuildResult(rows=written.rows, version=version)


def build_table(ctx: BuildContext) -> BuildResult:
    """Rebuild the whole table from the model's SQL and replace it atomically (or, for a
    partitioned model, replace the one partition being built)."""
    if ctx.partition is not None:
        from headwater.transform.partitioned import build_partition

        return build_partition(ctx)
    sql = ctx.compiler.compile(ctx.asset.key)
    ctx.relations.ensure_inputs(ctx.session, ctx.asset.key)
    return _overwrite(ctx, sql, "table")


def build_view(ctx: BuildContext) -> BuildResult:
    """Create the view in the engine and check that it binds; nothing is stored. Raises
    `ModelError` when the engine cannot hold views."""
    require_views(ctx.session, ctx.asset)
    sql = ctx.compiler.compile(ctx.asset.key)
    ctx.relations.ensure_inputs(ctx.session, ctx.asset.key)
    ctx.session.register_view(ctx.ref, sql)
    ctx.session.query(f"SELECT * FROM {qualified(ctx.ref)} LIMIT 0")
    if ctx.gate is not None:
        ctx.admitted.append(ctx.gate.inspect(ctx, qualified(ctx.ref)))
    return BuildResult(state={"sql": sql})


def build_ephemeral(ctx: BuildContext) -> BuildResult:
    """Check that the ephemeral model compiles; it is inlined into the models that read it."""
    ctx.compiler.compile(ctx.asset.key)
    return BuildResult(message="inlined into the models that read it")


def build_incremental(ctx: BuildContext) -> BuildResult:
    """Process only new rows: append them, or merge them on the unique key.

    The first run and `--full-refresh` build the whole table.
    """
    asset = ctx.asset
    assert asset.model is not None
    if ctx.full_refresh or not ctx.store.exists(ctx.ref):
        sql = _compiled_with_inputs(ctx, incremental=False)
        # the next run merges on the key: a key that is missing or repeated must fail now,
        # not after a first build that published rows no merge can tell apart (an append
        # never merges: its key is only checked to be a column, by the gate)
        vet = _refuse_bad_unique_key if asset.unique_key and _merges(asset) else None
        result = _overwrite(ctx, sql, "incremental", vet)
        result.message = "full build"
        _precompile_incremental(ctx)
        return result
    ctx.relations.ensure(ctx.session, asset.key)
    sql = _compiled_with_inputs(ctx, incremental=True)
    if _merges(asset):
        outcome = merge_changes(ctx, sql, asset.unique_key, "incremental merge")
        version = outcome.version
        if version is None:
            version = ctx.store.current_version(ctx.ref)
        return BuildResult(
            rows=outcome.changed_rows,
            version=version,
            message=f"merged {outcome.changed_rows} rows, rewrote {outcome.touched_files} files",
        )
    from headwater.build.schema_evolution import evolve_schema

    current = ctx.store.snapshot(ctx.ref)
    schema = evolve_schema(current.schema, ctx.session.schema(sql), asset.key)
    written = ctx.session.write_parquet(
        sql,
        ctx.store.new_file_dir(ctx.ref, ctx.run_id),
        list(current.partition_by),
        conform_to=schema,
    )
    if not written.files:
        return BuildResult(rows=0, version=current.version, message="no new rows")
    ctx.fault("before_commit")
    version = ctx.publish(
        written.files,
        schema,
        "append",
        ctx.commit_info("incremental append", written.rows),
        partition_by=list(current.partition_by),
    )
    ctx.fault("after_commit")
    return BuildResult(rows=written.rows, version=version, message=f"appended {written.rows} rows")


def _merges(asset: Asset) -> bool:
    """Whether the incremental runs of `asset` merge on its unique key (else they append)."""
    assert asset.model is not None
    strategy = asset.model.incremental_strategy or ("merge" if asset.unique_key else "append")
    return strategy == "merge"


def _refuse_bad_unique_key(ctx: BuildContext, written: WriteResult) -> None:
    """Raise (removing `written`'s files) when the model's `unique_key` is not among its
    output columns, or when two built rows the gate would publish share a key (rows an
    `on_fail: quarantine` check sets aside are not published, so they are not counted)."""
    from headwater.project.columns import column_error

    asset = ctx.asset
    problem = column_error(asset, written.schema.names)
    if problem is not None:
        _discard(written)
        raise ModelError(
            f"{problem.message}; nothing was committed",
            replace(problem.location, asset=asset.key),
            problem.hint,
        )
    if not written.files:
        return
    # the key as the output spells it (`unique_key: [ID]` names column `id`)
    spelled = {name.lower(): name for name in written.schema.names}
    keys = [spelled.get(k.lower(), k) for k in asset.unique_key]
    scan = ctx.session.scan_parquet(
        [f.path for f in written.files], hive_partitioning=bool(asset.partition_by)
    )
    admitted = _admitted_rows(ctx)
    where = f" WHERE {admitted}" if admitted else ""
    aliases = [f"{identifier(k)} AS k{i}" for i, k in enumerate(keys)]
    grouped = f"SELECT {', '.join(aliases)}, count(*) AS n FROM {scan}{where} GROUP BY ALL"
    found = ctx.session.query(
        f"SELECT count(*) AS keys, coalesce(sum(n), 0) AS rows FROM ({grouped}) WHERE n > 1"
    ).to_pylist()[0]
    if not found["keys"]:
        return
    worst = ctx.session.query(
        f"SELECT * FROM ({grouped}) WHERE n > 1 ORDER BY n DESC LIMIT 1"
    ).to_pylist()[0]
    _discard(written)
    example = ", ".join(f"{k}={worst[f'k{i}']!r}" for i, k in enumerate(keys))
    aside = ", not counting the rows its checks quarantine" if admitted else ""
    raise ModelError(
        f"unique_key ({', '.join(keys)}) of {asset.key} is not unique in the built rows: "
        f"{found['keys']:,} keys appear more than once, in {found['rows']:,} of "
        f"{written.rows:,} rows (e.g. {example} appears {worst['n']:,} times{aside}); "
        "nothing was committed",
        Location(file=asset.rel_path, asset=asset.key),
        "deduplicate the model's output (e.g. QUALIFY row_number() OVER (PARTITION BY "
        f"{', '.join(keys)} ORDER BY ...) = 1), or widen unique_key",
    )


def _admitted_rows(ctx: BuildContext) -> str | None:
    """SQL true for a built row the gate publishes rather than quarantines (None: it
    quarantines none)."""
    return ctx.gate.admitted_predicate() if ctx.gate is not None else None


def _discard(written: WriteResult) -> None:
    """Remove files that were written but will not be committed."""
    for file in written.files:
        with contextlib.suppress(FileNotFoundError):
            os.remove(file.path)


def _precompile_incremental(ctx: BuildContext) -> None:
    """Compile the incremental variant now, while the compiler is loaded, so that the next run
    (the first incremental one) finds it in the compile cache and imports neither sqlglot nor
    Jinja. A variant that does not compile is left for that run to report."""
    try:
        ctx.compiler.compile(ctx.asset.key, is_incremental=True)
    except Exception:  # a variant that does not compile is reported by the run needing it
        return


def _compiled_with_inputs(ctx: BuildContext, incremental: bool) -> str:
    sql = ctx.compiler.compile(ctx.asset.key, is_incremental=incremental)
    ctx.relations.ensure_inputs(ctx.session, ctx.asset.key)
    return sql


def build_seed(ctx: BuildContext) -> BuildResult:
    """Load the seed CSV into its table (typed by the sidecar's column types)."""
    from headwater.build.suppression import skipped_note, without_erased
    from headwater.project.columns import seed_read_sql

    assert ctx.asset.seed is not None
    # the load-time column check reads the header with the same query (seed_columns)
    sql = seed_read_sql(str(ctx.asset.path), ctx.asset.seed, ctx.definition.root)
    try:
        sql, skipped = without_erased(ctx.session, ctx.suppression, sql)
        result = _overwrite(ctx, sql, "seed")
        if skipped:
            result = dataclasses.replace(
                result,
                message=(result.message or "") + skipped_note(skipped),
                state={**result.state, "suppressed": skipped},
            )
        return result
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"seed {ctx.asset.key} could not be read: {first_line(exc)}",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
            "fix the CSV at the line shown, or the column types in the seed's sidecar",
        ) from None


register(BuildKind.TABLE, build_table)
register(BuildKind.VIEW, build_view)
register(BuildKind.EPHEMERAL, build_ephemeral)
register(BuildKind.INCREMENTAL, build_incremental)
register(BuildKind.SNAPSHOT, build_snapshot)
register(BuildKind.SEED, build_seed)
