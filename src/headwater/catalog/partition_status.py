"""Which partitions of an asset are built: each partition up to now with what the catalog
recorded of its last build, or `missing` when it was never built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import PartitionStatus
from headwater.errors import UsageError

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.project.definition import Asset


def partition_status(catalog: Catalog, asset: Asset) -> list[dict[str, Any]]:
    """Every partition of `asset` up to now, with its status: `success`, `failed` or `missing`
    (never built), its version, rows, when it was last built, and whether it was built from an
    older definition (`stale`).

    Raises:
        UsageError: the asset is not partitioned.
    """
    partition_set = asset.partition_set
    if partition_set is None:
        raise UsageError(f"{asset.key} is not partitioned", hint="see 'partitions:' in docs")
    recorded = catalog.partitions(asset.key)
    rows = []
    for partition in partition_set.all():
        found = recorded.get(partition.key)
        rows.append(
            {
                "partition": partition.key,
                "status": found["status"] if found else PartitionStatus.MISSING,
                "version": found["delta_version"] if found else None,
                "rows": found["rows_written"] if found else None,
                "updated_at": found["updated_at"] if found else None,
                "stale": bool(found and found["definition_hash"] != asset.definition_hash),
            }
        )
    return rows
