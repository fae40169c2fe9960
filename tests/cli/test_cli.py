"""The `headwater` command, run as a real subprocess against real projects."""

from __future__ import annotations

import csv
import io
import json
import re
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
    assert "Done: 17 built, 0 up to date" in first.stdout
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

    # every model and seed is up to date; the streams ask their sources, which hold nothing new
    assert "Done: 2 built, 15 up to date" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 17
    streams = [line for line in lines if "(stream)" in line]
    assert len(streams) == 2 and all(" OK " in line and " 0 rows " in line for line in streams)
    assert all(" FRESH " in line for line in lines if line not in streams)


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
    assert lines[-1] == "18 assets"


def test_dag_json(shop: Path) -> None:
    data = json.loads(ok(["dag", "--json"], shop).stdout)

    nodes = {n["key"]: n for n in data["nodes"]}
    assert len(nodes) == 18
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
    # 4 seeds, 7 stored models and 2 streams; views and ephemerals have no table
    assert len(body) == 13
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
        timeout=600,
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


# -- shared options, usage errors, Ctrl-C (issue 11) ----------------------------------------------


def _command_paths() -> list[list[str]]:
    """Every command and sub-command of `headwater`, as the words that name it."""
    import click

    from headwater.cli.main import main

    paths: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in sorted(group.commands.items()):
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(main, [])
    return paths


def test_every_command_takes_project_and_debug_after_its_name() -> None:
    from click.testing import CliRunner

    from headwater.cli.main import main

    paths = _command_paths()
    assert ["run"] in paths and ["runs", "show"] in paths and ["checks", "history"] in paths
    for path in paths:
        result = CliRunner().invoke(main, [*path, "--help"], prog_name="headwater")
        assert result.exit_code == 0, (path, result.output)
        assert "-p, --project DIRECTORY" in result.output, path
        assert "--debug" in result.output, path


def test_project_and_debug_after_the_subcommand_as_docs_promise(
    small: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    after = ok(["run", "--project", str(small), "--debug"], elsewhere)
    before = ok(["--project", str(small), "run"], elsewhere)
    short = ok(["runs", "--limit", "1", "-p", str(small)], elsewhere)
    run_id = json.loads(ok(["runs", "--json", "-p", str(small)], elsewhere).stdout)[0]["run_id"]
    shown = ok(["runs", "show", run_id, "--project", str(small)], elsewhere)

    assert "Done: 0 built, 2 up to date" in after.stdout
    assert "Done: 0 built, 2 up to date" in before.stdout
    assert short.stdout.splitlines()[0].startswith("run\tcommand\tstatus")
    assert f"# run {run_id}" in shown.stdout
    # given twice, the later one wins: the group's folder is wrong, the command's is right
    twice = ok(["--project", str(elsewhere), "tables", "--project", str(small)], elsewhere)
    assert "marts.total" in twice.stdout


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path: Path) -> None:
    write_files(tmp_path, {**FAILING, "headwater.yml": "name: failing\nthread: 2\n"})

    plain = run_cli(["dag"], tmp_path)
    debug = run_cli(["dag", "--debug"], tmp_path)

    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr
    assert "unknown key 'thread'; did you mean 'threads'?" in debug.stderr


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["run", "--no-such-option"], "No such option"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["backfill"], "Missing argument 'ASSET[+]...'"),
        (["runs", "show"], "Missing argument 'RUN_ID'"),
        (["run", "--threads", "zero"], "Invalid value for '--threads'"),
        (["run", "--project"], "Option '--project' requires an argument"),
    ],
    ids=["option", "command", "argument", "nested-argument", "value", "project-value"],
)
def test_usage_errors_exit_2_through_the_console_script(
    tmp_path: Path, args: list[str], stderr: str
) -> None:
    """The installed `headwater` script (`headwater.cli.main:entry`, which ends the process
    with os._exit) keeps click's exit code 2 for usage errors."""
    script = Path(sys.executable).parent / "headwater"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "headwater.cli.main"]
    write_files(tmp_path, FAILING)

    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=tmp_path, check=False, timeout=600
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert stderr in result.stderr
    assert "Traceback" not in result.stderr


