"""The rewrites `spark_sql` applies to a DuckDB statement before sqlglot writes it as Spark SQL:
each fixes what sqlglot would otherwise write with another meaning in Spark, or writes out what
Spark SQL has no syntax for (`UNION BY NAME`, `SELECT * REPLACE`), or refuses a construct.

`REWRITES` maps a sqlglot syntax-tree class to its rewrite, `CALLS` a DuckDB function sqlglot
does not know; the rewrites of dates and times are in `spark_sql_dates`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

# imported only by spark_sql.transpile, once sqlglot is needed anyway: not at start-up
from sqlglot import exp  # noqa: TID253

from headwater.engine.spark_sql import dialects, unsupported
from headwater.engine.spark_sql_dates import DATE_CALLS, DATE_REWRITES
from headwater.engine.spark_sql_nodes import (
    call,
    cast,
    literal_int,
    literal_string,
    number,
    op,
    string,
)
from headwater.engine.spark_sql_types import Types, has_star, orders_by_all


class Rewriting:
    """Applies the rewrites to every node of a statement, innermost first."""

    def __init__(self, types: Types) -> None:
        """Rewrites of a statement whose expressions have the types `types` says."""
        self.types = types

    def run(self, tree: Any) -> Any:
        """Rewrite `tree` (in place where it can) and return the rewritten tree."""
        nodes = list(tree.walk())
        root = tree
        for node in reversed(nodes):
            rewrite = REWRITES.get(type(node).__name__)
            if rewrite is None:
                continue
            new = rewrite(node, self)
            if new is None or new is node:
                continue
            if isinstance(new, exp.Binary) and not isinstance(node.parent, exp.Paren):
                # sqlglot writes a tree as it stands: an operation put in an operand's place
                # needs its parentheses
                new = exp.Paren(this=new)
            new.meta.setdefault("hw", node.meta.get("hw"))
            new.meta.setdefault("hw_origin", node.meta.get("hw_origin", node))
            if node is root:
                root = new
            else:
                node.replace(new)
        return root

    def kind(self, node: Any) -> str | None:
        """The kind of `node`'s type (see `Types.of`)."""
        return self.types.of(node)


# Lists: DuckDB indexes from 1, counts negative indexes from the end and returns NULL out of
# range; sqlglot shifts literal indexes only, and Spark's `a[i]` fails out of range (ANSI).


def _rewrite_bracket(node: Any, r: Rewriting) -> Any:
    if len(node.expressions) != 1:
        return node
    index = node.expressions[0]
    if isinstance(index, exp.Slice):
        return _slice(node.this, index.this, index.expression, r)
    if isinstance(index, exp.Literal) and index.is_string:
        return node  # a map key or a struct field: Spark reads `x['k']` alike
    return _element(node.this, index, r)


def _element(values: Any, index: Any, r: Rewriting) -> Any:
    """DuckDB's `values[index]` (1-based, NULL out of range) in Spark."""
    if r.kind(values) == "string":
        if literal_int(index) == 0:
            return string("")  # DuckDB's s[0] is empty; Spark's substring(s, 0, 1) is not
        return call("substring", values, index, number(1))
    if literal_int(index) == 0:
        return exp.Null()
    if r.kind(values) == "array" and literal_int(index) is None:
        index = exp.Nullif(this=index, expression=number(0))
    return call("try_element_at", values, index)


def _slice(values: Any, start: Any, end: Any, r: Rewriting) -> Any:
    """DuckDB's `values[start:end]` (1-based, both ends included) in Spark."""
    if r.kind(values) == "string":
        low, high = literal_int(start), literal_int(end)
        if (low is not None and low <= 0) or (high is not None and high < 0):
            raise unsupported("string slice", "a slice bound of zero or below is not translated")
        first = start if start is not None else number(1)
        if end is None:
            return call("substring", values, first)
        return call("substring", values, first, _length(first.copy(), end))
    low, high = literal_int(start), literal_int(end)
    if start is None and end is None:
        return values
    if low is not None and low < 0 and end is None:
        return call("slice", values, start, number(-low))
    if (low is not None and low <= 0) or (high is not None and high < 0):
        raise unsupported("list_slice", "a slice bound of zero or below is not translated")
    first = start if start is not None else number(1)
    if end is None:
        return call("slice", values, first, call("size", values.copy()))
    length = _length(first.copy(), end)
    return call("slice", values, first, exp.Greatest(this=length, expressions=[number(0)]))


