"""S5 of RELIABILITY.md against `headwater serve`: queries written to get at the raw value of a
masked column, for each kind of masking rule, through every read path.

The project (tests.support.masking_probes) holds `raw.people`, whose six personal columns are
masked by six rules (email: hash, phone: partial, name: redact, national_id: null, birth_date:
generalize to the month, address: an expression), a model deriving them (classified through
column lineage), an ephemeral model over it and a view over that, `raw.orders` to join with
(held in the serving cache), and a quarantine holding one person's raw record. Roles:
`masked` reads everything masked, `email_ok` reads e-mails raw, `auditor` reads everything
raw, `eu` reads everything raw but only the EU rows of the people, the orders and the model.

For each column, about 300 distinct queries: shapes that read the column (plain, star,
aliases, subqueries, CTEs, recursive CTEs, joins of every kind, set operations, functions,
packing into lists, structs and JSON, aggregates, windows, pivots, the model, the ephemeral
and the view, the quarantine, the hash key's relation) and predicates about one person's raw
value (equality, prefixes, fragments, regular expressions, lengths, comparisons, lists,
characters at a position, hashes) in WHERE, GROUP BY, HAVING, ORDER BY, JOIN ON, CASE, EXISTS,
IN, CTEs, windows, set operations and the derived models, each asked about the true value and
about a decoy. Each goes through `POST /api/query` and the PostgreSQL protocol (simple query
protocol); a share through the web UI's `GET /api/query.csv`, the PostgreSQL extended protocol
(a prepared statement, and with the value as a parameter), and the table read route's filters,
order and columns.

Pass: (1) the masked role never receives a raw value, or any part of one its rule hides, in
an answer or an error (nor a hash computed without the key); (2) it gets the same answer about
a raw value as about its decoy; (3) `auditor` (and `email_ok` for the e-mail) gets the raw
values from the same queries, and their answers about the value and the decoy differ; (4) `eu`
never receives a row of a non-EU person or order, through joins, set operations, subqueries,
CTEs, the ephemeral model or an error; (5) the quarantine is refused to the masked roles; the
hash key is never in an answer or the server's output, and without it a hashing rule refuses
with the variable's name.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from headwater import Project
from tests.conftest import write_files
from tests.support.masking_probes import (
    COLUMNS,
    DERIVED,
    EU_PROBES,
    KEY,
    KEY_ENV,
    KEY_TABLE,
    PEOPLE,
    ROWS,
    Pair,
    Probe,
    Secrets,
    all_secrets,
    blank,
    decoy,
    derive,
    eu_leaks,
    leaks,
    person,
    probes_of,
    project_files,
    raw_shown,
)
from tests.support.serve import RunningServer, add_user, running_server

ROLES = ("masked", "email_ok", "auditor", "eu")
GUARD_S = 300.0
"""Only a guard against hanging forever."""


def password(role: str) -> str:
    return f"s5-{role}-password"


@dataclass
class Outcome:
    """What one route answered to one query."""

    kind: str
    """`executed`, `refused` (a clean error) or `broken` (anything else)."""
    text: str
    """Everything the client received that a reader sees: rows or error, status, headers."""
    body: str
    """The answer without what differs between two runs (timings): what pairs compare."""


@dataclass
class Server:
    root: Path
    server: RunningServer
    tokens: dict[str, str]
    output: list[str] = field(default_factory=list)
    """Everything the server printed (read by a thread while it runs)."""
    answers: list[str] = field(default_factory=list)
    """Every answer any test received (for the key's absence)."""

    def http(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"authorization": f"Bearer {self.tokens[role]}"},
            timeout=GUARD_S,
        )

    def pg(self, role: str) -> PgClient:
        return PgClient(self, role)


def _drain(server: RunningServer, into: list[str]) -> threading.Thread:
    """Keep reading what the server prints, so that its pipe never fills."""
    stdout = server.process.stdout
    assert stdout is not None

    def read() -> None:
        for line in iter(stdout.readline, ""):
            into.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def build(root: Path, cached: bool = True) -> dict[str, str]:
    write_files(root, project_files(cached))
    project = Project(root)
    try:
        result = project.run()
        assert result.status == "success", [(o.key, o.message) for o in result.outcomes]
        quarantined = project.quarantine("raw.people", 100).to_pylist()
        assert len(quarantined) == 1 and "Quhovin21" in quarantined[0]["raw"]
    finally:
        project.close()
    return {role: add_user(root, role, role, password=password(role)) for role in ROLES}


