"""Column lineage of whole projects: computed at each run, kept in the catalog, walked by
`headwater lineage` and `headwater impact`."""

from __future__ import annotations

import json
import subprocess

from headwater import Project
from headwater.catalog.lineage import stored_lineage
from headwater.lineage.graph import ColumnRef
from tests.conftest import HEADWATER, ProjectFactory

FILES = {
    "headwater.yml": """
        name: shop
        threads: 2
        jobs:
          nightly:
            select: ["marts.*"]
            cron: "0 2 * * *"
    """,
    "seeds/orders.csv": "order_id,customer_id,amount,status\n1,10,5.0,paid\n2,11,7.5,void\n",
    "seeds/customers.csv": "customer_id,name\n10,ann\n11,bob\n",
    "models/staging/stg_orders.sql": "select * from raw.orders",
    "models/staging/stg_orders.yml": "materialized: view",
    "models/staging/paid.sql": "select order_id, customer_id, amount from staging.stg_orders "
    "where status = 'paid'",
    "models/staging/paid.yml": "materialized: ephemeral",
    "models/marts/revenue.sql": """
        select c.name as customer, sum(p.amount) as revenue, count(*) as orders
        from staging.paid p join raw.customers c on c.customer_id = p.customer_id
        group by c.name
    """,
    "models/marts/revenue.yml": """
        columns:
          - name: revenue
            description: Paid amount.
            checks: [not_null]
        checks:
          - expression: {sql: "orders > 0"}
    """,
}


