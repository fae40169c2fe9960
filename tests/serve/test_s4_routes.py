"""S4 (RELIABILITY.md): every route of `headwater serve`'s HTTP face, requested anonymously
with deny-by-default on, is refused but for an explicit allowlist; bad, revoked and malformed
credentials are refused without a server error; a user without roles gets pages that list
nothing and a 404 for every asset; state-changing requests need a token.

The routes are enumerated from the application `create_server_app` builds (its own routes and
those of the web UI mounted in it, path parameters filled in), never listed by hand: a route
added tomorrow is checked tomorrow. The server runs in this process on a free port, with real
HTTP requests.
"""

from __future__ import annotations

import base64
import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.convertors import IntegerConvertor, PathConvertor
from starlette.routing import BaseRoute, Mount, Route

from headwater import Project
from headwater.catalog.access import UserStore
from headwater.serve import http as serve_http
from headwater.serve import service as service_module
from headwater.serve.http import create_server_app
from headwater.serve.service import ServeService
from headwater.ui.pages import Workspace
from tests.conftest import write_files
from tests.support.ui_server import free_port

FILES = {
    "headwater.yml": """
        name: s4
        threads: 2
        serve:
          roles:
            reader:
              read: ["*"]
            finance:
              read: ["tag:finance"]
    """,
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
    "models/core/ledger.sql": "select 1 as id, 100.5 as amount",
    "models/core/ledger.yml": "tags: [finance]\n",
}
ASSETS = ("raw.people", "core.by_city", "core.ledger")
ASSET = "core.by_city"
UNKNOWN_ASSET = "core.zz_no_such_asset"
PASSWORD = "a password of the s4 test"

ALLOWED_EXACT = ("/healthz",)
ALLOWED_PREFIXES = ("/static/",)
"""The anonymous allowlist this test accepts: widening the server's fails it."""
SAFE = ("GET", "HEAD")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNKNOWN_PATHS = (
    "/nope",
    "/api/nope",
    "/api",
    "/api/",
    "/assets",
    "/assets/",
    "/runs/",
    "/static",
    "/api/docs/x",
    "/.env",
    "/headwater.yml",
    "/%2e%2e/headwater.yml",
    "//etc/passwd",
    "/api/assets/core.by_city/lineage/x",
)
RAW_PATHS = (
    "/static/../headwater.yml",
    "/static/%2e%2e/headwater.yml",
    "/static/..%2fheadwater.yml",
    "/static/../api/me",
    "/static/../metrics",
    "/static/%2e%2e/api/me",
    "/static//etc/passwd",
)
"""Paths sent as written (httpx would resolve the dots): the allowlisted prefix must not
lead elsewhere."""


@dataclass(frozen=True)
class Endpoint:
    """A route of the application: its path template and the methods it answers."""

    template: str
    methods: frozenset[str]
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    needs_input: bool = False
    """It has required query parameters: without them it answers 400 or 422."""


@dataclass
class Served:
    url: str
    app: Any
    service: ServeService
    project: Project
    tokens: dict[str, str]
    run_id: str
    client: httpx.Client

    def request(
        self,
        method: str,
        path: str,
        authorization: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> httpx.Response:
        sent: list[tuple[bytes, bytes]] = [
            (name.encode(), value.encode()) for name, value in (headers or {}).items()
        ]
        if authorization is not None:
            value = authorization.encode() if isinstance(authorization, str) else authorization
            sent.append((b"Authorization", value))
        try:
            return self.client.request(method, self.url + path, headers=sent, **options)
        except httpx.TransportError:
            # the server closes a connection after a 500 (which fails the test that got it):
            # the next request goes on a new one, as a browser's would
            return self.client.request(method, self.url + path, headers=sent, **options)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(user: str, secret: str | bytes) -> str:
    raw = secret if isinstance(secret, bytes) else secret.encode()
    return "Basic " + base64.b64encode(user.encode() + b":" + raw).decode()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600  # a hang guard, not a measurement
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=600)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A built project, four users (one revoked) and the server's HTTP face over it."""
    root = tmp_path_factory.mktemp("s4") / "project"
    write_files(root, FILES)
    with Project(root) as project:
        assert project.run().status == "success"
        run_id = project.runs(1)[0]["run_id"]
        users = UserStore(project.catalog)
        tokens = {
            "reader": users.add("reader", ["reader"], PASSWORD),
            "norole": users.add("norole", [], PASSWORD),
            "revoked": users.add("revoked", ["admin"], PASSWORD),
            "cached": users.add("cached", ["admin"], PASSWORD),
        }
        users.revoke("revoked")
        service = ServeService(Workspace(project))
        app = create_server_app(service)
        try:
            with serving(app) as url, httpx.Client(timeout=600) as client:
                yield Served(url, app, service, project, tokens, run_id, client)
        finally:
            service.close()


