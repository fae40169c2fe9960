"""DuckDB SQL as Spark SQL: models stay in DuckDB's dialect and sqlglot transpiles them.

Everything above the engine speaks DuckDB SQL (models, the statements builders and checks
make). The Spark engine turns each statement into Spark SQL here: sqlglot reads DuckDB and writes
Spark, the tables a statement reads (`namespace.name`) become the temporary views that hold them
in the Spark session, and a table of rewrites (`spark_sql_rewrites`) first fixes what sqlglot
would write with another meaning in Spark (list indexes, `date_diff`, `strftime` formats,
`regexp_replace`, casts that round, `UNION BY NAME`, ...). Where a rewrite depends on a type, the
types come from the statement itself and from the schemas of the relations it reads, when the
caller knows them. A DuckDB function Spark has no equivalent of is refused before anything runs,
naming it (`UnsupportedFunction`): the check reads the list of Spark's built-in functions written
by scripts/generate_spark_functions.py, so it needs no Spark.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import Location, ModelError, UsageError, first_line

if TYPE_CHECKING:
    import pyarrow as pa

ViewName = Callable[[str, str], str]
"""Maps a table's (namespace, name) to the name of the Spark view holding it."""

ParquetScan = Callable[..., str]
"""Makes Parquet files readable, like `EngineSession.scan_parquet(paths, *, union_by_name,
hive_partitioning, filename)`, and returns the Spark SQL relation (a view name) reading them."""

FUNCTIONS_SETTING = "headwater.spark.functions"
"""The engine setting naming functions registered on the Spark cluster (user-defined
functions, comma-separated) that models may call although Spark has no built-in of that name."""

_SYNTAX = frozenset({"cast", "try_cast", "extract", "timestampdiff", "timestampadd"})
"""Spark SQL calls its parser reads as syntax rather than as registered functions."""


def view_name(namespace: str, name: str) -> str:
    """The Spark temporary view that holds table `namespace.name` in a session: `ns__name`,
    with a short hash of the key added when either part holds `__` (so that `a__b.c` and
    `a.b__c` never share a view)."""
    if "__" in namespace or "__" in name:
        import hashlib

        digest = hashlib.sha256(f"{namespace}.{name}".encode()).hexdigest()[:8]
        return f"{namespace}__{name}__{digest}"
    return f"{namespace}__{name}"


@dataclass
class UnsupportedFunction(ModelError):
    """A DuckDB function (or construct) that Spark SQL has no equivalent of; the Spark
    engine's `model_error` names the model."""

    function: str = ""
    detail: str = ""


