"""The table lists of sql sources that load a whole schema (`include: ['*']`).

Which tables a database holds is known only by asking it, and the project loader never connects
to anything: the list is kept in `.headwater/discovered/<source>.json`, written by the Python API
(`Project.discover`, run on first use and by every `ingest` and `run`), and read here. A list
made for other settings (another URL, schema or patterns) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from headwater.project.sources import SourceConfig

FOLDER = "discovered"
_UNSAFE = re.compile(r"[^a-z0-9_]")


def discovered_path(state_dir: Path, source: str) -> Path:
    """Where the table list of `source` is kept."""
    return state_dir / FOLDER / f"{source}.json"


def signature(source: SourceConfig) -> str:
    """What a table list depends on: the URL (as written, secrets unresolved), schema and
    patterns."""
    parts = [source.url or "", source.schema_name or "", *source.include, "|", *source.exclude]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def read_discovered(state_dir: Path, name: str, source: SourceConfig) -> list[str] | None:
    """The database tables last listed for source `name`, or None when never listed (or
    listed for other settings)."""
    try:
        data = json.loads(discovered_path(state_dir, name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("signature") != signature(source):
        return None
    tables = data.get("tables")
    return [str(t) for t in tables] if isinstance(tables, list) else None


def write_discovered(state_dir: Path, name: str, source: SourceConfig, tables: list[str]) -> bool:
    """Keep `tables` as the table list of source `name`; return whether it changed."""
    if read_discovered(state_dir, name, source) == sorted(tables):
        return False
    path = discovered_path(state_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"signature": signature(source), "tables": sorted(tables)}))
    os.replace(tmp, path)
    return True


def asset_name(table: str) -> str:
    """The asset name for a database table: lower case, other characters as `_`."""
    name = _UNSAFE.sub("_", table.lower()) or "_"
    return f"t_{name}" if name[0].isdigit() else name