# -- the routes, enumerated -------------------------------------------------------------------


def endpoints(routes: list[BaseRoute], prefix: str = "") -> list[Endpoint]:
    """Every route of `routes` (into mounted applications), as a path template and methods.

    A kind of route this test does not know fails it: teach the test what it is.
    """
    found: list[Endpoint] = []
    for route in routes:
        if isinstance(route, Mount):
            inner = route.routes
            if inner:
                found += endpoints(list(inner), prefix + route.path)
            else:  # an application of its own (the bundled static files): any path below it
                found.append(Endpoint(prefix + route.path + "/{path:path}", frozenset(SAFE)))
        elif isinstance(route, Route):
            params = dict(route.param_convertors)
            dependant = getattr(route, "dependant", None)  # FastAPI's routes have one
            queries = dependant.query_params if dependant is not None else []
            needs_input = any(query.field_info.is_required() for query in queries)
            methods = frozenset(route.methods or SAFE)
            found.append(Endpoint(prefix + route.path, methods, params, needs_input))
        else:
            raise AssertionError(f"a route of a kind this test does not know: {route!r}")
    return found


def fillings(endpoint: Endpoint, run_id: str) -> list[tuple[str, str | None]]:
    """Paths of `endpoint` with its parameters filled in, each with the asset it names (None:
    none): an asset, a run and a made-up value for each parameter."""
    import re

    names = re.findall(r"{([^}:]+)(?::[^}]*)?}", endpoint.template)
    if not names:
        return [(endpoint.template, None)]
    paths: list[tuple[str, str | None]] = []
    for value, asset in ((ASSET, ASSET), (UNKNOWN_ASSET, None), (run_id, None), ("x", None)):
        path = endpoint.template
        for name in names:
            convertor = endpoint.params.get(name)
            if isinstance(convertor, IntegerConvertor):
                filled = "0"
            elif isinstance(convertor, PathConvertor) and endpoint.template.startswith(
                ALLOWED_PREFIXES
            ):
                filled = "app.js" if value == ASSET else "nope.js"
            else:
                filled = value
            path = re.sub(r"{" + name + r"(?::[^}]*)?}", filled, path)
        paths.append((path, asset if asset is not None and asset in path else None))
    return list(dict.fromkeys(paths))


@pytest.fixture(scope="module")
def routes(served: Served) -> list[Endpoint]:
    found = endpoints(served.app.routes)
    templates = {e.template for e in found}
    # the enumeration reaches into the mounted UI: a sanity check of the walk, not a list
    for known in ("/", "/assets/{name}", "/api/query", "/metrics", "/healthz", "/api/me"):
        assert known in templates, (known, sorted(templates))
    assert any(t.startswith("/static/") for t in templates)
    return found


def allowlisted(path: str) -> bool:
    return path in ALLOWED_EXACT or path.startswith(ALLOWED_PREFIXES)


def test_the_servers_allowlist_is_the_one_this_test_accepts() -> None:
    assert serve_http.ANONYMOUS_ROUTES == ALLOWED_EXACT
    assert serve_http.ANONYMOUS_PREFIXES == ALLOWED_PREFIXES
    assert serve_http.READ_ONLY_POSTS == ("/api/query", "/api/metrics/query")


# -- anonymous ----------------------------------------------------------------------------------


def test_every_route_refuses_an_anonymous_request_but_the_allowlist(
    served: Served, routes: list[Endpoint]
) -> None:
    checked = 0
    for endpoint in routes:
        for path, _ in fillings(endpoint, served.run_id):
            for method in METHODS:
                response = served.request(method, path)
                checked += 1
                if method in SAFE and allowlisted(path):
                    # a GET route of FastAPI does not answer HEAD: 405
                    assert response.status_code in (200, 404, 405), (method, path)
                    continue
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.headers["www-authenticate"].startswith("Basic realm=")
                if method != "HEAD":
                    assert response.json()["error"].startswith("sign in")
    assert checked > 100


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_path_is_refused_to_an_anonymous_request(served: Served, path: str) -> None:
    for method in METHODS:
        assert served.request(method, path).status_code == 401, (method, path)


