"""dbt's selector grammar over a small real project graph.

raw.customers -> staging.stg_customers -> intermediate.int_orders (ephemeral)
                                       -> marts.dim_customers ----------------> reports.summary
raw.orders    -> staging.stg_orders    -> intermediate.int_orders
                 intermediate.int_orders -> marts.fact_orders -> marts.revenue -> reports.summary
raw.products  -> marts.products -> reports.catalog
"""

from __future__ import annotations

import pytest

from headwater import Project
from headwater.errors import UsageError
from headwater.orchestrate.selectors import Atom, Selector, parse_atom, topological
from tests.conftest import ProjectFactory

GRAPH = {
    "seeds/customers.csv": "customer_id,name\n1,Ann\n",
    "seeds/customers.yml": "tags: [pii]\n",
    "seeds/orders.csv": "order_id,customer_id,amount\n1,1,10\n",
    "seeds/products.csv": "sku,price\na,1\n",
    "models/staging/stg_customers.sql": "select * from raw.customers",
    "models/staging/stg_customers.yml": "materialized: view\ntags: [staging]\n",
    "models/staging/stg_orders.sql": "select * from raw.orders",
    "models/staging/stg_orders.yml": "materialized: view\ntags: [staging]\n",
    "models/intermediate/int_orders.sql": (
        "select o.*, c.name from stg_orders o join stg_customers c using (customer_id)"
    ),
    "models/intermediate/int_orders.yml": "materialized: ephemeral\n",
    "models/marts/fact_orders.sql": "select * from int_orders",
    "models/marts/fact_orders.yml": (
        "materialized: incremental\nunique_key: order_id\ntags: [finance, daily]\n"
    ),
    "models/marts/dim_customers.sql": "select * from stg_customers",
    "models/marts/dim_customers.yml": "tags: finance\n",
    "models/marts/revenue.sql": "select sum(amount) as revenue from marts.fact_orders",
    "models/marts/revenue.yml": "tags: [daily]\n",
    "models/marts/products.sql": "select * from raw.products",
    "models/reports/summary.sql": (
        "select * from marts.revenue, (select count(*) as customers from marts.dim_customers)"
    ),
    "models/reports/catalog.sql": "select * from marts.products",
}

SEEDS = {"raw.customers", "raw.orders", "raw.products"}
STAGING = {"staging.stg_customers", "staging.stg_orders"}
ALL = (
    SEEDS
    | STAGING
    | {
        "intermediate.int_orders",
        "marts.fact_orders",
        "marts.dim_customers",
        "marts.revenue",
        "marts.products",
        "reports.summary",
        "reports.catalog",
    }
)
ANCESTORS_OF_FACT = {"intermediate.int_orders", *STAGING, "raw.orders", "raw.customers"}


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    return make_project(GRAPH)


