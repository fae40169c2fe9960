"""Operating change data capture against a real PostgreSQL (wal_level=logical): where a
capture stands, a reset that copies every mirror again, the slot of a removed (or renamed)
source dropped, and the `slot_wal` / `cdc_lag` alerts raised by a slot left unread."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from deltalake import DeltaTable

from headwater import Project
from headwater.catalog.scheduling import open_incidents
from headwater.errors import CdcError, Location, RunLockedError, UsageError
from headwater.ingest.cdc.pgoutput import parse_lsn
from headwater.ingest.cdc.postgres import PostgresCapture
from headwater.orchestrate.alerts import Alerter
from headwater.orchestrate.cdc import (
    CaptureWatch,
    capture_statuses,
    drop_removed_captures,
    reset_capture,
)
from headwater.storage.base import TableRef
from headwater.stream.cdc.mirror import Mirror
from headwater.stream.cdc.postgres_job import capture_folder
from headwater.stream.run_lock import stream_lock
from tests.conftest import ProjectFactory
from tests.support.postgres import PostgresServer

ORDERS = TableRef("pg", "orders")


@dataclass
class Database:
    """A fresh database on the session's server, and a slot name no other test uses."""

    server: PostgresServer
    name: str
    slot: str

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    def url(self, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.server.port}/{self.name}"

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def slots(self) -> dict[str, tuple[int, int | None]]:
        """This test's slots: name -> (confirmed flush LSN, active pid)."""
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            found = connection.execute(
                "SELECT slot_name, confirmed_flush_lsn::text, active_pid "
                "FROM pg_replication_slots WHERE slot_name LIKE %s",
                (self.slot + "%",),
            ).fetchall()
        return {str(s): (parse_lsn(str(lsn)), pid) for s, lsn, pid in found}

    def publications(self) -> set[str]:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            found = connection.execute("SELECT pubname FROM pg_publication").fetchall()
        return {str(r[0]) for r in found}


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[Database]:
    """A database with `orders` (3 rows); its slots are dropped at the end whatever happened
    (the server allows few, and slots are per cluster)."""
    found = Database(
        postgres_server, postgres_server.create_database(), f"hw_ops_{uuid.uuid4().hex[:10]}"
    )
    found.execute(
        "CREATE TABLE orders (id int PRIMARY KEY, name text)",
        "INSERT INTO orders SELECT i, 'n' || i FROM generate_series(1, 3) i",
    )
    yield found
    deadline = time.monotonic() + 60
    while found.slots() and time.monotonic() < deadline:
        with psycopg.connect(found.dsn, autocommit=True) as connection:
            for slot, (_, pid) in found.slots().items():
                if pid is not None:
                    connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    continue
                connection.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name = %s AND active_pid IS NULL",
                    (slot,),
                )
        time.sleep(0.1)


def source_yaml(
    database: Database, extra: str = "", url: str | None = None, mode: str = "cdc"
) -> str:
    """`sources/pg.yml` reading `orders` from `database` (`extra`: more `cdc:` settings)."""
    return (
        f"kind: sql\nurl: {url or database.url()}\n"
        f"cdc: {{slot: {database.slot}{extra}}}\n"
        f"tables:\n  orders: {{mode: {mode}}}\n"
    )


@pytest.fixture
def project(make_project: ProjectFactory, database: Database) -> Project:
    return make_project({"sources/pg.yml": source_yaml(database)})


def _mirror(project: Project) -> list[tuple[object, ...]]:
    table = DeltaTable(str(project.store.location(ORDERS))).to_pyarrow_table()
    return sorted((r["id"], r["name"]) for r in table.to_pylist())


def _state(project: Project) -> tuple[int | None, str | None]:
    state = Mirror(project.store, ORDERS, "pg", ["id"], "test").state()
    return state.position, state.generation


def _run(project: Project) -> list[str]:
    summary = project.run()
    assert summary.status == "success", summary
    return [o.message or "" for o in summary.outcomes]


def _rewrite(project: Project, files: dict[str, str]) -> Project:
    """The project with its source files replaced (opened again)."""
    for relative, text in files.items():
        path = project.root / relative
        if text:
            path.write_text(text)
        else:
            path.unlink()
    project.close()
    return Project(project.root)


# -- status ---------------------------------------------------------------------------------


