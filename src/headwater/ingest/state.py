"""An ingested table's state (cursor, files seen) lives in the Delta commit it describes.

Putting the state in the commit's metadata makes "the table holds rows up to cursor C" one
atomic fact: a load killed before its commit leaves both the rows and the cursor where they
were. The catalog keeps a copy for display (`headwater sources`); the commit is the truth.
"""

from __future__ import annotations

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