CASES: list[tuple[str, list[str], list[str], set[str]]] = [
    # (id, select, exclude, expected)
    ("everything", [], [], ALL),
    ("bare-name", ["fact_orders"], [], {"marts.fact_orders"}),
    ("qualified-name", ["marts.fact_orders"], [], {"marts.fact_orders"}),
    ("seed-by-name", ["raw.orders"], [], {"raw.orders"}),
    ("wildcard-name", ["stg_*"], [], STAGING),
    ("wildcard-namespace", ["staging.*"], [], STAGING),
    (
        "wildcard-inside",
        ["*orders*"],
        [],
        {"raw.orders", "staging.stg_orders", "intermediate.int_orders", "marts.fact_orders"},
    ),
    ("wildcard-char-class", ["stg_[o]*"], [], {"staging.stg_orders"}),
    ("ancestors", ["+fact_orders"], [], {"marts.fact_orders", *ANCESTORS_OF_FACT}),
    (
        "descendants",
        ["fact_orders+"],
        [],
        {"marts.fact_orders", "marts.revenue", "reports.summary"},
    ),
    (
        "both-ways",
        ["+revenue+"],
        [],
        {"marts.revenue", "marts.fact_orders", *ANCESTORS_OF_FACT, "reports.summary"},
    ),
    ("ancestors-depth-1", ["1+fact_orders"], [], {"marts.fact_orders", "intermediate.int_orders"}),
    (
        "ancestors-depth-2",
        ["2+fact_orders"],
        [],
        {"marts.fact_orders", "intermediate.int_orders", *STAGING},
    ),
    ("descendants-depth-1", ["fact_orders+1"], [], {"marts.fact_orders", "marts.revenue"}),
    (
        "descendants-depth-1-fan-out",
        ["stg_customers+1"],
        [],
        {"staging.stg_customers", "intermediate.int_orders", "marts.dim_customers"},
    ),
    (
        "depth-both-ways",
        ["1+revenue+1"],
        [],
        {"marts.fact_orders", "marts.revenue", "reports.summary"},
    ),
    (
        "descendants-unbounded",
        ["stg_customers+"],
        [],
        {
            "staging.stg_customers",
            "intermediate.int_orders",
            "marts.dim_customers",
            "marts.fact_orders",
            "marts.revenue",
            "reports.summary",
        },
    ),
    (
        # @: the descendants, plus every ancestor they need (here stg_orders and raw.orders)
        "at",
        ["@stg_customers"],
        [],
        ALL - {"raw.products", "marts.products", "reports.catalog"},
    ),
    ("at-leaf", ["@catalog"], [], {"reports.catalog", "marts.products", "raw.products"}),
    ("tag", ["tag:finance"], [], {"marts.fact_orders", "marts.dim_customers"}),
    ("tag-wildcard", ["tag:fin*"], [], {"marts.fact_orders", "marts.dim_customers"}),
    ("tag-on-seed", ["tag:pii"], [], {"raw.customers"}),
    ("tag-with-descendants", ["tag:pii+1"], [], {"raw.customers", "staging.stg_customers"}),
    (
        "path-folder",
        ["path:models/marts"],
        [],
        {"marts.fact_orders", "marts.dim_customers", "marts.revenue", "marts.products"},
    ),
    (
        "path-folder-slash",
        ["path:models/marts/"],
        [],
        {"marts.fact_orders", "marts.dim_customers", "marts.revenue", "marts.products"},
    ),
    ("path-file", ["path:models/marts/revenue.sql"], [], {"marts.revenue"}),
    ("path-seeds", ["path:seeds"], [], SEEDS),
    ("path-wildcard", ["path:models/*/stg_*.sql"], [], STAGING),
    (
        "path-glob",
        ["path:models/mart*"],
        [],
        {"marts.fact_orders", "marts.dim_customers", "marts.revenue", "marts.products"},
    ),
    ("config-materialized", ["config.materialized:incremental"], [], {"marts.fact_orders"}),
    ("config-view", ["config.materialized:view"], [], STAGING),
    ("config-ephemeral", ["config.materialized:ephemeral"], [], {"intermediate.int_orders"}),
    ("config-list-key", ["config.unique_key:order_id"], [], {"marts.fact_orders"}),
    ("config-tags", ["config.tags:daily"], [], {"marts.fact_orders", "marts.revenue"}),
    ("namespace", ["namespace:staging"], [], STAGING),
    ("namespace-wildcard", ["namespace:rep*"], [], {"reports.summary", "reports.catalog"}),
    ("kind-seed", ["kind:seed"], [], SEEDS),
    ("kind-model", ["kind:model"], [], ALL - SEEDS),
    (
        "union-space",
        ["tag:finance revenue"],
        [],
        {"marts.fact_orders", "marts.dim_customers", "marts.revenue"},
    ),
    (
        "union-repeated-option",
        ["tag:finance", "revenue"],
        [],
        {"marts.fact_orders", "marts.dim_customers", "marts.revenue"},
    ),
    ("intersection", ["tag:daily,config.materialized:table"], [], {"marts.revenue"}),
    (
        "intersection-path-tag",
        ["path:models/marts,tag:finance"],
        [],
        {"marts.fact_orders", "marts.dim_customers"},
    ),
    ("intersection-graph", ["+summary,kind:seed"], [], {"raw.customers", "raw.orders"}),
    ("intersection-empty", ["+summary,+catalog"], [], set()),
    (
        "union-of-intersections",
        ["tag:daily,kind:model namespace:reports"],
        [],
        {"marts.fact_orders", "marts.revenue", "reports.summary", "reports.catalog"},
    ),
    (
        "exclude-all-by-default",
        [],
        ["path:models/reports"],
        ALL - {"reports.summary", "reports.catalog"},
    ),
    (
        "exclude-from-selection",
        ["+summary"],
        ["kind:seed"],
        {
            "reports.summary",
            "marts.revenue",
            "marts.dim_customers",
            "marts.fact_orders",
            "intermediate.int_orders",
            *STAGING,
        },
    ),
    ("exclude-union", ["path:models/staging"], ["stg_customers stg_orders"], set()),
    (
        "exclude-intersection",
        ["path:models/marts"],
        ["tag:daily,config.materialized:incremental"],
        {"marts.dim_customers", "marts.revenue", "marts.products"},
    ),
    ("exclude-graph", ["revenue+"], ["summary+"], {"marts.revenue"}),
]


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_selection(
    project: Project, select: list[str], exclude: list[str], expected: set[str]
) -> None:
    assert set(project.select(select, exclude)) == expected


