"""The access kernel of `headwater serve`: users and their credentials in the catalog
(`catalog/access.py`), principals and their grants (`orchestrate/principals.py`) and signing in
(`ServeService`), tested directly on a real project and its SQLite catalog.

The SCRAM verifiers are checked against what PostgreSQL itself stores for the same password
(a real PostgreSQL 15), so a BI tool's SCRAM exchange with our server sees the same keys.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from headwater import Project
from headwater.catalog.access import (
    TOKEN_PREFIX,
    ScramVerifier,
    UserStore,
    check_user_name,
    token_hash,
)
from headwater.errors import UsageError
from headwater.orchestrate.principals import (
    ANONYMOUS_READS_ALL,
    principal_of,
    role_problems,
)
from headwater.serve.service import CREDENTIALS_CACHE_S, PASSWORD_CACHE_S, ServeService
from headwater.ui.pages import Workspace
from tests.conftest import ProjectFactory
from tests.support.postgres import PostgresServer

SERVE = """
serve:
  roles:
    analyst:
      read: [core.by_city]
    finance:
      read: ["tag:finance"]
    staff:
      read: ["core.*", raw.people]
    everyone:
      read: ["*"]
    ghost:
      read: [nothing.here]
"""
FILES = {
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
    "models/core/ledger.sql": "select 1 as id, 100.5 as amount",
    "models/core/ledger.yml": "tags: [finance]\n",
    "models/marts/summary.sql": "select * from core.by_city",
}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    """A project with five assets and the roles of `SERVE` (not built: grants need no data)."""
    return make_project(FILES, config=SERVE)


@pytest.fixture
def store(project: Project) -> UserStore:
    return UserStore(project.catalog)


@pytest.fixture
def service(project: Project) -> Iterator[ServeService]:
    service = ServeService(Workspace(project))
    yield service
    service.close()


def catalog_bytes(root: Path) -> bytes:
    """The raw bytes of every file of the project's SQLite catalog (database, WAL, shared
    memory), as a disk reader would find them."""
    files = sorted((root / ".headwater").glob("catalog.db*"))
    assert files, "no SQLite catalog found"
    return b"".join(f.read_bytes() for f in files)


# -- users and tokens ------------------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_hash_is_kept(
    project: Project, store: UserStore
) -> None:
    token = store.add("ann", ["analyst"])
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    assert store.by_token(token) == ("ann", ("analyst",))
    raw = catalog_bytes(project.root)
    assert token.encode() not in raw
    assert token[len(TOKEN_PREFIX) :].encode() not in raw
    assert token_hash(token).encode() in raw
    with sqlite3.connect(project.root / ".headwater" / "catalog.db") as db:
        stored = db.execute("SELECT token_hash, prefix FROM hw_tokens").fetchall()
    assert stored == [(token_hash(token), token[: len(TOKEN_PREFIX) + 4])]


def test_tokens_that_are_not_issued_sign_nobody_in(store: UserStore) -> None:
    token = store.add("ann", ["analyst"])
    for wrong in ["", "hw_", token[:-1], token + "x", token.upper(), token[3:], " " + token]:
        assert store.by_token(wrong) is None, wrong
    assert store.by_token(token_hash(token)) is None  # the stored hash is no token


def test_each_user_may_have_several_tokens(store: UserStore) -> None:
    first = store.add("ann", ["analyst"])
    second = store.new_token("ann")
    assert first != second
    assert store.by_token(first) == store.by_token(second) == ("ann", ("analyst",))
    assert [u.tokens for u in store.users()] == [2]


def test_revoking_a_user_revokes_every_token_and_its_password(store: UserStore) -> None:
    first = store.add("ann", ["analyst"], password=PASSWORD)
    second = store.new_token("ann")
    store.revoke("ann")
    assert store.by_token(first) is None and store.by_token(second) is None
    assert store.credentials("ann") is None
    (user,) = store.users()
    assert not user.active and user.revoked_at is not None and user.tokens == 0
    with pytest.raises(UsageError, match="revoked"):
        store.new_token("ann")
    with pytest.raises(UsageError, match="revoked"):
        store.revoke("ann")
    with pytest.raises(UsageError, match="revoked"):
        store.set_password("ann", "x")


def test_a_revoked_name_can_be_added_again_without_its_old_tokens(store: UserStore) -> None:
    old = store.add("ann", ["analyst"], password=PASSWORD)
    store.revoke("ann")
    new = store.add("ann", ["staff"])
    assert store.by_token(old) is None
    assert store.by_token(new) == ("ann", ("staff",))
    found = store.credentials("ann")
    assert found == (("staff",), None)  # the old password is gone too
    (user,) = store.users()
    assert user.active and user.tokens == 1 and not user.has_password


def test_a_name_in_use_is_refused_with_a_hint(store: UserStore) -> None:
    store.add("ann", ["analyst"])
    with pytest.raises(UsageError, match="already a user ann") as caught:
        store.add("ann", ["staff"])
    assert caught.value.hint is not None and "revoke" in caught.value.hint


@pytest.mark.parametrize(
    "name",
    ["", "1ann", "a b", "ann;drop", "ann'", 'a"b', "a/b", "ä" * 3, "x" * 201, "hw_\n", "-ann"],
)
def test_invalid_user_names_are_refused(store: UserStore, name: str) -> None:
    with pytest.raises(UsageError, match="not a valid user name"):
        store.add(name, [])
    with pytest.raises(UsageError):
        check_user_name(name)


@pytest.mark.parametrize("name", ["ann", "_svc", "ann.smith@example.com", "a-b_c.d", "x" * 200])
def test_valid_user_names(store: UserStore, name: str) -> None:
    check_user_name(name)
    assert store.by_token(store.add(name, [])) == (name, ())


def test_unknown_users_are_refused_with_a_hint(store: UserStore) -> None:
    for action in (
        lambda: store.new_token("nobody"),
        lambda: store.set_password("nobody", "x"),
        lambda: store.set_roles("nobody", []),
        lambda: store.revoke("nobody"),
    ):
        with pytest.raises(UsageError, match="there is no user nobody") as caught:
            action()
        assert caught.value.hint == "headwater users list shows them"
    assert store.credentials("nobody") is None


def test_roles_are_replaced_sorted_and_deduplicated(store: UserStore) -> None:
    token = store.add("ann", ["staff", "analyst", "staff"])
    assert store.by_token(token) == ("ann", ("analyst", "staff"))
    store.set_roles("ann", ["finance"])
    assert store.by_token(token) == ("ann", ("finance",))
    store.set_roles("ann", [])
    assert store.by_token(token) == ("ann", ())


def test_users_lists_no_credential(store: UserStore) -> None:
    token = store.add("bob", ["staff"], password=PASSWORD)
    store.add("ann", [])
    listed = store.users()
    assert [u.name for u in listed] == ["ann", "bob"]
    assert [(u.has_password, u.tokens) for u in listed] == [(False, 1), (True, 1)]
    text = repr(listed) + str([u.__dict__ for u in listed])
    assert token not in text and PASSWORD not in text and "SCRAM" not in text


# -- passwords: SCRAM-SHA-256 verifiers ------------------------------------------------------


def test_a_password_is_kept_as_a_scram_verifier_only(project: Project, store: UserStore) -> None:
    store.add("ann", ["analyst"], password=PASSWORD)
    found = store.credentials("ann")
    assert found is not None
    roles, verifier = found
    assert roles == ("analyst",) and verifier is not None
    assert verifier.matches(PASSWORD)
    for wrong in ["", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1]]:
        assert not verifier.matches(wrong)
    assert PASSWORD.encode() not in catalog_bytes(project.root)
    assert repr(verifier) == "ScramVerifier(...)"
    store.set_password("ann", "another one")
    changed = store.credentials("ann")
    assert changed is not None and changed[1] is not None
    assert changed[1].matches("another one") and not changed[1].matches(PASSWORD)


def test_two_verifiers_of_one_password_differ_by_salt() -> None:
    first, second = ScramVerifier.of_password("pw"), ScramVerifier.of_password("pw")
    assert first.salt != second.salt and first.stored_key != second.stored_key
    assert first.matches("pw") and second.matches("pw")


def test_a_verifier_round_trips_through_postgresql_text_format() -> None:
    verifier = ScramVerifier.of_password(PASSWORD)
    text = str(verifier)
    assert text.startswith("SCRAM-SHA-256$4096:")
    assert ScramVerifier.parse(text) == verifier
    for bad in ["", "md5abc", "SCRAM-SHA-256$x:y$z:w", "SCRAM-SHA-256$4096:abc"]:
        with pytest.raises(ValueError):
            ScramVerifier.parse(bad)


def test_verifiers_agree_with_postgresql(postgres_server: PostgresServer) -> None:
    """PostgreSQL's own verifier of a password is read by ours and checks the same password;
    ours, made with PostgreSQL's salt, has PostgreSQL's keys."""
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute("SET password_encryption = 'scram-sha-256'")
        connection.execute("DROP ROLE IF EXISTS hw_scram_check")
        connection.execute(f"CREATE ROLE hw_scram_check PASSWORD '{PASSWORD}'")
        row = connection.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'hw_scram_check'"
        ).fetchone()
        connection.execute("DROP ROLE hw_scram_check")
    assert row is not None
    theirs = ScramVerifier.parse(row[0])
    assert theirs.matches(PASSWORD) and not theirs.matches("wrong")
    from headwater.catalog import access

    ours = access._keys(PASSWORD, theirs.salt, theirs.iterations)
    assert ours == (theirs.stored_key, theirs.server_key)
    assert str(theirs) == row[0]
    assert base64.b64encode(theirs.salt).decode() in row[0]


# -- principals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "readable"),
    [
        ((), set()),
        (("analyst",), {"core.by_city"}),
        (("finance",), {"core.ledger"}),
        (("staff",), {"core.by_city", "core.ledger", "raw.people"}),
        (("analyst", "finance"), {"core.by_city", "core.ledger"}),
        (("ghost",), set()),  # a selector that matches nothing grants nothing
        (("undefined",), set()),  # a role headwater.yml does not define grants nothing
    ],
)
def test_roles_grant_the_assets_their_selectors_choose(
    project: Project, roles: tuple[str, ...], readable: set[str]
) -> None:
    principal = principal_of(project.definition, "ann", roles)
    assert not principal.everything and principal.assets == frozenset(readable)
    every = {"raw.people", "core.by_city", "core.ledger", "marts.summary"}
    assert {k for k in every if principal.can_read(*k.split("."))} == readable
    assert {k for k in every if principal.can_read_key(k)} == readable
    assert not principal.can_read("raw", "quarantine_people")  # undeclared: admin only
    assert principal.label == "ann"


@pytest.mark.parametrize("roles", [("admin",), ("everyone",), ("analyst", "admin")])
def test_admin_and_a_star_grant_read_everything(project: Project, roles: tuple[str, ...]) -> None:
    principal = principal_of(project.definition, "root", roles)
    assert principal.everything
    assert principal.can_read("raw", "people") and principal.can_read("any", "thing")


def test_admin_reads_everything_even_when_serve_roles_names_it(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        FILES, config="serve:\n  roles:\n    admin:\n      read: [core.by_city]\n"
    )
    assert principal_of(project.definition, "root", ("admin",)).everything
    (problem,) = role_problems(project.definition)
    assert problem.startswith("role admin: reads every table") and "ignored" in problem


def test_anonymous_reads_everything_only_without_authentication(
    make_project: ProjectFactory, service: ServeService
) -> None:
    assert service.auth and service.anonymous() is None
    open_project = make_project(FILES, folder="open", config="serve:\n  auth: false\n")
    open_service = ServeService(Workspace(open_project))
    try:
        assert open_service.anonymous() is ANONYMOUS_READS_ALL
        assert ANONYMOUS_READS_ALL.everything and ANONYMOUS_READS_ALL.label == "anonymous"
    finally:
        open_service.close()


def test_role_problems_name_selectors_that_match_nothing(project: Project) -> None:
    problems = role_problems(project.definition)
    assert len(problems) == 1 and problems[0].startswith("role ghost: ")
    assert "nothing.here" in problems[0]


def test_a_principal_repr_has_no_credential(store: UserStore, service: ServeService) -> None:
    token = store.add("ann", ["analyst"], password=PASSWORD)
    principal = service.by_token(token)
    assert principal is not None
    assert (principal.name, principal.roles, principal.assets) == (
        "ann",
        ("analyst",),
        frozenset({"core.by_city"}),
    )
    assert token not in repr(principal) and PASSWORD not in repr(principal)


# -- signing in ------------------------------------------------------------------------------


def test_signing_in_by_token(store: UserStore, service: ServeService) -> None:
    token = store.add("ann", ["analyst"])
    principal = service.by_token(token)
    assert principal is not None and principal.name == "ann"
    assert principal.can_read("core", "by_city") and not principal.can_read("raw", "people")
    assert service.by_token(token[:-2]) is None and service.by_token("ann") is None


def test_signing_in_by_password_or_with_a_token_as_the_password(
    store: UserStore, service: ServeService
) -> None:
    token = store.add("ann", ["analyst"], password=PASSWORD)
    other = store.add("bob", ["staff"])
    signed = service.by_password("ann", PASSWORD)
    assert signed is not None and signed.name == "ann" and signed.roles == ("analyst",)
    assert service.by_password("ann", PASSWORD) == signed  # the cached check agrees
    via_token = service.by_password("ann", token)
    assert via_token is not None and via_token.name == "ann"
    refused = [
        ("ann", "wrong"),
        ("ann", ""),
        ("ann", PASSWORD + "x"),
        ("bob", PASSWORD),  # bob has no password
        ("bob", token),  # ann's token does not sign bob in
        ("ann", other),  # nor bob's ann
        (token, PASSWORD),  # a token is no user name
        (token, token),
        ("nobody", PASSWORD),
        ("", ""),
    ]
    for user, password in refused:
        assert service.by_password(user, password) is None, (user, password)


def test_the_verifier_and_by_name_serve_the_postgresql_exchange(
    store: UserStore, service: ServeService
) -> None:
    store.add("ann", ["analyst"], password=PASSWORD)
    store.add("bob", ["staff"])
    verifier = service.verifier("ann")
    assert verifier is not None and verifier.matches(PASSWORD)
    assert service.verifier("bob") is None and service.verifier("nobody") is None
    by_name = service.by_name("bob")
    assert by_name is not None and by_name.can_read("raw", "people")
    assert service.by_name("nobody") is None
    store.revoke("ann")
    assert service.verifier("ann") is None and service.by_name("ann") is None


class Clock:
    """`time` as `headwater.serve.service` sees it, moved by hand."""

    def __init__(self) -> None:
        import time

        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The service's clock, stopped: what it caches stays cached until the test moves it."""
    from headwater.serve import service as service_module

    clock = Clock()
    monkeypatch.setattr(service_module, "time", clock)
    return clock


