"""Erase rows from a Delta table and from its history (a subject's right to erasure).

Delta keeps every version on purpose, so deleting rows leaves them in the files of the older
versions, and the log keeps values too: each commit's add actions carry per-file min/max
statistics, a DELETE's or MERGE's commit info carries its predicate, and checkpoints copy the
statistics (their own Parquet footers keep min/max of those). `purge_rows` removes the rows
from all of that, in this order, so that a crash at any point leaves the table readable at its
latest version and a second run finishes the work:

1. **The current version**: every file holding a matching row is rewritten without those rows
   and the rewrite is committed as a new version (file actions only: the commit says nothing of
   what was matched).
2. **History**: every data file the log still names that holds a matching row (a file of an
   older version, and the files step 1 replaced) is deleted. Versions that read it can no
   longer be read; the table's erasure record (`_headwater_erasures.json`, ignored by Delta
   readers) says which, and reading one names the erasure.
3. **The log**: in every JSON commit, the add and remove actions of the deleted files lose their
   statistics (as does any other whose statistics hold an erased value), and any text of a
   commit's `commitInfo` (a DELETE's or MERGE's predicate) holding an erased value is replaced
   by `[erased]`. Each commit file is rewritten whole. Paths and partition values are left as
   they are: a table partitioned by a personal value keeps it in its folder names.
4. **Checkpoints**: a new checkpoint of the latest version is written (it holds only the current
   files, none of which holds a matching row), then every other checkpoint is deleted.

Matching is done by the caller's `matches` on each file's rows (partition values included as
columns); `values` are the texts to look for in the log.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.storage.base import CommitInfo, DataFile, TableRef, WrittenFile
from headwater.storage.delta_log import (
    CHECKPOINT_FILE,
    COMMIT_FILE,
    LAST_CHECKPOINT,
    LOG_DIR,
    commit_path,
    log_path,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.storage.delta import DeltaStore
    from headwater.storage.delta_files import TableFiles

Matcher = Callable[["pa.Table"], "pa.Array | pa.ChunkedArray"]
"""Which rows of a file's table to erase: a boolean per row (null: keep)."""
ERASURES_FILE = "_headwater_erasures.json"
"""The table's record of its erasures, at its root (a name Delta readers and vacuum skip)."""
ERASED = "[erased]"
"""What replaces text of the log that held an erased value."""


@dataclass
class Purged:
    """What `purge_rows` did to one table."""

    table: str
    version: int | None = None
    """The version that removed the rows from the current files (None: they held none)."""
    rows: int = 0
    """Rows removed from the current version."""
    rewritten: int = 0
    """Current files rewritten without those rows."""
    history_files: list[str] = field(default_factory=list)
    """Files of earlier versions deleted because they held matching rows."""
    history_rows: int = 0
    """Matching rows those files held."""
    unreadable: list[int] = field(default_factory=list)
    """Earlier versions that can no longer be read (they read a deleted file)."""
    commits_scrubbed: list[int] = field(default_factory=list)
    """Versions whose commit file was rewritten."""
    checkpoint: int | None = None
    """The version of the checkpoint written afterwards (None: no checkpoint was needed)."""

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "table": self.table,
            "version": self.version,
            "rows": self.rows,
            "rewritten_files": self.rewritten,
            "history_files": len(self.history_files),
            "history_rows": self.history_rows,
            "unreadable_versions": self.unreadable,
            "commits_scrubbed": len(self.commits_scrubbed),
            "checkpoint": self.checkpoint,
        }


def purge_rows(
    store: DeltaStore,
    ref: TableRef,
    matches: Matcher,
    values: Collection[str],
    commit: CommitInfo,
    erasure: str,
) -> Purged:
    """Remove the rows `matches` picks from table `ref`'s current version and from every file,
    commit and checkpoint of its history (see the module's docstring); `values` are the texts
    of the erased values, looked for in the log's text; `erasure` names the erasure in the
    table's record of erasures.

    Returns:
        What was removed, rewritten and made unreadable.
    """
    purged = Purged(ref.key)
    files = store.table_files(ref)
    replaced = _purge_current(store, ref, matches, commit, purged)
    purged.history_files, purged.history_rows, spans = _history_holding(
        store, files, ref, matches, replaced
    )
    gone = set(purged.history_files)
    purged.unreadable = sorted(
        {v for path in gone for v in spans.get(path, ())} - {purged.version, None}
    )
    if gone:
        # recorded before the files go: a crash in between still names the erasure
        _record(files, erasure, purged)
        files.remove(sorted(gone))
    purged.commits_scrubbed = _scrub_commits(files, gone, values)
    purged.checkpoint = _renew_checkpoints(store, ref, files)
    return purged


