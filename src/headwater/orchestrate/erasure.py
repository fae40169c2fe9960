"""`headwater erase`: remove one subject's data from every table and its history.

The plan (`headwater.governance.erasure`) says which columns of which assets hold the
subject's identity; every table of the warehouse is then matched: a planned table on its
planned columns, any other table (a change log, a stream's sink, a `__failed` copy, a table no
asset declares) on columns named like a planned one, and a table's quarantine by its records'
text (a rejected record is kept as it came). Each table holding a matching row is purged
(`headwater.storage.delta_purge`): its current version, the files of its older versions, its
log and checkpoints. Afterwards every file of those tables is searched for the subject's values;
a trace makes the erasure `incomplete` (and the command fail) rather than silently partial.

The erasure holds the run locks of every table it changes, so no build writes one meanwhile;
it is recorded in the catalog when it starts and when it ends, with its report, an audit record
and the suppression list that keeps the subject from coming back with the next load. The
subject appears in none of those except as a keyed hash (HMAC-SHA256 under the key of
`governance.masking.hash_key_env`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError, first_line
from headwater.governance.erasure import (
    GENERIC_KEYS,
    ErasurePlan,
    Subject,
    normalise,
    plan_erasure,
)
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.companions import QUARANTINE_SUFFIX

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.catalog.store import Catalog
    from headwater.governance.redaction import SubjectRedactor
    from headwater.lineage.graph import ColumnGraph, ColumnRef
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore
    from headwater.storage.delta import DeltaStore
    from headwater.storage.delta_purge import Matcher

ERASE_OPERATION = "ERASE"
"""The operation an erasure's commits are recorded under."""


@dataclass
class Target:
    """One table to search for the subject's rows, and what finds them."""

    ref: TableRef
    columns: dict[str, set[str]] = field(default_factory=dict)
    """Column -> the normalised values that mark the subject's rows."""
    patterns: list[str] = field(default_factory=list)
    """Regular expressions over the text columns (a quarantine's records)."""
    reasons: list[str] = field(default_factory=list)

    def matcher(self) -> Matcher:
        """What picks the subject's rows of one of the table's files."""
        return _matcher(dict(self.columns), list(self.patterns))


