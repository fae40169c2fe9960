"""Load one source table: extract what is new, apply the schema contract and load mode, commit.

The order is what makes a load safe to kill at any moment:

1. the extractor stages the new rows as Parquet in the table's folder (invisible to readers);
2. records it could not read go to the quarantine table (see `quarantine.py`);
3. one commit to the table adds the rows and carries the state they bring us to (cursor, files
   seen), so the table and its cursor move together or not at all.

Staged files are committed as they are when they already have the table's shape (the common
case: an append or replace of a known schema), so most loads write each row once.

Records with nested lists also fill child tables (`<table>__<path>`, see `records.py`). They are
committed before the table itself, in the table's load mode: replaced with it, appended with it
(dropping the rows of a run whose table commit never landed), or, for merged tables, every child
row of a changed record is replaced. A load killed between the two commits therefore leaves
children that the next load of the same records puts right.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.builders import register
from headwater.build.context import BuildContext, BuildResult
from headwater.build.schema_evolution import widened
from headwater.errors import Location, SourceError
from headwater.ingest.base import BadRecord, Extracted, Extractor, ExtractRequest
from headwater.ingest.quarantine import write_quarantine
from headwater.ingest.records import ID, PARENT_ID, ROOT_ID, SEPARATOR, SEQ, SYSTEM_PREFIX
from headwater.ingest.state import committed_state, encode_state
from headwater.project.kinds import BuildKind
from headwater.project.sources import SourceTable
from headwater.sqltext import column_list, identifier, literal
from headwater.storage.base import CommitInfo, TableRef, WrittenFile
from headwater.storage.companions import interrupted_files, quarantine_ref

if TYPE_CHECKING:
    import pyarrow as pa


def extractor_for(spec: SourceTable) -> Extractor:
    """The extractor for the source's kind."""
    if spec.source.kind == "files":
        from headwater.ingest.files import FileExtractor

        return FileExtractor()
    if spec.source.kind == "sql":
        from headwater.ingest.database import DatabaseExtractor

        return DatabaseExtractor()
    from headwater.ingest.rest import RestExtractor

    return RestExtractor()


def load_source_table(ctx: BuildContext) -> BuildResult:
    """Load what is new in the asset's source table; return rows loaded and quarantined."""
    spec = ctx.asset.source
    assert spec is not None, f"{ctx.asset.key} is not a source table"
    store, ref = ctx.store, ctx.ref
    exists = store.exists(ref) and not ctx.full_refresh
    previous = committed_state(store, ref) if exists else {}
    table_schema = store.snapshot(ref).schema if exists else None
    stage = store.new_file_dir(ref, ctx.run_id)
    scratch = ctx.temp_dir / f"ingest-{ctx.run_id}-{ctx.asset.key}"
    child_schemas = {
        path: store.snapshot(child_ref(ref, path)).schema
        for path in previous.get("children", {})
        if store.exists(child_ref(ref, path))
    }
    request = ExtractRequest(
        spec,
        ctx.session,
        stage,
        ctx.project.root,
        previous,
        table_schema,
        scratch,
        child_schemas,
        source_file=ctx.asset.rel_path,
    )
    try:
        extracted = extractor_for(spec).extract(request)
        return _apply(ctx, spec, extracted, previous, table_schema, scratch)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _refuse_incomplete(ctx: BuildContext, spec: SourceTable, extracted: Extracted) -> None:
    """Refuse to commit an extract that skipped records (a REST page set aside by
    `on_bad_page: quarantine`) unless the load merges on a key.

    A replace (or a full refresh) would publish what was read as the whole table, deleting the
    skipped records' rows; an append would land them twice when the next load reads them
    again. on_bad_page's config check refuses both; this holds the rule where the load
    commits, whatever reaches it.

    Raises:
        SourceError: the load would lose or duplicate the skipped records; nothing committed.
    """
    skipped = extracted.bad[0].location if extracted.bad else "a page"
    where = Location(file=ctx.asset.rel_path, asset=ctx.asset.key)
    if spec.mode == "replace" or (ctx.full_refresh and ctx.store.exists(ctx.ref)):
        raise SourceError(
            f"{ctx.asset.key}: records were skipped ({skipped} could not be read), so this "
            "load cannot replace the table; nothing was committed",
            where,
            "load again once the source serves every page in full, or load without --full-refresh",
        )
    if not (spec.mode in ("merge", "incremental") and spec.table.primary_key):
        raise SourceError(
            f"{ctx.asset.key}: records were skipped ({skipped} could not be read) and mode "
            f"{spec.mode} without a key would land them twice when the next load reads them "
            "again; nothing was committed",
            where,
            "use mode 'merge' (or 'incremental') with 'primary_key' for on_bad_page: quarantine",
        )


