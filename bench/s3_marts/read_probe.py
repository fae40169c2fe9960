"""Time reads of a built project inside one process, through the Python API.

`Project(path).query(sql)` for each of two queries: the first call (opening the table: its
Delta log and file list, on S3 over HTTP) and the median of the next `REPEAT` calls. Prints
one JSON object: `<name>_first_s`, `<name>_next_s` and `<name>_rows` for `aggregate` and
`full`.

Usage: python bench/s3_marts/read_probe.py PROJECT AGGREGATE_SQL FULL_SQL
"""

from __future__ import annotations

import json
import statistics
import sys
import time

REPEAT = 5


def main() -> None:
    """Command line entry point."""
    from headwater import Project

    project_dir, *queries = sys.argv[1:]
    figures: dict[str, float] = {}
    with Project(project_dir) as project:
        for name, sql in zip(("aggregate", "full"), queries, strict=True):
            started = time.perf_counter()
            result = project.query(sql)
            figures[f"{name}_first_s"] = time.perf_counter() - started
            again = []
            for _ in range(REPEAT):
                started = time.perf_counter()
                project.query(sql)
                again.append(time.perf_counter() - started)
            figures[f"{name}_next_s"] = statistics.median(again)
            figures[f"{name}_rows"] = float(result.num_rows)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
