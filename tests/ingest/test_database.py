"""SQL sources against a real PostgreSQL server and a real SQLite file."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, run_cli
from tests.support.postgres import PostgresServer


def table_rows(project: Project, key: str, *columns: str) -> list[tuple[Any, ...]]:
    namespace, name = key.split(".")
    table = DeltaTable(str(project.definition.warehouse / namespace / name)).to_pyarrow_table()
    names = list(columns) or table.column_names
    return sorted(tuple(r[c] for c in names) for r in table.to_pylist())


def pg_rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as connection:
        return sorted(connection.execute(sql).fetchall())


@pytest.fixture(autouse=True)
def pg_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sources below take their password from PG_PASSWORD (the test server trusts all)."""
    monkeypatch.setenv("PG_PASSWORD", "not-checked-by-trust-auth")


@pytest.fixture
def shop_db(postgres_server: PostgresServer) -> str:
    """A database with an `orders` table of 100 rows; returns its libpq DSN."""
    name = postgres_server.create_database()
    dsn = postgres_server.dsn(name)
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "CREATE TABLE orders (id integer PRIMARY KEY, customer text, "
            "amount numeric(10, 2), paid boolean, ordered_on date, "
            "updated_at timestamp NOT NULL, note text)"
        )
        connection.execute(
            "INSERT INTO orders SELECT i, 'c' || (i % 7), i * 1.25, i % 2 = 0, "
            "date '2024-01-01' + i, timestamp '2024-01-01' + i * interval '1 minute', "
            "CASE WHEN i % 10 = 0 THEN NULL WHEN i % 10 = 1 THEN '' "
            "ELSE 'note, \"quoted\"' || chr(10) || 'line ' || i END "
            "FROM generate_series(1, 100) AS i"
        )
    return dsn


def pg_source(server: PostgresServer, dsn: str, table_settings: str) -> dict[str, str]:
    database = dsn.rsplit("dbname=", 1)[1]
    return {
        "sources/pg.yml": (
            "kind: sql\n"
            f"url: postgresql://postgres:${{PG_PASSWORD}}@127.0.0.1:{server.port}/{database}\n"
            "retries:\n  attempts: 2\n  backoff: 0.01\n"
            f"tables:\n{table_settings}"
        )
    }


INCREMENTAL = """  orders:
    table: public.orders
    mode: incremental
    cursor: updated_at
    primary_key: id
"""


def test_postgres_incremental_loads_inserts_and_updates_exactly_once(
    make_project: ProjectFactory,
    postgres_server: PostgresServer,
    shop_db: str,
) -> None:
    project = make_project(pg_source(postgres_server, shop_db, INCREMENTAL))
    first = project.run()
    assert first.status == "success", first.outcomes
    assert first.outcome("pg.orders").rows == 100
    columns = "id, customer, amount, paid, ordered_on, updated_at, note"
    assert table_rows(project, "pg.orders", *columns.split(", ")) == pg_rows(
        shop_db, f"SELECT {columns} FROM orders"
    )
    with psycopg.connect(shop_db) as connection:
        connection.execute(
            "INSERT INTO orders SELECT i, 'new', 1, true, date '2025-01-01', "
            "timestamp '2025-01-01' + i * interval '1 second', 'n' "
            "FROM generate_series(101, 110) AS i"
        )
        connection.execute(
            "UPDATE orders SET amount = amount + 1000, updated_at = timestamp '2025-02-01' "
            "WHERE id <= 5"
        )
    second = project.run()
    assert second.outcome("pg.orders").rows == 15
    assert table_rows(project, "pg.orders", *columns.split(", ")) == pg_rows(
        shop_db, f"SELECT {columns} FROM orders"
    )
    third = project.run()
    assert third.outcome("pg.orders").message == "nothing new"
    info = project.sources()[0]
    assert info["cursor"] == "2025-02-01T00:00:00"


