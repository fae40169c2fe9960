"""Benchmark: how long a no-change `headwater dag` / `headwater compile` takes on 1,000 models.

Generates a project of N models (chains and fan-outs over a few seeds, with sidecars), runs each
command once cold (empty parse and columns caches) and then R times warm, and prints the median
wall time of the warm runs. dbt needs minutes at this size (dbt-labs/dbt-core#11421); the target
here is under 1 s.

A second project of the same shape has `select *` models with checks (`--star-share` of the
models; every model and seed has checks): loading it works out each star's columns with
sqlglot to check the names the checks read, which is the cost of a cold load.

    .venv/bin/python bench/project_load.py --models 1000 --repeat 5
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEADWATER = [sys.executable, "-m", "headwater.cli.main"]


CHECKS = "checks:\n  - not_null: {column: id}\n  - expression: 'value >= 0'\n"
"""The checks of each model and seed of the star-heavy project."""


def generate(root: Path, models: int, star_share: float = 0.0) -> None:
    """Write a project of `models` models: each reads one or two earlier models or a seed. A
    `star_share` of them are `select *` models, and then every model and seed has checks."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "seeds").mkdir(parents=True)
    (root / "headwater.yml").write_text("name: load_bench\nthreads: 2\n")
    for s in range(5):
        (root / "seeds" / f"seed_{s}.csv").write_text("id,value\n1,10\n2,20\n")
        if star_share:
            (root / "seeds" / f"seed_{s}.yml").write_text(CHECKS)
    rng = random.Random(7)
    names: list[str] = [f"raw.seed_{s}" for s in range(5)]
    for i in range(models):
        layer = ("staging", "intermediate", "marts")[min(2, i * 3 // models)]
        folder = root / "models" / layer
        folder.mkdir(parents=True, exist_ok=True)
        parents = rng.sample(names[-50:], k=min(len(names), rng.choice((1, 2))))
        first = parents[0]
        joins = "".join(
            f"\njoin {p} as p{j} on p{j}.id = p0.id" for j, p in enumerate(parents[1:], start=1)
        )
        if rng.random() < star_share:
            # the columns of the first parent, with one replaced and one added
            sql = (
                f"-- model {i}\nwith base as (\n  select p0.* replace (p0.value + {i} as value)"
                f"\n  from {first} as p0{joins}\n)\nselect *, {i} as step\n"
                f"from base where value > {i % 7}\n"
            )
        else:
            sql = (
                f"-- model {i}\nwith base as (\n  select p0.id, p0.value + {i} as value\n"
                f"  from {first} as p0{joins}\n)\nselect id, value, value * 2 as doubled\n"
                f"from base where value > {i % 7}\n"
            )
        (folder / f"m_{i:04d}.sql").write_text(sql)
        (folder / f"m_{i:04d}.yml").write_text(
            f"description: model {i} of the load benchmark\nmaterialized: "
            f"{'view' if layer != 'marts' else 'table'}\ntags: [{layer}, bench]\n"
            "columns:\n  - name: id\n    description: key\n"
            "  - name: value\n    description: a value\n" + (CHECKS if star_share else "")
        )
        names.append(f"{layer}.m_{i:04d}")


def timed(args: list[str], cwd: Path) -> float:
    """Run a CLI command and return its wall time (fails loudly on a non-zero exit)."""
    start = time.perf_counter()
    result = subprocess.run(
        [*HEADWATER, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"headwater {' '.join(args)} failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    """Generate the project and print a markdown table of the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / ".work" / "load")
    parser.add_argument(
        "--star-share",
        type=float,
        default=0.5,
        help="share of `select *` models of the project with checks (0: leave it out)",
    )
    options = parser.parse_args()
    last = f"m_{options.models - 1:04d}"
    commands = {"dag": ["dag"], "compile": ["compile", last], "--help": ["--help"]}
    projects = [("", 0.0)]
    if options.star_share:
        projects.append((f", {options.star_share:.0%} `select *`, with checks", options.star_share))
    print("| command | cold (s) | warm median (s) | warm min-max (s) |")
    print("|---|---|---|---|")
    for label, share in projects:
        generate(options.dir, options.models, share)
        for name, args in commands.items():
            if share and name == "--help":
                continue
            shutil.rmtree(options.dir / ".headwater", ignore_errors=True)
            cold = timed(args, options.dir)
            warm = [timed(args, options.dir) for _ in range(options.repeat)]
            print(
                f"| `headwater {name}` ({options.models} models{label}) | {cold:.2f} | "
                f"{statistics.median(warm):.3f} | {min(warm):.3f}-{max(warm):.3f} |"
            )


if __name__ == "__main__":
    main()
