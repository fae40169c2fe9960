"""A robust band for a metric's next value: median ± k·MAD of its recent history.

The median absolute deviation, scaled by 1.4826 to match a standard deviation on normal data,
is not moved by the outliers it is meant to catch, so one earlier spike does not widen the band
for the next. A perfectly steady history has no spread at all; then the band allows 1 % of the
median, so that a real change is flagged (and, around zero, any change at all).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

MAD_SCALE = 1.4826
STEADY_SHARE = 0.01
MIN_SPREAD = 1e-9


@dataclass(frozen=True)
class Band:
    """Where a metric's next value is expected."""

    median: float
    spread: float
    low: float
    high: float
    size: int
    """How many earlier values it was made from."""


def robust_band(history: list[float], k: float, min_history: int) -> Band | None:
    """The band from `history` (earlier values), or None with fewer than `min_history`."""
    values = [v for v in history if v is not None]
    if len(values) < min_history:
        return None
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values) * MAD_SCALE
    spread = mad if mad > 0 else max(abs(median) * STEADY_SHARE, MIN_SPREAD)
    return Band(median, spread, median - k * spread, median + k * spread, len(values))
