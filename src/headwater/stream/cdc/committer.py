"""Commit one micro-batch in the background while the next one is read.

A capture's time goes to two things that can overlap: reading and collapsing changes (Python,
holding the GIL) and merging them into the mirrors (delta-rs, which releases it). One commit
runs at a time, in order; the capture acknowledges a batch to its source only once its commit
has finished, so running it in the background changes when, never whether, a position is
acknowledged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundCommitter(Generic[T]):
    """Runs commit jobs one at a time on a thread of their own."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._result: T | None = None
        self._error: BaseException | None = None

    @property
    def busy(self) -> bool:
        """True while a commit job has been submitted and not yet collected by `wait`."""
        return self._thread is not None

    def submit(self, job: Callable[[], T]) -> None:
        """Start `job`; the previous job must have been collected with `wait` first."""
        assert self._thread is None, "collect the previous commit first"

        def run() -> None:
            try:
                self._result = job()
            except BaseException as exc:  # handed to the capture's thread by `wait`
                self._error = exc

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()

    def wait(self, tick: Callable[[], None] | None = None, every: float = 1.0) -> T | None:
        """Wait for the running job and return its result (None: no job was running),
        calling `tick` every `every` seconds meanwhile (to keep a connection alive).

        Raises:
            BaseException: whatever the job raised.
        """
        thread = self._thread
        if thread is None:
            return None
        thread.join(every)
        while thread.is_alive():
            if tick is not None:
                tick()
            thread.join(every)
        self._thread = None
        error, self._error = self._error, None
        result, self._result = self._result, None
        if error is not None:
            raise error
        return result
