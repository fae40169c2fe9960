"""The routes of the HTTP API (`/api/...`); the web UI's pages are mounted after them."""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations.
from typing import TYPE_CHECKING, Any

from headwater.serve.service import ServeService

if TYPE_CHECKING:
    from fastapi import FastAPI


def add_routes(app: "FastAPI", service: ServeService) -> None:
    """Add the API's routes to the FastAPI application `app`."""
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    from headwater.errors import HeadwaterError, NotFoundError
    from headwater.serve.http import caller_of
    from headwater.ui.app import _json_value

    @app.exception_handler(HeadwaterError)
    async def user_error(_: Request, exc: HeadwaterError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFoundError) else 400
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)

    @app.get("/api/me")
    def me(request: Request) -> dict[str, Any]:
        """The signed-in user and its roles."""
        principal = request.state.principal
        return {"user": principal.name, "roles": list(principal.roles)}

    @app.post("/api/query")
    async def query(request: Request) -> JSONResponse:
        """Run one read-only SELECT: `{"sql": "...", "params": [...], "as_of": ...}`."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return JSONResponse(
                {"error": "the body must be JSON", "hint": "send Content-Type: application/json"},
                status_code=415,
            )
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        sql = body.get("sql") if isinstance(body, dict) else None
        if not isinstance(sql, str) or not sql.strip():
            return JSONResponse(
                {"error": "no query", "hint": 'send {"sql": "select ..."}'}, status_code=400
            )
        result = await run_in_threadpool(
            lambda: service.run_sql(
                caller_of(request, service),
                sql,
                params=body.get("params"),
                as_of=body.get("as_of"),
            )
        )
        table = result.table
        columns = [[_json_value(v) for v in column.to_pylist()] for column in table.columns]
        return JSONResponse(
            {
                "columns": table.column_names,
                "rows": [list(row) for row in zip(*columns, strict=True)],
                "truncated": result.truncated,
                "elapsed_ms": round(result.elapsed_s * 1000, 1),
            }
        )
