"""Change data capture from a real PostgreSQL (wal_level=logical) into Delta mirrors.

The mirrors are read with delta-rs and compared with PostgreSQL read by psycopg, never
through Headwater: after each run that follows a pause in the writes, every mirror equals its
table (columns, rows, typed values) and every change log holds each committed change exactly
once (`workload.py`). Then what the capture refuses, each with a message saying what to do,
and its other behaviour: tables added and removed, soft deletes, the change log's columns,
and the slot, which is told no more than the mirrors hold.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, run_cli, write_files
from tests.stream.cdc.workload import (
    KEYS,
    CdcDatabase,
    Workload,
    Writer,
    acknowledged_unheld,
    assert_change_logs_exact,
    assert_mirrors_equal,
    connect,
    copy_positions,
    drop_slots,
    logged_changes,
    lsn_int,
    mirror_problems,
    mirror_table,
    run,
    source_file,
    table_specs,
)
from tests.support.postgres import PostgresServer, start_postgres

APP_ID = "headwater:cdc:pg"
DEADLINE_S = 120.0
"""A hang guard for waits, never a measurement."""


@pytest.fixture
def cdc_db(postgres_server: PostgresServer) -> Iterator[CdcDatabase]:
    """A fresh database and a unique slot name; the database's slots are dropped after."""
    name = postgres_server.create_database()
    yield CdcDatabase(postgres_server, name, f"hw_{uuid.uuid4().hex[:16]}")
    drop_slots(postgres_server, name)


def failure(project: Project, key: str = "pg.t") -> str:
    """Run the project, which must fail building `key`; return the failure's message."""
    summary = project.run()
    outcome = next(o for o in summary.outcomes if o.key == key)
    assert outcome.status.value == "failed", outcome
    return outcome.message or ""


def app_version(warehouse: Path, table: str) -> int | None:
    """The position a mirror (or change log) holds every change before."""
    return DeltaTable(str(warehouse / "pg" / table)).transaction_version(APP_ID)


def held_positions(
    warehouse: Path, tables: Iterable[str] = KEYS
) -> dict[str, tuple[int | None, int | None]]:
    """Each table's mirror's and change log's positions."""
    return {t: (app_version(warehouse, t), app_version(warehouse, t + "__changes")) for t in tables}


def assert_slot_acknowledged(db: CdcDatabase, warehouse: Path) -> None:
    """The slot is confirmed up to the newest position a mirror holds, and past no change a
    mirror lacks. (It may be confirmed further than the mirrors' positions: psycopg2 moves
    its flush position to the server's WAL end on a keepalive when everything it received
    was acknowledged, i.e. over WAL that holds nothing for the publication.)"""
    confirmed, _ = db.slot_state()
    held = held_positions(warehouse)
    newest = max(p for pair in held.values() for p in pair if p is not None)
    assert confirmed is not None and confirmed >= newest
    assert acknowledged_unheld(logged_changes(warehouse), held, confirmed) == []


def one_table(db: CdcDatabase, table: dict[str, Any], **cdc: Any) -> dict[str, str]:
    return source_file(db.url, db.slot, {"t": {"mode": "cdc", **table}}, **cdc)


# -- the random workload ------------------------------------------------------------------------


