"""The routes of the HTTP API (`/api/...`); the web UI's pages are mounted after them.

- `POST /api/query`, `GET /api/query`: one read-only SELECT, as the signed-in user.
- `GET /api/tables`, `GET /api/tables/{table}`, `GET /api/tables/{table}/rows`: the tables the
  user may read, a table's schema, and keyset pages of its rows with filters.
- `GET /api/openapi.json` describes them; `GET /api/docs` is Swagger UI, served from the
  copy the `fastapi-offline` package ships (nothing is fetched from elsewhere).

Results come as JSON, CSV, Arrow IPC or Parquet (`?format=` or `Accept`, see
`headwater.serve.formats`). Errors are `{"error": ..., "hint": ...}`: 400 for a request that
cannot run (a bad parameter is named), 404 for a table that does not exist or that the user
may not read (the same answer), 406 for an `Accept` no format matches, 408 for a query past
the time limit, 503 when every query slot stayed busy. Their `kind` says which (`invalid`,
`refused`, `not_found`, `not_acceptable`, `timeout`, `busy`).
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations.
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.serve.service import ServeService

if TYPE_CHECKING:
    import pyarrow as pa
    from fastapi import FastAPI, Request, Response

    from headwater.metrics.compile import MetricRequest
    from headwater.query.parameters import Parameter
    from headwater.serve.formats import Format

DOCS_ASSETS = "/api/docs/assets"
"""Where Swagger UI's script, style sheet and icon are served from."""
QUERY_TAG = "query"
TABLES_TAG = "tables"
METRICS_TAG = "metrics"

_RESULT_CONTENT: dict[str, Any] = {
    "application/json": {},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}
