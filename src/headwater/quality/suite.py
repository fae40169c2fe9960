"""Checks of published tables without rebuilding them, profiles, and suggested checks.

`run_checks` audits the current version of each selected asset with the same `Auditor` the
publish gate uses and keeps every result in the catalog. `profile` measures every column;
`suggest_checks` turns a profile into a starter list of checks in sidecar form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.catalog.quality import has_metrics, last_schema, metric_history, record_audit
from headwater.catalog.statuses import RunStatus
from headwater.catalog.store import keep_alive
from headwater.project.definition import Asset, AssetIndex, ProjectDefinition
from headwater.project.kinds import BuildKind
from headwater.project.sources import INTEGER_TYPES
from headwater.project.sql import TableReference
from headwater.quality.audit import Auditor, AuditReport, AuditTarget
from headwater.sqltext import identifier, qualified
from headwater.storage.base import TableRef, TableStore

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.engine.base import EngineSession

ACCEPTED_VALUES_MAX = 10
"""A text column with at most this many distinct values gets an `accepted_values` check."""
KEY_CANDIDATES_MAX = 12
"""How many columns at most are tried in pairs as a compound key (66 pairs, one scan)."""
GROWING_WORDS = frozenset(
    {"id", "key", "sk", "seq", "sequence", "serial", "num", "number", "no", "nr", "version"}
    | {"offset", "ts", "timestamp", "epoch", "at"}
)
"""Last words of a numeric column's name that mark it as a key, a sequence or a moment:
values only ever grow (`order_id`, `line_number`, `event_seq`, `created_at` as epoch)."""


@dataclass
class AssetChecks:
    """The checks of one asset's published version."""

    asset: str
    version: int | None
    report: AuditReport | None
    skipped: str | None = None
    """Why nothing was checked (no table yet)."""


