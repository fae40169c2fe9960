"""Where a masked reader's time goes: the masking benchmark's project (bench/serving/masking.py)
served in this process by a `ServeService` (no HTTP, no PostgreSQL wire), its serving cache
loaded, and the serving benchmark's queries sent as admin and as the masked user through the
two paths a query takes to the cache:

- rows: `TableReads.page` (`GET /api/tables/{t}/rows`; q1, q3 over HTTP), whose SQL has `$n`
  placeholders, so the same text on every request of a shape: `masked_sql` rewrites it once
  and the reader's masking keeps it;
- sql: `ServeService.run_sql` (`POST /api/query` and the PostgreSQL port; q2, and q1, q3 over
  PostgreSQL), whose parameters are bound into the text by `_plan` and checked
  (`check_readonly`), then the SQL on the cache's tables rendered and masked by `masked_sql`
  (a new text for new values).

For each, the masked user's request is timed against admin's (interleaved, same parameters),
then taken apart, each piece the median of `--requests` runs of it alone: building the
reader's `Masking`, `masked_sql` (sqlglot parse + rewrite + render, and in brackets the look-up
of a text it rewrote before), the read-only check of the masked SQL against that of the raw
SQL (which the server no longer runs on the masked SQL: kept as a measure of its size), and the
engine (DuckDB on the cache) on the raw SQL, on the masked SQL as served (the hash key bound
as the query's last parameter), with the key read by a scalar subquery from a registered
relation instead (as the read-only path reads it), and with the hash rules left out. Then a
cProfile of the masked user's requests (the functions that take the time).

Usage (after masking.py made the project; it calls `profile` itself when a target is missed):
  .venv/bin/python bench/serving/masking_profile.py
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import masking  # noqa: E402
import systems  # noqa: E402
from workload import QUERIES, make_params  # noqa: E402

import data  # noqa: E402

TABLE = masking.TABLE
KEY_SUBQUERY = "(SELECT k FROM __headwater_masking_key)"
"""How `Masking` renders the hash key read from its registered relation (the read-only path;
the serving cache binds it as the query's last parameter)."""
CACHE_READY_S = 600.0


def rounds_ms(runs: dict[str, Callable[[], Any]], count: int, warmup: int = 3) -> dict[str, float]:
    """Median wall time of each of `runs`, ms, over `count` rounds in each of which every run
    is called once (who goes first rotates), so that the machine's load weighs on all alike."""
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + count):
        turn = index % len(names)
        for name in names[turn:] + names[:turn]:
            begun = time.perf_counter()
            runs[name]()
            if index >= warmup:
                samples[name].append(time.perf_counter() - begun)
    return {name: statistics.median(found) * 1000 for name, found in samples.items()}


def interleaved_ms(
    runs: dict[str, Callable[[Any], Any]], values: list[Any]
) -> tuple[dict[str, float], float]:
    """Each value sent by every run in turn (who goes first alternates): the median ms of
    each, and the median of the per-value differences (second minus first)."""
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index, value in enumerate(values):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            begun = time.perf_counter()
            runs[name](value)
            samples[name].append(time.perf_counter() - begun)
    a, b = (samples[n] for n in names)
    medians = {n: statistics.median(s) * 1000 for n, s in samples.items()}
    return medians, statistics.median(y - x for x, y in zip(a, b, strict=True)) * 1000


