"""The UI in a real headless browser: Debian's Chromium driven by Playwright.

Screenshots of each step are saved under test-artifacts/ui/ for people to look at.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from tests.conftest import REPO, ProjectFactory
from tests.support.ui_server import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("HEADWATER_REQUIRE_BROWSER") == "1"
"""Set by ./scripts/test.sh (and so CI), which installs Chromium: there a missing browser
fails the suite instead of skipping these tests."""

if REQUIRED and not Path(CHROMIUM).exists():
    pytest.fail(f"Chromium is missing at {CHROMIUM}: run ./scripts/ensure_chromium.sh")
sync_api: Any = (
    importlib.import_module("playwright.sync_api")
    if REQUIRED
    else pytest.importorskip("playwright.sync_api")
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "test-artifacts" / "ui"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Chromium is missing: run ./scripts/ensure_chromium.sh"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="module")
def base(shop: Project) -> Iterator[str]:
    with serve(shop) as url:
        yield url


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_load_the_graph_and_open_an_asset(page: Any, base: str, shop: Project) -> None:
    page.goto(base + "/")
    nodes = page.locator("svg#asset-graph a.node")
    assert nodes.count() == len(shop.definition.assets)
    assert page.locator('a.node[data-key="raw.order_items"].bad').count() == 1
    shot(page, "graph")
    page.locator('a.node[data-key="marts.fact_sales"]').click()
    page.wait_for_url("**/assets/marts.fact_sales")
    assert page.locator("h1").inner_text().startswith("marts.fact_sales")
    assert page.locator("tr.column-row").count() >= 10


def test_pick_a_column_and_see_its_lineage_highlighted(page: Any, base: str) -> None:
    page.goto(base + "/assets/marts.fact_sales")
    page.locator('button.pick[data-column="recognized_revenue"]').click()
    detail = page.locator("#lineage-detail")
    detail.wait_for(state="visible")
    upstream = page.locator("#lineage-upstream").inner_text()
    assert "intermediate.int_order_lines.net_amount" in upstream
    assert "raw.order_items.quantity" in upstream
    downstream = page.locator("#lineage-downstream").inner_text()
    assert "marts.daily_revenue.revenue" in downstream
    highlighted = page.locator("li.col.upstream")
    ids = {highlighted.nth(n).get_attribute("data-id") for n in range(highlighted.count())}
    assert "intermediate.int_order_lines.net_amount" in ids
    assert "intermediate.int_order_lines.customer_id" not in ids
    assert page.locator('li.col.downstream[data-id="marts.daily_revenue.revenue"]').count() == 1
    assert page.locator('li.col.picked[data-id="marts.fact_sales.recognized_revenue"]').count() == 1
    shot(page, "asset-column-lineage")
    # picking another column moves the highlight
    page.locator('button.pick[data-column="line_number"]').click()
    assert page.locator('li.col.downstream[data-id="marts.daily_revenue.revenue"]').count() == 0


def test_preview_an_older_version(page: Any, base: str, shop: Project) -> None:
    page.goto(base + "/assets/raw.orders")
    current = page.locator("#preview-table tbody tr").count()
    page.locator('a.preview-version[href="?version=0#preview"]').click()
    page.wait_for_url("**version=0#preview")
    assert "Data at version 0" in page.locator("#preview h2").inner_text()
    assert page.locator("#preview-table").get_attribute("data-version") == "0"
    expected = shop.query('select * from "raw"."orders" limit 20', as_of=0).num_rows
    assert page.locator("#preview-table tbody tr").count() == expected
    assert current == 20
    shot(page, "asset-preview-version-0")


def test_run_a_query_and_download_it_as_csv(page: Any, base: str, shop: Project) -> None:
    page.goto(base + "/sql")
    sql = "select order_date, revenue from marts.daily_revenue order by order_date limit 5"
    page.fill("#sql-text", sql)
    page.click("#sql-run")
    page.locator("#sql-result tbody tr").nth(4).wait_for()
    assert page.locator("#sql-result thead th").all_inner_texts() == ["order_date", "revenue"]
    expected = shop.query(sql).to_pylist()
    first = page.locator("#sql-result tbody tr").first.locator("td").all_inner_texts()
    assert first == [str(expected[0]["order_date"]), str(expected[0]["revenue"])]
    assert "5 rows" in page.locator("#sql-status").inner_text()
    shot(page, "sql-result")
    with page.expect_download() as download:
        page.click("#sql-csv")
    text = Path(download.value.path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0] == '"order_date","revenue"'
    assert len(lines) == 6
    page.fill("#sql-text", "drop table marts.daily_revenue")
    page.click("#sql-run")
    page.locator("#sql-status.error").wait_for()
    assert "read-only" in page.locator("#sql-status").inner_text().lower() or (
        "select" in page.locator("#sql-status").inner_text().lower()
    )
    shot(page, "sql-refused")


def test_open_a_run_page(page: Any, base: str, shop: Project) -> None:
    page.goto(base + "/runs")
    failed = next(r for r in shop.runs(10) if r["status"] == "failed")
    page.click(f'a[href="/runs/{failed["run_id"]}"]')
    page.wait_for_url(f"**/runs/{failed['run_id']}")
    assert page.locator("#run-status").get_attribute("data-status") == "failed"
    assert page.locator(".gantt-row").count() >= 1
    error = page.locator("details.attempt.bad pre.error").first.inner_text()
    assert "not_null_order_id" in error
    shot(page, "run-failed")


def test_a_run_page_updates_while_the_run_is_in_progress(
    page: Any, browser: Any, make_project: ProjectFactory
) -> None:
    project = make_project({"seeds/numbers.csv": "n\n1\n2\n"})
    catalog = project.catalog
    record = catalog.start_run("run", None, 1, False)
    result = catalog.start_asset(record.run_id, "raw.numbers", "seed", None)
    with serve(project) as url:
        page.goto(f"{url}/runs/{record.run_id}")
        assert page.locator("#run-status").get_attribute("data-status") == "running"
        assert page.locator("#run-live").get_attribute("data-live") == "yes"
        shot(page, "run-live-running")
        catalog.record_attempt(
            result,
            record.run_id,
            "raw.numbers",
            1,
            "success",
            "2026-01-01T00:00:00+00:00",
            0.5,
            None,
            "loaded 2 rows",
        )
        catalog.finish_asset(result, "success", rows=2, version=0, duration_s=0.5)
        catalog.finish_run(record.run_id, "success")
        page.locator('#run-status[data-status="success"]').wait_for(timeout=10_000)
        assert page.locator("#results").inner_text().count("success") == 1
        assert "loaded 2 rows" in (page.locator("details.attempt").text_content() or "")
        shot(page, "run-live-finished")
