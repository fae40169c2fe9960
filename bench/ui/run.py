"""UI page latency: a project of 500 assets with 1,000 runs in its catalog.

The project: 50 seeds (200 rows, 6 columns each), 150 staging views over them, 200
intermediate tables joining two staging views, and 100 marts aggregating an intermediate
table: 500 assets, built for real (Delta tables, checks, metrics, column lineage) by two
`headwater run`s. The catalog then gets the history of 998 more runs of all 500 assets
(results, and every 10th run its metrics and check results) written through the catalog's own
API, so it holds 1,000 runs and 500,000 asset results, as a busy project would after a few
months of hourly runs.

Timed: each page served by the real server (uvicorn on 127.0.0.1, as `headwater ui` runs it),
requested with httpx from this process: the first request (cold: the project and the column
graph load) and then the median, p95 and max of 40 more. Target: every page under 300 ms.
Writes `bench/results/ui.md`.

Usage: .venv/bin/python bench/ui/run.py [--requests 40] [--runs 1000] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
WORK = BENCH / ".work" / "ui"
HEADWATER = REPO / ".venv" / "bin" / "headwater"
SEEDS, STAGING, INTERMEDIATE, MARTS = 50, 150, 200, 100
TARGET_MS = 300.0


def write_project(root: Path) -> None:
    """The 500-asset project described above."""
    rng = random.Random(7)
    (root / "seeds").mkdir(parents=True)
    for folder in ("staging", "intermediate", "marts"):
        (root / "models" / folder).mkdir(parents=True)
    (root / "headwater.yml").write_text("name: ui_bench\nthreads: 4\n")
    for s in range(SEEDS):
        lines = ["id,customer_id,amount,status,created_at,region"]
        for n in range(200):
            lines.append(
                f"{n},{rng.randint(1, 50)},{rng.randint(1, 9999) / 100},"
                f"{rng.choice(['paid', 'void', 'open'])},2026-0{1 + n % 9}-1{n % 10},"
                f"{rng.choice(['eu', 'us', 'apac'])}"
            )
        (root / "seeds" / f"seed_{s}.csv").write_text("\n".join(lines) + "\n")
        (root / "seeds" / f"seed_{s}.yml").write_text(
            f"description: Raw export number {s}.\ncolumns:\n"
            "  - name: id\n    description: Row id.\n    checks: [not_null, unique]\n"
            "  - name: status\n    checks:\n"
            "      - accepted_values: {values: [paid, void, open]}\n"
        )
    for v in range(STAGING):
        seed = v % SEEDS
        (root / "models" / "staging" / f"stg_{v}.sql").write_text(
            f"select *, amount * {1 + v % 3} as weighted, upper(region) as region_code\n"
            f"from raw.seed_{seed}\nwhere status <> 'void'\n"
        )
        (root / "models" / "staging" / f"stg_{v}.yml").write_text("materialized: view\n")
    for i in range(INTERMEDIATE):
        left, right = i % STAGING, (i * 7 + 3) % STAGING
        (root / "models" / "intermediate" / f"int_{i}.sql").write_text(
            "select a.id, a.customer_id, a.amount, b.weighted, a.region_code,\n"
            "  case when a.amount > 50 then 'big' else 'small' end as size\n"
            f"from staging.stg_{left} a join staging.stg_{right} b on a.id = b.id\n"
        )
        (root / "models" / "intermediate" / f"int_{i}.yml").write_text(
            "description: Joined lines.\ncolumns:\n  - name: id\n    checks: [not_null]\n"
        )
    for m in range(MARTS):
        source = (m * 3) % INTERMEDIATE
        (root / "models" / "marts" / f"mart_{m}.sql").write_text(
            "select customer_id, region_code, count(*) as lines, sum(amount) as revenue,\n"
            "  max(weighted) as top_weighted,\n"
            "  sum(amount) / sum(sum(amount)) over (partition by region_code) as share\n"
            f"from intermediate.int_{source}\ngroup by customer_id, region_code\n"
        )
        (root / "models" / "marts" / f"mart_{m}.yml").write_text(
            "description: Revenue per customer and region.\nowner: analytics\n"
            "columns:\n  - name: revenue\n    description: Sum of amounts.\n"
            "    checks: [not_null]\n"
        )


def fill_history(root: Path, runs: int) -> None:
    """Record `runs` - 2 more runs of every asset through the catalog's API."""
    from headwater import Project
    from headwater.catalog.quality import record_audit
    from headwater.quality.audit import AuditReport, CheckResult
    from headwater.quality.metrics import MetricValue

    project = Project(root)
    catalog = project.catalog
    keys = list(project.definition.assets)
    started = time.perf_counter()
    for n in range(runs - 2):
        record = catalog.start_run("run", None, 4, False)
        status = "failed" if n % 50 == 49 else "success"
        results = [
            {
                "asset": key,
                "status": "success" if status == "success" or i % 7 else "failed",
                "materialization": project.definition.assets[key].build_kind,
                "delta_version": None,
                "message": None,
            }
            for i, key in enumerate(keys)
        ]
        catalog.record_assets(record.run_id, results)
        if n % 10 == 0:
            for key in keys:
                if not project.definition.assets[key].is_stored:
                    continue
                report = AuditReport(
                    rows=200,
                    results=[CheckResult("not_null_id", "not_null", "id", "error", "pass")],
                    metrics=[
                        MetricValue("row_count", None, 200.0 + n % 13),
                        MetricValue("null_fraction", "id", 0.0),
                        MetricValue("null_fraction", "amount", (n % 5) / 100),
                    ],
                )
                record_audit(catalog, record.run_id, key, None, True, report)
        catalog.finish_run(record.run_id, status)
    print(f"  history: {runs - 2} runs recorded in {time.perf_counter() - started:.0f} s")
    project.close()


