"""REST APIs: JSON over HTTP(S) with httpx, page by page, into typed Parquet.

Pagination: page numbers, offset/limit, a cursor token read from the body, or the `Link`
header's `rel="next"`. Records are picked by a JSON path (`$.data.items`) and flattened
(`user__name`); nested arrays become child tables (`<table>__<field>`, see `records.py`).

Each request is retried on transient failures (connection errors, timeouts, HTTP 5xx and 429,
honouring `Retry-After`, and a 200 whose body cannot be read: cut off, not JSON, or without the
records path, since truncation is usually the transport's fault); a 4xx fails the table at once.
A load commits only what it knows is complete: a page still unreadable after the retries fails
the table's load (nothing committed, cursor unchanged), unless the table opts in to
`on_bad_page: quarantine`, which sets the page aside, goes on where the scheme allows (page
numbers, offsets, the `Link` header, which is read even when the body is bad) and marks the
extract incomplete so the loader keeps the cursor where it was.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.build.retry import with_retries
from headwater.build.secrets import REFERENCE, redact, resolve
from headwater.errors import ConfigError, Location, SourceError, TransientError
from headwater.ingest.base import (
    BadRecord,
    DatasetOrigin,
    Extracted,
    Extractor,
    ExtractRequest,
    origin_url,
)
from headwater.ingest.extractors import register_extractor
from headwater.ingest.records import RecordWriter, extracted, record_writer
from headwater.project.sources import SourceTable
from headwater.project.strict import duration_seconds

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

MAX_RAW = 10_000
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
SECRET_KEYS = {"bearer": ["token"], "basic": ["username", "password"], "api_key": ["value"]}


@dataclass
class _Response:
    """What paging needs of one response."""

    url: str
    status: int
    text: str
    headers: dict[str, str]
    links: dict[str, str]


@dataclass
class _Page:
    """One page as read: its records, or the problem that kept them from being read."""

    response: _Response
    body: Any
    records: list[Any] | None
    problem: str | None = None
    """Why the body could not be read, after every try (None when it was)."""
    tries: int = 1


class _BadBody(Exception):
    """A successful response whose body is not a readable page (cut off, not JSON, no
    records); retried like a 5xx, since truncation is usually the transport's fault."""

    def __init__(self, problem: str, response: _Response) -> None:
        super().__init__(problem)
        self.problem = problem
        self.response = response


