"""Load one source table: extract what is new, apply the schema contract and load mode, commit.

The order is what makes a load safe to kill at any moment:

1. the extractor registered for the source's kind (`extractors.py`) stages the new rows as
   Parquet in the table's folder (invisible to readers);
2. records it could not read go to the quarantine table (see `quarantine.py`);
3. one commit to the table adds the rows and carries the state they bring us to (cursor, files
   seen, see `state.py`), so the table and its cursor move together or not at all.

Staged files are committed as they are when they already have the table's shape (the common
case: an append or replace of a known schema), so most loads write each row once; the schema
contract decides that (`contract.py`) and the load mode how they are committed (`commit.py`).

Records with nested lists also fill child tables (`<table>__<path>`, see `records.py`). They are
committed before the table itself, in the table's load mode: replaced with it, appended with it
(dropping the rows of a run whose table commit never landed), or, for merged tables, every child
row of a changed record is replaced. A load killed between the two commits therefore leaves
children that the next load of the same records puts right.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.builders import register
from headwater.build.context import BuildContext, BuildResult
from headwater.build.suppression import skipped_note, without_erased
from headwater.errors import Location, SourceError
from headwater.ingest.base import BadRecord, Extracted, ExtractRequest
from headwater.ingest.commit import commit_rows, deduplicated, remove_file
from headwater.ingest.contract import plan_write
from headwater.ingest.extractors import extractor_for
from headwater.ingest.quarantine import write_quarantine
from headwater.ingest.records import ID, PARENT_ID, ROOT_ID, SEPARATOR, SEQ
from headwater.ingest.state import advanced_cursor, committed_state, encode_state
from headwater.project.kinds import BuildKind
from headwater.project.sources import SourceTable
from headwater.sqltext import identifier
from headwater.storage.base import CommitInfo, TableRef, WrittenFile
from headwater.storage.companions import interrupted_files, quarantine_ref

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession


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
        ctx.definition.root,
        previous,
        table_schema,
        scratch,
        ctx.asset.rel_path,
        child_schemas,
        ctx.asset.document,
    )
    try:
        extracted = extractor_for(spec.source.kind).extract(request)
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
    staged = _staged_scan(session, extracted.files)
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
    plan = plan_write(ctx, spec, extracted, table_schema_for_plan, staged, bad, keep)
    parents = ""
    if keep and plan.select:
        # the records that survive deduplication (and quarantine): the table's new rows, and
        # the parents whose children are kept
        deduped = deduplicated(plan.select, spec.table.primary_key, cursor, SEQ)
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
            state["cursor"] = advanced_cursor(previous.get("cursor"), value)
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
    ctx.may_commit()
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
    skipped = 0
    if plan.select:
        plan.select, skipped = without_erased(ctx.session, ctx.suppression, plan.select)
    ctx.commit_extra = encode_state(state)
    ctx.fault("before_commit")
    version, rows = commit_rows(ctx, spec, extracted, plan, table_schema)
    ctx.fault("after_commit")
    for child in extracted.children.values():
        for file in child.files:
            remove_file(file.path)
    quarantined = f", {len(bad)} quarantined" if bad else ""
    into = f", {child_rows} into child tables" if child_rows else ""
    changes = f" ({'; '.join(plan.changes)})" if plan.changes else ""
    return BuildResult(
        rows=rows,
        version=version,
        message=f"loaded {rows} rows{into}{quarantined}{skipped_note(skipped)}{changes}",
        state={**state, "quarantined": len(bad), "suppressed": skipped},
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
            scan = _staged_scan(ctx.session, staged.files)
            plan = plan_write(child_ctx, spec, staged, current, scan, bad, [SEQ])
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
        ctx.may_commit()
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
    return _staged_scan(ctx.session, written.files)


def _without(schema: pa.Schema, name: str) -> pa.Schema:
    return schema.remove(schema.get_field_index(name)) if name in schema.names else schema


def _staged_scan(session: EngineSession, files: list[WrittenFile]) -> str:
    """A scan of staged files ("" when there are none)."""
    if not files:
        return ""
    # staged files are never partitioned: a `key=value` folder above the project is no column
    return session.scan_parquet([f.path for f in files], hive_partitioning=False)


register(BuildKind.INGEST, load_source_table)
register(BuildKind.NESTED, child_table_result)
