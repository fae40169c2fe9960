"""Files on disk: CSV/TSV through DuckDB's reader, Parquet as is, JSON and NDJSON record by record.

New files are loaded once each: the state keeps every file's size and modification time, and a
file whose size or time changed is loaded again (`on_change: reload`) or left alone (`ignore`).
Each file is read by the reader of its format (`csv_reader.py`, `json_reader.py`, Parquet
here), and all of a load's files are staged into one extract.
"""

from __future__ import annotations

import glob
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from headwater.errors import SOURCES_DOCS, ConfigError, Location, SourceError
from headwater.ingest.base import DatasetOrigin, Extracted, Extractor, ExtractRequest
from headwater.ingest.csv_reader import read_csv
from headwater.ingest.extractors import register_extractor
from headwater.ingest.json_reader import read_json
from headwater.project.hive_folders import hive_folders, select_list
from headwater.project.sources import FileFormat, SourceTable, TableConfig

FORMATS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
}
FileReader = Callable[[ExtractRequest, str, str, FileFormat, Extracted], None]
"""Stages the rows of one file (its path, its name as shown, its format) into an extract."""


def file_format(path: str, table: TableConfig) -> FileFormat:
    """The format of `path`: the table's `format`, else its extension."""
    if table.format:
        return table.format
    name = path[:-3] if path.endswith(".gz") else path
    found = FORMATS.get(Path(name).suffix.lower())
    if found is None:
        raise ConfigError(
            f"cannot tell the format of {path}",
            Location(file=path),
            f"set 'format:' (csv, tsv, json, ndjson or parquet) on the table; see {SOURCES_DOCS}",
        )
    return found


class FileExtractor(Extractor):
    """Loads the new (or changed) files matching a table's `path`."""

    def extract(self, request: ExtractRequest) -> Extracted:
        spec = request.spec
        table = spec.table
        if not table.path:
            raise ConfigError(
                f"table {spec.name} of files source {spec.source_name} has no 'path'",
                _path_location(request, request.key),
                f"set 'path:' to a file or glob relative to the project; see {SOURCES_DOCS}",
            )
        pattern = (
            table.path if os.path.isabs(table.path) else str(request.project_root / table.path)
        )
        matched = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        seen: dict[str, list[int]] = dict(request.state.get("files", {}))
        if not matched and (spec.mode == "replace" or not seen):
            # a first load of nothing cannot make a table, and a replace would empty it
            key = request.key
            raise SourceError(
                f"path '{table.path}' of table {key} matches no file (looked for {pattern})",
                _path_location(request, key),
                "fix 'path:' (relative to the project folder; '*' matches within a folder, "
                f"'**' across folders) or add the files, then load again; see {SOURCES_DOCS}",
            )
        current = {}
        for path in matched:
            stat = os.stat(path)
            current[_shown(path, request.project_root)] = [stat.st_size, stat.st_mtime_ns]
        if spec.mode == "replace":
            if current == seen:
                return Extracted(state={"files": seen})
            todo = list(current)
        else:
            todo = [
                name
                for name, signature in current.items()
                if name not in seen or (signature != seen[name] and table.on_change == "reload")
            ]
        # replace: the files now present are the whole table; otherwise files are remembered
        # even after they disappear, so a file moved back in is not loaded twice
        files = current if spec.mode == "replace" else {**seen, **current}
        extracted = Extracted(state={"files": files}, replaces_all=spec.mode == "replace")
        for name in todo:
            path = name if os.path.isabs(name) else str(request.project_root / name)
            kind = file_format(path, table)
            READERS[kind](request, path, name, kind, extracted)
        return extracted


def read_parquet(
    request: ExtractRequest, path: str, name: str, kind: FileFormat, out: Extracted
) -> None:
    """Stage the rows of the Parquet file at `path` into `out`, as they are (with a column for
    each `key=value` folder below the project, as Spark reads a partitioned layout)."""
    directory = request.stage_dir / f"parquet-{uuid.uuid4().hex[:12]}"
    folders = hive_folders(path, request.project_root)
    scan = request.session.scan_parquet(
        [path], union_by_name=False, hive_partitioning=folders.partitioning
    )
    written = request.session.copy_parquet(f"SELECT {select_list(folders)} FROM {scan}", directory)
    out.add_files(written.files, written.schema, written.rows)


READERS: dict[FileFormat, FileReader] = {
    "csv": read_csv,
    "tsv": read_csv,
    "json": read_json,
    "ndjson": read_json,
    "parquet": read_parquet,
}
"""The reader of each file format."""


def _path_location(request: ExtractRequest, key: str) -> Location:
    """Where the table's `path:` is set: its own key, else the source's `defaults:`."""
    file, document = request.source_file, request.document
    if document is None:
        return Location(file=file, asset=key)
    tables = document.data.get("tables")
    own = tables.get(request.spec.name) if isinstance(tables, dict) else None
    if isinstance(own, dict) and "path" in own:
        line = document.line_of(("tables", request.spec.name, "path"))
    elif isinstance(document.data.get("defaults"), dict) and "path" in document.data["defaults"]:
        line = document.line_of(("defaults", "path"))
    else:
        line = document.line_of(("tables", request.spec.name))
    return Location(file=file, line=line, asset=key)


def _shown(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def file_origin(spec: SourceTable, project_root: Path) -> DatasetOrigin:
    """The table's files as OpenLineage names them: namespace `file`, the `path:` pattern
    made absolute under the project's folder."""
    path = spec.table.path or ""
    return DatasetOrigin("file", path if os.path.isabs(path) else str(project_root / path))


register_extractor("files", FileExtractor, file_origin)
