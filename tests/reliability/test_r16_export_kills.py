"""R16 for exports: `headwater run` SIGKILLed 20+ times (60 in the slow tier) while it exports
a changing asset into real PostgreSQL tables in the three modes: `append` (into a table without
a unique key, so a row sent twice would be there twice), `upsert` and `mirror`.

Three models read Parquet files the test rewrites between runs (a model scanning a file is
rebuilt when the file changes), each 150,000 rows with a key at the start: `core.items`, a
table rebuilt whole, whose rows are updated, deleted and inserted (exported by `mirror`);
`core.accounts`, an incremental model merged on its key, updated and inserted (`upsert`); and
`core.ledger`, an incremental model that only appends, so its versions share files (`append`).
A round changes up to 60 % of the rows, so sending the changes (the difference between two
Delta versions computed by DuckDB, staged with `COPY`, applied in one transaction with the
position) is most of a run. The columns cover what an export turns into CSV and back: a
decimal, doubles over 16 orders of magnitude, text with commas, quotes, newlines, backslashes,
`\\N`, an empty string beside nulls, a date and a nullable boolean.

Each round changes the files (three rounds in four; the others retry the same range), starts
`headwater run` as a subprocess and SIGKILLs it: mostly at a moment drawn from [0, the duration
of one unkilled run] (measured first, for pacing only), else just after an export's transaction
appeared in PostgreSQL (`pg_stat_activity`), or as soon as an export wrote its position (just
before, during or just after its commit). A round counts towards the kills only when the signal
landed while the process was alive; a run that ended first must have succeeded. After a kill
the test waits until PostgreSQL let go of the killed run's connections (a backend busy in a
statement ends when it next talks to its client), so it can tell what the next kill lands in.

After the last kill the files change once more and a run goes to completion; then:

- every destination table equals its source asset as a multiset of rows, compared in Python
  with typed values (the Delta table read by delta-rs, the PostgreSQL table by psycopg); the
  `append` table holds no row twice;
- each export's position is the current Delta version of the asset it reads, and each export
  run again (`--force`) finds nothing to send;
- every Delta table of the project opens and reads whole.

Nothing here measures time: the deadlines only keep a broken run from hanging the suite.

Two regression tests of the PostgreSQL destination close the file: exports starting together
both create the position table (one failed on PostgreSQL's unique index of type names), and a
`character(n)` column keeps the whole value on both staging paths (a cast to bare `character`
cut it to one letter).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from headwater.exports.base import Position
from headwater.exports.postgres import PostgresTable
from headwater.project.exports import ExportConfig
from tests.conftest import HEADWATER, ProjectFactory, run_cli
from tests.support.postgres import PostgresServer

DEADLINE_S = 600.0
"""A hang guard for one wait, never a measurement."""
ROWS = 150_000
"""Rows of each source at the start."""
URL_VARIABLE = "HW_R16_DESTINATION_URL"
SCHEMA = "app"
COLUMNS = ("id", "grp", "amount", "score", "label", "day", "flag")
WORDS = (
    "plain",
    "comma, inside",
    'a "quoted" word',
    "two\nlines",
    "back\\slash",
    "\\N",
    "naïve café ✓",
    "  padded  ",
)


@dataclass(frozen=True)
class Export:
    """One model, the export of it and its destination table."""

    model: str
    mode: str
    updates: float
    """The share of rows a round changes."""
    deletes: float
    inserts: float

    @property
    def file(self) -> str:
        return f"data/{self.model}.parquet"

    @property
    def table(self) -> str:
        return f"{SCHEMA}.{self.model}_{self.mode}"

    @property
    def name(self) -> str:
        return f"{self.model}_to_app"


EXPORTS = (
    Export("items", "mirror", updates=0.6, deletes=0.05, inserts=0.05),
    Export("accounts", "upsert", updates=0.6, deletes=0.0, inserts=0.05),
    Export("ledger", "append", updates=0.0, deletes=0.0, inserts=0.2),
)


class Rows:
    """The rows of one source file, kept as columns and changed at random."""

    def __init__(self, rng: np.random.Generator, count: int) -> None:
        self.rng = rng
        self.initial = count
        self.next_id = 1
        self.columns: dict[str, np.ndarray[Any, Any]] = self._new(count)

    def _new(self, count: int) -> dict[str, np.ndarray[Any, Any]]:
        ids = np.arange(self.next_id, self.next_id + count, dtype=np.int64)
        self.next_id += count
        return {"id": ids, **self._values(ids)}

    def _values(self, ids: np.ndarray[Any, Any]) -> dict[str, np.ndarray[Any, Any]]:
        count = len(ids)
        rng = self.rng
        words = rng.integers(0, len(WORDS) + 2, count)
        salt = rng.integers(0, 1_000_000, count)
        labels = np.array(
            [
                None if w == len(WORDS) else "" if w == len(WORDS) + 1 else f"{WORDS[w]} {i}:{s}"
                for w, i, s in zip(words.tolist(), ids.tolist(), salt.tolist(), strict=True)
            ],
            dtype=object,
        )
        flags = rng.integers(0, 3, count)
        return {
            "grp": rng.integers(0, 50, count).astype(np.int32),
            "cents": rng.integers(-10_000_000, 10_000_000, count),
            "score": rng.standard_normal(count) * 10.0 ** rng.integers(-8, 9, count),
            "label": labels,
            "day": rng.integers(0, 3650, count).astype(np.int32),
            "flag": np.array([None if f == 2 else bool(f) for f in flags.tolist()], dtype=object),
        }

    def change(self, export: Export) -> None:
        """Update and delete up to the export's shares of rows, and insert up to its share
        of the initial count."""
        rng = self.rng
        count = len(self.columns["id"])
        updated = rng.random(count) < export.updates * rng.random()
        fresh = self._values(self.columns["id"][updated])
        for name, values in fresh.items():
            self.columns[name][updated] = values
        kept = rng.random(count) >= export.deletes * rng.random()
        added = self._new(int(self.initial * export.inserts * rng.random()) + 1)
        self.columns = {
            name: np.concatenate([values[kept], added[name]])
            for name, values in self.columns.items()
        }

    def write(self, path: Path) -> None:
        """Write the rows to `path` in a shuffled order (replacing the file at once)."""
        order = self.rng.permutation(len(self.columns["id"]))
        table = pa.table(
            {
                "id": pa.array(self.columns["id"][order], pa.int64()),
                "grp": pa.array(self.columns["grp"][order], pa.int32()),
                "cents": pa.array(self.columns["cents"][order], pa.int64()),
                "score": pa.array(self.columns["score"][order], pa.float64()),
                "label": pa.array(self.columns["label"][order].tolist(), pa.string()),
                "day": pa.array(self.columns["day"][order], pa.int32()),
                "flag": pa.array(self.columns["flag"][order].tolist(), pa.bool_()),
            }
        )
        staged = path.with_suffix(".tmp")
        pq.write_table(table, staged)
        os.replace(staged, path)


MODEL = """
select id, grp, (cents::decimal(12, 2) * 0.01)::decimal(12, 2) as amount, score, label,
       date '2015-01-01' + day as day, flag
