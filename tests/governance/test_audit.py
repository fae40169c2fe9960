"""The audit trail: append-only, chained by hashes, on SQLite and PostgreSQL.

Tampering is done the way an attacker with the database would do it, with SQL on `hw_audit`;
`verify` must name the first record it broke. Cutting records off the end leaves a valid
chain: only a head hash kept elsewhere (`--expect-head`) shows it, and a test says so.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import Project
from headwater.catalog import audit
from headwater.catalog.access import UserStore
from headwater.catalog.audit import GENESIS, AuditEvent, append, record_hash, verify
from headwater.catalog.query_log import QueryRecord, query_log, record_queries
from headwater.catalog.store import Catalog
from headwater.errors import UsageError
from tests.conftest import ProjectFactory, run_cli
from tests.support.catalogs import Catalogs

PASSWORD_CANARY = "canary-pw-7f3a9c1e5b"
SECOND_PASSWORD_CANARY = "canary-pw-2d8e4b6a0f"
SERVE = """
serve:
  roles:
    analyst:
      read: [core.by_city]
"""
FILES = {
    "seeds/people.csv": "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,oslo\n",
    "models/core/by_city.sql": "select city, count(*) as people from raw.people group by city",
}


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = Catalog(catalog_url)
    yield opened
    opened.close()


@pytest.fixture
def make_project(make_project: ProjectFactory, catalogs: Catalogs) -> ProjectFactory:
    return catalogs.projects(make_project)


def events(n: int, actor: str = "ann") -> list[AuditEvent]:
    return [AuditEvent(actor, audit.QUERY, {"statement": f"select {i}"}) for i in range(n)]


def sql(catalog: Catalog, statement: str, params: dict[str, object] | None = None) -> None:
    with catalog.db.transaction() as tx:
        tx.execute(statement, params)


def all_rows(catalog: Catalog) -> list[dict[str, object]]:
    with catalog.db.transaction(write=False) as tx:
        return tx.execute("SELECT * FROM hw_audit ORDER BY seq")


# -- the chain -------------------------------------------------------------------------------


def test_appends_chain_each_record_to_the_one_before(catalog: Catalog) -> None:
    first = append(catalog, events(2))
    second = append(catalog, events(1, actor="bob"))
    records = first + second
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
    for r in records:
        assert r.hash == record_hash(r.seq, r.at, r.actor, r.action, r.detail, r.prev_hash)
    found = verify(catalog)
    assert found.intact and found.records == 3
    assert found.head_seq == 3 and found.head_hash == records[-1].hash


def test_an_empty_trail_is_intact(catalog: Catalog) -> None:
    found = verify(catalog)
    assert found.intact and found.records == 0 and found.head_hash == GENESIS


def test_concurrent_appends_from_separate_catalogs_never_fork_the_chain(catalog_url: str) -> None:
    """Each thread has a Catalog (a connection) of its own, as separate processes would."""
    writers, rounds = 4, 15
    Catalog(catalog_url).close()  # migrated once, before the race
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(actor: str) -> None:
        own = Catalog(catalog_url)
        try:
            start.wait()
            for i in range(rounds):
                append(own, events(1 + i % 2, actor=actor))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    total = writers * sum(1 + i % 2 for i in range(rounds))
    reader = Catalog(catalog_url)
    try:
        assert [row["seq"] for row in all_rows(reader)] == list(range(1, total + 1))
        found = verify(reader)
    finally:
        reader.close()
    assert found.intact, found.problem
    assert found.records == total


# -- tampering -------------------------------------------------------------------------------


def test_an_edited_detail_is_named_by_its_seq(catalog: Catalog) -> None:
    append(catalog, events(5))
    sql(catalog, "UPDATE hw_audit SET detail = :d WHERE seq = 3", {"d": '{"statement":"x"}'})
    found = verify(catalog)
    assert not found.intact and found.broken_seq == 3
    assert found.problem is not None and "record 3 was edited" in found.problem


def test_an_edited_actor_is_named_by_its_seq(catalog: Catalog) -> None:
    append(catalog, events(4))
    sql(catalog, "UPDATE hw_audit SET actor = 'mallory' WHERE seq = 2")
    found = verify(catalog)
    assert found.broken_seq == 2 and "record 2 was edited" in str(found.problem)


def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_link(catalog: Catalog) -> None:
    append(catalog, events(5))
    (row,) = [r for r in all_rows(catalog) if r["seq"] == 3]
    forged = record_hash(3, str(row["at"]), "mallory", "query", {}, str(row["prev_hash"]))
    sql(
        catalog,
        "UPDATE hw_audit SET actor = 'mallory', detail = '{}', hash = :h WHERE seq = 3",
        {"h": forged},
    )
    found = verify(catalog)
    assert found.broken_seq == 4 and "record 4 does not follow" in str(found.problem)


def test_a_deleted_middle_record_is_detected(catalog: Catalog) -> None:
    append(catalog, events(5))
    sql(catalog, "DELETE FROM hw_audit WHERE seq = 3")
    found = verify(catalog)
    assert found.broken_seq == 3
    assert "record 3 is missing (after record 2 comes 4)" in str(found.problem)


def test_a_deleted_first_record_is_detected(catalog: Catalog) -> None:
    append(catalog, events(3))
    sql(catalog, "DELETE FROM hw_audit WHERE seq = 1")
    found = verify(catalog)
    assert found.broken_seq == 1 and "record 1 is missing" in str(found.problem)


def test_swapped_records_are_detected(catalog: Catalog) -> None:
    append(catalog, events(4))
    sql(catalog, "UPDATE hw_audit SET seq = 100 WHERE seq = 2")
    sql(catalog, "UPDATE hw_audit SET seq = 2 WHERE seq = 3")
    sql(catalog, "UPDATE hw_audit SET seq = 3 WHERE seq = 100")
    found = verify(catalog)
    assert found.broken_seq == 2 and "record 2 was edited" in str(found.problem)


def test_records_cut_off_the_end_show_only_against_a_kept_head(catalog: Catalog) -> None:
    """A chain whose newest records are deleted is still a valid chain: nothing in it says
    more records existed. The head hash, kept elsewhere, does."""
    append(catalog, events(4))
    kept = verify(catalog).head_hash
    sql(catalog, "DELETE FROM hw_audit WHERE seq = 4")
    assert verify(catalog).intact  # the honest limit of a chain alone
    found = verify(catalog, expect_head=kept)
    assert not found.intact and found.broken_seq == 3
    assert kept in str(found.problem) and "ends at record 3" in str(found.problem)


def test_a_kept_head_stays_valid_as_records_are_appended(catalog: Catalog) -> None:
    append(catalog, events(2))
    kept = verify(catalog).head_hash
    append(catalog, events(3))
    found = verify(catalog, expect_head=kept)
    assert found.intact and found.records == 5


# -- listing ---------------------------------------------------------------------------------


def test_query_filters_by_actor_action_time_and_limit(catalog: Catalog) -> None:
    append(catalog, [AuditEvent("ann", audit.QUERY, {"n": 1}, at="2026-01-01T00:00:00+00:00")])
    append(catalog, [AuditEvent("bob", audit.QUERY, {"n": 2}, at="2026-02-01T00:00:00+00:00")])
    append(catalog, [AuditEvent("ops", audit.USER_ADD, {"n": 3}, at="2026-03-01T00:00:00+00:00")])
    assert [r.detail["n"] for r in audit.query(catalog)] == [1, 2, 3]
    assert [r.detail["n"] for r in audit.query(catalog, actor="bob")] == [2]
    assert [r.detail["n"] for r in audit.query(catalog, action="user_add")] == [3]
    assert [r.detail["n"] for r in audit.query(catalog, since="2026-01-15")] == [2, 3]
    assert [r.detail["n"] for r in audit.query(catalog, limit=2)] == [2, 3]
    with pytest.raises(UsageError, match="ISO 8601"):
        audit.query(catalog, since="last tuesday")


# -- what is recorded ------------------------------------------------------------------------


def test_user_changes_are_recorded_without_any_secret(catalog: Catalog) -> None:
    store = UserStore(catalog, actor="ops")
    first_token = store.add("ann", ["analyst"], PASSWORD_CANARY)
    second_token = store.new_token("ann")
    store.set_password("ann", SECOND_PASSWORD_CANARY)
    store.set_roles("ann", ["analyst", "staff"])
    store.revoke("ann")
    rows = all_rows(catalog)
    assert [r["action"] for r in rows] == [
        "user_add",
        "token",
        "password",
        "role_change",
        "user_revoke",
    ]
    assert {r["actor"] for r in rows} == {"ops"}
    details = [json.loads(str(r["detail"])) for r in rows]
    assert details[0] == {"user": "ann", "roles": ["analyst"], "password": True}
    assert details[3] == {"user": "ann", "roles": ["analyst", "staff"], "before": ["analyst"]}
    dumped = json.dumps(rows)
    for secret in (PASSWORD_CANARY, SECOND_PASSWORD_CANARY, first_token, second_token):
        assert secret not in dumped
    assert verify(catalog).intact


def test_a_refused_change_records_nothing(catalog: Catalog) -> None:
    with pytest.raises(UsageError):
        UserStore(catalog).set_roles("nobody", ["analyst"])
    assert all_rows(catalog) == []


def test_record_queries_writes_the_query_log_and_the_trail_together(catalog: Catalog) -> None:
    record_queries(
        catalog,
        [
            QueryRecord(
                "ann",
                "http",
                "select 1",
                ("core.a",),
                rows=1,
                client="10.0.0.1",
                masked=("core.a.email",),
            ),
            QueryRecord(None, "postgres", "drop table x", outcome="refused", error="no"),
        ],
    )
    assert len(query_log(catalog)) == 2
    first, second = audit.query(catalog)
    assert (first.actor, first.action) == ("ann", "query")
    assert first.detail == {
        "user": "ann",
        "interface": "http",
        "client": "10.0.0.1",
        "statement": "select 1",
        "tables": ["core.a"],
        "columns": None,
        "masked": ["core.a.email"],
        "rows": 1,
        "outcome": "ok",
        "error": None,
    }
    assert second.actor is None and second.detail["outcome"] == "refused"
    assert verify(catalog).intact


def test_a_read_through_the_server_is_audited(make_project: ProjectFactory) -> None:
    from headwater.serve.service import Caller, ServeService
    from headwater.ui.pages import Workspace

    project = make_project(FILES, config=SERVE)
    assert project.run().status == "success"
    service = ServeService(Workspace(project))
    try:
        caller = Caller(service.principal("ann", ("analyst",)), "http", "127.0.0.1")
        service.run_sql(caller, "select * from core.by_city order by city")
        service.flush_log()
    finally:
        service.close()
    (record,) = project.audit(action="query")
    assert record.actor == "ann"
    assert record.detail["tables"] == ["core.by_city"] and record.detail["rows"] == 2
    assert record.detail["columns"] == {"core.by_city": ["city", "people"]}
    assert record.detail["interface"] == "http" and record.detail["outcome"] == "ok"
    assert project.verify_audit().intact


def test_grants_are_recorded_before_the_reads_made_under_them(
    make_project: ProjectFactory,
) -> None:
    from headwater.serve.service import Caller, ServeService
    from headwater.ui.pages import Workspace

    project = make_project(FILES, config=SERVE)
    assert project.run().status == "success"
    root: Path = project.root

    def read(sql: str) -> None:  # as one `headwater serve` started for it
        service = ServeService(Workspace(Project(root)))
        try:
            caller = Caller(service.principal("ann", ("analyst",)), "http", "127.0.0.1")
            service.run_sql(caller, sql)
            service.flush_log()
        finally:
            service.close()
            service.project.close()

    read("select city from core.by_city")
    read("select people from core.by_city")  # the same grants: not recorded again
    config = root / "headwater.yml"
    config.write_text(config.read_text().replace("read: [core.by_city]", "read: [core.*]"))
    read("select city, people from core.by_city where people > 1")

    trail = [(r.action, r.detail) for r in project.audit() if r.action in ("grants", "query")]
    assert [action for action, _ in trail] == ["grants", "query", "query", "grants", "query"]
    first, second = trail[0][1], trail[3][1]
    assert first["roles"] == {"analyst": {"read": ["core.by_city"]}} and first["before"] is None
    assert second["roles"] == {"analyst": {"read": ["core.*"]}}
    assert second["before"] == first["digest"] != second["digest"]
    assert [detail["columns"] for action, detail in trail if action == "query"] == [
        {"core.by_city": ["city"]},
        {"core.by_city": ["people"]},
        {"core.by_city": ["city", "people"]},
    ]
    assert project.verify_audit().intact


def test_a_read_as_a_user_from_the_cli_records_its_columns_and_grants(
    make_project: ProjectFactory,
) -> None:
    project = make_project(FILES, config=SERVE)
    assert project.run().status == "success"
    done = run_cli(["users", "add", "ann", "--role", "analyst"], project.root)
    assert done.returncode == 0, done.stderr
    project.query("select count(*) as n from core.by_city where city = 'oslo'", as_user="ann")
    grants, query = (r for r in project.audit() if r.action in ("grants", "query"))
    assert grants.action == "grants" and grants.detail["roles"]["analyst"]
    assert query.detail["columns"] == {"core.by_city": ["city"]}


# -- the CLI ---------------------------------------------------------------------------------


def test_users_cli_changes_are_audited_and_verify_exit_codes(
    make_project: ProjectFactory,
) -> None:
    project = make_project({"headwater.yml": "name: people\n" + SERVE})
    root: Path = project.root
    added = run_cli(
        ["users", "add", "ann", "--role", "analyst", "--password"],
        root,
        env={"HEADWATER_PASSWORD": PASSWORD_CANARY},
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    for args in (["users", "roles", "ann", "--role", "admin"], ["users", "revoke", "ann"]):
        done = run_cli(args, root)
        assert done.returncode == 0, done.stderr

    listed = run_cli(["audit", "--json"], root)
    assert listed.returncode == 0, listed.stderr
    actions = [r["action"] for r in json.loads(listed.stdout)]
    assert actions == ["user_add", "role_change", "user_revoke"]
    assert json.loads(run_cli(["audit", "--action", "role_change", "--json"], root).stdout)[0][
        "detail"
    ] == {"user": "ann", "roles": ["admin"], "before": ["analyst"]}
    dumped = json.dumps(all_rows(project.catalog))
    assert PASSWORD_CANARY not in dumped and token not in dumped

    intact = run_cli(["audit", "verify"], root)
    assert intact.returncode == 0, intact.stderr
    assert "3 records, chain intact" in intact.stdout
    head = verify(project.catalog).head_hash
    assert head in intact.stdout

    sql(project.catalog, "DELETE FROM hw_audit WHERE seq = 3")
    cut = run_cli(["audit", "verify"], root)
    assert cut.returncode == 0 and "2 records, chain intact" in cut.stdout
    anchored = run_cli(["audit", "verify", "--expect-head", head], root)
    assert anchored.returncode == 1
    assert "no record has the expected head hash" in anchored.stderr

    sql(project.catalog, "UPDATE hw_audit SET detail = '{}' WHERE seq = 2")
    tampered = run_cli(["audit", "verify"], root)
    assert tampered.returncode == 1
    assert "record 2 was edited" in tampered.stderr, tampered.stderr