def time_pages(root: Path, requests: int) -> list[tuple[str, float, list[float]]]:
    """(page, first request ms, later requests ms) for each page."""
    import httpx
    from tests.support.ui_server import serve

    from headwater import Project

    project = Project(root)
    run_id = project.runs(1)[0]["run_id"]
    built = project.runs(10_000)[-1]["run_id"]  # the first run: a real build of everything
    pages = [
        ("graph of 500 assets", "/"),
        ("graph filtered (+mart_7)", "/?select=%2Bmarts.mart_7"),
        ("asset page (a mart)", "/assets/marts.mart_7"),
        ("asset page (a seed)", "/assets/raw.seed_3"),
        ("asset at version 0", "/assets/marts.mart_7?version=0"),
        ("runs list", "/runs"),
        ("runs list, page 20", "/runs?page=20"),
        ("run page (500 results)", f"/runs/{run_id}"),
        ("run page (a real build)", f"/runs/{built}"),
        ("sql page", "/sql"),
        ("/metrics", "/metrics"),
        ("/api/assets", "/api/assets"),
    ]
    found = []
    with serve(project) as base, httpx.Client(base_url=base, timeout=60) as client:
        for label, path in pages:
            clock = time.perf_counter()
            response = client.get(path)
            first = (time.perf_counter() - clock) * 1000
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
            later = []
            for _ in range(requests):
                clock = time.perf_counter()
                client.get(path).raise_for_status()
                later.append((time.perf_counter() - clock) * 1000)
            found.append((label, first, later))
            print(f"  {label}: first {first:.0f} ms, median {statistics.median(later):.0f} ms")
        clock = time.perf_counter()
        query = client.post(
            "/api/query",
            json={"sql": "select region_code, sum(revenue) from marts.mart_7 group by 1"},
        )
        assert query.status_code == 200, query.text
        found.append(("SQL box query (one mart)", (time.perf_counter() - clock) * 1000, []))
    project.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="reuse the project built before")
    args = parser.parse_args()
    root = WORK / "project"
    if not (args.keep and (root / ".headwater" / "catalog.db").exists()):
        shutil.rmtree(WORK, ignore_errors=True)
        write_project(root)
        for attempt in range(2):
            clock = time.perf_counter()
            subprocess.run(
                [str(HEADWATER), "--project", str(root), "run"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            print(f"  run {attempt + 1}: {time.perf_counter() - clock:.0f} s")
        fill_history(root, args.runs)
    results = time_pages(root, args.requests)
    report(results, args)


def report(results: list[tuple[str, float, list[float]]], args: argparse.Namespace) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# UI page latency: 500 assets, 1,000 runs",
        "",
        f"Measured {stamp} on this machine (2 cores), `{' '.join(sys.argv)}`.",
        "Milliseconds per request to the real server on 127.0.0.1; later = "
        f"{args.requests} requests after the first. Target: under {TARGET_MS:.0f} ms.",
        "",
        "| page | first | median | p95 | max | under target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for label, first, later in results:
        if later:
            ordered = sorted(later)
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            ok = "yes" if p95 < TARGET_MS else "**no**"
            lines.append(
                f"| {label} | {first:.0f} | {statistics.median(later):.0f} | {p95:.0f} | "
                f"{max(later):.0f} | {ok} |"
            )
        else:
            lines.append(
                f"| {label} | {first:.0f} | | | | {'yes' if first < TARGET_MS else '**no**'} |"
            )
    out = BENCH / "results" / "ui.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