def unsupported(function: str, detail: str | None = None) -> UnsupportedFunction:
    """The error for a statement that uses the DuckDB function `function` (and why, `detail`).
    A `function` that is not a plain name (`UNION BY NAME`) is a construct of the language."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", function):
        message = f"the DuckDB function {function}() has no Spark equivalent"
    else:
        message = f"the DuckDB construct {function} has no Spark equivalent"
    if detail:
        message += f" ({detail})"
    return UnsupportedFunction(
        message,
        Location(),
        "rewrite it with functions both engines know, or build this model on DuckDB "
        "('engine: duckdb' in its sidecar)",
        function=function,
        detail=detail or "",
    )


def declared_functions(settings: Mapping[str, Any]) -> frozenset[str]:
    """The functions an engine's `settings` declare as registered on the cluster
    (`headwater.spark.functions: "f1, f2"`), lower case."""
    value = settings.get(FUNCTIONS_SETTING)
    if not value:
        return frozenset()
    names = value if isinstance(value, list | tuple) else str(value).split(",")
    return frozenset(str(n).strip().lower() for n in names if str(n).strip())


@dataclass(frozen=True)
class SparkStatement:
    """A DuckDB statement as Spark SQL, and what its relations stand for."""

    sql: str
    """The Spark SQL."""
    tables: dict[str, str] = field(default_factory=dict)
    """Each view the SQL reads -> the table (`namespace.name`) it holds."""
    scans: dict[str, str] = field(default_factory=dict)
    """Each relation reading Parquet files -> the DuckDB call it replaced."""


def spark_sql(
    sql: str,
    views: ViewName = view_name,
    *,
    scan: ParquetScan | None = None,
    schemas: Mapping[str, pa.Schema] | None = None,
    functions: Collection[str] = (),
) -> str:
    """Return the DuckDB statement `sql` as Spark SQL, with every qualified table reference
    `namespace.name` (not a CTE) renamed to `views(namespace, name)`.

    Args:
        sql: one DuckDB statement.
        views: names the view holding each table.
        scan: makes the files of a `read_parquet(...)` readable and returns the relation
            reading them (the session's `scan_parquet`); without it, a single path becomes
            Spark's `parquet.`path``.
        schemas: the Arrow schema of relations the SQL reads, by their name in the Spark SQL
            (a view name); rewrites that depend on a type (casts that round, averages of
            decimals, `SELECT * REPLACE`, `UNION BY NAME`) read them.
        functions: functions registered on the cluster that Spark has no built-in of.

    Raises:
        UnsupportedFunction: `sql` uses a function Spark has no equivalent of.
        UsageError: sqlglot cannot parse `sql`.
    """
    return transpile(sql, views, scan=scan, schemas=schemas, functions=functions).sql


def transpile(
    sql: str,
    views: ViewName = view_name,
    *,
    scan: ParquetScan | None = None,
    schemas: Mapping[str, pa.Schema] | None = None,
    functions: Collection[str] = (),
    pretty: bool = False,
) -> SparkStatement:
    """`spark_sql`, returning also which table each view holds (for `headwater compile`).

    Raises:
        UnsupportedFunction: `sql` uses a function Spark has no equivalent of.
        UsageError: sqlglot cannot parse `sql`.
    """
    from headwater.engine.spark_sql_rewrites import Rewriting
    from headwater.engine.spark_sql_types import Types

    reader, _ = dialects()
    tree = _parse(sql, reader)
    tables = _rename_tables(tree, views)
    scans = _find_scans(tree, scan)
    scanned = [(found.table, found.name) for found in scans]
    types = Types(tree, scanned, _read_schemas(tree, scans, schemas or {}), reader)
    tree = Rewriting(types).run(tree)
    replaced = _replace_scans(scans)
    text = _generate(tree, frozenset(n.lower() for n in functions), pretty)
    return SparkStatement(text, tables, replaced)


def read_tables(sql: str) -> list[tuple[str, str]]:
    """The (namespace, name) of each table the DuckDB statement `sql` reads, in order.

    Raises:
        UsageError: sqlglot cannot parse `sql`.
    """
    from sqlglot import exp

    reader, _ = dialects()
    found: dict[tuple[str, str], None] = {}
    for table in _parse(sql, reader).find_all(exp.Table):
        if table.args.get("db") and not table.args.get("catalog"):
            found[(table.db, table.name)] = None
    return list(found)


def _read_schemas(
    tree: Any, scans: list[_Scan], schemas: Mapping[str, pa.Schema]
) -> dict[str, pa.Schema]:
    """The schemas of the relations `tree` reads, by lower-case name (an engine may hold many
    more views than one statement reads)."""
    from sqlglot import exp

    wanted = {t.name.lower() for t in tree.find_all(exp.Table) if not t.args.get("db")}
    wanted |= {found.name for found in scans}
    names = {name.lower(): name for name in schemas}
    return {n: schemas[names[n]] for n in wanted if n in names}


# -- parsing and generating --------------------------------------------------------------------


@functools.cache
def dialects() -> tuple[Any, Any]:
    """The sqlglot dialects transpiling reads (DuckDB's) and writes (Spark's) with, made once
    on first use: DuckDB's keeps list indexes as written, Spark's records the functions it
    writes for the refusal check."""
    from sqlglot import exp, transforms
    from sqlglot.dialects.duckdb import DuckDB
    from sqlglot.dialects.spark import Spark

    class HeadwaterDuckDB(DuckDB):
        # keep DuckDB's own 1-based list indexes in the tree: sqlglot would shift literal
        # indexes only and leave a column index as it is, which is off by one in Spark
        INDEX_OFFSET = 0

    generator: Any = Spark.Generator

    class HeadwaterSpark(Spark):
        class Generator(generator):  # type: ignore[misc]
            """Spark's generator, recording each function it writes and the DuckDB call it
            comes from, and what it could not write, for the refusal check."""

            # Spark 4 reads QUALIFY itself (sqlglot's rewrite of it leaks its window column
            # into `SELECT *`); DISTINCT ON is rewritten before (`_rewrite_distinct_on`)
            TRANSFORMS = {
                **generator.TRANSFORMS,
                exp.Select: transforms.preprocess(
                    [transforms.unnest_to_explode, transforms.any_to_exists]
                ),
            }

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.calls: list[tuple[str, Any]] = []
                self.failures: list[tuple[str, Any]] = []
                self._within: list[Any] = []

            def sql(self, expression: Any, key: str | None = None, comment: bool = True) -> str:
                if isinstance(expression, exp.Func) and key is None:
                    self._within.append(expression)
                    try:
                        return str(super().sql(expression, key, comment))
                    finally:
                        self._within.pop()
                return str(super().sql(expression, key, comment))

            def func(self, name: str, *args: Any, **kwargs: Any) -> str:
                self.calls.append((name, self._within[-1] if self._within else None))
                return str(super().func(name, *args, **kwargs))

            def unsupported(self, message: str) -> None:
                self.failures.append((message, self._within[-1] if self._within else None))

    return HeadwaterDuckDB, HeadwaterSpark


def _parse(sql: str, reader: Any) -> Any:
    """The one statement of `sql`, parsed as DuckDB."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        statements = [s for s in sqlglot.parse(sql, read=reader) if s is not None]
    except (ParseError, TokenError) as exc:
        raise UsageError(
            f"sqlglot cannot read the statement to transpile it to Spark SQL: {first_line(exc)}",
            hint="simplify the SQL, or build this model on DuckDB ('engine: duckdb')",
        ) from exc
    if len(statements) != 1:
        raise UsageError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def _generate(tree: Any, functions: frozenset[str], pretty: bool) -> str:
    """Write `tree` as Spark SQL; raise `UnsupportedFunction` for a call Spark lacks."""
    from headwater.engine.spark_functions import SPARK_FUNCTIONS

    _, writer = dialects()
    generator = writer().generator(pretty=pretty)
    text = generator.generate(tree, copy=False)
    for message, node in generator.failures:
        raise unsupported(_duckdb_name(node) if node is not None else "statement", message)
    for name, node in generator.calls:
        lowered = name.lower()
        if lowered in SPARK_FUNCTIONS or lowered in _SYNTAX or lowered in functions:
            continue
        raise unsupported(_duckdb_name(node) if node is not None else lowered)
    return str(text)


def _duckdb_name(node: Any) -> str:
    """The name a DuckDB user wrote for the call `node` (or the call it was rewritten from)."""
    from sqlglot import exp

    origin = node.meta.get("hw_origin", node)
    if isinstance(origin, exp.Anonymous):
        return str(origin.name).lower()
    reader, _ = dialects()
    text = str(origin.sql(dialect=reader))
    head = text.split("(", 1)[0].strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head):
        return head.lower()
    return str(origin.sql_name()).lower()


