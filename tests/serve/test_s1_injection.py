"""S1 of RELIABILITY.md against `headwater serve`: 500+ SQL-injection payloads through every
endpoint that takes SQL or identifiers, over HTTP and over the PostgreSQL protocol.

The server runs as a real `headwater serve` process. The caller is a user whose role grants
the lake's tables but not `raw.vault`, a seed whose rows hold a canary; another canary sits in a
file and a Delta table outside the warehouse. Pass: nothing executes (no file written or read,
no ATTACH, COPY, INSTALL/LOAD or stacked statement, the tables keep their versions, a sentinel
folder stays empty), no response carries a canary, and `raw.vault` answers every name, listing
and path exactly like a table that does not exist.

Endpoints: `POST /api/query` (SQL and parameters), `GET /api/query?sql=`, the web UI's
`GET /api/query.csv`, the table read routes (`GET /api/tables/{table}/rows`: table, `columns`,
`order`, filter keys and values), and the PostgreSQL protocol through psycopg in the simple
query protocol (no parameters, `prepare=False`) and the extended one (a prepared statement, and
parameters). Every test runs twice: with the tables read from Delta, and with them (the hidden
one included) in the serving cache, whose database answers the queries that name only them.
Over PostgreSQL, a message of several statements runs them one by one, which is allowed when
each is a session command or a query the guarded path runs on its own; catalog queries are
answered by the protocol's own catalog database, which must list no hidden table.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import psycopg
import pytest

from headwater import Project
from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, running_server
from tests.support.sql_payloads import (
    CANARY,
    POSITIONS,
    Lake,
    Payload,
    all_payloads,
    build_lake,
    table_versions,
)

VAULT_CANARY = "vault_canary_41d8e2"
VAULT = {"seeds/vault.csv": f"id,secret\n1,{VAULT_CANARY}\n2,{VAULT_CANARY}_two\n"}
SERVE = """
serve:
  roles:
    reader:
      read: ["core.*", raw.people, "staging.*"]
  limits:
    timeout: 10s
    max_rows: 100
"""
CACHED = """
  tables:
    core.by_city: {keys: [city], cache: true}
    core.events: {keys: [id], cache: true}
    raw.people: {keys: [id], cache: true}
    raw.vault: {keys: [id], cache: true}
