"""The UI's pages, JSON API, /metrics and the static docs export, over real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from headwater import Project
from headwater.ui.export import export_site
from tests.conftest import HEADWATER, ProjectFactory, write_files
from tests.support.ui_server import free_port, serve


@pytest.fixture(scope="module")
def base(shop: Project):  # type: ignore[no-untyped-def]
    with serve(shop) as url:
        yield url


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append(value)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.found


def test_the_graph_shows_every_asset_coloured_by_its_last_status(base: str, shop: Project) -> None:
    page = httpx.get(base + "/")
    assert page.status_code == 200
    for key in shop.definition.assets:
        assert f'data-key="{key}"' in page.text
    assert 'data-key="raw.order_items" data-status="failed"' in page.text
    assert 'data-key="marts.fact_sales" data-status="skipped"' in page.text
    assert 'data-key="raw.customers" data-status="success"' in page.text
    assert 'href="/assets/marts.daily_revenue"' in page.text


def test_the_graph_filters_by_selector(base: str) -> None:
    page = httpx.get(base + "/", params={"select": "+marts.daily_revenue"})
    keys = set(re.findall(r'data-key="([^"]+)"', page.text))
    assert "marts.daily_revenue" in keys
    assert "raw.order_items" in keys
    assert "marts.dim_customer" not in keys
    wrong = httpx.get(base + "/", params={"select": "tag:"})
    assert wrong.status_code == 400
    assert "Traceback" not in wrong.text


def test_a_bad_selector_keeps_the_graph_page_with_the_error_above_it(
    base: str, shop: Project
) -> None:
    page = httpx.get(base + "/", params={"select": "tag:no_such_tag"})
    assert page.status_code == 400
    text = page.text
    error = text.index('id="graph-error"')
    assert "selector &#39;tag:no_such_tag&#39; matches no asset" in text
    assert error < text.index('id="asset-graph"')
    for key in shop.definition.assets:
        assert f'data-key="{key}"' in text
    assert 'value="tag:no_such_tag"' in text
    # what the user typed comes back as text, never as markup
    hostile = httpx.get(base + "/", params={"select": "<script>alert(1)</script>"})
    assert hostile.status_code == 400
    assert "<script>alert(1)</script>" not in hostile.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.text


def test_the_graph_draws_with_the_bundled_dagre_and_its_licence(base: str) -> None:
    page = httpx.get(base + "/").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts[:2] == ["/static/dagre.min.js", "/static/graph.js"]
    for script in scripts:
        assert httpx.get(base + script).status_code == 200
    dagre = httpx.get(base + "/static/dagre.min.js").text
    assert "var dagre=" in dagre
    assert "sourceMappingURL" not in dagre  # the map is not shipped: nothing asks for it
    licence = httpx.get(base + "/static/dagre.LICENSE").text
    assert "@dagrejs/dagre" in licence
    assert "@dagrejs/graphlib" in licence
    assert "Permission is hereby granted" in licence


def test_an_asset_page_has_schema_versions_preview_checks_and_metrics(
    base: str, shop: Project
) -> None:
    page = httpx.get(base + "/assets/marts.fact_sales")
    assert page.status_code == 200
    text = page.text
    assert "Order id; with line_number, the key of the table." in text
    assert 'data-column="recognized_revenue"' in text
    lineage = json.loads(re.search(r'id="lineage-data">(.*?)</script>', text, re.S).group(1))
    upstream = {item["id"] for item in lineage["recognized_revenue"]["upstream"]}
    assert "intermediate.int_order_lines.net_amount" in upstream
    assert "raw.order_items.quantity" in upstream
    history = shop.history("marts.fact_sales")
    assert len(history) >= 2
    for entry in history:
        assert f'href="?version={entry.version}#preview"' in text
        assert f'href="/runs/{entry.run_id}"' in text
    assert "unique_order_id_line_number" in text
    assert "rows:" in text  # the row count chart
    assert "null rate of order_id" in text


def test_the_preview_travels_back_in_time(base: str, shop: Project) -> None:
    def rows_in(version: int | None) -> int:
        params = {} if version is None else {"version": version}
        page = httpx.get(base + "/assets/raw.orders", params=params)
        assert page.status_code == 200
        body = re.search(r'id="preview-table".*?<tbody>(.*?)</tbody>', page.text, re.S)
        return body.group(1).count("<tr>") if body else 0

    first = shop.query('select * from "raw"."orders" limit 20', as_of=0).num_rows
    assert rows_in(0) == first
    old = httpx.get(base + "/assets/raw.orders", params={"version": 0}).text
    assert "Data at version 0" in old
    assert 'class="chosen"' in old
    missing = httpx.get(base + "/assets/raw.orders", params={"version": 999})
    assert missing.status_code == 200
    assert 'class="error"' in missing.text


def test_unknown_things_are_404_pages(base: str) -> None:
    page = httpx.get(base + "/assets/marts.nope")
    assert page.status_code == 404
    assert "no asset named" in page.text
    assert httpx.get(base + "/runs/ffffffffffff").status_code == 404
    assert httpx.get(base + "/api/runs/ffffffffffff").status_code == 404
    api = httpx.get(base + "/api/assets/marts.nope/lineage")
    assert api.status_code == 404
    assert api.json()["error"] == "no asset named 'marts.nope'"


def test_runs_and_a_run_page_with_its_timeline_and_errors(base: str, shop: Project) -> None:
    runs = shop.runs(10)
    page = httpx.get(base + "/runs")
    for run in runs:
        assert f'href="/runs/{run["run_id"]}"' in page.text
    failed = next(r for r in runs if r["status"] == "failed")
    run_page = httpx.get(base + f"/runs/{failed['run_id']}")
    assert run_page.status_code == 200
    assert 'data-live="no"' in run_page.text
    assert "gantt-row" in run_page.text
    assert "not_null_order_id" in run_page.text  # the failing checks, in the attempt's error
    data = httpx.get(base + f"/api/runs/{failed['run_id']}").json()
    assert data["run"]["status"] == "failed"
    statuses = {r["asset"]: r["status"] for r in data["results"]}
    assert statuses["raw.order_items"] == "failed"
    assert statuses["marts.fact_sales"] == "skipped"


def test_metrics_parse_and_follow_prometheus_conventions(base: str, shop: Project) -> None:
    response = httpx.get(base + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    for family in families.values():
        assert re.fullmatch(r"headwater_[a-z][a-z0-9_]*", family.name), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if "seconds" in family.name:
            assert family.name.endswith(("_seconds", "_timestamp_seconds"))
    runs = {s.labels["status"]: s.value for s in families["headwater_runs"].samples}
    assert runs == {"success": 2.0, "failed": 1.0}
    assert families["headwater_runs_in_progress"].samples[0].value == 0
    durations = {s.labels["asset"] for s in families["headwater_asset_duration_seconds"].samples}
    assert "marts.fact_sales" in durations
    written = {s.labels["asset"]: s.value for s in families["headwater_rows_written"].samples}
    assert written["raw.orders"] > 0
    failures = families["headwater_check_failures"].samples
    assert any(s.labels["asset"] == "raw.order_items" and s.value >= 4 for s in failures)
    lag = {
        s.labels["asset"]: s.value
        for s in families["headwater_asset_freshness_lag_seconds"].samples
    }
    assert 0 <= lag["raw.customers"] < 3600
    assert "headwater_scheduler_heartbeat_timestamp_seconds" in families


def test_pages_fetch_nothing_from_elsewhere(base: str) -> None:
    for path in ("/", "/assets/marts.fact_sales", "/runs", "/sql"):
        for link in links_of(httpx.get(base + path).text):
            assert not re.match(r"^(https?:)?//", link), (path, link)


def test_docs_export_is_a_static_site_that_works_from_files(shop: Project, tmp_path: Path) -> None:
    site = tmp_path / "site"
    written = export_site(shop, site)
    assert site / "index.html" in written
    for key in shop.definition.assets:
        assert (site / "assets" / f"{key}.html").is_file()
    for page in [site / "index.html", *(site / "assets").iterdir()]:
        html = page.read_text()
        for link in links_of(html):
            assert not re.match(r"^(https?:)?//|^/", link), (page, link)
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.exists(), (page, link)
    index = (site / "index.html").read_text()
    assert 'src="static/dagre.min.js"' in index
    assert 'src="static/graph.js"' in index
    assert (site / "static" / "dagre.LICENSE").is_file()
    fact = (site / "assets" / "marts.fact_sales.html").read_text()
    assert "Order id; with line_number, the key of the table." in fact
    assert "lineage-data" in fact
    catalog = json.loads((site / "catalog.json").read_text())
    entry = catalog["assets"]["marts.fact_sales"]
    assert entry["owner"] == "finance-analytics"
    assert entry["column_lineage"]["columns"]["recognized_revenue"]
    cli = subprocess.run(
        [*HEADWATER, "--project", str(shop.root), "docs", "export", str(tmp_path / "cli")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "cli" / "index.html").is_file()


def test_the_ui_command_listens_on_loopback_only(shop: Project) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*HEADWATER, "--project", str(shop.root), "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600  # a hang guard, not a measurement
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        listening = [
            c.laddr
            for c in psutil.Process(process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=600)


def test_a_broken_project_shows_its_error_on_every_page(make_project: ProjectFactory) -> None:
    project = make_project({"models/core/ok.sql": "select 1 as x"})
    assert project.run().status == "success"
    with serve(project) as url:
        assert httpx.get(url + "/").status_code == 200
        (project.root / "models" / "core" / "bad.sql").write_text("select * from nowhere")
        time.sleep(2.1)  # the UI looks at the project's files at most every two seconds
        for path in ("/", "/assets/core.ok", "/runs", "/sql", "/metrics", "/api/assets"):
            response = httpx.get(url + path)
            assert response.status_code == 400, (path, response.status_code)
            assert "nowhere" in response.text, path


def test_an_absurd_page_number_is_a_bad_request(base: str) -> None:
    assert httpx.get(base + "/runs", params={"page": "9" * 25}).status_code == 400
    assert httpx.get(base + "/runs", params={"page": "0"}).status_code == 400


def test_a_view_that_cannot_be_read_at_an_old_version_says_so(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "models/core/t.sql": "select 1 as a",
            "models/core/v.sql": "select a from core.t",
            "models/core/v.yml": "materialized: view\n",
        }
    )
    assert project.run().status == "success"
    write_files(
        project.root,
        {
            "models/core/t.sql": "select 1 as a, 2 as b",
            "models/core/v.sql": "select a, b from core.t",
        },
    )
    project.reload()
    assert project.run().status == "success"
    with serve(project) as url:
        now = httpx.get(url + "/assets/core.v")
        old = httpx.get(url + "/assets/core.v", params={"version": 0})
    assert now.status_code == 200 and "query failed" not in now.text
    assert old.status_code == 200
    assert "query failed" in old.text and '"b"' in old.text.replace("&#34;", '"')
