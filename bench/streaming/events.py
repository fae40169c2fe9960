"""The benchmark's events, made with numpy: `event_time`, `key`, `value` as Arrow tables.

Throughput mode mirrors Headwater's generator (`src/headwater/ingest/events/generator.py`):
event `n` comes from the block of 65,536 events holding it, drawn from
`numpy.random.default_rng([seed, block])` in the same order (keys, values, late flags, delays),
and happens `n x spacing` after the start time, minus its delay when late. So the floor and
`source: {kind: generator}` see the same events and their windows can be compared row by row
(if the generator changes, the comparison still checks the totals). Latency mode stamps events
with the wall clock, as the generator's `rate` mode does.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

BLOCK = 1 << 16
START_TIME = "2026-01-01T00:00:00"
"""Event time of event 0 (UTC), the generator's default."""


@dataclass(frozen=True)
class Spec:
    """What the events look like: the workload's numbers by default."""

    seed: int = 42
    keys: int = 10_000
    spacing_s: float = 0.00001
    late_fraction: float = 0.05
    max_delay_s: float = 30.0
    start_time: str = START_TIME

    @property
    def start_us(self) -> int:
        """Event time of event 0 in microseconds since the epoch."""
        start = dt.datetime.fromisoformat(self.start_time)
        return int((start - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def _block(spec: Spec, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys, values and delays (0 when on time, in µs) of one block, as the generator draws."""
    import numpy as np

    rng = np.random.default_rng([spec.seed, block])
    keys = rng.integers(0, spec.keys, BLOCK, dtype=np.int64)
    values = rng.random(BLOCK)
    late = rng.random(BLOCK) < spec.late_fraction
    delays = rng.random(BLOCK) * (spec.max_delay_s * 1_000_000)
    return keys, values, np.where(late, delays, 0).astype(np.int64)


def _table(times_us: np.ndarray, keys: np.ndarray, values: np.ndarray) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "event_time": pa.array(times_us, pa.timestamp("us")),
            "key": pa.array(keys),
            "value": pa.array(values),
        }
    )


def batches(spec: Spec, events: int, batch: int) -> Iterator[pa.Table]:
    """Yield `events` events in event-time order of arrival, `batch` at a time."""
    import numpy as np

    spacing_us = spec.spacing_s * 1_000_000
    first = 0
    while first < events:
        end = min(events, first + batch)
        keys, values, delays = [], [], []
        block = first // BLOCK
        while block * BLOCK < end:
            lo = max(first, block * BLOCK) - block * BLOCK
            hi = min(end, (block + 1) * BLOCK) - block * BLOCK
            k, v, d = _block(spec, block)
            keys.append(k[lo:hi])
            values.append(v[lo:hi])
            delays.append(d[lo:hi])
            block += 1
        seq = np.arange(first, end, dtype=np.int64)
        times = spec.start_us + (seq * spacing_us).astype(np.int64) - np.concatenate(delays)
        yield _table(times, np.concatenate(keys), np.concatenate(values))
        first = end


class RealTime:
    """Events at `rate` per second of wall time, stamped with the clock (latency mode)."""

    def __init__(self, spec: Spec, rate: float) -> None:
        import numpy as np

        self.spec, self.rate = spec, rate
        self.rng = np.random.default_rng(spec.seed)
        self.started = time.monotonic()
        self.produced = 0

    def due(self) -> pa.Table | None:
        """The events due since the last call (None when none are), stamped now."""
        import numpy as np

        count = int((time.monotonic() - self.started) * self.rate) - self.produced
        if count <= 0:
            return None
        self.produced += count
        rng = self.rng
        keys = rng.integers(0, self.spec.keys, count, dtype=np.int64)
        values = rng.random(count)
        late = rng.random(count) < self.spec.late_fraction
        delays = rng.random(count) * (self.spec.max_delay_s * 1_000_000)
        now_us = int(time.time() * 1_000_000)
        times = now_us - np.where(late, delays, 0).astype(np.int64)
        return _table(times, keys, values)
