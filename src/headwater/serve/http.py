"""The HTTP face of `headwater serve`: the API, with the web UI mounted behind the same sign-in.

Every request signs in with `Authorization: Bearer <token>` or HTTP Basic (`user:password`,
or `user:<token>`), unless the server runs with `serve.auth: false`. Deny by default: a request
that does not sign in gets 401 on every route but those in `ANONYMOUS_ROUTES`.
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations.
import base64
import binascii
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from headwater.serve.principal import Principal
from headwater.serve.service import Caller, ServeService

if TYPE_CHECKING:
    from fastapi import FastAPI

ANONYMOUS_ROUTES = ("/healthz",)
"""Paths a request reaches without signing in (exact)."""
ANONYMOUS_PREFIXES = ("/static/",)
"""Path prefixes a request reaches without signing in: the UI's bundled CSS and scripts."""
REALM = 'Basic realm="Headwater", charset="UTF-8"'

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_server_app(service: ServeService) -> "FastAPI":
    """The HTTP application of `service`: the API routes, then the web UI, all behind sign-in."""
    from fastapi import FastAPI, Request

    from headwater.serve.routes import add_routes
    from headwater.ui.app import create_app

    project = service.workspace.project
    limits = service.limits

    def run_query(request: Request, sql: str) -> Any:
        return service.run_sql(caller_of(request, service), sql)

    ui = create_app(
        project,
        query_timeout_s=float(limits.timeout),
        max_rows=min(limits.max_rows, 10_000),
        allowed_hosts=("*",),
        run_query=run_query,
        workspace=service.workspace,
    )
    app = FastAPI(
        title=f"Headwater: {project.definition.config.name}",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    add_routes(app, service)
    app.mount("/", ui)
    app.add_middleware(SignIn, service=service)
    return app


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
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool

        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        principal = await run_in_threadpool(self._sign_in, authorization)
        if principal is None and not _anonymous_path(path):
            await _unauthorized(scope, send, bool(authorization))
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