SLOW = {
    "headwater.yml": "name: slow\nthreads: 2\nengine: {threads: 1}\n",
    "models/quick.sql": "select 1 as n",
    # 9e12 pairs: it runs until it is interrupted
    "models/slow.sql": (
        "select count(*) as n from range(3000000) a cross join range(3000000) b "
        "where a.range + b.range < 0"
    ),
}


def _as_in_a_terminal() -> None:
    """In the child before it starts: SIGINT's default disposition, as a command typed in a
    terminal has. A suite started in the background (`cmd &` in a script, nohup) passes SIGINT
    on ignored, and a process that starts with it ignored rightly leaves Ctrl-C alone."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _catalog_rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of the project's catalog, read directly (empty while it does not exist yet)."""
    import sqlite3

    try:
        with sqlite3.connect(root / ".headwater" / "catalog.db", timeout=30) as connection:
            return connection.execute(sql).fetchall()
    except sqlite3.Error:
        return []


def test_ctrl_c_stops_a_run_records_it_interrupted_and_prints_how_to_resume(
    tmp_path: Path,
) -> None:
    import signal
    import time

    from tests.conftest import HEADWATER

    write_files(tmp_path, SLOW)
    process = subprocess.Popen(
        [*HEADWATER, "run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,  # noqa: PLW1509 (one signal call, no lock taken)
    )
    try:
        # SIGINT once the catalog shows the slow build running and the quick one done
        progress = (
            "SELECT r.run_id, a.asset, a.status FROM hw_runs r JOIN hw_asset_results a "
            "ON a.run_id = r.run_id WHERE r.status = 'running'"
        )
        deadline = time.monotonic() + 300  # a guard against hanging, not a measurement
        while {(a, s) for _, a, s in _catalog_rows(tmp_path, progress)} != {
            ("main.quick", "success"),
            ("main.slow", "running"),
        }:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never got to the slow build"
            time.sleep(0.05)
        (run_id,) = {r for r, _, _ in _catalog_rows(tmp_path, progress)}
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, stdout + stderr
    assert f"Interrupted: run {run_id} stopped" in stderr
    assert f"resume it with: headwater run --resume {run_id}" in stderr
    assert "Traceback" not in stderr
    runs = _catalog_rows(tmp_path, "SELECT run_id, status FROM hw_runs")
    assert runs == [(run_id, "interrupted")]  # not left 'running'
    results = _catalog_rows(
        tmp_path, f"SELECT asset, status FROM hw_asset_results WHERE run_id = '{run_id}'"
    )
    assert sorted(results) == [("main.quick", "success"), ("main.slow", "interrupted")]

    # the printed command finishes the run: only what it did not build
    write_files(tmp_path, {"models/slow.sql": "select 2 as n"})
    resumed = ok(["run", "--resume", run_id], tmp_path)
    assert "OK    main.slow" in resumed.stdout
    assert "main.quick" not in resumed.stdout
    assert "Done: 1 built, 0 up to date" in resumed.stdout


ORDER_LINES = "order_id,line_number,product_id,quantity,ordered_at,order_date,amount\n" + "".join(
    f"{100 + o},{line},{(o * 7 + line) % 5 + 1},{line % 3 + 1},"
    f"2024-05-{o + 1:02d} 10:00:00,2024-05-{o + 1:02d},{(o + line) % 4 + 1}.50\n"
    for o in range(6)
    for line in (1, 2, 3)
)
TOMORROW = [
    "200,1,3,2,2024-06-30 09:00:00,2024-06-30,2.50",
    "200,2,4,1,2024-06-30 09:00:00,2024-06-30,1.50",
]
"""Newer orders: larger ids, later dates, within today's quantities and amounts."""


def test_suggest_checks_proposes_no_max_on_ever_growing_columns_and_a_compound_key(
    tmp_path: Path,
) -> None:
    """Outside scenario: the suggested checks pass today, and still pass tomorrow when newer
    orders (larger ids, later dates) arrive; order_id + line_number is the key."""
    write_files(tmp_path, {"headwater.yml": "name: lines\n", "seeds/lines.csv": ORDER_LINES})
    ok(["run"], tmp_path)
    sidecar = tmp_path / "seeds" / "lines.yml"

    ok(["suggest-checks", "raw.lines", "--output", str(sidecar)], tmp_path)

    import yaml

    suggested = yaml.safe_load(sidecar.read_text())
    ranges = {
        c["name"]: next(k["range"] for k in c["checks"] if isinstance(k, dict) and "range" in k)
        for c in suggested["columns"]
        if any(isinstance(k, dict) and "range" in k for k in c.get("checks", []))
    }
    for growing in ("order_id", "line_number", "product_id", "ordered_at", "order_date"):
        assert "max" not in ranges[growing], (growing, ranges[growing])
        assert "min" in ranges[growing]
    assert ranges["quantity"] == {"min": 1, "max": 3}
    assert ranges["amount"]["max"] == 4.5
    assert {"unique": {"columns": ["order_id", "line_number"]}} in suggested["checks"]
    assert not any(
        "unique" in c.get("checks", []) for c in suggested["columns"]
    )  # neither is unique alone
    assert ok(["test"], tmp_path).returncode == 0

    with (tmp_path / "seeds" / "lines.csv").open("a", encoding="utf-8") as seed:
        seed.write("\n".join(TOMORROW) + "\n")
    tomorrow = ok(["run"], tmp_path)
    assert "OK    raw.lines" in tomorrow.stdout
    with (tmp_path / "seeds" / "lines.csv").open("a", encoding="utf-8") as seed:
        seed.write(TOMORROW[0] + "\n")  # a repeated order line breaks the key
    assert run_cli(["run"], tmp_path).returncode == 1


def test_suggest_checks_proposes_no_compound_key_when_a_column_is_a_key(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "headwater.yml": "name: keyed\n",
            "seeds/keyed.csv": "id,region,day\n1,eu,1\n2,eu,2\n3,us,1\n4,us,2\n",
        },
    )
    ok(["run"], tmp_path)

    import yaml

    suggested = yaml.safe_load(ok(["suggest-checks", "raw.keyed"], tmp_path).stdout)

    # region + day are unique together here, but the table has its key: id
    assert suggested["checks"] == [{"row_count": {"min": 1}}]
    assert "unique" in suggested["columns"][0]["checks"]


