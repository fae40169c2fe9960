"""The `metrics` schema of the PostgreSQL port: each metric is a table a BI tool queries with
plain SQL, and the query is answered by the semantic layer.

`metrics.revenue` has one column per group-by item the metric can be grouped by
(`metric_time__month`, `customer__segment`) and one named like the metric. A query over it

```sql
SELECT customer__segment, SUM(revenue) AS revenue
FROM metrics.revenue
WHERE metric_time__month >= '2024-01-01'
GROUP BY customer__segment ORDER BY 2 DESC LIMIT 10
```

becomes the metric query: the group-by items selected, the filter, the order and the limit.
The metric column may be wrapped in any aggregate (`SUM`, `MAX`, `MEASURE`...): it is always
the metric as defined (a ratio stays a ratio), since the semantic layer aggregates it. Anything
else (joins, subqueries, expressions over the columns) is refused with what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.metrics.compile import MetricRequest

SCHEMA = "metrics"
"""The schema whose tables are the metrics."""
HINT = (
    "query a metric as SELECT <group-by items>, SUM(<metric>) FROM metrics.<metric> "
    "[WHERE ...] GROUP BY <group-by items> [ORDER BY ...] [LIMIT n]"
)


@dataclass(frozen=True)
class MetricSelect:
    """A query over the `metrics` schema, as a metric query and the output's column names."""

    request: MetricRequest
    names: tuple[str, ...]
    """The output columns' names, in the order selected (aliases as written)."""
    order: tuple[str, ...]
    """The request's output columns in the order selected (group-by items and the metric)."""


def reads_metrics(sql: str) -> bool:
    """Whether `sql` may name the `metrics` schema (a cheap test before parsing)."""
    return SCHEMA in sql.lower()


def metric_select(sql: str) -> MetricSelect | None:
    """The metric query `sql` asks for, or None when it does not read the `metrics` schema.

    Raises:
        UsageError: it reads the schema in a shape a metric query cannot answer.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from headwater.metrics.compile import MetricRequest

    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except SqlglotError:
        return None
    if len(trees) != 1:
        return None
    tree = _folded(trees[0])
    tables = list(tree.find_all(exp.Table))
    if not any(t.db == SCHEMA for t in tables):
        return None
    if not isinstance(tree, exp.Select) or len(tables) != 1 or tree.args.get("joins"):
        raise UsageError(
            "a query over the metrics schema reads one metric's table, without joins, "
            "subqueries or set operations",
            hint=HINT,
        )
    metric = tables[0].name
    if tree.args.get("offset") is not None:
        raise UsageError("OFFSET is not answered over a metric", hint=HINT)
    # the metric's table, by name or alias, is the only table: its qualifier says nothing
    for reference in tree.find_all(exp.Column):
        reference.set("table", None)
    names: list[str] = []
    order: list[str] = []
    group_by: list[str] = []
    for item in tree.expressions:
        alias = item.alias_or_name
        inner = item.this if isinstance(item, exp.Alias) else item
        if isinstance(inner, exp.Star):
            raise UsageError("SELECT * over a metric is not answered", hint=HINT)
        column = _column_in(inner, metric)
        if column == metric:
            order.append(metric)
        else:
            group_by.append(column)
            order.append(column)
        names.append(alias or column)
    grouped = [
        _named(g, names, order, metric) for g in (tree.args.get("group") or exp.Group()).expressions
    ]
    if any(name not in group_by for name in grouped if name != metric):
        missing = [name for name in grouped if name not in group_by]
        raise UsageError(
            f"GROUP BY {', '.join(missing)}, which the query does not select",
            hint="select every group-by item you group by",
        )
    where = tree.args.get("where")
    filters = (where.this.sql(dialect="duckdb"),) if where is not None else ()
    order_by = tuple(_order_item(o, tree, names, order, metric) for o in _ordered(tree))
    limit = _limit(tree)
    if tree.args.get("having") is not None or tree.args.get("distinct") is not None:
        raise UsageError("HAVING and DISTINCT are not answered over a metric", hint=HINT)
    request = MetricRequest((metric,), tuple(group_by), filters, order_by, limit)
    return MetricSelect(request, tuple(names), tuple(order))


def _folded(tree: Any) -> Any:
    """`tree` with its unquoted identifiers in lower case, as PostgreSQL reads them."""
    from sqlglot import exp

    for identifier in tree.find_all(exp.Identifier):
        if not identifier.quoted:
            identifier.set("this", str(identifier.this).lower())
    return tree


def _column_in(node: exp.Expression, metric: str) -> str:
    """The column `node` names: a bare column, or the metric inside one aggregate."""
    from sqlglot import exp

    if isinstance(node, exp.Column):
        return str(node.name)
    if isinstance(node, exp.AggFunc | exp.Anonymous) and not isinstance(node, exp.Count):
        inner = [c for c in node.find_all(exp.Column)]
        if len(inner) == 1 and inner[0].name == metric:
            return metric
    raise UsageError(
        f"{node.sql(dialect='postgres')} is neither a group-by item nor the metric {metric}",
        hint=HINT,
    )


def _ordered(tree: exp.Select) -> list[exp.Ordered]:
    found = tree.args.get("order")
    return list(found.expressions) if found is not None else []


def _order_item(
    ordered: exp.Ordered, tree: exp.Select, names: list[str], order: list[str], metric: str
) -> str:
    """An ORDER BY item as the metric query's order: a position, an alias or a column."""
    name = _named(ordered.this, names, order, metric)
    return f"-{name}" if ordered.args.get("desc") else name


def _named(node: exp.Expression, names: list[str], order: list[str], metric: str) -> str:
    """What a GROUP BY or ORDER BY item names: a position, an alias or a column."""
    from sqlglot import exp

    if isinstance(node, exp.Literal) and node.is_int:
        position = int(node.this)
        if not 1 <= position <= len(order):
            raise UsageError(f"position {position}: the query selects {len(order)} columns")
        return order[position - 1]
    if isinstance(node, exp.Column) and node.name in names and not node.table:
        return order[names.index(node.name)]
    return _column_in(node, metric)


def _limit(tree: exp.Select) -> int | None:
    from sqlglot import exp

    limit = tree.args.get("limit")
    if limit is None:
        return None
    value = limit.expression if isinstance(limit, exp.Limit) else None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    raise UsageError("LIMIT over a metric is a whole number", hint=HINT)


def shaped(table: pa.Table, select: MetricSelect) -> pa.Table:
    """The metric query's answer `table` with the columns in the order and under the names
    the SQL selected them."""
    return table.select(list(select.order)).rename_columns(list(select.names))
