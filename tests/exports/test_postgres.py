"""Exports into a real PostgreSQL table: upsert, mirror with deletes, append, refused rows,
type checks before sending, and only the changes since the last export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headwater.errors import ConfigError
from headwater.orchestrate.results import RunSummary
from headwater.workspace import Project
from tests.conftest import ProjectFactory, rows, write_files
from tests.support.postgres import PostgresServer

CUSTOMERS = """\
customer_id,name,segment,ltv
1,Ann,gold,120.50
2,Bo,silver,80.00
3,Cy,gold,
"""


def _export(mode: str, extra: str = "", table: str = "crm.customer_ltv") -> str:
    key = "" if mode == "append" else "    key: [customer_id]\n"
    return (
        "exports:\n"
        "  - name: ltv_to_crm\n"
        "    from: customers\n"
        f"    mode: {mode}\n"
        f"{key}"
        "    to:\n"
        "      postgres:\n"
        "        url: ${HW_TEST_CRM_URL}\n"
        f"        table: {table}\n"
        f"{extra}"
    )


@pytest.fixture
def crm(
    postgres_server: PostgresServer, postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], list[tuple[Any, ...]]]:
    """The destination database (its URL in HW_TEST_CRM_URL), with table crm.customer_ltv;
    returns a function running a query there."""
    monkeypatch.setenv("HW_TEST_CRM_URL", postgres_server.url(postgres_db))
    url = postgres_server.dsn(postgres_db)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA crm")
        conn.execute(
            "CREATE TABLE crm.customer_ltv (customer_id integer PRIMARY KEY, name text NOT NULL, "
            "segment varchar(6), ltv numeric(10, 2), updated_at timestamptz DEFAULT now())"
        )

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []

    return query


def _project(make_project: ProjectFactory, mode: str, extra: str = "") -> Project:
    return make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "exports/crm.yml": _export(mode, extra),
        }
    )


def _reseed(project: Project, text: str) -> None:
    write_files(project.root, {"seeds/customers.csv": text})
    project.reload()


def _ok(summary: RunSummary) -> bool:
    return summary.exit_code == 0


def _says(summary: RunSummary) -> str:
    return " | ".join(f"{o.key}: {o.status} {o.message}" for o in summary.outcomes)


def _table(crm: Callable[[str], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    return [
        (r[0], r[1], r[2], None if r[3] is None else float(r[3]))
        for r in crm("SELECT customer_id, name, segment, ltv FROM crm.customer_ltv ORDER BY 1")
    ]


def test_upsert_sends_only_what_changed(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    project = _project(make_project, "upsert")
    result = project.run()
    assert _ok(result), _says(result)
    assert _table(crm) == [
        (1, "Ann", "gold", 120.5),
        (2, "Bo", "silver", 80.0),
        (3, "Cy", "gold", None),
    ]
    positions = "SELECT version FROM crm.headwater_export_positions WHERE export = 'ltv_to_crm'"
    (version,) = crm(positions)[0]
    assert version == project.current_version("raw.customers")

    crm("UPDATE crm.customer_ltv SET name = 'touched elsewhere' WHERE customer_id = 1")
    _reseed(project, CUSTOMERS.replace("Bo,silver,80.00", "Bo,gold,95.00") + "4,Di,bronze,10\n")
    last = project.run()
    assert _ok(last), _says(last)
    # row 1 did not change in the asset, so it was not sent again
    assert _table(crm) == [
        (1, "touched elsewhere", "gold", 120.5),
        (2, "Bo", "gold", 95.0),
        (3, "Cy", "gold", None),
        (4, "Di", "bronze", 10.0),
    ]
    again = project.run()
    assert _ok(again)
    assert _table(crm)[0][1] == "touched elsewhere"


def test_mirror_deletes_rows_gone_from_the_asset(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    project = _project(make_project, "mirror")
    last = project.run()
    assert _ok(last), _says(last)
    _reseed(project, "customer_id,name,segment,ltv\n1,Ann,gold,121\n3,Cy,gold,\n")
    last = project.run()
    assert _ok(last), _says(last)
    assert _table(crm) == [(1, "Ann", "gold", 121.0), (3, "Cy", "gold", None)]


def test_append_inserts_only_rows_gained(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    crm("ALTER TABLE crm.customer_ltv DROP CONSTRAINT customer_ltv_pkey")
    project = _project(make_project, "append")
    last = project.run()
    assert _ok(last), _says(last)
    _reseed(project, CUSTOMERS + "4,Di,bronze,10\n")
    last = project.run()
    assert _ok(last), _says(last)
    assert _ok(project.run(full_refresh=False))
    assert [r[0] for r in _table(crm)] == [1, 2, 3, 4]


def test_refused_rows_are_quarantined_and_the_rest_land(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    crm("ALTER TABLE crm.customer_ltv ADD CONSTRAINT positive CHECK (ltv >= 0)")
    text = CUSTOMERS + "5,Ed,platinum,3\n6,Flo,gold,-4\n7,,gold,1\n"
    project = make_project({"seeds/customers.csv": text, "exports/crm.yml": _export("upsert")})
    result = project.run()
    assert _ok(result), _says(result)
    assert [r[0] for r in _table(crm)] == [1, 2, 3]
    refused = rows(
        project,
        "SELECT reason, raw FROM exports.ltv_to_crm__quarantine ORDER BY raw",
    )
    reasons = " | ".join(r[0] for r in refused)
    assert len(refused) == 3
    assert "too long" in reasons  # platinum into varchar(6)
    assert "positive" in reasons
    assert "null value" in reasons
    # a second run sends nothing again and quarantines nothing again
    last = project.run()
    assert _ok(last), _says(last)
    assert len(rows(project, "SELECT * FROM exports.ltv_to_crm__quarantine")) == 3


def test_types_are_checked_before_anything_is_sent(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    crm("ALTER TABLE crm.customer_ltv ADD COLUMN since date")
    extra = "    columns:\n      customer_id: customer_id\n      name: name\n      since: segment\n"
    project = _project(make_project, "upsert", extra)
    result = project.run()
    assert not _ok(result)
    message = _says(result)
    assert "since" in message and "date" in message
    assert crm("SELECT count(*) FROM crm.customer_ltv") == [(0,)]


def test_unknown_asset_is_refused_at_load(make_project: ProjectFactory, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _ = make_project(
            {
                "seeds/customers.csv": CUSTOMERS,
                "exports/crm.yml": _export("upsert").replace("from: customers", "from: customer"),
            }
        ).definition
    assert "did you mean" in str(raised.value)
    assert "exports/crm.yml:3" in str(raised.value)


def _things(make_project: ProjectFactory, sql: str, mode: str = "upsert") -> Project:
    key = "" if mode == "append" else "    key: [id]\n"
    return make_project(
        {
            "models/things.sql": sql,
            "exports/x.yml": (
                f"exports:\n  - name: out\n    from: things\n    mode: {mode}\n{key}"
                "    to:\n      postgres:\n        url: ${HW_TEST_CRM_URL}\n        table: crm.t\n"
            ),
        }
    )


def test_awkward_values_land_or_are_refused_one_by_one(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]], postgres_db: str
) -> None:
    # the server's zone is not UTC: a naive timestamp is UTC all the same
    crm(f"ALTER DATABASE \"{postgres_db}\" SET timezone = 'America/New_York'")
    crm("CREATE TABLE crm.t (id numeric(10, 1) PRIMARY KEY, doc json, at timestamptz, s text)")
    sql = (
        "select 1 as id, '{\"a\": 1}' as doc, timestamp '2024-01-01 12:00:00' as at, 'ok' as s "
        "union all select 2, '[]', null, 'a' || chr(0) || 'b' "  # NUL: PostgreSQL text refuses
        "union all select 3.01, 'null', null, 'x' union all select 3.04, 'null', null, 'y'"
    )
    project = _things(make_project, sql)
    summary = project.run()
    assert _ok(summary), _says(summary)
    got = crm("SELECT id, doc::text, at AT TIME ZONE 'UTC' FROM crm.t ORDER BY id")
    # 3.01 and 3.04 are one key as numeric(10, 1): applied one after the other, not refused
    assert [(float(r[0]), r[1]) for r in got] == [(1.0, '{"a": 1}'), (3.0, "null")]
    assert str(got[0][2]) == "2024-01-01 12:00:00"
    reasons = [r[0] for r in rows(project, "select reason from exports.out__quarantine")]
    assert len(reasons) == 1 and "NUL" in reasons[0]
    # a json column is compared as text: running again rewrites nothing and fails nothing
    assert _ok(project.run(full_refresh=True))


def test_mirror_sending_every_row_deletes_what_the_asset_lost(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    project = _project(make_project, "mirror")
    assert _ok(project.run())
    crm("INSERT INTO crm.customer_ltv (customer_id, name) VALUES (99, 'stale')")
    _reseed(project, "customer_id,name,segment,ltv\n1,Ann,gold,121\n")
    summary = project.run(full_refresh=True)
    assert _ok(summary), _says(summary)
    assert [r[0] for r in _table(crm)] == [1]


def test_an_export_reading_another_asset_sends_it_whole(
    make_project: ProjectFactory, crm: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "seeds/prospects.csv": "customer_id,name,segment,ltv\n10,Pia,new,0\n11,Quy,new,0\n",
            "exports/crm.yml": _export("upsert"),
        }
    )
    assert _ok(project.run())
    # more commits to prospects than customers had: its version numbers would skip rows
    for extra in range(3):
        text = f"customer_id,name,segment,ltv\n10,Pia,new,{extra}\n11,Quy,new,0\n"
        write_files(project.root, {"seeds/prospects.csv": text})
        project.reload()
        assert _ok(project.run())
    (project.root / "exports/crm.yml").write_text(
        _export("upsert").replace("from: customers", "from: prospects")
    )
    project.reload()
    summary = project.run()
    assert _ok(summary), _says(summary)
    assert "reads raw.prospects now" in (summary.outcome("exports.ltv_to_crm").message or "")
    assert {10, 11} <= {r[0] for r in _table(crm)}
