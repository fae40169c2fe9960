"""What a database failure means for a load: worth retrying or not, and what to tell the user.

A refused login, an unknown table or a syntax error fails at once with a hint naming the key to
fix (and where the URL's credentials come from, never their values); a connection that drops or
a server that is starting up raises `TransientSourceError`, which the retry loop tries again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.build.secrets import REFERENCE, redact
from headwater.errors import SOURCES_DOCS, Location, SourceError, first_line
from headwater.ingest.base import ExtractRequest
from headwater.project.sources import SourceConfig

if TYPE_CHECKING:
    import psycopg

PERMANENT_SQLSTATES = ("28", "42", "3D", "3F", "0A")
"""Auth failures, unknown tables/columns/syntax, unknown database/schema, unsupported: no retry."""
LOGIN_REFUSED = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "access denied",
    "role ",
)
"""Driver messages of a refused login (PostgreSQL, MySQL): the credentials are wrong."""


class TransientSourceError(SourceError):
    """A source failure worth retrying (kept apart so the retry loop can tell)."""


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a database failure worth retrying."""
    return isinstance(exc, TransientSourceError)


def pg_is_transient(exc: psycopg.Error) -> bool:
    """Whether a PostgreSQL failure may pass if tried again (a dropped connection, a server
    starting up or out of resources), as opposed to a refused login or an unknown table."""
    import psycopg

    state = exc.sqlstate or ""
    if state.startswith(PERMANENT_SQLSTATES):
        return False
    text = str(exc).lower()
    if "authentication" in text or "password" in text or "does not exist" in text:
        return False
    return isinstance(exc, psycopg.OperationalError) or state.startswith(("08", "53", "57"))


def refused_login(sqlstate: str | None, message: str) -> bool:
    """Whether a failure is the server refusing the URL's credentials."""
    if sqlstate in ("28P01", "28000"):
        return True
    text = message.lower()
    return any(
        marker in text and (marker != "role " or "does not exist" in text)
        for marker in LOGIN_REFUSED
    )


def credentials_hint(template: str, file: str) -> str:
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


def pg_error(request: ExtractRequest, exc: psycopg.Error, url: str) -> SourceError:
    """The error reading `request`'s table from PostgreSQL at `url` failed with: transient
    (`TransientSourceError`) or not, its message redacted."""
    spec = request.spec
    message = redact(first_line(exc))
    text = message.lower()
    if refused_login(exc.sqlstate, message):
        from urllib.parse import urlsplit

        reason = message.rpartition("FATAL:")[2].strip() or message
        user = redact(urlsplit(url).username or "(the driver's default)")
        return SourceError(
            f"source {spec.source_name}, table {spec.table.table or spec.name}: PostgreSQL "
            f"refused the login of user {user}: {reason}",
            request.location(("url",)),
            credentials_hint(spec.source.url or "", request.source_file),
        )
    if exc.sqlstate == "42P01" or "does not exist" in text:
        hint = "check 'table:' (schema.table) and that the user may read it"
    else:
        hint = "check the server is up and 'url' points at it"
    cls = TransientSourceError if pg_is_transient(exc) else SourceError
    return cls(
        f"source {spec.source_name}, table {spec.table.table or spec.name}: {message}",
        request.location(),
        f"{hint}; see {SOURCES_DOCS}",
    )


def sqlalchemy_error(request: ExtractRequest, exc: Exception) -> SourceError:
    """The error reading `request`'s table through SQLAlchemy failed with: transient
    (`TransientSourceError`) or not, its message redacted."""
    from sqlalchemy.exc import DisconnectionError, OperationalError, TimeoutError

    spec = request.spec
    message = redact(first_line(getattr(exc, "orig", None) or exc))
    text = message.lower()
    refused = refused_login(getattr(getattr(exc, "orig", None), "sqlstate", None), message)
    permanent = "no such table" in text or refused
    transient = isinstance(exc, OperationalError | DisconnectionError | TimeoutError)
    cls = TransientSourceError if transient and not permanent else SourceError
    return cls(
        f"source {spec.source_name}, table {spec.table.table or spec.name}: {message}",
        request.location(("url",) if refused else ()),
        credentials_hint(spec.source.url or "", request.source_file)
        if refused
        else f"check 'url' and 'table:' of the source; see {SOURCES_DOCS}",
    )


def listing_error(name: str, source: SourceConfig, exc: Exception, transient: bool) -> SourceError:
    """The error listing the tables of sql source `name` failed with: transient
    (`TransientSourceError`) or not, its message redacted."""
    file = source_file(name, source)
    message = redact(first_line(getattr(exc, "orig", None) or exc))
    refused = refused_login(getattr(getattr(exc, "orig", None) or exc, "sqlstate", None), message)
    cls = TransientSourceError if transient and not refused else SourceError
    return cls(
        f"cannot list the tables of source {name}: {message}",
        Location(file=file),
        credentials_hint(source.url or "", file)
        if refused
        else "check 'url' and 'schema' of the source (and that the server is up), or list the "
        f"tables under 'tables:' instead of 'include:'; see {SOURCES_DOCS}",
    )


def source_file(name: str, source: SourceConfig) -> str:
    """The file declaring source `name`, relative to the project, for errors."""
    return source.rel_path or f"sources/{name}.yml"
