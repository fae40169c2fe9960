"""Typed configuration of retention: how long a table keeps its versions, and when its rows
expire (`retention:` in a model's, seed's or source table's YAML)."""

from __future__ import annotations

from headwater.project.strict import Duration, StrictModel


class RowExpiry(StrictModel):
    """Rows expire once `column` (a date or timestamp) is older than `older_than`."""

    column: str
    older_than: Duration
    """How old a row may get (`90d`, `2h`, or seconds)."""


class RetentionConfig(StrictModel):
    """`retention:`: enforced by `headwater maintain`.

    retention:
      versions: 30d                                  # older versions' files are deleted
      rows: {column: created_at, older_than: 365d}   # older rows are deleted
    """

    versions: Duration | None = None
    """How long versions stay readable: `headwater maintain` deletes the files only versions
    older than this read (Delta's VACUUM with this retention)."""
    rows: RowExpiry | None = None
    """Which rows expire: `headwater maintain` deletes them from the current version (older
    versions keep them until `versions` retires those)."""
