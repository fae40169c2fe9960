"""`headwater compile MODEL [--engine ...]`: the Spark SQL the Spark engine runs, and a model
using a DuckDB function Spark lacks refused with the model, its file and the function."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_files

PROJECT = {
    "headwater.yml": """
        name: sparkshop
        threads: 2
        engines:
          cluster:
            type: spark
            settings: {headwater.spark.functions: "geo_distance"}
        models:
          marts: {engine: spark}
    """,
    "seeds/prices.csv": "id,price,day\n1,2.5,2024-01-01\n2,3.5,2024-01-02\n",
    # on Spark by its folder
    "models/marts/rounded.sql": """
        select id, cast(price as integer) as whole, strftime(day, '%d/%m/%Y') as shown
        from raw.prices
        order by id
    """,
    # in the Spark folder, back on DuckDB by its sidecar
    "models/marts/local.sql": "select id, list(price) as prices from raw.prices group by id\n",
    "models/marts/local.yml": "engine: duckdb\n",
    # on DuckDB (the project's engine), with functions Spark lacks
    "models/staging/hashed.sql": "select id, hash(id) as h from raw.prices\n",
    "models/staging/distance.sql": "select geo_distance(id, id) as d from raw.prices\n",
}


def ok(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI and require success."""
    result = run_cli(args, cwd)
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compile") / "shop"
    write_files(root, PROJECT)
    return root


def test_a_model_on_spark_compiles_to_spark_sql(shop: Path) -> None:
    out = ok(["compile", "marts.rounded"], shop).stdout

    assert out.startswith("-- marts.rounded as Spark SQL (models/marts/rounded.sql)\n")
    assert "-- raw__prices: table raw.prices\n" in out
    assert "DATE_FORMAT(day, 'dd/MM/yyyy') AS shown" in out
    assert "FROM raw__prices AS prices" in out
    assert "ORDER BY\n  id NULLS LAST" in out
    # the same SQL as `--engine spark` asks for
    assert ok(["compile", "marts.rounded", "--engine", "spark"], shop).stdout == out


def test_stored_types_decide_the_rewrites(shop: Path) -> None:
    before = ok(["compile", "marts.rounded"], shop).stdout
    ok(["run", "--select", "raw.prices"], shop)
    after = ok(["compile", "marts.rounded"], shop).stdout

    # DuckDB rounds a DOUBLE cast to an integer (half to even), Spark truncates: once the
    # seed's table says price is a DOUBLE, the Spark SQL rounds it first
    assert "CAST(price AS INT) AS whole" in before
    assert "CAST(BROUND(price) AS INT) AS whole" in after


def test_duckdb_sql_for_duckdb_models_and_on_request(shop: Path) -> None:
    local = ok(["compile", "marts.local"], shop).stdout
    asked = ok(["compile", "marts.rounded", "--engine", "duckdb"], shop).stdout

    assert local.startswith("SELECT") and 'FROM "raw"."prices"' in local
    assert "ARRAY_AGG(price)" in local and "--" not in local
    assert "STRFTIME(" in asked.upper() and "DATE_FORMAT" not in asked


def test_a_duckdb_only_function_is_refused_with_model_file_and_function(shop: Path) -> None:
    duckdb = ok(["compile", "staging.hashed"], shop).stdout
    refused = run_cli(["compile", "staging.hashed", "--engine", "spark"], shop)

    assert "HASH(" in duckdb.upper()
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    first = refused.stderr.splitlines()[0]
    assert first.startswith("Error: models/staging/hashed.sql, asset staging.hashed: ")
    assert "model staging.hashed uses the DuckDB function hash(), which Spark has no " in first
    assert "md5()" in first
    assert "hint: " in refused.stderr


def test_functions_declared_on_the_cluster_compile_there_only(shop: Path) -> None:
    there = ok(["compile", "staging.distance", "--engine", "cluster"], shop).stdout
    plain = run_cli(["compile", "staging.distance", "--engine", "spark"], shop)

    assert "GEO_DISTANCE(id, id) AS d" in there
    assert plain.returncode == 2
    assert "the DuckDB function geo_distance()" in plain.stderr


def test_an_unknown_engine_is_a_usage_error(shop: Path) -> None:
    result = run_cli(["compile", "marts.rounded", "--engine", "sprak"], shop)

    assert result.returncode == 2
    assert "no engine is named 'sprak'" in result.stderr
    assert "did you mean 'spark'?" in result.stderr