_ERROR = {
    "description": "An error: what went wrong and how to fix it",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "hint": {"type": ["string", "null"]},
                    "kind": {
                        "type": "string",
                        "enum": [
                            "invalid",
                            "refused",
                            "not_found",
                            "not_acceptable",
                            "timeout",
                            "busy",
                        ],
                    },
                    "parameter": {
                        "type": "string",
                        "description": "The query parameter that cannot be used",
                    },
                },
            }
        }
    },
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _ERROR,
    401: {"description": "Not signed in (a token or a password is needed)"},
    406: _ERROR,
    408: _ERROR,
    503: _ERROR,
}
_FORMAT_DOC = (
    "The result's encoding: json (the default), csv, arrow (Arrow IPC stream) or parquet. "
    "The Accept header chooses too (application/json, text/csv, "
    "application/vnd.apache.arrow.stream, application/vnd.apache.parquet). JSON keeps values "
    "exact: DECIMAL values are strings, dates and timestamps ISO 8601 strings (UTC with Z for "
    "a timestamp with a time zone), NaN and infinities the strings nan, inf, -inf, binary "
    "base64."
)
_AS_OF_DOC = "Read the tables as of a version number or an ISO timestamp (time travel)."
_QUERY_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["sql"],
                "properties": {
                    "sql": {"type": "string", "description": "One SELECT in DuckDB SQL."},
                    "params": {
                        "type": "array",
                        "description": "Values of the placeholders $1, $2, ... (or ?).",
                        "items": {},
                    },
                    "as_of": {
                        "oneOf": [{"type": "integer"}, {"type": "string"}],
                        "description": _AS_OF_DOC,
                    },
                    "max_rows": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Return at most this many rows (never more than the "
                        "server's serve.limits.max_rows).",
                    },
                    "format": {
                        "type": "string",
                        "enum": ["json", "csv", "arrow", "parquet"],
                        "description": "The result's encoding, as ?format= (which wins).",
                    },
                },
            },
            "example": {
                "sql": "select * from core.orders where amount > $1",
                "params": [100],
            },
        }
    },
}
_NAMES = {"type": "array", "items": {"type": "string"}}
_METRICS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["metrics"],
                "properties": {
                    "metrics": {**_NAMES, "description": "The metrics to answer."},
                    "group_by": {
                        **_NAMES,
                        "description": "metric_time__day|week|month|quarter|year, "
                        "entity__dimension, entity__time__grain, or an entity.",
                    },
                    "where": {
                        **_NAMES,
                        "description": "Filters on group-by items, applied before aggregating.",
                    },
                    "order_by": {**_NAMES, "description": "Names; -name sorts descending."},
                    "limit": {"type": "integer", "minimum": 0},
                    "max_rows": {"type": "integer", "minimum": 0},
                    "compile": {
                        "type": "boolean",
                        "description": "Return the SQL instead of running it.",
                    },
                    "format": {"type": "string", "enum": ["json", "csv", "arrow", "parquet"]},
                },
            },
            "example": {
                "metrics": ["revenue", "order_count"],
                "group_by": ["metric_time__month", "customer__segment"],
                "where": ["customer__segment = 'consumer'"],
                "order_by": ["-revenue"],
                "limit": 10,
            },
        }
    },
}
_QUERY_RESULT = {
    "type": "object",
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "array", "items": {}}},
        "truncated": {"type": "boolean"},
        "elapsed_ms": {"type": "number"},
    },
}
_ROWS_RESULT = {
    "type": "object",
    "properties": {
        "table": {"type": "string"},
        "version": {"type": ["integer", "null"]},
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "array", "items": {}}},
        "next": {
            "type": ["string", "null"],
            "description": "The cursor of the next page: pass it as after=; null on the last page.",
        },
        "elapsed_ms": {"type": "number"},
    },
}
_FILTERS = {
    "name": "filters",
    "in": "query",
    "style": "form",
    "explode": True,
    "required": False,
    "description": (
        "Filters, one parameter per condition, named after the column: col=eq.5, ne, lt, "
        'le (lte), gt, ge (gte), in.(a,b,"c,d"), like.*x* and ilike.*x* (* matches '
        "anything), is.null, is.not_null, is.true, is.false; not. before any negates it "
        "(col=not.eq.5). Values are read as the column's type (dates and timestamps in ISO "
        "8601, binary in base64); a bad value or an unknown column is a 400 naming the "
        "parameter. Conditions on the same or different columns all hold (AND). A column "
        "named columns, order, limit, after, as_of or format cannot be filtered here (use "
        "POST /api/query)."
    ),
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
}


