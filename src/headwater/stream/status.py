"""A running stream's status file: the numbers `headwater stream status` shows (lag per source
partition, events/s, watermark, last commit, end-to-end latency), rewritten after each commit.

It is a report, not state: losing it loses nothing (the checkpoint and the table are the truth).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.stream.runner import BatchReport

RECENT = 1000
"""Batches the rates and latency percentiles are taken over."""


class StatusFile:
    """Keeps the recent batches of one running stream and writes their summary."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.started_at = time.time()
        self._recent: deque[BatchReport] = deque(maxlen=RECENT)

    def record(self, report: BatchReport, totals: dict[str, int]) -> None:
        """Add `report` and rewrite the file."""
        self._recent.append(report)
        recent = list(self._recent)
        span = recent[-1].committed_at - (recent[0].committed_at - recent[0].seconds)
        events = sum(r.events for r in recent)
        latencies = sorted(r.latency_s for r in recent if r.latency_s is not None)
        status = {
            "stream": self.key,
            "pid": os.getpid(),
            "started_at": _iso(self.started_at),
            "batch": report.batch,
            "version": report.version,
            "last_commit": _iso(report.committed_at),
            "watermark": None if report.watermark is None else _iso(report.watermark / 1_000_000),
            "positions": report.positions,
            "lag": report.lag,
            "events_per_s": round(events / span, 1) if span > 0 else None,
            "latency_p50_s": _percentile(latencies, 0.50),
            "latency_p99_s": _percentile(latencies, 0.99),
            "totals": totals,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(status, indent=2))
        os.replace(temporary, self.path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The status a stream last wrote at `path` (None: it never committed)."""
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded


def _percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return round(ordered[index], 4)


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds")
