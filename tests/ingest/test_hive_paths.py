"""A project under a `key=value` folder (`/data/env=prod/shop`) ingests exactly its sources'
columns: DuckDB reads such folders in a file's path as columns unless told not to, so every scan
of a file Headwater wrote (staged rows, the COPY output of a database) turns that off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, write_files
from tests.support.postgres import PostgresServer

UNDER_A_KEY_VALUE_FOLDER = "env=prod/shop"


def delta_table(project: Project, key: str) -> DeltaTable:
    namespace, name = key.split(".")
    return DeltaTable(str(project.definition.warehouse / namespace / name))


def columns(project: Project, key: str) -> list[str]:
    """The table's columns as its Delta log records them (read with delta-rs)."""
    return [field.name for field in delta_table(project, key).schema().fields]


def file_columns(project: Project, key: str) -> set[str]:
    """Every column any of the table's data files holds."""
    import pyarrow.parquet as pq

    found: set[str] = set()
    for uri in delta_table(project, key).file_uris():
        found.update(pq.read_schema(uri.removeprefix("file://")).names)
    return found


def table_rows(project: Project, key: str) -> list[tuple[Any, ...]]:
    table = delta_table(project, key).to_pyarrow_table()
    return sorted(tuple(row.values()) for row in table.to_pylist())


def test_a_csv_source_in_replace_mode_gets_no_column_from_the_project_folder(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  orders:\n    path: data/orders.csv\n    mode: replace\n"
            ),
            "data/orders.csv": "id,amount\n1,10\n2,20\n",
        },
        folder=UNDER_A_KEY_VALUE_FOLDER,
    )
    assert project.root == tmp_path / "env=prod" / "shop"
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    assert columns(project, "shop.orders") == ["id", "amount"]
    assert file_columns(project, "shop.orders") == {"id", "amount"}
    assert table_rows(project, "shop.orders") == [(1, 10), (2, 20)]

    write_files(project.root, {"data/orders.csv": "id,amount\n3,30\n"})
    assert project.run().status == "success"
    assert columns(project, "shop.orders") == ["id", "amount"]
    assert table_rows(project, "shop.orders") == [(3, 30)]


def test_a_csv_source_merged_on_its_primary_key_gets_no_column_from_the_project_folder(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  customers:\n    path: data/customers_*.csv\n"
                "    mode: merge\n    primary_key: id\n"
            ),
            "data/customers_1.csv": "id,name\n1,ada\n2,bob\n",
        },
        folder=UNDER_A_KEY_VALUE_FOLDER,
    )
    assert project.run().status == "success"
    write_files(project.root, {"data/customers_2.csv": "id,name\n2,bea\n3,cy\n"})
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    assert summary.outcome("shop.customers").rows == 2
    assert columns(project, "shop.customers") == ["id", "name"]
    assert file_columns(project, "shop.customers") == {"id", "name"}
    assert table_rows(project, "shop.customers") == [(1, "ada"), (2, "bea"), (3, "cy")]


def test_a_postgres_table_copied_out_gets_no_column_from_the_project_folder(
    make_project: ProjectFactory,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PG_PASSWORD", "not-checked-by-trust-auth")
    database = postgres_server.create_database()
    with psycopg.connect(postgres_server.dsn(database)) as connection:
        connection.execute("CREATE TABLE orders (id integer PRIMARY KEY, amount integer)")
        connection.execute("INSERT INTO orders VALUES (1, 10), (2, 20)")
    project = make_project(
        {
            "sources/pg.yml": (
                "kind: sql\n"
                f"url: postgresql://postgres:${{PG_PASSWORD}}@127.0.0.1:{postgres_server.port}/"
                f"{database}\n"
                "tables:\n  orders: {}\n"
            )
        },
        folder=UNDER_A_KEY_VALUE_FOLDER,
    )
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    assert columns(project, "pg.orders") == ["id", "amount"]
    assert table_rows(project, "pg.orders") == [(1, 10), (2, 20)]


def test_key_value_folders_below_the_project_are_columns_and_those_above_are_not(
    make_project: ProjectFactory,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n"
                "  orders:\n    path: data/dt=*/orders.csv\n    mode: append\n"
                "  refunds:\n    path: data/dt=*/refunds.parquet\n    mode: append\n"
            ),
            "data/dt=2024-05-01/orders.csv": "id,amount\n1,10\n",
            "data/dt=2024-05-02/orders.csv": "id,amount\n2,20\n",
            "seeds/currencies.csv": "code,name\nEUR,euro\n",
        },
        folder=UNDER_A_KEY_VALUE_FOLDER,
    )
    for day, refund in (("2024-05-01", 7), ("2024-05-02", 8)):
        folder = project.root / "data" / f"dt={day}"
        pq.write_table(pa.table({"id": [refund], "amount": [-refund]}), folder / "refunds.parquet")
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    # the user's layout is read as Spark reads a partitioned folder: one column per key
    assert columns(project, "shop.orders") == ["id", "amount", "dt"]
    assert columns(project, "shop.refunds") == ["id", "amount", "dt"]
    assert [row[:2] for row in table_rows(project, "shop.orders")] == [(1, 10), (2, 20)]
    assert [str(row[2]) for row in table_rows(project, "shop.refunds")] == [
        "2024-05-01",
        "2024-05-02",
    ]
    # ... and where the project lives is not a column of any table
    assert columns(project, "raw.currencies") == ["code", "name"]


def test_a_folder_above_the_project_neither_drops_nor_overrides_a_column(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  orders:\n    path: data/dt=*/orders.csv\n"
                "    mode: append\n"
            ),
            # the file has a column named like the folder above the project, and the folder
            # below it names the same key as one above it
            "data/dt=2024-05-01/orders.csv": "id,env\n1,real\n",
        },
        folder="dt=1999-01-01/env=prod/shop",
    )
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    assert columns(project, "shop.orders") == ["id", "env", "dt"]
    assert [(row[0], row[1], str(row[2])) for row in table_rows(project, "shop.orders")] == [
        (1, "real", "2024-05-01")
    ]
