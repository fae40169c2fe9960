"""The log lines of each asset build, captured per worker thread for the catalog.

Headwater's modules log through `logging.getLogger("headwater....")`. One handler on the
`headwater` logger appends each record to the buffer of the thread that emitted it, when that
thread is building an asset; the runner keeps the lines with the attempt (`headwater runs show`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_LINES = 500
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PerThread(logging.Handler):
    """Routes records to the buffer registered by the emitting thread (if any)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.buffers: dict[int, list[str]] = {}
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        buffer = self.buffers.get(threading.get_ident())
        if buffer is not None and len(buffer) < MAX_LINES:
            buffer.append(self.format(record))


_HANDLER = _PerThread()
_INSTALL_LOCK = threading.Lock()


def _install() -> None:
    with _INSTALL_LOCK:
        logger = logging.getLogger("headwater")
        if _HANDLER in logger.handlers:
            return
        logger.addHandler(_HANDLER)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)


@contextmanager
def captured() -> Iterator[list[str]]:
    """Collect the log lines this thread emits inside the block."""
    _install()
    lines: list[str] = []
    ident = threading.get_ident()
    _HANDLER.buffers[ident] = lines
    try:
        yield lines
    finally:
        _HANDLER.buffers.pop(ident, None)
