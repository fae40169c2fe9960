"""PostgreSQL's catalog answered from Headwater's (`serve/pgwire/catalog*.py`), tested on a
real built project through `CatalogQueries`, as the protocol server calls it.

What BI tools and drivers send when they connect and browse was captured from a real
PostgreSQL 15 with `log_statement=all` while SQLAlchemy 2 (psycopg), the PostgreSQL JDBC
driver 42.5 (DatabaseMetaData) and psql 15 (`\\dt`, `\\d`, `\\dn`, `\\l`) ran against it; DBeaver's
and Metabase's queries are taken from their source. Each captured query runs here twice: on
Headwater's catalog, and on a real PostgreSQL 15 holding the same tables (same columns, types,
key, comments, owner and grants); the answers must be the same, oids aside.
"""

# ruff: noqa: E501 - the captured queries are kept exactly as the clients sent them
from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headwater import Project
from headwater.errors import UsageError
from headwater.orchestrate.principals import principal_of
from headwater.query.parameters import TypedText
from headwater.serve.pgwire.catalog import (
    CatalogQueries,
    is_catalog_query,
)
from headwater.serve.pgwire.catalog_pg15 import RELATION_OIDS, RELATIONS, TYPES
from headwater.serve.pgwire.catalog_rows import FIRST_OID
from headwater.serve.service import ServeService
from headwater.ui.pages import Workspace
from tests.conftest import write_files
from tests.support.postgres import PostgresServer

SHOP_SERVE = """
serve:
  roles:
    analyst:
      read: ["marts.*"]
    finance:
      read: ["finance.*"]
"""
SHOP_FILES = {
    "models/marts/orders.sql": """
select * from (values
  (1::bigint, 21168.23::decimal(12,2), date '2024-01-02', timestamp '2024-01-02 03:04:05.123456',
   timestamptz '2024-01-02 03:04:05.5+00', true, 'ann', 1.5::double, 7::integer,
   ['a', 'b c']::varchar[], 3::smallint),
  (2::bigint, (-0.05)::decimal(12,2), NULL::date, NULL::timestamp, NULL::timestamptz, false,
   NULL, NULL::double, NULL::integer, NULL::varchar[], NULL::smallint),
  (3::bigint, 0.10::decimal(12,2), date '1999-12-31', timestamp '1999-12-31 23:59:59',
   timestamptz '2000-06-30 22:00:00+00', NULL, 'zoë "q"', (-2.25)::double, (-1)::integer,
   ['x', NULL]::varchar[], (-32768)::smallint)
) as t(id, amount, placed, placed_at, paid_at, shipped, customer, weight, quantity, tags,
       priority)
""",
    "models/marts/orders.yml": (
        "description: One row per order\n"
        "unique_key: id\n"
        "columns:\n"
        "  - name: amount\n"
        "    description: Total in EUR\n"
    ),
    "models/marts/customers.sql": "select 1::bigint as id, 'ann' as name",
    "models/marts/big_orders.sql": "select id, amount from marts.orders where amount > 100",
    "models/marts/big_orders.yml": "materialized: view\n",
    "models/finance/ledger.sql": "select 1::integer as entry, 99.5::decimal(10,1) as balance",
}
"""A small shop: three tables and a view analysts read, a ledger only finance reads, and a
column of every type BI tools show."""
ORDERS_COLUMNS = [
    # name, format_type, udt_name, data_type, numeric precision, scale, nullable
    ("id", "bigint", "int8", "bigint", 64, 0, "NO"),
    ("amount", "numeric(12,2)", "numeric", "numeric", 12, 2, "YES"),
    ("placed", "date", "date", "date", None, None, "YES"),
    ("placed_at", "timestamp without time zone", "timestamp", "timestamp without time zone",
     None, None, "YES"),
    ("paid_at", "timestamp with time zone", "timestamptz", "timestamp with time zone",
     None, None, "YES"),
    ("shipped", "boolean", "bool", "boolean", None, None, "YES"),
    ("customer", "text", "text", "text", None, None, "YES"),
    ("weight", "double precision", "float8", "double precision", 53, None, "YES"),
    ("quantity", "integer", "int4", "integer", 32, 0, "YES"),
    ("tags", "text[]", "_text", "ARRAY", None, None, "YES"),
    ("priority", "smallint", "int2", "smallint", 16, 0, "YES"),
]  # fmt: skip
"""The PostgreSQL description of marts.orders' columns."""
PG_MIRROR = """
CREATE SCHEMA marts AUTHORIZATION headwater;
CREATE TABLE marts.orders (
    id bigint NOT NULL, amount numeric(12,2), placed date, placed_at timestamp,
    paid_at timestamptz, shipped boolean, customer text, weight double precision,
    quantity integer, tags text[], priority smallint, CONSTRAINT orders_pkey PRIMARY KEY (id));
COMMENT ON TABLE marts.orders IS 'One row per order';
COMMENT ON COLUMN marts.orders.amount IS 'Total in EUR';
CREATE TABLE marts.customers (id bigint, name text);
CREATE VIEW marts.big_orders AS SELECT id, amount FROM marts.orders WHERE amount > 100;
ALTER TABLE marts.orders OWNER TO headwater;
ALTER TABLE marts.customers OWNER TO headwater;
ALTER VIEW marts.big_orders OWNER TO headwater;
REVOKE ALL ON marts.orders, marts.customers, marts.big_orders FROM headwater;
GRANT SELECT ON marts.orders, marts.customers, marts.big_orders TO headwater;
GRANT SELECT ON marts.orders, marts.customers, marts.big_orders TO ana;
GRANT USAGE ON SCHEMA marts TO ana;
DROP SCHEMA public;
"""
"""What the analyst sees of the shop, as a real PostgreSQL database: the tables with their
columns, key and comments, owned by `headwater`, readable by `ana`."""


def build_shop(root: Path) -> Project:
    """Write and build the shop project in `root` and return it (open)."""
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, {"headwater.yml": f"name: shop\nthreads: 2\n{SHOP_SERVE}", **SHOP_FILES})
    project = Project(root)
    assert project.run().status == "success"
    return project


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = build_shop(tmp_path_factory.mktemp("shop") / "shop")
    yield project
    project.close()


@pytest.fixture(scope="module")
def service(shop: Project) -> Iterator[ServeService]:
    service = ServeService(Workspace(shop))
    yield service
    service.close()


def catalog(
    service: ServeService, *roles: str, user: str = "ana", database: str = "headwater"
) -> CatalogQueries:
    """The catalog queries of a session of `user` with `roles`."""
    principal = principal_of(service.project.definition, user, roles)
    return CatalogQueries(service, principal, database, user)


