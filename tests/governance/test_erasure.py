"""R14 of the reliability plan: erase one customer of the e-commerce example who is in the seeds,
the staging view, the SCD2 snapshot with history, the incremental facts, a quarantine table and
more than ten older versions. Afterwards a scan of every file under the warehouse and the
project's state (bytes, decoded Parquet values, Parquet footer statistics, Delta commits and
checkpoints, the catalog, logs) finds the customer's e-mails, name and key 0 times; every other
row of every table is unchanged; the next load from the seeds (which still hold the customer)
does not bring them back."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from headwater import Project
from headwater.errors import TableNotFoundError, UsageError
from tests.conftest import HEADWATER
from tests.support.traces import traces as find_traces

KEY = "erasure-test-key-8d1c"
SUBJECT = 245
NAME = "Paula Laurent"
EMAILS = (
    "paula.laurent99@example.net",
    "paula.old@legacy.example",
    "paula.laurent99 at example.net",
)


def headwater(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*HEADWATER, *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HEADWATER_MASKING_KEY": KEY},
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def edit_subject(root: Path, change: Any) -> None:
    path = root / "seeds" / "customers.csv"
    rows = list(csv.reader(io.StringIO(path.read_text())))
    for row in rows[1:]:
        if row[0] == str(SUBJECT):
            change(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue())


LOOKUP = (
    f"select customer_id, name from raw.customers where customer_id = {SUBJECT} "
    f"or email = '{EMAILS[0]}' or name = '{NAME}'"
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The example, its e-mail check quarantining bad rows, built eleven times while the
    subject moves city (SCD2 history), changes e-mail, and once has an e-mail the check
    quarantines."""
    root = tmp_path_factory.mktemp("r14") / "shop"
    Project.init(root, example="ecommerce").close()
    sidecar = root / "seeds" / "customers.yml"
    text = sidecar.read_text()
    assert "severity: warn}" in text
    sidecar.write_text(text.replace("severity: warn}", "on_fail: quarantine}"))
    headwater(root, "run")
    for step in range(10):

        def change(row: list[str], step: int = step) -> None:
            row[3] = f"City{step}"
            row[7] = f"2024-02-{10 + step:02d} 10:00:00"
            row[2] = {4: EMAILS[1], 5: EMAILS[2], 6: EMAILS[0]}.get(step, row[2])

        edit_subject(root, change)
        headwater(root, "run")
    # a user looked the subject up: the query log and the audit trail hold the statement
    headwater(root, "users", "add", "analyst", "--role", "admin")
    headwater(root, "query", "--as", "analyst", LOOKUP)
    return Project(root)


def current_rows(project: Project) -> dict[str, list[str]]:
    """Every stored table's current rows, as sorted JSON lines."""
    found: dict[str, list[str]] = {}
    for info in project.tables():
        table = project.query(f"select * from {info.key}")
        found[info.key] = sorted(
            json.dumps(r, default=str, sort_keys=True) for r in table.to_pylist()
        )
    return found


def is_subjects(line: str, orders: set[int]) -> bool:
    row = json.loads(line)
    if row.get("customer_id") == SUBJECT or row.get("order_id") in orders:
        return True
    return any(e in line for e in EMAILS) or NAME in line


def traces(root: Path) -> list[str]:
    """Every place under the warehouse and the project's state holding the subject."""
    folders = [root / "warehouse", root / ".headwater"]
    return find_traces(folders, [*EMAILS, NAME], {"customer_id": SUBJECT})


