"""A built copy of the e-commerce example, shared by the UI tests of one module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater import Project


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The example after three runs: day 1, day 2 (new versions), a broken day 3 (failed)."""
    root = tmp_path_factory.mktemp("ui") / "shop"
    project = Project.init(root, example="ecommerce")
    assert project.run().status == "success"
    generate = [sys.executable, str(Path(project.root) / "generate.py")]
    subprocess.run([*generate, "--day", "2"], check=True, capture_output=True)
    project.reload()
    assert project.run().status == "success"
    subprocess.run([*generate, "--day", "3", "--broken"], check=True, capture_output=True)
    project.reload()
    assert project.run().status == "failed"
    yield project
    project.close()
