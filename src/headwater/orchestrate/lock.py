"""One run at a time per project: an exclusive lock on `.headwater/run.lock`.

The operating system releases the lock when the holder exits, even by SIGKILL, so a crashed run
never blocks the next one. A second run is refused before it writes anything, with the holder's
run id (once the holder knows it) and pid in the message.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from headwater.errors import Location, RunLockedError

HOLDER_READ_SECONDS = 0.5
"""How long a refused run waits for the holder's record (written just after it took the lock)."""


class RunLock:
    """An exclusive, process-lifetime lock on a project's runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._holder: dict[str, Any] = {}

    def acquire(self, holder: dict[str, Any]) -> None:
        """Take the lock or raise `RunLockedError` naming who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_holder(handle)
            handle.close()
            raise RunLockedError(
                f"{_describe(other)} is already running in this project; this run was not started",
                Location(file=str(self.path)),
                "wait for it to finish (see 'headwater runs'), then run again",
            ) from None
        self._handle = handle
        self._holder = {**holder, "pid": os.getpid()}
        self._write()

    def update(self, **fields: Any) -> None:
        """Add to the holder's record, e.g. the run id once the catalog assigned it."""
        if self._handle is None:
            return
        self._holder.update(fields)
        self._write()

    def _write(self) -> None:
        assert self._handle is not None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps(self._holder))
        self._handle.flush()

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _read_holder(handle: IO[str]) -> dict[str, Any] | None:
    """The holder's record; it may be a moment late, since it is written after the lock."""
    deadline = time.monotonic() + HOLDER_READ_SECONDS
    while True:
        handle.seek(0)
        try:
            record = json.loads(handle.read())
        except ValueError:
            record = None
        if isinstance(record, dict) or time.monotonic() >= deadline:
            return record if isinstance(record, dict) else None
        time.sleep(0.01)


def _describe(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "another run"
    details = ", ".join(
        f"{label} {holder[key]}"
        for key, label in (("pid", "pid"), ("started", "started"))
        if holder.get(key) is not None
    )
    command = holder.get("command") or "run"
    name = f"run {holder['run_id']}" if holder.get("run_id") else f"a 'headwater {command}'"
    return f"{name} ({details})" if details else name
