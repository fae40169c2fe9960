"""How the UI writes values: statuses as CSS classes, times, durations, numbers and cells.

Shared by every page, and safe for the places they go (`script_json` for inline scripts; the
templates autoescape everything else).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from headwater.catalog.statuses import BuildStatus

STATUS_CLASS: dict[str, str] = {
    BuildStatus.SUCCESS: "ok",
    BuildStatus.UP_TO_DATE: "ok",
    BuildStatus.FAILED: "bad",
    BuildStatus.INTERRUPTED: "bad",
    BuildStatus.SKIPPED: "warn",
    BuildStatus.RUNNING: "busy",
    BuildStatus.RETRYING: "warn",
}
"""The CSS class of each status a run, an asset's build or an attempt can have (runs share
the words of builds)."""


def status_class(status: str | None) -> str:
    """The CSS class `status` is shown with (`none` for one without a colour)."""
    return STATUS_CLASS.get(status or "", "none")


def moment(text: str | None) -> dt.datetime | None:
    """The catalog's ISO time `text` as an aware datetime (UTC when it names no zone)."""
    if not text:
        return None
    found = dt.datetime.fromisoformat(text)
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def between(start: str | None, end: str | None) -> str:
    """How long from ISO time `start` to `end` (to now while `end` is None), or ""."""
    first, last = moment(start), moment(end)
    if first is None:
        return ""
    seconds = ((last or dt.datetime.now(dt.UTC)) - first).total_seconds()
    return duration(seconds)


def duration(seconds: float) -> str:
    """`seconds` in the unit that reads best: s, min, h or d."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def when_ms(stamp: int | None) -> str:
    """Milliseconds since the epoch as an ISO time in UTC, or ""."""
    if stamp is None:
        return ""
    return dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat(timespec="seconds")


def number(value: float) -> str:
    """`value` with thousands separators when whole, else to three significant digits."""
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


def cell(value: Any) -> str:
    """A preview cell: NULL as ∅, long text cut at 80 characters."""
    if value is None:
        return "∅"
    text = str(value)
    return text if len(text) <= 80 else text[:79] + "…"


def script_json(value: Any) -> str:
    """`value` as JSON that is safe inside an HTML `<script>` element.

    A column may be named `</script><script>...`; escaping `<`, `>` and `&` keeps such a name
    data rather than markup (JSON reads the escapes back as the same characters).
    """
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