def test_random_workload_mirrors_equal_postgres_after_every_run(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    workload = Workload(cdc_db.dsn, seed=1401)
    workload.setup(accounts=10_000, ledger=5_000, big=40)
    files = source_file(cdc_db.url, cdc_db.slot, table_specs(), batch_changes=400)
    project = make_project(files)
    warehouse = project.definition.warehouse

    # the first copy runs while the writer writes: transactions commit before the slot's
    # snapshot (read by the copy), during the copy (streamed in the same run) and after
    writer = Writer(workload)
    writer.start()
    deadline = time.monotonic() + DEADLINE_S
    while len(workload.committed) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    run(project)
    streamed_in_first_run = sum(len(rows) for rows in logged_changes(warehouse).values())
    writer.finish()
    copied_at = copy_positions(warehouse)["accounts"]
    assert copied_at is not None
    assert any(c.high <= copied_at for c in workload.committed)
    assert streamed_in_first_run > 0, "no write landed between the snapshot and the run's end"

    run(project)
    assert_mirrors_equal(cdc_db.dsn, warehouse)
    assert_change_logs_exact(workload.committed, warehouse)
    assert_slot_acknowledged(cdc_db, warehouse)

    for round_number in range(4):
        if round_number == 1:
            workload.evolve_at = len(workload.committed) + 40
        writer = Writer(workload, limit=100)
        writer.start()
        run(project)  # while the writes go on
        writer.finish()
        workload.run(20)  # and some with no capture running
        run(project)
        assert_mirrors_equal(cdc_db.dsn, warehouse)
        assert_change_logs_exact(workload.committed, warehouse)
        assert_slot_acknowledged(cdc_db, warehouse)

    # the workload did what it is for
    changes = [c for txn in workload.committed for c in txn.changes]
    assert workload.evolved and workload.rolled_back > 0 and workload.savepoints > 0
    assert workload.truncates > 0 and any(c.op == "t" for c in changes)
    assert "rating" in mirror_table(warehouse, "accounts").column_names
    assert "extra" in mirror_table(warehouse, "events").column_names
    assert workload.moves > 20 and any(c.op == "d" for c in changes)
    toasted = cdc_db.query("SELECT count(*) FROM accounts WHERE length(note) > 8000")[0][0]
    assert toasted > 10


# -- refusals -----------------------------------------------------------------------------------


def cli_failure(project: Project) -> str:
    """`headwater run` in a subprocess, which must fail with a message and no traceback."""
    result = run_cli(["run"], cwd=project.root)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    return output


def test_a_table_without_primary_key_is_refused(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {}))
    output = cli_failure(project)
    assert "public.t has no primary key" in output
    assert "add a primary key, or ALTER TABLE" in output and "REPLICA IDENTITY FULL" in output
    assert not (project.definition.warehouse / "pg" / "t").exists()


def test_replica_identity_nothing_is_refused(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY)", "ALTER TABLE t REPLICA IDENTITY NOTHING")
    output = cli_failure(make_project(one_table(cdc_db, {})))
    assert "public.t has REPLICA IDENTITY NOTHING" in output
    assert "REPLICA IDENTITY DEFAULT (with a primary key) or FULL" in output


def test_replica_identity_full_needs_a_primary_key_in_yaml(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int, v text)", "ALTER TABLE t REPLICA IDENTITY FULL")
    project = make_project(one_table(cdc_db, {}))
    assert "name them in the table's 'primary_key:'" in failure(project)
    # named, the same table mirrors
    write_files(project.root, one_table(cdc_db, {"primary_key": ["id"]}))
    project = Project(project.root)
    cdc_db.execute("INSERT INTO t VALUES (1, 'a'), (2, NULL)", "UPDATE t SET v = 'b' WHERE id = 2")
    run(project)
    assert mirror_problems(cdc_db.dsn, project.definition.warehouse, "t", ("id",)) == []


def test_contract_freeze_stops_before_an_added_column(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {"contract": "freeze"}))
    warehouse = project.definition.warehouse
    run(project)
    cdc_db.execute("INSERT INTO t VALUES (2, 'before')")
    before = app_version(warehouse, "t")
    with connect(cdc_db.dsn) as connection:
        connection.execute("INSERT INTO t VALUES (3, 'same transaction, before')")
        connection.execute("ALTER TABLE t ADD COLUMN extra int")
        connection.execute("INSERT INTO t VALUES (4, 'after', 4)")
        low = lsn_int(connection.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0])
        connection.commit()
    cdc_db.execute("INSERT INTO t VALUES (5, 'later', 5)")

    message = cli_failure(project)
    assert "pg.t: the source table gained column(s) extra and its contract is 'freeze'" in message
    assert "nothing after that change was applied" in message
    assert "set contract 'evolve'" in message
    rows = mirror_table(warehouse, "t").sort_by("id").to_pylist()
    assert rows == [{"id": 1, "v": "a"}, {"id": 2, "v": "before"}]
    confirmed, _ = cdc_db.slot_state()
    held = app_version(warehouse, "t")
    assert before is not None and held is not None and confirmed is not None
    assert held > before  # the insert before the change was applied
    assert confirmed <= held <= low  # and nothing of the transaction that changed the table

    write_files(project.root, one_table(cdc_db, {"contract": "evolve"}))
    run(Project(project.root))
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",)) == []