class _TransientHttp(Exception):
    """A response worth retrying (5xx, 429), with the wait it asked for."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def select_records(body: Any, path: str | None) -> list[Any] | None:
    """Return the list at JSON path `path` (`$`, `$.a.b` or `a.b`) in `body`.

    None when the path is absent or holds something else, a JSON null included: an API that
    answers `{"data": null, "errors": [...]}` on a hiccup must not end the paging as if the
    records had run out.
    """
    node = body
    steps = [] if path in (None, "", "$") else path.removeprefix("$").strip(".").split(".")
    for step in steps:
        if not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return node if isinstance(node, list) else None


def _value_at(body: Any, path: str) -> Any:
    node = body
    for step in path.removeprefix("$").strip(".").split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


class _Limiter:
    """Spaces requests at least `1 / per_second` apart."""

    def __init__(self, per_second: float | None) -> None:
        self._gap = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._gap:
            return
        with self._lock:
            now = time.monotonic()
            if self._next > now:
                time.sleep(self._next - now)
            self._next = max(now, self._next) + self._gap


class RestExtractor(Extractor):
    """Reads one endpoint's records, page after page."""

    def extract(self, request: ExtractRequest) -> Extracted:
        import httpx

        spec = request.spec
        where = request.location()
        table = spec.table
        if table.endpoint is None:
            raise ConfigError(
                f"REST table {request.key} has no 'endpoint'",
                where,
                "set 'endpoint:' to the path under the source's base_url",
            )
        headers = {k: resolve(v, where, f"headers.{k}") for k, v in spec.source.headers.items()}
        params: dict[str, Any] = dict(table.params)
        auth: httpx.Auth | None = None
        config = spec.source.auth
        if config is not None:
            if config.type == "bearer":
                token = resolve(config.token or "", where, "auth.token")
                headers["Authorization"] = f"Bearer {token}"
            elif config.type == "basic":
                auth = httpx.BasicAuth(
                    resolve(config.username or "", where, "auth.username"),
                    resolve(config.password or "", where, "auth.password"),
                )
            else:
                name = config.name or "X-API-Key"
                value = resolve(config.value or "", where, "auth.value")
                if config.location == "header":
                    headers[name] = value
                else:
                    params[name] = value
        last = request.state.get("cursor")
        if table.cursor_param and last is not None:
            params[table.cursor_param] = (
                last if table.lookback is None else behind(last, table.lookback, where)
            )
        writer = record_writer(request, request.stage_dir / "pages")
        bad: list[BadRecord] = []
        base = (spec.source.base_url or "").rstrip("/") + "/" + table.endpoint.lstrip("/")
        with httpx.Client(
            headers=headers, auth=auth, timeout=spec.source.request_timeout, follow_redirects=True
        ) as client:
            complete = self._pages(request, client, base, params, writer, bad)
        writer.close()
        result = extracted(writer, bad)
        result.complete = complete
        return result

    def _pages(
        self,
        request: ExtractRequest,
        client: httpx.Client,
        base: str,
        params: dict[str, Any],
        writer: RecordWriter,
        bad: list[BadRecord],
    ) -> bool:
        """Read every page into `writer`; return whether every page was read (False when
        `on_bad_page: quarantine` set one aside or paging had to stop early).

        Raises:
            TransientError: a page stayed unreadable after the retries (`on_bad_page: fail`).
            SourceError: `paginate.max_pages` was reached while the API had more pages.
        """
        spec = request.spec
        paging = spec.table.paginate
        kind = paging.type if paging else "none"
        limiter = _Limiter(spec.source.requests_per_second)
        position = paging.start if paging else 0
        url: str | None = base
        query = dict(params)
        complete = True
        pages = paging.max_pages if paging else 1
        for page in range(1, pages + 1):
            if paging is not None and kind in ("page_number", "offset"):
                query[paging.param or ("page" if kind == "page_number" else "offset")] = position
                if paging.limit:
                    query[paging.limit_param] = paging.limit
            assert url is not None
            limiter.wait()
            fetched = self._get(client, request, url, query)
            response, records = fetched.response, fetched.records
            shown = f"{_public_url(response.url, spec)} page {page}"
            if fetched.problem is not None:
                if spec.table.on_bad_page == "fail":
                    raise _unreadable(request, shown, fetched)
                complete = False
                # the next page is known from the header or the page number, not from the body
                stops = kind == "cursor" or (kind == "offset" and not (paging and paging.limit))
                bad.append(
                    BadRecord(
                        shown,
                        "json",
                        f"{fetched.problem} (after {fetched.tries} tries; on_bad_page: "
                        "quarantine)"
                        + ("; paging stopped, the next page is unknown" if stops else ""),
                        response.text[:MAX_RAW],
                    )
                )
                if stops:
                    return False
            else:
                assert records is not None
                for record in records:
                    if isinstance(record, dict):
                        writer.add(record, shown)
                    else:
                        bad.append(
                            BadRecord(
                                shown, "json", "a record must be a JSON object", json.dumps(record)
                            )
                        )
            count = len(records) if records is not None else None
            if kind == "none" or count == 0:
                return complete
            if kind == "page_number":
                position += 1
            elif kind == "offset":
                assert paging is not None
                if count is not None and paging.limit and count < paging.limit:
                    return complete  # a short page is the last
                position += count if count is not None else (paging.limit or 0)
            elif kind == "cursor":
                assert paging is not None
                token = _value_at(fetched.body, paging.next or "$.next")
                if token in (None, ""):
                    return complete
                query = {**params, (paging.param or "cursor"): token}
            else:  # link_header
                url = response.links.get("next")
                query = {}
                if url is None:
                    return complete
        # the last page had records and a way on: stopping here would commit part of the data
        raise SourceError(
            f"source {spec.source_name}, table {spec.name}: stopped after paginate.max_pages "
            f"= {pages} pages while the API still had more; nothing was loaded",
            request.location(),
            "raise 'paginate: max_pages' (it only guards against endless paging)",
        )

    def _get(
        self, client: httpx.Client, request: ExtractRequest, url: str, query: dict[str, Any]
    ) -> _Page:
        """GET one page, retrying transient failures and unreadable bodies; return the page,
        with `problem` set when its body was still unreadable after the last try."""
        import httpx

        spec = request.spec
        tries = 0

        def attempt() -> _Page:
            nonlocal tries
            tries += 1
            response = client.get(url, params=query or None)
            if response.status_code in TRANSIENT_STATUS:
                raise _TransientHttp(
                    f"HTTP {response.status_code} from {_public_url(str(response.url), spec)}",
                    _retry_after(response.headers.get("Retry-After")),
                )
            if response.status_code >= 400:
                raise _permanent(request, response)
            links = {
                str(rel): str(link["url"])
                for rel, link in response.links.items()
                if isinstance(link, dict) and "url" in link
            }
            read = _Response(
                str(response.url),
                response.status_code,
                response.text,
                dict(response.headers),
                links,
            )
            try:
                body = json.loads(read.text)
            except ValueError as exc:
                raise _BadBody(f"the response is not JSON ({exc})", read) from None
            records = select_records(body, spec.table.records)
            if records is None:
                raise _BadBody(
                    f"the response has no record list at {spec.table.records or '$'}", read
                )
            return _Page(read, body, records, tries=tries)

        def transient(exc: BaseException) -> bool:
            return isinstance(
                exc, _TransientHttp | _BadBody | httpx.TransportError | httpx.DecodingError
            )

        try:
            return with_retries(
                attempt,
                spec.source.retries,
                transient,
                f"GET {_public_url(url, spec)}",
                wait_hint=lambda exc: getattr(exc, "retry_after", None),
            )
        except SourceError:
            raise
        except TransientError as exc:
            cause = exc.__cause__
            if isinstance(cause, _BadBody):
                # the caller decides: fail the load, or set the page aside (on_bad_page)
                return _Page(cause.response, None, None, cause.problem, tries)
            # still transient: the run may try the whole table again later
            raise TransientError(
                redact(f"source {spec.source_name}, table {spec.name}: {exc.message}"),
                request.location(),
                "check that the API is reachable at base_url; " + (exc.hint or ""),
            ) from None
        except Exception as exc:
            raise SourceError(
                redact(f"source {spec.source_name}, table {spec.name}: {exc}"),
                request.location(),
                "check that the API is reachable at base_url",
            ) from None