def _length(first: Any, last: Any) -> Any:
    """`last - first + 1`, folded when both are literals."""
    low, high = literal_int(first), literal_int(last)
    if low is not None and high is not None:
        return number(max(high - low + 1, 0))
    return op(exp.Add, op(exp.Sub, last, first), number(1))


# Regular expressions: DuckDB's regexp_replace replaces the first match unless given 'g'
# (Spark's replaces all), names groups \1 in the replacement (Spark: $1), and matches the
# whole string in regexp_full_match and SIMILAR TO; regexp_extract defaults to group 0.


def _regex_flags(node: Any, key: str, function: str) -> str:
    """The options of a regexp call as the inline flag Java reads (`(?i)`)."""
    flags = node.args.get(key)
    if flags is None:
        return ""
    text = literal_string(flags)
    if text is None:
        raise unsupported(function, "its options must be a string literal")
    unknown = set(text) - set("gics")
    if unknown:
        raise unsupported(function, f"option '{''.join(sorted(unknown))}' is not translated")
    return "(?i)" if "i" in text and text.rfind("i") > text.rfind("c") else ""


def _with_prefix(prefix: str, pattern: Any, suffix: str = "") -> Any:
    """`prefix + pattern + suffix` as a pattern (folded for a literal)."""
    if not prefix and not suffix:
        return pattern
    text = literal_string(pattern)
    if text is not None:
        return string(prefix + text + suffix)
    parts = [
        p
        for p in (string(prefix) if prefix else None, pattern, string(suffix) if suffix else None)
        if p is not None
    ]
    return exp.Concat(expressions=parts, safe=False)


def _rewrite_regexp_replace(node: Any, r: Rewriting) -> Any:
    flags_text = literal_string(node.args.get("modifiers")) or ""
    flags = _regex_flags(node, "modifiers", "regexp_replace")
    replacement = literal_string(node.args.get("replacement"))
    if replacement is None:
        raise unsupported("regexp_replace", "its replacement must be a string literal")
    every = "g" in flags_text
    shift = 0 if every else 2
    pattern = node.expression
    if every:
        pattern = _with_prefix(flags, pattern)
    else:
        # the first match only: what precedes it is group 1, the match group 2
        pattern = _with_prefix(flags + r"^([\s\S]*?)(", pattern, ")")
    java = _java_replacement(replacement, shift)
    if not every:
        java = "$1" + java
    return exp.RegexpReplace(this=node.this, expression=pattern, replacement=string(java))


def _java_replacement(text: str, shift: int) -> str:
    r"""A DuckDB (RE2) replacement as Java's: `\N` -> `$N` (+ `shift`), `\\` stays, `$` -> `\$`."""
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        following = text[position + 1 : position + 2]
        if char == "\\" and following.isdigit():
            group = int(following)
            out.append(f"${group + shift}" if shift or group else "$0")
            position += 2
        elif char == "\\" and following == "\\":
            out.append("\\\\")
            position += 2
        elif char == "$":
            out.append("\\$")
            position += 1
        else:
            out.append(char)
            position += 1
    return "".join(out)


def _rewrite_regexp_like(node: Any, r: Rewriting) -> Any:
    flags = _regex_flags(node, "flag", "regexp_matches")
    if not flags:
        return node
    return exp.RegexpLike(this=node.this, expression=_with_prefix(flags, node.expression))


def _full_match(node: Any, r: Rewriting) -> Any:
    flags = _regex_flags(node, "flag", "regexp_full_match") if "flag" in node.arg_types else ""
    pattern = _with_prefix(flags + "^(?:", node.expression, ")$")
    return exp.RegexpLike(this=node.this, expression=pattern)


def _rewrite_regexp_extract(node: Any, r: Rewriting) -> Any:
    flags = _regex_flags(node, "parameters", "regexp_extract")
    group = node.args.get("group")
    if group is not None and literal_int(group) is None:
        raise unsupported("regexp_extract", "its group must be a number")
    cls = type(node)
    return cls(
        this=node.this,
        expression=_with_prefix(flags, node.expression),
        group=group if group is not None else number(0),
    )