def test_a_revoked_token_stops_working_when_its_lookup_expires(
    store: UserStore, service: ServeService, clock: Clock
) -> None:
    """A token's lookup is trusted for `CREDENTIALS_CACHE_S`; revocation applies at the latest
    when that window ends (the bound is the design's, not a measurement)."""
    token = store.add("ann", ["analyst"], password=PASSWORD)
    assert service.by_token(token) is not None
    assert service.by_password("ann", token) is not None
    store.revoke("ann")
    clock.now += CREDENTIALS_CACHE_S
    assert service.by_token(token) is None
    assert service.by_password("ann", token) is None


def test_an_unknown_token_is_looked_up_each_time(
    store: UserStore, service: ServeService, clock: Clock
) -> None:
    """A token that failed is not remembered as failing: one issued later works at once."""
    assert service.by_token("hw_not_issued_yet") is None
    token = store.add("ann", ["analyst"])
    assert service.by_token(token) is not None


def test_new_roles_apply_when_the_lookup_expires(
    store: UserStore, service: ServeService, clock: Clock
) -> None:
    token = store.add("ann", ["analyst"])
    first = service.by_token(token)
    assert first is not None and not first.can_read("raw", "people")
    store.set_roles("ann", ["staff"])
    clock.now += CREDENTIALS_CACHE_S
    second = service.by_token(token)
    assert second is not None and second.can_read("raw", "people")


