"""Personal data in a whole-row value: a model packing a row that holds a declared column
(`to_json(p)`) holds that column's kind, once the seed's columns are known."""

from __future__ import annotations

from tests.conftest import ProjectFactory


def test_a_whole_row_reference_carries_every_column(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "seeds/people.csv": "id,email,name\n1,a@example.com,Ann\n2,b@example.com,Bob\n",
            "seeds/people.yml": "columns:\n  - name: email\n    pii: email\n",
            "models/m.sql": "select p.id, to_json(p) as payload from raw.people p",
        }
    )
    assert project.run().status == "success"
    classification = project.classification()
    assert classification.kinds("main.m", "payload") == ("email",)
    assert classification.kinds("main.m", "id") == ()
    assert "main.m" not in classification.unanalysed