@pytest.mark.parametrize(
    ("select", "exclude", "message", "hint"),
    [
        (["fact_ordrs"], [], "selector 'fact_ordrs' matches no asset", "did you mean fact_orders?"),
        (
            ["marts.fact_ordrs"],
            [],
            "selector 'marts.fact_ordrs' matches no asset",
            "did you mean marts.fact_orders?",
        ),
        (["+revnue"], [], "selector '+revnue' matches no asset", "did you mean revenue?"),
        (["tag:financ"], [], "selector 'tag:financ' matches no asset", "did you mean tag:finance?"),
        (
            ["path:models/mart"],
            [],
            "selector 'path:models/mart' matches no asset",
            "did you mean path:models/marts?",
        ),
        (
            ["namespace:stagin"],
            [],
            "selector 'namespace:stagin' matches no asset",
            "did you mean namespace:staging?",
        ),
        (["kind:seeds"], [], "selector 'kind:seeds' matches no asset", "did you mean kind:seed?"),
        (
            ["config.materialized:tabel"],
            [],
            "selector 'config.materialized:tabel' matches no asset",
            "did you mean config.materialized:table?",
        ),
        (
            ["zzzzqqq"],
            [],
            "selector 'zzzzqqq' matches no asset",
            "list assets with 'headwater dag'",
        ),
        (["revenue,tag:nope"], [], "selector 'tag:nope' matches no asset", None),
        ([], ["fact_ordrs"], "selector 'fact_ordrs' matches no asset", "did you mean fact_orders?"),
        (["colour:red"], [], "unknown selector method 'colour'", "tag:, path:, namespace:"),
        (["++orders"], [], "cannot parse selector '++orders'", "examples: orders, +orders"),
    ],
)
def test_bad_selector_is_a_usage_error(
    project: Project, select: list[str], exclude: list[str], message: str, hint: str | None
) -> None:
    with pytest.raises(UsageError) as info:
        project.select(select, exclude)

    assert info.value.message == message
    if hint is not None:
        assert info.value.hint is not None
        assert hint in info.value.hint
    assert info.value.exit_code == 2


def test_selection_comes_in_dependency_order(project: Project) -> None:
    order = project.select(["+summary"])

    for key in order:
        for parent in project.definition.assets[key].depends_on:
            if parent in order:
                assert order.index(parent) < order.index(key), (parent, key)
    assert order == project.select(["+summary"])  # stable


def test_topological_ignores_parents_outside_the_selection(project: Project) -> None:
    assets = project.definition.assets

    assert topological(assets, {"reports.summary", "marts.revenue", "raw.products"}) == [
        "marts.revenue",
        "raw.products",
        "reports.summary",
    ]


@pytest.mark.parametrize(
    ("text", "atom"),
    [
        ("orders", Atom("name", "orders", None, None, False)),
        ("+orders", Atom("name", "orders", -1, None, False)),
        ("orders+", Atom("name", "orders", None, -1, False)),
        ("2+orders+3", Atom("name", "orders", 2, 3, False)),
        ("@orders", Atom("name", "orders", None, None, True)),
        ("tag:daily+", Atom("tag", "daily", None, -1, False)),
        (
            "1+config.materialized:incremental",
            Atom("config.materialized", "incremental", 1, None, False),
        ),
        ("path:models/marts", Atom("path", "models/marts", None, None, False)),
    ],
)
def test_parse_atom(text: str, atom: Atom) -> None:
    assert parse_atom(text) == atom


def test_selector_walks_to_a_depth(project: Project) -> None:
    selector = Selector(project.definition)

    assert selector.ancestors({"reports.summary"}, 1) == {"marts.revenue", "marts.dim_customers"}
    assert selector.descendants({"raw.orders"}, 2) == {
        "staging.stg_orders",
        "intermediate.int_orders",
    }
    assert selector.descendants({"reports.summary"}) == set()


def test_run_builds_only_the_selection(project: Project) -> None:
    first = project.run(select=["+fact_orders"], exclude=["fact_orders"])

    assert first.status == "success", [(o.key, o.message) for o in first.outcomes]
    # the ephemeral is inlined, never built on its own
    assert {o.key for o in first.outcomes} == {"raw.orders", "raw.customers", *STAGING}

    second = project.run(select=["fact_orders revenue"])

    assert second.status == "success", [(o.key, o.message) for o in second.outcomes]
    assert [o.key for o in second.outcomes] == ["marts.fact_orders", "marts.revenue"]
