"""Ad-hoc queries over a project's tables, optionally as of an earlier version or time.

A query session starts an in-memory DuckDB, registers only the tables the query names (views
of view models are recreated from their SQL on each connection), qualifies the query's table
names like a model's and returns the result as Arrow. `DESCRIBE t`, `SHOW TABLES` and the
`information_schema` views `tables`, `columns` and `schemata` describe the project's tables:
they are answered from tables Headwater builds from the project, never from the engine's own
catalog, so they work the same on the read-only path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, HeadwaterError, UsageError, first_line
from headwater.project.loader import AssetIndex
from headwater.project.sql import DIALECT, TableReference, analyze, compile_sql
from headwater.storage.base import Snapshot, TableRef

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa
    from sqlglot import exp

    from headwater.engine.duckdb import DuckDBSession
    from headwater.workspace import Project

QUERY_FILE = "(query)"

METADATA_SCHEMA = "information_schema"
METADATA_TABLES = ("tables", "columns", "schemata")
"""The `information_schema` views a query may read, built from the project's tables."""
METADATA_PREFIX = "__headwater_information_schema_"
"""Prefix of the name a metadata table is registered under in the query's engine."""

QUERY_HINT = (
    "headwater query runs one SELECT in DuckDB SQL, DESCRIBE <table>, SHOW TABLES, or a SELECT "
    "from information_schema." + "/".join(METADATA_TABLES)
)

_SPACE = r"[ \t\r\n]"
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_]*|"[^"\x00-\x1f]+")'
# Deliberately narrow (ASCII spaces, plain or simply quoted names, nothing else): text that
# does not match exactly goes on as SQL, where the checks refuse what they do not know.
_DESCRIBE = re.compile(
    rf"(?:DESCRIBE|DESC){_SPACE}+(?:(?P<namespace>{_NAME}){_SPACE}*\.{_SPACE}*)?(?P<name>{_NAME})",
    re.IGNORECASE,
)
_SHOW_TABLES = re.compile(rf"SHOW{_SPACE}+(?:ALL{_SPACE}+)?TABLES", re.IGNORECASE)


def resolve_table(project: Project, reference: TableReference) -> tuple[str, str]:
    """Resolve a table name of a query like a model's (`orders`, `core.orders`).

    A table in the warehouse that no asset declares (a quarantine or failed copy) resolves
    too, when both parts of its name are plain names.

    Returns:
        The (namespace, name) of the table.

    Raises:
        UsageError: no such table, with the closest names.
    """
    definition = project.definition
    try:
        key = AssetIndex(definition.assets).resolve(reference, "(query)", QUERY_FILE)
    except ConfigError as exc:
        if _plain(reference.namespace) and _plain(reference.name):
            ref = TableRef(str(reference.namespace), reference.name)
            if project.store.exists(ref):
                return ref.namespace, ref.name
        raise UsageError(
            exc.message.replace("model (query) reads", "the query reads"),
            hint=exc.hint,
        ) from None
    asset = definition.assets[key]
    return asset.namespace, asset.name


def metadata_statement_sql(project: Project, sql: str) -> str:
    """Turn `DESCRIBE <table>` and `SHOW TABLES` into the SELECT over `information_schema`
    that answers them; return any other text unchanged.

    Returns:
        SQL to run in place of `sql`.

    Raises:
        UsageError: DESCRIBE names a table the project does not have.
    """
    from sqlglot import exp

    columns = exp.Table(this=exp.to_identifier("columns"), db=exp.to_identifier(METADATA_SCHEMA))
    # stripped in Python: spaces around a pattern of optional spaces backtrack quadratically
    statement = sql.strip(" \t\r\n").removesuffix(";").rstrip(" \t\r\n")
    described = _DESCRIBE.fullmatch(statement)
    if described is not None:
        namespace, name = resolve_table(
            project,
            TableReference(_unquote(described["namespace"]), str(_unquote(described["name"])), 1),
        )
        query = (
            exp.select(
                "column_name",
                exp.alias_(exp.column("data_type"), "column_type"),
                exp.alias_(exp.column("is_nullable"), "null", quoted=True),
            )
            .from_(columns)
            .where(
                exp.and_(
                    exp.column("table_schema").eq(exp.Literal.string(namespace)),
                    exp.column("table_name").eq(exp.Literal.string(name)),
                )
            )
            .order_by("ordinal_position")
        )
        return query.sql(dialect=DIALECT)
    if _SHOW_TABLES.fullmatch(statement):
        tables = exp.Table(this=exp.to_identifier("tables"), db=exp.to_identifier(METADATA_SCHEMA))
        qualified = exp.DPipe(
            this=exp.DPipe(this=exp.column("table_schema"), expression=exp.Literal.string(".")),
            expression=exp.column("table_name"),
        )
        return (
            exp.select(exp.alias_(qualified, "name"))
            .from_(tables)
            .order_by("name")
            .sql(dialect=DIALECT)
        )
    return sql