from read_parquet('{file}')
"""
MATERIALIZED = {
    "items": "",  # a table, rebuilt whole
    "accounts": "materialized: incremental\nunique_key: id\n",  # merged on its key
    "ledger": "materialized: incremental\n",  # appended: its versions share their files
}
NEW_ROWS = "{% if is_incremental() %}\nwhere id > (select max(id) from {{ this }})\n{% endif %}\n"


def project_files() -> dict[str, str]:
    files = {}
    exports = ["exports:"]
    for export in EXPORTS:
        files[f"models/core/{export.model}.sql"] = MODEL.format(file=export.file) + (
            NEW_ROWS if export.mode == "append" else ""
        )
        if MATERIALIZED[export.model]:
            files[f"models/core/{export.model}.yml"] = MATERIALIZED[export.model]
        exports += [
            f"  - name: {export.name}",
            f"    from: core.{export.model}",
            f"    mode: {export.mode}",
            *([] if export.mode == "append" else ["    key: [id]"]),
            "    to:",
            "      postgres:",
            f"        url: ${{{URL_VARIABLE}}}",
            f"        table: {export.table}",
        ]
    files["exports/app.yml"] = "\n".join(exports) + "\n"
    return files


def create_tables(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        for export in EXPORTS:
            key = "" if export.mode == "append" else " PRIMARY KEY"
            conn.execute(
                f"CREATE TABLE {export.table} (id bigint{key}, grp integer NOT NULL, "
                "amount numeric(12, 2) NOT NULL, score double precision NOT NULL, label text, "
                "day date NOT NULL, flag boolean, exported_at timestamptz DEFAULT now())"
            )


@dataclass
class Kills:
    """What the rounds did."""

    landed: int = 0
    """SIGKILLs that landed while the run was alive."""
    in_export: int = 0
    """Of those, kills that landed while an export's transaction was open in PostgreSQL."""
    finished: int = 0
    """Runs that ended before their kill (each succeeded)."""
    moves: int = 0
    """Times an export's position moved between two rounds."""
    styles: Counter[str] = field(default_factory=Counter)


