"""The HTTP face of `headwater serve`: the API, with the web UI mounted behind the same sign-in.

Every request signs in with `Authorization: Bearer <token>` or HTTP Basic (`user:password`,
or `user:<token>`), unless the server runs with `serve.auth: false`. Deny by default: a request
that does not sign in gets 401 on every route but those in `ANONYMOUS_ROUTES`.

A browser resends Basic credentials to the server on its own, also for a request a page of
another site makes, so a request that is not a GET must not come from another site (its
`Origin` and `Sec-Fetch-Site` say so: 403), and one that could change anything (any but the
read-only `READ_ONLY_POSTS`) must sign in with a token (`Bearer`), which no page of another
site can make a browser send. No CORS headers are sent: a page elsewhere cannot read answers.
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations.
import base64
import binascii
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from headwater.orchestrate.principals import Principal
from headwater.serve.service import Caller, ServeService

if TYPE_CHECKING:
    from fastapi import FastAPI

ANONYMOUS_ROUTES = ("/healthz",)
"""Paths a request reaches without signing in (exact)."""
ANONYMOUS_PREFIXES = ("/static/",)
"""Path prefixes a request reaches without signing in: the UI's bundled CSS and scripts."""
SAFE_METHODS = ("GET", "HEAD")
"""Methods that only read. Anything else is refused from a page of another site."""
READ_ONLY_POSTS = ("/api/query", "/api/metrics/query")
"""Paths whose POST only reads (a query in a JSON body): HTTP Basic is enough for it. Any
other request with a method but `SAFE_METHODS` needs a token."""
REALM = 'Basic realm="Headwater", charset="UTF-8"'

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_server_app(service: ServeService) -> "FastAPI":
    """The HTTP application of `service`: the API routes, then the web UI, all behind sign-in."""
    from fastapi import FastAPI, Request
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from headwater.serve.routes import add_routes
    from headwater.ui.app import LOOPBACK_HOSTS, create_app

    project = service.workspace.project
    limits = service.limits

    def run_query(request: Request, sql: str, version: int | None) -> Any:
        return service.run_sql(caller_of(request, service), sql, as_of=version)

    ui = create_app(
        project,
        query_timeout_s=float(limits.timeout),
        max_rows=min(limits.max_rows, 10_000),
        allowed_hosts=("*",),
        run_query=run_query,
        workspace=service.workspace,
        reader_of=_reader_of,
    )
    app = FastAPI(
        title=f"Headwater: {project.definition.config.name}",
        docs_url=None,  # routes.py serves /api/docs from bundled assets, not a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    add_routes(app, service)
    app.mount("/", ui)
    if not service.auth:
        # nobody signs in, so a page elsewhere whose name resolves to 127.0.0.1 (DNS
        # rebinding) would read everything: only loopback names are answered (`auth: false`
        # is only allowed on a loopback address). With sign-in such a page has no credentials.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_HOSTS))
    app.add_middleware(SignIn, service=service)
    return app


NO_ONE = Principal(name=None)
"""Who reads the UI on a request that did not sign in (an allowlisted path): nothing."""


def _reader_of(request: Any) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None else NO_ONE


def caller_of(request: Any, service: ServeService) -> Caller:
    """The caller of a request that passed `SignIn`."""
    principal: Principal = request.state.principal
    client = request.client.host if request.client is not None else None
    return Caller(principal=principal, interface="http", client=client)


class SignIn:
    """ASGI middleware: signs each request in and puts its principal in `request.state`, or
    answers 401 (no or bad credentials) before any route runs."""

    def __init__(self, app: App, service: ServeService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # no route takes one; should one come, it must not pass unsigned
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # the server's lifespan events
            return
        from starlette.concurrency import run_in_threadpool

        path = scope.get("path", "")
        method = scope.get("method", "GET").upper()
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        principal = await run_in_threadpool(self._sign_in, authorization)
        if principal is None and not _anonymous_path(path):
            await _unauthorized(scope, send, bool(authorization))
            return
        if method not in SAFE_METHODS:
            if _from_another_site(headers):
                await _refuse(
                    send,
                    "a request that is not a GET from a page of another site is refused",
                    "send it from the server's own pages, or from a program (no Origin header)",
                )
                return
            token = authorization.partition(" ")[0].lower() == "bearer"
            read_only = method == "POST" and path in READ_ONLY_POSTS
            if not read_only and not (token and principal is not None):
                if principal is None or principal.name is None:
                    await _unauthorized(scope, send, bool(authorization))
                else:
                    await _refuse(
                        send,
                        f"{method} {path} needs an API token, not a password",
                        "send 'Authorization: Bearer <token>' (headwater users token NAME)",
                    )
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    def _sign_in(self, authorization: str) -> Principal | None:
        scheme, _, credentials = authorization.partition(" ")
        credentials = credentials.strip()
        if not scheme:
            return self.service.anonymous()
        if scheme.lower() == "bearer" and credentials:
            return self.service.by_token(credentials)
        if scheme.lower() == "basic" and credentials:
            try:
                text = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, colon, password = text.partition(":")
            return self.service.by_password(user, password) if colon else None
        return None


def _anonymous_path(path: str) -> bool:
    return path in ANONYMOUS_ROUTES or path.startswith(ANONYMOUS_PREFIXES)


def _from_another_site(headers: dict[bytes, bytes]) -> bool:
    """Whether a browser says the request comes from a page of another site (or an opaque
    origin): `Sec-Fetch-Site`, else an `Origin` whose host is not the one asked."""
    from urllib.parse import urlsplit

    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
    if site in ("cross-site", "same-site"):
        return True
    origin = headers.get(b"origin")
    if origin is None:
        return False  # not a browser's cross-origin request: browsers send Origin on those
    text = origin.decode("latin-1").strip().lower()
    if text == "null":
        return True
    try:
        netloc = urlsplit(text).netloc
    except ValueError:
        return True
    # a browser cannot set X-Forwarded-Host without a preflight, so a proxy's is trusted
    hosts = {
        headers.get(name, b"").decode("latin-1").strip().lower()
        for name in (b"host", b"x-forwarded-host")
    }
    return not netloc or netloc not in hosts


async def _refuse(send: Send, message: str, hint: str) -> None:
    import json

    body = json.dumps({"error": message, "hint": hint}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _unauthorized(scope: Scope, send: Send, tried: bool) -> None:
    import json

    message = (
        "the credentials are not valid (unknown or revoked token, wrong password)"
        if tried
        else "sign in: this server requires a token or a password"
    )
    body = json.dumps(
        {
            "error": message,
            "hint": "send 'Authorization: Bearer <token>' (headwater users add / token), "
            "or HTTP Basic with your user name and password",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", REALM.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
