"""Read a stream's source one micro-batch ahead, in a thread of its own.

While the stream decodes, windows and commits one batch, the next is being fetched (a Kafka
fetch, a Redis read, a file read and the events' generation mostly run outside the GIL), so
the two overlap on two cores. At most one polled batch waits beside the one being processed:
memory stays bounded.

The source itself is only ever called from the reading thread once reading started, so a
source need not be thread-safe: `acknowledge` is handed to that thread, which applies it
before its next poll. It still comes only after the commit it follows, as the protocol wants;
the source may just hear of it a poll later.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from headwater.ingest.event_sources import EventBatch, EventSource, Positions

_LOG = logging.getLogger(__name__)
POLL_WAIT_S = 0.2
"""How long one poll of the reading thread waits for events (and so how soon it notices a
stop, or an acknowledgement to pass on)."""


@dataclass(frozen=True)
class _Polled:
    batch: EventBatch | None
    caught_up: bool


class ReadAhead:
    """An event source read ahead by a thread; it offers what a stream's loop needs of one."""

    def __init__(self, source: EventSource, batch_events: int) -> None:
        self.source = source
        self.batch_events = batch_events
        self._ready: queue.Queue[_Polled | BaseException] = queue.Queue(maxsize=1)
        self._held: _Polled | None = None
        self._acks: list[Positions] = []
        self._acks_lock = threading.Lock()
        self._stop = threading.Event()
        self._caught_up = False
        self._thread = threading.Thread(target=self._read, name="hw-stream-read", daemon=True)
        self._thread.start()

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """The next polled batch, waiting up to `timeout_s`; None when none came, or when the
        next one holds more than `max_events` (it stays next: see `waiting`).

        Raises:
            Exception: whatever the source raised while reading.
        """
        item = self._held
        if item is None:
            try:
                found = self._ready.get(timeout=max(timeout_s, 0.0))
            except queue.Empty:
                return None
            if isinstance(found, BaseException):
                raise found
            item = found
        if item.batch is not None and item.batch.events.num_rows > max_events:
            self._held = item
            return None
        self._held = None
        self._caught_up = item.caught_up
        return item.batch

    def waiting(self) -> int:
        """Events of a batch polled and set aside for the next micro-batch (0: none)."""
        held = self._held
        return 0 if held is None or held.batch is None else held.batch.events.num_rows

    def caught_up(self) -> bool:
        """True when the last batch handed out left the source caught up and nothing read
        since waits."""
        return self._caught_up and self._held is None and self._ready.empty()

    def acknowledge(self, positions: Positions) -> None:
        """Pass `positions` on to the source before its next poll."""
        with self._acks_lock:
            self._acks.append(positions)

    def close(self) -> None:
        """Stop reading (events read and not handed out are read again next time), pass on
        the last acknowledgement, and close the source."""
        self._stop.set()
        self._thread.join()
        try:
            self._pass_acknowledgements()
        except Exception as exc:  # committed already: the source hears of it on its next run
            _LOG.warning("the last acknowledgement did not reach the source: %s", exc)
        self.source.close()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                self._pass_acknowledgements()
                batch = self.source.poll(self.batch_events, POLL_WAIT_S)
                item = _Polled(batch, self.source.caught_up())
                while not self._stop.is_set():
                    try:
                        self._ready.put(item, timeout=POLL_WAIT_S)
                        break
                    except queue.Full:
                        self._pass_acknowledgements()
        except BaseException as exc:  # handed to the stream's loop, which stops on it
            self._hand_over(exc)

    def _hand_over(self, exc: BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._ready.put(exc, timeout=POLL_WAIT_S)
                return
            except queue.Full:
                continue

    def _pass_acknowledgements(self) -> None:
        with self._acks_lock:
            pending, self._acks = self._acks, []
        if pending:
            self.source.acknowledge(pending[-1])  # the latest covers the ones before it
