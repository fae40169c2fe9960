"""The rows of PostgreSQL's catalog for one session: `pg_namespace`, `pg_class`,
`pg_attribute`, `pg_index`, `pg_constraint`, `pg_description`, `pg_database`, `pg_roles`,
`pg_settings`, `information_schema.tables`, `.columns`... describing the tables one principal
may read, beside PostgreSQL's own catalog (types, access methods, the catalog's relations).

Every other relation of PostgreSQL 15's catalog exists with its columns and no rows. An oid
of Headwater's (a namespace, table, index, constraint, role, the database) is derived from
its name, so it stays the same across connections and server restarts.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.serve.pgwire.catalog_pg15 import (
    ACCESS_METHODS,
    COLLATIONS,
    DESCRIPTIONS,
    INFORMATION_SCHEMA_OID,
    LANGUAGES,
    OPERATOR_CLASSES,
    RELATION_OIDS,
    RELATIONS,
    SETTINGS,
    TABLESPACES,
    TYPES,
)
from headwater.serve.pgwire.catalog_source import ServedColumn, ServedTable
from headwater.serve.pgwire.catalog_types import PgType, builtin, catalog_arrow_type

if TYPE_CHECKING:
    import pyarrow as pa

PG_CATALOG_OID = 11
PG_TOAST_OID = 99
OWNER_OID = 10
"""The role that owns every table: `headwater` (PostgreSQL's bootstrap superuser's oid)."""
OWNER = "headwater"
PG_CLASS_OID = RELATION_OIDS["pg_catalog.pg_class"][0]
BTREE = 403
HEAP = 2
DEFAULT_COLLATION = 100
DEFAULT_TABLESPACE = 1663
UTF8 = 6
FIRST_OID = 16384
"""PostgreSQL's first oid for objects a user creates."""
_OID_SPACE = 2**31 - FIRST_OID - 1

_DOMAINS = {
    "cardinal_number": "int4",
    "character_data": "varchar",
    "sql_identifier": "name",
    "time_stamp": "timestamptz",
    "yes_or_no": "varchar",
}
"""information_schema's domains, by the built-in type they are over."""
_TEXT_TYPES = {"text", "varchar", "bpchar", "name", "char", "_text", "_varchar", "_name"}


def stable_oid(kind: str, *parts: str) -> int:
    """The oid Headwater gives an object of `kind` named by `parts` (a namespace `n`, a table
    `r`, an index `i`, a constraint `c`, a role `u`, a database `d`): the same in every
    connection and server."""
    key = "\x1f".join((kind, *parts)).encode()
    return FIRST_OID + zlib.crc32(key) % _OID_SPACE


def relation_oid(namespace: str, name: str) -> int:
    """The oid of the table `namespace.name` in `pg_class` (what a RowDescription may name as
    a column's table)."""
    return stable_oid("r", namespace, name)


@dataclass(frozen=True)
class Session:
    """Who is connected, to what: what the session functions of the catalog answer."""

    database: str
    user: str
    version: str
    """`version()`'s answer."""
    server_version: str
    """`server_version` (`15.0`)."""
    statement_timeout_ms: int = 0


@dataclass
class _Oids:
    """Gives each object its stable oid, moving one whose oid is taken to the next free."""

    taken: set[int] = field(default_factory=set)

    def give(self, kind: str, *parts: str) -> int:
        oid = stable_oid(kind, *parts)
        while oid in self.taken:
            oid = FIRST_OID + (oid - FIRST_OID + 1) % _OID_SPACE
        self.taken.add(oid)
        return oid


@dataclass
class Catalog:
    """The catalog of one session: every relation's rows, and what the functions of the
    catalog look up (visibility, index and constraint definitions)."""

    session: Session
    search_path: tuple[str, ...]
    tables: dict[str, pa.Table]
    """Each relation's rows by `schema.name`; a relation not here has none."""
    visible: frozenset[int]
    """Oids of the relations an unqualified name reaches."""
    definitions: list[tuple[int, int, str]]
    """(oid, column, definition) for `pg_get_indexdef` (column 0: the whole index) and
    `pg_get_constraintdef` (column 0)."""


