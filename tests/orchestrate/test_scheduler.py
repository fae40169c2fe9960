"""The scheduler on a controllable clock: cron ticks, catch-up, the single-scheduler lock,
stale runs and resume, sensors, alerts to real local HTTP and SMTP servers, SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.catalog.store import Catalog
from headwater.orchestrate.scheduler import Scheduler, SchedulerLockedError
from tests.conftest import HEADWATER, ProjectFactory, run_cli, write_files
from tests.support.catalogs import Catalogs

T0 = dt.datetime(2024, 6, 3, 9, 0, 30, tzinfo=dt.UTC)


@pytest.fixture
def make_project(make_project: ProjectFactory, catalogs: Catalogs) -> ProjectFactory:
    """Projects whose catalog is SQLite, then PostgreSQL: every test here runs on both."""
    return catalogs.projects(make_project)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def every_minute(
    make_project: ProjectFactory, catch_up: str = "latest", extra: str = ""
) -> Project:
    return make_project(
        {"models/m.sql": "select count(*) as n from range(10)"},
        config=(
            "jobs:\n  often:\n    cron: '* * * * *'\n"
            f"    catch_up: {catch_up}\n    select: [main.m]\n{extra}"
        ),
    )


@pytest.mark.parametrize("policy,runs,skipped", [("latest", 1, 4), ("all", 5, 0), ("none", 0, 5)])
def test_ticks_missed_while_down_follow_the_catch_up_policy(
    make_project: ProjectFactory, policy: str, runs: int, skipped: int
) -> None:
    project = every_minute(make_project, policy)
    scheduler = Scheduler(project)
    assert scheduler.step(minutes(0)).runs == []  # a new job starts with its next tick
    step = scheduler.step(minutes(0.5))  # 09:01:00, on time
    assert len(step.runs) == 1 and step.runs[0][1].status == "success"
    down = scheduler.step(minutes(6.2))  # down for the ticks of minutes 2 to 6
    assert len(down.runs) == runs
    assert len(down.skipped_ticks) == skipped
    assert scheduler.step(minutes(6.3)).runs == []  # nothing is run twice


def test_one_scheduler_per_project(make_project: ProjectFactory) -> None:
    project = every_minute(make_project)
    first = Scheduler(project, holder="host-a:1", clock=lambda: minutes(0), stale_after_s=30)
    first.acquire()
    second = Scheduler(
        Project(project.root), holder="host-b:2", clock=lambda: minutes(0.2), stale_after_s=30
    )
    with pytest.raises(SchedulerLockedError, match=r"already running for this project \(host-a:1"):
        second.acquire()
    late = Scheduler(Project(project.root), holder="host-b:2", clock=lambda: minutes(2))
    late.acquire()  # host-a's heartbeat is 2 minutes old: its lock is taken over
    late.release()


def test_sigterm_finishes_what_runs_and_exits(make_project: ProjectFactory) -> None:
    slow = "select count(*) as n from range(3000000000) as t(x) where x % 7 = 1"
    files = {"models/a_slow.sql": slow}
    files.update({f"models/b{i}.sql": "select 1 as x from main.a_slow" for i in range(3)})
    project = make_project(files, config="jobs:\n  all:\n    cron: '* * * * *'\n")
    Scheduler(project).step(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))  # due at once
    process = subprocess.Popen(
        [*HEADWATER, "scheduler", "--poll", "0.2"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not _running(project.catalog) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _running(project.catalog), "the job never started"
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out
    assert "scheduler stopped" in out
    project.close()
    (run,) = Project(project.root).runs(5)
    assert run["status"] == "interrupted"
    results = {r["asset"]: r for r in Project(project.root).run_results(run["run_id"])}
    assert results["main.a_slow"]["status"] == "success"  # the running asset finished
    assert {results[f"main.b{i}"]["status"] for i in range(3)} == {"skipped"}


def _running(catalog: Catalog) -> bool:
    """Whether some asset is being built (by another process writing to `catalog`)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT count(*) AS n FROM hw_asset_results WHERE status = 'running'")
    return bool(rows[0]["n"])