def add_routes(app: "FastAPI", service: ServeService) -> None:
    """Add the API's routes (and its documentation page) to the FastAPI application `app`."""
    from fastapi import Query, Request, Response
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool

    from headwater.errors import HeadwaterError
    from headwater.serve.http import caller_of
    from headwater.serve.rows import BadParameter
    from headwater.serve.tables import TableReads
    from headwater.ui.app import json_body

    reads = TableReads(service)
    # a list-valued query parameter: FastAPI reads the repeated `where=` into it
    where_query = Query(None, description="A filter on dimensions (repeatable).")

    @app.exception_handler(HeadwaterError)
    async def user_error(_: Request, exc: HeadwaterError) -> JSONResponse:
        status, kind = _status_of(exc)
        headers = {"Retry-After": "1"} if status == 503 else None
        body: dict[str, Any] = {"error": exc.message, "hint": exc.hint, "kind": kind}
        if isinstance(exc, BadParameter):
            body["parameter"] = exc.parameter
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own check of a declared parameter: the same 400 as any bad parameter
        problem = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in problem.get("loc", ()) if part not in ("query", "path")]
        name = location[-1] if location else "request"
        body = {
            "error": f"parameter {name}: {problem.get('msg', 'is not valid')}",
            "hint": None,
            "kind": "invalid",
            "parameter": name,
        }
        return JSONResponse(body, status_code=400)

    @app.get("/api/me", tags=["users"], summary="The signed-in user and its roles")
    def me(request: Request) -> dict[str, Any]:
        """The signed-in user and its roles."""
        principal = request.state.principal
        return {"user": principal.name, "roles": list(principal.roles)}

    # -- queries ---------------------------------------------------------------------------------

    @app.post(
        "/api/query",
        tags=[QUERY_TAG],
        summary="Run one read-only SELECT",
        response_class=JSONResponse,
        responses={200: _result_doc(_QUERY_RESULT, truncated=True), 415: _ERROR, **_ERRORS},
        openapi_extra={"requestBody": _QUERY_BODY},
    )
    async def query(
        request: Request,
        format: str | None = Query(None, description=_FORMAT_DOC),
    ) -> Response:
        """Run one read-only SELECT in DuckDB SQL over the tables the user may read (any other
        table does not exist for it), within the server's time limit and row cap, and record
        it in the query log. `params` are bound to `$1`, `$2`, ... (or `?`) as literals.
        Non-JSON results carry `X-Headwater-Truncated: true` when the row cap cut them."""
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            body = {}
        in_body = body.get("format")
        if format is None and in_body is not None:
            if not isinstance(in_body, str):
                raise BadParameter("format", "must be json, csv, arrow or parquet")
            format = in_body
        form = _format(format, request)
        sql = body.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            return JSONResponse(
                {"error": "no query", "hint": 'send {"sql": "select ..."}'}, status_code=400
            )
        params = _params(body.get("params"))
        as_of = _body_as_of(body.get("as_of"))
        max_rows = _max_rows(body.get("max_rows"))
        caller = caller_of(request, service)
        result = await run_in_threadpool(
            lambda: service.run_sql(caller, sql, params=params, as_of=as_of, max_rows=max_rows)
        )
        return _query_response(result, form)

    @app.get(
        "/api/query",
        tags=[QUERY_TAG],
        summary="Run one read-only SELECT (query string)",
        response_class=JSONResponse,
        responses={200: _result_doc(_QUERY_RESULT, truncated=True), **_ERRORS},
    )
    def query_get(
        request: Request,
        sql: str = Query(..., description="One SELECT in DuckDB SQL."),
        params: str | None = Query(
            None, description='Values of $1, $2, ... as a JSON array, e.g. [5, "AIR"].'
        ),
        as_of: str | None = Query(None, description=_AS_OF_DOC),
        max_rows: int | None = Query(None, ge=0, description="Return at most this many rows."),
        format: str | None = Query(None, description=_FORMAT_DOC),
    ) -> Response:
        """`POST /api/query` for clients that only send GETs: the same query and answer."""
        form = _format(format, request)
        if not sql.strip():
            raise BadParameter("sql", "is empty", hint="sql=select ...")
        values = None
        if params is not None:
            try:
                values = json.loads(params)
            except ValueError:
                raise BadParameter(
                    "params", "is not a JSON array", hint='params=[5, "AIR"]'
                ) from None
        result = service.run_sql(
            caller_of(request, service),
            sql,
            params=_params(values),
            as_of=_body_as_of(as_of),
            max_rows=max_rows,
        )
        return _query_response(result, form)

    # -- metrics ---------------------------------------------------------------------------------

    @app.get(
        "/api/metrics",
        tags=[METRICS_TAG],
        summary="The metrics the user may ask for",
        responses=_ERRORS,
    )
    def metrics(request: Request) -> list[dict[str, Any]]:
        """Every metric of the semantic layer whose tables the user may read: its name, type,
        description, measures, and the group-by items it can be grouped by."""
        return service.metrics.describe(request.state.principal)

    @app.post(
        "/api/metrics/query",
        tags=[METRICS_TAG],
        summary="Answer metrics grouped by dimensions",
        response_class=JSONResponse,
        responses={200: _result_doc(_QUERY_RESULT, truncated=True), 415: _ERROR, **_ERRORS},
        openapi_extra={"requestBody": _METRICS_BODY},
    )
    async def metrics_query(
        request: Request,
        format: str | None = Query(None, description=_FORMAT_DOC),
    ) -> Response:
        """Answer metrics grouped by `group_by` items (`metric_time__month`,
        `customer__segment`), filtered by `where` before they aggregate, ordered by `order_by`
        (`-name`: descending) and limited, as the user reads the tables (masking and row
        filters apply). `compile: true` returns the SQL instead. `X-Headwater-Cache` says
        whether the answer came from the cache, which is keyed by the versions of the tables
        read."""
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            raise BadParameter("body", "must be a JSON object", hint='{"metrics": ["revenue"]}')
        form = _format(format or _text(body, "format"), request)
        metric_request = _metric_request(body)
        caller = caller_of(request, service)
        if body.get("compile") is True:
            compiled = service.metrics.compile(caller.principal, metric_request)
            return JSONResponse({"sql": compiled.sql, "tables": list(compiled.assets)})
        max_rows = _max_rows(body.get("max_rows"))
        answer = await run_in_threadpool(
            lambda: service.metrics.answer(caller, metric_request, max_rows)
        )
        response = _query_response(answer.result, form)
        response.headers["X-Headwater-Cache"] = "hit" if answer.cached else "miss"
        return response

    @app.get(
        "/api/metrics/query",
        tags=[METRICS_TAG],
        summary="Answer metrics grouped by dimensions (query string)",
        response_class=JSONResponse,
        responses={200: _result_doc(_QUERY_RESULT, truncated=True), **_ERRORS},
    )
    def metrics_query_get(
        request: Request,
        metrics: str = Query(..., description="Metrics, comma-separated."),
        group_by: str | None = Query(None, description="Group-by items, comma-separated."),
        where: list[str] | None = where_query,
        order_by: str | None = Query(None, description="Names, comma-separated; -name: desc."),
        limit: int | None = Query(None, ge=0, description="Return at most this many rows."),
        format: str | None = Query(None, description=_FORMAT_DOC),
    ) -> Response:
        """`POST /api/metrics/query` for clients that only send GETs: the same answer."""
        from headwater.metrics.compile import MetricRequest

        form = _format(format, request)
        metric_request = MetricRequest(
            tuple(_split(metrics)),
            tuple(_split(group_by)),
            tuple(where or ()),
            tuple(_split(order_by)),
            limit,
        )
        answer = service.metrics.answer(caller_of(request, service), metric_request)
        response = _query_response(answer.result, form)
        response.headers["X-Headwater-Cache"] = "hit" if answer.cached else "miss"
        return response

    # -- tables ----------------------------------------------------------------------------------

    @app.get(
        "/api/tables",
        tags=[TABLES_TAG],
        summary="The tables the user may read",
        responses=_ERRORS,
    )
    def tables(request: Request) -> list[dict[str, Any]]:
        """Every table the signed-in user may read: its name (`namespace.name`), kind (how it is
        built), current version, number of columns, declared keys (`serve.tables.<t>.keys`,
        else its primary or unique key; null when none) and whether the serving cache holds
        it."""
        return reads.listing(request.state.principal)

    @app.get(
        "/api/tables/{table}",
        tags=[TABLES_TAG],
        summary="A table's schema",
        responses={404: _ERROR, **_ERRORS},
    )
    def table(request: Request, table: str) -> dict[str, Any]:
        """The schema of a table (`namespace.name`, or the name alone when only one table has
        it): its columns (name, DuckDB type, nullable), current version, the keys that end
        every page's order, and the serving cache's state (`state`, `version`, `rows`,
        `loaded_at`, `fresh`, `memory_bytes`) when it is cached. A table the user may not
        read is a 404, like one that does not exist."""
        return reads.describe(caller_of(request, service), table)

    @app.get(
        "/api/tables/{table}/rows",
        tags=[TABLES_TAG],
        summary="A page of a table's rows",
        response_class=JSONResponse,
        responses={200: _result_doc(_ROWS_RESULT, truncated=False), 404: _ERROR, **_ERRORS},
        openapi_extra={"parameters": [_FILTERS]},
    )
    def rows(
        request: Request,
        table: str,
        columns: str | None = Query(None, description="The columns to send: columns=a,b."),
        order: str | None = Query(
            None,
            description="order=a,-b (or b.desc): the table's keys always end the order, so "
            "pages are stable. Nulls sort last.",
        ),
        limit: int | None = Query(
            None,
            description="Rows in the page (default serve.limits.page_size, at most "
            "serve.limits.max_rows).",
        ),
        after: str | None = Query(
            None, description="The `next` cursor of the previous page (keyset pagination)."
        ),
        as_of: str | None = Query(None, description=_AS_OF_DOC),
        format: str | None = Query(None, description=_FORMAT_DOC),
    ) -> Response:
        """One page of a table's rows, filtered (see `filters`), in the order asked and then by
        the table's keys. The response's `next` (also the `X-Headwater-Next` header and a
        `Link: rel="next"` header) continues it: `after=<next>` with the same table, filters
        and order. Each page is found by its order values, never by skipping rows. Read from
        the serving cache when the table is cached and fresh, else from the Delta table (the
        `X-Headwater-Source` header says which; `X-Headwater-Version` the version read)."""
        form = _format(format, request)
        page = reads.page(caller_of(request, service), table, request.query_params.multi_items())
        headers = {
            "X-Headwater-Source": page.source,
            "X-Headwater-Version": "" if page.version is None else str(page.version),
        }
        if page.next is not None:
            headers["X-Headwater-Next"] = page.next
            headers["Link"] = f'<{_next_url(request, page.next)}>; rel="next"'
        if form.name == "json":
            from headwater.serve.formats import dumps, json_rows

            body = {
                "table": page.key,
                "version": page.version,
                "columns": page.table.column_names,
                "rows": json_rows(page.table),
                "next": page.next,
                "elapsed_ms": round(page.elapsed_s * 1000, 3),
            }
            return _response(dumps(body), form, headers)
        return _encoded(page.table, form, headers)

    # -- documentation ---------------------------------------------------------------------------

    assets = _swagger_assets()
    if assets is not None:
        from fastapi.openapi.docs import get_swagger_ui_html
        from starlette.staticfiles import StaticFiles

        app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="api-docs-assets")

        @app.get("/api/docs", include_in_schema=False)
        def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url or "/api/openapi.json",
                title=f"{app.title}: API",
                swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                # the validator badge would load an image from swagger.io
                swagger_ui_parameters={"validatorUrl": None},
            )