@pytest.fixture(scope="module")
def s5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("s5") / "proj"
    tokens = build(root)
    with running_server(root, pg=True, env={KEY_ENV: KEY}) as server:
        running = Server(root, server, tokens, output=list(server.output))
        _drain(server, running.output)
        wait_for_the_cache(running)
        yield running


def wait_for_the_cache(server: Server) -> None:
    """Poll until raw.orders is loaded in the serving cache."""
    deadline = time.monotonic() + GUARD_S
    with server.http("auditor") as http:
        while time.monotonic() < deadline:
            page = http.get("/api/tables/raw.orders/rows")
            if page.headers.get("x-headwater-source") == "cache":
                return
            time.sleep(0.1)
    raise AssertionError("the serving cache did not load raw.orders")


# -- outcomes --------------------------------------------------------------------------------


def over_http(response: httpx.Response) -> Outcome:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body.pop("elapsed_ms", None)
    shown = json.dumps(body, sort_keys=True, ensure_ascii=False)
    text = f"{response.status_code} {shown} {response.text} {json.dumps(headers)}"
    if response.status_code == 200:
        kind = "executed"
    elif 400 <= response.status_code < 500 and isinstance(body, dict) and body.get("error"):
        kind = "refused"
    else:
        kind = "broken"
    if isinstance(body, dict):
        body.pop("columns", None)  # named after the query's expressions, literals included
    compared = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return Outcome(kind, text, f"{response.status_code} {compared}")


def render(value: Any) -> str:
    """A value psycopg returned, as text a reader would see."""
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (bytes, memoryview, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, float, decimal.Decimal, bool)):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


class PgClient:
    """A psycopg connection of one role that survives a query that breaks it."""

    def __init__(self, server: Server, role: str) -> None:
        self.dsn = server.server.pg_dsn(role, password(role))
        self.notices: list[str] = []
        self.connection = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=60)
        connection.add_notice_handler(lambda d: self.notices.append(str(d.message_primary)))
        return connection

    def run(
        self, sql: str, params: tuple[str, ...] | None = None, prepare: bool = False
    ) -> Outcome:
        """`sql` in the simple query protocol (no params, `prepare=False`), else the extended."""
        self.notices.clear()
        if self.connection.closed:
            self.connection = self._connect()
        try:
            with self.connection.cursor() as cursor:
                query = sql.encode() if params is None else sql
                cursor.execute(query, params, prepare=prepare)
                rows = cursor.fetchall() if cursor.description is not None else []
                names = [c.name for c in cursor.description or []]
        except psycopg.Error as exc:
            diag = exc.diag
            text = " | ".join(
                str(part)
                for part in (exc.sqlstate, str(exc), diag.message_detail, diag.message_hint)
                if part
            )
            text += " " + " ".join(self.notices)
            kind = "refused" if exc.sqlstate and not self.connection.closed else "broken"
            return Outcome(kind, text, text)
        shown = "\n".join(render(list(row)) for row in rows)
        return Outcome("executed", f"{names} {shown} {' '.join(self.notices)}", shown)

    def close(self) -> None:
        self.connection.close()


# -- running and judging ---------------------------------------------------------------------


@dataclass
class Run:
    """The answers of one role over the routes, and what is wrong with them."""

    server: Server
    role: str
    http: httpx.Client
    pg: PgClient | None
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    _done: dict[tuple[str, str, tuple[str, ...] | None, bool], Outcome] = field(
        default_factory=dict
    )

    def send(self, route: str, sql: str, params: tuple[str, ...] | None = None) -> Outcome:
        key = (route, sql, params, False)
        found = self._done.get(key)
        if found is not None:
            return found
        started = time.perf_counter()
        if route == "http":
            outcome = over_http(self.http.post("/api/query", json={"sql": sql}))
        elif route == "csv":
            outcome = over_http(self.http.get("/api/query.csv", params={"sql": sql}))
        elif route == "pg":
            assert self.pg is not None
            outcome = self.pg.run(sql)
        elif route == "pg extended":
            assert self.pg is not None
            outcome = self.pg.run(sql, prepare=True)
        elif route == "pg params":
            assert self.pg is not None
            outcome = self.pg.run(sql, params, prepare=True)
        elif route == "pg params unnamed":
            assert self.pg is not None
            outcome = self.pg.run(sql, params, prepare=False)
        else:
            raise AssertionError(route)
        self._done[key] = outcome
        self.seconds[route] = self.seconds.get(route, 0.0) + time.perf_counter() - started
        self.counts[(route, outcome.kind)] += 1
        self.server.answers.append(outcome.text)
        if outcome.kind == "broken":
            self.problems.append(
                f"{self.role} {route}: broken answer to {sql!r}: {outcome.text[:400]}"
            )
        if KEY.lower() in outcome.text.lower():
            self.problems.append(f"{self.role} {route}: the hash key in the answer to {sql!r}")
        return outcome

    def close(self) -> None:
        self.http.close()
        if self.pg is not None:
            self.pg.close()


