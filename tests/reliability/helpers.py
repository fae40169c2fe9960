"""Shared pieces of the reliability tests: content checksums, oracles and subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from headwater.engine.duckdb import DuckDBEngine
from headwater.storage.base import Snapshot, TableRef
from headwater.storage.delta import DeltaStore

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
HEADWATER = [PYTHON, "-m", "headwater.cli.main"]

Checksum = tuple[int, int]
"""(row count, order-independent hash of the rows)."""


def size(regular: int, slow: int, slow_tier: bool) -> int:
    """The scaled-down or the full size of a reliability test."""
    return slow if slow_tier else regular


def checksum_sql(relation: str, columns: Sequence[str]) -> str:
    cols = ", ".join(f'CAST("{c}" AS BIGINT)' for c in columns)
    return (
        f"SELECT count(*) AS n, "
        f"coalesce(sum(hash({cols})::HUGEINT), 0) % 18446744073709551557 AS h FROM {relation}"
    )


class Reader:
    """Reads tables through Headwater's read path: a snapshot from storage, scanned by DuckDB."""

    def __init__(self) -> None:
        self.engine = DuckDBEngine(threads=1)
        self.session = self.engine.session()

    def close(self) -> None:
        self.engine.close()

    def register(self, snapshot: Snapshot) -> str:
        self.session.register_table(snapshot.ref, snapshot)
        return f'"{snapshot.ref.namespace}"."{snapshot.ref.name}"'

    def checksum(self, snapshot: Snapshot, columns: Sequence[str]) -> Checksum:
        row = self.session.query(checksum_sql(self.register(snapshot), columns)).to_pylist()[0]
        return int(row["n"]), int(row["h"])

    def rows(self, snapshot: Snapshot, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        cols = ", ".join(f'"{c}"' for c in columns)
        table = self.session.query(f"SELECT {cols} FROM {self.register(snapshot)} ORDER BY {cols}")
        return [tuple(r.values()) for r in table.to_pylist()]

    def oracle_checksum(self, rows: Iterable[tuple[Any, ...]], columns: Sequence[str]) -> Checksum:
        """The checksum of `rows` computed the same way as a table's."""
        data = list(rows)
        arrays = [pa.array([r[i] for r in data], type=pa.int64()) for i in range(len(columns))]
        self.session.connection.register("__hw_oracle", pa.table(arrays, names=list(columns)))
        row = self.session.query(checksum_sql("__hw_oracle", columns)).to_pylist()[0]
        return int(row["n"]), int(row["h"])


def table_checksum(
    store: DeltaStore,
    ref: TableRef,
    columns: Sequence[str],
    reader: Reader,
    version: int | None = None,
) -> Checksum | None:
    """The checksum of `ref` (at `version`), or None when the table does not exist yet."""
    if store.current_version(ref) is None:
        return None
    return reader.checksum(store.snapshot(ref, version=version), columns)


def kill(process: subprocess.Popen[Any]) -> None:
    """SIGKILL a child we started (no-op if it already exited) and reap it."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=600)


def start(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """Start a child process with captured output."""
    return subprocess.Popen(
        list(args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for(predicate: Any, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
