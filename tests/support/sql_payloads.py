"""A small built project to attack, and the SQL payloads of S1 and S2 (RELIABILITY.md).

Shared by the read-only query tests (`tests/serve`) and the UI's query API tests (`tests/api`):
the same payloads run against `run_readonly` directly and over HTTP.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from headwater import Project
from headwater.storage.base import TableRef
from tests.conftest import ProjectFactory, write_files

CANARY = "canary_7f3a9c_secret"
TABLES = ["raw.people", "core.by_city", "core.by_region", "core.events"]

LAKE = {
    "seeds/people.csv": """
        id,name,city
        1,ann,oslo
        2,bob,rome
        3,cid,oslo
        4,dan,paris
    """,
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
    "models/core/by_region.sql": (
        "select city as region, id, name from raw.people"  # partitioned by region
    ),
    "models/core/by_region.yml": "partition_by: region\n",
    "models/core/events.sql": "select 1 as id, 'first' as v",
    "models/staging/oslo.sql": "select id, name from raw.people where city = 'oslo'",
    "models/staging/oslo.yml": "materialized: view\n",
    "models/staging/labels.sql": "select id, name || '@' || city as label from raw.people",
    "models/staging/labels.yml": "materialized: ephemeral\n",
}


@dataclass
class Lake:
    """A built project and the places a payload must not touch."""

    project: Project
    root: Path
    canary: Path
    sentinel: Path
    data_file: str
    log_file: str
    outside_table: Path
    """A Delta table (namespace folder `outside`, table `secret`) beside the project, holding the
    canary: a name whose namespace is a path must not reach it."""


def build_lake(make_project: ProjectFactory, tmp_path: Path) -> Lake:
    """The project, built twice (core.events has versions 0 and 1), a canary file and a sentinel
    folder outside the warehouse."""
    project = make_project(LAKE)
    assert project.run().status == "success"
    write_files(project.root, {"models/core/events.sql": "select 2 as id, 'second' as v"})
    project.reload()
    assert project.run(select=["core.events"]).status == "success"
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "canary.csv"
    canary.write_text(f"secret\n{CANARY}\n", encoding="utf-8")
    (project.root / "canary.csv").write_text(f"secret\n{CANARY}\n", encoding="utf-8")
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    snapshot = project.store.snapshot(TableRef("core", "by_city"))
    log = Path(snapshot.location) / "_delta_log" / f"{snapshot.version:020d}.json"
    secret = outside / "secret"
    write_deltalake(str(secret), pa.table({"secret": [CANARY]}))
    return Lake(project, tmp_path, canary, sentinel, snapshot.files[0].path, str(log), secret)


@dataclass(frozen=True)
class Payload:
    family: str
    sql: str
    harmless: bool = False
    """May execute: what looks dangerous sits in a comment or a string."""


def evil_statements(lake: Lake) -> list[str]:
    """Statements that write, change settings, attach, load or reach outside."""
    out, warehouse = lake.sentinel, lake.project.definition.warehouse
    return [
        "DROP TABLE core.by_city",
        "DROP VIEW staging.oslo",
        "DROP SCHEMA core CASCADE",
        "DELETE FROM raw.people",
        "UPDATE raw.people SET name = 'x'",
        "INSERT INTO raw.people VALUES (9, 'eve', 'x')",
        "TRUNCATE raw.people",
        "MERGE INTO raw.people USING raw.people s ON false WHEN NOT MATCHED THEN INSERT *",
        "CREATE TABLE pwn AS SELECT 1",
        "CREATE OR REPLACE VIEW core.by_city AS SELECT 'pwned' AS city",
        "CREATE MACRO m(x) AS x",
        "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
        "CREATE SEQUENCE s",
        "ALTER TABLE raw.people RENAME TO gone",
        "ATTACH ':memory:' AS m",
        f"ATTACH '{out}/evil.duckdb' AS evil",
        f"ATTACH '{lake.canary}' AS c (TYPE sqlite)",
        "DETACH memory",
        "USE memory",
        f"COPY (SELECT 1) TO '{out}/out.csv'",
        f"COPY raw.people TO '{out}/people.parquet' (FORMAT parquet)",
        f"COPY (SELECT 'pwned') TO '{warehouse}/core/by_city/pwn.parquet'",
        f"COPY (SELECT 1) TO '{lake.data_file}'",
        f"COPY (SELECT 'pwned') TO '{lake.data_file}' (FORMAT parquet, USE_TMP_FILE false)",
        f"COPY raw.people FROM '{lake.canary}'",
        f"EXPORT DATABASE '{out}/export'",
        f"IMPORT DATABASE '{out}'",
        "INSTALL httpfs",
        "FORCE INSTALL httpfs",
        "INSTALL spatial FROM community",
        "LOAD httpfs",
        f"LOAD '{out}/evil.duckdb_extension'",
        "PRAGMA version",
        "PRAGMA enable_profiling",
        "PRAGMA database_list",
        f"PRAGMA import_database('{out}')",
        "SET enable_external_access = true",
        "SET threads = 64",
        "SET memory_limit = '100GB'",
        "SET allowed_directories = ['/']",
        "SET lock_configuration = false",
        f"SET GLOBAL temp_directory = '{out}'",
        "SET VARIABLE v = 1",
        "RESET threads",
        "CALL pragma_version()",
        "CALL enable_logging()",
        "CHECKPOINT",
        "FORCE CHECKPOINT",
        "VACUUM",
        "ANALYZE",
        "BEGIN TRANSACTION",
        "COMMIT",
        "PREPARE p AS SELECT 1",
        "EXECUTE p",
        "EXPLAIN ANALYZE SELECT 1",
        "SUMMARIZE core.by_city",
        *METADATA_STATEMENTS,
    ]


METADATA_STATEMENTS = ["DESCRIBE core.by_city", "SHOW TABLES"]
"""Statements the read-only path answers on its own (from tables it builds, not the engine's
catalog) when they stand alone; stacked, nested or disguised they are refused like the rest."""


def statement_payloads(lake: Lake) -> Iterator[Payload]:
    """Every evil statement alone, stacked, broken out of a string, behind comments, in a CTE."""
    for evil in evil_statements(lake):
        alone = evil in METADATA_STATEMENTS
        yield Payload("statement", evil, harmless=alone)
        yield Payload("statement", f"  \n\t{evil.lower()} ;", harmless=alone)
        yield Payload("stacked", f"SELECT 1; {evil}")
        yield Payload("stacked", f"{evil}; SELECT 1")
        yield Payload("stacked", f"select * from core.by_city;{evil};")
        yield Payload("breakout", f"select * from core.by_city where city = 'x'; {evil}; --'")
        yield Payload("breakout", f"select * from core.by_city where city = 'x' OR 1=1; {evil} --")
        yield Payload("comment", f"select 1 /* x */; {evil} -- hidden")
        yield Payload("comment", f"select 1 -- line\n; {evil}")
        yield Payload("comment", f"select 1 -- */ ; {evil}", harmless=True)
        yield Payload("comment", f"/* {evil.replace('*/', '')} */ select 1", harmless=True)
        yield Payload("quoting", f"select $${evil}$$ as s", harmless=True)
        yield Payload("nested", f"with x as ({evil}) select * from x")
        yield Payload("nested", f"select * from ({evil})")
        yield Payload("nested", f"select (select 1 from ({evil}) q) as s")


def dml_returning_payloads() -> Iterator[Payload]:
    """DML in the positions DuckDB accepts a query: CTEs and subqueries with RETURNING."""
    for dml in (
        "DELETE FROM raw.people RETURNING *",
        "UPDATE raw.people SET name = 'x' RETURNING *",
        "INSERT INTO raw.people VALUES (9, 'eve', 'x') RETURNING *",
        "INSERT INTO raw.people SELECT * FROM raw.people RETURNING id",
    ):
        yield Payload("dml-in-query", f"WITH x AS ({dml}) SELECT * FROM x")
        yield Payload("dml-in-query", f"SELECT * FROM ({dml}) AS x")
        yield Payload("dml-in-query", f"SELECT * FROM core.by_city WHERE EXISTS ({dml})")
        yield Payload("dml-in-query", f"with recursive r as ({dml}) from r")


FILE_FUNCTIONS = [
    "read_csv({p})",
    "read_csv_auto({p})",
    "read_csv({p}, sep = ':', header = false)",
    "read_parquet({p})",
    "parquet_scan({p})",
    "read_json({p})",
    "read_json_auto({p})",
    "read_ndjson({p})",
    "read_json_objects({p})",
    "read_text({p})",
    "read_blob({p})",
    "glob({p})",
    "sniff_csv({p})",
    "parquet_metadata({p})",
    "parquet_schema({p})",
    "parquet_kv_metadata({p})",
    "read_duckdb({p})",
]
META_FUNCTIONS = [
    "duckdb_settings()",
    "duckdb_secrets()",
    "duckdb_extensions()",
    "duckdb_databases()",
    "duckdb_views()",
    "duckdb_functions()",
    "duckdb_temporary_files()",
    "duckdb_logs()",
    "pragma_version()",
    "pragma_database_list()",
    "pragma_table_info('core.by_city')",
    "which_secret('s3://bucket/x', 's3')",
    "checkpoint()",
    "force_checkpoint()",
    "enable_logging()",
    "query('select * from read_csv(''{c}'')')",
    "query_table('core.by_city')",
    "json_execute_serialized_sql(json_serialize_sql('select 1'))",
    "test_all_types()",
    "repeat_row(1, num_rows = 3)",
    "summary(select 1)",
    "histogram(raw.people, id)",
]
SCALAR_FUNCTIONS = [
    "current_setting('threads')",
    "current_setting('allowed_paths')",
    "getenv('HOME')",
    "getvariable('v')",
    "nextval('s')",
    "setseed(0.5)",
    "sleep_ms(1)",
    "pg_sleep(0.001)",
    "write_log('x')",
    "pg_get_viewdef(1)",
    "json_serialize_plan('select * from read_csv(''{c}'')')",
    "json_deserialize_sql(json_serialize_sql('select 1'))",
]
POSITIONS = [
    "select * from {t}",
    "from {t}",
    "select (select count(*) from {t}) as n",
    "select * from core.by_city where city in (select * from {t})",
    "with c as (select * from {t}) select * from c",
    "select * from core.by_city, lateral (select * from {t}) x",
    "select * from core.by_city join {t} on true",
    "select city from core.by_city union all select * from {t}",
    "select * from core.by_city where exists (from {t})",
    "select * from core.by_city order by (select count(*) from {t})",
]
SCALAR_POSITIONS = [
    "select {f}",
    "select * from core.by_city where {f} is not null",
    "select * from core.by_city order by {f}",
    "with c as (select {f} as v) select * from c",
    "select city, count(*) from core.by_city group by city having max({f}) is null",
    "select * from core.by_city, lateral (select {f}) x",
]


def function_payloads(lake: Lake) -> Iterator[Payload]:
    """File readers at many paths, meta table functions and scalar functions in every clause."""
    warehouse = lake.project.definition.warehouse
    paths = [
        "/etc/passwd",
        str(lake.canary),
        f"{lake.canary.parent}/*",
        "canary.csv",
        "../outside/canary.csv",
        f"file://{lake.canary}",
        lake.data_file,
        lake.log_file,
        f"{warehouse}/**/*.parquet",
        "http://127.0.0.1:9/x.csv",
        "~/.bashrc",
    ]
    for index, function in enumerate(FILE_FUNCTIONS):
        for number, path in enumerate(paths):
            position = POSITIONS[(index + number) % len(POSITIONS)]
            call = function.format(p=f"'{path}'")
            yield Payload("file-function", position.format(t=call))
        yield Payload("file-function", f"select * from {function.format(p=repr(['/etc/passwd']))}")
    for path in paths:
        yield Payload("file-path", f"select * from '{path}'")
        yield Payload("file-path", f'from "{path}"')
    relative = os.path.relpath(lake.outside_table.parent, warehouse)
    for namespace in (str(lake.outside_table.parent), relative, f"core/{relative}", "/etc", ".."):
        for position in POSITIONS[:4]:
            yield Payload("namespace-path", position.format(t=f'"{namespace}".secret'))
        yield Payload("namespace-path", f'select * from "{namespace}"."passwd"')
    yield Payload("namespace-path", 'select * from "core"."../../outside/secret"')
    yield Payload("namespace-path", 'select * from core."by_city/../../../outside/secret"')
    for function in META_FUNCTIONS:
        call = function.format(c=lake.canary)
        for position in POSITIONS[:6]:
            yield Payload("meta-function", position.format(t=call))
    for function in SCALAR_FUNCTIONS:
        call = function.format(c=lake.canary)
        for position in SCALAR_POSITIONS:
            yield Payload("scalar-function", position.format(f=call))
    for table in METADATA_VIEWS:
        yield Payload("system-table", f"select * from {table}", harmless=True)
    for table in (
        "information_schema.views",
        "information_schema.key_column_usage",
        "system.information_schema.tables",
        "memory.information_schema.columns",
        "pg_catalog.pg_class",
        "system.main.duckdb_tables",
        "duckdb_tables",
        "temp.main.x",
        "memory.main.people",
    ):
        yield Payload("system-table", f"select * from {table}")


METADATA_VIEWS = [
    "information_schema.tables",
    "information_schema.columns",
    "information_schema.schemata",
]
"""The only system tables a query may read: built from the project's tables by the query."""


