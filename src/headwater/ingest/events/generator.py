"""Synthetic events, deterministic by seed, for examples and benchmarks (`kind: generator`).

Events are numbered from 0. Event `n` is generated from the block of `BLOCK` events holding it,
whose random numbers come from a generator seeded by (seed, block), so the events after any
position are the same however the stream's micro-batches fell before a crash. Without `rate`,
event `n` happens `n * spacing` after `start_time`, minus a delay for the late share; with
`rate`, events are produced in wall-clock time at that rate and stamped with the clock.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from headwater.ingest.event_sources import (
    EventBatch,
    Positions,
    SourceContext,
    register_event_source,
)
from headwater.project.streams import GeneratorSource
from headwater.project.strict import duration_seconds

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

BLOCK = 1 << 16
POSITION = "generator"
KINDS = ("page_view", "add_to_cart", "purchase")
KIND_WEIGHTS = (0.85, 0.12, 0.03)


class GeneratorEventSource:
    """Reads events made up on the spot (see the module docstring)."""

    def __init__(self, context: SourceContext) -> None:
        settings = context.config.source
        assert isinstance(settings, GeneratorSource)
        self.settings = settings
        self._next = 0
        self._drained = False
        self._started = time.monotonic()
        self._produced_at_open = 0
        start = dt.datetime.fromisoformat(settings.start_time)
        if start.tzinfo is not None:
            start = start.astimezone(dt.UTC).replace(tzinfo=None)
        self._start_us = int((start - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
        self._spacing_us = duration_seconds(settings.spacing) * 1_000_000
        self._max_delay_us = duration_seconds(settings.max_delay) * 1_000_000

    def open(self, positions: Positions | None) -> None:
        """Start after `positions` (None: at event 0)."""
        self._next = int((positions or {}).get(POSITION, 0))
        self._started = time.monotonic()
        self._produced_at_open = self._next

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return up to `max_events` events (in rate mode, those due by now; waiting up to
        `timeout_s` for the first)."""
        count = self._available(max_events)
        if count == 0 and self.settings.rate is not None and timeout_s > 0:
            time.sleep(min(timeout_s, 1 / self.settings.rate))
            count = self._available(max_events)
        if count == 0:
            return None
        table = self._events(self._next, count)
        self._next += count
        self._drained = count < max_events
        return EventBatch(table, {POSITION: self._next}, {POSITION: self._remaining()})

    def positions(self) -> Positions:
        """The number of the next event."""
        return {POSITION: self._next}

    def acknowledge(self, positions: Positions) -> None:
        """Nothing to release: generated events are made again on demand."""

    def caught_up(self) -> bool:
        """True when every event made so far has been read: all of a bounded generator's,
        those due by the last poll of one with a `rate`; an unbounded generator without a
        rate has always just been read up to now."""
        if self.settings.rate is not None:
            return self._drained or self._available(1) == 0
        total = self.settings.events
        return total is None or self._next >= total

    def close(self) -> None:
        """Nothing to close."""

    def _available(self, limit: int) -> int:
        total = self.settings.events
        due = total if total is not None else self._next + limit
        if self.settings.rate is not None:
            elapsed = time.monotonic() - self._started
            by_now = self._produced_at_open + int(elapsed * self.settings.rate)
            due = by_now if total is None else min(due, by_now)
        return max(0, min(limit, due - self._next))

    def _remaining(self) -> int | None:
        total = self.settings.events
        return None if total is None else total - self._next

    def _events(self, first: int, count: int) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        parts = []
        block = first // BLOCK
        end = first + count
        while block * BLOCK < end:
            lo = max(first, block * BLOCK) - block * BLOCK
            hi = min(end, (block + 1) * BLOCK) - block * BLOCK
            parts.append(self._block(block, lo, hi))
            block += 1
        seq = np.arange(first, end, dtype=np.int64)
        keys, values, late, delays, kinds, amounts = (
            np.concatenate([p[i] for p in parts]) for i in range(6)
        )
        if self.settings.rate is None:
            times = self._start_us + (seq * self._spacing_us).astype(np.int64)
        else:
            now_us = int(time.time() * 1_000_000)
            times = np.full(count, now_us, dtype=np.int64)
        times = times - np.where(late, delays, 0).astype(np.int64)
        kind_dictionary = pa.array(KINDS, pa.string())
        return pa.table(
            {
                "event_time": pa.array(times, pa.timestamp("us")),
                "key": pa.array(keys),
                "value": pa.array(values),
                "kind": pa.DictionaryArray.from_arrays(pa.array(kinds), kind_dictionary),
                "amount": pa.array(amounts),
            }
        )

    def _block(self, block: int, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        import numpy as np

        rng = np.random.default_rng([self.settings.seed, block])
        keys = rng.integers(0, self.settings.keys, BLOCK, dtype=np.int64)
        values = rng.random(BLOCK)
        late = rng.random(BLOCK) < self.settings.late_fraction
        delays = rng.random(BLOCK) * self._max_delay_us
        kinds = rng.choice(len(KINDS), BLOCK, p=KIND_WEIGHTS).astype(np.int8)
        amounts = np.where(kinds == 2, np.round(values * 200, 2), 0.0)
        return tuple(a[lo:hi] for a in (keys, values, late, delays, kinds, amounts))


register_event_source("generator", GeneratorEventSource)