def rows_matching(store: DeltaStore, ref: TableRef, matches: Matcher) -> pa.Table:
    """Every row `matches` picks in any file the log of table `ref` names (the current
    version's and the older versions' still on disk), as one table (columns of every file,
    missing ones null); the rows of a file read by several versions are there once."""
    import pyarrow as pa

    files = store.table_files(ref)
    snapshot = store.snapshot(ref)
    spans, partitions = _file_versions(files)
    for data_file in snapshot.files:
        partitions.setdefault(data_file.relative_path, dict(data_file.partition_values))
    existing = set(files.modified(set(spans) | set(partitions)))
    found: list[pa.Table] = []
    for path in sorted(existing):
        table = _read(files, path, partitions.get(path, {}), snapshot)
        hit = _mask(matches, table)
        if hit.true_count:
            found.append(table.filter(hit))
    if not found:
        return snapshot.schema.empty_table()
    return pa.concat_tables(found, promote_options="permissive")


def traces(
    store: DeltaStore,
    ref: TableRef,
    texts: Collection[str],
    columns: Mapping[str, Collection[str]] | None = None,
) -> list[str]:
    """Where the erased values are still found under table `ref`'s folder: any of `texts`
    (as text, ignoring case) in a file's bytes, a Parquet file's decoded values or its footer
    statistics; any value of `columns` (lower-case column name -> normalised values: numbers,
    which occur anywhere by chance) in that column of a Parquet file. Empty: nowhere.

    Returns:
        One line per file and form (`raw/people/part-0001.parquet: values`).
    """
    import io

    import pyarrow.parquet as pq

    lowered = [t.lower() for t in {t.strip() for t in texts} if len(t.strip()) >= 3]
    exact = {name.lower(): set(values) for name, values in (columns or {}).items()}
    files = store.table_files(ref)
    found: list[str] = []
    for relative in files.tree():
        data = files.read_bytes(relative)
        if any(t.encode() in data.lower() for t in lowered):
            found.append(f"{ref.key}/{relative}: bytes")
        if not relative.endswith(".parquet"):
            continue
        parquet = pq.ParquetFile(io.BytesIO(data))
        table = parquet.read()
        text = "\n".join(str(v) for v in _values(table)).lower()
        if any(t in text for t in lowered) or _holds_exactly(table, exact):
            found.append(f"{ref.key}/{relative}: values")
        metadata = parquet.metadata
        bounds: list[str] = []
        for group in range(metadata.num_row_groups):
            for index in range(metadata.num_columns):
                column = metadata.row_group(group).column(index)
                stats = column.statistics
                if stats is None or not stats.has_min_max:
                    continue
                bounds += [str(stats.min), str(stats.max)]
                name = column.path_in_schema.split(".")[0].lower()
                if {str(stats.min).strip().lower(), str(stats.max).strip().lower()} & exact.get(
                    name, set()
                ):
                    found.append(f"{ref.key}/{relative}: footer statistics of {name}")
        if any(t in "\n".join(bounds).lower() for t in lowered):
            found.append(f"{ref.key}/{relative}: footer statistics")
    return found


def _holds_exactly(table: pa.Table, exact: Mapping[str, set[str]]) -> bool:
    """Whether a column of `table` named in `exact` holds one of its values."""
    for name in table.column_names:
        wanted = exact.get(name.lower())
        if not wanted:
            continue
        if {str(v).strip().lower() for v in table.column(name).to_pylist()} & wanted:
            return True
    return False


