"""`headwater users` through the real CLI, checked against a real `headwater serve`: a token
printed by `add` or `token` signs in over HTTP, a password (from $HEADWATER_PASSWORD) over HTTP
Basic and the PostgreSQL protocol, and `revoke`, `password` and `roles` take effect on the
running server.

The server trusts what the catalog says of a token or a user for `CREDENTIALS_CACHE_S` (a
lookup per request would cost more than the query), so a revocation, a new password or new
roles take effect over HTTP at the latest when that window ends; a new PostgreSQL connection
reads the catalog when it signs in. The tests poll for the change; their deadline only guards
against hanging, it measures nothing.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from headwater.serve.service import CREDENTIALS_CACHE_S
from tests.conftest import write_files
from tests.support.serve import HEADWATER, RunningServer, add_user, headwater, running_server

SERVE = """
name: people
threads: 2
serve:
  roles:
    analyst:
      read: [core.by_city]
    staff:
      read: ["core.*", raw.people]
  limits:
    timeout: 20s
"""
FILES = {
    "headwater.yml": SERVE,
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
}
GUARD_S = 120.0
"""Only a guard against hanging forever."""
WINDOW_S = CREDENTIALS_CACHE_S + GUARD_S
"""How long a change of credentials may take to reach the server's HTTP face (the design's
bound plus the guard)."""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built project with two roles (shared by the module: each test has its own users)."""
    root = tmp_path_factory.mktemp("users") / "people"
    write_files(root, FILES)
    headwater(root, "run")
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[RunningServer]:
    with running_server(root, pg=True) as running:
        yield running