# -- helpers -------------------------------------------------------------------------------------


def _status_of(exc: Exception) -> tuple[int, str]:
    """The HTTP status of an error and its `kind` (what a client branches on)."""
    from headwater.errors import NotFoundError, TableNotFoundError
    from headwater.query.policy import QueryRejected
    from headwater.query.readonly import QueryCancelled, QueryTimeout
    from headwater.serve.formats import NotAcceptable
    from headwater.serve.service import ServerBusy

    if isinstance(exc, NotFoundError | TableNotFoundError):
        return 404, "not_found"
    if isinstance(exc, QueryTimeout | QueryCancelled):
        return 408, "timeout"
    if isinstance(exc, ServerBusy):
        return 503, "busy"
    if isinstance(exc, NotAcceptable):
        return 406, "not_acceptable"
    if isinstance(exc, QueryRejected):
        return 400, "refused"
    return 400, "invalid"


def _swagger_assets() -> Path | None:
    """Swagger UI's files as the `fastapi-offline` package ships them (None without it: the
    OpenAPI description is still served, the page is not)."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _result_doc(schema: dict[str, Any], truncated: bool) -> dict[str, Any]:
    content = dict(_RESULT_CONTENT)
    content["application/json"] = {"schema": schema}
    doc: dict[str, Any] = {"description": "The result, in the format asked", "content": content}
    if truncated:
        doc["headers"] = {
            "X-Headwater-Truncated": {
                "description": "true when the row cap cut the result (non-JSON formats)",
                "schema": {"type": "string"},
            }
        }
    else:
        doc["headers"] = {
            "X-Headwater-Next": {
                "description": "The cursor of the next page",
                "schema": {"type": "string"},
            },
            "X-Headwater-Source": {
                "description": "cache or delta: where the page was read",
                "schema": {"type": "string"},
            },
            "X-Headwater-Version": {
                "description": "The table's version read",
                "schema": {"type": "string"},
            },
        }
    return doc


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _text(body: dict[str, Any], key: str) -> str | None:
    from headwater.serve.rows import BadParameter

    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadParameter(key, "must be text")
    return value


def _names(body: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of names in a JSON body: a list of text, or one comma-separated text."""
    from headwater.serve.rows import BadParameter

    value = body.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(_split(value))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise BadParameter(key, "must be a list of names", hint=f'"{key}": ["..."]')


