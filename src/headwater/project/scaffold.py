"""New projects: an empty one with a first model, or a copy of an example bundled with Headwater.

`headwater init` and `Project.init` create a folder here; reading it is the loader's job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from headwater.errors import UsageError
from headwater.project.definition import PROJECT_FILE

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
"""The example projects bundled with Headwater, one folder each."""


def create_project(path: str | Path, example: str | None = None) -> Path:
    """Create a new project at `path` (empty, or a copy of the bundled `example`) and return
    its folder.

    Raises:
        UsageError: `path` exists and is not empty, or there is no such example.
    """
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise UsageError(
            f"{target} already exists and is not empty",
            hint="choose a new folder name",
        )
    if example:
        _copy_example(example, target)
    else:
        name = target.resolve().name.replace("-", "_")
        for folder in ("models", "seeds"):
            (target / folder).mkdir(parents=True, exist_ok=True)
        (target / PROJECT_FILE).write_text(
            f"name: {name}\nwarehouse: warehouse\nthreads: 4\ndefaults:\n  materialized: table\n",
            encoding="utf-8",
        )
        (target / "models" / "example.sql").write_text("select 1 as id, 'hello' as greeting\n")
    (target / ".gitignore").write_text("warehouse/\n.headwater/\n", encoding="utf-8")
    return target


def _copy_example(example: str, target: Path) -> None:
    """Copy the bundled project `example` into `target`, without its built state."""
    source = EXAMPLES_DIR / example
    if not (source / PROJECT_FILE).is_file():
        known = sorted(p.name for p in EXAMPLES_DIR.iterdir() if (p / PROJECT_FILE).is_file())
        raise UsageError(f"no example named '{example}'", hint=f"examples: {', '.join(known)}")
    shutil.copytree(
        source,
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("warehouse", ".headwater", "__pycache__"),
    )