class Spy:
    """Records what the serving cache is asked to run and what `masked_sql` is given."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, list[Any] | None, dict[str, Any]]] = []
        self.masked_inputs: list[tuple[str, Any, int]] = []

    @contextlib.contextmanager
    def watching(self) -> Iterator[Spy]:
        import headwater.serve.cache as cache_module

        query, masked_sql = cache_module.ServingCache.query, cache_module.masked_sql
        spy = self

        def spied_query(cache: Any, sql: str, **kw: Any) -> Any:
            spy.queries.append((sql, kw.get("params"), dict(kw.get("relations") or {})))
            return query(cache, sql, **kw)

        def spied_masked(sql: str, tables: Any, reader: Any, **kw: Any) -> str:
            spy.masked_inputs.append((sql, tables, kw.get("parameters", 0)))
            return masked_sql(sql, tables, reader, **kw)

        cache_module.ServingCache.query = spied_query  # type: ignore[method-assign]
        cache_module.masked_sql = spied_masked  # type: ignore[assignment]
        try:
            yield self
        finally:
            cache_module.ServingCache.query = query  # type: ignore[method-assign]
            cache_module.masked_sql = masked_sql  # type: ignore[assignment]


def start_service(root: Path) -> Any:
    """A `ServeService` of the project at `root`, once its cache holds the table."""
    from headwater import Project
    from headwater.serve.service import ServeService
    from headwater.ui.pages import Workspace

    service = ServeService(Workspace(Project(root)))
    started = time.monotonic()
    while (service.cache.status(TABLE) or {}).get("state") != "ready":
        if time.monotonic() - started > CACHE_READY_S:
            raise RuntimeError(f"the cache did not load: {service.cache.status(TABLE)}")
        time.sleep(0.2)
    return service


def requests_of(service: Any) -> dict[tuple[str, str], Callable[[Any, Any], Any]]:
    """(path, query): send one request as a caller with a parameter value, in process."""
    from headwater.serve.tables import TableReads

    reads = TableReads(service)
    q1_sql = f"select * from {TABLE} where l_orderkey = $1"
    q3_sql = systems.PAGE_SQL.format(t=TABLE, k="$1")
    q2_sql = systems.Q2_SQL.format(t=TABLE)
    return {
        ("rows", "q1"): lambda c, k: reads.page(c, TABLE, [("l_orderkey", f"eq.{k}")]),
        ("rows", "q3"): lambda c, k: reads.page(
            c,
            TABLE,
            [
                ("l_shipmode", "eq.AIR"),
                ("l_orderkey", f"gt.{k}"),
                ("order", "l_orderkey,l_linenumber"),
                ("limit", "1000"),
            ],
        ),
        ("sql", "q1"): lambda c, k: service.run_sql(c, q1_sql, params=[k]),
        ("sql", "q2"): lambda c, span: service.run_sql(c, q2_sql, params=list(span)),
        ("sql", "q3"): lambda c, k: service.run_sql(c, q3_sql, params=[k]),
    }


def engine_variants(sql: str, params: list[Any] | None) -> dict[str, tuple[str, list[Any]]]:
    """The masked SQL as served (the key its last parameter), with the key read from the
    registered relation instead (as the read-only path reads it), and without hashing."""
    import re

    values = list(params or [])
    own = values[:-1] if values and values[-1] == masking.KEY else values
    key = re.compile(r"CAST\(\$\d+ AS TEXT\)")
    unhashed = re.sub(
        r'SHA256\(CAST\(\$\d+ AS TEXT\) \|\| CAST\(("[^"]+"\."\w+") AS TEXT\)\)',
        r"\1",
        sql,
    )
    assert "SHA256" not in unhashed, unhashed
    return {
        "as served": (sql, values),
        "key from a relation": (key.sub(lambda _: KEY_SUBQUERY, sql), own),
        "no hash": (unhashed, own),
    }


def unkept(reader: Any) -> Any:
    """`reader` (a fresh `Masking`) without the rewrites its principal's masking kept, so that
    `masked_sql` times a rewrite rather than a look-up."""
    reader._kept = {}
    return reader


def profile(root: Path, params: Any, count: int) -> list[str]:
    """Markdown lines: the breakdown of each path and query, and the cProfile summary."""
    import pyarrow as pa

    from headwater.governance.masking import KEY_TABLE
    from headwater.query.readonly import check_readonly
    from headwater.serve.cache import masked_sql
    from headwater.serve.service import Caller

    os.environ[masking.KEY_ENV] = masking.KEY
    service = start_service(root)
    try:
        admin = Caller(service.principal("admin", ("admin",)), "http")
        reader = Caller(service.principal(masking.MASKED_USER, ("reader",)), "http")
        engine = service.project.definition.embedded_engine
        cache = service.cache
        lines = [
            f"In-process (`ServeService`, no HTTP or PostgreSQL wire), median of {count} runs "
            "each (the pieces of a request timed in rounds, each piece once a round); `rows` is "
            "`GET /api/tables/{t}/rows` (q1, q3 over HTTP), `sql` is "
            "`ServeService.run_sql` (`POST /api/query` and the PostgreSQL port).",
            "",
            "| path | query | admin ms | masked ms | paired diff ms | build `Masking` ms | "
            "`masked_sql` ms new (kept) | check masked SQL ms (raw) | engine raw ms | "
            "engine masked ms | key from a relation ms | no hash ms |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        deadline = time.monotonic() + 3600
        profiled: dict[tuple[str, str], cProfile.Profile] = {}
        for (path, query), send in requests_of(service).items():
            values = params.of(query)[1 : 1 + count]
            medians, paired = interleaved_ms(
                {"admin": lambda v, s=send: s(admin, v), "masked": lambda v, s=send: s(reader, v)},
                values,
            )
            with Spy().watching() as spy:
                send(admin, values[0])
                send(reader, values[0])
            (raw_sql, raw_params, _), (sql, sql_params, _) = spy.queries[-2:]
            relations = {KEY_TABLE: pa.table({"k": [masking.KEY]})}
            masked_input, tables, own_parameters = spy.masked_inputs[-1]
            lease = cache.lease([TABLE])
            assert lease is not None
            with lease:

                def run(text: str, values: list[Any] | None, rel: Any = None) -> Any:
                    return cache.query(
                        text,
                        params=values,
                        deadline=deadline,
                        limit_s=3600,
                        max_rows=100_000,
                        relations=rel,
                    )

                pieces: dict[str, Callable[[], Any]] = {
                    "build": lambda: service.masking(reader.principal),
                    # a fresh rewrite, as when the text or the table's version is new
                    "rewrite": lambda i=masked_input, t=tables, n=own_parameters: masked_sql(
                        i, t, unkept(service.masking(reader.principal)), parameters=n
                    ),
                    # as served: the text seen before (the rows path's SQL has placeholders)
                    "rewrite kept": lambda i=masked_input, t=tables, n=own_parameters: masked_sql(
                        i, t, service.masking(reader.principal), parameters=n
                    ),
                    "engine raw": lambda q=raw_sql, v=raw_params: run(q, v),
                }
                if path == "sql":
                    pieces["check"] = lambda q=sql: check_readonly(q, engine=engine)
                    pieces["check raw"] = lambda q=raw_sql: check_readonly(q, engine=engine)
                for name, (text, values_) in engine_variants(sql, sql_params).items():
                    rel = relations if KEY_SUBQUERY in text else None  # as the read-only path
                    pieces[name] = lambda t=text, v=values_, r=rel: run(t, v, r)
                took = rounds_ms(pieces, count)
            checked = (
                f"{took['check']:.2f} ({took['check raw']:.2f})" if path == "sql" else "not run"
            )
            lines.append(
                f"| {path} | {query} | {medians['admin']:.2f} | {medians['masked']:.2f} | "
                f"{paired:+.2f} | {took['build']:.3f} | {took['rewrite']:.2f} "
                f"({took['rewrite kept']:.3f}) | {checked} | "
                f"{took['engine raw']:.2f} | {took['as served']:.2f} | "
                f"{took['key from a relation']:.2f} | {took['no hash']:.2f} |"
            )
            print(lines[-1], flush=True)
            if (path, query) in (("rows", "q1"), ("sql", "q2")):
                profiler = cProfile.Profile()
                profiler.enable()
                for value in values:
                    send(reader, value)
                profiler.disable()
                profiled[(path, query)] = profiler
        for (path, query), profiler in profiled.items():
            lines += ["", f"cProfile of the masked user's {count} `{path}` {query} requests:", ""]
            lines += cprofile_table(profiler, count)
        return lines
    finally:
        service.close()


PROFILED = {
    "TableReads.page (whole request, rows path)": ("serve/tables.py", "page"),
    "ServeService.run_sql (whole request, sql path)": ("serve/service.py", "run_sql"),
    "ServeService.masking (build the reader's Masking)": ("serve/service.py", "masking"),
    "masked_sql (parse, rewrite, render)": ("serve/cache.py", "masked_sql"),
    "Masking.rewrite": ("governance/masking.py", "rewrite"),
    "check_readonly": ("query/readonly.py", "check_readonly"),
    "sqlglot parse_one (all callers)": ("sqlglot/__init__.py", "parse_one"),
    "sqlglot Expression.sql (all callers)": ("sqlglot/expressions/core.py", "sql"),
    "ServingCache._plan": ("serve/cache.py", "_plan"),
    "ServingCache.query (register, DuckDB, fetch)": ("serve/cache.py", "query"),
    "ServeService.run_logged (slot, query log)": ("serve/service.py", "run_logged"),
}
"""Label: (the end of its file's path, the function's name)."""


def cprofile_table(profiler: cProfile.Profile, count: int) -> list[str]:
    """Cumulative ms per request of the functions that matter, from `profiler`."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = ["| function | cumulative ms per request | calls per request |", "| --- | ---: | ---: |"]
    entries = stats.stats  # type: ignore[attr-defined]
    for label, (file_end, function) in PROFILED.items():
        total, calls = 0.0, 0
        for (filename, _, name), (_, ncalls, _, cumtime, _) in entries.items():
            if name == function and filename.endswith(file_end):
                total += cumtime
                calls += ncalls
        if calls:
            rows.append(f"| {label} | {total / count * 1000:.2f} | {calls / count:g} |")
    callers: dict[str, int] = {}
    for (filename, _, name), (_, _, _, _, called_by) in entries.items():
        if name == "parse_one" and filename.endswith("sqlglot/__init__.py"):
            for (caller_file, _, caller), counts in called_by.items():
                where = f"{Path(caller_file).parent.name}/{Path(caller_file).name}:{caller}"
                callers[where] = callers.get(where, 0) + counts[0]
    if callers:
        said = ", ".join(f"{where} {calls / count:g}" for where, calls in sorted(callers.items()))
        rows += ["", f"sqlglot `parse_one` per request, by caller: {said}."]
    return rows


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=masking.serving.DATA)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    root = masking.WORK / "project"
    if not (root / "headwater.yml").exists():
        masking.make_project(root, args.data.resolve())
    table = data.delta_table(args.data.resolve())
    params = make_params(data.snapshot_files(table), 1 + args.requests, args.seed)
    print("\n".join(profile(root, params, args.requests)))
    return 0


if __name__ == "__main__":
    assert QUERIES  # the serving benchmark's queries
    sys.exit(main())
