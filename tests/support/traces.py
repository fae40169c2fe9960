"""Searching files for what an erasure must have removed: an independent check, written
without Headwater's own code."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow.parquet as pq


def traces(
    folders: Iterable[Path], secrets: Sequence[str], keys: dict[str, object] | None = None
) -> list[str]:
    """Every place under `folders` still holding one of `secrets` (text) or, in a Parquet
    column named as a key of `keys`, that key's value: a file's raw bytes, a Parquet file's
    decoded values and its footer's min/max statistics."""
    found: list[str] = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            found += [f"{path}: bytes" for s in secrets if s.encode() in data]
            if path.suffix != ".parquet":
                continue
            parquet = pq.ParquetFile(path)
            table = parquet.read()
            text = json.dumps(table.to_pylist(), default=str)
            found += [f"{path}: values" for s in secrets if s in text]
            for name, value in (keys or {}).items():
                if name in table.column_names and value in table.column(name).to_pylist():
                    found.append(f"{path}: {name}")
            metadata = parquet.metadata
            for group in range(metadata.num_row_groups):
                for index in range(metadata.num_columns):
                    stats = metadata.row_group(group).column(index).statistics
                    if stats is not None and stats.has_min_max:
                        bounds = f"{stats.min!r} {stats.max!r}"
                        found += [f"{path}: footer" for s in secrets if s in bounds]
    return found