def cli(root: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> Done:
    """Run `headwater ARGS` in `root`; the result whatever the exit code."""
    environment = {k: v for k, v in os.environ.items() if k != "HEADWATER_PASSWORD"}
    done = subprocess.run(
        [*HEADWATER, *args],
        cwd=root,
        capture_output=True,
        text=True,
        input=stdin,
        env={**environment, **(env or {})},
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)


class Done:
    """What a CLI command printed and how it exited."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def assert_one_line_error(self, *words: str) -> None:
        """The command failed with `Error: ...` (and at most a hint), no traceback."""
        assert self.code == 2, (self.code, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert lines[0].startswith("Error: ") and len(lines) <= 2, self.err
        assert all(line.startswith("  hint: ") for line in lines[1:]), self.err
        assert "Traceback" not in self.err + self.out
        for word in words:
            assert word in self.err, (word, self.err)


def http(server: RunningServer, auth: httpx.Auth | str | None, path: str = "/api/me") -> int:
    """The status of a GET of `path` signed in with a token (str) or HTTP Basic."""
    headers = {"authorization": f"Bearer {auth}"} if isinstance(auth, str) else {}
    basic = auth if isinstance(auth, httpx.Auth) else None
    return httpx.get(server.url + path, headers=headers, auth=basic, timeout=30).status_code


def me(server: RunningServer, token: str) -> dict[str, object]:
    response = httpx.get(
        server.url + "/api/me", headers={"authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def query(server: RunningServer, token: str, sql: str) -> httpx.Response:
    return httpx.post(
        server.url + "/api/query",
        json={"sql": sql},
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
    )


def pg_signs_in(server: RunningServer, user: str, password: str) -> bool:
    """Whether a new PostgreSQL connection of `user` with `password` is accepted (and reads)."""
    try:
        with psycopg.connect(server.pg_dsn(user, password), connect_timeout=30) as connection:
            row = connection.execute("select 1").fetchone()
            assert row == (1,)
            return True
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc) or "28P01" in str(exc), exc
        return False


def eventually(condition: Callable[[], bool], guard_s: float) -> bool:
    """Poll `condition` until it holds (True) or the guard passes (False)."""
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- add -------------------------------------------------------------------------------------


def test_add_prints_the_token_once_and_it_signs_in(root: Path, server: RunningServer) -> None:
    done = cli(root, "users", "add", "ann", "--role", "analyst")
    assert done.code == 0, done.err
    token = done.out.strip()
    assert token.startswith("hw_") and "\n" not in token  # stdout: the token and nothing else
    assert "shown this once" in done.err and token not in done.err
    assert me(server, token) == {"user": "ann", "roles": ["analyst"]}
    assert query(server, token, "select * from core.by_city order by city").json()["rows"] == [
        ["oslo", 2],
        ["rome", 1],
    ]
    refused = query(server, token, "select * from raw.people")
    assert refused.status_code == 400 and "unknown table 'raw.people'" in refused.json()["error"]
    listed = cli(root, "users", "list")
    assert token not in listed.out + listed.err


def test_add_with_a_password_from_the_environment(root: Path, server: RunningServer) -> None:
    password = "s3cret-from-env"
    done = cli(
        root,
        "users",
        "add",
        "bea",
        "--role",
        "staff",
        "--password",
        env={"HEADWATER_PASSWORD": password},
    )
    assert done.code == 0, done.err
    assert password not in done.out + done.err
    assert http(server, httpx.BasicAuth("bea", password)) == 200
    assert http(server, httpx.BasicAuth("bea", "wrong")) == 401
    assert http(server, httpx.BasicAuth("bea", done.out.strip())) == 200  # the token as password
    assert pg_signs_in(server, "bea", password)
    assert not pg_signs_in(server, "bea", "wrong")


def test_add_with_a_password_typed_twice(root: Path, server: RunningServer) -> None:
    done = cli(root, "users", "add", "cal", "--password", stdin="typed-pw\ntyped-pw\n")
    assert done.code == 0, done.err
    assert "typed-pw" not in done.out + done.err
    assert http(server, httpx.BasicAuth("cal", "typed-pw")) == 200
    mismatch = cli(root, "users", "add", "cat", "--password", stdin="pw-one\npw-two\n")
    assert mismatch.code != 0 and "do not match" in mismatch.out + mismatch.err
    assert "pw-one" not in mismatch.out + mismatch.err
    assert "cat" not in cli(root, "users", "list").out


def test_add_without_a_role_signs_in_and_reads_nothing(root: Path, server: RunningServer) -> None:
    token = add_user(root, "dee")
    assert me(server, token) == {"user": "dee", "roles": []}
    assert query(server, token, "select * from core.by_city").status_code == 400
    assert query(server, token, "select 1 as x").json()["rows"] == [[1]]
    tables = query(server, token, "select table_name from information_schema.tables")
    assert tables.json()["rows"] == []


def test_an_unknown_role_is_refused_with_did_you_mean(root: Path) -> None:
    done = cli(root, "users", "add", "eve", "--role", "analist")
    done.assert_one_line_error("there is no role analist", "did you mean analyst?", "admin")
    assert "eve" not in cli(root, "users", "list").out
    roles = cli(root, "users", "roles", "eve", "--role", "staf")
    roles.assert_one_line_error("did you mean staff?")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("users", "add", "1bad"), ("not a valid user name",)),
        (("users", "add", "a b"), ("not a valid user name",)),
        (("users", "revoke", "nobody"), ("there is no user nobody", "headwater users list")),
        (("users", "token", "nobody"), ("there is no user nobody",)),
        (("users", "roles", "nobody", "--role", "staff"), ("there is no user nobody",)),
    ],
)
def test_mistakes_are_one_line_errors_without_traceback(
    root: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    cli(root, *args).assert_one_line_error(*words)


def test_a_taken_name_is_refused(root: Path) -> None:
    assert cli(root, "users", "add", "fay").code == 0
    cli(root, "users", "add", "fay").assert_one_line_error(
        "there is already a user fay", "revoke fay"
    )
    password = cli(root, "users", "password", "nobody", env={"HEADWATER_PASSWORD": "x"})
    password.assert_one_line_error("there is no user nobody")


# -- list ------------------------------------------------------------------------------------


def test_list_shows_users_without_secrets(root: Path) -> None:
    password = "listed-user-password"
    token = add_user(root, "gus", "staff", "analyst", password=password)
    second = headwater(root, "users", "token", "gus").strip()
    add_user(root, "hal")
    headwater(root, "users", "revoke", "hal")
    listed = cli(root, "users", "list")
    assert listed.code == 0
    lines = {line.split("\t")[0]: line.split("\t") for line in listed.out.splitlines()}
    assert lines["user"] == ["user", "roles", "password", "tokens", "added", "revoked"]
    assert lines["gus"][1:4] == ["analyst, staff", "yes", "2"]
    assert lines["hal"][2:4] == ["no", "0"] and lines["hal"][5] != ""
    as_json = cli(root, "users", "list", "--json")
    found = {u["name"]: u for u in __import__("json").loads(as_json.out)}
    assert found["gus"]["roles"] == ["analyst", "staff"] and found["gus"]["tokens"] == 2
    assert found["gus"]["has_password"] is True and found["hal"]["revoked_at"] is not None
    for text in (listed.out + listed.err, as_json.out + as_json.err):
        for secret in (password, token, second, token[3:], second[3:]):
            assert secret not in text
        assert "SCRAM" not in text and "verifier" not in text


# -- revoke, token, password, roles on a running server --------------------------------------


def test_revoke_stops_the_token_and_the_password(root: Path, server: RunningServer) -> None:
    password = "revoke-me-password"
    token = add_user(root, "ida", "analyst", password=password)
    basic = httpx.BasicAuth("ida", password)
    assert http(server, token) == 200 and http(server, basic) == 200
    assert pg_signs_in(server, "ida", password)
    done = cli(root, "users", "revoke", "ida")
    assert done.code == 0 and done.out.strip() == "revoked user ida and its tokens"
    assert not pg_signs_in(server, "ida", password)  # a new connection reads the catalog
    assert eventually(lambda: http(server, token) == 401, WINDOW_S)
    assert eventually(lambda: http(server, basic) == 401, WINDOW_S)
    assert http(server, httpx.BasicAuth("ida", token)) == 401
    again = cli(root, "users", "revoke", "ida")
    again.assert_one_line_error("the user ida is revoked")


def test_token_issues_another_token_and_both_work(root: Path, server: RunningServer) -> None:
    first = add_user(root, "jon", "analyst")
    done = cli(root, "users", "token", "jon")
    second = done.out.strip()
    assert done.code == 0 and second.startswith("hw_") and second != first
    assert me(server, first)["user"] == me(server, second)["user"] == "jon"
    # a user without a password gives a token as its password to PostgreSQL clients
    assert pg_signs_in(server, "jon", second) and pg_signs_in(server, "jon", first)
    assert not pg_signs_in(server, "jon", second[:-1])


def test_password_sets_and_replaces_the_password(root: Path, server: RunningServer) -> None:
    token = add_user(root, "kim", "analyst")
    assert not pg_signs_in(server, "kim", "first-pw")  # no password yet
    assert http(server, httpx.BasicAuth("kim", "first-pw")) == 401
    done = cli(root, "users", "password", "kim", env={"HEADWATER_PASSWORD": "first-pw"})
    assert done.code == 0 and done.out.strip() == "set the password of kim"
    assert "first-pw" not in done.out + done.err
    assert pg_signs_in(server, "kim", "first-pw")
    assert eventually(lambda: http(server, httpx.BasicAuth("kim", "first-pw")) == 200, WINDOW_S)
    cli(root, "users", "password", "kim", env={"HEADWATER_PASSWORD": "second-pw"})
    assert pg_signs_in(server, "kim", "second-pw") and not pg_signs_in(server, "kim", "first-pw")
    assert eventually(lambda: http(server, httpx.BasicAuth("kim", "second-pw")) == 200, WINDOW_S)
    assert http(server, httpx.BasicAuth("kim", "first-pw")) == 401
    assert http(server, token) == 200  # tokens are unaffected


def test_roles_change_what_the_user_reads(root: Path, server: RunningServer) -> None:
    token = add_user(root, "lea", "analyst")
    assert query(server, token, "select count(*) from raw.people").status_code == 400
    done = cli(root, "users", "roles", "lea", "--role", "staff")
    assert done.code == 0 and done.out.strip() == "lea has roles staff"
    assert eventually(lambda: me(server, token)["roles"] == ["staff"], WINDOW_S)
    assert query(server, token, "select count(*) from raw.people").json()["rows"] == [[3]]
    cli(root, "users", "roles", "lea")
    assert eventually(lambda: me(server, token)["roles"] == [], WINDOW_S)
    assert query(server, token, "select count(*) from core.by_city").status_code == 400
