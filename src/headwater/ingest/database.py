"""SQL databases: PostgreSQL through COPY, anything else SQLAlchemy can reach row by row.

PostgreSQL's fast path streams `COPY (SELECT ...) TO STDOUT (FORMAT csv)` through a named pipe
(`pipe.py`) and has DuckDB parse it with the column types PostgreSQL reported, straight into
Parquet: no Python object per value. Other databases (SQLite, MySQL, ...) are read in batches
through SQLAlchemy and typed record by record. `list_tables` lists a schema's tables for sources
that load it whole (`include:`); what a failure means is decided in `database_errors.py`.

Incremental tables read only rows past the stored cursor (`cursor > last`, or `>= last -
lookback` to catch rows committed late); the loader advances the cursor in the same commit as
the rows.
"""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from headwater.build.retry import with_retries
from headwater.build.secrets import redact, resolve
from headwater.errors import SOURCES_DOCS, ConfigError, Location, SourceError
from headwater.ingest.base import (
    DatasetOrigin,
    Extracted,
    Extractor,
    ExtractRequest,
    origin_url,
)
from headwater.ingest.database_errors import (
    is_transient,
    listing_error,
    pg_error,
    pg_is_transient,
    source_file,
    sqlalchemy_error,
)
from headwater.ingest.extractors import register_extractor
from headwater.ingest.pipe import through_pipe
from headwater.ingest.records import RecordWriter
from headwater.project.sources import SourceConfig, SourceTable
from headwater.project.strict import duration_seconds
from headwater.sqltext import literal

FETCH_ROWS = 10_000
# PostgreSQL type OIDs -> DuckDB types for the CSV the COPY writes.
PG_TYPES = {
    16: "BOOLEAN",
    20: "BIGINT",
    21: "SMALLINT",
    23: "INTEGER",
    700: "FLOAT",
    701: "DOUBLE",
    1082: "DATE",
    1114: "TIMESTAMP",
    1184: "TIMESTAMPTZ",
    1083: "TIME",
}


