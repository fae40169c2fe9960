"""Run the TPC-H ingest benchmark: the 8 SF1 tables from CSV (and from PostgreSQL) into Delta.

Tools, side by side, taking turns run by run, each a fresh process in a fresh folder under
`/usr/bin/time -v` (wall time, peak RSS):

- floor: DuckDB `read_csv` -> Arrow batches -> `deltalake.write_deltalake`, one process;
- headwater: `headwater ingest` of a `kind: files` source (mode replace);
- headwater-pg: `headwater ingest` of a `kind: sql` source on a local PostgreSQL server holding
  the same tables (loaded once with COPY; the server is started here, on a free port);
- dlt-duckdb / dlt-delta: dlt's filesystem source with `read_csv_duckdb`, into DuckDB and into Delta
  tables (dlt runs in its own venv, created with `--install-dlt`).

Every output is checked: each table's row count equals the CSV's.
Writes `bench/results/tpch_ingest.md`.

Usage: .venv/bin/python bench/tpch_ingest/run.py [--sf 1] [--runs 3] [--tools ...]
       [--install-dlt]
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
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from tpch_data import DATA_ROOT, TABLES, _tpchgen, sf_label  # noqa: E402

WORK = BENCH / ".work" / "tpch_ingest"
DLT_VENV = BENCH / ".venvs" / "dlt"
TIME = Path("/usr/bin/time")
ALL_TOOLS = ("floor", "headwater", "headwater-pg", "dlt-duckdb", "dlt-delta")


@dataclass
class Row:
    """One tool's timed runs."""

    tool: str
    walls: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    note: str = ""


