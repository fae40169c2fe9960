"""The scheduler's watch over streams: it runs every stream that asks for it (`supervise:`),
restarts one that stops on an error after a backoff that doubles (with jitter) up to a cap, and
alerts when a stream stops (`stream_stopped`) or its source's lag passes `max_lag`
(`stream_lag`); each incident resolves when the stream commits again or catches up. It also
watches the cdc sources' slots and mirrors (`slot_wal`, `cdc_lag`).

A stream another process already runs (its run lock is held) is left to that process and
tried again after the backoff: the scheduler never runs a stream twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import TYPE_CHECKING

from headwater.errors import RunLockedError, first_line

if TYPE_CHECKING:
    from headwater.orchestrate.alerts import Alerter
    from headwater.orchestrate.cdc import CaptureWatch
    from headwater.orchestrate.opening import OpenProject
    from headwater.project.definition import Asset
    from headwater.stream.runner import BatchReport

_LOG = logging.getLogger(__name__)
STEADY_S = 60.0
"""A stream that ran this long before failing starts its backoff afresh."""


class StreamSupervisor:
    """Keeps the supervised streams of one project running until `stop` is set."""

    def __init__(self, project: OpenProject, alerter: Alerter, stop: threading.Event) -> None:
        self.project = project
        self.alerter = alerter
        self.stop = stop
        self.threads: dict[str, threading.Thread] = {}
        self.restarts: dict[str, int] = {}
        """Restarts of each stream after a failure, for tests and status."""
        self._captures: CaptureWatch | None = None

    def supervised(self) -> list[Asset]:
        """The streams that ask to be supervised."""
        return [
            asset
            for asset in self.project.definition.assets.values()
            if asset.stream is not None and asset.stream.supervise is not None
        ]

    def start(self) -> None:
        """Start a keeper thread per supervised stream (none when there are none)."""
        for asset in self.supervised():
            thread = threading.Thread(
                target=self._keep_running, args=(asset,), name=f"hw-supervise-{asset.key}"
            )
            thread.daemon = True
            self.threads[asset.key] = thread
            thread.start()

    def join(self) -> None:
        """Wait for every stream to commit its batch in hand and stop (after `stop`)."""
        for thread in self.threads.values():
            thread.join()

    def check_lag(self) -> None:
        """Alert for each supervised stream whose recorded lag passes its `max_lag`, and
        resolve the alert once it is back under."""
        from headwater.catalog.streams import stream_progress

        progress = stream_progress(self.project.catalog)
        for asset in self.supervised():
            assert asset.stream is not None and asset.stream.supervise is not None
            limit = asset.stream.supervise.max_lag
            found = progress.get(asset.key)
            if limit is None or found is None or found.lag_total is None:
                continue
            incident = f"stream-lag:{asset.key}"
            if found.lag_total > limit:
                self.alerter.raise_incident(
                    "stream_lag",
                    incident,
                    asset.key,
                    f"stream {asset.key} is {found.lag_total:,} events behind its source "
                    f"(max_lag {limit:,})",
                )
            else:
                self.alerter.resolve(incident, f"stream {asset.key} has caught up")

    def check_captures(self) -> None:
        """Alert for each cdc source whose slot holds more WAL than its `max_retained_wal`
        (`slot_wal`) or whose last applied commit is older than its `max_lag` while changes
        wait (`cdc_lag`), and resolve each once back under (looking every
        `cdc.CHECK_EVERY_S` seconds at most)."""
        if self._captures is None:
            from headwater.orchestrate.cdc import CaptureWatch

            self._captures = CaptureWatch(self.project, self.alerter)
        self._captures.check()

    def _keep_running(self, asset: Asset) -> None:
        from headwater.orchestrate.streams import run_streams

        assert asset.stream is not None and asset.stream.supervise is not None
        settings = asset.stream.supervise
        backoff = settings.backoff_s
        incident = f"stream:{asset.key}"
        resolved = threading.Event()

        def on_commit(_key: str, _report: BatchReport) -> None:
            if not resolved.is_set():
                resolved.set()
                self.alerter.resolve(incident, f"stream {asset.key} is committing again")

        while not self.stop.is_set():
            started = time.monotonic()
            try:
                run_streams(self.project, [asset.key], self.stop, on_commit=on_commit)
                return  # stopped on request
            except RunLockedError as exc:
                _LOG.info("stream %s runs elsewhere: %s", asset.key, first_line(exc))
            except Exception as exc:
                _LOG.warning("stream %s stopped: %s", asset.key, first_line(exc))
                resolved.clear()
                self.alerter.raise_incident(
                    "stream_stopped",
                    incident,
                    asset.key,
                    f"stream {asset.key} stopped: {first_line(exc)}; restarting with backoff",
                )
                self.restarts[asset.key] = self.restarts.get(asset.key, 0) + 1
            if time.monotonic() - started > STEADY_S:
                backoff = settings.backoff_s
            wait = backoff * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, settings.max_backoff_s)
            self.stop.wait(wait)