def build_catalog(served: Sequence[ServedTable], session: Session) -> Catalog:
    """The catalog rows describing `served` (the principal's tables) in `session`."""
    oids = _Oids(set(_builtin_oids()))
    namespaces = sorted({t.namespace for t in served})
    namespace_oid = {ns: oids.give("n", ns) for ns in namespaces}
    namespace_oid["pg_catalog"] = PG_CATALOG_OID
    namespace_oid["information_schema"] = INFORMATION_SCHEMA_OID
    namespace_oid["pg_toast"] = PG_TOAST_OID
    user_oid = OWNER_OID if session.user == OWNER else oids.give("u", session.user)
    rows = _Rows()
    rows.add("pg_catalog.pg_namespace", _namespace_rows(namespace_oid, session))
    definitions: list[tuple[int, int, str]] = []
    names: dict[str, int] = {}
    for table in served:
        names[table.name] = names.get(table.name, 0) + 1
    visible = set(_catalog_relation_oids())
    for table in sorted(served, key=lambda t: (t.namespace, t.name)):
        oid = oids.give("r", table.namespace, table.name)
        if names[table.name] == 1:
            visible.add(oid)
        _table_rows(rows, table, oid, namespace_oid[table.namespace], session, user_oid)
        if table.primary_key:
            index = oids.give("i", table.namespace, table.name)
            constraint = oids.give("c", table.namespace, table.name)
            definitions += _key_rows(
                rows, table, (oid, index, constraint), namespace_oid, session, oid in visible
            )
    rows.add("pg_catalog.pg_database", [_database_row(session, oids.give("d", session.database))])
    rows.add("pg_catalog.pg_roles", _role_rows(session.user, user_oid))
    rows.add("pg_catalog.pg_user", _user_rows(session.user, user_oid))
    rows.add("pg_catalog.pg_settings", _setting_rows(session, namespaces))
    rows.add(
        "information_schema.schemata",
        [
            {"catalog_name": session.database, "schema_name": ns, "schema_owner": OWNER}
            for ns in sorted(namespace_oid)
        ],
    )
    for name, table in _static_tables(session.database).items():
        rows.add_table(name, table)
    return Catalog(
        session=session,
        search_path=tuple(namespaces),
        tables=rows.tables(),
        visible=frozenset(visible),
        definitions=definitions,
    )


class _Rows:
    """Rows by relation, turned into Arrow tables with the relation's PostgreSQL columns."""

    def __init__(self) -> None:
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._tables: dict[str, list[pa.Table]] = {}

    def add(self, relation: str, rows: Iterable[dict[str, Any]]) -> None:
        self._rows.setdefault(relation, []).extend(rows)

    def add_table(self, relation: str, table: pa.Table) -> None:
        """Add rows already made into an Arrow table of the relation's columns."""
        self._tables.setdefault(relation, []).append(table)

    def tables(self) -> dict[str, pa.Table]:
        import pyarrow as pa

        names = set(self._rows) | set(self._tables)
        return {
            name: pa.concat_tables(
                [arrow_table(name, self._rows.get(name, [])), *self._tables.get(name, [])]
            )
            for name in names
        }


def arrow_table(relation: str, rows: list[dict[str, Any]]) -> pa.Table:
    """`rows` (dicts by column name; a missing column is NULL) as an Arrow table with the
    columns of `relation` (`pg_catalog.pg_class`)."""
    import pyarrow as pa

    columns = relation_columns(relation)
    schema = pa.schema([(name, catalog_arrow_type(kind)) for name, kind in columns])
    return pa.Table.from_pylist(rows, schema=schema)


@functools.cache
def relation_columns(relation: str) -> tuple[tuple[str, str], ...]:
    """The (name, PostgreSQL type) of each column of `relation`, in order."""
    return tuple(
        (part.split(" ", 1)[0], part.split(" ", 1)[1]) for part in RELATIONS[relation].split(", ")
    )


# -- PostgreSQL's own objects -----------------------------------------------------------------


