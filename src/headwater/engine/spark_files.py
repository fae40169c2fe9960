"""Parquet files in and out of Spark: reading a list of files as one table, and collecting what
Spark's writer left in a folder.

Spark reads the files it is given by path, never a table's folder: the file list of a Delta
snapshot comes from delta-rs, so Spark needs no Delta library. Partition columns are not in the
files; they are added per group of files from the values storage lists (or, for a plain scan,
from the `key=value` folders of the paths), so a filter on them still skips whole groups. A
path is passed to Spark with its glob characters escaped, as Hadoop would otherwise expand them.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

    from headwater.engine.registry import EnginePlace
    from headwater.storage.base import Snapshot, WrittenFile

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""How Spark (and DuckDB, and Hive) name the folder of a NULL partition value."""
FILENAME = "filename"
"""The column a scan with `filename=True` adds, as DuckDB's `read_parquet` names it."""
_GLOB = re.compile(r"([{}\[\]*?\\])")


@dataclass
class FileGroup:
    """Files sharing their partition values (text as Delta keeps it; None for NULL)."""

    values: tuple[str | None, ...]
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FileRead:
    """How to read a list of Parquet files as one table.

    Attributes:
        groups: the files, by partition values.
        partitions: the partition columns (name, Spark type), in the order of a group's values.
        data_schema: the columns in the files (None: read from the files' footers).
        merge_schema: match the files' columns by name, NULL where a file lacks one.
        spark_path: the path (or URI) Spark reads a file by.
        filename: add a `filename` column holding each row's file as given.
        patterns: paths that are glob patterns for Spark to expand (on object storage, where
            they cannot be listed here); every other path is read literally.
    """

    groups: list[FileGroup]
    partitions: list[tuple[str, DataType]]
    data_schema: StructType | None = None
    merge_schema: bool = True
    spark_path: Callable[[str], str] = lambda path: path
    filename: bool = False
    patterns: frozenset[str] = frozenset()


def escape_glob(path: str) -> str:
    """`path` with Hadoop's glob characters escaped, so Spark reads exactly that file."""
    return _GLOB.sub(r"\\\1", path)


def read_files(spark: SparkSession, read: FileRead) -> DataFrame:
    """A DataFrame of the files of `read`: their data columns, then the partition columns
    (typed), then `filename` when asked. `read.groups` must not be empty."""
    from pyspark.sql import functions as F

    frames = []
    for group in read.groups:
        reader = spark.read.option("mergeSchema", "true" if read.merge_schema else "false")
        if read.data_schema is not None:
            reader = reader.schema(read.data_schema)
        frame = reader.parquet(*(_spark_name(read, p) for p in group.paths))
        columns: list[Any] = [_column(name) for name in frame.columns]
        for (name, kind), value in zip(read.partitions, group.values, strict=True):
            columns.append(F.lit(value).cast(kind).alias(name))
        if read.filename:
            columns.append(_given_path(group.paths, read.spark_path).alias(FILENAME))
        frames.append(frame.select(*columns))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


def _spark_name(read: FileRead, path: str) -> str:
    """The path Spark is given for `path`: escaped, unless it is a pattern to expand."""
    name = read.spark_path(path)
    return name if path in read.patterns else escape_glob(name)


def expand_globs(paths: Sequence[str]) -> tuple[list[str], frozenset[str]]:
    """`paths` with each local glob pattern (`data/orders*.parquet`, `**` too) replaced by the
    files it matches, sorted, as DuckDB's `read_parquet` reads them; a pattern on object
    storage is kept, for Spark to expand (returned as the second item).

    Raises:
        ModelError: a local pattern matches no file.
    """
    import glob

    from headwater.errors import ModelError

    expanded: list[str] = []
    patterns: set[str] = set()
    for path in paths:
        if not glob.has_magic(path) or os.path.exists(path):
            expanded.append(path)
        elif "://" in path:
            expanded.append(path)
            patterns.add(path)
        else:
            found = sorted(glob.glob(path, recursive=True))
            if not found:
                raise ModelError(
                    f"no file matches {path}",
                    hint="check the path in read_parquet(...) (relative paths start at the "
                    "project folder)",
                )
            expanded.extend(found)
    return expanded, frozenset(patterns)


