"""Orchestration overhead: 500 trivial SQL models (chains and fan-outs) at 2 threads.

The graph: 20 roots (`select 1 as x`), each the head of a chain of 5 models, each chain's end
fanning out to 20 leaves: 20 + 80 + 400 = 500 models, every one a table. Timed, each as a fresh
process under `/usr/bin/time -v`, tools taking turns:

- floor: the same 500 statements (`CREATE TABLE ... AS SELECT ...`) run one after another by
  one DuckDB connection in one process: the time the SQL itself takes;
- headwater: `headwater run --threads 2` (Delta tables, catalog, the publish audit), with
  metrics on (the default) and off;
- dbt-duckdb: `dbt run --threads 2` (tables in a DuckDB file), when its venv exists
  (`bench/.venvs/dbt`, made by `bench/tpch_marts/run.py --install-dbt`).

Per-asset overhead = (tool's wall time - floor's wall time) / 500. Writes
`bench/results/orchestration.md`.

Usage: .venv/bin/python bench/orchestration/run.py [--runs 3] [--models 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
WORK = BENCH / ".work" / "orchestration"
DBT = BENCH / ".venvs" / "dbt" / "bin" / "dbt"
HEADWATER = REPO / ".venv" / "bin" / "headwater"
TIME = "/usr/bin/time"
ROOTS, CHAIN, LEAVES = 20, 4, 20
DASH = "\u2013"  # en dash, for ranges in the report


def graph(models: int) -> list[tuple[str, str]]:
    """(name, SQL) of every model, parents before children."""
    roots = max(1, models // (1 + CHAIN + LEAVES))
    found: list[tuple[str, str]] = []
    for r in range(roots):
        found.append((f"r{r}", f"select {r} as x"))
        parent = f"r{r}"
        for c in range(CHAIN):
            name = f"r{r}_c{c}"
            found.append((name, f"select x + 1 as x from {{ref}}{parent}{{end}}"))
            parent = name
        for leaf in range(LEAVES):
            found.append((f"r{r}_l{leaf}", f"select x * {leaf} as x from {{ref}}{parent}{{end}}"))
    return found[:models]


def headwater_project(root: Path, models: list[tuple[str, str]], metrics: bool) -> Path:
    project = root / "project"
    (project / "models" / "m").mkdir(parents=True)
    quality = "" if metrics else "quality: {metrics: false}\n"
    (project / "headwater.yml").write_text(f"name: orchestration\nthreads: 2\n{quality}")
    for name, sql in models:
        text = sql.replace("{ref}", "m.").replace("{end}", "")
        (project / "models" / "m" / f"{name}.sql").write_text(text + "\n")
    return project


def dbt_project(root: Path, models: list[tuple[str, str]]) -> Path:
    project = root / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: orchestration\nversion: '1.0'\nprofile: orchestration\n"
        "models:\n  orchestration:\n    +materialized: table\n"
    )
    (project / "profiles.yml").write_text(
        "orchestration:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {project / 'bench.duckdb'}\n      threads: 2\n"
    )
    for name, sql in models:
        text = sql.replace("{ref}", "{{ ref('").replace("{end}", "') }}")
        (project / "models" / f"{name}.sql").write_text(text + "\n")
    return project


def floor_script(root: Path, models: list[tuple[str, str]]) -> Path:
    statements = [
        f"CREATE TABLE {name} AS {sql.replace('{ref}', '').replace('{end}', '')}"
        for name, sql in models
    ]
    script = root / "floor.py"
    script.write_text(
        "import duckdb\ncon = duckdb.connect()\n"
        f"for statement in {statements!r}:\n    con.execute(statement)\n"
    )
    return script


def measure(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `cmd`."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        done = subprocess.run(
            [TIME, "-v", "-o", report.name, *cmd],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        text = report.read()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return wall, int(found.group(1)) / 1024 if found else float("nan")


def main() -> None:
    """Time every tool and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", type=int, default=500)
    args = parser.parse_args()
    models = graph(args.models)
    load = os.getloadavg()[0]

    def fresh(name: str) -> Path:
        folder = WORK / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def floor() -> tuple[list[str], Path]:
        root = fresh("floor")
        return [sys.executable, str(floor_script(root, models))], root

    def headwater(metrics: bool) -> tuple[list[str], Path]:
        root = fresh("headwater" if metrics else "headwater-nometrics")
        project = headwater_project(root, models, metrics)
        return [str(HEADWATER), "run", "--threads", "2"], project

    def dbt() -> tuple[list[str], Path]:
        root = fresh("dbt")
        project = dbt_project(root, models)
        cmd = [str(DBT), "run", "--threads", "2", "--project-dir", str(project)]
        return [*cmd, "--profiles-dir", str(project), "--no-send-anonymous-usage-stats"], project

    tools = {
        "floor": (f"the {len(models)} statements in one DuckDB connection", floor),
        "headwater": ("`headwater run --threads 2`", lambda: headwater(True)),
        "headwater (metrics off)": ("the same, `quality.metrics: false`", lambda: headwater(False)),
    }
    if DBT.exists():
        tools["dbt-duckdb"] = ("`dbt run --threads 2`", dbt)
    else:
        print(f"{DBT} not found: dbt-duckdb skipped (bench/tpch_marts/run.py --install-dbt)")
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
    for round_number in range(args.runs + 1):  # the first round warms caches, untimed
        for name, (_, make) in tools.items():
            cmd, cwd = make()
            wall, rss = measure(cmd, cwd)
            if round_number:
                samples[name].append((wall, rss))
                print(f"  {name} #{round_number}: {wall:.2f} s, {rss:.0f} MiB")
    floor_wall = statistics.median(w for w, _ in samples["floor"])
    lines = [
        "# Orchestration overhead benchmark",
        "",
        f"{dt.datetime.now():%Y-%m-%d %H:%M}, {len(models)} models (20 roots, chains of "
        f"{CHAIN}, fan-outs of {LEAVES}), 2 threads, {os.cpu_count()} cores; load average "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. Generated by "
        f"`bench/orchestration/run.py`; median of {args.runs} runs after a warm-up round.",
        "",
        f"| tool | what was timed | median s | min{DASH}max s | peak RSS MiB "
        "| overhead per asset |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, (what, _) in tools.items():
        walls = [w for w, _ in samples[name]]
        median = statistics.median(walls)
        overhead = (
            DASH if name == "floor" else f"{(median - floor_wall) / len(models) * 1000:.1f} ms"
        )
        lines.append(
            f"| {name} | {what} | {median:.2f} | {min(walls):.2f}{DASH}{max(walls):.2f} | "
            f"{max(r for _, r in samples[name]):.0f} | {overhead} |"
        )
    lines += [
        "",
        "Overhead per asset = (median wall time - the floor's) / models: everything a tool does",
        "besides running the SQL (parsing and planning the project, writing each table, the",
        "catalog, the publish audit). Headwater's tables are Delta tables; dbt-duckdb's are",
        "tables in one DuckDB file.",
    ]
    out = BENCH / "results" / "orchestration.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
