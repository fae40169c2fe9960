"""SQL databases: PostgreSQL through COPY, anything else SQLAlchemy can reach row by row.

PostgreSQL's fast path streams `COPY (SELECT ...) TO STDOUT (FORMAT csv)` to a scratch file and
has DuckDB parse it with the column types PostgreSQL reported, straight into Parquet: no Python
object per value. Other databases (SQLite, MySQL, ...) are read in batches through SQLAlchemy
and typed record by record.

Incremental tables read only rows past the stored cursor (`cursor > last`, or `>= last -
lookback` to catch rows committed late); the loader advances the cursor in the same commit as
the rows.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from headwater.build.retry import with_retries
from headwater.build.secrets import REFERENCE, redact, resolve
from headwater.errors import SOURCES_DOCS, ConfigError, Location, SourceError, first_line
from headwater.ingest.base import Extracted, Extractor, ExtractRequest
from headwater.ingest.records import RecordWriter
from headwater.project.sources import SourceConfig, SourceTable
from headwater.project.strict import duration_seconds
from headwater.sqltext import literal

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
FETCH_ROWS = 10_000
PIPE_POLL_SECONDS = 0.005
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
PERMANENT_SQLSTATES = ("28", "42", "3D", "3F", "0A")
"""Auth failures, unknown tables/columns/syntax, unknown database/schema, unsupported: no retry."""


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
        where = Location(file=_source_file(request), asset=_key(spec))
        url = resolve(spec.source.url or "", where, "url")
        if url.startswith(("postgresql:", "postgresql+psycopg:", "postgres:")):
            return with_retries(
                lambda: self._postgres(request, url),
                spec.source.retries,
                _transient,
                f"reading {_key(spec)} from PostgreSQL",
            )
        return with_retries(
            lambda: self._sqlalchemy(request, url),
            spec.source.retries,
            _transient,
            f"reading {_key(spec)}",
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
            raise _pg_error(request, exc, url) from None
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
                raise _pg_error(request, exc, url) from None

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
                Location(file=_source_file(request), line=_url_line(request), asset=_key(spec)),
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
            raise _sqlalchemy_error(request, exc, url) from None
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
    where = Location(file=f"sources/{name}.yml")
    url = resolve(source.url or "", where, "url")

    def listing() -> list[str]:
        if url.startswith(("postgresql:", "postgresql+psycopg:", "postgres:")):
            return _pg_tables(name, source, url)
        return _sqlalchemy_tables(name, source, url)

    found = with_retries(listing, source.retries, _transient, f"listing the tables of {name}")
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
        raise _listing_error(name, exc, _pg_is_transient(exc), source.url or "") from None
    return [str(row[0]) for row in rows]


def _sqlalchemy_tables(name: str, source: SourceConfig, url: str) -> list[str]:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError, TimeoutError

    try:
        engine = create_engine(url)
    except Exception as exc:
        raise _listing_error(name, exc, False, source.url or "") from None
    try:
        inspector = inspect(engine)
        schema = source.schema_name
        return [*inspector.get_table_names(schema), *inspector.get_view_names(schema)]
    except SQLAlchemyError as exc:
        transient = isinstance(exc, OperationalError | DisconnectionError | TimeoutError)
        raise _listing_error(name, exc, transient, source.url or "") from None
    finally:
        engine.dispose()


def _listing_error(
    name: str, exc: Exception, transient: bool, url_template: str = ""
) -> SourceError:
    text = str(getattr(exc, "orig", None) or exc).strip()
    message = redact(text.splitlines()[0] if text else type(exc).__name__)
    refused = _refused_login(getattr(getattr(exc, "orig", None) or exc, "sqlstate", None), message)
    cls = _TransientSourceError if transient and not refused else SourceError
    return cls(
        f"cannot list the tables of source {name}: {message}",
        Location(file=f"sources/{name}.yml"),
        _credentials_hint(url_template, f"sources/{name}.yml")
        if refused
        else "check 'url' and 'schema' of the source (and that the server is up), or list the "
        f"tables under 'tables:' instead of 'include:'; see {SOURCES_DOCS}",
    )


def through_pipe(
    folder: Path, produce: Callable[[BinaryIO], None], consume: Callable[[Path], T]
) -> T:
    """Stream what `produce` writes into `consume`, which reads it from a path: a named pipe,
    so that both run at once (PostgreSQL makes rows while DuckDB parses and writes them) and no
    copy of the data lands on disk. A failure on either side ends the other and is raised."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"copy-{uuid.uuid4().hex[:12]}.csv"
    if not hasattr(os, "mkfifo"):  # no named pipes: a file, written then read
        with open(path, "wb") as out:
            produce(out)
        return consume(path)
    os.mkfifo(path)
    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            outcome["value"] = consume(path)
        except BaseException as exc:
            outcome["error"] = exc

    reader = threading.Thread(target=read, name="hw-copy-reader", daemon=True)
    reader.start()
    try:
        descriptor = _open_writer(path, reader)
        if descriptor is not None:
            # the reader stopping early breaks the pipe; its own error is raised below
            with contextlib.suppress(BrokenPipeError), os.fdopen(descriptor, "wb") as out:
                produce(out)
    finally:
        reader.join()
        path.unlink(missing_ok=True)
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["value"]
    return result


def _open_writer(path: Path, reader: threading.Thread) -> int | None:
    """Open the pipe for writing once the reader has opened it (None if the reader ended
    first); opening a pipe blocks until both ends are open, so it is tried without blocking."""
    while True:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            if not reader.is_alive():
                return None
            time.sleep(PIPE_POLL_SECONDS)
            continue
        os.set_blocking(descriptor, True)
        return descriptor