def test_r14_erasure_leaves_no_trace_keeps_every_other_row_and_holds(shop: Project) -> None:
    root = shop.root
    orders = {
        r["order_id"]
        for r in shop.query(
            f"select order_id from raw.orders where customer_id = {SUBJECT}"
        ).to_pylist()
    }
    assert orders
    quarantined = shop.query("select raw from raw.customers__quarantine").to_pylist()
    assert any(EMAILS[2] in r["raw"] for r in quarantined)
    history = shop.query(f"select * from marts.dim_customer where customer_id = {SUBJECT}")
    assert history.num_rows >= 10  # the SCD2 snapshot's versions of the subject
    assert len(shop.history("raw.customers")) >= 11
    assert traces(root)
    (looked_up,) = shop.audit(action="query")
    assert looked_up.detail["statement"] == LOOKUP
    # the governance report names the quarantine beside the table as holding its personal data
    companions = {c["table"]: c for c in shop.governance_report()["companions"]}
    quarantine = companions["raw.customers__quarantine"]
    assert quarantine["of"] == "raw.customers" and "email" in quarantine["kinds"]
    listed = headwater(root, "governance", "report")
    assert "raw.customers__quarantine: the records it rejected" in listed.stdout
    before = current_rows(shop)

    dry = headwater(
        root, "erase", "--subject", f"raw.customers.customer_id={SUBJECT}", "--dry-run", "--json"
    )
    planned = {t["table"] for t in json.loads(dry.stdout)["tables"]}
    assert {"raw.customers", "raw.orders", "raw.order_items", "marts.fact_sales"} <= planned
    assert {"marts.dim_customer", "raw.customers__quarantine"} <= planned
    assert current_rows(shop) == before  # a dry run changes nothing

    done = headwater(root, "erase", "--subject", f"raw.customers.customer_id={SUBJECT}", "--json")
    report = json.loads(done.stdout)
    assert report["traces"] == []
    assert not any(s in done.stdout + done.stderr for s in (*EMAILS, NAME))

    assert traces(root) == []
    after = current_rows(shop)
    for table, rows in before.items():
        kept = [line for line in rows if not is_subjects(line, orders)]
        assert after[table] == kept, table

    # time travel to a version the erasure made unreadable names it
    erased = next(t for t in report["tables"] if t["table"] == "raw.customers")
    with pytest.raises(TableNotFoundError) as unreadable:
        shop.store.snapshot(
            shop.store.snapshot(_ref("raw.customers")).ref,
            version=erased["unreadable_versions"][0],
        )
    assert f"erasure {report['erasure']}" in unreadable.value.message

    # the seeds still hold the customer: the next load skips them
    headwater(root, "run")
    assert shop.query(
        f"select count(*) as n from raw.customers where customer_id = {SUBJECT}"
    ).to_pylist() == [{"n": 0}]
    assert shop.query(
        f"select count(*) as n from marts.fact_sales where customer_id = {SUBJECT}"
    ).to_pylist() == [{"n": 0}]
    assert traces(root) == []
    for table, rows in current_rows(shop).items():  # aggregates are rebuilt without them
        assert not [line for line in rows if is_subjects(line, orders)], table

    # the catalog's text lost the subject's values, and the audit trail still verifies: the
    # redacted record is vouched for by a redaction record
    (looked_up,) = shop.audit(action="query")
    statement = looked_up.detail["statement"]
    assert str(SUBJECT) not in statement and NAME not in statement and EMAILS[0] not in statement
    assert statement.count("'[erased]'") == 3 and "raw.customers" in statement
    assert report["audit_records"] == [looked_up.seq]
    assert report["catalog"]["hw_query_log.statement"] == 1
    verified = headwater(root, "audit", "verify")
    assert "chain intact" in verified.stdout and "1 redacted by erasure" in verified.stdout
    (redaction,) = shop.audit(action="redaction")
    assert redaction.detail["erasure"] == report["erasure"]

    # recorded and audited without a value
    (record,) = shop.audit(action="erasure")
    assert record.detail["status"] == "complete" and record.detail["subject_hash"]
    assert not any(s in json.dumps(record.detail) for s in (*EMAILS, NAME, str(SUBJECT)))
    again = headwater(
        root, "erase", "--subject", f"raw.customers.customer_id={SUBJECT}", check=False
    )
    assert again.returncode != 0 and "no row of raw.customers" in again.stderr


def _ref(key: str) -> Any:
    from headwater.storage.base import TableRef

    return TableRef.parse(key)


def test_erase_refuses_bad_input_with_a_clear_message(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    Project.init(root, example="ecommerce").close()
    headwater(root, "run")
    cases = {
        "customers.customer_id=1": "does not name a subject",
        "raw.customer.customer_id=1": "did you mean raw.customers",
        "raw.customers.cust_id=1": "has no column cust_id",
        "raw.customers.customer_id=999999": "no row of raw.customers",
    }
    for subject, message in cases.items():
        done = headwater(root, "erase", "--subject", subject, check=False)
        assert done.returncode != 0 and message in done.stderr, (subject, done.stderr)
        assert "Traceback" not in done.stderr
    project = Project(root)
    with pytest.raises(UsageError) as no_key:
        from headwater.orchestrate.erasure import erase

        erase(
            project.definition,
            project.catalog,
            project.store,
            project.column_graph(),
            "raw.customers.customer_id=1",
            environ={},
        )
    assert "HEADWATER_MASKING_KEY" in no_key.value.message
    project.close()
