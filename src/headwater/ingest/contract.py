"""The schema contract of a loaded table: check staged rows against it and plan their write.

The staged rows' columns are compared with the table's: a type that can widen is widened, a new
column is added, dropped, or its rows quarantined as the table's `contract` says (`evolve`,
`discard_column`, `discard_row`), and `freeze` refuses any change. The result is a `WritePlan`:
the table's next schema and the SQL over the staged rows that gives what to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.build.context import BuildContext
from headwater.build.schema_evolution import widened
from headwater.errors import Location, SourceError
from headwater.ingest.base import BadRecord, Extracted
from headwater.ingest.records import SYSTEM_PREFIX
from headwater.project.sources import SourceTable
from headwater.sqltext import column_list, identifier

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class WritePlan:
    """How staged rows become the table's next version."""

    schema: pa.Schema
    select: str
    """SQL over the staged rows giving what to write (casts, dropped columns, filters)."""
    rewrite: bool
    """The staged files cannot be committed as they are."""
    widen_table: bool = False
    """Existing rows must be rewritten with wider types."""
    changes: list[str] = field(default_factory=list)
    """What the load changed in the schema, for its message."""


def plan_write(
    ctx: BuildContext,
    spec: SourceTable,
    extracted: Extracted,
    table_schema: pa.Schema | None,
    staged: str,
    bad: list[BadRecord],
    keep: list[str] | None = None,
) -> WritePlan:
    """Check the staged rows against the table under the contract and say how to write them.

    Columns in `keep` (staged, but not in `extracted.schema`) pass through the plan's SELECT
    untouched and are not part of the table."""
    keep = keep or []
    import pyarrow as pa

    incoming = extracted.schema if extracted.schema is not None else pa.schema([])
    if not staged:
        return WritePlan(table_schema or incoming, "", rewrite=False)
    asset = ctx.asset.key
    single_schema = _files_agree(extracted)
    if table_schema is None:
        select = f"SELECT {column_list([*incoming.names, *keep])} FROM {staged}"
        return WritePlan(incoming, select, rewrite=not single_schema or bool(keep))
    contract = spec.contract
    known = {f.name: f.type for f in table_schema}
    new = [f for f in incoming if f.name not in known]
    # Headwater's own link columns (`_hw_id` once a record first holds a list) are not the
    # source's schema: no contract applies to them
    system = [f for f in new if f.name.startswith(SYSTEM_PREFIX)]
    new = [f for f in new if not f.name.startswith(SYSTEM_PREFIX)]
    changes: list[str] = []
    widen: dict[str, pa.DataType] = {}
    cast: dict[str, pa.DataType] = {}
    for f in incoming:
        old = known.get(f.name)
        if old is None or old.equals(f.type):
            continue
        merged = widened(old, f.type)
        if merged is None:
            raise SourceError(
                f"column {f.name} of {asset} is {old} in the table but the source now sends "
                f"{f.type}; that change cannot be applied",
                Location(file=ctx.asset.rel_path, asset=asset, column=f.name),
                f"declare it under 'columns: {{{f.name}: ...}}' in the source table, or reload "
                "with --full-refresh",
            )
        if contract == "freeze" and not merged.equals(old):
            raise _frozen(ctx, f"column {f.name} would widen from {old} to {f.type}")
        if merged.equals(old):
            cast[f.name] = old
        else:
            widen[f.name] = merged
            changes.append(f"widened {f.name} {old} -> {merged}")
    if new and contract == "freeze":
        raise _frozen(ctx, f"new column {', '.join(f.name for f in new)}")
    where = ""
    dropped: set[str] = set()
    if new and contract == "discard_column":
        dropped = {f.name for f in new}
        changes.append(f"discarded new column {', '.join(sorted(dropped))}")
    elif new and contract == "discard_row":
        dropped = {f.name for f in new}
        using = " OR ".join(f"{identifier(n)} IS NOT NULL" for n in sorted(dropped))
        rejected = ctx.session.query(f"SELECT * FROM {staged} WHERE {using}").to_pylist()
        for row in rejected:
            present = sorted(n for n in dropped if row.get(n) is not None)
            bad.append(
                BadRecord(
                    f"{spec.source_name}.{spec.name}",
                    "schema",
                    f"uses new column {', '.join(present)} (contract discard_row)",
                    _row_text(row),
                    present[0],
                )
            )
        where = f" WHERE NOT ({using})"
        changes.append(f"discarded {len(rejected)} rows using new columns")
    elif new:
        changes.append(f"added column {', '.join(f.name for f in new)}")
    final_fields = [
        pa.field(f.name, widen.get(f.name, f.type), nullable=True) for f in table_schema
    ] + [pa.field(f.name, f.type, nullable=True) for f in [*new, *system] if f.name not in dropped]
    schema = pa.schema(final_fields)
    present = [f.name for f in incoming if f.name not in dropped]
    select = f"SELECT {column_list([*present, *keep])} FROM {staged}{where}"
    rewrite = bool(cast or widen or dropped or where or not single_schema or keep)
    if rewrite:
        select = _cast_select(ctx, present, schema, staged, where, keep)
    return WritePlan(schema, select, rewrite, widen_table=bool(widen), changes=changes)


def _cast_select(
    ctx: BuildContext,
    present: list[str],
    schema: pa.Schema,
    staged: str,
    where: str,
    keep: list[str],
) -> str:
    types = ctx.session.sql_types(schema)
    columns = [f"CAST({identifier(n)} AS {types[n]}) AS {identifier(n)}" for n in present]
    columns += [identifier(n) for n in keep]
    return f"SELECT {', '.join(columns)} FROM {staged}{where}"


def _files_agree(extracted: Extracted) -> bool:
    """Whether every staged file has the extract's schema (else a rewrite unifies them)."""
    import pyarrow.parquet as pq

    if extracted.schema is None:
        return True
    return all(
        pq.read_schema(f.path).remove_metadata().equals(extracted.schema.remove_metadata())
        for f in extracted.files
    )


def _frozen(ctx: BuildContext, what: str) -> SourceError:
    return SourceError(
        f"the schema of {ctx.asset.key} is frozen (contract: freeze) but the source changed: "
        f"{what}; nothing was loaded",
        Location(file=ctx.asset.rel_path, asset=ctx.asset.key),
        "change the source back, or set 'contract: evolve' for this table",
    )


def _row_text(row: dict[str, Any]) -> str:
    import json

    return json.dumps(row, default=str)
