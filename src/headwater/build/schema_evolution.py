"""Decide a table's schema when new data arrives with different columns or types.

New columns are added at the end; a column the new data lacks stays (NULL in new rows). A
column keeps its type: Delta (and delta-rs) cannot change a column's type in place, so new rows
are cast to the table's type when that loses nothing (int32 rows into an int64 column, int into
double, date into timestamp). Anything else is an error naming the column and both types.
"""

from __future__ import annotations

import pyarrow as pa

from headwater.errors import Location, ModelError

_INT_ORDER = [pa.int8(), pa.int16(), pa.int32(), pa.int64()]


def widened(old: pa.DataType, new: pa.DataType) -> pa.DataType | None:
    """Return the type that holds both `old` and `new` values without loss, or None."""
    if old.equals(new):
        return old
    if pa.types.is_string(old) and (pa.types.is_large_string(new) or pa.types.is_string_view(new)):
        return old
    if old in _INT_ORDER and new in _INT_ORDER:
        return max(old, new, key=_INT_ORDER.index)
    if pa.types.is_integer(old) and pa.types.is_floating(new):
        return pa.float64()
    if pa.types.is_floating(old) and (pa.types.is_floating(new) or pa.types.is_integer(new)):
        return pa.float64() if (old.bit_width == 64 or getattr(new, "bit_width", 0) == 64) else old
    if pa.types.is_date(old) and pa.types.is_timestamp(new):
        return new
    if pa.types.is_timestamp(old) and pa.types.is_date(new):
        return old
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new) and bool(old.tz) == bool(new.tz):
        return old
    if pa.types.is_decimal(old) and pa.types.is_decimal(new) and old.scale == new.scale:
        return old if old.precision >= new.precision else new
    return None


def evolve_schema(current: pa.Schema, incoming: pa.Schema, asset: str) -> pa.Schema:
    """Return the table's schema once `incoming` rows are added: new columns at the end.

    Raises:
        ModelError: a column's new values do not fit its type in the table.
    """
    incoming_types = {f.name: f.type for f in incoming}
    for field in current:
        new_type = incoming_types.get(field.name)
        if new_type is None:
            continue
        merged = widened(field.type, new_type)
        if merged is None or not merged.equals(field.type):
            raise ModelError(
                f"column {field.name} is {field.type} in the table but {new_type} in the new "
                "rows; a Delta column cannot change its type in place",
                Location(asset=asset, column=field.name),
                f"cast it to {field.type} in the model, or rebuild the table with --full-refresh",
            )
    known = set(current.names)
    extra = [pa.field(f.name, f.type, nullable=True) for f in incoming if f.name not in known]
    return pa.schema([*current, *extra])
