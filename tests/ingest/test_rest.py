"""REST sources against a real HTTP server on 127.0.0.1: paging, retries, auth, bad pages."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater import Project
from headwater.errors import ConfigError, Location
from headwater.ingest.rest import behind
from tests.conftest import ProjectFactory, run_cli

PEOPLE = [{"id": i, "name": f"p{i}", "team": {"name": f"t{i % 3}"}} for i in range(1, 26)]
Reply = tuple[int, dict[str, str], str]
"""Status, extra headers and body of a response."""
Route = Callable[["Api", dict[str, str], dict[str, str]], Reply]


@dataclass
class Api:
    """A tiny JSON API; `routes` map a path to a handler, `seen` logs every request."""

    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    failures: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.seen.append((parts.path, query, headers))
            queued = state.failures.get(parts.path)
            if queued:
                status, extra = queued.pop(0)
                self._send(status, extra, json.dumps({"error": "try again"}))
                return
            route = state.routes.get(parts.path)
            if route is None:
                self._send(404, {}, '{"error": "not found"}')
                return
            self._send(*route(state, query, headers))

        def _send(self, status: int, headers: dict[str, str], body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def page_numbers(api: Api, query: dict[str, str], headers: dict[str, str]) -> Reply:
    page, size = int(query.get("page", 1)), 10
    return 200, {}, json.dumps({"data": PEOPLE[(page - 1) * size : page * size]})


def rest_source(api: Api, table: str, extra: str = "") -> dict[str, str]:
    return {
        "sources/crm.yml": (
            f"kind: rest\nbase_url: {api.base}\n"
            "retries:\n  attempts: 4\n  backoff: 0.01\n  max_delay: 0.05\n"
            f"{extra}tables:\n{table}"
        )
    }


def loaded(project: Project, key: str, *columns: str) -> list[tuple[Any, ...]]:
    namespace, name = key.split(".")
    table = DeltaTable(str(project.definition.warehouse / namespace / name)).to_pyarrow_table()
    return sorted(tuple(r[c] for c in columns) for r in table.to_pylist())


PAGED = """  people:
    endpoint: /people
    records: $.data
    paginate: {type: page_number, param: page}