class Harness:
    """The project, its sources, the destination and the subprocess runs."""

    def __init__(self, root: Path, server: PostgresServer, database: str, seed: int) -> None:
        self.root = root
        self.dsn = server.dsn(database)
        self.env = {**os.environ, URL_VARIABLE: server.url(database)}
        self.rng = random.Random(seed)
        generator = np.random.default_rng(seed)
        self.rows = {e.model: Rows(generator, ROWS) for e in EXPORTS}
        self.log = root / "runs.log"
        self.kills = Kills()
        self.monitor = psycopg.connect(self.dsn, autocommit=True)
        """Polls `pg_stat_activity` (each statement sees a fresh snapshot)."""
        (root / "data").mkdir(exist_ok=True)

    def close(self) -> None:
        self.monitor.close()

    def change(self) -> None:
        for export in EXPORTS:
            self.rows[export.model].change(export)
            self.write(export)

    def write(self, export: Export) -> None:
        self.rows[export.model].write(self.root / export.file)

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            out.write(b"\n--- headwater run\n")
            return subprocess.Popen(
                [*HEADWATER, "run"], cwd=self.root, env=self.env, stdout=out, stderr=out
            )

    def complete(self) -> float:
        """Run to the end; return how long it took (for pacing only)."""
        started = time.monotonic()
        process = self.start()
        code = process.wait(DEADLINE_S)
        assert code == 0, self.tail()
        return time.monotonic() - started

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return list(conn.execute(sql, params).fetchall())

    def activity(self, where: str) -> bool:
        """Whether another connection to the destination matches `where`."""
        return bool(
            self.monitor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                f"AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND {where} "
                "LIMIT 1"
            ).fetchall()
        )

    def exporting(self) -> bool:
        """Whether an export's transaction is open: from locking its position row through
        staging, applying and writing the position, to its commit."""
        return self.activity(
            "xact_start IS NOT NULL AND (query ILIKE '%%hw_export%%' "
            "OR query ILIKE '%%FOR UPDATE%%' OR query ILIKE '%%INSERT INTO%%')"
        )

    def committing(self) -> bool:
        """Whether an export has written its position: its commit is next (or under way)."""
        return self.activity("query ILIKE '%%INSERT INTO%%headwater_export_positions%%'")

    def others_gone(self) -> bool:
        return not self.activity("true")

    def positions(self) -> dict[str, int]:
        found = self.query(f"SELECT export, version FROM {SCHEMA}.headwater_export_positions")
        return {str(export): int(version) for export, version in found}

    def wait(self, until: Callable[[], bool], process: subprocess.Popen[bytes] | None) -> None:
        """Poll until `until()` holds or `process` ended."""
        deadline = time.monotonic() + DEADLINE_S
        while not until():
            if process is not None and process.poll() is not None:
                return
            assert time.monotonic() < deadline, "hang guard: " + self.tail()
            time.sleep(0.002)

    def kill_once(self, typical: float) -> None:
        """Change the sources (three rounds in four), start a run and SIGKILL it: at a
        moment drawn from [0, typical], or in an export's transaction, or as soon as an
        export wrote its position (just before, during or just after its commit)."""
        if self.rng.random() < 0.75:
            self.change()
        before = self.positions()
        style = self.rng.choices(["anytime", "in_export", "at_commit"], [0.55, 0.25, 0.2])[0]
        process = self.start()
        try:
            if style == "in_export":
                self.wait(self.exporting, process)
                time.sleep(self.rng.uniform(0, 0.4))
            elif style == "at_commit":
                self.wait(self.committing, process)
            else:
                time.sleep(self.rng.uniform(0, typical))
            if process.poll() is None:
                exporting = self.exporting()
                process.send_signal(signal.SIGKILL)
                if process.wait(DEADLINE_S) == -signal.SIGKILL:
                    self.kills.landed += 1
                    self.kills.in_export += exporting
                    self.kills.styles[style] += 1
                    return
            assert process.wait(DEADLINE_S) == 0, self.tail()
            self.kills.finished += 1
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(DEADLINE_S)
            # PostgreSQL ends a killed client's backend once it next talks to the client
            self.wait(self.others_gone, None)
            after = self.positions()
            self.kills.moves += sum(after[e] != before.get(e) for e in after)


