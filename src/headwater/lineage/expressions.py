"""How an expression uses the columns under it, and which upstream columns those are.

`ExpressionWalker.visit` walks one expression of a scope: a column's use weakens from IDENTITY
to TRANSFORMATION under any function and strengthens to AGGREGATION under an aggregate, and the
conditions of CASE/IF, a window's PARTITION BY/ORDER BY and an aggregate's FILTER or ORDER BY
make it INDIRECT. Along the way it notes whether the column's value survives every function up
to the output (`keeps_value`). A column resolves to a table of the schemas or to an output of
another scope, whose lineage the walker asks of `scopes.ScopeAnalyzer` (it calls back for
subqueries too); a table's name used as a value (`to_json(t)`, `t AS v`) stands for every column
of its row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.lineage.column_sources import (
    ColumnSource,
    LineageError,
    Use,
    compose,
    indirect,
    weaker,
)
from headwater.lineage.parsing import (
    USING,
    WRITTEN_ALIAS,
    WRITTEN_COALESCE,
    WRITTEN_NAME,
    SchemaTable,
)

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope


@dataclass(frozen=True)
class ScopeOutput:
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
class ScopeLineage:
    """The lineage of one scope: its outputs and what decides its rows."""

    outputs: list[ScopeOutput]
    dataset: tuple[ColumnSource, ...] = ()
    index: dict[str, int] = field(init=False)
    """Position of each output by name; -1 for a name several outputs share."""

    def __post_init__(self) -> None:
        self.index = {}
        for position, output in enumerate(self.outputs):
            self.index[output.name] = -1 if output.name in self.index else position


@dataclass
class Clause:
    """Where the walk is: the scope, its dataset so far and, in clauses, its outputs."""

    scope: Scope
    dataset: dict[ColumnSource, None]
    outputs: list[ScopeOutput] | None = None
    index: dict[str, int] | None = None


class ExpressionWalker:
    """Finds the sources of the columns under expressions of one qualified query."""

    def __init__(
        self,
        tables: dict[str, SchemaTable],
        normalize: Callable[[str], str],
        dialect: str,
        lineage: Callable[[Scope], ScopeLineage],
    ) -> None:
        """`lineage` gives the lineage of another scope of the query (a subquery, a CTE)."""
        self.tables = tables
        self.normalize = normalize
        self.dialect = dialect
        self.lineage = lineage
        self.subqueries: dict[int, dict[int, Scope]] = {}

    def visit(
        self,
        node: exp.Expr | None,
        clause: Clause,
        use: Use,
        out: dict[ColumnSource, None],
    ) -> None:
        """Add to `out` the sources of every column under `node`, used as `use` says.

        Walking down, the use of a DIRECT column weakens from IDENTITY to TRANSFORMATION
        under any function and strengthens to AGGREGATION under an aggregate; the conditions
        of CASE/IF and a window's PARTITION BY, ORDER BY and frame bounds turn it INDIRECT.
        Once INDIRECT, a use stays what the outermost clause made it. A DIRECT use stops
        carrying the value below the first function that does not keep it (`keeps_value`).
        A whole row (`exp.TableColumn`) is every column of its table or scope.
        """
        from sqlglot import exp

        if node is None:
            return
        if isinstance(node, exp.Column):
            if not isinstance(node.this, exp.Star):
                self._column(node, clause, use, out)
            return
        if isinstance(node, exp.TableColumn):
            self._whole_row(node, clause, use, out)
            return
        if isinstance(node, (exp.Select, exp.SetOperation)):
            self._subquery(node, clause, use, out)
            return
        if isinstance(node, exp.Exists):
            # EXISTS only asks whether rows match; what they select does not matter.
            self._subquery(node.this, clause, None, out)
            return
        if isinstance(node, (exp.Alias, exp.Paren, exp.Subquery)):
            self.visit(node.this, clause, use, out)
            return
        direct = use.type == "DIRECT"
        value = weaker(use)
        condition = indirect("CONDITIONAL") if direct else use
        if isinstance(node, exp.Window):
            self.visit(node.this, clause, use, out)
            spec = indirect("WINDOW") if direct else use
            for window in (node, self._named_window(node, clause)):
                if window is not None:
                    for part in window.args.get("partition_by") or []:
                        self.visit(part, clause, spec, out)
                    self.visit(window.args.get("order"), clause, spec, out)
                    # ROWS BETWEEN n PRECEDING ...: a column as a bound decides the frame.
                    self.visit(window.args.get("spec"), clause, spec, out)
        elif isinstance(node, exp.Case):
            self.visit(node.this, clause, condition, out)
            for branch in node.args.get("ifs") or []:
                self.visit(branch.this, clause, condition, out)
                self.visit(branch.args.get("true"), clause, value, out)
            self.visit(node.args.get("default"), clause, value, out)
        elif isinstance(node, exp.If):
            self.visit(node.this, clause, condition, out)
            self.visit(node.args.get("true"), clause, value, out)
            self.visit(node.args.get("false"), clause, value, out)
        elif isinstance(node, exp.Filter):
            # count(*) FILTER (WHERE c): c decides which rows the aggregate sees.
            self.visit(node.this, clause, use, out)
            self.visit(node.expression, clause, condition, out)
        elif isinstance(node, exp.Order):
            # ORDER BY inside an aggregate, e.g. array_agg(x ORDER BY y): y orders the values.
            self.visit(node.this, clause, value, out)
            sort = indirect("SORT") if direct else use
            for item in node.expressions:
                self.visit(item, clause, sort, out)
        elif isinstance(node, exp.Coalesce) and not node.meta.get(WRITTEN_COALESCE):
            # A USING column: qualification wrote it as COALESCE over the joined sides.
            for column in self._using_sides(node, clause) or [node.this, *node.expressions]:
                self.visit(column, clause, use, out)
        elif isinstance(node, exp.WithinGroup):
            # percentile_cont(0.5) WITHIN GROUP (ORDER BY x) aggregates x: it is no sort key.
            aggregated = use._replace(subtype="AGGREGATION") if direct else use
            self.visit(node.this, clause, aggregated, out)
            if direct:
                aggregated = aggregated._replace(
                    carries=use.carries and keeps_value(node.this, None)
                )
            for item in node.expression.expressions:
                self.visit(item, clause, aggregated, out)
        else:
            aggregate = isinstance(node, exp.AggFunc) and not isinstance(node, _navigation())
            below = use._replace(subtype="AGGREGATION") if direct and aggregate else value
            for child in node.iter_expressions():
                if direct:
                    carries = use.carries and keeps_value(node, child.arg_key)
                    self.visit(child, clause, below._replace(carries=carries), out)
                else:
                    self.visit(child, clause, below, out)

    def _column(
        self, column: exp.Column, clause: Clause, use: Use, out: dict[ColumnSource, None]
    ) -> None:
        if column.table:
            out.update(dict.fromkeys(compose(use, self._upstream(clause.scope, column))))
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
        add_output(clause.outputs[position], use, out)

    def _whole_row(
        self, row: exp.TableColumn, clause: Clause, use: Use, out: dict[ColumnSource, None]
    ) -> None:
        """A table's name used as a value (`to_json(t)`, `t AS v`, `list(t)`): the engine
        packs the whole row into one struct, so every column of `t` flows into it, one
        function below `use` (a value use is a TRANSFORMATION that carries every column,
        unless a function around it does not keep the value, as in `count(t)`).

        Raises:
            LineageError: `t` is a table whose columns are unknown.
        """
        from sqlglot import exp

        packed = weaker(use)
        source = self._source(clause.scope, row.name, row)
        if not isinstance(source, exp.Table):
            for output in self.lineage(source).outputs:
                add_output(output, packed, out)
            return
        table = self._table(source)
        if not table.columns:
            raise LineageError(
                f"{row.sql(self.dialect)} is the whole row of {table.asset}, whose columns are "
                "unknown",
                hint="run the project once so that its columns are known, or declare them",
            )
        upstream = [
            ColumnSource(table.asset, spelled, "DIRECT", "IDENTITY")
            for spelled in table.columns.values()
        ]
        out.update(dict.fromkeys(compose(packed, upstream)))

    def check_followed(self, projection: exp.Expr, scope: Scope) -> None:
        """Refuse a projection of `scope` that the walk found no source for although it names
        a table's column or row (outside its subqueries, which are scopes of their own).

        Reading a table always yields a source, so this means the walk went past a reference
        without following it (a construct it does not know): the lineage would silently miss
        the column, and with it any personal data in it. A constant, `count(*)` or a column of
        a derived table that holds only constants has no source and passes.

        Raises:
            LineageError: the projection names a table's column or row but has no source.
        """
        from sqlglot import exp

        nested = (exp.Select, exp.SetOperation)
        for node in projection.walk(prune=lambda inner: isinstance(inner, nested)):
            if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
                name = node.table
            elif isinstance(node, exp.TableColumn):
                name = node.name
            else:
                continue
            if name and isinstance(self._find(scope, name), exp.Table):
                raise LineageError(
                    f"cannot follow lineage through {projection.sql(self.dialect)}: it reads "
                    f"{node.sql(self.dialect)}, yet no source was found",
                    column=projection.alias_or_name,
                )

    def _upstream(self, scope: Scope, column: exp.Column) -> tuple[ColumnSource, ...]:
        """Return the sources of the value `column` reads."""
        from sqlglot import exp

        source = self._source(scope, column.table, column)
        if isinstance(source, exp.Table):
            table = self._table(source)
            spelled = table.columns.get(column.name)
            if spelled is None:
                raise LineageError(
                    f"column {column.name} is not in {table.asset}", column=column.name
                )
            return (ColumnSource(table.asset, spelled, "DIRECT", "IDENTITY"),)
        return self._output(source, column).sources

    def _source(self, scope: Scope, name: str, reference: exp.Expr) -> exp.Table | Scope:
        """Return the table or scope called `name` that `reference` (a column qualified with
        it, or its whole row) reads, looking outwards for correlated subqueries."""
        source = self._find(scope, name)
        if source is None:
            raise LineageError(
                f"column {reference.sql(self.dialect)} names {name}, which the query does not read",
                column=reference.name,
            )
        return source

    @staticmethod
    def _find(scope: Scope, name: str) -> exp.Table | Scope | None:
        """Return the table or scope called `name` in `scope` or a scope around it."""
        owner: Scope | None = scope
        while owner is not None:
            source = owner.sources.get(name)
            if source is not None:
                return source
            owner = owner.parent
        return None

    def _table(self, table: exp.Table) -> SchemaTable:
        known = self.tables.get(f"{table.db}.{table.name}")
        if known is None:
            raise LineageError(
                f"table {table.sql(self.dialect)} is not in the schemas given",
                hint="pass the columns of every table the model reads",
            )
        return known

    def _output(self, scope: Scope, column: exp.Column) -> ScopeOutput:
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

    def display(self, scope: Scope, projection: exp.Expr) -> tuple[str | None, exp.Expr]:
        """Return the name the engine gives `projection` (None if it has none) and the
        expression that name comes from.

        DuckDB names an aliased expression by its alias as written and a bare column reference
        by the column's own spelling upstream; it makes up names for other expressions, which
        this does not try to reproduce.
        """
        from sqlglot import exp

        written = projection.meta.get(WRITTEN_ALIAS)
        if isinstance(written, str) and self.normalize(written) == projection.alias_or_name:
            return written, projection
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(inner, exp.Coalesce) and not inner.meta.get(WRITTEN_COALESCE):
            sides = self._using_sides(inner, Clause(scope, {}))
            if sides:
                inner = sides[0]
        if isinstance(inner, exp.Column) and inner.table:
            source = self._source(scope, inner.table, inner)
            if isinstance(source, exp.Table):
                table = self._table(source)
                return table.columns.get(inner.name, inner.name), inner
            output = self._output(source, inner)
            return output.display, output.origin
        if isinstance(inner, exp.Dot) and isinstance(inner.expression, exp.Identifier):
            return inner.expression.name, inner
        if isinstance(inner, exp.TableColumn):
            # A whole row is named by the table's name as the projection spells it.
            written = inner.this.meta.get(WRITTEN_NAME)
            return (written if isinstance(written, str) else inner.name), inner
        return None, inner

    def _using_sides(self, coalesce: exp.Coalesce, clause: Clause) -> list[exp.Expr] | None:
        """Return the joined sides whose column a USING column takes its value from, or None
        if `coalesce` is not a USING column."""
        from sqlglot import exp

        using: dict[str, list[str]] = clause.scope.expression.meta.get(USING) or {}
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
        clause: Clause,
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
                add_output(output, use, out)

    def _named_window(self, window: exp.Window, clause: Clause) -> exp.Window | None:
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


def add_output(output: ScopeOutput, use: Use, out: dict[ColumnSource, None]) -> None:
    """Add to `out` the sources of `output`, reached through a use as `use` says."""
    out.update(dict.fromkeys(compose(use, output.sources)))


@functools.cache
def _navigation() -> tuple[type[exp.Expr], ...]:
    """Window functions that pick one row's value rather than aggregate: TRANSFORMATION."""
    from sqlglot import exp

    return (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


_ANONYMOUS_COMPUTED_ABOUT = frozenset(
    {"octet_length", "strlen", "prefix", "suffix", "list_has_all", "array_has_all", "isfinite"}
)
"""DuckDB functions sqlglot has no class for (so known by name) whose result is computed about
the value."""


def keeps_value(function: exp.Expr, argument: str | None) -> bool:
    """Return whether the result of `function` still holds the value, or part of it, of its
    argument `argument` (an arg key such as "this"; None for the values an aggregate
    WITHIN GROUP orders).

    False for what is computed about a value rather than taken from it: counts, sums,
    averages and other statistics, lengths and positions, and every boolean (comparisons,
    LIKE, IS NULL, IN, starts_with...); and for the arguments that only steer a function
    (the ``id`` of ``arg_max(email, id)``, the bounds of ``substr``, a JSON path). True for
    everything else, functions Headwater does not know included: a tag that follows a value
    too far is safer than one that stops too soon.
    """
    from sqlglot import exp

    if isinstance(function, _computed_about()):
        return False
    if isinstance(function, exp.Anonymous):
        return function.name.lower() not in _ANONYMOUS_COMPUTED_ABOUT
    steering = _steering_arguments()
    for kind in type(function).__mro__:
        arguments = steering.get(kind)
        if arguments is not None:
            return argument not in arguments
    return True


@functools.cache
def _computed_about() -> tuple[type[exp.Expr], ...]:
    """Functions whose result is computed about their arguments and holds none of their
    values: statistics, sizes and positions, and booleans."""
    from sqlglot import exp

    return (
        # Counting and numeric statistics.
        exp.Count,
        exp.CountIf,
        exp.ApproxDistinct,
        exp.Sum,
        exp.Avg,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.VariancePop,
        exp.Kurtosis,
        exp.Skewness,
        exp.Corr,
        exp.CovarPop,
        exp.CovarSamp,
        exp.RegrAvgx,
        exp.RegrAvgy,
        exp.RegrCount,
        exp.RegrIntercept,
        exp.RegrR2,
        exp.RegrSlope,
        exp.RegrSxx,
        exp.RegrSxy,
        exp.RegrSyy,
        # Interpolates between two values, as avg does (percentile_disc picks one: it keeps).
        exp.PercentileCont,
        # Sizes, positions, distances and types.
        exp.Length,
        exp.BitLength,
        exp.ByteLength,
        exp.ArraySize,
        exp.StrPosition,
        exp.ArrayPosition,
        exp.Levenshtein,
        exp.Typeof,
        # Booleans: comparisons, LIKE, IS, IN, BETWEEN, regexp_matches, list_contains...
        exp.Predicate,
        exp.Connector,
        exp.Not,
        exp.StartsWith,
        exp.EndsWith,
        exp.Contains,
        exp.IsNan,
        exp.IsInf,
        exp.IsAscii,
        exp.ArrayAny,
        exp.ArrayAll,
        exp.LogicalAnd,
        exp.LogicalOr,
    )


@functools.cache
def _steering_arguments() -> dict[type[exp.Expr], frozenset[str]]:
    """Arguments of value-keeping functions that only steer them: which row, which part,
    which path. The other arguments keep their value."""
    from sqlglot import exp

    return {
        exp.ArgMax: frozenset({"expression", "count"}),
        exp.ArgMin: frozenset({"expression", "count"}),
        exp.Lag: frozenset({"offset"}),
        exp.Lead: frozenset({"offset"}),
        exp.NthValue: frozenset({"offset"}),
        exp.Substring: frozenset({"start", "length"}),
        exp.Left: frozenset({"expression"}),
        exp.Right: frozenset({"expression"}),
        exp.Pad: frozenset({"expression"}),
        exp.Repeat: frozenset({"times"}),
        exp.Round: frozenset({"decimals"}),
        exp.SplitPart: frozenset({"delimiter", "part_index"}),
        exp.Split: frozenset({"expression", "limit"}),
        exp.Replace: frozenset({"expression"}),
        exp.RegexpReplace: frozenset({"expression", "position", "occurrence", "modifiers"}),
        exp.RegexpExtract: frozenset(
            {"expression", "position", "occurrence", "parameters", "group"}
        ),
        exp.RegexpExtractAll: frozenset(
            {"expression", "position", "occurrence", "parameters", "group"}
        ),
        exp.Nullif: frozenset({"expression"}),
        exp.Bracket: frozenset({"expressions"}),
        exp.JSONExtract: frozenset({"expression"}),
        exp.JSONExtractScalar: frozenset({"expression"}),
        exp.StructExtract: frozenset({"expression"}),
    }


def _is_lambda_parameter(column: exp.Column) -> bool:
    from sqlglot import exp

    lambda_ = column.find_ancestor(exp.Lambda)
    while lambda_ is not None:
        if any(parameter.name == column.name for parameter in lambda_.expressions):
            return True
        lambda_ = lambda_.find_ancestor(exp.Lambda)
    return False
