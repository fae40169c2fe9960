"""The executor: retries of transient failures only, timeouts, pools, fail-fast, attempts."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from headwater import Project
from tests.conftest import ProjectFactory, run_cli


@pytest.fixture
def flaky_api() -> Iterator[dict[str, Any]]:
    """An HTTP API whose first `failures` requests answer 503, then the records."""
    state: dict[str, Any] = {"failures": 2, "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["requests"] += 1
            failing = state["requests"] <= state["failures"]
            body = b'{"error": "busy"}' if failing else json.dumps([{"id": 1}, {"id": 2}]).encode()
            self.send_response(503 if failing else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def api_project(make_project: ProjectFactory, url: str, retries: str) -> Project:
    return make_project(
        {
            "sources/api.yml": (
                f"kind: rest\nbase_url: {url}\nretries: {{attempts: 1}}\n"
                "tables:\n  things:\n    endpoint: /things\n"
            )
        },
        config=f"retries: {retries}\n",
    )


def test_a_transient_failure_is_retried_then_succeeds(
    make_project: ProjectFactory, flaky_api: dict[str, Any]
) -> None:
    project = api_project(make_project, flaky_api["url"], "{attempts: 3, backoff: 0.01}")
    summary = project.run()
    outcome = summary.outcome("api.things")
    assert outcome.status == "success" and outcome.rows == 2, outcome.message
    attempts = project.run_attempts(summary.run_id)
    assert [(a["attempt"], a["status"]) for a in attempts] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "success"),
    ]
    assert "HTTP 503" in attempts[0]["error"]
    assert project.run_results(summary.run_id)[0]["attempts"] == 3


def test_retries_run_out(make_project: ProjectFactory, flaky_api: dict[str, Any]) -> None:
    flaky_api["failures"] = 100
    project = api_project(make_project, flaky_api["url"], "{attempts: 2, backoff: 0.01}")
    outcome = project.run().outcome("api.things")
    assert outcome.status == "failed"
    assert "(after 2 attempts)" in (outcome.message or "")
    assert flaky_api["requests"] == 2


def test_a_permanent_failure_is_not_retried(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/m.sql": "select no_such_column from range(3)",
            "models/m.yml": "retries: {attempts: 5, backoff: 0.01}\n",
        }
    )
    summary = project.run()
    assert summary.outcome("main.m").status == "failed"
    attempts = project.run_attempts(summary.run_id)
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "failed")]
    assert "no_such_column" in attempts[0]["error"]


def test_a_build_past_its_timeout_is_stopped(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/slow.sql": (
                "select count(*) as n from range(100000000000) as a(x) where x % 7 = 3"
            ),
            "models/slow.yml": "timeout: 0.5\n",
            "models/after.sql": "select * from main.slow",
            "models/other.sql": "select 1 as x",
        }
    )
    started = dt.datetime.now()
    summary = project.run()
    assert (dt.datetime.now() - started).total_seconds() < 60
    outcome = summary.outcome("main.slow")
    assert outcome.status == "failed"
    assert "ran longer than its timeout of 0.5 s and was stopped" in (outcome.message or "")
    assert summary.outcome("main.after").status == "skipped"
    assert summary.outcome("main.other").status == "success"


SLOW = "select count(*) as n from range({n}) as t(x) where x % 13 = 5"


def _overlap(attempts: list[dict[str, Any]], assets: set[str]) -> int:
    """The largest number of attempts of `assets` running at the same moment."""
    events = []
    for item in attempts:
        if item["asset"] in assets:
            events.append((item["started_at"], 1))
            events.append((item["finished_at"], -1))
    running = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


def test_a_pool_limits_how_many_builds_run_at_once(make_project: ProjectFactory) -> None:
    files = {f"models/p{i}.sql": SLOW.format(n=30_000_000 + i) for i in range(6)}
    files.update({f"models/p{i}.yml": "pool: db\n" for i in range(6)})
    files.update({f"models/q{i}.sql": SLOW.format(n=30_000_000 + i) for i in range(3)})
    files["headwater.yml"] = "name: test\nthreads: 4\npools: {db: 2}\n"
    project = make_project(files)
    summary = project.run()
    assert summary.status == "success"
    attempts = project.run_attempts(summary.run_id)
    assert _overlap(attempts, {f"main.p{i}" for i in range(6)}) <= 2
    assert _overlap(attempts, {a["asset"] for a in attempts}) >= 3  # others used the threads


def test_an_undeclared_pool_is_a_config_error(make_project: ProjectFactory) -> None:
    project = make_project(
        {"models/m.sql": "select 1 as x", "models/m.yml": "pool: dbb\n"},
        config="pools: {db: 2}\n",
    )
    result = run_cli(["run"], project.root)
    assert result.returncode == 2
    assert "main.m takes a slot of pool 'dbb', which is not declared" in result.stderr
    assert "did you mean 'db'?" in result.stderr


def test_fail_fast_starts_nothing_after_the_first_failure(make_project: ProjectFactory) -> None:
    files = {"models/a_bad.sql": "select error('boom') as x"}
    files.update({f"models/z{i}.sql": "select 1 as x" for i in range(5)})
    files["headwater.yml"] = "name: test\nthreads: 1\n"
    project = make_project(files)
    summary = project.run(fail_fast=True)
    statuses = {o.key: o.status for o in summary.outcomes}
    assert statuses["main.a_bad"] == "failed"
    assert set(statuses.values()) == {"failed", "skipped"}
    skipped = [o for o in summary.outcomes if o.status == "skipped"]
    assert all("fail fast" in (o.message or "") for o in skipped)
    again = project.run()  # without fail-fast the independent ones build
    assert again.count("success") == 5


def test_runs_failed_and_the_run_timeline(make_project: ProjectFactory) -> None:
    project = make_project(
        {"models/ok.sql": "select 1 as x", "models/bad.sql": "select error('boom') as x"}
    )
    failed = project.run()
    assert failed.status == "failed"
    project.reload()
    (project.root / "models/bad.sql").write_text("select 2 as x")
    assert project.run().status == "success"
    listed = run_cli(["runs", "--failed", "--json"], project.root)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [failed.run_id]
    shown = run_cli(["runs", "show", failed.run_id, "--logs"], project.root)
    assert shown.returncode == 0, shown.stderr
    assert "timeline (" in shown.stdout
    assert "main.bad #1" in shown.stdout and "boom" in shown.stdout