def child_table_result(ctx: BuildContext) -> BuildResult:
    """A child table is filled by its parent's load (which ran first): report its version.

    Raises:
        SourceError: the parent has never loaded a record with that list.
    """
    version = ctx.store.current_version(ctx.ref)
    parent = ctx.asset.parent
    if version is None:
        field_name = ctx.asset.name.split(SEPARATOR, 1)[-1]
        raise SourceError(
            f"child table {ctx.asset.key} does not exist: no record loaded into {parent} "
            f"has had a list '{field_name}'",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
            "check the name (a child table is <table>__<field>, with __ for each nesting "
            f"level) against the records of {parent}",
        )
    return BuildResult(version=version, message=f"loaded with {parent}")


def child_ref(ref: TableRef, path: str) -> TableRef:
    """The child table holding the lists at `path` of `ref`'s records."""
    return TableRef(ref.namespace, f"{ref.name}{SEPARATOR}{path}")


@dataclass
class _Plan:
    """How staged rows become the table's next version."""

    schema: pa.Schema
    select: str
    """SQL over the staged rows giving what to write (casts, dropped columns, filters)."""
    rewrite: bool
    """The staged files cannot be committed as they are."""
    widen_table: bool = False
    """Existing rows must be rewritten with wider types."""
    changes: list[str] = field(default_factory=list)


