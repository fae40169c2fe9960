"""`governance scan` on a small project: columns that look personal and are not classified are
suggested with the YAML declaring them; declared columns, columns classified along lineage,
mixed columns, tiny tables and innocent text (dates, codes, amounts) are not; no sampled value
is ever printed whole."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from headwater import Project
from headwater.errors import UsageError
from headwater.governance.detectors import is_phone
from headwater.governance.scan import best_match, suggestion
from tests.conftest import HEADWATER, ProjectFactory

# 8 customers: `email` is declared, the other personal columns are not
PERSONAL = {
    "email": [
        "ann@example.com",
        "bob@example.com",
        "cyd@example.com",
        "dee@example.com",
        "eve@example.com",
        "fay@example.com",
        "gus@example.com",
        "hal@example.com",
    ],
    "backup_email": [
        "ann.smith@mail.example.org",
        "bob_jones@example.net",
        "cyd+shop@example.co.uk",
        "dee.o'hara@example.ie",
        "eve@sub.example.com",
        "fay.lee@example.org",
        "gus.k@example.de",
        "hal.9000@example.io",
    ],
    "phone": [
        "+44 20 7946 0958",
        "+1 (555) 123-4567",
        "(555) 987-6543",
        "+33 1 23 45 67 89",
        "030 1234567",
        "+49 151 23456789",
        "555-123-4567",
        "07911 123456",
    ],
    "iban": [
        "GB82 WEST 1234 5698 7654 32",
        "DE89 3704 0044 0532 0130 00",
        "FR1420041010050500013M02606",
        "NL91 ABNA 0417 1643 00",
        "BE68539007547034",
        "CH93 0076 2011 6238 5295 7",
        "ES9121000418450200051332",
        "AT61 1904 3002 3457 3201",
    ],
    "card": [
        "4111 1111 1111 1111",
        "5500 0000 0000 0004",
        "4012-8888-8888-1881",
        "3782 822463 10005",
        "6011111111111117",
        "5555 5555 5555 4444",
        "4242 4242 4242 4242",
        "3714 496353 98431",
    ],
    "ip": [
        "192.168.0.10",
        "10.1.2.3",
        "2001:db8::1",
        "172.16.5.4",
        "8.8.4.4",
        "fe80::1ff:fe23:4567:890a",
        "203.0.113.7",
        "198.51.100.23",
    ],
}
INNOCENT = {
    "city": ["Paris", "Lyon", "Oslo", "Rome", "Bonn", "Gent", "Bern", "Graz"],
    "status": [f"ORD-2024-00012{i}" for i in range(8)],
    "amount": ["12.50", "1250", "-3.99", "1 250 000", "12 345 678", "0.00", "99", "7"],
    "joined": [f"2024-0{i + 1}-1{i}" for i in range(8)],
    # five e-mails in eight values: 62% of them
    "mixed": [
        "ann@example.net",
        "bob@example.net",
        "cyd@example.net",
        "dee@example.net",
        "eve@example.net",
        "unknown",
        "n/a",
        "see notes",
    ],
}
MOBILES = ["+31 6 12345678", "+32 470 12 34 56", "+45 20 12 34 56", "+46 70 123 45 67"]
MOBILES += ["+47 412 34 567", "+358 40 1234567"]


def _csv(columns: dict[str, list[str]]) -> str:
    names = list(columns)
    lines = [",".join(["id", *names])]
    for row in range(len(columns[names[0]])):
        lines.append(",".join([str(row + 1), *(columns[n][row] for n in names)]))
    return "\n".join(lines) + "\n"


FILES = {
    "seeds/customers.csv": _csv({**PERSONAL, **INNOCENT}),
    "seeds/customers.yml": (
        "columns:\n"
        "  - name: email\n    pii: email\n"
        "  - name: backup_email\n    description: a second address\n"
        "  - name: joined\n    type: VARCHAR\n"
    ),
    # three e-mails: too few to decide
    "seeds/tiny.csv": "id,contact\n1,ann@example.com\n2,bob@example.com\n3,cyd@example.com\n",
    # classified along lineage from the declared raw.customers.email
    "models/contacts.sql": "select id, lower(email) as email_lc, city from raw.customers",
    "models/by_city.sql": "select city, count(*) as n from raw.customers group by city",
    "models/by_city.yml": "materialized: view\n",
    "models/unbuilt.sql": "select backup_email from raw.customers",
    "data/people.csv": _csv({"mobile": MOBILES, "notes": ["ok", "late", "", "vip", "", "new"]}),
    "sources/files.yml": (
        "kind: files\ntables:\n  people:\n    path: data/people.csv\n    columns:\n"
        "      mobile: VARCHAR\n"
    ),
}
EXPECTED = {
    ("raw.customers", "backup_email"): "email",
    ("raw.customers", "phone"): "phone",
    ("raw.customers", "iban"): "iban",
    ("raw.customers", "card"): "card_number",
    ("raw.customers", "ip"): "ip",
    ("files.people", "mobile"): "phone",
}


@pytest.fixture
def shop(make_project: ProjectFactory) -> Project:
    project = make_project(FILES)
    assert project.run(exclude=["main.unbuilt"]).status == "success"
    return project


def _every_value() -> list[str]:
    return [v for values in PERSONAL.values() for v in values] + MOBILES + INNOCENT["mixed"][:5]


def test_columns_that_look_personal_and_are_not_classified_are_suggested(shop: Project) -> None:
    report = shop.governance_scan()
    found = {(s.asset, s.column): s for s in report.suggestions}
    # and nothing else: not the innocent text (dates, codes, amounts), the mixed column or the
    # three-row table
    assert {key: s.match.kind for key, s in found.items()} == EXPECTED
    assert found["raw.customers", "card"].match.share == 1.0
    assert found["raw.customers", "card"].match.values == 8
    # declared, and classified along lineage: left out, not sampled
    assert "raw.customers.email" in report.classified
    assert "main.contacts.email_lc" in report.classified
    skipped = {s.asset: s.reason for s in report.skipped}
    assert skipped["main.unbuilt"].startswith("not built yet")
    assert skipped["main.by_city"].startswith("a view")
    assert set(report.scanned) == {"raw.customers", "raw.tiny", "main.contacts", "files.people"}


def test_a_suggestion_says_which_yaml_to_add_and_where(shop: Project) -> None:
    found = {(s.asset, s.column): s for s in shop.governance_scan().suggestions}
    listed = found["raw.customers", "backup_email"]
    assert (listed.file, listed.under, listed.yaml) == (
        "seeds/customers.yml",
        "columns[name=backup_email]",
        "pii: email",
    )
    unlisted = found["raw.customers", "iban"]
    assert (unlisted.file, unlisted.under, unlisted.yaml) == (
        "seeds/customers.yml",
        "columns",
        "- {name: iban, pii: iban}",
    )
    source = found["files.people", "mobile"]
    assert (source.file, source.under, source.yaml) == (
        "sources/files.yml",
        "tables.people.columns",
        "mobile: {type: VARCHAR, pii: phone}",
    )
    # the YAML suggested is what declaring takes: once added, the scan no longer suggests it
    sidecar = shop.root / "seeds" / "customers.yml"
    sidecar.write_text(sidecar.read_text() + "  - {name: iban, pii: iban}\n")
    (shop.root / "sources" / "files.yml").write_text(
        (shop.root / "sources" / "files.yml")
        .read_text()
        .replace("mobile: VARCHAR", "mobile: {type: VARCHAR, pii: phone}")
    )
    shop.reload()
    again = {(s.asset, s.column) for s in shop.governance_scan().suggestions}
    assert again == set(EXPECTED) - {("raw.customers", "iban"), ("files.people", "mobile")}


def test_examples_are_masked(shop: Project) -> None:
    found = {(s.asset, s.column): s for s in shop.governance_scan().suggestions}
    examples = {key: s.match.examples for key, s in found.items()}
    assert len(examples["raw.customers", "card"]) == 3
    assert all(e.startswith("****") for e in examples["raw.customers", "card"])
    assert all("***@" in e for e in examples["raw.customers", "backup_email"])
    shown = " ".join(e for values in examples.values() for e in values)
    for value in _every_value():
        assert value not in shown


def test_the_threshold_and_the_minimum_are_options(shop: Project) -> None:
    found = {(s.asset, s.column) for s in shop.governance_scan(threshold=0.6).suggestions}
    assert ("raw.customers", "mixed") in found
    assert ("raw.tiny", "contact") not in found
    found = {(s.asset, s.column): s for s in shop.governance_scan(min_matches=3).suggestions}
    assert ("raw.customers", "mixed") not in found
    # a seed without a sidecar is told the sidecar to create
    tiny = found["raw.tiny", "contact"]
    assert (tiny.file, tiny.under, tiny.yaml) == (
        "seeds/tiny.yml",
        "columns",
        "- {name: contact, pii: email}",
    )
    with pytest.raises(UsageError, match="not a share"):
        shop.governance_scan(threshold=1.5)


def test_a_table_without_columns_of_its_own_to_declare_says_so(shop: Project) -> None:
    match = best_match(PERSONAL["phone"])
    assert match is not None
    customers = shop.definition.assets["raw.customers"]
    child = suggestion(dataclasses.replace(customers, parent="raw.orders"), "phone", match)
    assert (child.file, child.yaml) == (None, None)
    assert child.note == "filled by the load of raw.orders: its columns cannot be declared `pii:`"
    stream = suggestion(dataclasses.replace(customers, seed=None), "phone", match)
    assert stream.file is None and stream.note is not None and "stream" in stream.note


def test_the_scan_reads_the_selected_tables_only(shop: Project) -> None:
    report = shop.governance_scan(["files.people"])
    assert report.scanned == ["files.people"]
    assert [(s.asset, s.column) for s in report.suggestions] == [("files.people", "mobile")]
    report = shop.governance_scan(["raw.customers+"], exclude=["main.unbuilt"])
    assert set(report.scanned) == {"raw.customers", "main.contacts"}
    with pytest.raises(UsageError, match="matches no asset"):
        shop.governance_scan(["raw.customerz"])


def test_the_command_prints_suggestions_and_never_a_whole_sampled_value(shop: Project) -> None:
    def scan(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*HEADWATER, "governance", "scan", *args],
            cwd=shop.root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        for value in _every_value():
            assert value not in done.stdout
            assert value not in done.stderr
        return done

    document = json.loads(scan("--json").stdout)
    kinds = {(s["asset"], s["column"]): s["kind"] for s in document["suggestions"]}
    assert kinds == EXPECTED
    card = next(s for s in document["suggestions"] if s["column"] == "card")
    assert card["share"] == 1.0 and card["matches"] == 8 and card["values"] == 8
    assert (
        card["file"] == "seeds/customers.yml" and card["yaml"] == "- {name: card, pii: card_number}"
    )
    skipped = {s["asset"]: s for s in document["skipped"]}
    assert skipped["main.unbuilt"]["reason"] == "not built yet: run it, then scan"
    assert skipped["main.unbuilt"]["not_built"] is True
    assert skipped["main.by_city"]["not_built"] is False
    assert (document["sample"], document["threshold"], document["min_matches"]) == (1000, 0.8, 5)

    table = scan("--threshold", "0.6", "--sample", "100")
    assert "raw.customers.mixed" in table.stdout
    assert "raw.customers.card\tcard_number\t100% of 8\t" in table.stdout
    assert "seeds/customers.yml, under columns: - {name: card, pii: card_number}" in table.stdout
    assert "under columns[name=backup_email]: pii: email" in table.stdout
    assert "main.unbuilt: skipped (not built yet" in table.stderr
    assert "1 view(s) or ephemeral model(s) not sampled" in table.stderr
    assert "main.by_city" not in table.stderr

    nothing = scan("raw.tiny", "main.contacts")
    assert "no column of the 2 table(s) scanned looks like personal data" in nothing.stdout

    refused = subprocess.run(
        [*HEADWATER, "governance", "scan", "--threshold", "0"],
        cwd=shop.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "--threshold" in refused.stderr


def test_a_column_is_suggested_only_past_the_threshold_and_the_minimum() -> None:
    emails = [f"user{i}@example.com" for i in range(8)]
    found = best_match([*emails, "n/a", "", "   "], threshold=0.8, min_matches=5)
    assert found is not None
    assert (found.kind, found.matches, found.values) == ("email", 8, 9)
    assert found.examples == ("u***@example.com",)  # the masks are alike: shown once
    # below the threshold: half of the values
    assert best_match([*emails[:4], "Ann", "Bob", "Cy", "Di"]) is None
    # a three-row table decides nothing
    assert best_match(emails[:3]) is None
    assert best_match(emails[:3], min_matches=3) is not None


def test_a_card_number_that_also_reads_as_a_phone_number_is_a_card_number() -> None:
    amex = ["3782 822463 10005", "3714 496353 98431", "3787 344936 71000"] * 2
    assert all(is_phone(v) for v in amex)
    found = best_match(amex)
    assert found is not None and found.kind == "card_number"
