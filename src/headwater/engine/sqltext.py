"""Quoting of identifiers and literals that Headwater puts into SQL, through sqlglot.

Every name or value Headwater itself writes into a statement goes through these helpers, which
is both correctness (odd names) and our defence against injection.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.storage.base import TableRef

DIALECT = "duckdb"


@lru_cache(maxsize=4096)
def identifier(name: str) -> str:
    """Return `name` as a quoted SQL identifier."""
    from sqlglot import exp

    return str(exp.to_identifier(name, quoted=True).sql(dialect=DIALECT))


def literal(value: Any) -> str:
    """Return `value` (str, int, float, bool or None) as a SQL literal."""
    from sqlglot import exp

    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(exp.Literal.number(value).sql(dialect=DIALECT))
    return str(exp.Literal.string(str(value)).sql(dialect=DIALECT))


def qualified(ref: TableRef) -> str:
    """Return `"namespace"."name"`."""
    return f"{identifier(ref.namespace)}.{identifier(ref.name)}"


def column_list(names: list[str]) -> str:
    """Return a comma-separated list of quoted identifiers."""
    return ", ".join(identifier(n) for n in names)