def _apply(
    ctx: BuildContext,
    spec: SourceTable,
    extracted: Extracted,
    previous: dict[str, Any],
    table_schema: pa.Schema | None,
    scratch: Path,
) -> BuildResult:
    session, store, ref = ctx.session, ctx.store, ctx.ref
    if not extracted.complete:
        _refuse_incomplete(ctx, spec, extracted)
    staged = _staged_scan(extracted.files)
    state = dict(extracted.state)
    children = {
        **previous.get("children", {}),
        **{path: child.parent for path, child in extracted.children.items()},
    }
    if children:
        state["children"] = children
    keep: list[str] = []
    if extracted.schema is not None and SEQ in extracted.schema.names:
        # the record ordinal never reaches the table; nor does the record id while no record
        # has had a list (there is nothing to link)
        extracted.schema = _without(extracted.schema, SEQ)
        if children:
            keep = [SEQ]
        else:
            extracted.schema = _without(extracted.schema, ID)
    cursor = spec.table.cursor
    if (
        cursor
        and extracted.rows
        and (extracted.schema is None or cursor not in extracted.schema.names)
    ):
        raise SourceError(
            f"cursor column {cursor} is not in the rows of {ctx.asset.key}",
            Location(file=ctx.asset.rel_path, asset=ctx.asset.key, column=cursor),
            "fix 'cursor:' to name a column the source returns",
        )
    if table_schema is not None and spec.mode == "replace" and extracted.replaces_all:
        table_schema_for_plan = table_schema if spec.contract == "freeze" else None
    else:
        table_schema_for_plan = table_schema
    bad = list(extracted.bad)
    plan = _plan(ctx, spec, extracted, table_schema_for_plan, staged, bad, keep)
    parents = ""
    if keep and plan.select:
        # the records that survive deduplication (and quarantine): the table's new rows, and
        # the parents whose children are kept
        deduped = _deduplicated(plan.select, spec.table.primary_key, cursor, SEQ)
        parents = _materialize(ctx, deduped, scratch / "records")
        plan.select = f"SELECT * EXCLUDE ({identifier(SEQ)}) FROM {parents}"
        plan.rewrite = True
    if cursor and extracted.rows and extracted.complete:
        # after skipped records the cursor stays put: the next load must read them again
        highest = session.query(
            f"SELECT max({identifier(cursor)}) AS v FROM ({plan.select})"
        ).column("v")[0]
        value = highest.as_py() if highest.is_valid else None
        if value is not None:
            state["cursor"] = _jsonable(_max(previous.get("cursor"), value))
    if "cursor" not in state and "cursor" in previous:
        state["cursor"] = previous["cursor"]
    unchanged = extracted.rows == 0 and state == previous
    if unchanged and not bad:
        return BuildResult(
            rows=0,
            version=store.current_version(ref),
            message="nothing new",
            state=state,
            descriptions=extracted.descriptions,
        )
    child_rows = 0
    if children:
        child_rows = _load_children(
            ctx, spec, extracted, children, parents, table_schema is None, bad, scratch
        )
    quarantine = quarantine_ref(ref)
    before = store.current_version(quarantine)
    landed = write_quarantine(store, ref, spec.source_name, bad, ctx.run_id)
    if table_schema is None and not plan.schema.names:
        # A first load whose every record was bad has no column to create the table with.
        # The quarantine is the load's whole result: it stays (a failed build would undo it,
        # losing the reasons), and the table is created by the first load with a good record.
        return BuildResult(
            rows=0,
            version=None,
            message=(
                f"loaded 0 rows, {len(bad)} quarantined; {ctx.asset.key} is created when a "
                f"record loads (see: headwater quarantine {ctx.asset.key})"
            ),
            state={"quarantined": len(bad)},
            descriptions=extracted.descriptions,
        )
    if landed is not None:
        ctx.companion_commits.append((quarantine, before, landed))
    ctx.commit_extra = encode_state(state)
    ctx.fault("before_commit")
    version, rows = _commit(ctx, spec, extracted, plan, table_schema)
    ctx.fault("after_commit")
    for child in extracted.children.values():
        for file in child.files:
            _remove(file.path)
    quarantined = f", {len(bad)} quarantined" if bad else ""
    into = f", {child_rows} into child tables" if child_rows else ""
    changes = f" ({'; '.join(plan.changes)})" if plan.changes else ""
    return BuildResult(
        rows=rows,
        version=version,
        message=f"loaded {rows} rows{into}{quarantined}{changes}",
        state={**state, "quarantined": len(bad)},
        descriptions=extracted.descriptions,
    )