# -- query: exact numbers, readable wide tables, DuckDB's errors, metadata ------------------------

EXACT = (
    "select 0.0001::double as tiny, 1234567.891 as dec, 1234567.891::double as dbl, "
    "1e-300::double as very_small, "
    "123456789012345678901234567.123456789::decimal(38,9) as big, "
    "0::decimal(18,6) as zero, 0.1::real as real_tenth, 2.5::double as half"
)
EXACT_TEXT = [
    "0.0001",
    "1234567.891",
    "1234567.891",
    "1e-300",
    "123456789012345678901234567.123456789",
    "0.000000",
    "0.1",
    "2.5",
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_cli_in_terminal(args: list[str], cwd: Path, columns: int = 80) -> tuple[int, str, str]:
    """Run the CLI with its standard output on a real pseudo-terminal `columns` wide; return
    the exit code, the terminal's text (colours removed) and standard error."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    from tests.conftest import HEADWATER

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm"}
    process = subprocess.Popen(
        [*HEADWATER, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while select.select([master], [], [], 300)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=300)
        assert process.stderr is not None
        stderr = process.stderr.read().decode()
    finally:
        os.close(master)
        if process.stderr is not None:
            process.stderr.close()
    text = ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")
    return code, text, stderr


def test_query_prints_numbers_exactly_when_piped(shop: Path) -> None:
    """Outside testing saw `0.0001::double` print 0.000 and 1234567.891 print 1234567.9."""
    lines = ok(["query", EXACT], shop).stdout.splitlines()

    assert lines[1].split("\t") == EXACT_TEXT
    assert json.loads(ok(["query", EXACT, "--format", "json"], shop).stdout) == {
        "tiny": 0.0001,
        "dec": "1234567.891",
        "dbl": 1234567.891,
        "very_small": 1e-300,
        "big": "123456789012345678901234567.123456789",
        "zero": "0.000000",
        "real_tenth": pytest.approx(0.1),
        "half": 2.5,
    }
    csv_rows = list(csv.reader(io.StringIO(ok(["query", EXACT, "--format", "csv"], shop).stdout)))
    assert csv_rows[1] == EXACT_TEXT


def test_query_prints_numbers_exactly_on_a_terminal(shop: Path) -> None:
    code, text, stderr = run_cli_in_terminal(["query", EXACT], shop, columns=200)

    assert code == 0, stderr
    cells = [c.strip() for c in text.splitlines()[3].strip("│ ").split("│")]
    assert cells == EXACT_TEXT


def test_query_round_rounds_only_when_asked(shop: Path) -> None:
    lines = ok(["query", EXACT, "--round", "2"], shop).stdout.splitlines()

    assert lines[1].split("\t") == [
        "0.00",
        "1234567.89",
        "1234567.89",
        "0.00",
        "123456789012345678901234567.12",
        "0.00",
        "0.10",
        "2.50",
    ]
    bad = run_cli(["query", "select 1", "--round", "-1"], shop)
    assert bad.returncode == 2 and "--round" in bad.stderr


WIDE = "select " + ", ".join(f"{n} * 1000.5 + 0.25 as column_number_{n:02d}" for n in range(30))


def test_query_wide_table_is_not_truncated_on_an_80_column_terminal(shop: Path) -> None:
    """Thirty columns do not fit in 80: each row prints as `column | value` lines, every name
    and value whole, rather than thirty columns cut to a few characters."""
    code, text, stderr = run_cli_in_terminal(["query", WIDE], shop, columns=80)

    assert code == 0, stderr
    assert "…" not in text
    for n in range(30):
        assert re.search(rf"^column_number_{n:02d} \| {n * 1000.5 + 0.25!r}$", text, re.M), text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_query_wide_table_is_whole_when_piped(shop: Path) -> None:
    header, row = ok(["query", WIDE], shop).stdout.splitlines()

    assert header.split("\t") == [f"column_number_{n:02d}" for n in range(30)]
    assert row.split("\t") == [repr(n * 1000.5 + 0.25) for n in range(30)]


def test_query_long_text_wraps_in_a_table_that_fits(shop: Path) -> None:
    sentence = " ".join(f"word{n}" for n in range(40))
    code, text, stderr = run_cli_in_terminal(
        ["query", f"select 1234567.891::double as amount, '{sentence}' as note"], shop, 80
    )

    assert code == 0, stderr
    assert "│" in text and "…" not in text  # still a table, wrapped rather than cut
    assert "1234567.891" in text
    assert all(f"word{n}" in text for n in range(40))


def test_query_bad_sql_shows_duckdbs_parser_message(shop: Path) -> None:
    """Outside testing got sqlglot internals and a hint about models for a typo."""
    result = run_cli(["query", "select order_date\nFORM marts.daily_revenue"], shop)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert 'Parser Error: syntax error at or near "marts"' in result.stderr
    assert "LINE 2: FORM marts.daily_revenue\n" in result.stderr
    lines = result.stderr.splitlines()
    caret = lines[lines.index("LINE 2: FORM marts.daily_revenue") + 1]
    assert caret.index("^") == len("LINE 2: FORM ")  # points at the word DuckDB names
    assert "model" not in result.stderr and "sqlglot" not in result.stderr
    for sql, message in [
        ("select 1; select 2", "holds 2 statements"),
        ("create table x (a int)", "does not run CREATE statements"),
        ("summarize marts.daily_revenue", "does not run SUMMARIZE statements"),
    ]:
        refused = run_cli(["query", sql], shop)
        assert refused.returncode == 2, sql
        assert message in refused.stderr and "Traceback" not in refused.stderr


def test_query_describe_show_tables_and_information_schema(shop: Path) -> None:
    described = ok(["query", "describe orders"], shop).stdout.splitlines()
    assert described[0].split("\t") == ["column_name", "column_type", "null"]
    assert "order_id\tBIGINT\tYES" in described

    shown = ok(["query", "SHOW TABLES"], shop).stdout.splitlines()
    assert shown[0] == "name"
    assert {"marts.daily_revenue", "raw.orders", "staging.stg_orders"} <= set(shown[1:])

    tables = ok(
        [
            "query",
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' order by 1",
        ],
        shop,
    ).stdout.splitlines()
    assert tables[0] == "table_name" and "daily_revenue" in tables[1:]
    assert len(tables) == 8  # the seven marts, nothing of DuckDB's own catalog

    columns = ok(
        [
            "query",
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'stg_orders' "
            "order by ordinal_position",
            "--format",
            "json",
        ],
        shop,
    ).stdout
    assert json.loads(columns.splitlines()[0]) == {"column_name": "order_id", "data_type": "BIGINT"}

    unknown = run_cli(["query", "describe marts.daily_revenu"], shop)
    assert unknown.returncode == 2 and "did you mean marts.daily_revenue?" in unknown.stderr
    other = run_cli(["query", "select * from information_schema.views"], shop)
    assert other.returncode == 2 and "information_schema.views" in other.stderr


# -- vacuum, time travel, history, restore (issue 11) ---------------------------------------------


def test_vacuum_below_the_safe_retention_is_refused_without_force(small: Path) -> None:
    refused = run_cli(["vacuum", "raw.payments", "--retain", "0"], small)

    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert "Error: vacuum of raw.payments with --retain 0 refused" in refused.stderr
    assert "safe minimum of 168 hours" in refused.stderr
    assert "pass --force" in refused.stderr
    version_0 = ["query", "select count(*) as n from raw.payments", "--as-of", "0"]
    assert json.loads(ok([*version_0, "--format", "json"], small).stdout) == {"n": 2}

    forced = ok(["vacuum", "raw.payments", "--retain", "0", "--force"], small)
    assert forced.stdout.splitlines()[0] == "Deleted 1 files."


def test_vacuum_dry_run_lists_a_file_removed_twice_once(small: Path) -> None:
    ok(["restore", "raw.payments", "--version", "0"], small)  # v2 adds v0's file again
    (small / "seeds/payments.csv").write_text("id,amount\n9,90\n")
    with Project(small) as project:
        assert project.run().status == "success"  # v3 removes it a second time

    dry = ok(["vacuum", "raw.payments", "--retain", "0", "--dry-run"], small).stdout.splitlines()

    files = [line.strip() for line in dry[1:]]
    assert dry[0] == "Would delete 2 files."
    assert len(files) == len(set(files)) == 2
    deleted = ok(["vacuum", "raw.payments", "--retain", "0", "--force"], small).stdout
    assert [line.strip() for line in deleted.splitlines()[1:]] == files


def test_history_marks_vacuumed_versions_and_as_of_names_the_readable_ones(small: Path) -> None:
    ok(["vacuum", "raw.payments", "--retain", "0", "--force"], small)

    lines = ok(["history", "raw.payments"], small).stdout.splitlines()
    assert lines[1].split("\t")[-1] == "readable"
    marks = {line.split("\t")[0]: line.split("\t")[-1] for line in lines[2:]}
    assert marks == {"1": "yes", "0": "no: files vacuumed"}
    data = json.loads(ok(["history", "raw.payments", "--json"], small).stdout)
    assert [(e["version"], e["readable"]) for e in data] == [(1, True), (0, False)]

    old = run_cli(["query", "select count(*) from raw.payments", "--as-of", "0"], small)
    assert old.returncode == 1
    assert "Traceback" not in old.stderr and "IO Error" not in old.stderr
    assert ".parquet" not in old.stderr
    assert "table raw.payments version 0 can no longer be read" in old.stderr
    assert "versions still readable: 1" in old.stderr


def test_history_shows_merge_with_the_rows_it_changed(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "headwater.yml": "name: merges\nthreads: 2\n",
            "seeds/src.csv": "id,v\n1,a\n2,a\n3,a\n",
            "models/core/t.sql": (
                "{{ config(materialized='incremental', unique_key='id') }}\n"
                "select id, v from raw.src"
            ),
        },
    )
    ok(["run"], tmp_path)
    (tmp_path / "seeds/src.csv").write_text("id,v\n3,b\n4,b\n")
    ok(["run"], tmp_path)

    lines = ok(["history", "core.t"], tmp_path).stdout.splitlines()
    header = lines[1].split("\t")
    merge = dict(zip(header, lines[2].split("\t"), strict=True))
    assert merge["operation"] == "MERGE"
    assert merge["rows written"] == "2"  # one updated, one inserted; the table holds 4


def test_restore_by_timestamp_prints_the_version_it_resolved_to(small: Path) -> None:
    import datetime as dt

    history = json.loads(ok(["history", "raw.payments", "--json"], small).stdout)
    stamps = {e["version"]: e["timestamp_ms"] for e in history}
    moment = dt.datetime.fromtimestamp(stamps[0] / 1000, dt.UTC).isoformat(timespec="milliseconds")
    # the version current at that moment: the newest committed at or before it
    expected = max(v for v, ms in stamps.items() if ms <= stamps[0])

    result = ok(["restore", "raw.payments", "--version", moment], small)

    assert result.stdout.strip() == (
        f"Restored raw.payments to version {expected} (current at {moment}); it is now version 2."
    )
    latest = json.loads(ok(["history", "raw.payments", "--json", "--limit", "1"], small).stdout)
    assert latest[0]["operation"] == "RESTORE"
    now = dt.datetime.now(dt.UTC).isoformat()
    current = run_cli(["restore", "raw.payments", "--version", now], small)
    assert current.returncode == 1 and "Traceback" not in current.stderr
    assert "nothing to restore: version 2 is already its latest version" in current.stderr


def test_query_round_pads_decimals_to_exactly_n_places(shop: Path) -> None:
    sql = (
        "select 12.5::decimal(10,2) as d, -3::decimal(5,0) as whole, "
        "1.23456::decimal(10,5) as finer, 0.1::real as r, null::decimal(10,2) as nothing"
    )

    lines = ok(["query", sql, "--round", "4"], shop).stdout.splitlines()
    assert lines[1].split("\t") == ["12.5000", "-3.0000", "1.2346", "0.1000", ""]
    lines = ok(["query", sql, "--round", "0"], shop).stdout.splitlines()
    assert lines[1].split("\t") == ["12", "-3", "1", "0", ""]


def test_query_shows_reals_inside_lists_and_structs_in_their_shortest_form(shop: Path) -> None:
    sql = (
        "select [0.1::real, null, 2.5::real] as reals, "
        "{'x': 0.1::real, 'y': [0.2::real], 'z': 0.1::double} as s, "
        "[[0.3::real]] as nested"
    )

    lines = ok(["query", sql], shop).stdout.splitlines()
    assert lines[1].split("\t") == ["[0.1, NULL, 2.5]", "{x: 0.1, y: [0.2], z: 0.1}", "[[0.3]]"]


def test_query_piped_values_with_tabs_and_newlines_stay_on_one_row(shop: Path) -> None:
    sql = (
        "select 'a' || chr(9) || 'b' as tab, 'one' || chr(10) || 'two' || chr(13) as lines, "
        "'back\\slash\\n' as slash, 'plain' as \"odd" + "\t" + 'name"'
    )

    lines = ok(["query", sql], shop).stdout.splitlines()
    assert lines == [
        "tab\tlines\tslash\todd\\tname",
        "a\\tb\tone\\ntwo\\r\tback\\\\slash\\\\n\tplain",
    ]
    csv_rows = list(csv.reader(io.StringIO(ok(["query", sql, "--format", "csv"], shop).stdout)))
    # CSV quotes such values instead (the text-mode pipe turns the \r into \n)
    assert csv_rows[1] == ["a\tb", "one\ntwo\n", "back\\slash\\n", "plain"]


def test_a_second_ctrl_c_ends_a_run_blocked_where_the_engine_cannot_interrupt_it(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import time

    from tests.conftest import HEADWATER

    write_files(
        tmp_path,
        {
            "headwater.yml": "name: piped\n",
            "models/quick.sql": "select 1 as x",
            # opening a named pipe nobody writes to blocks in the OS, beyond DuckDB's interrupt
            "models/gate.sql": (
                "select * from read_csv('gate.csv', header = true, columns = {'x': 'INTEGER'})\n"
            ),
        },
    )
    os.mkfifo(tmp_path / "gate.csv")
    log = tmp_path / "stderr.txt"
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [*HEADWATER, "run"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            preexec_fn=_as_in_a_terminal,  # noqa: PLW1509 (one signal call, no lock taken)
        )
    try:
        progress = (
            "SELECT r.run_id, a.asset, a.status FROM hw_runs r JOIN hw_asset_results a "
            "ON a.run_id = r.run_id WHERE r.status = 'running'"
        )
        deadline = time.monotonic() + 600  # guards against hanging, not a measurement
        while ("main.gate", "running") not in {
            (a, s) for _, a, s in _catalog_rows(tmp_path, progress)
        }:
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the run never got to the blocked build"
            time.sleep(0.05)
        (run_id,) = {r for r, _, _ in _catalog_rows(tmp_path, progress)}
        process.send_signal(signal.SIGINT)
        while "press Ctrl-C again to force quit" not in log.read_text(encoding="utf-8"):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the first Ctrl-C said nothing"
            time.sleep(0.05)
        assert process.poll() is None  # the build is still blocked: the first stop waits
        process.send_signal(signal.SIGINT)
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text(encoding="utf-8")
    assert process.returncode == 130, output
    assert f"Forced to stop: run {run_id} ended at once" in output
    assert "Traceback" not in output
    # left as it was, as a crash would leave it ...
    assert _catalog_rows(tmp_path, "SELECT run_id, status FROM hw_runs") == [(run_id, "running")]

    # ... and the next run settles it as a dead run
    (tmp_path / "gate.csv").unlink()
    write_files(tmp_path, {"gate.csv": "x\n1\n"})
    ok(["run"], tmp_path)
    statuses = dict(_catalog_rows(tmp_path, "SELECT run_id, status FROM hw_runs"))
    assert statuses.pop(run_id) == "interrupted"
    assert list(statuses.values()) == ["success"]
    results = _catalog_rows(
        tmp_path, f"SELECT asset, status FROM hw_asset_results WHERE run_id = '{run_id}'"
    )
    assert ("main.gate", "interrupted") in results
    assert not list((tmp_path / ".headwater" / "locks" / "runs").iterdir())


def test_test_show_sql_prints_the_sql_of_passing_checks_too(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            **SMALL,
            "seeds/payments.yml": "columns:\n  - name: amount\n    checks: [not_null]\n",
        },
    )
    with Project(tmp_path) as project:
        assert project.run().status == "success"
    plain = ok(["test"], tmp_path)
    assert "PASS  not_null_amount" in plain.stdout
    assert "sql:" not in plain.stdout  # a passing check's SQL only when asked for
    shown = ok(["test", "--show-sql"], tmp_path)
    assert "PASS  not_null_amount" in shown.stdout
    assert "sql: SELECT * FROM raw.payments WHERE" in shown.stdout
