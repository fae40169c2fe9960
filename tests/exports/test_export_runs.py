"""Exports in `headwater run`: a webhook that answers 500 and 429 at times receives every
changed record once per change, through the whole project path (graph, builder, position)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

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
