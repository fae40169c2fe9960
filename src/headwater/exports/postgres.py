"""Export into a PostgreSQL table: one transaction per range, holding the rows and the position.

The changed rows are copied (`COPY ... FROM STDIN`, CSV) into a temporary staging table with
the destination columns' types, then applied with one statement: `INSERT ... ON CONFLICT (key)
DO UPDATE` (upsert, mirror), a plain `INSERT` (append), and for mirror a `DELETE ... USING` of
the keys gone. The export's row in the position table is updated in the same transaction, so
the rows and the position commit together or not at all: a kill at any moment neither loses
nor repeats a row.

A value a column's type refuses (too long, out of range, not a valid uuid, a domain's check)
fails the whole `COPY`; the rows are then staged again as text, and the statement casts them.
When the statement fails on data (a constraint, a value the column's type refuses), it is
retried on halves of the staged rows under savepoints down to single rows: the rows the table
refuses go to the export's quarantine with PostgreSQL's message, and every other row lands.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import redact, resolve
from headwater.errors import ExportError, Location
from headwater.exports.base import Changes, Position, Quarantine, Refused, Sent
from headwater.project.exports import DOCS, ExportConfig
from headwater.project.yamlfile import closest

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

STAGE_BATCH = 100_000
"""Rows converted to CSV and copied at a time: memory follows this, not the change set."""
ROW = "hw_row"
NUL = "\x00"
POSITION_LOCK = 0x6877_6578
"""The first key of the advisory lock under which a missing position table is created
(the second is the hash of its name)."""


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    """`format_type` without a type modifier (`character varying`, `numeric`)."""
    category: str
    nullable: bool
    has_default: bool
    full_type: str
    """`format_type` with the type modifier (`character varying(15)`): a staging column's
    type, which reads a value as the column would take it."""

    @property
    def cast_type(self) -> str:
        """The cast from staged text, after which assigning to the column applies its length
        or precision and fails rather than truncates. Bare `character` is `character(1)`, to
        which a cast would cut the text: `bpchar` is the type without a length."""
        return "bpchar" if self.type == "character" else self.type


class PostgresTable:
    """A PostgreSQL table that export `export` writes."""

    def __init__(self, export: ExportConfig, where: Location | None = None) -> None:
        import psycopg

        config = export.to.postgres
        assert config is not None
        self.export = export
        self.where = where or Location(file=DOCS)
        self.schema_name, self.table_name = _split(config.table)
        position_schema, position_table = _split(config.position_table, self.schema_name)
        self.position_table = f"{_quote(position_schema)}.{_quote(position_table)}"
        self.table = f"{_quote(self.schema_name)}.{_quote(self.table_name)}"
        url = libpq_url(resolve(config.url, self.where, "to.postgres.url"))
        try:
            # in UTC: a timestamp without a zone is UTC in the lakehouse, and must not take
            # the server's zone on its way into a timestamptz column
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                url, connect_timeout=30, options="-c TimeZone=UTC"
            )
        except psycopg.Error as exc:
            raise ExportError(
                f"export {export.name}: cannot connect to PostgreSQL: {redact(str(exc)).strip()}",
                self.where,
                "check to.postgres.url and that the server is up",
            ) from None
        info = self._conn.info
        self.label = f"postgresql://{info.host}:{info.port}/{info.dbname} {config.table}"
        self.namespace = f"postgres://{info.host}:{info.port}"
        self.name = f"{info.dbname}.{self.schema_name}.{self.table_name}"
        self._columns: dict[str, _Column] = {}
        self._seen: Position | None = None

    def check(self, schema: pa.Schema, key: list[str]) -> None:
        """Check that the table exists, has every mapped column with a type the asset's
        values fit, no required column is left unmapped, and (upsert, mirror) a unique index
        on the key."""
        with self._talking("reading the table's columns"):
            self._check(schema, key)

    def _check(self, schema: pa.Schema, key: list[str]) -> None:
        columns = self._table_columns()
        for field in schema:
            column = columns.get(field.name)
            if column is None:
                near = closest(field.name, list(columns))
                raise ExportError(
                    f"export {self.export.name}: {self.label} has no column {field.name}",
                    self.where,
                    (f"did you mean {near}? " if near else "")
                    + "map it under 'columns:' (destination column: asset column)",
                )
            problem = _type_problem(field.type, column)
            if problem is not None:
                raise ExportError(
                    f"export {self.export.name}: column {field.name} is {field.type} in the "
                    f"asset but {column.type} in {self.label}: {problem}",
                    self.where,
                    "cast it in a model the export reads, or map another column",
                )
        required = [
            c.name
            for c in columns.values()
            if not c.nullable and not c.has_default and c.name not in schema.names
        ]
        if required:
            raise ExportError(
                f"export {self.export.name}: {self.label} requires {', '.join(required)}, which "
                "the export does not send",
                self.where,
                "map them under 'columns:', or give them a default in PostgreSQL",
            )
        if key and not self._unique_on(key):
            raise ExportError(
                f"export {self.export.name}: {self.label} has no primary key or unique index "
                f"on ({', '.join(key)}), which {self.export.mode} matches rows on",
                self.where,
                f"CREATE UNIQUE INDEX ON {self.table} ({', '.join(_quote(k) for k in key)})",
            )

    def position(self) -> Position:
        """The version (and asset) the position table records for this export."""
        with self._talking("reading the export's position"), self._conn.transaction():
            missing = self._conn.execute(
                "SELECT to_regclass(%s) IS NULL", (self.position_table,)
            ).fetchone()
            if missing is not None and missing[0]:
                # `CREATE TABLE IF NOT EXISTS` is not safe when two sessions run it at once
                # (the second fails on pg_type's unique index): exports starting together
                # (two of one asset) take turns to create the table
                self._conn.execute(
                    "SELECT pg_advisory_xact_lock(%s::integer, hashtext(%s))",
                    (POSITION_LOCK, self.position_table),
                )
                self._conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.position_table} ("
                    "export text PRIMARY KEY, source text NOT NULL, version bigint NOT NULL, "
                    "exported_at timestamptz NOT NULL DEFAULT now())"
                )
            row = self._conn.execute(
                f"SELECT version, source FROM {self.position_table} WHERE export = %s",
                (self.export.name,),
            ).fetchone()
        self._seen = Position(
            version=None if row is None else int(row[0]),
            source=None if row is None else str(row[1]),
        )
        return self._seen

    def send(self, changes: Changes, resume_at: int, quarantine: Quarantine) -> Sent:
        """Apply `changes` and move the position to `changes.until`, in one transaction.
        `resume_at` is ignored: a range is applied whole or not at all."""
        import psycopg

        columns = self._table_columns()
        names = list(changes.schema.names)
        sent = Sent()
        refused: list[Refused] = []
        try:
            with self._conn.transaction():
                self._hold_position()
                staged, typed = self._stage(
                    "hw_export_rows", names, _storable(changes.upsert_batches, refused), columns
                )
                bad = self._apply(
                    self._upsert_sql(names, changes, columns, typed), staged, "hw_export_rows"
                )
                refused += self._refused_rows("hw_export_rows", names, bad)
                sent.upserted = staged - len(bad)
                if changes.mode == "mirror" and changes.since is None:
                    # every row was sent: a key the table holds that none of them has is gone
                    sent.deleted = self._delete_unsent(changes.key, columns, typed)
                if changes.mode == "mirror":
                    gone, typed = self._stage(
                        "hw_export_gone", changes.key, changes.delete_batches, columns
                    )
                    bad = self._apply(
                        self._delete_sql(changes.key, columns, typed), gone, "hw_export_gone"
                    )
                    refused += self._refused_rows("hw_export_gone", changes.key, bad)
                    sent.deleted = gone - len(bad)
                sent.refused = len(refused)
                quarantine.add(f"{changes.export}:{changes.range_label}", refused)
                self._conn.execute(
                    f"INSERT INTO {self.position_table} (export, source, version, exported_at) "
                    "VALUES (%s, %s, %s, now()) ON CONFLICT (export) DO UPDATE SET "
                    "source = excluded.source, version = excluded.version, "
                    "exported_at = excluded.exported_at",
                    (changes.export, changes.source, changes.until),
                )
        except psycopg.Error as exc:
            raise ExportError(
                f"export {changes.export}: writing {self.label} failed, nothing of "
                f"{changes.range_label} was kept: {redact(str(exc)).strip()}",
                self.where,
                "the next run sends the same changes again",
            ) from None
        return sent

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _talking(self, doing: str) -> Iterator[None]:
        """Turn a PostgreSQL error while `doing` into an `ExportError` saying so."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise ExportError(
                f"export {self.export.name}: {doing} in {self.label} failed: "
                f"{redact(str(exc)).strip()}",
                self.where,
                "check the table, the position table's schema and the user's privileges",
            ) from None

    def _hold_position(self) -> None:
        """Lock this export's position row and check nobody moved it since it was read."""
        row = self._conn.execute(
            f"SELECT version FROM {self.position_table} WHERE export = %s FOR UPDATE",
            (self.export.name,),
        ).fetchone()
        now = None if row is None else int(row[0])
        if self._seen is not None and now != self._seen.version:
            raise ExportError(
                f"export {self.export.name}: its position in {self.label} moved from "
                f"{self._seen.version} to {now} while it ran (another process exported)",
                self.where,
                "run one export at a time; the next run sends from the new position",
            )

    def _stage(
        self, table: str, names: list[str], batches: Any, columns: dict[str, _Column]
    ) -> tuple[int, bool]:
        """Copy the records of `batches` into a temporary table (plus a row number) with the
        destination columns' types, so that each value is read once, or, when a value does
        not fit one of them, of text columns; return how many, and whether typed."""
        import psycopg

        try:
            with self._conn.transaction():  # a savepoint: a failed COPY leaves no table
                return self._copy(table, {n: columns[n].full_type for n in names}, batches), True
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError):
            # (a domain's CHECK or NOT NULL is an integrity error): the statement casts the
            # text row by row and sets the refused rows aside
            return self._copy(table, dict.fromkeys(names, "text"), batches), False

    def _copy(self, table: str, types: dict[str, str], batches: Any) -> int:
        """Create `table` with columns `types` and copy the records of `batches` into it;
        return how many."""
        names = list(types)
        listed = ", ".join(f"{_quote(n)} {kind}" for n, kind in types.items())
        self._conn.execute(f"CREATE TEMP TABLE {table} ({listed}, {ROW} bigint) ON COMMIT DROP")
        count = 0
        target = ", ".join([*(_quote(n) for n in names), ROW])
        from psycopg.copy import QueuedLibpqWriter

        cursor = self._conn.cursor()
        # a queued writer sends on a thread of its own: the next batch is read out of DuckDB
        # and turned into CSV while PostgreSQL parses the previous one
        copying = cursor.copy(
            f"COPY {table} ({target}) FROM STDIN (FORMAT csv)", writer=QueuedLibpqWriter(cursor)
        )
        with copying as copy:
            for batch in batches(STAGE_BATCH):
                copy.write(_csv(batch, count))
                count += batch.num_rows
        return count

    def _upsert_sql(
        self, names: list[str], changes: Changes, columns: dict[str, _Column], typed: bool
    ) -> str:
        listed = ", ".join(_quote(n) for n in names)
        values = ", ".join(_quote(n) if typed else _cast(n, columns[n]) for n in names)
        insert = (
            f"INSERT INTO {self.table} ({listed}) SELECT {values} FROM hw_export_rows "
            f"WHERE {ROW} BETWEEN %s AND %s"
        )
        if changes.mode == "append":
            return insert
        # the rows were staged in key order (`read_changes(ordered=True)`): the key's index
        # (and a table filled in key order) is then read and written page after page, not at
        # random (a million rows in random key order are upserted about 1.4 times slower)
        keys = ", ".join(_quote(k) for k in changes.key)
        others = [n for n in names if n not in changes.key]
        if not others:
            return f"{insert} ON CONFLICT ({keys}) DO NOTHING"
        assign = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in others)
        current = ", ".join(_comparable(f"{self.table}.{_quote(n)}", columns[n]) for n in others)
        new = ", ".join(_comparable(f"excluded.{_quote(n)}", columns[n]) for n in others)
        return (
            f"{insert} ON CONFLICT ({keys}) DO UPDATE SET {assign} "
            f"WHERE ROW({current}) IS DISTINCT FROM ROW({new})"
        )

    def _delete_sql(self, key: list[str], columns: dict[str, _Column], typed: bool) -> str:
        match = " AND ".join(
            f"{self.table}.{_quote(k)} = "
            + (f"gone.{_quote(k)}" if typed else _cast(k, columns[k], "gone"))
            for k in key
        )
        return (
            f"DELETE FROM {self.table} USING hw_export_gone AS gone WHERE {match} "
            f"AND gone.{ROW} BETWEEN %s AND %s"
        )

    def _delete_unsent(self, key: list[str], columns: dict[str, _Column], typed: bool) -> int:
        """Delete the rows whose key no staged row has; return how many."""
        match = " AND ".join(
            f"{self.table}.{_quote(k)} = "
            + (f"sent.{_quote(k)}" if typed else _cast(k, columns[k], "sent"))
            for k in key
        )
        cursor = self._conn.execute(
            f"DELETE FROM {self.table} WHERE NOT EXISTS "
            f"(SELECT 1 FROM hw_export_rows AS sent WHERE {match})"
        )
        return max(cursor.rowcount, 0)

    def _apply(self, sql: str, count: int, staged: str) -> list[tuple[int, str, str | None]]:
        """Run `sql` over rows 0..count-1 of table `staged`, halving the range that fails on
        data down to single rows; return the rows refused as (row, message, column)."""
        import psycopg

        refused: list[tuple[int, str, str | None]] = []
        ranges = [(0, count - 1)] if count else []
        indexed = False
        while ranges:
            low, high = ranges.pop()
            try:
                with self._conn.transaction():
                    self._conn.execute(sql, (low, high))
            except (
                psycopg.errors.DataError,
                psycopg.errors.IntegrityError,
                # two rows whose keys become one in the column's type (numeric(10, 1))
                psycopg.errors.CardinalityViolation,
            ) as exc:
                if not indexed:
                    # each halving reads a range of row numbers: not the whole table each time
                    self._conn.execute(f"CREATE INDEX ON {staged} ({ROW})")
                    self._conn.execute(f"ANALYZE {staged}")
                    indexed = True
                if low == high:
                    diag = exc.diag
                    refused.append(
                        (low, redact(diag.message_primary or str(exc)), diag.column_name)
                    )
                else:
                    middle = (low + high) // 2
                    ranges += [(middle + 1, high), (low, middle)]
        return refused

    def _refused_rows(
        self, table: str, names: list[str], bad: list[tuple[int, str, str | None]]
    ) -> list[Refused]:
        if not bad:
            return []
        reasons = {row: (message, column) for row, message, column in bad}
        listed = ", ".join(_quote(n) for n in names)
        found = self._conn.execute(
            f"SELECT {ROW}, {listed} FROM {table} WHERE {ROW} = ANY(%s) ORDER BY {ROW}",
            (list(reasons),),
        ).fetchall()
        refused = []
        for row, *values in found:
            message, column = reasons[row]
            refused.append(
                Refused(
                    record=dict(zip(names, values, strict=True)),
                    reason=f"PostgreSQL refused the row: {message}",
                    column=column,
                    error_class="refused",
                )
            )
        return refused

    def _table_columns(self) -> dict[str, _Column]:
        if self._columns:
            return self._columns
        rows = self._conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL), t.typcategory, NOT a.attnotnull, "
            "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', "
            "format_type(a.atttypid, a.atttypmod) "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (self.table,),
        ).fetchall()
        self._conn.rollback()
        if not rows:
            raise ExportError(
                f"export {self.export.name}: {self.label} does not exist",
                self.where,
                "create the table in PostgreSQL first (an export never creates or alters "
                "an operational table)",
            )
        self._columns = {
            r[0]: _Column(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[5]) for r in rows
        }
        return self._columns

    def _unique_on(self, key: list[str]) -> bool:
        """Whether a primary key or unique index covers exactly the columns `key`."""
        rows = self._conn.execute(
            "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL "
            "GROUP BY i.indexrelid",
            (self.table,),
        ).fetchall()
        self._conn.rollback()
        return any(sorted(r[0]) == sorted(key) for r in rows)


