"""One page of a table read, from the request's query parameters to the SQL that reads it.

`GET /api/tables/{table}/rows` takes PostgREST-style parameters: `columns=a,b`, filters
`col=op.value` (`eq`, `ne`, `lt`, `le`/`lte`, `gt`, `ge`/`gte`, `in.(a,b)`, `like.*x*`,
`ilike.*x*`, `is.null`, `is.not_null`, `is.true`, `is.false`, each may be preceded by `not.`),
`order=a,-b` (or `b.desc`), `limit` and `after=<cursor>`. Each value is read as the column's
type here, so a bad one is an error naming its parameter before anything runs; the SQL is a
sqlglot tree of quoted identifiers and literals, never text glued from the request.

Pages are keyset pages: the order always ends with the table's keys, so it is total, and the
cursor of a page holds the order values of its last row; the next page is the rows after them
in that order (nulls sort last), which the engine finds through its min/max statistics rather
than by skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.query.parameters import Parameter

RESERVED = frozenset({"columns", "order", "limit", "after", "as_of", "format"})
"""Query parameters of a table read that are not filters."""
KEY_ALIAS = "_hw_order_{}"
"""The name under which a page's order columns are read (and dropped before it is sent)."""
COMPARISONS = {
    "eq": "EQ",
    "ne": "NEQ",
    "neq": "NEQ",
    "lt": "LT",
    "le": "LTE",
    "lte": "LTE",
    "gt": "GT",
    "ge": "GTE",
    "gte": "GTE",
}
"""Filter operators that compare with one value, and sqlglot's node for each."""
OPERATORS = ", ".join([*COMPARISONS, "in", "like", "ilike", "is"])
RENDERED_CACHE = 4096
"""Rendered SQL kept, by table and request shape: a lookup or a page of a shape seen before
costs no SQL rendering."""
_rendered: dict[tuple[Any, ...], str] = {}
_rendered_lock = threading.Lock()


class BadParameter(UsageError):
    """A query parameter of a table read that cannot be used; the message names it."""

    def __init__(self, parameter: str, problem: str, hint: str | None = None) -> None:
        super().__init__(f"parameter {parameter}: {problem}", hint=hint)
        self.parameter = parameter


@dataclass(frozen=True)
class OrderItem:
    """One column of a page's order."""

    column: str
    descending: bool = False