def _load_children(
    ctx: BuildContext,
    spec: SourceTable,
    extracted: Extracted,
    children: dict[str, str],
    parents: str,
    first_load: bool,
    bad: list[BadRecord],
    scratch: Path,
) -> int:
    """Commit the rows of every child table (parents before their children); return how many
    rows were written. `parents` scans the surviving records ("" when there are none)."""
    store, session = ctx.store, ctx.session
    keys = spec.table.primary_key
    merged = (
        not first_load
        and not ctx.full_refresh
        and (spec.mode == "merge" or (spec.mode == "incremental" and bool(keys)))
    )
    replaced = first_load or ctx.full_refresh or spec.mode == "replace"
    hard_delete = spec.table.delete_column if spec.table.delete == "hard" else None
    if parents and hard_delete and extracted.schema and hard_delete in extracted.schema.names:
        # children of a deleted record are removed with it, not loaded
        kept = f"(SELECT * FROM {parents} WHERE {identifier(hard_delete)} IS NOT TRUE)"
    else:
        kept = parents
    survivors: dict[str, str] = {"": kept}
    written = 0

    def depth(path: str) -> int:
        level = 0
        while path:
            path, level = children.get(path, ""), level + 1
        return level

    for path in sorted(children, key=lambda p: (depth(p), p)):
        target = child_ref(ctx.ref, path)
        child_ctx = ctx.for_table(
            dataclasses.replace(ctx.asset, key=target.key, name=target.name, parent=ctx.asset.key)
        )
        exists = store.exists(target) and not ctx.full_refresh
        current = store.snapshot(target).schema if exists else None
        staged = extracted.children.get(path)
        holders = survivors.get(children[path], "")
        rows_sql = ""
        plan_schema = current
        if staged is not None and staged.files and holders:
            assert staged.schema is not None
            staged.schema = _without(staged.schema, SEQ)
            plan = _plan(child_ctx, spec, staged, current, _staged_scan(staged.files), bad, [SEQ])
            plan_schema = plan.schema
            linked = (
                f"SELECT c.* FROM ({plan.select}) AS c WHERE EXISTS (SELECT 1 FROM {holders} "
                f"AS p WHERE p.{identifier(ID)} = c.{identifier(PARENT_ID)} "
                f"AND p.{identifier(SEQ)} = c.{identifier(SEQ)})"
            )
            survivors[path] = _materialize(ctx, linked, scratch / f"child-{path}")
            rows_sql = f"SELECT * EXCLUDE ({identifier(SEQ)}) FROM {survivors[path]}"
        if plan_schema is None:
            continue  # a child table that has never had a row
        before = store.current_version(target)
        if merged and exists:
            from headwater.build.merge import merge_changes

            roots = (
                f"SELECT DISTINCT {identifier(ID)} AS {identifier(ROOT_ID)} FROM {parents}"
                if parents
                else f"SELECT CAST(NULL AS VARCHAR) AS {identifier(ROOT_ID)} LIMIT 0"
            )
            outcome = merge_changes(
                child_ctx,
                rows_sql or _empty_rows(ctx, target),
                [ROOT_ID],
                f"ingest {spec.mode} (child rows)",
                replace_keys=roots,
            )
            if outcome.version is not None:
                ctx.companion_commits.append((target, before, outcome.version))
            written += outcome.changed_rows
            continue
        files: list[WrittenFile] = []
        rows = 0
        if rows_sql:
            out = session.write_parquet(
                rows_sql, store.new_file_dir(target, ctx.run_id), conform_to=plan_schema
            )
            files, rows = out.files, out.rows
        if not files and not (replaced and exists):
            continue
        version = store.commit_files(
            target,
            files,
            plan_schema,
            "overwrite" if replaced or not exists else "append",
            CommitInfo(
                ctx.run_id,
                f"ingest {spec.mode} (child rows)",
                extra={"headwater.rows": str(rows)},
            ),
            remove=[] if replaced else interrupted_files(store, ctx.ref, target, ctx.run_id),
        )
        ctx.companion_commits.append((target, before, version))
        written += rows
    return written


def _empty_rows(ctx: BuildContext, target: TableRef) -> str:
    """SQL with the columns of `target` and no rows."""
    snapshot = ctx.store.snapshot(target)
    ctx.session.register_table(target, snapshot)
    return f"SELECT * FROM {identifier(target.namespace)}.{identifier(target.name)} LIMIT 0"


def _materialize(ctx: BuildContext, sql: str, directory: Path) -> str:
    """Write the rows of `sql` to Parquet under `directory`; return a scan of them."""
    written = ctx.session.write_parquet(sql, directory)
    if not written.files:
        types = ctx.session.sql_types(written.schema)
        columns = ", ".join(f"CAST(NULL AS {t}) AS {identifier(n)}" for n, t in types.items())
        return f"(SELECT {columns} LIMIT 0)"
    return _staged_scan(written.files)


