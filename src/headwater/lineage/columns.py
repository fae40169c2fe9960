"""Column-level lineage of one SQL model, worked out with sqlglot.

`model_lineage` qualifies a model's SELECT once against the schemas of the tables it reads, then
walks its scopes (CTEs, derived tables, subqueries, set operations) once each, memoised. It returns
the upstream columns whose values flow into each output column, and the columns that decide which
rows the model has (join keys, filters, grouping, sorting), in the vocabulary of
`column_sources` (OpenLineage's ColumnLineageDatasetFacet 1-2-0). The parsing and marking of the
SQL is `parsing`'s, the walk over scopes `scopes`' and over expressions `expressions`'; sqlglot
is imported only when a lineage is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

from headwater.lineage.column_sources import ColumnSource, LineageError, ModelLineage
from headwater.lineage.parsing import index_schemas, mark_written, nested_schemas, parse_query
from headwater.lineage.scopes import ScopeAnalyzer


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

    tables = index_schemas(schemas, normalize)
    tree = parse_query(sql, dialect)
    mark_written(tree, tables, normalize, dialect)
    try:
        qualified = qualify(
            tree,
            dialect=engine,
            schema=nested_schemas(schemas),
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        root = build_scope(qualified)
        if root is None:
            raise LineageError("the SQL is not a query", hint="a model is one SELECT statement")
        result = ScopeAnalyzer(tables, normalize, dialect).lineage(root)
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
