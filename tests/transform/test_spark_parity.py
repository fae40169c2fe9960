"""The same projects built with `engine: spark` and with DuckDB give the same tables: the
e-commerce example and the TPC-H marts of the benchmarks (data from `tpchgen-cli` at scale
0.01). Every table is read with delta-rs and compared sorted, row by row and value by value;
floating-point values are compared with a relative tolerance of 1e-9, because Spark and DuckDB
add up a column's values in another order (and Spark averages a DECIMAL as a DECIMAL before
the result is cast to DOUBLE), which changes the last bits."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater import Project

pytestmark = pytest.mark.usefixtures("spark_session")

REPO = Path(__file__).resolve().parents[2]
TPCH_MODELS = REPO / "bench" / "tpch_marts" / "models"
TPCH_TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
RELATIVE = 1e-9


def table_of(project: Project, key: str) -> pa.Table:
    namespace, name = key.split(".")
    location = project.definition.warehouse / namespace / name
    return DeltaTable(str(location)).to_pyarrow_table()


def comparable(value: Any) -> Any:
    """A value as compared: floats rounded to the tolerance's digits, so sorting puts rows
    that differ in the last bits side by side."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.9e}")
    return value


def sorted_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(comparable(v) for v in row.values()) for row in table.to_pylist()), key=repr
    )


def assert_same_rows(key: str, ours: pa.Table, theirs: pa.Table) -> None:
    assert ours.schema == theirs.schema, key
    assert ours.num_rows == theirs.num_rows, key
    for mine, other in zip(sorted_rows(ours), sorted_rows(theirs), strict=True):
        for a, b in zip(mine, other, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert a == pytest.approx(b, rel=RELATIVE), (key, mine, other)
            else:
                assert a == b, (key, mine, other)


def built_models(project: Project) -> list[str]:
    return sorted(
        key
        for key, asset in project.definition.assets.items()
        if asset.model is not None and asset.is_stored
    )


def test_the_ecommerce_example_on_spark_equals_the_duckdb_build(tmp_path: Path) -> None:
    duckdb = Project.init(tmp_path / "duckdb", example="ecommerce")
    spark = Project.init(tmp_path / "spark", example="ecommerce")
    try:
        config = spark.root / "headwater.yml"
        config.write_text(
            re.sub(r"^threads: .*$", "threads: 2\nengine: spark", config.read_text(), flags=re.M)
        )
        spark.reload()
        for project in (duckdb, spark):
            result = project.run()
            assert result.status == "success", [
                (o.key, o.message) for o in result.outcomes if o.status != "success"
            ]
        models = built_models(spark)
        assert len(models) >= 7
        for key in models:
            assert_same_rows(key, table_of(spark, key), table_of(duckdb, key))
        # what the models read (seeds, streams) is loaded by DuckDB in both
        assert sorted(map(str, spark.store.list_tables())) == sorted(
            map(str, duckdb.store.list_tables())
        )
    finally:
        duckdb.close()
        spark.close()


@pytest.fixture(scope="module")
def tpch_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TPC-H at scale factor 0.01: one Parquet file per table."""
    out = tmp_path_factory.mktemp("tpch")
    binary = Path(sys.executable).parent / "tpchgen-cli"
    command = str(binary) if binary.exists() else shutil.which("tpchgen-cli")
    if command is None:
        pytest.fail("tpchgen-cli is not installed (pip install 'tpchgen-cli>=4,<5')")
    subprocess.run(
        [command, "parquet", "-s", "0.01", "--output-dir", str(out), "--no-progress"],
        check=True,
        capture_output=True,
    )
    missing = [t for t in TPCH_TABLES if not (out / f"{t}.parquet").exists()]
    assert not missing, missing
    return out


def tpch_project(root: Path, data: Path, engine: str) -> Project:
    """The benchmark's TPC-H marts project (as bench/tpch_marts/run.py writes it)."""
    root.mkdir(parents=True)
    shutil.copytree(TPCH_MODELS, root / "models")
    (root / "headwater.yml").write_text(
        f"name: tpch\nwarehouse: warehouse\nthreads: 2\n{engine}vars:\n  tpch_dir: {data}\n"
    )
    return Project(root)


def test_the_tpch_marts_on_spark_equal_the_duckdb_build(tmp_path: Path, tpch_data: Path) -> None:
    duckdb = tpch_project(tmp_path / "duckdb", tpch_data, "")
    spark = tpch_project(tmp_path / "spark", tpch_data, "engine: spark\n")
    try:
        for project in (duckdb, spark):
            result = project.run()
            assert result.status == "success", [
                (o.key, o.message) for o in result.outcomes if o.status != "success"
            ]
        marts = built_models(spark)
        assert marts == [
            "marts.customer_revenue",
            "marts.daily_revenue",
            "marts.q1",
            "marts.q10",
            "marts.q3",
            "marts.q5",
        ]
        for key in marts:
            ours = table_of(spark, key)
            assert ours.num_rows > 0, key
            assert_same_rows(key, ours, table_of(duckdb, key))
    finally:
        duckdb.close()
        spark.close()
