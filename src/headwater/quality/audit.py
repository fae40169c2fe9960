"""Run a table's checks and record its metrics, in as few scans as the checks allow.

One aggregate query computes the row count, every row check's failing count, the newest value of
each freshness column and the per-column metrics (null count, approximate distinct count,
min/max/mean of numbers, min/max of dates). Only what that pass cannot answer gets a query of its
own: a uniqueness check's GROUP BY (measured on TPC-H lineitem, a DISTINCT aggregate inside the
main pass made it take twice as long and four times the memory), a relationship's anti-join, a
custom SQL check, and a bounded sample of the failing rows of each failed check. A check whose
SQL is itself wrong is reported as `error`; the others still run. The metrics' aggregates and
how they are read back are `metrics.MetricPlan`'s; the check SQL is `rules`'.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import CheckStatus
from headwater.errors import first_line
from headwater.project.checks import (
    Anomaly,
    Check,
    Freshness,
    Relationships,
    RowCount,
    SqlCheck,
    Unique,
    duration_seconds,
)
from headwater.quality import rules
from headwater.quality.anomaly import Band, robust_band
from headwater.quality.metrics import ROWS, MetricPlan, MetricValue, as_utc, metric_now
from headwater.quality.schema_change import schema_change
from headwater.sqltext import identifier

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession

SAMPLE_ROWS = 5
SAMPLE_CONTEXT_COLUMNS = 3
History = Callable[[str, str | None], list[float]]
"""(metric, column) -> earlier recorded values, newest first."""


@dataclass
class CheckResult:
    """The verdict on one check of one table version."""

    name: str
    type: str
    column: str | None
    severity: str
    status: CheckStatus
    """`pass`, `warn` (a warn-severity failure), `fail`, `error` (the check itself failed to
    run) or `quarantined` (its failing rows were moved to the quarantine table)."""
    failing: int | None = None
    total: int | None = None
    message: str = ""
    sql: str = ""
    """The SQL that finds the failing rows (names the table as readers know it)."""
    sample: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocks(self) -> bool:
        """True when this result keeps the version from being published."""
        return self.status in (CheckStatus.FAIL, CheckStatus.ERROR) and self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the result."""
        return {
            "name": self.name,
            "type": self.type,
            "column": self.column,
            "severity": self.severity,
            "status": self.status,
            "failing": self.failing,
            "total": self.total,
            "message": self.message,
            "sql": self.sql,
            "sample": json.loads(json.dumps(self.sample, default=str)),
        }


@dataclass
class AuditReport:
    """Every check result and metric of one table version."""

    rows: int
    results: list[CheckResult] = field(default_factory=list)
    metrics: list[MetricValue] = field(default_factory=list)

    @property
    def blocking(self) -> list[CheckResult]:
        """The results that keep the version from being published."""
        return [r for r in self.results if r.blocks]

    def summary(self) -> str:
        """`9 checks: 8 passed, 1 failed (not_null_id: 3 rows)`-style text."""
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        parts = [f"{n} {status}" for status, n in sorted(counts.items())]
        flagged = (CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.ERROR)
        bad = [f"{r.name}: {r.message}" for r in self.results if r.status in flagged]
        text = f"{len(self.results)} checks: {', '.join(parts)}"
        return text + (f" ({'; '.join(bad)})" if bad else "")


@dataclass
class AuditTarget:
    """What to audit: a relation in the session, and how to talk about it."""

    relation: str
    """SQL naming the rows (a view, or a scan of the version's files)."""
    shown_as: str
    """The table's name as readers know it, used in the SQL the report shows."""
    schema: pa.Schema
    key_columns: list[str] = field(default_factory=list)
    """Columns that identify a row in samples (the unique or primary key)."""