@functools.cache
def _builtin_oids() -> tuple[int, ...]:
    found = [int(str(row[0])) for row in TYPES]
    found += [oid for oid, _ in RELATION_OIDS.values()]
    return tuple(found)


@functools.cache
def _catalog_relation_oids() -> tuple[int, ...]:
    """The relations of pg_catalog, which every search path reaches."""
    return tuple(oid for name, (oid, _) in RELATION_OIDS.items() if name.startswith("pg_catalog."))


def _rows_of(relation: str, data: tuple[tuple[object, ...], ...]) -> list[dict[str, Any]]:
    names = [name for name, _ in relation_columns(relation)]
    return [dict(zip(names, row, strict=True)) for row in data]


@functools.cache
def _static_rows() -> dict[str, list[dict[str, Any]]]:
    """The rows of the catalogs that describe PostgreSQL itself."""
    return {
        "pg_catalog.pg_type": _rows_of("pg_catalog.pg_type", TYPES),
        "pg_catalog.pg_am": _rows_of("pg_catalog.pg_am", ACCESS_METHODS),
        "pg_catalog.pg_collation": _rows_of("pg_catalog.pg_collation", COLLATIONS),
        "pg_catalog.pg_tablespace": _rows_of("pg_catalog.pg_tablespace", TABLESPACES),
        "pg_catalog.pg_language": _rows_of("pg_catalog.pg_language", LANGUAGES),
        "pg_catalog.pg_opclass": _rows_of("pg_catalog.pg_opclass", OPERATOR_CLASSES),
        "pg_catalog.pg_description": _rows_of("pg_catalog.pg_description", DESCRIPTIONS),
    }


@functools.cache
def _default_btree_classes() -> dict[int, int]:
    """The default B-tree operator class of each type, by type oid (what a primary key's
    index uses)."""
    return {
        int(str(row[6])): int(str(row[0]))
        for row in OPERATOR_CLASSES
        if row[1] == BTREE and row[7] is True
    }


def catalog_column_type(pg_name: str) -> PgType:
    """The built-in type a catalog column of type `pg_name` has in `pg_attribute` (an
    information_schema domain counts as the type it is over)."""
    name = _DOMAINS.get(pg_name, pg_name)
    try:
        return builtin(name)
    except KeyError:
        return builtin("text")


@functools.lru_cache(maxsize=8)
def _static_tables(database: str) -> dict[str, pa.Table]:
    """The rows that are the same in every session of `database`: PostgreSQL's own objects
    and the catalog's relations, made into Arrow tables once."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, rows in _static_rows().items():
        found.setdefault(name, []).extend(rows)
    for name, rows in _catalog_relation_rows(database).items():
        found.setdefault(name, []).extend(rows)
    return {name: arrow_table(name, rows) for name, rows in found.items()}


def _catalog_relation_rows(database: str) -> dict[str, list[dict[str, Any]]]:
    """pg_class, pg_attribute, pg_tables/pg_views and information_schema rows of the
    catalog's own relations."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for relation, (oid, kind) in RELATION_OIDS.items():
        schema, name = relation.split(".")
        namespace = PG_CATALOG_OID if schema == "pg_catalog" else INFORMATION_SCHEMA_OID
        columns = [
            ServedColumn(column, catalog_column_type(kind_), True)
            for column, kind_ in relation_columns(relation)
        ]
        table = ServedTable(schema, name, kind == "v", tuple(columns))
        for target, found in _relation_rows(table, oid, namespace, database, OWNER).items():
            rows.setdefault(target, []).extend(found)
    return rows


# -- the principal's tables -------------------------------------------------------------------


def _namespace_rows(namespace_oid: dict[str, int], session: Session) -> list[dict[str, Any]]:
    def acl(name: str, oid: int) -> list[str] | None:
        if oid == PG_TOAST_OID:
            return None
        if oid in (PG_CATALOG_OID, INFORMATION_SCHEMA_OID):
            return [f"{OWNER}=UC/{OWNER}", f"=U/{OWNER}"]
        return list(dict.fromkeys([f"{OWNER}=UC/{OWNER}", f"{session.user}=U/{OWNER}"]))

    return [
        {"oid": oid, "nspname": name, "nspowner": OWNER_OID, "nspacl": acl(name, oid)}
        for name, oid in sorted(namespace_oid.items(), key=lambda item: item[1])
    ]