def test_status_before_and_after_a_run(project: Project, database: Database) -> None:
    (before,) = capture_statuses(project, None)
    assert before.source == "pg" and before.kind == "postgres"
    assert before.reachable and before.error is None
    assert before.slot == database.slot and before.slot_exists is False
    assert [(t.table, t.position, t.rows) for t in before.tables] == [("pg.orders", None, None)]
    assert not before.running and before.alerts == []

    _run(project)
    (after,) = capture_statuses(project, ["pg"])
    assert after.slot_exists and after.active_pid is None
    (mirror,) = after.tables
    assert mirror.rows == 3
    assert parse_lsn(mirror.position or "") <= parse_lsn(after.confirmed_flush_lsn or "")
    assert mirror.generation is not None and mirror.generation.startswith(database.slot)
    assert mirror.commit_time is None  # a copy, no change applied yet
    assert after.lag_bytes is not None and after.retained_bytes is not None

    database.execute("UPDATE orders SET name = 'changed' WHERE id = 1")
    _run(project)
    (applied,) = capture_statuses(project, None)
    assert applied.tables[0].commit_time is not None
    assert applied.last_commit_time == applied.tables[0].commit_time
    assert _mirror(project) == [(1, "changed"), (2, "n2"), (3, "n3")]


def test_lag_after_writes_counts_bytes_and_time(project: Project, database: Database) -> None:
    _run(project)
    database.execute("UPDATE orders SET name = 'x' WHERE id = 2")
    _run(project)
    (caught_up,) = capture_statuses(project, None)
    position = parse_lsn(caught_up.tables[0].position or "")
    database.execute("INSERT INTO orders SELECT i, 'w' FROM generate_series(10, 2000) i")
    later = time.time() + 600
    (behind,) = capture_statuses(project, None, now=later)
    assert behind.changes_waiting
    assert behind.lag_bytes is not None and behind.lag_bytes > 0
    assert parse_lsn(behind.current_lsn or "") - parse_lsn(behind.confirmed_flush_lsn or "") == (
        behind.lag_bytes
    )
    assert parse_lsn(behind.confirmed_flush_lsn or "") >= position
    commit = behind.tables[0].commit_age_s
    assert commit is not None and behind.lag_s == commit and commit >= 600
    _run(project)
    assert len(_mirror(project)) == 3 + 1991


def test_status_of_an_unreachable_database_says_so(
    make_project: ProjectFactory, database: Database
) -> None:
    with socket_closed() as port:
        url = f"postgresql://postgres@127.0.0.1:{port}/{database.name}"
        project = make_project({"sources/pg.yml": source_yaml(database, url=url)})
        (found,) = capture_statuses(project, None)
    assert found.reachable is False
    assert found.error is not None and "cannot connect" in found.error
    assert found.slot_exists is None and found.alerts == []
    assert [t.position for t in found.tables] == [None]


def test_status_names_an_unknown_source(project: Project) -> None:
    with pytest.raises(UsageError, match="no cdc source named 'pgg'") as raised:
        capture_statuses(project, ["pgg"])
    assert raised.value.hint == "did you mean 'pg'?"


def test_status_of_a_debezium_source_shows_its_mirrors_and_positions(
    make_project: ProjectFactory,
) -> None:
    def change(key: int, at_ms: int) -> str:
        source = {"schema": "app", "table": "users", "lsn": key, "ts_ms": at_ms}
        event = {"op": "c", "before": None, "after": {"id": key}, "source": source}
        return json.dumps(event) + "\n"

    project = make_project(
        {
            "sources/app.yml": (
                "kind: debezium\ncdc: {events: {kind: folder, path: events}}\n"
                "tables:\n  users: {table: app.users, primary_key: [id]}\n"
            ),
            "events/a.ndjson": change(1, 1_700_000_000_000) + change(2, 1_700_000_001_000),
        }
    )
    (before,) = capture_statuses(project, None)
    assert (before.kind, before.slot, before.reachable, before.events_positions) == (
        "debezium",
        None,
        None,
        None,
    )
    assert [t.position for t in before.tables] == [None]
    _run(project)
    (after,) = capture_statuses(project, ["app"])
    (mirror,) = after.tables
    assert (mirror.table, mirror.position, mirror.rows) == ("app.users", "batch 1", 2)
    assert mirror.commit_time == "2023-11-14T22:13:21.000+00:00"
    assert after.last_commit_time == mirror.commit_time
    assert after.events_positions  # where the next run reads on
    assert after.lag_s is None and after.alerts == []