"""
"""The same tables held in the serving cache: queries naming only them run in its database."""
PASSWORD = "reader-password-1"
GUARD_S = 300.0
"""Only a guard against hanging forever."""
NOSUCH = "raw.vaulz"
"""A table that does not exist, named like the hidden one: each must be answered alike."""


@dataclass
class Attack:
    """The lake, the running server and the reader who attacks it."""

    lake: Lake
    server: RunningServer
    token: str
    store: str
    """`delta` (queries read the Delta tables) or `cache` (the serving cache holds them)."""

    @property
    def warehouse(self) -> str:
        return str(self.lake.project.definition.warehouse)

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=120,
        )

    def pg(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.server.pg_dsn("reader", PASSWORD), autocommit=True, connect_timeout=60
        )


@pytest.fixture(scope="module", params=["delta", "cache"])
def attack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Attack]:
    """The attack lake (tests.support.sql_payloads) with a hidden `raw.vault`, served from
    the Delta tables or from the serving cache."""
    store = str(request.param)
    base = tmp_path_factory.mktemp(f"s1{store}")
    opened: list[Project] = []
    serve = SERVE + (CACHED if store == "cache" else "")

    def factory(files: dict[str, str], folder: str = "proj", config: str = "") -> Project:
        root = base / folder
        write_files(root, {"headwater.yml": f"name: s1\nthreads: 2\n{serve}", **files, **VAULT})
        project = Project(root)
        opened.append(project)
        return project

    lake = build_lake(factory, base)
    root = lake.project.root
    token = add_user(root, "reader", "reader", password=PASSWORD)
    with running_server(root, pg=True) as server:
        attack = Attack(lake, server, token, store)
        if store == "cache":
            wait_for_the_cache(attack)
        yield attack
    for project in opened:
        project.close()


def wait_for_the_cache(attack: Attack) -> None:
    """Poll until the cached tables are loaded (a page says it was read from the cache)."""
    deadline = time.monotonic() + GUARD_S
    with attack.http() as http:
        while time.monotonic() < deadline:
            sources = {
                http.get(f"/api/tables/{t}/rows").headers.get("x-headwater-source")
                for t in ("core.by_city", "core.events", "raw.people")
            }
            if sources == {"cache"}:
                return
            time.sleep(0.1)
    raise AssertionError("the serving cache did not load")


def disk_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` with its size and modification time, but the catalog's SQLite
    files: the query log appends to them with every query."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and not re.search(r"\.headwater/catalog\.db", str(p))
    }


# -- payloads of this suite, beside the shared ones ------------------------------------------


def vault_payloads(attack: Attack) -> list[Payload]:
    """Every way to name, list, describe or read the hidden table and its files."""
    warehouse = attack.warehouse
    names = [
        "raw.vault",
        "vault",
        '"raw"."vault"',
        'raw."vault"',
        "RAW.VAULT",
        '"RAW"."VAULT"',
        "raw . vault",
        "raw/**/.vault",
        '"raw.vault"',
        "memory.raw.vault",
        "main.raw.vault",
        "s1.raw.vault",
        "raw.vault_v0",
        'raw."vault" as core',
    ]
    found: list[Payload] = []
    for name in names:
        for position in POSITIONS:
            found.append(Payload("vault-name", position.format(t=name)))
    for sql in [
        "select * from core.by_city where city in (select secret from raw.vault)",
        "select (select secret from raw.vault limit 1) as s",
        "select * from raw.people union all select id, secret, secret from raw.vault",
        "with vault as (select * from raw.vault) select * from vault",
        "with raw as (select 1) select * from raw.vault",
        # a CTE of another subquery does not make its name a CTE out here: the outer name is
        # a table (the engine's own catalog views, the cache's tables), and must resolve
        *[
            f"select x.* from raw.people, (with {n} as (select 1) select * from {n}) s, {n} x"
            for n in (
                "duckdb_tables",
                "duckdb_settings",
                "sqlite_master",
                "pg_settings",
                "duckdb_views",
                "duckdb_databases",
            )
        ],
        "select v.* from (with vault as (select 1) select * from vault) s, vault v",
        "select * from (with vault as (select 1) select * from vault) "
        "union all select * from vault",
        "with a as (select * from vault), vault as (select 1) select * from a",
        "select * from raw.people p join raw.vault v using (id)",
        "select * from raw.people where exists (select 1 from raw.vault where secret like 'v%')",
        "select count(*) from raw.vault",
        "describe raw.vault",
        "describe select * from raw.vault",
        "show raw.vault",
        "summarize raw.vault",
        "select * from raw.vault limit 0",
        "select * from raw.vault at (version => 0)",
        "select * from (from raw.vault)",
        "from raw.vault select secret",
        "select * from raw.vaul",
        "select * from raw.vaults",
        "select * from vaul",
        "select secret from raw.people",
        f"select * from read_parquet('{warehouse}/raw/vault/*.parquet')",
        f"select * from read_parquet('{warehouse}/raw/vault/**/*.parquet')",
        "select * from read_parquet('warehouse/raw/vault/*.parquet')",
        f"select * from '{warehouse}/raw/vault/*.parquet'",
        f"select * from delta_scan('{warehouse}/raw/vault')",
        f'select * from "{warehouse}/raw".vault',
        'select * from "warehouse/raw".vault',
        f"select * from read_text('{warehouse}/raw/vault/_delta_log/00000000000000000000.json')",
        "select * from query_table('raw.vault')",
        "select * from query('select * from raw.vault')",
        "select * from information_schema.columns where table_name = 'vault'",
        "select table_schema, table_name from information_schema.tables "
        "where table_name like '%vau%'",
        "select * from duckdb_tables() where table_name = 'vault'",
        "select * from pg_catalog.pg_class where relname = 'vault'",
        "select * from pg_catalog.pg_tables where tablename = 'vault'",
        "select * from pg_catalog.pg_stats where tablename = 'vault'",
        "select * from pg_catalog.pg_statistic",
        "select * from pg_catalog.pg_attribute a join pg_catalog.pg_class c "
        "on a.attrelid = c.oid where c.relname = 'vault'",
        "select attname from pg_attribute where attrelid = 'raw.vault'::regclass",
        "select 'raw.vault'::regclass",
        "select to_regclass('raw.vault')",
        "select has_table_privilege('raw.vault', 'select')",
        "select pg_relation_size('raw.vault')",
        "select * from pg_catalog.pg_authid",
        "select * from pg_catalog.pg_shadow",
        "select * from pg_catalog.pg_user",
        "select usename, passwd from pg_catalog.pg_user",
        "select rolname, rolpassword from pg_catalog.pg_roles",
        "select * from pg_catalog.pg_stat_activity",
        "select pg_read_file('/etc/passwd')",
        f"select pg_read_file('{attack.lake.canary}')",
        "select pg_ls_dir('.')",
        f"select lo_import('{attack.lake.canary}')",
        "select current_setting('data_directory')",
        "select set_config('search_path', 'raw', false)",
        "select dblink('host=127.0.0.1', 'select 1')",
        "create extension dblink",
        f"copy (select * from raw.vault) to '{attack.lake.sentinel}/vault.csv'",
        f"copy raw.people to program 'touch {attack.lake.sentinel}/program'",
        "copy (select * from raw.vault) to stdout",
        "copy raw.people to stdout",
        "copy raw.people from stdin",
        "do $$ begin perform 1; end $$",
        "declare c cursor for select * from raw.vault",
        "declare c cursor with hold for select * from raw.vault",
        "explain select * from raw.vault",
        "explain analyze select * from raw.people",
        "prepare p as select * from raw.vault",
        "listen vault",
        "notify vault, 'x'",
        "set search_path = raw",
        "set role admin",
        "set session authorization admin",
        "reset all",
        "show all",
        "grant select on raw.vault to reader",
        "alter user reader with superuser",
        "create user eve password 'x'",
        "vacuum raw.vault",
        "lock table raw.vault",
    ]:
        harmless = sql in SAME_AS_MISSING or sql in PG_SAME_AS_MISSING
        found.append(Payload("vault", sql, harmless=harmless))
    return found


def catalog_payloads(attack: Attack) -> list[Payload]:
    """Queries about PostgreSQL's catalog (answered by the PostgreSQL face from a database of
    its own) carrying something else: files, settings, data, statements, internals."""
    lake = attack.lake
    canary, sentinel = lake.canary, lake.sentinel
    relations = [
        "pg_catalog.pg_class",
        "pg_catalog.pg_namespace",
        "pg_catalog.pg_attribute",
        "pg_catalog.pg_type",
        "pg_catalog.pg_settings",
        "information_schema.tables",
        "information_schema.columns",
    ]
    riders = [
        "read_csv('/etc/passwd')",
        f"read_text('{canary}')",
        f"read_blob('{lake.data_file}')",
        "glob('/etc/*')",
        "duckdb_settings()",
        "duckdb_tables()",
        "duckdb_databases()",
        "raw.vault",
        "core.by_city",
        "hw_pg_catalog.pg_class",
        "memory.main.x",
    ]
    found = []
    for index, relation in enumerate(relations):
        for number, rider in enumerate(riders):
            shape = [
                "select * from {r}, {x}",
                "select * from {r} where exists (select 1 from {x})",
                "select (select count(*) from {x}) as n, * from {r}",
                "select * from {r} union all select * from {x}",
            ][(index + number) % 4]
            sql = shape.format(r=relation, x=rider)
            found.append(Payload("pg-catalog", sql, harmless=rider == "core.by_city"))
    for relation in relations:
        for scalar in [
            "getenv('HOME')",
            "current_setting('threads')",
            "current_setting('memory_limit')",
            "pg_read_file('/etc/passwd')",
            f"(select content from read_text('{canary}'))",
            "(select secret from raw.vault limit 1)",
            "(select count(*) from core.by_city)",
            "query('select 1')",
            "json_serialize_sql('select 1')",
        ]:
            sql = f"select {scalar} as v from {relation} limit 1"
            found.append(Payload("pg-catalog", sql, harmless="core.by_city" in scalar))
        found.append(Payload("pg-catalog", f"select * from {relation}; drop table core.by_city"))
        found.append(
            Payload("pg-catalog", f"copy (select * from {relation}) to '{sentinel}/catalog.csv'")
        )
        found.append(
            Payload(
                "pg-catalog", f"with x as (select * from {relation}) select * from x, raw.vault"
            )
        )
    for internal in [
        "hw_pg_catalog.pg_class",
        "hw_information_schema.tables",
        "memory.hw_pg_catalog.pg_class",
        "hw.pg_get_userbyid(10)",
        "system.main.duckdb_settings()",
    ]:
        found.append(Payload("pg-catalog", f"select * from {internal}"))
    found.append(
        Payload(
            "pg-catalog",
            "select * from pg_catalog.pg_class, pg_catalog.pg_class a, "
            "pg_catalog.pg_class b, pg_catalog.pg_class c, pg_catalog.pg_attribute d",
        )
    )
    found.append(Payload("pg-catalog", "attach ':memory:' as hw_pg_catalog"))
    # pg_class unqualified is PostgreSQL's, whatever the search path: the emulation answers it
    found.append(
        Payload("pg-catalog", "set search_path = hw_pg_catalog; select * from pg_class", True)
    )
    return found


PG_EMULATED = re.compile(r"current_setting|pg_get_viewdef|information_schema|pg_catalog", re.I)
"""What the PostgreSQL face answers from the session and its catalog database, never from
the engine: PostgreSQL's settings (`current_setting('threads')` is not one: NULL) and catalog
relations, listing only tables the caller may read."""
DANGER = re.compile(
    r"read_|glob|copy|attach|duckdb_|getenv|query|load|install|export|import|pragma|sniff|"
    r"parquet_|vault|drop|delete|insert|update|create|alter|\bset\b|/etc|canary|by_city|hw_",
    re.I,
)


def emulated_over_pg(payload: Payload, outcome: Outcome) -> bool:
    """A payload the PostgreSQL face may answer from its catalog emulation: it names only
    PostgreSQL's catalog and settings, and the answer carries no setting of the engine."""
    text = unicodedata.normalize("NFKC", payload.sql)
    if not PG_EMULATED.search(text) or DANGER.search(text):
        return False
    if "current_setting" in text.lower():
        return re.fullmatch(r"SELECT \d+ \[(\(None,\)(, )?)+\] ?", outcome.text) is not None
    return True


