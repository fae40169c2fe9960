"""Column lineage in the catalog: each model's, as computed at its last build; and the
descriptions of tables and columns that sources carry (database comments).

A lineage document is stored with the key it was computed from (the model's SQL and its
upstream columns), so a reader can reuse it while both are unchanged and recompute it otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.catalog.store import Catalog, now_iso
from headwater.project.kinds import AssetKind

if TYPE_CHECKING:
    from headwater.project.definition import Asset


@dataclass(frozen=True)
class StoredLineage:
    """One model's lineage document and what it was computed from."""

    asset: str
    cache_key: str
    run_id: str | None
    recorded_at: str
    document: dict[str, Any]


def record_lineage(
    catalog: Catalog, asset: str, cache_key: str, run_id: str | None, document: dict[str, Any]
) -> None:
    """Keep `document` as the lineage of `asset`, replacing the one recorded before."""
    params = {
        "asset": asset,
        "cache_key": cache_key,
        "run_id": run_id,
        "recorded_at": now_iso(),
        "document": json.dumps(document, sort_keys=True),
    }
    with catalog.db.transaction() as tx:
        tx.execute("DELETE FROM hw_lineage WHERE asset = :asset", {"asset": asset})
        tx.execute(
            "INSERT INTO hw_lineage (asset, cache_key, run_id, recorded_at, document) "
            "VALUES (:asset, :cache_key, :run_id, :recorded_at, :document)",
            params,
        )


def stored_lineage(catalog: Catalog) -> dict[str, StoredLineage]:
    """Every recorded lineage document, by asset."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT asset, cache_key, run_id, recorded_at, document FROM hw_lineage")
    return {
        row["asset"]: StoredLineage(
            row["asset"],
            row["cache_key"],
            row["run_id"],
            row["recorded_at"],
            json.loads(row["document"]),
        )
        for row in rows
    }


def latest_schemas(catalog: Catalog, keys: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """The last schema recorded for each of `keys`: (column, Arrow type) pairs in order."""
    if not keys:
        return {}
    values = ", ".join(f"(:k{n})" for n in range(len(keys)))
    with catalog.db.transaction(write=False) as tx:
        # one index lookup per asset in (asset, metric, column_name, id)
        rows = tx.execute(
            f"WITH keys(asset) AS (VALUES {values}) SELECT m.asset, m.text_value FROM "
            "hw_metrics m WHERE m.id IN (SELECT (SELECT max(x.id) FROM hw_metrics x WHERE "
            "x.asset = keys.asset AND x.metric = 'schema' AND x.column_name = '') FROM keys)",
            {f"k{n}": key for n, key in enumerate(keys)},
        )
    return {
        row["asset"]: [(str(name), str(kind)) for name, kind in json.loads(row["text_value"])]
        for row in rows
        if row["text_value"]
    }


TABLE = ""
"""`column_name` of a table's own description."""


def record_descriptions(
    catalog: Catalog, asset: str, descriptions: Mapping[str, str], origin: str
) -> None:
    """Keep the descriptions (`""` for the table itself) a source gave for `asset`, replacing
    the ones `origin` gave before."""
    stamp = now_iso()
    with catalog.db.transaction() as tx:
        tx.execute(
            "DELETE FROM hw_descriptions WHERE asset = :asset AND origin = :origin",
            {"asset": asset, "origin": origin},
        )
        if descriptions:
            tx.execute_many(
                "INSERT INTO hw_descriptions (asset, column_name, description, origin, "
                "recorded_at) VALUES (:asset, :column, :description, :origin, :stamp)",
                [
                    {
                        "asset": asset,
                        "column": column,
                        "description": text,
                        "origin": origin,
                        "stamp": stamp,
                    }
                    for column, text in descriptions.items()
                ],
            )


def source_descriptions(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Every description sources gave, by asset then column (`""`: the table)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute("SELECT asset, column_name, description FROM hw_descriptions")
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row["asset"], {})[row["column_name"]] = row["description"]
    return found


def descriptions_of(catalog: Catalog, asset: str) -> dict[str, str]:
    """The descriptions sources gave for `asset`, by column (`""`: the table)."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT column_name, description FROM hw_descriptions WHERE asset = :asset",
            {"asset": asset},
        )
    return {row["column_name"]: row["description"] for row in rows}


def asset_descriptions(catalog: Catalog, asset: Asset) -> tuple[str | None, dict[str, str]]:
    """What `asset` and its columns are: from its YAML, else from the comments its source
    database keeps; the table's description (None if none) and the columns', by column."""
    # only source tables bring descriptions of their own (a database's comments)
    found = descriptions_of(catalog, asset.key) if asset.kind == AssetKind.SOURCE else {}
    columns = {k: v for k, v in found.items() if k != TABLE} | asset.column_descriptions
    return asset.description or found.get(TABLE), columns
