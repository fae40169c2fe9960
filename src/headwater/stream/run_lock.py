"""A stream's run lock: one process (or thread) at a time runs a stream, whichever command
started it (`headwater stream run`, `headwater run`, the scheduler), and a reset waits for none.

An exclusive `flock` on `run.lock` in the stream's checkpoint folder, holding the pid of its
holder, so that a second one is refused naming it; the lock dies with its process.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from headwater.errors import Location, RunLockedError

LOCK_FILE = "run.lock"


@contextmanager
def stream_lock(folder: Path, key: str) -> Iterator[None]:
    """Hold the run lock of the stream `key` (checkpoints in `folder`) while the block runs.

    Raises:
        RunLockedError: another process (or thread) runs the stream now.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            raise RunLockedError(
                f"stream {key} is already running"
                + (f" (pid {holder})" if holder is not None else ""),
                Location(file=str(path), asset=key),
                "stop it first (SIGTERM or Ctrl-C), or watch it with 'headwater stream status'",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def running_pid(folder: Path) -> int | None:
    """The pid of the process running the stream whose checkpoints are in `folder` (None:
    it is not running)."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(path) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
