"""OpenLineage events of real runs: validated against the spec's JSON schemas, delivered to a
file and to a real HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from headwater import Project
from tests.conftest import ProjectFactory
from tests.support.openlineage import validate_event

EVENTS = ".headwater/openlineage.jsonl"


def read_events(project: Project) -> list[dict[str, Any]]:
    path = project.root / EVENTS
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def shop_events(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, list[Any]]]:
    """The e-commerce example after day 1 and a broken day 2, with the events of each."""
    project = Project.init(tmp_path_factory.mktemp("ol") / "shop", example="ecommerce")
    assert project.run().status == "success"
    first = read_events(project)
    generate = [sys.executable, str(project.root / "generate.py"), "--day", "2", "--broken"]
    subprocess.run(generate, check=True, capture_output=True)
    project.reload()
    assert project.run().status == "failed"
    yield project, [first, read_events(project)[len(first) :]]
    project.close()


def test_every_event_of_the_example_validates(shop_events: tuple[Project, list[Any]]) -> None:
    _, (good, broken) = shop_events
    assert len(good) > 20
    for event in [*good, *broken]:
        validate_event(event)


def test_each_build_is_a_run_that_starts_and_completes(
    shop_events: tuple[Project, list[Any]],
) -> None:
    project, (good, _) = shop_events
    by_job: dict[str, list[str]] = {}
    runs: dict[str, set[str]] = {}
    for event in good:
        by_job.setdefault(event["job"]["name"], []).append(event["eventType"])
        runs.setdefault(event["job"]["name"], set()).add(event["run"]["runId"])
    built = {k for k, a in project.definition.assets.items() if a.materialized != "ephemeral"}
    for key in built:
        assert by_job[key] == ["START", "COMPLETE"], key
        assert len(runs[key]) == 1
    parents = {e["run"]["facets"]["parent"]["run"]["runId"] for e in good}
    assert len(parents) == 1  # every build belongs to the one Headwater run
    assert {e["job"]["namespace"] for e in good} == {"ecommerce"}


def test_complete_events_carry_schema_lineage_and_row_counts(
    shop_events: tuple[Project, list[Any]],
) -> None:
    project, (good, _) = shop_events
    complete = {
        e["job"]["name"]: e
        for e in good
        if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]
    }
    fact = complete["marts.fact_sales"]
    output = fact["outputs"][0]
    assert output["namespace"] == "file"
    assert output["name"] == str(project.definition.warehouse / "marts" / "fact_sales")
    names = [f["name"] for f in output["facets"]["schema"]["fields"]]
    assert names[:2] == ["order_id", "line_number"]
    rows = project.query("select count(*) as n from marts.fact_sales").to_pylist()[0]["n"]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == rows
    assert output["facets"]["version"]["datasetVersion"] == "0"
    assert output["facets"]["ownership"]["owners"] == [
        {"name": "finance-analytics", "type": "OWNER"}
    ]
    lineage = output["facets"]["columnLineage"]["fields"]["recognized_revenue"]["inputFields"]
    assert {
        (i["namespace"], i["name"], i["field"], t["type"], t["subtype"])
        for i in lineage
        for t in i["transformations"]
    } >= {
        (
            "headwater://ecommerce",
            "intermediate.int_order_lines",
            "net_amount",
            "DIRECT",
            "TRANSFORMATION",
        ),
        (
            "headwater://ecommerce",
            "intermediate.int_order_lines",
            "order_status",
            "INDIRECT",
            "CONDITIONAL",
        ),
    }
    inputs = {(i["namespace"], i["name"]) for i in fact["inputs"]}
    assert ("headwater://ecommerce", "intermediate.int_order_lines") in inputs
    assert all("schema" in i["facets"] for i in fact["inputs"])
    seed = complete["raw.customers"]
    assert seed["inputs"][0] == {
        "namespace": "file",
        "name": str(project.root / "seeds" / "customers.csv"),
    }
    assert fact["job"]["facets"]["jobType"]["jobType"] == "INCREMENTAL"
    assert "select" in fact["job"]["facets"]["sql"]["query"].lower()


def test_checks_are_reported_as_assertions_on_the_audited_table(
    shop_events: tuple[Project, list[Any]],
) -> None:
    _, (good, broken) = shop_events
    checks = [e for e in good if e["job"]["name"] == "raw.order_items.checks"]
    assert [e["eventType"] for e in checks] == ["START", "COMPLETE"]
    table = checks[-1]["inputs"][0]
    assertions = table["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {"assertion": "not_null_order_id", "success": True, "column": "order_id"} in assertions
    metrics = table["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] > 0
    assert metrics["columnMetrics"]["order_id"]["nullCount"] == 0

    failed = [e for e in broken if e["job"]["name"] == "raw.order_items"]
    assert [e["eventType"] for e in failed] == ["START", "FAIL"]
    error = failed[-1]["run"]["facets"]["errorMessage"]
    assert "not_null_order_id" in error["message"]
    assert error["programmingLanguage"] == "python"
    audit = [e for e in broken if e["job"]["name"] == "raw.order_items.checks"]
    assert audit[-1]["eventType"] == "FAIL"
    verdicts = {
        a["assertion"]: a["success"]
        for a in audit[-1]["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    }
    assert verdicts["not_null_order_id"] is False
    assert verdicts["range_quantity"] is False
    # downstream builds never started: no events for them
    assert not [e for e in broken if e["job"]["name"] == "marts.fact_sales"]


class Collector(BaseHTTPRequestHandler):
    """Takes OpenLineage POSTs as Marquez does; fails the first `failures` with a 500."""

    received: list[tuple[str, dict[str, str], Any]]
    failures: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.failures and self.failures[0] > 0:
            self.failures[0] -= 1
            self.send_response(500)
            self.end_headers()
            return
        self.received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[Any], list[int]]]:
    received: list[Any] = []
    failures = [0]
    handler = type("Handler", (Collector,), {"received": received, "failures": failures})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received, failures
    server.shutdown()


FILES = {
    "seeds/items.csv": "id,price\n1,2.5\n2,4.0\n",
    "models/main/priced.sql": "select id, price * 2 as doubled from raw.items",
}


def test_the_http_transport_posts_to_a_real_server(
    make_project: ProjectFactory,
    collector: tuple[str, list[Any], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received, failures = collector
    monkeypatch.setenv("OL_TOKEN", "s3cret-token-123")
    failures[0] = 1  # the first POST gets a 500 and is sent again
    project = make_project(
        FILES,
        config=(
            "openlineage:\n  namespace: analytics\n  transports:\n"
            f"    - {{type: http, url: '{url}', api_key: '${{OL_TOKEN}}'}}\n"
        ),
    )
    assert project.run().status == "success"
    events = [body for _, _, body in received]
    assert [
        (e["job"]["name"], e["eventType"]) for e in events if e["job"]["name"] == "main.priced"
    ] == [
        ("main.priced", "START"),
        ("main.priced", "COMPLETE"),
    ]
    for path, headers, body in received:
        assert path == "/api/v1/lineage"
        assert headers["Authorization"] == "Bearer s3cret-token-123"
        assert headers["Content-Type"] == "application/json"
        validate_event(body)
        assert body["job"]["namespace"] == "analytics"
    doubled = next(
        e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == "main.priced"
    )
    fields = doubled["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert fields["doubled"]["inputFields"][0]["field"] == "price"
    # the token stays out of the catalog
    catalog = (project.root / ".headwater" / "catalog.db").read_bytes()
    assert b"s3cret-token-123" not in catalog


def test_an_unreachable_endpoint_never_fails_a_run(
    make_project: ProjectFactory, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    project = make_project(
        FILES,
        config="openlineage:\n  transports:\n"
        f"    - {{type: http, url: 'http://127.0.0.1:{port}', timeout: 0.5}}\n",
    )
    assert project.run().status == "success"
    assert "OpenLineage event" in caplog.text
    assert "could not be sent" in caplog.text


def test_openlineage_url_in_the_environment_adds_an_http_transport(
    make_project: ProjectFactory,
    collector: tuple[str, list[Any], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received, _ = collector
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    project = make_project(FILES)
    assert project.run().status == "success"
    assert {body["job"]["name"] for _, _, body in received} >= {"raw.items", "main.priced"}
    assert not (project.root / EVENTS).exists()  # no file transport unless configured


def test_an_endpoint_that_never_answers_holds_no_build_up(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The endpoint accepts connections and never answers, with a 10-minute timeout: sent
    from the builds' threads, the first START would hold the run up for half an hour."""
    import socket

    from headwater.lineage.openlineage import Emitter

    monkeypatch.setattr(Emitter, "DRAIN_S", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # connections queue up; nothing reads them
        port = silent.getsockname()[1]
        project = make_project(
            FILES,
            config="openlineage:\n  transports:\n"
            f"    - {{type: http, url: 'http://127.0.0.1:{port}', timeout: 600}}\n"
            "    - {type: file}\n",
        )
        outcome: list[Any] = []
        runner = threading.Thread(target=lambda: outcome.append(project.run()), daemon=True)
        runner.start()
        runner.join(120)  # a liveness bound: far above a run, far below the timeouts
        assert not runner.is_alive(), "the run waited for the endpoint"
    assert outcome[0].status == "success"
    assert "were not delivered" in caplog.text
    # the file transport got every event, written as each build went
    assert {(e["job"]["name"], e["eventType"]) for e in read_events(project)} >= {
        ("main.priced", "START"),
        ("main.priced", "COMPLETE"),
    }


def test_an_endpoint_secret_missing_from_the_environment_stops_the_run_before_it_starts(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.errors import ConfigError

    monkeypatch.delenv("OL_MISSING_TOKEN", raising=False)
    project = make_project(
        FILES,
        config="openlineage:\n  transports:\n"
        "    - {type: http, url: 'http://127.0.0.1:9', api_key: '${OL_MISSING_TOKEN}'}\n",
    )
    with pytest.raises(ConfigError) as missing:
        project.run()
    assert "OL_MISSING_TOKEN" in str(missing.value)
    assert project.catalog.runs(limit=10) == []  # no run left behind as "running"


def test_a_database_source_is_named_from_its_resolved_url_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from headwater.orchestrate.lineage_hooks import _database_dataset, _resolved

    monkeypatch.setenv("SHOP_DB", "postgresql+psycopg://app:pa55word@127.0.0.1:5433/shop")
    asset: Any = SimpleNamespace(source=None, name="orders")
    dataset = _database_dataset(_resolved("${SHOP_DB}"), "public", "orders", asset)
    assert (dataset.namespace, dataset.name) == ("postgres://127.0.0.1:5433", "shop.public.orders")
    assert "pa55word" not in repr(dataset) and "app" not in dataset.namespace
    unset = _database_dataset(_resolved("${NOT_SET_ANYWHERE}"), None, "t", asset)
    assert unset.namespace == "sql://localhost"  # a URL not known yet: still a valid name
