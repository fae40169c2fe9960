"""Every check type, passing and failing, through real builds of real Delta tables.

Each case builds a small seed whose sidecar holds one check, once with data that passes and
once with data that fails, and reads the verdict from the catalog the run wrote.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, run_cli, write_files

HEADER = "id,amount,status,email,shipped,received,at\n"
GOOD = [
    "1,10,open,a@x.org,2024-01-01,2024-01-02,{now}",
    "2,20,closed,b@x.org,2024-01-02,2024-01-03,{now}",
    "3,30,open,c@x.org,2024-01-03,2024-01-03,{now}",
]


def seed(rows: list[str], recent: bool = True) -> str:
    moment = dt.datetime.now(dt.UTC) - (dt.timedelta(0) if recent else dt.timedelta(days=3))
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
    return HEADER + "\n".join(r.format(now=stamp) for r in rows) + "\n"


SIDECAR_TYPES = (
    "columns:\n"
    "  - {name: shipped, type: DATE}\n  - {name: received, type: DATE}\n"
    "  - {name: at, type: TIMESTAMP}\n"
)

# (check YAML under `checks:`, rows that fail it, failing count)
CASES: dict[str, tuple[str, list[str], int | None]] = {
    "not_null": (
        "{type: not_null, column: amount}",
        ["4,,open,d@x.org,2024-01-01,2024-01-02,{now}"],
        1,
    ),
    "unique": ("{unique: {column: id}}", ["3,40,open,d@x.org,2024-01-01,2024-01-02,{now}"], 2),
    "unique_compound": (
        "{unique: {columns: [id, status]}}",
        ["3,40,open,d@x.org,2024-01-01,2024-01-02,{now}"],
        2,
    ),
    "accepted_values": (
        "{accepted_values: {column: status, values: [open, closed]}}",
        ["4,1,lost,d@x.org,2024-01-01,2024-01-02,{now}"],
        1,
    ),
    "range": (
        "{range: {column: amount, min: 0, max: 100}}",
        [
            "4,101,open,d@x.org,2024-01-01,2024-01-02,{now}",
            "5,-1,open,e@x.org,2024-01-01,2024-01-02,{now}",
        ],
        2,
    ),
    "range_exclusive": (
        "{between: {column: amount, min: 5, max: 35, inclusive: false}}",
        [  # the bounds themselves fail when they are exclusive
            "4,5,open,d@x.org,2024-01-01,2024-01-02,{now}",
            "5,35,open,e@x.org,2024-01-01,2024-01-02,{now}",
        ],
        2,
    ),
    "regex": (
        "{regex: {column: email, pattern: '^[^@]+@[^@]+$'}}",
        ["4,1,open,not-an-email,2024-01-01,2024-01-02,{now}"],
        1,
    ),
    "expression": (
        "{expression: {sql: 'shipped <= received'}}",
        ["4,1,open,d@x.org,2024-02-01,2024-01-02,{now}"],
        1,
    ),
    "relationships": (
        "{relationships: {column: status, to: raw.statuses, field: name}}",
        ["4,1,shipped,d@x.org,2024-01-01,2024-01-02,{now}"],
        1,
    ),
    "row_count": (
        "{row_count: {min: 1, max: 3}}",
        ["4,1,open,d@x.org,2024-01-01,2024-01-02,{now}"],
        None,
    ),
    "sql": (
        """{sql: "select * from {{ this }} where amount > 25 and status = 'closed'"}""",
        ["4,99,closed,d@x.org,2024-01-01,2024-01-02,{now}"],
        1,
    ),
}


def make(make_project: ProjectFactory, check: str, rows: list[str], recent: bool = True) -> Project:
    return make_project(
        {
            "seeds/orders.csv": seed(rows, recent),
            "seeds/orders.yml": f"{SIDECAR_TYPES}checks:\n  - {check}\n",
            "seeds/statuses.csv": "name\nopen\nclosed\n",
        }
    )


def verdicts(project: Project, key: str = "raw.orders") -> dict[str, dict[str, Any]]:
    return {r["check_name"]: r for r in reversed(project.check_history(key))}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_check_passes_on_good_data_and_fails_on_bad(
    make_project: ProjectFactory, case: str
) -> None:
    check, bad_rows, failing = CASES[case]
    good = make(make_project, check, GOOD)
    summary = good.run()
    assert summary.status == "success", [o.message for o in summary.outcomes]
    (result,) = verdicts(good).values()
    assert result["status"] == "pass", result
    assert result["failing"] in (0, None)

    bad = make_project(
        {
            "seeds/orders.csv": seed(GOOD + bad_rows),
            "seeds/orders.yml": f"{SIDECAR_TYPES}checks:\n  - {check}\n",
            "seeds/statuses.csv": "name\nopen\nclosed\n",
        },
        folder="bad",
    )
    outcome = bad.run().outcome("raw.orders")
    assert outcome.status == "failed"
    (result,) = verdicts(bad).values()
    assert result["status"] == "fail" and result["published"] == 0
    if failing is not None:
        assert result["failing"] == failing
        assert result["sample"], "failing rows are sampled"
        assert result["sql_text"].startswith("SELECT") or "raw.orders" in result["sql_text"]
    assert not DeltaTable.is_deltatable(str(bad.definition.warehouse / "raw" / "orders"))


def test_freshness_of_a_column_and_since_the_last_load(make_project: ProjectFactory) -> None:
    check = "{freshness: {column: at, max_age: 1d}}"
    fresh = make(make_project, check, GOOD, recent=True)
    assert fresh.run().status == "success"
    stale = make_project(
        {
            "seeds/orders.csv": seed(GOOD, recent=False),
            "seeds/orders.yml": f"{SIDECAR_TYPES}checks:\n  - {check}\n",
        },
        folder="stale",
    )
    assert stale.run().status == "failed"
    assert "more than 1d" in verdicts(stale)["freshness_at"]["message"]

    since_load = make_project(
        {
            "seeds/orders.csv": seed(GOOD),
            "seeds/orders.yml": "checks:\n  - {freshness: {max_age: 1h}}\n",
        },
        folder="since",
    )
    assert since_load.run().status == "success"
    run = since_load.test()
    assert not run.failed
    assert "last loaded" in run.assets[0].report.results[0].message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "tolerance,passes",
    [
        ("mostly: 0.6", True),
        ("mostly: 0.9", False),
        ("max_failures: 2", True),
        ("max_failures: 1", False),
    ],
)
def test_tolerances(make_project: ProjectFactory, tolerance: str, passes: bool) -> None:
    rows = [
        *GOOD,
        "4,,open,d@x.org,2024-01-01,2024-01-02,{now}",
        "5,,open,e@x.org,2024-01-01,2024-01-02,{now}",
    ]
    project = make(make_project, f"{{not_null: {{column: amount, {tolerance}}}}}", rows)
    assert (project.run().status == "success") is passes
    result = verdicts(project)["not_null_amount"]
    assert result["failing"] == 2 and result["status"] == ("pass" if passes else "fail")


def test_warn_publishes_and_reports(make_project: ProjectFactory) -> None:
    rows = [*GOOD, "4,,open,d@x.org,2024-01-01,2024-01-02,{now}"]
    project = make(make_project, "{not_null: {column: amount, severity: warn}}", rows)
    outcome = project.run().outcome("raw.orders")
    assert outcome.status == "success"
    assert "warn not_null_amount: 1 failing rows" in (outcome.message or "")
    assert DeltaTable(str(project.definition.warehouse / "raw" / "orders")).version() == 0
    assert verdicts(project)["not_null_amount"]["published"] == 1


def test_column_checks_in_the_dbt_vocabulary(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/orders.csv": seed(GOOD),
            "seeds/orders.yml": (
                "columns:\n"
                "  - name: id\n    tests: [not_null, unique]\n"
                "  - name: status\n    data_tests:\n"
                "      - accepted_values: {values: [open, closed]}\n"
            ),
        }
    )
    assert project.run().status == "success"
    assert set(verdicts(project)) == {"not_null_id", "unique_id", "accepted_values_status"}


def test_a_check_that_cannot_run_is_an_error_and_the_others_still_run(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/orders.csv": seed(GOOD),
            "seeds/statuses.csv": "name\nopen\n",
            "seeds/orders.yml": (
                "checks:\n  - {expression: {sql: 'no_such_function(amount) > 1'}}\n"
                "  - {not_null: {column: id}}\n"
                "  - {sql: 'select * from no_such_table'}\n"
            ),
        }
    )
    outcome = project.run().outcome("raw.orders")
    assert outcome.status == "failed"
    found = verdicts(project)
    assert found["expression"]["status"] == "error"
    assert "could not run" in found["expression"]["message"]
    assert found["sql"]["status"] == "error"
    assert found["not_null_id"]["status"] == "pass"


def test_checks_on_a_model_block_it_and_skip_downstream_keeping_the_old_version(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/orders.csv": seed(GOOD),
            "models/core/paid.sql": "select id, amount from raw.orders",
            "models/core/paid.yml": "columns:\n  - name: amount\n    checks: [{range: {min: 0}}]\n",
            "models/marts/total.sql": "select sum(amount) as total from core.paid",
        }
    )
    assert project.run().status == "success"
    write_files(
        project.root,
        {"seeds/orders.csv": seed([*GOOD, "4,-50,open,d@x.org,2024-01-01,2024-01-02,{now}"])},
    )
    project.reload()
    summary = project.run()
    assert summary.outcome("core.paid").status == "failed"
    assert summary.outcome("marts.total").status == "skipped"
    assert "upstream core.paid failed" in (summary.outcome("marts.total").message or "")
    # readers still see the previous version; the failed rows are kept aside
    assert project.query("select count(*) as n from core.paid").to_pylist() == [{"n": 3}]
    assert project.query("select total from marts.total").to_pylist() == [{"total": 60}]
    aside = project.query("select id from core.paid__failed where amount < 0").to_pylist()
    assert aside == [{"id": 4}]
    assert DeltaTable(str(project.definition.warehouse / "core" / "paid")).version() == 0
    result = run_cli(["run"], project.root)
    assert result.returncode == 1 and "range_amount" in result.stdout + result.stderr


def test_checks_on_a_view_run_when_it_builds(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/orders.csv": seed([*GOOD, "4,-1,open,d@x.org,2024-01-01,2024-01-02,{now}"]),
            "models/staging/v.sql": "select id, amount from raw.orders",
            "models/staging/v.yml": (
                "materialized: view\ncolumns:\n  - name: amount\n    checks: [{range: {min: 0}}]\n"
            ),
            "models/marts/m.sql": "select count(*) as n from staging.v",
        }
    )
    summary = project.run()
    assert summary.outcome("staging.v").status == "failed"
    assert "range_amount: 1 failing rows" in (summary.outcome("staging.v").message or "")
    assert summary.outcome("marts.m").status == "skipped"
    assert verdicts(project, "staging.v")["range_amount"]["failing"] == 1


def test_a_relationship_to_an_unknown_asset_is_a_config_error(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/orders.csv": seed(GOOD),
            "seeds/orders.yml": (
                "checks:\n  - {relationships: {column: id, to: nowhere, field: x}}\n"
            ),
        }
    )
    result = run_cli(["dag"], project.root)
    assert result.returncode == 2
    assert "check relationships_id of raw.orders refers to unknown asset 'nowhere'" in result.stderr
    assert "seeds/orders.yml" in result.stderr


# -- names and columns checks read -------------------------------------------------------------


def test_an_expression_sample_shows_the_columns_it_reads(make_project: ProjectFactory) -> None:
    """Without a key the sample shows the leading columns: `shipped` and `received`, read by
    the expression, are added even though they come later."""
    project = make(
        make_project,
        "{expression: {sql: 'shipped <= received'}}",
        [*GOOD, "4,1,open,d@x.org,2024-02-01,2024-01-02,{now}"],
    )
    project.run()
    (sample_row,) = verdicts(project)["expression"]["sample"]
    assert sample_row["id"] == 4
    assert str(sample_row["shipped"]) == "2024-02-01"
    assert str(sample_row["received"]) == "2024-01-02"


def test_default_names_of_checks_of_one_kind_are_unique(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/orders.csv": seed([*GOOD, "4,1,lost,d@x.org,2024-02-01,2024-01-02,{now}"]),
            "seeds/orders.yml": (
                f"{SIDECAR_TYPES}checks:\n"
                "  - {expression: {sql: 'shipped <= received'}}\n"
                "  - {expression: {sql: 'amount > 0'}}\n"
                "  - {accepted_values: {column: status, values: [open, closed]}}\n"
                "  - {accepted_values: {column: status, values: [open, closed, lost]}}\n"
            ),
        }
    )
    names = [c.label for c in project.definition.assets["raw.orders"].checks]
    assert names == [
        "expression",
        "expression_2",
        "accepted_values_status",
        "accepted_values_status_2",
    ]

    project.run()
    found = verdicts(project)
    assert found["expression"]["status"] == "fail"
    assert found["expression_2"]["status"] == "pass"
    assert found["accepted_values_status"]["status"] == "fail"
    assert found["accepted_values_status_2"]["status"] == "pass"


def test_a_check_on_a_column_known_only_at_build_fails_before_the_audit(
    make_project: ProjectFactory,
) -> None:
    """`select *` from a source never loaded: the columns are known when the model is built,
    and the error is the load-time one, at the YAML line, with nothing published."""
    project = make_project(
        {
            "data/orders.csv": "id,customer_id\n1,7\n",
            "sources/files.yml": "kind: files\ntables:\n  orders:\n    path: data/orders.csv\n",
            "models/stg.sql": "select * from files.orders",
            "models/stg.yml": "columns:\n  - name: custmer_id\n    tests: [not_null]\n",
        }
    )
    outcome = project.run().outcome("main.stg")
    assert outcome.status == "failed"
    message = outcome.message or ""
    assert "models/stg.yml:2" in message
    assert "check not_null_custmer_id of main.stg reads column 'custmer_id'" in message
    assert "did you mean 'customer_id'?" in message
    assert "Binder Error" not in message and "__failed" not in message
    stored = project.definition.warehouse / "main" / "stg"
    assert not DeltaTable.is_deltatable(str(stored))
    assert not list(stored.rglob("*.parquet")) if stored.exists() else True


def test_headwater_test_says_which_column_a_check_misses(make_project: ProjectFactory) -> None:
    """Columns unknown at load (a column named after its expression): `headwater test` on the
    published table names the missing column instead of the engine's Binder Error."""
    project = make_project(
        {
            "seeds/orders.csv": seed(GOOD),
            "models/m.sql": (
                "select id, customer_total, amount + 1 "
                "from (select *, 1 as customer_total from raw.orders)"
            ),
        }
    )
    assert project.run().status == "success"
    write_files(
        project.root, {"models/m.yml": "checks:\n  - {not_null: {column: custmer_total}}\n"}
    )
    result = run_cli(["test"], project.root)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "it reads column 'custmer_total' (did you mean 'customer_total'?)" in output
    assert "Binder Error" not in output
