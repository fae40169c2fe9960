"""Table reads over HTTP (`GET /api/tables`, `/api/tables/{table}`, `/api/tables/{table}/rows`)
against a real `headwater serve`: every filter operator on every column type, bad parameters
(a 400 naming the parameter, never a 500), projection, ordering with nulls, keyset pagination
that walks a table completely (also with ties in the order column), time travel, and a table
the user may not read answered exactly like one that does not exist.

The expected rows come from an independent reader: the Delta table read with deltalake.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from deltalake import DeltaTable

from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

TYPED_SQL = """
select
  i::bigint as id,
  (i % 4)::integer as grp,
  case when i % 9 = 0 then null else i * 1.5 end::double as dbl,
  (i * 1.125)::decimal(18,3) as dec,
  case when i % 10 = 0 then null
       else 'name ' || i || case when i % 3 = 0 then ', "q"' else '' end end as txt,
  i % 2 = 0 as flag,
  date '2024-01-01' + i::integer as day,
  timestamp '2024-01-01 00:00:00' + to_seconds(i * 3600) as ts,
  timestamptz '2024-01-01 00:00:00+00' + to_seconds(i * 60) as tstz,
  encode('b' || i) as bin,
  [i, i + 1] as lst,
  {'a': i, 'b': 'x' || i} as st
from range(0, 40) t(i)
"""
TIES_SQL = """
select i::bigint as id,
  case when i % 5 = 0 then null else i % 3 end as grp,
  (i % 2)::integer as par,
  case when i % 7 = 0 then null else 'w' || (i % 4) end as word
from range(0, 53) t(i)
"""
FILES = {
    "headwater.yml": """
        name: reads
        threads: 2
        serve:
          roles:
            reader:
              read: ["core.*"]
            other:
              read: [raw.people]
          limits:
            max_rows: 500
            page_size: 7
          tables:
            core.typed: {keys: [id]}
            core.ties: {keys: [id]}
    """,
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "models/core/typed.sql": TYPED_SQL,
    "models/core/ties.sql": TIES_SQL,
    "models/core/hist.sql": "select 1 as id, 'old' as v",
    "models/core/nokeys.sql": "select 1 as a, 'x' as b union all select 1, 'y' "
    "union all select 2, 'x'",
    "models/core/oslo.sql": "select id, name from raw.people where city = 'oslo'",
    "models/core/oslo.yml": "materialized: view\n",
}


@dataclass
class Served:
    """The running server of the reads project, and a client per user."""

    server: RunningServer
    root: Path
    tokens: dict[str, str]
    hist_versions: list[int]

    def client(self, user: str = "reader") -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=60,
        )

    def table(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """The rows of a table, read by deltalake (the independent reader)."""
        namespace, table = name.split(".")
        delta = DeltaTable(str(self.root / "warehouse" / namespace / table), version=version)
        rows: list[dict[str, Any]] = delta.to_pyarrow_table().to_pylist()
        return rows


def build_reads(root: Path) -> dict[str, str]:
    """Write and build the reads project in `root`; add its users; their tokens."""
    write_files(root, FILES)
    headwater(root, "run")
    write_files(
        root, {"models/core/hist.sql": "select 1 as id, 'new' as v union all select 2, 'new'"}
    )
    headwater(root, "run", "--select", "core.hist")
    return {
        "admin": add_user(root, "ada", "admin"),
        "reader": add_user(root, "rita", "reader"),
        "other": add_user(root, "otto", "other"),
    }


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The reads project, built (core.hist at versions 0 and 1), served over HTTP."""
    root = tmp_path_factory.mktemp("reads")
    tokens = build_reads(root)
    with running_server(root, pg=False) as server:
        yield Served(server, root, tokens, [0, 1])