def duckdb_counts(path: Path) -> dict[str, int]:
    """Rows per table of the `tpch` schema in the DuckDB file dlt wrote."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        query = "SELECT count(*) FROM tpch.{}"
        counts = {t: connection.execute(query.format(t)).fetchone() for t in TABLES}
    return {t: int(row[0]) for t, row in counts.items() if row is not None}


def csv_dir(sf: float) -> Path:
    """Generate (once) and return the folder of one CSV file per table."""
    folder = DATA_ROOT / f"tpch-sf{sf_label(sf)}" / "csv"
    if not all((folder / f"{t}.csv").exists() for t in TABLES):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([_tpchgen(), "csv", "-s", str(sf), "--output-dir", str(folder)], check=True)
    return folder


def csv_rows(folder: Path) -> dict[str, int]:
    """Rows per table (lines minus the header), counted once."""
    counts = {}
    for table in TABLES:
        with open(folder / f"{table}.csv", "rb") as handle:
            counts[table] = (
                sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1
            )
    return counts


def measure(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run `cmd` under /usr/bin/time -v; return (wall seconds, peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        proc = subprocess.run(
            [str(TIME), "-v", "-o", report.name, *cmd],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        text = report.read()
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return wall, int(found.group(1)) / 1024 if found else float("nan")


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def delta_counts(root: Path) -> dict[str, int]:
    from deltalake import DeltaTable

    return {
        t: DeltaTable(str(root / t)).to_pyarrow_dataset().count_rows()
        for t in TABLES
        if (root / t / "_delta_log").exists()
    }


def headwater_project(root: Path, source: str) -> Path:
    project = fresh(root / "project")
    (project / "headwater.yml").write_text("name: tpch_ingest\nthreads: 2\n")
    (project / "sources").mkdir()
    (project / "sources" / "tpch.yml").write_text(source)
    return project


def files_source(folder: Path) -> str:
    tables = "".join(
        f"  {t}:\n    path: {folder / (t + '.csv')}\n    mode: replace\n" for t in TABLES
    )
    return f"kind: files\ntables:\n{tables}"


def pg_source(port: int) -> str:
    tables = "".join(f"  {t}:\n    table: public.{t}\n" for t in TABLES)
    return f"kind: sql\nurl: postgresql://postgres@127.0.0.1:{port}/tpch\ntables:\n{tables}"


def start_postgres_with_tpch(folder: Path) -> object:
    """A local PostgreSQL server holding the 8 tables (types inferred by DuckDB, COPY-loaded)."""
    import duckdb
    import psycopg
    from tests.support.postgres import start_postgres

    server = start_postgres()
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        connection.execute("CREATE DATABASE tpch")
    with psycopg.connect(server.dsn("tpch")) as connection:
        for table in TABLES:
            path = folder / f"{table}.csv"
            described = duckdb.sql(f"DESCRIBE SELECT * FROM read_csv('{path}')").fetchall()
            columns = ", ".join(f'"{name}" {_pg_type(kind)}' for name, kind, *_ in described)
            connection.execute(f"CREATE TABLE {table} ({columns})")
            with (
                open(path, "rb") as data,
                connection.cursor().copy(
                    f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)"
                ) as copy,
            ):
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
        connection.execute("ANALYZE")
    return server


def _pg_type(kind: str) -> str:
    if kind.startswith("DECIMAL"):
        return kind.replace("DECIMAL", "numeric")
    return {
        "BIGINT": "bigint",
        "INTEGER": "integer",
        "DOUBLE": "double precision",
        "DATE": "date",
        "VARCHAR": "text",
    }.get(kind, "text")


def ensure_dlt() -> Path | None:
    python = DLT_VENV / "bin" / "python"
    return python if python.exists() else None


def install_dlt() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
    subprocess.run(
        [
            str(DLT_VENV / "bin" / "pip"),
            "install",
            "-q",
            "dlt[duckdb,deltalake,filesystem]>=1.5,<2",
            "pandas>=2",  # dlt's read_csv reads through pandas
        ],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default=",".join(ALL_TOOLS))
    parser.add_argument("--install-dlt", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "tpch_ingest.md")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    if args.install_dlt and ensure_dlt() is None:
        install_dlt()
    if any(t.startswith("dlt") for t in tools) and ensure_dlt() is None:
        print("dlt venv missing (use --install-dlt); skipping dlt")
        tools = [t for t in tools if not t.startswith("dlt")]
    folder = csv_dir(args.sf)
    expected = csv_rows(folder)
    total = sum(expected.values())
    headwater = [str(Path(sys.executable).parent / "headwater")]
    server = start_postgres_with_tpch(folder) if "headwater-pg" in tools else None
    rows = {t: Row(t) for t in tools}
    load = os.getloadavg()[0]
    try:
        for attempt in range(args.runs + 1):  # the first round warms caches, untimed
            for tool in tools:
                root = fresh(WORK / tool)
                if tool == "floor":
                    cmd = [
                        sys.executable,
                        str(BENCH / "tpch_ingest" / "floor.py"),
                        str(folder),
                        str(root / "lake"),
                    ]
                    cwd, lake = root, root / "lake"
                elif tool == "headwater":
                    cwd = headwater_project(root, files_source(folder))
                    cmd, lake = [*headwater, "ingest"], cwd / "warehouse" / "tpch"
                elif tool == "headwater-pg":
                    assert server is not None
                    cwd = headwater_project(root, pg_source(server.port))  # type: ignore[attr-defined]
                    cmd, lake = [*headwater, "ingest"], cwd / "warehouse" / "tpch"
                else:
                    python = ensure_dlt()
                    assert python is not None
                    kind = tool.split("-", 1)[1]
                    cmd = [
                        str(python),
                        str(BENCH / "tpch_ingest" / "dlt_load.py"),
                        str(folder),
                        str(root),
                        kind,
                    ]
                    cwd, lake = root, root / "lake" / "tpch"
                wall, rss = measure(cmd, cwd)
                got = (
                    duckdb_counts(root / "dlt.duckdb")
                    if tool == "dlt-duckdb"
                    else delta_counts(lake)
                )
                if got != expected:
                    rows[tool].note = f"WRONG row counts: {got}"
                if attempt:
                    rows[tool].walls.append(wall)
                    rows[tool].rss.append(rss)
                    print(
                        f"  {tool} #{attempt}: {wall:.2f} s, {rss:.0f} MiB, "
                        f"{total / wall / 1e3:.0f}k rows/s"
                    )
                else:
                    print(f"  {tool} warm-up: {wall:.2f} s")
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    floor = statistics.median(rows["floor"].walls) if "floor" in rows else None
    dlt_delta = statistics.median(rows["dlt-delta"].walls) if "dlt-delta" in rows else None
    lines = [
        "# TPC-H ingest benchmark",
        "",
        f"{dt.datetime.now():%Y-%m-%d %H:%M}, TPC-H sf{sf_label(args.sf)} CSV, 8 tables, "
        f"{total:,} rows; {os.cpu_count()} cores; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end. Generated by `bench/tpch_ingest/run.py`; median of "
        f"{args.runs} runs after one warm-up round, tools taking turns.",
        "",
        "| tool | median s | min\u2013max s | peak RSS MiB | rows/s | throughput \u00d7 floor "
        "| \u00d7 dlt (delta) | check |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows.values():
        median = statistics.median(row.walls)
        lines.append(
            f"| {row.tool} | {median:.2f} | {min(row.walls):.2f}\u2013{max(row.walls):.2f} | "
            f"{max(row.rss):.0f} | {total / median / 1e3:,.0f}k | "
            f"{floor / median if floor else float('nan'):.2f}\u00d7 | "
            f"{dlt_delta / median if dlt_delta else float('nan'):.2f}\u00d7 | "
            f"{row.note or 'row counts match'} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
