"""Warnings for the files in a project folder that Headwater does not read.

A dbt `schema.yml`, a `tests/` folder or a sidecar without its model would otherwise be ignored
silently. Only Headwater's and dbt's folders (and dbt's files at the root) are looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

from headwater.project.definition import PROJECT_FILE, ProjectDefinition

IGNORED_FOLDERS = {"target", "dbt_packages", "dbt_modules", "logs", "node_modules", "__pycache__"}
"""Folders of generated files (dbt's build output, installed packages): never warned about."""
LOOKED_AT_FOLDERS = (
    "models",
    "seeds",
    "sources",
    "snapshots",
    "tests",
    "macros",
    "analyses",
    "metrics",
)
"""The folders looked in for files Headwater does not read: its own, and dbt's."""
ROOT_DBT_FILES = ("dbt_project", "profiles", "packages", "dependencies", "selectors")
"""dbt's project files, looked for at the project's root (as .yml or .yaml)."""


def unread_files(definition: ProjectDefinition) -> list[str]:
    """A warning for each YAML or SQL file in the project that Headwater does not read (a dbt
    `schema.yml`, `sources.yml` or `tests/` folder, a sidecar without its model), so nothing
    written there is silently ignored. Only Headwater's and dbt's folders and dbt's files at
    the root are looked at: a project's other files (CI, Docker, scripts, data) are its own."""
    root = definition.root
    read = {PROJECT_FILE, *definition.semantic.files}
    for asset in definition.assets.values():
        read.add(Path(asset.rel_path).as_posix())
        if asset.document is not None:
            read.add(Path(asset.document.path).as_posix())
    skipped = {definition.state_dir.resolve()}
    if definition.warehouse is not None:
        skipped.add(definition.warehouse.resolve())
    found = [
        f"{stem}{suffix}"
        for stem in ROOT_DBT_FILES
        for suffix in (".yml", ".yaml")
        if (root / f"{stem}{suffix}").is_file()
    ]
    for top in LOOKED_AT_FOLDERS:
        if not (root / top).is_dir() or (root / top).resolve() in skipped:
            continue
        for folder, dirs, files in os.walk(root / top):
            here = Path(folder)
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and d not in IGNORED_FOLDERS
                and (here / d).resolve() not in skipped
                and not (here / d / "pyvenv.cfg").exists()
            )
            found.extend(
                (here / name).relative_to(root).as_posix()
                for name in files
                if not name.startswith(".")
                and Path(name).suffix.lower() in (".yml", ".yaml", ".sql")
            )
    return [
        f"{rel} is not read by Headwater: {_why_unread(rel)}"
        for rel in sorted(found)
        if rel not in read and not _is_source_file(rel)
    ]


def _is_source_file(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 2 and parts[0] == "sources" and parts[1].endswith((".yml", ".yaml"))


def _why_unread(rel: str) -> str:
    """What to do about a file Headwater does not read."""
    parts = rel.split("/")
    name = parts[-1].lower()
    stem = name.rsplit(".", 1)[0]
    if parts[0] == "tests":
        return (
            "dbt's singular tests are not run yet; write the query as a `sql` check in the "
            "model's sidecar (see docs/quality.md)"
        )
    if stem in ("sources", "_sources") or stem.endswith("_sources"):
        return (
            "dbt source files are not read yet; declare each source in its own "
            "sources/<name>.yml (see docs/sources.md)"
        )
    if stem in ("schema", "_schema", "properties", "_models") or stem.endswith(
        ("_schema", "_models")
    ):
        return (
            "dbt schema files are not read yet; put each model's columns and checks in a "
            "sidecar named after its SQL file (models/orders.sql -> models/orders.yml, see "
            "docs/models.md)"
        )
    if stem in ("dbt_project", "profiles", "packages", "dependencies", "selectors"):
        return "dbt's project files are not read; Headwater's settings are in headwater.yml"
    if parts[0] == "sources":
        return "only files directly in sources/ are read, one source per file"
    if parts[0] == "snapshots":
        return (
            "dbt snapshots are not read; a snapshot is a model in models/ with "
            "'materialized: snapshot' in its sidecar (see docs/models.md)"
        )
    if parts[0] == "macros":
        return "dbt macros are not read; write the SQL into the models that use it"
    if parts[0] == "analyses":
        return "dbt analyses are not read; run the query with 'headwater query'"
    if parts[0] in ("models", "seeds") and name.endswith((".yml", ".yaml")):
        twin = "SQL file" if parts[0] == "models" else "CSV file"
        return (
            f"a sidecar is read only beside a {twin} of the same name (and .yml before "
            ".yaml); rename it to match, or remove it"
        )
    if name.endswith(".sql"):
        return "models are read from models/ only; move it there, or remove it"
    return "Headwater reads headwater.yml, sources/*.yml, models/ and seeds/; remove it"