_TEXT = {"text", "character varying", "character", "name", "citext"}
_INTEGER = {"smallint", "integer", "bigint"}
_REAL = {"real", "double precision", "numeric"}


def _type_problem(arrow_type: pa.DataType, column: _Column) -> str | None:
    """Why values of `arrow_type` do not fit `column` (None: they do)."""
    import pyarrow as pa

    kind = column.type
    if kind in _TEXT and not (pa.types.is_nested(arrow_type) or pa.types.is_binary(arrow_type)):
        return None
    if pa.types.is_integer(arrow_type):
        fits = kind in _INTEGER | _REAL
    elif pa.types.is_floating(arrow_type):
        fits = kind in _REAL
    elif pa.types.is_decimal(arrow_type):
        fits = kind in _REAL or (kind in _INTEGER and arrow_type.scale == 0)
    elif pa.types.is_boolean(arrow_type):
        fits = kind == "boolean"
    elif pa.types.is_date(arrow_type):
        fits = kind in {"date", "timestamp without time zone", "timestamp with time zone"}
    elif pa.types.is_timestamp(arrow_type):
        fits = kind in {"timestamp without time zone", "timestamp with time zone"}
    elif pa.types.is_time(arrow_type):
        fits = kind == "time without time zone"
    elif pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        # text PostgreSQL parses row by row (a uuid, json, an enum label): a bad value is
        # refused and quarantined, not the whole export
        fits = column.category in {"U", "E", "I", "S"}
        if not fits:
            return "a text value would have to be parsed into it"
    else:
        return "exports send numbers, text, booleans, dates and times"
    return None if fits else "the values do not fit"


