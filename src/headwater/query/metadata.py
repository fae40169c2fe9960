"""`DESCRIBE t`, `SHOW TABLES` and `information_schema` for ad-hoc queries.

They describe the project's tables, answered from tables Headwater builds from the project and
its warehouse (never from the engine's own catalog), so they work the same on the read-only
path. `DESCRIBE` and `SHOW TABLES` become the SELECT over `information_schema` that answers
them; a query's `information_schema.tables`, `.columns` and `.schemata` are pointed at Arrow
tables built for it, holding only the rows its WHERE can need.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, UsageError
from headwater.project.kinds import BuildKind
from headwater.project.sql import DIALECT, TableReference
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.build.relations import SnapshotPicker
    from headwater.engine.base import EngineSession
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore

METADATA_SCHEMA = "information_schema"
METADATA_TABLES = ("tables", "columns", "schemata")
"""The `information_schema` views a query may read, built from the project's tables."""
METADATA_PREFIX = "__headwater_information_schema_"
"""Prefix of the name a metadata table is registered under in the query's engine."""

_SPACE = r"[ \t\r\n]"
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_]*|"[^"\x00-\x1f]+")'
# Deliberately narrow (ASCII spaces, plain or simply quoted names, nothing else): text that
# does not match exactly goes on as SQL, where the checks refuse what they do not know.
_DESCRIBE = re.compile(
    rf"(?:DESCRIBE|DESC){_SPACE}+(?:(?P<namespace>{_NAME}){_SPACE}*\.{_SPACE}*)?(?P<name>{_NAME})",
    re.IGNORECASE,
)
_SHOW_TABLES = re.compile(rf"SHOW{_SPACE}+(?:ALL{_SPACE}+)?TABLES", re.IGNORECASE)


def metadata_statement_sql(sql: str, resolve: Callable[[TableReference], tuple[str, str]]) -> str:
    """Turn `DESCRIBE <table>` and `SHOW TABLES` into the SELECT over `information_schema`
    that answers them; return any other text unchanged.

    Args:
        sql: the query as given.
        resolve: the (namespace, name) of the table a query's name means.

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
        namespace, name = resolve(
            TableReference(_unquote(described["namespace"]), str(_unquote(described["name"])), 1)
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
class MetadataScope:
    """Which metadata rows a query can see: None where a query may see every table."""

    schemas: set[str] | None = None
    names: set[str] | None = None
    pinned: bool = False
    """True when every reference filters on table name: a table that cannot be described is
    an error then, rather than left out."""
    visible: Callable[[str, str], bool] | None = None
    """The tables that exist for the reader (None: every table)."""

    def admits(self, namespace: str, name: str) -> bool:
        """Whether the table `namespace.name` can be among the rows the query reads."""
        return (
            (self.schemas is None or namespace in self.schemas)
            and (self.names is None or name in self.names)
            and (self.visible is None or self.visible(namespace, name))
        )


@dataclass
class MetadataUse:
    """The metadata tables a compiled query reads, and the rows it can need."""

    sql: str
    """The query, its `information_schema` tables pointed at Headwater's own."""
    tables: set[str] = field(default_factory=set)
    scope: MetadataScope = field(default_factory=MetadataScope)


def metadata_use(compiled: str) -> MetadataUse:
    """Point the compiled query's `information_schema` tables at Headwater's own, and work out
    which rows the query can need (a WHERE on table_schema/table_name limits the work).

    Returns:
        The SQL to run, the metadata tables it reads and the rows it can need.

    Raises:
        UsageError: the query reads an `information_schema` table Headwater does not offer.
    """
    import sqlglot
    from sqlglot import exp

    use = MetadataUse(compiled)
    if METADATA_SCHEMA not in compiled.lower():
        return use  # most queries: spare them a second parse
    tree = sqlglot.parse_one(compiled, read=DIALECT)
    scopes: list[MetadataScope] = []

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
        use.scope = MetadataScope(
            schemas=None
            if any(s.schemas is None for s in scopes)
            else set().union(*(s.schemas or set() for s in scopes)),
            names=set().union(*(s.names or set() for s in scopes)),
            pinned=True,
        )
    return use


def described_views(definition: ProjectDefinition, use: MetadataUse) -> list[str]:
    """The view models whose columns the metadata tables of `use` list (by asset key)."""
    if "columns" not in use.tables:
        return []
    return [
        asset.key
        for asset in definition.assets.values()
        if asset.materialized == BuildKind.VIEW and use.scope.admits(asset.namespace, asset.name)
    ]


def metadata_tables(
    definition: ProjectDefinition,
    store: TableStore,
    use: MetadataUse,
    session: EngineSession,
    pick: SnapshotPicker,
    unbound: dict[str, Exception],
    unbound_view: Callable[[str, Exception], UsageError],
) -> dict[str, pa.Table]:
    """Build the metadata tables `use` reads, as the project's tables are at the query's time.

    Args:
        definition: the project.
        store: the warehouse's tables.
        use: what the query reads of the metadata.
        session: the query's session; the view models among the tables are registered in it
            already, and are bound there to list their columns.
        pick: the snapshot of a table the query reads (current, or at `as_of`).
        unbound: the view models that could not be registered, with why.
        unbound_view: the error for describing (by name) a view model that does not bind.

    Returns:
        Each metadata table `use` reads, by its name in `information_schema`.
    """
    import pyarrow as pa

    scope = use.scope
    catalog = definition.config.name
    assets = definition.assets
    tables: list[dict[str, Any]] = []
    columns: list[dict[str, Any]] = []
    stored = {r.key: r for r in store.list_tables()}
    for asset in assets.values():
        if asset.is_stored:
            stored.setdefault(asset.key, TableRef.of(asset))
    for key, ref in sorted(stored.items()):
        if not scope.admits(ref.namespace, ref.name) or not store.exists(ref):
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
        if asset.materialized != BuildKind.VIEW or not scope.admits(asset.namespace, asset.name):
            continue
        ref = TableRef.of(asset)
        tables.append(_table_row(catalog, ref, "VIEW", asset))
        if "columns" in use.tables:
            try:
                if asset.key in unbound:
                    raise unbound[asset.key]
                bound = session.column_types(ref)
            except Exception as exc:
                if not scope.pinned:
                    continue  # a view that cannot bind now is listed without columns
                raise unbound_view(asset.key, exc) from None
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


def _scope_of(table: exp.Table) -> MetadataScope:
    """The table_schema/table_name values a metadata table's own SELECT pins with `=` in the
    top-level AND of its WHERE, when that table is the SELECT's only source."""
    from sqlglot import exp

    select = table.parent.parent if table.parent is not None else None
    if not isinstance(select, exp.Select) or not isinstance(table.parent, exp.From):
        return MetadataScope()
    if select.args.get("joins") or select.args.get("laterals"):
        return MetadataScope()
    where = select.args.get("where")
    if where is None:
        return MetadataScope()
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
    return MetadataScope(pins.get("table_schema"), pins.get("table_name"))


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


def _unquote(part: str | None) -> str | None:
    if part is None:
        return None
    return part[1:-1] if part.startswith('"') else part