def _rewrite_glob(node: Any, r: Rewriting) -> Any:
    pattern = literal_string(node.expression)
    if pattern is None or re.search(r"[\[\]\\]", pattern):
        raise unsupported("glob", "only literal patterns with * and ? are translated")
    like = re.sub(r"([%_])", r"\\\1", pattern).replace("*", "%").replace("?", "_")
    return exp.Like(this=node.this, expression=string(like))


LIKE_ESCAPES = "!#~^|"
"""Escape characters for a LIKE whose pattern is a literal (the first one it does not hold)."""


def _rewrite_like(node: Any, r: Rewriting) -> Any:
    """LIKE and ILIKE: DuckDB has no escape character unless one is written, Spark treats `\\`
    as one; an explicit escape character the pattern does not hold keeps `\\` literal."""
    if isinstance(node.parent, exp.Escape):
        return node
    pattern = literal_string(node.expression)
    if pattern is None:
        escape = chr(31)  # a control character no real pattern holds
    else:
        escape = next((c for c in LIKE_ESCAPES if c not in pattern), chr(31))
    return exp.Escape(this=node.copy(), expression=string(escape))


# Numbers: DuckDB's `/` always divides as DOUBLE (Spark keeps DECIMAL), `//` divides integers
# only, a cast to an integer rounds (DECIMAL: half away from zero, DOUBLE: half to even) where
# Spark truncates, and avg of a DECIMAL is a DOUBLE.


def _rewrite_div(node: Any, r: Rewriting) -> Any:
    left, right = r.kind(node.this), r.kind(node.expression)
    if left == "float" or (left == "int" and right in ("int", "float")):
        return node
    if left not in (None, "int", "decimal") or right not in (None, "int", "decimal", "float"):
        return node
    node.set("this", cast(node.this, "DOUBLE"))
    return node


def _rewrite_int_div(node: Any, r: Rewriting) -> Any:
    kinds = (r.kind(node.this), r.kind(node.expression))
    if any(k in ("decimal", "float") for k in kinds):
        return exp.Div(this=cast(node.this, "DOUBLE"), expression=node.expression)
    return node


def _rewrite_cast(node: Any, r: Rewriting) -> Any:
    t = exp.DataType.Type
    to = node.to
    replaced, refused = _cast_types()
    replacement = replaced.get(to.this)
    if replacement is not None:
        node.set("to", exp.DataType.build(replacement, dialect=dialects()[1]))
        to = node.to
    elif to.this in refused:
        raise unsupported("cast", f"Spark has no type {to.sql(dialect=dialects()[0])}")
    if to.this in (t.TINYINT, t.SMALLINT, t.INT, t.BIGINT):
        source = r.kind(node.this)
        if source == "decimal":
            node.set("this", call("round", node.this))
        elif source == "float":
            node.set("this", call("bround", node.this))
    elif to.this == t.DECIMAL and (r.kind(node.this) == "float" or _divides(node.this)):
        # DuckDB rounds x * 10^scale computed as a DOUBLE (67.975 -> 6797.4999... -> 67.97);
        # Spark rounds x's shortest decimal text (67.975 -> 67.98): round the DOUBLE first
        scale = _decimal_scale(to)
        if scale is not None:
            factor = exp.Literal.number(f"1e{scale}")
            scaled = exp.Mul(this=exp.Paren(this=node.this.copy()), expression=factor)
            node.set("this", exp.Div(this=call("round", scaled), expression=factor.copy()))
    return node


def _divides(node: Any) -> bool:
    """Whether `node` is a `/` (a DOUBLE in DuckDB whatever its operands' types)."""
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Div)


def _decimal_scale(to: Any) -> int | None:
    """The scale of DECIMAL type `to` (DuckDB's default DECIMAL is (18, 3)); None when it is
    not a literal number."""
    parameters = to.expressions
    if not parameters:
        return 3
    if len(parameters) < 2:
        return 0
    value = literal_int(parameters[1].this if hasattr(parameters[1], "this") else parameters[1])
    return value


