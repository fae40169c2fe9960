"""The serving cache (`serve.tables.<t>: {cache: true, keys, max_staleness}`) of a real
`headwater serve`: it answers table reads and queries whose every table is cached with exactly
what the Delta table answers; it serves a new version after a real commit; it never answers
from a version older than `max_staleness` behind the latest (0 s here: a read sent after the
commit returned sees it, from the cache or from the Delta table); readers never see a table
half loaded while versions are swapped; a principal still reads only its tables; the SQL still
passes the read-only checks; and a runaway query on the cache is interrupted at the time limit.

Which path answered is told by the `X-Headwater-Source` header; the Delta path is forced with
`as_of` (time travel never reads the cache).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

GUARD_S = 300.0
"""Only a guard against waiting forever, never a measurement."""
CONFIG = """
name: cached
threads: 2
serve:
  roles:
    reader:
      read: ["core.*"]
    outsider:
      read: [core.plain]
  limits:
    max_rows: 5000
    timeout: 3s
  tables:
    core.stable: {keys: [id], cache: true, max_staleness: 0s}
    core.cached: {keys: [id], cache: true, max_staleness: 0s}
    core.lazy: {keys: [id], cache: true, max_staleness: 1h}
"""


def model(version: int) -> str:
    """The SQL of a versioned table: version k has 100 + 10k rows tagged `vk`."""
    return (
        "select i::bigint as id, (i % 7)::integer as grp, "
        f"'v{version}' as tag, (i * 1.5)::decimal(10,2) as amount "
        f"from range(0, {100 + 10 * version}) t(i)"
    )


STABLE = """
select i::bigint as id, (i % 5)::integer as grp,
  case when i % 11 = 0 then null else 'w' || (i % 13) end as word,
  (i * 0.25)::decimal(12,2) as amount, date '2024-01-01' + (i % 40)::integer as day
