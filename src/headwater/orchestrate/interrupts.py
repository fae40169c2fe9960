"""Stopping engine work that must stop: a build past its timeout, and every build on Ctrl-C.

One watchdog thread per run interrupts the engine sessions of the builds that must end, again
and again (an engine ignores an interrupt while no query runs) until each build has given up.
Ctrl-C's handler only sets flags: nothing new starts, the watchdog interrupts the running
builds, and the run's own thread records the run interrupted at a safe point.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.engine.base import EngineSession

INTERRUPT_EVERY_S = 0.05
"""How often a build that must stop has its engine work interrupted, until it ends."""


@dataclass(eq=False)
class _Watched:
    """The engine session of one running build, and when its time is up."""

    session: EngineSession
    deadline: float | None
    """`time.monotonic()` past which the build has run too long (None: no timeout)."""
    expired: threading.Event
    """Set when the deadline passes: the build's publish then refuses to commit."""


class Watchdog:
    """Interrupts the engine sessions of the builds that must stop, from one thread per run.

    Close it (or leave its `with` block) when the run ends.
    """

    def __init__(self) -> None:
        self.interrupted = threading.Event()
        """Set by Ctrl-C (`interrupt_all`): running builds are interrupted and must not count
        as failures."""
        self._lock = threading.Lock()
        self._watched: list[_Watched] = []
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="hw-watchdog", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watching(
        self, session: EngineSession, timeout_s: float | None, expired: threading.Event
    ) -> Iterator[None]:
        """While the block runs a build in `session`, interrupt it after Ctrl-C, and once
        `timeout_s` seconds have passed (setting `expired` first). Once the block has ended
        the session is interrupted no more, so what follows a build that landed its commit
        runs undisturbed."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        watched = _Watched(session, deadline, expired)
        with self._lock:
            self._watched.append(watched)
        self._wake.set()
        try:
            yield
        finally:
            # taken while the watchdog interrupts: an interrupt under way ends before this
            with self._lock:
                self._watched.remove(watched)

    def interrupt_all(self) -> None:
        """Interrupt every running build now and until it ends (Ctrl-C). It only sets flags,
        so a signal handler may call it."""
        self.interrupted.set()
        self._wake.set()

    def close(self) -> None:
        """Stop the watchdog's thread."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _loop(self) -> None:
        while True:
            self._wake.clear()  # before looking: a wake-up from now on is not lost
            with self._lock:
                if self._closed:
                    return
                timeout = self._interrupt_due(time.monotonic())
            self._wake.wait(timeout)

    def _interrupt_due(self, now: float) -> float | None:
        """Interrupt the sessions that must stop at `now`; return the seconds until one may
        have to (None: not until a build starts or Ctrl-C)."""
        everything = self.interrupted.is_set()
        interrupting = False
        deadlines: list[float] = []
        for watched in self._watched:
            expired = watched.deadline is not None and watched.deadline <= now
            if expired:
                watched.expired.set()
            if expired or everything:
                watched.session.interrupt()
                interrupting = True
            elif watched.deadline is not None:
                deadlines.append(watched.deadline)
        if interrupting:
            return INTERRUPT_EVERY_S
        return min(deadlines) - now if deadlines else None


@contextlib.contextmanager
def ctrl_c_stops(
    run_id: str, watchdog: Watchdog, stop: threading.Event, *, owns_stop: bool
) -> Iterator[None]:
    """While the run is recorded running, make Ctrl-C stop it at a safe point.

    The first Ctrl-C only sets flags: nothing new starts (`stop`), and the watchdog interrupts
    the running engine work until every build has ended; the run's own thread then records the
    run interrupted and raises `RunInterrupted`. The handler raises nothing itself, so no
    catalog transaction is broken off halfway. A second Ctrl-C ends the process at once (exit
    code 130), for a build blocked where the engine cannot interrupt it (reading a pipe): the
    run is left recorded running, and the next run settles it as a dead run (its liveness
    file's lock went with the process).

    Only where Python's own SIGINT handling is in place and the run owns its stop event
    (`owns_stop`): a scheduler handles SIGINT its own way (the running builds finish).
    """
    if (
        not owns_stop
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if watchdog.interrupted.is_set():
            _say(
                f"Forced to stop: run {run_id} ended at once; the next run settles what "
                f"it left (resume it with 'headwater run --resume {run_id}')."
            )
            os._exit(130)
        watchdog.interrupt_all()
        stop.set()
        _say(
            "Stopping: the running builds are being interrupted and nothing new starts "
            "(press Ctrl-C again to force quit)."
        )

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _say(line: str) -> None:
    """Write a line to stderr from a signal handler (unbuffered: the handler may have
    interrupted a write to a buffered stream)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(OSError):
        os.write(2, f"\n{line}\n".encode())
