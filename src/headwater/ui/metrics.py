"""`/metrics`: the project's health in Prometheus' text format, read from the catalog.

Every scrape asks the catalog afresh (`Project.health`, a few grouped queries), so the numbers
are whatever the runs and the scheduler last recorded, also when they ran in another process.

Under `headwater serve` a scrape signs in like any request and gets the series of the assets and
streams its user may read; the project-wide series (runs by status, the scheduler's heartbeat)
name no asset and are in every scrape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import RunStatus
from headwater.ui.formatting import moment

if TYPE_CHECKING:
    from headwater.workspace import Project


def _seconds_since(text: str | None, now: dt.datetime) -> float | None:
    found = moment(text)
    return None if found is None else max((now - found).total_seconds(), 0.0)


def _epoch(text: str | None) -> float | None:
    found = moment(text)
    return None if found is None else found.timestamp()


class CatalogCollector:
    """A Prometheus collector over one project's catalog."""

    def __init__(self, project: Project, sees: Callable[[str], bool] | None = None) -> None:
        """Collect `project`'s metrics; only of the assets `sees` admits, when given."""
        self.project = project
        self.sees = sees or _everything

    def describe(self) -> list[Any]:
        """Nothing up front: the metric families depend on what the catalog holds."""
        return []

    def collect(self) -> Iterator[Any]:
        """Every metric family, read now."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        definition = self.project.definition
        health = self.project.health()
        sees = self.sees
        now = dt.datetime.now(dt.UTC)

        runs = CounterMetricFamily(
            "headwater_runs", "Runs that ended, by final status.", labels=["status"]
        )
        in_progress = GaugeMetricFamily("headwater_runs_in_progress", "Runs running now.")
        counts = dict(health.run_counts)
        # a running run changes status when it ends: a counter of it would go down
        in_progress.add_metric([], counts.pop(RunStatus.RUNNING, 0))
        for status, count in sorted(counts.items()):
            runs.add_metric([status], count)
        yield runs
        yield in_progress

        duration = GaugeMetricFamily(
            "headwater_asset_duration_seconds",
            "How long the asset's last build took.",
            labels=["asset"],
        )
        last_status = GaugeMetricFamily(
            "headwater_asset_last_status",
            "1 for the status of the asset's last build (success, failed, skipped, ...).",
            labels=["asset", "status"],
        )
        for key, result in sorted(health.latest.items()):
            if not sees(key):
                continue
            if result["duration_s"] is not None:
                duration.add_metric([key], float(result["duration_s"]))
            last_status.add_metric([key, result["status"]], 1.0)
        yield duration
        yield last_status

        written = CounterMetricFamily(
            "headwater_rows_written", "Rows written by successful builds.", labels=["asset"]
        )
        for key, rows in sorted(health.rows_written.items()):
            if sees(key):
                written.add_metric([key], rows)
        yield written

        failures = CounterMetricFamily(
            "headwater_check_failures",
            "Check results that failed or warned, of all time.",
            labels=["asset", "severity"],
        )
        for (key, severity), count in sorted(health.check_failures.items()):
            if sees(key):
                failures.add_metric([key, severity], count)
        yield failures
        failing = GaugeMetricFamily(
            "headwater_checks_failing",
            "Checks whose latest result failed or warned.",
            labels=["asset"],
        )
        for key, count in sorted(health.failing_checks.items()):
            if sees(key):
                failing.add_metric([key], count)
        yield failing

        lag = GaugeMetricFamily(
            "headwater_asset_freshness_lag_seconds",
            "Seconds since the asset was last built successfully.",
            labels=["asset"],
        )
        sla = GaugeMetricFamily(
            "headwater_asset_freshness_sla_seconds",
            "The asset's freshness SLA (max_lag).",
            labels=["asset"],
        )
        for key, finished in sorted(health.last_successes.items()):
            seconds = _seconds_since(finished, now)
            if seconds is not None and sees(key):
                lag.add_metric([key], seconds)
        for key, asset in sorted(definition.assets.items()):
            if asset.freshness_lag_s and sees(key):
                sla.add_metric([key], asset.freshness_lag_s)
        yield lag
        yield sla

        beat = health.scheduler
        heartbeat = GaugeMetricFamily(
            "headwater_scheduler_heartbeat_timestamp_seconds",
            "Unix time of the scheduler's last heartbeat.",
        )
        age = GaugeMetricFamily(
            "headwater_scheduler_heartbeat_age_seconds",
            "Seconds since the scheduler's last heartbeat.",
        )
        if beat is not None:
            stamp = _epoch(beat["heartbeat_at"])
            if stamp is not None:
                heartbeat.add_metric([], stamp)
                age.add_metric([], max(now.timestamp() - stamp, 0.0))
        yield heartbeat
        yield age
        yield from _stream_metrics(self.project, sees)


def _everything(_: str) -> bool:
    return True


def _stream_metrics(project: Project, sees: Callable[[str], bool]) -> Iterator[Any]:
    """Each stream's progress (of the streams `sees` admits) as its runner last recorded it in
    the catalog."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from headwater.catalog.streams import stream_progress

    progress = stream_progress(project.catalog)
    up = GaugeMetricFamily(
        "headwater_stream_running", "1 while the stream runs, else 0.", labels=["stream"]
    )
    counters = {
        name: CounterMetricFamily(
            f"headwater_stream_{name}", f"{text} since the stream's first batch.", labels=["stream"]
        )
        for name, text in (
            ("events", "Events read"),
            ("rows", "Rows written to the stream's table"),
            ("rejected", "Events quarantined"),
            ("late", "Events too late for their window"),
        )
    }
    gauges = {
        "events_per_s": GaugeMetricFamily(
            "headwater_stream_events_per_second",
            "Events per second over the stream's recent batches.",
            labels=["stream"],
        ),
        "lag_total": GaugeMetricFamily(
            "headwater_stream_lag_events",
            "Events waiting in the stream's source.",
            labels=["stream"],
        ),
        "batch": GaugeMetricFamily(
            "headwater_stream_last_batch", "The stream's last committed batch.", labels=["stream"]
        ),
    }
    times = {
        "watermark": GaugeMetricFamily(
            "headwater_stream_watermark_timestamp_seconds",
            "Unix time of the stream's watermark (event time).",
            labels=["stream"],
        ),
        "committed_at": GaugeMetricFamily(
            "headwater_stream_last_commit_timestamp_seconds",
            "Unix time of the stream's last commit.",
            labels=["stream"],
        ),
    }
    latency = GaugeMetricFamily(
        "headwater_stream_latency_seconds",
        "End-to-end latency of recent batches (commit time minus the oldest event's source "
        "time), by quantile.",
        labels=["stream", "quantile"],
    )
    for key, found in sorted(progress.items()):
        if not sees(key):
            continue
        up.add_metric([key], 1.0 if found.alive else 0.0)
        for name, family in counters.items():
            value = getattr(found, f"{name}_total")
            if value is not None:
                family.add_metric([key], float(value))
        for name, gauge in gauges.items():
            value = getattr(found, name)
            if value is not None:
                gauge.add_metric([key], float(value))
        for name, gauge in times.items():
            stamp = _epoch(getattr(found, name))
            if stamp is not None:
                gauge.add_metric([key], stamp)
        for quantile, value in (("0.5", found.latency_p50_s), ("0.99", found.latency_p99_s)):
            if value is not None:
                latency.add_metric([key, quantile], value)
    yield up
    yield from counters.values()
    yield from gauges.values()
    yield from times.values()
    yield latency


def exposition(project: Project, sees: Callable[[str], bool] | None = None) -> bytes:
    """The metrics page, in Prometheus' text format; only the series of the assets `sees`
    admits (and the project-wide ones), when given."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(CatalogCollector(project, sees))
    return bytes(generate_latest(registry))