def _table_rows(
    rows: _Rows,
    table: ServedTable,
    oid: int,
    namespace: int,
    session: Session,
    user_oid: int,
) -> None:
    grants = list(dict.fromkeys([f"{OWNER}=r/{OWNER}", f"{session.user}=r/{OWNER}"]))
    for target, found in _relation_rows(table, oid, namespace, session.database, OWNER).items():
        if target == "pg_catalog.pg_class":
            # the owner reads it and grants reading it to the session's user (JDBC's
            # getTablePrivileges reads the ACL)
            rows.add(target, [{**row, "relacl": grants} for row in found])
        else:
            rows.add(target, found)
    if table.description:
        rows.add(
            "pg_catalog.pg_description",
            [
                {
                    "objoid": oid,
                    "classoid": PG_CLASS_OID,
                    "objsubid": 0,
                    "description": table.description,
                }
            ],
        )
    rows.add(
        "pg_catalog.pg_description",
        [
            {"objoid": oid, "classoid": PG_CLASS_OID, "objsubid": n, "description": c.description}
            for n, c in enumerate(table.columns, start=1)
            if c.description
        ],
    )
    rows.add(
        "information_schema.table_privileges",
        [
            {
                "grantor": OWNER,
                "grantee": session.user,
                "table_catalog": session.database,
                "table_schema": table.namespace,
                "table_name": table.name,
                "privilege_type": "SELECT",
                "is_grantable": "NO",
                "with_hierarchy": "YES",
            }
        ],
    )


def _relation_rows(
    table: ServedTable, oid: int, namespace: int, database: str, owner: str
) -> dict[str, list[dict[str, Any]]]:
    """pg_class, pg_attribute, pg_tables or pg_views, and information_schema tables, views
    and columns rows of one relation."""
    kind = "v" if table.view else "r"
    found: dict[str, list[dict[str, Any]]] = {
        "pg_catalog.pg_class": [
            {
                "oid": oid,
                "relname": table.name,
                "relnamespace": namespace,
                "reltype": 0,
                "reloftype": 0,
                "relowner": OWNER_OID,
                "relam": 0 if table.view else HEAP,
                "relfilenode": 0 if table.view else oid,
                "reltablespace": 0,
                "relpages": 0,
                "reltuples": -1.0,
                "relallvisible": 0,
                "reltoastrelid": 0,
                "relhasindex": bool(table.primary_key),
                "relisshared": False,
                "relpersistence": "p",
                "relkind": kind,
                "relnatts": len(table.columns),
                "relchecks": 0,
                "relhasrules": table.view,
                "relhastriggers": False,
                "relhassubclass": False,
                "relrowsecurity": False,
                "relforcerowsecurity": False,
                "relispopulated": True,
                "relreplident": "n" if table.view else "d",
                "relispartition": False,
                "relrewrite": 0,
                "relfrozenxid": 0,
                "relminmxid": 0,
            }
        ],
        "pg_catalog.pg_attribute": [
            *(_attribute_row(oid, position, column) for position, column in _system(table)),
            *(_attribute_row(oid, n, column) for n, column in enumerate(table.columns, 1)),
        ],
        "information_schema.tables": [
            {
                "table_catalog": database,
                "table_schema": table.namespace,
                "table_name": table.name,
                "table_type": "VIEW" if table.view else "BASE TABLE",
                "is_insertable_into": "NO",
                "is_typed": "NO",
            }
        ],
        "information_schema.columns": [
            _column_row(database, table, position, column)
            for position, column in enumerate(table.columns, 1)
        ],
    }
    if table.view:
        found["pg_catalog.pg_views"] = [
            {"schemaname": table.namespace, "viewname": table.name, "viewowner": owner}
        ]
        found["information_schema.views"] = [
            {
                "table_catalog": database,
                "table_schema": table.namespace,
                "table_name": table.name,
                "check_option": "NONE",
                "is_updatable": "NO",
                "is_insertable_into": "NO",
                "is_trigger_updatable": "NO",
                "is_trigger_deletable": "NO",
                "is_trigger_insertable_into": "NO",
            }
        ]
    else:
        found["pg_catalog.pg_tables"] = [
            {
                "schemaname": table.namespace,
                "tablename": table.name,
                "tableowner": owner,
                "hasindexes": bool(table.primary_key),
                "hasrules": False,
                "hastriggers": False,
                "rowsecurity": False,
            }
        ]
    return found


