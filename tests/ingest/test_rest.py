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


def test_a_malformed_page_is_quarantined_and_the_others_load(
    make_project: ProjectFactory, api: Api
) -> None:
    def flaky(api: Api, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if query.get("page") == "2":
            return 200, {}, "<html>gateway hiccup</html>"
        return page_numbers(api, query, headers)

    api.routes["/people"] = flaky
    project = make_project(rest_source(api, PAGED))
    outcome = project.run().outcome("crm.people")
    assert outcome.status == "success" and outcome.rows == 15
    assert "1 quarantined" in (outcome.message or "")
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
    project = make_project(rest_source(api, PAGED, auth))
    result = run_cli(["run"], project.root, env={"CRM_SECRET": canary})
    assert result.returncode == 0, result.stdout + result.stderr
    bad = project.quarantine("crm.people").to_pylist()
    assert len(bad) == 1 and canary not in json.dumps(bad, default=str)
    wrong = run_cli(["run"], project.root, env={"CRM_SECRET": "wrong-" + canary})
    assert wrong.returncode == 1
    assert "HTTP 401" in wrong.stdout and "auth." in wrong.stdout
    for text in (result.stdout, result.stderr, wrong.stdout, wrong.stderr):
        assert canary not in text
    assert canary.encode() not in (project.root / ".headwater" / "catalog.db").read_bytes()


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
