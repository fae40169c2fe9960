"""Write-audit-publish: contracts, quarantine of rows, metrics history and anomalies."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater import Project
from headwater.quality.anomaly import robust_band
from tests.conftest import ProjectFactory, run_cli, write_files


def table_version(project: Project, key: str) -> int | None:
    namespace, name = key.split(".")
    path = project.definition.warehouse / namespace / name
    return DeltaTable(str(path)).version() if DeltaTable.is_deltatable(str(path)) else None


CONTRACT = """
contract: enforced
columns:
  - {name: id, type: BIGINT, nullable: false}
  - {name: amount, type: 'DECIMAL(10,2)'}
  - {name: note, type: VARCHAR}
"""


def test_an_enforced_contract_lists_every_mismatch_and_commits_nothing(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "models/core/o.sql": (
                "select 1::bigint as id, cast(2.5 as decimal(10,2)) as amount, 'x' as note"
            ),
            "models/core/o.yml": CONTRACT,
        }
    )
    assert project.run().status == "success"
    write_files(
        project.root,
        {"models/core/o.sql": "select 'one' as id, 2.5::double as amount, 3 as extra"},
    )
    project.reload()
    outcome = project.run().outcome("core.o")
    assert outcome.status == "failed"
    message = outcome.message or ""
    assert "breaks its contract" in message
    assert "column note is declared but missing" in message
    assert "column extra (INTEGER) is not declared" in message
    assert "column id is VARCHAR, declared BIGINT" in message
    assert "column amount is DOUBLE, declared DECIMAL(10,2)" in message
    assert table_version(project, "core.o") == 0
    assert project.query("select id from core.o").to_pylist() == [{"id": 1}]


def test_contract_nullability_is_checked_on_the_data(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "models/core/o.sql": (
                "select * from (values (1, 2.5::decimal(10,2), 'a'), (null, 1.0, 'b')) "
                "as t(id, amount, note)"
            ),
            "models/core/o.yml": CONTRACT.replace("BIGINT", "INTEGER"),
        }
    )
    outcome = project.run().outcome("core.o")
    assert outcome.status == "failed"
    assert "contract_not_null_id: 1 failing rows" in (outcome.message or "")
    assert table_version(project, "core.o") is None


def test_a_quarantine_check_moves_failing_rows_and_publishes_the_rest(
    make_project: ProjectFactory,
) -> None:
    rows = [
        f"{i},{-i if i % 7 == 0 else i},{'bad' if i % 11 == 0 else 'ok'}" for i in range(1, 101)
    ]
    project = make_project(
        {
            "seeds/events.csv": "id,amount,state\n" + "\n".join(rows) + "\n",
            "seeds/events.yml": (
                "columns:\n"
                "  - name: amount\n    checks: [{range: {min: 0, on_fail: quarantine}}]\n"
                "  - name: state\n"
                "    checks: [{accepted_values: {values: [ok], on_fail: quarantine}}]\n"
            ),
        }
    )
    outcome = project.run().outcome("raw.events")
    assert outcome.status == "success", outcome.message
    failing = {i for i in range(1, 101) if i % 7 == 0 or i % 11 == 0}
    published = {r["id"] for r in project.query("select id from raw.events").to_pylist()}
    quarantined = project.quarantine("raw.events", 1000).to_pylist()
    assert published == set(range(1, 101)) - failing
    assert len(published) + len(quarantined) == 100  # rows in = published + quarantined
    assert outcome.rows == len(published)
    assert f"{len(failing)} rows quarantined by checks" in (outcome.message or "")
    by_id = {json.loads(r["raw"])["id"]: r for r in quarantined}
    assert set(by_id) == failing
    both = by_id[77]  # 77 fails both checks
    assert both["location"] == "check range_amount, accepted_values_state"
    assert "amount outside 0..None" in both["reason"] and "state not in ['ok']" in both["reason"]
    assert by_id[7]["column"] == "amount" and by_id[7]["error_class"] == "check"
    history = {r["check_name"]: r["status"] for r in project.check_history("raw.events")}
    assert history == {"range_amount": "quarantined", "accepted_values_state": "quarantined"}


def test_metrics_are_recorded_once_per_published_version(make_project: ProjectFactory) -> None:
    project = make_project(
        {"seeds/s.csv": "id,score,day\n1,1.5,2024-01-01\n2,,2024-01-03\n3,4.5,2024-01-02\n"}
    )
    assert project.run().status == "success"
    metrics = {(m["metric"], m["column_name"]): m for m in project.metrics("raw.s")}
    assert metrics[("row_count", "")]["value"] == 3
    assert metrics[("null_fraction", "score")]["value"] == pytest.approx(1 / 3)
    assert metrics[("distinct_count", "id")]["value"] == 3
    assert metrics[("mean", "score")]["value"] == pytest.approx(3.0)
    assert metrics[("max", "day")]["text_value"] == "2024-01-03"
    assert json.loads(metrics[("schema", "")]["text_value"])[0] == ["id", "int64"]
    count = len(project.metrics("raw.s"))
    project.test()  # the same version again: no second point in the history
    assert len(project.metrics("raw.s")) == count


def _grow(project: Project, rows: int) -> None:
    body = "\n".join(f"{i},x" for i in range(rows))
    (project.root / "seeds/daily.csv").write_text("id,v\n" + body + "\n")
    project.reload()


def test_anomaly_flags_a_spike_but_not_normal_noise(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/daily.csv": "id,v\n1,x\n",
            "seeds/daily.yml": (
                "checks:\n  - {anomaly: {metric: row_count, k: 4, min_history: 8}}\n"
            ),
        }
    )
    rng = random.Random(7)
    verdicts: list[str] = []
    for _ in range(12):
        _grow(project, 1000 + rng.randint(-40, 40))  # normal day-to-day noise
        assert project.run().status == "success"
        verdicts.append(project.check_history("raw.daily", 1)[0]["status"])
    assert verdicts == ["pass"] * 12
    assert "too little history" in project.check_history("raw.daily", 20)[-1]["message"]
    _grow(project, 5000)  # a spike: warn (the default severity) but publish
    outcome = project.run().outcome("raw.daily")
    assert outcome.status == "success"
    latest = project.check_history("raw.daily", 1)[0]
    assert latest["status"] == "warn"
    assert "row_count 5000 is outside the usual" in latest["message"]
    _grow(project, 1010)
    project.run()
    assert project.check_history("raw.daily", 1)[0]["status"] == "pass"


def test_an_anomaly_of_a_column_metric_can_block(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/daily.csv": "id,v\n1,x\n",
            "seeds/daily.yml": (
                "checks:\n  - {anomaly: {metric: null_fraction, column: v, severity: error, "
                "min_history: 3}}\n"
            ),
        }
    )
    for day in range(4):
        body = "\n".join(f"{i},{'' if i % 10 == day % 2 else 'x'}" for i in range(100))
        (project.root / "seeds/daily.csv").write_text("id,v\n" + body + "\n")
        project.reload()
        assert project.run().status == "success"
    body = "\n".join(f"{i},{'' if i % 2 else 'x'}" for i in range(100))  # half NULL
    (project.root / "seeds/daily.csv").write_text("id,v\n" + body + "\n")
    project.reload()
    assert project.run().outcome("raw.daily").status == "failed"


@pytest.mark.parametrize(
    "history,value,flagged",
    [
        ([100, 102, 98, 101, 99, 100, 103, 97], 101, False),
        ([100, 102, 98, 101, 99, 100, 103, 97], 130, True),
        ([100] * 8, 100, False),
        ([100] * 8, 104, True),  # a steady history still notices a real change
        ([100, 102, 5000, 98, 101, 99], 103, False),  # one old spike does not widen the band
    ],
)
def test_robust_band(history: list[float], value: float, flagged: bool) -> None:
    band = robust_band(history, 3.0, 5)
    assert band is not None
    assert (not band.low <= value <= band.high) is flagged
    assert robust_band(history[:2], 3.0, 5) is None


def test_test_command_reports_status_counts_samples_and_sql(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/o.csv": "id,amount\n1,5\n2,-3\n3,-4\n",
            "seeds/o.yml": (
                "columns:\n  - name: amount\n    checks: [{range: {min: 0, severity: warn}}]\n"
            ),
            "models/core/m.sql": "select * from raw.o",
            "models/core/m.yml": "checks:\n  - {row_count: {min: 10}}\n",
        }
    )
    assert run_cli(["run", "--select", "raw.o"], project.root).returncode == 0
    result = run_cli(["test"], project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN  range_amount: 2 failing rows" in result.stdout
    assert "id=2" in result.stdout and "sql: SELECT * FROM raw.o WHERE" in result.stdout
    assert "core.m: not built yet" in result.stdout
    assert run_cli(["run"], project.root).returncode == 1  # row_count blocks core.m
    as_json: dict[str, Any] = json.loads(run_cli(["test", "--json"], project.root).stdout)
    checks = {c["name"]: c for a in as_json["assets"] for c in a["checks"]}
    assert checks["range_amount"]["failing"] == 2 and checks["range_amount"]["sample"]
    history = run_cli(["checks", "history", "raw.o"], project.root)
    assert history.returncode == 0 and "range_amount" in history.stdout


def test_profile_and_suggest_checks(make_project: ProjectFactory) -> None:
    project = make_project({"seeds/o.csv": "id,state,amount\n1,a,5\n2,b,7\n3,a,9\n4,b,\n"})
    assert project.run().status == "success"
    profiled = run_cli(["profile", "raw.o"], project.root)
    assert profiled.returncode == 0 and "4 rows" in profiled.stdout
    out = project.root / "seeds" / "o.yml"
    written = run_cli(["suggest-checks", "raw.o", "--output", str(out)], project.root)
    assert written.returncode == 0, written.stderr
    project.reload()
    checks = {c.label for c in project.definition.assets["raw.o"].checks}
    assert {"not_null_id", "unique_id", "accepted_values_state", "range_amount"} <= checks
    assert "not_null_amount" not in checks
    assert project.run(force=True).status == "success"  # the suggestion holds on the data
    again = run_cli(["suggest-checks", "raw.o", "--output", str(out)], project.root)
    assert again.returncode == 2 and "exists" in again.stderr


def test_checks_on_a_source_table_gate_its_load(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  orders:\n    path: data/*.csv\n    checks:\n"
                "      - {not_null: {column: customer, on_fail: quarantine}}\n"
                "      - {range: {column: amount, min: 0}}\n"
            ),
            "data/1.csv": "id,customer,amount\n1,ann,5\n2,,7\n3,bo,9\n",
        }
    )
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert outcome.rows == 2 and "1 rows quarantined by checks" in (outcome.message or "")
    assert [r["location"] for r in project.quarantine("shop.orders").to_pylist()] == [
        "check not_null_customer"
    ]
    write_files(project.root, {"data/2.csv": "id,customer,amount\n4,cy,-1\n"})
    blocked = project.run().outcome("shop.orders")
    assert blocked.status == "failed" and "range_amount" in (blocked.message or "")
    assert project.query("select count(*) as n from shop.orders").to_pylist() == [{"n": 2}]
    # the load did not advance: once the file is fixed, its rows arrive
    write_files(project.root, {"data/2.csv": "id,customer,amount\n4,cy,1\n"})
    assert project.run().outcome("shop.orders").status == "success"
    assert project.query("select count(*) as n from shop.orders").to_pylist() == [{"n": 3}]


def test_a_schema_change_is_reported_as_an_anomaly(make_project: ProjectFactory) -> None:
    project = make_project({"models/core/m.sql": "select 1 as id, 'a' as name"})
    assert project.run().status == "success"
    write_files(project.root, {"models/core/m.sql": "select 1::bigint as id, 2 as score"})
    project.reload()
    outcome = project.run().outcome("core.m")
    assert outcome.status == "success"
    expected = "schema changed: added score; removed name; changed type of id int32 -> int64"
    assert expected in (outcome.message or "")
    (latest,) = project.check_history("core.m", 1)
    assert latest["check_name"] == "schema_change" and latest["status"] == "warn"


def test_a_merge_screens_only_its_new_rows(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  orders:\n    path: data/*.csv\n    mode: merge\n"
                "    primary_key: id\n"
            ),
            "data/1.csv": "id,amount\n1,-5\n2,7\n",
        }
    )
    assert project.run().status == "success"  # no check yet: the -5 is published
    write_files(
        project.root,
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  orders:\n    path: data/*.csv\n    mode: merge\n"
                "    primary_key: id\n    checks:\n"
                "      - {range: {column: amount, min: 0, on_fail: quarantine, severity: warn}}\n"
            ),
            "data/2.csv": "id,amount\n3,-1\n4,9\n",
        },
    )
    project.reload()
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert "1 rows quarantined by checks" in (outcome.message or "")
    got = project.query("select id, amount from shop.orders order by id").to_pylist()
    assert got == [{"id": 1, "amount": -5}, {"id": 2, "amount": 7}, {"id": 4, "amount": 9}]
    assert [json.loads(r["raw"])["id"] for r in project.quarantine("shop.orders").to_pylist()] == [
        3
    ]
