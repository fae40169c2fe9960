"""Typed configuration of data quality checks, in the vocabulary of dbt and Great Expectations.

Checks are listed under `checks:` in a sidecar (the table's) or under a column (`columns: [{name:
id, checks: [not_null, unique]}]`), and in a source table's `checks:` with a `column:` key. Each
item is a check name (`not_null`), a one-key mapping (`accepted_values: {values: [a, b]}`) or a
mapping with `type:`; all three read the same. How each check runs lives in `quality/`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.strict import KeyValueError, StrictModel, duration_seconds

__all__ = ["duration_seconds"]

Severity = Literal["error", "warn"]
ROW_CHECKS = ("not_null", "accepted_values", "range", "regex", "expression", "relationships")
"""Checks judged row by row: they may quarantine the failing rows."""


class CheckBase(StrictModel):
    """What every check has."""

    name: str | None = None
    """How results name the check (default: its type and column, e.g. `not_null_id`)."""
    description: str | None = None
    severity: Severity = "error"
    """`error`: a failure blocks publishing the new version; `warn`: it publishes and reports."""
    mostly: float | None = Field(None, gt=0.0, le=1.0)
    """Pass when at least this share of rows pass (Great Expectations' `mostly`)."""
    max_failures: int | None = Field(None, ge=0)
    """Pass when at most this many rows fail."""
    on_fail: Literal["block", "quarantine"] = "block"
    """`quarantine` (row checks only): failing rows go to `<table>__quarantine` with the check
    and reason, the other rows publish."""
    column: str | None = None
    """The column checked (set by the column a check is listed under)."""

    def default_name(self) -> str:
        """`<type>_<column>`, or the type alone."""
        kind = str(getattr(self, "type", "check"))
        return f"{kind}_{self.column}" if self.column else kind

    @property
    def label(self) -> str:
        """The name results use."""
        return self.name or self.default_name()

    @model_validator(mode="after")
    def _quarantine_rows_only(self) -> CheckBase:
        kind = getattr(self, "type", "")
        if self.on_fail == "quarantine" and kind not in ROW_CHECKS:
            raise KeyValueError(
                "on_fail",
                f"'{kind}' judges the table, not single rows: only {', '.join(ROW_CHECKS)} "
                "can quarantine rows",
            )
        return self


class ColumnCheck(CheckBase):
    """A check of one column's values."""

    @model_validator(mode="after")
    def _needs_column(self) -> ColumnCheck:
        if not self.column:
            raise KeyValueError(
                "column", f"'{getattr(self, 'type', '')}' needs 'column' (or list it under one)"
            )
        return self


class NotNull(ColumnCheck):
    """No NULL in the column."""

    type: Literal["not_null"]


class Unique(CheckBase):
    """No two rows share the column's value (or the `columns` together)."""

    type: Literal["unique"]
    columns: list[str] = []
    """Several columns that are unique together (instead of `column`)."""

    @model_validator(mode="after")
    def _needs_columns(self) -> Unique:
        if not self.columns and not self.column:
            raise KeyValueError("columns", "'unique' needs 'column' or 'columns'")
        return self

    @property
    def key(self) -> list[str]:
        """The columns that must be unique together."""
        return list(self.columns) or [str(self.column)]

    def default_name(self) -> str:
        return "unique_" + "_".join(self.key)


class AcceptedValues(ColumnCheck):
    """Every non-NULL value is one of `values`."""

    type: Literal["accepted_values"]
    values: list[Any] = Field(min_length=1)


class Relationships(ColumnCheck):
    """Every non-NULL value exists in `field` of asset `to` (a foreign key)."""

    type: Literal["relationships"]
    to: str
    """The referenced asset (`staging.customers`, or dbt's `ref('customers')`)."""
    field: str
    """Its column holding the keys."""

    @field_validator("to")
    @classmethod
    def _strip_ref(cls, value: str) -> str:
        match = re.fullmatch(r"\s*ref\(\s*['\"]([^'\"]+)['\"]\s*\)\s*", value)
        return match.group(1) if match else value


class Range(ColumnCheck):
    """Every non-NULL value lies between `min` and `max` (either may be left out)."""

    type: Literal["range", "between"]
    min: Any = None
    max: Any = None
    inclusive: bool = True
    """Whether `min` and `max` themselves pass."""

    @model_validator(mode="after")
    def _needs_bound(self) -> Range:
        if self.min is None and self.max is None:
            raise KeyValueError("min", f"'{self.type}' needs 'min', 'max' or both")
        return self

    def default_name(self) -> str:
        return f"range_{self.column}"


class Regex(ColumnCheck):
    """Every non-NULL value matches `pattern` (a regular expression, searched)."""

    type: Literal["regex"]
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Expression(CheckBase):
    """`sql`, a boolean over one row, holds for every row (NULL counts as failing)."""

    type: Literal["expression"]
    sql: str
    """E.g. `ship_date <= receipt_date`."""


class RowCount(CheckBase):
    """The table has between `min` and `max` rows."""

    type: Literal["row_count"]
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _needs_bound(self) -> RowCount:
        if self.min is None and self.max is None:
            raise KeyValueError("min", "'row_count' needs 'min', 'max' or both")
        return self


class Freshness(CheckBase):
    """The newest `column` value (or, without a column, the last load) is at most `max_age`
    old."""

    type: Literal["freshness"]
    max_age: str
    """A duration: `30m`, `2h`, `1d`."""

    @field_validator("max_age")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        duration_seconds(value)
        return value


class SqlCheck(CheckBase):
    """A query returning the failing rows; `{{ this }}` is the table version under audit."""

    type: Literal["sql"]
    sql: str

    def default_name(self) -> str:
        return "sql"


Metric = Literal["row_count", "null_fraction", "distinct_count", "min", "max", "mean"]


class Anomaly(CheckBase):
    """The metric is within median ± k·MAD of its last `window` recorded values."""

    type: Literal["anomaly"]
    severity: Severity = "warn"
    metric: Metric = "row_count"
    """Which recorded metric: `row_count` of the table, or a column's `null_fraction`,
    `distinct_count`, `min`, `max` or `mean`."""
    k: float = Field(3.0, gt=0)
    """Width of the band in (scaled) median absolute deviations."""
    window: int = Field(20, ge=3)
    """How many earlier values form the band."""
    min_history: int = Field(5, ge=2)
    """Fewer earlier values than this: no verdict yet (the check passes)."""

    @model_validator(mode="after")
    def _column_metric(self) -> Anomaly:
        if self.metric != "row_count" and not self.column:
            raise KeyValueError("metric", f"metric '{self.metric}' is a column's: set 'column'")
        return self

    def default_name(self) -> str:
        return f"anomaly_{self.metric}" + (f"_{self.column}" if self.column else "")


Check = Annotated[
    NotNull
    | Unique
    | AcceptedValues
    | Relationships
    | Range
    | Regex
    | Expression
    | RowCount
    | Freshness
    | SqlCheck
    | Anomaly,
    Field(discriminator="type"),
]
CHECK_TYPES = (
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "range",
    "between",
    "regex",
    "expression",
    "row_count",
    "freshness",
    "sql",
    "anomaly",
)


def normalize_check(item: Any, column: str | None = None) -> Any:
    """Turn the short forms (`not_null`, `{accepted_values: {values: [...]}}`) into a mapping
    with `type` (and the column the check is listed under)."""
    if isinstance(item, str):
        item = {"type": item}
    elif isinstance(item, dict) and "type" not in item and len(item) == 1:
        kind, settings = next(iter(item.items()))
        if isinstance(settings, dict):
            item = {"type": kind, **settings}
        elif settings is None:
            item = {"type": kind}
        elif isinstance(settings, str) and kind in ("sql", "expression"):
            item = {"type": kind, "sql": settings}
    if isinstance(item, dict) and column is not None and "column" not in item:
        item = {**item, "column": column}
    return item


def normalize_checks(value: Any, column: str | None = None) -> Any:
    """`normalize_check` over a list (anything else is left for validation to reject)."""
    if isinstance(value, list):
        return [normalize_check(item, column) for item in value]
    return value