SAME_AS_MISSING = {
    "select * from information_schema.columns where table_name = 'vault'",
    "select table_schema, table_name from information_schema.tables where table_name like '%vau%'",
    "select has_table_privilege('raw.vault', 'select')",
}
"""Vault payloads that may answer: with what a table that does not exist gets (checked in
`test_s1_the_hidden_table_is_answered_like_a_table_that_does_not_exist`)."""
PG_SAME_AS_MISSING = {
    "select * from pg_catalog.pg_class where relname = 'vault'",
    "select * from pg_catalog.pg_tables where tablename = 'vault'",
    "select * from pg_catalog.pg_stats where tablename = 'vault'",
    "select * from pg_catalog.pg_attribute a join pg_catalog.pg_class c "
    "on a.attrelid = c.oid where c.relname = 'vault'",
    "select to_regclass('raw.vault')",
    "select pg_relation_size('raw.vault')",
}
"""The same, over the PostgreSQL protocol (whose catalog emulation answers them)."""


def listing_payloads() -> list[str]:
    """Queries that list tables: they may answer, but never with the hidden table in them."""
    return [
        "select * from information_schema.tables",
        "select * from information_schema.columns",
        "select * from information_schema.schemata",
        "show tables",
        "describe core.by_city",
    ]


PG_LISTINGS = [
    "select relname from pg_catalog.pg_class",
    "select n.nspname, c.relname from pg_catalog.pg_class c "
    "join pg_catalog.pg_namespace n on n.oid = c.relnamespace",
    "select attname from pg_catalog.pg_attribute",
    "select table_schema, table_name from information_schema.tables",
    "select table_name, column_name from information_schema.columns",
    "select schemaname, tablename from pg_catalog.pg_tables",
]


