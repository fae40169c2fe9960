"""A stream's checkpoints: per micro-batch, the open windows, the source positions, the
watermark and the events set aside, written before the batch's Delta commit.

Batch `n` is committed when, and only when, the sink table's app transaction for the stream
says `n` (the Delta commit is the single atomic step). Its checkpoint files are written and
fsynced first, the manifest (`<n>.json`) last, so a manifest on disk always has its files. On
start the stream loads the checkpoint of the committed batch and deletes any later one (a
batch whose commit never landed, read again from the committed positions).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import Location, StorageError

if TYPE_CHECKING:
    import pyarrow as pa

START_FILE = "start.json"
KEEP = 2
"""Checkpoints kept behind the newest (the newest is all recovery needs)."""


@dataclass
class Checkpoint:
    """What a stream needs to resume after batch `batch`."""

    batch: int
    positions: dict[str, Any]
    watermark: int
    state: pa.Table | None = None
    rejected: pa.Table | None = None
    """The batch's quarantine rows, written to the quarantine table after the commit."""
    totals: dict[str, int] = field(default_factory=dict)
    """Running counts since the stream started (events read, rows written, late, ...)."""
    settings: str | None = None
    """A digest of the settings the open windows were kept under (window, watermark,
    lateness, emission): state kept under other settings cannot be carried on."""
    rewrite_until: int | None = None
    """After a reset: windows ending at or before this (µs) may already be in the table, so
    they are written by merge, not appended."""


class CheckpointStore:
    """The checkpoint folder of one stream."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def batches(self) -> list[int]:
        """The batch numbers with a complete checkpoint, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.json"):
            if path.stem.isdigit():
                found.append(int(path.stem))
        return sorted(found)

    def write(self, checkpoint: Checkpoint) -> None:
        """Write `checkpoint` durably (its data files, then its manifest)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{checkpoint.batch:012d}"
        files: dict[str, str] = {}
        for part, table in (("state", checkpoint.state), ("rejected", checkpoint.rejected)):
            if table is not None:
                name = f"{stem}.{part}.arrow"
                _write_arrow(self.folder / name, table)
                files[part] = name
        manifest = {
            "batch": checkpoint.batch,
            "positions": checkpoint.positions,
            "watermark": checkpoint.watermark,
            "totals": checkpoint.totals,
            "rewrite_until": checkpoint.rewrite_until,
            "settings": checkpoint.settings,
            "files": files,
        }
        write_atomically(self.folder / f"{stem}.json", json.dumps(manifest).encode())
        _fsync(self.folder)

    def read(self, batch: int) -> Checkpoint:
        """Return the checkpoint of `batch`.

        Raises:
            StorageError: it is missing or damaged.
        """
        path = self.folder / f"{batch:012d}.json"
        try:
            manifest = json.loads(path.read_text())
            files = manifest.get("files", {})
            return Checkpoint(
                batch=int(manifest["batch"]),
                positions=dict(manifest["positions"]),
                watermark=int(manifest["watermark"]),
                state=_read_arrow(self.folder / files["state"]) if "state" in files else None,
                rejected=(
                    _read_arrow(self.folder / files["rejected"]) if "rejected" in files else None
                ),
                totals={k: int(v) for k, v in manifest.get("totals", {}).items()},
                rewrite_until=manifest.get("rewrite_until"),
                settings=manifest.get("settings"),
            )
        except (OSError, ValueError, KeyError) as exc:
            raise StorageError(
                f"the checkpoint of committed batch {batch} cannot be read ({exc})",
                Location(file=str(path)),
                "the stream cannot resume exactly where it stopped; start it again from a "
                "chosen position with 'headwater stream reset NAME --to earliest|latest|TIME'",
            ) from None

    def discard_after(self, batch: int) -> None:
        """Delete checkpoints of batches after `batch` (attempts whose commit never landed)."""
        for path in self._files():
            number = _batch_of(path)
            if number is not None and number > batch:
                path.unlink(missing_ok=True)

    def prune(self, newest: int) -> None:
        """Delete checkpoints older than the `KEEP` before `newest`."""
        for path in self._files():
            number = _batch_of(path)
            if number is not None and number < newest - KEEP:
                path.unlink(missing_ok=True)

    def write_start(self, after_batch: int, positions: dict[str, Any]) -> None:
        """Record where a stream starting afresh (new, or reset) after batch `after_batch`
        starts reading, before it reads: a restart before its first commit starts there too,
        not wherever `start: latest` points by then."""
        self.folder.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"after_batch": after_batch, "positions": positions})
        write_atomically(self.folder / START_FILE, body.encode())
        _fsync(self.folder)

    def read_start(self, after_batch: int) -> dict[str, Any] | None:
        """The positions a fresh start after batch `after_batch` recorded (None: none)."""
        try:
            found = json.loads((self.folder / START_FILE).read_text())
            if int(found["after_batch"]) == after_batch:
                return dict(found["positions"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return None

    def clear_start(self) -> None:
        """Forget the fresh start's positions (its first batch is committed)."""
        (self.folder / START_FILE).unlink(missing_ok=True)

    def _files(self) -> list[Path]:
        return list(self.folder.iterdir()) if self.folder.is_dir() else []


def _batch_of(path: Path) -> int | None:
    head = path.name.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _write_arrow(path: Path, table: pa.Table) -> None:
    import pyarrow as pa

    temporary = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    _fsync(temporary)
    os.replace(temporary, path)


def _read_arrow(path: Path) -> pa.Table:
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file `path` with `data` in one step, on disk before the call returns: a
    reader (or a process killed meanwhile) finds the old content or the new, never part."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's (its entries') content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
