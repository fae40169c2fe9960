"""S3 of RELIABILITY.md for serving: canary secrets in every credential field, then a whole
session of `headwater users`, `headwater serve`, sign-ins that succeed and fail and queries that
fail; no canary may appear anywhere but where it is given to its owner once.

The canaries: two passwords of a user (set by `users add --password` and replaced by `users
password`), every API token the CLI issues (random, so each token is its own canary), and the
password of a PostgreSQL source's URL, given as `${SHOP_PASSWORD}` (the source is loaded from a
real PostgreSQL 15). Where they are looked for: standard output and error of every command and
of the server process, HTTP response bodies and headers, PostgreSQL error messages and notices,
every file of the project (the SQLite catalog's raw bytes, its WAL, the warehouse, the caches,
the OpenLineage events), the query log, `users list` and the reprs of the objects that hold
them. A token is allowed in exactly one place: the standard output of the command that issued
it.

A password a user types into a query as a literal is that user's own text, not a credential:
the test does not send any.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from headwater import Project
from headwater.catalog.access import UserStore
from headwater.catalog.query_log import query_log
from headwater.serve.service import ServeService
from headwater.ui.pages import Workspace
from tests.conftest import write_files
from tests.support.postgres import PostgresServer
from tests.support.serve import HEADWATER, running_server

PASSWORD = "pwcanary_3e9b1f7a"
NEW_PASSWORD = "pwcanary_new_77c2d0e4"
SOURCE_PASSWORD = "srccanary_b5a0c3d9"


@dataclass
class Transcript:
    """Everything the session showed anyone, by where it was shown."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    """Tokens issued (each shown once, on the stdout of the command that issued it)."""
    issued_by: dict[str, str] = field(default_factory=dict)
    """Token -> the label of the output that showed it."""

    def add(self, where: str, text: str) -> None:
        self.seen.append((where, text))

    def cli(
        self, root: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*HEADWATER, *args],
            cwd=root,
            capture_output=True,
            text=True,
            input=stdin,
            env={**os.environ, **(env or {})},
            check=False,
        )
        label = "headwater " + " ".join(args)
        self.add(f"{label} (stdout)", done.stdout)
        self.add(f"{label} (stderr)", done.stderr)
        return done

    def issue(self, root: Path, *args: str, env: dict[str, str] | None = None) -> str:
        done = self.cli(root, *args, env=env)
        assert done.returncode == 0, done.stderr
        token = done.stdout.strip().splitlines()[-1]
        assert token.startswith("hw_")
        self.tokens.append(token)
        self.issued_by[token] = "headwater " + " ".join(args) + " (stdout)"
        return token

    def http(self, response: httpx.Response, label: str) -> httpx.Response:
        self.add(f"HTTP {label} (body)", response.text)
        self.add(f"HTTP {label} (headers)", json.dumps(list(response.headers.multi_items())))
        return response

    def leaks(self, secrets: list[str]) -> list[str]:
        """Where a secret was seen where it must not be."""
        found = []
        for where, text in self.seen:
            for secret in secrets:
                if secret in text and self.issued_by.get(secret) != where:
                    found.append(f"{secret[:12]}... in {where}")
        return found


def basic(user: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {credentials}"}


def pg_attempt(transcript: Transcript, dsn: str, label: str, sql: str = "select 1") -> bool:
    """Connect and run `sql`; record every message; whether it signed in and ran."""
    notices: list[str] = []
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=60) as connection:
            connection.add_notice_handler(lambda d: notices.append(str(d.message_primary)))
            try:
                rows = connection.execute(sql).fetchall()
                transcript.add(f"PG {label} (rows)", repr(rows))
                return True
            except psycopg.Error as exc:
                transcript.add(
                    f"PG {label} (error)", f"{exc.sqlstate} {exc} {exc.diag.message_hint}"
                )
                return False
    except psycopg.OperationalError as exc:
        transcript.add(f"PG {label} (sign-in error)", str(exc))
        return False
    finally:
        transcript.add(f"PG {label} (notices)", " ".join(notices))


def every_file(root: Path) -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(root)), p.read_bytes()) for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def shop(postgres_server: PostgresServer, postgres_db: str) -> str:
    """A PostgreSQL database with a table to load."""
    with psycopg.connect(postgres_server.dsn(postgres_db), autocommit=True) as connection:
        connection.execute("create table items (id int primary key, name text)")
        connection.execute("insert into items values (1, 'kettle'), (2, 'lamp')")
    return (
        f"postgresql://postgres:${{SHOP_PASSWORD}}@127.0.0.1:{postgres_server.port}/{postgres_db}"
    )


def test_s3_no_canary_secret_leaks_from_a_serving_session(tmp_path: Path, shop: str) -> None:
    root = tmp_path / "secrets"
    write_files(
        root,
        {
            "headwater.yml": """
                name: secrets
                threads: 2
                openlineage:
                  transports:
                    - type: file
                      path: .headwater/openlineage.jsonl
                serve:
                  roles:
                    analyst:
                      read: [shop.items, core.by_city]
                  limits:
                    timeout: 1s
                    max_rows: 10
            """,
            "sources/shop.yml": f"kind: sql\nurl: {shop}\ntables:\n  items:\n    primary_key: id\n",
            "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n",
            "models/core/by_city.sql": "select city, count(*) as n from raw.people group by city",
            "models/core/hidden.sql": "select 1 as id",
        },
    )
    source_env = {"SHOP_PASSWORD": SOURCE_PASSWORD}
    t = Transcript()
    built = t.cli(root, "run", env=source_env)
    assert built.returncode == 0, built.stdout + built.stderr

    # -- the users CLI, with every credential given its canary
    first = t.issue(
        root,
        "users",
        "add",
        "alice",
        "--role",
        "analyst",
        "--password",
        env={"HEADWATER_PASSWORD": PASSWORD},
    )
    second = t.issue(root, "users", "token", "alice")
    bob = t.issue(root, "users", "add", "bob", "--role", "analyst")
    doomed = t.issue(root, "users", "add", "carl", "--role", "analyst")
    assert (
        t.cli(
            root, "users", "password", "alice", env={"HEADWATER_PASSWORD": NEW_PASSWORD}
        ).returncode
        == 0
    )
    t.cli(root, "users", "add", "alice", "--role", "analyst")  # taken: an error
    t.cli(
        root,
        "users",
        "add",
        "dave",
        "--role",
        "analist",
        "--password",
        env={"HEADWATER_PASSWORD": PASSWORD},
    )
    t.cli(root, "users", "roles", "bob", "--role", "analyst")
    t.cli(root, "users", "revoke", "carl")
    t.cli(root, "users", "list")
    t.cli(root, "users", "list", "--json")
    t.cli(root, "--debug", "users", "token", "nobody")
    t.cli(root, "query", "select * from core.by_city")

    # -- the server, with sign-ins that succeed and fail, and queries that fail
    with running_server(root, pg=True, env=source_env) as server:
        url = server.url
        with httpx.Client(base_url=url, timeout=120) as http:
            ok = t.http(http.get("/api/me", headers={"authorization": f"Bearer {first}"}), "me")
            assert ok.json()["user"] == "alice"
            by_password = t.http(http.get("/api/me", headers=basic("alice", NEW_PASSWORD)), "basic")
            assert by_password.status_code == 200
            attempts = {
                "old password": basic("alice", PASSWORD),
                "wrong password": basic("alice", NEW_PASSWORD + "x"),
                "token as user": basic(first, NEW_PASSWORD),
                "password as user": basic(NEW_PASSWORD, "x"),
                "token as user and password": basic(first, first),
                "another's token": basic("alice", bob),
                "password as token": {"authorization": f"Bearer {NEW_PASSWORD}"},
                "cut token": {"authorization": f"Bearer {first[:-1]}"},
                "revoked token": {"authorization": f"Bearer {doomed}"},
                "token with no scheme": {"authorization": first},
                "token as a basic blob": {"authorization": f"Basic {first}"},
                "token in the query string": {},
            }
            for label, headers in attempts.items():
                params = {"token": first, "access_token": first} if not headers else {}
                response = t.http(http.get("/api/me", headers=headers, params=params), label)
                assert response.status_code == 401, (label, response.text)
            bearer = {"authorization": f"Bearer {second}"}
            for sql in [
                "select * from core.hidden",
                "select * from nowhere",
                "select",
                "drop table core.by_city",
                "select count(*) from range(1000000000) a, range(1000000000) b",
                "select * from range(100)",
                "select * from shop.items",
                "select current_setting('password')",
                "select getenv('SHOP_PASSWORD')",
                "select * from duckdb_secrets()",
            ]:
                t.http(http.post("/api/query", json={"sql": sql}, headers=bearer), sql)
                t.http(http.get("/api/query", params={"sql": sql}, headers=bearer), "GET " + sql)
            for path in [
                "/api/tables",
                "/api/tables/shop.items/rows",
                "/api/tables/core.hidden/rows",
                "/api/openapi.json",
                "/",
                "/sql",
                "/assets/shop.items",
                "/runs",
                "/metrics",
            ]:
                t.http(http.get(path, headers=bearer), path)
        dsn = server.pg_dsn
        assert pg_attempt(t, dsn("alice", NEW_PASSWORD), "alice")
        assert pg_attempt(t, dsn("bob", bob), "bob by token")
        for label, user, password in [
            ("old password", "alice", PASSWORD),
            ("wrong password", "alice", "nope"),
            ("token of a user with a password", "alice", first),
            ("token as user", first, NEW_PASSWORD),
            ("password as user", NEW_PASSWORD, "x"),
            ("revoked", "carl", doomed),
            ("nobody", "nobody", NEW_PASSWORD),
        ]:
            assert not pg_attempt(t, dsn(user, password), label)
        for sql in [
            "select * from core.hidden",
            "select * from pg_catalog.pg_authid",
            "select usename, passwd from pg_catalog.pg_user",
            "select rolname, rolpassword from pg_catalog.pg_roles",
            "select * from pg_catalog.pg_shadow",
            "select * from pg_stat_activity",
            "show password_encryption",
            "select count(*) from range(1000000000) a, range(1000000000) b",
            "select * from range(100)",
        ]:
            pg_attempt(t, dsn("alice", NEW_PASSWORD), sql, sql)
    assert server.process.stdout is not None
    t.add("server output", "".join(server.output) + server.process.stdout.read())

    # -- what is on disk and in the catalog afterwards
    for name, data in every_file(root):
        t.add(f"file {name}", data.decode("latin-1"))
    with Project(root) as project:
        t.add("query log", json.dumps(query_log(project.catalog, limit=10_000)))
        users = UserStore(project.catalog).users()
        t.add("users repr", repr(users))
        service = ServeService(Workspace(project))
        try:
            principal = service.by_token(first)
            t.add("principal repr", repr(principal))
            t.add("verifier repr", repr(service.verifier("alice")))
            t.add("password principal repr", repr(service.by_password("alice", NEW_PASSWORD)))
            t.add("service config repr", repr(service.config))
            t.add("project repr", repr(project.definition.sources))
        finally:
            service.close()
        logged = query_log(project.catalog, limit=10_000)
    assert len(t.tokens) == 4
    assert {r["interface"] for r in logged} == {"http", "postgres"}
    leaks = t.leaks([PASSWORD, NEW_PASSWORD, SOURCE_PASSWORD, *t.tokens])
    assert leaks == [], "\n".join(leaks)
    # the canaries were really used: the token signed in, the source loaded with its password
    assert any("kettle" in text for where, text in t.seen if where.startswith("HTTP"))


def test_s3_failing_users_commands_under_debug_show_no_password(tmp_path: Path) -> None:
    """Under --debug, a failing users command prints a traceback: it holds no password."""
    root = tmp_path / "debug"
    write_files(
        root, {"headwater.yml": "name: debug\nserve:\n  roles:\n    r:\n      read: ['*']\n"}
    )
    t = Transcript()
    t.cli(
        root, "--debug", "users", "add", "a b", "--password", env={"HEADWATER_PASSWORD": PASSWORD}
    )
    t.cli(root, "--debug", "users", "password", "nobody", env={"HEADWATER_PASSWORD": PASSWORD})
    t.issue(
        root,
        "users",
        "add",
        "ann",
        "--role",
        "r",
        "--password",
        env={"HEADWATER_PASSWORD": PASSWORD},
    )
    t.cli(
        root,
        "--debug",
        "users",
        "add",
        "ann",
        "--password",
        env={"HEADWATER_PASSWORD": NEW_PASSWORD},
    )
    for name, data in every_file(root):
        t.add(f"file {name}", data.decode("latin-1"))
    assert t.leaks([PASSWORD, NEW_PASSWORD, *t.tokens]) == []


def test_s3_reprs_of_credentials_hold_no_secret(tmp_path: Path) -> None:
    from headwater.catalog.access import ScramVerifier

    verifier = ScramVerifier.of_password(PASSWORD)
    assert repr(verifier) == "ScramVerifier(...)"
    assert PASSWORD not in str(verifier) and PASSWORD not in repr([verifier])
    root = tmp_path / "reprs"
    write_files(root, {"headwater.yml": "name: reprs\n"})
    with Project(root) as project:
        store = UserStore(project.catalog)
        token = store.add("ann", [], password=PASSWORD)
        texts: list[Any] = [store.users(), store.credentials("ann"), store.by_token(token)]
        assert all(token not in repr(x) and PASSWORD not in repr(x) for x in texts)
