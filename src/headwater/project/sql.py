"""Parse model SQL with sqlglot: find what a model reads, and compile it to the SQL that runs.

Analysis yields the table names a model references (never declared by hand) and the external
files it scans. Compilation rewrites every reference to a fully qualified asset name and inlines
ephemeral models as CTEs. Both work on the AST, never by string gluing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, Location

if TYPE_CHECKING:
    from sqlglot import exp

DIALECT = "duckdb"
FILE_FUNCTIONS = {
    "read_parquet",
    "parquet_scan",
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "read_ndjson_auto",
    "read_text",
    "read_blob",
}
FILE_SUFFIX = re.compile(r"\.(csv|tsv|parquet|json|ndjson|jsonl|txt)(\.gz|\.zst)?$", re.I)
SYSTEM_NAMESPACES = {"information_schema", "pg_catalog"}
TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: \d+, col: \d+.*?>")
CLASS_REPR = re.compile(r"<class '(?:\w+\.)*(\w+)'>")


@dataclass(frozen=True)
class TableReference:
    """A table name as written in a model: optional namespace, name and the line it is on."""

    namespace: str | None
    name: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class SqlAnalysis:
    """What parsing a model's SQL found: its table references and external files."""

    references: tuple[TableReference, ...]
    external_files: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable form (for the parse cache)."""
        return {
            "references": [[r.namespace, r.name, r.line] for r in self.references],
            "external_files": list(self.external_files),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SqlAnalysis:
        """Rebuild an analysis from `to_json` output."""
        return cls(
            tuple(TableReference(ns, name, line) for ns, name, line in data["references"]),
            tuple(data["external_files"]),
        )


def parse_select(sql: str, file: str) -> exp.Query:
    """Parse `sql` as exactly one query.

    Raises:
        ConfigError: the SQL does not parse, holds several statements or is not a query.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        raise ConfigError(
            f"SQL does not parse: {_parse_problem(detail, error)}",
            Location(file=file, line=detail.get("line")),
            "a model is one SELECT statement in DuckDB SQL",
        ) from None
    except TokenError as error:
        end = getattr(error, "end", None)
        raise ConfigError(
            "SQL does not parse: it has an unterminated string, quoted name or comment",
            Location(file=file, line=sql[:end].count("\n") + 1 if end is not None else None),
            "close the quote (' or \") or comment that starts near that line",
        ) from None
    if not statements:
        raise ConfigError(
            "the model holds no SQL",
            Location(file=file),
            "write one SELECT statement, or delete the file",
        )
    if len(statements) > 1:
        starts = _statement_lines(sql)
        raise ConfigError(
            f"a model must hold exactly one statement, found {len(statements)}",
            Location(file=file, line=starts[1] if len(starts) > 1 else None),
            "remove the extra statements (a ';' followed by more SQL)",
        )
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise NotAQueryError(statement.key.upper(), Location(file=file, line=1))
    return statement


class NotAQueryError(ConfigError):
    """A model's SQL is one statement, but not a query.

    Attributes:
        found: the statement's kind as sqlglot names it (`INSERT`, `PIVOT`, ...).
    """

    def __init__(self, found: str, location: Location) -> None:
        super().__init__(
            f"a model must be a SELECT query, found {found}",
            location,
            "write the model as a SELECT; Headwater writes the table itself",
        )
        self.found = found


def _parse_problem(detail: dict[str, Any], error: Exception) -> str:
    """Describe a sqlglot parse error in words, without its internal token dump."""
    description = str(detail.get("description") or error)
    description = TOKEN_REPR.sub(lambda m: repr(m.group(1)), description)
    description = CLASS_REPR.sub(r"\1", description)
    highlight = detail.get("highlight")
    if highlight and repr(highlight) not in description:
        description += f" near {highlight!r}"
    return description


def _statement_lines(sql: str) -> list[int]:
    """Return the line on which each statement of `sql` starts."""
    import sqlglot

    lines: list[int] = []
    at_start = True
    for token in sqlglot.tokenize(sql, read=DIALECT):
        if token.token_type.name == "SEMICOLON":
            at_start = True
        elif at_start:
            lines.append(token.line)
            at_start = False
    return lines


def _table_identifier(table: exp.Table) -> exp.Identifier | None:
    from sqlglot import exp

    ident = table.this
    return ident if isinstance(ident, exp.Identifier) else None


def is_cte_reference(table: exp.Table) -> bool:
    """Whether the unqualified table name `table` means a CTE where it stands: one of a WITH
    of an enclosing query, defined before the CTE it is used in (or that CTE itself, under
    WITH RECURSIVE). A CTE of another subquery does not count: there the name is a table, as
    the engine reads it."""
    from sqlglot import exp

    if table.args.get("db") or table.args.get("catalog"):
        return False
    name = table.name.lower()
    child: Any = table
    node: Any = table.parent
    while node is not None:
        # sqlglot names the key `with_` (`with` before version 28)
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            if child is with_:
                # inside one of this WITH's CTEs: only the ones before it (or itself) are seen
                inside = _within(table, ctes)
                index = ctes.index(inside) if inside is not None else len(ctes)
                seen = ctes[: index + 1] if with_.args.get("recursive") else ctes[:index]
            else:
                seen = ctes
            if any(c.alias_or_name.lower() == name for c in seen):
                return True
        child = node
        node = node.parent
    return False


