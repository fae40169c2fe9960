"""The files destination: each batch of an export's changes becomes one CSV, Parquet or NDJSON
file in a folder, named after the export, the version it brings the folder up to and the
batch's number, so a folder of change files sorts in the order they are to be applied.

A file is written under a hidden partial name, flushed to disk and renamed into place before
its batch is confirmed in the position file: a reader never sees half a file, and a batch
written again after a kill replaces its file with the same rows instead of adding a copy.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from headwater.errors import ExportError, Location
from headwater.exports.base import Changes, Position, Quarantine, Sent
from headwater.exports.position_file import PositionFile

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.project.exports import ExportConfig

OP_COLUMN = "_op"
"""In `mirror` mode, the last column of every file: `upsert` (insert the row or replace the
row with its key) or `delete` (remove the row with its key; the other columns are null)."""
PARTIAL_SUFFIX = ".partial"
POSITION_FILE = "position.json"
NDJSON_CHUNK = 10_000
"""Rows encoded to JSON at a time."""

Op = Literal["upsert", "delete"]


@dataclass(frozen=True)
class _Format:
    """What one file format can hold and how a batch is written in it."""

    extension: str
    nested: bool
    """Whether struct, list and map columns fit."""
    write: Callable[[pa.Table, IO[bytes]], None]


class FileFolder:
    """A folder receiving an export's changes as one file per batch."""

    namespace = "file"

    def __init__(self, export: ExportConfig, root: Path, state_dir: Path) -> None:
        """Open the folder of `export` (`to.files`); a relative `path` is relative to `root`,
        the project folder; the position is kept in `state_dir`."""
        files = export.to.files
        if files is None:
            raise ValueError(f"export {export.name} does not send to files")
        path = Path(files.path).expanduser()
        # abspath, not resolve(): the folder is named as the user wrote it, symlinks and all
        self.folder = Path(os.path.abspath(path if path.is_absolute() else root / path))
        self.export = export
        self.format_name = files.format
        self.format = _FORMATS[files.format]
        self.batch_size = files.batch_size
        self.label = str(self.folder)
        self.name = str(self.folder)
        self.positions = PositionFile(state_dir / POSITION_FILE)

    def check(self, schema: pa.Schema, key: list[str]) -> None:
        """Check that records of `schema` fit the format; returns nothing.

        Raises:
            ExportError: a nested column for CSV, a column named like the `mirror` operation
                column, or a `mirror` key column missing from `schema`.
        """
        import pyarrow.types as pt

        if not self.format.nested:
            for column in schema:
                data_type = column.type
                if pt.is_dictionary(data_type):
                    data_type = data_type.value_type
                if _is_nested(data_type):
                    raise ExportError(
                        f"export {self.export.name}: column {column.name} is "
                        f"{column.type}, which a CSV file cannot hold",
                        Location(file=self.label, column=column.name),
                        "set 'format: parquet' or 'format: ndjson' under 'to: files:', or "
                        "leave the column out of 'columns:'",
                    )
        if self.export.mode == "mirror":
            if OP_COLUMN in schema.names:
                raise ExportError(
                    f"export {self.export.name}: column {OP_COLUMN} would clash with the "
                    f"column that marks each row of a mirror export as upsert or delete",
                    Location(file=self.label, column=OP_COLUMN),
                    "map it to another destination name under 'columns:'",
                )
            missing = [k for k in key if k not in schema.names]
            if missing:
                raise ExportError(
                    f"export {self.export.name}: key column {', '.join(missing)} is not "
                    "among the exported columns, so deleted rows cannot be named",
                    Location(file=self.label, column=missing[0]),
                    "map the key columns under 'columns:'",
                )

    def position(self) -> Position:
        """Returns the position recorded in the export's position file."""
        return self.positions.read()

    def send(self, changes: Changes, resume_at: int, quarantine: Quarantine) -> Sent:
        """Write one file per batch of `changes` from batch `resume_at` on (or from the first
        batch the position file does not hold as confirmed, if that is earlier), confirming
        each in the position file, then record `changes.until`; returns the rows and files
        written by this call. Files refuse no record, so `quarantine` is not used.

        Raises:
            ExportError: the records do not fit the format, or the folder cannot be written.
        """
        self.check(changes.schema, changes.key)
        self._prepare(changes.export)
        position = self.positions.read()
        pending = position.pending
        if pending is None or (pending.since, pending.until) != (changes.since, changes.until):
            pending = self.positions.begin(position, changes.since, changes.until, self.batch_size)
        # a resumed range is cut as it began, whatever batch_size says now
        size = pending.batch_size or self.batch_size
        # never skip a batch the position does not hold as confirmed: writing a confirmed
        # batch again only replaces its file with the same rows, skipping one loses them
        start = min(resume_at, pending.batches_done)
        sent = Sent()
        for number, op, batch in self._batches(changes, size):
            if number < start:
                continue
            table = self._table(batch, op, changes)
            self._write(self.folder / self.file_name(changes, number, op), table)
            self.positions.confirm(position, pending, number + 1)
            sent.batches += 1
            if op == "delete":
                sent.deleted += table.num_rows
            else:
                sent.upserted += table.num_rows
        self.positions.finish(changes.until, changes.source)
        return sent

    def close(self) -> None:
        """Nothing to release: every file is closed once written."""

    def file_name(self, changes: Changes, number: int, op: Op) -> str:
        """Returns the name of batch `number` of `changes`:
        `<export>-v<until:08d>-<number:05d>[-deletes].<extension>`."""
        deletes = "-deletes" if op == "delete" else ""
        return (
            f"{changes.export}-v{changes.until:08d}-{number:05d}{deletes}.{self.format.extension}"
        )

    def _batches(self, changes: Changes, size: int) -> Iterator[tuple[int, Op, pa.RecordBatch]]:
        """The batches of `changes` of `size` records, numbered from 0: upserts first, then
        deletes."""
        number = 0
        for batch in changes.upsert_batches(size):
            yield number, "upsert", batch
            number += 1
        for batch in changes.delete_batches(size):
            yield number, "delete", batch
            number += 1

    def _table(self, batch: pa.RecordBatch, op: Op, changes: Changes) -> pa.Table:
        """The rows of the file for `batch`: as they are, or in `mirror` mode with every
        column of `changes.schema` (null but the key in deletes) and the operation last."""
        import pyarrow as pa

        if changes.mode != "mirror":
            return pa.Table.from_batches([batch])
        n = batch.num_rows
        if op == "delete":
            columns = [
                batch.column(field.name).cast(field.type)
                if field.name in batch.schema.names
                else pa.nulls(n, field.type)
                for field in changes.schema
            ]
            table = pa.Table.from_arrays(columns, schema=changes.schema)
        else:
            table = pa.Table.from_batches([batch])
        return table.append_column(OP_COLUMN, pa.array([op] * n, pa.string()))

    def _prepare(self, export: str) -> None:
        """Create the folder and remove partial files a killed run of `export` left."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not os.access(self.folder, os.W_OK | os.X_OK):
                raise PermissionError(13, "permission denied")
            with os.scandir(self.folder) as entries:
                for entry in entries:
                    if entry.name.startswith(f".{export}-") and entry.name.endswith(PARTIAL_SUFFIX):
                        os.unlink(entry.path)
        except OSError as exc:
            raise self._unwritable(exc) from None

    def _write(self, path: Path, table: pa.Table) -> None:
        """Write `table` to `path` so that `path` holds either nothing, its old content or all
        of `table`, durably, before the batch is confirmed."""
        partial = path.with_name(f".{path.name}{PARTIAL_SUFFIX}")
        try:
            with open(partial, "wb") as out:
                self.format.write(table, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
            # the rename must be on disk before the position says the batch is done
            directory = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise self._unwritable(exc) from None

    def _unwritable(self, exc: OSError) -> ExportError:
        return ExportError(
            f"export {self.export.name}: cannot write to the folder {self.folder}: "
            f"{exc.strerror or exc}",
            Location(file=str(self.folder)),
            "make the folder writable by the user running Headwater (and check the disk has "
            "room), or point 'to: files: path:' at a folder it can write",
        )


def _is_nested(data_type: pa.DataType) -> bool:
    import pyarrow.types as pt

    return bool(
        pt.is_struct(data_type)
        or pt.is_list(data_type)
        or pt.is_large_list(data_type)
        or pt.is_fixed_size_list(data_type)
        or pt.is_list_view(data_type)
        or pt.is_large_list_view(data_type)
        or pt.is_map(data_type)
        or pt.is_union(data_type)
    )


# -- formats -------------------------------------------------------------------------------


def _write_parquet(table: pa.Table, out: IO[bytes]) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, out)


def _write_csv(table: pa.Table, out: IO[bytes]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    columns = [_csv_column(column) for column in table.columns]
    pcsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), out)


def _csv_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """`column` as the CSV writer should see it: bytes as base64 text (CSV holds text),
    decimals in positional notation, and zoned timestamps in UTC (written `...Z`, not with a
    local `+0100` offset)."""
    import pyarrow as pa
    import pyarrow.types as pt

    data_type = column.type
    if pt.is_dictionary(data_type):
        column = column.cast(data_type.value_type)
        data_type = column.type
    if pt.is_timestamp(data_type) and data_type.tz is not None:
        return column.cast(pa.timestamp(data_type.unit, "UTC"))
    if _is_binary(data_type):
        return pa.chunked_array(
            [pa.array(_base64(chunk.to_pylist()), pa.string()) for chunk in column.chunks],
            pa.string(),
        )
    if pt.is_decimal(data_type):
        return pa.chunked_array(
            [pa.array(_decimals(chunk), pa.string()) for chunk in column.chunks], pa.string()
        )
    return column


def _write_ndjson(table: pa.Table, out: IO[bytes]) -> None:
    names = table.column_names
    # a batch may hold a million rows: encode a slice at a time, not all of its lines at once
    for batch in table.to_batches(max_chunksize=NDJSON_CHUNK):
        columns = [_json_values(column) for column in batch.columns]
        lines = [
            json.dumps(
                dict(zip(names, row, strict=True)),
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
                default=str,
            )
            for row in zip(*columns, strict=True)
        ]
        if lines:
            out.write(("\n".join(lines) + "\n").encode("utf-8"))


def _json_values(array: pa.Array) -> list[Any]:
    """The values of `array` as JSON takes them: dates, times and timestamps ISO-8601
    (timestamps with a zone in UTC, `...Z`), decimals as strings (exact, which a JSON number
    is not once a reader parses it as a float), bytes base64, non-finite floats as
    `"NaN"`/`"Infinity"`/`"-Infinity"`, durations ISO-8601 (`PT1.5S`), string-keyed maps as
    objects and other maps as lists of `{"key", "value"}`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    data_type = array.type
    if pt.is_dictionary(data_type):
        return _json_values(array.dictionary_decode())
    if pt.is_timestamp(data_type):
        zoned = data_type.tz is not None
        if zoned:
            array = array.cast(pa.timestamp(data_type.unit, "UTC"))
        text = pc.replace_substring(array.cast(pa.string()), " ", "T", max_replacements=1)
        return list(text.to_pylist())
    if pt.is_decimal(data_type):
        return _decimals(array)
    if pt.is_date(data_type) or pt.is_time(data_type):
        return list(array.cast(pa.string()).to_pylist())
    if pt.is_duration(data_type):
        digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[data_type.unit]
        return [
            None if v is None else f"PT{_plain(Decimal(v).scaleb(-digits))}S"
            for v in array.cast(pa.int64()).to_pylist()
        ]
    if _is_binary(data_type):
        return _base64(array.to_pylist())
    if pt.is_floating(data_type):
        return [_float(v) for v in array.cast(pa.float64()).to_pylist()]
    if pt.is_struct(data_type):
        valid = array.is_valid().to_pylist()
        names = [data_type.field(i).name for i in range(data_type.num_fields)]
        fields = [_json_values(child) for child in array.flatten()]
        return (
            [
                dict(zip(names, values, strict=True)) if ok else None
                for ok, values in zip(valid, zip(*fields, strict=True), strict=True)
            ]
            if fields
            else [{} if ok else None for ok in valid]
        )
    if pt.is_map(data_type):
        string_keys = pt.is_string(data_type.key_type) or pt.is_large_string(data_type.key_type)
        # list_flatten has no kernel for maps: cut the entries by the offsets instead
        offsets = array.offsets.to_pylist()
        base = offsets[0]
        flat = _json_values(array.values.slice(base, offsets[-1] - base))
        entries = [
            flat[offsets[i] - base : offsets[i + 1] - base] if ok else None
            for i, ok in enumerate(array.is_valid().to_pylist())
        ]
        return [
            None
            if items is None
            else {e["key"]: e["value"] for e in items}
            if string_keys
            else items
            for items in entries
        ]
    if (
        pt.is_list(data_type)
        or pt.is_large_list(data_type)
        or pt.is_fixed_size_list(data_type)
        or pt.is_list_view(data_type)
        or pt.is_large_list_view(data_type)
    ):
        return _lists(array, _json_values(array.flatten()))
    return list(array.to_pylist())