@dataclass
class CheckRun:
    """What `headwater test` found."""

    run_id: str
    assets: list[AssetChecks] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when an error-severity check failed (or could not run)."""
        return any(a.report is not None and a.report.blocking for a in self.assets)


class _Tables:
    """Registers assets in one engine session on demand."""

    def __init__(self, definition: ProjectDefinition, store: TableStore) -> None:
        from headwater.build.compiler import Compiler
        from headwater.build.relations import Relations
        from headwater.engine.registry import EnginePlace, create_engine

        self.definition = definition
        self.engine = create_engine(definition.embedded_engine, EnginePlace.of(definition, store))
        self.session: EngineSession = self.engine.session()
        self.compiler = Compiler(definition)
        self.relations = Relations(definition, store, self.compiler.compile)

    def relation(self, asset: Asset) -> str:
        """SQL naming the rows of `asset` (registering it first)."""
        self.relations.ensure(self.session, asset.key)
        if asset.materialized == BuildKind.EPHEMERAL:
            return f"({self.compiler.compile(asset.key)})"
        return qualified(TableRef.of(asset))

    def named(self, referrer: Asset) -> Callable[[str], str]:
        """Resolve an asset name as `referrer` writes it to the SQL naming its rows."""

        def resolve(name: str) -> str:
            namespace, _, bare = name.rpartition(".")
            key = AssetIndex(self.definition.assets).resolve(
                TableReference(namespace or None, bare, None), referrer.key, referrer.rel_path
            )
            return self.relation(self.definition.assets[key])

        return resolve

    def close(self) -> None:
        self.compiler.save()
        self.engine.close()


def run_checks(
    definition: ProjectDefinition,
    store: TableStore,
    catalog: Catalog,
    keys: list[str],
    selector: str | None,
    on_asset: Callable[[AssetChecks], None] | None = None,
) -> CheckRun:
    """Audit the published version of each asset in `keys` that has checks; record results."""
    record = catalog.start_run("test", selector, 1, False)
    run = CheckRun(record.run_id)
    tables = _Tables(definition, store)
    try:
        with keep_alive(catalog, record.run_id):
            for key in keys:
                asset = definition.assets[key]
                if not asset.checks:
                    continue
                outcome = _check_asset(asset, tables, store, catalog, record.run_id)
                run.assets.append(outcome)
                if on_asset is not None:
                    on_asset(outcome)
    except BaseException as exc:
        catalog.finish_run(record.run_id, RunStatus.INTERRUPTED, repr(exc))
        raise
    finally:
        tables.close()
    catalog.finish_run(record.run_id, RunStatus.FAILED if run.failed else RunStatus.SUCCESS)
    return run


def _check_asset(
    asset: Asset, tables: _Tables, store: TableStore, catalog: Catalog, run_id: str
) -> AssetChecks:
    ref = TableRef.of(asset)
    version: int | None = None
    if asset.is_stored:
        version = store.current_version(ref)
        if version is None:
            return AssetChecks(asset.key, None, None, "not built yet: run it first")
    relation = tables.relation(asset)
    schema = tables.session.schema(f"SELECT * FROM {relation}")
    # a version's metrics are recorded once: measuring them again would be thrown away
    metrics = (
        tables.definition.config.quality.metrics
        and asset.is_stored
        and not has_metrics(catalog, asset.key, version)
    )
    auditor = Auditor(
        tables.session,
        tables.named(asset),
        lambda metric, column: metric_history(catalog, asset.key, metric, column),
        metrics=metrics,
    )
    target = AuditTarget(relation, asset.key, schema, asset.key_columns)
    report = auditor.audit(
        target,
        asset.checks,
        last_loaded=catalog.last_success(asset.key),
        previous_schema=last_schema(catalog, asset.key) if metrics else None,
    )
    record_audit(catalog, run_id, asset.key, version, asset.is_stored, report)
    return AssetChecks(asset.key, version, report)


# -- profiles and suggestions ----------------------------------------------------------------


@dataclass
class ColumnProfile:
    """Statistics of one column."""

    name: str
    type: str
    nulls: int
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    values: list[Any] | None = None
    """Every distinct value, for low-cardinality columns."""


@dataclass
class TableProfile:
    """Statistics of every column of a table."""

    asset: str
    rows: int
    columns: list[ColumnProfile]
    compound_keys: list[tuple[str, str]] = field(default_factory=list)
    """Pairs of columns unique together where no column is unique alone (best first)."""


def profile(definition: ProjectDefinition, store: TableStore, asset: Asset) -> TableProfile:
    """Measure every column of `asset`'s published version (exact distinct counts)."""
    import pyarrow as pa

    tables = _Tables(definition, store)
    try:
        relation = tables.relation(asset)
        session = tables.session
        schema = session.schema(f"SELECT * FROM {relation}")
        types = session.sql_types(schema)
        parts = ["count(*) AS __rows"]
        for position, column in enumerate(schema):
            name = identifier(column.name)
            parts.append(f"count(*) - count({name}) AS __n{position}")
            if not pa.types.is_nested(column.type):
                parts.append(f"count(DISTINCT {name}) AS __d{position}")
                parts.append(f"min({name}) AS __lo{position}, max({name}) AS __hi{position}")
            if _numeric(column.type):
                parts.append(f"avg(CAST({name} AS DOUBLE)) AS __avg{position}")
        row = session.query(f"SELECT {', '.join(parts)} FROM {relation}").to_pylist()[0]
        columns = []
        for position, column in enumerate(schema):
            distinct = int(row.get(f"__d{position}") or 0)
            values = None
            if 0 < distinct <= ACCEPTED_VALUES_MAX and not pa.types.is_nested(column.type):
                found = session.query(
                    f"SELECT DISTINCT {identifier(column.name)} AS v FROM {relation} "
                    f"WHERE {identifier(column.name)} IS NOT NULL ORDER BY 1"
                )
                values = found.column("v").to_pylist()
            columns.append(
                ColumnProfile(
                    column.name,
                    types[column.name],
                    int(row[f"__n{position}"]),
                    distinct,
                    row.get(f"__lo{position}"),
                    row.get(f"__hi{position}"),
                    row.get(f"__avg{position}"),
                    values,
                )
            )
        keys = _compound_keys(session, relation, schema, columns, int(row["__rows"]))
        return TableProfile(asset.key, int(row["__rows"]), columns, keys)
    finally:
        tables.close()


