"""Delta file statistics from Parquet footers.

When an engine writes Parquet itself, storage commits those files as Delta add actions. Delta
readers prune files by the per-file `stats` JSON (row count, min, max, null count), so we read
each footer once and aggregate its row-group statistics into that JSON.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MAX_STRING_STAT = 64


def _json_value(value: Any, arrow_type: pa.DataType) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if not value.is_nan() else None
    if isinstance(value, bytes):
        return None
    if isinstance(value, float) and not math.isfinite(value):  # NaN carries no ordering,
        return None  # and JSON has no infinity (delta-rs refuses the commit's stats)
    return value


def _supports_min_max(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_date(arrow_type)
        or pa.types.is_timestamp(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    )


def file_stats(path: str, schema: pa.Schema) -> tuple[int, str]:
    """Return the row count of the Parquet file at `path` and its Delta stats JSON.

    Only top-level columns named in `schema` get min/max/nullCount; strings longer than 64
    characters are left out rather than truncated, since a truncated max would be wrong.
    """
    metadata = pq.read_metadata(path)
    index = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    minimum: dict[str, Any] = {}
    maximum: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for field in schema:
        column = index.get(field.name)
        if column is None:
            continue
        low: Any = None
        high: Any = None
        null_count = 0
        complete = True
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(column).statistics
            if stats is None:
                complete = False
                break
            null_count += stats.null_count or 0
            if not stats.has_min_max:
                continue
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
        if not complete:
            continue
        nulls[field.name] = null_count
        if low is None or not _supports_min_max(field.type):
            continue
        if isinstance(low, str) and (len(low) > MAX_STRING_STAT or len(high) > MAX_STRING_STAT):
            continue
        low_json, high_json = _json_value(low, field.type), _json_value(high, field.type)
        if low_json is not None and high_json is not None:
            minimum[field.name] = low_json
            maximum[field.name] = high_json
    stats_json = {
        "numRecords": metadata.num_rows,
        "minValues": minimum,
        "maxValues": maximum,
        "nullCount": nulls,
    }
    return metadata.num_rows, json.dumps(stats_json)