def _given_path(paths: list[str], spark_path: Callable[[str], str]) -> Any:
    """A column holding each row's file path as the caller gave it (Spark reports the file
    as a URI of its own: `file:/...`, percent-encoded)."""
    from pyspark.sql import functions as F

    reported = F.col("_metadata.file_path")
    if len(paths) == 1:
        return F.lit(paths[0])
    # Spark's URI percent-encodes what a URI path may not hold (a space, %, brackets) but
    # leaves `+` as it is, which URL decoding would read as a space
    decoded = F.url_decode(F.regexp_replace(reported, r"\+", "%2B"))
    known = {_normalised(spark_path(p)): p for p in paths}
    mapping = F.create_map(*[F.lit(x) for pair in known.items() for x in pair])
    return F.coalesce(mapping[F.regexp_replace(decoded, "^file:(//)?", "")], decoded)


def _normalised(uri: str) -> str:
    """A path as `_given_path` decodes Spark's URI of it: without a `file:` scheme."""
    return re.sub("^file:(//)?", "", uri)


def hive_groups(
    paths: Sequence[str], partition_types: dict[str, DataType] | None
) -> tuple[list[FileGroup], list[tuple[str, DataType]]]:
    """Group `paths` by the `key=value` folders in them (the partition columns of a plain
    scan) and type those columns: as `partition_types` says, else as integers, decimals or
    text, whichever all values fit. Paths lacking a key hold NULL in it."""
    from pyspark.sql.types import DoubleType, LongType, StringType

    parsed = [(path, hive_values(path)) for path in paths]
    names: list[str] = []
    for _, values in parsed:
        names.extend(n for n in values if n not in names)
    groups: dict[tuple[str | None, ...], FileGroup] = {}
    for path, values in parsed:
        key = tuple(values.get(n) for n in names)
        groups.setdefault(key, FileGroup(key)).paths.append(path)
    types: list[tuple[str, DataType]] = []
    for index, name in enumerate(names):
        given = (partition_types or {}).get(name)
        if given is not None:
            types.append((name, given))
            continue
        seen = [v for g in groups.values() if (v := g.values[index]) is not None]
        kind: DataType = StringType()
        if seen and all(_is_int(v) for v in seen):
            kind = LongType()
        elif seen and all(_is_float(v) for v in seen):
            kind = DoubleType()
        types.append((name, kind))
    return list(groups.values()), types


def hive_values(path: str) -> dict[str, str | None]:
    """The `key=value` folders of `path`, decoded (`__HIVE_DEFAULT_PARTITION__` is None)."""
    values: dict[str, str | None] = {}
    for part in Path(path).parts[:-1]:
        key, sep, value = part.partition("=")
        if sep and key:
            decoded = urllib.parse.unquote(value)
            values[urllib.parse.unquote(key)] = None if decoded == NULL_PARTITION else decoded
    return values


def _is_int(value: str) -> bool:
    return re.fullmatch(r"[+-]?\d{1,18}", value) is not None


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def written_files(directory: Path) -> tuple[list[WrittenFile], int]:
    """The Parquet files Spark's writer left under `directory`, with the partition values of
    their `key=value` folders, and their row count (from the footers). Files holding no rows,
    Spark's `_SUCCESS` marker and checksum files are removed: storage commits what is listed,
    and nothing else may linger in a table's folder."""
    import pyarrow.parquet as pq

    from headwater.storage.base import WrittenFile

    files: list[WrittenFile] = []
    rows = 0
    for path in sorted(_walk(directory)):
        name = os.path.basename(path)
        if not name.endswith(".parquet") or name.startswith((".", "_")):
            os.remove(path)
            continue
        count = pq.ParquetFile(path).metadata.num_rows
        if not count:
            os.remove(path)
            continue
        rows += count
        relative = Path(os.path.relpath(path, directory))
        files.append(WrittenFile(path, _folder_values(relative.parts[:-1])))
    _remove_empty_folders(directory)
    return files, rows