def _rewrite_avg(node: Any, r: Rewriting) -> Any:
    if r.kind(node.this) in (None, "decimal"):
        node.set("this", cast(node.this, "DOUBLE"))
    return node


def _rewrite_length(node: Any, r: Rewriting) -> Any:
    if r.kind(node.this) == "array":
        return call("size", node.this)
    return node


# Aggregates: DuckDB's list() keeps NULLs and its ORDER BY (Spark's collect_list drops both);
# quantile_cont/quantile_disc take the fraction after the column.


def _rewrite_array_agg(node: Any, r: Rewriting) -> Any:
    value = node.this
    order = None
    if isinstance(value, exp.Order):
        order = value
        value = value.this
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        value = value.expressions[0]
    wrapped = exp.Struct(expressions=[exp.alias_(value, "v")])
    keys = list(order.expressions) if order is not None else []
    fields = [exp.alias_(k.this, f"k{i}") for i, k in enumerate(keys)]
    if fields:
        wrapped = exp.Struct(expressions=[*fields, exp.alias_(value, "v")])
    collected: Any = call(
        "collect_list", exp.Distinct(expressions=[wrapped]) if distinct else wrapped
    )
    if keys:
        collected = call("array_sort", collected, _comparator(keys))
    element = exp.to_identifier("e")
    return call(
        "transform",
        collected,
        exp.Lambda(
            this=exp.Dot(this=exp.column("e"), expression=exp.to_identifier("v")),
            expressions=[element],
        ),
    )


def _comparator(keys: list[Any]) -> Any:
    """A comparator for array_sort ordering structs by fields k0, k1, ... as `keys` say
    (DuckDB's default: ascending, NULLs last)."""

    def field(side: str, i: int) -> Any:
        return exp.Dot(this=exp.column(side), expression=exp.to_identifier(f"k{i}"))

    def compare(i: int, key: Any) -> Any:
        """-1, 0 or 1 as l.k{i} sorts before, with or after r.k{i}."""
        first, last = number(-1), number(1)
        before, after = (last, first) if key.args.get("desc") else (first, last)
        null_left = number(-1) if key.args.get("nulls_first") else number(1)
        null_right = number(1) if key.args.get("nulls_first") else number(-1)
        both_null = exp.and_(field("l", i).is_(exp.null()), field("r", i).is_(exp.null()))
        return exp.Case(
            ifs=[
                exp.If(this=both_null, true=number(0)),
                exp.If(this=field("l", i).is_(exp.null()), true=null_left),
                exp.If(this=field("r", i).is_(exp.null()), true=null_right),
                exp.If(this=exp.LT(this=field("l", i), expression=field("r", i)), true=before),
                exp.If(this=exp.GT(this=field("l", i), expression=field("r", i)), true=after),
            ],
            default=number(0),
        )

    # the first key that tells them apart decides
    decided = [exp.Nullif(this=compare(i, k), expression=number(0)) for i, k in enumerate(keys)]
    body = exp.Coalesce(this=decided[0], expressions=[*decided[1:], number(0)])
    return exp.Lambda(this=body, expressions=[exp.to_identifier("l"), exp.to_identifier("r")])


def _rewrite_percentile_cont(node: Any, r: Rewriting) -> Any:
    return call("percentile", node.this, node.expression)


def _rewrite_percentile_disc(node: Any, r: Rewriting) -> Any:
    # quantile_disc(x, q) reads as PercentileDisc, quantile(x, q) (the same) as Quantile
    fraction = node.args.get("expression") or node.args.get("quantile")
    if isinstance(fraction, exp.Array):
        raise unsupported("quantile_disc", "a list of fractions is not translated")
    return exp.WithinGroup(
        this=call("percentile_disc", fraction),
        expression=exp.Order(expressions=[exp.Ordered(this=node.this, nulls_first=False)]),
    )


# JSON and rows: DuckDB's to_json keeps NULL fields (Spark drops them) and reads a table alias
# as the row.