def test_postgres_types_nulls_and_awkward_text_survive(
    make_project: ProjectFactory, postgres_server: PostgresServer, shop_db: str
) -> None:
    project = make_project(pg_source(postgres_server, shop_db, "  orders: {}\n"))
    assert project.run().status == "success"
    by_id = {r[0]: r for r in table_rows(project, "pg.orders", "id", "amount", "paid", "note")}
    assert by_id[10][3] is None  # NULL stays NULL
    assert by_id[11][3] == ""  # the empty string stays an empty string
    assert by_id[12][3] == 'note, "quoted"\nline 12'
    assert by_id[12][1] == decimal.Decimal("15.00") and by_id[12][2] is True
    schema = DeltaTable(str(project.definition.warehouse / "pg/orders")).schema().to_arrow()
    types = {f.name: str(f.type) for f in pa.schema(schema)}
    assert types["amount"] == "decimal128(10, 2)" and types["ordered_on"] == "date32[day]"


def test_postgres_columns_and_where_filter_at_the_source(
    make_project: ProjectFactory, postgres_server: PostgresServer, shop_db: str
) -> None:
    settings = "  paid:\n    table: orders\n    select: [id, amount]\n    where: paid\n"
    project = make_project(pg_source(postgres_server, shop_db, settings))
    assert project.run().status == "success"
    assert table_rows(project, "pg.paid") == pg_rows(
        shop_db, "SELECT id, amount FROM orders WHERE paid"
    )


def test_an_unknown_table_fails_at_once_naming_source_and_table(
    make_project: ProjectFactory, postgres_server: PostgresServer, shop_db: str
) -> None:
    project = make_project(pg_source(postgres_server, shop_db, "  ghosts: {}\n"))
    outcome = project.run().outcome("pg.ghosts")
    assert outcome.status == "failed"
    assert "source pg, table ghosts" in (outcome.message or "")
    assert "does not exist" in (outcome.message or "")
    assert "failed 2 times" not in (outcome.message or "")  # permanent: not retried
    assert "see docs/sources.md" in (outcome.message or "")


def test_an_unreachable_server_is_retried_and_the_password_never_shows(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-Secret-4711"
    monkeypatch.setenv("PG_PASSWORD", canary)
    project = make_project(
        {
            "sources/pg.yml": (
                "kind: sql\nurl: postgresql://postgres:${PG_PASSWORD}@127.0.0.1:9/x\n"
                "request_timeout: 2\nretries:\n  attempts: 2\n  backoff: 0.01\n"
                "tables:\n  orders: {}\n"
            )
        }
    )
    result = run_cli(["run"], project.root, env={"PG_PASSWORD": canary})
    assert result.returncode == 1
    assert "failed 2 times" in result.stdout + result.stderr
    runs = run_cli(["runs", "--json"], project.root)
    for text in (result.stdout, result.stderr, runs.stdout):
        assert canary not in text
    catalog = (project.root / ".headwater" / "catalog.db").read_bytes()
    assert canary.encode() not in catalog


def test_a_missing_secret_variable_is_a_config_error(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "sources/pg.yml": (
                "kind: sql\nurl: postgresql://u:${HW_TEST_UNSET_VARIABLE}@127.0.0.1:9/x\n"
                "tables:\n  orders: {}\n"
            )
        }
    )
    result = run_cli(["ingest"], project.root)
    assert result.returncode == 1
    assert "environment variable HW_TEST_UNSET_VARIABLE (used by 'url') is not set" in (
        result.stdout + result.stderr
    )


def test_sqlite_through_sqlalchemy_incrementally(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, at TEXT)")
        connection.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [(i, f"k{i % 3}", f"2024-01-{i:02d}") for i in range(1, 21)],
        )
    project = make_project(
        {
            "sources/app.yml": (
                f"kind: sql\nurl: sqlite:///{database}\n"
                "tables:\n  events:\n    mode: incremental\n    cursor: id\n"
            )
        }
    )
    assert project.run().outcome("app.events").rows == 20
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO events VALUES (21, 'k0', '2024-01-21')")
    assert project.run().outcome("app.events").rows == 1
    assert table_rows(project, "app.events", "id") == [(i,) for i in range(1, 22)]
    assert project.sources()[0]["cursor"] == 21


