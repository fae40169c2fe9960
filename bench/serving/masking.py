"""Masking overhead on the serving benchmark: the serving benchmark's three queries (q1, q2,
q3 of bench/serving/run.py, on the same TPC-H SF1 lineitem Delta table, the same parameters
from the same seed) sent to one `headwater serve` process by a user who reads the table raw
and by a user whose role reads some of its columns masked, over HTTP and over the PostgreSQL
port (psycopg 3).

The project is run.py's (`make_project`: the table declared as the `files` source
`tpch.lineitem`, `serve.tables."tpch.lineitem": {keys: [l_orderkey, l_linenumber], cache:
true}`), with personal data declared on the source's columns and masking rules:

    l_comment       pii: free_text   kinds.free_text: hash     (returned by q1 and q3)
    l_shipinstruct  pii: name        kinds.name: redact        (returned by q1 and q3)
    l_returnflag    pii: other       kinds.other: hash         (q2 groups by it; q1, q3)

and these users (each signs in with its token over HTTP and its password over PostgreSQL):

    admin     role admin                                         reads everything raw
    raw       role raw_reader: {read: [tpch.lineitem], unmasked: ["*"]}   raw, not admin
    masked    role reader: {read: [tpch.lineitem]}               run.py's bench user: masked

q2 is the serving benchmark's q2 unchanged: the column it groups by is masked (hash keeps equal
values equal, so the groups stay three). q1 and q3 return every column (`select *`, the table
rows API), so they return all three masked columns; their filters (`l_orderkey`, `l_shipmode`)
are on columns that are not masked.

Per protocol and query: one answer of each user checked (the raw users' answers equal; the
masked user's equal the raw ones in every other column and hold, in each masked column, the
rule's value of the raw one: sha256(key || value) for hash, `[redacted]` for redact, never the
raw value), `--warmup` requests per user, then `--requests` sequential requests per user,
interleaved request by request (the same parameters for every user, the user sent first
rotating) so that the machine's load weighs on every user alike, then `--clients` threads
sending `--concurrent-requests` requests per user (req/s). The overhead is the masked user's
p50 over admin's p50 (target: at most 1.10). When a query misses it (`--profile auto`), the
server is stopped and a masked request is taken apart in this process
(bench/serving/masking_profile.py), and that goes into the report too.

The project and the users are made fresh under bench/.work/serving/masking/project; the data is
the serving benchmark's (bench/.data/serving, made by data.py when missing).

Usage:
  .venv/bin/python bench/serving/masking.py --out bench/results/serving_masking.md
  .venv/bin/python bench/serving/masking.py --requests 50 --concurrent-requests 0 --profile never
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as serving  # noqa: E402  (the serving benchmark's runner: project, users, report)
import systems  # noqa: E402
import yaml  # noqa: E402
from workload import (  # noqa: E402
    QUERIES,
    WHAT,
    Call,
    Latency,
    LoadWatch,
    Throughput,
    concurrent,
    make_params,
    normalise,
    same_rows,
    write_text,
)

import data  # noqa: E402

WORK = serving.WORK / "masking"
TABLE = serving.TABLE
KEY_ENV = "HEADWATER_MASKING_KEY"
KEY = "bench-serving-masking-key-0123456789abcdef"
"""The hash key given to `headwater serve` (a benchmark's, not a secret)."""
MASKED = {
    "l_comment": ("free_text", "hash"),
    "l_shipinstruct": ("name", "redact"),
    "l_returnflag": ("other", "hash"),
}
"""Column: (its `pii:` kind, the kind's masking rule)."""
REDACTED = "[redacted]"
TARGET = 1.10
"""The issue's target: masked p50 <= 1.10 x raw p50, per query."""
PROTOCOLS = ("http", "pg")
PROTOCOL_LABEL = {"http": "HTTP (JSON)", "pg": "PostgreSQL protocol (psycopg 3)"}
DASH, TIMES = serving.DASH, serving.TIMES


@dataclass(frozen=True)
class User:
    """One reader of the bench project."""

    name: str
    role: str
    token: str
    password: str
    what: str


BASELINE, MASKED_USER = "admin", serving.USER


# ---------------------------------------------------------------- setup


def add_user(root: Path, name: str, role: str, password: str) -> str:
    """`headwater users add NAME --role ROLE --password`; its API token."""
    done = subprocess.run(
        [*systems.HEADWATER, "users", "add", name, "--role", role, "--password"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "HEADWATER_PASSWORD": password},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"headwater users add {name} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def make_project(root: Path, data_dir: Path) -> list[User]:
    """run.py's bench project (its `bench` user, role `reader`, becomes the masked reader),
    with the columns of MASKED declared personal, their kinds' rules, a role reading the table
    raw, and the users admin and raw."""
    token = serving.make_project(root, data_dir, 200_000)
    config_path = root / "headwater.yml"
    config = yaml.safe_load(config_path.read_text())
    config["governance"] = {
        "masking": {
            "kinds": {kind: rule for kind, rule in MASKED.values()},
            "hash_key_env": KEY_ENV,
        }
    }
    config["serve"]["roles"]["raw_reader"] = {"read": [TABLE], "unmasked": ["*"]}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    source_path = root / "sources" / f"{data.NAMESPACE}.yml"
    source = yaml.safe_load(source_path.read_text())
    source["tables"][data.TABLE]["columns"] = {
        column: {"pii": kind} for column, (kind, _) in MASKED.items()
    }
    source_path.write_text(yaml.safe_dump(source, sort_keys=False))
    users = [
        User(
            serving.USER,
            "reader",
            token,
            serving.PASSWORD,
            f"role `reader`: `read: [{TABLE}]` (masked)",
        )
    ]
    for name, role, what in (
        ("admin", "admin", "role `admin` (reads everything raw)"),
        ("raw", "raw_reader", f'role `raw_reader`: `read: [{TABLE}]`, `unmasked: ["*"]`'),
    ):
        password = f"bench-masking-{name}-password"
        users.append(User(name, role, add_user(root, name, role, password), password, what))
    return users


class UserFace(systems.Headwater):
    """The running `headwater serve` of another `systems.Headwater`, asked as one user."""

    def __init__(self, served: systems.Headwater, user: User) -> None:
        self.__dict__.update(served.__dict__)  # the same process, URL and ports
        self.headers = {"Authorization": f"Bearer {user.token}"}
        self.user, self.password = user.name, user.password
        self.sources = {}

    def _q2(self, client: Any, span: tuple[str, str]) -> Any:
        answer = super()._q2(client, span)
        self.sources.setdefault("q2", set()).add(client.last_headers.get("x-headwater-source", "?"))
        return answer

    def caller_on(self, protocol: str, query: str) -> Call:
        """A new connection sending `query` over `protocol`."""
        return self.caller(query) if protocol == "http" else self.pg_caller(query)

    def stop(self) -> None:
        """The process is the served system's to stop."""


# ---------------------------------------------------------------- answers


def table_columns(table: Path) -> list[str]:
    """The Delta table's column names, in order (what `select *` returns)."""
    import pyarrow.parquet as pq

    return pq.read_schema(data.snapshot_files(table)[0].removeprefix("file://")).names


def masked_positions(query: str, columns: list[str]) -> dict[int, str]:
    """Position of each masked column in `query`'s answer: column name."""
    if query == "q2":
        return {0: "l_returnflag"}  # select l_returnflag, sum(l_extendedprice)
    return {i: name for i, name in enumerate(columns) if name in MASKED}


def expected_mask(column: str, raw: Any) -> Any:
    """What the masked reader should see in place of `raw` in `column`."""
    if raw is None:
        return None
    rule = MASKED[column][1]
    if rule == "hash":
        return hashlib.sha256((KEY + str(raw)).encode()).hexdigest()
    assert rule == "redact"
    return REDACTED


def split(row: tuple[Any, ...], positions: dict[int, str]) -> tuple[tuple[Any, ...], ...]:
    """(the unmasked columns, the masked ones) of a row."""
    kept = tuple(v for i, v in enumerate(row) if i not in positions)
    return kept, tuple(row[i] for i in positions)


def check_masked(
    query: str, raw_rows: list[list[Any]], masked_rows: list[list[Any]], columns: list[str]
) -> str | None:
    """None when the masked answer equals the raw one outside the masked columns and holds
    each masked column's rule value (never the raw one) in them; else what differs."""
    positions = masked_positions(query, columns)
    raw = [split(r, positions) for r in normalise(raw_rows, ordered=True)]
    masked = [split(r, positions) for r in normalise(masked_rows, ordered=True)]
    if query != "q3":  # q3's order is its answer (and comes from unmasked key columns)
        raw.sort(key=repr)
        masked.sort(key=repr)
    if len(raw) != len(masked):
        return f"{len(masked)} rows masked, {len(raw)} raw"
    problem = same_rows([m[0] for m in masked], [r[0] for r in raw])
    if problem is not None:
        return f"unmasked columns differ: {problem.replace('the floor', 'raw')}"
    names = list(positions.values())
    for index, ((_, got), (_, had)) in enumerate(zip(masked, raw, strict=True)):
        for name, value, raw_value in zip(names, got, had, strict=True):
            want = expected_mask(name, raw_value)
            if raw_value is not None and value == raw_value:
                return f"row {index}: {name} is the raw value {raw_value!r}"
            if value != want:
                return f"row {index}: {name} is {value!r}, expected {want!r} (from {raw_value!r})"
    return None


def check_query(
    faces: dict[str, UserFace], protocol: str, query: str, value: Any, columns: list[str]
) -> dict[str, str]:
    """Each user's answer to `value` checked: the raw users' equal, the masked one masked.

    Raises:
        serving.WrongAnswer: an answer is not what it should be.
    """
    answers: dict[str, list[list[Any]]] = {}
    for name, face in faces.items():
        call = face.caller_on(protocol, query)
        try:
            answers[name] = call(value)
        finally:
            call.close()  # type: ignore[attr-defined]
    base = answers[BASELINE]
    out: dict[str, str] = {}
    for name, rows in answers.items():
        if name == BASELINE:
            out[name] = f"reference ({len(rows)} rows)"
            continue
        if name == MASKED_USER:
            problem = check_masked(query, base, rows, columns)
            shown = ", ".join(sorted(set(masked_positions(query, columns).values())))
            verdict = f"masked ({shown}), else equal ({len(rows)} rows)"
        else:
            problem = same_rows(normalise(rows, query == "q3"), normalise(base, query == "q3"))
            verdict = f"equal ({len(rows)} rows)"
        if problem is not None:
            raise serving.WrongAnswer(f"{protocol} {query} {name}: {problem}")
        out[name] = verdict
    return out


# ---------------------------------------------------------------- timing


def interleaved(
    calls: dict[str, Call], params: list[Any], max_seconds: float
) -> dict[str, Latency]:
    """Each parameter sent by every user in turn (who goes first rotates), each call timed;
    stops after `max_seconds`."""
    names = list(calls)
    out = {name: Latency() for name in names}
    started = time.perf_counter()
    for index, value in enumerate(params):
        turn = index % len(names)
        for name in names[turn:] + names[:turn]:
            begun = time.perf_counter()
            calls[name](value)
            out[name].samples.append(time.perf_counter() - begun)
        if time.perf_counter() - started > max_seconds and index + 1 < len(params):
            for latency in out.values():
                latency.stopped_early = True
            break
    return out


@dataclass
class Measured:
    """One query over one protocol, for every user."""

    latency: dict[str, Latency] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    paired_ms: float | None = None
    """Median over the requests of (masked - admin) latency, same parameters, ms."""
    check: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def measure(
    args: argparse.Namespace,
    faces: dict[str, UserFace],
    protocol: str,
    query: str,
    values: list[Any],
    columns: list[str],
) -> Measured:
    """Check, warm up, time interleaved, then each user's concurrent phase."""
    result = Measured()
    result.check = check_query(faces, protocol, query, values[0], columns)
    calls = {name: face.caller_on(protocol, query) for name, face in faces.items()}
    try:
        warm = values[1 : 1 + args.warmup]
        interleaved(calls, warm, args.phase_seconds)
        start = 1 + args.warmup
        result.latency = interleaved(
            calls, values[start : start + args.requests], args.phase_seconds
        )
    finally:
        for call in calls.values():
            call.close()  # type: ignore[attr-defined]
    base, masked = result.latency[BASELINE].samples, result.latency[MASKED_USER].samples
    result.paired_ms = statistics.median(m - b for m, b in zip(masked, base, strict=True)) * 1000
    if args.concurrent_requests:
        start = 1 + args.warmup + args.requests
        chunk = values[start : start + args.concurrent_requests]
        names = list(faces)
        turn = QUERIES.index(query) % len(names)
        for name in names[turn:] + names[:turn]:
            face = faces[name]
            result.throughput[name] = concurrent(
                lambda face=face: face.caller_on(protocol, query),
                chunk,
                args.clients,
                args.phase_seconds,
            )
    return result


# ---------------------------------------------------------------- report


def ratio_of(result: Measured, name: str, attribute: str) -> float | None:
    """`name`'s figure over admin's."""
    if name not in result.latency or BASELINE not in result.latency:
        return None
    base = getattr(result.latency[BASELINE], attribute)
    return getattr(result.latency[name], attribute) / base if base else None


def fmt_ratio(value: float | None) -> str:
    """A factor, or a dash."""
    return DASH if value is None else f"{value:.2f}{TIMES}"


def report(
    args: argparse.Namespace,
    users: list[User],
    results: dict[tuple[str, str], Measured],
    notes: list[str],
    load: tuple[float, float, float],
    began: str,
    wall_s: float,
    profiled: list[str],
) -> str:
    """The results as markdown."""
    fmt_ms = serving.fmt_ms
    lines = [
        "# Masking overhead on the serving benchmark (TPC-H SF1 lineitem, 6,001,215 rows)",
        "",
        f"Command: `.venv/bin/python {' '.join(sys.argv)}`",
        "",
        f"Run {began}, {wall_s / 60:.1f} min, on {platform.node()} ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}); load average (1 min) {load[0]:.2f} at the start, "
        f"median {load[1]:.2f}, max {load[2]:.2f} (other work shared the machine: compare "
        "ratios, not absolute times).",
        f"Versions: headwater {serving.version_of('headwater')}, duckdb "
        f"{serving.version_of('duckdb')}, sqlglot {serving.version_of('sqlglot')}, psycopg "
        f"{serving.version_of('psycopg')}.",
        "",
        "One `headwater serve` of run.py's bench project (the table in the serving cache), "
        "asked the serving benchmark's queries by three users, over HTTP and over its "
        f"PostgreSQL port. Personal data declared on `{TABLE}` (`pii:` in "
        "`sources/tpch.yml`) and `governance.masking.kinds`:",
        "",
        "| column | `pii:` | rule | in q1 | in q2 | in q3 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for column, (kind, rule) in MASKED.items():
        q2 = "group by" if column == "l_returnflag" else DASH
        lines.append(f"| `{column}` | {kind} | {rule} | returned | {q2} | returned |")
    lines += ["", "| user | what |", "| --- | --- |"]
    for user in users:
        lines.append(f"| {user.name} | {user.what} |")
    lines += [
        "",
        f"Each query and protocol: one answer per user checked (raw answers equal; the masked "
        "one equal in every other column and holding each masked column's rule value of the "
        f"raw one), {args.warmup} warm-up requests per user, then {args.requests} sequential "
        "requests per user, interleaved request by request with the same parameters (who goes "
        "first rotates), for p50 and p99; then "
        + (
            f"{args.clients} client threads sending {args.concurrent_requests} requests per user, "
            "one user after another (req/s)"
            if args.concurrent_requests
            else "no concurrent phase"
        )
        + f". Parameters from seed {args.seed}, as the serving benchmark's. "
        f"Overhead: p50 {TIMES} admin; `paired` is the median of the per-request differences "
        "(masked minus admin, same parameters).",
    ]
    summary = [
        "",
        f"## Target: masked p50 ≤ {TARGET:.2f}{TIMES} admin's p50, per query",
        "",
        f"| query | protocol | admin p50 ms | masked p50 ms | masked {TIMES} admin | paired "
        "diff ms | |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    details: list[str] = []
    for protocol in args.protocols:
        for query in QUERIES:
            found = results.get((protocol, query))
            label = PROTOCOL_LABEL[protocol]
            if found is None or found.error:
                why = found.error if found else "not run"
                summary.append(f"| {query} | {label} | {DASH} | {DASH} | {DASH} | {DASH} | {why} |")
                continue
            r = ratio_of(found, MASKED_USER, "p50_ms")
            met = "met" if r is not None and r <= TARGET else "**not met**"
            summary.append(
                f"| {query} | {label} | {fmt_ms(found.latency[BASELINE].p50_ms)} | "
                f"{fmt_ms(found.latency[MASKED_USER].p50_ms)} | {fmt_ratio(r)} | "
                f"{found.paired_ms:+.2f} | {met} |"
            )
    for protocol in args.protocols:
        details += [
            "",
            f"## {PROTOCOL_LABEL[protocol]}",
            "",
            f"| query | user | p50 ms | p99 ms | n | {args.clients}-client req/s | p50 {TIMES} "
            f"admin | p99 {TIMES} admin | req/s {TIMES} admin | answer |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for query in QUERIES:
            found = results.get((protocol, query))
            if found is None or found.error:
                continue
            for user in users:
                lat = found.latency.get(user.name)
                if lat is None:
                    continue
                thr = found.throughput.get(user.name)
                base_thr = found.throughput.get(BASELINE)
                n = f"{len(lat.samples)}" + (" (time cap)" if lat.stopped_early else "")
                per_s = f"{thr.per_s:,.1f}" if thr else DASH
                thr_ratio = fmt_ratio(thr.per_s / base_thr.per_s if thr and base_thr else None)
                details.append(
                    f"| {query} | {user.name} | {fmt_ms(lat.p50_ms)} | {fmt_ms(lat.p99_ms)} | "
                    f"{n} | {per_s} | {fmt_ratio(ratio_of(found, user.name, 'p50_ms'))} | "
                    f"{fmt_ratio(ratio_of(found, user.name, 'p99_ms'))} | {thr_ratio} | "
                    f"{found.check.get(user.name, '')} |"
                )
    lines += summary + details
    lines += ["", "Queries:", ""] + [f"- {q}: {WHAT[q]}" for q in QUERIES]
    if profiled:
        lines += [
            "",
            "## Where the masked reader's time goes (bench/serving/masking_profile.py)",
            "",
        ]
        lines += profiled
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main() -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="write the markdown results here")
    parser.add_argument("--data", type=Path, default=serving.DATA, help="where the data is kept")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS), help="http,pg")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--concurrent-requests", type=int, default=400, help="0: no such phase")
    parser.add_argument("--phase-seconds", type=float, default=60.0)
    parser.add_argument(
        "--profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="after the server stopped, take a masked request apart in process "
        "(masking_profile.py); auto: when a query misses the target",
    )
    parser.add_argument("--profile-requests", type=int, default=100)
    parser.add_argument("--debug", action="store_true", help="print tracebacks")
    args = parser.parse_args()
    args.data = args.data.resolve()
    args.protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    if set(args.protocols) - set(PROTOCOLS):
        parser.error(f"protocols: {', '.join(PROTOCOLS)}")
    began = datetime.datetime.now().isoformat(timespec="minutes")
    clock = time.perf_counter()

    table = data.delta_table(args.data)
    columns = table_columns(table)
    count = 1 + args.warmup + args.requests + args.concurrent_requests
    params = make_params(data.snapshot_files(table), count, args.seed)
    load = LoadWatch()
    users = make_project(WORK / "project", args.data)
    by_name = {u.name: u for u in users}
    os.environ[KEY_ENV] = KEY  # for the server this process starts
    admin = by_name[BASELINE]
    served = systems.Headwater(WORK / "project", TABLE, admin.token, admin.name, admin.password)
    results: dict[tuple[str, str], Measured] = {}
    notes: list[str] = []
    wrong: list[str] = []
    print("headwater serve: starting", flush=True)
    try:
        served.start()
        if served.cache:
            memory = served.cache.get("memory_bytes") or 0
            notes.append(
                f"the serving cache held version {served.cache.get('version')} "
                f"({served.cache.get('rows'):,} rows, {memory / 2**20:,.0f} MiB) "
                f"{served.cache_ready_s or 0:.1f} s after the server answered; the timed "
                "requests started after that"
            )
        order = [BASELINE, MASKED_USER] + [
            u.name for u in users if u.name not in (BASELINE, MASKED_USER)
        ]
        faces = {name: UserFace(served, by_name[name]) for name in order}
        for protocol in args.protocols:
            if protocol == "pg" and served.pg is None:
                notes.append(f"the PostgreSQL port did not start: {served.pg_refused}")
                continue
            for query in QUERIES:
                print(f"  {protocol} {query} ...", flush=True)
                try:
                    found = measure(args, faces, protocol, query, params.of(query), columns)
                except Exception as exc:
                    found = Measured(error=f"{type(exc).__name__}: {exc}"[:1000])
                    if isinstance(exc, serving.WrongAnswer):
                        wrong.append(str(exc))
                    print(f"    failed: {found.error}", flush=True)
                    if args.debug:
                        traceback.print_exc()
                    if not served.alive():
                        raise RuntimeError(f"the server exited:\n{served.tail()}") from None
                results[(protocol, query)] = found
                for name, lat in found.latency.items():
                    thr = found.throughput.get(name)
                    print(
                        f"    {name:7} p50 {lat.p50_ms:6.1f} ms p99 {lat.p99_ms:6.1f} ms "
                        + (f"{thr.per_s:6.1f} req/s " if thr else "")
                        + found.check.get(name, ""),
                        flush=True,
                    )
                if found.latency:
                    r = ratio_of(found, MASKED_USER, "p50_ms")
                    print(f"    masked/admin p50 {r:.3f}, paired {found.paired_ms:+.2f} ms")
        for name, face in faces.items():
            for query, sources in sorted(face.sources.items()):
                notes.append(
                    f"{name}: HTTP {query} rows were read from: {', '.join(sorted(sources))} "
                    "(`X-Headwater-Source` of every response)"
                )
    finally:
        served.stop()
    notes += served.notes
    notes += [f"WRONG ANSWER {w}" for w in wrong]
    missed = any(
        found.error or (ratio_of(found, MASKED_USER, "p50_ms") or 0) > TARGET
        for found in results.values()
    )
    profiled: list[str] = []
    if args.profile == "always" or (args.profile == "auto" and missed):
        import masking_profile

        print("profiling in process (masking_profile.py) ...", flush=True)
        try:
            profiled = masking_profile.profile(WORK / "project", params, args.profile_requests)
        except Exception as exc:
            notes.append(f"the in-process profile failed: {type(exc).__name__}: {exc}")
            if args.debug:
                traceback.print_exc()
    text = report(
        args, users, results, notes, load.stop(), began, time.perf_counter() - clock, profiled
    )
    print(text)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
