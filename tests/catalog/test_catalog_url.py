"""`catalog:` may name environment variables (`${VAR}`), so that a shared PostgreSQL
catalog's password stays out of the project's files."""

from __future__ import annotations

import pytest

from headwater.errors import ConfigError
from tests.conftest import ProjectFactory
from tests.support.postgres import PostgresServer

SEED = {"seeds/countries.csv": "code,name\nFR,France\n"}


def test_a_variable_in_the_catalog_url_is_read_from_the_environment(
    make_project: ProjectFactory,
    postgres_server: PostgresServer,
    postgres_db: str,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("HW_TEST_CATALOG_DB", postgres_db)
    monkeypatch.setenv("HW_TEST_CATALOG_PASSWORD", "s3cret-canary")
    url = (
        f"postgresql+psycopg://{postgres_server.user}:${{HW_TEST_CATALOG_PASSWORD}}"
        f"@127.0.0.1:{postgres_server.port}/${{HW_TEST_CATALOG_DB}}"
    )
    project = make_project(SEED, config=f"catalog: '{url}'\n")
    assert project.definition.catalog_url().endswith(f"/{postgres_db}")
    result = project.run()
    assert result.exit_code == 0
    assert result.count("success") == 1
    # the runs went to the PostgreSQL database the variable names
    import psycopg

    with psycopg.connect(postgres_server.dsn(postgres_db)) as connection:
        (runs,) = connection.execute("SELECT count(*) FROM hw_runs").fetchone()
    assert runs == 1


def test_an_unset_variable_in_the_catalog_url_is_a_config_error(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("HW_TEST_UNSET_PASSWORD", raising=False)
    project = make_project(
        SEED, config="catalog: 'postgresql://u:${HW_TEST_UNSET_PASSWORD}@127.0.0.1/db'\n"
    )
    with pytest.raises(ConfigError) as caught:
        project.run()
    assert "HW_TEST_UNSET_PASSWORD" in caught.value.message
    assert "'catalog'" in caught.value.message
    assert caught.value.location.file == "headwater.yml"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:pa/ss@host/db", "postgresql+psycopg://u:***@host/db"),
        ("postgresql://u:p@ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_messages_show_a_catalog_url_without_its_password(url: str, shown: str):
    from headwater.catalog.database import safe_url

    assert safe_url(url) == shown
