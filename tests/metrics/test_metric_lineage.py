"""Metrics are nodes of the graph: downstream of the assets they read in `headwater lineage`
and the UI's graph (only for readers who may read those assets), and named by `impact`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from headwater.errors import NotFoundError
from headwater.ui.pages import Links, Workspace, graph_page
from headwater.workspace import Project
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project.init(tmp_path_factory.mktemp("lineage") / "shop", example="ecommerce")
    assert project.run().status == "success"
    return project


def test_a_metric_reads_its_model_columns_and_is_made_of_its_inputs(shop: Project) -> None:
    found = shop.lineage("metric:average_order_value")
    assert found["type"] == "ratio"
    assert found["inputs"] == ["revenue", "order_count"]
    assert "recognized_revenue" in found["reads"]["marts.fact_sales"]
    # a metric's name that names no asset is enough
    assert shop.lineage("revenue_7d")["type"] == "cumulative"
    with pytest.raises(NotFoundError) as missing:
        shop.lineage("metric:revenu")
    assert missing.value.hint == "did you mean revenue?"


def test_an_asset_lists_the_metrics_reading_it(shop: Project) -> None:
    found = shop.lineage("marts.fact_sales")
    assert {"revenue", "order_count", "average_order_value", "revenue_7d"} <= set(found["metrics"])
    assert shop.lineage("marts.dim_date")["metrics"] == []


def test_the_cli_shows_both_directions(shop: Project) -> None:
    metric = run_cli(["lineage", "metric:revenue"], shop.root)
    assert metric.returncode == 0, metric.stderr
    assert "metric revenue (simple)" in metric.stdout
    assert "reads: marts.fact_sales (" in metric.stdout
    asset = run_cli(["lineage", "marts.fact_sales"], shop.root)
    assert "metrics: average_order_value, order_count, revenue" in asset.stdout
    impact = run_cli(["impact", "marts.fact_sales.recognized_revenue"], shop.root)
    assert "metric revenue reads marts.fact_sales" in impact.stdout


@dataclass(frozen=True)
class _Reader:
    """A reader of some assets only (the UI's duck-typed principal)."""

    readable: frozenset[str]
    masked: bool = False

    @property
    def everything(self) -> bool:
        return False

    def can_read_key(self, key: str) -> bool:
        return key in self.readable


def test_the_graph_draws_metrics_below_their_assets_for_readers_of_them(
    shop: Project, tmp_path: Path
) -> None:
    workspace = Workspace(shop)
    page = graph_page(workspace, None, Links(True))
    keys = {node["key"] for node in page["nodes"]}
    assert {"metric:revenue", "metric:revenue_7d", "metric:average_order_value"} <= keys
    edges = {(edge.source, edge.target) for edge in page["edges"]}
    assert ("marts.fact_sales", "metric:revenue") in edges

    everything_but_sales = frozenset(k for k in shop.definition.assets if k != "marts.fact_sales")
    hidden = graph_page(workspace, None, Links(True), _Reader(everything_but_sales))
    shown = {node["key"] for node in hidden["nodes"]}
    assert "metric:revenue" not in shown
    assert "metric:new_customers" in shown  # it reads staging.stg_customers only
