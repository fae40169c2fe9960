"""Exports in `headwater run`: a webhook that answers 500 and 429 at times receives every
changed record once per change, through the whole project path (graph, builder, position)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import pytest

from headwater.errors import ConfigError
from headwater.workspace import Project
from tests.conftest import ProjectFactory, rows, write_files
from tests.exports.test_webhook import Endpoint, Reply, Request, endpoint  # noqa: F401

EXPORT = """\
exports:
  - name: people_hook
    from: people
    mode: mirror
    key: [id]
    to:
      webhook:
        url: {url}
        batch_size: 3
        backoff_s: 0.001
"""


def _seed(count: int, changed: Collection[int] = (), gone: Collection[int] = ()) -> str:
    lines = ["id,name,score"]
    for i in range(1, count + 1):
        if i not in gone:
            lines.append(f"{i},person {i},{i * 10 + (1 if i in changed else 0)}")
    return "\n".join(lines) + "\n"


def _flaky(request: Request) -> Reply:
    if request.number % 5 == 0:
        return Reply(429, headers={"Retry-After": "0"})
    if request.number % 3 == 0:
        return Reply(500, "try again")
    return Reply()


def _rerun(project: Project, text: str) -> None:
    write_files(project.root, {"seeds/people.csv": text})
    project.reload()
    summary = project.run()
    assert summary.exit_code == 0, [(o.key, o.message) for o in summary.outcomes]


def test_a_flaky_webhook_gets_each_change_once(
    make_project: ProjectFactory,
    endpoint: Endpoint,  # noqa: F811
) -> None:
    endpoint.reply = _flaky
    project = make_project(
        {"seeds/people.csv": _seed(10), "exports/hook.yml": EXPORT.format(url=endpoint.url)}
    )
    summary = project.run()
    assert summary.exit_code == 0, [(o.key, o.message) for o in summary.outcomes]
    assert endpoint.delivered("upsert") == {i: 1 for i in range(1, 11)}
    assert "retries" in (summary.outcome("exports.people_hook").message or "")

    _rerun(project, _seed(12, changed={2}, gone={5}))
    assert endpoint.delivered("upsert") == {**{i: 1 for i in range(1, 13)}, 2: 2}
    assert endpoint.delivered("delete") == {5: 1}
    # nothing changed: nothing sent
    sent = len(endpoint.requests)
    assert project.run().exit_code == 0
    assert len(endpoint.requests) == sent


def test_refused_records_land_in_the_export_quarantine(
    make_project: ProjectFactory,
    endpoint: Endpoint,  # noqa: F811
    tmp_path: Path,
) -> None:
    def refuse_seven(request: Request) -> Reply:
        if 7 in request.ids:
            return Reply(422, '{"error": "id 7 is blocked"}')
        return Reply()

    endpoint.reply = refuse_seven
    project = make_project(
        {"seeds/people.csv": _seed(9), "exports/hook.yml": EXPORT.format(url=endpoint.url)}
    )
    summary = project.run()
    assert summary.exit_code == 0
    assert "1 refused" in (summary.outcome("exports.people_hook").message or "")
    assert sorted(endpoint.delivered("upsert")) == [1, 2, 3, 4, 5, 6, 8, 9]
    quarantined = rows(project, "select reason, raw from exports.people_hook__quarantine")
    assert len(quarantined) == 1
    assert "422" in str(quarantined[0][0]) and "blocked" in str(quarantined[0][0])
    assert '"id": 7' in str(quarantined[0][1])


ROLES = """
governance:
  masking:
    kinds:
      email: hash
      name: {redact: "(hidden)"}
serve:
  roles:
    crm: {read: ["*"], unmasked: [name], rows: {raw.people: "region = 'EU'"}}
    outsider: {read: [raw.other]}