@pytest.mark.parametrize("path", RAW_PATHS)
def test_the_static_prefix_leads_nowhere_else(served: Served, path: str) -> None:
    host, port = served.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    assert response.status in (400, 401, 404), (path, response.status)
    assert "serve:" not in body and "reader" not in body and "headwater_runs" not in body


def test_the_allowlist_serves_the_bundled_files_and_health(served: Served) -> None:
    assert served.request("GET", "/healthz").json() == {"status": "ok"}
    script = served.request("GET", "/static/app.js")
    assert script.status_code == 200 and "sqlBox" in script.text
    assert served.request("GET", "/static/nope.js").status_code == 404


# -- bad credentials ----------------------------------------------------------------------------


def bad_credentials(served: Served) -> dict[str, bytes]:
    revoked = served.tokens["revoked"]
    return {
        "made-up token": b"Bearer hw_" + b"x" * 43,
        "revoked token": bearer(revoked).encode(),
        "revoked password": basic("revoked", PASSWORD).encode(),
        "revoked token as password": basic("revoked", revoked).encode(),
        "wrong password": basic("reader", "not it").encode(),
        "another user's token": basic("reader", served.tokens["norole"]).encode(),
        "unknown user": basic("ghost", PASSWORD).encode(),
        "empty password": basic("reader", "").encode(),
        "bare Bearer": b"Bearer",
        "bare Basic": b"Basic",
        "Basic !!!": b"Basic !!!",
        "Basic without a colon": b"Basic " + base64.b64encode(b"reader"),
        "Basic of non-UTF-8": b"Basic " + base64.b64encode(b"\xff\xfe:\xfd\xfc"),
        "Bearer of non-UTF-8": b"Bearer \xff\xfe\xfd",
        "non-UTF-8 scheme": b"\xff\xfe \xfd",
        "another scheme": b"Digest username=reader",
        "token without scheme": served.tokens["reader"].encode(),
        "huge token": b"Bearer hw_" + b"a" * 8000,
        "huge Basic": b"Basic " + base64.b64encode(b"reader:" + b"p" * 6000),
    }


def test_bad_credentials_are_refused_on_every_route_without_a_server_error(
    served: Served, routes: list[Endpoint]
) -> None:
    credentials = bad_credentials(served)
    for endpoint in routes:
        for path, _ in fillings(endpoint, served.run_id)[:1]:
            if allowlisted(path):
                continue
            for name, value in credentials.items():
                response = served.request("GET", path, value)
                assert response.status_code == 401, (path, name, response.status_code)
                assert "not valid" in response.json()["error"]
                assert value.decode("latin-1") not in response.text or len(value) < 8


def test_a_header_beyond_the_servers_limit_is_refused_without_a_server_error(
    served: Served,
) -> None:
    try:
        # a connection of its own: the server may drop it
        response = httpx.get(
            served.url + "/", headers={"Authorization": "Bearer hw_" + "a" * 200_000}, timeout=600
        )
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return  # the server dropped the connection: refused, no answer at all
    assert 400 <= response.status_code < 500


def test_a_revoked_user_is_refused_also_after_signing_in_with_its_password(
    served: Served,
) -> None:
    password = basic("cached", PASSWORD)
    token = bearer(served.tokens["cached"])
    assert served.request("GET", "/api/assets", password).status_code == 200
    assert served.request("GET", "/api/assets", token).status_code == 200
    UserStore(served.project.catalog).revoke("cached")
    # the server trusts what it read of a user for a moment (documented): past it, no more
    time.sleep(getattr(service_module, "CREDENTIALS_CACHE_S", 0.0) * 1.5)
    assert served.request("GET", "/api/assets", password).status_code == 401
    assert served.request("GET", "/api/assets", token).status_code == 401


# -- a user without roles -----------------------------------------------------------------------


def names_an_asset(text: str, but: str | None = None) -> list[str]:
    text = text if but is None else text.replace(but, "")
    return [key for key in ASSETS if key in text]