def _rewrite_column(node: Any, r: Rewriting) -> Any:
    """A bare table alias used as a value is DuckDB's row as a struct."""
    if node.table or not isinstance(node.this, exp.Identifier):
        return node
    select = node.find_ancestor(exp.Select)
    if select is None:
        return node
    name = node.name.lower()
    aliases = {s.alias_or_name.lower() for s in _sources(select)}
    if name not in aliases or _column_exists(select, name, r):
        return node
    row = exp.Struct(expressions=[exp.Column(this=exp.Star(), table=exp.to_identifier(node.name))])
    return exp.alias_(row, node.name) if node.parent is select else row


def _sources(select: Any) -> Iterator[Any]:
    from_ = select.args.get("from_")
    if from_ is not None:
        yield from_.this
    for join in select.args.get("joins") or []:
        yield join.this


def _column_exists(select: Any, name: str, r: Rewriting) -> bool:
    """Whether a source of `select` has a column `name` (True when not known)."""
    known = False
    for source in _sources(select):
        if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
            columns = r.types.table_columns(source.name)
        else:
            columns = r.types.columns(source)
        if columns is None:
            return True
        known = True
        if name in (c.lower() for c in columns):
            return True
    return not known


def _to_json(node: Any, r: Rewriting) -> Any:
    if len(node.expressions) != 1:
        return node
    options = call("map", string("ignoreNullFields"), string("false"))
    return call("to_json", node.expressions[0], options)


def _rewrite_format(node: Any, r: Rewriting) -> Any:
    """DuckDB's format('{}', ...) (fmt's braces) as Spark's format_string ('%s')."""
    text = literal_string(node.this)
    if text is None or re.search(r"\{[^}]", text):
        raise unsupported("format", "only a literal format with {} placeholders is translated")
    java = text.replace("%", "%%").replace("{}", "%s")
    formatted = call("format_string", string(java), *node.expressions)
    return _null_if_any(formatted, list(node.expressions))


def _refuse(function: str, detail: str) -> Callable[[Any, Rewriting], Any]:
    def rewrite(node: Any, r: Rewriting) -> Any:
        raise unsupported(function, detail)

    return rewrite


def _rename(name: str) -> Callable[[Any, Rewriting], Any]:
    def rewrite(node: Any, r: Rewriting) -> Any:
        return call(name, *node.expressions)

    return rewrite


def _list_extract(node: Any, r: Rewriting) -> Any:
    if len(node.expressions) != 2:
        return node
    return _element(node.expressions[0], node.expressions[1], r)


def _list_slice(node: Any, r: Rewriting) -> Any:
    if len(node.expressions) != 3:
        return node
    return _slice(node.expressions[0], node.expressions[1], node.expressions[2], r)


def _list_distinct(node: Any, r: Rewriting) -> Any:
    """DuckDB's list_distinct drops NULLs."""
    element = exp.to_identifier("e")
    kept = call(
        "filter",
        node.this,
        exp.Lambda(this=exp.Not(this=exp.column("e").is_(exp.null())), expressions=[element]),
    )
    return call("array_distinct", kept)


def _rewrite_anonymous(node: Any, r: Rewriting) -> Any:
    rewrite = CALLS.get(str(node.name).lower())
    return node if rewrite is None else rewrite(node, r)


# Sets and stars: Spark SQL has neither UNION BY NAME nor SELECT * REPLACE; both are written
# out with the columns the relations have.


def _rewrite_union(node: Any, r: Rewriting) -> Any:
    if not node.args.get("by_name"):
        return node
    left, right = r.types.columns(node.this), r.types.columns(node.expression)
    if left is None or right is None:
        raise unsupported(
            "UNION BY NAME",
            "Spark SQL has none, and the columns of its inputs are not known to write it out",
        )
    seen = {n.lower() for n in left}
    names = left + [n for n in right if n.lower() not in seen]

    def side(query: Any, has: list[str]) -> Any:
        present = {n.lower() for n in has}
        projections = [
            exp.column(n, quoted=True)
            if n.lower() in present
            else exp.alias_(exp.null(), n, quoted=True)
            for n in names
        ]
        inner = query.this if isinstance(query, exp.Subquery) else query
        return exp.select(*projections).from_(
            exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_by_name")))
        )

    node.set("this", exp.Subquery(this=side(node.this, left)))
    node.set("expression", exp.Subquery(this=side(node.expression, right)))
    node.set("by_name", None)
    return node