def _without(schema: pa.Schema, name: str) -> pa.Schema:
    return schema.remove(schema.get_field_index(name)) if name in schema.names else schema


def _staged_scan(files: list[WrittenFile]) -> str:
    if not files:
        return ""
    paths = "[" + ", ".join(literal(f.path) for f in files) + "]"
    return f"read_parquet({paths}, union_by_name = true)"


def _plan(
    ctx: BuildContext,
    spec: SourceTable,
    extracted: Extracted,
    table_schema: pa.Schema | None,
    staged: str,
    bad: list[BadRecord],
    keep: list[str] | None = None,
) -> _Plan:
    """Check the staged rows against the table under the contract and say how to write them.

    Columns in `keep` (staged, but not in `extracted.schema`) pass through the plan's SELECT
    untouched and are not part of the table."""
    keep = keep or []
    import pyarrow as pa

    incoming = extracted.schema if extracted.schema is not None else pa.schema([])
    if not staged:
        return _Plan(table_schema or incoming, "", rewrite=False)
    asset = ctx.asset.key
    single_schema = _files_agree(extracted)
    if table_schema is None:
        select = f"SELECT {column_list([*incoming.names, *keep])} FROM {staged}"
        return _Plan(incoming, select, rewrite=not single_schema or bool(keep))
    contract = spec.contract
    known = {f.name: f.type for f in table_schema}
    new = [f for f in incoming if f.name not in known]
    # Headwater's own link columns (`_hw_id` once a record first holds a list) are not the
    # source's schema: no contract applies to them
    system = [f for f in new if f.name.startswith(SYSTEM_PREFIX)]
    new = [f for f in new if not f.name.startswith(SYSTEM_PREFIX)]
    changes: list[str] = []
    widen: dict[str, pa.DataType] = {}
    cast: dict[str, pa.DataType] = {}
    for f in incoming:
        old = known.get(f.name)
        if old is None or old.equals(f.type):
            continue
        merged = widened(old, f.type)
        if merged is None:
            raise SourceError(
                f"column {f.name} of {asset} is {old} in the table but the source now sends "
                f"{f.type}; that change cannot be applied",
                Location(file=ctx.asset.rel_path, asset=asset, column=f.name),
                f"declare it under 'columns: {{{f.name}: ...}}' in the source table, or reload "
                "with --full-refresh",
            )
        if contract == "freeze" and not merged.equals(old):
            raise _frozen(ctx, f"column {f.name} would widen from {old} to {f.type}")
        if merged.equals(old):
            cast[f.name] = old
        else:
            widen[f.name] = merged
            changes.append(f"widened {f.name} {old} -> {merged}")
    if new and contract == "freeze":
        raise _frozen(ctx, f"new column {', '.join(f.name for f in new)}")
    where = ""
    dropped: set[str] = set()
    if new and contract == "discard_column":
        dropped = {f.name for f in new}
        changes.append(f"discarded new column {', '.join(sorted(dropped))}")
    elif new and contract == "discard_row":
        dropped = {f.name for f in new}
        using = " OR ".join(f"{identifier(n)} IS NOT NULL" for n in sorted(dropped))
        rejected = ctx.session.query(f"SELECT * FROM {staged} WHERE {using}").to_pylist()
        for row in rejected:
            present = sorted(n for n in dropped if row.get(n) is not None)
            bad.append(
                BadRecord(
                    f"{spec.source_name}.{spec.name}",
                    "schema",
                    f"uses new column {', '.join(present)} (contract discard_row)",
                    _row_text(row),
                    present[0],
                )
            )
        where = f" WHERE NOT ({using})"
        changes.append(f"discarded {len(rejected)} rows using new columns")
    elif new:
        changes.append(f"added column {', '.join(f.name for f in new)}")
    final_fields = [
        pa.field(f.name, widen.get(f.name, f.type), nullable=True) for f in table_schema
    ] + [pa.field(f.name, f.type, nullable=True) for f in [*new, *system] if f.name not in dropped]
    schema = pa.schema(final_fields)
    present = [f.name for f in incoming if f.name not in dropped]
    select = f"SELECT {column_list([*present, *keep])} FROM {staged}{where}"
    rewrite = bool(cast or widen or dropped or where or not single_schema or keep)
    if rewrite:
        select = _cast_select(ctx, present, schema, staged, where, keep)
    return _Plan(schema, select, rewrite, widen_table=bool(widen), changes=changes)