def _unreadable(request: ExtractRequest, shown: str, page: _Page) -> TransientError:
    """The failure of a table's load on a page that stayed unreadable."""
    spec = request.spec
    return TransientError(
        redact(
            f"source {spec.source_name}, table {spec.name}: {shown} could not be read after "
            f"{page.tries} tries: {page.problem}; the load failed and nothing was committed "
            "(table and cursor unchanged)"
        ),
        request.location(),
        "the API sent a broken page (often a transfer cut off on the way): load again; if it "
        "keeps failing, raise 'retries: attempts' or ask the API's owner, or set "
        "'on_bad_page: quarantine' (with mode merge or incremental and primary_key) to load "
        "the other pages and set this one aside",
    )


def behind(last: Any, lookback: int | float | str, where: Location) -> Any:
    """Return the cursor value `lookback` behind `last`, as sent to the API.

    A number goes back from a numeric cursor; a duration (`2h`) from an ISO date or timestamp
    (kept in the same form: a date stays a date when whole days go back, `Z` stays `Z`).

    Raises:
        ConfigError: the lookback does not fit the cursor's values.
    """
    numeric = isinstance(last, int | float) and not isinstance(last, bool)
    if isinstance(lookback, int | float):
        if numeric:
            return last - lookback
        problem, fix = "is a number", "write it as a duration (30m, 2h, 1d)"
    elif numeric:
        problem, fix = "is a duration", "write it as a number in the cursor's unit"
    else:
        seconds = duration_seconds(lookback)
        text = str(last)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            problem, fix = "is a duration", "use a date or timestamp cursor, or a numeric lookback"
        else:
            moved = parsed - dt.timedelta(seconds=seconds)
            if len(text) == 10 and moved.time() == dt.time():
                return moved.date().isoformat()
            shown = moved.isoformat()
            if text.endswith("Z") and shown.endswith("+00:00"):
                shown = shown.removesuffix("+00:00") + "Z"
            return shown
    raise ConfigError(
        f"lookback {lookback!r} {problem} but the stored cursor value is {last!r}",
        where,
        f"fix 'lookback': {fix}",
    )