# -- outcomes --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one endpoint answered to one payload."""

    kind: str
    """`executed` (rows or a result), `refused` (a clean error), `broken` (anything else)."""
    text: str
    """Everything the client received: body and headers, rows, error, notices."""
    code: str = ""
    """The HTTP status or the SQLSTATE."""


def over_http(response: httpx.Response) -> Outcome:
    text = response.text + json.dumps(dict(response.headers))
    if response.status_code == 200:
        return Outcome("executed", text, "200")
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return Outcome("broken", text, str(response.status_code))
        answered = isinstance(body, dict) and (body.get("error") or body.get("detail"))
        kind = "refused" if answered else "broken"
        return Outcome(kind, text, str(response.status_code))
    return Outcome("broken", text, str(response.status_code))


class PgClient:
    """A psycopg connection that survives a payload that closes it, recording notices."""

    def __init__(self, attack: Attack) -> None:
        self.attack = attack
        self.notices: list[str] = []
        self.reconnects = 0
        self.connection = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = self.attack.pg()
        connection.add_notice_handler(lambda d: self.notices.append(str(d.message_primary)))
        return connection

    def run(self, sql: str, *, prepare: bool, params: list[Any] | None = None) -> Outcome:
        """Run `sql` in the simple protocol (`prepare=False`, no params) or the extended one."""
        self.notices.clear()
        if self.connection.closed:
            self.reconnects += 1
            self.connection = self._connect()
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql.encode(), params, prepare=prepare)
                rows = cursor.fetchall() if cursor.description is not None else None
                status = cursor.statusmessage or ""
                while cursor.nextset():
                    more = cursor.fetchall() if cursor.description is not None else None
                    rows = (rows or []) + (more or [])
        except psycopg.DataError as exc:  # NUL in the text: refused by the client itself
            if "\x00" in sql or "NUL" in str(exc):
                return Outcome("refused", str(exc), "client")
            return Outcome("refused", str(exc) + " ".join(self.notices), exc.sqlstate or "")
        except psycopg.OperationalError as exc:
            closed = self.connection.closed
            text = str(exc) + " ".join(self.notices)
            if closed:
                return Outcome("broken", "connection lost: " + text, exc.sqlstate or "")
            return Outcome("refused", text, exc.sqlstate or "")
        except psycopg.Error as exc:
            text = str(exc) + " ".join(self.notices)
            kind = "refused" if exc.sqlstate else "broken"
            return Outcome(kind, text, exc.sqlstate or "")
        return Outcome("executed", f"{status} {rows!r} {' '.join(self.notices)}", status)

    def close(self) -> None:
        self.connection.close()