def _folder_values(parts: Iterable[str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if sep:
            decoded = urllib.parse.unquote(value)
            values[urllib.parse.unquote(key)] = None if decoded == NULL_PARTITION else decoded
    return values


def _walk(directory: Path) -> list[str]:
    found: list[str] = []
    for folder, _, names in os.walk(directory):
        found.extend(os.path.join(folder, n) for n in names)
    return found


def _remove_empty_folders(directory: Path) -> None:
    """Remove the folders under (and including) `directory` that hold no file any more."""
    for folder, _, _ in sorted(os.walk(directory), key=lambda entry: -len(entry[0])):
        try:
            os.rmdir(folder)
        except OSError:  # not empty
            continue


class SparkFiles:
    """How one engine's Spark reaches files: by local path, or through the warehouse's object
    store (`s3a://` URIs) when it has one."""

    def __init__(self, spark: SparkSession, place: EnginePlace) -> None:
        self._spark = spark
        self._place = place

    def absolute(self, path: str) -> str:
        """`path` made absolute against the project folder (a URI stays as it is)."""
        if "://" in path or os.path.isabs(path):
            return path
        return str(self._place.root / path)

    def spark_path(self, path: str) -> str:
        """The path (or URI) Spark reads the file `path` by."""
        store = self._place.object_store
        if store is not None and path.startswith(f"{store.scheme}://"):
            return store.spark_path(path)
        return path

    def output_path(self, directory: Path) -> str:
        """The path Spark writes into the local folder `directory` by."""
        return str(directory)

    def snapshot_frame(self, snapshot: Snapshot) -> DataFrame:
        """A DataFrame of `snapshot`'s rows: its columns in its order and types, partition
        columns from the values storage lists for each file."""
        from pyspark.sql.types import StructType

        from headwater.engine.spark_types import plain_table, spark_schema, spark_type

        schema = spark_schema(snapshot.schema)
        if snapshot.needs_arrow_reader:
            # deletion vectors or column mapping: only delta-rs reads such a table right
            table = plain_table(snapshot.arrow_dataset().to_table())
            return self._spark.createDataFrame(table, schema=spark_schema(table.schema))
        if not snapshot.files:
            return self._spark.createDataFrame([], schema)
        partition_by = list(snapshot.partition_by)
        groups: dict[tuple[str | None, ...], FileGroup] = {}
        for file in snapshot.files:
            values = tuple(file.partition_values.get(n) for n in partition_by)
            groups.setdefault(values, FileGroup(values)).paths.append(file.path)
        read = FileRead(
            groups=list(groups.values()),
            partitions=[(n, spark_type(snapshot.schema.field(n).type)) for n in partition_by],
            data_schema=StructType([f for f in schema.fields if f.name not in partition_by]),
            spark_path=self.spark_path,
        )
        frame = read_files(self._spark, read)
        return frame.select(*[_column(n) for n in snapshot.schema.names])

    def scan_frame(
        self,
        paths: list[str],
        patterns: frozenset[str],
        union_by_name: bool,
        hive_partitioning: bool | None,
        partition_types: pa.Schema | None,
        filename: bool,
    ) -> DataFrame:
        """A DataFrame of the Parquet files `paths` (globs expanded by `expand_globs`, but
        `patterns`, for Spark to expand), as `EngineSession.scan_parquet` reads them
        (`hive_partitioning=None` reads `key=value` folders when there are any)."""
        from headwater.engine.spark_types import spark_type

        partitions: list[tuple[str, DataType]] = []
        if hive_partitioning is False:
            groups = [FileGroup((), list(paths))]
        else:
            types = (
                {f.name: spark_type(f.type) for f in partition_types}
                if partition_types is not None
                else None
            )
            groups, partitions = hive_groups(paths, types)
        read = FileRead(
            groups=groups,
            partitions=partitions,
            merge_schema=union_by_name,
            spark_path=self.spark_path,
            filename=filename,
            patterns=patterns,
        )
        return read_files(self._spark, read)


def _column(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")