def _rewrite_select(node: Any, r: Rewriting) -> Any:
    stars = [
        p
        for p in node.expressions
        if (isinstance(p, exp.Star) and p.args.get("replace"))
        or (
            isinstance(p, exp.Column)
            and isinstance(p.this, exp.Star)
            and p.this.args.get("replace")
        )
    ]
    if stars:
        _expand_replace(node, stars, r)
    return node


def _expand_replace(select: Any, stars: list[Any], r: Rewriting) -> None:
    """Write out `* REPLACE (...)` of `select` with its source's columns."""
    expanded = r.types.expanded(select)
    own = {p.meta.get("hw") for p in select.expressions if p not in stars}
    if expanded is None or len(stars) != 1:
        raise unsupported(
            "SELECT * REPLACE", "Spark SQL has none, and the columns it stands for are not known"
        )
    star = stars[0]
    inner = star.this if isinstance(star, exp.Column) else star
    replace = {e.alias.lower(): e for e in inner.args.get("replace") or []}
    excluded = {e.name.lower() for e in inner.args.get("except") or []}
    qualifier = star.table if isinstance(star, exp.Column) else None
    columns: list[Any] = []
    for projection in expanded:
        bare = projection.this if isinstance(projection, exp.Alias) else projection
        if bare.meta.get("hw") in own or projection.meta.get("hw") in own:
            continue
        name = projection.alias_or_name
        if name.lower() in excluded:
            continue
        if name.lower() in replace:
            columns.append(replace[name.lower()])
        else:
            columns.append(exp.column(name, table=qualifier or None, quoted=True))
    position = select.expressions.index(star)
    projections = list(select.expressions)
    projections[position : position + 1] = columns
    select.set("expressions", projections)


def _rewrite_table(node: Any, r: Rewriting) -> Any:
    """DuckDB's range()/generate_series() as a table: Spark explodes a sequence."""
    series = node.this
    if not isinstance(series, exp.GenerateSeries):
        return node
    alias = node.args.get("alias")
    column = "range" if series.args.get("is_end_exclusive") else "generate_series"
    if alias is None:
        alias = exp.TableAlias(this=exp.to_identifier(column))
    if not alias.columns:
        alias.set("columns", [exp.to_identifier(column)])
    exploded = call("explode", _sequence(series, r))
    if isinstance(node.parent, exp.Join):
        return exp.Lateral(this=exploded, alias=alias)
    return exp.Table(this=exploded, alias=alias)


def _sequence(series: Any, r: Rewriting) -> Any:
    """DuckDB's range(a, b, step) (b excluded) or generate_series (b included) as an array
    (empty where DuckDB's is, where Spark's sequence would fail)."""
    start, end, step = series.args.get("start"), series.args.get("end"), series.args.get("step")
    if end is None:
        start, end = number(0), start
    exclusive = bool(series.args.get("is_end_exclusive"))
    descending = _is_negative(step)
    compare = exp.GT if descending else exp.LT
    element = exp.to_identifier("x")
    values: Any = call("sequence", start, end, step)
    if exclusive:
        values = call(
            "filter",
            values,
            exp.Lambda(
                this=compare(this=exp.column("x"), expression=end.copy()), expressions=[element]
            ),
        )
        guard: Any = compare(this=start.copy(), expression=end.copy())
    else:
        guard = (exp.GTE if descending else exp.LTE)(this=start.copy(), expression=end.copy())
    return exp.If(this=guard, true=values, false=exp.Array(expressions=[]))


def _is_negative(step: Any) -> bool:
    if step is None:
        return False
    if isinstance(step, exp.Neg):
        return True
    if isinstance(step, exp.Interval):
        text = literal_string(step.this) or str(step.this.this)
        return text.strip().startswith("-")
    value = literal_int(step)
    return value is not None and value < 0


def _rewrite_series(node: Any, r: Rewriting) -> Any:
    """range()/generate_series() as a value (a list); in FROM, `_rewrite_table` explodes it."""
    if isinstance(node.parent, exp.Table):
        return node
    return _sequence(node, r)


