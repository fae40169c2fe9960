"""Metrics through a real `headwater serve`: `GET /api/metrics` lists what the user may ask
for, `POST`/`GET /api/metrics/query` answer as the user reads the tables (row filters apply),
equal to the same SQL written by hand; answers are cached under the versions of the tables
they read (a new version of one is a miss, and new numbers), and every answer, cached or not,
is in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater import Project
from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

CONFIG = """
name: shop
threads: 2
serve:
  roles:
    analyst: {read: ["raw.*"]}
    orders_only: {read: [raw.orders]}
    eu: {read: ["raw.*"], rows: {raw.orders: "region = 'EU'"}}
"""
FILES = {
    "headwater.yml": CONFIG,
    "seeds/customers.csv": "customer_id,segment\n1,retail\n2,business\n3,retail\n",
    "seeds/orders.csv": (
        "order_id,customer_id,ordered_at,amount,region\n"
        "10,1,2024-01-03,20,EU\n11,2,2024-01-20,35,US\n12,3,2024-02-02,80,EU\n"
        "13,1,2024-02-10,5,US\n14,2,2024-03-05,60,EU\n"
    ),
    "metrics/shop.yml": """
semantic_models:
  - name: orders
    model: raw.orders
    defaults: {agg_time_dimension: ordered_at}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: ordered_at, type: time}
      - {name: region, type: categorical}
    measures:
      - {name: revenue, agg: sum, expr: amount}
      - {name: orders, agg: count, expr: order_id}
  - name: customers
    model: raw.customers
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: segment, type: categorical}
    measures:
      - {name: customers, agg: count, expr: customer_id}
metrics:
  - {name: revenue, type: simple, type_params: {measure: revenue}}
  - {name: order_count, type: simple, type_params: {measure: orders}}
  - {name: customer_count, type: simple, type_params: {measure: customers}}
  - name: average_order_value
    type: ratio
    type_params: {numerator: revenue, denominator: order_count}
""",
}
BY_SEGMENT = (
    "select c.segment as customer__segment, sum(o.amount) as revenue, "
    "cast(sum(o.amount) as double) / count(o.order_id) as average_order_value "
    "from raw.orders o left join raw.customers c on o.customer_id = c.customer_id "
    "{where} group by 1 order by 1"
)


@dataclass
class Served:
    server: RunningServer
    root: Path
    tokens: dict[str, str]

    def post(self, user: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            self.server.url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=120,
        )

    def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return httpx.get(
            self.server.url + path,
            params=params,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=120,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("metrics-api")
    write_files(root, FILES)
    headwater(root, "run")
    tokens = {
        user: add_user(root, user, role)
        for user, role in (
            ("ada", "admin"),
            ("ann", "analyst"),
            ("ollie", "orders_only"),
            ("eve", "eu"),
        )
    }
    with running_server(root, pg=False) as server:
        yield Served(server, root, tokens)


def rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def by_hand(served: Served, sql: str) -> list[dict[str, Any]]:
    return rows(served.post("ada", "/api/query", {"sql": sql}))


def test_the_list_holds_what_the_user_may_ask_for(served: Served) -> None:
    listed = served.get("ann", "/api/metrics")
    assert listed.status_code == 200, listed.text
    assert [m["name"] for m in listed.json()] == [
        "average_order_value",
        "customer_count",
        "order_count",
        "revenue",
    ]
    revenue = next(m for m in listed.json() if m["name"] == "revenue")
    assert "customer__segment" in revenue["dimensions"]
    # a role that reads only the orders does not see the metric over the customers
    assert "customer_count" not in [m["name"] for m in served.get("ollie", "/api/metrics").json()]


def test_answers_equal_the_sql_by_hand_and_are_cached_by_version(served: Served) -> None:
    body = {"metrics": ["revenue", "average_order_value"], "group_by": ["customer__segment"]}
    first = served.post("ann", "/api/metrics/query", body)
    assert rows(first) == by_hand(served, BY_SEGMENT.format(where=""))
    assert first.headers["X-Headwater-Cache"] == "miss"
    again = served.post("ann", "/api/metrics/query", body)
    assert again.headers["X-Headwater-Cache"] == "hit" and rows(again) == rows(first)
    # the same through GET, in CSV
    as_csv = served.get(
        "ann",
        "/api/metrics/query",
        metrics="revenue,average_order_value",
        group_by="customer__segment",
        format="csv",
    )
    assert as_csv.status_code == 200
    assert as_csv.text.splitlines()[0].replace('"', "") == (
        "customer__segment,revenue,average_order_value"
    )

    # a new version of the orders: the cached answer is not used, the numbers are new
    with (served.root / "seeds" / "orders.csv").open("a") as seed:
        seed.write("15,3,2024-03-09,100,US\n")
    headwater(served.root, "run")
    after = served.post("ann", "/api/metrics/query", body)
    assert after.headers["X-Headwater-Cache"] == "miss"
    assert rows(after) == by_hand(served, BY_SEGMENT.format(where=""))
    assert rows(after) != rows(first)

    # every answer is a read in the audit trail, the cached one too
    project = Project(served.root)
    try:
        reads = [
            r
            for r in project.audit(action="query", actor="ann")
            if r.detail["tables"] == ["raw.customers", "raw.orders"]
        ]
    finally:
        project.close()
    assert len(reads) >= 4


def test_row_filters_apply_to_metrics(served: Served) -> None:
    body = {"metrics": ["revenue", "average_order_value"], "group_by": ["customer__segment"]}
    filtered = served.post("eve", "/api/metrics/query", body)
    assert rows(filtered) == by_hand(served, BY_SEGMENT.format(where="where o.region = 'EU'"))


def test_compile_order_limit_and_where(served: Served) -> None:
    compiled = served.post("ann", "/api/metrics/query", {"metrics": ["revenue"], "compile": True})
    assert compiled.status_code == 200 and compiled.json()["sql"].startswith("WITH")
    top = served.post(
        "ann",
        "/api/metrics/query",
        {
            "metrics": ["revenue"],
            "group_by": ["metric_time__month"],
            "where": "order__region = 'EU'",
            "order_by": ["-revenue"],
            "limit": 1,
        },
    )
    assert rows(top) == by_hand(
        served,
        "select cast(date_trunc('month', ordered_at) as date) as metric_time__month, "
        "sum(amount) as revenue from raw.orders where region = 'EU' group by 1 "
        "order by 2 desc limit 1",
    )


@pytest.mark.parametrize(
    ("user", "body", "status", "message"),
    [
        ("ann", {"metrics": ["revenu"]}, 400, "there is no metric revenu"),
        ("ann", {"metrics": []}, 400, "names no metric"),
        ("ann", {"metrics": ["revenue"], "limit": -1}, 400, "limit"),
        ("ann", {"metrics": ["revenue"], "group_by": ["customer__nope"]}, 400, "no dimension"),
        (
            "ollie",
            {"metrics": ["revenue"], "group_by": ["customer__segment"]},
            400,
            "tables your roles do not grant",
        ),
    ],
)
def test_refusals(
    served: Served, user: str, body: dict[str, Any], status: int, message: str
) -> None:
    response = served.post(user, "/api/metrics/query", body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert "raw.customers" not in response.text  # a table it may not read is never named