def test_a_dead_run_is_detected_by_its_heartbeat_and_resumed(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "models/a.sql": "select 1 as x",
            "models/b.sql": "select x + 1 as y from main.a",
            "models/c.sql": "select y + 1 as z from main.b",
            "headwater.yml": "name: test\nthreads: 1\n",
        },
    )
    killed = run_cli(["run"], project.root, env={"HEADWATER_FAULT": "before_commit:main.b"})
    assert killed.returncode == -9
    project.close()
    project = Project(project.root)
    (run,) = project.runs(1)
    assert run["status"] == "running"
    step = Scheduler(project, stale_after_s=5).step(
        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    )
    assert step.stale_runs == [run["run_id"]]
    (marked,) = project.runs(1)
    assert marked["status"] == "failed" and "no heartbeat since" in marked["error"]
    resumed = run_cli(["run", "--resume", run["run_id"][:8], "--json"], project.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    built = {o["key"]: o["status"] for o in json.loads(resumed.stdout)["assets"]}
    assert built == {"main.b": "success", "main.c": "success"}  # main.a had succeeded
    assert project.query("select z from main.c").to_pylist() == [{"z": 3}]
    latest = project.runs(1)[0]
    assert latest["resumed_from"] == run["run_id"]


APPEND = {
    "seeds/batch.yml": "columns:\n  - name: id\n    type: BIGINT\n",
    "seeds/batch.csv": "id\n1\n2\n3\n",
    # appends every row of the seed each time it is built: applied twice, rows duplicate
    "models/core/app.sql": "select id from raw.batch",
    "models/core/app.yml": "materialized: incremental\n",
}


def test_the_stale_run_sweep_records_a_commit_that_landed_so_it_is_not_applied_twice(
    make_project: ProjectFactory,
) -> None:
    project = make_project(APPEND)
    root = project.root
    # killed (SIGKILL) right after its append committed, before the catalog heard of it
    killed = run_cli(["run"], root, env={"HEADWATER_FAULT": "after_commit:core.app"})
    assert killed.returncode == -9, killed.stderr
    project.close()
    project = Project(root)
    (run,) = project.runs(1)
    assert run["status"] == "running"
    assert (root / ".headwater" / "locks" / "runs" / f"{run['run_id']}.lock").exists()
    step = Scheduler(project, stale_after_s=1).step(dt.datetime.now(dt.UTC))
    assert step.stale_runs == [run["run_id"]]
    results = {r["asset"]: r for r in project.run_results(run["run_id"])}
    assert results["core.app"]["status"] == "success"
    assert "commit landed" in results["core.app"]["message"]
    (marked,) = project.runs(1)
    assert marked["status"] == "failed" and "died" in marked["error"]
    assert not list((root / ".headwater" / "locks" / "runs").iterdir())  # settled, forgotten
    again = run_cli(["run", "--json"], root)
    assert again.returncode == 0, again.stdout + again.stderr
    built = {o["key"]: o["status"] for o in json.loads(again.stdout)["assets"]}
    assert built["core.app"] == "up_to_date"
    rows = project.query("select count(*) as n, count(distinct id) as d from core.app")
    assert rows.to_pylist() == [{"n": 3, "d": 3}]  # no duplicates


def test_the_sweep_leaves_a_live_run_on_this_machine_alone_however_old_its_heartbeat(
    make_project: ProjectFactory,
) -> None:
    from headwater.catalog.store import new_run_id
    from headwater.orchestrate.lock import RunLocks

    project = make_project(APPEND)
    # a run whose process lives (its liveness file is locked) but whose heartbeat is old
    live = RunLocks(project.catalog, project.definition.state_dir, new_run_id(), "run")
    live.acquire([])
    try:
        project.catalog.start_run("run", None, 1, False, run_id=live.run_id)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert Scheduler(project, stale_after_s=1).step(later).stale_runs == []
        assert project.runs(1)[0]["status"] == "running"
    finally:
        live.release()
    project.catalog.finish_run(live.run_id, "success")


def test_a_file_sensor_runs_its_job_once_per_change(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "sources/drops.yml": "kind: files\ntables:\n  orders:\n    path: landing/*.csv\n",
            "models/totals.sql": "select count(*) as n from drops.orders",
        },
        config=(
            "jobs:\n  load:\n    select: [drops.orders+]\n"
            "sensors:\n  new_drops:\n    type: files\n    path: landing/*.csv\n"
            "    job: load\n    interval: 1\n"
        ),
    )
    write_files(project.root, {"landing/1.csv": "id\n1\n2\n"})
    scheduler = Scheduler(project)
    first = scheduler.step(minutes(0))
    assert [(job, s.status) for job, s in first.runs] == [("load", "success")]
    assert scheduler.step(minutes(1)).runs == []  # nothing new
    write_files(project.root, {"landing/2.csv": "id\n3\n"})
    again = scheduler.step(minutes(2))
    assert len(again.runs) == 1
    assert project.query("select n from main.totals").to_pylist() == [{"n": 3}]


