"""A running stream's rates over its recent micro-batches: events per second and end-to-end
latency percentiles, as `headwater stream status`, the UI and `/metrics` show them."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.stream.runner import BatchReport

RECENT = 1000
"""Batches the rates and latency percentiles are taken over."""


@dataclass(frozen=True)
class Rates:
    """A stream's pace over its recent batches."""

    events_per_s: float | None
    latency_p50_s: float | None
    latency_p99_s: float | None


class ProgressMeter:
    """Keeps one stream's recent batches and measures its pace over them."""

    def __init__(self) -> None:
        self._recent: deque[BatchReport] = deque(maxlen=RECENT)

    def add(self, report: BatchReport) -> Rates:
        """Count `report` in and return the rates over the recent batches."""
        self._recent.append(report)
        recent = list(self._recent)
        span = recent[-1].committed_at - (recent[0].committed_at - recent[0].seconds)
        events = sum(r.events for r in recent)
        latencies = sorted(r.latency_s for r in recent if r.latency_s is not None)
        return Rates(
            events_per_s=round(events / span, 1) if span > 0 else None,
            latency_p50_s=_percentile(latencies, 0.50),
            latency_p99_s=_percentile(latencies, 0.99),
        )


def _percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return round(ordered[index], 4)