def test_a_revoked_or_changed_password_stops_working_when_the_lookup_expires(
    store: UserStore, service: ServeService, clock: Clock
) -> None:
    """A password checked over HTTP is trusted while the user's credentials are (no key
    derivation per request); a new password or a revocation applies at the latest after
    `CREDENTIALS_CACHE_S`, however long the password check itself is kept."""
    store.add("ann", ["analyst"], password=PASSWORD)
    store.add("bob", ["analyst"], password=PASSWORD)
    assert service.by_password("ann", PASSWORD) is not None
    assert service.by_password("bob", PASSWORD) is not None
    store.revoke("ann")
    store.set_password("bob", "changed")
    clock.now += CREDENTIALS_CACHE_S
    assert CREDENTIALS_CACHE_S < PASSWORD_CACHE_S
    assert service.by_password("ann", PASSWORD) is None
    assert service.by_password("bob", PASSWORD) is None
    assert service.by_password("bob", "changed") is not None
    assert service.by_password("ann", "wrong") is None


@pytest.mark.parametrize(
    ("timeout", "seconds"), [("30s", 30.0), ("2m", 120.0), ("250ms", 0.25), (5, 5.0), (1.5, 1.5)]
)
def test_the_time_limit_is_read_as_seconds(timeout: object, seconds: float) -> None:
    """`serve.limits.timeout` is written like any duration of headwater.yml; the servers get
    seconds."""
    from headwater.project.serving import ServeLimits

    assert ServeLimits.model_validate({"timeout": timeout}).timeout == seconds


def test_a_time_limit_that_is_no_duration_is_a_config_error(make_project: ProjectFactory) -> None:
    from headwater.errors import ConfigError

    project = make_project(FILES, folder="bad", config="serve:\n  limits:\n    timeout: soon\n")
    with pytest.raises(ConfigError, match="not a duration") as caught:
        _ = project.definition
    assert "headwater.yml" in str(caught.value)
