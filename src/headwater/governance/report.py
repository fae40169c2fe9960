"""`headwater governance report`: every column holding personal data, where its
classification came from, and which roles may read it.

Until masking policies exist every role that may read an asset reads its columns unmasked, so
"who may read it unmasked" is the roles whose `serve.roles` grants reach the asset, plus
`admin`, which reads everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.governance.classification import Classification

Readers = Callable[[str], tuple[str, ...]]
"""The roles that may read asset `key`, sorted."""


def governance_report(classification: Classification, readers: Readers) -> dict[str, Any]:
    """The report as a JSON-ready document.

    Returns:
        `columns`: one entry per column holding personal data, by asset then column: its
        `kinds`, `source` (`declared` or `lineage`), `from` (the declared columns its value
        comes from), `path` (one chain of columns from a declared one) and `readers` (the
        roles reading it unmasked); `unanalysed`: the models downstream of personal data whose
        column lineage is unknown, with why and what personal data they read; `missing`: the
        declared columns their table does not have (a misspelt name).
    """
    columns = [
        {
            "asset": c.column.asset,
            "column": c.column.column,
            "kinds": list(c.kinds),
            "source": "declared" if c.declared else "lineage",
            "from": [str(o) for o in c.origins],
            "path": [str(step) for step in c.path],
            "readers": list(readers(c.column.asset)),
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
    return {"columns": columns, "unanalysed": unanalysed, "missing": missing}