def test_truncate_guard_stops_the_capture_until_told(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {"changelog": True}))
    warehouse = project.definition.warehouse
    run(project)
    cdc_db.execute("INSERT INTO t VALUES (2, 'b')", "TRUNCATE t", "INSERT INTO t VALUES (3, 'c')")

    message = cli_failure(project)
    assert "pg.t: the source table was truncated" in message
    assert "the mirror was left as it was before" in message
    assert "set 'on_truncate: apply' on table t" in message
    assert [r["id"] for r in mirror_table(warehouse, "t").sort_by("id").to_pylist()] == [1, 2]
    assert failure(Project(project.root)).startswith("sources/pg.yml")  # again: still guarded

    write_files(project.root, one_table(cdc_db, {"changelog": True, "on_truncate": "apply"}))
    run(Project(project.root))
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",)) == []
    ops = [r["_op"] for r in mirror_table(warehouse, "t__changes").to_pylist()]
    assert sorted(ops) == ["c", "c", "r", "t"]


def test_on_truncate_ignore_keeps_the_rows(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {"on_truncate": "ignore"}))
    run(project)
    cdc_db.execute("TRUNCATE t", "INSERT INTO t VALUES (2, 'b')")
    run(project)
    rows = mirror_table(project.definition.warehouse, "t").sort_by("id").to_pylist()
    assert rows == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]


def test_a_changed_column_type_is_refused(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, n int)", "INSERT INTO t VALUES (1, 1)")
    project = make_project(one_table(cdc_db, {}))
    run(project)
    cdc_db.execute("ALTER TABLE t ALTER COLUMN n TYPE text", "INSERT INTO t VALUES (2, 'two')")
    message = cli_failure(project)
    assert "pg.t: column n changed type at the source, from INTEGER to VARCHAR" in message
    assert "headwater cdc reset pg" in message
    assert mirror_table(project.definition.warehouse, "t").to_pylist() == [{"id": 1, "n": 1}]


def test_a_slot_this_project_did_not_make_is_refused(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc_db.query("SELECT 1 FROM pg_create_logical_replication_slot(%s, 'pgoutput')", (cdc_db.slot,))
    project = make_project(one_table(cdc_db, {}))
    message = cli_failure(project)
    assert f"replication slot {cdc_db.slot} exists in the source database, but this project" in (
        message
    )
    assert "name another slot" in message
    # the slot is left alone
    assert cdc_db.query(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (cdc_db.slot,)
    ) == [(1,)]


def test_a_server_without_logical_wal_is_refused(make_project: ProjectFactory) -> None:
    server = start_postgres(logical=False)
    try:
        name = server.create_database()
        with psycopg.connect(server.dsn(name), autocommit=True) as connection:
            connection.execute("CREATE TABLE t (id int PRIMARY KEY)")
        db = CdcDatabase(server, name, f"hw_{uuid.uuid4().hex[:16]}")
        message = cli_failure(make_project(one_table(db, {})))
        assert "wal_level" in message and "logical" in message
        assert "set wal_level = logical in postgresql.conf and restart the server" in message
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


# -- other behaviour ----------------------------------------------------------------------------


def test_rolled_back_transactions_never_appear(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {"changelog": True}))
    warehouse = project.definition.warehouse
    run(project)
    with connect(cdc_db.dsn) as connection:
        connection.execute("INSERT INTO t SELECT i, 'gone' FROM generate_series(2, 5000) i")
        connection.execute("UPDATE t SET v = 'gone' WHERE id = 1")
        connection.rollback()
        connection.execute("INSERT INTO t VALUES (10, 'kept')")
        connection.execute("SAVEPOINT s")
        connection.execute("INSERT INTO t VALUES (11, 'gone')")
        connection.execute("DELETE FROM t WHERE id = 1")
        connection.execute("ROLLBACK TO SAVEPOINT s")
        connection.execute("UPDATE t SET v = 'kept too' WHERE id = 1")
        connection.commit()
    run(project)
    rows = mirror_table(warehouse, "t").sort_by("id").to_pylist()
    assert rows == [{"id": 1, "v": "kept too"}, {"id": 10, "v": "kept"}]
    log = mirror_table(warehouse, "t__changes").to_pylist()
    assert sorted((r["_op"], r["id"], r["v"]) for r in log) == [
        ("c", 10, "kept"),
        ("r", 1, "a"),
        ("u", 1, "kept too"),
    ]


