"""Typed configuration of masking: the `governance:` block of `headwater.yml`.

A masking rule says what a reader without unmasked access sees in place of a column holding
personal data. Rules are given per kind of personal data (`email: hash`) and per column
(`marts.customers.email: redact`, which wins over its kind's rule and can mask a column no
`pii:` tag names); a kind without a rule is redacted, so that a column is never shown raw for
want of a policy. Which roles read which kinds raw, and which rows of a table a role reads, are
said by the role (`serve.roles.<role>.unmasked` and `.rows`).

    governance:
      masking:
        kinds:
          email: hash                      # keyed: equal values hash equal, so joins still work
          phone: {partial: 4}              # ****1234: the last four characters
          date_of_birth: {generalize: year}
          name: {redact: "(hidden)"}
        columns:
          marts.customers.lifetime_value: {expression: "round(value, -3)"}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from headwater.project.personal_data import PiiKind
from headwater.project.strict import KeyValueError, StrictModel

MASK_FUNCTIONS = ("hash", "redact", "partial", "null", "generalize", "expression")
"""What a masking rule may do to a value."""
GRAINS = ("day", "week", "month", "quarter", "year")
"""What `generalize` may truncate a date or timestamp to."""
DEFAULT_KEY_ENV = "HEADWATER_MASKING_KEY"
"""The environment variable holding the key of `hash` masking unless `hash_key_env` names
another."""
REDACTED = "[redacted]"
"""What `redact` shows in place of a value unless the rule names other text."""
VALUE = "value"
"""The name an `expression` rule gives the column it masks."""

_PARAMETER = {"partial": "keep", "generalize": "to", "redact": "text", "expression": "sql"}


def _rule_form(value: Any) -> Any:
    """`hash` and `{partial: 4}` as the long form `{function: partial, keep: 4}`."""
    if isinstance(value, str):
        return {"function": value}
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function in _PARAMETER:
            return {"function": function, _PARAMETER[function]: argument}
    return value


class MaskRule(StrictModel):
    """How one column is masked."""

    function: Literal["hash", "redact", "partial", "null", "generalize", "expression"]
    keep: int = Field(4, ge=1, le=64)
    """`partial`: how many characters at the end are kept, after `****` (whatever the value's
    length, so it is not told); a value no longer than this shows as `****`."""
    to: Literal["day", "week", "month", "quarter", "year"] = "month"
    """`generalize`: what a date or timestamp is truncated to."""
    text: str = REDACTED
    """`redact`: what is shown in place of a value that is not null."""
    sql: str | None = None
    """`expression`: a DuckDB SQL expression of the column, named `value`
    (`left(value, 1) || '***'`); it may use the table's other columns too."""

    @model_validator(mode="after")
    def _expression_is_sql(self) -> MaskRule:
        if self.function == "expression":
            if not self.sql:
                raise KeyValueError("expression", "an expression rule needs its SQL")
            problem = expression_problem(self.sql)
            if problem:
                raise KeyValueError("expression", problem)
        return self

    def describe(self) -> str:
        """The rule as a reader of a report would name it (`partial (last 4)`)."""
        if self.function == "partial":
            return f"partial (last {self.keep})"
        if self.function == "generalize":
            return f"generalize (to the {self.to})"
        if self.function == "expression":
            return f"expression ({self.sql})"
        return self.function


MaskRuleEntry = Annotated[MaskRule, BeforeValidator(_rule_form)]
"""A masking rule: `hash`, `redact`, `null`, `partial`, `generalize`, or one with its argument
(`{partial: 4}`, `{generalize: year}`, `{redact: "***"}`, `{expression: "..."}`)."""


class MaskingConfig(StrictModel):
    """Masking rules by kind of personal data and by column."""

    kinds: dict[PiiKind, MaskRuleEntry] = {}
    """The rule of each kind; a kind not listed is redacted."""
    columns: dict[str, MaskRuleEntry] = {}
    """Rules of single columns, by `namespace.table.column`; they win over the kind's rule,
    and mask a column whatever its tags say."""
    hash_key_env: str = DEFAULT_KEY_ENV
    """The environment variable holding the secret key of `hash` (never written to a file or
    a log); a query that needs it while it is unset is refused."""

    @field_validator("columns")
    @classmethod
    def _columns_are_qualified(cls, columns: dict[str, MaskRule]) -> dict[str, MaskRule]:
        for name in columns:
            if name.count(".") != 2 or not all(name.split(".")):
                raise KeyValueError(
                    "columns",
                    f"'{name}' is not a column named namespace.table.column "
                    "(e.g. marts.customers.email)",
                )
        return columns

    def rule(self, column: str, kinds: tuple[str, ...]) -> MaskRule:
        """The rule that masks `column` (`namespace.table.column`) holding `kinds`: its own,
        else the strictest of its kinds' rules (a kind without one is redacted)."""
        own = self.columns.get(column)
        if own is not None:
            return own
        rules = [self.kinds.get(kind, DEFAULT_RULE) for kind in kinds] or [DEFAULT_RULE]
        return min(rules, key=lambda rule: _STRICTNESS[rule.function])


DEFAULT_RULE = MaskRule.model_validate({"function": "redact"})
"""The rule of a kind no rule names: fail closed."""

# when a column holds several kinds, the rule that shows least of it applies
_STRICTNESS = {
    "null": 0,
    "redact": 1,
    "hash": 2,
    "generalize": 3,
    "partial": 4,
    "expression": 5,
}


class GovernanceConfig(StrictModel):
    """`governance:` in headwater.yml: how personal data is masked."""

    masking: MaskingConfig = MaskingConfig.model_validate({})


def expression_problem(sql: str) -> str | None:
    """Why `sql` cannot be a masking expression or a row filter (None when it can): it must be
    one scalar SQL expression over the table's own columns, with no subquery or table."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        tree = sqlglot.parse_one(sql, read="duckdb", into=exp.Condition)
    except (ParseError, ValueError) as exc:
        return f"'{sql}' is not a SQL expression: {str(exc).splitlines()[0]}"
    if tree is None:
        return "the expression is empty"
    for node in tree.walk():
        if isinstance(node, exp.Query | exp.Table | exp.Subquery):
            return f"'{sql}' reads another table; it may use the table's own columns only"
        if isinstance(node, exp.Column) and node.table:
            return f"'{sql}' names {node.sql('duckdb')}; name the table's columns without a table"
    return None
