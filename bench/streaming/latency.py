"""Close latency: a reader polling a Delta table notes when each (window, key) row becomes
readable.

Every 50 ms the reader brings its view of the table up to date; when a new version shows, it
notes the time and reads the files it has not seen yet (their `window_end` and `key` only).
A row's latency is the time it was first seen minus its `window_end`, both on the wall clock
(in latency mode event time is the wall clock). Polling adds up to 50 ms (25 ms on average).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.05


@dataclass
class Latencies:
    """Close latencies of the rows seen, in seconds, and how many windows they belong to."""

    seconds: list[float]
    windows: int

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) of the latencies, NaN when there are none."""
        import numpy as np

        return float(np.percentile(self.seconds, q)) if self.seconds else float("nan")


class Reader(threading.Thread):
    """Polls the Delta table at `path` until stopped; `first_seen` maps (window_end µs, key)
    to the epoch seconds the row was first readable."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.first_seen: dict[tuple[int, int], float] = {}
        self.error: str | None = None
        self._halt = threading.Event()

    def stop(self) -> None:
        """Stop polling (after one last look) and wait for the thread."""
        time.sleep(2 * POLL_S)
        self._halt.set()
        self.join()

    def run(self) -> None:
        """Poll until stopped."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        table, version, files = None, -1, set[str]()
        while not self._halt.is_set():
            try:
                if table is None:
                    table = DeltaTable(str(self.path))
                else:
                    table.update_incremental()
            except TableNotFoundError:
                time.sleep(POLL_S)
                continue
            except Exception as exc:  # the reader must report, not die silently
                self.error = f"{type(exc).__name__}: {exc}"
                return
            if table.version() != version:
                seen = time.time()
                version = table.version()
                for uri in table.file_uris():
                    if uri not in files:
                        files.add(uri)
                        self._note(uri, seen)
            time.sleep(POLL_S)

    def _note(self, uri: str, seen: float) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = uri.removeprefix("file://")
        rows = pq.read_table(path, columns=["window_end", "key"])
        ends = rows.column("window_end").cast(pa.int64()).to_pylist()
        keys = rows.column("key").to_pylist()
        for end, key in zip(ends, keys, strict=True):
            self.first_seen.setdefault((end, key), seen)

    def latencies(self, since: float) -> Latencies:
        """Latencies of the rows of windows ending at or after `since` (epoch seconds), to
        leave out windows that opened before the stream started."""
        seconds, windows = [], set()
        for (end_us, _key), seen in self.first_seen.items():
            end = end_us / 1_000_000
            if end >= since:
                seconds.append(seen - end)
                windows.add(end_us)
        return Latencies(seconds, len(windows))
