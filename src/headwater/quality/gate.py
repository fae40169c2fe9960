"""Write, audit, publish: a new table version is committed only after it passes.

The builder has written the new version's files but not committed them, so readers cannot see
them. The gate then, in order:

1. checks the contract: the declared columns, their types (and, in the audit, nullability);
2. moves the rows failing a `quarantine` check to `<table>__quarantine`, with the checks they
   failed and the row as JSON, keeping the passing rows (rows in = rows published + rows
   quarantined);
3. audits the version the commit would make (the new files, plus the current ones an append or
   merge keeps) with every other check, and records the table's metrics in the same scan.

A contract mismatch or a failing `error` check raises: the files move to `<table>__failed`,
where they can be queried, and the published table stays at its previous version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.build.context import Admitted, BuildContext
from headwater.errors import Location, ModelError
from headwater.project.checks import Check, NotNull, Relationships
from headwater.project.config import ColumnConfig
from headwater.quality import rules
from headwater.quality.audit import Auditor, AuditReport, AuditTarget, History
from headwater.sqltext import identifier, literal, qualified
from headwater.storage.base import CommitInfo, DataFile, Snapshot, TableRef, WriteMode, WrittenFile
from headwater.storage.companions import (
    failed_ref,
    interrupted_files,
    quarantine_ref,
    quarantine_schema,
)

if TYPE_CHECKING:
    import pyarrow as pa

AUDIT_PREFIX = "__hw_audit_"


class ChecksFailedError(ModelError):
    """A contract or an `error` check kept a new version from being published."""

    def __init__(self, message: str, location: Location, hint: str, report: AuditReport | None):
        super().__init__(message, location, hint)
        self.report = report


@dataclass
class QualityGate:
    """The publish gate of one asset."""

    checks: list[Check]
    contract: list[ColumnConfig] | None
    """The declared columns when the contract is enforced."""
    parent: Callable[[str], str]
    """An asset name (a relationship's `to`) -> SQL naming its rows in the session."""
    history: History
    key_columns: list[str] = field(default_factory=list)
    metrics: bool = True
    previous_schema: Callable[[], str | None] = lambda: None
    """The schema last recorded for the asset (a change is reported as an anomaly)."""

    def admit(
        self,
        ctx: BuildContext,
        files: list[WrittenFile],
        schema: pa.Schema,
        mode: WriteMode,
        remove: list[DataFile],
        partition_by: list[str],
        fresh: list[WrittenFile] | None = None,
    ) -> Admitted:
        """Audit the version `files` would make; return what to publish, or raise. Only the
        rows of `fresh` (default: all of `files`) are new, and only they can be quarantined:
        rows a build merely carries over (a merge's rewrite, another partition's) are not."""
        _refuse_unknown_columns(ctx, schema.names, files)
        checks = list(self.checks)
        if self.contract is not None:
            problems = contract_problems(ctx, schema, self.contract)
            if problems:
                self._set_aside(ctx, files, schema, partition_by)
                raise ChecksFailedError(
                    f"{ctx.asset.key} breaks its contract; nothing was published:\n    "
                    + "\n    ".join(problems),
                    Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
                    "change the model's SQL to produce the declared columns, or update "
                    f"'columns' in its sidecar; the output is in {failed_ref(ctx.ref)}",
                    None,
                )
            checks += [
                NotNull.model_validate(
                    {"type": "not_null", "column": c.name, "name": f"contract_not_null_{c.name}"}
                )
                for c in self.contract
                if not c.nullable
            ]
        rows: int | None = None
        quarantined = 0
        held = [c for c in checks if c.on_fail == "quarantine"]
        new = list(files) if fresh is None else [f for f in files if f in fresh]
        if held and new:
            carried = [f for f in files if f not in new]
            passing, rows, quarantined = self._quarantine(ctx, new, schema, partition_by, held)
            files = [*carried, *passing]
        target = self._pending(ctx, files, schema, mode, remove, partition_by)
        auditor = Auditor(ctx.session, self.parent, self.history, metrics=self.metrics)
        report = auditor.audit(
            target,
            checks,
            skip={c.label for c in held},
            previous_schema=self.previous_schema() if self.metrics else None,
        )
        if report.blocking:
            self._set_aside(ctx, files, schema, partition_by)
            failed = "; ".join(f"{r.name}: {r.message}" for r in report.blocking)
            raise ChecksFailedError(
                f"{ctx.asset.key} failed {len(report.blocking)} of {len(report.results)} checks; "
                f"its new version was not published ({failed})",
                Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
                f"the table keeps its previous version; inspect the rows in "
                f"{failed_ref(ctx.ref)} and 'headwater checks history {ctx.asset.key}'",
                report,
            )
        return Admitted(files, rows, quarantined, report)

    def screen(
        self, ctx: BuildContext, files: list[WrittenFile], schema: pa.Schema
    ) -> tuple[list[WrittenFile], int | None, int]:
        """Quarantine the failing rows of new rows staged in `files` before a build combines
        them with rows it carries over (a merge); return the passing files (new files in the
        table's folder when any row moved), their row count (None: unchanged) and how many
        rows were quarantined."""
        held = [c for c in self.checks if c.on_fail == "quarantine"]
        if not held or not files:
            return files, None, 0
        _refuse_unknown_columns(ctx, schema.names, [])
        return self._quarantine(ctx, files, schema, [], held, keep_originals=True)

    def inspect(self, ctx: BuildContext, relation: str) -> Admitted:
        """Audit a view's rows (nothing is stored, so nothing is set aside or measured)."""
        schema = ctx.session.schema(f"SELECT * FROM {relation}")
        _refuse_unknown_columns(ctx, schema.names, [])
        target = AuditTarget(relation, ctx.asset.key, schema, self.key_columns)
        report = Auditor(ctx.session, self.parent, self.history, metrics=False).audit(
            target, self.checks
        )
        if report.blocking:
            failed = "; ".join(f"{r.name}: {r.message}" for r in report.blocking)
            raise ChecksFailedError(
                f"{ctx.asset.key} failed {len(report.blocking)} of {len(report.results)} checks "
                f"({failed})",
                Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
                f"models reading it are skipped; see 'headwater checks history {ctx.asset.key}'",
                report,
            )
        return Admitted([], None, 0, report)

    def admitted_predicate(self) -> str | None:
        """SQL true for a new row that no `quarantine` check sets aside (None: no check
        quarantines): the rows `admit` publishes, for a build that vets them first."""
        held = [c for c in self.checks if c.on_fail == "quarantine"]
        if not held:
            return None
        return f"NOT ({' OR '.join(p for _, p in self._failing(held))})"

    def _failing(self, held: list[Check]) -> list[tuple[Check, str]]:
        """Each quarantine check with the SQL true for a row it sets aside."""
        predicates: list[tuple[Check, str]] = []
        for check in held:
            parent = self.parent(check.to) if isinstance(check, Relationships) else None
            predicate = rules.failing_predicate(check, parent)
            assert predicate is not None
            predicates.append((check, predicate))
        return predicates

    # -- the version under audit -----------------------------------------------------------

    def _pending(
        self,
        ctx: BuildContext,
        files: list[WrittenFile],
        schema: pa.Schema,
        mode: WriteMode,
        remove: list[DataFile],
        partition_by: list[str],
    ) -> AuditTarget:
        """Register the version the commit would make as a view and describe it."""
        location = ctx.store.location(ctx.ref)
        kept: list[DataFile] = []
        if mode == "append" and ctx.store.exists(ctx.ref):
            gone = {f.relative_path for f in remove}
            kept = [f for f in ctx.store.snapshot(ctx.ref).files if f.relative_path not in gone]
        new = [
            DataFile(
                f.path,
                os.path.relpath(f.path, location),
                os.path.getsize(f.path),
                None,
                dict(f.partition_values),
            )
            for f in files
        ]
        # a name of its own: several builds (partitions of one table) may audit at once
        view = TableRef(ctx.ref.namespace, f"{AUDIT_PREFIX}{ctx.ref.name}_{uuid.uuid4().hex[:8]}")
        pending = Snapshot(
            view, -1, (*kept, *new), schema, tuple(partition_by), False, str(location)
        )
        ctx.session.register_table(view, pending)
        return AuditTarget(qualified(view), ctx.asset.key, schema, self.key_columns)

    # -- quarantine ------------------------------------------------------------------------

    def _quarantine(
        self,
        ctx: BuildContext,
        files: list[WrittenFile],
        schema: pa.Schema,
        partition_by: list[str],
        held: list[Check],
        keep_originals: bool = False,
    ) -> tuple[list[WrittenFile], int | None, int]:
        """Split the new rows into passing files and quarantined rows; return the passing
        files, their row count and how many rows were quarantined (the original files are
        removed, unless `keep_originals`: their owner cleans them up)."""
        session = ctx.session
        scan = session.scan_parquet([f.path for f in files], hive_partitioning=bool(partition_by))
        predicates = self._failing(held)
        failing = " OR ".join(p for _, p in predicates)
        counts = session.query(
            f"SELECT count(*) AS n, count(*) FILTER (WHERE {failing}) AS bad FROM {scan}"
        ).to_pylist()[0]
        if not counts["bad"]:
            return files, None, 0
        target = quarantine_ref(ctx.ref)
        names = (
            "concat_ws(', ', "
            + ", ".join(f"CASE WHEN {p} THEN {literal(c.label)} END" for c, p in predicates)
            + ")"
        )
        reasons = (
            "concat_ws('; ', "
            + ", ".join(f"CASE WHEN {p} THEN {literal(describe(c))} END" for c, p in predicates)
            + ")"
        )
        column = (
            "CASE " + " ".join(f"WHEN {p} THEN {literal(c.column)}" for c, p in predicates) + " END"
        )
        now = literal(dt.datetime.now(dt.UTC).isoformat())
        rows_sql = (
            f"SELECT {literal(ctx.run_id)} AS run_id, CAST({now} AS TIMESTAMPTZ) AS "
            f"quarantined_at, CAST(NULL AS VARCHAR) AS source, {literal(ctx.asset.key)} AS "
            f"\"table\", 'check ' || {names} AS location, CAST(NULL AS BIGINT) AS line, "
            f"CAST({column} AS VARCHAR) AS {identifier('column')}, 'check' AS error_class, "
            f"{reasons} AS reason, CAST(to_json(t) AS VARCHAR) AS raw, "
            # every column of the quarantine's schema, so a read of the table finds each
            f"CAST(NULL AS BLOB) AS raw_bytes FROM {scan} AS t WHERE {failing}"
        )
        aside = session.write_parquet(
            rows_sql, ctx.store.new_file_dir(target, ctx.run_id), conform_to=quarantine_schema()
        )
        passing = session.write_parquet(
            f"SELECT * FROM {scan} WHERE NOT ({failing})",
            ctx.store.new_file_dir(ctx.ref, ctx.run_id),
            partition_by,
            conform_to=schema,
        )
        before = ctx.store.current_version(target)
        ctx.may_commit()
        landed = ctx.store.commit_files(
            target,
            aside.files,
            quarantine_schema(),
            "append",
            CommitInfo(ctx.run_id, "quarantine"),
            remove=interrupted_files(ctx.store, ctx.ref, target, ctx.run_id),
        )
        ctx.companion_commits.append((target, before, landed))
        if not keep_originals:
            for file in files:
                os.remove(file.path)
        return passing.files, passing.rows, aside.rows

    # -- failed versions -------------------------------------------------------------------

    def _set_aside(
        self,
        ctx: BuildContext,
        files: list[WrittenFile],
        schema: pa.Schema,
        partition_by: list[str],
    ) -> None:
        """Move the unpublished files to `<table>__failed` (replacing what it held)."""
        target = failed_ref(ctx.ref)
        ctx.may_commit()
        ctx.store.commit_files(
            target,
            ctx.store.move_files(ctx.ref, files, target),
            schema,
            "overwrite",
            CommitInfo(ctx.run_id, "failed audit"),
            partition_by=partition_by,
        )


def _refuse_unknown_columns(ctx: BuildContext, names: list[str], files: list[WrittenFile]) -> None:
    """Raise before the audit when the asset's checks or keys name a column its output lacks
    (known only now, from the built output): the YAML is at fault, not the rows, so the
    unpublished `files` are removed rather than kept for inspection."""
    from headwater.project.columns import column_error

    problem = column_error(ctx.asset, names)
    if problem is None:
        return
    for file in files:
        if os.path.exists(file.path):
            os.remove(file.path)
    where = dataclasses.replace(problem.location, asset=ctx.asset.key)
    raise ModelError(f"{problem.message}; nothing was published", where, problem.hint)


def contract_problems(
    ctx: BuildContext, schema: pa.Schema, columns: list[ColumnConfig]
) -> list[str]:
    """Each way the output's columns differ from the declared ones (empty when they agree)."""
    actual = ctx.session.sql_types(schema)
    declared = {c.name: c for c in columns}
    problems = [f"column {name} is declared but missing" for name in declared if name not in actual]
    problems += [
        f"column {name} ({kind}) is not declared"
        for name, kind in actual.items()
        if name not in declared
    ]
    for name, column in declared.items():
        if column.type and name in actual:
            wanted = _engine_type(ctx, column.type)
            if wanted is None:
                problems.append(f"column {name}: '{column.type}' is not a type DuckDB knows")
            elif wanted.upper() != actual[name].upper():
                problems.append(f"column {name} is {actual[name]}, declared {wanted}")
    return problems


def describe(check: Check) -> str:
    """A short sentence of what `check` asks, for quarantine reasons."""
    column = check.column or ""
    kind = check.type
    if kind == "not_null":
        return f"{column} is null"
    if kind == "accepted_values":
        return f"{column} not in {list(getattr(check, 'values', []))}"
    if kind in ("range", "between"):
        return f"{column} outside {getattr(check, 'min', None)}..{getattr(check, 'max', None)}"
    if kind == "regex":
        return f"{column} does not match {getattr(check, 'pattern', '')}"
    if kind == "relationships":
        return f"{column} not found in {getattr(check, 'to', '')}.{getattr(check, 'field', '')}"
    if kind == "expression":
        return f"not ({getattr(check, 'sql', '')})"
    return check.label


def _engine_type(ctx: BuildContext, declared: str) -> str | None:
    """The engine's canonical name of the declared column type (None: not a type it knows)."""
    try:
        schema = ctx.session.schema(f"SELECT CAST(NULL AS {declared}) AS v")
    except Exception:
        return None
    return ctx.session.sql_types(schema)["v"]