@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
def test_a_load_killed_mid_way_resumes_without_duplicates_or_gaps(
    make_project: ProjectFactory,
    postgres_server: PostgresServer,
    shop_db: str,
    point: str,
) -> None:
    project = make_project(pg_source(postgres_server, shop_db, INCREMENTAL))
    env: dict[str, str] = {}
    assert run_cli(["ingest"], project.root, env=env).returncode == 0
    with psycopg.connect(shop_db) as connection:
        connection.execute(
            "INSERT INTO orders SELECT i, 'late', 2, false, date '2025-01-01', "
            "timestamp '2025-03-01' + i * interval '1 second', NULL "
            "FROM generate_series(101, 150) AS i"
        )
    killed = run_cli(["ingest"], project.root, env={**env, "HEADWATER_FAULT": point})
    assert killed.returncode == -9
    version = DeltaTable(str(project.definition.warehouse / "pg/orders")).version()
    assert version == (0 if point == "before_commit" else 1)
    assert run_cli(["ingest"], project.root, env=env).returncode == 0
    assert table_rows(project, "pg.orders", "id") == [(i,) for i in range(1, 151)]
    assert project.sources()[0]["cursor"] == dt.datetime(2025, 3, 1, 0, 2, 30).isoformat()
    # every column of every row equals an uninterrupted load of the same database
    reference = make_project(pg_source(postgres_server, shop_db, INCREMENTAL), folder="reference")
    assert run_cli(["ingest"], reference.root, env=env).returncode == 0
    assert table_rows(project, "pg.orders") == table_rows(reference, "pg.orders")


