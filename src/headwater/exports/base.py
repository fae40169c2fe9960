"""What every export destination is given and must do.

An export run sends one range of its asset's versions, `(since, until]`: the rows the asset
gained or changed between the two versions (`upserts`) and, for `mirror`, the keys it lost
(`deletes`). A destination sends them and records `until` as its position only once it has
confirmed them: in the same transaction as the rows (PostgreSQL), or after the last batch
(webhook and files, which record each confirmed batch on the way, so a run that was killed
resumes the same range at the next batch, and a batch sent again carries the same
idempotency key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from headwater.project.exports import ExportMode

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Pending:
    """A range whose sending began but did not finish: resume it before anything newer."""

    since: int | None
    until: int
    batches_done: int
    """Batches of the range the destination has confirmed, in order."""
    batch_size: int | None = None
    """The batch size the range began with: a resumed range is cut into the same batches,
    whatever the configuration says now (None: not recorded)."""


@dataclass(frozen=True)
class Position:
    """How far an export has got, as its destination (or its position file) records it."""

    version: int | None = None
    """The last version of the asset whose changes the destination has confirmed (None:
    nothing exported yet)."""
    pending: Pending | None = None
    source: str | None = None
    """The asset whose versions `version` counts (None: not recorded)."""


@dataclass(frozen=True)
class Refused:
    """A record the destination would not take, and why."""

    record: dict[str, Any]
    """The record as it was to be sent (destination column names)."""
    reason: str
    column: str | None = None
    error_class: str = "refused"


@dataclass
class Changes:
    """One range of an asset's versions to send, with its records in batches."""

    export: str
    """The export's name."""
    source: str
    """The asset's key."""
    mode: ExportMode
    key: list[str]
    """The destination's key columns (empty for `append`)."""
    since: int | None
    until: int
    schema: pa.Schema
    """Destination columns and the asset's Arrow types for them."""
    upsert_batches: Callable[[int], Iterator[pa.RecordBatch]]
    """Given a batch size, the records to insert or update, in a fixed order (the same
    batches every time the same range is read)."""
    delete_batches: Callable[[int], Iterator[pa.RecordBatch]]
    """Given a batch size, the keys (destination names) to delete; empty but for `mirror`."""
    upserts: int
    deletes: int
    invalid: list[Refused] = field(default_factory=list)
    """Records refused before sending (a null or repeated key): already set aside."""

    @property
    def range_label(self) -> str:
        """`v3..v7` (or `..v7` for a first export): for messages and batch keys."""
        return f"{'' if self.since is None else f'v{self.since}'}..v{self.until}"


@dataclass
class Sent:
    """What a destination did with one range."""

    upserted: int = 0
    deleted: int = 0
    refused: int = 0
    batches: int = 0
    """Requests or files made (0 for a transaction)."""
    retries: int = 0


class Quarantine(Protocol):
    """Where a destination sets refused records aside."""

    def add(self, batch: str, refused: list[Refused]) -> None:
        """Record `refused` for the batch named `batch`; a batch already recorded (a run that
        was killed after setting it aside) is not recorded twice."""


class Destination(Protocol):
    """One kind of destination (PostgreSQL, webhook, files), opened for one export."""

    label: str
    """Where records go, for messages and lineage (`postgresql://host:5432/db crm.ltv`);
    never holds a secret."""
    namespace: str
    """The OpenLineage namespace of the destination (`postgres://host:5432`, a URL's origin,
    `file`)."""
    name: str
    """The OpenLineage dataset name (`db.schema.table`, the URL path, the folder)."""

    def check(self, schema: pa.Schema, key: list[str]) -> None:
        """Check, before anything is sent, that records of `schema` (destination column
        names) fit the destination; raises `ExportError` naming the column and both types."""

    def position(self) -> Position:
        """Where the export stands, as the destination records it."""

    def send(self, changes: Changes, resume_at: int, quarantine: Quarantine) -> Sent:
        """Send `changes` from batch `resume_at` on and record `changes.until` as the
        position once the destination has confirmed everything; returns what was done.
        Records the destination refuses go to `quarantine` before the position moves."""

    def close(self) -> None:
        """Release connections."""
