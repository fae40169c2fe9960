"""What there is to see about loading sources: each source table's load state, and the records
a table could not load.

The state comes from the table's own commits (the cursor and files seen that each commit
carries) and its last result from the catalog, so the report agrees with what a load resumes
from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import BuildStatus
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.catalog.store import Catalog
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore

RESULTS_LOOKED_AT = 20
"""How many of a table's latest results are searched for its last finished load."""


def source_status(
    definition: ProjectDefinition, catalog: Catalog, store: TableStore, keys: Iterable[str]
) -> list[dict[str, Any]]:
    """For each source table of `keys` (in name order): its source kind, load mode, cursor,
    files seen, current version and how its last load ended."""
    from headwater.ingest.state import committed_state

    rows = []
    for key in sorted(keys):
        asset = definition.assets[key]
        assert asset.source is not None
        ref = TableRef.of(asset)
        state = committed_state(store, ref)
        last = next(
            (
                r
                for r in catalog.asset_results(key, RESULTS_LOOKED_AT)
                if r["status"] != BuildStatus.RUNNING  # a result still building has not ended
            ),
            None,
        )
        rows.append(
            {
                "table": key,
                "kind": asset.source.source.kind,
                "mode": asset.source.mode,
                "cursor": state.get("cursor"),
                "files": len(state.get("files", {})),
                "version": store.current_version(ref),
                "last_status": last["status"] if last else None,
                "last_load": last["finished_at"] if last else None,
                "last_message": last["message"] if last else None,
            }
        )
    return rows


def quarantined(store: TableStore, asset: Asset, limit: int = 50) -> pa.Table:
    """The newest `limit` quarantined records of source table `asset` (empty when there are
    none)."""
    from headwater.storage.companions import quarantine_ref, quarantine_schema

    target = quarantine_ref(TableRef.of(asset))
    if not store.exists(target):
        return quarantine_schema().empty_table()
    dataset = store.arrow_dataset(store.snapshot(target))
    table = dataset.to_table()
    return table.sort_by([("quarantined_at", "descending")]).slice(0, limit)
