"""The documentation is part of the contract: every config key and CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from headwater.cli.main import main
from headwater.project.config import ModelConfig, ProjectConfig, SeedConfig
from headwater.project.sources import SourceConfig

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = field.annotation
        inner = [a for a in getattr(nested, "__args__", ()) if isinstance(a, type)]
        for candidate in [nested, *inner]:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys.extend(_keys(candidate, f"{key}."))
                break
        else:
            keys.append(key)
    return keys


@pytest.mark.parametrize(
    "key",
    sorted(
        {*_keys(ProjectConfig), *_keys(ModelConfig), *_keys(SeedConfig)}
        - {"columns"}  # documented as a list of {name, description, type, tags}
    ),
)
def test_every_config_key_is_documented(key: str) -> None:
    text = (DOCS / "project.md").read_text()
    leaf = key.rsplit(".", maxsplit=1)[-1]
    assert f"`{key}`" in text or f"`{leaf}`" in text, f"{key} missing from docs/project.md"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix}{name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix}{name} "))
    return names


@pytest.mark.parametrize("command", _commands(main))
def test_every_command_is_documented(command: str) -> None:
    assert f"headwater {command}" in (DOCS / "cli.md").read_text()


@pytest.mark.parametrize("key", sorted(set(_keys(SourceConfig)) - {"tables"}))
def test_every_source_key_is_documented(key: str) -> None:
    text = (DOCS / "sources.md").read_text()
    leaf = key.rsplit(".", maxsplit=1)[-1]
    assert f"`{key}`" in text or f"`{leaf}`" in text, f"{key} missing from docs/sources.md"


def test_every_source_table_key_is_documented() -> None:
    from headwater.project.sources import Pagination, TableConfig

    text = (DOCS / "sources.md").read_text()
    missing = [
        k
        for k in {*_keys(TableConfig), *_keys(Pagination)}
        if f"`{k}`" not in text and f"`{k.rsplit('.', 1)[-1]}`" not in text
    ]
    assert missing == []