def _commit(
    ctx: BuildContext,
    spec: SourceTable,
    extracted: Extracted,
    plan: _Plan,
    table_schema: pa.Schema | None,
) -> tuple[int, int]:
    """Write the staged rows per the load mode in one commit; return (version, rows)."""
    store, ref, session = ctx.store, ctx.ref, ctx.session
    mode = spec.mode
    keys = spec.table.primary_key
    if not plan.select:
        # nothing new but the state moved (e.g. empty files seen): an empty commit records it
        version = store.commit_files(
            ref, [], plan.schema, "append", ctx.commit_info(f"ingest {mode}", 0)
        )
        return version, 0
    deduped = _deduplicated(plan.select, keys, spec.table.cursor)
    if table_schema is not None and (mode == "merge" or (mode == "incremental" and keys)):
        from headwater.build.merge import merge_changes

        if plan.widen_table:
            _widen_existing(ctx, plan)
        outcome = merge_changes(
            ctx,
            deduped,
            keys,
            f"ingest {mode}",
            delete_column=spec.table.delete_column if spec.table.delete == "hard" else None,
        )
        if outcome.version is None:
            version = store.commit_files(
                ref, [], plan.schema, "append", ctx.commit_info(f"ingest {mode}", 0)
            )
            return version, 0
        return outcome.version, outcome.changed_rows
    replace = mode == "replace" or table_schema is None or plan.widen_table
    hard_delete = spec.table.delete_column if spec.table.delete == "hard" else None
    if hard_delete not in plan.schema.names:
        hard_delete = None  # no row says it is deleted
    if mode == "replace" or table_schema is None:
        source_sql = deduped if keys else plan.select
        if hard_delete:
            source_sql = f"SELECT * FROM ({source_sql}) WHERE {identifier(hard_delete)} IS NOT TRUE"
        files, rows = _files_for(
            ctx, extracted, plan, source_sql, rewrite=bool(keys or hard_delete)
        )
    elif plan.widen_table:
        # an append that widens a column rewrites the existing rows too, in the same commit
        rows = int(session.query(f"SELECT count(*) AS n FROM ({plan.select})").column("n")[0])
        union = f"({_existing_rows(ctx, plan)}) UNION ALL BY NAME ({plan.select})"
        written = session.write_parquet(
            union, store.new_file_dir(ref, ctx.run_id), conform_to=plan.schema
        )
        files = written.files
    else:
        files, rows = _files_for(ctx, extracted, plan, plan.select, rewrite=False)
    version = ctx.publish(
        files,
        plan.schema,
        "overwrite" if replace else "append",
        ctx.commit_info(f"ingest {mode}", rows),
    )
    return version, rows


def _files_for(
    ctx: BuildContext, extracted: Extracted, plan: _Plan, sql: str, rewrite: bool
) -> tuple[list[WrittenFile], int]:
    """The staged files themselves when they fit, else a rewrite of `sql`."""
    if not plan.rewrite and not rewrite:
        return extracted.files, extracted.rows
    written = ctx.session.write_parquet(
        sql, ctx.store.new_file_dir(ctx.ref, ctx.run_id), conform_to=plan.schema
    )
    for file in extracted.files:
        _remove(file.path)
    return written.files, written.rows