def _permanent(request: ExtractRequest, response: httpx.Response) -> SourceError:
    """The error of a request the API refused (HTTP 4xx), with what to check."""
    spec = request.spec
    status = response.status_code
    shown = _public_url(str(response.url), spec)
    origin = ""
    if status in (401, 403):
        origin, hint = _credentials(spec)
    elif status == 404:
        hint = "check 'endpoint' and base_url"
    else:
        hint = "check the table's endpoint and params"
    return SourceError(
        redact(
            f"source {spec.source_name}, table {spec.name}: HTTP {status} from {shown}"
            f"{origin}: {response.text[:200]}"
        ),
        request.location(),
        hint,
    )


def _credentials(spec: SourceTable) -> tuple[str, str]:
    """Where a refused request's credentials came from (a message part) and what to check;
    names the keys and environment variables, never a value."""
    keys: list[tuple[str, str]] = []
    auth = spec.source.auth
    if auth is not None:
        keys += [(f"auth.{k}", getattr(auth, k) or "") for k in SECRET_KEYS[auth.type]]
    keys += [(f"headers.{name}", value) for name, value in spec.source.headers.items()]
    variables = [
        (key, name) for key, text in keys for name in dict.fromkeys(REFERENCE.findall(text))
    ]
    if variables:
        named = ", ".join(f"{name} (in '{key}')" for key, name in variables)
        plural = "s" if len(variables) > 1 else ""
        return (
            f" (credentials from environment variable{plural} {named})",
            f"check that {' and '.join(dict.fromkeys(n for _, n in variables))} hold"
            f"{'' if plural else 's'} a valid, unexpired credential with access to this "
            "endpoint (values are never shown)",
        )
    if auth is not None:
        where = ", ".join(f"'auth.{k}'" for k in SECRET_KEYS[auth.type])
        return (
            f" (credentials written in {where})",
            f"check {where}; better, write it as ${{ENV_VAR}} and export the variable",
        )
    return " (no credentials sent)", "add 'auth:' to the source (bearer, basic or api_key)"


def _public_url(url: str, spec: SourceTable) -> str:
    """`url` without an API key sent as a query parameter (and any secret value)."""
    auth = spec.source.auth
    if auth is not None and auth.type == "api_key" and auth.location == "query":
        parts = urllib.parse.urlsplit(url)
        kept = [
            (k, v)
            for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            if k != (auth.name or "X-API-Key")
        ]
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(kept)))
    return redact(url)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def rest_origin(spec: SourceTable, project_root: Path) -> DatasetOrigin:
    """The endpoint as OpenLineage names it: `scheme://host` of the source's `base_url`, and
    the base URL's path followed by the table's `endpoint`."""
    base = urllib.parse.urlsplit(origin_url(spec.source.base_url or ""))
    return DatasetOrigin(
        f"{base.scheme}://{base.hostname or ''}", base.path + (spec.table.endpoint or "")
    )


register_extractor("rest", RestExtractor, rest_origin)
