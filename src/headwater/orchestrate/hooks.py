"""What hears about each build of a run as it happens: the caller and the run's lineage.

The caller's event handler sees each asset start and finish (the CLI's progress lines); the
run's lineage records each built model's column lineage in the catalog and sends OpenLineage
events (`lineage_hooks.py`). A hook reports on a build and never fails one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import BuildStatus
from headwater.orchestrate.results import AssetOutcome, EventHandler

if TYPE_CHECKING:
    from headwater.build.context import BuildContext, BuildResult
    from headwater.orchestrate.lineage_hooks import RunLineage
    from headwater.orchestrate.planning import WorkItem
    from headwater.project.definition import Asset


class BuildHooks:
    """Tells the caller (`on_event`) and the run's `lineage` about each build."""

    def __init__(self, on_event: EventHandler, lineage: RunLineage) -> None:
        self.on_event = on_event
        self.lineage = lineage

    def submitted(self, item: WorkItem, asset: Asset) -> None:
        """`item` is handed to a worker to build: the caller's "start" event."""
        self.on_event(
            "start",
            AssetOutcome(
                item.key, BuildStatus.RUNNING, asset.build_kind, partition=item.partition_key
            ),
        )

    def finished(self, outcome: AssetOutcome) -> None:
        """An item ended (built, failed, up to date or skipped): the caller's "finish" event."""
        self.on_event("finish", outcome)

    def started(self, item: WorkItem, asset: Asset) -> None:
        """A build of `item` begins: lineage's START event."""
        self.lineage.started(asset, item.partition_key)

    def completed(
        self, item: WorkItem, asset: Asset, context: BuildContext, result: BuildResult
    ) -> None:
        """A build of `item` committed `result`: the model's column lineage and lineage's
        COMPLETE event, with the last report of its publish gate."""
        reports = [a.report for a in context.admitted if a.report is not None]
        self.lineage.completed(
            asset,
            item.partition_key,
            result.rows,
            result.version,
            reports[-1] if reports else None,
        )

    def failed(self, item: WorkItem, asset: Asset, message: str, report: Any = None) -> None:
        """A build of `item` failed for good or was stopped (a START needs its end event):
        lineage's FAIL event, with the gate's `report` when that is what refused it."""
        self.lineage.failed(asset, item.partition_key, message, report)

    def close(self) -> None:
        """Wait a little for lineage events still on their way (see `RunLineage.close`)."""
        self.lineage.close()