def libpq_url(url: str) -> str:
    """`url` as libpq reads it: SQLAlchemy's `postgresql+psycopg://` names a driver too."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.startswith("postgresql+"):
        return f"postgresql://{rest}"
    return url


_NO_EQUALITY = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
"""Types PostgreSQL has no `=` for: compared as text."""


def _comparable(reference: str, column: _Column) -> str:
    """`reference` in a form `IS DISTINCT FROM` can compare."""
    return f"{reference}::text" if column.type in _NO_EQUALITY else reference


def _storable(batches: Any, refused: list[Refused]) -> Any:
    """`batches` without the rows PostgreSQL's text cannot hold (a NUL character), which are
    added to `refused` instead."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def storable(size: int) -> Iterator[pa.RecordBatch]:
        for batch in batches(size):
            texts = [
                name
                for name, column in zip(batch.schema.names, batch.columns, strict=True)
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            ]
            bad = None
            for name in texts:
                found = pc.fill_null(pc.match_substring(batch.column(name), NUL), False)
                bad = found if bad is None else pc.or_(bad, found)
            if bad is None or not pc.any(bad).as_py():
                yield batch
                continue
            for row in batch.filter(bad).to_pylist():
                column = next(n for n in texts if NUL in (row[n] or ""))
                refused.append(
                    Refused(
                        record=row,
                        reason="PostgreSQL text cannot hold the NUL character",
                        column=column,
                        error_class="refused",
                    )
                )
            yield batch.filter(pc.invert(bad))

    return storable


def _split(name: str, default_schema: str = "public") -> tuple[str, str]:
    parts = name.split(".", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (default_schema, parts[0])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast(name: str, column: _Column, table: str | None = None) -> str:
    qualified = _quote(name) if table is None else f"{table}.{_quote(name)}"
    return f"CAST({qualified} AS {column.cast_type})"


def _csv(batch: pa.RecordBatch, first_row: int) -> bytes:
    """`batch` as CSV lines PostgreSQL's COPY reads (null unquoted and empty, an empty string
    quoted), with each row's number appended."""
    import pyarrow as pa
    from pyarrow import csv

    numbered = pa.RecordBatch.from_arrays(
        [*batch.columns, pa.array(range(first_row, first_row + batch.num_rows), pa.int64())],
        names=[*batch.schema.names, ROW],
    )
    out = io.BytesIO()
    csv.write_csv(numbered, out, csv.WriteOptions(include_header=False))
    return out.getvalue()
