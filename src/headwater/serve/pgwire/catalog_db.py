"""The catalog database of a session: a private in-memory DuckDB holding PostgreSQL 15's
catalog relations with the session's rows, lookup tables and the macros that answer
PostgreSQL's catalog functions, locked before any client SQL runs.

It holds no data of any table, only their names, columns and descriptions, all of them ones
the principal may read. Locked, it can open no file and load no extension, and no setting
changes; each query runs on its own cursor, is interrupted at its time limit and stops at its
row cap.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError, first_line
from headwater.serve.pgwire.catalog_pg15 import KEYWORDS, RELATIONS
from headwater.serve.pgwire.catalog_rows import (
    OWNER,
    OWNER_OID,
    PG_CLASS_OID,
    Catalog,
    relation_columns,
)
from headwater.serve.pgwire.catalog_sql import HELPERS, INFO_SCHEMA, PG_SCHEMA
from headwater.serve.pgwire.catalog_types import catalog_duckdb_type

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

STARTED = time.time()
"""When this server process started (`pg_postmaster_start_time()`)."""
MEMORY_LIMIT = "256MB"
"""Most memory one catalog query may use."""


class CatalogQueryTimeout(UsageError):
    """A catalog query ran past its time limit (or was cancelled) and was interrupted."""


@dataclass
class CatalogResult:
    """What a catalog query returned."""

    table: pa.Table
    truncated: bool


class CatalogDatabase:
    """The locked DuckDB database answering one session's catalog queries."""

    def __init__(self, catalog: Catalog) -> None:
        import duckdb

        self.catalog = catalog
        self._relations: dict[str, int] = {}
        self._types: dict[str, int] = {}
        self._connection = duckdb.connect(":memory:", config={"threads": 1})
        try:
            self._load(catalog)
        except BaseException:
            self._connection.close()
            raise

    def close(self) -> None:
        """Release the database."""
        self._connection.close()

    def relation_oid(self, name: str) -> int | None:
        """The oid of the relation `name` (`pg_class`, `marts.orders`, `"Marts"."x"`) as
        `'name'::regclass` finds it, or None."""
        return self._relations.get(name, self._relations.get(name.lower()))

    def type_oid(self, name: str) -> int | None:
        """The oid of the type `name` (`int4`, `integer`, `text[]`) as `'name'::regtype`
        finds it, or None."""
        return self._types.get(name.strip().lower())

    def _load(self, catalog: Catalog) -> None:
        from headwater.engine.duckdb_readonly import lock_down

        con = self._connection
        for schema in (PG_SCHEMA, INFO_SCHEMA, HELPERS):
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute(_create_relations())
        for relation, rows in catalog.tables.items():
            if rows.num_rows:
                self._insert(_target(relation), rows)
        for name, table in _helper_tables(catalog, self._relations, self._types).items():
            self._insert(f"{HELPERS}.{name}", table, create=True)
        for statement in _macros(catalog):
            con.execute(statement)
        con.execute(f"SET GLOBAL memory_limit = '{MEMORY_LIMIT}'")
        lock_down(con, [])

    def _insert(self, target: str, table: pa.Table, create: bool = False) -> None:
        con = self._connection
        view = "__headwater_rows"
        con.register(view, table)
        try:
            if create:
                con.execute(f"CREATE TABLE {target} AS SELECT * FROM {view}")
            else:
                con.execute(f"INSERT INTO {target} SELECT * FROM {view}")
        finally:
            con.unregister(view)

    def query(
        self,
        sql: str,
        *,
        timeout_s: float,
        max_rows: int,
        cancel: threading.Event | None = None,
    ) -> CatalogResult:
        """Run `sql` (DuckDB SQL from `catalog_sql.translate`) and return at most `max_rows`
        rows.

        Raises:
            CatalogQueryTimeout: it ran past `timeout_s` or `cancel` was set.
            UsageError: DuckDB refused or failed it.
        """
        import duckdb
        import pyarrow as pa

        cursor = self._connection.cursor()
        stop = threading.Event()
        fired = threading.Event()

        def watch() -> None:
            deadline = time.monotonic() + timeout_s
            while not stop.is_set():
                if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                    fired.set()
                    cursor.interrupt()
                    if stop.wait(0.02):
                        return
                    continue
                stop.wait(0.02)

        watcher = threading.Thread(target=watch, name="headwater-catalog-timer", daemon=True)
        watcher.start()
        try:
            reader = cursor.sql(sql).to_arrow_reader(1024)
            batches = []
            count = 0
            truncated = False
            for batch in reader:
                batches.append(batch)
                count += batch.num_rows
                if count > max_rows:
                    truncated = True
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, max_rows)
        except duckdb.InterruptException:
            raise CatalogQueryTimeout(
                "the catalog query was cancelled"
                if cancel is not None and cancel.is_set()
                else f"the catalog query ran longer than its time limit of {timeout_s:g} s",
                hint="ask the catalog for less",
            ) from None
        except duckdb.Error as exc:
            if fired.is_set():
                raise CatalogQueryTimeout(
                    f"the catalog query ran longer than its time limit of {timeout_s:g} s"
                ) from None
            raise UsageError(
                f"the catalog query failed: {first_line(exc)}",
                hint="Headwater answers PostgreSQL's catalog queries with DuckDB; this one "
                "uses something it does not read the same way",
            ) from None
        finally:
            stop.set()
            watcher.join()
            cursor.close()
        return CatalogResult(table, truncated)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _target(relation: str) -> str:
    """Where the catalog database holds `relation` (`pg_catalog.pg_class`)."""
    schema, name = relation.split(".", 1)
    return f"{PG_SCHEMA if schema == 'pg_catalog' else INFO_SCHEMA}.{_quote(name)}"