@dataclass
class ErasureReport:
    """What an erasure did (or, dry, would do): per table, rows removed, older files deleted
    and versions made unreadable; where a trace of the subject remains (none, when complete)."""

    erasure_id: str
    subject_table: str
    subject_hash: str
    dry_run: bool
    tables: list[dict[str, Any]] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    """The source or seed columns whose values the next loads skip."""
    catalog: dict[str, int] = field(default_factory=dict)
    """Text of the catalog (`table.column`) and lineage files rewritten without the subject:
    rows or lines changed."""
    audit_records: list[int] = field(default_factory=list)
    """The audit records redacted (a `redaction` record vouches for their new content)."""

    @property
    def complete(self) -> bool:
        """Whether nothing of the subject was found afterwards."""
        return not self.traces

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (it names no value of the subject)."""
        return {
            "erasure": self.erasure_id,
            "subject_table": self.subject_table,
            "subject_hash": self.subject_hash,
            "dry_run": self.dry_run,
            "tables": self.tables,
            "traces": self.traces,
            "suppressed": self.suppressed,
            "catalog": self.catalog,
            "audit_records": self.audit_records,
        }


def erase(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    graph: ColumnGraph,
    subject_text: str,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ErasureReport:
    """Erase the subject `subject_text` (`namespace.table.column=value`) from every table of
    the warehouse and from their history; with `dry_run`, only say where its rows are.

    Returns:
        The report; `complete` is False when a trace of the subject remains.

    Raises:
        UsageError: the subject is malformed or not found, the store cannot purge, the hash
            key is not set, or a run holds one of the tables.
    """
    from headwater.catalog import erasures as records
    from headwater.catalog.audit import operator
    from headwater.catalog.scrub import catalog_traces
    from headwater.governance.classification import classify
    from headwater.orchestrate.lock import RunLocks
    from headwater.storage.delta import DeltaStore
    from headwater.storage.delta_purge import rows_matching

    tell = progress or (lambda _: None)
    if not isinstance(store, DeltaStore):
        raise UsageError(
            "erasure needs tables in Delta Lake (a warehouse folder or S3)",
            hint="set warehouse: to a folder or an s3:// location",
        )
    subject = Subject.parse(subject_text, definition)
    key = _hash_key(definition, environ)
    ref = TableRef.parse(subject.asset)
    if not store.exists(ref):
        raise UsageError(
            f"{subject.asset} has not been built, so it holds no subject",
            hint=f"headwater run -s {subject.asset}",
        )
    column = _column_of(store, ref, subject)
    subject = Subject(subject.asset, column, subject.value)
    found = rows_matching(store, ref, _matcher({column: {normalise(subject.value)}}, []))
    plan = plan_erasure(definition, graph, classify(definition, graph), subject, found)
    subject_hash = records.keyed_hash(
        key, f"{subject.asset}.{column.lower()}={normalise(subject.value)}"
    )
    report = ErasureReport(uuid.uuid4().hex, subject.asset, subject_hash, dry_run)
    targets = _cascade(definition, store, graph, plan)
    if dry_run:
        for target in targets:
            rows = _current_rows(store, target)
            if rows:
                report.tables.append(
                    {"table": target.ref.key, "rows": rows, "why": sorted(target.reasons)}
                )
        return report
    who = actor or operator()
    locks = RunLocks(catalog, definition.state_dir, report.erasure_id, "erase")
    from headwater.catalog.locks import Claim

    locks.acquire(Claim(target.ref.key) for target in targets)
    try:
        redactor = _redactor(plan, targets)
        # before anything is purged: the suppression list holds, and the catalog's text is
        # scrubbed, so an erasure that stops halfway (the subject's values are then gone from
        # its tables, and a second erasure cannot find them) has done both already
        records.start(
            catalog,
            report.erasure_id,
            who,
            subject.asset,
            subject_hash,
            _suppressions(definition, targets, key),
        )
        _scrub_text(definition, catalog, redactor, who, report, key)
        try:
            _purge(store, targets, plan, report, tell)
            # again: what was written while the tables were purged
            _scrub_text(definition, catalog, redactor, who, report, key)
            report.traces += catalog_traces(catalog, redactor)
        except Exception as error:
            report.traces.append(f"the erasure stopped: {first_line(error)}")
            records.finish(
                catalog, report.erasure_id, who, records.INCOMPLETE, report.as_dict(), ()
            )
            raise
        held = {t["table"] for t in report.tables}
        suppressions = _suppressions(definition, [t for t in targets if t.ref.key in held], key)
        report.suppressed = sorted({f"{asset}.{column}" for asset, column, _ in suppressions})
        status = records.COMPLETE if report.complete else records.INCOMPLETE
        records.finish(catalog, report.erasure_id, who, status, report.as_dict(), suppressions)
    finally:
        locks.release()
    return report


def _purge(
    store: DeltaStore,
    targets: list[Target],
    plan: ErasurePlan,
    report: ErasureReport,
    tell: Callable[[str], None],
) -> None:
    """Purge every target of the subject's rows, current and past, and search its files
    afterwards (a trace goes into `report`)."""
    from headwater.storage.delta_purge import purge_rows, traces

    commit = CommitInfo(report.erasure_id, ERASE_OPERATION, extra={"erasure": report.erasure_id})
    for target in targets:
        purged = purge_rows(
            store, target.ref, target.matcher(), plan.texts, commit, report.erasure_id
        )
        if purged.rows or purged.history_files:
            tell(
                f"{target.ref.key}: {purged.rows} rows removed, "
                f"{len(purged.history_files)} older files deleted"
            )
            report.tables.append({**purged.as_dict(), "why": sorted(target.reasons)})
    words = {t for t in plan.texts if not _numeric({normalise(t)})}
    for target in targets:
        numbers = {c: v for c, v in target.columns.items() if _numeric(v)}
        report.traces += traces(store, target.ref, words, numbers)


def _scrub_text(
    definition: ProjectDefinition,
    catalog: Catalog,
    redactor: SubjectRedactor,
    actor: str,
    report: ErasureReport,
    key: str,
) -> None:
    """Take the subject out of the catalog's text and the project's OpenLineage files,
    adding what changed to `report`."""
    from headwater.catalog.scrub import scrub

    scrubbed = scrub(catalog, redactor, actor, report.erasure_id, key)
    for where, count in {**scrubbed.rows, **_scrub_lineage_files(definition, redactor)}.items():
        report.catalog[where] = report.catalog.get(where, 0) + count
    report.audit_records = sorted({*report.audit_records, *scrubbed.audit_records})


def _hash_key(definition: ProjectDefinition, environ: Mapping[str, str] | None) -> str:
    """The key the subject is recorded under (that of masking's `hash`)."""
    name = definition.config.governance.masking.hash_key_env
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        raise UsageError(
            f"an erasure records its subject as a keyed hash, and the environment variable "
            f"{name} holding the key is not set",
            hint=f"set {name} (the key of masking's hash; keep it secret and the same everywhere)",
        )
    return value


def _column_of(store: TableStore, ref: TableRef, subject: Subject) -> str:
    """The subject's column as its table spells it."""
    names: list[str] = list(store.snapshot(ref).schema.names)
    spelled = {n.lower(): n for n in names}
    if subject.column.lower() in spelled:
        return spelled[subject.column.lower()]
    from headwater.project.yamlfile import closest

    near = closest(subject.column, names)
    raise UsageError(
        f"{subject.asset} has no column {subject.column}",
        hint=f"did you mean {near}?" if near else f"its columns: {', '.join(names)}",
    )


def _targets(store: TableStore, plan: ErasurePlan) -> list[Target]:
    """Every table of the warehouse that may hold the subject's rows, with what finds them."""
    by_name = {n: v for n, v in plan.by_name().items() if n not in GENERIC_KEYS}
    texts = sorted(
        {
            value
            for column, values in plan.identity.items()
            if not _numeric(values)
            for value in values
            if len(value) >= 4
        }
    )
    keys = {column: values for column, values in plan.identity.items() if _numeric(values)}
    found: list[Target] = []
    for ref in sorted(store.list_tables(), key=lambda r: r.key):
        try:
            names = store.snapshot(ref).schema.names
        except Exception:  # a damaged or half-created table: reported by its own checks
            continue
        target = Target(ref)
        planned = plan.tables.get(ref.key)
        spelled = {n.lower(): n for n in names}
        if planned is not None:
            for column, values in planned.columns.items():
                if column.lower() in spelled:
                    target.columns.setdefault(spelled[column.lower()], set()).update(values)
            target.reasons += sorted(planned.reasons)
        for lower, values in by_name.items():
            if lower in spelled and spelled[lower] not in target.columns:
                target.columns[spelled[lower]] = set(values)
                target.reasons.append(f"has a column named {spelled[lower]}")
        if ref.name.endswith(QUARANTINE_SUFFIX):
            import re

            target.patterns += [re.escape(text) for text in texts]
            target.patterns += [
                rf'"{re.escape(column)}"\s*:\s*"?{re.escape(value)}"?\s*[,}}]'
                for column, values in keys.items()
                for value in values
            ]
            target.reasons.append("a quarantine: its records' text")
        if target.columns or target.patterns:
            found.append(target)
    return found


def _cascade(
    definition: ProjectDefinition, store: DeltaStore, graph: ColumnGraph, plan: ErasurePlan
) -> list[Target]:
    """The targets of `plan`, grown by the rows that reference the subject's rows: an order
    line whose order is the subject's (a `relationships` check from it to the orders) is the
    subject's too, and so is everything derived from it."""
    from headwater.governance.erasure import normalise
    from headwater.storage.delta_purge import rows_matching

    followed: set[tuple[str, str, ColumnRef]] = set()
    while True:
        targets = _targets(store, plan)
        by_key = {target.ref.key: target for target in targets}
        seeds: list[tuple[ColumnRef, set[str], str]] = []
        for asset, pairs in sorted(plan.referencing(definition).items()):
            target = by_key.get(asset)
            pending = [(c, r) for c, r in pairs if (asset, c, r) not in followed]
            if target is None or not pending:
                continue
            rows = rows_matching(store, target.ref, target.matcher())
            spelled = {name.lower(): name for name in rows.column_names}
            for column, ref in pending:
                followed.add((asset, column, ref))
                if column not in spelled:
                    continue
                found = rows.column(spelled[column]).to_pylist()
                values = {normalise(v) for v in found if v is not None}
                why = f"references the subject's rows of {asset} by {spelled[column]}"
                seeds.append((ref, values, why))
        if not seeds:
            return targets
        plan.reach(definition, graph, seeds)


def _numeric(values: set[str]) -> bool:
    return all(v.lstrip("-").replace(".", "", 1).isdigit() for v in values)


def _matcher(columns: dict[str, set[str]], patterns: list[str]) -> Matcher:
    """Rows where a column's normalised text is one of its values, or a text column matches
    one of `patterns` (case-insensitive)."""

    def matches(table: pa.Table) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        mask = pa.array([False] * table.num_rows, pa.bool_())
        for name, values in columns.items():
            if name not in table.column_names or not values:
                continue
            column = table.column(name)
            if pa.types.is_nested(column.type):
                continue
            text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string())))
            hit = pc.is_in(text, value_set=pa.array(sorted(values), pa.string()))
            mask = pc.or_(mask, pc.fill_null(hit, False))
        if patterns:
            pattern = "(?i)(" + "|".join(patterns) + ")"
            for name in table.column_names:
                column = table.column(name)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    hit = pc.match_substring_regex(column, pattern)
                    mask = pc.or_(mask, pc.fill_null(hit, False))
        return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask

    return matches


