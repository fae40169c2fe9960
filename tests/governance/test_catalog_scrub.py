"""An erasure takes its subject's values out of the catalog's text (query log, audit trail,
checks' samples and messages), on SQLite and PostgreSQL; the audit trail still verifies, through
a `redaction` record that vouches for the redacted content, and stays tamper-evident."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.catalog import audit
from headwater.catalog.audit import AuditEvent, append, record_hash, verify
from headwater.catalog.query_log import QueryRecord, query_log, record_queries
from headwater.catalog.scrub import catalog_traces, scrub
from headwater.catalog.store import Catalog
from headwater.governance.redaction import ERASED, SubjectRedactor

KEY = "erasure-key-3f9c"
EMAIL = "paula.laurent99@example.net"
NAME = "Paula Laurent"
REDACTOR = SubjectRedactor(
    frozenset({EMAIL, NAME}), {"customer_id": frozenset({"245"}), "order_id": frozenset({"9001"})}
)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    opened = Catalog(catalog_url)
    yield opened
    opened.close()


def sql(catalog: Catalog, statement: str, params: dict[str, object] | None = None) -> None:
    with catalog.db.transaction() as tx:
        tx.execute(statement, params)


# -- the redactor ----------------------------------------------------------------------------


def test_text_loses_the_values_as_whole_words_in_any_case() -> None:
    assert REDACTOR.text(f"bad e-mail '{EMAIL.upper()}' of paula laurent") == (
        f"bad e-mail '{ERASED}' of {ERASED}"
    )
    # a value inside a longer word or address is another value
    assert REDACTOR.text(f"x{EMAIL} Paula Laurentine") == f"x{EMAIL} Paula Laurentine"
    assert REDACTOR.text("245 rows failed") == "245 rows failed"  # numbers stay in free text


def test_sql_loses_literals_of_the_subject_and_nothing_else() -> None:
    statement = (
        f"select * from raw.customers where customer_id = 245 or lower(email) = '{EMAIL}' "
        "or customer_id = 2450 limit 245"
    )
    redacted = REDACTOR.sql(statement)
    assert "= 245 " not in redacted + " " and EMAIL not in redacted
    assert "2450" in redacted and redacted.count(f"'{ERASED}'") == 2
    assert redacted.endswith("LIMIT 245")  # a count, not the key: only a comparison is
    assert REDACTOR.sql("select 1") == "select 1"
    # cut short in the log, it does not parse: the values go as words
    cut = f"select * from t where email = '{EMAIL}' and customer_id = 245 and (("
    assert (
        REDACTOR.sql(cut)
        == f"select * from t where email = '{ERASED}' and customer_id = {ERASED} and (("
    )


def test_sample_rows_of_the_subject_are_dropped_and_json_sql_redacted() -> None:
    rows = [{"customer_id": 245, "city": "Oslo"}, {"customer_id": 7, "note": NAME}, 245, "x"]
    assert REDACTOR.rows(rows) == [{"customer_id": 7, "note": ERASED}, 245, "x"]
    detail = {"statement": "select * from o where order_id = 9001", "rows": 1, "error": EMAIL}
    assert REDACTOR.json(detail) == {
        "statement": f"SELECT * FROM o WHERE order_id = '{ERASED}'",
        "rows": 1,
        "error": ERASED,
    }


# -- the catalog -----------------------------------------------------------------------------


def seed(catalog: Catalog) -> None:
    append(catalog, [AuditEvent("root", audit.USER_ADD, {"user": "ann", "roles": ["admin"]})])
    record_queries(
        catalog,
        [
            QueryRecord("ann", "http", f"select * from raw.customers where email = '{EMAIL}'"),
            QueryRecord("ann", "cli", "select count(*) from raw.customers", rows=1),
            QueryRecord("bob", "postgres", "select 1", outcome="error", error=f"no {NAME} here"),
        ],
    )
    sql(
        catalog,
        "INSERT INTO hw_incidents (incident, kind, subject, opened_at, message) "
        "VALUES ('i1', 'check', 'raw.customers', '2026-01-01', :message)",
        {"message": f"check failed on '{EMAIL}'"},
    )
    sql(
        catalog,
        "INSERT INTO hw_check_results (asset, check_name, check_type, severity, status, "
        "message, sql_text, sample_json, published, checked_at) VALUES ('raw.customers', "
        "'email_valid', 'expression', 'error', 'fail', '2 rows fail', :sql, :sample, 1, "
        "'2026-01-01')",
        {
            "sql": "select * from raw.customers where customer_id in (245, 7)",
            "sample": json.dumps([{"customer_id": 245, "email": EMAIL}, {"customer_id": 7}]),
        },
    )


def test_scrub_redacts_every_text_and_the_trail_still_verifies(catalog: Catalog) -> None:
    seed(catalog)
    before = {r.seq: r for r in audit.query(catalog)}
    report = scrub(catalog, REDACTOR, "erin", "e1", KEY)

    assert report.rows == {
        "hw_query_log.statement": 1,
        "hw_query_log.error": 1,
        "hw_incidents.message": 1,
        "hw_check_results.sql_text": 1,
        "hw_check_results.sample_json": 1,
    }
    with catalog.db.transaction(write=False) as tx:
        (check,) = tx.execute("SELECT message, sql_text, sample_json FROM hw_check_results")
    assert check["message"] == "2 rows fail"
    assert check["sql_text"] == f"SELECT * FROM raw.customers WHERE customer_id IN ('{ERASED}', 7)"
    assert json.loads(check["sample_json"]) == [{"customer_id": 7}]
    assert report.audit_records == [2, 4]
    logged = {r["user_name"] + r["interface"]: r for r in query_log(catalog)}
    assert logged["annhttp"]["statement"] == (
        f"SELECT * FROM raw.customers WHERE email = '{ERASED}'"
    )
    assert logged["anncli"]["statement"] == "select count(*) from raw.customers"
    assert logged["bobpostgres"]["error"] == f"no {ERASED} here"

    after = {r.seq: r for r in audit.query(catalog)}
    assert after[1] == before[1] and after[3] == before[3]  # untouched records stay as they were
    assert after[2].hash == before[2].hash  # the chain is kept
    assert EMAIL not in json.dumps(after[2].detail) and NAME not in json.dumps(after[4].detail)
    redaction = after[5]
    assert (redaction.action, redaction.actor) == (audit.REDACTION, "erin")
    assert redaction.detail["erasure"] == "e1" and set(redaction.detail["records"]) == {"2", "4"}

    found = verify(catalog, key=KEY)
    assert found.intact and found.redacted == {2: 5, 4: 5}
    assert found.head_hash == redaction.hash
    assert catalog_traces(catalog, REDACTOR) == []
    for path in catalog.db.files():  # SQLite: no byte of the old text in the file or its log
        if path.exists():
            data = path.read_bytes()
            assert EMAIL.encode() not in data and NAME.encode() not in data
    # a second scrub finds nothing more to do
    assert scrub(catalog, REDACTOR, "erin", "e2", KEY).audit_records == []


def test_a_redacted_record_edited_again_is_detected(catalog: Catalog) -> None:
    seed(catalog)
    scrub(catalog, REDACTOR, "erin", "e1", KEY)
    sql(catalog, "UPDATE hw_audit SET detail = :d WHERE seq = 2", {"d": '{"statement":"x"}'})
    found = verify(catalog, key=KEY)
    assert not found.intact and found.broken_seq == 2
    assert "record 2 was edited" in str(found.problem)


def test_a_redaction_record_rewritten_to_vouch_for_an_edit_is_detected(catalog: Catalog) -> None:
    seed(catalog)
    scrub(catalog, REDACTOR, "erin", "e1", KEY)
    (record,) = [r for r in audit.query(catalog) if r.seq == 2]
    edited = {**record.detail, "statement": "select 'nothing to see'"}
    digest = record_hash(2, record.at, record.actor, record.action, edited, record.prev_hash)
    sql(catalog, "UPDATE hw_audit SET detail = :d WHERE seq = 2", {"d": json.dumps(edited)})
    (redaction,) = audit.query(catalog, action=audit.REDACTION)
    # even sealed with the right key (a holder of the key editing the trail by hand), the
    # redaction record itself was edited, which its own hash shows
    seal = audit.redaction_seal(KEY, "e1", 2, digest)
    vouching = {
        "erasure": "e1",
        "records": {**redaction.detail["records"], "2": {"hash": digest, "seal": seal}},
    }
    sql(catalog, "UPDATE hw_audit SET detail = :d WHERE seq = 5", {"d": json.dumps(vouching)})
    found = verify(catalog, key=KEY)
    assert not found.intact and found.broken_seq == 5
    assert "record 5 was edited" in str(found.problem)


def test_a_redaction_appended_by_a_writer_without_the_key_is_detected(catalog: Catalog) -> None:
    seed(catalog)
    (record,) = [r for r in audit.query(catalog) if r.seq == 3]
    edited = {**record.detail, "statement": "select 'nothing to see'"}
    digest = record_hash(3, record.at, record.actor, record.action, edited, record.prev_hash)
    sql(catalog, "UPDATE hw_audit SET detail = :d WHERE seq = 3", {"d": json.dumps(edited)})
    forged = audit.redaction_seal("not the key", "f1", 3, digest)
    append(
        catalog,
        [
            AuditEvent(
                "mallory",
                audit.REDACTION,
                {"erasure": "f1", "records": {"3": {"hash": digest, "seal": forged}}},
            )
        ],
    )
    found = verify(catalog, key=KEY)
    assert not found.intact and found.broken_seq == 3
    assert "without the seal of the erasure key" in str(found.problem)


def test_without_the_key_a_redacted_record_cannot_be_checked(catalog: Catalog) -> None:
    seed(catalog)
    scrub(catalog, REDACTOR, "erin", "e1", KEY)
    found = verify(catalog)
    assert not found.intact and found.broken_seq == 2
    assert "can only be checked with the key" in str(found.problem)


def test_a_malformed_redaction_record_vouches_for_nothing(catalog: Catalog) -> None:
    seed(catalog)
    for records in (["a"], {"x": "y"}, {"2": "not a vouch"}, {"2": {"hash": 5}}):
        append(catalog, [AuditEvent("m", audit.REDACTION, {"erasure": "f", "records": records})])
    assert verify(catalog, key=KEY).intact


def test_scrub_leaves_numbers_that_are_not_the_key_compared(catalog: Catalog) -> None:
    record_queries(
        catalog,
        [QueryRecord("ann", "http", "select * from raw.orders limit 245") for _ in range(3)],
    )
    assert scrub(catalog, REDACTOR, "erin", "e1", KEY).rows == {}
    assert [r["statement"] for r in query_log(catalog)] == [
        "select * from raw.orders limit 245"
    ] * 3


def test_rewriting_the_events_file_loses_no_event_appended_meanwhile(tmp_path: Path) -> None:
    import threading

    from headwater.lineage.openlineage import FileTransport, rewrite_events

    path = tmp_path / "openlineage.jsonl"
    transport = FileTransport(path)
    for n in range(10):
        transport.send({"n": n, "error": f"bad value '{EMAIL}'"})

    def append() -> None:
        for n in range(10, 410):
            transport.send({"n": n, "error": "none"})

    writer = threading.Thread(target=append)
    writer.start()
    rewrites = [rewrite_events(path, REDACTOR.text) for _ in range(20)]
    writer.join()
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(e["n"] for e in events) == list(range(410))
    assert rewrites[0] == 10 and EMAIL not in path.read_text()