@dataclass
class _MetadataScope:
    """Which metadata rows a query can see: None where a query may see every table."""

    schemas: set[str] | None = None
    names: set[str] | None = None
    pinned: bool = False
    """True when every reference filters on table name: a table that cannot be described is
    an error then, rather than left out."""

    def admits(self, namespace: str, name: str) -> bool:
        return (self.schemas is None or namespace in self.schemas) and (
            self.names is None or name in self.names
        )


@dataclass
class _MetadataUse:
    """The metadata tables a compiled query reads, and the rows it can need."""

    sql: str
    tables: set[str] = field(default_factory=set)
    scope: _MetadataScope = field(default_factory=_MetadataScope)


class QuerySession:
    """A short-lived engine for reading a project's tables."""

    def __init__(self, project: Project) -> None:
        from headwater.engine.registry import EnginePlace, create_engine

        self.project = project
        self.definition = project.definition
        self.engine: Any = create_engine(
            self.definition.config.engine, EnginePlace(self.definition.root)
        )

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.close()

    def _resolve(self, reference: TableReference) -> tuple[str, str]:
        return resolve_table(self.project, reference)

    def query(self, sql: str, as_of: str | int | None = None) -> pa.Table:
        """Run one query and return its result; tables are read at `as_of` when given.

        The query is a SELECT, `DESCRIBE <table>`, `SHOW TABLES` or a SELECT from
        `information_schema.tables`, `.columns` or `.schemata`.

        Returns:
            The whole result as an Arrow table.

        Raises:
            UsageError: the SQL does not parse (DuckDB's own message, with its LINE marker), is
                not one query, names an unknown table or fails in the engine.
        """
        from headwater.build.compiler import Compiler
        from headwater.build.relations import Relations

        sql = metadata_statement_sql(self.project, sql)
        self._check_parses(sql)
        try:
            references = analyze(sql, QUERY_FILE).references
            compiler = Compiler(self.definition)
            compiled = compile_sql(
                sql, QUERY_FILE, self._resolve, lambda ns, n: self._ephemeral(compiler, ns, n)
            )
        except ConfigError as exc:
            # DuckDB parsed it (above), so this is sqlglot failing on DuckDB SQL
            if exc.message.startswith("a model must be a SELECT query"):
                kind = exc.message.rsplit(" ", 1)[-1]
                raise UsageError(
                    f"headwater query does not run {kind} statements", hint=QUERY_HINT
                ) from None
            problem = exc.message.removeprefix("SQL does not parse: ")
            raise UsageError(
                f"DuckDB accepts the query but Headwater's SQL parser (sqlglot) cannot read "
                f"it: {problem}",
                exc.location,
                "write it another way (Headwater must parse a query to find its tables)",
            ) from None
        use = _metadata_use(compiled)
        store = self.project.store

        def pick(ref: TableRef) -> Snapshot:
            if as_of is None:
                return store.snapshot(ref)
            if isinstance(as_of, int) or str(as_of).isdigit():
                return store.snapshot(ref, version=int(as_of))
            return store.snapshot(ref, as_of=str(as_of))

        relations = Relations(self.definition, store, compiler.compile, snapshot=pick)
        session = self.engine.session()
        try:
            read: set[str] = set()
            for reference in references:
                namespace, name = self._resolve(reference)
                key = f"{namespace}.{name}"
                if key in self.definition.assets:
                    # a view over tables read at `as_of` can fail to bind to their columns then
                    relations.ensure(session, key)
                    read.add(key)
                else:
                    ref = TableRef(namespace, name)
                    session.register_table(ref, pick(ref))
            unbound: dict[str, Exception] = {}
            for key in self._described_views(use):
                try:
                    relations.ensure(session, key)
                except Exception as exc:
                    unbound[key] = exc  # listed without columns (or an error, when pinned)
            # every table is registered now: from here on, views bind (and nothing registers)
            unbound.update(self._seal(session, self._views_read(read)))
            if use.tables:
                for table_name, table in self._metadata(use, session, pick, unbound).items():
                    session.connection.register(METADATA_PREFIX + table_name, table)
            return session.query(use.sql)
        except Exception as exc:
            if type(exc).__module__.startswith(("duckdb", "_duckdb")):
                first = first_line(exc)
                raise UsageError(f"query failed: {first}", hint="check the SQL") from None
            raise

    def _check_parses(self, sql: str) -> None:
        """Refuse SQL DuckDB cannot parse, with DuckDB's message, and anything but one query."""
        import duckdb

        connection = self.engine.session().connection
        try:
            statements = connection.extract_statements(sql)
        except duckdb.Error as exc:
            raise UsageError(
                f"the query does not parse: {_parser_message(exc)}", hint=QUERY_HINT
            ) from None
        if len(statements) != 1:
            raise UsageError(
                f"the query holds {len(statements)} statements; it must be exactly one",
                hint=QUERY_HINT,
            )
        kind = statements[0].type.name
        if kind == "SELECT":
            # DuckDB calls DESCRIBE, SHOW and SUMMARIZE queries too; only the forms
            # `metadata_statement_sql` rewrote are answered
            first = next(
                (offset for offset, token in duckdb.tokenize(sql) if token.name != "comment"),
                None,
            )
            if first is not None:
                data = sql.encode("utf-8")  # DuckDB's token offsets count bytes
                word = data[first : first + 16].split(None, 1)[0].decode("utf-8", "replace")
                if word.upper() in ("DESCRIBE", "DESC", "SHOW", "SUMMARIZE"):
                    kind = word.upper()
        if kind != "SELECT":
            raise UsageError(f"headwater query does not run {kind} statements", hint=QUERY_HINT)

    def _seal(self, session: DuckDBSession, required: set[str]) -> dict[str, Exception]:
        """Called once every table the query can read is registered, before any view model
        binds. The read-only session locks its connection down here and only then creates
        the views of view models (see `headwater.query.readonly`).

        Args:
            session: the query's session.
            required: the view models the query itself reads (not only describes).

        Returns:
            The view models that could not be created, with why; none here, where a view
            that cannot be created fails as it is registered.
        """
        return {}

    def _unbound_view(self, key: str, exc: Exception) -> UsageError:
        """The error for describing (by name) the view model `key`, which does not bind."""
        return UsageError(
            f"cannot describe the view {key}: {first_line(exc)}",
            hint=f"headwater query 'select * from {key}' shows the same error",
        )

    def _described_views(self, use: _MetadataUse) -> list[str]:
        """The view models whose columns the metadata tables of `use` list."""
        if "columns" not in use.tables:
            return []
        return [
            asset.key
            for asset in self.definition.assets.values()
            if asset.materialized == "view" and use.scope.admits(asset.namespace, asset.name)
        ]

    def _views_read(self, keys: set[str]) -> set[str]:
        """The view models that reading the assets `keys` reads, through views and
        ephemerals."""
        assets = self.definition.assets
        views: set[str] = set()
        seen: set[str] = set()
        pending = [k for k in keys if k in assets]
        while pending:
            key = pending.pop()
            if key in seen:
                continue
            seen.add(key)
            asset = assets[key]
            if asset.materialized in ("view", "ephemeral"):
                if asset.materialized == "view":
                    views.add(key)
                pending.extend(d for d in asset.depends_on if d in assets)
        return views

    def _metadata(
        self,
        use: _MetadataUse,
        session: DuckDBSession,
        pick: Callable[[TableRef], Snapshot],
        unbound: dict[str, Exception],
    ) -> dict[str, pa.Table]:
        """The metadata tables `use` reads, as the project's tables are at the query's time.

        The view models among them are registered already; `unbound` holds those that could
        not be.
        """
        import pyarrow as pa

        from headwater.storage.base import TableRef

        scope = use.scope
        catalog = self.definition.config.name
        assets = self.definition.assets
        tables: list[dict[str, Any]] = []
        columns: list[dict[str, Any]] = []
        stored = {r.key: r for r in self.project.store.list_tables()}
        for asset in assets.values():
            if asset.is_stored:
                stored.setdefault(asset.key, TableRef.of(asset))
        for key, ref in sorted(stored.items()):
            if not scope.admits(ref.namespace, ref.name) or not self.project.store.exists(ref):
                continue
            try:
                snapshot = pick(ref)
            except HeadwaterError:
                continue  # the table did not exist yet at `as_of`
            tables.append(_table_row(catalog, ref, "BASE TABLE", assets.get(key)))
            if "columns" in use.tables:
                types = session.sql_types(snapshot.schema)
                for position, column in enumerate(snapshot.schema, start=1):
                    columns.append(
                        _column_row(
                            catalog,
                            ref,
                            column.name,
                            position,
                            types[column.name],
                            column.nullable,
                        )
                    )
        for asset in assets.values():
            if asset.materialized != "view" or not scope.admits(asset.namespace, asset.name):
                continue
            ref = TableRef.of(asset)
            tables.append(_table_row(catalog, ref, "VIEW", asset))
            if "columns" in use.tables:
                try:
                    if asset.key in unbound:
                        raise unbound[asset.key]
                    bound = self._bind_view(session, ref)
                except Exception as exc:
                    if not scope.pinned:
                        continue  # a view that cannot bind now is listed without columns
                    raise self._unbound_view(asset.key, exc) from None
                for position, (name, kind) in enumerate(bound, start=1):
                    columns.append(_column_row(catalog, ref, name, position, kind, True))
        schemata = sorted({(row["table_schema"]) for row in tables})
        built = {
            "tables": pa.Table.from_pylist(tables, schema=_tables_schema()),
            "columns": pa.Table.from_pylist(columns, schema=_columns_schema()),
            "schemata": pa.Table.from_pylist(
                [{"catalog_name": catalog, "schema_name": s} for s in schemata],
                schema=_schemata_schema(),
            ),
        }
        return {name: built[name] for name in use.tables}

    @staticmethod
    def _bind_view(session: DuckDBSession, ref: TableRef) -> list[tuple[str, str]]:
        from sqlglot import exp

        table = exp.Table(
            this=exp.to_identifier(ref.name, quoted=True),
            db=exp.to_identifier(ref.namespace, quoted=True),
        )
        relation = session.connection.sql(exp.select("*").from_(table).sql(dialect=DIALECT))
        return [(str(n), str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]

    def _ephemeral(self, compiler: Any, namespace: str, name: str) -> str | None:
        asset = self.definition.assets.get(f"{namespace}.{name}")
        if asset is None or asset.materialized != "ephemeral":
            return None
        result: str = compiler.compile(asset.key)
        return result


def _metadata_use(compiled: str) -> _MetadataUse:
    """Point the compiled query's `information_schema` tables at Headwater's own, and work out
    which rows the query can need (a WHERE on table_schema/table_name limits the work)."""
    import sqlglot
    from sqlglot import exp

    use = _MetadataUse(compiled)
    if METADATA_SCHEMA not in compiled.lower():
        return use  # most queries: spare them a second parse
    tree = sqlglot.parse_one(compiled, read=DIALECT)
    scopes: list[_MetadataScope] = []

    def rewrite(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or node.catalog or node.db.lower() != METADATA_SCHEMA:
            return node
        name = node.name.lower()
        if name not in METADATA_TABLES:
            raise UsageError(
                f"the query reads {METADATA_SCHEMA}.{node.name}, which headwater query does "
                "not offer",
                hint=f"read {', '.join(f'{METADATA_SCHEMA}.{t}' for t in METADATA_TABLES)}",
            )
        use.tables.add(name)
        scopes.append(_scope_of(node))
        replacement = exp.Table(this=exp.to_identifier(METADATA_PREFIX + name, quoted=True))
        alias = node.args.get("alias")
        # keep `tables.table_name` style qualifiers working after the rename
        replacement.set("alias", alias or exp.TableAlias(this=exp.to_identifier(node.name)))
        return replacement

    if not any(isinstance(t, exp.Table) and t.db.lower() == METADATA_SCHEMA for t in tree.walk()):
        return use
    use.sql = tree.transform(rewrite).sql(dialect=DIALECT, pretty=True)
    if scopes and all(s.names is not None for s in scopes):
        use.scope = _MetadataScope(
            schemas=None
            if any(s.schemas is None for s in scopes)
            else set().union(*(s.schemas or set() for s in scopes)),
            names=set().union(*(s.names or set() for s in scopes)),
            pinned=True,
        )
    return use


def _scope_of(table: exp.Table) -> _MetadataScope:
    """The table_schema/table_name values a metadata table's own SELECT pins with `=` in the
    top-level AND of its WHERE, when that table is the SELECT's only source."""
    from sqlglot import exp

    select = table.parent.parent if table.parent is not None else None
    if not isinstance(select, exp.Select) or not isinstance(table.parent, exp.From):
        return _MetadataScope()
    if select.args.get("joins") or select.args.get("laterals"):
        return _MetadataScope()
    where = select.args.get("where")
    if where is None:
        return _MetadataScope()
    condition = where.this
    conjuncts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    pins: dict[str, set[str]] = {}
    for conjunct in conjuncts:
        if not isinstance(conjunct, exp.EQ):
            continue
        sides = (conjunct.this, conjunct.expression)
        for column, value in (sides, sides[::-1]):
            if (
                isinstance(column, exp.Column)
                and column.name.lower() in ("table_schema", "table_name")
                # a qualifier naming another table is a correlated outer column: no pin
                and column.table in ("", table.alias_or_name)
                and isinstance(value, exp.Literal)
                and value.is_string
            ):
                found = {value.this}
                key = column.name.lower()
                pins[key] = pins[key] & found if key in pins else found
    return _MetadataScope(pins.get("table_schema"), pins.get("table_name"))


def _table_row(catalog: str, ref: TableRef, kind: str, asset: Any) -> dict[str, Any]:
    return {
        "table_catalog": catalog,
        "table_schema": ref.namespace,
        "table_name": ref.name,
        "table_type": kind,
        "table_comment": asset.description if asset is not None else None,
    }


def _column_row(
    catalog: str, ref: TableRef, name: str, position: int, kind: str, nullable: bool
) -> dict[str, Any]:
    return {
        "table_catalog": catalog,
        "table_schema": ref.namespace,
        "table_name": ref.name,
        "column_name": name,
        "ordinal_position": position,
        "column_default": None,
        "is_nullable": "YES" if nullable else "NO",
        "data_type": kind,
    }


def _tables_schema() -> pa.Schema:
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            ("table_catalog", text),
            ("table_schema", text),
            ("table_name", text),
            ("table_type", text),
            ("table_comment", text),
        ]
    )


def _columns_schema() -> pa.Schema:
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            ("table_catalog", text),
            ("table_schema", text),
            ("table_name", text),
            ("column_name", text),
            ("ordinal_position", pa.int32()),
            ("column_default", text),
            ("is_nullable", text),
            ("data_type", text),
        ]
    )


def _schemata_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("catalog_name", pa.string()), ("schema_name", pa.string())])


def _parser_message(exc: Exception) -> str:
    """DuckDB's parser message with its LINE marker, without the blank line between them."""
    return "\n".join(line for line in str(exc).strip().splitlines() if line.strip())


def _unquote(part: str | None) -> str | None:
    if part is None:
        return None
    return part[1:-1] if part.startswith('"') else part


def _plain(part: str | None) -> bool:
    """Whether `part` of a table name is a plain name (letters, digits, `_`, `-`), not a path."""
    return bool(part) and re.fullmatch(r"[\w-]+", str(part)) is not None