def test_a_table_added_later_is_copied_then_followed(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    workload = Workload(cdc_db.dsn, seed=1402)
    workload.setup(accounts=8000, ledger=100, big=10)
    workload.allow_truncate = False
    specs = table_specs()
    first = {"accounts": specs["accounts"]}
    project = make_project(source_file(cdc_db.url, cdc_db.slot, first))
    warehouse = project.definition.warehouse
    run(project)
    workload.run(30)
    run(project)

    # items joins while the writer writes: copied in a temporary slot's snapshot, then
    # followed from there on, with no change missed or seen twice
    write_files(project.root, source_file(cdc_db.url, cdc_db.slot, specs))
    project = Project(project.root)
    writer = Writer(workload)
    writer.start()
    deadline = time.monotonic() + DEADLINE_S
    count = len(workload.committed)
    while len(workload.committed) < count + 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    run(project)
    writer.finish()
    run(project)
    assert_mirrors_equal(cdc_db.dsn, warehouse)
    assert_change_logs_exact(workload.committed, warehouse)
    copies = copy_positions(warehouse)
    assert copies["accounts"] is not None and copies["items"] is not None
    assert copies["items"] > copies["accounts"]
    publication = sorted(
        r[0]
        for r in cdc_db.query(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = %s", (cdc_db.slot,)
        )
    )
    assert publication == sorted(KEYS)

    # tables removed from the YAML leave the publication; the others go on
    write_files(project.root, source_file(cdc_db.url, cdc_db.slot, first))
    project = Project(project.root)
    workload.run(20)
    run(project)
    publication = [
        r[0]
        for r in cdc_db.query(
            "SELECT tablename FROM pg_publication_tables WHERE pubname = %s", (cdc_db.slot,)
        )
    ]
    assert publication == ["accounts"]
    assert mirror_problems(cdc_db.dsn, warehouse, "accounts") == []


def test_soft_delete_flags_deleted_rows(cdc_db: CdcDatabase, make_project: ProjectFactory) -> None:
    cdc_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    table = {"primary_key": ["id"], "delete_column": "deleted", "on_truncate": "apply"}
    project = make_project(one_table(cdc_db, table))
    warehouse = project.definition.warehouse
    run(project)
    cdc_db.execute(
        "DELETE FROM t WHERE id = 1",
        "UPDATE t SET id = 20 WHERE id = 2",
        "INSERT INTO t VALUES (4, 'd')",
        "DELETE FROM t WHERE id = 4",
        "INSERT INTO t VALUES (5, 'e')",
    )
    run(project)
    rows = {r["id"]: (r["v"], r["deleted"]) for r in mirror_table(warehouse, "t").to_pylist()}
    # a row inserted and deleted between two runs may never reach the mirror
    assert rows.pop(4, ("d", True)) == ("d", True)
    assert rows == {
        1: ("a", True),
        2: ("b", True),
        3: ("c", False),
        5: ("e", False),
        20: ("b", False),
    }
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",), "deleted") == []
    # a deleted key inserted again is a live row again; a truncate flags every row
    cdc_db.execute("INSERT INTO t VALUES (1, 'again')")
    run(project)
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",), "deleted") == []
    cdc_db.execute("TRUNCATE t", "INSERT INTO t VALUES (7, 'g')")
    run(project)
    flags = {r["id"]: r["deleted"] for r in mirror_table(warehouse, "t").to_pylist()}
    flags.pop(4, None)
    assert flags == {1: True, 2: True, 3: True, 5: True, 7: False, 20: True}
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",), "deleted") == []


def test_change_log_rows(cdc_db: CdcDatabase, make_project: ProjectFactory) -> None:
    cdc_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text, big text)",
        "INSERT INTO t VALUES (1, 'a', NULL), (2, 'b', NULL)",
    )
    project = make_project(one_table(cdc_db, {"changelog": True, "on_truncate": "apply"}))
    warehouse = project.definition.warehouse
    run(project)
    big = "".join(uuid.uuid4().hex for _ in range(400))  # out of line: not sent when unchanged
    marks = []
    with connect(cdc_db.dsn) as connection:
        for statement in (
            f"INSERT INTO t VALUES (3, 'c', '{big}')",
            "UPDATE t SET v = 'c2' WHERE id = 3",
            "UPDATE t SET id = 4 WHERE id = 3",
            "DELETE FROM t WHERE id = 1",
            "TRUNCATE t",
            "INSERT INTO t VALUES (5, 'e', NULL)",
        ):
            low = connection.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
            connection.execute(statement)
            connection.commit()
            marks.append(lsn_int(low[0]))  # type: ignore[index]
    run(project)
    log = mirror_table(warehouse, "t__changes")
    assert log.column_names[:5] == ["_op", "_lsn", "_commit_time", "_seq", "_unchanged"]
    rows = log.to_pylist()
    reads = [r for r in rows if r["_op"] == "r"]
    assert sorted((r["id"], r["v"]) for r in reads) == [(1, "a"), (2, "b")]
    assert all(r["_commit_time"] is None for r in reads)
    changes = sorted((r for r in rows if r["_op"] != "r"), key=lambda r: (r["_lsn"], r["_seq"]))
    assert [(r["_op"], r["id"], r["v"]) for r in changes] == [
        ("c", 3, "c"),
        ("u", 3, "c2"),
        ("u", 4, "c2"),
        ("d", 1, None),
        ("t", None, None),
        ("c", 5, "e"),
    ]
    assert [r["big"] == big for r in changes[:3]] == [True, False, False]
    assert [r["_unchanged"] for r in changes[:3]] == [[], ["big"], ["big"]]
    lsns = [r["_lsn"] for r in changes]
    assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns)
    for lsn, low, high in zip(lsns, marks, [*marks[1:], lsns[-1] + 1], strict=True):
        assert low <= lsn < high  # each change at its own transaction's commit
    times = [r["_commit_time"] for r in changes]
    assert all(t is not None for t in times) and times == sorted(times)
    assert reads[0]["_lsn"] < lsns[0]
    # the mirror kept the big value through the update and the key change
    assert mirror_table(warehouse, "t").to_pylist() == [{"id": 5, "v": "e", "big": None}]