def _metric_request(body: dict[str, Any]) -> "MetricRequest":
    from headwater.metrics.compile import MetricRequest
    from headwater.serve.rows import BadParameter

    limit = body.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise BadParameter("limit", "must be a whole number of rows (0 or more)")
    where = body.get("where", [])
    if isinstance(where, str):
        where = [where]
    if not isinstance(where, list) or not all(isinstance(w, str) for w in where):
        raise BadParameter("where", "must be a filter or a list of filters")
    metrics = _names(body, "metrics")
    if not metrics:
        raise BadParameter("metrics", "names no metric", hint='"metrics": ["revenue"]')
    return MetricRequest(
        metrics, _names(body, "group_by"), tuple(where), _names(body, "order_by"), limit
    )


def _format(requested: str | None, request: "Request") -> "Format":
    from headwater.serve.formats import choose_format

    return choose_format(requested, request.headers.get("accept"))


def _params(value: Any) -> "list[Parameter] | None":
    from headwater.serve.rows import BadParameter

    if value is None:
        return None
    if not isinstance(value, list):
        raise BadParameter("params", "must be a list of values", hint='"params": [5, "AIR"]')
    for item in value:
        if isinstance(item, list | dict):
            raise BadParameter(
                "params",
                "holds a list or an object; each value must be a number, text, true/false or null",
            )
    return value


