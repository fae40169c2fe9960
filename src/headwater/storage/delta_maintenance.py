"""History and maintenance of Delta tables: which versions are readable, restore, optimize, vacuum.

delta-rs does the work; this module adds what Headwater promises around it: history that says
which versions vacuum made unreadable (and an error naming the readable ones), a restore that
refuses a no-op or a vacuumed version, and a vacuum that never deletes a concurrent writer's new
files and lists each file once.
"""

from __future__ import annotations

import dataclasses
import math
import os
import posixpath
import re
import time
from typing import TYPE_CHECKING, Any

from headwater.errors import Location, StorageError, TableNotFoundError
from headwater.storage.base import (
    DEFAULT_RETENTION_HOURS,
    CommitInfo,
    DataFile,
    HistoryEntry,
    TableRef,
)
from headwater.storage.delta_commit import commit_properties, write_error
from headwater.storage.delta_log import (
    history_entry,
    newest_removal_of_a_missing_file,
    tombstones,
)

if TYPE_CHECKING:
    from headwater.storage.delta import DeltaStore
    from headwater.storage.delta_files import TableFiles

IN_FLIGHT_GRACE_SECONDS = 3600.0
"""Untracked files younger than this are never vacuumed: they may belong to a write in flight."""
READABLE_VERSIONS_CHECKED = 200
"""How many of the newest versions an error about a vacuumed version looks at for readable ones
(each older version costs delta-rs a load of its file list)."""
RETENTION_INTERVAL = re.compile(
    r"^\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*(week|day|hour|minute|second|millisecond)s?\s*$",
    re.IGNORECASE,
)
HOURS_PER_UNIT = {
    "week": 168.0,
    "day": 24.0,
    "hour": 1.0,
    "minute": 1 / 60,
    "second": 1 / 3600,
    "millisecond": 1 / 3_600_000,
}


# -- history -----------------------------------------------------------------------------------


def history(
    store: DeltaStore, ref: TableRef, limit: int | None = None, check_readable: bool = False
) -> list[HistoryEntry]:
    """Return the versions of `ref`, newest first; see `TableStore.history`."""
    entries = [history_entry(item) for item in store.open_table(ref).history(limit)]
    if check_readable and entries:
        gone = unreadable_versions(store, ref, [e.version for e in entries])
        entries = [dataclasses.replace(e, readable=e.version not in gone) for e in entries]
    return entries


def unreadable_versions(store: DeltaStore, ref: TableRef, versions: list[int]) -> set[int]:
    """Return those of `versions` that cannot be read: a data file they need is gone (by
    vacuum), or their log entry is (log retention). Oldest first, so that delta-rs reads
    each commit once as it moves one table object forward."""
    files = store.table_files(ref)
    wanted = sorted(set(versions))
    if not wanted:
        return set()
    # Only a file some later commit removed can be missing (vacuum deletes no current
    # file), so a version at or after the last commit that removed a now-missing file is
    # readable; delta-rs lists the files of the versions before it, one by one.
    newest_loss = newest_removal_of_a_missing_file(files, wanted[0])
    if newest_loss is not None and newest_loss >= 0:
        wanted = [v for v in wanted if v < newest_loss]
    elif newest_loss is not None:
        wanted = []
    gone: set[int] = set()
    table: Any = None
    for version in wanted:
        try:
            if table is None or version < table.version():
                table = store.delta_table(ref, version)
            else:
                table.load_as_version(version)
        except Exception:
            gone.add(version)
            table = None
            continue
        if files.missing(_file_paths(table)):
            gone.add(version)
    return gone


def vacuumed_error(
    store: DeltaStore,
    ref: TableRef,
    version: int,
    as_of: str | None,
    missing: int,
    files: list[DataFile],
) -> TableNotFoundError:
    """Return the error for reading a version whose files vacuum (or an erasure) deleted
    (`missing` of `files`), naming the versions still readable."""
    from headwater.storage.delta_purge import erasure_of

    erasure = erasure_of(store.table_files(ref), version)
    latest = store.current_version(ref)
    readable: list[int] = []
    first = 0
    if latest is not None:
        first = max(0, latest - READABLE_VERSIONS_CHECKED + 1)
        candidates = list(range(first, latest + 1))
        gone = unreadable_versions(store, ref, candidates)
        readable = [v for v in candidates if v not in gone]
    which = f"as of {as_of} (version {version})" if as_of is not None else f"version {version}"
    still = (
        f"versions still readable: {_version_ranges(readable)}"
        + (f" (of the newest {READABLE_VERSIONS_CHECKED})" if first > 0 else "")
        if readable
        else "no version of it is readable any more"
    )
    why = (
        f"erasure {erasure} deleted {missing} of its {len(files)} data files, which held an "
        "erased subject's rows"
        if erasure is not None
        else f"vacuum deleted {missing} of its {len(files)} data files"
    )
    return TableNotFoundError(
        f"table {ref} {which} can no longer be read: {why}; {still}",
        Location(asset=ref.key),
        f"read a readable version (e.g. --as-of {readable[0]}), or see which versions "
        f"are readable with 'headwater history {ref}'"
        if readable
        else f"see its versions with 'headwater history {ref}'",
    )