# -- reset ----------------------------------------------------------------------------------


def test_reset_drops_the_slot_and_the_next_run_copies_every_mirror_again(
    project: Project, database: Database
) -> None:
    _run(project)
    _, generation = _state(project)
    (first_slot,) = database.slots()
    assert database.slot in database.publications()
    database.execute("UPDATE orders SET name = 'later' WHERE id = 3")

    done = reset_capture(project, "pg")
    assert done == {
        "source": "pg",
        "slot": database.slot,
        "publication": database.slot,
        "slot_dropped": True,
    }
    assert database.slots() == {} and database.slot not in database.publications()
    assert not (capture_folder(project.store, "pg") / "slot.json").exists()

    messages = _run(project)
    assert any(m.startswith("copied 3 rows") for m in messages), messages
    position, again = _state(project)
    assert again is not None and again != generation
    assert set(database.slots()) == {first_slot}
    assert position is not None and database.slots()[first_slot][0] >= position
    assert _mirror(project) == [(1, "n1"), (2, "n2"), (3, "later")]
    operations = [h.metadata.get("headwater.operation") for h in project.history("pg.orders")]
    assert operations.count("CDC SNAPSHOT") == 2, operations
    # and it goes on from the new slot
    database.execute("DELETE FROM orders WHERE id = 1")
    _run(project)
    assert _mirror(project) == [(2, "n2"), (3, "later")]


def test_reset_is_refused_while_the_capture_runs(project: Project, database: Database) -> None:
    _run(project)
    with (
        stream_lock(capture_folder(project.store, "pg"), "capture of pg"),
        pytest.raises(RunLockedError, match="capture of source pg is running"),
    ):
        reset_capture(project, "pg")
    assert set(database.slots()) == {database.slot}


def test_reset_refuses_a_slot_another_process_reads(project: Project, database: Database) -> None:
    _run(project)
    reader = PostgresCapture(database.url(), database.slot, database.slot, Location())
    reader.open_replication()
    try:
        reader.start()
        deadline = time.monotonic() + 60
        while database.slots()[database.slot][1] is None:
            assert time.monotonic() < deadline, "the reader never took the slot"
            time.sleep(0.05)
        with pytest.raises(CdcError, match="is being read by server process"):
            reset_capture(project, "pg")
    finally:
        reader.close()
    assert database.slot in database.slots()


def test_reset_after_the_warehouse_was_lost(project: Project, database: Database) -> None:
    _run(project)
    shutil.rmtree(project.store.warehouse)
    (refused,) = project.run().outcomes
    assert refused.status == "failed"
    assert "did not create it" in (refused.message or "")
    assert "headwater cdc reset pg" in (refused.message or "")
    reset_capture(project, "pg")
    assert database.slots() == {}
    messages = _run(project)
    assert any(m.startswith("copied 3 rows") for m in messages), messages
    assert _mirror(project) == [(1, "n1"), (2, "n2"), (3, "n3")]


# -- removed sources ------------------------------------------------------------------------


def test_a_removed_source_has_its_slot_and_publication_dropped(
    make_project: ProjectFactory, database: Database
) -> None:
    project = make_project({"sources/pg.yml": source_yaml(database), "seeds/kept.csv": "id\n1\n"})
    _run(project)
    folder = capture_folder(project.store, "pg")
    assert set(database.slots()) == {database.slot}
    project = _rewrite(project, {"sources/pg.yml": ""})
    _run(project)
    assert database.slots() == {}
    assert database.slot not in database.publications()
    assert not folder.exists()
    assert drop_removed_captures(project) == []


def test_a_source_left_without_a_cdc_table_has_its_slot_dropped(
    project: Project, database: Database
) -> None:
    _run(project)
    project = _rewrite(project, {"sources/pg.yml": source_yaml(database, mode="replace")})
    assert drop_removed_captures(project) == [
        f"dropped replication slot {database.slot} of source pg, which left the project"
    ]
    assert database.slots() == {} and database.slot not in database.publications()
    assert not capture_folder(project.store, "pg").exists()