def open_run(server: Server, role: str, pg: bool = True) -> Run:
    return Run(server, role, server.http(role), server.pg(role) if pg else None)


def judge_hidden(run: Run, route: str, probe: Probe, outcome: Outcome, secrets: Secrets) -> None:
    """(1): no secret in the answer but those the query itself holds."""
    sql = probe.sql + " " + " ".join(probe.params)
    found = leaks(outcome.text, sql, secrets)
    if found:
        names = sorted({f"{s.column} of person {s.i} ({s.text})" for s in found})
        run.problems.append(
            f"{run.role} {route} [{probe.column}: {probe.form}] leaked {names[:4]} "
            f"to {probe.sql!r}: {outcome.text[:400]}"
        )


def judge_pair(run: Run, route: str, pair: Pair, true: Outcome, lookalike: Outcome) -> None:
    """(2): the same answer about the value and about its decoy."""
    a = blank(true.body, pair.true.literals, pair.true.numbers if true.kind == "refused" else ())
    b = blank(
        lookalike.body,
        pair.decoy.literals,
        pair.decoy.numbers if lookalike.kind == "refused" else (),
    )
    if a != b:
        run.problems.append(
            f"{run.role} {route} [{pair.column}: {pair.form}] answers differ for the value and "
            f"its decoy:\n  {pair.true.sql}\n  -> {a[:300]}\n  {pair.decoy.sql}\n  -> {b[:300]}"
        )


def report(name: str, run: Run, extra: str = "") -> None:
    print(
        f"\nS5 {name} ({run.role}){extra}\n"
        + json.dumps({f"{r}: {k}": n for (r, k), n in sorted(run.counts.items())}, indent=1)
        + f"\n{dict(run.seconds)}"
    )


# -- the suite -------------------------------------------------------------------------------


def test_s5_the_probes_are_200_distinct_queries_per_column() -> None:
    for column in COLUMNS:
        shapes, pairs = probes_of(column)
        distinct = {p.sql for p in shapes} | {q.sql for p in pairs for q in (p.true, p.decoy)}
        assert len(distinct) >= 200, (column, len(distinct))
        # a pair differs in the probed value only
        for pair in pairs:
            assert pair.true.sql != pair.decoy.sql, pair.form
    # what each rule shows of a value, it shows of its decoy (and the decoy is no row's value)
    raws = {p.values[c] for p in PEOPLE for c in COLUMNS}
    for i in range(1, ROWS + 1):
        fake, real = decoy(i), person(i)
        assert not set(fake.values()) & raws
        assert fake["phone"][-4:] == real["phone"][-4:]
        assert fake["address"][:3] == real["address"][:3]
        assert fake["birth_date"][:7] == real["birth_date"][:7]


@pytest.mark.parametrize("column", COLUMNS)
def test_s5_a_masked_reader_gets_only_masked_values_and_the_same_answer_about_a_decoy(
    s5: Server, column: str
) -> None:
    """Every probe of the column through POST /api/query and the PostgreSQL simple protocol,
    a share through /api/query.csv: no secret of any column in any answer, the same answer
    about the raw value and its decoy."""
    shapes, pairs = probes_of(column)
    secrets = all_secrets()
    run = open_run(s5, "masked")
    try:
        for index, probe in enumerate(shapes):
            routes = ("http", "pg") + (("csv",) if index % 8 == 0 else ())
            routes += ("pg extended",) if index % 4 == 1 else ()
            for route in routes:
                judge_hidden(run, route, probe, run.send(route, probe.sql), secrets)
        for index, pair in enumerate(pairs):
            for route in ("http", "pg") + (("csv",) if index % 8 == 0 else ()):
                true = run.send(route, pair.true.sql)
                lookalike = run.send(route, pair.decoy.sql)
                judge_hidden(run, route, pair.true, true, secrets)
                judge_hidden(run, route, pair.decoy, lookalike, secrets)
                judge_pair(run, route, pair, true, lookalike)
    finally:
        run.close()
    report(column, run, f": {len(shapes)} shapes, {len(pairs)} pairs")
    assert run.problems == [], "\n".join(run.problems[:40])
    # the probes run (a refusal is fine, but most of them are queries the engine answers)
    executed = run.counts[("http", "executed")]
    assert executed >= 0.75 * (len(shapes) + 2 * len(pairs)) * 0.95, run.counts
    assert s5.server.process.poll() is None