"""
PEOPLE = {
    "seeds/people.csv": (
        "id,name,email,region\n1,Ann,ann@example.com,EU\n2,Bo,bo@example.com,US\n"
        "3,Cy,cy@example.com,EU\n"
    ),
    "seeds/people.yml": "columns:\n  - {name: name, pii: name}\n  - {name: email, pii: email}\n",
    "seeds/other.csv": "x\n1\n",
}


def _files_export(role: str) -> str:
    return (
        "exports:\n"
        "  - name: eu_people\n"
        "    from: people\n"
        "    mode: mirror\n"
        "    key: [id]\n"
        f"    role: {role}\n"
        "    to:\n"
        "      files: {path: out, format: ndjson}\n"
    )


def test_an_export_sends_what_its_role_reads(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_MASKING_KEY", "a-long-secret-key-for-hashing")
    project = make_project({**PEOPLE, "exports/out.yml": _files_export("crm")}, config=ROLES)
    summary = project.run()
    assert summary.exit_code == 0, [(o.key, o.message) for o in summary.outcomes]
    sent = [
        json.loads(line)
        for path in sorted((project.root / "out").glob("*.ndjson"))
        for line in path.read_text().splitlines()
    ]
    # the row filter keeps the EU rows; the role reads names raw and e-mail addresses hashed
    assert [(r["id"], r["name"]) for r in sent] == [(1, "Ann"), (3, "Cy")]
    assert all(len(r["email"]) == 64 and "@" not in r["email"] for r in sent)
    assert "example.com" not in "".join(p.read_text() for p in (project.root / "out").iterdir())
    (record,) = project.audit(action="export")
    assert record.detail["asset"] == "exports.eu_people"
    assert record.detail["role"] == "crm" and record.detail["upserted"] == 2
    assert record.detail["destination"].endswith("/out")


def test_a_role_that_may_not_read_the_asset_sends_nothing(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project({**PEOPLE, "exports/out.yml": _files_export("outsider")}, config=ROLES)
    summary = project.run()
    outcome = summary.outcome("exports.eu_people")
    assert outcome.status == "failed"
    assert "outsider, which may not read raw.people" in (outcome.message or "")
    assert not list((project.root / "out").glob("*.ndjson"))


def test_an_unknown_role_is_refused_at_load(make_project: ProjectFactory) -> None:
    project = make_project({**PEOPLE, "exports/out.yml": _files_export("crn")}, config=ROLES)
    with pytest.raises(ConfigError) as raised:
        _ = project.definition
    assert "did you mean crm?" in str(raised.value)
    assert "exports/out.yml:6" in str(raised.value)


def test_an_export_is_a_node_of_lineage_openlineage_and_the_ui(
    make_project: ProjectFactory,
    endpoint: Endpoint,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from headwater.ui.pages import Links, Workspace, graph_page
    from tests.support.openlineage import validate_event

    config = "openlineage:\n  transports:\n    - {type: file, path: .headwater/openlineage.jsonl}\n"
    url = endpoint.url.replace("/hooks/ltv", "/hooks/${HW_TEST_HOOK_PATH}")
    project = make_project(
        {"seeds/people.csv": _seed(3), "exports/hook.yml": EXPORT.format(url=url)},
        config=config,
    )
    monkeypatch.setenv("HW_TEST_HOOK_PATH", "secret-path-token")
    assert project.run().exit_code == 0
    text = (project.root / ".headwater/openlineage.jsonl").read_text()
    assert "secret-path-token" not in text
    events = [json.loads(line) for line in text.splitlines()]
    for event in events:
        validate_event(event)
    (done,) = [
        e
        for e in events
        if e["job"]["name"] == "exports.people_hook" and e["eventType"] == "COMPLETE"
    ]
    assert [i["name"] for i in done["inputs"]] == [str(project.root / "warehouse/raw/people")]
    (output,) = done["outputs"]
    port = endpoint.url.split(":")[2].split("/")[0]
    assert output["namespace"] == f"http://127.0.0.1:{port}"
    assert output["name"] == "/hooks/${HW_TEST_HOOK_PATH}"
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 3

    assert project.lineage("exports.people_hook")["upstream_assets"] == ["raw.people"]
    page = graph_page(Workspace(project), None, Links(True))
    (node,) = [n for n in page["nodes"] if n["key"] == "exports.people_hook"]
    assert node["kind"] == "export"
    assert ("raw.people", "exports.people_hook") in {(e.source, e.target) for e in page["edges"]}
