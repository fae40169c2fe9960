"""`pii:` in YAML: the kind of personal data a column of a source, seed or model holds.

A kind outside the vocabulary, or a `pii:` on a column the asset does not produce, is an error at
its YAML line (a typo must not leave personal data unclassified); a source column takes the
long form `{type:, pii:}` beside the short `name: TYPE`.
"""

from __future__ import annotations

import pytest

from headwater.errors import ConfigError
from tests.conftest import ProjectFactory, rows

CUSTOMERS = "id,email,name\n1,a@example.com,Ann\n2,b@example.com,Bob\n"


def test_seed_and_model_columns_declare_their_kind(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "seeds/customers.yml": (
                "columns:\n  - name: email\n    pii: email\n  - name: name\n    pii: name\n"
            ),
            "models/contacts.sql": "select id, lower(email) as mail from raw.customers",
            "models/contacts.yml": "columns:\n  - name: mail\n    pii: email\n",
        }
    )
    assets = project.definition.assets
    assert assets["raw.customers"].personal_data == {"email": "email", "name": "name"}
    assert assets["main.contacts"].personal_data == {"mail": "email"}
    assert project.run().status == "success"


def test_a_source_column_declares_its_kind_in_the_long_form(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "data/people.csv": CUSTOMERS,
            "sources/files.yml": (
                "kind: files\ntables:\n  people:\n    path: data/people.csv\n    columns:\n"
                "      id: BIGINT\n      email: {type: VARCHAR, pii: email}\n"
                "      name: {pii: name, description: the customer's full name}\n"
            ),
        }
    )
    assert project.definition.assets["files.people"].column_descriptions == {
        "name": "the customer's full name"
    }
    table = project.definition.assets["files.people"].source
    assert table is not None
    assert table.table.column_types == {"id": "BIGINT", "email": "VARCHAR"}
    assert project.definition.assets["files.people"].personal_data == {
        "email": "email",
        "name": "name",
    }
    assert project.run().status == "success"
    assert rows(project, "select id, email from files.people order by id")[0] == (
        1,
        "a@example.com",
    )


def test_an_unknown_kind_is_refused_at_its_line_with_the_closest(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "seeds/customers.yml": "columns:\n  - name: id\n  - name: email\n    pii: emial\n",
        }
    )
    with pytest.raises(ConfigError) as raised:
        _ = project.definition
    text = str(raised.value)
    assert "customers.yml" in text and "line 4" in text, text
    assert "'emial' is not a kind of personal data; did you mean 'email'?" in text


def test_an_unknown_kind_of_a_source_column_is_refused_at_its_line(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "data/people.csv": CUSTOMERS,
            "sources/files.yml": (
                "kind: files\ntables:\n  people:\n    path: data/people.csv\n    columns:\n"
                "      email: {type: VARCHAR, pii: phonee}\n"
            ),
        }
    )
    with pytest.raises(ConfigError) as raised:
        _ = project.definition
    text = str(raised.value)
    assert "files.yml" in text and "line 6" in text, text
    assert "did you mean 'phone'?" in text


def test_pii_on_a_column_the_model_does_not_produce_is_refused(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "models/contacts.sql": "select id, lower(email) as mail from raw.customers",
            "models/contacts.yml": (
                "columns:\n  - name: id\n    description: the key\n  - name: email\n"
                "    pii: email\n"
            ),
        }
    )
    with pytest.raises(ConfigError) as raised:
        _ = project.definition
    error = raised.value
    assert error.location.line == 4, str(error)
    assert "column 'email' of main.contacts is declared `pii: email`" in error.message
    assert "did you mean 'mail'?" in (error.hint or "")


def test_a_documented_column_without_pii_may_still_name_no_output(
    make_project: ProjectFactory,
) -> None:
    # descriptions of columns a model no longer has were accepted before; only `pii:` is held
    # to the real columns
    project = make_project(
        {
            "seeds/customers.csv": CUSTOMERS,
            "models/contacts.sql": "select id from raw.customers",
            "models/contacts.yml": "columns:\n  - name: gone\n    description: old\n",
        }
    )
    assert project.definition.assets["main.contacts"].personal_data == {}


def test_pii_on_a_source_column_the_table_does_not_have_is_refused(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "data/people.csv": CUSTOMERS,
            "sources/files.yml": (
                "kind: files\ntables:\n  people:\n    path: data/people.csv\n    columns:\n"
                "      emial: {pii: email}\n"
            ),
        }
    )
    # the first load finds the table's columns and refuses to publish it
    summary = project.run()
    assert summary.status == "failed"
    message = summary.outcome("files.people").message or ""
    assert "column 'emial' of files.people is declared `pii: email`" in message, message
    # a table loaded before
    (project.root / "sources/files.yml").write_text(
        "kind: files\ntables:\n  people:\n    path: data/people.csv\n"
    )
    project.reload()
    assert project.run().status == "success"
    (project.root / "sources/files.yml").write_text(
        "kind: files\ntables:\n  people:\n    path: data/people.csv\n    columns:\n"
        "      emial: {pii: email}\n"
    )
    project.reload()
    # the source's columns are known only from its table: the report flags the name, and the
    # next load refuses to publish
    assert project.governance_report()["missing"] == [
        {"asset": "files.people", "column": "emial", "kind": "email"}
    ]
    with (project.root / "data/people.csv").open("a") as more:
        more.write("3,c@example.com,Cy\n")
    failed = project.run()
    assert failed.status == "failed"
    assert "did you mean 'email'?" in (failed.outcome("files.people").message or "")