def _widen_existing(ctx: BuildContext, plan: _Plan) -> None:
    """Rewrite the table's rows with its widened column types (one overwrite commit, no state
    change), before a merge that needs them."""
    written = ctx.session.write_parquet(
        _existing_rows(ctx, plan),
        ctx.store.new_file_dir(ctx.ref, ctx.run_id),
        conform_to=plan.schema,
    )
    # no idempotency key: it is not the build's commit, which follows with the build's key
    ctx.store.commit_files(
        ctx.ref,
        written.files,
        plan.schema,
        "overwrite",
        CommitInfo(ctx.run_id, "ingest widen types", extra={"headwater.rows": str(written.rows)}),
    )


def _existing_rows(ctx: BuildContext, plan: _Plan) -> str:
    snapshot = ctx.store.snapshot(ctx.ref)
    ctx.session.register_table(ctx.ref, snapshot)
    casts = ", ".join(
        f"CAST({identifier(f.name)} AS {ctx.session.sql_types(plan.schema)[f.name]}) "
        f"AS {identifier(f.name)}"
        for f in snapshot.schema
    )
    return f"SELECT {casts} FROM {identifier(ctx.ref.namespace)}.{identifier(ctx.ref.name)}"


def _deduplicated(
    select: str, keys: list[str], cursor: str | None, read_order: str | None = None
) -> str:
    """`select` keeping one row per key: the one with the highest cursor, then the last read
    (by column `read_order`, when the rows have one)."""
    if not keys:
        return select
    order = (
        ", ".join(
            [
                *([f"{identifier(cursor)} DESC NULLS LAST"] if cursor else []),
                *([f"{identifier(read_order)} DESC"] if read_order else []),
            ]
        )
        or "1"
    )
    return (
        f"SELECT * FROM ({select}) QUALIFY row_number() OVER "
        f"(PARTITION BY {column_list(keys)} ORDER BY {order}) = 1"
    )


def _cast_select(
    ctx: BuildContext,
    present: list[str],
    schema: pa.Schema,
    staged: str,
    where: str,
    keep: list[str],
) -> str:
    types = ctx.session.sql_types(schema)
    columns = [f"CAST({identifier(n)} AS {types[n]}) AS {identifier(n)}" for n in present]
    columns += [identifier(n) for n in keep]
    return f"SELECT {', '.join(columns)} FROM {staged}{where}"


def _files_agree(extracted: Extracted) -> bool:
    """Whether every staged file has the extract's schema (else a rewrite unifies them)."""
    import pyarrow.parquet as pq

    if extracted.schema is None:
        return True
    return all(
        pq.read_schema(f.path).remove_metadata().equals(extracted.schema.remove_metadata())
        for f in extracted.files
    )


def _frozen(ctx: BuildContext, what: str) -> SourceError:
    return SourceError(
        f"the schema of {ctx.asset.key} is frozen (contract: freeze) but the source changed: "
        f"{what}; nothing was loaded",
        Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
        "change the source back, or set 'contract: evolve' for this table",
    )


def _row_text(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, default=str)


def _max(old: Any, new: Any) -> Any:
    if old is None:
        return new
    try:
        return max(_comparable(old, new), new)
    except TypeError:
        return new


def _comparable(old: Any, new: Any) -> Any:
    """The stored cursor (JSON text for dates and times) in the type of the new value."""
    import datetime as dt

    if isinstance(new, dt.datetime) and isinstance(old, str):
        parsed = dt.datetime.fromisoformat(old)
        if new.tzinfo is None and parsed.tzinfo is not None:
            parsed = parsed.replace(tzinfo=None)
        return parsed
    if isinstance(new, dt.date) and isinstance(old, str):
        return dt.date.fromisoformat(old)
    return old


def _jsonable(value: Any) -> Any:
    import datetime as dt
    import decimal

    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _remove(path: str) -> None:
    import contextlib
    import os

    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


register(BuildKind.INGEST, load_source_table)
register(BuildKind.NESTED, child_table_result)
