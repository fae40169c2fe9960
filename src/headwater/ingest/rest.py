"""REST APIs: JSON over HTTP(S) with httpx, page by page, into typed Parquet.

Pagination: page numbers, offset/limit, a cursor token read from the body, or the `Link`
header's `rel="next"`. Records are picked by a JSON path (`$.data.items`) and flattened
(`user__name`); nested arrays become child tables (`<table>__<field>`, see `records.py`).

Each request is retried on transient failures (connection errors, timeouts, HTTP 5xx and 429,
honouring `Retry-After`); a 4xx fails the table at once. A page whose body is not JSON, or lacks
the records path, is quarantined whole; paging goes on where the scheme allows (page numbers,
offsets) and stops where the next page cannot be known (cursor, link header).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, Location, SourceError, TransientError
from headwater.ingest.base import BadRecord, Extracted, Extractor, ExtractRequest
from headwater.ingest.records import RecordWriter, extracted, record_writer
from headwater.ingest.retry import with_retries
from headwater.ingest.secrets import redact, resolve
from headwater.project.sources import SourceTable

if TYPE_CHECKING:
    import httpx

MAX_RAW = 10_000
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
SECRET_KEYS = {"bearer": "token", "basic": "password", "api_key": "value"}


@dataclass
class _Response:
    """What paging needs of one response."""

    url: str
    status: int
    text: str
    headers: dict[str, str]
    links: dict[str, str]


class _TransientHttp(Exception):
    """A response worth retrying (5xx, 429), with the wait it asked for."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def select_records(body: Any, path: str | None) -> list[Any] | None:
    """The list at JSON path `path` (`$`, `$.a.b` or `a.b`) in `body`; None if absent."""
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
        where = Location(file=f"sources/{spec.source_name}.yml", asset=_key(spec))
        table = spec.table
        if table.endpoint is None:
            raise ConfigError(
                f"REST table {_key(spec)} has no 'endpoint'",
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
            params[table.cursor_param] = last
        writer = record_writer(request, request.stage_dir / "pages")
        bad: list[BadRecord] = []
        base = (spec.source.base_url or "").rstrip("/") + "/" + table.endpoint.lstrip("/")
        with httpx.Client(
            headers=headers, auth=auth, timeout=spec.source.request_timeout, follow_redirects=True
        ) as client:
            self._pages(request, client, base, params, writer, bad)
        writer.close()
        return extracted(writer, bad)

    def _pages(
        self,
        request: ExtractRequest,
        client: httpx.Client,
        base: str,
        params: dict[str, Any],
        writer: RecordWriter,
        bad: list[BadRecord],
    ) -> None:
        spec = request.spec
        paging = spec.table.paginate
        kind = paging.type if paging else "none"
        limiter = _Limiter(spec.source.requests_per_second)
        position = paging.start if paging else 0
        url: str | None = base
        query = dict(params)
        for page in range(1, (paging.max_pages if paging else 1) + 1):
            if paging is not None and kind in ("page_number", "offset"):
                query[paging.param or ("page" if kind == "page_number" else "offset")] = position
                if paging.limit:
                    query[paging.limit_param] = paging.limit
            assert url is not None
            limiter.wait()
            response = self._get(client, spec, url, query)
            shown = f"{_public_url(response.url, spec)} page {page}"
            try:
                body = json.loads(response.text)
                records = select_records(body, spec.table.records)
            except ValueError as exc:
                body, records = None, None
                problem = f"the response is not JSON: {exc}"
            else:
                problem = f"the response has no record list at {spec.table.records or '$'}"
            if records is None:
                stops = kind in ("cursor", "link_header")
                bad.append(
                    BadRecord(
                        shown,
                        "json",
                        problem + ("; paging stopped, the next page is unknown" if stops else ""),
                        response.text[:MAX_RAW],
                    )
                )
                if stops:
                    return
            else:
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
                return
            if kind == "page_number":
                position += 1
            elif kind == "offset":
                assert paging is not None
                if count is not None and paging.limit and count < paging.limit:
                    return  # a short page is the last
                position += count if count is not None else (paging.limit or 0)
            elif kind == "cursor":
                assert paging is not None
                token = _value_at(body, paging.next or "$.next")
                if token in (None, ""):
                    return
                query = {**params, (paging.param or "cursor"): token}
            else:  # link_header
                url = response.links.get("next")
                query = {}
                if url is None:
                    return

    def _get(
        self, client: httpx.Client, spec: SourceTable, url: str, query: dict[str, Any]
    ) -> _Response:
        import httpx

        def attempt() -> _Response:
            response = client.get(url, params=query or None)
            if response.status_code in TRANSIENT_STATUS:
                raise _TransientHttp(
                    f"HTTP {response.status_code} from {_public_url(str(response.url), spec)}",
                    _retry_after(response.headers.get("Retry-After")),
                )
            if response.status_code >= 400:
                raise _permanent(spec, response)
            links = {
                str(rel): str(link["url"])
                for rel, link in response.links.items()
                if isinstance(link, dict) and "url" in link
            }
            return _Response(
                str(response.url),
                response.status_code,
                response.text,
                dict(response.headers),
                links,
            )

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, _TransientHttp | httpx.TransportError)

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
            # still transient: the run may try the whole table again later
            raise TransientError(
                redact(f"source {spec.source_name}, table {spec.name}: {exc.message}"),
                Location(file=f"sources/{spec.source_name}.yml", asset=_key(spec)),
                "check that the API is reachable at base_url; " + (exc.hint or ""),
            ) from None
        except Exception as exc:
            raise SourceError(
                redact(f"source {spec.source_name}, table {spec.name}: {exc}"),
                Location(file=f"sources/{spec.source_name}.yml", asset=_key(spec)),
                "check that the API is reachable at base_url",
            ) from None


def _permanent(spec: SourceTable, response: httpx.Response) -> SourceError:
    status = response.status_code
    shown = _public_url(str(response.url), spec)
    if status in (401, 403):
        auth = spec.source.auth
        key = f"auth.{SECRET_KEYS[auth.type]}" if auth else "auth"
        hint = f"check the credentials in '{key}' (and the environment variable it names)"
    elif status == 404:
        hint = "check 'endpoint' and base_url"
    else:
        hint = "check the table's endpoint and params"
    return SourceError(
        redact(
            f"source {spec.source_name}, table {spec.name}: HTTP {status} from {shown}: "
            f"{response.text[:200]}"
        ),
        Location(file=f"sources/{spec.source_name}.yml", asset=_key(spec)),
        hint,
    )


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


def _key(spec: SourceTable) -> str:
    return f"{spec.source_name}.{spec.name}"
