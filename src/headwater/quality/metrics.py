"""Metrics of a table version, measured in the audit's one aggregate pass.

For the table, its row count and schema; for every column, its null fraction, an approximate
distinct count, min/max/mean of numbers and min/max of dates and times. `MetricPlan` names the
aggregates the pass computes and reads them back as `MetricValue`s; `metric_now` gives an
anomaly check the value it judges from the same pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from headwater.quality.schema_change import schema_text
from headwater.sqltext import identifier

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.project.checks import Anomaly

ROWS = "__rows"
"""The aggregate pass's alias of the row count."""
STATS = ("min", "max", "mean")
_SUFFIXES = {"distinct_count": "distinct", "min": "min", "max": "max", "mean": "mean"}
"""An anomaly check's metric -> the suffix of its aggregate's alias."""

Family = Literal["number", "time", "other"]


@dataclass(frozen=True)
class MetricValue:
    """One recorded metric of a table version (`column` None for table metrics)."""

    name: str
    column: str | None
    value: float | None
    text: str | None = None


@dataclass(frozen=True)
class _Measured:
    """A column the plan measures: where it is in the schema and how its values compare."""

    position: int
    name: str
    family: Family


class MetricPlan:
    """The metrics of one table: the aggregates that measure them, and how to read them."""

    def __init__(self, schema: pa.Schema) -> None:
        """Plan the metrics of every column of `schema`."""
        import pyarrow as pa

        self.schema = schema
        self.aggregates: dict[str, str] = {}
        """Alias -> aggregate SQL, to compute in the pass next to the row count (`ROWS`)."""
        self._columns: list[_Measured] = []
        for position, column in enumerate(schema):
            name = identifier(column.name)
            kind = column.type
            self.aggregates[f"__m{position}_nulls"] = f"count(*) - count({name})"
            if not (pa.types.is_nested(kind) or pa.types.is_binary(kind)):
                self.aggregates[f"__m{position}_distinct"] = f"approx_count_distinct({name})"
            if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
                for stat in ("min", "max"):
                    self.aggregates[f"__m{position}_{stat}"] = f"CAST({stat}({name}) AS DOUBLE)"
                self.aggregates[f"__m{position}_mean"] = f"avg(CAST({name} AS DOUBLE))"
                self._columns.append(_Measured(position, column.name, "number"))
            elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
                for stat in ("min", "max"):
                    self.aggregates[f"__m{position}_{stat}"] = f"{stat}({name})"
                self._columns.append(_Measured(position, column.name, "time"))
            else:
                self._columns.append(_Measured(position, column.name, "other"))

    def read(self, values: dict[str, Any]) -> list[MetricValue]:
        """The metrics in `values`, the aggregate pass's row (a broken aggregate is missing)."""
        rows = int(values.get(ROWS) or 0)
        metrics = [
            MetricValue("row_count", None, float(rows)),
            MetricValue("schema", None, None, schema_text(self.schema)),
        ]
        for column in self._columns:
            position, name = column.position, column.name
            nulls = values.get(f"__m{position}_nulls")
            if nulls is not None:
                metrics.append(MetricValue("null_fraction", name, (nulls / rows) if rows else 0.0))
            distinct = values.get(f"__m{position}_distinct")
            if distinct is not None:
                metrics.append(MetricValue("distinct_count", name, float(distinct)))
            for stat in STATS:
                value = values.get(f"__m{position}_{stat}")
                if value is None:
                    continue
                if column.family == "time":
                    metrics.append(MetricValue(stat, name, epoch_seconds(value), str(value)))
                else:
                    metrics.append(MetricValue(stat, name, float(value)))
        return metrics


def metric_now(check: Anomaly, values: dict[str, Any], schema: pa.Schema) -> float | None:
    """The current value of the metric `check` watches, from the aggregate pass's row `values`
    (None when the pass did not measure it)."""
    rows = int(values.get(ROWS) or 0)
    if check.metric == "row_count":
        return float(rows)
    names = schema.names
    if check.column not in names:
        return None
    position = names.index(check.column)
    if check.metric == "null_fraction":
        nulls = values.get(f"__m{position}_nulls")
        return None if nulls is None else (nulls / rows if rows else 0.0)
    value = values.get(f"__m{position}_{_SUFFIXES[check.metric]}")
    if value is None:
        return None
    return epoch_seconds(value) if isinstance(value, dt.date) else float(value)


def epoch_seconds(value: Any) -> float:
    """`value` (a date, a timestamp, or a number) as seconds since 1970 UTC."""
    if isinstance(value, dt.datetime):
        return as_utc(value).timestamp()
    if isinstance(value, dt.date):
        return float((value - dt.date(1970, 1, 1)).days * 86400)
    return float(value)


def as_utc(value: Any) -> dt.datetime:
    """`value` (a timestamp, a date or ISO text) as an aware UTC timestamp; a naive one is
    taken to be UTC already."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)
