"""The `headwater` command, run as a real subprocess against real projects."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import Project
from tests.conftest import run_cli, write_files

HEAVY = ("duckdb", "deltalake", "pyarrow", "sqlglot", "sqlalchemy")


def ok(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI and require success."""
    result = run_cli(args, cwd)
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


# -- projects -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled ecommerce example, created with `init --example` and built once."""
    parent = tmp_path_factory.mktemp("cli")
    result = ok(["init", "shop", "--example", "ecommerce"], parent)
    root = parent / "shop"
    assert f"Created project in {root.resolve()}" in result.stdout
    assert (root / "headwater.yml").is_file()
    assert not (root / "warehouse").exists()

    first = ok(["run"], root)
    assert "Done: 14 built, 0 up to date" in first.stdout
    assert "FAIL" not in first.stdout
    return root


SMALL = {
    "headwater.yml": "name: small\nthreads: 2\n",
    "seeds/payments.csv": "id,amount\n1,10\n2,20\n",
    "models/marts/total.sql": "select count(*) as n, sum(amount) as total from raw.payments",
}


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A tiny project whose seed has two versions: v0 with 2 rows, v1 with 3.

    Built through the Python API (the CLI's own code path, without two interpreter start-ups).
    """
    write_files(tmp_path, SMALL)
    with Project(tmp_path) as project:
        assert project.run().status == "success"
    (tmp_path / "seeds/payments.csv").write_text("id,amount\n1,10\n2,20\n3,30\n")
    with Project(tmp_path) as project:
        assert project.run().status == "success"
    return tmp_path


# -- init and run ---------------------------------------------------------------------------------


def test_init_then_run_then_nothing_to_do(tmp_path: Path) -> None:
    created = ok(["init", "fresh"], tmp_path)
    root = tmp_path / "fresh"
    assert "Next: cd fresh && headwater run" in created.stdout
    assert (root / "headwater.yml").read_text().startswith("name: fresh\n")

    first = ok(["run"], root)
    assert "OK    main.example (table) 1 rows v0" in first.stdout
    assert "Done: 1 built, 0 up to date" in first.stdout

    second = ok(["run"], root)
    assert "FRESH main.example" in second.stdout
    assert "Done: 0 built, 1 up to date" in second.stdout

    assert ok(
        ["query", "select greeting from main.example", "--format", "csv"], root
    ).stdout.splitlines() == [
        '"greeting"',
        '"hello"',
    ]


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("x")

    result = run_cli(["init", "taken"], tmp_path)

    assert result.returncode == 2
    assert "Error: taken already exists and is not empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_unknown_example(tmp_path: Path) -> None:
    result = run_cli(["init", "x", "--example", "ecomerce"], tmp_path)

    assert result.returncode == 2
    assert "Error: no example named 'ecomerce'" in result.stderr
    assert "hint: examples: ecommerce" in result.stderr


def test_example_second_run_is_up_to_date(shop: Path) -> None:
    result = ok(["run"], shop)

    assert "Done: 0 built, 14 up to date" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 14
    assert all(" FRESH " in line for line in lines)


def test_run_from_another_folder_with_project_option(shop: Path, tmp_path: Path) -> None:
    result = ok(["--project", str(shop), "run", "--select", "marts.daily_revenue"], tmp_path)

    assert "FRESH marts.daily_revenue" in result.stdout
    assert "Done: 0 built, 1 up to date" in result.stdout


def test_run_json(small: Path) -> None:
    result = ok(["run", "--json", "--force"], small)

    data = json.loads(result.stdout)  # nothing but JSON on stdout
    assert data["status"] == "success"
    assert len(data["run_id"]) >= 8
    statuses = {a["key"]: a["status"] for a in data["assets"]}
    assert statuses == {"raw.payments": "success", "marts.total": "success"}
    assert isinstance(data["duration_s"], float)


def test_run_select_and_exclude(small: Path) -> None:
    result = ok(["run", "--force", "--select", "+marts.total", "--exclude", "kind:seed"], small)

    assert "OK    marts.total" in result.stdout
    assert "raw.payments" not in result.stdout
    assert "Done: 1 built" in result.stdout


# -- reading the graph ----------------------------------------------------------------------------


def test_compile_prints_the_sql_that_runs(shop: Path) -> None:
    sql = ok(["compile", "marts.fact_sales"], shop).stdout

    # the ephemeral model is inlined as a CTE, every name is qualified
    assert sql.startswith('WITH "__ephemeral__intermediate__int_order_lines" AS (')
    assert 'FROM "staging"."stg_orders" AS o' in sql
    assert "{{" not in sql
    # the table exists, so the incremental filter is on
    assert 'FROM "marts"."fact_sales"' in sql


def test_compile_errors(shop: Path) -> None:
    unknown = run_cli(["compile", "marts.daily_revenu"], shop)
    seed = run_cli(["compile", "raw.orders"], shop)

    assert unknown.returncode == 2
    assert "Error: no asset named 'marts.daily_revenu'" in unknown.stderr
    assert "did you mean marts.daily_revenue?" in unknown.stderr
    assert seed.returncode == 2
    assert "Error: raw.orders is a seed; it has no SQL" in seed.stderr


def test_dag(shop: Path) -> None:
    lines = ok(["dag"], shop).stdout.splitlines()

    assert "raw.orders (seed)" in lines
    assert "  staging.stg_orders (view)  <- raw.orders" in lines
    assert any(
        # dim_product: the target of fact_sales' relationships check is built first
        line.strip()
        == "marts.fact_sales (incremental)  <- marts.dim_product, intermediate.int_order_lines"
        for line in lines
    )
    assert lines[-1] == "15 assets"


def test_dag_json(shop: Path) -> None:
    data = json.loads(ok(["dag", "--json"], shop).stdout)

    nodes = {n["key"]: n for n in data["nodes"]}
    assert len(nodes) == 15
    assert nodes["raw.orders"]["kind"] == "seed"
    assert nodes["intermediate.int_order_lines"]["materialized"] == "ephemeral"
    assert nodes["marts.dim_customer"]["materialized"] == "snapshot"
    assert nodes["marts.daily_revenue"]["path"] == "models/marts/daily_revenue.sql"
    edges = {tuple(e) for e in data["edges"]}
    assert ("raw.orders", "staging.stg_orders") in edges
    assert ("marts.fact_sales", "marts.daily_revenue") in edges
    assert all(parent in nodes and child in nodes for parent, child in edges)


def test_dag_select(shop: Path) -> None:
    data = json.loads(ok(["dag", "--json", "--select", "+marts.dim_customer"], shop).stdout)

    assert [n["key"] for n in data["nodes"]] == [
        "raw.customers",
        "staging.stg_customers",
        "marts.dim_customer",
    ]


# -- queries --------------------------------------------------------------------------------------

DAILY = "select order_date, orders from marts.daily_revenue order by order_date limit 3"


def test_query_csv(shop: Path) -> None:
    out = ok(["query", DAILY, "--format", "csv"], shop).stdout

    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 3
    assert list(table[0]) == ["order_date", "orders"]
    assert table[0]["order_date"] < table[1]["order_date"] < table[2]["order_date"]
    assert all(int(r["orders"]) > 0 for r in table)


def test_query_json(shop: Path) -> None:
    out = ok(["query", DAILY, "--format", "json"], shop).stdout

    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 3
    assert set(records[0]) == {"order_date", "orders"}
    csv_out = ok(["query", DAILY, "--format", "csv"], shop).stdout
    first_csv = next(csv.DictReader(io.StringIO(csv_out)))
    assert records[0]["orders"] == int(first_csv["orders"])


def test_query_table(shop: Path) -> None:
    lines = ok(["query", DAILY, "--format", "table"], shop).stdout.splitlines()

    assert lines[0].split("\t") == ["order_date", "orders"]
    assert len(lines) == 4


def test_query_reads_views(shop: Path) -> None:
    out = ok(
        ["query", "select count(*) as n from staging.stg_orders", "--format", "json"], shop
    ).stdout

    assert json.loads(out) == {"n": 2000}


def test_query_as_of_version(small: Path) -> None:
    now = ok(["query", "select count(*) as n from raw.payments", "--format", "json"], small)
    then = ok(
        ["query", "select count(*) as n from raw.payments", "--format", "json", "--as-of", "0"],
        small,
    )

    assert json.loads(now.stdout) == {"n": 3}
    assert json.loads(then.stdout) == {"n": 2}


def test_query_as_of_a_time_before_the_table_existed(small: Path) -> None:
    result = run_cli(
        ["query", "select count(*) from raw.payments", "--as-of", "2001-01-01T00:00:00"], small
    )

    assert result.returncode != 0
    assert "has no version at 2001-01-01T00:00:00" in result.stderr


def test_query_errors(shop: Path) -> None:
    unknown = run_cli(["query", "select * from marts.daily_revenu"], shop)
    bad_format = run_cli(["query", "select 1", "--format", "xml"], shop)

    assert unknown.returncode == 2
    assert "Error: the query reads unknown table 'marts.daily_revenu'" in unknown.stderr
    assert "did you mean marts.daily_revenue?" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert bad_format.returncode == 2  # click's own usage error
    assert "Invalid value for '--format'" in bad_format.stderr


# -- tables, history and maintenance --------------------------------------------------------------


def test_tables(shop: Path) -> None:
    lines = ok(["tables"], shop).stdout.splitlines()

    assert lines[0].split("\t") == ["table", "kind", "version", "files", "rows", "size"]
    body = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert len(body) == 10  # 4 seeds and 6 stored models; views and ephemerals have no table
    assert body["raw.orders"][1:5] == ["seed", "0", "1", "2000"]
    assert body["marts.dim_customer"][1] == "snapshot"
    assert "staging.stg_orders" not in body


def test_tables_json(shop: Path) -> None:
    data = {t["key"]: t for t in json.loads(ok(["tables", "--json"], shop).stdout)}

    assert data["raw.customers"]["rows"] == 500
    assert data["raw.customers"]["in_project"] is True
    assert data["marts.fact_sales"]["materialization"] == "incremental"


def test_history(small: Path) -> None:
    lines = ok(["history", "raw.payments"], small).stdout.splitlines()

    assert lines[0] == "# history of raw.payments"
    assert lines[1].split("\t")[:3] == ["version", "time", "operation"]
    assert [line.split("\t")[0] for line in lines[2:]] == ["1", "0"]  # newest first

    data = json.loads(ok(["history", "raw.payments", "--json", "--limit", "1"], small).stdout)
    assert [e["version"] for e in data] == [1]
    assert len(data[0]["run_id"]) >= 8


def test_history_of_a_view_or_unknown_table(shop: Path) -> None:
    view = run_cli(["history", "staging.stg_orders"], shop)
    unknown = run_cli(["history", "raw.order"], shop)

    assert view.returncode == 2
    assert "Error: staging.stg_orders is a view model; it has no table" in view.stderr
    assert unknown.returncode == 2
    assert "Error: no asset named 'raw.order'" in unknown.stderr
    assert "did you mean raw.orders?" in unknown.stderr


def test_restore(small: Path) -> None:
    result = ok(["restore", "raw.payments", "--version", "0"], small)

    assert result.stdout.strip() == "Restored raw.payments to version 0; it is now version 2."
    count = ok(["query", "select count(*) as n from raw.payments", "--format", "json"], small)
    assert json.loads(count.stdout) == {"n": 2}
    history = json.loads(ok(["history", "raw.payments", "--json"], small).stdout)
    assert [e["version"] for e in history] == [2, 1, 0]
    assert history[0]["operation"] == "RESTORE"
    runs = json.loads(ok(["runs", "--json"], small).stdout)
    assert runs[0]["command"] == "restore"
    assert runs[0]["status"] == "success"


def test_restore_needs_a_version(small: Path) -> None:
    result = run_cli(["restore", "raw.payments"], small)

    assert result.returncode == 2
    assert "Missing option '--version'" in result.stderr


def test_optimize(small: Path) -> None:
    text = ok(["optimize", "raw.payments"], small)
    assert text.stdout.startswith("Optimized raw.payments: ")

    metrics = json.loads(ok(["optimize", "raw.payments", "--json"], small).stdout)
    assert isinstance(metrics, dict)
    # the data is unchanged
    assert json.loads(
        ok(
            ["query", "select sum(amount)::bigint as s from raw.payments", "--format", "json"],
            small,
        ).stdout
    ) == {"s": 60}


def test_vacuum_dry_run(small: Path) -> None:
    kept = ok(["vacuum", "raw.payments", "--dry-run"], small)
    assert kept.stdout.strip() == "Would delete 0 files."

    # version 1 replaced version 0's file; with no retention it may go
    result = ok(["vacuum", "raw.payments", "--dry-run", "--retain", "0"], small)
    lines = result.stdout.splitlines()
    assert lines[0] == "Would delete 1 files."
    assert lines[1].strip().endswith(".parquet")
    listed = small / "warehouse" / "raw" / "payments" / lines[1].strip()
    assert listed.is_file()  # a dry run deletes nothing
    assert json.loads(
        ok(
            ["query", "select count(*) as n from raw.payments", "--as-of", "0", "--format", "json"],
            small,
        ).stdout
    ) == {"n": 2}


def test_vacuum_rejects_negative_retention(small: Path) -> None:
    result = run_cli(["vacuum", "raw.payments", "--retain", "-1"], small)

    assert result.returncode == 2
    assert "Error: --retain must be zero or more hours" in result.stderr


# -- runs -----------------------------------------------------------------------------------------


def test_runs_and_runs_show(small: Path) -> None:
    run_id = json.loads(ok(["run", "--json", "--force"], small).stdout)["run_id"]

    lines = ok(["runs"], small).stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["run", "command", "status"]
    newest = lines[1].split("\t")
    assert newest[:3] == [run_id, "run", "success"]
    assert len(lines) == 4  # three runs, newest first

    runs = json.loads(ok(["runs", "--json", "--limit", "2"], small).stdout)
    assert runs[0]["run_id"] == run_id
    assert len(runs) == 2

    shown = ok(["runs", "show", run_id], small).stdout.split("\n\n")
    table = shown[0].splitlines()
    assert table[0] == f"# run {run_id}"
    assert table[1].split("\t")[:3] == ["asset", "status", "kind"]
    assert sorted(line.split("\t")[:2] for line in table[2:]) == [
        ["marts.total", "success"],
        ["raw.payments", "success"],
    ]
    timeline = shown[1].splitlines()
    assert timeline[0].startswith("timeline (")
    assert sorted(line.split(" |")[0].strip() for line in timeline[1:]) == [
        "marts.total #1",
        "raw.payments #1",
    ]

    shown_json = json.loads(ok(["runs", "show", run_id[:6], "--json"], small).stdout)
    results = shown_json["results"]
    assert {r["asset"]: r["rows_written"] for r in results} == {"raw.payments": 3, "marts.total": 1}
    assert [a["status"] for a in shown_json["attempts"]] == ["success", "success"]


def test_runs_show_unknown(small: Path) -> None:
    result = run_cli(["runs", "show", "nosuchrun"], small)

    assert result.returncode == 2
    assert "Error: no run 'nosuchrun'" in result.stderr


# -- exit codes -----------------------------------------------------------------------------------

FAILING = {
    "headwater.yml": "name: failing\nthreads: 2\n",
    "seeds/numbers.csv": "n\n1\n2\n",
    "models/good.sql": "select n from raw.numbers",
    "models/bad.sql": "select n / 'abc' as x from raw.numbers",
    "models/after_bad.sql": "select * from main.bad",
}


def test_failing_model_exits_1(tmp_path: Path) -> None:
    write_files(tmp_path, FAILING)

    result = run_cli(["run"], tmp_path)

    assert result.returncode == 1
    assert "FAIL  main.bad (table)" in result.stdout
    assert "Could not convert string 'abc'" in result.stdout
    assert "SKIP  main.after_bad (table)" in result.stdout
    assert "upstream main.bad failed" in result.stdout
    assert "OK    main.good" in result.stdout
    assert "Run failed: 2 built, 0 up to date, 1 failed, 1 skipped" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout

    data = json.loads(run_cli(["runs", "--json"], tmp_path).stdout)
    assert data[0]["status"] == "failed"


def test_failing_model_json_exits_1(tmp_path: Path) -> None:
    write_files(tmp_path, FAILING)

    result = run_cli(["run", "--json", "--select", "+bad"], tmp_path)

    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["status"] == "failed"
    assets = {a["key"]: a for a in data["assets"]}
    assert assets["raw.numbers"]["status"] == "success"
    assert assets["main.bad"]["status"] == "failed"
    assert "Could not convert string 'abc'" in assets["main.bad"]["message"]
    assert set(assets) == {"raw.numbers", "main.bad"}


def test_failing_model_again_exits_1_cleanly(tmp_path: Path) -> None:
    write_files(tmp_path, FAILING)
    assert run_cli(["run"], tmp_path).returncode == 1

    again = run_cli(["run"], tmp_path)

    assert again.returncode == 1
    assert "internal error" not in again.stderr
    assert "FRESH main.good" in again.stdout
    assert "FAIL  main.bad" in again.stdout
    assert "SKIP  main.after_bad" in again.stdout


@pytest.mark.parametrize(
    ("args", "files", "stderr"),
    [
        (
            ["run", "--select", "goood"],
            FAILING,
            "Error: selector 'goood' matches no asset\n  hint: did you mean good?",
        ),
        (["run", "--exclude", "tag:nope"], FAILING, "Error: selector 'tag:nope' matches no asset"),
        (["dag", "--select", "colour:red"], FAILING, "Error: unknown selector method 'colour'"),
        (
            ["run"],
            {**FAILING, "models/good.sql": "select n from raw.numbrs"},
            "Error: models/good.sql:1: model main.good reads unknown table 'raw.numbrs'\n"
            "  hint: did you mean raw.numbers?",
        ),
        (
            ["run"],
            {**FAILING, "headwater.yml": "name: failing\nthread: 2\n"},
            "Error: headwater.yml:2: invalid configuration:\n"
            "    line 2: unknown key 'thread'; did you mean 'threads'?",
        ),
        (["run", "--threads", "0"], FAILING, "Invalid value for '--threads'"),
        (["run", "--no-such-option"], FAILING, "No such option"),
        (["frobnicate"], FAILING, "No such command 'frobnicate'"),
    ],
    ids=[
        "unknown-selector",
        "unknown-exclude",
        "unknown-method",
        "unknown-table",
        "bad-config",
        "bad-threads",
        "bad-option",
        "bad-command",
    ],
)
def test_usage_and_config_errors_exit_2(
    tmp_path: Path, args: list[str], files: dict[str, str], stderr: str
) -> None:
    write_files(tmp_path, files)

    result = run_cli(args, tmp_path)

    assert result.returncode == 2, result.stdout + result.stderr
    assert stderr in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "warehouse").exists()  # nothing ran


# -- help, version and start-up cost --------------------------------------------------------------


def test_help(tmp_path: Path) -> None:
    result = ok(["--help"], tmp_path)

    assert "Usage:" in result.stdout
    for command in (
        "init",
        "run",
        "compile",
        "dag",
        "query",
        "tables",
        "history",
        "restore",
        "optimize",
        "vacuum",
        "runs",
    ):
        assert f"  {command} " in result.stdout
    run_help = ok(["run", "--help"], tmp_path).stdout
    for option in ("--select", "--exclude", "--full-refresh", "--force", "--threads", "--json"):
        assert option in run_help


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "headwater"
    if not script.exists():
        pytest.skip("the package is not installed with its console script")

    help_ = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, cwd=tmp_path, check=False
    )

    assert help_.returncode == 0
    assert "Headwater" in help_.stdout
    assert version.returncode == 0
    assert "0.1.0" in version.stdout


def loaded_heavy_modules(code: str, cwd: Path) -> list[str]:
    probe = (
        f"{code}\nimport sys\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    loaded: list[str] = json.loads(last.replace("'", '"'))
    return loaded


def test_import_headwater_is_light(tmp_path: Path) -> None:
    assert loaded_heavy_modules("import headwater\nheadwater.__version__", tmp_path) == []


def test_help_is_light(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from headwater.cli.main import main\n"
        "try:\n"
        "    main(['--help'], prog_name='headwater')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "try:\n"
        "    main(['run', '--help'], prog_name='headwater')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
    )
    assert loaded_heavy_modules(code, tmp_path) == []


def test_no_change_dag_is_light(small: Path) -> None:
    """A no-change `dag` reads the parse cache and the config only: no engine, no storage."""
    code = (
        "from headwater.cli.main import main\n"
        "try:\n"
        "    main(['dag'], prog_name='headwater')\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
    )
    assert loaded_heavy_modules(code, small) == []