"""


def test_page_numbers_flattened_records(make_project: ProjectFactory, api: Api) -> None:
    api.routes["/people"] = page_numbers
    project = make_project(rest_source(api, PAGED))
    summary = project.run()
    assert summary.outcome("crm.people").rows == 25, summary.outcome("crm.people").message
    assert loaded(project, "crm.people", "id", "team__name") == [
        (p["id"], p["team"]["name"]) for p in PEOPLE
    ]
    assert [q.get("page") for _, q, _ in api.seen] == ["1", "2", "3", "4"]


def test_offset_cursor_and_link_header_paging(make_project: ProjectFactory, api: Api) -> None:
    def offsets(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        start, limit = int(query["offset"]), int(query["limit"])
        return 200, {}, json.dumps(PEOPLE[start : start + limit])

    def cursors(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        start = int(query.get("after", 0))
        chunk = PEOPLE[start : start + 7]
        following = start + 7 if start + 7 < len(PEOPLE) else None
        return 200, {}, json.dumps({"items": chunk, "meta": {"next": following}})

    def linked(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        page = int(query.get("p", 0))
        headers = {}
        if (page + 1) * 10 < len(PEOPLE):
            headers["Link"] = f'<{api.base}/linked?p={page + 1}>; rel="next"'
        return 200, headers, json.dumps(PEOPLE[page * 10 : page * 10 + 10])

    api.routes.update({"/offsets": offsets, "/cursors": cursors, "/linked": linked})
    tables = (
        "  by_offset:\n    endpoint: /offsets\n"
        "    paginate: {type: offset, param: offset, start: 0, limit: 10}\n"
        "  by_cursor:\n    endpoint: /cursors\n    records: $.items\n"
        "    paginate: {type: cursor, param: after, next: $.meta.next}\n"
        "  by_link:\n    endpoint: /linked\n    paginate: {type: link_header}\n"
    )
    project = make_project(rest_source(api, tables))
    summary = project.run()
    for key in ("crm.by_offset", "crm.by_cursor", "crm.by_link"):
        assert summary.outcome(key).rows == 25, (key, summary.outcome(key).message)
        assert loaded(project, key, "id") == [(i,) for i in range(1, 26)]


def test_429_and_500_are_retried(make_project: ProjectFactory, api: Api) -> None:
    api.routes["/people"] = page_numbers
    api.failures["/people"] = [(429, {"Retry-After": "0"}), (500, {}), (503, {})]
    project = make_project(rest_source(api, PAGED))
    outcome = project.run().outcome("crm.people")
    assert outcome.status == "success" and outcome.rows == 25, outcome.message
    assert len(api.seen) == 4 + 3


def test_retries_run_out_with_a_clear_error(make_project: ProjectFactory, api: Api) -> None:
    api.routes["/people"] = page_numbers
    api.failures["/people"] = [(500, {})] * 10
    outcome = make_project(rest_source(api, PAGED)).run().outcome("crm.people")
    assert outcome.status == "failed"
    assert "failed 4 times" in (outcome.message or "") and "HTTP 500" in (outcome.message or "")
    assert len(api.seen) == 4


def test_a_malformed_page_is_quarantined_and_the_others_load_when_opted_in(
    make_project: ProjectFactory, api: Api
) -> None:
    def flaky(api: Api, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if query.get("page") == "2":
            return 200, {}, "<html>gateway hiccup</html>"
        return page_numbers(api, query, headers)

    api.routes["/people"] = flaky
    table = PAGED + "    mode: merge\n    primary_key: id\n    on_bad_page: quarantine\n"
    project = make_project(rest_source(api, table))
    outcome = project.run().outcome("crm.people")
    assert outcome.status == "success" and outcome.rows == 15
    assert "1 quarantined" in (outcome.message or "")
    assert [q.get("page") for _, q, _ in api.seen].count("2") == 4  # retried first
    bad = project.quarantine("crm.people").to_pylist()
    assert bad[0]["error_class"] == "json" and "gateway hiccup" in bad[0]["raw"]
    assert bad[0]["location"].endswith("page 2")


@pytest.mark.parametrize("kind", ["bearer", "basic", "api_key_header", "api_key_query"])
def test_auth_is_sent_and_secrets_never_show(
    make_project: ProjectFactory, api: Api, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-Token-9931"
    monkeypatch.setenv("CRM_SECRET", canary)
    expected = {
        "bearer": ("authorization", f"Bearer {canary}"),
        "basic": ("authorization", "Basic " + base64.b64encode(f"me:{canary}".encode()).decode()),
        "api_key_header": ("x-key", canary),
        "api_key_query": ("key", canary),
    }[kind]
    auth = {
        "bearer": "auth: {type: bearer, token: '${CRM_SECRET}'}\n",
        "basic": "auth: {type: basic, username: me, password: '${CRM_SECRET}'}\n",
        "api_key_header": "auth: {type: api_key, name: X-Key, value: '${CRM_SECRET}'}\n",
        "api_key_query": (
            "auth: {type: api_key, name: key, value: '${CRM_SECRET}', location: query}\n"
        ),
    }[kind]

    def guarded(api: Api, query: dict[str, str], headers: dict[str, str]) -> Reply:
        name, value = expected
        given = query.get(name) if kind == "api_key_query" else headers.get(name)
        if given != value:
            return 401, {}, '{"error": "unauthorized"}'
        if query.get("page") == "2":
            return 200, {}, "not json at all"
        return 200, {}, json.dumps({"data": PEOPLE[:10] if query.get("page") == "1" else []})

    api.routes["/people"] = guarded
    table = PAGED + "    mode: merge\n    primary_key: id\n    on_bad_page: quarantine\n"
    project = make_project(rest_source(api, table, auth))
    result = run_cli(["run"], project.root, env={"CRM_SECRET": canary})
    assert result.returncode == 0, result.stdout + result.stderr
    bad = project.quarantine("crm.people").to_pylist()
    assert len(bad) == 1 and canary not in json.dumps(bad, default=str)
    wrong = run_cli(["run"], project.root, env={"CRM_SECRET": "wrong-" + canary})
    assert wrong.returncode == 1
    assert "HTTP 401" in wrong.stdout and "auth." in wrong.stdout
    assert "CRM_SECRET" in wrong.stdout
    for text in (result.stdout, result.stderr, wrong.stdout, wrong.stderr):
        assert canary not in text
    assert canary.encode() not in (project.root / ".headwater" / "catalog.db").read_bytes()


def test_a_rest_error_names_the_source_file_as_it_is_named_on_disk(
    make_project: ProjectFactory, api: Api
) -> None:
    """A source in `sources/api.yaml` whose `name:` differs from its file is named by that
    file in its errors, not by a `sources/<name>.yml` made up from its name."""
    api.routes["/people"] = lambda api, q, h: (404, {}, '{"error": "gone"}')
    text = rest_source(api, PAGED)["sources/crm.yml"]
    project = make_project({"sources/api.yaml": f"name: crm\n{text}"})
    outcome = project.run().outcome("crm.people")
    assert outcome.status == "failed" and "HTTP 404" in (outcome.message or "")
    assert "sources/api.yaml" in (outcome.message or ""), outcome.message
    assert "sources/crm.yml" not in (outcome.message or "")


def test_a_401_is_not_retried(make_project: ProjectFactory, api: Api) -> None:
    api.routes["/people"] = lambda api, q, h: (401, {}, '{"error": "no"}')
    outcome = make_project(rest_source(api, PAGED)).run().outcome("crm.people")
    assert outcome.status == "failed" and "HTTP 401" in (outcome.message or "")
    assert len(api.seen) == 1


def test_incremental_sends_the_cursor_and_merges(make_project: ProjectFactory, api: Api) -> None:
    rows = [{"id": i, "updated": i} for i in range(1, 6)]

    def since(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        after = int(query.get("since", 0))
        return 200, {}, json.dumps([r for r in rows if r["updated"] > after])

    api.routes["/changes"] = since
    table = (
        "  changes:\n    endpoint: /changes\n    mode: merge\n    primary_key: id\n"
        "    cursor: updated\n    cursor_param: since\n"
    )
    project = make_project(rest_source(api, table))
    assert project.run().outcome("crm.changes").rows == 5
    rows.append({"id": 2, "updated": 9})
    rows.append({"id": 6, "updated": 10})
    assert project.run().outcome("crm.changes").rows == 2
    assert api.seen[-1][1].get("since") == "5"
    assert loaded(project, "crm.changes", "id", "updated") == [
        (1, 1),
        (2, 9),
        (3, 3),
        (4, 4),
        (5, 5),
        (6, 10),
    ]
    assert project.run().outcome("crm.changes").message == "nothing new"


def test_nested_arrays_become_child_tables_linked_by_key(
    make_project: ProjectFactory, api: Api
) -> None:
    people = [
        {"id": i, "emails": [{"address": f"p{i}-{n}@x.org"} for n in range(i % 3)]}
        for i in range(1, 26)
    ]

    def paged(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        page = int(query.get("page", 1))
        return 200, {}, json.dumps({"data": people[(page - 1) * 10 : page * 10]})

    api.routes["/people"] = paged
    table = PAGED + "    mode: merge\n    primary_key: id\n"
    project = make_project(rest_source(api, table))
    assert project.run().outcome("crm.people").rows == 25
    emails = loaded(project, "crm.people__emails", "_hw_parent_id", "address")
    ids = {r[0]: r[1] for r in loaded(project, "crm.people", "_hw_id", "id")}
    assert sorted((ids[parent], address) for parent, address in emails) == sorted(
        (p["id"], e["address"]) for p in people for e in p["emails"]
    )
    people[4]["emails"] = [{"address": "new@x.org"}]  # id 5 had two addresses
    outcome = project.run().outcome("crm.people")
    assert outcome.status == "success", outcome.message
    again = loaded(project, "crm.people__emails", "_hw_parent_id", "address")
    assert sorted(a for p, a in again if ids[p] == 5) == ["new@x.org"]
    assert len(again) == len(emails) - 1


# -- a page cut off in transit (issue 11): every item lands exactly once, or nothing commits --


@dataclass
class Feed:
    """1,000 items served 50 a page; the page starting at `cut_at` (offset among the items
    past `since`) is cut off mid-array (HTTP 200) while `cuts` is not 0 (-1: always)."""

    items: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": i, "updated": i, "name": f"item {i}"} for i in range(1, 1001)
        ]
    )
    cut_at: int = 300
    cuts: int = 0
    size: int = 50
    served: list[int] = field(default_factory=list)
    """The start offset of every page served."""
    null_at_cut: bool = False
    """Answer the page at `cut_at` with `"items": null` (an API's hiccup), every time."""

    def page(self, start: int, since: str | None) -> tuple[list[dict[str, Any]], bool]:
        rows = [r for r in self.items if since is None or r["updated"] > int(since)]
        return rows[start : start + self.size], start + self.size < len(rows)

    def body(self, start: int, payload: Any) -> str:
        self.served.append(start)
        if self.null_at_cut and start == self.cut_at:
            payload = {**payload, "items": None, "errors": ["backend unavailable"]}
        text = json.dumps(payload)
        if start == self.cut_at and self.cuts != 0:
            self.cuts -= 1 if self.cuts > 0 else 0
            return text[: len(text) // 2]
        return text


STYLES = {
    "page_number": "{type: page_number, param: page}",
    "cursor": "{type: cursor, param: after, next: $.next}",
    "link_header": "{type: link_header}",
}


def serve_feed(api: Api, feed: Feed) -> None:
    """Serve `feed` at /page_number, /cursor and /link_header."""

    def by_page(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        start = (int(query.get("page", 1)) - 1) * feed.size
        rows, _more = feed.page(start, query.get("since"))
        return 200, {}, feed.body(start, {"items": rows})

    def by_token(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        start = int(query.get("after", 0))
        rows, more = feed.page(start, query.get("since"))
        return (
            200,
            {},
            feed.body(start, {"items": rows, "next": start + feed.size if more else None}),
        )

    def by_link(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        start = int(query.get("p", 0))
        rows, more = feed.page(start, query.get("since"))
        headers = {}
        if more:
            since = f"&since={query['since']}" if "since" in query else ""
            headers["Link"] = f'<{api.base}/link_header?p={start + feed.size}{since}>; rel="next"'
        return 200, headers, feed.body(start, {"items": rows})

    api.routes.update({"/page_number": by_page, "/cursor": by_token, "/link_header": by_link})


def feed_table(style: str, mode: str, extra: str = "") -> str:
    table = (
        f"  items:\n    endpoint: /{style}\n    records: $.items\n"
        f"    paginate: {STYLES[style]}\n    mode: {mode}\n"
    )
    if mode != "replace":
        table += "    cursor: updated\n    cursor_param: since\n"
    return table + extra


def landed_ids(project: Project) -> list[int]:
    """Every id in crm.items, duplicates kept."""
    return sorted(r[0] for r in loaded(project, "crm.items", "id"))


def table_version(project: Project) -> int:
    return DeltaTable(str(project.definition.warehouse / "crm" / "items")).version()


def stored_cursor(project: Project) -> Any:
    return next(s for s in project.sources() if s["table"] == "crm.items")["cursor"]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_page_cut_off_once_is_retried_and_replace_keeps_every_item(
    make_project: ProjectFactory, api: Api, style: str
) -> None:
    feed = Feed()
    serve_feed(api, feed)
    project = make_project(rest_source(api, feed_table(style, "replace")))
    assert project.run().outcome("crm.items").rows == 1000
    feed.cuts = 1
    feed.served.clear()
    outcome = project.run().outcome("crm.items")
    assert outcome.status == "success" and outcome.rows == 1000, outcome.message
    assert landed_ids(project) == list(range(1, 1001))
    assert feed.served.count(300) == 2  # the cut page was asked for again
    assert project.quarantine("crm.items").num_rows == 0


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_page_cut_off_once_is_retried_and_incremental_loads_every_item_once(
    make_project: ProjectFactory, api: Api, style: str
) -> None:
    feed = Feed(cuts=1)
    serve_feed(api, feed)
    project = make_project(rest_source(api, feed_table(style, "incremental")))
    outcome = project.run().outcome("crm.items")
    assert outcome.status == "success" and outcome.rows == 1000, outcome.message
    assert landed_ids(project) == list(range(1, 1001))
    assert stored_cursor(project) == 1000
    feed.items += [{"id": i, "updated": i, "name": f"item {i}"} for i in range(1001, 1101)]
    feed.cut_at, feed.cuts = 50, 1
    assert project.run().outcome("crm.items").rows == 100
    assert landed_ids(project) == list(range(1, 1101))
    assert stored_cursor(project) == 1100
    assert project.run().outcome("crm.items").message == "nothing new"


@pytest.mark.parametrize("mode", ["replace", "incremental"])
@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_page_that_stays_cut_off_fails_the_load_and_commits_nothing(
    make_project: ProjectFactory, api: Api, style: str, mode: str
) -> None:
    feed = Feed()
    serve_feed(api, feed)
    project = make_project(rest_source(api, feed_table(style, mode)))
    assert project.run().outcome("crm.items").rows == 1000
    version, cursor = table_version(project), stored_cursor(project)
    feed.items += [{"id": i, "updated": i, "name": f"item {i}"} for i in range(1001, 1101)]
    feed.cut_at = 50 if mode == "incremental" else 300
    feed.cuts = -1
    result = run_cli(["run"], project.root)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "source crm, table items" in out and "could not be read after 4 tries" in out, out
    assert f"/{style}" in out and "page " in out and "nothing was committed" in out
    assert "on_bad_page: quarantine" in out  # what to do
    assert "Traceback" not in out + result.stderr
    assert table_version(project) == version
    assert stored_cursor(project) == cursor
    assert landed_ids(project) == list(range(1, 1001))
    assert project.quarantine("crm.items").num_rows == 0


@pytest.mark.parametrize("style", sorted(STYLES))
def test_on_bad_page_quarantine_never_moves_the_cursor_past_a_skipped_page(
    make_project: ProjectFactory, api: Api, style: str
) -> None:
    feed = Feed()
    serve_feed(api, feed)
    extra = "    primary_key: id\n    on_bad_page: quarantine\n"
    project = make_project(rest_source(api, feed_table(style, "incremental", extra)))
    assert project.run().outcome("crm.items").rows == 1000
    feed.items += [{"id": i, "updated": i, "name": f"item {i}"} for i in range(1001, 1201)]
    feed.cut_at, feed.cuts = 50, -1  # items 1051..1100 cannot be read
    outcome = project.run().outcome("crm.items")
    assert outcome.status == "success" and "1 quarantined" in (outcome.message or "")
    if style == "cursor":
        # the next token was in the unreadable body: paging stops there
        assert landed_ids(project) == list(range(1, 1051))
    else:
        # page numbers and the Link header go on past the bad page
        assert landed_ids(project) == [*range(1, 1051), *range(1101, 1201)]
    assert stored_cursor(project) == 1000  # not 1200: items 1051.. never landed
    bad = project.quarantine("crm.items").to_pylist()
    assert f"/{style}" in bad[0]["location"] and "not JSON" in bad[0]["reason"]
    feed.cuts = 0
    assert project.run().outcome("crm.items").status == "success"
    assert landed_ids(project) == list(range(1, 1201))
    assert stored_cursor(project) == 1200


def test_on_bad_page_quarantine_never_lets_a_full_refresh_publish_a_partial_table(
    make_project: ProjectFactory, api: Api
) -> None:
    feed = Feed()
    serve_feed(api, feed)
    extra = "    primary_key: id\n    on_bad_page: quarantine\n"
    project = make_project(rest_source(api, feed_table("page_number", "incremental", extra)))
    assert project.run().outcome("crm.items").rows == 1000
    version = table_version(project)
    feed.cuts = -1
    outcome = project.run(full_refresh=True).outcome("crm.items")
    assert outcome.status == "failed"
    assert "cannot replace the table" in (outcome.message or "")
    assert "/page_number" in (outcome.message or "")
    assert table_version(project) == version
    assert landed_ids(project) == list(range(1, 1001))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "    on_bad_page: quarantine\n",  # replace by default
            "cannot be used with mode 'replace'",
        ),
        (
            "    mode: incremental\n    cursor: updated\n    on_bad_page: quarantine\n",
            "needs 'primary_key'",
        ),
        (
            "    mode: append\n    primary_key: id\n    on_bad_page: quarantine\n",
            "needs 'primary_key' and mode 'merge' or 'incremental'",
        ),
        (
            "    mode: merge\n    primary_key: id\n    cursor: updated\n    lookback: 5\n",
            "needs 'cursor_param'",
        ),
        (
            "    mode: merge\n    primary_key: id\n    cursor: updated\n    cursor_param: since\n"
            "    lookback: 2 hours\n",
            "not a duration",
        ),
    ],
)
def test_unsafe_rest_settings_are_refused_at_config_time(
    make_project: ProjectFactory, api: Api, table: str, expected: str
) -> None:
    project = make_project(
        rest_source(api, "  items:\n    endpoint: /items\n    records: $.items\n" + table)
    )
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    text = str(caught.value)
    assert expected in text and "sources/crm.yml:" in text
    lines = (project.root / "sources" / "crm.yml").read_text().splitlines()
    table_line = lines.index("  items:") + 1
    # at the table (a rule across its keys) or at the offending key of that table
    assert any(f"line {n}:" in text for n in range(table_line, len(lines) + 1)), text


def test_max_pages_reached_with_more_to_read_fails_instead_of_committing_part(
    make_project: ProjectFactory, api: Api
) -> None:
    serve_feed(api, Feed())
    table = feed_table("cursor", "replace").replace("next: $.next}", "next: $.next, max_pages: 3}")
    project = make_project(rest_source(api, table))
    outcome = project.run().outcome("crm.items")
    assert outcome.status == "failed" and "max_pages" in (outcome.message or "")
    assert not (project.definition.warehouse / "crm" / "items" / "_delta_log").exists()


@pytest.mark.parametrize(
    ("lookback", "values", "late", "sent"),
    [
        ("2", [1, 2, 3, 4, 5], 4, "3"),
        (
            "2h",
            [f"2024-05-01T{h:02d}:00:00Z" for h in range(10, 15)],
            "2024-05-01T13:30:00Z",
            "2024-05-01T12:00:00",
        ),
    ],
)
def test_lookback_re_reads_behind_the_cursor_for_rest(
    make_project: ProjectFactory,
    api: Api,
    lookback: str,
    values: list[Any],
    late: Any,
    sent: str,
) -> None:
    rows = [{"id": i, "updated": v} for i, v in enumerate(values, start=1)]

    def since(api: Api, query: dict[str, str], _: dict[str, str]) -> Reply:
        after = query.get("since")
        if after is None:
            return 200, {}, json.dumps(rows)
        if isinstance(late, int):
            return 200, {}, json.dumps([r for r in rows if r["updated"] > int(after)])
        return 200, {}, json.dumps([r for r in rows if r["updated"] > after.replace("+00:00", "Z")])

    api.routes["/changes"] = since
    table = (
        "  changes:\n    endpoint: /changes\n    mode: incremental\n    primary_key: id\n"
        f"    cursor: updated\n    cursor_param: since\n    lookback: {lookback}\n"
    )
    project = make_project(rest_source(api, table))
    assert project.run().outcome("crm.changes").rows == 5
    rows.append({"id": 6, "updated": late})  # committed late: behind the stored cursor
    outcome = project.run().outcome("crm.changes")
    assert outcome.status == "success", outcome.message
    assert api.seen[-1][1]["since"].startswith(sent)
    assert sorted(r[0] for r in loaded(project, "crm.changes", "id")) == [1, 2, 3, 4, 5, 6]


def test_behind_keeps_the_cursor_form_and_refuses_a_mismatch() -> None:
    where = Location(file="sources/crm.yml")
    assert behind(10, 2, where) == 8
    assert behind("2024-05-01T10:00:00Z", "90m", where) == "2024-05-01T08:30:00Z"
    assert behind("2024-05-03", "1d", where) == "2024-05-02"
    assert behind("2024-05-03", "1h", where) == "2024-05-02T23:00:00"
    with pytest.raises(ConfigError, match="write it as a duration"):
        behind("2024-05-03", 5, where)
    with pytest.raises(ConfigError, match="number in the cursor's unit"):
        behind(10, "2h", where)


@pytest.mark.parametrize(
    ("status", "source", "variable"),
    [
        (401, "auth: {type: bearer, token: '${CRM_TOKEN}'}\n", "CRM_TOKEN"),
        (403, "auth: {type: basic, username: me, password: '${CRM_PASS}'}\n", "CRM_PASS"),
        (403, "headers: {X-Api-Key: '${CRM_KEY}'}\n", "CRM_KEY"),
    ],
)
def test_a_refused_credential_names_its_environment_variable_never_its_value(
    make_project: ProjectFactory, api: Api, status: int, source: str, variable: str
) -> None:
    secret = "s3cret-Canary-4417"
    api.routes["/people"] = lambda api, q, h: (status, {}, '{"error": "denied"}')
    project = make_project(rest_source(api, PAGED, source))
    result = run_cli(["run"], project.root, env={variable: secret})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"HTTP {status}" in result.stdout and variable in result.stdout, result.stdout
    assert secret not in result.stdout + result.stderr
    assert secret.encode() not in (project.root / ".headwater" / "catalog.db").read_bytes()


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_null_record_list_mid_paging_fails_the_load_instead_of_ending_it(
    make_project: ProjectFactory, api: Api, style: str
) -> None:
    """`{"items": null, "errors": [...]}` on page 7 is not the end of the records: a replace
    that stopped there would publish 300 of 1,000 rows."""
    feed = Feed()
    serve_feed(api, feed)
    project = make_project(rest_source(api, feed_table(style, "replace")))
    assert project.run().outcome("crm.items").rows == 1000
    version = table_version(project)
    feed.null_at_cut = True
    outcome = project.run(full_refresh=True).outcome("crm.items")
    assert outcome.status == "failed"
    assert "no record list at $.items" in (outcome.message or "")
    assert table_version(project) == version
    assert landed_ids(project) == list(range(1, 1001))
