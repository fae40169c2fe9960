"""Reading a Delta table's `_delta_log` folder directly, where delta-rs offers no answer.

delta-rs reads the log to open a table; Headwater reads the files itself for what it does not
expose: the latest version without loading the table, the version a commit of ours landed at,
which run committed an app transaction, remove actions (for vacuum), a commit's timestamp, and
which files of a damaged log are missing or unreadable. Every JSON commit is read through
`commit_actions`; history items from delta-rs become `HistoryEntry`s here too. Files are
reached through the table's `TableFiles` (local disk or object storage).
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import Collection, Iterator
from typing import Any

from headwater.storage.base import HistoryEntry
from headwater.storage.delta_files import TableFiles

LOG_DIR = "_delta_log"
LAST_CHECKPOINT = "_last_checkpoint"
COMMIT_FILE = re.compile(r"^(\d{20})\.json$")
CHECKPOINT_FILE = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")
COMMITS_SEARCHED = 100
"""How many of the newest commits are searched for the one a writer just made."""
ROW_CHANGE_METRICS = {
    "MERGE": (
        ("num_target_rows_inserted", "num_target_rows_updated", "num_target_rows_deleted"),
        ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted"),
    ),
    "DELETE": (("num_deleted_rows",), ("numDeletedRows",)),
    "UPDATE": (("num_updated_rows",), ("numUpdatedRows",)),
}
"""Per operation, the metrics (delta-rs's names, then Spark's) whose sum is the rows it changed;
a merge's `num_output_rows` also counts the untouched rows it copied, so it is not one of them."""


# -- commit files ------------------------------------------------------------------------------


def commit_path(version: int) -> str:
    """Return the path of JSON commit `version`, relative to the table's folder."""
    return f"{LOG_DIR}/{version:020d}.json"


def log_path(name: str) -> str:
    """Return the path of the log file `name`, relative to the table's folder."""
    return f"{LOG_DIR}/{name}"