def _rewrite_order(node: Any, r: Rewriting) -> Any:
    """ORDER BY ALL: DuckDB puts NULLs last; written out by position for Spark."""
    if not orders_by_all(node):
        return node
    ordered = node.expressions[0]
    select = node.parent
    columns = r.types.columns(select) if isinstance(select, exp.Query) else None
    if columns is None:
        if isinstance(select, exp.Select) and not has_star(select):
            columns = [p.alias_or_name for p in select.expressions]
        else:
            raise unsupported("ORDER BY ALL", "the columns it stands for are not known")
    desc = bool(ordered.args.get("desc"))
    nulls_first = bool(ordered.args.get("nulls_first"))  # DuckDB's default: NULLs last
    node.set(
        "expressions",
        [
            exp.Ordered(this=number(i + 1), desc=desc, nulls_first=nulls_first)
            for i in range(len(columns))
        ],
    )
    return node


def _rewrite_group(node: Any, r: Rewriting) -> Any:
    """GROUP BY ALL, written out: DuckDB groups by the selected expressions that hold a column
    and no aggregate; Spark's groups by a constant too (and gives no row where DuckDB's global
    aggregate gives one)."""
    select = node.parent
    if not node.args.get("all") or not isinstance(select, exp.Select) or has_star(select):
        return node
    keys = [p.unalias() for p in select.expressions if _groups(p.unalias())]
    if not keys:
        node.pop()
        return None
    return exp.Group(expressions=[k.copy() for k in keys])


def _groups(expression: Any) -> bool:
    """Whether DuckDB's GROUP BY ALL groups by the selected `expression` (a window function
    without an aggregate too: both engines then refuse the query)."""
    if expression.find(exp.Column) is None:
        return False
    return not any(
        agg.find_ancestor(exp.Subquery, exp.Select) is expression.find_ancestor(exp.Select)
        for agg in expression.find_all(exp.AggFunc)
    )


def _rewrite_join(node: Any, r: Rewriting) -> Any:
    method = str(node.args.get("method") or "").upper()
    if method in ("ASOF", "POSITIONAL"):
        raise unsupported(f"{method} JOIN", "Spark SQL has none")
    return node


def _rewrite_limit(node: Any, r: Rewriting) -> Any:
    if node.args.get("percent"):
        raise unsupported("LIMIT PERCENT", "Spark SQL has none")
    return node


def _rewrite_pivot(node: Any, r: Rewriting) -> Any:
    raise unsupported(
        "PIVOT", "DuckDB's PIVOT finds its columns when it runs; Spark needs them listed"
    )


def _rewrite_log(node: Any, r: Rewriting) -> Any:
    """DuckDB's log(x) is the base-10 logarithm, Spark's the natural one."""
    if node.args.get("expression") is None:
        return call("log10", node.this)
    return node


def _null_if_any(formatted: Any, arguments: list[Any]) -> Any:
    """`formatted`, NULL when any of `arguments` is (DuckDB's format and printf propagate NULLs,
    Spark's write 'null')."""
    nullable = [a for a in arguments if not isinstance(a, exp.Literal)]
    if not nullable:
        return formatted
    condition = exp.or_(*[a.copy().is_(exp.null()) for a in nullable])
    return exp.If(this=condition, true=exp.null(), false=formatted)


def _printf(node: Any, r: Rewriting) -> Any:
    return _null_if_any(call("printf", *node.expressions), list(node.expressions))


def _rewrite_sample(node: Any, r: Rewriting) -> Any:
    """DuckDB's `USING SAMPLE` samples what FROM reads; Spark samples a table (TABLESAMPLE)."""
    select = node.parent
    if not isinstance(select, exp.Select) or node.arg_key != "sample":
        return node
    from_ = select.args.get("from_")
    if from_ is None or select.args.get("joins") or from_.this.args.get("sample"):
        raise unsupported("USING SAMPLE", "Spark samples one table, not a join")
    if node.args.get("seed") is not None or node.args.get("bucket_numerator") is not None:
        raise unsupported("USING SAMPLE", "Spark's sample takes no seed here")
    sample = node.copy()
    sample.set("method", None)
    from_.this.set("sample", sample)
    node.pop()
    return None


