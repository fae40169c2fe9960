"""Shared pieces of the reliability tests: warehouses on local disk or on the test S3 server,
content checksums, oracles and subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.storage.base import Snapshot, TableRef
from headwater.storage.delta import DeltaStore
from tests.reliability.table_io import open_warehouse

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
HEADWATER = [PYTHON, "-m", "headwater.cli.main"]
LOG_DIR = "_delta_log"

WHERE = [pytest.param("local", id="local"), pytest.param("s3", id="s3")]
"""Parametrize a test over the two warehouses: `@pytest.mark.parametrize("where", WHERE)`."""

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
    """Reads a table's snapshot: the file list comes from the store (Headwater's read path);
    on local disk DuckDB scans the files as Headwater's engine does, on object storage pyarrow
    reads them through `filesystem` (an independent reader) and DuckDB computes the same sums.
    """

    def __init__(self, filesystem: Any = None) -> None:
        self.engine = DuckDBEngine(threads=1)
        self.session = self.engine.session()
        self.filesystem = filesystem
        """A pyarrow filesystem reaching `s3://` snapshot files as `bucket/key` (None: none)."""

    def close(self) -> None:
        self.engine.close()

    def register(self, snapshot: Snapshot) -> str:
        """Make `snapshot` a relation of the reader's session; return its name."""
        if not any("://" in f.path for f in snapshot.files):
            self.session.register_table(snapshot.ref, snapshot)
            return f'"{snapshot.ref.namespace}"."{snapshot.ref.name}"'
        assert self.filesystem is not None, "a snapshot on object storage needs a filesystem"
        tables = [
            pq.read_table(f.path.split("://", 1)[1], filesystem=self.filesystem).cast(
                snapshot.schema
            )
            for f in snapshot.files
        ]
        name = f"__hw_snapshot_{snapshot.ref.namespace}_{snapshot.ref.name}"
        self.session.connection.register(name, pa.concat_tables(tables))
        return f'"{name}"'

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


@dataclass
class Warehouse:
    """Where a reliability test keeps its tables: a folder on local disk, or a bucket on the
    test S3 server. Writers in subprocesses open it by `location` (with `scratch` for staged
    files and `env` in their environment); the test checks it with readers of its own."""

    kind: str
    """"local" or "s3"."""
    location: str
    """What `open_warehouse` (and a writer's command line) takes: a folder or `s3://...`."""
    scratch: Path
    env: dict[str, str] = field(default_factory=dict)
    endpoint: str | None = None

    def store(self) -> DeltaStore:
        """A store of the warehouse, opened as Headwater opens `warehouse:`."""
        return open_warehouse(self.location, self.scratch)

    def writer_args(self) -> list[str]:
        """The warehouse as the writer scripts take it: location, then `--scratch DIR`."""
        return [self.location, "--scratch", str(self.scratch)]

    def filesystem(self) -> Any:
        """A pyarrow filesystem of the warehouse's files, made here from the test server's
        address (not the store's): paths are `bucket/key` on S3, absolute on local disk."""
        from pyarrow import fs

        if self.kind == "local":
            return fs.LocalFileSystem()
        assert self.endpoint is not None
        return fs.S3FileSystem(
            access_key=self.env["AWS_ACCESS_KEY_ID"],
            secret_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region=self.env["AWS_REGION"],
            endpoint_override=self.endpoint,
            scheme="http",
        )

    def reader(self) -> Reader:
        """A reader of this warehouse's snapshots."""
        return Reader(self.filesystem() if self.kind == "s3" else None)

    def table_path(self, ref: TableRef) -> str:
        """The table's folder as `filesystem()` names it."""
        root = self.location.split("://", 1)[1] if self.kind == "s3" else self.location
        return f"{root.rstrip('/')}/{ref.namespace}/{ref.name}"

    def data_files(self, ref: TableRef) -> set[str]:
        """Every file of the table outside its log, relative to the table's folder."""
        from pyarrow import fs

        root = self.table_path(ref)
        infos = self.filesystem().get_file_info(
            fs.FileSelector(root, recursive=True, allow_not_found=True)
        )
        return {
            info.path[len(root) + 1 :]
            for info in infos
            if info.type == fs.FileType.File
            and not info.path[len(root) + 1 :].startswith(f"{LOG_DIR}/")
        }

    def commit(self, ref: TableRef, version: int) -> list[dict[str, Any]]:
        """The actions of the table's JSON commit `version`, read straight from the log."""
        path = f"{self.table_path(ref)}/{LOG_DIR}/{version:020d}.json"
        with self.filesystem().open_input_stream(path) as stream:
            text = stream.read().decode("utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def warehouse_for(where: str, tmp_path: Path, request: pytest.FixtureRequest) -> Warehouse:
    """The warehouse a test parametrized with `WHERE` runs on: a folder under `tmp_path`, or
    a fresh bucket on the session's S3 server (the `s3_bucket` fixture)."""
    scratch = tmp_path / "stage"
    if where == "local":
        return Warehouse("local", str(tmp_path / "warehouse"), scratch)
    bucket = request.getfixturevalue("s3_bucket")
    return Warehouse("s3", bucket.warehouse, scratch, bucket.environment(), bucket.server.endpoint)