SESSION_COMMANDS = re.compile(
    r"^\s*(begin|start\s+transaction|commit|end|rollback|abort|set|reset|show|discard|"
    r"deallocate|close|listen|unlisten|notify)\b",
    re.IGNORECASE,
)
"""Statements the PostgreSQL face answers as session bookkeeping, without the engine (a BI
tool sends them on every connection)."""


def split_statements(sql: str) -> list[str] | None:
    """The statements of `sql` as DuckDB's parser splits it (None when it cannot)."""
    try:
        return [s.query.strip().rstrip(";").strip() for s in duckdb.extract_statements(sql)]
    except duckdb.Error:  # PostgreSQL's own statements (LISTEN, SET ROLE, ...): one, unquoted
        plain = sql.strip().rstrip(";")
        return None if re.search(r"[;'\"$]|--|/\*", plain) else [plain]


def allowed_over_pg(payload: Payload, runs_alone: Callable[[str], bool]) -> bool:
    """Whether a payload the PostgreSQL face answered without an error ran only what it may.

    The simple query protocol carries several statements in one message, and the server runs
    them one by one: that is allowed when each is a session command (answered without the
    engine) or a query the guarded path runs on its own, so nothing else executed."""
    sent = payload.sql.split("\x00")[0]  # libpq sends the text up to a NUL
    statements = split_statements(sent)
    if not statements:
        return False
    return all(
        SESSION_COMMANDS.match(s) or runs_alone(s) or runs_alone(without_comments(s))
        for s in statements
    )


def without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL).strip()


# -- the suite -------------------------------------------------------------------------------


Send = Callable[[Payload], Outcome]


def endpoints(attack: Attack, http: httpx.Client, pg: PgClient | None) -> dict[str, Send]:
    found: dict[str, Send] = {
        "POST /api/query": lambda p: over_http(http.post("/api/query", json={"sql": p.sql})),
        "GET /api/query": lambda p: over_http(http.get("/api/query", params={"sql": p.sql})),
        "GET /api/query.csv": lambda p: over_http(
            http.get("/api/query.csv", params={"sql": p.sql})
        ),
    }
    if pg is not None:
        found["pg simple"] = lambda p: pg.run(p.sql, prepare=False)
        found["pg extended"] = lambda p: pg.run(p.sql, prepare=True)
    return found


def judge(
    attack: Attack,
    route: str,
    payload: Payload,
    outcome: Outcome,
    problems: list[str],
    runs_alone: Callable[[str], bool] | None = None,
) -> None:
    """Add what is wrong with `outcome` to `problems`."""
    pg = route.startswith("pg") and runs_alone is not None
    if outcome.kind == "broken":
        problems.append(
            f"{route}: broken answer {outcome.code} to {payload.sql!r}: {outcome.text[:300]}"
        )
    elif (
        outcome.kind == "executed"
        and not payload.harmless
        and not (
            pg
            and runs_alone is not None
            and (allowed_over_pg(payload, runs_alone) or emulated_over_pg(payload, outcome))
        )
    ):
        problems.append(f"{route} executed {payload.sql!r}: {outcome.text[:300]}")
    for canary in (CANARY, VAULT_CANARY):
        if canary in outcome.text:
            problems.append(f"{route} leaked {canary} for {payload.sql!r}")
    if "root:x:0:0" in outcome.text:
        problems.append(f"{route} read /etc/passwd for {payload.sql!r}")
    if "vault" in outcome.text.lower() and "vault" not in payload.sql.lower():
        problems.append(f"{route} named the hidden table for {payload.sql!r}: {outcome.text[:300]}")
    if "SCRAM-SHA-256$" in outcome.text or attack.token in outcome.text:
        problems.append(f"{route} leaked a credential for {payload.sql!r}")


def attack_state(attack: Attack) -> tuple[object, ...]:
    lake = attack.lake
    return (
        disk_state(lake.root),
        table_versions(lake.project),
        sorted(p.name for p in lake.sentinel.iterdir()),
    )