def _where(request: ExtractRequest, quote: Callable[[str], str], bind: Callable[[Any], str]) -> str:
    """The WHERE clause selecting the rows this load reads; `bind` renders the cursor value."""
    table = request.spec.table
    clauses = [f"({table.where})"] if table.where else []
    last = request.state.get("cursor")
    if table.cursor and last is not None and request.spec.mode in ("incremental", "merge"):
        column = quote(table.cursor)
        if table.lookback is None:
            clauses.append(f"{column} > {bind(last)}")
        else:
            clauses.append(f"{column} >= {_minus_lookback(bind(last), table.lookback)}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def _minus_lookback(cursor: str, lookback: int | float | str) -> str:
    if isinstance(lookback, int | float):
        return f"{cursor} - {lookback}"
    try:
        seconds = duration_seconds(lookback)
    except ValueError:
        raise ConfigError(
            f"lookback '{lookback}' is not a number or a duration",
            hint="write a number (for numeric cursors) or a duration like 30m, 2h, 1d",
        ) from None
    return f"CAST({cursor} AS TIMESTAMP) - INTERVAL '{seconds:g} seconds'"


class DatabaseExtractor(Extractor):
    """Reads a table (or its new rows) from a SQL database."""

    def extract(self, request: ExtractRequest) -> Extracted:
        spec = request.spec
        url = resolve(spec.source.url or "", request.location(), "url")
        if url.startswith(("postgresql:", "postgresql+psycopg:", "postgres:")):
            return with_retries(
                lambda: self._postgres(request, url),
                spec.source.retries,
                is_transient,
                f"reading {request.key} from PostgreSQL",
            )
        return with_retries(
            lambda: self._sqlalchemy(request, url),
            spec.source.retries,
            is_transient,
            f"reading {request.key}",
        )

    # -- PostgreSQL -------------------------------------------------------------------------

    def _postgres(self, request: ExtractRequest, url: str) -> Extracted:
        import psycopg
        from psycopg import sql as pgsql

        spec = request.spec
        conninfo = re.sub(r"^postgres(ql)?(\+psycopg)?:", "postgresql:", url)
        try:
            connection = psycopg.connect(
                conninfo, connect_timeout=max(1, int(spec.source.request_timeout))
            )
        except psycopg.Error as exc:
            raise pg_error(request, exc, url) from None
        with connection:
            schema, table = _table_name(spec)
            target = pgsql.Identifier(schema, table) if schema else pgsql.Identifier(table)
            columns = (
                pgsql.SQL(", ").join(pgsql.Identifier(c) for c in spec.table.select)
                if spec.table.select
                else pgsql.SQL("*")
            )
            condition = _where(
                request,
                lambda c: pgsql.Identifier(c).as_string(connection),
                lambda v: pgsql.Literal(v).as_string(connection),
            )
            query = pgsql.SQL("SELECT {} FROM {}").format(columns, target).as_string(connection)
            query += condition
            try:
                comments = _pg_comments(connection, schema, table)
                with connection.cursor() as cursor:
                    cursor.execute(query + " LIMIT 0")
                    described = cursor.description or []
                    types = {d.name: _duckdb_type(d) for d in described}
                    copy = f"COPY ({query}) TO STDOUT (FORMAT csv, NULL '\\N')"

                    def produce(out: BinaryIO) -> None:
                        with cursor.copy(copy) as stream:
                            for chunk in stream:
                                out.write(chunk)

                    extracted = through_pipe(
                        request.scratch_dir, produce, lambda path: _read_copy(request, path, types)
                    )
                    extracted.descriptions = comments
                    return extracted
            except psycopg.Error as exc:
                raise pg_error(request, exc, url) from None

    # -- anything SQLAlchemy reaches --------------------------------------------------------

    def _sqlalchemy(self, request: ExtractRequest, url: str) -> Extracted:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError

        spec = request.spec
        try:
            engine = create_engine(url)
        except Exception as exc:
            raise SourceError(
                f"cannot use database URL of source {spec.source_name}: {redact(str(exc))}",
                request.location(("url",)),
                f"fix 'url' (a SQLAlchemy URL; install the database's driver); see {SOURCES_DOCS}",
            ) from None
        try:
            with engine.connect() as connection:
                quote = connection.dialect.identifier_preparer.quote
                schema, table = _table_name(spec)
                target = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
                columns = ", ".join(quote(c) for c in spec.table.select) or "*"
                params: dict[str, Any] = {}

                def bind(value: Any) -> str:
                    params["cursor"] = value
                    return ":cursor"

                condition = _where(request, quote, bind)
                result = connection.execution_options(stream_results=True).execute(
                    text(f"SELECT {columns} FROM {target}{condition}"), params
                )
                writer = RecordWriter(
                    request.stage_dir / "rows",
                    preferred={f.name: f.type for f in request.table_schema or []},
                )
                names = list(result.keys())
                location = f"{spec.source_name}:{table}"
                while rows := result.fetchmany(FETCH_ROWS):
                    for row in rows:
                        writer.add(dict(zip(names, row, strict=True)), location)
                schema_out = writer.close()
                comments = _sqlalchemy_comments(connection, schema, table)
        except SQLAlchemyError as exc:
            raise sqlalchemy_error(request, exc) from None
        finally:
            engine.dispose()
        extracted = Extracted(writer.files, schema_out, writer.rows, list(writer.bad))
        extracted.descriptions = comments
        return extracted


PG_COMMENTS = """
SELECT '' AS name, obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = %(table)s AND n.nspname = coalesce(%(schema)s, current_schema())
UNION ALL
SELECT a.attname, col_description(c.oid, a.attnum)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relname = %(table)s AND n.nspname = coalesce(%(schema)s, current_schema())
"""


def _pg_comments(connection: Any, schema: str | None, table: str) -> dict[str, str]:
    """The comments PostgreSQL keeps on the table (`""`) and its columns (COMMENT ON)."""
    with connection.cursor() as cursor:
        cursor.execute(PG_COMMENTS, {"schema": schema, "table": table})
        return {str(name): str(comment) for name, comment in cursor.fetchall() if comment}


def _sqlalchemy_comments(connection: Any, schema: str | None, table: str) -> dict[str, str]:
    """The comments a database reached through SQLAlchemy keeps (none for SQLite)."""
    from sqlalchemy import inspect

    inspector = inspect(connection)
    found: dict[str, str] = {}
    try:
        comment = inspector.get_table_comment(table, schema=schema).get("text")
    except NotImplementedError:  # SQLite keeps no comments
        return found
    if comment:
        found[""] = str(comment)
    for column in inspector.get_columns(table, schema=schema):
        if column.get("comment"):
            found[str(column["name"])] = str(column["comment"])
    return found


def list_tables(name: str, source: SourceConfig) -> list[str]:
    """The tables and views in the schema of sql source `name` (its `schema`, else the
    database's default) that its `include`/`exclude` patterns pick.

    Raises:
        SourceError: the database cannot be reached or listed (transient failures are retried).
    """
    url = resolve(source.url or "", Location(file=source_file(name, source)), "url")

    def listing() -> list[str]:
        if url.startswith(("postgresql:", "postgresql+psycopg:", "postgres:")):
            return _pg_tables(name, source, url)
        return _sqlalchemy_tables(name, source, url)

    found = with_retries(listing, source.retries, is_transient, f"listing the tables of {name}")
    return sorted(t for t in found if source.includes(t))


def _pg_tables(name: str, source: SourceConfig, url: str) -> list[str]:
    import psycopg

    conninfo = re.sub(r"^postgres(ql)?(\+psycopg)?:", "postgresql:", url)
    try:
        with psycopg.connect(
            conninfo, connect_timeout=max(1, int(source.request_timeout))
        ) as connection:
            rows = connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = coalesce(%s::text, current_schema()) "
                "AND table_type IN ('BASE TABLE', 'VIEW', 'FOREIGN') ORDER BY 1",
                (source.schema_name,),
            ).fetchall()
    except psycopg.Error as exc:
        raise listing_error(name, source, exc, pg_is_transient(exc)) from None
    return [str(row[0]) for row in rows]