def test_an_upstream_change_triggers_the_downstream_job(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/prices.csv": "sku,price\na,1\n",
            "models/marts/priced.sql": "select sku, price * 2 as doubled from raw.prices",
        },
        config=(
            "jobs:\n  downstream:\n    select: [marts.priced]\n"
            "sensors:\n  prices_changed:\n    type: asset\n    assets: [raw.prices]\n"
            "    job: downstream\n    interval: 1\n"
        ),
    )
    assert project.run(select=["raw.prices"]).status == "success"
    scheduler = Scheduler(project)
    assert scheduler.step(minutes(0)).runs == []  # the first look only sets the cursor
    write_files(project.root, {"seeds/prices.csv": "sku,price\na,5\n"})
    project.reload()
    assert project.run(select=["raw.prices"]).status == "success"
    step = scheduler.step(minutes(1))
    assert [job for job, _ in step.runs] == ["downstream"]
    assert project.query("select doubled from marts.priced").to_pylist() == [{"doubled": 10}]
    assert scheduler.step(minutes(2)).runs == []


def test_jobs_and_sensors_defined_in_python(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/m.sql": "select 1 as x",
            "schedules.py": (
                "from headwater import Job, RunRequest, sensor\n"
                "jobs = [Job('py_job', select=['main.m'], cron='*/2 * * * *')]\n"
                "@sensor(job='py_job', interval=1)\n"
                "def every_other(context):\n"
                "    count = int(context.cursor or 0) + 1\n"
                "    context.update_cursor(str(count))\n"
                "    return RunRequest(reason=f'look {count}') if count % 2 == 0 else None\n"
            ),
        }
    )
    scheduler = Scheduler(project)
    assert "py_job" in scheduler.jobs
    runs = [len(scheduler.step(minutes(n)).runs) for n in range(4)]
    assert runs == [0, 1, 1, 1]  # sensor looks 2 and 4, the cron tick of minute 2
    listed = run_cli(["jobs", "--json"], project.root)
    assert json.loads(listed.stdout)[0]["job"] == "py_job"


# -- alerts --------------------------------------------------------------------------------


@pytest.fixture
def webhook() -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"posts": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state["posts"].append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp() -> Iterator[dict[str, Any]]:
    from aiosmtpd.controller import Controller

    state: dict[str, Any] = {"messages": []}

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            state["messages"].append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as probe:  # a free port (the controller checks it by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    state["port"] = port
    yield state
    controller.stop()


def alerting_project(
    make_project: ProjectFactory, webhook: dict[str, Any], smtp: dict[str, Any], tmp_path: Path
) -> Project:
    hook_log = tmp_path / "hook.jsonl"
    return make_project(
        {
            "seeds/orders.csv": "id,amount\n1,5\n2,7\n",
            "models/marts/paid.sql": "select * from raw.orders",
            "models/marts/paid.yml": (
                "columns:\n  - name: amount\n    checks: [{range: {min: 0}}]\n"
            ),
            "notify.sh": f"#!/bin/sh\ncat >> {hook_log}\necho >> {hook_log}\n",
        },
        config=(
            "jobs:\n  nightly:\n    cron: '* * * * *'\n"
            "alerts:\n  channels:\n"
            f"    - {{type: webhook, url: '{webhook['url']}'}}\n"
            f"    - {{type: email, host: 127.0.0.1, port: {smtp['port']}, "
            "sender: headwater@example.org, to: [oncall@example.org]}\n"
            "    - {type: command, command: [sh, notify.sh]}\n"
        ),
    )


