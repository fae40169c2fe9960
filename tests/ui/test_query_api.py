"""S1 and S2 of RELIABILITY.md against the UI's HTTP API, on a real server on 127.0.0.1.

`tests/serve/test_readonly.py` attacks `run_readonly` itself; these tests send the same payloads
through every route that takes SQL (`POST /api/query`, `GET /api/query.csv`, the SQL page) or an
identifier (asset names, versions, run ids, selectors), and check from the outside that nothing
ran: the files on disk, the Delta versions, a sentinel folder and a canary file.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import ProjectFactory
from tests.support.sql_payloads import (
    CANARY,
    RUNAWAYS,
    Lake,
    Payload,
    all_payloads,
    build_lake,
    disk_state,
    table_versions,
)
from tests.support.ui_server import serve

LIMIT_S = 1.0
MAX_ROWS = 1000


@pytest.fixture
def lake(make_project: ProjectFactory, tmp_path: Path) -> Lake:
    """The attack project (see `tests.support.sql_payloads.build_lake`)."""
    return build_lake(make_project, tmp_path)


@pytest.fixture
def api(lake: Lake) -> Iterator[httpx.Client]:
    """A client of the lake's UI server, with a 1 s query limit and a 1,000-row cap."""
    with (
        serve(lake.project, query_timeout_s=LIMIT_S, max_rows=MAX_ROWS) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client


def post(api: httpx.Client, sql: object) -> httpx.Response:
    return api.post("/api/query", json={"sql": sql})


def classify(response: httpx.Response) -> str:
    """'executed' (200), 'refused' (a 4xx with an error and a hint) or 'broken' (anything else)."""
    if response.status_code == 200:
        return "executed"
    if 400 <= response.status_code < 500:
        body = response.json()
        return "refused" if body.get("error") else "broken"
    return "broken"


# -- S1 ---------------------------------------------------------------------------------------


def test_s1_every_payload_through_both_query_routes_executes_nothing(
    lake: Lake, api: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    payloads = all_payloads(lake)
    assert len(payloads) >= 500, len(payloads)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    files_before, versions_before = disk_state(tmp_path), table_versions(lake.project)
    reference = post(api, "select * from core.by_city order by city").json()["rows"]

    outcomes: Counter[tuple[str, str]] = Counter()
    problems: list[str] = []

    def judge(route: str, payload: Payload, response: httpx.Response) -> None:
        outcome = classify(response)
        outcomes[(route, outcome)] += 1
        if outcome == "broken":
            problems.append(f"{route} answered {response.status_code} to {payload.sql!r}")
        elif outcome == "executed" and not payload.harmless:
            problems.append(f"{route} executed {payload.sql!r}: {response.text[:200]}")
        if CANARY in response.text:
            problems.append(f"{route} leaked the canary for {payload.sql!r}")

    for payload in payloads:
        judge("POST /api/query", payload, post(api, payload.sql))
        judge("GET /api/query.csv", payload, api.get("/api/query.csv", params={"sql": payload.sql}))

    print(
        f"\nS1 over HTTP: {len(payloads)} payloads on 2 routes\n"
        + json.dumps(
            {f"{route}: {outcome}": n for (route, outcome), n in sorted(outcomes.items())}, indent=1
        )
    )
    assert problems == []
    assert list(lake.sentinel.iterdir()) == []
    assert disk_state(tmp_path) == files_before
    assert table_versions(lake.project) == versions_before
    assert post(api, "select * from core.by_city order by city").json()["rows"] == reference


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'"select 1"',
        b"[]",
        b'{"sql": 1}',
        b'{"sql": ["select 1", "drop table core.by_city"]}',
        b'{"sql": {"$ne": ""}}',
        b'{"sql": ""}',
        b'{"sql": null}',
        b'{"query": "select 1"}',
    ],
)
def test_s1_a_malformed_request_is_refused_with_a_hint(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]


def test_s1_a_query_over_the_size_limit_is_refused_before_it_is_parsed(api: httpx.Client) -> None:
    response = post(api, "select 1 as x" + " " * 200_000)
    assert response.status_code == 400
    assert "characters" in response.json()["error"]


IDENTIFIERS = [
    "core.by_city; drop table core.by_city",
    "core.by_city' or '1'='1",
    'core.by_city"; drop table core.by_city; --',
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "read_csv('/etc/passwd')",
    "core.by_city union select * from read_text('/etc/passwd')",
    "<script>alert(1)</script>",
    "core.by_city\x00.x",
    "1 or 1=1",
    "raw.people.id; delete from raw.people",
    "$(touch /tmp/headwater-pwned)",
    "*",
    "+" * 500,
]


def test_s1_identifiers_in_every_route_are_names_never_sql(lake: Lake, api: httpx.Client) -> None:
    """Asset names, columns, versions, run ids and selectors: an unknown one is a 4xx, nothing
    runs, and what is echoed back is escaped."""
    versions_before, files_before = table_versions(lake.project), disk_state(lake.root)
    problems: list[str] = []
    for text in IDENTIFIERS:
        name = quote(text, safe="")
        for path, params in (
            (f"/assets/{name}", {}),
            ("/assets/core.by_city", {"version": text}),
            (f"/api/assets/{name}/lineage", {}),
            ("/", {"select": text}),
            (f"/runs/{name}", {}),
            (f"/runs/{name}/live", {}),
            (f"/api/runs/{name}", {}),
            ("/runs", {"page": text}),
            ("/sql", {"sql": text}),
        ):
            response = api.get(path, params=params)
            if response.status_code >= 500:
                problems.append(f"{path} {params} -> {response.status_code}")
            if "<script>alert(1)</script>" in response.text:
                problems.append(f"{path} {params} echoed markup unescaped")
            if "root:x:0:0" in response.text:
                problems.append(f"{path} {params} read /etc/passwd")
    assert problems == []
    assert not Path("/tmp/headwater-pwned").exists()
    assert table_versions(lake.project) == versions_before
    assert disk_state(lake.root) == files_before
    # a known asset still answers, so the 4xx above were about the names
    assert api.get("/assets/core.by_city").status_code == 200
    assert api.get("/api/assets/core.by_city/lineage").status_code == 200