# -- tables and Parquet scans ------------------------------------------------------------------


def _rename_tables(tree: Any, views: ViewName) -> dict[str, str]:
    """Rename each `namespace.name` table to its view (keeping `name` as the alias that columns
    may qualify with); a CTE whose name a view takes is renamed first. Returns view -> table."""
    from sqlglot import exp

    targets = {
        id(t): views(t.db, t.name)
        for t in tree.find_all(exp.Table)
        if t.args.get("db") and not t.args.get("catalog") and isinstance(t.this, exp.Identifier)
    }
    _rename_colliding_ctes(tree, {v.lower() for v in targets.values()})
    renamed: dict[str, str] = {}
    for table in list(tree.find_all(exp.Table)):
        view = targets.get(id(table))
        if view is None:
            continue
        renamed[view] = f"{table.db}.{table.name}"
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
        table.set("this", exp.to_identifier(view))
        table.set("db", None)
    for column in tree.find_all(exp.Column):
        # `namespace.name.column`: the table's alias (its name) qualifies it now
        if column.args.get("db") and not column.args.get("catalog"):
            column.set("db", None)
    return renamed


def _rename_colliding_ctes(tree: Any, names: set[str]) -> None:
    """Rename CTEs named like a view the statement reads (and their references, in scope)."""
    from sqlglot import exp

    from headwater.project.sql import is_cte_reference

    for cte in list(tree.find_all(exp.CTE)):
        old = cte.alias_or_name
        if old.lower() not in names:
            continue
        new = f"{old}__cte"
        for table in list(tree.find_all(exp.Table)):
            if table.name.lower() == old.lower() and is_cte_reference(table):
                if table.args.get("alias") is None:
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(old)))
                table.set("this", exp.to_identifier(new))
        cte.args["alias"].set("this", exp.to_identifier(new))


@dataclass
class _Scan:
    """A `read_parquet(...)` in FROM, and the relation that replaces it."""

    table: Any
    relation: str
    call: str

    @property
    def name(self) -> str:
        """The relation's name without quotes, lower case (how its schema is looked up)."""
        text = self.relation.strip()
        if len(text) > 1 and text[0] == text[-1] and text[0] in '`"':
            text = text[1:-1]
        return text.lower()


