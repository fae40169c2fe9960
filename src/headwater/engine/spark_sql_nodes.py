"""Spark SQL syntax built by hand for the rewrites of `spark_sql`: calls, casts, operations and
literals, and what a DuckDB call's literal arguments say."""

from __future__ import annotations

from typing import Any

# imported only by spark_sql.transpile, once sqlglot is needed anyway: not at start-up
from sqlglot import exp  # noqa: TID253

from headwater.engine.spark_sql import dialects


def call(name: str, *args: Any) -> Any:
    """A call of the Spark function `name`."""
    return exp.Anonymous(this=name, expressions=[a for a in args if a is not None])


def cast(node: Any, to: str) -> Any:
    """`CAST(node AS to)`, `to` in Spark's spelling."""
    _, writer = dialects()
    return exp.Cast(this=node, to=exp.DataType.build(to, dialect=writer))


def op(kind: Any, left: Any, right: Any) -> Any:
    """The binary operation `kind` (an exp class) of `left` and `right`, each parenthesized
    when it is an operation itself (sqlglot writes a tree built by hand as it stands)."""

    def wrapped(node: Any) -> Any:
        return exp.Paren(this=node) if isinstance(node, exp.Binary) else node

    return kind(this=wrapped(left), expression=wrapped(right))


def number(value: int) -> Any:
    """The number literal `value`."""
    return exp.Literal.number(value)


def string(value: str) -> Any:
    """The string literal `value`."""
    return exp.Literal.string(value)


def literal_int(node: Any) -> int | None:
    """The value of an integer literal (`-2` too), else None."""
    if isinstance(node, exp.Neg):
        inner = literal_int(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(str(node.this))
        except ValueError:
            return None
    return None


def literal_string(node: Any) -> str | None:
    """The value of a string literal, else None."""
    return str(node.this) if isinstance(node, exp.Literal) and node.is_string else None


def argument(node: Any) -> Any:
    """The (first) argument of a one-argument call, known to sqlglot or not."""
    if isinstance(node, exp.Anonymous):
        return node.expressions[0]
    return node.this
