"""Typed configuration of the semantic layer: `metrics/*.yml`, in MetricFlow's vocabulary.

A file holds `semantic_models:` (each over one asset, with its entities, dimensions and
measures) and `metrics:` (simple, ratio, derived, cumulative), either or both:

```yaml
semantic_models:
  - name: orders
    model: marts.fact_orders            # or ref('fact_orders')
    defaults: {agg_time_dimension: ordered_at}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: ordered_at, type: time, type_params: {time_granularity: day}}
      - {name: status, type: categorical}
    measures:
      - {name: revenue, agg: sum, expr: amount}
metrics:
  - {name: revenue, type: simple, type_params: {measure: revenue}}
```
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from headwater.project.strict import Identifier, KeyValueError, StrictModel

GRANULARITIES = ("day", "week", "month", "quarter", "year")
"""Time granularities a time dimension is grouped by, finest first."""
AGGREGATIONS = ("sum", "count", "count_distinct", "average", "min", "max", "sum_boolean")
_REF = re.compile(r"""^\s*ref\(\s*['"]([^'"]+)['"]\s*\)\s*$""")
_WINDOW = re.compile(r"^\s*(\d+)\s+(day|week|month|quarter|year)s?\s*$", re.IGNORECASE)


FILTER_TEMPLATE = re.compile(
    r"\{\{\s*(Dimension|TimeDimension|Entity)\(\s*'([^']+)'\s*(?:,\s*'([^']+)'\s*)?\)"
    r"(?:\.grain\(\s*'([^']+)'\s*\))?\s*\}\}"
)
"""MetricFlow's templates in a filter: `{{ Dimension('customer__segment') }}`,
`{{ TimeDimension('metric_time', 'month') }}`, `{{ Entity('customer') }}`."""


def plain_filter(text: str) -> str:
    """A filter with MetricFlow's templates replaced by the group-by items they name
    (`{{ TimeDimension('metric_time', 'month') }}` -> `metric_time__month`)."""

    def plain(found: re.Match[str]) -> str:
        kind, name, grain, chained = found.groups()
        if kind == "TimeDimension" and (grain or chained):
            return f"{name}__{grain or chained}"
        return str(name)

    return FILTER_TEMPLATE.sub(plain, text)


class EntityConfig(StrictModel):
    """A key of a semantic model: `primary` (one row per value), `unique`, `foreign` (many
    rows per value) or `natural`. Entities of the same name join semantic models."""

    name: Identifier
    type: Literal["primary", "unique", "foreign", "natural"]
    expr: str | None = None
    """The column or SQL expression (default: the entity's name)."""
    description: str | None = None


class TimeParams(StrictModel):
    """How fine a time dimension's values are."""

    time_granularity: Literal["day", "week", "month", "quarter", "year"] = "day"


class DimensionConfig(StrictModel):
    """An attribute to group or filter by: `categorical`, or `time` (grouped by a
    granularity: `ordered_at__month`)."""

    name: Identifier
    type: Literal["categorical", "time"]
    expr: str | None = None
    """The column or SQL expression (default: the dimension's name)."""
    type_params: TimeParams | None = None
    description: str | None = None
    label: str | None = None


class MeasureConfig(StrictModel):
    """An aggregation over a semantic model's rows."""

    name: Identifier
    agg: Literal["sum", "count", "count_distinct", "average", "min", "max", "sum_boolean"]
    expr: str | None = None
    """The column or SQL expression aggregated (default: the measure's name; `1` counts
    rows)."""
    agg_time_dimension: Identifier | None = None
    """The time dimension `metric_time` means for this measure (default: the model's)."""
    description: str | None = None
    label: str | None = None


class SemanticDefaults(StrictModel):
    agg_time_dimension: Identifier | None = None


class SemanticModelConfig(StrictModel):
    """A semantic model: an asset with its entities, dimensions and measures."""

    name: Identifier
    model: str
    """The asset, as `namespace.name` or `ref('name')`."""
    description: str | None = None
    defaults: SemanticDefaults = SemanticDefaults()
    entities: list[EntityConfig] = []
    dimensions: list[DimensionConfig] = []
    measures: list[MeasureConfig] = []

    @property
    def asset_ref(self) -> str:
        """The asset as written, without `ref('...')`."""
        found = _REF.match(self.model)
        return found.group(1) if found else self.model.strip()


class MetricInput(StrictModel):
    """A metric a ratio or derived metric is made of, with an optional filter, alias and
    offset."""

    name: Identifier
    filter: str | None = None
    alias: Identifier | None = None
    offset_window: str | None = None


class MetricTypeParams(StrictModel):
    measure: Identifier | MetricInput | None = None
    numerator: Identifier | MetricInput | None = None
    denominator: Identifier | MetricInput | None = None
    expr: str | None = None
    metrics: list[Identifier | MetricInput] = []
    window: str | None = None
    """Cumulative: a trailing window (`7 days`); without one, from the beginning of time."""
    grain_to_date: Literal["week", "month", "quarter", "year"] | None = None
    """Cumulative: restart at the start of each period (month to date)."""


class MetricConfig(StrictModel):
    """A business metric, answered the same way everywhere."""

    name: Identifier
    type: Literal["simple", "ratio", "derived", "cumulative"]
    type_params: MetricTypeParams = Field(default_factory=MetricTypeParams)
    filter: str | None = None
    """A condition on dimensions applied to the metric's rows before they aggregate."""
    description: str | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _params_fit_the_type(self) -> MetricConfig:
        params = self.type_params
        if self.type in ("simple", "cumulative") and params.measure is None:
            raise KeyValueError("type_params", f"a {self.type} metric needs type_params.measure")
        if self.type == "ratio" and (params.numerator is None or params.denominator is None):
            raise KeyValueError(
                "type_params", "a ratio metric needs type_params.numerator and .denominator"
            )
        if self.type == "derived" and (not params.expr or not params.metrics):
            raise KeyValueError(
                "type_params", "a derived metric needs type_params.expr and .metrics"
            )
        if params.window is not None and _WINDOW.match(params.window) is None:
            raise KeyValueError(
                "type_params", f"window '{params.window}' is not a window; write e.g. 7 days"
            )
        if params.window is not None and params.grain_to_date is not None:
            raise KeyValueError(
                "type_params", "a cumulative metric has a window or a grain_to_date, not both"
            )
        return self


class SemanticFile(StrictModel):
    """One `metrics/*.yml` file."""

    semantic_models: list[SemanticModelConfig] = []
    metrics: list[MetricConfig] = []


def window_parts(window: str) -> tuple[int, str]:
    """A window's count and granularity: `7 days` -> (7, "day")."""
    found = _WINDOW.match(window)
    if found is None:
        raise ValueError(f"'{window}' is not a window; write e.g. 7 days")
    return int(found.group(1)), found.group(2).lower()
