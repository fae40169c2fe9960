"""The read-only query path: S1 (injection payloads) and S2 (time limit, row cap, latency).

Every test runs against a real project built with `project.run()`: seeds, table, partitioned,
view and ephemeral models, stored as Delta tables. Side effects are checked from the outside:
the files on disk, the Delta versions, a sentinel folder, a canary file outside the warehouse.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from headwater.engine import duckdb_readonly
from headwater.engine.duckdb_readonly import lock_down
from headwater.errors import UsageError
from headwater.query import readonly
from headwater.query.readonly import (
    QueryRejected,
    QueryResult,
    QueryTimeout,
    check_readonly,
    run_readonly,
)
from headwater.storage.base import TableRef
from tests.conftest import REPO, ProjectFactory, write_files
from tests.support.sql_payloads import (
    CANARY,
    RUNAWAYS,
    Lake,
    all_payloads,
    build_lake,
    disk_state,
    table_versions,
)


@pytest.fixture
def lake(make_project: ProjectFactory, tmp_path: Path) -> Lake:
    """The attack project (see `tests.support.sql_payloads.build_lake`)."""
    return build_lake(make_project, tmp_path)


def values(result: QueryResult) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in result.table.to_pylist()]


# -- normal queries --------------------------------------------------------------------------


def test_joins_ctes_windows_views_and_ephemerals_work(lake: Lake) -> None:
    project = lake.project
    joined = run_readonly(
        project,
        """
        with oslo as (select * from staging.oslo)        -- a view model
        select o.name, c.people, l.label,                 -- l: an ephemeral model
               row_number() over (partition by c.city order by o.id) as n,
               sum(o.id) over () as total
        from oslo o
        join raw.people p on p.id = o.id
        join core.by_city c on c.city = p.city
        join labels l on l.id = o.id
        order by o.id
        """,
    )
    assert values(joined) == [("ann", 2, "ann@oslo", 1, 4), ("cid", 2, "cid@oslo", 2, 4)]
    assert not joined.truncated and joined.elapsed_s > 0
    partitioned = run_readonly(project, "select region, count(*) from core.by_region group by 1")
    assert sorted(values(partitioned)) == [("oslo", 2), ("paris", 1), ("rome", 1)]
    generated = run_readonly(project, "select sum(x) from range(10) t(x), unnest([1, 2]) u(y)")
    assert values(generated) == [(90,)]
    from_first = run_readonly(project, "from generate_series(1, 3) t(x) select x * 2 order by 1")
    assert values(from_first) == [(2,), (4,), (6,)]


def test_as_of_reads_an_earlier_version(lake: Lake) -> None:
    sql = "select id, v from core.events"
    assert values(run_readonly(lake.project, sql)) == [(2, "second")]
    assert values(run_readonly(lake.project, sql, as_of=0)) == [(1, "first")]
    assert values(run_readonly(lake.project, sql, as_of="1")) == [(2, "second")]


def test_a_table_read_through_the_arrow_fallback_works_with_external_access_off(
    lake: Lake,
) -> None:
    from deltalake import write_deltalake

    location = lake.project.definition.warehouse / "ext" / "mapped"
    write_deltalake(
        str(location),
        pa.table({"id": [1, 2], "a name": ["x", "y"]}),
        configuration={
            "delta.columnMapping.mode": "name",
            "delta.minReaderVersion": "2",
            "delta.minWriterVersion": "5",
        },
    )
    assert lake.project.store.snapshot(TableRef("ext", "mapped")).needs_arrow_reader
    result = run_readonly(lake.project, 'select id, "a name" from ext.mapped order by id')
    assert values(result) == [(1, "x"), (2, "y")]


def test_a_view_model_that_scans_a_file_outside_the_warehouse_is_refused(
    make_project: ProjectFactory,
) -> None:
    """Layer 3 lets the engine open only the Parquet files of the tables the query names, so a
    view over a project file works through `Project.query` but not through the read-only path
    (build such a model as a table to serve it)."""
    project = make_project(
        {
            "data/cities.csv": "city\noslo\nrome\n",
            "models/staging/cities.sql": "select * from read_csv('data/cities.csv')",
            "models/staging/cities.yml": "materialized: view\n",
        }
    )
    assert project.run().status == "success"
    assert project.query("select count(*) as n from staging.cities").to_pylist() == [{"n": 2}]
    with pytest.raises(QueryRejected, match="access to a file"):
        run_readonly(project, "select count(*) from staging.cities")


def test_the_row_cap_flags_truncation_exactly(lake: Lake) -> None:
    four = "select id from raw.people order by id"
    assert (len(run_readonly(lake.project, four, max_rows=4).table), False) == (4, False)
    capped = run_readonly(lake.project, four, max_rows=3)
    assert (values(capped), capped.truncated) == ([(1,), (2,), (3,)], True)
    empty = run_readonly(lake.project, four, max_rows=0)
    assert (empty.table.num_rows, empty.table.column_names, empty.truncated) == (0, ["id"], True)
    none = run_readonly(lake.project, "select id from raw.people where false", max_rows=0)
    assert (none.table.num_rows, none.truncated) == (0, False)


def test_errors_are_usage_errors_with_a_message_and_a_hint(lake: Lake) -> None:
    with pytest.raises(QueryRejected) as refused:
        run_readonly(lake.project, "select * from read_csv('/etc/passwd')")
    assert isinstance(refused.value, UsageError)
    assert "read_csv" in refused.value.message and refused.value.refused
    assert refused.value.hint and "SELECT" in refused.value.hint
    with pytest.raises(UsageError, match="nothing_here"):
        run_readonly(lake.project, "select * from core.nothing_here")
    with pytest.raises(UsageError, match="timeout_s"):
        run_readonly(lake.project, "select 1", timeout_s=0)
    with pytest.raises(UsageError, match="max_rows"):
        run_readonly(lake.project, "select 1", max_rows=-1)


def test_describe_show_tables_and_information_schema_answer_from_the_project(lake: Lake) -> None:
    """The outside scenario: `DESCRIBE t`, `SHOW TABLES` and information_schema queries were
    refused (or would list the engine's empty catalog). They answer from the project's tables,
    name no file, and leave out what is not the project's (the Delta table beside it)."""
    project = lake.project
    described = run_readonly(project, "DESCRIBE core.by_city")
    assert described.table.column_names == ["column_name", "column_type", "null"]
    assert values(described) == [("city", "VARCHAR", "YES"), ("people", "BIGINT", "YES")]
    assert values(run_readonly(project, "desc by_city;")) == values(described)
    view = run_readonly(project, 'describe "staging"."oslo"')
    assert [row[:2] for row in values(view)] == [("id", "BIGINT"), ("name", "VARCHAR")]

    shown = [row[0] for row in values(run_readonly(project, "  show tables ; "))]
    assert shown == [
        "core.by_city",
        "core.by_region",
        "core.events",
        "raw.people",
        "staging.oslo",
    ]  # labels is ephemeral: not a table; outside.secret is not the project's

    tables = run_readonly(
        project,
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema = 'staging' or table_name = 'people' order by 1, 2",
    )
    assert values(tables) == [("raw", "people", "BASE TABLE"), ("staging", "oslo", "VIEW")]
    columns = run_readonly(
        project,
        "select table_name, column_name, data_type, ordinal_position "
        "from INFORMATION_SCHEMA.COLUMNS where table_schema = 'core' order by 1, 4",
    )
    assert ("by_region", "region", "VARCHAR", 1) in values(columns)
    assert ("events", "v", "VARCHAR", 2) in values(columns)
    schemata = run_readonly(
        project, "select schema_name from information_schema.schemata order by 1"
    )
    assert values(schemata) == [("core",), ("raw",), ("staging",)]
    correlated = run_readonly(  # o.table_name is the outer query's: it must not narrow `t`
        project,
        "select count(*) from (select 'nope' as table_name) o where exists "
        "(select 1 from information_schema.tables t where o.table_name = 'nope')",
    )
    assert values(correlated) == [(1,)]
    everything = run_readonly(project, "select * from information_schema.columns")
    text = repr(everything.table.to_pylist())
    assert str(project.root) not in text and CANARY not in text and "secret" not in text

    with pytest.raises(UsageError, match=r"did you mean core\.by_city"):
        run_readonly(project, "describe core.by_cty")
    with pytest.raises(QueryRejected, match="system table"):
        run_readonly(project, "select * from information_schema.views")
    with pytest.raises(QueryRejected):
        run_readonly(project, "describe core.by_city; select 1")


def test_information_schema_at_an_earlier_version(lake: Lake) -> None:
    sql = "select column_name from information_schema.columns where table_name = 'events'"
    assert values(run_readonly(lake.project, sql, as_of=0)) == [("id",), ("v",)]
    before = run_readonly(
        lake.project, "show tables", as_of="2001-01-01T00:00:00+00:00"
    )  # no table existed yet; views are still listed
    assert values(before) == [("staging.oslo",)]


def _add_views_over_the_canary(lake: Lake) -> None:
    """View models over the canary file outside the warehouse (its header is `secret`), one
    directly and one through the other."""
    write_files(
        lake.project.root,
        {
            "models/staging/leak.sql": f"select * from read_csv('{lake.canary}')",
            "models/staging/leak.yml": "materialized: view\n",
            "models/staging/leak_again.sql": "select * from staging.leak",
            "models/staging/leak_again.yml": "materialized: view\n",
        },
    )
    lake.project.reload()


def _assert_reveals_nothing(lake: Lake, text: str) -> None:
    for secret in ("secret", CANARY, "canary", str(lake.canary), str(lake.root), "Error:"):
        assert secret not in text, (secret, text)


def test_a_view_over_an_outside_file_is_described_without_reading_it(lake: Lake) -> None:
    """DESCRIBE and information_schema.columns bind view models on the locked connection only:
    a view over a file outside the warehouse gives away neither its header nor its path (the
    trusted `Project.query` path still describes it)."""
    _add_views_over_the_canary(lake)
    project = lake.project
    assert values(run_readonly(project, "describe staging.oslo"))[0][:2] == ("id", "BIGINT")
    assert [r["column_name"] for r in project.query("describe staging.leak").to_pylist()] == [
        "secret"
    ]
    for present in (True, False):
        if not present:
            lake.canary.unlink()  # the engine's error would be an IO Error naming the path
        for sql in (
            "describe staging.leak",
            "DESC staging.leak_again",
            "select column_name from information_schema.columns where table_name = 'leak'",
            "select * from staging.leak",
            "select count(*) from staging.leak_again",
        ):
            with pytest.raises(QueryRejected) as refused:
                run_readonly(project, sql)
            message = f"{refused.value.message} {refused.value.hint}"
            assert "staging.leak" in refused.value.message, message
            _assert_reveals_nothing(lake, message)
        columns = run_readonly(project, "select * from information_schema.columns")
        listed = {(r["table_name"], r["column_name"]) for r in columns.table.to_pylist()}
        assert ("oslo", "name") in listed
        assert not {name for name, _ in listed} & {"leak", "leak_again"}
        _assert_reveals_nothing(lake, repr(columns.table.to_pylist()))
        views = run_readonly(
            project,
            "select table_name from information_schema.tables where table_type = 'VIEW' order by 1",
        )
        assert values(views) == [("leak",), ("leak_again",), ("oslo",)]  # listed, no columns


# -- check_readonly, a table of shapes -----------------------------------------------------

ALLOWED_SHAPES = [
    "select 1",
    "select 1;",
    "  -- a comment\nselect 1 /* another */ ;  ",
    "SELECT * FROM core.orders WHERE id IN (SELECT id FROM raw.people)",
    "with a as (select 1 as x), b as (select x + 1 as y from a) select * from b",
    "select 1 union all select 2 except select 3",
    "(select 1) union (select 2)",
    "from range(3)",
    "select * from generate_series(1, 3), unnest([1, 2])",
    "select x, lag(x) over w from range(5) t(x) window w as (order by x) qualify x > 1",
    "select 'drop table x; copy (select 1) to ''/tmp/x''' as harmless_text",
    'select 1 as "load", 2 as "set", 3 as "copy"',
    "select $$ATTACH ':memory:'$$",
    "select * from (values (1, 'a'), (2, 'b')) t(id, name)",
    "select list_transform([1, 2], x -> x * 2), {'a': 1}.a, [1,2][1]",
    "select * exclude (b) replace (a + 1 as a) from (select 1 as a, 2 as b)",
    "select * from (pivot (select 'x' as k, 1 as v) on k in ('x') using sum(v))",
]

REFUSED_SHAPES = [
    ("", "empty"),
    ("-- only a comment", "empty"),
    ("select 1; select 2", "2 statements"),
    ("select 1;;select 2", "2 statements"),
    ("values (1)", "VALUES"),
    ("pragma version", "PRAGMA"),
    ("explain select 1", "EXPLAIN"),
    ("pivot t on a using sum(b)", "MULTI"),
    ("summarize select 1", "SUMMARIZE"),
    ("describe select 1", "DESCRIBE"),
    ("show tables", "SHOW"),
    ("select 1 into t", "does not parse"),
    ("select * from t for update", "does not parse"),
    ("with d as (delete from t returning *) select * from d", "DELETE"),
    ("select * from (insert into t values (1) returning *)", "does not parse"),
    ("select * from read_csv('x.csv')", "read_csv"),
    ("select * from 'x.csv'", "file path"),
    ('select * from "/etc/passwd"', "file path"),
    ("select * from glob('*')", "glob"),
    ("select * from repeat(1, 3)", "repeat"),
    ("select * from duckdb_settings()", "duckdb_settings"),
    ("select * from system.main.duckdb_settings()", "duckdb_settings"),
    ("select * from information_schema.tables", "system table"),
    ("select * from memory.main.t", "catalog"),
    ("select current_setting('threads')", "current_setting"),
    ("select 'threads'.current_setting()", "current_setting"),
    ('select "read_text"(1)', "read_text"),
    ("select * from query('select 1')", "query"),
    ("select json_serialize_plan('select * from read_csv(''/etc/passwd'')')", "json_serialize"),
    ("select 1\x00", "control"),
    ("select 'unterminated", "does not parse"),
    ("select 1 from", "does not parse"),
    ("select " + "1 + " * 40_000 + "1", "characters"),
]


@pytest.mark.parametrize("sql", ALLOWED_SHAPES)
def test_check_readonly_allows(sql: str) -> None:
    check_readonly(sql)


METADATA_SHAPES = [
    ("select * from information_schema.tables", None),
    ("select table_name from INFORMATION_SCHEMA.COLUMNS where table_name = 'x'", None),
    ('select * from "information_schema"."schemata"', None),
    ("select * from information_schema.views", "system table"),
    ("select * from system.information_schema.tables", "catalog"),
    ("select * from memory.information_schema.columns", "catalog"),
    ("select * from pg_catalog.pg_class", "system table"),
    ("select * from information_schema.tables; select 1", "2 statements"),
    ("describe core.by_city", "DESCRIBE"),
]


@pytest.mark.parametrize(("sql", "why"), METADATA_SHAPES)
def test_check_readonly_allows_only_the_metadata_views_and_only_when_asked(
    sql: str, why: str | None
) -> None:
    """The session answers these three views from the project's tables; the SQL that runs
    names Headwater's tables instead and is checked without `metadata`, so the engine's own
    information_schema is never reachable."""
    if why is None:
        check_readonly(sql, metadata=True)
        with pytest.raises(QueryRejected, match="system table"):
            check_readonly(sql)
    else:
        with pytest.raises(QueryRejected, match=why):
            check_readonly(sql, metadata=True)


@pytest.mark.parametrize(("sql", "why"), REFUSED_SHAPES, ids=[w for _, w in REFUSED_SHAPES])
def test_check_readonly_refuses(sql: str, why: str) -> None:
    with pytest.raises(QueryRejected, match=why):
        check_readonly(sql)


def test_a_zero_width_space_cannot_split_a_name_behind_the_checks_back() -> None:
    """DuckDB's parser reads U+200B as a space; its tokenizer and sqlglot read it as part of a
    name, and sqlglot renders that name unquoted. Each parsing layer must refuse on its own."""
    sql = "select content\u200bfrom\u200bread_text('/etc/passwd')"
    for layer in (readonly._check_words, readonly._check_tree):
        with pytest.raises(QueryRejected):
            layer(sql)


# -- S1: injection payloads ------------------------------------------------------------------


def refusing_layers(sql: str) -> str:
    """Which of the two parsing layers, each on its own, refuses `sql`."""

    def refuses(*checks: Callable[[str], None]) -> bool:
        try:
            for check in checks:
                check(sql)
        except QueryRejected:
            return True
        return False

    if readonly.CONTROL.search(sql):
        return "control characters (before either layer)"
    duckdb_layer = refuses(readonly._check_statements, readonly._check_words)
    sqlglot_layer = refuses(readonly._check_tree)
    if duckdb_layer and sqlglot_layer:
        return "both layers"
    return "DuckDB layer only" if duckdb_layer else "sqlglot layer only"


class ConnectionAudit:
    """Records each read-only connection's settings and databases right after it is locked,
    and compares them after the query ran."""

    SQL = (
        "select (select list(name || '=' || coalesce(value, '') order by name) "
        "from duckdb_settings()), (select list(database_name order by 1) from duckdb_databases())"
    )

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.changed: list[str] = []
        self.checked = 0
        self._before: dict[int, Any] = {}
        original_lock = duckdb_readonly.lock_down
        original_query = duckdb_readonly.ReadOnlySession.query
        audit = self

        def lock(connection: Any, paths: Any) -> None:
            original_lock(connection, paths)
            audit._before[id(connection)] = connection.execute(self.SQL).fetchall()

        def query(session: Any, sql: str, parameters: Any = None) -> Any:
            try:
                return original_query(session, sql, parameters)
            finally:
                before = audit._before.pop(id(session.connection), None)
                if before is not None:
                    audit.checked += 1
                    if session.connection.execute(self.SQL).fetchall() != before:
                        audit.changed.append(sql)

        monkeypatch.setattr(duckdb_readonly, "lock_down", lock)
        monkeypatch.setattr(duckdb_readonly.ReadOnlySession, "query", query)


def test_s1_injection_payloads_execute_nothing(
    lake: Lake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    payloads = all_payloads(lake)
    assert len(payloads) >= 500, len(payloads)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # relative paths and DuckDB's default '.tmp' land somewhere watched
    audit = ConnectionAudit(monkeypatch)
    files_before, versions_before = disk_state(tmp_path), table_versions(lake.project)
    reference = values(run_readonly(lake.project, "select * from core.by_city order by city"))

    outcomes: Counter[tuple[str, str]] = Counter()
    layers: Counter[str] = Counter()
    problems: list[str] = []
    for payload in payloads:
        try:
            result = run_readonly(lake.project, payload.sql, timeout_s=5.0, max_rows=100)
        except QueryRejected as exc:
            outcome, text = "refused by the checks", str(exc)
            layers[refusing_layers(payload.sql)] += 1
        except QueryTimeout as exc:
            outcome, text = "timed out", str(exc)
        except UsageError as exc:
            outcome, text = "refused by the engine", str(exc)
        except Exception as exc:  # any other exception type is a bug: report it
            problems.append(f"{type(exc).__name__} from {payload.sql!r}: {exc}")
            continue
        else:
            outcome, text = "executed", repr(result.table.to_pylist())
            if not payload.harmless:
                problems.append(f"executed: {payload.sql!r} -> {text[:200]}")
        if CANARY in text:
            problems.append(f"canary leaked by {payload.sql!r}")
        outcomes[(payload.family, outcome)] += 1

    report = {f"{family}: {outcome}": n for (family, outcome), n in sorted(outcomes.items())}
    print(f"\nS1: {len(payloads)} payloads\n" + json.dumps(report, indent=1))
    print("refused by the checks, per layer that refuses it alone:", dict(layers))
    assert problems == []
    assert list(lake.sentinel.iterdir()) == []
    assert disk_state(tmp_path) == files_before
    assert table_versions(lake.project) == versions_before
    assert audit.changed == [] and audit.checked > 0
    assert values(run_readonly(lake.project, "select * from core.by_city order by city")) == (
        reference
    )
    assert not any(outcome == "timed out" for _, outcome in outcomes)


def test_layer_three_alone_blocks_files_settings_and_extensions(lake: Lake) -> None:
    """The locked connection, with no parser in front of it, still reads its own tables and
    cannot open, write or reconfigure anything else."""
    from headwater.engine.duckdb import DuckDBEngine

    ref = TableRef("core", "by_city")
    snapshot = lake.project.store.snapshot(ref)
    engine = DuckDBEngine(threads=1)
    session = engine.session()
    session.register_table(ref, snapshot)
    connection = session.connection
    lock_down(connection, [f.path for f in snapshot.files])
    settings = connection.execute("select name, value from duckdb_settings()").fetchall()
    data_before = Path(lake.data_file).read_bytes()
    out = lake.sentinel
    attempts = [
        f"select * from read_csv('{lake.canary}')",
        f"select * from '{lake.canary}'",
        "select * from read_text('/etc/passwd')",
        f"select * from glob('{lake.canary.parent}/*')",
        f"select * from glob('{Path(lake.data_file).parent}/*')",
        f"select * from read_json('{lake.log_file}')",
        f"select * from sniff_csv('{lake.canary}')",
        f"copy (select 1) to '{out}/x.csv'",
        f"copy (select 'pwned') to '{lake.data_file}' (format parquet)",
        f"copy (select 1) to '{Path(lake.data_file).parent}/new.parquet'",
        f"attach '{out}/x.duckdb' as x",
        f"export database '{out}/export'",
        "install httpfs",
        "load httpfs",
        "select * from read_csv('http://127.0.0.1:9/x.csv')",
        "set enable_external_access = true",
        "set allowed_paths = ['/']",
        "set allowed_directories = ['/']",
        "set threads = 8",
        "set memory_limit = '1TB'",
        f"set temp_directory = '{out}'",
        "set lock_configuration = false",
        "reset threads",
    ]
    try:
        for sql in attempts:
            with pytest.raises(duckdb.Error):
                connection.execute(sql).fetchall()
        assert connection.execute('select count(*) from "core"."by_city"').fetchone() == (3,)
        after = connection.execute("select name, value from duckdb_settings()").fetchall()
        assert after == settings
    finally:
        engine.close()
    assert list(out.iterdir()) == []
    assert Path(lake.data_file).read_bytes() == data_before
    assert len(list(Path(lake.data_file).parent.glob("*.parquet"))) == len(snapshot.files)


# -- S2: time limit, row cap, latency --------------------------------------------------------


def test_s2_a_runaway_query_is_cancelled_at_its_limit(lake: Lake) -> None:
    """Each runaway ends in QueryTimeout naming the limit, and the project answers afterwards.

    How soon after the limit the interrupt lands is a timing, measured in bench/serve_s2."""
    limit = 1.0
    for sql in RUNAWAYS:
        with pytest.raises(QueryTimeout) as timeout:
            run_readonly(lake.project, sql, timeout_s=limit)
        assert timeout.value.limit_s == limit and f"{limit:g} s" in timeout.value.message
    assert values(run_readonly(lake.project, "select count(*) from raw.people")) == [(4,)]


def test_s2_a_ten_million_row_result_is_capped_and_flagged(lake: Lake) -> None:
    result = run_readonly(lake.project, "select * from range(10000000)", max_rows=1000)
    assert (result.table.num_rows, result.truncated) == (1000, True)
    assert result.table.column("range").to_pylist()[-1] == 999


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_s2_the_row_cap_keeps_memory_bounded(lake: Lake) -> None:
    """Peak RSS (VmHWM, which a fresh process starts afresh) of a process that runs a
    10M-row, ~2 GB result through the cap."""
    script = textwrap.dedent(
        """
        import json, re, sys
        from pathlib import Path
        from headwater import Project
        from headwater.query.readonly import run_readonly
        def peak():
            status = Path("/proc/self/status").read_text()
            return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
        project = Project(sys.argv[1])
        run_readonly(project, "select * from raw.people")
        before = peak()
        sql = "select range, repeat('x', 200) as pad from range(10000000)"
        result = run_readonly(project, sql, max_rows=1000, timeout_s=60)
        print(json.dumps([before, peak(), result.table.num_rows, result.truncated]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(lake.project.root)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before, after, rows, truncated = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\nS2 peak RSS {before:.0f} MB -> {after:.0f} MB for a capped ~2 GB result")
    assert (rows, truncated) == (1000, True)
    assert after - before < 200


def test_concurrent_calls_on_many_threads_each_get_their_own_answer(lake: Lake) -> None:
    queries = {
        "select count(*) from raw.people": [(4,)],
        "select name from staging.oslo order by id": [("ann",), ("cid",)],
        "select label from labels where id = 2": [("bob@rome",)],
        "select sum(x) from range(1000) t(x)": [(499500,)],
        "select v from core.events": [("second",)],
        "select count(*) from core.by_region": [(4,)],
    }
    jobs = [sql for sql in queries for _ in range(4)]
    answers: dict[int, list[tuple[Any, ...]]] = {}
    errors: list[BaseException] = []

    def work(index: int, sql: str) -> None:
        try:
            answers[index] = values(run_readonly(lake.project, sql))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, sql)) for i, sql in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert [answers[i] for i in range(len(jobs))] == [queries[sql] for sql in jobs]


def test_s2_trivial_queries_answer_while_a_runaway_runs(lake: Lake) -> None:
    """A runaway query on one thread does not hold up other queries: trivial queries answer
    (correctly) while it is still running, and it then ends at its own limit.

    Their latency meanwhile is a timing, measured in bench/serve_s2."""
    project = lake.project
    trivial = "select city, people from core.by_city order by city"
    expected = values(run_readonly(project, trivial))
    assert len(expected) == 3
    outcome: list[BaseException] = []
    started = threading.Event()

    def runaway() -> None:
        started.set()
        try:
            run_readonly(project, RUNAWAYS[0], timeout_s=10.0)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=runaway)
    thread.start()
    started.wait()
    answered_while_running = 0
    for _ in range(20):
        assert values(run_readonly(project, trivial)) == expected
        answered_while_running += thread.is_alive()
    thread.join()
    assert answered_while_running > 0, "the runaway ended before any trivial query answered"
    assert len(outcome) == 1 and isinstance(outcome[0], QueryTimeout)
