"""The e-commerce example's export of customer lifetime value into a real PostgreSQL table:
left out where no CRM database is configured, and where one is, the CRM table equals the mart
after every day's build (mirror: customers deleted from the shop leave the CRM too)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headwater.workspace import Project
from tests.support.postgres import PostgresServer

CRM_TABLE = """
CREATE SCHEMA crm;
CREATE TABLE crm.customer_value (
  customer_id integer PRIMARY KEY, name text NOT NULL, segment text,
  orders integer NOT NULL, lifetime_value numeric(12, 2) NOT NULL,
  average_order_value numeric(12, 2), high_value boolean NOT NULL)
"""


def _crm_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return list(
            conn.execute(
                "SELECT customer_id, name, segment, orders, lifetime_value, average_order_value, "
                "high_value FROM crm.customer_value ORDER BY customer_id"
            ).fetchall()
        )


def _mart_rows(project: Project) -> list[tuple[Any, ...]]:
    table = project.query(
        "select customer_id, customer_name, segment, order_count, "
        "round(lifetime_revenue, 2) as lifetime_value, average_order_value, is_high_value "
        "from marts.customer_lifetime_value order by customer_id"
    )
    return [
        (r[0], r[1], r[2], r[3], Decimal(str(r[4])).quantize(Decimal("0.01")), r[5], r[6])
        for r in (tuple(row.values()) for row in table.to_pylist())
    ]


def test_the_export_is_left_out_without_a_crm_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_CRM_URL", raising=False)
    project = Project.init(tmp_path / "shop", example="ecommerce")
    try:
        assert "exports.customer_value_to_crm" not in project.definition.assets
    finally:
        project.close()


def test_the_crm_table_follows_the_mart_day_by_day(
    tmp_path: Path,
    postgres_server: PostgresServer,
    postgres_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsn = postgres_server.dsn(postgres_db)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(CRM_TABLE)
    monkeypatch.setenv("SHOP_CRM_URL", postgres_server.url(postgres_db))
    project = Project.init(tmp_path / "shop", example="ecommerce")
    try:
        assert project.run().status == "success"
        first = _crm_rows(dsn)
        assert first == _mart_rows(project)
        assert len(first) > 100

        subprocess.run(
            [sys.executable, "generate.py", "--day", "2"],
            cwd=project.root,
            check=True,
            capture_output=True,
        )
        project.reload()
        summary = project.run()
        assert summary.status == "success"
        outcome = summary.outcome("exports.customer_value_to_crm")
        assert outcome.message is not None and "deleted" in outcome.message
        second = _crm_rows(dsn)
        assert second == _mart_rows(project)
        assert {r[0] for r in first} - {r[0] for r in second}, "day 2 deletes customers"
    finally:
        project.close()