@pytest.mark.parametrize("column", COLUMNS)
def test_s5_a_reader_with_access_gets_the_raw_values_from_the_same_queries(
    s5: Server, column: str
) -> None:
    """(3) `auditor` reads every column raw, `email_ok` the e-mail: the shapes show raw
    values, and the answers about a value and its decoy differ; `email_ok` still gets only
    masked values of the other columns."""
    shapes, pairs = probes_of(column)
    roles = ["auditor"] + (["email_ok"] if column == "email" else [])
    for role in roles:
        run = open_run(s5, role, pg=False)
        undiscriminated: list[str] = []
        try:
            for probe in [p for p in shapes if p.shows][:: 1 if role == "email_ok" else 2]:
                outcome = run.send("http", probe.sql)
                if outcome.kind != "executed" or not raw_shown(outcome.text, column):
                    run.problems.append(
                        f"{role} [{column}: {probe.form}] no raw value for {probe.sql!r}: "
                        f"{outcome.text[:300]}"
                    )
            discriminating = [p for p in pairs if p.discriminates][::3]
            for pair in discriminating:
                true = run.send("http", pair.true.sql)
                lookalike = run.send("http", pair.decoy.sql)
                if true.kind != "executed" or lookalike.kind != "executed":
                    run.problems.append(
                        f"{role} [{column}: {pair.form}] failed: {pair.true.sql!r}: "
                        f"{true.text[:300]} / {lookalike.text[:300]}"
                    )
                elif blank(true.body, pair.true.literals) == blank(
                    lookalike.body, pair.decoy.literals
                ):
                    undiscriminated.append(pair.form)
        finally:
            run.close()
        report(f"{column}, raw", run)
        assert run.problems == [], "\n".join(run.problems[:40])
        # the predicates tell the raw value from its decoy for a reader who sees it
        assert len(undiscriminated) <= 0.1 * len(discriminating), undiscriminated


def test_s5_email_ok_reads_the_email_raw_and_every_other_column_masked(s5: Server) -> None:
    secrets = all_secrets(tuple(c for c in COLUMNS if c != "email"))
    run = open_run(s5, "email_ok")
    try:
        for column in COLUMNS:
            shapes, pairs = probes_of(column)
            for probe in shapes[::6]:
                for route in ("http", "pg"):
                    judge_hidden(run, route, probe, run.send(route, probe.sql), secrets)
            if column == "email":
                continue
            for pair in pairs[::11]:
                true = run.send("http", pair.true.sql)
                lookalike = run.send("http", pair.decoy.sql)
                judge_hidden(run, "http", pair.true, true, secrets)
                judge_pair(run, "http", pair, true, lookalike)
        plain = run.send("http", "select email, name from raw.people order by id")
    finally:
        run.close()
    report("every column", run)
    assert run.problems == [], "\n".join(run.problems[:40])
    rows = json.loads(plain.body.split(" ", 1)[1])["rows"]
    assert [r[0] for r in rows] == [p.values["email"] for p in PEOPLE[:ROWS]]
    assert {r[1] for r in rows} == {"[redacted]"}


# -- the table read route, the extended protocol ---------------------------------------------


def _prefix(column: str, value: str) -> str:
    return value[: len(value) - 4 if column == "phone" else 12]


def row_texts(column: str, value: str) -> tuple[str, ...]:
    """The texts of `value` in the reads `row_reads` makes about it."""
    prefix = _prefix(column, value)
    found = {value, value[::-1], value[-9:-3], prefix}
    found |= {derive(column, t) for t in found}
    return tuple(sorted(found, key=len, reverse=True))