def _current_rows(store: TableStore, target: Target) -> int:
    """How many rows of the table's current version the target picks."""
    import pyarrow.compute as pc

    snapshot = store.snapshot(target.ref)
    table = store.arrow_dataset(snapshot).to_table()
    return int(pc.sum(target.matcher()(table)).as_py() or 0)


def _redactor(plan: ErasurePlan, targets: list[Target]) -> SubjectRedactor:
    """What takes the subject's values out of the catalog's text: its values of text four
    characters or longer (a shorter one, `FR`, is too common a word to tell apart in free
    text), its numbers of six digits or more (a phone or an id written as digits), and the
    numeric values of the columns its rows were matched on (keys, replaced only where SQL
    compares them with their column)."""
    from headwater.governance.redaction import SubjectRedactor

    texts = frozenset(
        t
        for t in plan.texts
        if (len(t) >= 4 and not _numeric({normalise(t)}))
        or (_numeric({normalise(t)}) and len(t.strip().lstrip("-").replace(".", "")) >= 6)
    )
    numbers: dict[str, set[str]] = {}
    for target in targets:
        for column, values in target.columns.items():
            if values and _numeric(values):
                numbers.setdefault(column.lower(), set()).update(values)
    return SubjectRedactor(texts, {c: frozenset(v) for c, v in numbers.items()})