@pytest.mark.parametrize("route", ["http", "pg"])
def test_s1_every_payload_through_every_sql_endpoint_executes_nothing(
    attack: Attack, route: str
) -> None:
    payloads = all_payloads(attack.lake) + vault_payloads(attack) + catalog_payloads(attack)
    payloads = list(dict.fromkeys(payloads))
    assert len(payloads) >= 500, len(payloads)
    before = attack_state(attack)
    outcomes: Counter[tuple[str, str]] = Counter()
    problems: list[str] = []
    with attack.http() as http:
        reference = http.post("/api/query", json={"sql": "select * from core.by_city"}).json()
        pg = PgClient(attack) if route == "pg" else None
        sends = {
            name: send
            for name, send in endpoints(attack, http, pg).items()
            if name.startswith("pg") == (route == "pg")
            # on the cache, one endpoint per face: the others parse the same way
            and (attack.store == "delta" or name in ("POST /api/query", "pg extended"))
        }
        verdicts: dict[str, bool] = {}

        def runs_alone(sql: str) -> bool:
            if sql not in verdicts:
                response = http.post("/api/query", json={"sql": sql})
                verdicts[sql] = response.status_code == 200
            return verdicts[sql]

        try:
            for payload in payloads:
                for name, send in sends.items():
                    outcome = send(payload)
                    outcomes[(name, outcome.kind)] += 1
                    judge(attack, name, payload, outcome, problems, runs_alone)
        finally:
            if pg is not None:
                pg.close()
        after = http.post("/api/query", json={"sql": "select * from core.by_city"}).json()
    print(
        f"\nS1 ({route}, {attack.store}): {len(payloads)} payloads\n"
        + json.dumps({f"{r}: {k}": n for (r, k), n in sorted(outcomes.items())}, indent=1)
    )
    assert problems == [], "\n".join(problems[:50])
    assert attack_state(attack) == before
    assert after["rows"] == reference["rows"]
    assert attack.server.process.poll() is None  # the server is still up


def comparable(response: httpx.Response, name: str) -> object:
    """The body of `response` with the table's name blanked and the timing left out."""
    body = json.loads(response.text.replace(name, "NAME"))
    if isinstance(body, dict):
        body.pop("elapsed_ms", None)
    return body


def test_s1_the_hidden_table_is_answered_like_a_table_that_does_not_exist(
    attack: Attack,
) -> None:
    """For each way of reading it, `raw.vault` gets the very error of `raw.vaulz`, over HTTP
    (status and message) and the PostgreSQL protocol (SQLSTATE and message)."""
    positions = [
        *POSITIONS,
        "describe {t}",
        "select count(*) from {t}",
        "summarize {t}",
        *SAME_AS_MISSING,
        *PG_SAME_AS_MISSING,
    ]
    problems: list[str] = []
    with attack.http() as http, attack.pg() as pg:
        for position in positions:
            hidden = position.format(t="raw.vault") if "{t}" in position else position
            missing = hidden.replace("vault", "vaulz")
            a = http.post("/api/query", json={"sql": hidden})
            b = http.post("/api/query", json={"sql": missing})
            if (a.status_code, comparable(a, "vault")) != (b.status_code, comparable(b, "vaulz")):
                problems.append(f"http: {a.status_code} {a.text} vs {b.status_code} {b.text}")
            answers = []
            for sql in (hidden, missing):
                try:
                    pg.execute(sql).fetchall()
                    answers.append(("ok", ""))
                except psycopg.Error as exc:
                    answers.append((exc.sqlstate or "", str(exc)))
            (state_a, text_a), (state_b, text_b) = answers
            if state_a != state_b or text_a.replace("vault", "vaulz") != text_b:
                problems.append(f"pg: {answers}")
            answered = SAME_AS_MISSING | PG_SAME_AS_MISSING | {"summarize {t}"}
            if state_a != "42P01" and position not in answered:
                problems.append(f"pg: {hidden!r} answered {state_a}, not 42P01 undefined_table")
    assert problems == [], "\n".join(problems)


def test_s1_no_listing_shows_the_hidden_table(attack: Attack) -> None:
    with attack.http() as http, attack.pg() as pg:
        for sql in listing_payloads():
            response = http.post("/api/query", json={"sql": sql})
            assert response.status_code == 200, (sql, response.text)
            assert "vault" not in response.text, sql
            assert "city" in response.text or "core" in response.text, sql
        for sql in [*listing_payloads()[:3], *PG_LISTINGS]:  # SHOW TABLES is no PostgreSQL
            rows = pg.execute(sql).fetchall()
            assert rows and "vault" not in repr(rows), sql
            assert "city" in repr(rows) or "core" in repr(rows), (sql, rows)
        tables = http.get("/api/tables")
        if tables.status_code == 200:
            assert "vault" not in tables.text and "by_city" in tables.text


