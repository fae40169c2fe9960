"""A client's catalog query, in PostgreSQL's SQL, turned into DuckDB SQL over the session's
catalog database (`catalog_db`).

The text is read by sqlglot as PostgreSQL (after what sqlglot does not read is written
plainly: `catalog_text`), checked to be one SELECT that reads nothing but the catalog, its
parameters bound as literals (`headwater.query.parameters`), and rewritten: `pg_catalog` and
`information_schema` relations point at the catalog database's schemas, PostgreSQL's catalog
functions at the macros that answer them (`catalog_functions`), `::regclass`-style casts at
lookups, PostgreSQL array literals at lists, and every output column gets the name
PostgreSQL would give it (`catalog_names`). What is left is checked again: only the `hw`
macros and an allowlist of plain SQL functions may be called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from headwater.errors import UsageError
from headwater.project.sql import is_cte_reference
from headwater.query.parameters import Parameter, literal
from headwater.query.policy import MAX_SQL_CHARS, STATEMENT_NODES, QueryRejected
from headwater.serve.pgwire.catalog_functions import (
    CAST_TYPES,
    MACROS,
    REG_TYPES,
    SQL_FUNCTIONS,
    TABLE_FUNCTIONS,
)
from headwater.serve.pgwire.catalog_names import VALUE_FUNCTIONS, name_outputs, type_name
from headwater.serve.pgwire.catalog_text import parse_array, plain_text

if TYPE_CHECKING:
    from sqlglot import exp

PG_SCHEMA = "hw_pg_catalog"
"""The catalog database's schema holding `pg_catalog`'s relations."""
INFO_SCHEMA = "hw_information_schema"
"""The catalog database's schema holding `information_schema`'s views."""
HELPERS = "hw"
"""The catalog database's schema of lookup tables and of the macros answering PostgreSQL's
functions."""
CATALOG_QUERY = (
    "a query about PostgreSQL's catalog is one SELECT over pg_catalog and information_schema; "
    "read tables in a query of their own"
)
_CATALOG_SCHEMAS = ("pg_catalog", "information_schema")
_TEXTUAL_TYPES = {"text", "varchar", "name", "bpchar", "char"}
Lookup = Callable[[str], "int | None"]


@dataclass(frozen=True)
class Resolver:
    """What a translation looks up in the session's catalog: the oid of the relation a
    `'name'::regclass` literal names, and of the type a `'name'::regtype` names."""

    relation: Lookup
    type: Lookup


def translate(sql: str, params: Sequence[Parameter], resolver: Resolver) -> str:
    """Turn the client's catalog query `sql` (PostgreSQL) with `params` into DuckDB SQL over
    the catalog database. With no `params` at all (a statement described before it is
    bound), each placeholder is NULL.

    Raises:
        QueryRejected: it is not one SELECT, or it reads something other than the catalog.
        UsageError: it does not parse, its parameters do not match, or it uses a function,
            type or relation of PostgreSQL's that Headwater does not answer.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    if len(sql) > MAX_SQL_CHARS:
        raise QueryRejected(
            f"a query of {len(sql)} characters", f"the limit is {MAX_SQL_CHARS}", CATALOG_QUERY
        )
    try:
        statements = [s for s in sqlglot.parse(plain_text(sql), read="postgres") if s]
    except RecursionError:
        raise QueryRejected("SQL nested too deeply", "it cannot be read", CATALOG_QUERY) from None
    except Exception as exc:  # sqlglot raises several kinds; the message is what matters
        raise UsageError(
            f"the catalog query does not parse: {str(exc).splitlines()[0]}",
            hint="Headwater answers the catalog queries of PostgreSQL's clients that sqlglot reads",
        ) from None
    if len(statements) != 1:
        raise QueryRejected(
            f"{len(statements)} statements", "exactly one SELECT may run", CATALOG_QUERY
        )
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise QueryRejected(
            f"a {tree.key.upper()} statement", "only a SELECT may run", CATALOG_QUERY
        )
    statement_nodes = tuple(getattr(exp, n) for n in STATEMENT_NODES if hasattr(exp, n))
    for node in tree.walk():
        if isinstance(node, statement_nodes):
            raise QueryRejected(
                f"{node.key.upper()} inside the query", "only a SELECT may run", CATALOG_QUERY
            )
    try:
        bound = normalize_identifiers(_bind(cast("exp.Expression", tree), params), "postgres")
        bound = _post_order(bound, _unqualify)
        name_outputs(bound)
        rewriter = _Rewriter(resolver)
        translated = _post_order(bound, rewriter.rewrite)
        _check_functions(translated)
        return str(translated.sql("duckdb"))
    except RecursionError:
        raise QueryRejected("SQL nested too deeply", "it cannot be read", CATALOG_QUERY) from None