def _values(table: pa.Table) -> Iterator[Any]:
    """Every value of `table`, nested ones flattened."""
    stack: list[Any] = [row for row in table.to_pylist()]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif item is not None:
            yield item


def delete_rows(
    store: DeltaStore, ref: TableRef, matches: Matcher, commit: CommitInfo
) -> tuple[int | None, int]:
    """Delete the rows `matches` picks from table `ref`'s current version only (older versions
    keep them): the files holding them are rewritten without them in one commit.

    Returns:
        The version committed (None: no row matched) and the rows deleted.
    """
    purged = Purged(ref.key)
    _purge_current(store, ref, matches, commit, purged)
    return purged.version, purged.rows


# -- 1. the current version ------------------------------------------------------------------


def _purge_current(
    store: DeltaStore, ref: TableRef, matches: Matcher, commit: CommitInfo, purged: Purged
) -> set[str]:
    """Rewrite the current files holding matching rows without them, commit that, and return
    the paths of the files replaced."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    snapshot = store.snapshot(ref)
    files = store.table_files(ref)
    removed: list[DataFile] = []
    written: list[WrittenFile] = []
    directory = None
    for data_file in snapshot.files:
        table = _read(files, data_file.relative_path, data_file.partition_values, snapshot)
        hit = _mask(matches, table)
        count = int(pc.sum(hit).as_py() or 0)
        if not count:
            continue
        purged.rows += count
        removed.append(data_file)
        kept = table.filter(pc.invert(hit)).drop_columns(
            [c for c in snapshot.partition_by if c in table.column_names]
        )
        if kept.num_rows:
            directory = directory or store.new_file_dir(ref, "erase")
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"part-{uuid.uuid4().hex}.parquet"
            pq.write_table(kept, path)
            written.append(WrittenFile(str(path), dict(data_file.partition_values)))
    if not removed:
        return set()
    purged.rewritten = len(removed)
    purged.version = store.commit_files(
        ref,
        written,
        snapshot.schema,
        "append",
        commit,
        partition_by=list(snapshot.partition_by) or None,
        remove=removed,
    )
    return {f.relative_path for f in removed}


def _mask(matches: Matcher, table: pa.Table) -> pa.Array:
    """`matches` of `table` as one boolean array, nulls false."""
    import pyarrow as pa

    found = matches(table)
    if isinstance(found, pa.ChunkedArray):
        found = found.combine_chunks() if found.num_chunks else pa.array([], pa.bool_())
    return found.fill_null(False)


def _read(
    files: TableFiles,
    relative: str,
    partition_values: dict[str, str | None],
    snapshot: Any,
) -> pa.Table:
    """One data file's rows, with its partition values as columns (typed as the table's)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, filesystem = files.arrow_source(relative)
    table = _plain_strings(pq.read_table(source, filesystem=filesystem))
    schema: pa.Schema = snapshot.schema
    for name, value in partition_values.items():
        if name in table.column_names:
            continue
        field_type = schema.field(name).type if name in schema.names else pa.string()
        column = pa.array([value] * table.num_rows, pa.string())
        table = table.append_column(name, column.cast(field_type))
    return table


def _plain_strings(table: pa.Table) -> pa.Table:
    """`table` with view strings and binaries (as delta-rs writes them) made plain, which
    every compute function takes."""
    import pyarrow as pa

    fields = []
    for column in table.schema:
        kind = column.type
        if pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_binary_view(kind):
            kind = pa.binary()
        fields.append(column.with_type(kind))
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table if schema.equals(table.schema) else table.cast(schema)


# -- 2. history ------------------------------------------------------------------------------


def _history_holding(
    store: DeltaStore, files: TableFiles, ref: TableRef, matches: Matcher, replaced: set[str]
) -> tuple[list[str], int, dict[str, set[int]]]:
    """Find every file the log names, other than the current ones, that holds a matching
    row. Returns those files, the matching rows they hold, and for every file of the log the
    versions that read it."""
    import pyarrow.compute as pc

    current = {f.relative_path for f in store.snapshot(ref).files}
    spans, partitions = _file_versions(files)
    snapshot = store.snapshot(ref)
    deleted: list[str] = []
    rows = 0
    existing = set(files.modified(spans))
    for path in sorted(spans):
        if path in current or path not in existing:
            continue
        if path in replaced:  # step 1 replaced it for its matching rows (counted there)
            deleted.append(path)
            continue
        table = _read(files, path, partitions.get(path, {}), snapshot)
        hit_rows = int(pc.sum(_mask(matches, table)).as_py() or 0)
        if hit_rows:
            deleted.append(path)
            rows += hit_rows
    return deleted, rows, spans