def row_reads(column: str, value: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Reads of the table read route about `value` of `column` (the model's too)."""
    d = DERIVED[column][0]
    dvalue = derive(column, value)
    prefix = _prefix(column, value)
    return [
        ("raw.people", [(column, f"eq.{value}")]),
        ("raw.people", [(column, f"neq.{value}"), ("columns", f"id,{column}")]),
        ("raw.people", [(column, f"like.{prefix}*")]),
        ("raw.people", [(column, f"ilike.*{value[-9:-3]}*")]),
        ("raw.people", [(column, f"lt.{value}"), ("order", f"{column}.desc")]),
        ("raw.people", [(column, f"in.({value},{value[::-1]})")]),
        ("raw.people", [(column, f"not.eq.{value}"), ("order", "id")]),
        ("staging.people_clean", [(d, f"eq.{dvalue}")]),
        ("staging.people_clean", [(d, f"like.{derive(column, prefix)}*")]),
        ("staging.people_view", [(DERIVED[column][2], f"eq.{dvalue}")]),
    ]


PARAM_QUERIES = [
    "select count(*) from raw.people where {c}::varchar = %s",
    "select count(*) from raw.people where {c}::varchar like %s || '%%'",
    "select count(*) from raw.people where starts_with({c}::varchar, %s)",
    "select count(*) from raw.people where contains({c}::varchar, %s)",
    "select id from raw.people where {c}::varchar in (%s, 'x') order by id",
    "select %s::varchar as asked, count(*) from raw.people where {c}::varchar = %s::varchar",
    "select count(*) from staging.people_clean where lower({d}::varchar) = lower(%s)",
    "select count(*) from staging.people_eph where {e}::varchar >= %s",
]


@pytest.mark.parametrize("column", COLUMNS)
def test_s5_table_reads_and_parameters_answer_alike_about_a_value_and_its_decoy(
    s5: Server, column: str
) -> None:
    """GET /api/tables/{t}/rows with filters, order and columns on the masked column, and
    PostgreSQL's extended protocol with the value as a parameter (named and unnamed
    statements): the masked reader's answers hold no secret and are the same for the value
    and its decoy; the auditor's tell them apart."""
    secrets = all_secrets()
    d, e, _ = DERIVED[column]
    masked = open_run(s5, "masked")
    auditor = open_run(s5, "auditor")
    told_apart = 0
    asked = 0
    try:
        for i in (9,):
            value, fake = person(i)[column], decoy(i)[column]
            for (table, params), (_, fake_params) in zip(
                row_reads(column, value), row_reads(column, fake), strict=True
            ):
                answers = {}
                for run in (masked, auditor):
                    got = []
                    for p in (params, fake_params):
                        response = run.http.get(f"/api/tables/{table}/rows", params=tuple(p))
                        outcome = over_http(response)
                        run.counts[("rows", outcome.kind)] += 1
                        s5.answers.append(outcome.text)
                        if outcome.kind == "broken":
                            run.problems.append(
                                f"{run.role} rows {table} {p}: {outcome.text[:300]}"
                            )
                        got.append(outcome)
                    answers[run.role] = got
                true, lookalike = answers["masked"]
                probe = Probe(column, f"rows {params}", f"{table} {params}")
                judge_hidden(masked, "rows", probe, true, secrets)
                texts, fakes = row_texts(column, value), row_texts(column, fake)
                a, b = blank(true.body, texts), blank(lookalike.body, fakes)
                if a != b:
                    masked.problems.append(
                        f"masked rows {table} {params} vs {fake_params}: {a[:300]} / {b[:300]}"
                    )
                raw_a, raw_b = answers["auditor"]
                asked += 1
                told_apart += blank(raw_a.body, texts) != blank(raw_b.body, fakes)
            for number, template in enumerate(PARAM_QUERIES):
                sql = template.format(c=column, d=d, e=e)
                count = sql.count("%s")
                for route in ("pg params",) + (("pg params unnamed",) if number < 3 else ()):
                    got = []
                    for v in (value, fake):
                        args = tuple([derive(column, v) if "lower(" in sql else v] * count)
                        outcome = masked.send(route, sql, args)
                        judge_hidden(
                            masked,
                            route,
                            Probe(column, "params", sql, params=args),
                            outcome,
                            secrets,
                        )
                        got.append(outcome)
                    if blank(got[0].body, (value,)) != blank(got[1].body, (fake,)):
                        masked.problems.append(
                            f"masked {route} {sql!r}: {got[0].body[:200]} / {got[1].body[:200]}"
                        )
                raw = [auditor.pg.run(sql, tuple([v] * count), prepare=True) for v in (value, fake)]  # type: ignore[union-attr]
                asked += 1
                told_apart += blank(raw[0].body, (value,)) != blank(raw[1].body, (fake,))
    finally:
        masked.close()
        auditor.close()
    report(f"{column}, rows and parameters", masked)
    assert masked.problems == [], "\n".join(masked.problems[:40])
    assert auditor.problems == [], "\n".join(auditor.problems[:40])
    assert told_apart >= 0.6 * asked, (told_apart, asked)


# -- row filters -----------------------------------------------------------------------------


def test_s5_row_filters_hold_through_joins_set_operations_subqueries_ctes_and_errors(
    s5: Server,
) -> None:
    """(4) `eu` reads the EU rows of raw.people, raw.orders and staging.people_clean only,
    however a query combines them (and the ephemeral model over the model); an error about a
    row never names a row the filter hides. The auditor's answers to the same queries do hold
    the other rows (the probes reach them)."""
    eu = open_run(s5, "eu")
    auditor = open_run(s5, "auditor", pg=False)
    reached = 0
    try:
        for sql in EU_PROBES:
            for route in ("http", "pg"):
                outcome = eu.send(route, sql)
                found = eu_leaks(outcome.text)
                if found:
                    eu.problems.append(
                        f"eu {route}: {found[:4]} in the answer to {sql!r}: {outcome.text[:300]}"
                    )
            reached += bool(eu_leaks(auditor.send("http", sql).text))
        eu_orders = sum(1 for i in range(1, 31) if (i % ROWS + 1) % 2)
        counts = {
            "select count(*) from raw.people": 10,
            "select count(*) from raw.orders": eu_orders,
            "select count(*) from raw.people p join raw.orders o on o.person_id = p.id": eu_orders,
            "select count(*) from (select id from raw.people union all "
            "select id from raw.orders)": 10 + eu_orders,
            "select count(*) from staging.people_eph": 10,
            "with x as (select * from staging.people_clean) select count(*) from x": 10,
        }
        for sql, expected in counts.items():
            body = json.loads(eu.send("http", sql).body.split(" ", 1)[1])
            assert body["rows"] == [[expected]], (sql, body)
        refused = eu.send("http", "select * from raw.people__quarantine")
        assert refused.kind == "refused", refused.text
        # the table read route (raw.orders from the serving cache), filters and order too
        for table, params in [
            ("raw.people", {}),
            ("raw.people", {"region": "eq.US"}),
            ("raw.people", {"order": "notes.desc"}),
            ("raw.orders", {}),
            ("raw.orders", {"region": "neq.EU"}),
            ("raw.orders", {"order": "amount.desc", "limit": "5"}),
            ("staging.people_clean", {"region": "in.(EU,US)"}),
        ]:
            outcome = over_http(eu.http.get(f"/api/tables/{table}/rows", params=params))
            s5.answers.append(outcome.text)
            assert outcome.kind == "executed", outcome.text
            assert not eu_leaks(outcome.text), (table, params, outcome.text[:300])
    finally:
        eu.close()
        auditor.close()
    report("row filters", eu, f": {len(EU_PROBES)} queries")
    assert eu.problems == [], "\n".join(eu.problems[:40])
    assert reached >= len(EU_PROBES) // 2, reached


# -- undeclared tables, the key --------------------------------------------------------------


def test_s5_the_quarantine_is_refused_to_masked_readers_and_read_by_the_auditor(s5: Server) -> None:
    sql = "select raw from raw.people__quarantine"
    for role in ("masked", "email_ok", "eu"):
        run = open_run(s5, role)
        try:
            for route in ("http", "pg"):
                outcome = run.send(route, sql)
                assert outcome.kind == "refused", (role, route, outcome.text)
                assert "Quhovin21" not in outcome.text
        finally:
            run.close()
    with s5.http("auditor") as http:
        response = http.post("/api/query", json={"sql": sql})
        assert response.status_code == 200 and "Quhovin21" in response.text, response.text


def test_s5_hashes_are_keyed_and_no_query_replaces_or_reads_the_key(s5: Server) -> None:
    """The masked e-mail is SHA-256 of the key and the value; a query naming a relation like
    the key's (a CTE, a recursive CTE without a UNION, an alias) is refused, or runs with the
    real key (never one it chose, never none); the key's relation cannot be read."""
    keyed = {
        hashlib.sha256((KEY + text).encode()).hexdigest()
        for p in PEOPLE
        for text in (p.values["email"], p.values["email"].lower())
    }
    secrets = all_secrets()
    run = open_run(s5, "masked")
    try:
        plain = run.send("http", "select email from raw.people order by id")
        rows = json.loads(plain.body.split(" ", 1)[1])["rows"]
        expected = [
            hashlib.sha256((KEY + p.values["email"]).encode()).hexdigest() for p in PEOPLE[:ROWS]
        ]
        assert [r[0] for r in rows] == expected
        # a relation of the query's own named like the key's: refused, or the key is the real
        # one (the hashes are checked below)
        shadows = [
            f"with {KEY_TABLE} as (select '' as k) select email from raw.people",
            f"with \"{KEY_TABLE.upper()}\" as (select '' as k) select email from raw.people",
            f"select email from raw.people, (select '' as k) as {KEY_TABLE}",
            f"select * from (with {KEY_TABLE} as (select 'x' as k) select email from raw.people)",
            f"with recursive {KEY_TABLE}(k) as (select '' union all select k from {KEY_TABLE} "
            "where false) select email from raw.people",
        ]
        # the key's relation itself: refused
        reads = [
            f"with recursive {KEY_TABLE} as (select * from {KEY_TABLE}) select * from {KEY_TABLE}",
            f"with recursive x as (select * from {KEY_TABLE}) select * from x",
            f"with recursive {KEY_TABLE} as (select * from {KEY_TABLE}) "
            "select email from staging.people_view",
            f"select * from {KEY_TABLE}",
            f"select * from main.{KEY_TABLE}",
            f"select * from memory.main.{KEY_TABLE}",
            f"select * from temp.main.{KEY_TABLE}",
            f'select * from "{KEY_TABLE}"',
            f"select email, (select k from {KEY_TABLE}) from raw.people",
            f"select email from raw.people where exists (select 1 from {KEY_TABLE} where k like "
            f"'s%')",
        ]
        for sql in shadows + reads:
            for route in ("http", "pg"):
                outcome = run.send(route, sql)
                assert outcome.kind in ("refused", "executed"), (route, sql, outcome.text[:300])
                judge_hidden(run, route, Probe("email", "key", sql), outcome, secrets)
                hashes = set(re.findall(r"\b[0-9a-f]{64}\b", outcome.text))
                assert hashes <= keyed, (route, sql, outcome.text[:300])
                assert sql in shadows or outcome.kind == "refused", (route, sql, outcome.text)
    finally:
        run.close()
    assert run.problems == [], run.problems


def test_s5_a_hash_rule_without_the_key_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    root = tmp_path / "nokey"
    tokens = build(root, cached=False)
    with running_server(root, pg=True) as server:
        output: list[str] = list(server.output)
        _drain(server, output)
        running = Server(root, server, tokens, output=output)
        masked = open_run(running, "masked")
        try:
            for sql in (
                "select email from raw.people",
                "select id from raw.people",
                "select mail from staging.people_view",
            ):
                for route in ("http", "pg"):
                    outcome = masked.send(route, sql)
                    assert outcome.kind == "refused", (route, sql, outcome.text)
                    assert KEY_ENV in outcome.text, outcome.text
            # what hashes nothing needs no key, also after a query that did
            assert masked.send("http", "select * from raw.orders").kind == "executed"
            assert masked.send("pg", "select name, phone from staging.people_eph").kind == "refused"
        finally:
            masked.close()
        with running.http("auditor") as http:
            response = http.post("/api/query", json={"sql": "select email from raw.people"})
            assert response.status_code == 200 and "Wembrick" in response.text


def test_s5_the_key_is_in_no_answer_no_output_and_no_file(s5: Server) -> None:
    """Run last: every answer the module's tests received, everything the server printed, and
    every file of the project (the catalog, the query log, the audit trail)."""
    if not s5.answers:  # run alone: ask something first
        with s5.http("masked") as http:
            s5.answers.append(
                http.post("/api/query", json={"sql": "select * from raw.people"}).text
            )
    assert not [a for a in s5.answers if KEY in a]
    assert KEY not in "".join(s5.output)
    for path in s5.root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
