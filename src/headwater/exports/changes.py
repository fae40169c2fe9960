"""What an asset changed between two of its Delta versions, as an export sends it.

Version `until` is `kept + added` files and version `since` is `kept + removed`, so the rows
it gained are `added EXCEPT ALL removed`: only the files the versions do not share are read
(when both are plain Parquet files on local disk; otherwise the two whole versions are
compared, with the same answer). Only exported columns are compared, so a change to a column
the export does not send sends nothing.

- `append`: the rows gained, as many times as they were gained (`EXCEPT ALL`).
- `upsert`: the distinct rows that are new or differ from the version before.
- `mirror`: those, and the keys present before and absent now.

Upserted and mirrored rows with a null key, or with a key that two different rows share,
cannot be matched in the destination: they are set aside with the reason, and the rest go.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from headwater.engine.base import EngineSession
from headwater.errors import ExportError, Location
from headwater.exports.base import Changes, Refused
from headwater.project.yamlfile import closest
from headwater.sqltext import identifier
from headwater.storage.base import Snapshot, TableRef, TableStore

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.project.exports import ExportConfig

SCHEMA = "hw_export"
"""The engine schema holding an export's private relations while it runs."""
SHARING = "hw_sharing_key"
"""The column of the changed rows counting the changed rows with the same key."""


class UnreadableVersion(ExportError):
    """The version an export last sent can no longer be read (vacuumed, or purged by an
    erasure)."""


def read_changes(
    session: EngineSession,
    store: TableStore,
    config: ExportConfig,
    source: TableRef,
    since: int | None,
    until: int,
    ordered: bool,
    reads_as: Callable[[str], str] | None = None,
    where: Location | None = None,
) -> Changes:
    """The changes of `source` from version `since` (None: nothing) to `until`, as export
    `config` sends them; `ordered` fixes the order of records so the same range always
    makes the same batches; `reads_as` gives, for a relation holding rows of `source`, the
    SELECT of them as the export's role reads them (None: as they are); `where` is the
    export's place in the project, for errors.

    Raises:
        ExportError: version `since` can no longer be read, or a mapped or key column is
            missing.
    """
    where = where or Location(file=f"exports/ ({config.name})")
    new = store.snapshot(source, version=until)
    old = _old_snapshot(store, source, since, config.name, where) if since is not None else None
    mapping = config.column_map(list(new.schema.names))
    for wanted, role in ((list(mapping.values()), "mapped"), (config.key, "key")):
        missing = [c for c in wanted if c not in new.schema.names]
        if missing:
            near = closest(missing[0], list(new.schema.names))
            raise ExportError(
                f"export {config.name}: {source} has no {role} column {', '.join(missing)} "
                f"(its columns: {', '.join(new.schema.names)})",
                where,
                (f"did you mean {near}? " if near else "")
                + "name columns the asset has under 'key:' and 'columns:'",
            )
    destination_of: dict[str, str] = {}
    for dest, col in mapping.items():
        destination_of.setdefault(col, dest)
    key = [destination_of[k] for k in config.key]
    names = _Names(config.name)
    added, removed = _differing(new, old)
    session.register_table(names.ref("added"), added)
    if removed is not None:
        session.register_table(names.ref("removed"), removed)
    if config.mode == "mirror":
        session.register_table(names.ref("current"), new)
    types = session.sql_types(new.schema)

    def select(present: list[str]) -> str:
        """The exported columns of a side holding columns `present`: one the side lacks (a
        version before the column was added) is NULL."""
        return ", ".join(
            f"{identifier(col) if col in present else f'CAST(NULL AS {types[col]})'} "
            f"AS {identifier(dest)}"
            for dest, col in mapping.items()
        )

    def rows_of(part: str) -> str:
        relation = names.sql(part)
        return relation if reads_as is None else f"({reads_as(relation)}) AS {identifier(part)}"

    gained = f"SELECT {select(list(new.schema.names))} FROM {rows_of('added')}"
    lost = (
        f"SELECT {select(list(removed.schema.names))} FROM {rows_of('removed')}"
        if removed is not None
        else None
    )
    if config.mode == "append":
        rows_sql = gained if lost is None else f"{gained} EXCEPT ALL {lost}"
    else:
        rows_sql = gained if lost is None else f"{gained} EXCEPT {lost}"
    columns = ", ".join(identifier(dest) for dest in mapping)
    order = _order(key if config.mode != "append" else list(mapping), ordered)
    invalid: list[Refused] = []
    if config.mode == "append":
        session.execute(f"CREATE OR REPLACE TEMP TABLE {names.temp('upserts')} AS {rows_sql}")
        upserts_sql = f"SELECT * FROM {names.temp('upserts')}"
    else:
        # the versions are compared once; each changed row carries how many share its key
        keys = ", ".join(identifier(k) for k in key)
        session.execute(
            f"CREATE OR REPLACE TEMP TABLE {names.temp('upserts')} AS SELECT *, "
            f"count(*) OVER (PARTITION BY {keys}) AS {SHARING} FROM ({rows_sql}) AS changed"
        )
        invalid = _invalid_keys(session, names.temp("upserts"), key)
        valid = " AND ".join(f"{identifier(k)} IS NOT NULL" for k in key)
        upserts_sql = (
            f"SELECT {columns} FROM {names.temp('upserts')} WHERE {valid} AND {SHARING} = 1"
        )
    deletes_sql = None
    if config.mode == "mirror" and removed is not None:
        pairs = ", ".join(f"{identifier(mapping[k])} AS {identifier(k)}" for k in key)
        present = " AND ".join(f"{identifier(mapping[k])} IS NOT NULL" for k in key)
        deletes_sql = (
            f"SELECT {pairs} FROM {rows_of('removed')} WHERE {present} "
            f"EXCEPT SELECT {pairs} FROM {rows_of('current')}"
        )
        session.execute(f"CREATE OR REPLACE TEMP TABLE {names.temp('deletes')} AS {deletes_sql}")
    upserts = _count(session, f"({upserts_sql})")
    deletes = _count(session, names.temp("deletes")) if deletes_sql else 0
    schema = session.schema(upserts_sql)
    key_order = _order(key, ordered)

    def upsert_batches(size: int) -> Iterator[pa.RecordBatch]:
        yield from _batches(session, f"{upserts_sql}{order}", size)

    def delete_batches(size: int) -> Iterator[pa.RecordBatch]:
        if deletes_sql:
            yield from _batches(session, f"SELECT * FROM {names.temp('deletes')}{key_order}", size)

    return Changes(
        export=config.name,
        source=source.key,
        mode=config.mode,
        key=key,
        since=since,
        until=until,
        schema=schema,
        upsert_batches=upsert_batches,
        delete_batches=delete_batches,
        upserts=upserts,
        deletes=deletes,
        invalid=invalid,
    )