def test_a_whole_postgres_schema_with_include_and_exclude(
    make_project: ProjectFactory, postgres_server: PostgresServer, shop_db: str
) -> None:
    with psycopg.connect(shop_db) as connection:
        connection.execute("CREATE SCHEMA sales")
        connection.execute("CREATE TABLE sales.invoices (id int, total numeric(8, 2))")
        connection.execute("INSERT INTO sales.invoices VALUES (1, 9.5), (2, 3)")
        connection.execute('CREATE TABLE sales."Refund Lines" (id int)')
        connection.execute("CREATE TABLE sales.audit_log (id int)")
        connection.execute("CREATE VIEW sales.big_invoices AS SELECT * FROM sales.invoices")
    database = shop_db.rsplit("dbname=", 1)[1]
    project = make_project(
        {
            "sources/erp.yml": (
                "kind: sql\n"
                f"url: postgresql://postgres:${{PG_PASSWORD}}@127.0.0.1:{postgres_server.port}"
                f"/{database}\n"
                "schema: sales\ninclude: '*'\nexclude: ['audit_*']\n"
                "defaults:\n  mode: replace\n"
                "tables:\n  invoices:\n    mode: merge\n    primary_key: id\n"
            )
        }
    )
    keys = sorted(k for k in project.definition.assets if k.startswith("erp."))
    assert keys == ["erp.big_invoices", "erp.invoices", "erp.refund_lines"]
    assert project.definition.assets["erp.invoices"].source.mode == "merge"
    summary = project.run()
    assert summary.status == "success", [o.message for o in summary.outcomes]
    assert table_rows(project, "erp.big_invoices", "id", "total") == [
        (1, decimal.Decimal("9.50")),
        (2, decimal.Decimal("3.00")),
    ]
    with psycopg.connect(shop_db) as connection:
        connection.execute("CREATE TABLE sales.credits (id int)")
        connection.execute("INSERT INTO sales.credits VALUES (7)")
    # a new table is found by the next ingest, and loads in it
    result = run_cli(["ingest"], project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_rows(project, "erp.credits", "id") == [(7,)]
    project.reload()
    assert "erp.credits" in project.definition.assets


def test_include_on_sqlite_and_an_unreachable_database_is_a_clear_error(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE a (id INTEGER)")
        connection.execute("CREATE TABLE b (id INTEGER)")
        connection.execute("INSERT INTO b VALUES (1)")
    project = make_project(
        {"sources/app.yml": f"kind: sql\nurl: sqlite:///{database}\ninclude: [a, b]\n"}
    )
    assert project.run().status == "success"
    assert table_rows(project, "app.b", "id") == [(1,)]
    broken = make_project(
        {
            "sources/lost.yml": (
                "kind: sql\nurl: postgresql://nobody@127.0.0.1:1/none\ninclude: '*'\n"
                "retries: {attempts: 1}\nrequest_timeout: 1\n"
            )
        },
        folder="broken",
    )
    result = run_cli(["dag"], broken.root)
    assert result.returncode == 1
    assert "cannot list the tables of source lost" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_postgres_comments_describe_the_table_and_its_columns(
    make_project: ProjectFactory, postgres_server: PostgresServer, shop_db: str
) -> None:
    with psycopg.connect(shop_db) as connection:
        connection.execute("COMMENT ON TABLE orders IS 'Orders as the shop takes them.'")
        connection.execute("COMMENT ON COLUMN orders.amount IS 'Order total in EUR.'")
        connection.execute("COMMENT ON COLUMN orders.note IS 'Free text from the buyer.'")
    files = pg_source(postgres_server, shop_db, "  orders:\n    table: public.orders\n")
    files["sources/pg.yml"] = files["sources/pg.yml"].replace(
        "tables:\n", "tables:\n  # the YAML wins where both describe a column\n"
    )
    files["models/main/big.sql"] = "select id, amount from pg.orders where amount > 100"
    project = make_project(
        {
            **files,
            "models/main/big.yml": "columns:\n  - name: amount\n    description: Big totals.\n",
        }
    )
    assert project.run().status == "success"
    assert project.descriptions("pg.orders") == (
        "Orders as the shop takes them.",
        {"amount": "Order total in EUR.", "note": "Free text from the buyer."},
    )
    assert project.descriptions("main.big") == (None, {"amount": "Big totals."})
    with psycopg.connect(shop_db) as connection:
        connection.execute("COMMENT ON COLUMN orders.note IS NULL")
    assert project.run().status == "success"
    assert project.descriptions("pg.orders")[1] == {"amount": "Order total in EUR."}


def test_sqlite_sources_have_no_comments_and_that_is_fine(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO items VALUES (1, 'a')")
    project = make_project(
        {"sources/lite.yml": f"kind: sql\nurl: sqlite:///{database}\ntables:\n  items: {{}}\n"}
    )
    assert project.run().status == "success"
    assert project.descriptions("lite.items") == (None, {})


@pytest.fixture
def password_role(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A role that must log in with a password (the server trusts everyone else): its
    `pg_hba.conf` line comes first, and goes again after the test."""
    from psycopg import sql

    role, password = f"loader_{uuid.uuid4().hex[:8]}", "right-Secret-93"
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    hba = postgres_server.root / "data" / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}")
    reload = "SELECT pg_reload_conf()"
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute(reload)
    yield role, password
    hba.write_text(original)
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as connection:
        connection.execute(reload)


def test_a_postgres_login_failure_names_the_variable_holding_the_password(
    make_project: ProjectFactory,
    postgres_server: PostgresServer,
    shop_db: str,
    password_role: tuple[str, str],
) -> None:
    role, password = password_role
    with psycopg.connect(shop_db, autocommit=True) as connection:
        connection.execute(f'GRANT SELECT ON orders TO "{role}"')
    database = shop_db.rsplit("dbname=", 1)[1]
    project = make_project(
        {
            "sources/pg.yml": (
                "kind: sql\n"
                f"url: postgresql://{role}:${{SHOP_DB_PASSWORD}}@127.0.0.1:"
                f"{postgres_server.port}/{database}\n"
                "retries:\n  attempts: 3\n  backoff: 0.01\n"
                "tables:\n  orders: {}\n"
            )
        }
    )
    wrong = "wrong-Canary-5521"
    result = run_cli(["ingest", "pg"], project.root, env={"SHOP_DB_PASSWORD": wrong})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "password authentication failed" in output
    assert f"user {role}" in output and "${SHOP_DB_PASSWORD}" in output
    assert "docs/sources.md" in output and "sources/pg.yml" in output
    assert "failed 3 times" not in output  # a refused login is not retried
    assert wrong not in output and "Traceback" not in output

    right = run_cli(["ingest", "pg"], project.root, env={"SHOP_DB_PASSWORD": password})
    assert right.returncode == 0, right.stdout + right.stderr
    assert len(table_rows(project, "pg.orders", "id")) == 100
