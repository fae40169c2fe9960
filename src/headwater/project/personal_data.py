"""Personal data declared in YAML: the kind of personal data a column holds (`pii: email`).

A column of a source, seed or model may say which kind of personal data it holds; the kinds are
a fixed vocabulary, so that masking policies and erasure can name them, and a misspelt kind is
an error at its line rather than a column silently left unclassified. Columns derived from a
declared one are classified by lineage (`governance/classification.py`), not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from headwater.project.strict import StrictModel

PII_KINDS = (
    "email",
    "phone",
    "name",
    "address",
    "ip",
    "national_id",
    "date_of_birth",
    "iban",
    "card_number",
    "free_text",
    "other",
)
"""The kinds of personal data a column may be declared to hold (`pii:`)."""


def _pii_kind(value: str) -> str:
    if value in PII_KINDS:
        return value
    from headwater.project.yamlfile import closest

    near = closest(value, PII_KINDS)
    guess = f"did you mean '{near}'? " if near else ""
    raise ValueError(
        f"'{value}' is not a kind of personal data; {guess}kinds: {', '.join(PII_KINDS)}"
    )


PiiKind = Annotated[str, AfterValidator(_pii_kind)]
"""One of `PII_KINDS`; anything else is refused with the closest kind."""


class SourceColumn(StrictModel):
    """A declared column of a source table: `email: VARCHAR`, or the long form
    `email: {type: VARCHAR, pii: email}`."""

    type: str | None = None
    """DuckDB type the column is read as (None: inferred on first load)."""
    pii: PiiKind | None = None
    """The kind of personal data the column holds."""
    description: str | None = None


def _column_form(value: Any) -> Any:
    """The short form `name: TYPE` as the long one."""
    return {"type": value} if isinstance(value, str) else value


SourceColumnEntry = Annotated[SourceColumn, BeforeValidator(_column_form)]
"""A source table's `columns:` value: a type name, or `{type:, pii:, description:}`."""
