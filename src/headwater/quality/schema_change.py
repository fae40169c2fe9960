"""A table's schema as text, and what changed between two of them.

Every audit with metrics records the schema as the `schema` metric (`schema_text`); the next
audit compares its table with the last one recorded and reports a difference (`schema_change`)
as a warn-severity anomaly, naming the columns added, removed and retyped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def schema_text(schema: pa.Schema) -> str:
    """The schema as JSON text (`[["id", "int64"], ...]`), as the `schema` metric records it."""
    return json.dumps([[f.name, str(f.type)] for f in schema])


def schema_change(previous: str | None, schema: pa.Schema) -> str | None:
    """What changed since the schema `previous` (as `schema_text` wrote it), or None."""
    if previous is None:
        return None
    try:
        before = {str(name): str(kind) for name, kind in json.loads(previous)}
    except (ValueError, TypeError):
        return None
    after = {f.name: str(f.type) for f in schema}
    if before == after:
        return None
    parts = []
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    retyped = [
        f"{n} {before[n]} -> {after[n]}" for n in after if n in before and before[n] != after[n]
    ]
    if added:
        parts.append(f"added {', '.join(added)}")
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    if retyped:
        parts.append(f"changed type of {', '.join(retyped)}")
    return "schema changed: " + "; ".join(parts)