@dataclasses.dataclass(frozen=True)
class _Names:
    """The names of one export's private relations."""

    export: str

    def ref(self, part: str) -> TableRef:
        return TableRef(SCHEMA, f"{self.export}__{part}")

    def sql(self, part: str) -> str:
        return f"{identifier(SCHEMA)}.{identifier(f'{self.export}__{part}')}"

    def temp(self, part: str) -> str:
        return identifier(f"hw_export_{self.export}__{part}")


def _old_snapshot(
    store: TableStore, source: TableRef, since: int, export: str, where: Location
) -> Snapshot:
    """Version `since` of `source`, which the last export sent."""
    try:
        return store.snapshot(source, version=since)
    except Exception as exc:
        raise UnreadableVersion(
            f"export {export}: version {since} of {source}, which it last sent, can no longer "
            f"be read ({type(exc).__name__}: vacuumed, or purged by an erasure), so what "
            "changed since cannot be told",
            where,
            "run it with --full-refresh to send every row again (upsert and mirror converge; "
            "append sends rows the destination already has)",
        ) from exc


def _differing(new: Snapshot, old: Snapshot | None) -> tuple[Snapshot, Snapshot | None]:
    """The parts of `new` and `old` to compare: the files they do not share when both are
    plain local Parquet files, else both whole."""
    if old is None:
        return new, None
    plain = not any(s.needs_arrow_reader or s.on_object_store for s in (new, old))
    if not plain or new.partition_by != old.partition_by:
        return new, old
    before = {f.relative_path for f in old.files}
    after = {f.relative_path for f in new.files}
    return (
        dataclasses.replace(
            new, files=tuple(f for f in new.files if f.relative_path not in before)
        ),
        dataclasses.replace(
            old,
            files=tuple(f for f in old.files if f.relative_path not in after),
            schema=new.schema if _same_columns(new, old) else old.schema,
        ),
    )


def _same_columns(new: Snapshot, old: Snapshot) -> bool:
    return list(new.schema.names) == list(old.schema.names)


def _invalid_keys(session: EngineSession, changed: str, key: list[str]) -> list[Refused]:
    """Rows of table `changed` whose key is null or shared with another changed row."""
    nulls = " OR ".join(f"{identifier(k)} IS NULL" for k in key)
    found = session.query(
        f"SELECT * EXCLUDE ({SHARING}), CASE WHEN {nulls} THEN 'null' ELSE 'repeated' END "
        f"AS hw_problem, {SHARING} AS hw_count FROM {changed} WHERE {nulls} OR {SHARING} > 1"
    )
    refused = []
    for row in found.to_pylist():
        problem, count = row.pop("hw_problem"), row.pop("hw_count")
        if problem == "null":
            reason = f"key {', '.join(key)} is null: the destination cannot match the row"
        else:
            reason = (
                f"key {', '.join(f'{k}={row[k]!r}' for k in key)} is shared by {count} "
                "different rows: the destination cannot tell which one it holds"
            )
        refused.append(Refused(record=row, reason=reason, column=key[0], error_class="key"))
    return refused


def _order(columns: list[str], ordered: bool) -> str:
    if not ordered or not columns:
        return ""
    return " ORDER BY " + ", ".join(f"{identifier(c)} NULLS FIRST" for c in columns)


def _count(session: EngineSession, relation: str) -> int:
    return int(session.query(f"SELECT count(*) AS n FROM {relation}").column(0)[0].as_py())


def _batches(session: EngineSession, sql: str, size: int) -> Iterator[pa.RecordBatch]:
    """The rows of `sql` in batches of exactly `size` (the last one smaller)."""
    import pyarrow as pa

    reader = session.query_batches(sql, batch_size=size)
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in reader:
        pending.append(batch)
        held += batch.num_rows
        while held >= size:
            table = pa.Table.from_batches(pending, schema=reader.schema).combine_chunks()
            yield from table.slice(0, size).to_batches()
            rest = table.slice(size)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield from (
            pa.Table.from_batches(pending, schema=reader.schema).combine_chunks().to_batches()
        )