def rows(queries: CatalogQueries, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return queries.run(sql, list(params)).to_pylist()


def column(queries: CatalogQueries, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    table = queries.run(sql, list(params))
    return table.column(0).to_pylist()


def test_session_functions_answer_as_postgresql_does(service: ServeService) -> None:
    queries = catalog(service, "analyst")
    found = rows(
        queries,
        "select version(), pg_catalog.version() as v, current_schema(), current_schema, "
        "current_schemas(true) as implicit, current_schemas(false), current_database(), "
        "current_user, "
        "session_user, user, current_catalog",
    )
    assert found == [
        {
            "version": "PostgreSQL 15.0 (Headwater 0.1.0) on x86_64-pc-linux-gnu, compiled by "
            "Headwater, 64-bit",
            "v": "PostgreSQL 15.0 (Headwater 0.1.0) on x86_64-pc-linux-gnu, compiled by "
            "Headwater, 64-bit",
            "current_schema": "marts",
            "implicit": ["pg_catalog", "marts"],
            "current_schemas": ["marts"],
            "current_database": "headwater",
            "current_user": "ana",
            "session_user": "ana",
            "user": "ana",
            "current_catalog": "headwater",
        }
    ]
    names = queries.run("select current_schema, current_schemas(false)", []).column_names
    assert names == ["current_schema", "current_schemas"]
    pid = column(queries, "select pg_backend_pid()")
    assert isinstance(pid[0], int) and pid[0] > 0
    assert rows(queries, "select current_setting('server_version') as v, "
                "current_setting('standard_conforming_strings') as s, "
                "current_setting('memory_limit', true) as duckdb") == [
        {"v": "15.0", "s": "on", "duckdb": None}  # PostgreSQL's settings, not DuckDB's
    ]  # fmt: skip


def test_a_role_sees_only_its_tables(service: ServeService) -> None:
    analyst = catalog(service, "analyst")
    user_relations = (
        "select n.nspname || '.' || c.relname as name, c.relkind from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname not in ('pg_catalog', 'information_schema') order by 1"
    )
    assert rows(analyst, user_relations) == [
        {"name": "marts.big_orders", "relkind": "v"},
        {"name": "marts.customers", "relkind": "r"},
        {"name": "marts.orders", "relkind": "r"},
        {"name": "marts.orders_pkey", "relkind": "i"},
    ]
    user_tables = (
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2"
    )
    assert [tuple(r.values()) for r in rows(analyst, user_tables)] == [
        ("marts", "big_orders", "VIEW"),
        ("marts", "customers", "BASE TABLE"),
        ("marts", "orders", "BASE TABLE"),
    ]
    assert column(
        analyst,
        "select distinct table_schema || '.' || table_name from information_schema.columns "
        "where table_schema not in ('pg_catalog', 'information_schema') order by 1",
    ) == ["marts.big_orders", "marts.customers", "marts.orders"]
    assert column(analyst, "select nspname from pg_namespace order by 1") == [
        "information_schema",
        "marts",
        "pg_catalog",
        "pg_toast",
    ]
    # the ledger does not exist for the analyst, however it is named
    with pytest.raises(UsageError, match=r'relation "finance\.ledger" does not exist'):
        analyst.run("select 'finance.ledger'::regclass", [])
    assert rows(
        analyst,
        "select to_regclass('finance.ledger') as r, "
        "has_table_privilege('finance.ledger', 'select') as p, "
        "has_table_privilege('marts.orders', 'select') as q, "
        "has_table_privilege('marts.orders', 'insert') as w",
    ) == [{"r": None, "p": None, "q": True, "w": False}]
    assert column(analyst, "select count(*) from pg_attribute where attname = 'balance'") == [0]
    # finance reads only the ledger; admin reads everything
    finance = catalog(service, "finance", user="fin")
    assert [tuple(r.values()) for r in rows(finance, user_tables)] == [
        ("finance", "ledger", "BASE TABLE")
    ]
    admin = catalog(service, "admin", user="root")
    assert [r["table_name"] for r in rows(admin, user_tables)] == [
        "ledger",
        "big_orders",
        "customers",
        "orders",
    ]


def test_column_types_are_postgresqls(service: ServeService) -> None:
    queries = catalog(service, "analyst")
    found = rows(
        queries,
        "select a.attname, format_type(a.atttypid, a.atttypmod) as type, t.typname, "
        "c.data_type, c.numeric_precision, c.numeric_scale, c.is_nullable "
        "from pg_attribute a join pg_type t on t.oid = a.atttypid "
        "join information_schema.columns c on c.table_schema = 'marts' "
        "and c.table_name = 'orders' and c.column_name = a.attname "
        "where a.attrelid = 'marts.orders'::regclass and a.attnum > 0 order by a.attnum",
    )
    assert [tuple(r.values()) for r in found] == ORDERS_COLUMNS
    # the oids and modifiers a RowDescription of the table's columns carries
    assert rows(
        queries,
        "select atttypid, atttypmod from pg_attribute where attrelid = 'marts.orders'::regclass "
        "and attname in ('amount', 'paid_at', 'tags') order by attnum",
    ) == [
        {"atttypid": 1700, "atttypmod": (12 << 16 | 2) + 4},
        {"atttypid": 1184, "atttypmod": -1},
        {"atttypid": 1009, "atttypmod": -1},
    ]
    described = rows(
        queries,
        "select obj_description('marts.orders'::regclass, 'pg_class') as t, "
        "col_description('marts.orders'::regclass, 2) as c, "
        "pg_get_indexdef('marts.orders_pkey'::regclass) as i, "
        "pg_get_constraintdef(k.oid) as k from pg_constraint k where k.contype = 'p'",
    )
    assert described == [
        {
            "t": "One row per order",
            "c": "Total in EUR",
            # the table is on the search path: named as PostgreSQL names it then
            "i": "CREATE UNIQUE INDEX orders_pkey ON orders USING btree (id)",
            "k": "PRIMARY KEY (id)",
        }
    ]


def test_the_columns_of_the_catalog_are_postgresqls(service: ServeService) -> None:
    queries = catalog(service, "analyst")
    result = queries.run("select * from pg_class where relname = 'orders'", [])
    assert result.column_names == [
        c.split(" ")[0] for c in RELATIONS["pg_catalog.pg_class"].split(", ")
    ]
    assert str(result.schema.field("oid").type) == "int32"
    assert str(result.schema.field("relname").type) == "string"
    names = queries.run(
        "select 1, null, 'a'::text, 1::int, c.relname, count(*), "
        "case when true then 1 end, array[1], exists(select 1), "
        "(select relname from pg_class limit 1), coalesce(null, 1), "
        "nullif(1, 2), c.oid::regclass, 't'::bool "
        "from pg_class c group by c.relname, c.oid limit 1",
        [],
    ).column_names
    assert names == ["?column?", "?column?", "text", "int4", "relname", "count", "case",
                     "array", "exists", "relname", "coalesce", "nullif", "oid", "bool"]  # fmt: skip


def test_the_catalog_is_postgresql_15s(postgres_server: PostgresServer) -> None:
    """The columns of every relation and the built-in types are those of a real
    PostgreSQL 15 (catalog_pg15.py was generated from one)."""
    with psycopg.connect(postgres_server.dsn()) as connection:
        found = connection.execute(
            "select n.nspname || '.' || c.relname, string_agg(a.attname || ' ' || t.typname, "
            "', ' order by a.attnum), c.oid, c.relkind from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "join pg_attribute a on a.attrelid = c.oid join pg_type t on t.oid = a.atttypid "
            "where n.nspname in ('pg_catalog', 'information_schema') and c.relkind in ('r', 'v') "
            "and a.attnum > 0 and not a.attisdropped group by 1, 3, 4"
        ).fetchall()
        types = connection.execute(
            "select oid, typname, typlen, typtype, typcategory, typelem, typarray "
            "from pg_type t where typnamespace = 11 and typrelid = 0 and typtype in ('b', 'p') "
            "and (typelem = 0 or typelem in (select oid from pg_type where typnamespace = 11 "
            "and typrelid = 0 and typtype in ('b', 'p')))"
        ).fetchall()
    assert {name: columns for name, columns, _, _ in found} == RELATIONS
    assert {name: (oid, kind) for name, _, oid, kind in found} == RELATION_OIDS
    assert sorted(types) == sorted(
        (row[0], row[1], row[4], row[6], row[7], row[13], row[14]) for row in TYPES
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select 1", False),
        ("select * from marts.orders where id = $1", False),
        ("select * from t where name = 'pg_class' -- pg_type", False),
        ("select pg_count, version from t", False),
        ("select version()", True),
        ("SELECT pg_catalog.version()", True),
        ("select * from pg_class", True),
        ('select * from "pg_type"', True),
        ("select * from information_schema.tables", True),
        ("select current_user", True),
        ("select 'marts.orders'::regclass", True),
        ("select x::oid from t", True),
        ("select format_type(23, null)", True),
    ],
)
def test_which_queries_read_the_catalog(sql: str, expected: bool) -> None:
    assert is_catalog_query(sql) is expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select * from pg_class; select 1", "2 statements"),
        ("delete from pg_class", "DELETE statement"),
        ("select * from pg_class, marts.orders", "cannot read tables too"),
        ("select * from pg_class where oid in (select id from marts.orders)", "cannot read tables"),
        ("select * from read_csv('/etc/passwd')", "table function read_csv"),
        ("select * from pg_catalog.pg_stat_statements", "does not answer"),
        ("select pg_read_file('/etc/passwd')", "does not answer the function pg_read_file"),
        ("select duckdb_settings() from pg_class", "does not answer the function"),
        ("select 'nope'::regtype", 'type "nope" does not exist'),
        ("select * from duckdb_tables()", "table function duckdb_tables"),
        ("select * from hw.settings", "cannot read tables too"),
        ("select * from hw_pg_catalog.pg_class", "cannot read tables too"),
        ("select * from system.pg_catalog.pg_class", "schema.table only"),
        ("select getenv('HOME') from pg_class", "does not answer the function getenv"),
    ],
)
def test_what_the_catalog_refuses(service: ServeService, sql: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        catalog(service, "analyst").run(sql, [])


def test_parameters_are_bound_as_values(service: ServeService) -> None:
    queries = catalog(service, "analyst")
    sql = "select relname from pg_class where relname = $1 and relkind = $2"
    assert column(queries, sql, ["orders", "r"]) == ["orders"]
    assert column(queries, sql, ["orders' or '1'='1", "r"]) == []
    assert column(queries, sql, [TypedText("orders", "VARCHAR"), "r"]) == ["orders"]
    # described before it is bound: no parameters at all, each one NULL
    assert queries.run(sql, []).column_names == ["relname"]
    with pytest.raises(UsageError, match="2 parameter"):
        queries.run(sql, ["orders"])


def test_catalog_queries_are_recorded_and_limited(shop: Project) -> None:
    from headwater.catalog.query_log import query_log
    from headwater.project.serving import ServeConfig

    config = ServeConfig.model_validate(
        {"roles": {"analyst": {"read": ["marts.*"]}}, "limits": {"max_rows": 2, "timeout": 1}}
    )
    service = ServeService(Workspace(shop), config)
    try:
        queries = catalog(service, "analyst", user="auditor")
        assert len(column(queries, "select relname from pg_class")) == 2
        with pytest.raises(UsageError, match=r"time limit|cancelled"):
            queries.run("select count(*) from generate_series(1, 100000000000) a", [])
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(UsageError, match="cancelled"):
            queries.run(
                "select count(*) from generate_series(1, 100000000000) a", [], cancel=cancel
            )
        service.flush_log()
        logged = query_log(shop.catalog, limit=4, user="auditor")
    finally:
        service.close()
    assert [(r["outcome"], r["interface"], r["row_count"]) for r in logged] == [
        ("timed_out", "postgres", None),
        ("timed_out", "postgres", None),
        ("ok", "postgres", 2),
    ]


# -- what real clients send, answered as PostgreSQL answers it --------------------------------


@dataclass(frozen=True)
class OidOf:
    """A parameter that is the oid of an object, which differs between the two databases:
    the object by its symbol (`rel:orders`, see `_SYMBOLS`)."""

    symbol: str


ORDERS = OidOf("rel:orders")
MARTS = OidOf("nsp:marts")


@dataclass(frozen=True)
class Case:
    """A catalog query a client sent, with its parameters."""

    name: str
    sql: str
    params: list[Any] = field(default_factory=list)
    subset: bool = False
    """Headwater's rows are some of PostgreSQL's (which also describes itself, more of
    itself than Headwater does: its TOAST tables, composite types, other databases)."""
    ignore: tuple[str, ...] = ()
    """Columns whose values differ on purpose (see the comment of the case)."""


CASES = [
    Case(
        "sqlalchemy_schema_names",
        "SELECT pg_catalog.pg_namespace.nspname \n\tFROM pg_catalog.pg_namespace \n\tWHERE (pg_catalog.pg_namespace.nspname NOT LIKE $1::VARCHAR || '%' ESCAPE '/') ORDER BY pg_catalog.pg_namespace.nspname",
        ["pg/_"],
    ),
    Case(
        "sqlalchemy_table_names",
        "SELECT pg_catalog.pg_class.relname \n\tFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$1::VARCHAR, $2::VARCHAR]) AND pg_catalog.pg_class.relpersistence != $3::VARCHAR AND pg_catalog.pg_namespace.nspname = $4::VARCHAR",
        ["r", "p", "t", "marts"],
    ),
    Case(
        "sqlalchemy_visible_table_names",
        "SELECT pg_catalog.pg_class.relname \n\tFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$1::VARCHAR, $2::VARCHAR]) AND pg_catalog.pg_class.relpersistence != $3::VARCHAR AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != $4::VARCHAR",
        ["r", "p", "t", "pg_catalog"],
    ),
    Case(
        "sqlalchemy_view_names",
        "SELECT pg_catalog.pg_class.relname \n\tFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$1::VARCHAR]) AND pg_catalog.pg_class.relpersistence != $2::VARCHAR AND pg_catalog.pg_namespace.nspname = $3::VARCHAR",
        ["v", "t", "marts"],
    ),
    Case(
        "sqlalchemy_columns",
        'SELECT pg_catalog.pg_attribute.attname AS name, pg_catalog.format_type(pg_catalog.pg_attribute.atttypid, pg_catalog.pg_attribute.atttypmod) AS format_type, CASE WHEN pg_catalog.pg_attribute.atthasdef THEN (SELECT pg_catalog.pg_get_expr(pg_catalog.pg_attrdef.adbin, pg_catalog.pg_attrdef.adrelid) AS pg_get_expr_1 \n\tFROM pg_catalog.pg_attrdef \n\tWHERE pg_catalog.pg_attribute.atthasdef AND pg_catalog.pg_attrdef.adrelid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attrdef.adnum = pg_catalog.pg_attribute.attnum) ELSE NULL END AS "default", pg_catalog.pg_attribute.attnotnull AS not_null, pg_catalog.pg_class.relname AS table_name, pg_catalog.pg_description.description AS comment, pg_catalog.pg_attribute.attgenerated AS generated, CASE WHEN (pg_catalog.pg_attribute.attidentity != $1::VARCHAR) THEN (SELECT json_build_object($2::VARCHAR, pg_catalog.pg_attribute.attidentity = $3::VARCHAR, $4::VARCHAR, pg_catalog.pg_sequence.seqstart, $5::VARCHAR, pg_catalog.pg_sequence.seqincrement, $6::VARCHAR, pg_catalog.pg_sequence.seqmin, $7::VARCHAR, pg_catalog.pg_sequence.seqmax, $8::VARCHAR, pg_catalog.pg_sequence.seqcache, $9::VARCHAR, pg_catalog.pg_sequence.seqcycle) AS json_build_object_1 \n\tFROM pg_catalog.pg_sequence \n\tWHERE pg_catalog.pg_attribute.attidentity != $10::VARCHAR AND pg_catalog.pg_sequence.seqrelid = CAST(CAST(pg_catalog.pg_get_serial_sequence(CAST(CAST(pg_catalog.pg_attribute.attrelid AS REGCLASS) AS TEXT), pg_catalog.pg_attribute.attname) AS REGCLASS) AS OID)) ELSE NULL END AS identity_options, CASE WHEN (pg_catalog.pg_attribute.attcollation != $11::INTEGER AND (SELECT pg_catalog.pg_type.typcollation \n\tFROM pg_catalog.pg_type \n\tWHERE pg_catalog.pg_type.oid = pg_catalog.pg_attribute.atttypid) != pg_catalog.pg_attribute.attcollation) THEN (SELECT json_build_object($12::VARCHAR, pg_catalog.pg_collation.collname, $13::VARCHAR, CASE WHEN pg_catalog.pg_collation_is_visible(pg_catalog.pg_collation.oid) THEN NULL ELSE pg_catalog.pg_namespace.nspname END) AS json_build_object_9 \n\tFROM pg_catalog.pg_collation JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_collation.collnamespace \n\tWHERE pg_catalog.pg_collation.oid = pg_catalog.pg_attribute.attcollation) ELSE NULL END AS collation \n\tFROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_attribute ON pg_catalog.pg_class.oid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attribute.attnum > $14::SMALLINT AND NOT pg_catalog.pg_attribute.attisdropped LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_description.objsubid = pg_catalog.pg_attribute.attnum JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$15::VARCHAR, $16::VARCHAR, $17::VARCHAR, $18::VARCHAR, $19::VARCHAR]) AND pg_catalog.pg_namespace.nspname = $20::VARCHAR AND pg_catalog.pg_class.relname IN ($21::VARCHAR) ORDER BY pg_catalog.pg_class.relname, pg_catalog.pg_attribute.attnum',
        [
            "",
            "always",
            "a",
            "start",
            "increment",
            "minvalue",
            "maxvalue",
            "cache",
            "cycle",
            "",
            0,
            "name",
            "schema",
            0,
            "r",
            "p",
            "f",
            "v",
            "m",
            "marts",
            "orders",
        ],
    ),
    Case(
        "sqlalchemy_table_oids",
        "SELECT pg_catalog.pg_class.oid, pg_catalog.pg_class.relname \n\tFROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$1::VARCHAR, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR]) AND pg_catalog.pg_namespace.nspname = $6::VARCHAR AND pg_catalog.pg_class.relname IN ($7::VARCHAR)",
        ["r", "p", "f", "v", "m", "marts", "orders"],
    ),
    Case(
        "sqlalchemy_pk_constraint",
        "SELECT attr.conrelid, array_agg(CAST(attr.attname AS TEXT) ORDER BY attr.ord) AS cols, attr.conname, min(attr.description) AS description, min(attr.indnkeyatts) AS indnkeyatts, bool_and(attr.indnullsnotdistinct) AS indnullsnotdistinct \n\tFROM (SELECT con.conrelid AS conrelid, con.conname AS conname, con.description AS description, con.ord AS ord, con.indnkeyatts AS indnkeyatts, con.indnullsnotdistinct AS indnullsnotdistinct, pg_catalog.pg_attribute.attname AS attname \n\tFROM pg_catalog.pg_attribute JOIN (SELECT pg_catalog.pg_constraint.conrelid AS conrelid, pg_catalog.pg_constraint.conname AS conname, unnest(pg_catalog.pg_index.indkey) AS attnum, generate_subscripts(pg_catalog.pg_index.indkey, $1::INTEGER) AS ord, pg_catalog.pg_index.indnkeyatts AS indnkeyatts, pg_catalog.pg_index.indnullsnotdistinct AS indnullsnotdistinct, pg_catalog.pg_description.description AS description \n\tFROM pg_catalog.pg_constraint JOIN pg_catalog.pg_index ON pg_catalog.pg_constraint.conindid = pg_catalog.pg_index.indexrelid LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_constraint.oid AND pg_catalog.pg_description.classoid = CAST($2 AS REGCLASS) \n\tWHERE pg_catalog.pg_constraint.contype = $3::VARCHAR AND pg_catalog.pg_constraint.conrelid IN ($4)) AS con ON pg_catalog.pg_attribute.attnum = con.attnum AND pg_catalog.pg_attribute.attrelid = con.conrelid \n\tWHERE con.conrelid IN ($4)) AS attr GROUP BY attr.conrelid, attr.conname ORDER BY attr.conrelid, attr.conname",
        [1, "pg_constraint", "p", ORDERS],
    ),
    Case(
        "sqlalchemy_foreign_keys",
        "SELECT pg_catalog.pg_class.relname, pg_catalog.pg_constraint.conname, CASE WHEN (pg_catalog.pg_constraint.oid IS NOT NULL) THEN pg_catalog.pg_get_constraintdef(pg_catalog.pg_constraint.oid, $1) END AS anon_1, nsp_ref.nspname, pg_catalog.pg_description.description \n\tFROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_constraint ON pg_catalog.pg_class.oid = pg_catalog.pg_constraint.conrelid AND pg_catalog.pg_constraint.contype = $2::VARCHAR LEFT OUTER JOIN pg_catalog.pg_class AS cls_ref ON cls_ref.oid = pg_catalog.pg_constraint.confrelid LEFT OUTER JOIN pg_catalog.pg_namespace AS nsp_ref ON cls_ref.relnamespace = nsp_ref.oid LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_constraint.oid AND pg_catalog.pg_description.classoid = CAST($3 AS REGCLASS) JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR, $8::VARCHAR]) AND pg_catalog.pg_namespace.nspname = $9::VARCHAR AND pg_catalog.pg_class.relname IN ($10::VARCHAR) ORDER BY pg_catalog.pg_class.relname, pg_catalog.pg_constraint.conname",
        [True, "f", "pg_constraint", "r", "p", "f", "v", "m", "marts", "orders"],
    ),
    Case(
        "sqlalchemy_btree",
        "SELECT pg_catalog.pg_am.oid, pg_catalog.pg_am.amname \n\tFROM pg_catalog.pg_am \n\tWHERE pg_catalog.pg_am.amname = $1::VARCHAR",
        ["btree"],
    ),
    Case(
        "sqlalchemy_indexes",
        "SELECT pg_catalog.pg_index.indrelid, pg_catalog.pg_class.relname, pg_catalog.pg_index.indisunique, pg_catalog.pg_index.indisvalid, pg_catalog.pg_constraint.conrelid IS NOT NULL AS has_constraint, pg_catalog.pg_index.indoption, pg_catalog.pg_class.reloptions, pg_catalog.pg_class.relam, CASE WHEN (pg_catalog.pg_index.indpred IS NOT NULL) THEN pg_catalog.pg_get_expr(pg_catalog.pg_index.indpred, pg_catalog.pg_index.indrelid) END AS filter_definition, pg_catalog.pg_index.indnkeyatts, pg_catalog.pg_index.indnullsnotdistinct, idx_cols.elements, idx_cols.elements_is_expr, idx_cols.elements_opclass \n\tFROM pg_catalog.pg_index JOIN pg_catalog.pg_class ON pg_catalog.pg_index.indexrelid = pg_catalog.pg_class.oid LEFT OUTER JOIN (SELECT idx_attr.indexrelid AS indexrelid, min(idx_attr.indrelid) AS min_1, array_agg(idx_attr.element ORDER BY idx_attr.ord) AS elements, array_agg(idx_attr.is_expr ORDER BY idx_attr.ord) AS elements_is_expr, array_agg(idx_attr.att_opclass ORDER BY idx_attr.ord) AS elements_opclass \n\tFROM (SELECT idx.indexrelid AS indexrelid, idx.indrelid AS indrelid, idx.ord AS ord, CASE WHEN (idx.attnum = $1::INTEGER) THEN pg_catalog.pg_get_indexdef(idx.indexrelid, idx.ord + $2::INTEGER, $3) ELSE CAST(pg_catalog.pg_attribute.attname AS TEXT) END AS element, idx.attnum = $4::INTEGER AS is_expr, CAST(idx.att_opclass AS BIGINT) AS att_opclass \n\tFROM (SELECT pg_catalog.pg_index.indexrelid AS indexrelid, pg_catalog.pg_index.indrelid AS indrelid, unnest(pg_catalog.pg_index.indkey) AS attnum, unnest(pg_catalog.pg_index.indclass) AS att_opclass, generate_subscripts(pg_catalog.pg_index.indkey, $5::INTEGER) AS ord \n\tFROM pg_catalog.pg_index \n\tWHERE NOT pg_catalog.pg_index.indisprimary AND pg_catalog.pg_index.indrelid IN ($6)) AS idx LEFT OUTER JOIN pg_catalog.pg_attribute ON pg_catalog.pg_attribute.attnum = idx.attnum AND pg_catalog.pg_attribute.attrelid = idx.indrelid \n\tWHERE idx.indrelid IN ($6)) AS idx_attr GROUP BY idx_attr.indexrelid) AS idx_cols ON pg_catalog.pg_index.indexrelid = idx_cols.indexrelid LEFT OUTER JOIN pg_catalog.pg_constraint ON pg_catalog.pg_index.indrelid = pg_catalog.pg_constraint.conrelid AND pg_catalog.pg_index.indexrelid = pg_catalog.pg_constraint.conindid AND pg_catalog.pg_constraint.contype = ANY (ARRAY[$7::VARCHAR, $8::VARCHAR, $9::VARCHAR]) \n\tWHERE pg_catalog.pg_index.indrelid IN ($6) AND NOT pg_catalog.pg_index.indisprimary ORDER BY pg_catalog.pg_index.indrelid, pg_catalog.pg_class.relname",
        [0, 1, True, 0, 1, ORDERS, "p", "u", "x"],
    ),
    Case(
        "sqlalchemy_table_comment",
        "SELECT pg_catalog.pg_class.relname, pg_catalog.pg_description.description \n\tFROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_class.oid = pg_catalog.pg_description.objoid AND pg_catalog.pg_description.objsubid = $1::INTEGER AND pg_catalog.pg_description.classoid = CAST($2 AS REGCLASS) JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR]) AND pg_catalog.pg_namespace.nspname = $8::VARCHAR AND pg_catalog.pg_class.relname IN ($9::VARCHAR)",
        [0, "pg_class", "r", "p", "f", "v", "m", "marts", "orders"],
    ),
    Case(
        "sqlalchemy_table_options",
        "SELECT pg_catalog.pg_class.oid, pg_catalog.pg_class.relname, pg_catalog.pg_class.reloptions, NULL AS relhasoids, CASE WHEN (pg_catalog.pg_am.amname IS NOT NULL AND pg_catalog.pg_am.amname != current_setting($1::VARCHAR)) THEN pg_catalog.pg_am.amname ELSE NULL END AS access_method_name, pg_catalog.pg_tablespace.spcname AS tablespace_name, inherits.parent_table_names \n\tFROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_am ON pg_catalog.pg_class.relam = pg_catalog.pg_am.oid LEFT OUTER JOIN (SELECT pg_catalog.pg_inherits.inhrelid AS inhrelid, array_agg(pg_catalog.pg_class.relname ORDER BY pg_catalog.pg_inherits.inhseqno) AS parent_table_names \n\tFROM pg_catalog.pg_inherits JOIN pg_catalog.pg_class ON pg_catalog.pg_inherits.inhparent = pg_catalog.pg_class.oid GROUP BY pg_catalog.pg_inherits.inhrelid) AS inherits ON pg_catalog.pg_class.oid = inherits.inhrelid LEFT OUTER JOIN pg_catalog.pg_tablespace ON pg_catalog.pg_tablespace.oid = pg_catalog.pg_class.reltablespace JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace \n\tWHERE pg_catalog.pg_class.relkind = ANY (ARRAY[$2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR]) AND pg_catalog.pg_namespace.nspname = $7::VARCHAR AND pg_catalog.pg_class.relname IN ($8::VARCHAR)",
        ["default_table_access_method", "r", "p", "f", "v", "m", "marts", "orders"],
    ),
    Case(
        "jdbc_schemas",
        "SELECT nspname AS TABLE_SCHEM, NULL AS TABLE_CATALOG FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY TABLE_SCHEM",
        [],
    ),
    Case(
        "jdbc_schemas_like",
        "SELECT nspname AS TABLE_SCHEM, NULL AS TABLE_CATALOG FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  AND nspname LIKE 'mar%' ORDER BY TABLE_SCHEM",
        [],
    ),
    Case(
        "jdbc_tables",
        "SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,  CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema'  WHEN true THEN CASE  WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TABLE'   WHEN 'v' THEN 'SYSTEM VIEW'   WHEN 'i' THEN 'SYSTEM INDEX'   ELSE NULL   END  WHEN n.nspname = 'pg_toast' THEN CASE c.relkind   WHEN 'r' THEN 'SYSTEM TOAST TABLE'   WHEN 'i' THEN 'SYSTEM TOAST INDEX'   ELSE NULL   END  ELSE CASE c.relkind   WHEN 'r' THEN 'TEMPORARY TABLE'   WHEN 'p' THEN 'TEMPORARY TABLE'   WHEN 'i' THEN 'TEMPORARY INDEX'   WHEN 'S' THEN 'TEMPORARY SEQUENCE'   WHEN 'v' THEN 'TEMPORARY VIEW'   ELSE NULL   END  END  WHEN false THEN CASE c.relkind  WHEN 'r' THEN 'TABLE'  WHEN 'p' THEN 'PARTITIONED TABLE'  WHEN 'i' THEN 'INDEX'  WHEN 'P' then 'PARTITIONED INDEX'  WHEN 'S' THEN 'SEQUENCE'  WHEN 'v' THEN 'VIEW'  WHEN 'c' THEN 'TYPE'  WHEN 'f' THEN 'FOREIGN TABLE'  WHEN 'm' THEN 'MATERIALIZED VIEW'  ELSE NULL  END  ELSE NULL  END  AS TABLE_TYPE, d.description AS REMARKS,  '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c  LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0  and d.classoid = 'pg_class'::regclass)  WHERE c.relnamespace = n.oid  AND n.nspname LIKE 'marts' AND c.relname LIKE '%' AND (false  OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' )  OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ) )  ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME",
        [],
    ),
    Case(
        "jdbc_columns",
        "SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE 'marts' AND c.relname LIKE 'orders') c WHERE true  AND attname LIKE '%' ORDER BY nspname,c.relname,attnum",
        [],
    ),
    Case(
        "jdbc_primary_keys",
        "SELECT        result.TABLE_CAT,        result.TABLE_SCHEM,        result.TABLE_NAME,        result.COLUMN_NAME,        result.KEY_SEQ,        result.PK_NAME FROM      (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND n.nspname = 'marts' AND ct.relname = 'orders' AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY result.table_name, result.pk_name, result.key_seq",
        [],
    ),
    Case(
        "jdbc_index_info",
        "SELECT     tmp.TABLE_CAT,     tmp.TABLE_SCHEM,     tmp.TABLE_NAME,     tmp.NON_UNIQUE,     tmp.INDEX_QUALIFIER,     tmp.INDEX_NAME,     tmp.TYPE,     tmp.ORDINAL_POSITION,     trim(both '\"' from pg_catalog.pg_get_indexdef(tmp.CI_OID, tmp.ORDINAL_POSITION, false)) AS COLUMN_NAME,   CASE tmp.AM_NAME     WHEN 'btree' THEN CASE tmp.I_INDOPTION[tmp.ORDINAL_POSITION - 1] & 1::smallint       WHEN 1 THEN 'D'       ELSE 'A'     END     ELSE NULL   END AS ASC_OR_DESC,     tmp.CARDINALITY,     tmp.PAGES,     tmp.FILTER_CONDITION FROM (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, NOT i.indisunique AS NON_UNIQUE,   NULL AS INDEX_QUALIFIER, ci.relname AS INDEX_NAME,   CASE i.indisclustered     WHEN true THEN 1    ELSE CASE am.amname       WHEN 'hash' THEN 2      ELSE 3    END   END AS TYPE,   (information_schema._pg_expandarray(i.indkey)).n AS ORDINAL_POSITION,   ci.reltuples AS CARDINALITY,   ci.relpages AS PAGES,   pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS FILTER_CONDITION,   ci.oid AS CI_OID,   i.indoption AS I_INDOPTION,   am.amname AS AM_NAME FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON (ct.oid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid)   JOIN pg_catalog.pg_am am ON (ci.relam = am.oid) WHERE true  AND n.nspname = 'marts' AND ct.relname = 'orders') AS tmp ORDER BY NON_UNIQUE, TYPE, INDEX_NAME, ORDINAL_POSITION",
        [],
    ),
    Case(
        "jdbc_type_cache",
        "SELECT t.typname,t.oid FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON (t.typnamespace = n.oid)  WHERE n.nspname  != 'pg_toast' AND  (t.typrelid = 0 OR (SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid))",
        [],
        # PostgreSQL also has the row types of its catalog's relations and of the shop's
        subset=True,
    ),
    Case(
        "jdbc_array_types",
        "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  ORDER BY sp.r, pg_type.oid DESC",
        [],
        subset=True,
    ),
    Case(
        "jdbc_table_privileges",
        "SELECT n.nspname,c.relname,r.rolname,c.relacl  FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c, pg_catalog.pg_roles r  WHERE c.relnamespace = n.oid  AND c.relowner = r.oid  AND c.relkind IN ('r','p','v','m','f')  AND n.nspname LIKE 'marts' AND c.relname LIKE 'orders' ORDER BY nspname, relname",
        [],
    ),
    Case(
        "jdbc_best_row",
        "SELECT a.attname, a.atttypid, atttypmod FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN (SELECT i.indexrelid, i.indrelid, i.indisprimary,              information_schema._pg_expandarray(i.indkey) AS keys         FROM pg_catalog.pg_index i) i     ON (a.attnum = (i.keys).x AND a.attrelid = i.indrelid) WHERE true  AND n.nspname = 'marts' AND ct.relname = 'orders' AND i.indisprimary  ORDER BY a.attnum",
        [],
    ),
    Case(
        "jdbc_keywords",
        "select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc,asensitive,assertion,assignment,asymmetric,at,atomic,attribute,attributes,authorization,avg,before,begin,bernoulli,between,bigint,binary,blob,boolean,both,breadth,by,c,call,called,cardinality,cascade,cascaded,case,cast,catalog,catalog_name,ceil,ceiling,chain,char,char_length,character,character_length,character_set_catalog,character_set_name,character_set_schema,characteristics,characters,check,checked,class_origin,clob,close,coalesce,cobol,code_units,collate,collation,collation_catalog,collation_name,collation_schema,collect,column,column_name,command_function,command_function_code,commit,committed,condition,condition_number,connect,connection_name,constraint,constraint_catalog,constraint_name,constraint_schema,constraints,constructors,contains,continue,convert,corr,corresponding,count,covar_pop,covar_samp,create,cross,cube,cume_dist,current,current_collation,current_date,current_default_transform_group,current_path,current_role,current_time,current_timestamp,current_transform_group_for_type,current_user,cursor,cursor_name,cycle,data,date,datetime_interval_code,datetime_interval_precision,day,deallocate,dec,decimal,declare,default,defaults,deferrable,deferred,defined,definer,degree,delete,dense_rank,depth,deref,derived,desc,describe,descriptor,deterministic,diagnostics,disconnect,dispatch,distinct,domain,double,drop,dynamic,dynamic_function,dynamic_function_code,each,element,else,end,end-exec,equals,escape,every,except,exception,exclude,excluding,exec,execute,exists,exp,external,extract,false,fetch,filter,final,first,float,floor,following,for,foreign,fortran,found,free,from,full,function,fusion,g,general,get,global,go,goto,grant,granted,group,grouping,having,hierarchy,hold,hour,identity,immediate,implementation,in,including,increment,indicator,initially,inner,inout,input,insensitive,insert,instance,instantiable,int,integer,intersect,intersection,interval,into,invoker,is,isolation,join,k,key,key_member,key_type,language,large,last,lateral,leading,left,length,level,like,ln,local,localtime,localtimestamp,locator,lower,m,map,match,matched,max,maxvalue,member,merge,message_length,message_octet_length,message_text,method,min,minute,minvalue,mod,modifies,module,month,more,multiset,mumps,name,names,national,natural,nchar,nclob,nesting,new,next,no,none,normalize,normalized,not,\"null\",nullable,nullif,nulls,number,numeric,object,octet_length,octets,of,old,on,only,open,option,options,or,order,ordering,ordinality,others,out,outer,output,over,overlaps,overlay,overriding,pad,parameter,parameter_mode,parameter_name,parameter_ordinal_position,parameter_specific_catalog,parameter_specific_name,parameter_specific_schema,partial,partition,pascal,path,percent_rank,percentile_cont,percentile_disc,placing,pli,position,power,preceding,precision,prepare,preserve,primary,prior,privileges,procedure,public,range,rank,read,reads,real,recursive,ref,references,referencing,regr_avgx,regr_avgy,regr_count,regr_intercept,regr_r2,regr_slope,regr_sxx,regr_sxy,regr_syy,relative,release,repeatable,restart,result,return,returned_cardinality,returned_length,returned_octet_length,returned_sqlstate,returns,revoke,right,role,rollback,rollup,routine,routine_catalog,routine_name,routine_schema,row,row_count,row_number,rows,savepoint,scale,schema,schema_name,scope_catalog,scope_name,scope_schema,scroll,search,second,section,security,select,self,sensitive,sequence,serializable,server_name,session,session_user,set,sets,similar,simple,size,smallint,some,source,space,specific,specific_name,specifictype,sql,sqlexception,sqlstate,sqlwarning,sqrt,start,state,statement,static,stddev_pop,stddev_samp,structure,style,subclass_origin,submultiset,substring,sum,symmetric,system,system_user,table,table_name,tablesample,temporary,then,ties,time,timestamp,timezone_hour,timezone_minute,to,top_level_count,trailing,transaction,transaction_active,transactions_committed,transactions_rolled_back,transform,transforms,translate,translation,treat,trigger,trigger_catalog,trigger_name,trigger_schema,trim,true,type,uescape,unbounded,uncommitted,under,union,unique,unknown,unnamed,unnest,update,upper,usage,user,user_defined_type_catalog,user_defined_type_code,user_defined_type_name,user_defined_type_schema,using,value,values,var_pop,var_samp,varchar,varying,view,when,whenever,where,width_bucket,window,with,within,without,work,write,year,zone}'::text[])",
        [],
    ),
    Case(
        "psql_dt",
        "SELECT n.nspname as \"Schema\",\n\t  c.relname as \"Name\",\n\t  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n\t  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n\tFROM pg_catalog.pg_class c\n\t     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\t     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n\tWHERE c.relkind IN ('r','p','')\n\t      AND n.nspname <> 'pg_catalog'\n\t      AND n.nspname !~ '^pg_toast'\n\t      AND n.nspname <> 'information_schema'\n\t  AND pg_catalog.pg_table_is_visible(c.oid)\n\tORDER BY 1,2;",
        [],
    ),
    Case(
        "psql_dt_pattern",
        "SELECT n.nspname as \"Schema\",\n\t  c.relname as \"Name\",\n\t  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\",\n\t  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n\tFROM pg_catalog.pg_class c\n\t     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\t     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n\tWHERE c.relkind IN ('r','p','t','s','')\n\t  AND n.nspname OPERATOR(pg_catalog.~) '^(marts)$' COLLATE pg_catalog.default\n\tORDER BY 1,2;",
        [],
    ),
    Case(
        "psql_d_lookup",
        "SELECT c.oid,\n\t  n.nspname,\n\t  c.relname\n\tFROM pg_catalog.pg_class c\n\t     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\tWHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default\n\t  AND n.nspname OPERATOR(pg_catalog.~) '^(marts)$' COLLATE pg_catalog.default\n\tORDER BY 2, 3;",
        [],
    ),
    Case(
        "psql_d_table",
        "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname\n\tFROM pg_catalog.pg_class c\n\t LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\n\tLEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)\n\tWHERE c.oid = '{orders}';",
        [],
    ),
    Case(
        "psql_d_columns",
        "SELECT a.attname,\n\t  pg_catalog.format_type(a.atttypid, a.atttypmod),\n\t  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n\t   FROM pg_catalog.pg_attrdef d\n\t   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n\t  a.attnotnull,\n\t  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n\t   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,\n\t  a.attidentity,\n\t  a.attgenerated\n\tFROM pg_catalog.pg_attribute a\n\tWHERE a.attrelid = '{orders}' AND a.attnum > 0 AND NOT a.attisdropped\n\tORDER BY a.attnum;",
        [],
    ),
    Case(
        "psql_d_indexes",
        "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),\n\t  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace\n\tFROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i\n\t  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))\n\tWHERE c.oid = '{orders}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid\n\tORDER BY i.indisprimary DESC, c2.relname;",
        [],
    ),
    Case(
        "psql_d_partitions",
        "SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)\n\tFROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n\tWHERE c.oid = i.inhrelid AND i.inhparent = '{orders}'\n\tORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;",
        [],
    ),
    Case(
        "psql_dn",
        "SELECT n.nspname AS \"Name\",\n\t  pg_catalog.pg_get_userbyid(n.nspowner) AS \"Owner\"\n\tFROM pg_catalog.pg_namespace n\n\tWHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'\n\tORDER BY 1;",
        [],
    ),
    Case(
        "psql_l",
        'SELECT d.datname as "Name",\n\t       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",\n\t       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",\n\t       d.datcollate as "Collate",\n\t       d.datctype as "Ctype",\n\t       d.daticulocale as "ICU Locale",\n\t       CASE d.datlocprovider WHEN \'c\' THEN \'libc\' WHEN \'i\' THEN \'icu\' END AS "Locale Provider",\n\t       pg_catalog.array_to_string(d.datacl, E\'\\n\') AS "Access privileges"\n\tFROM pg_catalog.pg_database d\n\tORDER BY 1;',
        [],
        # PostgreSQL also has its other databases, owned by its superuser
        subset=True,
        ignore=("Owner",),
    ),
    Case(
        "metabase_tables",
        'SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN \'r\' THEN \'TABLE\' WHEN \'p\' THEN \'PARTITIONED TABLE\' WHEN \'v\' THEN \'VIEW\' WHEN \'f\' THEN \'FOREIGN TABLE\' WHEN \'m\' THEN \'MATERIALIZED VIEW\' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = \'pg_class\'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ \'^pg_\') AND ("n"."nspname" <> \'information_schema\') AND c.relkind in (\'r\', \'p\', \'v\', \'f\', \'m\') AND ("n"."nspname" IN (\'marts\')) ORDER BY "type" ASC, "schema" ASC, "name" ASC',
        [],
        # n_live_tup: PostgreSQL counts rows it has seen; Headwater keeps no such statistics
        ignore=("estimated_row_count",),
    ),
    Case(
        "metabase_fields",
        'SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN (\'public\', \'pg_catalog\') THEN FORMAT(\'%s\', "c"."udt_name") ELSE FORMAT(\'"%s"."%s"\', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT(\'%I.%I\', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = \'null\')) AND ("is_nullable" = \'NO\') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE \'%nextval(%\')) OR ("is_identity" <> \'NO\')) AS "database-required", (("column_default" IS NOT NULL) AND ("column_default" LIKE \'%nextval(%\')) OR ("is_identity" <> \'NO\') AS "database-is-auto-increment" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = \'PRIMARY KEY\') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ \'^information_schema|catalog_history|pg_\' AND ("c"."table_schema" IN (\'marts\')) UNION ALL SELECT "pa"."attname" AS "name", CASE WHEN "ptn"."nspname" IN (\'public\', \'pg_catalog\') THEN FORMAT(\'%s\', "pt"."typname") ELSE FORMAT(\'"%s"."%s"\', "ptn"."nspname", "pt"."typname") END AS "database-type", "pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", FALSE AS "database-is-auto-increment" FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" WHERE ("pc"."relkind" = \'m\') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN (\'marts\')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC',
        [],
        # PostgreSQL's information_schema shows a key only to a user with more than SELECT on
        # the table; Headwater shows its readers the key (Metabase marks the entity key)
        ignore=("pk?",),
    ),
    Case(
        "metabase_foreign_keys",
        'SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE (fk_ns.nspname !~ \'^information_schema|catalog_history|pg_\') AND ("c"."contype" = \'f\'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_ns"."nspname" IN (\'marts\')) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC',
        [],
    ),
    Case(
        "metabase_indexes",
        'SELECT "tmp"."table-schema", "tmp"."table-name", TRIM(BOTH \'"\' FROM PG_CATALOG.PG_GET_INDEXDEF("tmp"."ci_oid", "tmp"."pos", FALSE)) AS "field-name" FROM (SELECT "n"."nspname" AS "table-schema", "ct"."relname" AS "table-name", "ci"."oid" AS "ci_oid", (INFORMATION_SCHEMA._PG_EXPANDARRAY("i"."indkey")).n AS "pos" FROM "pg_catalog"."pg_class" AS "ct" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "ct"."relnamespace" = "n"."oid" INNER JOIN "pg_catalog"."pg_index" AS "i" ON "ct"."oid" = "i"."indrelid" INNER JOIN "pg_catalog"."pg_class" AS "ci" ON "ci"."oid" = "i"."indexrelid" WHERE (PG_CATALOG.PG_GET_EXPR("i"."indpred", "i"."indrelid") IS NULL) AND n.nspname !~ \'^information_schema|catalog_history|pg_\' AND ("n"."nspname" IN (\'marts\'))) AS "tmp" WHERE "tmp"."pos" = 1',
        [],
    ),
    Case(
        "metabase_privileges",
        "with table_privileges as (\n select\n   NULL as role,\n   t.schemaname as schema,\n   t.objectname as table,\n   pg_catalog.has_any_column_privilege(current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"',  'update') as update,\n   pg_catalog.has_any_column_privilege(current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"',  'select') as select,\n   pg_catalog.has_any_column_privilege(current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"',  'insert') as insert,\n   pg_catalog.has_table_privilege(     current_user, '\"' || replace(t.schemaname, '\"', '\"\"') || '\"' || '.' || '\"' || replace(t.objectname, '\"', '\"\"') || '\"',  'delete') as delete\n from (\n   select schemaname, tablename as objectname from pg_catalog.pg_tables\n   union\n   select schemaname, viewname as objectname from pg_catalog.pg_views\n   union\n   select schemaname, matviewname as objectname from pg_catalog.pg_matviews\n ) t\n where t.schemaname !~ '^pg_'\n   and t.schemaname <> 'information_schema'\n   and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')\n)\nselect t.*\nfrom table_privileges t",
        [],
    ),
    Case(
        "metabase_enums",
        "SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e)",
        [],
    ),
    Case(
        "dbeaver_schema_user",
        "SELECT current_schema(),session_user",
        [],
    ),
    Case(
        "dbeaver_namespaces",
        "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass ORDER BY nspname",
        [],
    ),
    Case(
        "dbeaver_type_1034",
        "SELECT n.nspname = ANY(current_schemas(true)), n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid WHERE t.oid = 1034",
        [],
    ),
    Case(
        "dbeaver_array_1034",
        "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = 1034  ORDER BY sp.r, pg_type.oid DESC",
        [],
    ),
    Case(
        "dbeaver_database",
        "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname=current_database()",
        [],
        # transaction ids of PostgreSQL's storage
        ignore=("datfrozenxid", "datminmxid"),
    ),
    Case(
        "dbeaver_setting",
        "SELECT * FROM pg_catalog.pg_settings where name='standard_conforming_strings'",
        [],
    ),
    Case(
        "dbeaver_enum_probe",
        "SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1",
        [],
    ),
    Case(
        "dbeaver_reltype_probe",
        "SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1",
        [],
    ),
    Case(
        "dbeaver_types",
        "SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description FROM pg_catalog.pg_type t LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid WHERE t.typname IS NOT NULL AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C')",
        [],
        subset=True,
    ),
    Case(
        "dbeaver_tables",
        "SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key FROM pg_catalog.pg_class c LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass WHERE c.relnamespace=$1 AND c.relkind not in ('i','I','c')",
        [MARTS],
        # PostgreSQL's storage: file numbers, row types, TOAST tables, transaction ids
        ignore=("relfilenode", "reltype", "reltoastrelid", "relfrozenxid", "relminmxid"),
    ),
    Case(
        "dbeaver_table_sizes",
        "select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size FROM pg_class c WHERE c.relnamespace=$1",
        [MARTS],
        # Headwater's tables are Delta tables: no PostgreSQL pages
        ignore=("total_rel_size", "rel_size"),
    ),
    Case(
        "dbeaver_attributes",
        "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid FROM pg_catalog.pg_attribute a INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid) LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum) LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid) LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=$1 ORDER BY a.attnum",
        [ORDERS],
    ),
    Case(
        "dbeaver_indexes",
        "SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans FROM pg_catalog.pg_index i INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid WHERE  i.indrelid=$1 ORDER BY tabrelname, c.relname",
        [ORDERS],
        ignore=("index_rel_size",),
    ),
    Case(
        "dbeaver_constraints",
        "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then \"substring\"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy FROM pg_catalog.pg_constraint c INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass WHERE c.conrelid=$1 ORDER BY c.oid",
        [ORDERS],
    ),
    Case(
        "dbvisualizer_pg_tables",
        "select * from pg_tables where schemaname != 'pg_catalog'",
        [],
        # the catalog's own tables belong to the bootstrap superuser: postgres there,
        # headwater here
        ignore=("tableowner",),
    ),
    Case(
        "dbvisualizer_pg_user",
        "select * from pg_user",
        [],
        # PostgreSQL lists every role of the cluster, Headwater the signed-in user
        subset=True,
        ignore=("useconfig",),
    ),
    Case(
        "pgjdbc_name_length",
        "SELECT t.typlen FROM pg_catalog.pg_type t, pg_catalog.pg_namespace n WHERE t.typnamespace=n.oid AND t.typname='name' AND n.nspname='pg_catalog'",
        [],
    ),
]


@pytest.fixture(scope="module")
def mirror(postgres_server: PostgresServer) -> str:
    """A PostgreSQL database holding what the analyst sees of the shop; returns its name."""
    database = postgres_server.create_database()
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        for role in ("headwater", "ana"):
            exists = connection.execute(
                "select 1 from pg_roles where rolname = %s", [role]
            ).fetchone()
            if exists is None:
                connection.execute(f"CREATE ROLE {role} LOGIN")
        connection.execute("ALTER ROLE ana SET search_path = marts")
    with psycopg.connect(postgres_server.dsn(database), autocommit=True) as connection:
        connection.execute(PG_MIRROR)
    return database


_SYMBOLS = """
select c.oid, 'rel:' || c.relname as name from pg_class c
  join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'marts'
union all select oid, 'nsp:' || nspname from pg_namespace where nspname = 'marts'
union all select k.oid, 'con:' || k.conname from pg_constraint k
  join pg_namespace n on n.oid = k.connamespace where n.nspname = 'marts'
union all select oid, 'role:' || rolname from pg_roles where rolname in ('ana', 'headwater')
union all select oid, 'db:' || datname from pg_database where datname = current_database()
"""
"""The objects whose oids differ between the databases, by oid: compared by what they are."""


def _normal(value: Any, symbols: dict[int, str]) -> Any:
    if isinstance(value, str) and re.fullmatch(r"[\w$]*=[a-zA-Z*]*/\w+", value):
        # an ACL item: what the bootstrap superuser grants is Headwater's owner's
        return re.sub(r"\bpostgres\b", "headwater", value)
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return value
    if isinstance(value, int):
        return symbols.get(value, value) if value >= FIRST_OID else value
    if isinstance(value, list):
        items = [_normal(v, symbols) for v in value]
        if items and all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            return " ".join(str(v) for v in items)  # an int2vector, as PostgreSQL sends it
        return items
    if isinstance(value, dict):
        return {k: _normal(v, symbols) for k, v in value.items()}
    return str(value)


def _answers(
    names: list[str], rows: list[tuple[Any, ...]], symbols: dict[int, str], case: Case
) -> list[tuple[Any, ...]]:
    kept = [i for i, name in enumerate(names) if name not in case.ignore]
    return [tuple(_normal(row[i], symbols) for i in kept) for row in rows]


def _postgres(
    postgres_server: PostgresServer, database: str, case: Case
) -> tuple[list[str], list[tuple[Any, ...]], dict[int, str]]:
    dsn = postgres_server.dsn(database).replace("user=postgres", "user=ana")
    with psycopg.connect(dsn, autocommit=True) as connection:
        symbols = dict(connection.execute(_SYMBOLS).fetchall())
        oids = {name: oid for oid, name in symbols.items()}
        # Headwater's owner role has the oid of PostgreSQL's bootstrap superuser
        symbols = {oid: 10 if name == "role:headwater" else name for oid, name in symbols.items()}
        params = [oids[p.symbol] if isinstance(p, OidOf) else p for p in case.params]
        with psycopg.RawCursor(connection) as cursor:
            cursor.execute(case.sql.replace("{orders}", str(oids["rel:orders"])), params)
            names = [d.name for d in cursor.description or []]
            return names, cursor.fetchall(), symbols


def _headwater(
    service: ServeService, database: str, case: Case
) -> tuple[list[str], list[tuple[Any, ...]], dict[int, str]]:
    queries = catalog(service, "analyst", database=database)
    symbols = {r["oid"]: r["name"] for r in rows(queries, _SYMBOLS)}
    oids = {name: oid for oid, name in symbols.items()}
    params = [oids[p.symbol] if isinstance(p, OidOf) else p for p in case.params]
    table = queries.run(case.sql.replace("{orders}", str(oids["rel:orders"])), params)
    values = list(zip(*(c.to_pylist() for c in table.columns), strict=True))
    return table.column_names, values, symbols


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_client_catalog_queries_answer_as_postgresql(
    service: ServeService, postgres_server: PostgresServer, mirror: str, case: Case
) -> None:
    theirs_names, theirs, their_symbols = _postgres(postgres_server, mirror, case)
    ours_names, ours, our_symbols = _headwater(service, mirror, case)
    assert ours_names == theirs_names
    expected = _answers(theirs_names, theirs, their_symbols, case)
    found = _answers(ours_names, ours, our_symbols, case)
    if case.subset:
        assert found, "Headwater answered no rows"
        missing = [row for row in found if row not in expected]
        assert not missing
    elif "order by" not in case.sql.lower():
        assert sorted(found, key=repr) == sorted(expected, key=repr)
    else:
        assert found == expected