def test_a_column_named_like_markup_stays_data_on_the_asset_page(
    make_project: ProjectFactory,
) -> None:
    evil = "</script><script>alert(1)</script>"
    project = make_project({"models/core/odd.sql": f'select 1 as "{evil}"'})
    assert project.run().status == "success"
    with serve(project) as base:
        page = httpx.get(f"{base}/assets/core.odd", timeout=30)
        answer = httpx.post(
            f"{base}/api/query", json={"sql": "select * from core.odd"}, timeout=30
        ).json()
    assert page.status_code == 200
    assert evil not in page.text
    assert answer["columns"] == [evil]


# -- S2 ---------------------------------------------------------------------------------------


def test_s2_a_runaway_query_is_cancelled_at_the_limit(api: httpx.Client) -> None:
    """Every runaway is a 400 naming the time limit, from both routes, and the server answers
    afterwards. How soon the interrupt lands is a timing, measured in bench/serve_s2."""
    for sql in RUNAWAYS:
        response = post(api, sql)
        assert response.status_code == 400
        body = response.json()
        assert "time limit" in body["error"] and body["hint"]
    response = api.get("/api/query.csv", params={"sql": RUNAWAYS[0]})
    assert response.status_code == 400 and "time limit" in response.json()["error"]
    assert post(api, "select count(*) from raw.people").json()["rows"] == [[4]]


def test_s2_a_ten_million_row_result_is_capped_and_flagged(api: httpx.Client) -> None:
    body = post(api, "select * from range(10000000)").json()
    assert (len(body["rows"]), body["truncated"]) == (MAX_ROWS, True)
    assert body["rows"][-1] == [MAX_ROWS - 1]
    assert post(api, "select * from range(10)").json()["truncated"] is False

    response = api.get("/api/query.csv", params={"sql": "select * from range(10000000)"})
    assert response.status_code == 200
    assert response.headers["x-headwater-truncated"] == f"first {MAX_ROWS} rows"
    assert response.headers["content-disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["range"] and len(rows) == MAX_ROWS + 1
    small = api.get("/api/query.csv", params={"sql": "select * from range(10)"})
    assert "x-headwater-truncated" not in small.headers


def test_s2_trivial_queries_over_http_answer_while_a_runaway_runs(lake: Lake) -> None:
    """Another client's runaway query does not hold up the server: trivial POSTs answer while
    it runs, and it then ends as a 400 at its limit. Latency is measured in bench/serve_s2."""
    trivial = {"sql": "select city, people from core.by_city order by city"}
    with (
        serve(lake.project, query_timeout_s=10.0) as base,
        httpx.Client(base_url=base, timeout=None) as client,
    ):
        expected = client.post("/api/query", json=trivial).json()["rows"]
        assert len(expected) == 3
        outcome: list[int] = []
        started = threading.Event()

        def runaway() -> None:
            with httpx.Client(base_url=base, timeout=None) as other:
                started.set()
                outcome.append(other.post("/api/query", json={"sql": RUNAWAYS[0]}).status_code)

        thread = threading.Thread(target=runaway)
        thread.start()
        started.wait()
        answered_while_running = 0
        for _ in range(20):
            assert client.post("/api/query", json=trivial).json()["rows"] == expected
            answered_while_running += thread.is_alive()
        thread.join()
    assert answered_while_running > 0, "the runaway ended before any trivial query answered"
    assert outcome == [400]


# -- what a page on another site, or an odd result, must not do -------------------------------


def test_a_foreign_host_header_is_refused(lake: Lake, api: httpx.Client) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends its own
    name as the Host; the UI answers only its loopback names."""
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example"):
        response = api.post("/api/query", json={"sql": "select 1"}, headers={"host": host})
        assert response.status_code == 400, host
        assert api.get("/api/assets", headers={"host": host}).status_code == 400
    assert api.get("/api/assets", headers={"host": "localhost"}).status_code == 200


@pytest.mark.parametrize(
    "kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_a_query_that_is_not_sent_as_json_is_refused(api: httpx.Client, kind: str) -> None:
    """A cross-site form or text/plain POST needs no CORS preflight; only JSON is taken."""
    response = api.post(
        "/api/query", content=b'{"sql": "select 1"}', headers={"content-type": kind}
    )
    assert response.status_code == 415
    assert "JSON" in response.json()["error"]


def test_results_keep_repeated_names_nan_and_nested_values(api: httpx.Client) -> None:
    body = post(api, "select 1 as a, 2 as a, 3 as b").json()
    assert (body["columns"], body["rows"]) == (["a", "a", "b"], [[1, 2, 3]])
    sql = (
        "select 'nan'::double as n, 'inf'::double as i, 1.5::double as f, [1, 2] as l, "
        "{'k': 'v'} as s, map {'x': 1} as m"
    )
    body = post(api, sql).json()
    assert body["rows"] == [["nan", "inf", 1.5, [1, 2], {"k": "v"}, [["x", 1]]]]
    response = api.get("/api/query.csv", params={"sql": sql})
    assert response.status_code == 200
    header, row = list(csv.reader(io.StringIO(response.text)))
    assert header == ["n", "i", "f", "l", "s", "m"]
    assert row[3:5] == ["[1, 2]", '{"k": "v"}']
