"""The names PostgreSQL gives a query's output columns (its `FigureColname`): a column's own
name, a function's name (`version`, `format_type`), a cast's type (`int4`), `case`, `array`,
`exists`, and `?column?` for anything else. DuckDB names them otherwise (`version()`), and a
client reads a catalog query's columns by name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlglot import exp

UNNAMED = "?column?"
VALUE_FUNCTIONS = frozenset(
    {"current_user", "session_user", "current_role", "user", "current_catalog", "current_schema"}
)
"""SQL's functions called without parentheses, which sqlglot reads as columns."""

_TYPE_NAMES = {
    "int": "int4",
    "integer": "int4",
    "smallint": "int2",
    "bigint": "int8",
    "real": "float4",
    "double precision": "float8",
    "float": "float8",
    "boolean": "bool",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "decimal": "numeric",
    "timestamp with time zone": "timestamptz",
    "time with time zone": "timetz",
}
"""PostgreSQL's internal name of the types SQL names with keywords (what a cast's column is
called)."""
_FUNCTION_NAMES = {
    "currentversion": "version",
    "explode": "unnest",
    "explodinggenerateseries": "generate_series",
    "generateseries": "generate_series",
    "arraytostring": "array_to_string",
    "groupconcat": "string_agg",
    "currentuser": "current_user",
    "sessionuser": "session_user",
    "currentschema": "current_schema",
    "currentdatabase": "current_database",
    "currentcatalog": "current_catalog",
    "trim": "btrim",
    "jsonobject": "json_build_object",
    "arrayagg": "array_agg",
    "stringtoarray": "string_to_array",
    "arraysize": "array_length",
    "regexplike": UNNAMED,
    "arraycontains": UNNAMED,
}
"""The PostgreSQL function a sqlglot node of a known function was written as, where its
class name does not say it."""


def name_outputs(tree: exp.Expression) -> None:
    """Alias every output column of every SELECT in `tree` that has no name of its own with
    the name PostgreSQL gives it."""
    from sqlglot import exp

    for select in list(tree.find_all(exp.Select)):
        projections = select.expressions
        for position, projection in enumerate(projections):
            if isinstance(projection, exp.Alias | exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                continue
            name = column_name(projection)
            if (
                isinstance(projection, exp.Column)
                and projection.name == name
                and (projection.table or name not in VALUE_FUNCTIONS)
            ):
                continue  # named already (a value function is rewritten into a call)
            projections[position] = exp.alias_(projection, name, quoted=True)


def column_name(node: exp.Expression) -> str:
    """The name PostgreSQL gives an output column computed by `node`."""
    return _figure(node)[0]


def _figure(node: Any) -> tuple[str, int]:
    """(name, strength): 2 for a name taken from a column, 1 for a function's or keyword's,
    0 for none (`?column?`), as PostgreSQL's FigureColnameInternal ranks them."""
    from sqlglot import exp

    if isinstance(node, exp.Alias):
        return node.alias, 2
    if isinstance(node, exp.Column):
        return node.name, 2
    if isinstance(node, exp.Paren | exp.Collate | exp.Bracket):
        return _figure(node.this)
    if isinstance(node, exp.Dot):
        if isinstance(node.expression, exp.Identifier):
            return node.expression.name, 2
        return _figure(node.expression)
    if isinstance(node, exp.Cast):
        name, strength = _figure(node.this)
        if strength > 0:
            return name, strength
        return type_name(node.to).removesuffix("[]"), 1
    if isinstance(node, exp.Boolean):
        return "bool", 1
    if isinstance(node, exp.Case):
        return _case(node)
    if isinstance(node, exp.Exists):
        return "exists", 1
    if isinstance(node, exp.Array):
        return "array", 1
    if isinstance(node, exp.Subquery):
        inner = node.this
        if isinstance(inner, exp.Select) and inner.expressions:
            name, strength = _figure(inner.expressions[0])
            return (name, strength) if strength > 0 else (UNNAMED, 0)
        return UNNAMED, 0
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        return (UNNAMED, 0) if name in ("all", "any") else (name, 1)
    if isinstance(node, exp.Binary | exp.Unary | exp.Predicate | exp.Not):
        return UNNAMED, 0
    if isinstance(node, exp.Coalesce):
        return "coalesce", 1
    if isinstance(node, exp.Func):
        name = _FUNCTION_NAMES.get(type(node).__name__.lower(), node.sql_name().lower())
        return name, 0 if name == UNNAMED else 1
    return UNNAMED, 0


def _case(node: exp.Case) -> tuple[str, int]:
    """A CASE is named after its ELSE when that is a column, else `case`."""
    default = node.args.get("default")
    if default is not None:
        name, strength = _figure(default)
        if strength > 1:
            return name, strength
    return "case", 1


def type_name(kind: exp.Expression) -> str:
    """PostgreSQL's name of a type as sqlglot read it (`int4`, `regclass`, `text[]`): the
    schema and any modifier dropped."""
    written = kind.sql("postgres").lower().replace('"', "")
    array = written.endswith("[]")
    base = re.sub(r"\(.*\)", "", written.removesuffix("[]")).strip()
    base = re.sub(r"^pg_catalog\.", "", base)
    base = _TYPE_NAMES.get(base, base)
    return base + ("[]" if array else "")