def _scrub_lineage_files(
    definition: ProjectDefinition, redactor: SubjectRedactor
) -> dict[str, int]:
    """Rewrite the OpenLineage files the project writes (an event's error message can quote a
    value) without the subject; the lines changed per file."""
    import json

    from headwater.lineage.openlineage import rewrite_events
    from headwater.project.config import FileTransport as FileConfig

    changed: dict[str, int] = {}
    for transport in definition.config.openlineage.transports:
        if not isinstance(transport, FileConfig):
            continue  # an HTTP endpoint keeps what it was sent: the receiver's to erase
        path = definition.root / os.path.expanduser(transport.path)
        if not path.is_file():
            continue

        def rewrite(line: str) -> str:
            try:
                event = json.loads(line)
            except ValueError:
                return redactor.text(line)
            redacted = redactor.json(event)
            if redacted == event:
                return line
            return json.dumps(redacted, separators=(",", ":")) + "\n"

        count = rewrite_events(path, rewrite)
        if count:
            shown = (
                path.relative_to(definition.root) if path.is_relative_to(definition.root) else path
            )
            changed[str(shown)] = count
    return changed


def _suppressions(
    definition: ProjectDefinition, targets: list[Target], key: str
) -> list[tuple[str, str, str]]:
    """The suppression entries of the erasure: for every table loaded from outside (a
    source's table or a seed) that held the subject, the values its rows were matched on, as
    (asset, column, keyed hash): the next load of it skips them."""
    from headwater.build.suppression import suppression_hash

    entries: list[tuple[str, str, str]] = []
    for target in targets:
        asset = definition.assets.get(target.ref.key)
        if asset is None or asset.sql is not None or asset.stream is not None:
            continue  # a model's next build reads its erased upstreams
        for column, values in sorted(target.columns.items()):
            entries += [(asset.key, column, suppression_hash(key, v)) for v in sorted(values)]
    return entries