def test_a_removed_source_whose_secret_is_unset_keeps_its_folder_until_it_is_set(
    make_project: ProjectFactory, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"HW_TEST_PG_USER_{uuid.uuid4().hex[:8].upper()}"
    monkeypatch.setenv(variable, "postgres")
    url = database.url("${" + variable + "}")
    project = make_project({"sources/pg.yml": source_yaml(database, url=url)})
    _run(project)
    recorded = (capture_folder(project.store, "pg") / "slot.json").read_text()
    assert "${" + variable + "}" in recorded and '"postgres@' not in recorded
    project = _rewrite(project, {"sources/pg.yml": source_yaml(database, mode="replace")})
    monkeypatch.delenv(variable)
    (message,) = drop_removed_captures(project)
    assert f"environment variable {variable}" in message and "kept" in message
    assert set(database.slots()) == {database.slot}
    assert capture_folder(project.store, "pg").exists()
    monkeypatch.setenv(variable, "postgres")
    drop_removed_captures(project)
    assert database.slots() == {}
    assert not capture_folder(project.store, "pg").exists()


def test_a_renamed_slot_is_dropped_and_the_mirror_copied_from_the_new_one(
    project: Project, database: Database
) -> None:
    _run(project)
    old = database.slot
    database.slot = old + "_b"  # still this test's: the fixture drops both
    project = _rewrite(project, {"sources/pg.yml": source_yaml(database)})
    messages = _run(project)
    assert any(m.startswith("copied 3 rows") for m in messages), messages
    assert set(database.slots()) == {old + "_b"}
    database.slot = old
    assert set(database.slots()) == {old + "_b"}


# -- alerts ---------------------------------------------------------------------------------


def test_a_slot_left_unread_raises_slot_wal_and_an_old_commit_cdc_lag(
    make_project: ProjectFactory, database: Database
) -> None:
    alerts = "alerts:\n  channels:\n    - {type: command, command: [sh, -c, 'cat >> alerts.txt']}\n"
    project = make_project(
        {"sources/pg.yml": source_yaml(database, ", max_retained_wal: 1MB, max_lag: 10m")},
        config=alerts,
    )
    _run(project)
    database.execute("UPDATE orders SET name = 'x' WHERE id = 1")
    _run(project)
    (quiet,) = capture_statuses(project, None)
    assert quiet.alerts == []
    database.execute(
        "CREATE TABLE filler (id int, body text)",
        "INSERT INTO filler SELECT i, repeat('y', 200) FROM generate_series(1, 30000) i",
        "INSERT INTO orders VALUES (4, 'waiting')",
    )
    (found,) = capture_statuses(project, None)
    assert found.retained_bytes is not None and found.retained_bytes > 1024 * 1024
    assert [a.kind for a in found.alerts] == ["slot_wal"]
    assert f"slot {database.slot} of source pg holds" in found.alerts[0].message
    (later,) = capture_statuses(project, None, now=time.time() + 3600)
    assert [a.kind for a in later.alerts] == ["slot_wal", "cdc_lag"]

    alerter = Alerter(project.catalog, project.definition.config.alerts, project.root)
    CaptureWatch(project, alerter).check()
    incidents = {i["incident"]: i["kind"] for i in open_incidents(project.catalog)}
    assert incidents == {"slot-wal:pg": "slot_wal"}
    assert "ALERT: replication slot holding WAL: pg" in (project.root / "alerts.txt").read_text()


def test_the_scheduler_looks_at_the_slots(make_project: ProjectFactory, database: Database) -> None:
    from headwater.orchestrate.scheduler import Scheduler

    project = make_project({"sources/pg.yml": source_yaml(database, ", max_retained_wal: 1MB")})
    _run(project)
    database.execute(
        "CREATE TABLE filler (id int, body text)",
        "INSERT INTO filler SELECT i, repeat('y', 200) FROM generate_series(1, 30000) i",
    )
    scheduler = Scheduler(project)
    scheduler.step(scheduler.clock())
    assert [i["kind"] for i in open_incidents(project.catalog)] == ["slot_wal"]


class socket_closed:
    """A port nothing listens on (bound and closed: the kernel refuses connections)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def __exit__(self, *_: object) -> None:
        return None
