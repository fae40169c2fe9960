"""Which columns of which tables a query reads, for the audit trail.

The query is qualified against the schemas of the tables it reads (so `select *` names every
column, and a bare column its table), then each of its scopes (CTEs, derived tables,
subqueries, set operations) gives the columns it takes from a table: in its select list, its
joins, filters, grouping, ordering and functions alike. A derived table's scope reads every
column it selects, whether or not the outer query uses it: that is what the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from headwater.lineage.column_sources import LineageError
from headwater.lineage.parsing import nested_schemas, parse_query


def columns_read(
    sql: str, schemas: Mapping[str, Mapping[str, str]], dialect: str = "duckdb"
) -> dict[str, list[str]]:
    """The columns `sql` reads, by table.

    Args:
        sql: one query over tables named `namespace.name`.
        schemas: {"namespace.name": {column: type}} of every table it reads.
        dialect: the SQL dialect.

    Returns:
        {"namespace.name": [column, ...]}, tables and columns sorted, columns spelled as in
        `schemas`; a table read without any column (`select count(*) from t`) maps to [].

    Raises:
        LineageError: the SQL does not parse, or sqlglot cannot scope it.
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    spelled = {
        key.lower(): (key, {column.lower(): column for column in columns})
        for key, columns in schemas.items()
    }
    tree = parse_query(sql, dialect)
    try:
        qualified = qualify(
            tree,
            dialect=dialect,
            schema=nested_schemas(schemas),
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        scopes = list(traverse_scope(qualified))
    except (SqlglotError, AssertionError) as error:
        raise LineageError(f"sqlglot cannot analyse the SQL: {error}") from None
    if any(_unresolved(node) for node in qualified.walk()):
        raise LineageError("the query reads columns by pattern (COLUMNS(...) or *)")
    found: dict[str, set[str]] = {}
    for scope in scopes:
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and source.db:
                table = spelled.get(f"{source.db}.{source.name}".lower())
                if table is not None:
                    found.setdefault(table[0], set())
        for column in scope.columns:
            read = scope.sources.get(column.table)
            if not isinstance(read, exp.Table) or not read.db:
                continue  # a CTE's or derived table's column: its own scope reads the table's
            table = spelled.get(f"{read.db}.{read.name}".lower())
            if table is None:
                continue
            name = table[1].get(column.name.lower())
            if name is not None:
                found.setdefault(table[0], set()).add(name)
    return {key: sorted(columns) for key, columns in sorted(found.items())}


MAX_ANALYSED = 20_000
"""Characters of a statement worth analysing for the audit trail: a longer one (a generated
list of thousands of values) is recorded with its columns unknown rather than hold the log."""


def columns_read_or_none(
    sql: str, known: Mapping[str, Sequence[str]], tables: Sequence[str]
) -> dict[str, list[str]] | None:
    """The columns `sql` reads of `tables` (the tables it was found to read), given every
    table's column names in `known`; None when a table's columns are unknown or the SQL cannot
    be analysed (the audit trail then says so rather than guess)."""
    if not tables or any(table not in known for table in tables) or len(sql) > MAX_ANALYSED:
        return None
    schemas = {table: dict.fromkeys(known[table], "TEXT") for table in tables}
    try:
        return columns_read(sql, schemas)
    except LineageError:
        return None


def _unresolved(node: object) -> bool:
    """A node that reads columns sqlglot could not name: a star left unexpanded, COLUMNS()."""
    from sqlglot import exp

    if isinstance(node, exp.Columns):
        return True
    if isinstance(node, exp.Star):  # count(*) reads no column; a star left in a select does
        return not isinstance(node.parent, exp.Count)
    return isinstance(node, exp.Anonymous) and str(node.name).upper() in ("COLUMNS", "UNPACK")
