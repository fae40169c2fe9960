"""Query parameters (`$1`, `?`) bound as literals in the query's tree, never spliced as text.

A value becomes a sqlglot literal node (a string is quoted by sqlglot's generator, whatever it
holds), so a parameter cannot change the shape of the query; the bound query then goes through
the read-only checks like any other.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.errors import UsageError

if TYPE_CHECKING:
    from sqlglot import exp


@dataclass(frozen=True)
class TypedText:
    """A parameter given as text with the SQL type it is read as (how the PostgreSQL protocol
    sends most parameters): bound as `CAST('text' AS type)`."""

    text: str
    type: str
    """A DuckDB type name (`BIGINT`, `DATE`, `DECIMAL(12,2)`)."""


Parameter = (
    None | bool | int | float | str | bytes | decimal.Decimal | dt.date | dt.time | TypedText
)


def bind_parameters(sql: str, params: Sequence[Parameter]) -> str:
    """`sql` (DuckDB SQL) with each placeholder (`$1`, `$2`, ... or `?` in order) replaced by the
    literal of its parameter.

    Returns:
        The SQL to run, rendered by sqlglot.

    Raises:
        UsageError: the SQL does not parse, or the parameters do not match its placeholders.
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except Exception as exc:  # refused again, with the checks' message, if run unbound
        raise UsageError(f"the query does not parse: {str(exc).splitlines()[0]}") from None
    placeholders = list(tree.find_all(exp.Placeholder))
    numbered = [p for p in placeholders if p.this is not None]
    if numbered and len(numbered) != len(placeholders):
        raise UsageError("the query mixes $n and ? placeholders", hint="use one kind")
    wanted = max(int(str(p.this)) for p in numbered) if numbered else len(placeholders)
    if wanted != len(params):
        raise UsageError(
            f"the query has {wanted} parameter(s) but {len(params)} value(s) were given",
            hint="give one value per placeholder ($1, $2, ... or ?)",
        )
    for position, placeholder in enumerate(placeholders):
        index = int(str(placeholder.this)) - 1 if numbered else position
        if index < 0:
            raise UsageError(f"${index + 1} is not a parameter", hint="parameters start at $1")
        placeholder.replace(literal(params[index]))
    return tree.sql("duckdb")


def literal(value: Parameter) -> exp.Expression:
    """The sqlglot literal of one parameter value.

    Raises:
        UsageError: a value of a type no literal is made for.
    """
    from sqlglot import exp

    def cast(text: str, to: str) -> exp.Expression:
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build(to, dialect="duckdb"))

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return cast(str(value), "DOUBLE")
        return cast(repr(value), "DOUBLE")
    if isinstance(value, decimal.Decimal):
        return cast(str(value), "DECIMAL(38," + str(max(0, -int(value.as_tuple().exponent))) + ")")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, bytes):
        return exp.Anonymous(this="from_hex", expressions=[exp.Literal.string(value.hex())])
    if isinstance(value, dt.datetime):
        return cast(value.isoformat(), "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP")
    if isinstance(value, dt.date):
        return cast(value.isoformat(), "DATE")
    if isinstance(value, dt.time):
        return cast(value.isoformat(), "TIME")
    if isinstance(value, TypedText):
        return cast(value.text, value.type)
    raise UsageError(f"a parameter of type {type(value).__name__} cannot be bound")