def _lists(array: pa.Array, values: list[Any]) -> list[list[Any] | None]:
    """`values` (the flattened items of list array `array`) cut back into its lists."""
    import pyarrow.compute as pc

    lists: list[list[Any] | None] = []
    start = 0
    for length in pc.list_value_length(array).to_pylist():
        if length is None:
            lists.append(None)
            continue
        lists.append(values[start : start + length])
        start += length
    return lists


def _is_binary(data_type: pa.DataType) -> bool:
    import pyarrow.types as pt

    return bool(
        pt.is_binary(data_type)
        or pt.is_large_binary(data_type)
        or pt.is_fixed_size_binary(data_type)
        or pt.is_binary_view(data_type)
    )


def _base64(values: list[bytes | None]) -> list[str | None]:
    return [None if v is None else base64.b64encode(v).decode("ascii") for v in values]


def _decimals(array: pa.Array) -> list[str | None]:
    """The decimals of `array` as exact text in positional notation, all digits of the scale
    kept (`0.000000`; Arrow's own cast writes `0E-6`, like Java's BigDecimal)."""
    return [None if v is None else format(v, "f") for v in array.to_pylist()]


def _float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _plain(value: Decimal) -> str:
    """`value` in positional notation (`Decimal` would write `1E+1` or `0E-9`)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


_FORMATS: dict[str, _Format] = {
    "csv": _Format("csv", nested=False, write=_write_csv),
    "parquet": _Format("parquet", nested=True, write=_write_parquet),
    "ndjson": _Format("ndjson", nested=True, write=_write_ndjson),
}
