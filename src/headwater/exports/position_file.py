"""An export's position in a small JSON file, for destinations that hold no transaction of
ours (webhook, files): the last version confirmed and the range being sent, batch by batch.

Each write replaces the file atomically (written beside it, flushed to disk, renamed), so a
kill leaves either the old position or the new one, never a torn file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from headwater.errors import ExportError, Location
from headwater.exports.base import Pending, Position


class PositionFile:
    """The position of one export, kept at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Position:
        """The recorded position (nothing exported yet when the file does not exist).

        Raises:
            ExportError: the file is not a position this code wrote.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Position()
        except (OSError, ValueError) as exc:
            raise ExportError(
                f"the export's position file cannot be read: {exc}",
                Location(file=str(self.path)),
                "delete it to export everything again (upsert and mirror destinations "
                "converge; append would send every row again)",
            ) from None
        try:
            pending = data.get("pending")
            return Position(
                version=data.get("version"),
                source=data.get("source"),
                pending=None
                if pending is None
                else Pending(
                    pending["since"],
                    pending["until"],
                    pending["batches_done"],
                    pending.get("batch_size"),
                ),
            )
        except (AttributeError, KeyError, TypeError) as exc:
            raise ExportError(
                f"the export's position file does not hold a position ({exc!r})",
                Location(file=str(self.path)),
                "delete it to export everything again (upsert and mirror destinations "
                "converge; append would send every row again)",
            ) from None

    def begin(
        self, position: Position, since: int | None, until: int, batch_size: int | None = None
    ) -> Pending:
        """Record that the range `(since, until]` is being sent in batches of `batch_size`,
        no batch confirmed yet; return the pending range."""
        pending = Pending(since, until, 0, batch_size)
        self._write(Position(position.version, pending, position.source))
        return pending

    def confirm(self, position: Position, pending: Pending, batches_done: int) -> None:
        """Record that the first `batches_done` batches of `pending` are confirmed."""
        self._write(
            Position(
                position.version,
                Pending(pending.since, pending.until, batches_done, pending.batch_size),
                position.source,
            )
        )

    def finish(self, until: int, source: str | None = None) -> None:
        """Record that every change of asset `source` up to version `until` is confirmed."""
        self._write(Position(until, None, source))

    def _write(self, position: Position) -> None:
        pending = position.pending
        data = {
            "version": position.version,
            "source": position.source,
            "pending": None
            if pending is None
            else {
                "since": pending.since,
                "until": pending.until,
                "batches_done": pending.batches_done,
                "batch_size": pending.batch_size,
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
