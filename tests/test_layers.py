"""The layering contract (`.importlinter`, run by ./scripts/test.sh) holds, and it catches an
import that breaks it: upward, and sideways between two capabilities.

The wrong imports are made in a copy of the package, which `lint-imports` analyses in place of
the real one (the copy comes first on PYTHONPATH).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / ".importlinter")],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_parent,
        check=False,
    )


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package whose `module` (a path under headwater/) ends with `line`."""
    shutil.copytree(
        ROOT / "src" / "headwater",
        tmp_path / "headwater",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "examples"),
    )
    target = tmp_path / "headwater" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    return tmp_path


def test_the_package_keeps_its_layers() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # storage reaching up into the orchestrator
        (
            "storage/base.py",
            "import headwater.orchestrate.runner",
            "headwater.storage is not allowed to import headwater.orchestrate",
        ),
        # one capability importing another: what they share belongs in the build kernel
        (
            "transform/snapshot.py",
            "from headwater.ingest import state",
            "headwater.transform is not allowed to import headwater.ingest",
        ),
        # an import only for type checking counts too
        (
            "build/context.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import headwater.quality",
            "headwater.build is not allowed to import headwater.quality",
        ),
    ],
)
def test_a_wrong_import_fails_the_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    result = _lint(_copy_with(tmp_path, module, line))
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout


def test_every_package_has_a_layer() -> None:
    """A new package or top-level module outside the contract would escape it unchecked."""
    contract = (ROOT / ".importlinter").read_text()
    layered = set(re.findall(r"\bheadwater\.(\w+)", contract))
    source = ROOT / "src" / "headwater"
    present = {
        p.stem if p.is_file() else p.name
        for p in source.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert present - layered == set()


def test_the_architecture_page_names_modules_that_exist() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:\w+/)+\w+\.py)`", page)) | set(re.findall(r"`(\w+\.py)`", page))
    missing = sorted(n for n in named if not (ROOT / "src" / "headwater" / n).exists())
    assert named and missing == []