_SYSTEM_COLUMNS = (
    ("tableoid", "oid", -6),
    ("cmax", "cid", -5),
    ("xmax", "xid", -4),
    ("cmin", "cid", -3),
    ("xmin", "xid", -2),
    ("ctid", "tid", -1),
)
"""The system columns every PostgreSQL table has (attnum < 0), which clients skip."""


def _system(table: ServedTable) -> list[tuple[int, ServedColumn]]:
    if table.view:
        return []
    return [(n, ServedColumn(name, builtin(kind), False)) for name, kind, n in _SYSTEM_COLUMNS]


@functools.cache
def _type_rows() -> dict[int, dict[str, Any]]:
    return {int(row["oid"]): row for row in _static_rows()["pg_catalog.pg_type"]}


def _attribute_row(relation: int, position: int, column: ServedColumn) -> dict[str, Any]:
    kind = _type_rows().get(column.type.oid, {})
    return {
        "attrelid": relation,
        "attname": column.name,
        "atttypid": column.type.oid,
        "attstattarget": -1 if position > 0 else 0,
        "attlen": kind.get("typlen", -1),
        "attnum": position,
        "attndims": 1 if column.type.name.startswith("_") else 0,
        "attcacheoff": -1,
        "atttypmod": column.type.typmod,
        "attbyval": kind.get("typbyval", False),
        "attalign": kind.get("typalign", "i"),
        "attstorage": kind.get("typstorage", "x"),
        "attcompression": "",
        "attnotnull": not column.nullable,
        "atthasdef": False,
        "atthasmissing": False,
        "attidentity": "",
        "attgenerated": "",
        "attisdropped": False,
        "attislocal": True,
        "attinhcount": 0,
        "attcollation": DEFAULT_COLLATION if column.type.name in _TEXT_TYPES else 0,
    }


_SQL_NAMES = {
    "bool": "boolean",
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "varchar": "character varying",
    "bpchar": "character",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
}
"""information_schema's `data_type` of a built-in type, where it is not the type's name."""
_BINARY_PRECISION = {"int2": 16, "int4": 32, "int8": 64, "float4": 24, "float8": 53}
_DATETIME = {"date": 0, "time": 6, "timetz": 6, "timestamp": 6, "timestamptz": 6, "interval": 6}


def _column_row(
    database: str, table: ServedTable, position: int, column: ServedColumn
) -> dict[str, Any]:
    kind = column.type
    row: dict[str, Any] = {
        "table_catalog": database,
        "table_schema": table.namespace,
        "table_name": table.name,
        "column_name": column.name,
        "ordinal_position": position,
        "is_nullable": "YES" if column.nullable else "NO",
        "data_type": "ARRAY" if kind.name.startswith("_") else _SQL_NAMES.get(kind.name, kind.name),
        "udt_catalog": database,
        "udt_schema": "pg_catalog",
        "udt_name": kind.name,
        "dtd_identifier": str(position),
        "is_self_referencing": "NO",
        "is_identity": "NO",
        "identity_cycle": "NO",
        "is_generated": "NEVER",
        "is_updatable": "NO",
    }
    if kind.name in ("text", "varchar", "bpchar"):
        row["character_octet_length"] = 1073741824
    if kind.name in _BINARY_PRECISION:
        row["numeric_precision"] = _BINARY_PRECISION[kind.name]
        row["numeric_precision_radix"] = 2
        row["numeric_scale"] = 0 if kind.name.startswith("int") else None
    if kind.name == "numeric":
        row["numeric_precision_radix"] = 10
        if kind.precision_scale is not None:
            row["numeric_precision"], row["numeric_scale"] = kind.precision_scale
    if kind.name in _DATETIME:
        row["datetime_precision"] = _DATETIME[kind.name]
    if kind.name in _TEXT_TYPES and not kind.name.startswith("_"):
        row["collation_catalog"] = None
    return row