class Auditor:
    """Runs checks and metrics over tables in one engine session."""

    def __init__(
        self,
        session: EngineSession,
        parent_relation: Callable[[str], str],
        history: History | None = None,
        now: dt.datetime | None = None,
        metrics: bool = True,
    ) -> None:
        """`parent_relation` turns an asset name (a relationship's `to`) into SQL naming its
        rows; `history` gives earlier metric values for anomaly checks."""
        self.session = session
        self.parent_relation = parent_relation
        self.history = history or (lambda _metric, _column: [])
        self.now = now or dt.datetime.now(dt.UTC)
        self.with_metrics = metrics

    def audit(
        self,
        target: AuditTarget,
        checks: list[Check],
        last_loaded: dt.datetime | None = None,
        skip: set[str] | None = None,
        previous_schema: str | None = None,
    ) -> AuditReport:
        """Run `checks` (and collect metrics) over `target`; `skip` names checks already
        settled (quarantined). With metrics, a schema unlike `previous_schema` (the last one
        recorded) is reported as an anomaly. Never raises for a check's own failure."""
        skip = skip or set()
        active = [c for c in checks if c.label not in skip]
        parents: dict[int, str] = {}
        for index, check in enumerate(active):
            if isinstance(check, Relationships):
                try:
                    parents[index] = self.parent_relation(check.to)
                except Exception:  # an unknown asset: reported as the check's error
                    parents[index] = ""
        plan = MetricPlan(target.schema) if self.with_metrics else None
        aggregates = _check_aggregates(active)
        if plan is not None:
            aggregates.update(plan.aggregates)
        values, broken = self._aggregate_pass(target, aggregates)
        rows = int(values.get(ROWS) or 0)
        report = AuditReport(rows)
        for index, check in enumerate(active):
            result = self._judge(target, check, index, values, broken, rows, parents, last_loaded)
            report.results.append(result)
        if plan is not None:
            report.metrics = plan.read(values)
            change = schema_change(previous_schema, target.schema)
            if change:
                report.results.append(
                    CheckResult(
                        "schema_change", "anomaly", None, "warn", CheckStatus.WARN, message=change
                    )
                )
        report.results.extend(
            _result(c, CheckStatus.QUARANTINED) for c in checks if c.label in skip
        )
        return report

    # -- the aggregate pass ----------------------------------------------------------------

    def _aggregate_pass(
        self, target: AuditTarget, aggregates: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Every aggregate in one query; when that fails (a check's SQL is wrong), each alone,
        so the broken ones are known by name."""
        select = ", ".join(f"{sql} AS {identifier(alias)}" for alias, sql in aggregates.items())
        try:
            return self._row(f"SELECT {select} FROM {target.relation}"), {}
        except Exception:
            values: dict[str, Any] = {}
            broken: dict[str, str] = {}
            for alias, sql in aggregates.items():
                try:
                    values[alias] = self._row(f"SELECT {sql} AS v FROM {target.relation}")["v"]
                except Exception as exc:
                    broken[alias] = first_line(exc)
            return values, broken

    def _row(self, sql: str) -> dict[str, Any]:
        rows: list[dict[str, Any]] = self.session.query(sql).to_pylist()
        return rows[0] if rows else {}

    def _count(self, sql: str) -> int:
        return int(self._row(f"SELECT count(*) AS n FROM ({sql})")["n"])

    # -- verdicts --------------------------------------------------------------------------

    def _judge(
        self,
        target: AuditTarget,
        check: Check,
        index: int,
        values: dict[str, Any],
        broken: dict[str, str],
        rows: int,
        parents: dict[int, str],
        last_loaded: dt.datetime | None,
    ) -> CheckResult:
        alias = f"__c{index}"
        if alias in broken:
            why = _missing_columns(check, target) or broken[alias]
            return _result(check, CheckStatus.ERROR, message=f"the check could not run: {why}")
        try:
            if isinstance(check, RowCount):
                return self._row_count(check, rows)
            if isinstance(check, Freshness):
                return self._freshness(check, values.get(alias), last_loaded)
            if isinstance(check, Anomaly):
                return self._anomaly(check, values, target)
            if isinstance(check, Relationships):
                parent = parents.get(index, "")
                if not parent:
                    return _result(check, CheckStatus.ERROR, message=f"no asset named '{check.to}'")
                finder = rules.relationship_orphans_sql(check, target.relation, parent)
                failing = self._count(finder)
                shown = rules.relationship_orphans_sql(check, target.shown_as, check.to)
                return self._counted(target, check, failing, rows, finder, shown)
            if isinstance(check, SqlCheck):
                finder = rules.custom_sql(check.sql, target.relation)
                failing = self._count(finder)
                shown = rules.custom_sql(check.sql, target.shown_as)
                return self._counted(target, check, failing, rows, finder, shown)
            if isinstance(check, Unique):
                failing = int(self._row(rules.duplicate_count_sql(check, target.relation))["n"])
                finder = rules.duplicate_rows_sql(check, target.relation)
                shown = rules.duplicate_rows_sql(check, target.shown_as)
                return self._counted(target, check, failing, rows, finder, shown)
            predicate = rules.failing_predicate(check)
            assert predicate is not None
            finder = f"SELECT * FROM {target.relation} WHERE {predicate}"
            shown = f"SELECT * FROM {target.shown_as} WHERE {predicate}"
            return self._counted(target, check, int(values.get(alias) or 0), rows, finder, shown)
        except Exception as exc:
            why = _missing_columns(check, target) or first_line(exc)
            return _result(check, CheckStatus.ERROR, message=f"the check could not run: {why}")

    def _counted(
        self,
        target: AuditTarget,
        check: Check,
        failing: int,
        rows: int,
        finder: str,
        shown: str,
    ) -> CheckResult:
        passed = _within_tolerance(check, failing, rows)
        status = CheckStatus.PASS if passed else _failure(check)
        result = _result(check, status, failing=failing, total=rows, sql=shown)
        if failing:
            share = f" ({failing / rows:.2%} of {rows:,})" if rows else ""
            tolerated = " - within tolerance" if passed else ""
            result.message = f"{failing:,} failing rows{share}{tolerated}"
            result.sample = self._sample(target, check, finder)
        return result

    def _sample(self, target: AuditTarget, check: Check, finder: str) -> list[dict[str, Any]]:
        """A few failing rows: their key columns and the columns the check reads."""
        # without a key, the leading columns usually identify a row well enough
        wanted = [*target.key_columns] or list(target.schema.names)[:SAMPLE_CONTEXT_COLUMNS]
        for name in _read_columns(check):
            if name and name not in wanted:
                wanted.append(name)
        names = set(target.schema.names)
        shown = [c for c in wanted if c in names] or list(target.schema.names)[:6]
        columns = ", ".join(identifier(c) for c in shown)
        try:
            rows: list[dict[str, Any]] = self.session.query(
                f"SELECT {columns} FROM ({finder}) LIMIT {SAMPLE_ROWS}"
            ).to_pylist()
        except Exception:
            rows = self.session.query(f"SELECT * FROM ({finder}) LIMIT {SAMPLE_ROWS}").to_pylist()
        return rows

    def _row_count(self, check: RowCount, rows: int) -> CheckResult:
        low_ok = check.min is None or rows >= check.min
        high_ok = check.max is None or rows <= check.max
        if low_ok and high_ok:
            return _result(check, CheckStatus.PASS, total=rows, message=f"{rows:,} rows")
        bound = f"at least {check.min}" if not low_ok else f"at most {check.max}"
        return _failed(check, total=rows, message=f"{rows:,} rows, expected {bound}")

    def _freshness(
        self, check: Freshness, newest: Any, last_loaded: dt.datetime | None
    ) -> CheckResult:
        limit = duration_seconds(check.max_age)
        if check.column:
            if newest is None:
                return _failed(check, message=f"no value in {check.column}: nothing is fresh")
            moment = as_utc(newest)
            what = f"newest {check.column} {moment.isoformat(timespec='seconds')}"
        else:
            if last_loaded is None:
                return _result(check, CheckStatus.PASS, message="loaded just now")
            moment = as_utc(last_loaded)
            what = f"last loaded {moment.isoformat(timespec='seconds')}"
        age = (self.now - moment).total_seconds()
        if age <= limit:
            return _result(check, CheckStatus.PASS, message=f"{what} ({_duration(age)} old)")
        return _failed(check, message=f"{what} is {_duration(age)} old, more than {check.max_age}")

    def _anomaly(self, check: Anomaly, values: dict[str, Any], target: AuditTarget) -> CheckResult:
        current = metric_now(check, values, target.schema)
        if current is None:
            return _result(check, CheckStatus.PASS, message="no value to judge")
        earlier = self.history(check.metric, check.column)[: check.window]
        band = robust_band(earlier, check.k, check.min_history)
        return _anomaly_result(check, current, band)


def _check_aggregates(checks: list[Check]) -> dict[str, str]:
    """The row count and what the aggregate pass answers for `checks` (alias -> SQL): each row
    check's failing count, each freshness column's newest value."""
    aggregates: dict[str, str] = {ROWS: "count(*)"}
    for index, check in enumerate(checks):
        predicate = rules.failing_predicate(check)
        if predicate is not None and not isinstance(check, Relationships):
            aggregates[f"__c{index}"] = f"count(*) FILTER (WHERE {predicate})"
        elif isinstance(check, Freshness) and check.column:
            aggregates[f"__c{index}"] = f"max({identifier(check.column)})"
    return aggregates


def _anomaly_result(check: Anomaly, current: float, band: Band | None) -> CheckResult:
    what = f"{check.metric}" + (f" of {check.column}" if check.column else "")
    if band is None:
        return _result(
            check, CheckStatus.PASS, message=f"{what} {current:g}: too little history yet"
        )
    if band.low <= current <= band.high:
        return _result(
            check,
            CheckStatus.PASS,
            message=f"{what} {current:g} within {band.low:g}..{band.high:g}",
        )
    return _failed(
        check,
        message=f"{what} {current:g} is outside the usual {band.low:g}..{band.high:g} "
        f"(median {band.median:g} of the last {band.size} runs)",
    )


def _read_columns(check: Check) -> list[str]:
    """The columns of its table `check` reads (an expression's, parsed from its SQL)."""
    from headwater.project.columns import check_columns

    return check_columns(check) or []


def _missing_columns(check: Check, target: AuditTarget) -> str | None:
    """Why a check that failed to run did: the columns it reads that the table lacks (None
    when it lacks none of them, and the engine's own message says more)."""
    from headwater.project.yamlfile import closest

    names = list(target.schema.names)
    have = {n.lower() for n in names}
    missing = [c for c in _read_columns(check) if c.lower() not in have]
    if not missing:
        return None
    parts = []
    for column in missing:
        near = closest(column, names)
        parts.append(f"'{column}'" + (f" (did you mean '{near}'?)" if near else ""))
    return (
        f"it reads column {', '.join(parts)}, which {target.shown_as} does not have; fix the "
        "check in the YAML"
    )


def _within_tolerance(check: Check, failing: int, rows: int) -> bool:
    if check.max_failures is not None:
        return failing <= check.max_failures
    if check.mostly is not None:
        return rows == 0 or (rows - failing) / rows >= check.mostly
    return failing == 0


def _result(check: Check, status: CheckStatus, **fields: Any) -> CheckResult:
    return CheckResult(check.label, check.type, check.column, check.severity, status, **fields)


def _failure(check: Check) -> CheckStatus:
    """The status of a failed check: `fail` at error severity, `warn` at warn severity."""
    return CheckStatus.FAIL if check.severity == "error" else CheckStatus.WARN


def _failed(check: Check, **fields: Any) -> CheckResult:
    return _result(check, _failure(check), **fields)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
