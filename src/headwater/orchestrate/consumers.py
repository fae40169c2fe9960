"""Which jobs and sensors run a set of assets: the consumers an impact analysis names, and the
impact of a column change with them.

Column lineage knows which assets a change reaches; the jobs that build them and the sensors
that watch them are orchestration's, so they are found here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.lineage.impact import Impact
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore


def consumers_of(definition: ProjectDefinition, touched: set[str]) -> list[dict[str, str]]:
    """The jobs whose selection builds and the sensors that watch any of asset keys
    `touched`: for each its kind (`job` or `sensor`), name and the assets of `touched` it
    runs (comma separated)."""
    from headwater.orchestrate.selectors import Selector
    from headwater.project.lookup import find_asset

    config = definition.config
    found: list[dict[str, str]] = []
    for job_name, job in config.jobs.items():
        hits = touched.intersection(
            Selector(definition).select(job.select or None, job.exclude or None)
        )
        if hits:
            found.append({"kind": "job", "name": job_name, "assets": ", ".join(sorted(hits))})
    for sensor_name, sensor in config.sensors.items():
        watched = {find_asset(definition, a).key for a in sensor.assets} & touched
        if watched:
            found.append(
                {"kind": "sensor", "name": sensor_name, "assets": ", ".join(sorted(watched))}
            )
    return found


def impact_with_consumers(
    definition: ProjectDefinition, catalog: Catalog, store: TableStore, name: str
) -> Impact:
    """What changing or dropping column `name` (`asset.column`) affects downstream: columns,
    checks, assets (from column lineage), and the jobs and sensors that run those assets.

    Raises:
        NotFoundError: no such asset, or the asset has no such column.
        UsageError: `name` names an asset, not a column.
    """
    from headwater.lineage.report import impact_of_column

    impact = impact_of_column(definition, catalog, store, name)
    impact.consumers.extend(consumers_of(definition, {impact.ref.asset, *impact.assets}))
    impact.consumers.extend(metrics_reading(definition, impact))
    impact.consumers.extend(exports_reading(definition, impact))
    return impact


def exports_reading(definition: ProjectDefinition, impact: Impact) -> list[dict[str, str]]:
    """The exports that send a column `impact` reaches (or its own column): each as a
    consumer of kind `export`, with the asset it reads. An export without `columns:` sends
    every column of its asset."""
    touched = {(impact.ref.asset.lower(), impact.ref.column.lower())}
    touched |= {(c.ref.asset.lower(), c.ref.column.lower()) for c in impact.columns}
    found = []
    for key, asset in sorted(definition.assets.items()):
        if asset.export is None:
            continue
        upstream = asset.depends_on[0].lower()
        sent = None if asset.export.columns is None else set(asset.export.columns.values())
        hits = {
            (table, column)
            for table, column in touched
            if table == upstream and (sent is None or column in {c.lower() for c in sent})
        }
        if hits:
            found.append({"kind": "export", "name": key, "assets": upstream})
    return found


def metrics_reading(definition: ProjectDefinition, impact: Impact) -> list[dict[str, str]]:
    """The metrics of the semantic layer that read a column `impact` reaches (or its own
    column): each as a consumer of kind `metric`, with the assets it reads them in."""
    from headwater.metrics.reads import metric_reads

    touched = {(impact.ref.asset.lower(), impact.ref.column.lower())}
    touched |= {(c.ref.asset.lower(), c.ref.column.lower()) for c in impact.columns}
    found = []
    for metric, columns in sorted(metric_reads(definition.semantic).items()):
        hits = columns & touched
        if hits:
            assets = sorted({asset for asset, _ in hits})
            found.append({"kind": "metric", "name": metric, "assets": ", ".join(assets)})
    return found