def _body_as_of(value: Any) -> str | int | None:
    from headwater.serve.rows import BadParameter

    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise BadParameter("as_of", "must be a version number or an ISO timestamp")


def _max_rows(value: Any) -> int | None:
    from headwater.serve.rows import BadParameter

    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadParameter("max_rows", "must be a whole number of rows (0 or more)")
    return value


def _query_response(result: Any, form: "Format") -> "Response":
    from headwater.serve.cache import CachedResult
    from headwater.serve.formats import TRUNCATED_HEADER, dumps, json_rows

    source = "cache" if isinstance(result, CachedResult) else "delta"
    headers = {"X-Headwater-Source": source}
    if form.name == "json":
        body = {
            "columns": result.table.column_names,
            "rows": json_rows(result.table),
            "truncated": result.truncated,
            "elapsed_ms": round(result.elapsed_s * 1000, 1),
        }
        return _response(dumps(body), form, headers)
    headers[TRUNCATED_HEADER] = "true" if result.truncated else "false"
    return _encoded(result.table, form, headers)


def _encoded(table: "pa.Table", form: "Format", headers: dict[str, str]) -> "Response":
    from headwater.serve.formats import encode

    return _response(encode(table, form), form, headers)


def _response(content: bytes, form: "Format", headers: dict[str, str]) -> "Response":
    from fastapi import Response

    return Response(content=content, media_type=form.media_type, headers=headers)


def _next_url(request: "Request", cursor: str) -> str:
    from urllib.parse import urlencode

    items = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    items.append(("after", cursor))
    return f"{request.url.path}?{urlencode(items)}"