def test_a_run_records_each_models_column_lineage(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    assert project.run().status == "success"
    stored = stored_lineage(project.catalog)
    assert set(stored) == {"staging.stg_orders", "marts.revenue"}
    revenue = stored["marts.revenue"].document
    assert revenue["columns"] == ["customer", "revenue", "orders"]
    sources = revenue["lineage"]["columns"]["revenue"]
    assert {(s["asset"], s["column"], s["subtype"]) for s in sources} == {
        ("staging.paid", "amount", "AGGREGATION")
    }
    assert stored["marts.revenue"].run_id == project.runs(1)[0]["run_id"]


def test_lineage_flows_through_views_ephemerals_and_select_star(
    make_project: ProjectFactory,
) -> None:
    project = make_project(FILES)
    project.run()
    graph = project.column_graph()
    assert graph.columns("staging.stg_orders") == ("order_id", "customer_id", "amount", "status")
    upstream = graph.reachable(ColumnRef("marts.revenue", "revenue"), "upstream")
    assert {
        (ref.asset, ref.column, edge.type, edge.subtype) for ref, (_, edge) in upstream.items()
    } >= {
        # along the whole path: a sum two models down is an aggregation of the raw amount
        ("staging.paid", "amount", "DIRECT", "AGGREGATION"),
        ("staging.stg_orders", "amount", "DIRECT", "AGGREGATION"),
        ("raw.orders", "amount", "DIRECT", "AGGREGATION"),
        ("staging.paid", "customer_id", "INDIRECT", "JOIN"),
        ("raw.customers", "customer_id", "INDIRECT", "JOIN"),
        ("raw.orders", "customer_id", "INDIRECT", "JOIN"),
        ("raw.customers", "name", "INDIRECT", "GROUP_BY"),
        # the filter of the ephemeral model influences every column of it, and so revenue
        ("raw.orders", "status", "INDIRECT", "FILTER"),
    }


def test_a_path_is_described_by_how_the_upstream_column_comes_in(
    make_project: ProjectFactory,
) -> None:
    """`status` filters staging.paid; downstream, through the join on customer_id and the sum,
    it is still a FILTER of every column, and a copied column stays IDENTITY."""
    project = make_project(FILES)
    project.run()
    graph = project.column_graph()
    down = graph.reachable(ColumnRef("raw.orders", "status"), "downstream")
    how = {(r.asset, r.column): (e.type, e.subtype) for r, (_, e) in down.items()}
    assert how[("staging.stg_orders", "status")] == ("DIRECT", "IDENTITY")
    for column in ("customer", "revenue", "orders"):
        assert how[("marts.revenue", column)] == ("INDIRECT", "FILTER")
    impact = project.impact("raw.orders.status")
    revenue = next(c for c in impact.columns if c.ref == ColumnRef("marts.revenue", "revenue"))
    assert (revenue.type, revenue.subtype) == ("INDIRECT", "FILTER")


def test_lineage_trees_respect_direction_and_depth(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    project.run()
    found = project.lineage("raw.orders.amount", "downstream", depth=1)
    tree = found["columns"]["amount"]["downstream"]
    assert [(c["asset"], c["column"]) for c in tree["children"]] == [
        ("staging.stg_orders", "amount")
    ]
    assert tree["children"][0]["truncated"] is True
    assert list(found["columns"]["amount"]) == ["downstream"]
    deep = project.lineage("raw.orders.amount", "downstream")["columns"]["amount"]["downstream"]
    path = deep["children"][0]["children"][0]["children"][0]
    assert (path["asset"], path["column"], path["subtype"]) == (
        "marts.revenue",
        "revenue",
        "AGGREGATION",
    )
    whole = project.lineage("marts.revenue")
    assert set(whole["columns"]) == {"customer", "revenue", "orders"}
    assert whole["upstream_assets"] == ["raw.customers", "staging.paid"]


def test_impact_lists_columns_checks_assets_and_jobs(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    project.run()
    impact = project.impact("raw.orders.amount")
    columns = {(c.ref.asset, c.ref.column, c.distance) for c in impact.columns}
    assert ("staging.stg_orders", "amount", 1) in columns
    assert ("staging.paid", "amount", 2) in columns
    assert ("marts.revenue", "revenue", 3) in columns
    assert ("marts.revenue", "customer", 3) not in columns
    assert {(c.asset, c.check) for c in impact.checks} == {("marts.revenue", "not_null_revenue")}
    assert impact.assets == ["staging.stg_orders", "staging.paid", "marts.revenue"]
    assert impact.consumers == [{"kind": "job", "name": "nightly", "assets": "marts.revenue"}]
    # a join key reaches every column of the join, and the expression check reading `orders`
    key = project.impact("raw.customers.customer_id")
    assert {c.ref.column for c in key.columns if c.ref.asset == "marts.revenue"} == {
        "customer",
        "revenue",
        "orders",
    }
    assert ("marts.revenue", "expression") in {(c.asset, c.check) for c in key.checks}


def test_stored_lineage_is_reused_until_the_sql_changes(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    project.run()
    before = project.column_graph().assets["marts.revenue"]
    assert not before.computed
    (project.root / "models/marts/revenue.sql").write_text(
        "select c.name as customer, sum(p.amount) as revenue, count(*) as orders, "
        "max(p.amount) as top_order from staging.paid p "
        "join raw.customers c on c.customer_id = p.customer_id group by c.name"
    )
    project.reload()
    after = project.column_graph().assets["marts.revenue"]
    assert after.computed
    assert after.columns == ("customer", "revenue", "orders", "top_order")
    assert project.run().status == "success"
    assert stored_lineage(project.catalog)["marts.revenue"].document["columns"] == [
        "customer",
        "revenue",
        "orders",
        "top_order",
    ]


def test_sql_lineage_cannot_follow_is_reported_not_fatal(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            **FILES,
            # DuckDB's COLUMNS() picks columns by pattern; lineage cannot name its outputs
            "models/marts/odd.sql": "select columns('amo.*') from raw.orders",
        }
    )
    assert project.run().status == "success"
    info = project.column_graph().assets["marts.odd"]
    assert info.error is not None and "COLUMNS" in info.error
    assert info.columns == ("amount",)  # from the stored table
    assert stored_lineage(project.catalog)["marts.odd"].document["error"] == info.error
    found = project.lineage("marts.odd")
    assert found["upstream_assets"] == ["raw.orders"]
    assert found["error"] == info.error


def test_lineage_and_impact_commands(make_project: ProjectFactory) -> None:
    project = make_project(FILES)
    project.run()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*HEADWATER, "--project", str(project.root), *args],
            check=False,
            capture_output=True,
            text=True,
        )

    tree = cli("lineage", "marts.revenue.revenue", "--upstream")
    assert tree.returncode == 0, tree.stderr
    assert "<- staging.paid.amount  [AGGREGATION]" in tree.stdout
    assert "<- raw.orders.amount  [IDENTITY]" in tree.stdout
    assert "downstream:" not in tree.stdout
    as_json = json.loads(cli("lineage", "raw.orders.amount", "--json").stdout)
    assert as_json["columns"]["amount"]["downstream"]["children"][0]["asset"] == (
        "staging.stg_orders"
    )
    impact = cli("impact", "raw.orders.amount")
    assert impact.returncode == 0, impact.stderr
    assert "marts.revenue.revenue" in impact.stdout
    assert "not_null_revenue" in impact.stdout
    assert "job nightly runs marts.revenue" in impact.stdout
    wrong = cli("impact", "raw.orders.amout")
    assert wrong.returncode == 2
    assert "raw.orders has no column 'amout'" in wrong.stderr
    assert "amount" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    asset_only = cli("impact", "raw.orders")
    assert asset_only.returncode == 2
    assert "names an asset" in asset_only.stderr


def test_projects_without_runs_still_have_lineage(make_project: ProjectFactory) -> None:
    project: Project = make_project(FILES)
    graph = project.column_graph()
    # nothing is built: seeds have no known columns, so models reading them have none either
    assert graph.columns("raw.orders") == ()
    assert project.lineage("marts.revenue")["upstream_assets"] == [
        "raw.customers",
        "staging.paid",
    ]