@functools.cache
def _create_relations() -> str:
    """The statements creating every relation of PostgreSQL 15's catalog, empty."""
    statements = []
    for relation in RELATIONS:
        columns = ", ".join(
            f"{_quote(column)} {catalog_duckdb_type(kind)}"
            for column, kind in relation_columns(relation)
        )
        statements.append(f"CREATE TABLE {_target(relation)} ({columns});")
    return "\n".join(statements)


def _helper_tables(
    catalog: Catalog, names: dict[str, int], type_names: dict[str, int]
) -> dict[str, pa.Table]:
    """The lookup tables the macros read; every column is named `hw_*`, so that a macro's
    argument (the caller's expression) never binds to one of them. Fills `names` (relation
    names to oids) and `type_names` (type names to oids)."""
    import pyarrow as pa

    tables = catalog.tables
    classes = tables["pg_catalog.pg_class"].to_pylist()
    namespaces = {r["oid"]: r["nspname"] for r in tables["pg_catalog.pg_namespace"].to_pylist()}
    visible = catalog.visible
    shown: dict[int, str] = {}
    for row in classes:
        oid, relname = row["oid"], row["relname"]
        schema = namespaces[row["relnamespace"]]
        qualified = f"{quote_ident(schema)}.{quote_ident(relname)}"
        for form in (f"{schema}.{relname}", qualified, f'"{schema}"."{relname}"'):
            names.setdefault(form, oid)
        if oid in visible:
            for form in (relname, quote_ident(relname), f'"{relname}"'):
                names.setdefault(form, oid)
        shown[oid] = quote_ident(relname) if oid in visible else qualified
    types = tables["pg_catalog.pg_type"].to_pylist()
    formats = []
    for row in types:
        formats.append(_format_row(row, types))
    by_oid = {f["hw_oid"]: f for f in formats}
    for row in types:
        oid = row["oid"]
        for form in (row["typname"], f"pg_catalog.{row['typname']}", _formatted(by_oid, oid)):
            type_names.setdefault(form, oid)
    roles = [(OWNER_OID, OWNER)]
    for row in tables["pg_catalog.pg_roles"].to_pylist():
        if row["oid"] != OWNER_OID:
            roles.append((row["oid"], row["rolname"]))
    descriptions = tables["pg_catalog.pg_description"]
    settings = tables["pg_catalog.pg_settings"].to_pylist()
    int32, text = pa.int32(), pa.string()
    return {
        "relnames": pa.table(
            {
                "hw_name": pa.array(list(names), text),
                "hw_oid": pa.array(list(names.values()), int32),
            }
        ),
        "relout": pa.table(
            {
                "hw_oid": pa.array(list(shown), int32),
                "hw_name": pa.array(list(shown.values()), text),
            }
        ),
        "visible": pa.table({"hw_oid": pa.array(sorted(visible), int32)}),
        "types": pa.Table.from_pylist(
            formats,
            schema=pa.schema(
                [
                    ("hw_oid", int32),
                    ("hw_name", text),
                    ("hw_kind", text),
                    ("hw_element", int32),
                ]
            ),
        ),
        "typenames": pa.table(
            {
                "hw_name": pa.array(list(type_names), text),
                "hw_oid": pa.array(list(type_names.values()), int32),
            }
        ),
        "namespaces": pa.table(
            {
                "hw_oid": pa.array(list(namespaces), int32),
                "hw_name": pa.array(list(namespaces.values()), text),
            }
        ),
        "roles": pa.table(
            {
                "hw_oid": pa.array([r[0] for r in roles], int32),
                "hw_name": pa.array([r[1] for r in roles], text),
            }
        ),
        "descriptions": pa.table(
            {
                "hw_oid": descriptions.column("objoid"),
                "hw_class": descriptions.column("classoid"),
                "hw_sub": descriptions.column("objsubid"),
                "hw_text": descriptions.column("description"),
            }
        ),
        "definitions": pa.table(
            {
                "hw_oid": pa.array([d[0] for d in catalog.definitions], int32),
                "hw_col": pa.array([d[1] for d in catalog.definitions], int32),
                "hw_def": pa.array([d[2] for d in catalog.definitions], text),
            }
        ),
        "settings": pa.table(
            {
                "hw_name": pa.array([s["name"].lower() for s in settings], text),
                "hw_value": pa.array([s["setting"] for s in settings], text),
            }
        ),
        "keywords": pa.Table.from_pylist(
            [
                dict(zip(("word", "catcode", "barelabel", "catdesc", "baredesc"), k, strict=True))
                for k in KEYWORDS
            ],
            schema=pa.schema(
                [
                    ("word", text),
                    ("catcode", text),
                    ("barelabel", pa.bool_()),
                    ("catdesc", text),
                    ("baredesc", text),
                ]
            ),
        ),
    }


