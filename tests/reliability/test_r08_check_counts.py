"""R8: a check over 1,000,000 rows with k in {0, 1, 1000, 999999} violations.

Pass: the failing count is exactly k for a row check, a uniqueness check and a relationship; the
sample of failing rows is bounded and carries the key; a check that itself errors is reported as
such and the run does not crash.
"""

from __future__ import annotations

import pytest

from headwater.quality.audit import SAMPLE_ROWS
from tests.conftest import ProjectFactory

ROWS = 1_000_000


@pytest.mark.parametrize("k", [0, 1, 1000, 999_999])
def test_r8_exact_failing_counts_and_bounded_samples(make_project: ProjectFactory, k: int) -> None:
    # rows with id < k are the violations: a NULL value, a duplicated code, an orphan parent
    model = (
        f"select i as id, case when i < {k} then null else i end as v, "
        f"case when i < {k} then -1 else i end as code, "
        f"case when i < {k} then -i - 1 else i % 1000 end as parent_id "
        f"from range({ROWS}) as t(i)"
    )
    checks = (
        "unique_key: id\n"
        "columns:\n"
        "  - name: v\n    checks: [{not_null: {severity: warn}}]\n"
        "  - name: code\n    checks: [{unique: {severity: warn}}]\n"
        "  - name: parent_id\n"
        "    checks: [{relationships: {to: core.parents, field: id, severity: warn}}]\n"
        # a check that itself errors when it runs (its columns exist; a column the model lacks
        # is refused when the project loads, before anything runs)
        "checks:\n"
        "  - {expression: {sql: \"cast('x' || code::varchar as integer) > 0\", severity: warn}}\n"
    )
    project = make_project(
        {
            "models/core/parents.sql": "select range as id from range(1000)",
            "models/core/facts.sql": model,
            "models/core/facts.yml": checks,
        }
    )
    summary = project.run()
    assert summary.status == "success", [o.message for o in summary.outcomes]
    results = {r["check_name"]: r for r in project.check_history("core.facts")}
    duplicated = k if k > 1 else 0  # one row with code -1 is still unique
    expected = {"not_null_v": k, "unique_code": duplicated, "relationships_parent_id": k}
    for name, failing in expected.items():
        result = results[name]
        assert result["failing"] == failing, (name, result)
        assert result["total"] == ROWS
        assert result["status"] == ("warn" if failing else "pass")
        assert len(result["sample"]) == min(failing, SAMPLE_ROWS)
        assert all("id" in row for row in result["sample"]), "samples carry the key"
    assert results["expression"]["status"] == "error"
    assert "Could not convert string" in results["expression"]["message"]

    # the same through `headwater test` on the published table
    run = project.test(["core.facts"])
    assert run.assets[0].report is not None
    again = {r.name: r.failing for r in run.assets[0].report.results}
    assert {n: again[n] for n in expected} == expected
