"""`headwater maintain`: enforce each table's `retention:`.

Expired rows (`rows: {column, older_than}`) are deleted from the current version, in one commit
of file actions; the versions older than `versions:` then lose the files only they read (Delta's
VACUUM with that retention), which is what retires expired rows from history too. Each table is
maintained under its run lock, so no build writes it meanwhile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError
from headwater.project.strict import duration_seconds
from headwater.storage.base import CommitInfo, TableRef

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.catalog.store import Catalog
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore
    from headwater.storage.delta import DeltaStore

MAINTAIN_OPERATION = "RETENTION"
"""The operation the deletion of expired rows is recorded under."""


@dataclass
class Maintained:
    """What `headwater maintain` did to one table (or, dry, would do)."""

    table: str
    expired_rows: int = 0
    version: int | None = None
    """The version that deleted them (None: none, or a dry run)."""
    files_deleted: list[str] = field(default_factory=list)
    """Files only versions older than the retention read."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "table": self.table,
            "expired_rows": self.expired_rows,
            "version": self.version,
            "files_deleted": len(self.files_deleted),
        }


def maintain(
    definition: ProjectDefinition,
    catalog: Catalog,
    store: TableStore,
    keys: list[str],
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> list[Maintained]:
    """Enforce the retention of each asset of `keys` that declares one and has a table.

    Returns:
        One entry per table maintained.

    Raises:
        UsageError: the store cannot delete rows or vacuum, a row expiry's column is missing
            or not a date or time, or a run holds one of the tables.
    """
    from headwater.catalog.locks import Claim
    from headwater.catalog.store import new_run_id
    from headwater.orchestrate.lock import RunLocks
    from headwater.storage.delta import DeltaStore

    moment = now or dt.datetime.now(dt.UTC)
    chosen = [definition.assets[k] for k in keys if definition.assets[k].retention is not None]
    chosen = [a for a in chosen if a.is_stored and store.exists(TableRef.of(a))]
    if not chosen:
        return []
    if not isinstance(store, DeltaStore):
        raise UsageError("retention needs tables in Delta Lake (a warehouse folder or S3)")
    run_id = new_run_id()
    locks = RunLocks(catalog, definition.state_dir, run_id, "maintain")
    if not dry_run:
        locks.acquire(Claim(asset.key) for asset in chosen)
    try:
        return [_maintain(store, asset, run_id, moment, dry_run) for asset in chosen]
    finally:
        if not dry_run:
            locks.release()


def _maintain(store: Any, asset: Asset, run_id: str, now: dt.datetime, dry_run: bool) -> Maintained:
    """Enforce `asset`'s retention on its table."""
    import pyarrow.compute as pc

    from headwater.storage.delta_purge import delete_rows

    retention = asset.retention
    assert retention is not None
    ref = TableRef.of(asset)
    done = Maintained(asset.key)
    if retention.rows is not None:
        expiry = retention.rows
        cutoff = now - dt.timedelta(seconds=duration_seconds(expiry.older_than))
        column = _column(store, ref, asset, expiry.column)
        matches = _older_than(column, cutoff)
        if dry_run:
            table = store.arrow_dataset(store.snapshot(ref)).to_table(columns=[column])
            done.expired_rows = int(pc.sum(matches(table)).as_py() or 0)
        else:
            commit = CommitInfo(run_id, MAINTAIN_OPERATION)
            done.version, done.expired_rows = delete_rows(store, ref, matches, commit)
    if retention.versions is not None:
        hours = duration_seconds(retention.versions) / 3600
        # the asset's own YAML asks for this window: it is the table's safe minimum
        done.files_deleted = store.vacuum(ref, hours, dry_run)
    return done


def _column(store: DeltaStore, ref: TableRef, asset: Asset, name: str) -> str:
    """The expiry column as the table spells it; it must be a date or a time."""
    import pyarrow as pa

    schema: pa.Schema = store.snapshot(ref).schema
    spelled: dict[str, str] = {n.lower(): n for n in schema.names}
    column = spelled.get(name.lower())
    kind = schema.field(column).type if column is not None else None
    if column is None or not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        raise UsageError(
            f"the retention of {asset.key} expires rows by {name}, which is not a date or "
            "time column of its table",
            hint=f"name one in {asset.rel_path}: {', '.join(schema.names)}",
        )
    return column


def _older_than(column: str, cutoff: dt.datetime) -> Any:
    """A matcher of rows whose `column` is before `cutoff` (a null never expires)."""

    def matches(table: pa.Table) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = table.column(column)
        kind = values.type
        if pa.types.is_date(kind):
            bound = pa.scalar(cutoff.date(), kind)
        elif kind.tz is None:
            bound = pa.scalar(cutoff.replace(tzinfo=None), kind)
        else:
            bound = pa.scalar(cutoff, kind)
        found = pc.fill_null(pc.less(values, bound), False)
        return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found

    return matches