_SQL_TYPE_NAMES = {
    "bool": ("boolean", "plain"),
    "int2": ("smallint", "plain"),
    "int4": ("integer", "plain"),
    "int8": ("bigint", "plain"),
    "float4": ("real", "plain"),
    "float8": ("double precision", "plain"),
    "numeric": ("numeric", "numeric"),
    "varchar": ("character varying", "length"),
    "bpchar": ("character", "length"),
    "bit": ("bit", "bits"),
    "varbit": ("bit varying", "bits"),
    "timestamp": ("timestamp", "without"),
    "timestamptz": ("timestamp", "with"),
    "time": ("time", "without"),
    "timetz": ("time", "with"),
    "interval": ("interval", "plain"),
    "char": ('"char"', "plain"),
}
"""format_type's name of the types PostgreSQL names in SQL's words, and how a modifier
shows."""


def _format_row(row: dict[str, Any], types: list[dict[str, Any]]) -> dict[str, Any]:
    name, kind = _SQL_TYPE_NAMES.get(row["typname"], (quote_ident(row["typname"]), "plain"))
    element = 0
    if row["typcategory"] == "A" and row["typelem"]:
        element = row["typelem"]
        kind = "array"
    return {"hw_oid": row["oid"], "hw_name": name, "hw_kind": kind, "hw_element": element}


def _formatted(by_oid: dict[int, dict[str, Any]], oid: int) -> str:
    row = by_oid.get(oid)
    if row is None:
        return "???"
    if row["hw_kind"] == "array":
        return _formatted(by_oid, row["hw_element"]) + "[]"
    if row["hw_kind"] in ("with", "without"):
        return f"{row['hw_name']} {row['hw_kind']} time zone"
    return str(row["hw_name"])


_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_ident(name: str) -> str:
    """`name` as PostgreSQL's quote_ident writes it: quoted unless it is a lower-case plain
    name that is not a keyword PostgreSQL reserves in any way."""
    if _PLAIN_NAME.fullmatch(name) and name not in _reserved():
        return name
    return '"' + name.replace('"', '""') + '"'


@functools.cache
def _reserved() -> frozenset[str]:
    return frozenset(str(k[0]) for k in KEYWORDS if k[1] != "U")


