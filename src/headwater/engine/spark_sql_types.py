"""The types of a DuckDB statement's expressions, for the rewrites of `spark_sql` that depend on
them (a cast to an integer rounds a DECIMAL or a DOUBLE in DuckDB, not an integer; `UNION BY
NAME` needs the columns of both sides).

A type is read off the expression where it says (a literal, a cast, a count), else inferred by
sqlglot on a qualified copy of the statement from the schemas of the relations it reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

# imported only by spark_sql.transpile, once sqlglot is needed anyway: not at start-up
from sqlglot import exp  # noqa: TID253

if TYPE_CHECKING:
    import pyarrow as pa


class Types:
    """The types of a statement's expressions and the columns of its queries: read off the
    expression where it says (a literal, a cast, a count), else as sqlglot infers them on a
    qualified copy of the statement, made only when a rewrite of the statement needs it (a big
    statement of checks needs none, and qualifying it would cost more than the rest)."""

    def __init__(
        self,
        tree: Any,
        scans: Sequence[tuple[Any, str]],
        schemas: Mapping[str, pa.Schema],
        reader: Any,
    ) -> None:
        """Types of `tree`'s expressions, given `scans` (each Parquet scan's table node and the
        name of the relation replacing it), the `schemas` of the relations the statement reads
        (by lower-case name), and the dialect `reader` it was parsed with."""
        self._types: dict[int, Any] = {}
        self._queries: dict[int, Any] = {}
        self._tables = {n.lower(): list(s.names) for n, s in schemas.items()}
        if _wants_types(tree):
            self._qualify(tree, scans, schemas, reader)

    def _qualify(
        self,
        tree: Any,
        scans: Sequence[tuple[Any, str]],
        schemas: Mapping[str, pa.Schema],
        reader: Any,
    ) -> None:
        """Infer the types on a qualified copy of `tree`, keyed by the original's nodes."""
        for index, node in enumerate(tree.walk()):
            node.meta["hw"] = index
        copy = tree.copy()
        mapping: dict[str, object] = {n: _columns_of(s) for n, s in schemas.items()}
        by_id = {n.meta.get("hw"): n for n in copy.walk() if isinstance(n, exp.Table)}
        for number, (table, relation) in enumerate(scans):
            # the copy reads a scan as a table of its own, whose schema the caller may know
            placeholder = f"__hw_typed_scan_{number}"
            target = by_id.get(table.meta["hw"])
            if target is None:
                continue
            columns = schemas.get(relation)
            if columns is not None:
                mapping[placeholder] = _columns_of(columns)
            target.set("this", exp.to_identifier(placeholder))
        try:
            from sqlglot.optimizer.annotate_types import annotate_types
            from sqlglot.optimizer.qualify import qualify
            from sqlglot.schema import MappingSchema

            schema = MappingSchema(mapping, dialect=reader)
            qualify(
                copy,
                dialect=reader,
                schema=schema,
                validate_qualify_columns=False,
                quote_identifiers=False,
                identify=False,
            )
            annotate_types(copy, schema=schema, dialect=reader)
        except Exception:
            # sqlglot's optimizer gives up on some statements: the types only sharpen the
            # rewrites, which then assume the common case (or refuse what needs columns)
            return
        for node in copy.walk():
            index = node.meta.get("hw")
            if index is None:
                continue
            kind = node.type
            if kind is not None and kind.this != exp.DataType.Type.UNKNOWN:
                self._types.setdefault(index, kind)
            if isinstance(node, exp.Query | exp.Subquery):
                self._queries.setdefault(index, node)

    def of(self, node: Any) -> str | None:
        """The kind of `node`'s type: `int`, `decimal`, `float`, `string`, `bool`, `date`,
        `timestamp`, `timestamptz`, `interval`, `array`, `map`, `struct`, or None (unknown)."""
        local = _local_kind(node)
        if local is not None:
            return local
        kind = self._types.get(node.meta.get("hw"))
        return None if kind is None else _kind(kind)

    def columns(self, query: Any) -> list[str] | None:
        """The output columns of `query` (a query or subquery of the original statement), or
        None when they are not known."""
        return _output_names(self._queries.get(query.meta.get("hw")))

    def table_columns(self, name: str) -> list[str] | None:
        """The columns of the relation `name` (a view) when its schema is known."""
        return self._tables.get(name.lower())

    def expanded(self, select: Any) -> list[Any] | None:
        """The projections of `select` with its stars expanded (on the qualified copy)."""
        copy = self._queries.get(select.meta.get("hw"))
        if copy is None or has_star(copy):
            return None
        return list(copy.expressions)


def _local_kind(node: Any) -> str | None:
    """The kind of `node`'s type where the expression itself says it (None: it does not)."""
    if isinstance(node, exp.Cast):  # TryCast too
        return _kind(node.to)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "string"
        return "int" if re.fullmatch(r"-?\d+", str(node.this)) else "decimal"
    if isinstance(node, exp.Count | exp.CountIf | exp.ApproxDistinct):
        return "int"
    if isinstance(node, exp.Interval):
        return "interval"
    if isinstance(node, exp.Predicate | exp.Boolean):
        return "bool"
    if isinstance(node, exp.Array):
        return "array"
    return None


