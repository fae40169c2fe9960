"""The query routes and the description of the HTTP API of a real `headwater serve`:
`POST /api/query` (the SQL box's shape, with `params`, `as_of`, `max_rows`), `GET /api/query`,
the OpenAPI description and its Swagger UI page served from bundled files, and signing in:
a revoked token or user, or a changed password, stops working within
`CREDENTIALS_CACHE_S` although credentials are remembered that long.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from headwater.serve.service import CREDENTIALS_CACHE_S
from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

GUARD_S = 120.0
"""Only a guard against waiting forever, never a measurement."""
PASSWORD = "api-password-1"
BREAKOUT = "x'); drop table core.items; --"
FILES = {
    "headwater.yml": """
        name: api
        threads: 2
        serve:
          roles:
            reader:
              read: ["core.*"]
          limits:
            max_rows: 100
    """,
    "models/core/items.sql": "select i::bigint as id, 'item ' || i as label, "
    "(i * 0.5)::decimal(10,1) as price from range(1, 31) t(i)",
    "models/core/versions.sql": "select 'first' as v",
}


@dataclass
class Served:
    server: RunningServer
    root: Path
    token: str

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.token}", **headers},
            timeout=60,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("api")
    write_files(root, FILES)
    headwater(root, "run")
    write_files(root, {"models/core/versions.sql": "select 'second' as v"})
    headwater(root, "run", "--select", "core.versions")
    token = add_user(root, "rita", "reader")
    with running_server(root, pg=False) as server:
        yield Served(server, root, token)


# -- queries -------------------------------------------------------------------------------------


def test_post_query_keeps_the_sql_box_shape(served: Served) -> None:
    with served.client() as client:
        response = client.post(
            "/api/query", json={"sql": "select id, label, price from core.items where id <= 2"}
        )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"columns", "rows", "truncated", "elapsed_ms"}
    assert body["columns"] == ["id", "label", "price"]
    assert body["rows"] == [[1, "item 1", "0.5"], [2, "item 2", "1.0"]]
    assert body["truncated"] is False and isinstance(body["elapsed_ms"], float)


@pytest.mark.parametrize(
    ("sql", "params", "rows"),
    [
        ("select id from core.items where id = $1", [3], [[3]]),
        ("select id from core.items where id between ? and ? order by id", [4, 6], [[4], [5], [6]]),
        ("select label from core.items where label = $1", ["item 9"], [["item 9"]]),
        ("select count(*) from core.items where price > $1", [14.5], [[1]]),
        (
            "select $1::varchar as v",
            ["x'); drop table core.items; --"],
            [["x'); drop table core.items; --"]],
        ),
        ("select $1 is null as n", [None], [[True]]),
        ("select $2 || $1 as v", ["b", "a"], [["ab"]]),
    ],
)
def test_params_are_bound_to_placeholders(
    served: Served, sql: str, params: list[Any], rows: list[list[Any]]
) -> None:
    with served.client() as client:
        post = client.post("/api/query", json={"sql": sql, "params": params})
        get = client.get("/api/query", params={"sql": sql, "params": httpx_json(params)})
    assert post.status_code == 200, post.text
    assert post.json()["rows"] == rows
    assert get.json()["rows"] == rows


def httpx_json(value: Any) -> str:
    import json

    return json.dumps(value)


def test_as_of_and_max_rows(served: Served) -> None:
    with served.client() as client:
        now = client.post("/api/query", json={"sql": "select v from core.versions"})
        then = client.post("/api/query", json={"sql": "select v from core.versions", "as_of": 0})
        then_get = client.get("/api/query", params={"sql": "select v from versions", "as_of": "0"})
        few = client.post("/api/query", json={"sql": "select id from core.items", "max_rows": 4})
        capped = client.post("/api/query", json={"sql": "select * from range(1000)"})
        asked_more = client.post(
            "/api/query", json={"sql": "select * from range(1000)", "max_rows": 5000}
        )
    assert now.json()["rows"] == [["second"]]
    assert then.json()["rows"] == [["first"]] and then_get.json()["rows"] == [["first"]]
    assert len(few.json()["rows"]) == 4 and few.json()["truncated"] is True
    assert len(capped.json()["rows"]) == 100 and capped.json()["truncated"] is True
    assert len(asked_more.json()["rows"]) == 100 and asked_more.json()["truncated"] is True


def test_get_query_answers_in_every_format(served: Served) -> None:
    with served.client() as client:
        csv = client.get(
            "/api/query",
            params={"sql": "select id, label from core.items where id < 3", "format": "csv"},
        )
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == ['"id","label"', '1,"item 1"', '2,"item 2"']
    assert csv.headers["X-Headwater-Truncated"] == "false"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"sql": "select 1", "params": "5"}, "params"),
        ({"sql": "select $1", "params": [[1, 2]]}, "params"),
        ({"sql": "select 1", "max_rows": -1}, "max_rows"),
        ({"sql": "select 1", "max_rows": "ten"}, "max_rows"),
        ({"sql": "select 1", "as_of": ""}, "as_of"),
        ({"sql": "select 1", "as_of": [1]}, "as_of"),
    ],
)
def test_bad_query_options_are_a_400_naming_them(
    served: Served, body: dict[str, Any], parameter: str
) -> None:
    with served.client() as client:
        response = client.post("/api/query", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == parameter


def test_bad_queries_are_answered_with_a_reason(served: Served) -> None:
    with served.client() as client:
        no_sql = client.post("/api/query", json={"nope": 1})
        not_json = client.post(
            "/api/query", content=b"select 1", headers={"Content-Type": "text/plain"}
        )
        wrong_count = client.post("/api/query", json={"sql": "select $1, $2", "params": [1]})
        refused = client.post("/api/query", json={"sql": "delete from core.items"})
        get_bad = client.get("/api/query", params={"sql": "select 1", "params": "[1"})
        get_max = client.get("/api/query", params={"sql": "select 1", "max_rows": "x"})
    assert no_sql.status_code == 400 and no_sql.json()["error"] == "no query"
    assert not_json.status_code == 415
    assert wrong_count.status_code == 400 and "parameter" in wrong_count.json()["error"]
    assert refused.status_code == 400 and refused.json()["kind"] == "refused"
    assert get_bad.status_code == 400 and get_bad.json()["parameter"] == "params"
    assert get_max.status_code == 400 and get_max.json()["parameter"] == "max_rows"


def test_query_routes_need_signing_in(served: Served) -> None:
    with httpx.Client(base_url=served.server.url, timeout=30) as client:
        assert client.post("/api/query", json={"sql": "select 1"}).status_code == 401
        assert client.get("/api/query", params={"sql": "select 1"}).status_code == 401
        assert client.get("/api/openapi.json").status_code == 401
        assert client.get("/api/docs").status_code == 401


# -- the description of the API ------------------------------------------------------------------


def test_openapi_describes_the_routes_their_parameters_and_answers(served: Served) -> None:
    with served.client() as client:
        spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/query"])
    rows = paths["/api/tables/{table}/rows"]["get"]
    names = {p["name"] for p in rows["parameters"]}
    assert {"table", "columns", "order", "limit", "after", "as_of", "format", "filters"} <= names
    filters = next(p for p in rows["parameters"] if p["name"] == "filters")
    assert filters["style"] == "form" and "eq" in filters["description"]
    assert rows["tags"] == ["tables"] and rows["summary"]
    content = rows["responses"]["200"]["content"]
    assert {
        "application/json",
        "text/csv",
        "application/vnd.apache.arrow.stream",
        "application/vnd.apache.parquet",
    } <= set(content)
    assert {"400", "404"} <= set(rows["responses"])
    post = paths["/api/query"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["sql"] and {"params", "as_of", "max_rows"} <= set(
        schema["properties"]
    )
    assert post["tags"] == ["query"] and "X-Headwater-Truncated" in str(post["responses"])
    for path in ("/api/tables", "/api/tables/{table}"):
        assert paths[path]["get"]["summary"] and paths[path]["get"]["tags"] == ["tables"]


def test_the_docs_page_loads_nothing_from_elsewhere(served: Served) -> None:
    with served.client() as client:
        page = client.get("/api/docs")
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        loaded = {url: client.get(url) for url in assets}
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert assets and all(url.startswith("/api/docs/assets/") for url in assets)
    assert all(r.status_code == 200 and len(r.content) > 0 for r in loaded.values())
    assert "validatorUrl" in page.text and "/api/openapi.json" in page.text
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://swagger.io", "")


# -- signing in: what is remembered, and for how long ----------------------------------------------


def status_once_settled(client: httpx.Client, since: float) -> int:
    """The status of `GET /api/me` sent at least `CREDENTIALS_CACHE_S` after `since`."""
    wait = since + CREDENTIALS_CACHE_S + 0.05 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    return client.get("/api/me").status_code


def test_a_revoked_token_stops_working_within_the_cache_time(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("revoke")
    write_files(root, FILES)
    headwater(root, "run", "--select", "core.items")
    token = add_user(root, "tess", "reader")
    basic = add_user(root, "bill", "reader", password=PASSWORD)
    with (
        running_server(root, pg=False) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as by_token,
        httpx.Client(base_url=server.url, auth=("bill", PASSWORD), timeout=30) as by_password,
        httpx.Client(base_url=server.url, auth=("bill", basic), timeout=30) as by_basic_token,
    ):
        for client in (by_token, by_password, by_basic_token):
            assert client.get("/api/me").status_code == 200
            assert client.get("/api/me").status_code == 200  # remembered now
        headwater(root, "users", "revoke", "tess")
        headwater(root, "users", "revoke", "bill")
        revoked = time.monotonic()
        for client in (by_token, by_password, by_basic_token):
            assert status_once_settled(client, revoked) == 401


def test_a_new_password_replaces_the_old_one_within_the_cache_time(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("password")
    write_files(root, FILES)
    headwater(root, "run", "--select", "core.items")
    add_user(root, "pia", "reader", password=PASSWORD)
    with (
        running_server(root, pg=False) as server,
        httpx.Client(base_url=server.url, auth=("pia", PASSWORD), timeout=30) as old,
        httpx.Client(base_url=server.url, auth=("pia", "a-new-password"), timeout=30) as new,
    ):
        assert old.get("/api/me").json() == {"user": "pia", "roles": ["reader"]}
        assert new.get("/api/me").status_code == 401
        headwater(root, "users", "password", "pia", env={"HEADWATER_PASSWORD": "a-new-password"})
        changed = time.monotonic()
        assert status_once_settled(old, changed) == 401
        assert new.get("/api/me").status_code == 200