def _file_versions(
    files: TableFiles,
) -> tuple[dict[str, set[int]], dict[str, dict[str, str | None]]]:
    """For every data file an add action of the log names: the versions that read it, and
    its partition values. Files known only from a checkpoint (their commits cleaned up) are
    read by the checkpoint's version and every later one until removed."""
    latest, commits = _commit_versions(files)
    live: dict[str, int] = {}
    spans: dict[str, set[int]] = {}
    partitions: dict[str, dict[str, str | None]] = {}
    first = min(commits) if commits else 0
    for path, values in _checkpoint_adds(files, first):
        live.setdefault(path, first)
        partitions[path] = values
    for version in sorted(commits):
        for kind, body in _actions(files, version):
            if kind not in ("add", "remove") or "path" not in body:
                continue
            path = urllib.parse.unquote(body["path"])
            if kind == "add":
                live.setdefault(path, version)
                partitions[path] = dict(body.get("partitionValues") or {})
            elif path in live:
                spans.setdefault(path, set()).update(range(live.pop(path), version))
    for path, since in live.items():
        spans.setdefault(path, set()).update(range(since, latest + 1))
    return spans, partitions


def _commit_versions(files: TableFiles) -> tuple[int, list[int]]:
    names = files.names(LOG_DIR)
    commits = [int(m.group(1)) for n in names if (m := COMMIT_FILE.match(n))]
    checkpoints = [int(m.group(1)) for n in names if (m := CHECKPOINT_FILE.match(n))]
    latest = max([*commits, *checkpoints], default=-1)
    return latest, commits


def _checkpoint_adds(files: TableFiles, before: int) -> Iterator[tuple[str, dict[str, str | None]]]:
    """The add actions of the newest checkpoint at or before version `before` (the state the
    earliest kept commit builds on), when the commits before it were cleaned up."""
    import pyarrow.parquet as pq

    names = files.names(LOG_DIR)
    versions = sorted(
        {int(m.group(1)) for n in names if (m := CHECKPOINT_FILE.match(n))}, reverse=True
    )
    base = next((v for v in versions if v <= before), None)
    if base is None or before == 0:
        return
    for name in names:
        if not name.startswith(f"{base:020d}.checkpoint") or not name.endswith(".parquet"):
            continue
        source, filesystem = files.arrow_source(log_path(name))
        column = pq.read_table(source, columns=["add"], filesystem=filesystem).column("add")
        for item in column.to_pylist():
            if item and item.get("path"):
                values = item.get("partitionValues") or {}
                if isinstance(values, list):  # a map read as key/value pairs
                    values = dict(values)
                yield urllib.parse.unquote(item["path"]), values