def _macros(catalog: Catalog) -> list[str]:
    """The `CREATE MACRO` statements of the functions the catalog answers.

    A macro's argument is the caller's expression, bound where the body puts it: the lookup
    tables' columns are all named `hw_*` and the bodies' table aliases too, so that an
    argument such as `c.oid` or `oid` still means the caller's column inside a subquery.
    """
    from sqlglot import exp

    session = catalog.session
    h = HELPERS

    def text(value: str | None) -> str:
        node: exp.Expression = exp.Null() if value is None else exp.Literal.string(value)
        return f"CAST({node.sql('duckdb')} AS VARCHAR)"

    def texts(values: list[str]) -> str:
        items = ", ".join(exp.Literal.string(v).sql("duckdb") for v in values)
        return f"CAST([{items}] AS VARCHAR[])"

    def overloads(name: str, body: str, counts: range) -> str:
        params = ["p_a", "p_b", "p_c", "p_d"]
        return f"CREATE MACRO {h}.{name}" + ", ".join(
            f"({', '.join(params[:n])}) AS {body}" for n in counts
        )

    def lookup(column: str, table: str, where: str) -> str:
        return f"(SELECT min(hw_x.{column}) FROM {h}.{table} AS hw_x WHERE {where})"

    def privilege(pattern: str) -> str:
        return f"regexp_matches(lower(p_privilege), '{pattern}')"

    search_path = list(catalog.search_path)
    reserved = texts(sorted(_reserved()))
    table_privilege = (
        f"CASE WHEN {h}.regclass_any(p_table) IS NULL THEN NULL "
        f"ELSE {privilege('select|references')} END"
    )
    format_base = (
        "CASE WHEN p_mod IS NULL OR p_mod < 0 THEN CASE WHEN hw_x.hw_kind IN ('with', "
        "'without') THEN hw_x.hw_name || ' ' || hw_x.hw_kind || ' time zone' ELSE "
        "hw_x.hw_name END "
        "WHEN hw_x.hw_kind = 'numeric' AND p_mod >= 4 THEN hw_x.hw_name || '(' || "
        "CAST(((p_mod - 4) >> 16) & 65535 AS VARCHAR) || ',' || "
        "CAST((p_mod - 4) & 65535 AS VARCHAR) || ')' "
        "WHEN hw_x.hw_kind = 'length' AND p_mod >= 4 THEN hw_x.hw_name || '(' || "
        "CAST(p_mod - 4 AS VARCHAR) || ')' "
        "WHEN hw_x.hw_kind = 'bits' THEN hw_x.hw_name || '(' || CAST(p_mod AS VARCHAR) || ')' "
        "WHEN hw_x.hw_kind IN ('with', 'without') THEN hw_x.hw_name || '(' || "
        "CAST(p_mod AS VARCHAR) || ') ' || hw_x.hw_kind || ' time zone' "
        "ELSE hw_x.hw_name END"
    )
    description = "min(hw_x.hw_text)"
    quote = "'\"'"
    return [
        f"CREATE MACRO {h}.version() AS {text(session.version)}",
        f"CREATE MACRO {h}.current_database() AS {text(session.database)}",
        f"CREATE MACRO {h}.current_user() AS {text(session.user)}",
        f"CREATE MACRO {h}.current_schema() AS {text(search_path[0] if search_path else None)}",
        f"CREATE MACRO {h}.current_schemas(p_implicit) AS CASE WHEN p_implicit THEN "
        f"{texts(['pg_catalog', *search_path])} ELSE {texts(search_path)} END",
        f"CREATE MACRO {h}.pg_backend_pid() AS CAST({os.getpid()} AS INTEGER)",
        f"CREATE MACRO {h}.current_setting(p_name) AS "
        + lookup("hw_value", "settings", "hw_x.hw_name = lower(p_name)")
        + ", (p_name, p_missing_ok) AS "
        + lookup("hw_value", "settings", "hw_x.hw_name = lower(p_name)"),
        f"CREATE MACRO {h}.set_config(p_name, p_value, p_local) AS CAST(p_value AS VARCHAR)",
        f"CREATE MACRO {h}.format_base(p_type, p_mod) AS "
        f"(SELECT min({format_base}) FROM {h}.types AS hw_x WHERE hw_x.hw_oid = p_type)",
        f"CREATE MACRO {h}.format_type(p_type, p_mod) AS (SELECT min(CASE "
        f"WHEN hw_y.hw_kind = 'array' THEN {h}.format_base(hw_y.hw_element, p_mod) || '[]' "
        f"ELSE {h}.format_base(hw_y.hw_oid, p_mod) END) FROM {h}.types AS hw_y "
        "WHERE hw_y.hw_oid = p_type)",
        f"CREATE MACRO {h}.shobj_description(p_oid, p_catalog) AS CAST(NULL AS VARCHAR)",
        f"CREATE MACRO {h}.pg_get_userbyid(p_oid) AS coalesce("
        + lookup("hw_name", "roles", "hw_x.hw_oid = p_oid")
        + ", 'unknown (OID=' || CAST(p_oid AS VARCHAR) || ')')",
        overloads("pg_get_expr", "CAST(NULL AS VARCHAR)", range(2, 4)),
        overloads("pg_get_viewdef", "CAST(NULL AS VARCHAR)", range(1, 3)),
        f"CREATE MACRO {h}.pg_get_constraintdef(p_oid) AS "
        + lookup("hw_def", "definitions", "hw_x.hw_oid = p_oid AND hw_x.hw_col = 0")
        + ", (p_oid, p_pretty) AS "
        + lookup("hw_def", "definitions", "hw_x.hw_oid = p_oid AND hw_x.hw_col = 0"),
        f"CREATE MACRO {h}.pg_get_indexdef(p_oid) AS "
        + lookup("hw_def", "definitions", "hw_x.hw_oid = p_oid AND hw_x.hw_col = 0")
        + ", (p_oid, p_column, p_pretty) AS "
        + lookup("hw_def", "definitions", "hw_x.hw_oid = p_oid AND hw_x.hw_col = p_column"),
        f"CREATE MACRO {h}.pg_table_is_visible(p_oid) AS EXISTS (SELECT 1 FROM "
        f"{h}.visible AS hw_x WHERE hw_x.hw_oid = p_oid)",
        f"CREATE MACRO {h}.regclass_in(p_name) AS coalesce("
        + lookup("hw_oid", "relnames", "hw_x.hw_name = p_name")
        + ", "
        + lookup("hw_oid", "relnames", "hw_x.hw_name = lower(p_name)")
        + ")",
        f"CREATE MACRO {h}.regclass_out(p_oid) AS coalesce("
        + lookup("hw_name", "relout", "hw_x.hw_oid = p_oid")
        + ", CAST(p_oid AS VARCHAR))",
        f"CREATE MACRO {h}.regclass_any(p_value) AS coalesce("
        + lookup("hw_oid", "relout", "hw_x.hw_oid = TRY_CAST(p_value AS BIGINT)")
        + f", {h}.regclass_in(CAST(p_value AS VARCHAR)))",
        f"CREATE MACRO {h}.obj_description(p_oid) AS (SELECT {description} FROM "
        f"{h}.descriptions AS hw_x WHERE hw_x.hw_oid = p_oid AND hw_x.hw_sub = 0), "
        f"(p_oid, p_catalog) AS (SELECT {description} FROM {h}.descriptions AS hw_x "
        "WHERE hw_x.hw_oid = p_oid AND hw_x.hw_sub = 0 "
        f"AND hw_x.hw_class = {h}.regclass_in(p_catalog))",
        f"CREATE MACRO {h}.col_description(p_oid, p_column) AS (SELECT {description} FROM "
        f"{h}.descriptions AS hw_x WHERE hw_x.hw_oid = p_oid AND hw_x.hw_sub = p_column "
        f"AND hw_x.hw_class = {PG_CLASS_OID})",
        f"CREATE MACRO {h}.regtype_in(p_name) AS "
        + lookup("hw_oid", "typenames", "hw_x.hw_name = lower(trim(p_name))"),
        f"CREATE MACRO {h}.regtype_out(p_oid) AS coalesce({h}.format_type(p_oid, NULL), "
        "CAST(p_oid AS VARCHAR))",
        f"CREATE MACRO {h}.regnamespace_in(p_name) AS "
        + lookup("hw_oid", "namespaces", "hw_x.hw_name = p_name"),
        f"CREATE MACRO {h}.regnamespace_out(p_oid) AS coalesce("
        + lookup("hw_name", "namespaces", "hw_x.hw_oid = p_oid")
        + ", CAST(p_oid AS VARCHAR))",
        f"CREATE MACRO {h}.regrole_in(p_name) AS "
        + lookup("hw_oid", "roles", "hw_x.hw_name = p_name"),
        f"CREATE MACRO {h}.regrole_out(p_oid) AS {h}.pg_get_userbyid(p_oid)",
        f"CREATE MACRO {h}.has_table_privilege(p_table, p_privilege) AS {table_privilege}, "
        f"(p_user, p_table, p_privilege) AS {table_privilege}",
        f"CREATE MACRO {h}.has_column_privilege(p_table, p_column, p_privilege) AS "
        f"{table_privilege}, (p_user, p_table, p_column, p_privilege) AS {table_privilege}",
        f"CREATE MACRO {h}.has_schema_privilege(p_schema, p_privilege) AS "
        f"{privilege('usage')}, (p_user, p_schema, p_privilege) AS {privilege('usage')}",
        f"CREATE MACRO {h}.has_database_privilege(p_database, p_privilege) AS "
        f"{privilege('connect|temp')}, (p_user, p_database, p_privilege) AS "
        f"{privilege('connect|temp')}",
        f"CREATE MACRO {h}.has_usage_privilege(p_object, p_privilege) AS "
        f"{privilege('usage|execute')}, (p_user, p_object, p_privilege) AS "
        f"{privilege('usage|execute')}",
        f"CREATE MACRO {h}.pg_has_role(p_role, p_privilege) AS true, "
        "(p_user, p_role, p_privilege) AS true",
        f"CREATE MACRO {h}.pg_encoding_to_char(p_encoding) AS CASE p_encoding WHEN 6 "
        "THEN 'UTF8' WHEN 0 THEN 'SQL_ASCII' ELSE '' END",
        f"CREATE MACRO {h}.pg_char_to_encoding(p_name) AS CASE upper(p_name) WHEN 'UTF8' "
        "THEN 6 WHEN 'SQL_ASCII' THEN 0 ELSE -1 END",
        f"CREATE MACRO {h}.start_time() AS CAST(to_timestamp({STARTED:.6f}) AS TIMESTAMPTZ)",
        f"CREATE MACRO {h}.pg_size_pretty(p_size) AS CAST(p_size AS VARCHAR) || ' bytes'",
        f"CREATE MACRO {h}.txid_current() AS CAST(1 AS BIGINT)",
        f"CREATE MACRO {h}.array_upper(p_array, p_dimension) AS CASE WHEN p_dimension = 1 "
        "AND len(p_array) > 0 THEN CAST(len(p_array) AS INTEGER) END",
        f"CREATE MACRO {h}.array_lower(p_array, p_dimension) AS CASE WHEN p_dimension = 1 "
        "AND len(p_array) > 0 THEN 1 END",
        f"CREATE MACRO {h}.array_ndims(p_array) AS CASE WHEN len(p_array) > 0 THEN 1 END",
        f"CREATE MACRO {h}.quote_ident(p_name) AS CASE WHEN "
        "regexp_full_match(p_name, '[a-z_][a-z0-9_$]*') AND NOT list_contains("
        f"{reserved}, p_name) THEN p_name ELSE {quote} || replace(p_name, {quote}, "
        f"{quote} || {quote}) || {quote} END",
        f"CREATE MACRO {h}.quote_literal(p_value) AS chr(39) || "
        "replace(CAST(p_value AS VARCHAR), chr(39), chr(39) || chr(39)) || chr(39)",
        f"CREATE MACRO {h}.pg_typeof(p_value) AS lower(typeof(p_value))",
        f"CREATE MACRO {h}.expandarray(p_array) AS list_transform(generate_series(1, "
        "len(p_array)), lambda hw_pos: {'x': p_array[hw_pos], "
        "'n': CAST(hw_pos AS INTEGER)})",
        overloads("null_text", "CAST(NULL AS VARCHAR)", range(5)),
        overloads("null_int", "CAST(NULL AS BIGINT)", range(5)),
        overloads("zero", "CAST(0 AS BIGINT)", range(5)),
        overloads("always", "true", range(5)),
        overloads("never", "false", range(5)),
    ]