def _within(table: exp.Expression, ctes: list[Any]) -> Any:
    """The CTE among `ctes` that holds `table` (None: none does)."""
    node: Any = table
    while node is not None:
        if any(node is c for c in ctes):
            return node
        node = node.parent
    return None


def _is_file_path(name: str) -> bool:
    return "/" in name or bool(FILE_SUFFIX.search(name))


def analyze(sql: str, file: str, tree: exp.Query | None = None) -> SqlAnalysis:
    """Return the table references and external files of one model's (rendered) SQL (`tree`:
    that SQL already parsed by `parse_select`, which is then not parsed again)."""
    from sqlglot import exp

    if tree is None:
        tree = parse_select(sql, file)
    references: dict[tuple[str | None, str], TableReference] = {}
    files: list[str] = []
    for table in tree.find_all(exp.Table):
        ident = _table_identifier(table)
        if ident is None:
            function = table.this
            if isinstance(function, exp.Func):
                files.extend(_literal_paths(function))
            continue
        name = ident.name
        namespace = table.db or None
        if namespace is None and _is_file_path(name):
            files.append(name)
            continue
        if namespace is None and is_cte_reference(table):
            continue
        if namespace and namespace.lower() in SYSTEM_NAMESPACES:
            continue
        key = (namespace, name)
        if key not in references:
            references[key] = TableReference(namespace, name, ident.meta.get("line"))
    return SqlAnalysis(tuple(references.values()), tuple(dict.fromkeys(files)))


def _literal_paths(function: exp.Func) -> list[str]:
    from sqlglot import exp

    name = (
        function.sql_name() if not isinstance(function, exp.Anonymous) else function.name
    ).lower()
    if name not in FILE_FUNCTIONS:
        return []
    return [
        literal.this
        for literal in function.find_all(exp.Literal)
        if literal.is_string and _is_file_path(literal.this)
    ]


Resolver = Callable[[TableReference], tuple[str, str] | None]
"""Maps a reference to (namespace, name) of an asset, or None when it is the model itself."""


def compile_sql(
    sql: str,
    file: str,
    resolve: Callable[[TableReference], tuple[str, str]],
    ephemeral_sql: Callable[[str, str], str | None],
) -> str:
    """Rewrite a model's rendered SQL into the SQL that runs.

    Args:
        sql: rendered model SQL.
        file: the model file, for errors.
        resolve: maps each reference to the (namespace, name) of its asset.
        ephemeral_sql: returns the compiled SQL of an ephemeral asset, or None for a real table.

    Returns:
        DuckDB SQL whose table references are fully qualified and whose ephemeral upstreams are
        inlined as CTEs.
    """
    compiled = compile_tree(parse_select(sql, file), file, resolve, ephemeral_sql)
    return compiled.sql(dialect=DIALECT, pretty=True)


def compile_tree(
    tree: exp.Query,
    file: str,
    resolve: Callable[[TableReference], tuple[str, str]],
    ephemeral_sql: Callable[[str, str], str | None],
    copy: bool = True,
) -> exp.Query:
    """`compile_sql` on SQL already parsed by `parse_select`: returns the compiled query, a
    new tree (or `tree` itself rewritten, when not `copy`)."""
    from sqlglot import exp

    inlined: dict[str, exp.Query] = {}

    def rewrite(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table):
            return node
        ident = _table_identifier(node)
        if ident is None:
            return node
        namespace = node.db or None
        if namespace is None and (_is_file_path(ident.name) or is_cte_reference(node)):
            return node
        if namespace and namespace.lower() in SYSTEM_NAMESPACES:
            return node
        target_ns, target_name = resolve(
            TableReference(namespace, ident.name, ident.meta.get("line"))
        )
        inline = ephemeral_sql(target_ns, target_name)
        if inline is not None:
            cte_name = f"__ephemeral__{target_ns}__{target_name}"
            inlined.setdefault(cte_name, parse_select(inline, file))
            node.set("this", exp.to_identifier(cte_name, quoted=True))
            node.set("db", None)
        else:
            node.set("this", exp.to_identifier(target_name, quoted=True))
            node.set("db", exp.to_identifier(target_ns, quoted=True))
        node.set("catalog", None)
        # only the name changes: PIVOT, UNPIVOT, TABLESAMPLE, joins and every other argument of
        # the reference stay (a table rebuilt from its name alone silently dropped them)
        if node.args.get("alias") is None and (inline is not None or namespace is None):
            # keep `orders.col` style column qualifiers working after the rename
            node.set("alias", exp.TableAlias(this=exp.to_identifier(ident.name)))
        return node

    transformed = tree.transform(rewrite, copy=copy)
    assert isinstance(transformed, exp.Query)
    compiled: exp.Query = transformed
    for cte_name, query in reversed(list(inlined.items())):
        compiled = _prepend_cte(compiled, cte_name, query)
    return compiled


def _prepend_cte(tree: exp.Query, name: str, query: exp.Query) -> exp.Query:
    from sqlglot import exp

    cte = exp.CTE(this=query, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
    key = "with_" if "with_" in tree.arg_types else "with"  # sqlglot 30 renamed the argument
    with_ = tree.args.get(key)
    if with_ is None:
        tree.set(key, exp.With(expressions=[cte]))
    else:
        with_.set("expressions", [cte, *with_.expressions])
    return tree