def source_rows(root: Path, model: str) -> tuple[int, list[tuple[Any, ...]]]:
    """The asset's current Delta version and rows, read by delta-rs."""
    table = DeltaTable(str(root / "warehouse" / "core" / model))
    data = table.to_pyarrow_table(columns=list(COLUMNS))
    return table.version(), [tuple(r[c] for c in COLUMNS) for r in data.to_pylist()]


def check_destination(harness: Harness, export: Export) -> None:
    version, expected = source_rows(harness.root, export.model)
    got = harness.query(f"SELECT {', '.join(COLUMNS)} FROM {export.table}")
    held, wanted = Counter(got), Counter(expected)
    assert len(wanted) == len(expected), f"{export.model} has repeated rows: fix the test"
    if export.mode == "append":
        twice = [row for row, n in held.items() if n > 1]
        assert twice == [], f"{export.table} holds {len(twice)} rows twice: {twice[:3]}"
    missing, extra = wanted - held, held - wanted
    assert (len(got), len(missing), len(extra)) == (len(expected), 0, 0), (
        f"{export.table}: {len(got)} rows for {len(expected)}, {len(missing)} missing "
        f"(e.g. {list(missing)[:2]}), {len(extra)} extra (e.g. {list(extra)[:2]})"
    )
    positions = harness.query(
        f"SELECT source, version FROM {SCHEMA}.headwater_export_positions WHERE export = %s",
        (export.name,),
    )
    assert positions == [(f"core.{export.model}", version)]


