"""The web UI behind `headwater serve`'s sign-in: each user sees exactly the assets its roles
grant, on every page (graph, asset, lineage, runs, SQL box, /metrics), signs in from a real
browser with HTTP Basic, and a page of another site cannot use its credentials.

A real `headwater serve` process, users added through the real CLI, real HTTP clients
(httpx, Debian's Chromium driven by Playwright).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from headwater import Project
from headwater.catalog.query_log import query_log
from tests.conftest import write_files
from tests.support.serve import add_user, running_server
from tests.support.ui_server import free_port

SERVE = """
name: shop
threads: 2
serve:
  roles:
    analyst:
      read: ["marts.*"]
    finance:
      read: ["tag:finance"]
"""
STG = "select id, customer_id, amount from raw.payments"
FILES = {
    "headwater.yml": SERVE,
    "seeds/customers.csv": "id,name,country\n1,ann,NO\n2,bob,IT\n3,cid,NO\n",
    "seeds/payments.csv": "id,customer_id,amount\n1,1,10.5\n2,2,20\n3,3,5\n",
    "seeds/payments.yml": "tags: [finance]\n",
    "models/staging/stg_payments.sql": STG,
    "models/marts/customers.sql": "select id, name, country from raw.customers",
    "models/marts/per_country.sql": (
        "select country, count(*) as customers from marts.customers group by country"
    ),
    "models/marts/revenue.sql": (
        "select c.country, sum(p.amount) as revenue from staging.stg_payments p "
        "join raw.customers c on c.id = p.customer_id group by c.country"
    ),
    "models/marts/revenue.yml": "tags: [finance]\n",
    "models/finance/ledger.sql": "select id, amount from staging.stg_payments",
    "models/finance/ledger.yml": "tags: [finance]\n",
}
BROKEN = "select id, customer_id, cast('x' || id as integer) as amount from raw.payments"
ALL = {
    "raw.customers",
    "raw.payments",
    "staging.stg_payments",
    "marts.customers",
    "marts.per_country",
    "marts.revenue",
    "finance.ledger",
}
VISIBLE = {
    "admin": ALL,
    "analyst": {"marts.customers", "marts.per_country", "marts.revenue"},
    "finance": {"raw.payments", "marts.revenue", "finance.ledger"},
    "nobody": set(),
}
ROLES = {"admin": ("admin",), "analyst": ("analyst",), "finance": ("finance",), "nobody": ()}
USERS = sorted(VISIBLE)


def password(user: str) -> str:
    return f"{user} likes long passwords 42"


@dataclass
class Shop:
    root: Path
    url: str
    tokens: dict[str, str]
    runs: dict[str, str]
    """Run ids by what the run was: `all` (every asset built), `selected` (`raw.payments+`),
    `failed` (staging.stg_payments failed, what reads it skipped)."""
    client: httpx.Client

    def get(self, path: str, user: str | None, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return self.client.get(self.url + path, headers=headers, **options)

    def query(self, user: str, sql: str, **headers: str) -> httpx.Response:
        return self.client.post(
            self.url + "/api/query",
            json={"sql": sql},
            headers={"Authorization": f"Bearer {self.tokens[user]}", **headers},
        )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The project after three runs, four users, and `headwater serve` over it."""
    root = tmp_path_factory.mktemp("access") / "shop"
    write_files(root, FILES)
    runs: dict[str, str] = {}
    with Project(root) as project:
        assert project.run().status == "success"
        runs["all"] = project.runs(1)[0]["run_id"]
        assert project.run(select=["raw.payments+"]).status == "success"
        runs["selected"] = project.runs(1)[0]["run_id"]
        write_files(root, {"models/staging/stg_payments.sql": BROKEN})
        project.reload()
        assert project.run().status == "failed"
        runs["failed"] = project.runs(1)[0]["run_id"]
    write_files(root, {"models/staging/stg_payments.sql": STG})
    tokens = {user: add_user(root, user, *ROLES[user], password=password(user)) for user in USERS}
    with running_server(root, pg=False) as server, httpx.Client(timeout=600) as client:
        yield Shop(root, server.url, tokens, runs, client)