def _actions(files: TableFiles, version: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for line in files.lines(commit_path(version)):
        if not line.strip():
            continue
        action = json.loads(line)
        if isinstance(action, dict):
            for kind, body in action.items():
                if isinstance(body, dict):
                    yield kind, body


# -- 3. the log ------------------------------------------------------------------------------


def _scrub_commits(files: TableFiles, deleted: set[str], values: Collection[str]) -> list[int]:
    """Rewrite each commit that names a deleted file's statistics or holds an erased value in
    its text; return the versions rewritten."""
    patterns = _value_patterns(values)
    _, commits = _commit_versions(files)
    scrubbed: list[int] = []
    for version in sorted(commits):
        lines = list(files.lines(commit_path(version)))
        changed = False
        out: list[str] = []
        for line in lines:
            if not line.strip():
                continue
            action = json.loads(line)
            if _scrub_action(action, deleted, patterns):
                changed = True
                out.append(json.dumps(action, separators=(",", ":")))
            else:
                out.append(line.rstrip("\n"))
        if changed:
            files.write_text(commit_path(version), "\n".join(out) + "\n")
            scrubbed.append(version)
    return scrubbed


def _scrub_action(
    action: dict[str, Any], deleted: set[str], patterns: list[re.Pattern[str]]
) -> bool:
    """Drop the statistics of a deleted file's add or remove action and replace text holding
    an erased value; return whether `action` changed."""
    changed = False
    for kind, body in action.items():
        if not isinstance(body, dict):
            continue
        if kind in ("add", "remove") and urllib.parse.unquote(str(body.get("path"))) in deleted:
            for key in ("stats", "stats_parsed", "tags"):
                if key in body:
                    del body[key]
                    changed = True
        if not patterns:
            continue
        if kind in ("add", "remove"):
            # its path, size and partition values are what the table is made of: only its
            # statistics can hold a value (another file's min or max, by coincidence)
            if "stats" in body and _holds(str(body["stats"]), patterns):
                del body["stats"]
                changed = True
        elif kind == "commitInfo" and _holds(json.dumps(body), patterns):
            action[kind] = _replace_text(body, patterns)  # a DELETE's or MERGE's predicate
            changed = True
    return changed


def _value_patterns(values: Collection[str]) -> list[re.Pattern[str]]:
    """Patterns finding each erased value in text: a number only as a whole word (`45` is
    not in `1450` nor in `a45b`), other text anywhere, also as JSON escapes it."""
    patterns = []
    for value in sorted({v for v in values if v}):
        forms = {value, json.dumps(value)[1:-1]}
        for form in forms:
            if re.fullmatch(r"-?\d+(\.\d+)?", form):
                patterns.append(re.compile(rf"(?<![\w.]){re.escape(form)}(?![\w.])"))
            else:
                patterns.append(re.compile(re.escape(form), re.IGNORECASE))
    return patterns


def _holds(text: str, patterns: list[re.Pattern[str]]) -> bool:
    return any(p.search(text) for p in patterns)


def _replace_text(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    """`value` with every string holding an erased value replaced by `ERASED`."""
    if isinstance(value, str):
        return ERASED if _holds(value, patterns) else value
    if isinstance(value, dict):
        return {k: _replace_text(v, patterns) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, patterns) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ERASED if _holds(json.dumps(value), patterns) else value
    return value


# -- 4. checkpoints --------------------------------------------------------------------------


def _renew_checkpoints(store: DeltaStore, ref: TableRef, files: TableFiles) -> int | None:
    """Write a checkpoint of the latest version, then delete every other one (they copy
    statistics of files now deleted); return the new checkpoint's version (None: the table
    had none and needs none)."""
    names = files.names(LOG_DIR)
    old = [n for n in names if CHECKPOINT_FILE.match(n)]
    if not old and LAST_CHECKPOINT not in names:
        return None
    table = store.delta_table(ref)
    table.create_checkpoint()
    latest = int(table.version())
    stale = [
        log_path(n)
        for n in files.names(LOG_DIR)
        if (m := CHECKPOINT_FILE.match(n)) and int(m.group(1)) != latest
    ]
    files.remove(stale)
    return latest


# -- the table's record of erasures ----------------------------------------------------------


def _record(files: TableFiles, erasure: str, purged: Purged) -> None:
    """Add this erasure to the table's record (which versions it made unreadable)."""
    known = erasures(files)
    known.append({"erasure": erasure, "version": purged.version, "unreadable": purged.unreadable})
    files.write_text(ERASURES_FILE, json.dumps(known, indent=1) + "\n")


def erasures(files: TableFiles) -> list[dict[str, Any]]:
    """The erasures table `files` records, oldest first (empty when none)."""
    try:
        found = json.loads(files.read_bytes(ERASURES_FILE))
    except (FileNotFoundError, ValueError):
        return []
    return found if isinstance(found, list) else []


def erasure_of(files: TableFiles, version: int) -> str | None:
    """The erasure that made `version` unreadable, if one did."""
    for record in erasures(files):
        if version in (record.get("unreadable") or []):
            return str(record.get("erasure"))
    return None