@dataclass
class RowsQuery:
    """What one page reads: which columns, which rows, in which order, how many.

    The request's values are not in the SQL: each is a placeholder (`$1`, `$2`, ...) bound to
    its entry of `values` when the query runs, so the SQL depends only on the request's shape
    and is rendered once per shape.
    """

    table: str
    """The table's key (`namespace.name`), which its cursors carry."""
    schema: pa.Schema
    columns: list[str]
    """The columns sent, in order."""
    conditions: list[exp.Expr] = field(default_factory=list)
    """The filters, their values as placeholders."""
    shape: list[tuple[Any, ...]] = field(default_factory=list)
    """What the filters' SQL depends on (their columns and operators, not their values)."""
    values: list[Parameter] = field(default_factory=list)
    """The value of each placeholder, in order (`$1` is the first)."""
    order: list[OrderItem] = field(default_factory=list)
    """The user's order followed by the table's keys: a total order."""
    limit: int = 1000
    after: list[Any] | None = None
    """The order values of the previous page's last row (typed), or None for the first."""

    def placeholder(self, value: Parameter) -> exp.Expr:
        """A new placeholder bound to `value`."""
        from sqlglot import exp

        self.values.append(value)
        return exp.Placeholder(this=str(len(self.values)))

    def sql(self, namespace: str, name: str) -> str:
        """The SELECT reading this page from the table `namespace.name` (DuckDB SQL, with
        `values` bound to its placeholders): the columns, then the order columns as
        `_hw_order_<i>`, and one row more than the page holds, which tells whether there is
        a next page."""
        return self.sqls([(namespace, name)])[0]

    def sqls(self, tables: Sequence[tuple[str, str]]) -> list[str]:
        """`sql` for each (namespace, name) of `tables`."""
        after = None if self.after is None else tuple(v is None for v in self.after)
        shape = (
            tuple(self.columns),
            tuple(self.shape),
            tuple(self.order),
            self.limit,
            after,
        )
        rendered: list[str] = []
        missing: list[tuple[str, str]] = []
        with _rendered_lock:
            for target in tables:
                found = _rendered.get((target, shape))
                if found is None:
                    missing.append(target)
                rendered.append(found or "")
        if missing:
            fresh = dict(zip(missing, self._render(missing), strict=True))
            with _rendered_lock:
                if len(_rendered) > RENDERED_CACHE:
                    _rendered.clear()
                for target, sql in fresh.items():
                    _rendered[(target, shape)] = sql
            rendered = [fresh.get(t) or r for t, r in zip(tables, rendered, strict=True)]
        return rendered

    def _render(self, tables: Sequence[tuple[str, str]]) -> list[str]:
        from sqlglot import exp

        projection: list[exp.Expr] = [_column(c) for c in self.columns]
        projection += [
            exp.Alias(this=_column(item.column), alias=exp.to_identifier(KEY_ALIAS.format(i), True))
            for i, item in enumerate(self.order)
        ]
        table = exp.Table()
        conditions = [c.copy() for c in self.conditions]
        if self.after is not None:
            # placeholders after those of the filters, numbered as `_cursor_values` binds them
            first = len(self.values) - sum(v is not None for v in self.after) + 1
            conditions.extend(_after(self.order, self.after, first))
        query = exp.Select(
            expressions=projection,
            order=exp.Order(
                expressions=[
                    exp.Ordered(this=_column(i.column), desc=i.descending, nulls_first=False)
                    for i in self.order
                ]
            ),
            limit=exp.Limit(expression=exp.Literal.number(self.limit + 1)),
        )
        # built in place: sqlglot's builder methods copy the whole tree at each step otherwise
        query = query.from_(table, copy=False)
        if conditions:
            query = query.where(*conditions, copy=False)
        rendered = []
        for namespace, name in tables:
            table.set("this", exp.to_identifier(name, quoted=True))
            table.set("db", exp.to_identifier(namespace, quoted=True))
            rendered.append(query.sql("duckdb"))
        return rendered

    def page(self, table: pa.Table, cut: bool = False) -> tuple[pa.Table, str | None]:
        """Split what `sql` read into the page sent (its columns only, `limit` rows at most)
        and the cursor of the next page (None when this is the last one); `cut` says the
        rows read were cut short by a row cap, so there are more."""
        from headwater.serve.formats import json_column

        more = cut or table.num_rows > self.limit
        table = table.slice(0, self.limit)
        cursor = None
        if more and table.num_rows:
            last = table.slice(table.num_rows - 1, 1)
            values = [
                json_column(last.column(KEY_ALIAS.format(i)))[0] for i in range(len(self.order))
            ]
            cursor = self._cursor(values)
        return table.select(self.columns), cursor

    def _cursor(self, values: list[Any]) -> str:
        body = {"t": self.table, "o": _order_spec(self.order), "v": values}
        text = json.dumps(body, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")


def parse_rows_query(
    table: str,
    schema: pa.Schema,
    keys: Sequence[str],
    params: Sequence[tuple[str, str]],
    *,
    page_size: int,
    max_rows: int,
) -> RowsQuery:
    """Read a table read's query parameters against the table's columns.

    Args:
        table: the table's key (`namespace.name`).
        schema: its columns (at the version read).
        keys: the columns that identify a row, which end every order.
        params: the request's query parameters, in order (a name may repeat).
        page_size: rows in a page when `limit` is not given.
        max_rows: the most `limit` may ask for.

    Raises:
        BadParameter: a parameter names an unknown column, an unknown operator, or a value
            that is not of its column's type; the message names the parameter.
    """
    fields = {f.name: f for f in schema}
    query = RowsQuery(table, schema, list(schema.names), limit=page_size)
    order_text: str | None = None
    after: str | None = None
    for name, value in params:
        if name == "columns":
            query.columns = _projection(value, fields)
        elif name == "order":
            order_text = value
        elif name == "limit":
            query.limit = _limit(value, max_rows)
        elif name == "after":
            after = value
        elif name in RESERVED:
            continue  # read by the route (as_of, format)
        elif name not in fields:
            raise BadParameter(
                name,
                f"the table has no column {name!r}",
                hint="filter with <column>=<op>.<value>; the columns are "
                + ", ".join(schema.names),
            )
        else:
            query.conditions.append(_filter(query, name, value, fields[name]))
    query.order = _order(order_text, keys, fields)
    if after is not None:
        query.after = _decode_cursor(after, query)
        query.values.extend(v for v in query.after if v is not None)
    return query


# -- the parts of a request -------------------------------------------------------------------


def _projection(value: str, fields: dict[str, pa.Field]) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise BadParameter("columns", "names no column", hint="columns=a,b")
    for name in names:
        if name not in fields:
            raise BadParameter(
                "columns",
                f"the table has no column {name!r}",
                hint="the columns are " + ", ".join(fields),
            )
    return list(dict.fromkeys(names))


def _limit(value: str, max_rows: int) -> int:
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if not 1 <= limit <= max_rows:
        raise BadParameter(
            "limit",
            f"{value!r} is not a number of rows from 1 to {max_rows}",
            hint="serve.limits.max_rows caps a page",
        )
    return limit


def _order(value: str | None, keys: Sequence[str], fields: dict[str, pa.Field]) -> list[OrderItem]:
    items: list[OrderItem] = []
    for written in (value or "").split(","):
        part = written.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part[1:] if descending else part
        base, dot, direction = name.rpartition(".")
        if dot and base in fields and direction.lower() in ("asc", "desc"):
            name, descending = base, direction.lower() == "desc"
        if name not in fields:
            raise BadParameter(
                "order",
                f"the table has no column {name!r}",
                hint="order=a,-b (or b.desc); the columns are " + ", ".join(fields),
            )
        if not _orderable(fields[name].type):
            raise BadParameter("order", f"column {name!r} ({fields[name].type}) cannot order rows")
        if all(i.column != name for i in items):
            items.append(OrderItem(name, descending))
    for key in keys:
        if all(i.column != key for i in items):
            items.append(OrderItem(key))
    return items


def _filter(query: RowsQuery, name: str, text: str, column: pa.Field) -> exp.Expr:
    from sqlglot import exp

    negated = text.startswith("not.")
    body = text[4:] if negated else text
    operator, dot, value = body.partition(".")
    if not dot:
        raise BadParameter(
            name, f"{text!r} is not <operator>.<value>", hint=f"e.g. {name}=eq.5; {OPERATORS}"
        )
    operator = operator.lower()
    target = _column(name)
    condition: exp.Expr
    shape: tuple[Any, ...] = (name, negated, operator)
    if operator in COMPARISONS:
        node = getattr(exp, COMPARISONS[operator])
        value_of = typed_value(name, value, column)
        condition = node(this=target, expression=query.placeholder(value_of))
    elif operator == "in":
        items = _in_items(name, value)
        shape += (len(items),)
        if not items:
            condition = exp.false()
        else:
            typed = [typed_value(name, item, column) for item in items]
            condition = exp.In(this=target, expressions=[query.placeholder(v) for v in typed])
    elif operator in ("like", "ilike"):
        if not _textual(column.type):
            raise BadParameter(
                name, f"{operator} matches text, and column {name!r} is {column.type}"
            )
        pattern = query.placeholder(value.replace("*", "%"))
        condition = (exp.Like if operator == "like" else exp.ILike)(this=target, expression=pattern)
    elif operator == "is":
        condition = _is(name, target, value, column)
        shape += (value.lower(),)
    else:
        raise BadParameter(name, f"{operator!r} is not a filter operator", hint=OPERATORS)
    query.shape.append(shape)
    return exp.Not(this=exp.Paren(this=condition)) if negated else condition


def _in_items(name: str, value: str) -> list[str]:
    if not (value.startswith("(") and value.endswith(")")):
        raise BadParameter(name, f"in.{value} is not a list", hint=f'{name}=in.(a,b,"c,d")')
    return _split_list(name, value[1:-1])


def _is(name: str, target: exp.Expr, value: str, column: pa.Field) -> exp.Expr:
    import pyarrow as pa
    from sqlglot import exp

    word = value.lower()
    if word == "null":
        return exp.Is(this=target, expression=exp.Null())
    if word in ("not_null", "notnull"):
        return exp.Not(this=exp.Is(this=target, expression=exp.Null()))
    if word in ("true", "false") and pa.types.is_boolean(column.type):
        return exp.Is(this=target, expression=exp.Boolean(this=word == "true"))
    raise BadParameter(name, f"is.{value} is not null, not_null, true or false")


def _split_list(name: str, text: str) -> list[str]:
    """The items of a PostgREST list: commas separate, double quotes keep commas (and `\\"`)."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    was_quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\" and index + 1 < len(text):
                index += 1
                current.append(text[index])
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"' and not "".join(current).strip():
            quoted, was_quoted, current = True, True, []
        elif char == ",":
            items.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        else:
            current.append(char)
        index += 1
    if quoted:
        raise BadParameter(name, "a quoted item of the list is not closed")
    if current or was_quoted or items:
        items.append("".join(current) if was_quoted else "".join(current).strip())
    return items


def _decode_cursor(text: str, query: RowsQuery) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError):
        body = None
    if not (
        isinstance(body, dict)
        and isinstance(body.get("o"), list)
        and isinstance(body.get("v"), list)
    ):
        raise BadParameter("after", "is not a cursor of this API", hint="pass the page's `next`")
    if body.get("t") != query.table or body["o"] != _order_spec(query.order):
        raise BadParameter(
            "after",
            "the cursor belongs to another table or order",
            hint="keep the table and `order` of the page the cursor came from",
        )
    values = body["v"]
    if len(values) != len(query.order):
        raise BadParameter("after", "is not a cursor of this API", hint="pass the page's `next`")
    fields = {f.name: f for f in query.schema}
    typed: list[Any] = []
    for item, value in zip(query.order, values, strict=True):
        if value is None:
            typed.append(None)
            continue
        if isinstance(value, list | dict):
            raise BadParameter("after", "is not a cursor of this API")
        text_value = (
            ("true" if value else "false")
            if isinstance(value, bool)
            else (repr(value) if isinstance(value, float) else str(value))
        )
        typed.append(typed_value("after", text_value, fields[item.column]))
    return typed


def _order_spec(order: Sequence[OrderItem]) -> list[str]:
    return [("-" if i.descending else "") + i.column for i in order]


def _after(order: Sequence[OrderItem], values: Sequence[Any], first: int) -> list[exp.Expr]:
    """The conditions of the rows after `values` in `order` (nulls last in both directions):
    the keyset predicate, and a bound on the first column alone, which the engine can check
    against each row group's min/max before reading it. Each value that is not None is the
    placeholder `$first`, `$first + 1`, ... in order."""
    from sqlglot import exp

    bound: list[exp.Expr | None] = []
    for value in values:
        if value is None:
            bound.append(None)
        else:
            bound.append(exp.Placeholder(this=str(first)))
            first += 1

    def null(column: str) -> exp.Expr:
        return exp.Is(this=_column(column), expression=exp.Null())

    def beyond(item: OrderItem, value: exp.Expr | None, strict: bool) -> exp.Expr:
        if value is None:
            return exp.false() if strict else null(item.column)
        nodes = (exp.LT, exp.LTE) if item.descending else (exp.GT, exp.GTE)
        node = nodes[0] if strict else nodes[1]
        return exp.or_(node(this=_column(item.column), expression=value.copy()), null(item.column))

    def equal(item: OrderItem, value: exp.Expr | None) -> exp.Expr:
        if value is None:
            return null(item.column)
        return exp.EQ(this=_column(item.column), expression=value.copy())

    alternatives: list[exp.Expr] = []
    for position, item in enumerate(order):
        ties = [equal(order[j], bound[j]) for j in range(position)]
        alternatives.append(exp.and_(*ties, beyond(item, bound[position], True)))
    keyset = exp.or_(*alternatives) if alternatives else exp.false()
    return [exp.Paren(this=beyond(order[0], bound[0], False)), exp.Paren(this=keyset)]


# -- values as the column's type ----------------------------------------------------------------


def typed_value(parameter: str, text: str, column: pa.Field) -> Parameter:
    """`text` (from a query parameter) as a Python value of `column`'s type.

    Raises:
        BadParameter: `text` is not a value of that type, or the type takes no filter.
    """
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    try:
        if _textual(kind):
            return text
        if pa.types.is_integer(kind):
            return int(text.strip())
        if pa.types.is_floating(kind):
            return float(text.strip())
        if pa.types.is_decimal(kind):
            number = decimal.Decimal(text.strip())
            if not number.is_finite():
                raise ValueError(text)
            return number
        if pa.types.is_boolean(kind):
            word = text.strip().lower()
            if word in ("true", "t", "1", "yes"):
                return True
            if word in ("false", "f", "0", "no"):
                return False
            raise ValueError(text)
        if pa.types.is_date(kind):
            return dt.date.fromisoformat(text.strip())
        if pa.types.is_timestamp(kind):
            moment = dt.datetime.fromisoformat(text.strip())
            if kind.tz is not None and moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            if kind.tz is None and moment.tzinfo is not None:
                raise BadParameter(
                    parameter,
                    f"{text!r} has a time zone, and column {column.name!r} is a timestamp "
                    "without one",
                    hint="give the local time, e.g. 2024-05-01T12:00:00",
                )
            return moment
        if pa.types.is_time(kind):
            return dt.time.fromisoformat(text.strip())
        if (
            pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
            or pa.types.is_fixed_size_binary(kind)
        ):
            return base64.b64decode(text, validate=True)
    except (ValueError, ArithmeticError, binascii.Error):
        raise BadParameter(
            parameter,
            f"{text!r} is not a value of column {column.name!r} ({_type_label(kind)})",
            hint=_TYPE_HINTS.get(_type_label(kind), "give a value of the column's type"),
        ) from None
    raise BadParameter(
        parameter,
        f"column {column.name!r} ({kind}) takes no filter",
        hint="filter on columns of numbers, text, booleans, dates, times or binary",
    )


_TYPE_HINTS = {
    "integer": "give a whole number, e.g. 42",
    "number": "give a number, e.g. 4.2",
    "decimal": "give a decimal number, e.g. 21168.23",
    "boolean": "give true or false",
    "date": "give an ISO date, e.g. 2024-05-01",
    "timestamp": "give an ISO timestamp, e.g. 2024-05-01T12:00:00",
    "time": "give an ISO time, e.g. 12:00:00",
    "binary": "give the bytes in base64",
}


def _type_label(kind: pa.DataType) -> str:
    import pyarrow as pa

    for label, check in (
        ("integer", pa.types.is_integer),
        ("number", pa.types.is_floating),
        ("decimal", pa.types.is_decimal),
        ("boolean", pa.types.is_boolean),
        ("date", pa.types.is_date),
        ("timestamp", pa.types.is_timestamp),
        ("time", pa.types.is_time),
    ):
        if check(kind):
            return label
    return "binary" if "binary" in str(kind) else str(kind)


def _textual(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    view = getattr(pa.types, "is_string_view", None)
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or (view is not None and view(kind))
    )


def _orderable(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return not pa.types.is_nested(kind) and not pa.types.is_null(kind)


def _column(name: str) -> exp.Column:
    from sqlglot import exp

    return exp.Column(this=exp.to_identifier(name, quoted=True))