BREAKOUTS = [
    "x' or '1'='1",
    "x'; drop table core.by_city; --",
    "oslo' union select secret, 1 from raw.vault --",
    "') union all select * from read_csv('/etc/passwd') --",
    "\\'; copy (select 1) to '/tmp/x'; --",
    "$$; drop table core.by_city; $$",
    "$1",
    "?",
    "%s",
    "'||(select secret from raw.vault)||'",
    "\x27 or 1=1 --",
    "oslo\u2019 or 1=1 --",
    "oslo\\",
    "oslo'",
    "'" * 50,
    "x\u00a0or\u00a01=1",
]


def test_s1_a_parameter_is_a_literal_whatever_it_holds(attack: Attack) -> None:
    problems: list[str] = []
    with attack.http() as http, attack.pg() as pg:
        for value in BREAKOUTS:
            echo = http.post("/api/query", json={"sql": "select $1 as v", "params": [value]})
            if echo.status_code != 200 or echo.json()["rows"] != [[value]]:
                problems.append(f"http echo of {value!r}: {echo.status_code} {echo.text[:200]}")
            where = http.post(
                "/api/query",
                json={"sql": "select * from core.by_city where city = ?", "params": [value]},
            )
            if where.status_code != 200 or where.json()["rows"] != []:
                problems.append(f"http filter by {value!r}: {where.status_code} {where.text[:200]}")
            row = pg.execute("select %s::text as v", [value]).fetchone()
            if row != (value,):
                problems.append(f"pg echo of {value!r}: {row!r}")
            rows = pg.execute("select * from core.by_city where city = %s", [value]).fetchall()
            if rows != []:
                problems.append(f"pg filter by {value!r}: {rows!r}")
        oslo = http.post(
            "/api/query",
            json={"sql": "select people from core.by_city where city = $1", "params": ["oslo"]},
        )
        assert oslo.json()["rows"] == [[2]]
        assert pg.execute(
            "select people from core.by_city where city = %s", ["oslo"]
        ).fetchall() == [(2,)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "params",
    [
        {"0": "x"},
        "abc",
        [["x"]],
        [{"text": "1", "type": "INTEGER); drop table core.by_city; --"}],
        [{"$ne": 1}],
        ["a", "b"],
        [],
    ],
)
def test_s1_parameters_of_the_wrong_shape_are_refused(attack: Attack, params: object) -> None:
    with attack.http() as http:
        response = http.post("/api/query", json={"sql": "select $1 as v", "params": params})
    assert response.status_code == 400 and response.json()["error"], response.text


# -- the table read routes -------------------------------------------------------------------

IDENTIFIERS = [
    "raw.vault",
    "vault",
    "RAW.VAULT",
    "raw.vaulz",
    "core.by_city; drop table core.by_city",
    "core.by_city' or '1'='1",
    'core.by_city"; drop table core.by_city; --',
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "read_csv('/etc/passwd')",
    "core.by_city union select * from raw.vault",
    "(select * from raw.vault)",
    "core.by_city\x00.x",
    "1 or 1=1",
    "*",
    "+" * 500,
    "information_schema.tables",
    "pg_catalog.pg_class",
    "memory.raw.vault",
]
COLUMNS = [
    "city; drop table core.by_city",
    "(select secret from raw.vault)",
    "secret",
    "read_text('/etc/passwd')",
    "city) from raw.vault --",
    '"city"; --',
    "*",
    "city, (select 1)",
    "people/0",
    "current_setting('threads')",
]
ORDERS = [
    "city desc; drop table core.by_city",
    "(select secret from raw.vault)",
    "city, (select count(*) from read_csv('/etc/passwd'))",
    "1",
    "random()",
    "city collate nocase",
    "-city; --",
    "city desc nulls first limit 1",
]
FILTER_KEYS = [
    "city = 'oslo' or 1",
    "1=1 or city",
    "(select secret from raw.vault)",
    "secret",
    'city"; --',
    "city; drop table core.by_city",
]
OPERATORS = ["eq.{v}", "ne.{v}", "not.eq.{v}", "in.({v},x)", 'in.("{v}")', "like.*{v}*", "is.{v}"]
LIMITS = ["-1", "1e9", "10000000", "1; drop table core.by_city", "(select 1)", ""]
AS_OFS = ["0; drop table core.by_city", "'", "-1", "1900-01-01", "(select 1)", "latest"]
FORMATS = ["csv; drop table core.by_city", "../../etc/passwd", "duckdb", "json'"]


CITIES = {"oslo", "paris", "rome"}


