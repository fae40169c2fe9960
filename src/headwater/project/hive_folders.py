"""Which `key=value` folders in a file's path are the project's data layout.

Below the project folder, `key=value` folders are the user's layout: `data/dt=2024-05-01/
orders.csv` gives a `dt` column, as Spark and DuckDB read a partitioned folder. Above it they are
only where the project happens to live (`/data/env=prod/shop`) and must never become columns.
DuckDB's own hive partitioning reads every such folder of the absolute path, so Headwater turns
it off for files in the project and adds the columns of the folders below the project itself,
typed as DuckDB types them (a whole number, a date, a timestamp, else text).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

_WHOLE = re.compile(r"-?[1-9][0-9]*|0")
_INT64 = 2**63


@dataclass(frozen=True)
class HiveFolders:
    """How to read one file: whether the reader's own hive partitioning is on, and the columns
    the `key=value` folders below the project add."""

    partitioning: bool | None
    """`hive_partitioning` for the reader; None leaves DuckDB to detect it (a file outside
    the project, read as before)."""
    columns: tuple[tuple[str, str], ...] = ()
    """(name, SQL value) of each column a folder below the project adds, outermost first."""


def _typed(value: str) -> str:
    """`value` as the SQL literal of the type DuckDB's hive partitioning gives it."""
    from headwater.sqltext import literal

    if _WHOLE.fullmatch(value) and -_INT64 <= int(value) < _INT64:
        return f"CAST({value} AS BIGINT)"
    try:
        if dt.date.fromisoformat(value).isoformat() == value:
            return f"DATE {literal(value)}"
    except ValueError:
        pass
    try:
        if str(dt.datetime.fromisoformat(value)) == value:
            return f"TIMESTAMP {literal(value)}"
    except ValueError:
        pass
    return literal(value)


def hive_folders(path: str | Path, root: Path) -> HiveFolders:
    """How to read the file at `path` of the project at `root`: the reader's hive partitioning
    off, and a column for each `key=value` folder between the project and the file (the
    innermost wins for a key written twice)."""
    file = Path(os.path.abspath(path))
    try:
        below = file.parent.relative_to(Path(os.path.abspath(root))).parts
    except ValueError:
        return HiveFolders(None)
    columns: dict[str, str] = {}
    for part in below:
        key, equals, value = part.partition("=")
        if equals and key:
            columns.pop(key, None)
            columns[key] = _typed(urllib.parse.unquote(value))
    return HiveFolders(False, tuple(columns.items()))


def reader_option(folders: HiveFolders) -> list[str]:
    """The reader option saying how to read `key=value` folders (none: DuckDB detects)."""
    if folders.partitioning is None:
        return []
    return [f"hive_partitioning = {'true' if folders.partitioning else 'false'}"]


def select_list(folders: HiveFolders) -> str:
    """The file's columns and those of its folders below the project; a folder's value
    replaces a column of the file with the same name, as hive partitioning does."""
    if not folders.columns:
        return "*"
    from headwater.sqltext import identifier, literal

    names = ", ".join(literal(name) for name, _ in folders.columns)
    added = ", ".join(f"{value} AS {identifier(name)}" for name, value in folders.columns)
    return f"COLUMNS(lambda c: c NOT IN ({names})), {added}"