def test_a_user_without_roles_gets_pages_that_list_nothing_and_404_for_every_asset(
    served: Served, routes: list[Endpoint]
) -> None:
    who = bearer(served.tokens["norole"])
    for endpoint in routes:
        if "GET" not in endpoint.methods:
            continue
        for path, asset in fillings(endpoint, served.run_id):
            response = served.request("GET", path, who)
            assert response.status_code < 500, (path, response.status_code)
            assert not names_an_asset(response.text, but=asset), (path, response.text[:400])
            if allowlisted(path):
                continue
            if asset is not None:
                assert response.status_code == 404, (path, response.status_code)
                unknown = served.request("GET", path.replace(asset, UNKNOWN_ASSET), who)
                assert unknown.status_code == 404
                # exactly as an asset that does not exist
                assert response.text.replace(asset, "NAME") == unknown.text.replace(
                    UNKNOWN_ASSET, "NAME"
                )
            elif "{" not in endpoint.template:
                expected = (400, 422) if endpoint.needs_input else (200,)
                assert response.status_code in expected, (path, response.status_code)


def test_a_user_without_roles_reads_no_table_through_the_sql_box(served: Served) -> None:
    who = bearer(served.tokens["norole"])
    for key in ASSETS:
        sql = f"select * from {key}"
        response = served.request("POST", "/api/query", who, json={"sql": sql})
        assert response.status_code == 400, sql
        assert f"unknown table '{key}'" in response.json()["error"]
        assert not names_an_asset(response.text, but=key)
        csv = served.request("GET", "/api/query.csv", who, params={"sql": sql})
        assert csv.status_code == 400 and not names_an_asset(csv.text, but=key)
    tables = served.request("POST", "/api/query", who, json={"sql": "show tables"})
    assert tables.status_code == 200 and tables.json()["rows"] == []


# -- state-changing requests ------------------------------------------------------------------


def test_state_changing_requests_need_a_token(served: Served, routes: list[Endpoint]) -> None:
    token = bearer(served.tokens["reader"])
    password = basic("reader", PASSWORD)
    token_as_password = basic("reader", served.tokens["reader"])
    for endpoint in routes:
        for path, _ in fillings(endpoint, served.run_id)[:2]:
            for method in sorted(set(METHODS) - set(SAFE)):
                read_only = method == "POST" and path in serve_http.READ_ONLY_POSTS
                anonymous = served.request(method, path)
                assert anonymous.status_code == 401, (method, path)
                if read_only:
                    continue
                for secret in (password, token_as_password):
                    refused = served.request(method, path, secret)
                    assert refused.status_code == 403, (method, path, refused.status_code)
                    assert "needs an API token" in refused.json()["error"]
                # with a token it reaches the route: whatever it answers, not a sign-in refusal
                answered = served.request(method, path, token)
                assert answered.status_code not in (401, 403), (method, path)
                assert answered.status_code < 500, (method, path)


def test_the_read_only_query_is_answered_with_a_password_too(served: Served) -> None:
    body = {"sql": "select count(*) as n from core.by_city"}
    for secret in (basic("reader", PASSWORD), bearer(served.tokens["reader"])):
        response = served.request("POST", "/api/query", secret, json=body)
        assert response.status_code == 200 and response.json()["rows"] == [[2]]


# -- DNS rebinding without sign-in --------------------------------------------------------------


def test_without_sign_in_only_loopback_host_names_are_answered(served: Served) -> None:
    config = served.service.config.model_copy(update={"auth": False})
    service = ServeService(Workspace(served.project), config)
    try:
        with serving(create_server_app(service)) as url:
            port = url.rsplit(":", 1)[1]
            for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
                assert httpx.get(url + "/api/assets", headers={"Host": host}).status_code == 200
            for host in ("rebind.example", f"rebind.example:{port}", "127.0.0.1.nip.io"):
                for path in ("/", "/api/assets", "/api/me", "/healthz"):
                    response = httpx.get(url + path, headers={"Host": host}, timeout=600)
                    assert response.status_code == 400, (host, path)
                posted = httpx.post(
                    url + "/api/query",
                    json={"sql": "select 1"},
                    headers={"Host": host},
                    timeout=600,
                )
                assert posted.status_code == 400
            # no one signs in, yet a state-changing request still needs a token
            assert httpx.delete(url + "/api/assets", timeout=600).status_code == 401
            read = httpx.post(url + "/api/query", json={"sql": "select 1 as x"}, timeout=600)
            assert read.status_code == 200 and read.json()["rows"] == [[1]]
    finally:
        service.close()


def test_no_answer_grants_another_origin_anything(served: Served, routes: list[Endpoint]) -> None:
    token = bearer(served.tokens["reader"])
    for endpoint in routes:
        path, _ = fillings(endpoint, served.run_id)[0]
        for method in ("GET", "OPTIONS"):
            response = served.request(
                method,
                path,
                token,
                headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
            )
            assert not [h for h in response.headers if h.startswith("access-control-")], path