def test_slot_is_confirmed_as_far_as_the_mirror_holds_and_releases_wal(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "CREATE TABLE other (v text)")
    project = make_project(one_table(cdc_db, {}))
    warehouse = project.definition.warehouse
    run(project)
    _, restart = cdc_db.slot_state()
    assert restart is not None

    # several MB of WAL, a checkpoint (its running-transactions record lets the slot's
    # restart point move), then a run (one micro-batch): the slot is confirmed as far as the
    # mirror holds, and lets go of the WAL before. It may be confirmed further, past WAL with
    # no change of t (psycopg2 acknowledges the server's WAL end on a keepalive once all it
    # received was acknowledged; other databases of the server write WAL meanwhile), never
    # past a change the mirror lacks: the mirror equals the table
    for chunk in range(4):
        cdc_db.execute(
            f"INSERT INTO t SELECT i, repeat('x', 200) FROM generate_series({chunk * 5000 + 1}, "
            f"{chunk * 5000 + 5000}) i"
        )
    cdc_db.execute("CHECKPOINT")
    before_last = lsn_int(cdc_db.query("SELECT pg_current_wal_insert_lsn()::text")[0][0])
    cdc_db.execute("INSERT INTO t VALUES (-1, 'last')")
    run(project)
    confirmed, restart_after = cdc_db.slot_state()
    held = app_version(warehouse, "t")
    assert confirmed is not None and restart_after is not None and held is not None
    assert confirmed >= held > before_last
    assert restart_after > restart + 4_000_000  # the WAL of the 20,000 rows is released
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",)) == []

    # writes to an unpublished table move the server's WAL on, not the mirror. The slot may
    # be confirmed past them (psycopg2 moves its flush position to the server's WAL end on
    # a keepalive when all it received was acknowledged), never past a change of t
    cdc_db.execute("INSERT INTO other SELECT 'x' FROM generate_series(1, 1000)")
    run(project)
    confirmed, _ = cdc_db.slot_state()
    assert confirmed is not None and confirmed >= held
    cdc_db.execute("UPDATE t SET v = 'after' WHERE id = -1")
    run(project)
    assert mirror_problems(cdc_db.dsn, warehouse, "t", ("id",)) == []


