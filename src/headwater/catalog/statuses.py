"""The words the catalog records for how things ended: runs, asset builds, partitions and checks.

They are `StrEnum`s, so each member is also the plain string stored in the catalog and shown
to users (`BuildStatus.SUCCESS == "success"`), and rows read back compare equal to them.
"""

from __future__ import annotations

from enum import StrEnum


class BuildStatus(StrEnum):
    """Where one asset's build in a run stands (`hw_asset_results.status`; an attempt's
    `hw_asset_attempts.status` too)."""

    RUNNING = "running"
    """Begun and not ended yet (or its run's process died: the next run settles it)."""
    RETRYING = "retrying"
    """An attempt that failed and is tried again (`hw_asset_attempts.status` only)."""
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UP_TO_DATE = "up_to_date"
    INTERRUPTED = "interrupted"


class RunStatus(StrEnum):
    """Where a run stands (`hw_runs.status`)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class CheckStatus(StrEnum):
    """A check's verdict on one table version (`hw_check_results.status`)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    QUARANTINED = "quarantined"


class PartitionStatus(StrEnum):
    """Where one partition of a partitioned asset stands: how its last build ended
    (`hw_partitions.status`), or missing when it was never built."""

    SUCCESS = "success"
    FAILED = "failed"
    MISSING = "missing"
    """Never built (no row in `hw_partitions`)."""
