"""SQLAlchemy 2 (`postgresql+psycopg://`) against a real `headwater serve`: reflection of the
served tables (names, SQLAlchemy types with precision and scale, nullability, comments, the
primary key), a SELECT through the Core API, and a role that sees only its tables.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tests.serve.test_pg_catalog import build_shop
from tests.support.serve import RunningServer, add_user, running_server

PASSWORD = "alchemy-pass"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("sqlalchemy") / "shop"
    build_shop(root).close()
    add_user(root, "ana", "analyst", password=PASSWORD)
    add_user(root, "fin", "finance", password=PASSWORD)
    add_user(root, "root", "admin", password=PASSWORD)
    with running_server(root) as running:
        yield running


def engine(server: RunningServer, user: str) -> sa.Engine:
    url = sa.URL.create(
        "postgresql+psycopg",
        username=user,
        password=PASSWORD,
        host=server.pg_host,
        port=server.pg_port,
        database="headwater",
    )
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def described(column: dict[str, Any]) -> tuple[str, str, bool, str | None]:
    return (column["name"], repr(column["type"]), column["nullable"], column["comment"])


def test_reflection_sees_every_served_table_with_its_types(server: RunningServer) -> None:
    inspector = sa.inspect(engine(server, "ana"))
    assert inspector.default_schema_name == "marts"
    assert inspector.get_schema_names() == ["information_schema", "marts"]
    assert inspector.get_table_names(schema="marts") == ["customers", "orders"]
    assert inspector.get_view_names(schema="marts") == ["big_orders"]
    assert sorted(inspector.get_table_names()) == ["customers", "orders"]
    assert [described(c) for c in inspector.get_columns("orders", schema="marts")] == [
        ("id", "BIGINT()", False, None),
        ("amount", "NUMERIC(precision=12, scale=2)", True, "Total in EUR"),
        ("placed", "DATE()", True, None),
        ("placed_at", "TIMESTAMP()", True, None),
        ("paid_at", "TIMESTAMP(timezone=True)", True, None),
        ("shipped", "BOOLEAN()", True, None),
        ("customer", "TEXT()", True, None),
        ("weight", "DOUBLE_PRECISION(precision=53)", True, None),
        ("quantity", "INTEGER()", True, None),
        ("tags", "ARRAY(TEXT())", True, None),
        ("priority", "SMALLINT()", True, None),
    ]
    assert [described(c) for c in inspector.get_columns("big_orders", schema="marts")] == [
        ("id", "BIGINT()", True, None),
        ("amount", "NUMERIC(precision=12, scale=2)", True, None),
    ]
    assert inspector.get_pk_constraint("orders", schema="marts") == {
        "constrained_columns": ["id"],
        "name": "orders_pkey",
        "comment": None,
        "dialect_options": {"postgresql_include": []},
    }
    assert inspector.get_pk_constraint("customers", schema="marts")["constrained_columns"] == []
    assert inspector.get_foreign_keys("orders", schema="marts") == []
    assert inspector.get_indexes("orders", schema="marts") == []
    assert inspector.get_unique_constraints("orders", schema="marts") == []
    assert inspector.get_check_constraints("orders", schema="marts") == []
    assert inspector.get_table_comment("orders", schema="marts") == {"text": "One row per order"}
    assert inspector.has_table("orders", schema="marts")
    assert not inspector.has_table("ledger", schema="finance")


def test_a_reflected_table_selects_through_the_core_api(server: RunningServer) -> None:
    connectable = engine(server, "ana")
    metadata = sa.MetaData()
    orders = sa.Table("orders", metadata, schema="marts", autoload_with=connectable)
    assert [c.name for c in orders.primary_key.columns] == ["id"]
    assert isinstance(orders.c.amount.type, sa.Numeric)
    assert (orders.c.amount.type.precision, orders.c.amount.type.scale) == (12, 2)
    assert isinstance(orders.c.paid_at.type, sa.DateTime) and orders.c.paid_at.type.timezone
    assert isinstance(orders.c.tags.type, postgresql.ARRAY)
    query = (
        sa.select(orders)
        .where(orders.c.amount > decimal.Decimal("-1"), orders.c.id != sa.bindparam("skip"))
        .order_by(orders.c.id)
    )
    with connectable.connect() as connection:
        found = connection.execute(query, {"skip": 99}).all()
        total = connection.execute(sa.select(sa.func.sum(orders.c.quantity))).scalar_one()
    assert [tuple(row) for row in found] == [
        (
            1,
            decimal.Decimal("21168.23"),
            dt.date(2024, 1, 2),
            dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
            dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC),
            True,
            "ann",
            1.5,
            7,
            ["a", "b c"],
            3,
        ),
        (2, decimal.Decimal("-0.05"), None, None, None, False, None, None, None, None, None),
        (
            3,
            decimal.Decimal("0.10"),
            dt.date(1999, 12, 31),
            dt.datetime(1999, 12, 31, 23, 59, 59),
            dt.datetime(2000, 6, 30, 22, 0, tzinfo=dt.UTC),
            None,
            'zoë "q"',
            -2.25,
            -1,
            ["x", None],
            -32768,
        ),
    ]
    assert total == 6
    every = sa.MetaData()
    every.reflect(connectable, schema="marts", views=True)
    assert sorted(every.tables) == ["marts.big_orders", "marts.customers", "marts.orders"]


def test_a_role_reflects_only_its_tables(server: RunningServer) -> None:
    finance = sa.inspect(engine(server, "fin"))
    assert finance.get_schema_names() == ["finance", "information_schema"]
    assert finance.get_table_names(schema="finance") == ["ledger"]
    assert finance.get_table_names(schema="marts") == []
    assert not finance.has_table("orders", schema="marts")
    with pytest.raises(sa.exc.NoSuchTableError):
        sa.Table("orders", sa.MetaData(), schema="marts", autoload_with=engine(server, "fin"))
    assert [described(c) for c in finance.get_columns("ledger", schema="finance")] == [
        ("entry", "INTEGER()", True, None),
        ("balance", "NUMERIC(precision=10, scale=1)", True, None),
    ]
    admin = sa.inspect(engine(server, "root"))
    assert admin.get_schema_names() == ["finance", "information_schema", "marts"]
