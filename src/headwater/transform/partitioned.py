"""Build one partition of a partitioned model: write its rows, replace exactly that slice.

The model's SQL is compiled once with placeholders and filled in with the partition's range (or
key). Its rows are written, checked to lie in the partition, and committed in one version that
also removes the table's current rows of that partition: files wholly inside the slice are
dropped, files straddling it are rewritten without its rows (Delta's replace-where). Building a
partition twice therefore gives the same table, and other partitions are never touched.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from headwater.build.context import BuildContext, BuildResult
from headwater.errors import Location, ModelError
from headwater.project.partitions import Partition, PartitionsConfig
from headwater.project.templating import fill_partition, uses_partition
from headwater.sqltext import identifier
from headwater.storage.base import DataFile, Snapshot, WrittenFile


def partition_sql(ctx: BuildContext, partition: Partition) -> str:
    """The model's SQL for `partition`."""
    config = _config(ctx)
    sql = ctx.compiler.compile(ctx.asset.key)
    values = partition.literals(config.timestamps)
    if partition.start is not None and partition.end is not None:
        values["partition_start"] = values["partition_start"].split(" ", 1)[1]
        values["partition_end"] = values["partition_end"].split(" ", 1)[1]
    return fill_partition(sql, values)


def in_partition(config: PartitionsConfig, partition: Partition) -> str:
    """SQL TRUE for the rows of `partition` (NULL-safe: a NULL belongs to none)."""
    column = identifier(config.column)
    literals = partition.literals(config.timestamps)
    if config.grain is None:
        return f"coalesce({column} = {literals['partition_key']}, FALSE)"
    start, end = literals["partition_start"], literals["partition_end"]
    return f"coalesce({column} >= {start} AND {column} < {end}, FALSE)"


def build_partition(ctx: BuildContext) -> BuildResult:
    """Build `ctx.partition` of the asset and return what was written."""
    partition = ctx.partition
    assert partition is not None
    config = _config(ctx)
    sql = partition_sql(ctx, partition)
    if uses_partition(sql):
        raise ModelError(
            f"{ctx.asset.key} could not be given partition {partition.key}",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
            "report this: a partition placeholder survived compilation",
        )
    ctx.relations.ensure_inputs(ctx.session, ctx.asset.key)
    written = ctx.session.write_parquet(
        sql, ctx.store.new_file_dir(ctx.ref, ctx.run_id), ctx.asset.partition_by
    )
    inside = in_partition(config, partition)
    _refuse_rows_outside(ctx, written.files, config, partition, inside)
    files: list[WrittenFile] = list(written.files)
    remove: list[DataFile] = []
    with ctx.table_lock:  # other partitions of this table may be committing right now
        exists = ctx.store.exists(ctx.ref)
        if exists:
            snapshot = ctx.store.snapshot(ctx.ref)
            kept, remove = _replace_where(ctx, snapshot, config, partition, inside)
            files += kept
        ctx.fault("before_commit")
        version = ctx.publish(
            files,
            written.schema,
            "append" if exists else "overwrite",
            ctx.commit_info(f"partition {partition.key}", written.rows),
            partition_by=ctx.asset.partition_by,
            remove=remove,
            fresh=written.files,
        )
        ctx.fault("after_commit")
    return BuildResult(
        rows=written.rows, version=version, message=f"partition {partition.key}: replaced"
    )


def _refuse_rows_outside(
    ctx: BuildContext,
    files: list[WrittenFile],
    config: PartitionsConfig,
    partition: Partition,
    inside: str,
) -> None:
    if not files:
        return
    scan = ctx.session.scan_parquet(
        [f.path for f in files], hive_partitioning=bool(ctx.asset.partition_by)
    )
    outside = ctx.session.query(
        f"SELECT count(*) AS n, min({identifier(config.column)}) AS lo, "
        f"max({identifier(config.column)}) AS hi FROM {scan} WHERE NOT {inside}"
    ).to_pylist()[0]
    if outside["n"]:
        for file in files:
            os.remove(file.path)
        raise ModelError(
            f"{ctx.asset.key} wrote {outside['n']} rows outside partition {partition.key} "
            f"(column {config.column} from {outside['lo']} to {outside['hi']}); nothing was "
            "committed",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key, column=config.column),
            "filter the model to its partition: where "
            f"{config.column} >= {{{{ partition_start }}}} and {config.column} < "
            "{{ partition_end }} (or = {{ partition_key }} for listed keys)",
        )


def _replace_where(
    ctx: BuildContext,
    snapshot: Snapshot,
    config: PartitionsConfig,
    partition: Partition,
    inside: str,
) -> tuple[list[WrittenFile], list[DataFile]]:
    """The current files holding rows of `partition` (to remove) and, for those that also hold
    other rows, those rows rewritten (to keep)."""
    ranges = ctx.store.file_ranges(snapshot, config.column)
    candidates = []
    for file in snapshot.files:
        bounds = ranges.get(file.relative_path)
        if bounds is None or _may_hold(bounds, partition):
            candidates.append(file)
    if not candidates:
        return [], []
    hive = bool(snapshot.partition_by)
    scan = ctx.session.scan_parquet(
        [f.path for f in candidates], hive_partitioning=hive, filename=True
    )
    counts = ctx.session.query(
        f"SELECT filename, count(*) FILTER (WHERE {inside}) AS hit, "
        f"count(*) FILTER (WHERE NOT {inside}) AS other FROM {scan} GROUP BY filename"
    ).to_pylist()
    by_path = {f.path: f for f in candidates}
    touched = [by_path[r["filename"]] for r in counts if r["hit"] and r["filename"] in by_path]
    mixed = [r["filename"] for r in counts if r["hit"] and r["other"] and r["filename"] in by_path]
    kept: list[WrittenFile] = []
    if mixed:
        rest = ctx.session.write_parquet(
            f"SELECT * FROM {ctx.session.scan_parquet(mixed, hive_partitioning=hive)} "
            f"WHERE NOT {inside}",
            ctx.store.new_file_dir(ctx.ref, ctx.run_id),
            list(snapshot.partition_by),
            conform_to=snapshot.schema,
        )
        kept = rest.files
    return kept, touched


def _may_hold(bounds: tuple[Any, Any], partition: Partition) -> bool:
    """Whether a file whose column spans `bounds` (its statistics) may hold rows of the
    partition; when in doubt, True."""
    low, high = bounds
    if low is None or high is None:
        return True
    try:
        if partition.start is None or partition.end is None:
            return bool(str(low) <= partition.key <= str(high))
        return bool(_as_moment(high, partition.start) >= partition.start) and bool(
            _as_moment(low, partition.start) < partition.end
        )
    except (TypeError, ValueError):
        return True


def _as_moment(value: Any, like: dt.datetime) -> dt.datetime:
    """A statistic (a date, a naive UTC timestamp, text) as an aware time comparable with
    `like`."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(like.tzinfo)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=like.tzinfo)
    raise TypeError(f"cannot compare {value!r} with a time")


def _config(ctx: BuildContext) -> PartitionsConfig:
    assert ctx.asset.model is not None and ctx.asset.model.partitions is not None
    return ctx.asset.model.partitions
