"""The tables a principal may read, as PostgreSQL's catalog describes them: their columns with
PostgreSQL types, descriptions and primary keys.

The columns come from the read-only path's own `information_schema` (the types a query over
the table returns, views included), read as the principal: a table it may not read is not
there. Descriptions come from the project's YAML; a primary key from the model's `unique_key`
or the table's serving `keys`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.serve.pgwire.catalog_types import PgType, pg_type_of

if TYPE_CHECKING:
    from headwater.orchestrate.principals import Principal
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.query.readonly import ProjectTables

_TABLES_AND_COLUMNS = """
SELECT t.table_schema, t.table_name, t.table_type, t.table_comment,
       c.column_name, c.ordinal_position, c.is_nullable, c.data_type
FROM information_schema.tables AS t
LEFT JOIN information_schema.columns AS c
  ON c.table_schema = t.table_schema AND c.table_name = t.table_name
ORDER BY t.table_schema, t.table_name, c.ordinal_position
"""


@dataclass(frozen=True)
class ServedColumn:
    """One column of a served table."""

    name: str
    type: PgType
    nullable: bool
    description: str | None = None


@dataclass(frozen=True)
class ServedTable:
    """A table (or view) the principal may read."""

    namespace: str
    name: str
    view: bool
    columns: tuple[ServedColumn, ...]
    description: str | None = None
    primary_key: tuple[str, ...] = ()
    """Column names of its key, in order (empty: none declared)."""


def served_tables(
    project: ProjectTables, principal: Principal, timeout_s: float
) -> tuple[ServedTable, ...]:
    """The tables of `project` that `principal` may read, with their columns.

    Raises:
        UsageError: the read-only path could not list them in `timeout_s`.
    """
    from headwater.query.readonly import run_readonly

    result = run_readonly(
        project,
        _TABLES_AND_COLUMNS,
        timeout_s=timeout_s,
        max_rows=10_000_000,
        visible=None if principal.everything else principal.can_read,
    )
    definition = project.definition
    grouped: dict[tuple[str, str], list[dict[str, object]]] = {}
    for row in result.table.to_pylist():
        grouped.setdefault((str(row["table_schema"]), str(row["table_name"])), []).append(row)
    tables = []
    for (namespace, name), rows in grouped.items():
        asset = definition.assets.get(f"{namespace}.{name}")
        described = _column_descriptions(asset)
        columns = tuple(
            ServedColumn(
                name=str(row["column_name"]),
                type=pg_type_of(str(row["data_type"])),
                nullable=row["is_nullable"] != "NO",
                description=described.get(str(row["column_name"])),
            )
            for row in rows
            if row["column_name"] is not None
        )
        key = _primary_key(definition, f"{namespace}.{name}", asset, columns)
        # a primary key's columns are NOT NULL, as PostgreSQL reports them
        columns = tuple(
            dataclasses.replace(c, nullable=False) if c.name in key else c for c in columns
        )
        tables.append(
            ServedTable(
                namespace=namespace,
                name=name,
                view=rows[0]["table_type"] == "VIEW",
                columns=columns,
                description=_text(rows[0]["table_comment"]),
                primary_key=key,
            )
        )
    return tuple(tables)


def _column_descriptions(asset: Asset | None) -> dict[str, str]:
    config = asset.model or asset.seed if asset is not None else None
    if config is None:
        return {}
    return {c.name: c.description for c in config.columns if c.description}


def _primary_key(
    definition: ProjectDefinition,
    key: str,
    asset: Asset | None,
    columns: tuple[ServedColumn, ...],
) -> tuple[str, ...]:
    """The table's declared key, when every one of its columns is in the table."""
    served = definition.config.serve.tables.get(key)
    declared = list(served.keys) if served is not None and served.keys else []
    if not declared and asset is not None:
        declared = asset.unique_key
    names = {c.name for c in columns}
    if declared and all(k in names for k in declared):
        return tuple(declared)
    return ()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def metric_tables(metrics: Sequence[Mapping[str, Any]]) -> tuple[ServedTable, ...]:
    """The `metrics` schema's tables: one per metric the principal may ask for (as
    `MetricAnswers.describe` lists them), a view with a column per group-by item (a date for
    a time at a grain, text otherwise) and one named like the metric (a double)."""
    from headwater.serve.metric_sql import SCHEMA

    tables = []
    for metric in metrics:
        items = [str(item) for item in metric["dimensions"] if item != metric["name"]]
        columns = tuple(
            ServedColumn(item, pg_type_of("DATE" if _is_time(item) else "VARCHAR"), True)
            for item in items
        )
        measure = ServedColumn(str(metric["name"]), pg_type_of("DOUBLE"), True, metric["label"])
        tables.append(
            ServedTable(
                namespace=SCHEMA,
                name=str(metric["name"]),
                view=True,
                columns=(*columns, measure),
                description=metric["description"],
            )
        )
    return tuple(tables)


def _is_time(item: str) -> bool:
    from headwater.project.semantic import GRANULARITIES

    return item.rsplit("__", 1)[-1] in GRANULARITIES
