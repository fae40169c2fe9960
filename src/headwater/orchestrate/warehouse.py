"""The warehouse's stored tables as commands see them: which there are, naming one, and their
maintenance.

Restore and optimize commit a new table version, so each is recorded in the catalog as a run of
its own (`restore`, `optimize`) like any other write; vacuum deletes files and commits nothing,
and it refuses a retention below the table's safe minimum unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import RunStatus
from headwater.errors import UsageError
from headwater.project.kinds import AssetKind
from headwater.storage.base import CommitInfo, TableRef

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore


@dataclass(frozen=True)
class TableInfo:
    """A stored table: its version, size and shape."""

    key: str
    materialization: str
    version: int | None
    files: int
    rows: int | None
    size_bytes: int
    in_project: bool


def list_tables(definition: ProjectDefinition, store: TableStore) -> list[TableInfo]:
    """Every stored table of the project and any other table in the warehouse, by name."""
    known = {a.key: a for a in definition.assets.values() if a.is_stored}
    refs = {r.key: r for r in store.list_tables()}
    for key in known:
        refs.setdefault(key, TableRef.parse(key))
    infos = []
    for key in sorted(refs):
        ref = refs[key]
        asset = known.get(key)
        if store.current_version(ref) is None:
            kind: str = asset.materialized if asset else "?"
            infos.append(TableInfo(key, kind, None, 0, None, 0, asset is not None))
            continue
        snapshot = store.snapshot(ref)
        rows = [f.rows for f in snapshot.files]
        if asset is None:
            kind = "(not in project)"
        else:
            kind = AssetKind.SEED if asset.kind == AssetKind.SEED else asset.materialized
        infos.append(
            TableInfo(
                key,
                kind,
                snapshot.version,
                len(snapshot.files),
                None if any(r is None for r in rows) else sum(r or 0 for r in rows),
                sum(f.size for f in snapshot.files),
                asset is not None,
            )
        )
    return infos


def table_ref(definition: ProjectDefinition, store: TableStore, name: str) -> TableRef:
    """The stored table `name` names: an asset's, or any table in the warehouse by its
    `namespace.name`.

    Raises:
        UsageError: no such table, or the asset is a view or ephemeral model (no table).
    """
    from headwater.project.lookup import find_asset

    try:
        asset = find_asset(definition, name)
    except UsageError:
        ref = TableRef.parse(name) if "." in name else None
        if ref is not None and store.exists(ref):
            return ref
        raise
    if not asset.is_stored:
        raise UsageError(
            f"{asset.key} is a {asset.materialized} model; it has no table",
            hint="history, restore, optimize and vacuum work on stored tables",
        )
    return TableRef.of(asset)


def restore_table(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    name: str,
    version: int | str,
) -> int:
    """Make an earlier version (a number or ISO timestamp) of table `name` current again, as a
    recorded run; return the new version."""
    ref = table_ref(definition, store, name)
    store.require("time_travel", f"restore {ref}")
    record = catalog.start_run("restore", f"{ref} {version}", 1, False)
    try:
        new_version = store.restore(
            ref, version, CommitInfo(run_id=record.run_id, operation="restore")
        )
    except Exception as exc:
        catalog.finish_run(record.run_id, RunStatus.FAILED, str(exc))
        raise
    catalog.finish_run(record.run_id, RunStatus.SUCCESS)
    return new_version


def optimize_table(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    name: str,
    zorder: list[str] | None = None,
) -> dict[str, Any]:
    """Compact (or z-order by `zorder`) table `name` as a recorded run; return delta-rs's
    metrics. The asset stays up to date: the new version holds the same rows."""
    ref = table_ref(definition, store, name)
    store.require("optimize", f"optimize {ref}")
    record = catalog.start_run("optimize", ref.key, 1, False)
    try:
        metrics = store.optimize(
            ref, CommitInfo(run_id=record.run_id, operation="optimize"), zorder
        )
    except Exception as exc:
        catalog.finish_run(record.run_id, RunStatus.FAILED, str(exc))
        raise
    _follow_maintenance(catalog, store, ref)
    catalog.finish_run(record.run_id, RunStatus.SUCCESS)
    return metrics


def _follow_maintenance(catalog: Catalog, store: TableStore, ref: TableRef) -> None:
    """Keep the asset fresh after a commit that changed files but not content."""
    state = catalog.states().get(ref.key)
    if state is not None:
        catalog.set_state(
            ref.key,
            state.fingerprint,
            store.current_version(ref),
            state.materialization or "table",
            state.run_id or "",
            state.state,
        )


def vacuum_table(
    definition: ProjectDefinition,
    store: TableStore,
    name: str,
    retain_hours: float = 168.0,
    dry_run: bool = False,
    force: bool = False,
) -> list[str]:
    """Delete table `name`'s data files no version within `retain_hours` needs; return their
    paths (each once, relative to the table's folder). A dry run only lists them.

    Raises:
        UsageError: `retain_hours` is negative, or below the table's safe minimum (7 days
            unless the table sets `delta.deletedFileRetentionDuration`) without `force` on a
            real run.
    """
    if retain_hours < 0:
        raise UsageError("--retain must be zero or more hours")
    ref = table_ref(definition, store, name)
    store.require("vacuum", f"vacuum {ref}")
    minimum = 0.0 if dry_run or force else store.safe_retention_hours(ref)
    if retain_hours < minimum:
        raise UsageError(
            f"vacuum of {ref} with --retain {retain_hours:g} refused: it is below the safe "
            f"minimum of {minimum:g} hours (the table's retention for removed files), so "
            "versions younger than that would lose their files and a reader still scanning "
            "one would fail",
            hint=f"keep --retain {minimum:g} or more; see what would go with --dry-run; "
            "pass --force only when nothing reads older versions of the table",
        )
    return store.vacuum(ref, retain_hours, dry_run)
