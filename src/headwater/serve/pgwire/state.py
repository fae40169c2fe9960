"""What a PostgreSQL session keeps between statements (settings, transaction status,
cursors) and what a statement answers (`Outcome`), shared by the session, its commands and
the protocol handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

IDLE, IN_TRANSACTION, FAILED = "I", "T", "E"
SERVER_VERSION = "15.0"
"""What clients parse (psycopg, JDBC, SQLAlchemy read the leading numbers); version() names
Headwater."""

DEFAULTS = {
    "application_name": "",
    "client_encoding": "UTF8",
    "server_encoding": "UTF8",
    "datestyle": "ISO, MDY",
    "timezone": "UTC",
    "intervalstyle": "postgres",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "server_version": SERVER_VERSION,
    "server_version_num": "150000",
    "search_path": '"$user", public',
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "transaction_read_only": "on",
    "default_transaction_read_only": "on",
    "max_identifier_length": "63",
    "extra_float_digits": "1",
    "is_superuser": "off",
    "in_hot_standby": "off",
    "statement_timeout": "0",
    "lc_collate": "C",
    "lc_ctype": "C",
    "lc_messages": "C",
    "lc_monetary": "C",
    "lc_numeric": "C",
    "lc_time": "C",
    "bytea_output": "hex",
    "block_size": "8192",
}
"""Every setting SHOW answers, by lower-case name, and its value before any SET."""

NAMES = {
    "datestyle": "DateStyle",
    "timezone": "TimeZone",
    "intervalstyle": "IntervalStyle",
}
"""PostgreSQL's spelling of the settings whose names are not lower case."""

REPORTED = {
    "application_name",
    "client_encoding",
    "datestyle",
    "timezone",
    "intervalstyle",
    "integer_datetimes",
    "standard_conforming_strings",
    "server_version",
    "server_encoding",
    "is_superuser",
    "default_transaction_read_only",
    "in_hot_standby",
}
"""Settings a client is told of (ParameterStatus) at startup and whenever they change."""


@dataclass
class Notice:
    """A NoticeResponse to send before the command completes."""

    message: str
    severity: str = "WARNING"
    sqlstate: str = "01000"


@dataclass
class Outcome:
    """What one statement answered."""

    tag: str
    """The CommandComplete tag (`SELECT 3`, `SET`, `BEGIN`)."""
    table: pa.Table | None = None
    """Its rows; None for a command that returns none."""
    notices: list[Notice] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    """Settings to report to the client (ParameterStatus) after it."""
    empty: bool = False
    """An empty query (EmptyQueryResponse)."""
    sent: int = 0
    """Rows of `table` already sent (a portal executed in pieces)."""


class CommandError(UsageError):
    """A session command the session cannot do; `sqlstate` says which PostgreSQL error."""

    def __init__(self, message: str, sqlstate: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.sqlstate = sqlstate


@dataclass
class Cursor:
    """A cursor a DECLARE made: its query's whole (capped) result and a position in it."""

    table: pa.Table
    hold: bool
    truncated: bool = False
    position: int = 0
    """Rows before the cursor: 0 is before the first row."""


@dataclass
class SessionState:
    """A session's settings, transaction status and cursors."""

    settings: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    defaults: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    """What RESET goes back to: the built-in values and those of the startup message."""
    transaction: str = IDLE
    cursors: dict[str, Cursor] = field(default_factory=dict)

    def reported(self) -> dict[str, str]:
        """The settings a client is told of at startup, by PostgreSQL's names."""
        return {NAMES.get(k, k): v for k, v in self.settings.items() if k in REPORTED}


def truncation_notice(rows: int) -> Notice:
    """The notice of a result cut at the server's row limit."""
    return Notice(
        f"the result was cut at {rows} rows (serve.limits.max_rows): it is not complete",
        "WARNING",
        "01000",
    )
