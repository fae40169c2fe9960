"""The web UI's server: HTML pages, a small JSON API, `/metrics`, all from one project.

It only reads: pages show the catalog and the tables, the SQL box runs read-only queries
(see `headwater.query.readonly`). Everything it serves is bundled; no page fetches anything
from elsewhere. Behind `headwater serve`'s sign-in each request has a reader, and every page
and JSON answer shows only the assets it may read (`headwater.ui.access`).
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations, and the
# types they name (Request, ...) are imported inside create_app to keep them off CLI start-up.
import contextlib
import io
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, NotFoundError
from headwater.ui.access import Reader, Sight
from headwater.ui.pages import Links, Preview, Workspace, asset_page, graph_page, lineage_json
from headwater.ui.render import STATIC, render
from headwater.ui.run_pages import run_page, runs_page

if TYPE_CHECKING:
    from fastapi import FastAPI

    from headwater.query.readonly import QueryResult
    from headwater.workspace import Project

_LOG = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_ROWS = 1000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
"""Host headers a UI on a loopback address answers: a page elsewhere that rebinds its own
domain name to 127.0.0.1 sends its own name, and is refused."""
MAX_PAGE = 1_000_000


def create_app(
    project: "Project",
    *,
    query_timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    run_query: "Callable[[Any, str, int | None], QueryResult] | None" = None,
    workspace: Workspace | None = None,
    reader_of: "Callable[[Any], Reader] | None" = None,
) -> "FastAPI":
    """The UI application for `project`; SQL box queries stop after `query_timeout_s` and
    return at most `max_rows` rows. Requests whose Host header is not in `allowed_hosts`
    (`"*"`: any) are refused.

    `run_query(request, sql, version)` runs the SQL box's queries and the asset pages'
    previews (at `version`) in place of the read-only path with these limits (a server with
    users runs them as the request's user, masked); `workspace` is the
    (shared) workspace of `project` to show; `reader_of(request)` is who reads (a server with
    users gives the signed-in user): pages show only the assets it may read. Without it every
    request sees everything."""
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    workspace = workspace or Workspace(project)
    links = Links()

    def reader(request: Request) -> Reader | None:
        return None if reader_of is None else reader_of(request)

    def query(request: Request, sql: str) -> Any:
        if run_query is not None:
            return run_query(request, sql, None)
        return _run_query(workspace, sql, query_timeout_s, max_rows)

    def preview(request: Request) -> Preview | None:
        """How the asset page reads its preview: as the request's user under a server (its
        masking and row filters apply); None reads it as the local operator."""
        if run_query is None:
            return None
        return lambda sql, version: run_query(request, sql, version).table

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the column graph of a large project takes a moment: build it before the first page
        threading.Thread(target=_warm, args=(workspace,), daemon=True).start()
        yield

    app = FastAPI(title="Headwater", docs_url="/api/docs", redoc_url=None, lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    def page(template: str, context: dict[str, Any], nav: str = "") -> HTMLResponse:
        name = workspace.fresh().definition.config.name
        return HTMLResponse(render(template, context, name, nav))

    def problem(status: int, message: str, hint: str | None) -> HTMLResponse:
        try:
            name = workspace.project.definition.config.name
        except HeadwaterError:  # the project itself is broken: that is the error shown
            name = workspace.project.root.name
        context = {"title": "Not found" if status == 404 else "Error", "links": links}
        body = render("error.html", {**context, "message": message, "hint": hint}, name)
        return HTMLResponse(body, status_code=status)

    @app.exception_handler(HeadwaterError)
    async def user_error(request: Request, exc: HeadwaterError) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)
        return problem(status, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own answer is JSON that echoes the input; say which parameter, not its value
        names = sorted({str(e["loc"][-1]) for e in exc.errors() if e.get("loc")})
        message = f"bad value for {', '.join(names) or 'a parameter'}"
        hint = "; ".join(sorted({str(e.get("msg", "")) for e in exc.errors()})) or None
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "hint": hint}, status_code=400)
        return problem(400, message, hint)

    @app.get("/", response_class=HTMLResponse)
    def graph(request: Request, select: str | None = None) -> HTMLResponse:
        context = graph_page(workspace, select, links, reader(request))
        response = page("graph.html", context, "graph")
        if context["error"]:  # the page stays, the selector's error above the graph
            response.status_code = 400
        return response

    @app.get("/assets/{name}", response_class=HTMLResponse)
    def asset(request: Request, name: str, version: int | None = Query(None, ge=0)) -> HTMLResponse:
        context = asset_page(workspace, name, version, links, reader(request), preview(request))
        return page("asset.html", context, "graph")

    @app.get("/runs", response_class=HTMLResponse)
    def runs(
        request: Request, page_number: int = Query(1, alias="page", ge=1, le=MAX_PAGE)
    ) -> HTMLResponse:
        context = runs_page(workspace, page_number, links, reader(request))
        return page("runs.html", context, "runs")

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: str) -> HTMLResponse:
        context = run_page(workspace, run_id, links, reader(request))
        if context is None:
            return problem(404, f"no run {run_id}", "see the list of runs at /runs")
        return page("run.html", context, "runs")

    @app.get("/runs/{run_id}/live", response_class=HTMLResponse)
    def run_live(request: Request, run_id: str) -> HTMLResponse:
        context = run_page(workspace, run_id, links, reader(request))
        if context is None:
            return HTMLResponse("", status_code=404)
        return page("run_live.html", context)

    @app.get("/sql", response_class=HTMLResponse)
    def sql_page(request: Request, sql: str = "") -> HTMLResponse:
        context = {
            "title": "SQL",
            "links": links,
            "sql": sql or _example_query(workspace.fresh(), reader(request)),
            "max_rows": max_rows,
            "timeout": query_timeout_s,
        }
        return page("sql.html", context, "sql")

    # -- JSON ------------------------------------------------------------------------------

    @app.get("/api/assets")
    def assets_json(request: Request) -> list[dict[str, Any]]:
        project = workspace.fresh()
        sight = Sight(project.definition, reader(request))
        keys = sight.select()
        latest = project.latest_results(keys)
        return [
            {
                "key": key,
                "kind": project.definition.assets[key].build_kind,
                "depends_on": sight.only(project.definition.assets[key].depends_on),
                "status": latest[key]["status"] if key in latest else None,
            }
            for key in keys
        ]

    @app.get("/api/assets/{name}/lineage")
    def asset_lineage(request: Request, name: str) -> dict[str, Any]:
        return lineage_json(workspace, name, reader(request))

    @app.get("/api/runs/{run_id}")
    def run_json(request: Request, run_id: str) -> Response:
        context = run_page(workspace, run_id, links, reader(request))
        if context is None:
            return JSONResponse({"error": f"no run {run_id}"}, status_code=404)
        keep = ("run", "results", "attempts")
        return JSONResponse(json.loads(json.dumps({k: context[k] for k in keep}, default=str)))

    @app.post("/api/query")
    async def query_json(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = await json_body(request)
        if isinstance(body, Response):
            return body
        sql = body.get("sql") if isinstance(body, dict) else None
        if not isinstance(sql, str) or not sql.strip():
            return JSONResponse(
                {"error": "no query", "hint": 'send {"sql": "select ..."}'}, status_code=400
            )
        result = await run_in_threadpool(query, request, sql)
        table = result.table
        columns = [[_json_value(v) for v in column.to_pylist()] for column in table.columns]
        rows = [list(row) for row in zip(*columns, strict=True)]
        return JSONResponse(
            {
                "columns": table.column_names,
                "rows": rows,
                "truncated": result.truncated,
                "elapsed_ms": round(result.elapsed_s * 1000, 1),
            }
        )

    @app.get("/api/query.csv")
    def query_csv(request: Request, sql: str) -> Response:
        import pyarrow.csv as pacsv

        result = query(request, sql)
        sink = io.BytesIO()
        pacsv.write_csv(_flat(result.table), sink)
        headers = {"Content-Disposition": 'attachment; filename="result.csv"'}
        if result.truncated:
            headers["X-Headwater-Truncated"] = f"first {max_rows} rows"
        return Response(sink.getvalue(), media_type="text/csv", headers=headers)

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from headwater.ui.metrics import exposition

        project = workspace.fresh()
        sight = Sight(project.definition, reader(request))
        body = exposition(project, None if sight.everything else sight.sees)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def json_body(request: Any) -> Any:
    """The JSON body of a POST, or the error response to send instead: 415 when it is not
    sent as `application/json` (a form or text/plain POST from another site's page needs no
    CORS preflight, so only JSON is taken), 400 when it does not parse."""
    from fastapi.responses import JSONResponse

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        return JSONResponse(
            {"error": "the body must be JSON", "hint": "send Content-Type: application/json"},
            status_code=415,
        )
    try:
        return await request.json()
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)


def _warm(workspace: Workspace) -> None:
    try:
        workspace.column_graph()
    except Exception:  # the first page that needs it will say what is wrong
        _LOG.debug("warming the column graph failed", exc_info=True)


def _run_query(workspace: Workspace, sql: str, timeout_s: float, max_rows: int) -> Any:
    from headwater.query.readonly import run_readonly

    return run_readonly(workspace.fresh(), sql, timeout_s=timeout_s, max_rows=max_rows)


def _example_query(project: "Project", reader: Reader | None = None) -> str:
    from headwater.project.kinds import AssetKind

    sight = Sight(project.definition, reader)
    stored = [
        a
        for a in project.definition.assets.values()
        if a.kind == AssetKind.MODEL and sight.sees(a.key)
    ]
    if not stored:
        return "select 42 as answer"
    return f"select * from {stored[-1].key} limit 10"


def _json_value(value: Any) -> Any:
    """`value` as JSON can hold it: NaN and infinities as text (JSON has no such numbers),
    lists and structs as JSON arrays and objects, anything else as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def _flat(table: Any) -> Any:
    """`table` with its nested columns (lists, structs, maps), which CSV cannot hold, as JSON
    text."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_nested(field.type):
            text = [
                None if v is None else json.dumps(_json_value(v))
                for v in table.column(index).to_pylist()
            ]
            table = table.set_column(index, field.name, pa.array(text, pa.string()))
    return table
