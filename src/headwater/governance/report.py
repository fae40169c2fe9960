"""`headwater governance report`: every column holding personal data, where its
classification came from, which roles read it raw and which read it masked (and how).

A role reads a column raw when its grants reach the asset and its `unmasked` names the column,
every kind it holds, or `*` (`admin` reads everything raw); a role that reads the asset but
not the column raw sees it masked by the rule `governance.masking` gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from headwater.governance.classification import Classification

Readers = Callable[[str, str], tuple[tuple[str, ...], tuple[str, ...]]]
"""Of column (`asset`, `column`): the roles reading it raw and those reading it masked."""
Rule = Callable[[str, str, tuple[str, ...]], str]
"""How column (`asset`, `column`) holding `kinds` is masked, as a report names the rule."""


COMPANIONS = {
    "__quarantine": "the records it rejected, as they came",
    "__failed": "a copy of a version that failed its checks",
}
"""The tables kept beside a table, by suffix, and what they hold of it."""


def governance_report(
    classification: Classification,
    readers: Readers,
    rule: Rule,
    tables: Collection[str] = (),
) -> dict[str, Any]:
    """The report as a JSON-ready document.

    Returns:
        `columns`: one entry per column holding personal data, by asset then column: its
        `kinds`, `source` (`declared` or `lineage`), `from` (the declared columns its value
        comes from), `path` (one chain of columns from a declared one), `readers` (the
        roles reading it raw), `masked_for` (the roles reading it masked) and `mask` (the
        rule they see it through); `companions`: the tables among `tables` kept beside a
        table holding personal data (its quarantine, its failed versions), which hold the
        same personal data, with the kinds; `unanalysed`: the models downstream of personal
        data whose column lineage is unknown, with why and what personal data they read;
        `missing`: the declared columns their table does not have (a misspelt name).
    """
    columns = [
        {
            "asset": c.column.asset,
            "column": c.column.column,
            "kinds": list(c.kinds),
            "source": "declared" if c.declared else "lineage",
            "from": [str(o) for o in c.origins],
            "path": [str(step) for step in c.path],
            "readers": list(readers(c.column.asset, c.column.column)[0]),
            "masked_for": list(readers(c.column.asset, c.column.column)[1]),
            "mask": rule(c.column.asset, c.column.column, c.kinds),
        }
        for c in classification
    ]
    unanalysed = [
        {"asset": u.asset, "reason": u.reason, "reads": list(u.reads)}
        for u in classification.unanalysed.values()
    ]
    missing = [
        {"asset": ref.asset, "column": ref.column, "kind": kind}
        for ref, kind in sorted(classification.missing.items(), key=lambda item: str(item[0]))
    ]
    kinds: dict[str, set[str]] = {}
    for c in classification:
        kinds.setdefault(c.column.asset, set()).update(c.kinds)
    companions = [
        {"table": f"{asset}{suffix}", "of": asset, "kinds": sorted(held), "holds": holds}
        for asset, held in sorted(kinds.items())
        for suffix, holds in COMPANIONS.items()
        if f"{asset}{suffix}" in tables
    ]
    return {
        "columns": columns,
        "companions": companions,
        "unanalysed": unanalysed,
        "missing": missing,
    }