# -- maintenance -------------------------------------------------------------------------------


def restore(store: DeltaStore, ref: TableRef, target: int | str, commit: CommitInfo) -> int:
    """Make version (or timestamp) `target` of `ref` current; return the new version."""
    # A timestamp restores the version current then; resolving it here also refuses a
    # version whose files vacuum deleted, which would otherwise become a broken latest.
    version = store.resolve_version(ref, target)
    table = store.open_table(ref)
    if version == table.version():
        named = (
            f"version {version}"
            if str(target).strip().isdigit()
            else f"the version current at {target} (version {version})"
        )
        raise StorageError(
            f"table {ref}: nothing to restore: {named} is already its latest version",
            Location(asset=ref.key),
            f"restore an earlier version; see them with 'headwater history {ref}'",
        )
    try:
        table.restore(version, commit_properties=commit_properties(commit))
    except Exception as exc:
        raise write_error(ref, exc) from None
    return int(store.open_table(ref).version())


def optimize(
    store: DeltaStore, ref: TableRef, commit: CommitInfo, zorder: list[str] | None = None
) -> dict[str, Any]:
    """Compact the small files of `ref` (or z-order it by `zorder`); return delta-rs's
    metrics."""
    table = store.open_table(ref)
    try:
        if zorder:
            unknown = [c for c in zorder if c not in table.schema().to_arrow().names]
            if unknown:
                raise StorageError(
                    f"table {ref} has no column {', '.join(unknown)}",
                    Location(asset=ref.key),
                    "z-order by existing columns; see them with 'headwater tables'",
                )
            metrics = table.optimize.z_order(zorder, commit_properties=commit_properties(commit))
        else:
            metrics = table.optimize.compact(commit_properties=commit_properties(commit))
    except StorageError:
        raise
    except Exception as exc:
        raise write_error(ref, exc) from None
    return dict(metrics)


def safe_retention_hours(store: DeltaStore, ref: TableRef) -> float:
    """Return the table's `delta.deletedFileRetentionDuration` in hours (7 days when unset)."""
    configuration = store.open_table(ref).metadata().configuration
    match = RETENTION_INTERVAL.match(configuration.get("delta.deletedFileRetentionDuration") or "")
    if match is None:
        return DEFAULT_RETENTION_HOURS
    return float(match.group(1)) * HOURS_PER_UNIT[match.group(2).lower()]


def vacuum(store: DeltaStore, ref: TableRef, retain_hours: float, dry_run: bool) -> list[str]:
    """Delete files of `ref` unreferenced by every version within `retain_hours`; return them
    (relative to the table's folder, sorted, each once), or only list them when `dry_run`.

    Files removed by a commit are deleted once their removal is older than the retention.
    Files no commit mentions (left by a killed or failed write) are deleted once older than
    the retention too, but never before `IN_FLIGHT_GRACE_SECONDS`, because a concurrent
    writer may be about to commit them. A dry run returns exactly what a real run would
    delete, each file once (delta-rs lists a file once per commit that removed it, e.g.
    removed, brought back by a restore and removed again).
    """
    table = store.open_table(ref)
    files = store.table_files(ref)
    # "full" lists untracked files as well as removed ones; "lite" would leave the files of
    # killed writes behind forever.
    listed = table.vacuum(
        retention_hours=math.ceil(retain_hours),
        dry_run=True,
        enforce_retention_duration=False,
        full=True,
    )
    removed = tombstones(files)
    cutoff = time.time() - max(IN_FLIGHT_GRACE_SECONDS, retain_hours * 3600)
    relatives = list(dict.fromkeys(posixpath.normpath(_relative(files, i)) for i in listed))
    modified = files.modified(relatives)
    chosen = sorted(
        relative
        for relative in relatives
        if relative in modified and (relative in removed or modified[relative] < cutoff)
    )
    if not dry_run:
        files.remove(chosen)
    return chosen


def _relative(files: TableFiles, item: str) -> str:
    """A path delta-rs's vacuum listed (relative, absolute or a URI of the table) relative to
    the table's folder."""
    root = files.root.rstrip("/") + "/"
    if item.startswith(root):
        return item[len(root) :]
    if os.path.isabs(item):
        return os.path.relpath(item, files.root)
    return item


def _file_paths(table: Any) -> list[str]:
    """The data files of the version `table` is loaded at, relative to the table's folder
    (absolute when the log names them so)."""
    import urllib.parse

    import pyarrow as pa

    paths = pa.table(table.get_add_actions(flatten=True)).column("path").to_pylist()
    return [urllib.parse.unquote(encoded) for encoded in paths]


def _version_ranges(versions: list[int]) -> str:
    """`[0, 1, 2, 5, 7, 8]` -> `0-2, 5, 7-8`."""
    parts: list[str] = []
    start = previous = None
    for version in sorted(versions):
        if previous is not None and version == previous + 1:
            previous = version
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = version
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)