def test_an_added_column_with_a_default_reaches_existing_rows(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    # PostgreSQL keeps such a default in its catalog for the rows it had and logs nothing
    cdc_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a'), (3, 'c')"
    )
    project = make_project(one_table(cdc_db, {}))
    run(project)
    cdc_db.execute(
        "UPDATE t SET v = 'c2' WHERE id = 3",
        "ALTER TABLE t ADD COLUMN n int DEFAULT 7, ADD COLUMN s text DEFAULT 'it''s, {x}'",
        "ALTER TABLE t ADD COLUMN plain int",
        "INSERT INTO t VALUES (2, 'b', 8, NULL, 1)",
        "UPDATE t SET n = 9 WHERE id = 3",
    )
    run(project)
    assert mirror_problems(cdc_db.dsn, project.definition.warehouse, "t", ("id",)) == []
    run(project)  # nothing new: the filled values stay
    assert mirror_problems(cdc_db.dsn, project.definition.warehouse, "t", ("id",)) == []


def test_run_reports_copies_and_changes(cdc_db: CdcDatabase, make_project: ProjectFactory) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    project = make_project(one_table(cdc_db, {}))
    first = run(project).outcomes[0].message or ""
    assert first.startswith("copied 2 rows")
    cdc_db.execute("INSERT INTO t VALUES (3)", "DELETE FROM t WHERE id = 1")
    second = run(project).outcomes[0].message or ""
    assert re.match(r"2 rows changed by 2 changes in 2 transactions of pg", second), second
    assert (
        json.loads((project.definition.warehouse / "_cdc" / "pg" / "slot.json").read_text())["slot"]
        == cdc_db.slot
    )


def test_a_column_added_with_a_default_mid_transaction_fills_the_rows_changed_before(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {}))
    run(project)
    with psycopg.connect(cdc_db.dsn) as connection:  # one transaction
        connection.execute("INSERT INTO t VALUES (2, 'b')")
        connection.execute("UPDATE t SET v = 'a2' WHERE id = 1")
        connection.execute("ALTER TABLE t ADD COLUMN n int DEFAULT 7")
        connection.execute("INSERT INTO t VALUES (3, 'c', 8)")
    run(project)
    assert mirror_problems(cdc_db.dsn, project.definition.warehouse, "t", ("id",)) == []
    rows = mirror_table(project.definition.warehouse, "t", ["id", "n"]).to_pylist()
    assert sorted((r["id"], r["n"]) for r in rows) == [(1, 7), (2, 7), (3, 8)]


def test_a_source_moved_to_another_server_is_refused_until_reset(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a')")
    project = make_project(one_table(cdc_db, {}))
    run(project)
    cdc_db.execute("INSERT INTO t VALUES (2, 'b')")
    run(project)
    other = start_postgres(logical=True)  # a cluster of its own: its LSNs start lower
    try:
        moved = CdcDatabase(other, other.create_database(), cdc_db.slot)
        moved.execute(
            "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (9, 'z')"
        )
        write_files(project.root, one_table(moved, {}))
        project.close()
        project = Project(project.root)
        message = failure(project)
        assert "another PostgreSQL server" in message and "cdc reset" in message
        reset = run_cli(["cdc", "reset", "pg", "--yes"], project.root)
        assert reset.returncode == 0, reset.stdout + reset.stderr
        project.close()
        project = Project(project.root)
        run(project)  # copied again from the new server, though its LSNs are lower
        moved.execute("INSERT INTO t VALUES (10, 'y')")
        run(project)
        assert mirror_problems(moved.dsn, project.definition.warehouse, "t", ("id",)) == []
        project.close()
    finally:
        other.stop()


def test_a_literal_password_is_not_recorded_in_slot_json() -> None:
    from headwater.stream.cdc.postgres_job import _recordable_url

    assert _recordable_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    kept = "postgresql://u:${PG_PASSWORD}@h/db"
    assert _recordable_url(kept) == kept
    assert _recordable_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_contract_discard_row_is_refused_for_a_mirror(
    cdc_db: CdcDatabase, make_project: ProjectFactory
) -> None:
    cdc_db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    project = make_project(one_table(cdc_db, {"contract": "discard_row"}))
    message = failure(project)
    assert "contract 'discard_row' cannot apply to a mirror" in message
    assert (
        cdc_db.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (cdc_db.slot,))
        == []
    )