def _wants_types(tree: Any) -> bool:
    """Whether a rewrite of `tree` may need a type the expressions do not say themselves."""
    aliases: set[str] = set()
    columns: set[str] = set()
    for node in tree.walk():
        if _wants_type(node):
            return True
        if isinstance(node, exp.TableAlias):
            aliases.add(node.name.lower())
        elif isinstance(node, exp.Column) and not node.table:
            columns.add(node.name.lower())
    # a bare table alias used as a value is the row (`to_json(t)`)
    return bool(aliases & columns)


def _wants_type(node: Any) -> bool:
    """Whether the rewrite of `node` may need a type its operands do not say themselves."""
    t = exp.DataType.Type
    if isinstance(node, exp.Cast):
        integers = (t.TINYINT, t.SMALLINT, t.INT, t.BIGINT)
        return node.to.this in integers and _local_kind(node.this) is None
    if isinstance(node, exp.Div | exp.IntDiv | exp.Sub | exp.DateDiff):
        return _local_kind(node.this) is None or _local_kind(node.expression) is None
    if isinstance(node, exp.Add):
        return isinstance(node.expression, exp.Interval) and _local_kind(node.this) is None
    if isinstance(node, exp.Avg | exp.Length | exp.UnixToTime | exp.TimestampTrunc):
        return _local_kind(node.this) is None
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower() in _LIST_CALLS
    if isinstance(node, exp.Order):
        return orders_by_all(node)
    if isinstance(node, exp.SetOperation):
        return bool(node.args.get("by_name"))
    if isinstance(node, exp.Star):
        return bool(node.args.get("replace"))
    return isinstance(node, exp.Bracket)


_LIST_CALLS = frozenset(
    {"list_extract", "array_extract", "list_element", "list_slice", "array_slice"}
)


def orders_by_all(order: Any) -> bool:
    """Whether `order` is DuckDB's ORDER BY ALL."""
    if len(order.expressions) != 1:
        return False
    this = order.expressions[0].this
    if isinstance(this, exp.Column) and this.table:
        return False
    return isinstance(this, exp.Column | exp.Var) and this.name.upper() == "ALL"


def _kind(kind: Any) -> str | None:
    """A sqlglot type as one of the kinds `Types.of` returns."""
    t = exp.DataType.Type
    this = kind.this
    if this in exp.DataType.INTEGER_TYPES:
        return "int"
    if this in (t.DECIMAL, t.BIGDECIMAL):
        return "decimal"
    if this in exp.DataType.FLOAT_TYPES:
        return "float"
    if this in exp.DataType.TEXT_TYPES:
        return "string"
    simple = {
        t.BOOLEAN: "bool",
        t.DATE: "date",
        t.TIMESTAMP: "timestamp",
        t.TIMESTAMPNTZ: "timestamp",
        t.DATETIME: "timestamp",
        t.TIMESTAMPTZ: "timestamptz",
        t.TIMESTAMPLTZ: "timestamptz",
        t.INTERVAL: "interval",
        t.ARRAY: "array",
        t.LIST: "array",
        t.MAP: "map",
        t.STRUCT: "struct",
    }
    return simple.get(this)


def _columns_of(schema: pa.Schema) -> dict[str, str]:
    """An Arrow schema as sqlglot's column -> DuckDB type mapping."""
    return {f.name: _sql_type(f.type) for f in schema}


def _sql_type(kind: pa.DataType) -> str:
    """The DuckDB type of an Arrow type (`UNKNOWN` for one the rewrites need not know)."""
    import pyarrow as pa

    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}[kind.bit_width]
    if pa.types.is_floating(kind):
        return "FLOAT" if kind.bit_width <= 32 else "DOUBLE"
    if pa.types.is_decimal(kind):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return "VARCHAR"
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "BLOB"
    if pa.types.is_dictionary(kind):
        return _sql_type(kind.value_type)
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz else "TIMESTAMP"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"{_sql_type(kind.value_type)}[]"
    if pa.types.is_struct(kind):
        fields = ", ".join(f'"{_quote(f.name)}" {_sql_type(f.type)}' for f in kind)
        return f"STRUCT({fields})"
    if pa.types.is_map(kind):
        return f"MAP({_sql_type(kind.key_type)}, {_sql_type(kind.item_type)})"
    return "UNKNOWN"


def _quote(name: str) -> str:
    """`name` inside a double-quoted DuckDB identifier."""
    return name.replace('"', '""')


def _is_string_view(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(getattr(pa.types, "is_string_view", lambda _k: False)(kind))


def _output_names(node: Any) -> list[str] | None:
    """The output column names of a query on the qualified copy (None: a star is left)."""
    if node is None:
        return None
    if isinstance(node, exp.Subquery):
        return _output_names(node.this)
    if isinstance(node, exp.SetOperation):
        left = _output_names(node.this)
        if not node.args.get("by_name"):
            return left
        right = _output_names(node.expression)
        if left is None or right is None:
            return None
        seen = {n.lower() for n in left}
        return left + [n for n in right if n.lower() not in seen]
    if isinstance(node, exp.Select) and not has_star(node):
        return [p.alias_or_name for p in node.expressions]
    return None


def has_star(select: Any) -> bool:
    return any(
        isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
        for p in select.expressions
    )
