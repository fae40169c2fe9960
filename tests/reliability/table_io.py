"""What the reliability tests' writer processes share: opening a warehouse by its location,
reading a snapshot's files and writing (id, val) rows as an engine would, and aiming a kill at
"the files are in the warehouse, the log entry is not".

The writers run as scripts (`python storage_writer.py ...`), so this module imports only
Headwater and the libraries it uses, never pytest.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from headwater.engine.base import WriteResult
from headwater.engine.duckdb import DuckDBSession
from headwater.storage.base import DataFile, Snapshot, TableRef
from headwater.storage.delta import DeltaStore
from headwater.storage.registry import open_store

Row = tuple[int, int]


def open_warehouse(location: str, scratch: Path | None = None) -> DeltaStore:
    """The store of the warehouse at `location`: a folder, or a URI (`file:`, `s3:`) opened
    the way Headwater opens `warehouse:`, staging files in `scratch`."""
    if "://" not in location:
        return DeltaStore(Path(location))
    store = open_store(location, scratch or Path(location.replace("://", "_")))
    assert isinstance(store, DeltaStore), type(store)
    return store


def read_file_rows(store: DeltaStore, files: Sequence[DataFile]) -> list[list[Row]]:
    """The (id, val) rows of each of `files` (data files of a snapshot of `store`), read with
    pyarrow from local disk or through the store's object-storage filesystem."""
    access = store.object_store
    filesystem = access.arrow_filesystem() if access is not None else None
    out = []
    for file in files:
        path = file.path.split("://", 1)[1] if filesystem is not None else file.path
        table = pq.read_table(path, filesystem=filesystem, columns=["id", "val"])
        out.append(list(zip(*(table.column(c).to_pylist() for c in ("id", "val")), strict=True)))
    return out


def snapshot_rows(store: DeltaStore, snapshot: Snapshot) -> dict[int, int]:
    """The content of `snapshot` as id -> val."""
    return {i: v for rows in read_file_rows(store, snapshot.files) for i, v in rows}


def write_rows(
    session: DuckDBSession, store: DeltaStore, ref: TableRef, tag: str, rows: Iterable[Row]
) -> WriteResult:
    """Write `rows` as BIGINT (id, val) Parquet files into a fresh folder of `ref`, the way an
    engine writes a model's output (none when there are no rows)."""
    data = sorted(rows)
    table = pa.table(
        {
            "id": pa.array([r[0] for r in data], pa.int64()),
            "val": pa.array([r[1] for r in data], pa.int64()),
        }
    )
    name = f"__hw_rows_{tag.replace('-', '_')}"
    connection = session.connection
    connection.register(name, table)
    try:
        return session.write_parquet(f"SELECT id, val FROM {name}", store.new_file_dir(ref, tag))
    finally:
        connection.unregister(name)


def kill_before_log_write() -> None:
    """Make this process SIGKILL itself at its next Delta log write, after the store has put
    the commit's data files in the warehouse (uploaded them, on S3): files there, no version
    naming them."""
    import deltalake
    import deltalake.transaction

    def die(*_: Any, **__: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    deltalake.transaction.create_table_with_add_actions = die  # type: ignore[assignment]
    deltalake.DeltaTable.create_write_transaction = die  # type: ignore[method-assign]
