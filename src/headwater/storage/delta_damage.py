"""A damaged `_delta_log`: opening a table past an unreadable checkpoint, or naming the file.

delta-rs always starts from the newest checkpoint and has no fallback when it cannot read it.
A checkpoint only summarises JSON commits, so when those are all still there the damaged
checkpoint is set aside and the table opens from the commits. When it cannot, the error names
the log file that is most likely damaged, so the operator knows what to restore.
"""

from __future__ import annotations

import logging

from headwater.errors import Location, StorageError, TableDamagedError, first_line
from headwater.storage.base import TableRef
from headwater.storage.delta_files import TableFiles
from headwater.storage.delta_log import LAST_CHECKPOINT, LogLayout, commit_path, log_path

CHECKPOINT_ERROR_WORDS = ("parquet", "arrow error", "checkpoint")
"""Words of a delta-rs open failure that come from reading a checkpoint (commits are JSON)."""
_LOG = logging.getLogger(__name__)


def set_aside_damaged_checkpoint(
    files: TableFiles, ref: TableRef, version: int | None, exc: Exception
) -> bool:
    """Let delta-rs replay the JSON log past a checkpoint it cannot read; return True if it
    may now.

    `exc` is delta-rs's failure to open version `version` (None: the latest) of `ref`, whose
    files are `files`. When every commit since the checkpoint before the damaged one is
    still present, the damaged one is renamed to `<name>.damaged` (kept for inspection, no
    longer seen by readers) and a `_last_checkpoint` hint pointing at it is removed. Nothing
    is touched otherwise.
    """
    text = str(exc).lower()
    if "json error" in text or not any(w in text for w in CHECKPOINT_ERROR_WORDS):
        return False  # not a checkpoint read failure
    # delta-rs gives no type for a checkpoint it cannot read, so a network failure naming a
    # checkpoint's URL also gets here: this listing then fails the same way, as the store's
    # typed error, and one that has passed since can at worst set aside a sound checkpoint,
    # which loses nothing (every commit it summarises is checked to be there; the file is kept)
    layout = LogLayout.read(files)
    target = version if version is not None else layout.latest
    if target is None:
        return False
    hint = layout.hint_version
    if hint is not None and hint <= target and not layout.checkpoint_is_present(hint):
        # the hint names a checkpoint that is gone or empty: it is only a hint
        _LOG.warning(
            "table %s: _last_checkpoint names checkpoint %d, which is missing or empty; "
            "removed the hint, listing the log instead",
            ref,
            hint,
        )
        files.remove([log_path(LAST_CHECKPOINT)])
        for name in layout.checkpoints.get(hint, []):
            _set_aside(files, name)
        return True
    damaged = layout.newest_checkpoint(target)
    if damaged is None or not layout.replayable_without(damaged, target):
        return False
    parts = layout.checkpoints[damaged]
    _LOG.warning(
        "table %s: checkpoint %s cannot be read (%s); set aside as .damaged, replaying the "
        "JSON commits instead",
        ref,
        ", ".join(parts),
        first_line(exc),
    )
    for name in parts:
        _set_aside(files, name)
    if hint is None or hint >= damaged:
        files.remove([log_path(LAST_CHECKPOINT)])
    return True


def damage_error(
    files: TableFiles, ref: TableRef, version: int | None, exc: Exception
) -> StorageError:
    """Return the error for a failed open of `ref` (whose files are `files`) at `version`,
    naming the log file the failure most likely tripped on."""
    text = first_line(exc)
    layout = LogLayout.read(files)
    target = version if version is not None else layout.latest
    lowered = str(exc).lower()
    suspect: str | None = None
    note = ""
    checkpoint = layout.newest_checkpoint(target) if target is not None else None
    missing = layout.missing_commits(checkpoint, target)
    if "json error" in lowered:
        name = layout.unparsable_commit(files, target)
        suspect = files.path(log_path(name)) if name else None
    elif missing:
        suspect = files.path(commit_path(missing[0]))
        note = "; that commit is missing from the log"
    elif any(w in lowered for w in CHECKPOINT_ERROR_WORDS):
        if checkpoint is not None:
            suspect = files.path(log_path(layout.checkpoints[checkpoint][0]))
            if not layout.replayable_without(checkpoint, target):
                note = (
                    "; the JSON commits it summarises are gone, so the log cannot be "
                    "replayed without it"
                )
        elif files.exists(log_path(LAST_CHECKPOINT)):
            suspect = files.path(log_path(LAST_CHECKPOINT))
    where = f" (damaged file: {suspect})" if suspect else ""
    return TableDamagedError(
        f"table {ref} cannot be opened: {text}{where}{note}",
        Location(asset=ref.key, file=suspect),
        "restore the file from a backup, or restore the table's folder from a backup",
    )


def _set_aside(files: TableFiles, name: str) -> None:
    """Rename the damaged log file `name` so delta-rs no longer lists it (a racing reader may
    win)."""
    files.rename(log_path(name), log_path(name + ".damaged"))