def _rewrite_distinct_on(node: Any, r: Rewriting) -> Any:
    """DISTINCT ON (keys): the first row of each key in the query's order, as QUALIFY."""
    select = node.parent
    on = node.args.get("on")
    if on is None or not isinstance(select, exp.Select):
        return node
    keys = list(on.expressions) if isinstance(on, exp.Tuple) else [on]
    order = select.args.get("order")
    window = exp.Window(
        this=call("row_number"),
        partition_by=[k.copy() for k in keys],
        order=order.copy() if order is not None else None,
    )
    condition: Any = exp.EQ(this=window, expression=number(1))
    existing = select.args.get("qualify")
    if existing is not None:
        condition = exp.and_(existing.this, condition)
    select.set("qualify", exp.Qualify(this=condition))
    node.pop()
    return None


@functools.cache
def _cast_types() -> tuple[dict[Any, str], frozenset[Any]]:
    """DuckDB types Spark spells otherwise (-> Spark's), and those Spark has no type for."""
    t = exp.DataType.Type
    replaced = {
        t.INT128: "DECIMAL(38, 0)",
        t.UINT128: "DECIMAL(38, 0)",
        t.UBIGINT: "DECIMAL(20, 0)",
        t.UINT: "BIGINT",
        t.USMALLINT: "INT",
        t.UTINYINT: "SMALLINT",
        t.UUID: "STRING",
        t.JSON: "STRING",
        t.TIMESTAMP_S: "TIMESTAMP_NTZ",
        t.TIMESTAMP_MS: "TIMESTAMP_NTZ",
        t.TIMESTAMP_NS: "TIMESTAMP_NTZ",
    }
    refused = frozenset({t.TIME, t.TIMETZ, t.BIT, t.ENUM, t.INTERVAL, t.UNION, t.VARIANT})
    return replaced, refused


REWRITES: dict[str, Callable[[Any, Rewriting], Any]] = {
    **DATE_REWRITES,
    "Bracket": _rewrite_bracket,
    "RegexpReplace": _rewrite_regexp_replace,
    "RegexpLike": _rewrite_regexp_like,
    "RegexpFullMatch": _full_match,
    "SimilarTo": _full_match,
    "RegexpExtract": _rewrite_regexp_extract,
    "RegexpExtractAll": _rewrite_regexp_extract,
    "Glob": _rewrite_glob,
    "Like": _rewrite_like,
    "ILike": _rewrite_like,
    "Div": _rewrite_div,
    "IntDiv": _rewrite_int_div,
    "Cast": _rewrite_cast,
    "TryCast": _rewrite_cast,
    "Avg": _rewrite_avg,
    "Length": _rewrite_length,
    "Log": _rewrite_log,
    "ArrayAgg": _rewrite_array_agg,
    "PercentileCont": _rewrite_percentile_cont,
    "PercentileDisc": _rewrite_percentile_disc,
    "Quantile": _rewrite_percentile_disc,
    "ArrayDistinct": _list_distinct,
    "Column": _rewrite_column,
    "Format": _rewrite_format,
    "Anonymous": _rewrite_anonymous,
    "Union": _rewrite_union,
    "Select": _rewrite_select,
    "Distinct": _rewrite_distinct_on,
    "Table": _rewrite_table,
    "GenerateSeries": _rewrite_series,
    "TableSample": _rewrite_sample,
    "Order": _rewrite_order,
    "Group": _rewrite_group,
    "Join": _rewrite_join,
    "Limit": _rewrite_limit,
    "Pivot": _rewrite_pivot,
}
"""DuckDB syntax-tree classes (by name) -> the rewrite that makes Spark read them as DuckDB."""

CALLS: dict[str, Callable[[Any, Rewriting], Any]] = {
    **DATE_CALLS,
    "list_extract": _list_extract,
    "array_extract": _list_extract,
    "list_element": _list_extract,
    "list_slice": _list_slice,
    "array_slice": _list_slice,
    "to_json": _to_json,
    "strlen": _rename("octet_length"),
    "printf": _printf,
    "array_has_any": _rename("arrays_overlap"),
    "list_has_any": _rename("arrays_overlap"),
    "hash": _refuse(
        "hash", "DuckDB's and Spark's hash() give different values; md5() gives the same"
    ),
}
"""DuckDB functions sqlglot does not know (by lower-case name) -> their rewrite."""