def check_export_kills(
    make_project: ProjectFactory, server: PostgresServer, database: str, kills: int, seed: int
) -> None:
    """Kill `headwater run` `kills` times while it exports, finish, check the docstring's
    points."""
    project = make_project(project_files())
    create_tables(server.dsn(database))
    harness = Harness(project.root, server, database, seed)
    try:
        for export in EXPORTS:
            harness.write(export)
        harness.complete()  # the first export of every row (not the pace of a round)
        harness.change()
        typical = harness.complete()
        while harness.kills.landed < kills:
            harness.kill_once(typical)
    finally:
        harness.close()

    harness.change()
    harness.complete()
    # each export, run again, finds its position at the asset's version: nothing to send
    exports = [f"exports.{e.name}" for e in EXPORTS]
    again = run_cli(
        ["run", "--force", "--json", "-s", " ".join(exports)],
        harness.root,
        env=harness.env,
        timeout=DEADLINE_S,
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    outcomes = {a["key"]: a for a in json.loads(again.stdout)["assets"]}
    assert sorted(outcomes) == sorted(exports)
    for outcome in outcomes.values():
        assert outcome["status"] == "success", outcome
        assert outcome["rows"] == 0 and "up to date" in outcome["message"], outcome

    # the kills did what they are for: some landed inside exports' transactions, and
    # between the kills some exports committed
    done = harness.kills
    assert done.landed == kills
    assert done.in_export >= 3, f"few kills landed in an export's transaction: {done}"
    assert done.moves >= 1, f"no export committed between the kills: {done}"

    for export in EXPORTS:
        check_destination(harness, export)
    warehouse = harness.root / "warehouse"
    for log in sorted(warehouse.glob("**/_delta_log")):
        DeltaTable(str(log.parent)).to_pyarrow_table()  # opens and reads whole
    assert {
        p.parent.parent.name + "." + p.parent.name for p in warehouse.glob("*/*/_delta_log")
    } >= {f"core.{e.model}" for e in EXPORTS}


def test_r16_exports_killed_twenty_times_end_equal_to_their_assets(
    make_project: ProjectFactory, postgres_server: PostgresServer, postgres_db: str
) -> None:
    check_export_kills(make_project, postgres_server, postgres_db, kills=20, seed=16)


@pytest.mark.slow
def test_r16_exports_killed_sixty_times_end_equal_to_their_assets(
    make_project: ProjectFactory, postgres_server: PostgresServer, postgres_db: str
) -> None:
    check_export_kills(make_project, postgres_server, postgres_db, kills=60, seed=17)


def test_exports_starting_together_create_their_position_table_once(
    postgres_server: PostgresServer, postgres_db: str
) -> None:
    """Two exports into one schema (two of one asset start at the same moment) both find
    the position table missing: one creates it while the other waits, and neither fails
    (PostgreSQL's `CREATE TABLE IF NOT EXISTS` refuses the second of two at once)."""
    url = postgres_server.url(postgres_db)
    with psycopg.connect(postgres_server.dsn(postgres_db), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    for attempt in range(10):
        schema = f"{SCHEMA}.p{attempt}_positions"
        tables = [
            PostgresTable(
                ExportConfig.model_validate(
                    {
                        "name": f"e{number}",
                        "from": "core.items",
                        "mode": "append",
                        "to": {
                            "postgres": {"url": url, "table": "app.t", "position_table": schema}
                        },
                    }
                )
            )
            for number in range(2)
        ]
        together = threading.Barrier(len(tables))
        try:
            with ThreadPoolExecutor(len(tables)) as pool:
                found = list(pool.map(_position_after, tables, [together] * len(tables)))
        finally:
            for table in tables:
                table.close()
        assert found == [Position(version=None)] * len(tables)


def _position_after(table: PostgresTable, barrier: threading.Barrier) -> Position:
    """`table.position()` once every thread reached `barrier`."""
    barrier.wait()
    return table.position()


@pytest.mark.parametrize(
    "extra_row",
    [
        pytest.param("", id="typed_staging"),
        pytest.param("4,ABC,far too long,abc\n", id="text_staging_too_long"),
        pytest.param("4,ABC,e,abcd\n", id="text_staging_domain_check"),
    ],
)
def test_char_columns_keep_their_whole_text(
    make_project: ProjectFactory,
    postgres_server: PostgresServer,
    postgres_db: str,
    monkeypatch: pytest.MonkeyPatch,
    extra_row: str,
) -> None:
    """A `character(n)` column gets the whole value, padded, whether the rows are staged with
    the table's types or, when a value does not fit one (a `varchar(5)`, a domain's check),
    as text and cast: a cast to bare `character` would have cut it to one letter. The row
    that does not fit is refused, the others land."""
    monkeypatch.setenv(URL_VARIABLE, postgres_server.url(postgres_db))
    with psycopg.connect(postgres_server.dsn(postgres_db), autocommit=True) as conn:
        conn.execute("CREATE DOMAIN short_tag AS text CHECK (length(VALUE) <= 3)")
        conn.execute(
            "CREATE TABLE codes (id integer PRIMARY KEY, code char(6), note varchar(5), "
            "tag short_tag)"
        )
    project = make_project(
        {
            "seeds/codes.csv": "id,code,note,tag\n1,ABCDEF,a,x\n2,XY,b,yz\n3,,c,\n" + extra_row,
            "exports/codes.yml": (
                "exports:\n  - name: codes_out\n    from: codes\n    mode: upsert\n"
                f"    key: [id]\n    to:\n      postgres:\n        url: ${{{URL_VARIABLE}}}\n"
                "        table: codes\n"
            ),
        }
    )
    summary = project.run()
    assert summary.exit_code == 0, [(o.key, o.message) for o in summary.outcomes]
    with psycopg.connect(postgres_server.dsn(postgres_db), autocommit=True) as conn:
        found = conn.execute("SELECT id, code, note, tag FROM codes ORDER BY id").fetchall()
    assert found == [(1, "ABCDEF", "a", "x"), (2, "XY    ", "b", "yz"), (3, None, "c", None)]
    if extra_row:  # the row that does not fit is set aside
        held = project.query("SELECT count(*) AS n FROM exports.codes_out__quarantine")
        assert held.to_pylist() == [{"n": 1}]