def _read_copy(request: ExtractRequest, path: Path, types: dict[str, str]) -> Extracted:
    """Parse the COPY output with the reported types into staged Parquet (in a folder of its
    own, removed again if the COPY does not complete)."""
    columns = "{" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}"
    scan = (
        f"SELECT * FROM read_csv({literal(str(path))}, columns = {columns}, header = false, "
        "delim = ',', quote = '\"', escape = '\"', nullstr = '\\N', auto_detect = false, "
        "max_line_size = 100000000)"
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


def _key(spec: SourceTable) -> str:
    return f"{spec.source_name}.{spec.name}"


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, _TransientSourceError)


def _pg_is_transient(exc: psycopg.Error) -> bool:
    import psycopg

    state = exc.sqlstate or ""
    if state.startswith(PERMANENT_SQLSTATES):
        return False
    text = str(exc).lower()
    if "authentication" in text or "password" in text or "does not exist" in text:
        return False
    return isinstance(exc, psycopg.OperationalError) or state.startswith(("08", "53", "57"))


class _TransientSourceError(SourceError):
    """A source failure worth retrying (kept apart so the retry loop can tell)."""


def _source_file(request: ExtractRequest) -> str:
    return request.source_file or f"sources/{request.spec.source_name}.yml"


def _url_line(request: ExtractRequest) -> int | None:
    """The line of the source's `url:` key, for errors about the URL."""
    from headwater.project.yamlfile import load_yaml

    file = _source_file(request)
    try:
        return load_yaml(request.project_root / file, file).line_of(("url",))
    except (OSError, ValueError, ConfigError):
        return None


LOGIN_REFUSED = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "access denied",
    "role ",
)
"""Driver messages of a refused login (PostgreSQL, MySQL): the credentials are wrong."""


def _refused_login(sqlstate: str | None, message: str) -> bool:
    """Whether a failure is the server refusing the URL's credentials."""
    if sqlstate in ("28P01", "28000"):
        return True
    text = message.lower()
    return any(
        marker in text and (marker != "role " or "does not exist" in text)
        for marker in LOGIN_REFUSED
    )


def _credentials_hint(template: str, file: str) -> str:
    """Say where the user and password of the URL `template` (as written, `${VAR}` and all)
    come from, naming the variables and never their values."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(template)
    query = parse_qs(parts.query)
    user = parts.username or next(iter(query.get("user", [])), None)
    password = parts.password or next(iter(query.get("password", [])), None)

    def origin(value: str) -> str | None:
        names = REFERENCE.findall(value)
        return " and ".join(f"${{{n}}}" for n in names) if names else None

    if user is None:
        who = "it names no user (the driver then takes PGUSER or your login name)"
    else:
        who = f"the user comes from {origin(user)}" if origin(user) else f"the user is '{user}'"
    if password is None:
        secret = "it holds no password (the driver then takes PGPASSWORD or ~/.pgpass)"
    elif origin(password):
        secret = f"the password comes from {origin(password)}"
    else:
        secret = "the password is written in the URL itself (better: a ${VARIABLE})"
    return (
        f"check the credentials of 'url' in {file}: {who}, {secret}; correct the value "
        f"(it is never shown) and load again; see {SOURCES_DOCS}"
    )


def _pg_error(request: ExtractRequest, exc: psycopg.Error, url: str) -> SourceError:
    spec = request.spec
    message = redact(first_line(exc))
    text = message.lower()
    if _refused_login(exc.sqlstate, message):
        from urllib.parse import urlsplit

        reason = message.rpartition("FATAL:")[2].strip() or message
        user = redact(urlsplit(url).username or "(the driver's default)")
        return SourceError(
            f"source {spec.source_name}, table {spec.table.table or spec.name}: PostgreSQL "
            f"refused the login of user {user}: {reason}",
            Location(file=_source_file(request), line=_url_line(request), asset=_key(spec)),
            _credentials_hint(spec.source.url or "", _source_file(request)),
        )
    if exc.sqlstate == "42P01" or "does not exist" in text:
        hint = "check 'table:' (schema.table) and that the user may read it"
    else:
        hint = "check the server is up and 'url' points at it"
    cls = _TransientSourceError if _pg_is_transient(exc) else SourceError
    return cls(
        f"source {spec.source_name}, table {spec.table.table or spec.name}: {message}",
        Location(file=_source_file(request), asset=_key(spec)),
        f"{hint}; see {SOURCES_DOCS}",
    )


def _sqlalchemy_error(request: ExtractRequest, exc: Exception, url: str) -> SourceError:
    from sqlalchemy.exc import DisconnectionError, OperationalError, TimeoutError

    spec = request.spec
    message = redact(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
    text = message.lower()
    refused = _refused_login(getattr(getattr(exc, "orig", None), "sqlstate", None), message)
    permanent = "no such table" in text or refused
    transient = isinstance(exc, OperationalError | DisconnectionError | TimeoutError)
    cls = _TransientSourceError if transient and not permanent else SourceError
    return cls(
        f"source {spec.source_name}, table {spec.table.table or spec.name}: {message}",
        Location(
            file=_source_file(request),
            line=_url_line(request) if refused else None,
            asset=_key(spec),
        ),
        _credentials_hint(spec.source.url or "", _source_file(request))
        if refused
        else f"check 'url' and 'table:' of the source; see {SOURCES_DOCS}",
    )
