"""A model's SQL made ready for the scope walk: parsed, its tables checked, what it wrote noted.

sqlglot's qualification rewrites the tree in place: it lower-cases aliases, turns `JOIN ...
USING` into ON and COALESCE, and reads tables from the schema whether or not they are in it.
`mark_written` runs first, over the parsed tree, and notes on the nodes (under the keys below)
what qualification would erase, so that output columns keep the names the engine gives them;
it also refuses tables missing from the schemas and recursive CTEs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.lineage.column_sources import LineageError

if TYPE_CHECKING:
    from sqlglot import exp

WRITTEN_ALIAS = "headwater_alias"
"""An alias as the model wrote it (qualification lower-cases it)."""
WRITTEN_COALESCE = "headwater_coalesce"
"""Set on a COALESCE the model wrote itself (qualification writes USING columns as COALESCE)."""
USING = "headwater_using"
"""On a SELECT: each USING column's normalised name -> the sides of the joins naming it."""
COLUMN_LIST = "headwater_column_list"
"""On a query or table function renamed by `AS name(a, b)`: the column names as written."""
WRITTEN_NAME = "headwater_name"
"""On the identifier of an unqualified column: its name as written (qualification lower-cases
it, and turns a table's name used as a value into a whole-row reference, named so)."""


@dataclass(frozen=True)
class SchemaTable:
    """A table from the schemas mapping: its name as given and its columns by normalised name."""

    asset: str
    columns: dict[str, str]


def index_schemas(
    schemas: Mapping[str, Mapping[str, str]], normalize: Callable[[str], str]
) -> dict[str, SchemaTable]:
    """Index the schemas mapping by normalised "namespace.name"."""
    tables: dict[str, SchemaTable] = {}
    for asset, columns in schemas.items():
        namespace, dot, name = asset.partition(".")
        if not dot or not namespace or not name:
            raise LineageError(
                f"schemas key {asset!r} is not 'namespace.name'",
                hint="key every table's columns by its namespace and name",
            )
        tables[f"{normalize(namespace)}.{normalize(name)}"] = SchemaTable(
            asset, {normalize(column): column for column in columns}
        )
    return tables


def nested_schemas(schemas: Mapping[str, Mapping[str, str]]) -> dict[str, object]:
    """The schemas mapping as sqlglot takes it: {namespace: {name: {column: type}}}."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for asset, columns in schemas.items():
        namespace, name = asset.split(".", 1)
        nested.setdefault(namespace, {})[name] = dict(columns)
    return dict(nested)


def parse_query(sql: str, dialect: str) -> exp.Query:
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


def mark_written(
    tree: exp.Query, tables: dict[str, SchemaTable], normalize: Callable[[str], str], dialect: str
) -> None:
    """Record what qualification would erase, and check every table is known.

    Qualification lower-cases aliases, rewrites `JOIN ... USING` into ON and COALESCE, and
    reads tables from the schema whether or not they are in it, so this pass, over the parsed
    tree, notes the aliases and column lists as written, which COALESCE calls the model wrote
    itself, the names of unqualified columns, and the USING columns of each SELECT, and refuses
    tables missing from `tables`.
    """
    from sqlglot import exp

    cte_names: set[str] = set()
    references: list[exp.Table] = []
    for node in tree.walk():
        if isinstance(node, exp.Alias):
            node.meta[WRITTEN_ALIAS] = node.alias
        elif isinstance(node, exp.Coalesce):
            node.meta[WRITTEN_COALESCE] = True
        elif (
            isinstance(node, exp.Column)
            and not node.table
            and isinstance(node.this, exp.Identifier)
        ):
            node.this.meta[WRITTEN_NAME] = node.name
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
                owner.meta[COLUMN_LIST] = [column.name for column in node.columns]
        elif isinstance(node, exp.Join) and node.args.get("using"):
            select = node.find_ancestor(exp.Select)
            if select is not None:
                using: dict[str, list[str]] = select.meta.setdefault(USING, {})
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
