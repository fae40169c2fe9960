"""Column-level lineage of one SQL model, worked out with sqlglot.

`model_lineage` qualifies a model's SELECT once against the schemas of the tables it reads, then
walks its scopes (CTEs, derived tables, subqueries, set operations) once each, memoised. It returns
the upstream columns whose values flow into each output column, and the columns that decide which
rows the model has (join keys, filters, grouping, sorting). The vocabulary is OpenLineage's
ColumnLineageDatasetFacet 1-2-0, so a result can be emitted as a facet without translation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, get_args

from headwater.errors import HeadwaterError, Location

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

Kind = Literal["DIRECT", "INDIRECT"]
DIRECT_SUBTYPES = ("IDENTITY", "TRANSFORMATION", "AGGREGATION")
"""Subtypes of DIRECT lineage, weakest first: a chain of steps keeps its strongest one."""
INDIRECT_SUBTYPES = ("JOIN", "FILTER", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL")
"""Subtypes of INDIRECT lineage: why a column influences values without flowing into them."""
SUBTYPES: dict[str, tuple[str, ...]] = {"DIRECT": DIRECT_SUBTYPES, "INDIRECT": INDIRECT_SUBTYPES}

# Keys of the metadata `_mark` attaches to parsed nodes; qualification rewrites the tree in place,
# so what the model wrote must be recorded before it is normalised away.
_WRITTEN_ALIAS = "headwater_alias"
_WRITTEN_COALESCE = "headwater_coalesce"
_USING = "headwater_using"
_COLUMN_LIST = "headwater_column_list"

Use = tuple[Kind, str]
"""How an expression uses a column: the type and subtype a source reached through it gets."""
_IDENTITY: Use = ("DIRECT", "IDENTITY")
_TRANSFORMATION: Use = ("DIRECT", "TRANSFORMATION")
_AGGREGATION: Use = ("DIRECT", "AGGREGATION")


@dataclass(frozen=True)
class ColumnSource:
    """One upstream column and how it reaches a model's column or rows.

    Attributes:
        asset: the upstream table as "namespace.name", spelled as in the schemas mapping.
        column: the upstream column, spelled as in the schemas mapping.
        type: DIRECT when the value flows into the output, INDIRECT when it only influences it.
        subtype: DIRECT: IDENTITY, TRANSFORMATION or AGGREGATION; INDIRECT: JOIN, FILTER,
            GROUP_BY, SORT, WINDOW or CONDITIONAL.
    """

    asset: str
    column: str
    type: Kind
    subtype: str

    def __post_init__(self) -> None:
        if self.type not in SUBTYPES or self.subtype not in SUBTYPES[self.type]:
            raise ValueError(f"not an OpenLineage transformation: {self.type} {self.subtype}")

    def to_json(self) -> dict[str, str]:
        """Return the source as a plain dict."""
        return {
            "asset": self.asset,
            "column": self.column,
            "type": self.type,
            "subtype": self.subtype,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnSource:
        """Rebuild a source from `to_json` output."""
        kind = data["type"]
        if kind not in get_args(Kind):
            raise ValueError(f"not a lineage type: {kind!r}")
        return cls(str(data["asset"]), str(data["column"]), kind, str(data["subtype"]))


@dataclass(frozen=True)
class ModelLineage:
    """The lineage of one model.

    Attributes:
        columns: every output column, in output order, with its DIRECT sources plus the
            INDIRECT ones that only concern it (CASE/IF conditions and aggregate FILTERs as
            CONDITIONAL, window PARTITION BY/ORDER BY as WINDOW, ORDER BY inside an aggregate
            as SORT).
        dataset: INDIRECT sources that affect every row: JOIN keys, WHERE/HAVING/QUALIFY
            filters, GROUP BY and ORDER BY, including those of the CTEs and subqueries it reads.
    """

    columns: dict[str, tuple[ColumnSource, ...]]
    dataset: tuple[ColumnSource, ...]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable form; `from_json` reads it back."""
        return {
            "columns": {
                name: [source.to_json() for source in sources]
                for name, sources in self.columns.items()
            },
            "dataset": [source.to_json() for source in self.dataset],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelLineage:
        """Rebuild a lineage from `to_json` output."""
        return cls(
            {
                name: tuple(ColumnSource.from_json(source) for source in sources)
                for name, sources in data["columns"].items()
            },
            tuple(ColumnSource.from_json(source) for source in data["dataset"]),
        )


class LineageError(HeadwaterError):
    """The model's SQL cannot be analysed; the message says why and names the column.

    Attributes:
        column: the column at fault, if one is. It is kept out of `location` because the
            message already names it; callers fill in the location's asset and file.
    """

    def __init__(self, message: str, column: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, Location(), hint)
        self.column = column


def model_lineage(
    sql: str, schemas: Mapping[str, Mapping[str, str]], dialect: str = "duckdb"
) -> ModelLineage:
    """Work out the column-level lineage of one model.

    Args:
        sql: one SELECT (possibly starting with WITH) whose table references are qualified
            with their namespace, like "staging"."orders", possibly aliased.
        schemas: {"namespace.name": {column: type}} for every table the SQL reads.
        dialect: the SQL dialect; it decides how names are matched (DuckDB: case-insensitively).

    Returns:
        The sources of each output column and of the dataset as a whole. Output columns are
        named as the engine names them: an alias as written, a bare column as its source spells
        it.

    Raises:
        LineageError: the SQL does not parse, reads a table missing from `schemas`, names a column
            that is unknown or ambiguous, or uses a construct this analysis cannot follow.
    """
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    engine = Dialect.get_or_raise(dialect)

    def normalize(name: str) -> str:
        from sqlglot import exp

        return engine.normalize_identifier(exp.to_identifier(name)).name

    tables = _tables(schemas, normalize)
    tree = _parse(sql, dialect)
    _mark(tree, tables, normalize, dialect)
    try:
        qualified = qualify(
            tree,
            dialect=engine,
            schema=_nested(schemas),
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        root = build_scope(qualified)
        if root is None:
            raise LineageError("the SQL is not a query", hint="a model is one SELECT statement")
        result = _Analyzer(tables, normalize, dialect).lineage(root)
    except (SqlglotError, AssertionError) as error:
        # sqlglot's optimizer also refuses shapes it cannot scope (PIVOT as a source, say)
        # with failed assertions.
        raise LineageError(f"sqlglot cannot analyse the SQL: {error}") from None

    columns: dict[str, tuple[ColumnSource, ...]] = {}
    seen: dict[str, str] = {}
    for position, output in enumerate(result.outputs, 1):
        if output.display is None:
            raise LineageError(
                f"output column {position} ({output.origin.sql(dialect)}) has no name",
                hint="give the expression an alias: <expression> AS name",
            )
        if output.name in seen:
            raise LineageError(
                f"two output columns are named {output.display}",
                column=output.display,
                hint="give every column a distinct name (use AS)",
            )
        seen[output.name] = output.display
        columns[output.display] = output.sources
    return ModelLineage(columns, result.dataset)


@dataclass(frozen=True)
class _Table:
    """A table from the schemas mapping: its name as given and its columns by normalised name."""

    asset: str
    columns: dict[str, str]


def _tables(
    schemas: Mapping[str, Mapping[str, str]], normalize: Callable[[str], str]
) -> dict[str, _Table]:
    """Index the schemas mapping by normalised "namespace.name"."""
    tables: dict[str, _Table] = {}
    for asset, columns in schemas.items():
        namespace, dot, name = asset.partition(".")
        if not dot or not namespace or not name:
            raise LineageError(
                f"schemas key {asset!r} is not 'namespace.name'",
                hint="key every table's columns by its namespace and name",
            )
        tables[f"{normalize(namespace)}.{normalize(name)}"] = _Table(
            asset, {normalize(column): column for column in columns}
        )
    return tables


def _nested(schemas: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """The schemas mapping as sqlglot takes it: {namespace: {name: {column: type}}}."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for asset, columns in schemas.items():
        namespace, name = asset.split(".", 1)
        nested.setdefault(namespace, {})[name] = dict(columns)
    return dict(nested)


def _parse(sql: str, dialect: str) -> exp.Query:
    """Parse `sql` as exactly one query."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as error:
        raise LineageError(f"the SQL does not parse: {error}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise LineageError(
            "the SQL is not exactly one query", hint="a model is one SELECT statement"
        )
    return statements[0]


def _mark(
    tree: exp.Query, tables: dict[str, _Table], normalize: Callable[[str], str], dialect: str
) -> None:
    """Record what qualification would erase, and check every table is known.

    Qualification lower-cases aliases, rewrites `JOIN ... USING` into ON and COALESCE, and
    reads tables from the schema whether or not they are in it, so this pass, over the parsed
    tree, notes the aliases and column lists as written, which COALESCE calls the model wrote
    itself and the USING columns of each SELECT, and refuses tables missing from `tables`.
    """
    from sqlglot import exp

    cte_names: set[str] = set()
    references: list[exp.Table] = []
    for node in tree.walk():
        if isinstance(node, exp.Alias):
            node.meta[_WRITTEN_ALIAS] = node.alias
        elif isinstance(node, exp.Coalesce):
            node.meta[_WRITTEN_COALESCE] = True
        elif isinstance(node, exp.CTE):
            cte_names.add(normalize(node.alias))
        elif isinstance(node, exp.Table):
            references.append(node)
        elif isinstance(node, exp.TableAlias) and node.columns:
            # AS name(a, b) renames the columns of a CTE, subquery, VALUES or UNNEST.
            owner = node.parent
            if isinstance(owner, (exp.CTE, exp.Subquery)):
                owner = owner.this
            if owner is not None:
                owner.meta[_COLUMN_LIST] = [column.name for column in node.columns]
        elif isinstance(node, exp.Join) and node.args.get("using"):
            select = node.find_ancestor(exp.Select)
            if select is not None:
                using: dict[str, list[str]] = select.meta.setdefault(_USING, {})
                for name in node.args["using"]:
                    using.setdefault(normalize(name.name), []).append(node.side)
        if isinstance(node, exp.With) and node.recursive:
            _refuse_recursion(node, normalize)

    for table in references:
        if not isinstance(table.this, exp.Identifier):
            raise LineageError(
                f"the SQL reads {table.sql(dialect)}, whose columns are unknown",
                hint="lineage can only follow tables listed in the schemas",
            )
        if not table.db and normalize(table.name) in cte_names:
            continue
        if not table.db or f"{normalize(table.db)}.{normalize(table.name)}" not in tables:
            raise LineageError(
                f"table {table.sql(dialect)} is not in the schemas given",
                hint="pass the columns of every table the model reads",
            )


def _refuse_recursion(with_: exp.With, normalize: Callable[[str], str]) -> None:
    """Raise if a CTE of a WITH RECURSIVE reads itself: its lineage would need a fixpoint."""
    from sqlglot import exp

    for cte in with_.expressions:
        name = normalize(cte.alias)
        for table in cte.this.find_all(exp.Table):
            if not table.db and normalize(table.name) == name:
                raise LineageError(
                    f"CTE {cte.alias} is recursive; lineage cannot follow recursive CTEs"
                )


@dataclass(frozen=True)
class _Output:
    """One output column of a scope.

    Attributes:
        name: the normalised name references resolve against.
        display: the name the engine gives the column, or None for an unaliased expression.
        origin: the expression `display` comes from, for error messages (rendered only then).
        sources: where its values come from.
    """

    name: str
    display: str | None
    origin: exp.Expr
    sources: tuple[ColumnSource, ...]


@dataclass
class _ScopeLineage:
    """The lineage of one scope: its outputs and what decides its rows."""

    outputs: list[_Output]
    dataset: tuple[ColumnSource, ...] = ()
    index: dict[str, int] = field(init=False)
    """Position of each output by name; -1 for a name several outputs share."""

    def __post_init__(self) -> None:
        self.index = {}
        for position, output in enumerate(self.outputs):
            self.index[output.name] = -1 if output.name in self.index else position


@dataclass
class _Clause:
    """Where the walk is: the scope, its dataset so far and, in clauses, its outputs."""

    scope: Scope
    dataset: dict[ColumnSource, None]
    outputs: list[_Output] | None = None
    index: dict[str, int] | None = None


class _Analyzer:
    """Walks the scopes of one qualified query, computing each scope's lineage once."""

    def __init__(
        self, tables: dict[str, _Table], normalize: Callable[[str], str], dialect: str
    ) -> None:
        self.tables = tables
        self.normalize = normalize
        self.dialect = dialect
        self.done: dict[int, _ScopeLineage] = {}
        self.subqueries: dict[int, dict[int, Scope]] = {}

    def lineage(self, scope: Scope) -> _ScopeLineage:
        """Return the lineage of `scope`, computing it on first use."""
        from sqlglot import exp

        done = self.done.get(id(scope))
        if done is not None:
            return done
        expression = scope.expression
        if isinstance(expression, exp.Select):
            result = self._select(scope)
        elif isinstance(expression, exp.SetOperation):
            result = self._set_operation(scope)
        elif isinstance(expression, exp.Subquery) and scope.table_scopes:
            result = self.lineage(scope.table_scopes[0])
        elif isinstance(expression, exp.Lateral) and scope.subquery_scopes:
            result = self.lineage(scope.subquery_scopes[0])
        elif isinstance(expression, (exp.Unnest, exp.Values)):
            result = self._table_function(scope)
        else:
            raise LineageError(f"cannot follow lineage through {expression.sql(self.dialect)}")
        renames: list[str] = expression.meta.get(_COLUMN_LIST) or []
        if renames:
            # A column list may name only the first few columns.
            outputs = list(result.outputs)
            for position, written in enumerate(renames[: len(outputs)]):
                if self.normalize(written) == outputs[position].name:
                    outputs[position] = replace(outputs[position], display=written)
            result = _ScopeLineage(outputs, result.dataset)
        self.done[id(scope)] = result
        return result

    def _select(self, scope: Scope) -> _ScopeLineage:
        from sqlglot import exp
        from sqlglot.optimizer.scope import Scope

        select = scope.expression
        assert isinstance(select, exp.Select)
        clause = _Clause(scope, {})
        # What decided the rows of a source decides the rows read from it.
        for name, _ in scope.references:
            source = scope.sources.get(name)
            if isinstance(source, Scope):
                clause.dataset.update(dict.fromkeys(self.lineage(source).dataset))

        outputs: list[_Output] = []
        for projection in select.selects:
            if projection.is_star:
                raise LineageError(
                    f"cannot expand {projection.sql(self.dialect)}: its source's columns are "
                    "unknown",
                    hint="list the columns instead, or name a table function's columns: "
                    "AS alias(column, ...)",
                )
            sources: dict[ColumnSource, None] = {}
            self._visit(projection, clause, _IDENTITY, sources)
            display, origin = self._display(scope, projection)
            outputs.append(_Output(projection.alias_or_name, display, origin, tuple(sources)))
        lineage = _ScopeLineage(outputs)

        # ORDER BY and DISTINCT ON may name outputs by their alias.
        clause.outputs, clause.index = outputs, lineage.index
        for join in select.args.get("joins") or []:
            self._visit(join.args.get("on"), clause, ("INDIRECT", "JOIN"), clause.dataset)
            self._visit(
                join.args.get("match_condition"), clause, ("INDIRECT", "JOIN"), clause.dataset
            )
        self._visit(select.args.get("where"), clause, ("INDIRECT", "FILTER"), clause.dataset)
        group = select.args.get("group")
        if group is not None and group.args.get("all"):
            # GROUP BY ALL groups by every projection that holds no aggregate.
            for projection, output in zip(select.selects, outputs, strict=True):
                if projection.find(exp.AggFunc) is None:
                    self._add_output(output, ("INDIRECT", "GROUP_BY"), clause.dataset)
        self._visit(group, clause, ("INDIRECT", "GROUP_BY"), clause.dataset)
        self._visit(select.args.get("having"), clause, ("INDIRECT", "FILTER"), clause.dataset)
        self._visit(select.args.get("qualify"), clause, ("INDIRECT", "FILTER"), clause.dataset)
        distinct = select.args.get("distinct")
        if distinct is not None:
            self._visit(distinct.args.get("on"), clause, ("INDIRECT", "GROUP_BY"), clause.dataset)
        self._order(select.args.get("order"), clause)
        lineage.dataset = tuple(clause.dataset)
        return lineage

    def _set_operation(self, scope: Scope) -> _ScopeLineage:
        from sqlglot import exp

        operation = scope.expression
        left, right = (self.lineage(side) for side in scope.set_operation_scopes)
        dataset = dict.fromkeys((*left.dataset, *right.dataset))
        by_name = bool(operation.args.get("by_name"))
        if not by_name and len(left.outputs) != len(right.outputs):
            raise LineageError(
                f"the sides of a {operation.key.upper()} have {len(left.outputs)} and "
                f"{len(right.outputs)} columns"
            )
        if not isinstance(operation, exp.Union):
            # INTERSECT and EXCEPT return rows of the left side; the right side only decides
            # which ones.
            outputs = list(left.outputs)
            for output in right.outputs:
                self._add_output(output, ("INDIRECT", "FILTER"), dataset)
        elif by_name:
            # BY NAME matches columns by name; a column only one side has is NULL on the other.
            outputs = list(left.outputs)
            for output in right.outputs:
                position = left.index.get(output.name)
                if position is None:
                    outputs.append(output)
                else:
                    outputs[position] = _merge(outputs[position], output)
        else:
            outputs = [_merge(a, b) for a, b in zip(left.outputs, right.outputs, strict=True)]
        lineage = _ScopeLineage(outputs)
        clause = _Clause(scope, dataset, outputs, lineage.index)
        self._order(operation.args.get("order"), clause)
        lineage.dataset = tuple(dataset)
        return lineage

    def _table_function(self, scope: Scope) -> _ScopeLineage:
        """UNNEST and VALUES: each output column derives from every column in the call."""
        function = scope.expression
        sources: dict[ColumnSource, None] = {}
        clause = _Clause(scope, {})
        for argument in function.expressions:
            self._visit(argument, clause, _TRANSFORMATION, sources)
        outputs = [
            _Output(self.normalize(name), name, function, tuple(sources))
            for name in function.alias_column_names
        ]
        return _ScopeLineage(outputs, tuple(clause.dataset))

    def _order(self, order: exp.Order | None, clause: _Clause) -> None:
        from sqlglot import exp

        if order is None:
            return
        items = order.expressions
        if len(items) == 1 and isinstance(items[0].this, exp.Var) and items[0].name == "ALL":
            for output in clause.outputs or []:
                self._add_output(output, ("INDIRECT", "SORT"), clause.dataset)
            return
        self._visit(order, clause, ("INDIRECT", "SORT"), clause.dataset)

    def _visit(
        self,
        node: exp.Expr | None,
        clause: _Clause,
        use: Use,
        out: dict[ColumnSource, None],
    ) -> None:
        """Add to `out` the sources of every column under `node`, used as `use` says.

        Walking down, the use of a DIRECT column weakens from IDENTITY to TRANSFORMATION
        under any function and strengthens to AGGREGATION under an aggregate; the conditions
        of CASE/IF and a window's PARTITION BY/ORDER BY turn it INDIRECT. Once INDIRECT, a use
        stays what the outermost clause made it.
        """
        from sqlglot import exp

        if node is None:
            return
        if isinstance(node, exp.Column):
            if not isinstance(node.this, exp.Star):
                self._column(node, clause, use, out)
            return
        if isinstance(node, (exp.Select, exp.SetOperation)):
            self._subquery(node, clause, use, out)
            return
        if isinstance(node, exp.Exists):
            # EXISTS only asks whether rows match; what they select does not matter.
            self._subquery(node.this, clause, None, out)
            return
        if isinstance(node, (exp.Alias, exp.Paren, exp.Subquery)):
            self._visit(node.this, clause, use, out)
            return
        direct = use[0] == "DIRECT"
        value = _weaker(use)
        condition: Use = ("INDIRECT", "CONDITIONAL") if direct else use
        if isinstance(node, exp.Window):
            self._visit(node.this, clause, use, out)
            spec: Use = ("INDIRECT", "WINDOW") if direct else use
            for window in (node, self._named_window(node, clause)):
                if window is not None:
                    for part in window.args.get("partition_by") or []:
                        self._visit(part, clause, spec, out)
                    self._visit(window.args.get("order"), clause, spec, out)
        elif isinstance(node, exp.Case):
            self._visit(node.this, clause, condition, out)
            for branch in node.args.get("ifs") or []:
                self._visit(branch.this, clause, condition, out)
                self._visit(branch.args.get("true"), clause, value, out)
            self._visit(node.args.get("default"), clause, value, out)
        elif isinstance(node, exp.If):
            self._visit(node.this, clause, condition, out)
            self._visit(node.args.get("true"), clause, value, out)
            self._visit(node.args.get("false"), clause, value, out)
        elif isinstance(node, exp.Filter):
            # count(*) FILTER (WHERE c): c decides which rows the aggregate sees.
            self._visit(node.this, clause, use, out)
            self._visit(node.expression, clause, condition, out)
        elif isinstance(node, exp.Order):
            # ORDER BY inside an aggregate, e.g. array_agg(x ORDER BY y): y orders the values.
            self._visit(node.this, clause, value, out)
            sort: Use = ("INDIRECT", "SORT") if direct else use
            for item in node.expressions:
                self._visit(item, clause, sort, out)
        elif isinstance(node, exp.Coalesce) and not node.meta.get(_WRITTEN_COALESCE):
            # A USING column: qualification wrote it as COALESCE over the joined sides.
            for column in self._using_sides(node, clause) or [node.this, *node.expressions]:
                self._visit(column, clause, use, out)
        elif isinstance(node, exp.WithinGroup):
            # percentile_cont(0.5) WITHIN GROUP (ORDER BY x) aggregates x: it is no sort key.
            aggregated = _AGGREGATION if direct else use
            self._visit(node.this, clause, aggregated, out)
            for item in node.expression.expressions:
                self._visit(item, clause, aggregated, out)
        else:
            aggregate = isinstance(node, exp.AggFunc) and not isinstance(node, _navigation())
            below = _AGGREGATION if direct and aggregate else value
            for child in node.iter_expressions():
                self._visit(child, clause, below, out)

    def _column(
        self, column: exp.Column, clause: _Clause, use: Use, out: dict[ColumnSource, None]
    ) -> None:
        if column.table:
            out.update(dict.fromkeys(_compose(use, self._upstream(clause.scope, column))))
            return
        if _is_lambda_parameter(column):
            return
        position = clause.index.get(column.name) if clause.index is not None else None
        if position is None or clause.outputs is None:
            raise self._unresolved(column, clause.scope)
        if position < 0:
            raise LineageError(
                f"column {column.name} is ambiguous: several outputs have that name",
                column=column.name,
            )
        self._add_output(clause.outputs[position], use, out)

    def _add_output(self, output: _Output, use: Use, out: dict[ColumnSource, None]) -> None:
        out.update(dict.fromkeys(_compose(use, output.sources)))

    def _upstream(self, scope: Scope, column: exp.Column) -> tuple[ColumnSource, ...]:
        """Return the sources of the value `column` reads."""
        from sqlglot import exp

        source = self._source(scope, column)
        if isinstance(source, exp.Table):
            table = self._table(source)
            spelled = table.columns.get(column.name)
            if spelled is None:
                raise LineageError(
                    f"column {column.name} is not in {table.asset}", column=column.name
                )
            return (ColumnSource(table.asset, spelled, "DIRECT", "IDENTITY"),)
        return self._output(source, column).sources

    def _source(self, scope: Scope, column: exp.Column) -> exp.Table | Scope:
        """Return the table or scope `column` is qualified with, looking outwards for
        correlated subqueries."""
        owner: Scope | None = scope
        while owner is not None:
            source = owner.sources.get(column.table)
            if source is not None:
                return source
            owner = owner.parent
        raise LineageError(
            f"column {column.sql(self.dialect)} names {column.table}, which the query does not "
            "read",
            column=column.name,
        )

    def _table(self, table: exp.Table) -> _Table:
        known = self.tables.get(f"{table.db}.{table.name}")
        if known is None:
            raise LineageError(
                f"table {table.sql(self.dialect)} is not in the schemas given",
                hint="pass the columns of every table the model reads",
            )
        return known

    def _output(self, scope: Scope, column: exp.Column) -> _Output:
        lineage = self.lineage(scope)
        position = lineage.index.get(column.name)
        if position is None:
            raise LineageError(
                f"column {column.sql(self.dialect)} is not an output of {column.table}",
                column=column.name,
            )
        if position < 0:
            raise LineageError(
                f"column {column.sql(self.dialect)} is ambiguous: {column.table} has several "
                "columns of that name",
                column=column.name,
                hint="give them distinct aliases where they are selected",
            )
        return lineage.outputs[position]

    def _display(self, scope: Scope, projection: exp.Expr) -> tuple[str | None, exp.Expr]:
        """Return the name the engine gives `projection` (None if it has none) and the
        expression that name comes from.

        DuckDB names an aliased expression by its alias as written and a bare column reference
        by the column's own spelling upstream; it makes up names for other expressions, which
        this does not try to reproduce.
        """
        from sqlglot import exp

        written = projection.meta.get(_WRITTEN_ALIAS)
        if isinstance(written, str) and self.normalize(written) == projection.alias_or_name:
            return written, projection
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(inner, exp.Coalesce) and not inner.meta.get(_WRITTEN_COALESCE):
            sides = self._using_sides(inner, _Clause(scope, {}))
            if sides:
                inner = sides[0]
        if isinstance(inner, exp.Column) and inner.table:
            source = self._source(scope, inner)
            if isinstance(source, exp.Table):
                table = self._table(source)
                return table.columns.get(inner.name, inner.name), inner
            output = self._output(source, inner)
            return output.display, output.origin
        if isinstance(inner, exp.Dot) and isinstance(inner.expression, exp.Identifier):
            return inner.expression.name, inner
        return None, inner

    def _using_sides(self, coalesce: exp.Coalesce, clause: _Clause) -> list[exp.Expr] | None:
        """Return the joined sides whose column a USING column takes its value from, or None
        if `coalesce` is not a USING column."""
        from sqlglot import exp

        using: dict[str, list[str]] = clause.scope.expression.meta.get(_USING) or {}
        arguments = [coalesce.this, *coalesce.expressions]
        if not all(isinstance(argument, exp.Column) for argument in arguments):
            return None
        names = {argument.name for argument in arguments}
        if len(names) != 1:
            return None
        sides = using.get(names.pop())
        if sides is None:
            return None
        # The engine reads a USING column from the left side of an inner or left join, from
        # the right side of a right join, and from whichever side matched in a full join.
        if "FULL" in sides:
            return arguments
        if "RIGHT" in sides:
            return arguments[-1:]
        return arguments[:1]

    def _subquery(
        self,
        query: exp.Expr,
        clause: _Clause,
        use: Use | None,
        out: dict[ColumnSource, None],
    ) -> None:
        """Follow a subquery in an expression: its outputs are used as `use` says (unless it is
        None). What decides its rows goes where the subquery sits: in WHERE, a join or another
        clause of the whole query (`out` is the dataset) it decides the query's rows; in an
        output column (a scalar subquery) only that column's value."""
        scope = clause.scope
        children = self.subqueries.get(id(scope))
        if children is None:
            children = {id(child.expression): child for child in scope.subquery_scopes}
            self.subqueries[id(scope)] = children
        child = children.get(id(query))
        if child is None:
            raise LineageError(f"cannot follow lineage through {query.sql(self.dialect)}")
        lineage = self.lineage(child)
        out.update(dict.fromkeys(lineage.dataset))
        if use is not None:
            for output in lineage.outputs:
                self._add_output(output, use, out)

    def _named_window(self, window: exp.Window, clause: _Clause) -> exp.Window | None:
        """Return the WINDOW clause definition `window` refers to (OVER w), if any."""
        from sqlglot import exp

        alias = window.args.get("alias")
        if alias is None or not isinstance(clause.scope.expression, exp.Select):
            return None
        for named in clause.scope.expression.args.get("windows") or []:
            if named.this.name == alias.name:
                return named  # type: ignore[no-any-return]
        return None

    def _unresolved(self, column: exp.Column, scope: Scope) -> LineageError:
        """Explain why an unqualified column matches no source, or several."""
        from sqlglot import exp

        having: list[str] = []
        for name, _ in scope.references:
            source = scope.sources.get(name)
            if isinstance(source, exp.Table):
                found = column.name in self._table(source).columns
            else:
                found = source is not None and column.name in self.lineage(source).index
            if found:
                having.append(name)
        if len(having) > 1:
            return LineageError(
                f"column {column.name} is ambiguous: it is in {', '.join(having)}",
                column=column.name,
                hint=f"qualify it, e.g. {having[0]}.{column.name}",
            )
        sources = ", ".join(name for name, _ in scope.references) or "nothing"
        return LineageError(
            f"column {column.name} is not in any table the query reads ({sources})",
            column=column.name,
        )


@functools.cache
def _navigation() -> tuple[type[exp.Expr], ...]:
    """Window functions that pick one row's value rather than aggregate: TRANSFORMATION."""
    from sqlglot import exp

    return (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


def _weaker(use: Use) -> Use:
    """The use of a column one function below `use`: IDENTITY becomes TRANSFORMATION."""
    return _TRANSFORMATION if use == _IDENTITY else use


def _compose(use: Use, sources: Iterable[ColumnSource]) -> Iterator[ColumnSource]:
    """Chain a use onto upstream sources: DIRECT keeps the stronger DIRECT subtype and leaves
    INDIRECT sources as they are; INDIRECT makes every source INDIRECT of the use's subtype."""
    kind, subtype = use
    rank = DIRECT_SUBTYPES.index
    for source in sources:
        if kind == "INDIRECT":
            yield replace(source, type="INDIRECT", subtype=subtype)
        elif source.type == "DIRECT" and rank(subtype) > rank(source.subtype):
            yield replace(source, subtype=subtype)
        else:
            yield source


def _merge(left: _Output, right: _Output) -> _Output:
    """The output of a set operation: named by its left side, fed by both."""
    return replace(left, sources=tuple(dict.fromkeys((*left.sources, *right.sources))))


def _is_lambda_parameter(column: exp.Column) -> bool:
    from sqlglot import exp

    lambda_ = column.find_ancestor(exp.Lambda)
    while lambda_ is not None:
        if any(parameter.name == column.name for parameter in lambda_.expressions):
            return True
        lambda_ = lambda_.find_ancestor(exp.Lambda)
    return False