def _post_order(
    node: exp.Expression, rewrite: Callable[[exp.Expression], exp.Expression]
) -> exp.Expression:
    """`node` with `rewrite` applied to every node, children before their parent (a node
    being rewritten still has its original parent)."""
    from sqlglot import exp

    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            new = _post_order(value, rewrite)
            if new is not value:
                node.set(key, new)
        elif isinstance(value, list):
            items = [_post_order(v, rewrite) if isinstance(v, exp.Expression) else v for v in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                node.set(key, items)
    return rewrite(node)


# -- parameters -------------------------------------------------------------------------------


def _bind(tree: exp.Expression, params: Sequence[Parameter]) -> exp.Expression:
    """`tree` with each `$n` (or `?`) replaced by the literal of its parameter, or by NULL
    when there are no parameters at all."""
    from sqlglot import exp

    placeholders: list[exp.Expression] = [
        p
        for p in tree.find_all(exp.Placeholder, exp.Parameter)
        if not isinstance(p, exp.Parameter) or isinstance(p.this, exp.Literal)
    ]
    if not placeholders:
        if params:
            raise UsageError(f"the query has no parameters but {len(params)} were given")
        return tree
    numbered = [p for p in placeholders if _position(p) is not None]
    wanted = max(_position(p) or 0 for p in numbered) if numbered else len(placeholders)
    if params and wanted != len(params):
        raise UsageError(
            f"the query has {wanted} parameter(s) but {len(params)} value(s) were given",
            hint="give one value per placeholder ($1, $2, ...)",
        )
    for position, placeholder in enumerate(placeholders):
        index = (_position(placeholder) or 0) - 1 if numbered else position
        value = params[index] if params and 0 <= index < len(params) else None
        placeholder.replace(literal(value))
    return tree


def _position(placeholder: exp.Expression) -> int | None:
    """n of `$n`, or None for `?`."""
    from sqlglot import exp

    inner = placeholder.this
    text = inner.this if isinstance(inner, exp.Literal) else inner
    return int(str(text)) if text is not None and str(text).isdigit() else None


# -- rewriting --------------------------------------------------------------------------------


def _unqualify(node: exp.Expression) -> exp.Expression:
    """`pg_catalog.f(...)` is `f(...)`: a function sqlglot knows by that name becomes its
    node (one the catalog answers stays anonymous)."""
    from sqlglot import exp

    if not (isinstance(node, exp.Dot) and _catalog_schema(node.this)):
        return node
    function: Any = node.expression
    if not isinstance(node.expression, exp.Func):
        return node
    if not isinstance(function, exp.Anonymous) or str(function.name).lower() in MACROS:
        return cast("exp.Expression", function)
    try:
        built = exp.func(str(function.name), *function.expressions, dialect="postgres")
        return cast("exp.Expression", built)
    except Exception:  # not one sqlglot builds from these arguments: keep it anonymous
        return function


class _Rewriter:
    """Rewrites the nodes of one parsed catalog query for the catalog database."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def rewrite(self, node: exp.Expression) -> exp.Expression:
        from sqlglot import exp

        if isinstance(node, exp.Table):
            return self._table(node)
        if isinstance(node, exp.Column):
            return _column(node)
        if isinstance(node, exp.Collate):
            return node.this  # type: ignore[no-any-return]
        if isinstance(node, exp.Cast):
            return self._cast(node)
        if isinstance(node, exp.Func):
            return _function(node)
        return node

    def _table(self, table: exp.Table) -> exp.Expression:
        from sqlglot import exp

        from headwater.serve.pgwire.catalog_pg15 import RELATIONS

        source: Any = table.this
        if isinstance(source, exp.Func):
            return _table_function(table, source)
        schema, name = table.db.lower(), table.name
        if table.catalog:
            raise QueryRejected(
                f"the table {table.sql('postgres')}",
                "a catalog query names schema.table only",
                CATALOG_QUERY,
            )
        if not schema and is_cte_reference(table):
            return table
        if schema in ("", "pg_catalog") and f"pg_catalog.{name}" in RELATIONS:
            target = PG_SCHEMA
        elif schema == "information_schema" and f"information_schema.{name}" in RELATIONS:
            target = INFO_SCHEMA
        elif schema in _CATALOG_SCHEMAS:
            raise UsageError(
                f"Headwater does not answer {schema}.{name}",
                hint="its PostgreSQL catalog holds PostgreSQL 15's pg_catalog and "
                "information_schema relations",
            )
        else:
            raise QueryRejected(
                f"the table {table.sql('postgres')}",
                "a query that reads PostgreSQL's catalog cannot read tables too",
                CATALOG_QUERY,
            )
        if table.args.get("alias") is None:
            # `pg_catalog.pg_class.oid` still names its table once the schema changes
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        table.set("db", exp.to_identifier(target))
        return table

    def _cast(self, cast: exp.Cast) -> exp.Expression:
        from sqlglot import exp

        target = type_name(cast.to)
        value = cast.this
        if target in REG_TYPES:
            return self._reg_cast(cast, target)
        if target.endswith("[]") and isinstance(value, exp.Literal) and value.is_string:
            element = _duckdb_type(target.removesuffix("[]"))
            items = [
                exp.Null() if item is None else exp.cast(exp.Literal.string(item), element)
                for item in parse_array(value.this)
            ]
            return exp.cast(exp.Array(expressions=items), f"{element}[]")
        cast.set("to", exp.DataType.build(_duckdb_type(target), dialect="duckdb"))
        return cast

    def _reg_cast(self, cast: exp.Cast, target: str) -> exp.Expression:
        """`x::regclass` and friends: a name becomes its oid, an oid stays one, and an oid
        shown (cast to text, or an output column) becomes its name."""
        from sqlglot import exp

        value = cast.this
        if target in ("regproc", "regprocedure"):
            # the catalog holds functions by name (pg_type.typinput is 'array_in')
            if isinstance(value, exp.Literal) and value.is_string:
                return exp.Literal.string(value.this.split(".")[-1].strip('"'))
            return value  # type: ignore[no-any-return]
        if isinstance(value, exp.Literal) and value.is_string:
            return self._reg_literal(value.this, target)
        if _textual(value):
            return _macro(f"{target}_in", value)
        parent = cast.parent
        shown = (
            (isinstance(parent, exp.Cast) and type_name(parent.to) in _TEXTUAL_TYPES)
            or (isinstance(parent, exp.Select) and cast in parent.expressions)
            or (isinstance(parent, exp.Alias) and isinstance(parent.parent, exp.Select))
        )
        return _macro(f"{target}_out", value) if shown else value

    def _reg_literal(self, name: str, target: str) -> exp.Expression:
        from sqlglot import exp

        if target not in ("regclass", "regtype"):
            return _macro(f"{target}_in", exp.Literal.string(name))
        found = self.resolver.relation(name) if target == "regclass" else self.resolver.type(name)
        if found is None:
            what = "relation" if target == "regclass" else "type"
            raise UsageError(f'{what} "{name}" does not exist')
        return exp.Literal.number(found)


def _table_function(table: exp.Table, source: Any) -> exp.Expression:
    """A function in FROM: a generator, or `pg_get_keywords()` (a table of keywords)."""
    from sqlglot import exp

    name = _function_name(source)
    if isinstance(source, exp.ExplodingGenerateSeries | exp.GenerateSeries):
        name = "generate_series"
    elif isinstance(source, exp.Explode | exp.Unnest):
        name = "unnest"
    if name not in TABLE_FUNCTIONS:
        raise QueryRejected(
            f"the table function {name}", "a catalog query reads the catalog only", CATALOG_QUERY
        )
    if name == "pg_get_keywords":
        keywords = exp.Table(this=exp.to_identifier("keywords"), db=exp.to_identifier(HELPERS))
        keywords.set("alias", table.args.get("alias"))
        return keywords
    table.set("db", None)
    return table


def _function(node: Any) -> exp.Expression:
    from sqlglot import exp

    if isinstance(node.parent, exp.Table):
        return node  # type: ignore[no-any-return]  # a table function: `_table` decides
    name = _function_name(node)
    args = _arguments(node)
    if name == "format" and args and isinstance(args[0], exp.Literal):
        return _format(str(args[0].this), args[1:])
    if name in ("json_build_object", "jsonobject"):
        return exp.Anonymous(this="json_object", expressions=args)
    if name == "generate_series" and _projected(node):
        # PostgreSQL's set-returning function in a SELECT list; DuckDB's returns a list
        return exp.Unnest(expressions=[exp.Anonymous(this="generate_series", expressions=args)])
    if name == "_pg_expandarray":
        return exp.Unnest(expressions=[_macro("expandarray", *args)])
    if name in MACROS:
        return _macro(MACROS[name], *args)
    return node  # type: ignore[no-any-return]


def _check_functions(tree: exp.Expression) -> None:
    """Refuse any function left that the catalog database should not run for a client:
    only the `hw` macros and the allowlisted plain SQL functions may be called."""
    from sqlglot import exp

    from headwater.engine.duckdb_readonly import DENIED_PATTERN

    for node in tree.walk():
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            if isinstance(node.this, exp.Identifier) and node.this.name == HELPERS:
                continue
            raise UsageError(f"the function {node.sql('postgres')} is not answered")
        if not isinstance(node, exp.Func) or isinstance(node.parent, exp.Dot):
            continue
        name = _function_name(node)
        allowed = not isinstance(node, exp.Anonymous) or SQL_FUNCTIONS.fullmatch(name)
        if not allowed or DENIED_PATTERN.fullmatch(name):
            raise UsageError(
                f"Headwater's PostgreSQL catalog does not answer the function {name}()",
                hint="a catalog query may call PostgreSQL's catalog functions that BI tools "
                "send (format_type, pg_get_expr, has_table_privilege...) and plain SQL ones",
            )


def _catalog_schema(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Identifier) and node.name.lower() in _CATALOG_SCHEMAS


def _function_name(node: Any) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    for kind, name in (
        (exp.CurrentUser, "current_user"),
        (exp.CurrentSchema, "current_schema"),
        (exp.CurrentDatabase, "current_database"),
        (exp.SessionUser, "session_user"),
    ):
        if isinstance(node, kind):
            return name
    return str(node.sql_name()).lower()


def _arguments(node: Any) -> list[exp.Expression]:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    found: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            found.extend(v for v in value if isinstance(v, exp.Expression))
        elif isinstance(value, exp.Expression):
            found.append(value)
    return found


def _macro(name: str, *args: exp.Expression) -> exp.Expression:
    """A call of the catalog database's macro `hw.<name>`."""
    from sqlglot import exp

    call = exp.Anonymous(this=name, expressions=list(args))
    return exp.Dot(this=exp.to_identifier(HELPERS), expression=call)


def _column(column: exp.Column) -> exp.Expression:
    """`pg_catalog.pg_class.oid` names the column by its table only; `current_user` and the
    other SQL value functions written without parentheses are calls."""
    if column.args.get("db") is not None and column.db.lower() in _CATALOG_SCHEMAS:
        column.set("db", None)
        column.set("catalog", None)
    if not column.table and column.name in VALUE_FUNCTIONS and not column.this.quoted:
        return _macro(MACROS[column.name])
    return column


def _textual(node: Any) -> bool:
    """Whether `node` surely computes text (a name to look up, not an oid)."""
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return bool(node.is_string)
    if isinstance(node, exp.Cast):
        return type_name(node.to) in _TEXTUAL_TYPES
    if isinstance(node, exp.DPipe | exp.Concat):
        return True
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        return str(node.expression.name) in ("quote_ident", "quote_literal")
    return False


def _projected(node: Any) -> bool:
    """Whether `node` is (under aliases and parentheses) an output column of a SELECT."""
    from sqlglot import exp

    child, parent = node, node.parent
    while isinstance(parent, exp.Alias | exp.Paren):
        child, parent = parent, parent.parent
    return isinstance(parent, exp.Select) and any(child is p for p in parent.expressions)


def _duckdb_type(pg_name: str) -> str:
    base = pg_name.removesuffix("[]")
    if base not in CAST_TYPES:
        raise UsageError(f"Headwater's PostgreSQL catalog does not know the type {pg_name}")
    duck = CAST_TYPES[base]
    return duck + "[]" if pg_name.endswith("[]") and not duck.endswith("[]") else duck


def _format(template: str, args: list[exp.Expression]) -> exp.Expression:
    """PostgreSQL's `format('%I.%I', a, b)` with a literal template, as a concatenation."""
    import re

    from sqlglot import exp

    parts: list[exp.Expression] = []
    position = 0
    remaining = list(args)
    for match in re.finditer(r"%([sIL%])", template):
        if match.start() > position:
            parts.append(exp.Literal.string(template[position : match.start()]))
        position = match.end()
        spec = match.group(1)
        if spec == "%":
            parts.append(exp.Literal.string("%"))
            continue
        if not remaining:
            raise UsageError("format() has fewer arguments than its template needs")
        value = remaining.pop(0)
        if spec == "I":
            parts.append(_macro("quote_ident", value))
        elif spec == "L":
            parts.append(_macro("quote_literal", value))
        else:
            text = exp.cast(value, "VARCHAR")
            parts.append(exp.Coalesce(this=text, expressions=[exp.Literal.string("")]))
    if position < len(template):
        parts.append(exp.Literal.string(template[position:]))
    result: exp.Expression = parts[0] if parts else exp.Literal.string("")
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part)
    return exp.Paren(this=result)
