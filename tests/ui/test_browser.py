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
from tests.conftest import REPO, ProjectFactory, write_files
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


HANG_GUARD_MS = 600_000
"""Playwright's waits end here, not at its 30 s default: a loaded machine is slow, not broken."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.set_default_timeout(HANG_GUARD_MS)
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


def drawn(shop: Project) -> set[str]:
    """The nodes of the whole graph: every asset, and every metric below the assets it
    reads."""
    return set(shop.definition.assets) | {f"metric:{m}" for m in shop.definition.semantic.metrics}


def test_load_the_graph_and_open_an_asset(page: Any, base: str, shop: Project) -> None:
    page.goto(base + "/")
    nodes = page.locator("svg#asset-graph a.node")
    assert nodes.count() == len(drawn(shop))
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
        page.locator('#run-status[data-status="success"]').wait_for()
        assert page.locator("#results").inner_text().count("success") == 1
        assert "loaded 2 rows" in (page.locator("details.attempt").text_content() or "")
        shot(page, "run-live-finished")


# -- the asset graph ---------------------------------------------------------------------------

GEOMETRY = """() => {
  const svg = document.getElementById("asset-graph");
  const toUser = svg.getScreenCTM().inverse();
  const user = (el, x, y) => new DOMPoint(x, y).matrixTransform(toUser.multiply(el.getScreenCTM()));
  const boxes = {};
  const screen = {};
  for (const a of svg.querySelectorAll("a.node")) {
    const r = a.querySelector("rect");
    const x = r.x.baseVal.value, y = r.y.baseVal.value;
    const p = user(r, x, y), q = user(r, x + r.width.baseVal.value, y + r.height.baseVal.value);
    boxes[a.dataset.key] = [p.x, p.y, q.x, q.y];
    const s = r.getBoundingClientRect();
    screen[a.dataset.key] = [s.left, s.top, s.right, s.bottom];
  }
  const edges = [];
  for (const path of svg.querySelectorAll("path.edge")) {
    const length = path.getTotalLength();
    const steps = Math.max(2, Math.ceil(length));
    const points = [];
    for (let i = 0; i <= steps; i += 1) {
      const p = path.getPointAtLength((length * i) / steps);
      const u = user(path, p.x, p.y);
      points.push([u.x, u.y]);
    }
    edges.push({
      source: path.dataset.source, target: path.dataset.target, points,
      marker: getComputedStyle(path).markerEnd,
    });
  }
  const vb = svg.viewBox.baseVal;
  const f = svg.getBoundingClientRect();
  return {
    boxes, screen, edges,
    viewBox: [vb.x, vb.y, vb.x + vb.width, vb.y + vb.height],
    frame: [f.left, f.top, f.right, f.bottom],
    window: [window.innerWidth, window.innerHeight],
    scale: Number(svg.dataset.scale),
  };
}"""


STRAIGHT_EDGES = """() => {
  const corner = (key) => {
    const node = document.querySelector(`a.node[data-key="${key}"]`);
    return node.transform.baseVal.consolidate().matrix;
  };
  const rect = document.querySelector("a.node rect");
  const w = rect.width.baseVal.value, h = rect.height.baseVal.value;
  for (const path of document.querySelectorAll("path.edge")) {
    const s = corner(path.dataset.source), t = corner(path.dataset.target);
    path.setAttribute("d", `M${s.e + w},${s.f + h / 2} L${t.e},${t.f + h / 2}`);
  }
}"""


def graph_geometry(page: Any) -> dict[str, Any]:
    """Where the rendered graph's boxes and edges are, in the SVG's own units and on screen."""
    page.locator("svg#asset-graph.laid-out").wait_for(state="attached")
    geometry: dict[str, Any] = page.evaluate(GEOMETRY)
    return geometry


def edges_through_boxes(geometry: dict[str, Any]) -> list[str]:
    """Every edge that passes through a box other than its own two (1 px of slack)."""
    found = []
    for edge in geometry["edges"]:
        for key, (left, top, right, bottom) in geometry["boxes"].items():
            if key in (edge["source"], edge["target"]):
                continue
            inside = [
                (x, y)
                for x, y in edge["points"]
                if left + 1 < x < right - 1 and top + 1 < y < bottom - 1
            ]
            if inside:
                found.append(f"{edge['source']} -> {edge['target']} crosses {key} at {inside[0]}")
    return found


def loose_edge_ends(geometry: dict[str, Any]) -> list[str]:
    """Edges that do not start on their source's right side and end on their target's left."""
    found = []
    for edge in geometry["edges"]:
        (x0, y0), (x1, y1) = edge["points"][0], edge["points"][-1]
        _, s_top, s_right, s_bottom = geometry["boxes"][edge["source"]]
        t_left, t_top, _, t_bottom = geometry["boxes"][edge["target"]]
        if not (abs(x0 - s_right) < 0.5 and s_top <= y0 <= s_bottom):
            found.append(f"{edge['source']} -> {edge['target']} starts at {(x0, y0)}")
        if not (abs(x1 - t_left) < 0.5 and t_top <= y1 <= t_bottom):
            found.append(f"{edge['source']} -> {edge['target']} ends at {(x1, y1)}")
    return found


def boxes_outside_the_view(geometry: dict[str, Any]) -> list[str]:
    """Boxes not wholly inside the viewBox, or drawn outside the SVG or the window."""
    v_left, v_top, v_right, v_bottom = geometry["viewBox"]
    f_left, f_top, f_right, f_bottom = geometry["frame"]
    found = []
    if f_left < 0 or f_right > geometry["window"][0] + 0.5:
        found.append(f"the graph's frame {geometry['frame']} leaves the window")
    for key, (left, top, right, bottom) in geometry["boxes"].items():
        if left < v_left or top < v_top or right > v_right or bottom > v_bottom:
            found.append(f"{key} {geometry['boxes'][key]} outside viewBox {geometry['viewBox']}")
        s_left, s_top, s_right, s_bottom = geometry["screen"][key]
        if s_left < f_left - 0.5 or s_top < f_top - 0.5 or s_right > f_right + 0.5:
            found.append(f"{key} is cut off on screen")
        if s_bottom > f_bottom + 0.5:
            found.append(f"{key} is cut off on screen")
    return found


def view_box(page: Any) -> list[float]:
    return [float(n) for n in page.locator("svg#asset-graph").get_attribute("viewBox").split()]


def layered_project(root: Path) -> Project:
    """A project drawn to trip a graph layout up: six layers of models, each reading one to
    three assets of any earlier layer, so many edges skip layers past other boxes."""
    import random

    pick = random.Random(11)
    files = {"headwater.yml": "name: layered\n"}
    layers: list[list[str]] = [[f"raw.seed_{n}" for n in range(4)]]
    for n in range(4):
        files[f"seeds/seed_{n}.csv"] = "x\n1\n"
    for depth, size in enumerate([5, 6, 5, 4, 3], start=1):
        layer = []
        for n in range(size):
            name = f"l{depth}_m{n}"
            earlier = [key for level in layers for key in level]
            reads = {pick.choice(layers[-1]), *pick.sample(earlier, pick.randint(0, 2))}
            union = "\nunion all\n".join(f"select x from {key}" for key in sorted(reads))
            files[f"models/layer{depth}/{name}.sql"] = union + "\n"
            layer.append(f"layer{depth}.{name}")
        layers.append(layer)
    write_files(root, files)
    return Project(root)


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = layered_project(tmp_path_factory.mktemp("layered") / "layered")
    yield project
    project.close()


@pytest.fixture(scope="module")
def layered_base(layered: Project) -> Iterator[str]:
    with serve(layered) as url:
        yield url


def test_graph_edges_go_around_boxes_they_do_not_connect(
    page: Any, base: str, layered_base: str, shop: Project, layered: Project
) -> None:
    for url, project, name in (
        (base, shop, "graph-edges"),
        (layered_base, layered, "graph-layered"),
    ):
        page.goto(url + "/")
        geometry = graph_geometry(page)
        assert set(geometry["boxes"]) == drawn(project)
        expected = {(p, k) for k, a in project.definition.assets.items() for p in a.depends_on}
        expected |= {
            (asset, f"metric:{metric}")
            for metric in project.definition.semantic.metrics
            for asset in project.lineage(f"metric:{metric}")["reads"]
        }
        assert {(e["source"], e["target"]) for e in geometry["edges"]} == expected
        # an edge between neighbouring columns spans one gap; these cross a column of boxes
        skipping = [e for e in geometry["edges"] if e["points"][-1][0] - e["points"][0][0] > 200]
        assert len(skipping) >= (2 if project is shop else 10), "the scenario skips layers"
        assert edges_through_boxes(geometry) == []
        assert loose_edge_ends(geometry) == []
        shot(page, name)
    # the check sees what the old drawing did: straight edges from box to box cross boxes
    page.evaluate(STRAIGHT_EDGES)
    assert len(edges_through_boxes(graph_geometry(page))) >= 5


def test_graph_edges_end_in_arrowheads(page: Any, base: str) -> None:
    page.goto(base + "/")
    geometry = graph_geometry(page)
    assert geometry["edges"]
    assert {edge["marker"] for edge in geometry["edges"]} == {'url("#graph-arrow")'}
    marker = page.locator("svg#asset-graph marker#graph-arrow path")
    assert marker.count() == 1
    # the arrowhead points along the edge's end (from left to right, into the target box)
    assert page.locator("svg#asset-graph marker#graph-arrow").get_attribute("orient") == "auto"


@pytest.mark.parametrize("width", [480, 900, 1400, 1920])
def test_the_whole_graph_fits_at_any_width(
    browser: Any, base: str, layered_base: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    try:
        for url, name in ((base, "shop"), (layered_base, "layered")):
            page.goto(url + "/")
            geometry = graph_geometry(page)
            assert boxes_outside_the_view(geometry) == []
            assert page.locator("svg#asset-graph").get_attribute("data-fitted") == "yes"
            shot(page, f"graph-{name}-{width}px")
    finally:
        context.close()


def test_graph_zoom_pan_and_fit_controls(page: Any, base: str) -> None:
    page.goto(base + "/")
    fitted = graph_geometry(page)
    start = view_box(page)
    page.click("#graph-zoom-in")
    page.click("#graph-zoom-in")
    zoomed = graph_geometry(page)
    assert zoomed["scale"] == pytest.approx(fitted["scale"] * 1.25**2, rel=0.01)
    assert view_box(page)[2] < start[2]
    assert boxes_outside_the_view(zoomed) != []  # zoomed in, some boxes are off the view
    first = next(iter(fitted["screen"]))
    assert zoomed["screen"][first][2] - zoomed["screen"][first][0] > (
        fitted["screen"][first][2] - fitted["screen"][first][0]
    )
    shot(page, "graph-zoomed-in")
    page.click("#graph-zoom-out")
    assert graph_geometry(page)["scale"] == pytest.approx(fitted["scale"] * 1.25, rel=0.01)

    # dragging pans the view, and a drag that starts on a box does not open it
    before = view_box(page)
    box = page.locator('a.node[data-key="marts.fact_sales"] rect').bounding_box()
    scale = graph_geometry(page)["scale"]
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 80, box["y"] + 40, steps=5)
    page.mouse.move(box["x"] + 120, box["y"] + 60, steps=5)
    page.mouse.up()
    after = view_box(page)
    assert after[0] == pytest.approx(before[0] - 100 / scale, abs=0.5)
    assert after[1] == pytest.approx(before[1] - 50 / scale, abs=0.5)
    assert page.url.rstrip("/") == base

    # the wheel zooms about the pointer: the box under it stays under it
    box = page.locator('a.node[data-key="marts.fact_sales"] rect').bounding_box()
    x, y = box["x"] + 30, box["y"] + 20
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        f"Number(document.getElementById('asset-graph').dataset.scale) > {scale}"
    )
    moved = page.locator('a.node[data-key="marts.fact_sales"] rect').bounding_box()
    assert moved["x"] <= x <= moved["x"] + moved["width"]
    assert moved["y"] <= y <= moved["y"] + moved["height"]

    page.click("#graph-fit")
    refitted = graph_geometry(page)
    assert refitted["scale"] == pytest.approx(fitted["scale"], rel=0.01)
    assert view_box(page) == pytest.approx(start, abs=0.5)
    assert boxes_outside_the_view(refitted) == []
    page.locator("svg#asset-graph").click(position={"x": 5, "y": 5})
    page.keyboard.press("+")
    assert graph_geometry(page)["scale"] > refitted["scale"]
    page.keyboard.press("0")
    assert graph_geometry(page)["scale"] == pytest.approx(fitted["scale"], rel=0.01)


def test_graph_search_highlights_and_centres_an_asset(page: Any, base: str) -> None:
    page.goto(base + "/")
    graph_geometry(page)
    page.fill("#graph-search", "dim_cust")
    assert page.locator("#graph-search-status").inner_text() == "1 match"
    target = page.locator('a.node[data-key="marts.dim_customer"]')
    assert "match" in target.get_attribute("class").split()
    assert "focused" in target.get_attribute("class").split()
    assert page.locator("a.node.match").count() == 1
    assert page.locator("svg#asset-graph.searching").count() == 1
    # the found box is in the middle of the view, at least at its natural size
    geometry = graph_geometry(page)
    assert geometry["scale"] >= 1
    left, top, right, bottom = geometry["boxes"]["marts.dim_customer"]
    v_left, v_top, v_right, v_bottom = geometry["viewBox"]
    assert (left + right) / 2 == pytest.approx((v_left + v_right) / 2, abs=1)
    assert (top + bottom) / 2 == pytest.approx((v_top + v_bottom) / 2, abs=1)
    hot = page.locator("path.edge.hot")
    assert hot.count() == 2  # stg_customers -> dim_customer -> customer_lifetime_value
    assert {hot.nth(n).get_attribute("marker-end") for n in range(2)} == {"url(#graph-arrow-hot)"}
    shot(page, "graph-search")

    # several matches: Enter walks through them
    page.fill("#graph-search", "stg_")
    assert page.locator("a.node.match").count() == 4
    assert page.locator("#graph-search-status").inner_text().startswith("4 matches")
    page.press("#graph-search", "Enter")
    first = page.locator("a.node.focused").get_attribute("data-key")
    page.press("#graph-search", "Enter")
    second = page.locator("a.node.focused").get_attribute("data-key")
    assert first != second
    assert {first, second} <= {
        f"staging.stg_{n}" for n in ("customers", "orders", "order_items", "products")
    }

    page.fill("#graph-search", "no_such_asset")
    assert page.locator("#graph-search-status").inner_text() == "no asset matches “no_such_asset”"
    assert page.locator("a.node.match").count() == 0
    page.press("#graph-search", "Escape")
    assert page.locator("svg#asset-graph.searching").count() == 0


def test_a_bad_selector_shows_its_error_above_the_graph(
    page: Any, base: str, shop: Project
) -> None:
    page.goto(base + "/")
    page.fill("#graph-select", "tag:no_such_tag")
    with page.expect_response(lambda response: "select=" in response.url) as answer:
        page.press("#graph-select", "Enter")
    assert answer.value.status == 400
    page.wait_for_load_state()
    error = page.locator("#graph-error")
    assert "selector 'tag:no_such_tag' matches no asset" in error.inner_text()
    assert page.locator("#graph-select").input_value() == "tag:no_such_tag"
    assert page.locator("h1").inner_text() == "Assets"
    # the page stays a graph page: every asset drawn and laid out, the tools working
    geometry = graph_geometry(page)
    assert set(geometry["boxes"]) == drawn(shop)
    assert boxes_outside_the_view(geometry) == []
    shot(page, "graph-bad-selector")
    page.goto(base + "/?select=" + "%2B%2B%2B")
    assert "cannot parse selector '+++'" in page.locator("#graph-error").inner_text()
    assert page.locator("svg#asset-graph a.node").count() == len(drawn(shop))
    # a good selector afterwards filters, with no error left over
    page.fill("#graph-select", "+marts.daily_revenue")
    page.press("#graph-select", "Enter")
    page.wait_for_url("**select=*")
    assert page.locator("#graph-error").count() == 0
    assert page.locator('a.node[data-key="marts.dim_customer"]').count() == 0
    assert page.locator('a.node[data-key="marts.daily_revenue"]').count() == 1


def test_the_exported_docs_site_draws_the_same_graph(
    page: Any, shop: Project, tmp_path: Path
) -> None:
    from headwater.ui.export import export_site

    export_site(shop, tmp_path / "site")
    page.goto((tmp_path / "site" / "index.html").as_uri())
    geometry = graph_geometry(page)
    assert set(geometry["boxes"]) == drawn(shop)
    assert edges_through_boxes(geometry) == []
    assert loose_edge_ends(geometry) == []
    assert boxes_outside_the_view(geometry) == []
    assert {edge["marker"] for edge in geometry["edges"]} == {'url("#graph-arrow")'}
    page.fill("#graph-search", "fact_sales")
    assert "focused" in page.locator('a.node[data-key="marts.fact_sales"]').get_attribute("class")
    shot(page, "docs-export-graph")
