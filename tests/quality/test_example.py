"""The e-commerce example's checks stop a broken export before any mart is published."""

from __future__ import annotations

import subprocess
import sys

from deltalake import DeltaTable

from headwater import Project


def test_a_broken_export_is_caught_and_no_mart_is_published(tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = Project.init(tmp_path / "shop", example="ecommerce")
    assert project.run().status == "success"
    warehouse = project.definition.warehouse
    versions = {
        key: DeltaTable(str(warehouse / key.replace(".", "/"))).version()
        for key in ("raw.order_items", "marts.fact_sales", "marts.daily_revenue")
    }
    facts = project.query("select count(*) as n, sum(net_amount) as s from marts.fact_sales")

    generate = [sys.executable, str(project.root / "generate.py"), "--day", "2"]
    subprocess.run([*generate, "--broken"], check=True, capture_output=True)
    project.reload()
    summary = project.run()
    assert summary.status == "failed"
    failed = summary.outcome("raw.order_items")
    assert failed.status == "failed"
    for check in (
        "not_null_order_id",
        "unique_order_id_line_number",
        "relationships_order_id",
        "range_quantity",
    ):
        assert check in (failed.message or ""), check
    for key in ("marts.fact_sales", "marts.daily_revenue", "marts.customer_lifetime_value"):
        assert summary.outcome(key).status == "skipped"
        assert summary.outcome(key).message == "upstream raw.order_items failed"
    for key, version in versions.items():
        assert DeltaTable(str(warehouse / key.replace(".", "/"))).version() == version, key
    assert (
        project.query(
            "select count(*) as n, sum(net_amount) as s from marts.fact_sales"
        ).to_pylist()
        == facts.to_pylist()
    )
    broken = project.query(
        "select count(*) as n from raw.order_items__failed "
        "where order_id is null or order_id = 999999 or quantity < 0"
    ).to_pylist()
    assert broken == [{"n": 3}]

    subprocess.run(generate, check=True, capture_output=True)  # the export, fixed
    project.reload()
    assert project.run().status == "success"