def _compound_keys(
    session: EngineSession,
    relation: str,
    schema: Any,
    columns: list[ColumnProfile],
    rows: int,
) -> list[tuple[str, str]]:
    """The pairs of columns unique together, when the table has no one-column key.

    Tried are the columns without NULLs, repeating values and of a type keys are made of
    (integers, text, dates, times; not floats, decimals or nested values), key-like names
    first; a pair whose distinct counts multiply to fewer than the rows cannot be unique and
    is not measured. The pairs come back with key-like names first, then in column order.
    """
    import pyarrow as pa

    if rows < 2 or any(c.nulls == 0 and c.distinct == rows for c in columns):
        return []
    kinds = {column.name: column.type for column in schema}

    def keyish(kind: Any) -> bool:
        return bool(
            pa.types.is_integer(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_date(kind)
            or pa.types.is_timestamp(kind)
        )

    candidates = [
        c for c in columns if c.nulls == 0 and 1 < c.distinct < rows and keyish(kinds[c.name])
    ]
    candidates.sort(key=lambda c: not _growing_name(c.name))  # stable: column order within
    candidates = candidates[:KEY_CANDIDATES_MAX]
    order = {c.name: position for position, c in enumerate(columns)}
    pairs = [
        (a, b) if order[a.name] < order[b.name] else (b, a)
        for i, a in enumerate(candidates)
        for b in candidates[i + 1 :]
        if a.distinct * b.distinct >= rows
    ]
    if not pairs:
        return []
    counts = ", ".join(
        f"count(DISTINCT ({identifier(a.name)}, {identifier(b.name)})) AS __k{i}"
        for i, (a, b) in enumerate(pairs)
    )
    found = session.query(f"SELECT {counts} FROM {relation}").to_pylist()[0]
    unique = [(a.name, b.name) for i, (a, b) in enumerate(pairs) if found[f"__k{i}"] == rows]
    unique.sort(
        key=lambda pair: (
            -sum(_growing_name(name) for name in pair),
            order[pair[0]],
            order[pair[1]],
        )
    )
    return unique


def suggest_checks(table: TableProfile) -> dict[str, Any]:
    """A starter sidecar inferred from `table`'s profile.

    Returns:
        `columns:` with each column's type and checks (not null, unique, accepted values,
        ranges) and table `checks:` (a row count, and the compound key when no column is
        unique alone). A column whose values only ever grow (dates, timestamps, ids, keys,
        sequences) gets a `range` with its `min` only: a `max` taken from today's data would
        fail tomorrow.
    """
    columns: list[dict[str, Any]] = []
    for column in table.columns:
        checks: list[Any] = []
        if table.rows and column.nulls == 0:
            checks.append("not_null")
        if table.rows and column.distinct == table.rows and column.nulls == 0:
            checks.append("unique")
        text = column.type.upper().startswith(("VARCHAR", "TEXT", "STRING"))
        if text and column.values is not None and column.distinct < table.rows:
            checks.append({"accepted_values": {"values": column.values}})
        elif (
            column.min is not None
            and column.max is not None
            and not text
            and column.type.upper() != "BOOLEAN"
        ):
            bounds = {"min": _plain(column.min)}
            if not _ever_growing(column, table.rows):
                bounds["max"] = _plain(column.max)
            checks.append({"range": bounds})
        entry: dict[str, Any] = {"name": column.name, "type": column.type}
        if checks:
            entry["checks"] = checks
        columns.append(entry)
    table_checks: list[dict[str, Any]] = [{"row_count": {"min": 1}}] if table.rows else []
    if table.compound_keys:
        table_checks.append({"unique": {"columns": list(table.compound_keys[0])}})
    return {"columns": columns, "checks": table_checks}


def _ever_growing(column: ColumnProfile, rows: int) -> bool:
    """Whether tomorrow's data likely holds a larger value than today's maximum: dates and
    timestamps (time moves on), numbers named as keys, sequences or moments (`id`,
    `order_id`, `line_number`, `created_at`), and integers unique in every row (a key handed
    out by a sequence)."""
    kind = column.type.upper()
    if kind.startswith(("DATE", "TIMESTAMP")):
        return True
    if _growing_name(column.name):
        return True
    integer = kind.split("(")[0].strip() in INTEGER_TYPES
    return integer and rows > 1 and column.nulls == 0 and column.distinct == rows


def _growing_name(name: str) -> bool:
    """Whether `name`'s last word (snake_case or camelCase) names a key, a sequence or a
    moment (see `GROWING_WORDS`)."""
    import re

    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return bool(words) and words[-1].lower() in GROWING_WORDS


def _numeric(kind: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


def _plain(value: Any) -> Any:
    """A YAML-friendly scalar (dates as ISO text, decimals as floats)."""
    import decimal

    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value
