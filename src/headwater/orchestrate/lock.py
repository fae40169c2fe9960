"""One run at a time per project: an exclusive lock on `.headwater/run.lock`.

The operating system releases the lock when the holder exits, even by SIGKILL, so a crashed run
never blocks the next one. A second run is refused before it writes anything, with the holder's
run id and pid in the message.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

from headwater.errors import Location, RunLockedError


class RunLock:
    """An exclusive, process-lifetime lock on a project's runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self, holder: dict[str, Any]) -> None:
        """Take the lock or raise `RunLockedError` naming who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read()
            handle.close()
            try:
                other = json.loads(text)
                who = f"run {other.get('run_id')} (pid {other.get('pid')}, started {other.get('started')})"
            except ValueError:
                who = "another run"
            raise RunLockedError(
                f"{who} is already running in this project; this run was not started",
                Location(file=str(self.path)),
                "wait for it to finish (see 'headwater runs'), then run again",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({**holder, "pid": os.getpid()}))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
