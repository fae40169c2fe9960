"""S3 of RELIABILITY.md for governance: the masking key (`HEADWATER_MASKING_KEY`, which keys
masking's `hash`, the erasure record and the suppression list) is a canary. A whole session of
builds, governance reports and scans, masked reads through the CLI and `headwater serve` (that
succeed and that fail, with `--debug`), an erasure (and a refused one), the audit trail and
maintenance must never show it: not in any command's output, not in the server's output or
its responses, and not in any file of the project (the catalog's raw bytes and its WAL, the
warehouse's data and logs, the caches, the OpenLineage events)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.conftest import ProjectFactory
from tests.support.serve import HEADWATER, add_user, running_server

CANARY = "maskkeycanary_5d0e2b9c71"
FILES = {
    "seeds/people.csv": (
        "id,name,email,region\n1,Ada Byron,ada@example.org,EU\n2,Bo Chen,bo@example.org,US\n"
        "3,Cy Dahl,cy@example.org,EU\n"
    ),
    "seeds/people.yml": (
        "columns:\n  - {name: id, tests: [unique]}\n  - {name: name, pii: name}\n"
        "  - {name: email, pii: email}\n"
    ),
    "models/core/contacts.sql": "select id, lower(email) as email, region from raw.people",
}
CONFIG = """
governance:
  masking:
    kinds: {email: hash, name: redact}
serve:
  roles:
    masked: {read: ["*"], rows: {raw.people: "region = 'EU'"}}
"""


def run(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [*HEADWATER, *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HEADWATER_MASKING_KEY": CANARY},
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_s3_the_masking_key_never_leaks(make_project: ProjectFactory) -> None:
    project = make_project(FILES, config=CONFIG)
    root = project.root
    project.close()
    seen: list[tuple[str, str]] = []

    def cli(*args: str, check: bool = True) -> None:
        seen.append((" ".join(args), run(root, *args, check=check)))

    cli("run")
    cli("governance", "report", "--json")
    cli("governance", "scan")
    seen.append(("users add", add_user(root, "mia", "masked")))
    token = add_user(root, "mia2", "masked")
    cli("query", "--as", "mia", "select * from raw.people")
    cli("query", "--as", "mia", "select email, sha256(email) from core.contacts")
    # failing masked reads, with every detail --debug shows
    for sql in (
        "select cast(email as integer) from raw.people",
        "select * from __headwater_masking_key",
        "select current_query()",
        "select email from raw.people where email = (select k from __headwater_masking_key)",
        "select nonsense(",
    ):
        cli("--debug", "query", "--as", "mia", sql, check=False)
    with running_server(root, pg=False, env={"HEADWATER_MASKING_KEY": CANARY}) as server:
        headers = {"Authorization": f"Bearer {token}"}
        for sql in (
            "select * from raw.people",
            "select email, count(*) from raw.people group by email",
            "select cast(email as integer) from raw.people",
            "explain select email from raw.people",
            "select * from duckdb_settings()",
            "select * from __headwater_masking_key",
        ):
            response = httpx.post(
                f"{server.url}/api/query", json={"sql": sql}, headers=headers, timeout=600
            )
            seen.append((f"http {sql}", response.text + str(response.headers)))
        page = httpx.get(f"{server.url}/api/tables/raw.people/rows", headers=headers, timeout=600)
        seen.append(("http rows", page.text))
    assert server.process.stdout is not None
    seen.append(("serve output", "".join(server.output) + server.process.stdout.read()))
    cli("erase", "--subject", "raw.people.email=ada@example.org", "--json")
    cli("--debug", "erase", "--subject", "raw.people.id=999", check=False)
    with (root / "seeds" / "people.csv").open("a") as seed:
        seed.write("4,Di Eck,di@example.org,US\n")
    cli("run")  # the seed changed: it loads again, through the suppression list and its key
    cli("audit")
    cli("audit", "verify")
    cli("maintain", "--dry-run")

    leaks = [where for where, text in seen if CANARY in text]
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if CANARY.encode() in path.read_bytes():
            leaks.append(str(path.relative_to(root)))
    assert leaks == []
    # the session did what it says: a masked read, an erasure, a suppressed load
    assert any("[redacted]" in text for where, text in seen if where.startswith("query"))
    runs = [text for where, text in seen if where == "run"]
    assert any("rows of erased subjects skipped" in text for text in runs), runs[-1]
