"""The scope walk: the lineage of every scope of one qualified query, each computed once.

`ScopeAnalyzer.lineage` follows a scope (a SELECT, a set operation, a derived table, LATERAL,
UNNEST or VALUES) to the scopes and tables it reads, memoised: a SELECT's outputs are its
projections, and its joins, filters, grouping and sorting decide its rows; a set operation
merges its sides. How each expression uses the columns under it is `expressions`' job. A `*` is
not followed here: qualification has expanded every one it can from the schemas of the tables
read; what is left has unknown columns and is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from headwater.lineage.column_sources import (
    IDENTITY,
    TRANSFORMATION,
    ColumnSource,
    LineageError,
    combined,
    indirect,
)
from headwater.lineage.expressions import (
    Clause,
    ExpressionWalker,
    ScopeLineage,
    ScopeOutput,
    add_output,
)
from headwater.lineage.parsing import COLUMN_LIST, SchemaTable

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope


class ScopeAnalyzer:
    """Walks the scopes of one qualified query, computing each scope's lineage once."""

    def __init__(
        self, tables: dict[str, SchemaTable], normalize: Callable[[str], str], dialect: str
    ) -> None:
        self.normalize = normalize
        self.dialect = dialect
        self.done: dict[int, ScopeLineage] = {}
        self.expressions = ExpressionWalker(tables, normalize, dialect, self.lineage)

    def lineage(self, scope: Scope) -> ScopeLineage:
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
        renames: list[str] = expression.meta.get(COLUMN_LIST) or []
        if renames:
            # A column list may name only the first few columns.
            outputs = list(result.outputs)
            for position, written in enumerate(renames[: len(outputs)]):
                if self.normalize(written) == outputs[position].name:
                    outputs[position] = replace(outputs[position], display=written)
            result = ScopeLineage(outputs, result.dataset)
        self.done[id(scope)] = result
        return result

    def _select(self, scope: Scope) -> ScopeLineage:
        from sqlglot import exp
        from sqlglot.optimizer.scope import Scope

        select = scope.expression
        assert isinstance(select, exp.Select)
        clause = Clause(scope, {})
        # What decided the rows of a source decides the rows read from it.
        for name, _ in scope.references:
            source = scope.sources.get(name)
            if isinstance(source, Scope):
                clause.dataset.update(dict.fromkeys(self.lineage(source).dataset))

        outputs: list[ScopeOutput] = []
        for projection in select.selects:
            if projection.is_star:
                raise LineageError(
                    f"cannot expand {projection.sql(self.dialect)}: its source's columns are "
                    "unknown",
                    hint="list the columns instead, or name a table function's columns: "
                    "AS alias(column, ...)",
                )
            sources: dict[ColumnSource, None] = {}
            self.expressions.visit(projection, clause, IDENTITY, sources)
            if not sources:
                self.expressions.check_followed(projection, scope)
            display, origin = self.expressions.display(scope, projection)
            outputs.append(
                ScopeOutput(projection.alias_or_name, display, origin, combined(sources))
            )
        lineage = ScopeLineage(outputs)

        # ORDER BY and DISTINCT ON may name outputs by their alias.
        clause.outputs, clause.index = outputs, lineage.index
        for join in select.args.get("joins") or []:
            self.expressions.visit(join.args.get("on"), clause, indirect("JOIN"), clause.dataset)
            self.expressions.visit(
                join.args.get("match_condition"), clause, indirect("JOIN"), clause.dataset
            )
        self.expressions.visit(select.args.get("where"), clause, indirect("FILTER"), clause.dataset)
        group = select.args.get("group")
        if group is not None and group.args.get("all"):
            # GROUP BY ALL groups by every projection that holds no aggregate.
            for projection, output in zip(select.selects, outputs, strict=True):
                if projection.find(exp.AggFunc) is None:
                    add_output(output, indirect("GROUP_BY"), clause.dataset)
        self.expressions.visit(group, clause, indirect("GROUP_BY"), clause.dataset)
        self.expressions.visit(
            select.args.get("having"), clause, indirect("FILTER"), clause.dataset
        )
        self.expressions.visit(
            select.args.get("qualify"), clause, indirect("FILTER"), clause.dataset
        )
        distinct = select.args.get("distinct")
        if distinct is not None:
            self.expressions.visit(
                distinct.args.get("on"), clause, indirect("GROUP_BY"), clause.dataset
            )
        self._order(select.args.get("order"), clause)
        lineage.dataset = tuple(clause.dataset)
        return lineage

    def _set_operation(self, scope: Scope) -> ScopeLineage:
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
                add_output(output, indirect("FILTER"), dataset)
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
        lineage = ScopeLineage(outputs)
        clause = Clause(scope, dataset, outputs, lineage.index)
        self._order(operation.args.get("order"), clause)
        lineage.dataset = tuple(dataset)
        return lineage

    def _table_function(self, scope: Scope) -> ScopeLineage:
        """UNNEST and VALUES: each output column derives from every column in the call."""
        function = scope.expression
        sources: dict[ColumnSource, None] = {}
        clause = Clause(scope, {})
        for argument in function.expressions:
            self.expressions.visit(argument, clause, TRANSFORMATION, sources)
        outputs = [
            ScopeOutput(self.normalize(name), name, function, combined(sources))
            for name in function.alias_column_names
        ]
        return ScopeLineage(outputs, tuple(clause.dataset))

    def _order(self, order: exp.Order | None, clause: Clause) -> None:
        from sqlglot import exp

        if order is None:
            return
        items = order.expressions
        if len(items) == 1 and isinstance(items[0].this, exp.Var) and items[0].name == "ALL":
            for output in clause.outputs or []:
                add_output(output, indirect("SORT"), clause.dataset)
            return
        self.expressions.visit(order, clause, indirect("SORT"), clause.dataset)


def _merge(left: ScopeOutput, right: ScopeOutput) -> ScopeOutput:
    """The output of a set operation: named by its left side, fed by both (a column carries
    its value through if either side carries it)."""
    return replace(left, sources=combined((*left.sources, *right.sources)))