def hidden_names_in(text: str, user: str) -> set[str]:
    """The assets `user` may not read that `text` names."""
    lowered = text.lower()
    return {key for key in ALL - VISIBLE[user] if key in lowered}


def graph_of(html: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The nodes and edges the graph page draws."""
    nodes = set(re.findall(r'class="node [^"]*" data-key="([^"]+)"', html))
    edges = set(re.findall(r'data-source="([^"]+)" data-target="([^"]+)"', html))
    return nodes, edges


def pages_of(shop: Shop, user: str) -> list[str]:
    """Every page and JSON answer of the UI that `user` can reach."""
    paths = ["/", "/?select=marts.*", "/api/assets", "/runs", "/sql", "/metrics"]
    for run_id in shop.runs.values():
        paths += [f"/runs/{run_id}", f"/runs/{run_id}/live", f"/api/runs/{run_id}"]
    for key in sorted(VISIBLE[user]):
        paths += [f"/assets/{key}", f"/assets/{key}?version=0", f"/api/assets/{key}/lineage"]
        lineage = shop.get(f"/api/assets/{key}/lineage", user).json()
        paths += [f"/api/assets/{key}.{column}/lineage" for column in lineage["columns"]]
    return paths


# -- what each user sees --------------------------------------------------------------------


@pytest.mark.parametrize("user", USERS)
def test_every_page_names_only_the_assets_the_user_may_read(shop: Shop, user: str) -> None:
    for path in pages_of(shop, user):
        response = shop.get(path, user)
        # a selector that matches no asset the user reads is an error shown above the graph
        expected = 400 if "select=marts" in path and not VISIBLE[user] else 200
        assert response.status_code == expected, (path, response.status_code, response.text[:300])
        assert not hidden_names_in(response.text, user), (
            path,
            hidden_names_in(response.text, user),
        )


@pytest.mark.parametrize("user", USERS)
def test_the_graph_and_the_asset_list_hold_exactly_the_readable_assets(
    shop: Shop, user: str
) -> None:
    nodes, edges = graph_of(shop.get("/", user).text)
    assert nodes == VISIBLE[user]
    assert all(a in VISIBLE[user] and b in VISIBLE[user] for a, b in edges)
    listed = shop.get("/api/assets", user).json()
    assert {item["key"] for item in listed} == VISIBLE[user]
    assert all(set(item["depends_on"]) <= VISIBLE[user] for item in listed)


def test_edges_between_readable_assets_are_drawn_and_edges_to_hidden_ones_are_not(
    shop: Shop,
) -> None:
    _, analyst = graph_of(shop.get("/", "analyst").text)
    assert analyst == {("marts.customers", "marts.per_country")}
    _, admin = graph_of(shop.get("/", "admin").text)
    assert ("staging.stg_payments", "marts.revenue") in admin
    assert ("raw.customers", "marts.customers") in admin
    revenue = next(
        i for i in shop.get("/api/assets", "analyst").json() if i["key"] == "marts.revenue"
    )
    assert revenue["depends_on"] == []


def test_a_selector_does_not_reach_through_a_hidden_asset(shop: Shop) -> None:
    # finance reads raw.payments and finance.ledger, but not staging.stg_payments between them
    finance, _ = graph_of(shop.get("/", "finance", params={"select": "+finance.ledger"}).text)
    assert finance == {"finance.ledger"}
    admin, _ = graph_of(shop.get("/", "admin", params={"select": "+finance.ledger"}).text)
    assert admin == {"finance.ledger", "staging.stg_payments", "raw.payments"}
    # a selector's error suggests only readable names
    typo = shop.get("/", "analyst", params={"select": "raw.paymentz"})
    assert typo.status_code == 400
    assert "matches no asset" in typo.text
    assert not hidden_names_in(typo.text, "analyst")
    assert (
        "did you mean raw.payments?"
        in shop.get("/", "admin", params={"select": "raw.paymentz"}).text
    )


# -- an asset that may not be read is an unknown asset ---------------------------------------


@pytest.mark.parametrize("user", ["analyst", "finance", "nobody"])
def test_a_hidden_asset_is_not_found_like_an_unknown_one(shop: Shop, user: str) -> None:
    for key in sorted(ALL - VISIBLE[user]):
        namespace = key.split(".")[0]
        unknown = f"{namespace}.zz_no_such_thing"
        for pattern in (
            "/assets/{}",
            "/assets/{}?version=0",
            "/api/assets/{}/lineage",
            "/api/assets/{}.id/lineage",
        ):
            hidden = shop.get(pattern.format(key), user)
            missing = shop.get(pattern.format(unknown), user)
            assert hidden.status_code == missing.status_code == 404, (pattern, key)
            assert f"no asset named &#39;{key}" in hidden.text or (
                f"no asset named '{key}" in hidden.text
            ), hidden.text
            shown = hidden.text.replace(key, "NAME")
            assert not hidden_names_in(shown, user), (pattern, key, hidden.text)
            if user == "nobody":  # no readable name to suggest: the answers are the same
                assert shown == missing.text.replace(unknown, "NAME")


def test_a_bare_name_is_resolved_among_the_readable_assets(shop: Shop) -> None:
    # `customers` is raw.customers and marts.customers; the analyst reads only the second
    page = shop.get("/assets/customers", "analyst")
    assert page.status_code == 200
    assert "<h1>marts.customers" in page.text
    assert shop.get("/assets/customers", "admin").status_code == 404
    assert shop.get("/assets/payments", "analyst").status_code == 404


def test_column_lineage_stops_at_a_hidden_asset(shop: Shop) -> None:
    def upstream(user: str, column: str) -> set[str]:
        found: set[str] = set()
        tree = shop.get(f"/api/assets/{column}/lineage", user).json()
        (entry,) = tree["columns"].values()

        def walk(node: dict[str, Any]) -> None:
            for child in node["children"]:
                found.add(f"{child['asset']}.{child['column']}")
                walk(child)

        walk(entry["upstream"])
        return found

    assert upstream("admin", "marts.per_country.country") == {
        "marts.customers.country",
        "raw.customers.country",
    }
    assert upstream("analyst", "marts.per_country.country") == {"marts.customers.country"}
    assert upstream("admin", "finance.ledger.amount") == {
        "staging.stg_payments.amount",
        "raw.payments.amount",
    }
    assert upstream("finance", "finance.ledger.amount") == set()  # only through staging
    assert upstream("analyst", "marts.revenue.revenue") == set()
    report = shop.get("/api/assets/marts.revenue/lineage", "analyst").json()
    assert report["upstream_assets"] == []
    admin = shop.get("/api/assets/marts.revenue/lineage", "admin").json()
    assert admin["upstream_assets"] == ["raw.customers", "staging.stg_payments"]


def test_an_asset_page_shows_its_neighbours_and_sql_only_when_readable(shop: Shop) -> None:
    page = shop.get("/assets/marts.per_country", "analyst").text
    found = re.search(r'id="lineage-data">(.*?)</script>', page, re.S)
    assert found is not None
    lineage = json.loads(found.group(1))
    assert [i["id"] for i in lineage["country"]["upstream"]] == ["marts.customers.country"]
    assert 'href="/assets/marts.customers"' in page
    assert '<pre class="sql">select country' in page
    # marts.revenue reads two tables the analyst may not read: its SQL would name them
    revenue = shop.get("/assets/marts.revenue", "analyst").text
    assert '<pre class="sql">' not in revenue
    assert "Not shown: it reads tables you may not read" in revenue
    assert "nothing: a root" in revenue
    assert '<pre class="sql">select c.country' in shop.get("/assets/marts.revenue", "admin").text
    # its rows are the analyst's to see
    assert "<td>NO</td><td>15.5</td>" in revenue


# -- runs -------------------------------------------------------------------------------------


COUNT_PILL = r'<span class="pill [^"]*">\d+ [a-z_]+</span>'


def test_runs_are_listed_with_only_the_readable_results(shop: Shop) -> None:
    for user in USERS:
        page = shop.get("/runs", user).text
        assert all(f'href="/runs/{run_id}"' in page for run_id in shop.runs.values()), user
    analyst = shop.get("/runs", "analyst").text
    assert "3 success" in analyst  # the first run, of the three marts
    assert "7 success" in shop.get("/runs", "admin").text
    assert "raw.payments+" not in analyst  # the selector of the second run names it
    assert "raw.payments+" in shop.get("/runs", "admin").text
    # a run's asset counts are pills like `3 success`: nobody has none
    assert re.findall(COUNT_PILL, analyst)
    assert not re.findall(COUNT_PILL, shop.get("/runs", "nobody").text)


def test_a_run_shows_only_the_readable_results_and_attempts(shop: Shop) -> None:
    failed = shop.runs["failed"]
    admin = shop.get(f"/api/runs/{failed}", "admin").json()
    assert "staging.stg_payments" in admin["run"]["error"]
    assert {a["asset"] for a in admin["attempts"]} == {"staging.stg_payments"}
    analyst = shop.get(f"/api/runs/{failed}", "analyst").json()
    assert analyst["run"]["status"] == "failed"
    assert analyst["run"]["error"] is None and analyst["run"]["arguments"] is None
    assert {r["asset"] for r in analyst["results"]} == VISIBLE["analyst"]
    assert analyst["attempts"] == []
    revenue = next(r for r in analyst["results"] if r["asset"] == "marts.revenue")
    assert revenue["status"] == "skipped"
    assert revenue["message"] == "upstream (hidden) failed"
    nobody = shop.get(f"/api/runs/{failed}", "nobody").json()
    assert nobody["results"] == [] and nobody["attempts"] == []
    page = shop.get(f"/runs/{failed}", "finance").text
    assert 'href="/assets/finance.ledger"' in page
    assert "Nothing was built." in page  # what finance reads was skipped, not built


# -- the SQL box --------------------------------------------------------------------------------


def test_the_sql_box_runs_queries_as_the_user(shop: Shop) -> None:
    assert "select * from marts." in shop.get("/sql", "analyst").text
    assert "select 42 as answer" in shop.get("/sql", "nobody").text
    rows = shop.query("analyst", "select count(*) as n from marts.customers")
    assert rows.status_code == 200 and rows.json()["rows"] == [[3]]
    refused = shop.query("analyst", "select * from raw.payments")
    assert refused.status_code == 400
    assert "unknown table" in refused.json()["error"]
    assert shop.query("finance", "select sum(amount) as s from raw.payments").json()["rows"] == [
        [35.5]
    ]
    csv = shop.get("/api/query.csv", "finance", params={"sql": "select id from raw.payments"})
    assert csv.status_code == 200 and csv.text.split() == ['"id"', "1", "2", "3"]
    denied = shop.get("/api/query.csv", "analyst", params={"sql": "select id from raw.payments"})
    assert denied.status_code == 400
    assert "unknown table" in denied.json()["error"]


# -- /metrics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("user", USERS)
def test_metrics_have_the_series_of_the_readable_assets(shop: Shop, user: str) -> None:
    text = shop.get("/metrics", user).text
    labelled = {
        sample.labels["asset"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "asset" in sample.labels
    }
    assert labelled == VISIBLE[user]
    assert "headwater_runs_total{" in text  # runs by status name no asset


# -- a browser ----------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("HEADWATER_REQUIRE_BROWSER") == "1"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HANG_GUARD_MS = 600_000
"""Playwright's waits end here, not at its 30 s default: a loaded machine is slow, not broken."""
needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not REQUIRED, reason="Chromium is missing"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api: Any = (
        importlib.import_module("playwright.sync_api")
        if REQUIRED
        else pytest.importorskip("playwright.sync_api")
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def opened(browser: Any, **options: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, **options)
    context.set_default_timeout(HANG_GUARD_MS)
    return context, context.new_page()


@needs_browser
def test_a_user_signs_in_from_the_browser_and_sees_only_its_assets(
    shop: Shop, browser: Any
) -> None:
    context, page = opened(
        browser, http_credentials={"username": "analyst", "password": password("analyst")}
    )
    try:
        assert page.goto(shop.url + "/").status == 200
        page.locator("svg#asset-graph a.node").first.wait_for()
        keys = page.locator("svg#asset-graph a.node")
        assert {keys.nth(n).get_attribute("data-key") for n in range(keys.count())} == VISIBLE[
            "analyst"
        ]
        page.locator('a.node[data-key="marts.per_country"]').click()
        page.wait_for_url("**/assets/marts.per_country")
        page.locator('button.pick[data-column="country"]').click()
        page.locator("#lineage-detail").wait_for(state="visible")
        items = page.locator("#lineage-upstream li")
        assert {items.nth(n).get_attribute("data-id") for n in range(items.count())} == {
            "marts.customers.country"
        }
        page.goto(shop.url + "/sql")
        page.fill("#sql-text", "select count(*) as n from marts.customers")
        page.click("#sql-run")
        page.locator("#sql-result tbody tr").first.wait_for()
        assert page.locator("#sql-result tbody td").all_inner_texts() == ["3"]
        page.fill("#sql-text", "select * from raw.payments")
        page.click("#sql-run")
        page.locator("#sql-status.error").wait_for()
        assert "unknown table 'raw.payments'" in page.locator("#sql-status").inner_text()
    finally:
        context.close()


@needs_browser
def test_the_browser_signs_in_with_a_token_in_place_of_the_password(
    shop: Shop, browser: Any
) -> None:
    context, page = opened(
        browser, http_credentials={"username": "finance", "password": shop.tokens["finance"]}
    )
    try:
        assert page.goto(shop.url + "/").status == 200
        keys = page.locator("svg#asset-graph a.node")
        assert {keys.nth(n).get_attribute("data-key") for n in range(keys.count())} == VISIBLE[
            "finance"
        ]
    finally:
        context.close()


@needs_browser
@pytest.mark.parametrize(
    ("user", "secret"),
    [
        ("analyst", "not the password"),
        ("analyst", password("finance")),
        ("ghost", password("analyst")),
        ("analyst", "hw_not_a_token"),
        ("analyst", "token:finance"),
    ],
    ids=["wrong-password", "another-users-password", "unknown-user", "bad-token", "another-token"],
)
def test_the_browser_is_refused_without_the_right_password(
    shop: Shop, browser: Any, user: str, secret: str
) -> None:
    if secret.startswith("token:"):
        secret = shop.tokens[secret.removeprefix("token:")]
    credentials = {"username": user, "password": secret}
    context, page = opened(browser, http_credentials=credentials)
    try:
        response = page.goto(shop.url + "/")
        assert response.status == 401
        assert response.headers["www-authenticate"].startswith("Basic ")
        assert "a.node" not in page.content() and "marts." not in page.content()
        assert page.goto(shop.url + "/assets/marts.customers").status == 401
    finally:
        context.close()


# -- another site's page ------------------------------------------------------------------------

ATTACK = """<!doctype html>
<html><body>
<form id="form" method="POST" action="{target}/api/query" enctype="text/plain">
<input name='{{"sql": "select 1 as csrf_form, ' value='2 as y"}}'>
</form>
<script>
window.outcome = (async () => {{
  const seen = {{}};
  try {{
    const answer = await fetch("{target}/api/query", {{
      method: "POST", credentials: "include", headers: {{"Content-Type": "application/json"}},
      body: JSON.stringify({{sql: "select 1 as csrf_fetch"}}),
    }});
    seen.fetch = "answered " + answer.status;
  }} catch (error) {{ seen.fetch = "blocked"; }}
  try {{
    await fetch("{target}/api/query", {{
      method: "POST", mode: "no-cors", credentials: "include",
      headers: {{"Content-Type": "text/plain"}},
      body: JSON.stringify({{sql: "select 1 as csrf_plain"}}),
    }});
    seen.plain = "sent";
  }} catch (error) {{ seen.plain = "blocked"; }}
  return seen;
}})();
</script>
</body></html>
"""


@dataclass
class AttackSite:
    url: str
    server: ThreadingHTTPServer


@pytest.fixture
def attack_site(shop: Shop) -> Iterator[AttackSite]:
    """A page of another site (`localhost`, not the server's 127.0.0.1) that tries to run
    queries on the Headwater server with the user's credentials."""
    page = ATTACK.format(target=shop.url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield AttackSite(f"http://localhost:{server.server_address[1]}", server)
    finally:
        server.shutdown()
        thread.join(timeout=600)


def logged_statements(shop: Shop, user: str, marker: str) -> list[str]:
    """The statements `user` ran, read once a query with `marker` (sent last) is logged: the
    log is written in order, so anything before it is there too."""
    assert shop.query(user, f"select '{marker}' as marker").status_code == 200
    deadline = time.monotonic() + 600  # a hang guard, not a measurement
    while True:
        with Project(shop.root) as project:
            statements = [r["statement"] for r in query_log(project.catalog, 1000, user)]
        if any(marker in s for s in statements) or time.monotonic() > deadline:
            return statements
        time.sleep(0.1)


@needs_browser
def test_a_page_of_another_site_cannot_query_with_the_users_credentials(
    shop: Shop, browser: Any, attack_site: AttackSite
) -> None:
    context, page = opened(
        browser,
        # the user signed in to Headwater, and to nothing else
        http_credentials={
            "username": "analyst",
            "password": password("analyst"),
            "origin": shop.url,
        },
    )
    try:
        # the user is signed in to Headwater in this browser: its own SQL box works
        assert page.goto(shop.url + "/sql").status == 200
        page.fill("#sql-text", "select 1 as own_page")
        page.click("#sql-run")
        page.locator("#sql-result tbody tr").first.wait_for()
        page.goto(attack_site.url + "/")
        outcome = page.evaluate("window.outcome")
        assert outcome["fetch"] == "blocked"  # the CORS preflight is refused
        # a form posted as a top-level navigation is the one request a browser sends with
        # the credentials it keeps for the server: the server refuses it for its origin
        with page.expect_navigation() as navigation:
            page.evaluate("document.getElementById('form').submit()")
        refused = navigation.value
        assert refused.request.method == "POST"
        assert refused.request.all_headers()["authorization"].startswith("Basic ")
        assert refused.status == 403
        assert "another site" in refused.json()["error"]
    finally:
        context.close()
    statements = logged_statements(shop, "analyst", "after the attack")
    assert any("own_page" in s for s in statements)
    assert not [s for s in statements if "csrf" in s]


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_a_query_with_basic_credentials_from_another_site_is_refused(shop: Shop) -> None:
    url = shop.url + "/api/query"
    auth = basic("analyst", password("analyst"))
    body = {"sql": "select 1 as x"}

    def post(**headers: str) -> httpx.Response:
        return httpx.post(url, json=body, headers={"Authorization": auth, **headers}, timeout=600)

    assert post().status_code == 200  # a program: no Origin
    assert post(Origin=shop.url, **{"Sec-Fetch-Site": "same-origin"}).status_code == 200
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": shop.url.replace("127.0.0.1", "localhost")},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": shop.url},
    ):
        refused = post(**headers)
        assert refused.status_code == 403, headers
        assert "another site" in refused.json()["error"]
        assert "access-control-allow-origin" not in refused.headers
    # a form (or text/plain) POST needs no preflight: it is refused for its type
    plain = httpx.post(
        url,
        content=json.dumps(body),
        headers={"Authorization": auth, "Content-Type": "text/plain"},
        timeout=600,
    )
    assert plain.status_code == 415
    # the preflight a JSON POST from another site needs carries no credentials: refused, and
    # nothing grants another origin anything
    preflight = httpx.options(
        url,
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=600,
    )
    assert preflight.status_code == 401
    assert not [h for h in preflight.headers if h.startswith("access-control-")]
    allowed = post(Origin="http://evil.example", **{"Sec-Fetch-Site": "none"})
    assert allowed.status_code == 403 and not [
        h for h in allowed.headers if h.startswith("access-control-")
    ]


def test_a_rebound_host_name_gets_nothing_without_credentials(shop: Shop) -> None:
    # a page at rebind.example whose name now resolves to 127.0.0.1 has no credentials there
    for path in ("/", "/api/assets", "/assets/marts.customers", "/metrics"):
        response = httpx.get(shop.url + path, headers={"Host": "rebind.example"}, timeout=600)
        assert response.status_code == 401, path
    posted = httpx.post(
        shop.url + "/api/query",
        json={"sql": "select 1"},
        headers={"Host": "rebind.example", "Origin": "http://rebind.example"},
        timeout=600,
    )
    assert posted.status_code == 401