def _key_rows(
    rows: _Rows,
    table: ServedTable,
    oids: tuple[int, int, int],
    namespace_oid: dict[str, int],
    session: Session,
    visible: bool,
) -> list[tuple[int, int, str]]:
    """The primary key of `table` (oids of the table, its index, its constraint): its index
    and constraint rows; returns the definitions `pg_get_indexdef` and
    `pg_get_constraintdef` answer for them (the table named as the search path reaches it,
    as PostgreSQL names it)."""
    from sqlglot import exp

    relation, index, constraint = oids
    positions = {c.name: n for n, c in enumerate(table.columns, start=1)}
    keys = [positions[k] for k in table.primary_key]
    name = f"{table.name}_pkey"
    namespace = namespace_oid[table.namespace]
    by_name = {c.name: c for c in table.columns}
    key_columns = [by_name[k] for k in table.primary_key]
    index_table = ServedTable(table.namespace, name, False, tuple(key_columns))
    index_rows = _relation_rows(index_table, index, namespace, session.database, OWNER)
    index_class = index_rows["pg_catalog.pg_class"][0]
    # a fresh B-tree index in PostgreSQL: one page, no tuples counted yet
    index_class.update(
        relkind="i",
        relam=BTREE,
        relhasindex=False,
        relnatts=len(keys),
        relpages=1,
        reltuples=0.0,
    )
    rows.add("pg_catalog.pg_class", [index_class])
    rows.add("pg_catalog.pg_attribute", index_rows["pg_catalog.pg_attribute"])
    rows.add(
        "pg_catalog.pg_index",
        [
            {
                "indexrelid": index,
                "indrelid": relation,
                "indnatts": len(keys),
                "indnkeyatts": len(keys),
                "indisunique": True,
                "indnullsnotdistinct": False,
                "indisprimary": True,
                "indisexclusion": False,
                "indimmediate": True,
                "indisclustered": False,
                "indisvalid": True,
                "indcheckxmin": False,
                "indisready": True,
                "indislive": True,
                "indisreplident": False,
                "indkey": keys,
                "indcollation": [0] * len(keys),
                "indclass": [_default_btree_classes().get(c.type.oid, 0) for c in key_columns],
                "indoption": [0] * len(keys),
            }
        ],
    )
    rows.add(
        "pg_catalog.pg_constraint",
        [
            {
                "oid": constraint,
                "conname": name,
                "connamespace": namespace,
                "contype": "p",
                "condeferrable": False,
                "condeferred": False,
                "convalidated": True,
                "conrelid": relation,
                "contypid": 0,
                "conindid": index,
                "conparentid": 0,
                "confrelid": 0,
                "confupdtype": " ",
                "confdeltype": " ",
                "confmatchtype": " ",
                "conislocal": True,
                "coninhcount": 0,
                "connoinherit": True,
                "conkey": keys,
            }
        ],
    )
    rows.add(
        "pg_catalog.pg_indexes",
        [
            {
                "schemaname": table.namespace,
                "tablename": table.name,
                "indexname": name,
                "indexdef": None,
            }
        ],
    )
    base = {
        "constraint_catalog": session.database,
        "constraint_schema": table.namespace,
        "constraint_name": name,
        "table_catalog": session.database,
        "table_schema": table.namespace,
        "table_name": table.name,
    }
    rows.add(
        "information_schema.table_constraints",
        [
            {
                **base,
                "constraint_type": "PRIMARY KEY",
                "is_deferrable": "NO",
                "initially_deferred": "NO",
                "enforced": "YES",
            }
        ],
    )
    rows.add(
        "information_schema.key_column_usage",
        [
            {**base, "column_name": column, "ordinal_position": n}
            for n, column in enumerate(table.primary_key, start=1)
        ],
    )
    quoted = [exp.to_identifier(k).sql("postgres") for k in table.primary_key]
    qualified = exp.table_(table.name, db=None if visible else table.namespace).sql("postgres")
    index_sql = (
        f"CREATE UNIQUE INDEX {exp.to_identifier(name).sql('postgres')} ON {qualified} "
        f"USING btree ({', '.join(quoted)})"
    )
    for row in rows._rows["pg_catalog.pg_indexes"][-1:]:
        row["indexdef"] = index_sql
    return [
        (index, 0, index_sql),
        *((index, n, q) for n, q in enumerate(quoted, start=1)),
        (constraint, 0, f"PRIMARY KEY ({', '.join(quoted)})"),
    ]


