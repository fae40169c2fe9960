"""An ingested table's state (cursor, files seen) lives in the Delta commit it describes.

Putting the state in the commit's metadata makes "the table holds rows up to cursor C" one
atomic fact: a load killed before its commit leaves both the rows and the cursor where they
were. The catalog keeps a copy for display (`headwater sources`); the commit is the truth.
The cursor is kept as JSON (dates and times as ISO text) and only ever moves forward.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

from headwater.storage.base import TableRef, TableStore

STATE_KEY = "headwater.ingest_state"
HISTORY_DEPTH = 1000


def committed_state(store: TableStore, ref: TableRef) -> dict[str, Any]:
    """The ingest state of the table's current content ({} for a new table).

    A `restore` brings back an older version's rows, so it brings back that version's state.
    """
    if not store.exists(ref):
        return {}
    ceiling: int | None = None
    for entry in store.history(ref, HISTORY_DEPTH):
        if ceiling is not None and entry.version > ceiling:
            continue
        if (entry.operation or "").upper() == "RESTORE":
            restored = entry.parameters.get("version")
            if restored is not None and str(restored).isdigit():
                ceiling = int(restored)
            continue
        text = entry.metadata.get(STATE_KEY)
        if text is not None:
            state: dict[str, Any] = json.loads(text)
            return state
    return {}


def encode_state(state: dict[str, Any]) -> dict[str, str]:
    """Commit metadata carrying `state`."""
    return {STATE_KEY: json.dumps(state, sort_keys=True, default=str)}


def advanced_cursor(stored: Any, highest: Any) -> Any:
    """The cursor after a load whose rows reach up to `highest`: the greater of it and the
    `stored` cursor (None on the first load), as stored in the state (JSON)."""
    return _jsonable(_max(stored, highest))


def _max(old: Any, new: Any) -> Any:
    if old is None:
        return new
    try:
        return max(_comparable(old, new), new)
    except TypeError:
        return new


def _comparable(old: Any, new: Any) -> Any:
    """The stored cursor (JSON text for dates and times) in the type of the new value."""
    if isinstance(new, dt.datetime) and isinstance(old, str):
        parsed = dt.datetime.fromisoformat(old)
        if new.tzinfo is None and parsed.tzinfo is not None:
            parsed = parsed.replace(tzinfo=None)
        return parsed
    if isinstance(new, dt.date) and isinstance(old, str):
        return dt.date.fromisoformat(old)
    return old


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value
