"""Check results and metrics in the catalog: every verdict and measurement, kept as history.

Results are recorded for every audit (a build's, published or not, and every `headwater test`);
metrics once per table version, so auditing an unchanged table again adds no duplicate point to
the history anomaly checks learn from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Protocol

from headwater.catalog.store import Catalog, now_iso

TABLE = ""
"""`column_name` of a table's own metrics (the catalog keys need a value)."""


class RecordedResult(Protocol):
    """What the catalog keeps of one check's verdict (a `quality.audit.CheckResult`)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def column(self) -> str | None: ...
    @property
    def severity(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def failing(self) -> int | None: ...
    @property
    def total(self) -> int | None: ...
    @property
    def message(self) -> str: ...
    @property
    def sql(self) -> str: ...
    @property
    def sample(self) -> Sequence[Any]: ...


class RecordedMetric(Protocol):
    """What the catalog keeps of one metric (a `quality.metrics.MetricValue`)."""

    @property
    def name(self) -> str: ...
    @property
    def column(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def text(self) -> str | None: ...


class RecordedAudit(Protocol):
    """What the catalog keeps of an audit (a `quality.audit.AuditReport`)."""

    @property
    def results(self) -> Sequence[RecordedResult]: ...
    @property
    def metrics(self) -> Sequence[RecordedMetric]: ...


def record_audit(
    catalog: Catalog,
    run_id: str | None,
    asset: str,
    version: int | None,
    published: bool,
    report: RecordedAudit,
) -> None:
    """Keep the results (and, for a published or tested version, the metrics) of `report`."""
    stamp = now_iso()
    with catalog.db.transaction() as tx:
        if report.results:
            tx.execute_many(
                "INSERT INTO hw_check_results (run_id, asset, check_name, check_type, "
                "column_name, severity, status, failing, total, message, sql_text, sample_json, "
                "delta_version, published, checked_at) VALUES (:run_id, :asset, :name, :type, "
                ":column, :severity, :status, :failing, :total, :message, :sql, :sample, "
                ":version, :published, :stamp)",
                [
                    {
                        "run_id": run_id,
                        "asset": asset,
                        "name": r.name,
                        "type": r.type,
                        "column": r.column,
                        "severity": r.severity,
                        "status": r.status,
                        "failing": r.failing,
                        "total": r.total,
                        "message": r.message,
                        "sql": r.sql,
                        "sample": json.dumps(r.sample, default=str) if r.sample else None,
                        "version": version,
                        "published": int(published),
                        "stamp": stamp,
                    }
                    for r in report.results
                ],
            )
    if not published or not report.metrics or has_metrics(catalog, asset, version):
        return
    with catalog.db.transaction() as tx:
        tx.execute_many(
            "INSERT INTO hw_metrics (run_id, asset, metric, column_name, value, text_value, "
            "delta_version, recorded_at) VALUES (:run_id, :asset, :metric, :column, :value, "
            ":text, :version, :stamp)",
            [
                {
                    "run_id": run_id,
                    "asset": asset,
                    "metric": m.name,
                    "column": m.column or TABLE,
                    "value": m.value if m.value is None or math.isfinite(m.value) else None,
                    "text": m.text,
                    "version": version,
                    "stamp": stamp,
                }
                for m in report.metrics
            ],
        )


def has_metrics(catalog: Catalog, asset: str, version: int | None) -> bool:
    """Whether metrics of `asset` at `version` are recorded already."""
    if version is None:
        return False
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT 1 AS x FROM hw_metrics WHERE asset = :asset AND delta_version = :version "
            "LIMIT 1",
            {"asset": asset, "version": version},
        )
    return bool(rows)


def metric_history(
    catalog: Catalog, asset: str, metric: str, column: str | None, limit: int = 100
) -> list[float]:
    """Earlier values of one metric of `asset`, newest first."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT value FROM hw_metrics WHERE asset = :asset AND metric = :metric AND "
            "column_name = :column AND value IS NOT NULL ORDER BY id DESC LIMIT :limit",
            {"asset": asset, "metric": metric, "column": column or TABLE, "limit": limit},
        )
    return [float(r["value"]) for r in rows]


def last_schema(catalog: Catalog, asset: str) -> str | None:
    """The schema (JSON text) last recorded for `asset`."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT text_value FROM hw_metrics WHERE asset = :asset AND metric = 'schema' "
            "ORDER BY id DESC LIMIT 1",
            {"asset": asset},
        )
    return str(rows[0]["text_value"]) if rows else None


def check_history(catalog: Catalog, asset: str, limit: int = 50) -> list[dict[str, Any]]:
    """The latest check results of `asset`, newest first."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT run_id, check_name, check_type, column_name, severity, status, failing, "
            "total, message, sql_text, sample_json, delta_version, published, checked_at "
            "FROM hw_check_results WHERE asset = :asset ORDER BY id DESC LIMIT :limit",
            {"asset": asset, "limit": limit},
        )
    for row in rows:
        row["sample"] = json.loads(row.pop("sample_json") or "[]")
    return rows


def metrics_of(catalog: Catalog, asset: str, limit: int = 500) -> list[dict[str, Any]]:
    """The latest recorded metrics of `asset`, newest first."""
    with catalog.db.transaction(write=False) as tx:
        return tx.execute(
            "SELECT run_id, metric, column_name, value, text_value, delta_version, recorded_at "
            "FROM hw_metrics WHERE asset = :asset ORDER BY id DESC LIMIT :limit",
            {"asset": asset, "limit": limit},
        )
