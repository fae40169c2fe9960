"""Which `key=value` folders in a file's path are the project's data layout.

DuckDB's readers turn every `key=value` folder in a file's path into a column (hive
partitioning). Below the project folder such folders are the user's layout
(`data/dt=2024-05-01/orders.csv` gives a `dt` column, as in Spark); above it they are where the
project happens to live (`/data/env=prod/shop`) and must not become columns of its tables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HiveFolders:
    """How to read one file: whether to read `key=value` folders as columns, and which of the
    columns that gives to drop again (those of folders at or above the project)."""

    partitioning: bool | None
    """`hive_partitioning` for the reader; None leaves DuckDB to detect it (a file outside
    the project, read as before)."""
    drop: tuple[str, ...] = ()


def _keys(parts: tuple[str, ...]) -> list[str]:
    return [part.split("=", 1)[0] for part in parts if "=" in part and not part.startswith("=")]


def hive_folders(path: str | Path, root: Path) -> HiveFolders:
    """How to read the file at `path` of the project at `root`; returns whether `key=value`
    folders below the project become columns and which columns from folders above it to drop."""
    file = Path(os.path.abspath(path))
    base = Path(os.path.abspath(root))
    try:
        below = file.parent.relative_to(base).parts
    except ValueError:
        return HiveFolders(None)
    mine = _keys(below)
    if not mine:
        return HiveFolders(False)
    above = [key for key in _keys(base.parts) if key not in mine]
    return HiveFolders(True, tuple(dict.fromkeys(above)))


def reader_option(folders: HiveFolders) -> list[str]:
    """The reader option saying how to read `key=value` folders (none: DuckDB detects)."""
    if folders.partitioning is None:
        return []
    return [f"hive_partitioning = {'true' if folders.partitioning else 'false'}"]


def select_list(folders: HiveFolders) -> str:
    """`*`, without the columns of `key=value` folders at or above the project."""
    if not folders.drop:
        return "*"
    from headwater.sqltext import column_list

    return f"* EXCLUDE ({column_list(list(folders.drop))})"
