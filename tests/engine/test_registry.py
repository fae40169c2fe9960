"""Engines come from `engine:` in `headwater.yml`: the shorthand and the full form build models
with the settings given, and an unknown engine or a misspelt setting fails when the project
loads, naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater import Project
from headwater.engine.base import Engine
from headwater.engine.duckdb import DuckDBEngine
from headwater.engine.registry import EnginePlace, create_engine, register_engine
from headwater.errors import ConfigError
from headwater.project.config import EngineConfig
from tests.conftest import rows, write_files

SETTINGS_MODEL = {
    "models/settings.sql": """
        select current_setting('threads') as threads,
               current_setting('memory_limit') as memory_limit
    """,
}


def open_project(root: Path, engine: str) -> Project:
    write_files(root, {"headwater.yml": f"name: test\n{engine}\n", **SETTINGS_MODEL})
    return Project(root)


def build(project: Project) -> None:
    summary = project.run()
    assert summary.status == "success"
    assert summary.outcome("main.settings").status == "success"


def test_engine_by_name_builds_a_model(tmp_path: Path) -> None:
    project = open_project(tmp_path, "engine: duckdb")
    try:
        assert project.definition.config.engine == EngineConfig.model_validate({"type": "duckdb"})
        build(project)
        assert rows(project, "select count(*) from main.settings") == [(1,)]
    finally:
        project.close()


def test_engine_settings_reach_the_engine(tmp_path: Path) -> None:
    project = open_project(tmp_path, "engine: {type: duckdb, threads: 2, memory_limit: 1GB}")
    try:
        build(project)
        # DuckDB reports 1 GB (10^9 bytes) in MiB
        assert rows(project, "select threads, memory_limit from main.settings") == [
            (2, "953.6 MiB")
        ]
    finally:
        project.close()


def test_an_unknown_engine_fails_at_load_naming_the_file_and_key(tmp_path: Path) -> None:
    project = open_project(tmp_path, "engine: flink")
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    assert caught.value.location.file == "headwater.yml"
    assert "'engine.type'" in str(caught.value)
    assert "flink" in str(caught.value)


def test_a_misspelt_engine_setting_fails_at_load_naming_the_key(tmp_path: Path) -> None:
    project = open_project(tmp_path, "engine: {type: duckdb, thread: 2}")
    with pytest.raises(ConfigError) as caught:
        _ = project.definition
    assert caught.value.location.file == "headwater.yml"
    assert "'engine.thread'" in str(caught.value)
    assert "did you mean 'threads'" in str(caught.value)


def test_create_engine_uses_the_registered_factory(tmp_path: Path) -> None:
    made: list[tuple[EngineConfig, EnginePlace]] = []

    def factory(config: EngineConfig, place: EnginePlace) -> Engine:
        made.append((config, place))
        return DuckDBEngine(threads=1)

    # a name the config model does not list yet (a plugin's), built without validation
    config = EngineConfig.model_construct(type="tiny", threads=None, memory_limit=None)
    register_engine("tiny", factory)
    engine = create_engine(config, EnginePlace(tmp_path))
    try:
        assert made == [(config, EnginePlace(tmp_path))]
        assert engine.capabilities.dialect == "duckdb"
        assert engine.session().capabilities is engine.capabilities
    finally:
        engine.close()


def test_create_engine_refuses_a_name_nothing_registered(tmp_path: Path) -> None:
    config = EngineConfig.model_construct(type="flink", threads=None, memory_limit=None)
    with pytest.raises(ConfigError) as caught:
        create_engine(config, EnginePlace(tmp_path))
    assert caught.value.location.file == "headwater.yml"
    assert "unknown engine 'flink'" in caught.value.message
    assert "duckdb" in (caught.value.hint or "")