def walk(client: httpx.Client, table: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every row of a table read, following `next` page by page; each page's rows as dicts."""
    rows: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(10_000):  # only a guard against a cursor that never ends
        query = dict(params, **({"after": after} if after else {}))
        response = client.get(f"/api/tables/{table}/rows", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]
        after = body["next"]
        assert response.headers.get("X-Headwater-Next") == after
        if after is None:
            return rows
    raise AssertionError("the pages never ended")


# -- filters ---------------------------------------------------------------------------------

UTC = dt.UTC


def ts(hours: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1) + dt.timedelta(hours=hours)


def tstz(minutes: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minutes)


def cmp(column: str, test: Callable[[Any], bool]) -> Callable[[dict[str, Any]], bool]:
    """A SQL comparison: NULL matches nothing."""
    return lambda row: row[column] is not None and test(row[column])


def negated(column: str, test: Callable[[Any], bool]) -> Callable[[dict[str, Any]], bool]:
    """`not.` of a SQL comparison: NOT NULL is NULL, so NULL matches nothing either."""
    return lambda row: row[column] is not None and not test(row[column])


D = decimal.Decimal
FILTERS: list[tuple[str, str, Callable[[dict[str, Any]], bool]]] = [
    # bigint
    ("id", "eq.5", cmp("id", lambda v: v == 5)),
    ("id", "ne.5", cmp("id", lambda v: v != 5)),
    ("id", "neq.5", cmp("id", lambda v: v != 5)),
    ("id", "lt.5", cmp("id", lambda v: v < 5)),
    ("id", "le.5", cmp("id", lambda v: v <= 5)),
    ("id", "lte.5", cmp("id", lambda v: v <= 5)),
    ("id", "gt.35", cmp("id", lambda v: v > 35)),
    ("id", "ge.35", cmp("id", lambda v: v >= 35)),
    ("id", "gte.35", cmp("id", lambda v: v >= 35)),
    ("id", "in.(1,2,39,100)", cmp("id", lambda v: v in (1, 2, 39, 100))),
    ("id", "in.()", lambda row: False),
    ("id", "not.in.(1,2)", negated("id", lambda v: v in (1, 2))),
    ("id", "not.eq.3", negated("id", lambda v: v == 3)),
    # integer
    ("grp", "eq.2", cmp("grp", lambda v: v == 2)),
    ("grp", "gte.3", cmp("grp", lambda v: v >= 3)),
    # double, with NULLs
    ("dbl", "gt.30.5", cmp("dbl", lambda v: v > 30.5)),
    ("dbl", "le.1.5", cmp("dbl", lambda v: v <= 1.5)),
    ("dbl", "eq.3", cmp("dbl", lambda v: v == 3.0)),
    ("dbl", "is.null", lambda row: row["dbl"] is None),
    ("dbl", "is.not_null", lambda row: row["dbl"] is not None),
    ("dbl", "not.is.null", lambda row: row["dbl"] is not None),
    ("dbl", "not.gt.10", negated("dbl", lambda v: v > 10)),
    # decimal
    ("dec", "eq.4.500", cmp("dec", lambda v: v == D("4.5"))),
    ("dec", "eq.4.5", cmp("dec", lambda v: v == D("4.5"))),
    ("dec", "gt.40", cmp("dec", lambda v: v > D(40))),
    ("dec", "in.(1.125,2.250)", cmp("dec", lambda v: v in (D("1.125"), D("2.25")))),
    # text, with NULLs, commas and quotes
    ("txt", "eq.name 5", cmp("txt", lambda v: v == "name 5")),
    ("txt", 'like.*"q"*', cmp("txt", lambda v: '"q"' in v)),
    ("txt", "like.name 1*", cmp("txt", lambda v: v.startswith("name 1"))),
    ("txt", "ilike.NAME 2*", cmp("txt", lambda v: v.startswith("name 2"))),
    ("txt", "not.like.*q*", negated("txt", lambda v: "q" in v)),
    ("txt", 'in.("name 3, \\"q\\"",name 4)', cmp("txt", lambda v: v in ('name 3, "q"', "name 4"))),
    ("txt", "is.null", lambda row: row["txt"] is None),
    ("txt", "gt.name 8", cmp("txt", lambda v: v > "name 8")),
    # boolean
    ("flag", "is.true", lambda row: row["flag"] is True),
    ("flag", "is.false", lambda row: row["flag"] is False),
    ("flag", "eq.true", cmp("flag", lambda v: v is True)),
    ("flag", "eq.false", cmp("flag", lambda v: v is False)),
    ("flag", "ne.true", cmp("flag", lambda v: v is not True)),
    # date
    ("day", "eq.2024-01-05", cmp("day", lambda v: v == dt.date(2024, 1, 5))),
    ("day", "lt.2024-01-03", cmp("day", lambda v: v < dt.date(2024, 1, 3))),
    ("day", "gte.2024-02-01", cmp("day", lambda v: v >= dt.date(2024, 2, 1))),
    # timestamp (no time zone)
    ("ts", "gt.2024-01-02T00:00:00", cmp("ts", lambda v: v > ts(24))),
    ("ts", "eq.2024-01-01T05:00:00", cmp("ts", lambda v: v == ts(5))),
    ("ts", "eq.2024-01-01 05:00:00", cmp("ts", lambda v: v == ts(5))),
    # timestamp with a time zone: an offset is honoured, none means UTC
    ("tstz", "lt.2024-01-01T00:05:00Z", cmp("tstz", lambda v: v < tstz(5))),
    ("tstz", "eq.2024-01-01T00:10:00+00:00", cmp("tstz", lambda v: v == tstz(10))),
    ("tstz", "eq.2024-01-01T01:10:00+01:00", cmp("tstz", lambda v: v == tstz(10))),
    ("tstz", "ge.2024-01-01T00:30:00", cmp("tstz", lambda v: v >= tstz(30))),
    # binary, in base64
    ("bin", "eq." + base64.b64encode(b"b7").decode(), cmp("bin", lambda v: v == b"b7")),
]


@pytest.mark.parametrize(
    ("column", "value", "expected"), FILTERS, ids=[f"{c}={v}" for c, v, _ in FILTERS]
)
def test_a_filter_returns_exactly_the_rows_it_names(
    reads: Served, column: str, value: str, expected: Callable[[dict[str, Any]], bool]
) -> None:
    truth = sorted(row["id"] for row in reads.table("core.typed") if expected(row))
    with reads.client() as client:
        found = [row["id"] for row in walk(client, "core.typed", {column: value, "limit": "500"})]
    assert found == truth


def test_filters_on_several_columns_all_hold(reads: Served) -> None:
    truth = sorted(
        row["id"]
        for row in reads.table("core.typed")
        if row["flag"] and row["id"] > 10 and row["id"] < 30 and row["txt"] is not None
    )
    with reads.client() as client:
        response = client.get(
            "/api/tables/core.typed/rows",
            params=[
                ("flag", "is.true"),
                ("id", "gt.10"),
                ("id", "lt.30"),
                ("txt", "is.not_null"),
                ("limit", "500"),
                ("columns", "id"),
            ],
        )
    assert response.status_code == 200, response.text
    assert [row[0] for row in response.json()["rows"]] == truth


BAD: list[tuple[str, str, str]] = [
    ("nope", "eq.1", "nope"),
    ("id", "eq.x", "id"),
    ("id", "eq.1.5", "id"),
    ("id", "zz.1", "id"),
    ("id", "5", "id"),
    ("id", "like.*1*", "id"),
    ("id", "in.1,2", "id"),
    ("id", "is.maybe", "id"),
    ("txt", 'in.("a,b)', "txt"),
    ("day", "eq.2024-13-01", "day"),
    ("day", "eq.yesterday", "day"),
    ("dec", "eq.abc", "dec"),
    ("dec", "eq.NaN", "dec"),
    ("dbl", "lt.many", "dbl"),
    ("flag", "eq.maybe", "flag"),
    ("ts", "eq.2024-01-01T00:00:00Z", "ts"),
    ("ts", "eq.noon", "ts"),
    ("bin", "eq.%%%", "bin"),
    ("lst", "eq.1", "lst"),
    ("st", "gt.1", "st"),
    ("limit", "0", "limit"),
    ("limit", "501", "limit"),
    ("limit", "x", "limit"),
    ("order", "nope", "order"),
    ("order", "-nope", "order"),
    ("order", "lst", "order"),
    ("columns", "id,nope", "columns"),
    ("columns", ",", "columns"),
    ("after", "garbage!!", "after"),
    ("after", "eyJ0IjoxfQ", "after"),
    ("format", "xml", "format"),
    ("as_of", "", "as_of"),
]


@pytest.mark.parametrize(("name", "value", "parameter"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_parameter_is_a_400_naming_it(
    reads: Served, name: str, value: str, parameter: str
) -> None:
    with reads.client() as client:
        response = client.get("/api/tables/core.typed/rows", params={name: value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"parameter {parameter}:")
    assert body["kind"] == "invalid"


def test_a_cursor_of_another_order_is_refused(reads: Served) -> None:
    with reads.client() as client:
        first = client.get("/api/tables/core.ties/rows", params={"order": "grp"}).json()
        response = client.get(
            "/api/tables/core.ties/rows", params={"order": "-grp", "after": first["next"]}
        )
        other = client.get("/api/tables/core.typed/rows", params={"after": first["next"]})
    assert response.status_code == 400 and response.json()["parameter"] == "after"
    assert other.status_code == 400 and other.json()["parameter"] == "after"


# -- projection and order ----------------------------------------------------------------------


def test_columns_selects_and_orders_the_columns_sent(reads: Served) -> None:
    truth = {row["id"]: row for row in reads.table("core.typed")}
    with reads.client() as client:
        body = client.get(
            "/api/tables/core.typed/rows", params={"columns": "txt,id,dec", "limit": "500"}
        ).json()
    assert body["columns"] == ["txt", "id", "dec"]
    assert len(body["rows"]) == 40
    for txt, key, dec in body["rows"]:
        assert txt == truth[key]["txt"]
        assert dec == str(truth[key]["dec"])


def ordered(rows: list[dict[str, Any]], spec: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """`rows` sorted by (column, descending) pairs, NULLs last in both directions (stable
    sorts from the last column to the first)."""
    result = list(rows)
    for column, descending in reversed(spec):
        present = [r for r in result if r[column] is not None]
        present.sort(key=lambda r: r[column], reverse=descending)
        result = present + [r for r in result if r[column] is None]
    return result


ORDERS: list[tuple[str, list[tuple[str, bool]]]] = [
    ("", [("id", False)]),
    ("-id", [("id", True)]),
    ("grp", [("grp", False), ("id", False)]),
    ("-grp", [("grp", True), ("id", False)]),
    ("grp.desc", [("grp", True), ("id", False)]),
    ("grp.asc,-par", [("grp", False), ("par", True), ("id", False)]),
    ("-par,word", [("par", True), ("word", False), ("id", False)]),
    ("-word,-id", [("word", True), ("id", True)]),
]


@pytest.mark.parametrize(("order", "spec"), ORDERS, ids=[o or "keys" for o, _ in ORDERS])
@pytest.mark.parametrize("limit", ["7", "1", "500"])
def test_keyset_pages_walk_the_table_completely_in_order(
    reads: Served, order: str, spec: list[tuple[str, bool]], limit: str
) -> None:
    """Ties in the order column (and NULLs, sorted last) never make a page repeat or skip a
    row: the keys end the order and the cursor holds the last row's order values."""
    truth = [row["id"] for row in ordered(reads.table("core.ties"), spec)]
    params = {"limit": limit} | ({"order": order} if order else {})
    with reads.client() as client:
        found = [row["id"] for row in walk(client, "core.ties", params)]
    assert found == truth
    assert len(set(found)) == len(found) == 53


def test_pages_follow_the_link_header_with_filters_kept(reads: Served) -> None:
    truth = [
        row["id"]
        for row in ordered(reads.table("core.ties"), [("word", False), ("id", False)])
        if row["par"] == 1
    ]
    found: list[int] = []
    with reads.client() as client:
        url: str | None = "/api/tables/core.ties/rows?par=eq.1&order=word&limit=4"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            found += [row[0] for row in response.json()["rows"]]
            link = response.headers.get("Link")
            url = link[1 : link.index(">")] if link else None
            if url is not None:
                assert "par=eq.1" in url and "order=word" in url
    assert found == truth


def test_default_page_size_and_the_last_page(reads: Served) -> None:
    with reads.client() as client:
        first = client.get("/api/tables/core.ties/rows").json()
        last = client.get("/api/tables/core.ties/rows", params={"id": "ge.50"}).json()
    assert len(first["rows"]) == 7 and first["next"] is not None
    assert [row[0] for row in last["rows"]] == [50, 51, 52] and last["next"] is None


def test_a_table_without_keys_pages_by_all_its_columns(reads: Served) -> None:
    with reads.client() as client:
        found = walk(client, "core.nokeys", {"limit": "1"})
        schema = client.get("/api/tables/core.nokeys").json()
    assert [(r["a"], r["b"]) for r in found] == [(1, "x"), (1, "y"), (2, "x")]
    assert schema["keys"] == ["a", "b"]


# -- versions ----------------------------------------------------------------------------------


def test_as_of_reads_an_earlier_version(reads: Served) -> None:
    history = DeltaTable(str(reads.root / "warehouse" / "core" / "hist")).history()
    first = next(h for h in history if h["version"] == 0)
    moment = dt.datetime.fromtimestamp(first["timestamp"] / 1000, UTC).isoformat()
    with reads.client() as client:
        now = client.get("/api/tables/core.hist/rows")
        old = client.get("/api/tables/core.hist/rows", params={"as_of": "0"})
        then = client.get("/api/tables/core.hist/rows", params={"as_of": moment})
        missing = client.get("/api/tables/core.hist/rows", params={"as_of": "7"})
    assert now.json()["rows"] == [[1, "new"], [2, "new"]] and now.json()["version"] == 1
    assert old.json()["rows"] == [[1, "old"]] and old.json()["version"] == 0
    assert old.headers["X-Headwater-Version"] == "0"
    assert then.json()["rows"] == [[1, "old"]]
    assert missing.status_code == 404 and "no version 7" in missing.json()["error"]


# -- who may read what -------------------------------------------------------------------------


def test_a_table_the_user_may_not_read_is_answered_like_one_that_does_not_exist(
    reads: Served,
) -> None:
    with reads.client("reader") as client:
        answers = {
            name: (
                client.get(f"/api/tables/{name}/rows"),
                client.get(f"/api/tables/{name}"),
                client.get(f"/api/tables/{name}/rows", params={"id": "eq.1", "format": "csv"}),
            )
            for name in ("raw.people", "raw.peoplf", "people", "peoplf")
        }
        listing = client.get("/api/tables").json()
    for name, responses in answers.items():
        for response in responses:
            assert response.status_code == 404, response.text
            assert response.json()["error"] == f"no such table: {name}"
            assert "people" not in (response.json()["hint"] or "")
    hidden, missing = answers["raw.people"][0], answers["raw.peoplf"][0]
    assert hidden.text.replace("people", "peoplf") == missing.text
    assert "raw.people" not in {entry["table"] for entry in listing}
    with reads.client("other") as client:
        assert client.get("/api/tables/raw.people/rows").status_code == 200
        assert client.get("/api/tables/core.typed/rows").status_code == 404
        assert {e["table"] for e in client.get("/api/tables").json()} == {"raw.people"}


def test_anonymous_requests_are_refused(reads: Served) -> None:
    with httpx.Client(base_url=reads.server.url, timeout=30) as client:
        for path in ("/api/tables", "/api/tables/core.typed", "/api/tables/core.typed/rows"):
            assert client.get(path).status_code == 401


def test_listing_names_kind_version_columns_keys(reads: Served) -> None:
    with reads.client("admin") as client:
        listing = {entry["table"]: entry for entry in client.get("/api/tables").json()}
    assert listing["core.typed"] == {
        "table": "core.typed",
        "kind": "table",
        "version": 0,
        "columns": 12,
        "keys": ["id"],
        "cached": False,
    }
    assert listing["core.hist"]["version"] == 1
    assert listing["raw.people"]["kind"] == "seed"
    assert listing["core.oslo"]["kind"] == "view" and listing["core.oslo"]["version"] is None
    assert listing["core.nokeys"]["keys"] is None


def test_describe_gives_types_nullability_version_and_keys(reads: Served) -> None:
    with reads.client() as client:
        schema = client.get("/api/tables/typed").json()
        view = client.get("/api/tables/core.oslo").json()
    types = {c["name"]: c["type"] for c in schema["columns"]}
    assert schema["table"] == "core.typed" and schema["version"] == 0
    assert schema["keys"] == ["id"] and schema["cache"] is None
    assert types["id"] == "BIGINT" and types["dec"] == "DECIMAL(18,3)"
    assert types["day"] == "DATE" and types["tstz"] == "TIMESTAMP WITH TIME ZONE"
    assert types["lst"] == "BIGINT[]" and types["bin"] == "BLOB"
    assert all(isinstance(c["nullable"], bool) for c in schema["columns"])
    assert [c["name"] for c in view["columns"]] == ["id", "name"] and view["version"] is None


def test_a_view_is_read_through_the_query_path(reads: Served) -> None:
    with reads.client("admin") as client:
        body = client.get("/api/tables/core.oslo/rows", params={"order": "-id"}).json()
    assert body["rows"] == [[3, "cid"], [1, "ann"]] and body["version"] is None


def test_a_name_alone_resolves_when_it_is_unambiguous(reads: Served) -> None:
    with reads.client() as client:
        alone = client.get("/api/tables/ties/rows", params={"id": "eq.3"}).json()
    assert alone["table"] == "core.ties" and alone["rows"][0][0] == 3
