"""Shared fixtures: build small real projects on disk and run them through the real code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater import Project
from tests.support.catalogs import catalog_url, catalogs  # noqa: F401
from tests.support.kafka import kafka_broker  # noqa: F401
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.redis import redis_server  # noqa: F401
from tests.support.s3 import s3_bucket, s3_server  # noqa: F401
from tests.support.spark import spark_engine, spark_session  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
HEADWATER = [sys.executable, "-m", "headwater.cli.main"]


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write `files` (relative path -> text, dedented) under `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


ProjectFactory = Callable[..., Project]


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[ProjectFactory]:
    """Return a factory: make_project({path: text}, name=..., config=...) -> open Project.

    `headwater.yml` is written with `name: test` and `threads: 2` unless the files give one.
    """
    opened: list[Project] = []

    def factory(files: dict[str, str], folder: str = "proj", config: str = "") -> Project:
        root = tmp_path / folder
        root.mkdir(parents=True, exist_ok=True)
        if "headwater.yml" not in files:
            files = {"headwater.yml": f"name: test\nthreads: 2\n{config}", **files}
        write_files(root, files)
        project = Project(root)
        opened.append(project)
        return project

    yield factory
    for project in opened:
        project.close()


def rows(project: Project, sql: str) -> list[tuple[object, ...]]:
    """Run `sql` through the project's query path and return plain tuples."""
    table = project.query(sql)
    return [tuple(r.values()) for r in table.to_pylist()]


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the `headwater` CLI in a subprocess and capture its output."""
    return subprocess.run(
        [*HEADWATER, *args],
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole session (one per xdist worker)."""
    server = start_postgres(logical=True)
    yield server
    server.stop()


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> str:
    """The name of a fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database()