def test_alerts_go_once_per_incident_and_once_when_it_resolves(
    make_project: ProjectFactory, webhook: dict[str, Any], smtp: dict[str, Any], tmp_path: Path
) -> None:
    project = alerting_project(make_project, webhook, smtp, tmp_path)
    scheduler = Scheduler(project)
    scheduler.step(minutes(0))
    assert scheduler.step(minutes(1)).runs[0][1].status == "success"
    assert webhook["posts"] == []
    write_files(project.root, {"seeds/orders.csv": "id,amount\n1,5\n2,-7\n"})  # breaks the check
    for n in (2, 3, 4):
        (_, summary) = scheduler.step(minutes(n)).runs[0]
        assert summary.status == "failed"
    titles = [p["headwater"]["title"] for p in webhook["posts"]]
    assert titles == [
        "ALERT: run failed: job nightly",
        "ALERT: check failed: marts.paid range_amount",
    ]  # three failing runs, one alert per incident
    write_files(project.root, {"seeds/orders.csv": "id,amount\n1,5\n2,7\n"})
    assert scheduler.step(minutes(5)).runs[0][1].status == "success"
    titles = [p["headwater"]["title"] for p in webhook["posts"]]
    assert titles[2:] == [
        "RESOLVED: run failed: job nightly",
        "RESOLVED: check failed: marts.paid range_amount",
    ]
    assert "range_amount" in webhook["posts"][0]["text"]
    subjects = [m["Subject"] for m in smtp["messages"]]
    assert subjects == [f"[headwater] {t}" for t in titles]
    hooked = [
        json.loads(line) for line in (tmp_path / "hook.jsonl").read_text().splitlines() if line
    ]
    assert [h["title"] for h in hooked] == titles


def test_a_freshness_sla_breach_alerts_and_recovers(
    make_project: ProjectFactory, webhook: dict[str, Any], smtp: dict[str, Any], tmp_path: Path
) -> None:
    project = alerting_project(make_project, webhook, smtp, tmp_path)
    write_files(project.root, {"models/marts/paid.yml": "freshness: {max_lag: 1h}\n"})
    project.reload()
    scheduler = Scheduler(project)
    now = dt.datetime.now(dt.UTC)
    scheduler.jobs = {}  # only the SLA matters here
    scheduler.step(now)
    assert [p["headwater"]["title"] for p in webhook["posts"]] == [
        "ALERT: freshness SLA breached: marts.paid"
    ]
    assert "never built" in webhook["posts"][0]["text"]
    assert project.run().status == "success"
    scheduler.step(now + dt.timedelta(minutes=1))
    scheduler.step(now + dt.timedelta(minutes=2))
    assert [p["headwater"]["title"] for p in webhook["posts"]][1:] == [
        "RESOLVED: freshness SLA breached: marts.paid"
    ]
    scheduler.step(now + dt.timedelta(hours=2))
    assert webhook["posts"][-1]["headwater"]["title"] == "ALERT: freshness SLA breached: marts.paid"


def test_the_example_on_a_schedule_with_an_induced_failure(
    tmp_path: Path, webhook: dict[str, Any], catalogs: Catalogs
) -> None:
    project = Project.init(tmp_path / "shop", example="ecommerce")
    catalogs.append_setting(project.root)
    with open(project.root / "headwater.yml", "a", encoding="utf-8") as config:
        config.write(
            "jobs:\n  every_minute:\n    cron: '* * * * *'\n"
            f"alerts:\n  channels:\n    - {{type: webhook, url: '{webhook['url']}'}}\n"
        )
    project.reload()
    scheduler = Scheduler(project)
    scheduler.step(minutes(0))
    generate = ["python", str(project.root / "generate.py")]
    statuses = []
    for minute in range(1, 6):
        if minute == 3:
            subprocess.run([*generate, "--day", "2", "--broken"], check=True, capture_output=True)
        if minute == 4:
            subprocess.run([*generate, "--day", "2"], check=True, capture_output=True)
        (_, summary) = scheduler.step(minutes(minute)).runs[0]
        statuses.append(summary.status)
    assert statuses == ["success", "success", "failed", "success", "success"]
    titles = [p["headwater"]["title"] for p in webhook["posts"]]
    assert titles[0] == "ALERT: run failed: job every_minute"
    assert "RESOLVED: run failed: job every_minute" in titles
    assert len([t for t in titles if t.startswith("ALERT")]) == len(
        [t for t in titles if t.startswith("RESOLVED")]
    )
    assert os.path.exists(project.root / "warehouse" / "marts" / "fact_sales")


def test_a_job_selecting_nothing_is_an_error_before_the_scheduler_starts(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {"models/m.sql": "select 1 as x"},
        config="jobs:\n  typo:\n    cron: '* * * * *'\n    select: [main.mm]\n",
    )
    result = run_cli(["scheduler"], project.root, timeout=600)
    assert result.returncode == 2
    assert "job typo:" in result.stderr and "main.m" in result.stderr


