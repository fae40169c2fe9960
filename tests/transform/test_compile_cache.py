"""Compiled SQL is reused across processes, and recomputed whenever what it depends on changes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ProjectFactory, rows, run_cli, write_files

PROJECT = {
    "headwater.yml": "name: test\nthreads: 2\nvars:\n  suffix: '!'\n",
    "seeds/people.csv": "id,name\n1,ada\n2,bob\n",
    "models/staging/named.sql": "select id, name || '{{ var(\"suffix\") }}' as name from people",
    "models/marts/totals.sql": (
        "select id, name from staging.named\n"
        "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\n"
    ),
    "models/marts/totals.yml": "materialized: incremental\nunique_key: id\n",
}

PROBE = (
    "import sys\n"
    "from headwater.cli.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exit:\n"
    "    assert not exit.code, exit.code\n"
    "print('HEAVY', [m for m in ('sqlglot', 'jinja2', 'sqlalchemy') if m in sys.modules])\n"
)


def cache_entries(root) -> dict:  # type: ignore[no-untyped-def]
    return json.loads((root / ".headwater" / "compile_cache.json").read_text())["entries"]


def test_a_rebuild_of_unchanged_sql_parses_nothing(make_project: ProjectFactory) -> None:
    project = make_project(PROJECT)
    assert run_cli(["run"], project.root).returncode == 0
    write_files(project.root, {"seeds/people.csv": "id,name\n1,ada\n2,bob\n"})
    # the first incremental run compiles the incremental form once
    assert run_cli(["run"], project.root).returncode == 0
    write_files(project.root, {"seeds/people.csv": "id,name\n1,ada\n2,bob\n3,cy\n"})
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "run"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    assert rows(project, "select * from marts.totals order by id") == [
        (1, "ada!"),
        (2, "bob!"),
        (3, "cy!"),
    ]


def test_changed_vars_recompile_templated_models(make_project: ProjectFactory) -> None:
    project = make_project(PROJECT)
    assert run_cli(["run"], project.root).returncode == 0
    write_files(project.root, {"headwater.yml": "name: test\nthreads: 2\nvars:\n  suffix: '?'\n"})
    assert run_cli(["run", "--full-refresh"], project.root).returncode == 0
    assert rows(project, "select name from marts.totals order by id") == [("ada?",), ("bob?",)]


def test_the_cache_keeps_only_live_entries(make_project: ProjectFactory) -> None:
    project = make_project(PROJECT)
    assert run_cli(["run"], project.root).returncode == 0
    assert run_cli(["run"], project.root).returncode == 0
    assert {e["asset"] for e in cache_entries(project.root).values()} == {
        "staging.named",
        "marts.totals",
    }
    for _ in range(3):
        (project.root / "models/marts/totals.sql").write_text(
            (project.root / "models/marts/totals.sql").read_text() + "\n-- edit\n"
        )
        assert run_cli(["run"], project.root).returncode == 0
    pairs = [
        (e["asset"], "qualified" if e.get("qualified") else e["incremental"])
        for e in cache_entries(project.root).values()
    ]
    # one entry per asset and form (full, incremental, qualified for column lineage): edits
    # supersede earlier entries
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {
        ("marts.totals", False),
        ("marts.totals", True),
        ("marts.totals", "qualified"),
        ("staging.named", False),
        ("staging.named", "qualified"),
    }
    (project.root / "models/marts/totals.sql").unlink()
    (project.root / "models/marts/totals.yml").unlink()
    # entries of removed assets go with the next run that compiles anything
    write_files(project.root, {"headwater.yml": "name: test\nthreads: 2\nvars:\n  suffix: '?'\n"})
    assert run_cli(["run"], project.root).returncode == 0
    assert {e["asset"] for e in cache_entries(project.root).values()} == {"staging.named"}


def test_a_corrupt_cache_is_ignored(make_project: ProjectFactory) -> None:
    project = make_project(PROJECT)
    assert run_cli(["run"], project.root).returncode == 0
    (project.root / ".headwater" / "compile_cache.json").write_text("{not json")
    assert run_cli(["run", "--full-refresh"], project.root).returncode == 0
    assert rows(project, "select count(*) from marts.totals") == [(2,)]