def expected_cities(condition: str) -> set[str]:
    """The cities of core.by_city a filter `city=<condition>` matches when its value is taken
    literally (PostgREST's operators; `*` and SQL's `%`/`_` are the wildcards of `like`)."""
    operator, _, value = condition.partition(".")
    if operator == "not":
        return CITIES - expected_cities(value)
    if operator == "ne":
        return {c for c in CITIES if c != value}
    if operator == "like":
        pattern = "".join(
            ".*" if ch in "*%" else "." if ch == "_" else re.escape(ch) for ch in value
        )
        return {c for c in CITIES if re.fullmatch(pattern, c, re.DOTALL)}
    if operator == "in" and value.startswith("(") and value.endswith(")"):
        items = next(csv.reader([value[1:-1]], skipinitialspace=True))
        return {c for c in CITIES if c in {item.strip() for item in items}}
    return {c for c in CITIES if c == value}  # eq (is.<value> is refused)


def cursor(body: object) -> str:
    """A cursor as the API writes them (URL-safe base64 of JSON), holding `body`."""
    text = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def crafted_cursors() -> list[str]:
    found = [
        "not-a-cursor",
        "'; drop table core.by_city; --",
        base64.urlsafe_b64encode(b"{").decode(),
        cursor({"t": "raw.vault", "o": ["id"], "v": [0]}),
        cursor({"t": "core.by_city", "o": ["(select secret from raw.vault)"], "v": ["x"]}),
        cursor({"t": "core.by_city", "o": ["city"], "v": [{"$gt": ""}]}),
        cursor({"t": "core.by_city", "o": ["city"], "v": [["a"]]}),
        cursor({"t": "core.by_city", "o": ["city"], "v": ["a", "b"]}),
        cursor([1, 2, 3]),
    ]
    for value in BREAKOUTS:
        found.append(cursor({"t": "core.by_city", "o": ["city"], "v": [value]}))
        found.append(cursor({"t": "core.by_city", "o": ["people"], "v": [value]}))
    return found


def without_timing(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "elapsed_ms"}


def table_routes_exist(http: httpx.Client) -> bool:
    return http.get("/api/tables/core.by_city/rows").status_code == 200


def test_s1_identifiers_of_the_table_routes_are_names_never_sql(attack: Attack) -> None:
    problems: list[str] = []
    with attack.http() as http:
        assert table_routes_exist(http), "GET /api/tables/{table}/rows is not served"
        before = attack_state(attack)
        reference = without_timing(http.get("/api/tables/core.by_city/rows").json())
        requests: list[tuple[str, dict[str, str], bool]] = []
        for name in IDENTIFIERS:
            requests.append((f"/api/tables/{quote(name, safe='')}/rows", {}, False))
            requests.append((f"/api/tables/{quote(name, safe='')}", {}, False))
        for column in COLUMNS:
            requests.append(("/api/tables/core.by_city/rows", {"columns": column}, False))
        for order in ORDERS:
            requests.append(("/api/tables/core.by_city/rows", {"order": order}, False))
        rows = "/api/tables/core.by_city/rows"
        for key in FILTER_KEYS:
            requests.append((rows, {key: "eq.oslo"}, False))
        for value in BREAKOUTS:
            # a filter value is a value: it matches no city, and may be answered (no rows)
            for operator in OPERATORS:
                requests.append((rows, {"city": operator.format(v=value)}, True))
            requests.append((rows, {"people": f"eq.{value}"}, False))
            requests.append((rows, {"city": value}, False))
        for limit in LIMITS:
            requests.append((rows, {"limit": limit}, False))
        for as_of in AS_OFS:
            requests.append((rows, {"as_of": as_of}, False))
        for form in FORMATS:
            requests.append((rows, {"format": form}, False))
        for after in crafted_cursors():
            requests.append((rows, {"after": after}, True))
            requests.append((rows, {"after": after, "order": "people"}, True))
        for path, params, may_answer in requests:
            response = http.get(path, params=params)
            outcome = over_http(response)
            payload = Payload("route", f"{path} {params}", harmless=may_answer)
            judge(attack, "GET " + path, payload, outcome, problems)
            if may_answer and outcome.kind == "executed" and "city" in params:
                matched = {row[0] for row in response.json()["rows"]}
                if matched != expected_cities(params["city"]):
                    problems.append(f"{path} {params} matched rows: {sorted(matched)!r}")
        hidden = http.get("/api/tables/raw.vault/rows")
        missing = http.get(f"/api/tables/{NOSUCH}/rows")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text.replace("vault", "vaulz") == missing.text
        assert without_timing(http.get("/api/tables/core.by_city/rows").json()) == reference
    assert problems == [], "\n".join(problems)
    assert attack_state(attack) == before