def _database_row(session: Session, oid: int) -> dict[str, Any]:
    return {
        "oid": oid,
        "datname": session.database,
        "datdba": OWNER_OID,
        "encoding": UTF8,
        "datlocprovider": "c",
        "datistemplate": False,
        "datallowconn": True,
        "datconnlimit": -1,
        "datfrozenxid": 0,
        "datminmxid": 0,
        "dattablespace": DEFAULT_TABLESPACE,
        "datcollate": "C.UTF-8",
        "datctype": "C.UTF-8",
    }


def _role_rows(user: str, user_oid: int) -> list[dict[str, Any]]:
    roles = [(OWNER, OWNER_OID, False)]
    if user_oid != OWNER_OID:
        roles.append((user, user_oid, True))
    return [
        {
            "rolname": name,
            "rolsuper": False,
            "rolinherit": True,
            "rolcreaterole": False,
            "rolcreatedb": False,
            "rolcanlogin": login,
            "rolreplication": False,
            "rolconnlimit": -1,
            "rolpassword": "********",
            "rolbypassrls": False,
            "oid": oid,
        }
        for name, oid, login in roles
    ]


def _user_rows(user: str, user_oid: int) -> list[dict[str, Any]]:
    return [
        {
            "usename": user,
            "usesysid": user_oid,
            "usecreatedb": False,
            "usesuper": False,
            "userepl": False,
            "usebypassrls": False,
            "passwd": "********",
        }
    ]


def _setting_rows(session: Session, namespaces: list[str]) -> list[dict[str, Any]]:
    """pg_settings: PostgreSQL's description of each setting Headwater reports, with
    Headwater's values."""
    from sqlglot import exp

    path = ", ".join(['"$user"', *(exp.to_identifier(ns).sql("postgres") for ns in namespaces)])
    values = {
        "application_name": "",
        "block_size": "8192",
        "bytea_output": "hex",
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
        "default_table_access_method": "heap",
        "default_transaction_isolation": "read committed",
        "default_transaction_read_only": "on",
        "extra_float_digits": "1",
        "idle_in_transaction_session_timeout": "0",
        "integer_datetimes": "on",
        "IntervalStyle": "postgres",
        "is_superuser": "off",
        "lc_collate": "C.UTF-8",
        "lc_ctype": "C.UTF-8",
        "lock_timeout": "0",
        "max_connections": "100",
        "max_identifier_length": "63",
        "max_index_keys": "32",
        "row_security": "on",
        "search_path": path,
        "server_encoding": "UTF8",
        "server_version": session.server_version,
        "server_version_num": _version_num(session.server_version),
        "session_authorization": session.user,
        "ssl": "off",
        "standard_conforming_strings": "on",
        "statement_timeout": str(session.statement_timeout_ms),
        "TimeZone": "UTC",
        "transaction_isolation": "read committed",
        "transaction_read_only": "on",
    }
    found = []
    for row in _rows_of("pg_catalog.pg_settings", SETTINGS):
        value = values.get(str(row["name"]))
        if value is None:
            continue  # one that depends on the server it was read from (its port)
        found.append(
            {
                **row,
                "setting": value,
                "reset_val": value,
                "source": "default",
                "sourcefile": None,
                "sourceline": None,
            }
        )
    return found


def _version_num(version: str) -> str:
    major, _, minor = version.partition(".")
    return str(int(major) * 10000 + int(minor or 0))