from range(0, 1500) t(i)
"""


@dataclass
class Served:
    server: RunningServer
    root: Path
    tokens: dict[str, str]
    versions: dict[str, int]
    """The model version (`vk`) each changing table was last built with."""

    def client(self, user: str = "reader") -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=120,
        )

    def commit(self, table: str) -> int:
        """Rebuild `core.<table>` with the next model version (a real Delta commit) and return
        that model version once `headwater run` has returned."""
        version = self.versions[table] + 1
        write_files(self.root, {f"models/core/{table}.sql": model(version)})
        headwater(self.root, "run", "--select", f"core.{table}")
        self.versions[table] = version
        return version


def wait_cached(client: httpx.Client, table: str) -> dict[str, Any]:
    """The cache state of `table` once it is loaded and fresh."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        state = client.get(f"/api/tables/{table}").json()["cache"]
        if state["state"] == "ready" and state["fresh"]:
            return dict(state)
        time.sleep(0.05)
    raise AssertionError(f"{table} was never cached: {state}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("cached")
    write_files(
        root,
        {
            "headwater.yml": CONFIG,
            "models/core/stable.sql": STABLE,
            "models/core/plain.sql": "select i::bigint as id, 'p' || i as label "
            "from range(0, 20) t(i)",
            "models/core/cached.sql": model(0),
            "models/core/lazy.sql": model(0),
        },
    )
    headwater(root, "run")
    tokens = {
        "reader": add_user(root, "rita", "reader"),
        "outsider": add_user(root, "otto", "outsider"),
    }
    with running_server(root, pg=False) as server:
        result = Served(server, root, tokens, {"cached": 0, "lazy": 0})
        with result.client() as client:
            for table in ("core.stable", "core.cached", "core.lazy"):
                wait_cached(client, table)
        yield result


def rows_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = dict(response.json())
    body.pop("elapsed_ms")
    return body


# -- the same answers as the Delta table ---------------------------------------------------------

READS: list[dict[str, str]] = [
    {},
    {"id": "eq.42"},
    {"id": "in.(1,5,1499,2000)"},
    {"grp": "eq.3", "order": "-amount", "limit": "50"},
    {"word": "is.null", "columns": "id,word"},
    {"word": "like.w1*", "order": "word,-day", "limit": "100"},
    {"day": "gte.2024-02-01", "amount": "lt.100", "order": "-day"},
    {"order": "grp,word", "limit": "1000"},
    {"amount": "eq.10.25"},
]


@pytest.mark.parametrize("params", READS, ids=[str(p) for p in READS])
def test_a_table_read_from_the_cache_equals_the_delta_table(
    served: Served, params: dict[str, str]
) -> None:
    with served.client() as client:
        version = client.get("/api/tables/core.stable").json()["version"]
        cached = client.get("/api/tables/core.stable/rows", params=params)
        delta = client.get("/api/tables/core.stable/rows", params={**params, "as_of": version})
        assert cached.headers["X-Headwater-Source"] == "cache"
        assert delta.headers["X-Headwater-Source"] == "delta"
        assert rows_of(cached) == rows_of(delta)
        # and its next page too (the cursor works on either path)
        after = rows_of(cached)["next"]
        if after is not None:
            following = client.get(
                "/api/tables/core.stable/rows", params={**params, "after": after}
            )
            assert following.headers["X-Headwater-Source"] == "cache"
            assert rows_of(following) == rows_of(
                client.get(
                    "/api/tables/core.stable/rows",
                    params={**params, "after": after, "as_of": version},
                )
            )


QUERIES: list[tuple[str, list[Any]]] = [
    ("select count(*) as n, sum(amount) as total from core.stable", []),
    (
        "select grp, count(*), sum(amount) from core.stable where day >= $1 group by 1 order by 1",
        ["2024-01-20"],
    ),
    ("select * from core.stable where id = ?", [7]),
    ("select stable.id, stable.word from stable where stable.grp = 2 order by id limit 5", []),
    ("select s.word, count(*) from core.stable s group by 1 order by 2 desc, 1 nulls last", []),
    (
        "with w as (select word, max(amount) m from core.stable group by 1) "
        "select * from w order by m desc limit 3",
        [],
    ),
    (
        "select a.id, b.id from core.stable a join core.stable b on a.id = b.id + 1 "
        "where a.id < 4 order by 1",
        [],
    ),
    (
        "select id, sum(amount) over (partition by grp order by id) from core.stable "
        "order by id limit 20",
        [],
    ),
    ("select core.stable.id from core.stable order by 1 limit 2", []),
    ("select word from core.stable where word like 'w1%' group by 1 order by 1", []),
]


@pytest.mark.parametrize(("sql", "params"), QUERIES, ids=[q for q, _ in QUERIES])
def test_a_query_on_cached_tables_equals_the_delta_table(
    served: Served, sql: str, params: list[Any]
) -> None:
    with served.client() as client:
        version = client.get("/api/tables/core.stable").json()["version"]
        cached = client.post("/api/query", json={"sql": sql, "params": params})
        delta = client.post("/api/query", json={"sql": sql, "params": params, "as_of": version})
    assert cached.status_code == delta.status_code == 200, cached.text + delta.text
    assert delta.headers["X-Headwater-Source"] == "delta"
    assert {k: v for k, v in cached.json().items() if k != "elapsed_ms"} == {
        k: v for k, v in delta.json().items() if k != "elapsed_ms"
    }


def test_simple_queries_are_answered_by_the_cache(served: Served) -> None:
    with served.client() as client:
        for sql in ("select count(*) from core.stable", "select * from stable where id = 3"):
            response = client.post("/api/query", json={"sql": sql})
            assert response.headers["X-Headwater-Source"] == "cache", sql


def test_a_query_that_would_show_the_cache_s_own_names_reads_delta(served: Served) -> None:
    with served.client() as client:
        response = client.post(
            "/api/query", json={"sql": "select current_query() as q from core.stable limit 1"}
        )
    # refused on every path: it would show the SQL that runs (the cache's names, masking)
    assert response.status_code == 400 and "current_query" in response.json()["error"]
    assert "hwc_" not in response.text


def test_a_query_naming_an_uncached_table_reads_delta(served: Served) -> None:
    sql = (
        "select p.label, s.word from core.plain p join core.stable s on p.id = s.id "
        "where p.id in (1, 2, 3) order by p.id"
    )
    with served.client() as client:
        response = client.post("/api/query", json={"sql": sql})
    assert response.headers["X-Headwater-Source"] == "delta"
    assert response.json()["rows"] == [["p1", "w1"], ["p2", "w2"], ["p3", "w3"]]


def test_the_cache_describes_itself(served: Served) -> None:
    with served.client() as client:
        state = client.get("/api/tables/core.stable").json()["cache"]
        listing = {e["table"]: e for e in client.get("/api/tables").json()}
    assert state["state"] == "ready" and state["rows"] == 1500 and state["version"] == 0
    assert state["memory_bytes"] > 0 and state["fresh"] is True
    assert listing["core.stable"]["cached"] is True and listing["core.plain"]["cached"] is False


# -- who reads, and what the SQL may do ----------------------------------------------------------


def test_a_principal_reads_only_its_tables_from_the_cache(served: Served) -> None:
    with served.client("outsider") as client:
        rows = client.get("/api/tables/core.stable/rows")
        query = client.post("/api/query", json={"sql": "select count(*) from core.stable"})
        mixed = client.post(
            "/api/query",
            json={"sql": "select * from core.plain where id in (select id from core.stable)"},
        )
        allowed = client.post("/api/query", json={"sql": "select count(*) from core.plain"})
    assert rows.status_code == 404
    for refused in (query, mixed):
        assert refused.status_code == 400
        assert "unknown table" in refused.json()["error"]
        assert "1500" not in refused.text
    assert allowed.json()["rows"] == [[20]]


REFUSED = [
    "select * from core.stable; drop table core.stable",
    "select * from core.stable, read_csv('/etc/passwd')",
    "select getenv('HOME') from core.stable",
    "select * from core.stable where id = (select count(*) from duckdb_tables())",
    "copy (select * from core.stable) to '/tmp/x.csv'",
    "select * from core.stable union all select * from glob('/*')",
    "attach ':memory:' as x",
    "select current_setting('lock_configuration') from core.stable",
    'select * from "main".core',
]


@pytest.mark.parametrize("sql", REFUSED)
def test_sql_on_cached_tables_still_passes_the_checks(served: Served, sql: str) -> None:
    with served.client() as client:
        response = client.post("/api/query", json={"sql": sql})
    assert response.status_code == 400, response.text[:500]
    assert "root:x:" not in response.text and "hwc_" not in response.text


def test_a_runaway_query_on_the_cache_is_interrupted_at_the_time_limit(served: Served) -> None:
    runaway = (
        "select count(*) from core.stable a, core.stable b, core.stable c, core.stable d "
        "where hash(a.id, b.id, c.id, d.id) = 42"
    )
    with served.client() as client:
        response = client.post("/api/query", json={"sql": runaway})
        after = client.post("/api/query", json={"sql": "select count(*) from core.stable"})
    assert response.status_code == 408, response.text
    assert response.json()["kind"] == "timeout" and "time limit" in response.json()["error"]
    assert after.json()["rows"] == [[1500]]
    assert after.headers["X-Headwater-Source"] == "cache"


# -- versions ------------------------------------------------------------------------------------


def test_the_cache_serves_the_new_version_after_a_commit(served: Served) -> None:
    """`core.lazy` may lag by up to an hour; its reload still starts as soon as the new
    version is seen, and the cache then answers from it."""
    with served.client() as client:
        before = wait_cached(client, "core.lazy")["version"]
        version = served.commit("lazy")
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            response = client.get("/api/tables/core.lazy/rows", params={"columns": "tag"})
            if response.headers["X-Headwater-Source"] == "cache" and response.headers[
                "X-Headwater-Version"
            ] != str(before):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the cache never served the new version")
        body = response.json()
        query = client.post("/api/query", json={"sql": "select count(*), min(tag) from lazy"})
    assert int(response.headers["X-Headwater-Version"]) == before + 1
    assert {row[0] for row in body["rows"]} == {f"v{version}"}
    assert query.headers["X-Headwater-Source"] == "cache"
    assert query.json()["rows"] == [[100 + 10 * version, f"v{version}"]]


def test_a_read_after_a_commit_never_sees_a_version_older_than_max_staleness(
    served: Served,
) -> None:
    """`core.cached` has `max_staleness: 0s`: every read sent after `headwater run` returned
    answers from the new version, from the Delta table until the cache has reloaded."""
    sources: set[str] = set()
    with served.client() as client:
        for _ in range(3):
            version = served.commit("cached")
            for _ in range(5):
                rows = client.get("/api/tables/core.cached/rows", params={"columns": "tag"})
                query = client.post(
                    "/api/query", json={"sql": "select count(*), max(tag) from core.cached"}
                )
                assert {row[0] for row in rows.json()["rows"]} == {f"v{version}"}
                assert query.json()["rows"] == [[100 + 10 * version, f"v{version}"]]
                sources |= {rows.headers["X-Headwater-Source"], query.headers["X-Headwater-Source"]}
        wait_cached(client, "core.cached")
        settled = client.post("/api/query", json={"sql": "select max(tag) from core.cached"})
    assert settled.headers["X-Headwater-Source"] == "cache"
    assert settled.json()["rows"] == [[f"v{served.versions['cached']}"]]
    assert sources <= {"cache", "delta"}


def test_readers_never_see_a_half_loaded_table_while_versions_swap(served: Served) -> None:
    """Readers polling while the table is rebuilt see, each time, one whole version: its row
    count, tag and sum agree."""
    stop = threading.Event()
    seen: list[tuple[int, str, str, int]] = []
    problems: list[str] = []

    def read() -> None:
        with served.client() as client:
            while not stop.is_set():
                response = client.post(
                    "/api/query",
                    json={"sql": "select count(*), min(tag), max(tag), sum(id) from core.cached"},
                )
                if response.status_code != 200:
                    problems.append(response.text)
                    continue
                count, low, high, total = response.json()["rows"][0]
                seen.append((count, low, high, int(total)))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(3):
            served.commit("cached")
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=GUARD_S)
    assert problems == []
    assert seen
    for count, low, high, total in seen:
        version = (count - 100) // 10
        assert low == high == f"v{version}"
        assert total == count * (count - 1) // 2