def commit_actions(
    files: TableFiles, version: int, kinds: Collection[str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield the actions of JSON commit `version` as (kind, body) pairs, in log order.

    Each line of a commit is one action such as `{"add": {...}}`; with `kinds` only actions
    of those kinds are yielded, and lines that cannot hold one are not even parsed (a commit
    of a large overwrite has many add lines that most readers do not need).

    Raises:
        FileNotFoundError: the commit is not in the log (never written, or cleaned up).
        ValueError: a line that had to be parsed is not JSON (a damaged commit).
    """
    markers = [f'"{kind}"' for kind in kinds] if kinds is not None else None
    for line in files.lines(commit_path(version)):
        if not line.strip():
            continue
        if markers is not None and not any(m in line for m in markers):
            continue
        action = json.loads(line)
        if not isinstance(action, dict):
            continue
        for kind, body in action.items():
            if (kinds is None or kind in kinds) and isinstance(body, dict):
                yield kind, body


def latest_version(files: TableFiles) -> int | None:
    """Return the newest version in the table's log by listing it (None if absent).

    The newest JSON commit counts; only a log of checkpoints alone is read by them.
    """
    names = files.names(LOG_DIR)
    versions = [int(m.group(1)) for n in names if (m := COMMIT_FILE.match(n))]
    if not versions:
        versions = [int(m.group(1)) for n in names if (m := CHECKPOINT_FILE.match(n))]
    return max(versions) if versions else None


def checkpoint_hint(files: TableFiles) -> int | None:
    """Return the version `_last_checkpoint` names (None when it is absent or unreadable)."""
    try:
        text = "".join(files.lines(log_path(LAST_CHECKPOINT)))
        return int(json.loads(text)["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def commit_timestamp_ms(files: TableFiles, version: int) -> int | None:
    """Return the commitInfo timestamp of JSON commit `version` (None when unknown)."""
    try:
        for _, info in commit_actions(files, version, ("commitInfo",)):
            stamp = info.get("timestamp")
            return int(stamp) if stamp is not None else None
    except (OSError, ValueError, TypeError):
        return None
    return None


def version_of_commit(files: TableFiles, latest: int, commit_id: str) -> int:
    """Return the version whose commitInfo carries `headwater.commit_id` = `commit_id`,
    searching back from `latest` (others may have committed since); `latest` if not found."""
    for version in range(latest, max(-1, latest - COMMITS_SEARCHED), -1):
        try:
            for _, info in commit_actions(files, version, ("commitInfo",)):
                if info.get("headwater.commit_id") == commit_id:
                    return version
        except FileNotFoundError:
            continue
    return latest


def app_commit_version(
    files: TableFiles, latest: int, app_id: str, app_version: int, run_id: str, landed: int
) -> int | None:
    """Return the version at which run `run_id` committed app transaction (`app_id`,
    `app_version`), or None when no such commit is in the log.

    `landed` is the app id's newest transaction version (delta-rs's answer). The log is read
    back from `latest` until that app id's commits are older than `app_version`; when log
    retention cleaned up the commits in between, the app version alone tells, since app
    versions are run sequence numbers, unique to one run.
    """
    for version in range(latest, -1, -1):
        txn_version: int | None = None
        commit_run: object = None
        try:
            for kind, body in commit_actions(files, version, ("txn", "commitInfo")):
                if kind == "txn" and body.get("appId") == app_id:
                    txn_version = int(body["version"])
                elif kind == "commitInfo":
                    commit_run = body.get("headwater.run_id")
        except FileNotFoundError:
            break
        if txn_version is None:
            continue
        if txn_version == app_version and commit_run == run_id:
            return version
        if txn_version < app_version:
            return None  # that app id's commits are older than the run's: none is its
    return latest if landed == app_version else None


# -- data files named by the log ---------------------------------------------------------------


def data_path(files: TableFiles, encoded: str) -> tuple[str, str]:
    """Return a data file's path relative to the table and its absolute path (or URI).

    The log (and delta-rs, which returns it) URI-encodes paths (`region=new%20york/...`).
    """
    path = urllib.parse.unquote(encoded)
    return path, files.path(path)


def tombstones(files: TableFiles) -> set[str]:
    """Return the paths named by remove actions since (and in) the latest checkpoint."""
    removed: set[str] = set()
    hint = checkpoint_hint(files)
    start = hint if hint is not None else -1
    names = files.names(LOG_DIR)
    if start >= 0:
        import pyarrow.parquet as pq

        prefix = f"{start:020d}.checkpoint"
        for name in names:
            if not (name.startswith(prefix) and name.endswith(".parquet")):
                continue
            try:
                path, filesystem = files.arrow_source(log_path(name))
                column = pq.read_table(path, columns=["remove"], filesystem=filesystem)
            except Exception:
                continue
            for item in column.column("remove").to_pylist():
                if item and item.get("path"):
                    removed.add(urllib.parse.unquote(item["path"]))
    for name in names:
        match = COMMIT_FILE.match(name)
        if not match or int(match.group(1)) <= start:
            continue
        for _, action in commit_actions(files, int(match.group(1)), ("remove",)):
            removed.add(urllib.parse.unquote(action["path"]))
    return removed


def newest_removal_of_a_missing_file(files: TableFiles, since: int) -> int | None:
    """Return the newest commit after version `since` that removed a file no longer there;
    -1 when none did; None when a commit in that range is not in the log as JSON (cannot
    tell)."""
    layout = LogLayout.read(files)
    if layout.latest is None or any(
        v not in layout.commits for v in range(since + 1, layout.latest + 1)
    ):
        return None
    for version in range(layout.latest, since, -1):  # newest first: the first found wins
        try:
            removed = [body for _, body in commit_actions(files, version, ("remove",))]
        except FileNotFoundError:
            return None  # cleaned up meanwhile
        if files.missing(data_path(files, action["path"])[0] for action in removed):
            return version
    return -1


# -- the layout of a log, for damage -----------------------------------------------------------


@dataclasses.dataclass
class LogLayout:
    """The commit and checkpoint files of a `_delta_log` folder, by version."""

    commits: set[int] = dataclasses.field(default_factory=set)
    checkpoints: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    empty: set[str] = dataclasses.field(default_factory=set)
    hint_version: int | None = None

    @classmethod
    def read(cls, files: TableFiles) -> LogLayout:
        """Return the layout of the table's log (empty when there is none)."""
        layout = cls()
        for name in files.names(LOG_DIR):
            if match := COMMIT_FILE.match(name):
                layout.commits.add(int(match.group(1)))
            elif match := CHECKPOINT_FILE.match(name):
                layout.checkpoints.setdefault(int(match.group(1)), []).append(name)
                try:
                    if files.stat(log_path(name))[0] == 0:
                        layout.empty.add(name)
                except FileNotFoundError:
                    pass
        for parts in layout.checkpoints.values():
            parts.sort()
        layout.hint_version = checkpoint_hint(files)
        return layout

    @property
    def latest(self) -> int | None:
        """The newest version with a commit or a checkpoint (None for an empty log)."""
        versions = self.commits | set(self.checkpoints)
        return max(versions) if versions else None

    def checkpoint_is_present(self, version: int) -> bool:
        """Return True when every part of the checkpoint at `version` exists and is not empty."""
        parts = self.checkpoints.get(version, [])
        return bool(parts) and not any(p in self.empty for p in parts)

    def newest_checkpoint(self, target: int) -> int | None:
        """Return the checkpoint delta-rs starts from when opening version `target`."""
        usable = [v for v in self.checkpoints if v <= target and self.checkpoint_is_present(v)]
        return max(usable) if usable else None

    def replayable_without(self, checkpoint: int, target: int | None) -> bool:
        """Return True when the JSON commits rebuild `target` from the checkpoint before
        `checkpoint`."""
        if target is None:
            return False
        earlier = [v for v in self.checkpoints if v < checkpoint and self.checkpoint_is_present(v)]
        start = max(earlier) + 1 if earlier else 0
        return all(v in self.commits for v in range(start, target + 1))

    def missing_commits(self, checkpoint: int | None, target: int | None) -> list[int]:
        """Return the JSON commits after `checkpoint` up to `target` that are not in the log."""
        if target is None:
            return []
        start = checkpoint + 1 if checkpoint is not None else 0
        return [v for v in range(start, target + 1) if v not in self.commits]

    def unparsable_commit(self, files: TableFiles, target: int | None) -> str | None:
        """Return the newest JSON commit up to `target` that is not valid JSON lines (or the
        newest)."""
        versions = sorted((v for v in self.commits if target is None or v <= target), reverse=True)
        for version in versions:
            try:
                for _ in commit_actions(files, version):
                    pass
            except (OSError, ValueError):
                return commit_path(version).rsplit("/", 1)[1]
            if version in self.checkpoints:
                break
        return commit_path(versions[0]).rsplit("/", 1)[1] if versions else None


# -- history -----------------------------------------------------------------------------------


def history_entry(item: dict[str, Any]) -> HistoryEntry:
    """Return one item of delta-rs's `DeltaTable.history()` (a commitInfo) as a
    `HistoryEntry`, with Headwater's own keys, operation and row counts read from it."""
    metadata = {k: str(v) for k, v in item.items() if str(k).startswith("headwater.")}
    # a merge Headwater planned itself is logged as WRITE; its commit says what it was
    operation = metadata.get("headwater.kind") or item.get("operation")
    metrics = {**dict(item.get("operationMetrics") or {}), **own_metrics(metadata)}
    return HistoryEntry(
        version=int(item.get("version", -1)),
        timestamp_ms=item.get("timestamp"),
        operation=operation,
        run_id=item.get("headwater.run_id"),
        parameters=dict(item.get("operationParameters") or {}),
        metrics=metrics,
        rows_written=rows_written(operation, metrics, metadata),
        metadata=metadata,
    )


def own_metrics(metadata: dict[str, str]) -> dict[str, int]:
    """Return the row counts Headwater recorded in a commit's `headwater.metrics` ({} if
    none)."""
    try:
        loaded = json.loads(metadata.get("headwater.metrics") or "{}")
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): int(v) for k, v in loaded.items() if isinstance(v, int | float)}


def rows_written(
    operation: str | None, metrics: dict[str, Any], metadata: dict[str, str]
) -> int | None:
    """Return the rows a commit changed: inserted + updated + deleted for a merge, deleted for
    a delete, updated for an update, else the rows it wrote (Headwater's count, then the
    metrics)."""
    for names in ROW_CHANGE_METRICS.get(str(operation).upper(), ()):
        if any(n in metrics for n in names):
            return sum(_int(metrics.get(n)) or 0 for n in names)
    for value in (
        metadata.get("headwater.rows"),
        metrics.get("num_added_rows"),
        metrics.get("numOutputRows"),
    ):
        if (count := _int(value)) is not None:
            return count
    return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
