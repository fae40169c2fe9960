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


def _files_project(
    make_project: ProjectFactory, seed: str, mode: str = "upsert", folder: str = "proj"
) -> Project:
    key = "" if mode == "append" else "    key: [id]\n"
    return make_project(
        {
            "seeds/people.csv": seed,
            "exports/out.yml": (
                f"exports:\n  - name: out\n    from: people\n    mode: {mode}\n{key}"
                "    to:\n      files: {path: out, format: ndjson}\n"
            ),
        },
        folder=folder,
    )


def _sent(project: Project) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted((project.root / "out").glob("*.ndjson"))
        for line in path.read_text().splitlines()
    ]


def test_a_column_added_to_the_asset_is_sent_from_then_on(make_project: ProjectFactory) -> None:
    project = _files_project(make_project, "id,name\n1,Ann\n2,Bo\n")
    assert project.run().exit_code == 0
    write_files(project.root, {"seeds/people.csv": "id,name,city\n1,Ann,Oslo\n2,Bo,\n3,Cy,Rome\n"})
    project.reload()
    summary = project.run()
    assert summary.exit_code == 0, [(o.key, o.message) for o in summary.outcomes]
    # the asset's columns are those of its new version: rows that gained a value are sent
    assert [(r["id"], r.get("city")) for r in _sent(project)][2:] == [(1, "Oslo"), (3, "Rome")]


def test_an_unknown_key_column_is_an_error_naming_the_closest(
    make_project: ProjectFactory,
) -> None:
    export = "exports:\n  - {name: out, from: people, key: [idd], to: {files: {path: out}}}\n"
    # a model whose columns are known only once built: the key is checked when it runs
    project = make_project(
        {
            "data/people.csv": "id,name\n1,Ann\n",
            "models/people.sql": "select * from read_csv('data/people.csv')",
            "exports/out.yml": export,
        }
    )
    message = project.run().outcome("exports.out").message or ""
    assert "no key column idd" in message and "did you mean id?" in message
    assert "exports/out.yml:2" in message
    assert "internal error" not in message
    # a seed's columns are known at load: the same mistake is refused there
    seeded = _files_project(make_project, "id,name\n1,Ann\n", folder="seeded")
    (seeded.root / "exports/out.yml").write_text(
        (seeded.root / "exports/out.yml").read_text().replace("key: [id]", "key: [idd]")
    )
    seeded.reload()
    with pytest.raises(ConfigError) as raised:
        _ = seeded.definition
    assert "did you mean id?" in str(raised.value)


def test_a_project_wide_full_refresh_does_not_resend_an_append_export(
    make_project: ProjectFactory,
) -> None:
    project = _files_project(make_project, "id,name\n1,Ann\n2,Bo\n", mode="append")
    assert project.run().exit_code == 0
    summary = project.run(full_refresh=True)
    assert summary.exit_code == 0
    assert sorted(r["id"] for r in _sent(project)) == [1, 2]


def test_an_export_quarantine_is_masked_like_its_asset(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.errors import UsageError
    from tests.support.serve import add_user

    monkeypatch.setenv("HEADWATER_MASKING_KEY", "a-long-secret-key-for-hashing")
    people = (
        PEOPLE["seeds/people.csv"] + "4,Dee,dee@secret.example,EU\n4,Dee2,d2@secret.example,EU\n"
    )
    project = make_project(
        {**PEOPLE, "seeds/people.csv": people, "exports/out.yml": _files_export("admin")},
        config=ROLES.replace("outsider: {read: [raw.other]}", "outsider: {read: ['*']}"),
    )
    assert project.run().exit_code == 0
    assert len(rows(project, "select raw from exports.eu_people__quarantine")) == 2
    add_user(project.root, "mia", "outsider")
    with pytest.raises(UsageError) as refused:
        project.query("select raw from exports.eu_people__quarantine", as_user="mia")
    assert "raw.people" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "host=db.example port=5433 dbname=crm user=app password=hunter2-secret",
        "postgresql+psycopg://app:hunter2-secret@db.example:5433/crm",
    ],
)
def test_the_lineage_of_a_postgres_export_names_no_password(url: str, tmp_path: Path) -> None:
    from headwater.exports.lineage import destination_dataset
    from headwater.project.exports import ExportConfig

    config = ExportConfig.model_validate(
        {"name": "x", "from": "a", "key": ["id"], "to": {"postgres": {"url": url, "table": "t"}}}
    )
    assert destination_dataset(config, tmp_path) == ("postgres://db.example:5433", "crm.public.t")
