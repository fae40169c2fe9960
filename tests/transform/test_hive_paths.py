"""A project under a `key=value` folder (`/data/env=prod/shop`) builds exactly its models'
columns: DuckDB reads such folders in a file's path as columns unless told not to, so the
merge of an incremental model scans the change files it wrote with that turned off. A
partitioned table's scan needs DuckDB's reading of its own partition folders, and still reads
the folders above it (the xfail test below)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, rows, write_files


def delta_table(project: Project, key: str) -> DeltaTable:
    namespace, name = key.split(".")
    return DeltaTable(str(project.definition.warehouse / namespace / name))


def table_rows(project: Project, key: str) -> list[tuple[Any, ...]]:
    table = delta_table(project, key).to_pyarrow_table()
    return sorted(tuple(row.values()) for row in table.to_pylist())


def test_an_incremental_merge_model_gets_no_column_from_the_project_folder(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    model = {
        "models/inc/customers.sql": (
            "select id, name from (values (1, 'ada'), (2, 'bob')) as t(id, name)"
        ),
        "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
    }
    project = make_project(model, folder="env=prod/shop")
    assert project.root == tmp_path / "env=prod" / "shop"
    assert project.run().status == "success"

    write_files(
        project.root,
        {
            "models/inc/customers.sql": (
                "select id, name from (values (2, 'bea'), (3, 'cy')) as t(id, name)"
            )
        },
    )
    project.reload()
    summary = project.run()
    outcome = summary.outcome("inc.customers")
    assert outcome.status == "success", outcome.message
    assert outcome.message is not None and outcome.message.startswith("merged 2 rows")
    table = delta_table(project, "inc.customers")
    assert [field.name for field in table.schema().fields] == ["id", "name"]
    assert table_rows(project, "inc.customers") == [(1, "ada"), (2, "bea"), (3, "cy")]


def test_a_merged_column_named_like_the_project_folder_keeps_its_values(
    make_project: ProjectFactory,
) -> None:
    """DuckDB would give column `env` of the change files the folder's value, `prod`."""
    project = make_project(
        {
            "models/inc/deploys.sql": (
                "select id, env from (values (1, 'dev'), (2, 'test')) as t(id, env)"
            ),
            "models/inc/deploys.yml": "materialized: incremental\nunique_key: id\n",
        },
        folder="env=prod/shop",
    )
    assert project.run().status == "success"
    write_files(
        project.root,
        {
            "models/inc/deploys.sql": (
                "select id, env from (values (2, 'dev'), (3, 'test')) as t(id, env)"
            )
        },
    )
    project.reload()
    summary = project.run()
    assert summary.outcome("inc.deploys").status == "success", summary.outcomes
    assert table_rows(project, "inc.deploys") == [(1, "dev"), (2, "dev"), (3, "test")]


@pytest.mark.xfail(
    strict=True,
    reason="known bug: DuckDB's hive partitioning, needed for a partitioned table's own "
    "folders, also reads `key=value` folders above the table and overrides a column of that "
    "name; the fix is for the engine to take partition values from the Delta log",
)
def test_a_partitioned_table_column_named_like_the_project_folder_reads_its_values(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "models/main/deploys.sql": (
                "select id, env, day from (values (1, 'dev', 1), (2, 'test', 2)) as t(id, env, day)"
            ),
            "models/main/deploys.yml": "materialized: table\npartition_by: [day]\n",
        },
        folder="env=prod/shop",
    )
    assert project.run().status == "success"
    assert rows(project, "select id, env from main.deploys order by id") == [
        (1, "dev"),
        (2, "test"),
    ]