def test_a_run_that_cannot_start_is_alerted_and_the_scheduler_goes_on(
    make_project: ProjectFactory, webhook: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.errors import HeadwaterError

    project = every_minute(
        make_project,
        extra=f"alerts:\n  channels:\n    - {{type: webhook, url: '{webhook['url']}'}}\n",
    )
    scheduler = Scheduler(project)
    scheduler.step(minutes(0))

    def unloadable() -> None:
        raise HeadwaterError("the project no longer loads")

    with monkeypatch.context() as patch:
        patch.setattr(project, "reload", unloadable)
        step = scheduler.step(minutes(0.5))
    assert [s.status for _, s in step.runs] == ["failed"]
    assert webhook["posts"][0]["headwater"]["title"] == "ALERT: run failed: job often"
    assert "could not run" in webhook["posts"][0]["text"]
    assert scheduler.step(minutes(1.5)).runs[0][1].status == "success"
    assert webhook["posts"][1]["headwater"]["title"] == "RESOLVED: run failed: job often"


@pytest.mark.parametrize("policy", ["latest", "all", "none"])
def test_a_tick_refused_by_a_manual_runs_locks_is_run_once_they_are_free(
    make_project: ProjectFactory, webhook: dict[str, Any], policy: str
) -> None:
    from headwater.catalog.locks import Claim
    from headwater.catalog.store import new_run_id
    from headwater.orchestrate.lock import RunLocks

    project = every_minute(
        make_project,
        policy,
        extra=f"alerts:\n  channels:\n    - {{type: webhook, url: '{webhook['url']}'}}\n",
    )
    scheduler = Scheduler(project)
    scheduler.step(minutes(0))
    held = RunLocks(project.catalog, project.definition.state_dir, new_run_id(), "run")
    # a manual run holds what the job builds at its 09:01 tick, for several polls
    held.acquire([Claim(key) for key in project.definition.assets])
    try:
        for moment in (0.5, 0.52, 0.9):
            step = scheduler.step(minutes(moment))
            assert step.runs == [] and step.skipped_ticks == []
            ((job, tick, why),) = step.locked_ticks
            assert job == "often" and tick == minutes(0.5)
            assert "already running in this project" in why
    finally:
        held.release()
    # free again, late but before the next tick: the 09:01 tick runs now (even `none`)
    step = scheduler.step(minutes(1.0))
    assert [(job, s.status) for job, s in step.runs] == [("often", "success")]
    assert step.locked_ticks == [] and step.skipped_ticks == []
    assert scheduler.step(minutes(1.2)).runs == []  # and once only
    assert webhook["posts"] == []  # waiting for a lock is no failure
    (state,) = [r for r in project.runs(10) if r["command"] == "job often"]
    assert state["status"] == "success"


def test_a_refused_tick_is_retried_until_the_next_tick_is_due(make_project: ProjectFactory) -> None:
    from headwater.catalog.locks import Claim
    from headwater.catalog.store import new_run_id
    from headwater.orchestrate.lock import RunLocks

    project = every_minute(make_project, "latest")
    scheduler = Scheduler(project)
    scheduler.step(minutes(0))
    held = RunLocks(project.catalog, project.definition.state_dir, new_run_id(), "run")
    held.acquire([Claim(key) for key in project.definition.assets])
    try:
        assert scheduler.step(minutes(0.5)).locked_ticks[0][1] == minutes(0.5)
    finally:
        held.release()
    # the lock freed only after the 09:02 tick came due: `latest` runs once, for 09:02
    step = scheduler.step(minutes(1.6))
    assert len(step.runs) == 1 and step.skipped_ticks == [("often", minutes(0.5))]
    assert scheduler.step(minutes(1.7)).runs == []


def test_an_alert_no_channel_took_is_sent_again(make_project: ProjectFactory) -> None:
    state: dict[str, Any] = {"posts": [], "refuse": True}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            status = 503 if state["refuse"] else 200
            if status == 200:
                state["posts"].append(body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        project = make_project(
            {"models/m.sql": "select error('boom') as x"},
            config=(
                "jobs:\n  often:\n    cron: '* * * * *'\n"
                f"alerts:\n  channels:\n    - {{type: webhook, url: '{url}'}}\n"
            ),
        )
        scheduler = Scheduler(project)
        scheduler.step(minutes(0))
        scheduler.step(minutes(0.5))  # fails; the webhook refuses the alert
        assert state["posts"] == []
        state["refuse"] = False
        scheduler.step(minutes(1.5))  # fails again: deduplicated, but the first is redelivered
        assert [p["headwater"]["title"] for p in state["posts"]] == ["ALERT: run failed: job often"]
    finally:
        server.shutdown()
        server.server_close()