_SCAN_OPTIONS = ("union_by_name", "hive_partitioning", "filename")


def _find_scans(tree: Any, scan: ParquetScan | None) -> list[_Scan]:
    """Each Parquet scan in `tree` (`read_parquet`, `parquet_scan`, `FROM 'file.parquet'`),
    made readable through `scan`; other file readers are refused."""
    from sqlglot import exp

    reader, _ = dialects()
    found: list[_Scan] = []
    for table in tree.find_all(exp.Table):
        source = table.this
        name = _call_name(source)
        if isinstance(source, exp.Identifier) and source.quoted and not table.args.get("db"):
            path = str(source.this)
            if _is_reader_path(path):
                if not re.search(r"\.parquet\*?$|\*$", path, re.IGNORECASE):
                    raise unsupported(
                        "read_csv", f"FROM '{path}' reads a file Spark cannot read like DuckDB"
                    )
                relation = (scan or _path_scan)([path], union_by_name=False)
                found.append(_Scan(table, relation, f"'{path}'"))
            continue
        if name in ("read_parquet", "parquet_scan"):
            paths, options = _scan_arguments(source, name)
            relation = (scan or _path_scan)(paths, **options)
            found.append(_Scan(table, relation, source.sql(dialect=reader)))
        elif name is not None and re.match(r"(read_|sniff_)(csv|json|ndjson|text|blob|xlsx)", name):
            raise unsupported(name, "read the files into a table with a source, then model it")
    return found


def _is_reader_path(path: str) -> bool:
    """Whether a quoted table name is a file DuckDB reads by its name."""
    return "/" in path or "." in path.rsplit("/", 1)[-1]


def _call_name(node: Any) -> str | None:
    """The lower-case name of the function `node` calls (None: not a call)."""
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.ReadParquet):
        return "read_parquet"
    if isinstance(node, exp.ReadCSV):
        return "read_csv"
    if isinstance(node, exp.Func):
        return str(node.sql_name()).lower()
    return None


def _scan_arguments(call: Any, name: str) -> tuple[list[str], dict[str, Any]]:
    """The paths and options of a `read_parquet(...)` call."""
    from sqlglot import exp

    arguments = list(call.expressions) or ([call.this] if call.args.get("this") else [])
    options: dict[str, Any] = {"union_by_name": False}
    paths: list[str] = []
    for argument in arguments:
        if isinstance(argument, exp.EQ | exp.PropertyEQ):
            key = argument.this.name.lower()
            value = argument.expression
            if key not in _SCAN_OPTIONS or not isinstance(value, exp.Boolean):
                raise unsupported(name, f"option {argument.sql()} is not one Spark reads")
            options[key] = bool(value.this)
        elif isinstance(argument, exp.Literal) and argument.is_string:
            paths.append(str(argument.this))
        elif isinstance(argument, exp.Array) and all(
            isinstance(p, exp.Literal) and p.is_string for p in argument.expressions
        ):
            paths.extend(str(p.this) for p in argument.expressions)
        else:
            raise unsupported(name, "its paths must be written as string literals")
    if not paths:
        raise unsupported(name, "it names no file")
    return paths, options


def _path_scan(
    paths: list[str],
    *,
    union_by_name: bool = False,
    hive_partitioning: bool | None = None,
    filename: bool = False,
) -> str:
    """Spark's `parquet.`path`` for one path read as DuckDB would (no engine to register a
    view with the options)."""
    if len(paths) != 1 or union_by_name or filename:
        raise unsupported(
            "read_parquet",
            "several paths, union_by_name and filename need the Spark engine's scan",
        )
    return "parquet.`" + paths[0].replace("`", "``") + "`"


def _replace_scans(scans: list[_Scan]) -> dict[str, str]:
    """Put each scan's relation in place of its call; returns relation -> call."""
    import sqlglot
    from sqlglot import exp

    _, writer = dialects()
    replaced: dict[str, str] = {}
    for found in scans:
        relation = sqlglot.parse_one(f"SELECT * FROM {found.relation}", read=writer)
        source = relation.args["from_"].this
        if not isinstance(source, exp.Table):
            source = exp.Subquery(this=relation)
        alias = found.table.args.get("alias")
        if alias is not None:
            source.set("alias", alias)
        found.table.replace(source)
        replaced[found.relation] = found.call
    return replaced
