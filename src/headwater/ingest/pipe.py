"""Stream bytes from a producer into a reader that wants a path, without a copy on disk.

PostgreSQL's COPY writes rows to a stream while DuckDB's CSV reader reads from a path: a named
pipe between them lets both run at once, so a table is parsed while the server still sends it
and no CSV file of the whole table is ever written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")
PIPE_POLL_SECONDS = 0.005


def through_pipe(
    folder: Path, produce: Callable[[BinaryIO], None], consume: Callable[[Path], T]
) -> T:
    """Stream what `produce` writes into `consume`, which reads it from a path: a named pipe,
    so that both run at once (PostgreSQL makes rows while DuckDB parses and writes them) and no
    copy of the data lands on disk. A failure on either side ends the other and is raised."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"copy-{uuid.uuid4().hex[:12]}.csv"
    if not hasattr(os, "mkfifo"):  # no named pipes: a file, written then read
        with open(path, "wb") as out:
            produce(out)
        return consume(path)
    os.mkfifo(path)
    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            outcome["value"] = consume(path)
        except BaseException as exc:
            outcome["error"] = exc

    reader = threading.Thread(target=read, name="hw-copy-reader", daemon=True)
    reader.start()
    try:
        descriptor = _open_writer(path, reader)
        if descriptor is not None:
            # the reader stopping early breaks the pipe; its own error is raised below
            with contextlib.suppress(BrokenPipeError), os.fdopen(descriptor, "wb") as out:
                produce(out)
    finally:
        reader.join()
        path.unlink(missing_ok=True)
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["value"]
    return result


def _open_writer(path: Path, reader: threading.Thread) -> int | None:
    """Open the pipe for writing once the reader has opened it (None if the reader ended
    first); opening a pipe blocks until both ends are open, so it is tried without blocking."""
    while True:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            if not reader.is_alive():
                return None
            time.sleep(PIPE_POLL_SECONDS)
            continue
        os.set_blocking(descriptor, True)
        return descriptor