def _sqlalchemy_tables(name: str, source: SourceConfig, url: str) -> list[str]:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError, TimeoutError

    try:
        engine = create_engine(url)
    except Exception as exc:
        raise listing_error(name, source, exc, False) from None
    try:
        inspector = inspect(engine)
        schema = source.schema_name
        return [*inspector.get_table_names(schema), *inspector.get_view_names(schema)]
    except SQLAlchemyError as exc:
        transient = isinstance(exc, OperationalError | DisconnectionError | TimeoutError)
        raise listing_error(name, source, exc, transient) from None
    finally:
        engine.dispose()


def _read_copy(request: ExtractRequest, path: Path, types: dict[str, str]) -> Extracted:
    """Parse the COPY output with the reported types into staged Parquet (in a folder of its
    own, removed again if the COPY does not complete)."""
    columns = "{" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}"
    scan = (
        f"SELECT * FROM read_csv({literal(str(path))}, columns = {columns}, header = false, "
        "delim = ',', quote = '\"', escape = '\"', nullstr = '\\N', auto_detect = false, "
        "max_line_size = 100000000, hive_partitioning = false)"
    )
    directory = request.stage_dir / f"copy-{uuid.uuid4().hex[:8]}"
    written = request.session.copy_parquet(scan, directory)
    return Extracted(written.files, written.schema, written.rows)


def _duckdb_type(column: Any) -> str:
    if column.type_code == 1700:  # numeric
        precision, scale = column.precision, column.scale
        if precision and precision <= 38:
            return f"DECIMAL({precision}, {scale or 0})"
        return "DOUBLE"
    return PG_TYPES.get(column.type_code, "VARCHAR")


def _table_name(spec: SourceTable) -> tuple[str | None, str]:
    name = spec.table.table or spec.name
    if "." in name:
        schema, _, table = name.partition(".")
        return schema, table
    return spec.source.schema_name, name


def database_origin(spec: SourceTable, project_root: Path) -> DatasetOrigin:
    """The table as OpenLineage names a database table (see `database_dataset`)."""
    url = origin_url(spec.source.url or "")
    return database_dataset(url, spec.source.schema_name, spec.table.table or spec.name)


def database_dataset(url: str, schema: str | None, table: str) -> DatasetOrigin:
    """Return `table` (in `schema` unless it names one) of the database at `url` as
    OpenLineage names it: `postgres://host:port` and `db.schema.table` (`sqlite` and
    `path/schema.table` for SQLite); the URL's user and password are left out."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    scheme = {"postgresql": "postgres", "": "sql"}.get(scheme, scheme)
    name = f"{schema}.{table}" if "." not in table and schema else table
    if scheme == "sqlite":
        return DatasetOrigin("sqlite", f"{parts.path.lstrip('/')}/{name}")
    host = parts.hostname or "localhost"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: the source's own connection reports it
        port = ""
    database = parts.path.strip("/")
    return DatasetOrigin(f"{scheme}://{host}{port}", f"{database}.{name}" if database else name)


register_extractor("sql", DatabaseExtractor, database_origin)
