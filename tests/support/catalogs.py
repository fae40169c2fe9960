"""The catalog database behind a test, on each backend Headwater supports.

The catalog, scheduler, locking, run and concurrency tests run once on SQLite and once on a real
PostgreSQL (a fresh database on the session's `postgres_server`, so no server starts per test).
`catalog_url` gives a fresh URL of the test's backend; `catalogs` writes the project's
`catalog:` setting, for a module to wrap `make_project` with:

    @pytest.fixture
    def make_project(make_project: ProjectFactory, catalogs: Catalogs) -> ProjectFactory:
        return catalogs.projects(make_project)

On SQLite a project keeps its default catalog (`.headwater/catalog.db`), exactly as a user's
does; on PostgreSQL each project folder gets a database of its own. Test ids name the backend.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.postgres import PostgresServer

if TYPE_CHECKING:
    from headwater import Project

BACKENDS = ("sqlite", "postgresql")

ProjectFactory = Callable[..., "Project"]


@dataclass
class Catalogs:
    """Catalog databases of one backend for one test."""

    backend: str
    tmp_path: Path
    server: PostgresServer | None
    _by_folder: dict[str, str] = field(default_factory=dict)
    _made: int = 0

    @property
    def postgresql(self) -> bool:
        """Whether the test runs on PostgreSQL."""
        return self.backend == "postgresql"

    def fresh_url(self) -> str:
        """The URL of a new, empty catalog database."""
        if self.server is None:
            self._made += 1
            return f"sqlite:///{self.tmp_path / 'catalogs' / f'catalog-{self._made}.db'}"
        return self.server.url(self.server.create_database())

    def url_of(self, root: Path) -> str:
        """The catalog URL of the project at `root` (made by `projects` or given `setting`)."""
        if self.server is None:
            return f"sqlite:///{root / '.headwater' / 'catalog.db'}"
        return self._by_folder[str(root.resolve())]

    def setting(self, root: Path) -> str:
        """The `catalog:` line of headwater.yml for the project at `root` ("" on SQLite: the
        default catalog in the project's `.headwater/`)."""
        if self.server is None:
            return ""
        key = str(root.resolve())
        if key not in self._by_folder:
            self._by_folder[key] = self.fresh_url()
        return f"catalog: {self._by_folder[key]}\n"

    def projects(self, make_project: ProjectFactory) -> ProjectFactory:
        """`make_project`, with each project's catalog on this backend."""

        def factory(files: dict[str, str], folder: str = "proj", config: str = "") -> Project:
            line = self.setting(self.tmp_path / folder)
            if "headwater.yml" in files:
                text = textwrap.dedent(files["headwater.yml"]).lstrip("\n")
                if text and not text.endswith("\n"):
                    text += "\n"
                files = {**files, "headwater.yml": text + line}
            project = make_project(files, folder=folder, config=config + line)
            # a setting lost on the way would test SQLite twice, silently (the definition is
            # not loaded here: a test may still be writing the project's files)
            assert line in (project.root / "headwater.yml").read_text(encoding="utf-8")
            return project

        return factory

    def append_setting(self, root: Path) -> None:
        """Add the `catalog:` line to the headwater.yml of a project made another way."""
        line = self.setting(root)
        if line:
            with open(root / "headwater.yml", "a", encoding="utf-8") as config:
                config.write("\n" + line)


@pytest.fixture(params=BACKENDS)
def catalogs(request: pytest.FixtureRequest, tmp_path: Path) -> Catalogs:
    """Catalog databases on SQLite, then on PostgreSQL (the test's id names which)."""
    server: Any = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
    return Catalogs(request.param, tmp_path, server)


@pytest.fixture
def catalog_url(catalogs: Catalogs) -> str:
    """The URL of a new, empty catalog database on the test's backend."""
    return catalogs.fresh_url()