def variant_payloads(lake: Lake) -> Iterator[Payload]:
    """Case, whitespace, comment, quoting and unicode variants of a few dangerous queries."""
    canary = str(lake.canary)
    bases = [
        f"select * from read_csv('{canary}')",
        f"select * from read_text('{canary}')",
        "select * from glob('/etc/*')",
        f"select 1; copy (select 1) to '{lake.sentinel}/v.csv'",
        "select 1; attach ':memory:' as m",
        "select 1; drop table core.by_city",
        "select current_setting('threads')",
        "select * from duckdb_settings()",
    ]
    transforms: list[tuple[str, Callable[[str], str]]] = [
        ("upper", str.upper),
        ("mixed", lambda s: "".join(c.upper() if i % 2 else c for i, c in enumerate(s))),
        ("tabs", lambda s: s.replace(" ", "\t\n ")),
        ("comments", lambda s: s.replace(" ", "/**/").replace("(", "/* x */(")),
        ("quoted-name", _quote_functions),
        ("schema", lambda s: _qualify_functions(s, "main.")),
        ("catalog", lambda s: _qualify_functions(s, "system.main.")),
        ("fullwidth", _fullwidth_words),
        ("nbsp", lambda s: s.replace(" ", "\u00a0")),
        ("zero-width", lambda s: s.replace("read", "re\u200bad").replace("drop", "dr\u200bop")),
        ("homoglyph", lambda s: s.replace("a", "\u0430")),  # Cyrillic a
        ("long-s", lambda s: s.replace("s", "\u017f")),
        ("line-sep", lambda s: s.replace(" ", "\u2028")),
        ("bom", lambda s: "\ufeff" + s),
        ("nul", lambda s: s.replace(";", "\x00;")),
        ("backslash", lambda s: s.replace("'", "\\'")),
        ("e-string", lambda s: s.replace("'", "E'", 1)),
    ]
    for base in bases:
        for name, transform in transforms:
            yield Payload(f"variant-{name}", transform(base))
    spaces = ["\u200b", "\u2060", "\ufeff", "\u00a0", "\u2003", "\u3000"]
    for z in spaces:  # the engine reads these as spaces; sqlglot keeps some inside names
        for sql in (
            f"select content{z}from{z}read_text('{canary}')",
            f"select *{z}from{z}read_csv('{canary}')",
            f"select content{z}from{z}read_blob('{lake.data_file}')",
            f"select 1{z}as{z}x,{z}*{z}from{z}duckdb_settings()",
            f"select * from core.by_city c{z}join{z}glob('/etc/*') on true",
            f"select 1;{z}drop{z}table{z}core.by_city",
            f"select current_setting{z}('threads')",
        ):
            yield Payload("invisible-space", sql)
    tricks = [  # (sql, harmless: the statement words sit inside a string or a name)
        ("select 'a'';' || (select 1); drop table core.by_city; --'", False),
        ('select "a""; drop table core.by_city; --" from core.by_city', True),
        ("select E'\\'; drop table core.by_city; --'", True),
        ("select $x$ $$; drop table core.by_city; $x$", True),
        ("select $x$; drop table core.by_city; --", False),
        ("select 1 /* /* nested */ ; drop table core.by_city; */", True),
        ("select 1 /* unterminated ; drop table core.by_city", True),
        ("select '\\'; drop table core.by_city; --'", False),
        ("select U&'\\0027; drop table core.by_city; --'", True),
        ('select * from "core"."by_city"; drop table core.by_city', False),
        ("select * from core.by_city where city = '' or ''='' ; delete from raw.people", False),
        ("select chr(39) || '; drop table core.by_city'", True),
    ]
    for sql, harmless in tricks:
        yield Payload("quoting", sql, harmless)


def _quote_functions(sql: str) -> str:
    for name in ("read_csv", "read_text", "glob", "current_setting", "duckdb_settings"):
        sql = sql.replace(f"{name}(", f'"{name}"(')
    return sql


def _qualify_functions(sql: str, prefix: str) -> str:
    for name in ("read_csv", "read_text", "glob", "current_setting", "duckdb_settings"):
        sql = sql.replace(f"{name}(", f"{prefix}{name}(")
    return sql


def _fullwidth_words(sql: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in sql)


def all_payloads(lake: Lake) -> list[Payload]:
    found = [
        *statement_payloads(lake),
        *dml_returning_payloads(),
        *function_payloads(lake),
        *variant_payloads(lake),
    ]
    return list(dict.fromkeys(found))


def disk_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and modification time."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def table_versions(project: Project) -> dict[str, int | None]:
    return {key: project.store.current_version(TableRef.parse(key)) for key in TABLES}


RUNAWAYS = [
    "select count(*) from range(1000000000) a, range(1000000000) b",
    "select a.range from range(1000000000) a, range(1000000000) b order by 1 desc limit 1",
    "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r",
    "select count(*) from core.by_city, range(1000000000) a, range(1000000000) b",
]


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `share` of samples <= it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
