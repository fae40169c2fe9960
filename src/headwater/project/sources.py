"""Typed configuration of sources: `sources/*.yml`, one source per file, one asset per table.

A source is where data is born: files on disk, a SQL database or a REST API. Each of its tables
becomes an asset `<source>.<table>` that models read like any other table. Secrets are written as
`${ENV_VAR}` and resolved only when the source connects (see `ingest/secrets.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from headwater.project.checks import Check, normalize_checks
from headwater.project.personal_data import SourceColumn, SourceColumnEntry
from headwater.project.retention import RetentionConfig
from headwater.project.streams import EventSourceConfig
from headwater.project.strict import (
    Duration,
    FreshnessSla,
    Identifier,
    KeyValueError,
    StrictModel,
    duration_seconds,
)

LoadMode = Literal["replace", "append", "incremental", "merge", "cdc"]
ContractMode = Literal["evolve", "freeze", "discard_row", "discard_column"]
FileFormat = Literal["csv", "tsv", "json", "ndjson", "parquet"]


CHANGELOG_SUFFIX = "__changes"
"""A cdc table's change log is the table `<table>__changes` beside its mirror."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


INTEGER_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
)
"""DuckDB's integer types, by their canonical names."""
COLUMN_TYPES = (
    "BOOLEAN",
    *INTEGER_TYPES,
    "FLOAT",
    "DOUBLE",
    "DECIMAL(p, s)",
    "VARCHAR",
    "BLOB",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMPTZ",
    "INTERVAL",
    "UUID",
    "JSON",
)
"""The column types `columns:` usually declares (each also as a list, `BIGINT[]`)."""
_TYPE_NAMES = frozenset(
    {
        "bigint",
        "bignum",
        "binary",
        "bit",
        "bitstring",
        "blob",
        "bool",
        "boolean",
        "bpchar",
        "bytea",
        "char",
        "character",
        "date",
        "datetime",
        "dec",
        "decimal",
        "double",
        "float",
        "float4",
        "float8",
        "guid",
        "hugeint",
        "int",
        "int1",
        "int128",
        "int16",
        "int2",
        "int32",
        "int4",
        "int64",
        "int8",
        "integer",
        "integral",
        "interval",
        "json",
        "logical",
        "long",
        "numeric",
        "nvarchar",
        "oid",
        "real",
        "short",
        "signed",
        "smallint",
        "string",
        "text",
        "time",
        "time_ns",
        "timestamp",
        "timestamp_ms",
        "timestamp_ns",
        "timestamp_s",
        "timestamp_us",
        "timestamptz",
        "timestamptz_ns",
        "timetz",
        "tinyint",
        "ubigint",
        "uhugeint",
        "uint128",
        "uint16",
        "uint32",
        "uint64",
        "uint8",
        "uinteger",
        "usmallint",
        "utinyint",
        "uuid",
        "varbinary",
        "varchar",
        "varint",
        "double precision",
        "timestamp with time zone",
        "timestamp without time zone",
        "time with time zone",
        "time without time zone",
        "character varying",
    }
)
"""DuckDB's scalar type names and aliases, lower case (`duckdb_types()`)."""
_NESTED_TYPES = ("struct", "map", "union", "enum", "list")
_TYPE_SHAPE = re.compile(
    r"^\s*(?P<name>[A-Za-z][A-Za-z0-9_]*(?:\s+[A-Za-z][A-Za-z0-9_]*)*?)\s*"
    r"(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?\s*(?:\[\s*\d*\s*\]\s*)*$"
)


def column_type_problem(value: str) -> str | None:
    """Why `value` is not a DuckDB column type (with the closest valid one), or None if it is.

    Types are checked when the project loads, so a typo is a config error at its YAML line
    rather than a failure at load time blamed on the data.
    """
    shape = _TYPE_SHAPE.match(value)
    name = shape.group("name").lower() if shape else value.strip().split("(")[0].lower()
    if shape and " ".join(name.split()) in _TYPE_NAMES:
        return None
    if name.strip() in _NESTED_TYPES and ";" not in value:
        from sqlglot import exp
        from sqlglot.errors import ParseError

        try:
            exp.DataType.build(value, dialect="duckdb")
            return None
        except (ParseError, ValueError):
            return f"'{value}' is not a valid {name.strip().upper()} type"
    import difflib

    close = difflib.get_close_matches(
        name.strip(), sorted(_TYPE_NAMES | set(_NESTED_TYPES)), n=1, cutoff=0.6
    )
    suggestion = f"did you mean '{close[0].upper()}'? " if close else ""
    return (
        f"'{value}' is not a DuckDB column type; {suggestion}valid types include "
        f"{', '.join(COLUMN_TYPES)} (a list: BIGINT[])"
    )


class RetryConfig(StrictModel):
    """How transient failures (connection errors, timeouts, HTTP 5xx/429) are retried."""

    attempts: int = Field(5, ge=1, le=100)
    """Tries in all, the first included."""
    backoff: float = Field(0.5, ge=0.0)
    """Seconds before the first retry; doubled each time, with random jitter."""
    max_delay: float = Field(30.0, ge=0.0)
    """Longest wait between two tries, in seconds."""


class CsvOptions(StrictModel):
    """How CSV and TSV files are read."""

    delimiter: str | None = None
    """Field separator (default `,` for csv, tab for tsv)."""
    header: bool = True
    """The first line names the columns."""
    quote: str = '"'
    """Quote character."""
    escape: str | None = None
    """Escape character inside quotes (default: the quote doubled)."""
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"
    """Text encoding of the files."""
    max_line_size: int = Field(2_000_000, ge=1024)
    """Longest line accepted, in bytes; longer lines are quarantined."""


class TableConfig(StrictModel):
    """One table of a source: what to read and how to load it."""

    description: str | None = None
    """Shown in docs and the catalog."""
    tags: list[str] = []
    """Free-form labels, usable in selectors (`tag:pii`)."""
    mode: LoadMode | None = None
    """`replace` (atomic overwrite), `append`, `incremental` (rows past the cursor), `merge`
    (upsert on `primary_key`) or `cdc` (a mirror kept by the database's change log: a
    PostgreSQL source's logical replication, or a debezium source's change events; see
    docs/cdc.md). Default: `append` for files, `replace` otherwise."""
    primary_key: list[str] = []
    """Columns identifying a row; required by `merge`, deduplicates `incremental`."""
    cursor: str | None = None
    """Column whose highest loaded value is remembered; `incremental` reads only past it."""
    lookback: int | float | str | None = None
    """Re-read this far behind the cursor (a number, or a duration like '2h' for timestamps)
    to catch late rows; needs `primary_key` so re-read rows replace themselves (and, for a
    REST table, `cursor_param`, which then sends the cursor minus the lookback)."""
    delete_column: str | None = None
    """Boolean column marking deleted rows (merge). With mode `cdc`: the column Headwater adds
    to the mirror and sets true when the row is deleted at the source (a soft delete);
    without it a deleted row leaves the mirror."""
    delete: Literal["hard", "soft"] = "soft"
    """`hard` removes rows whose `delete_column` is true; `soft` keeps them, flagged."""
    columns: dict[str, SourceColumnEntry] = {}
    """Declared columns: a DuckDB type name each (`id: BIGINT`), or `{type:, pii:,
    description:}` to say also which kind of personal data a column holds; the types of
    columns not declared are inferred on first load."""
    contract: ContractMode | None = None
    """Overrides the source's schema contract for this table."""
    changelog: bool = False
    """cdc: also keep `<table>__changes`, every change appended in commit order with its
    operation, LSN (or position) and commit time, for snapshots and audits."""
    on_truncate: Literal["fail", "apply", "ignore"] = "fail"
    """cdc: what a TRUNCATE of the source table does. `fail` (the guard): the load stops
    before it, applying nothing past it, until this says `apply` (empty the mirror) or
    `ignore` (keep the mirror's rows)."""
    checks: list[Check] = []
    """Checks of the loaded rows (column checks name their `column:`); see docs/quality.md."""
    timeout: Duration | None = None
    """Stop this table's load when it takes longer (overrides the source's `timeout`)."""
    freshness: FreshnessSla | None = None
    """How stale the table may get before the scheduler alerts (`{max_lag: 2h}`)."""
    retention: RetentionConfig | None = None
    """How long versions stay readable and when rows expire (`headwater maintain`)."""
    pool: Identifier | None = None
    """The pool whose slot this table's load takes (overrides the source's `pool`)."""
    nested: Literal["tables", "json"] = "tables"
    """JSON and REST: what a list inside a record becomes. `tables`: rows of a child table
    `<table>__<field>` linked to their record by `_hw_parent_id` = `_hw_id` (as dlt does);
    `json`: a column of JSON text."""
    # files
    path: str | None = None
    """Files: a path or glob, relative to the project."""
    format: FileFormat | None = None
    """Files: the format (default: from the extension)."""
    csv: CsvOptions = CsvOptions.model_validate({})
    """Files: CSV/TSV reading options."""
    on_change: Literal["reload", "ignore"] = "reload"
    """Files: what a changed file (new size or modification time) does: load again, or
    nothing."""
    # databases
    table: str | None = None
    """Databases: the table to read, `schema.table` (default: the table's name)."""
    select: list[str] = []
    """Databases: only these columns (default: all)."""
    where: str | None = None
    """Databases: a SQL filter applied at the source."""
    # REST APIs
    endpoint: str | None = None
    """REST: the path under the source's `base_url`."""
    params: dict[str, Any] = {}
    """REST: query parameters."""
    records: str | None = None
    """REST: JSON path of the record list in a response (e.g. `$.data`); default: the body."""
    paginate: Pagination | None = None
    """REST: how to get the next page."""
    cursor_param: str | None = None
    """REST: query parameter that sends the last cursor value (incremental)."""
    on_bad_page: Literal["fail", "quarantine"] = "fail"
    """REST: what a page does whose body still cannot be read after the retries (cut off, not
    JSON, no `records` list). `fail`: the table's load fails and nothing is committed.
    `quarantine`: the page is set aside in the quarantine table and the other pages load, but
    the cursor stays where it was (so the next load reads the skipped records again); not with
    `replace`, which would publish a partial table, and needs `primary_key` with a `cursor`."""

    _list = field_validator("primary_key", "select", mode="before")(_as_list)
    _checks = field_validator("checks", mode="before")(normalize_checks)

    @field_validator("columns", mode="after")
    @classmethod
    def _column_types(cls, columns: dict[str, SourceColumn]) -> dict[str, SourceColumn]:
        for column, declared in columns.items():
            problem = column_type_problem(declared.type) if declared.type else None
            if problem is not None:
                raise KeyValueError(column, problem)
        return columns

    @property
    def column_types(self) -> dict[str, str]:
        """The declared type of each column that has one."""
        return {name: c.type for name, c in self.columns.items() if c.type}

    @property
    def personal_data(self) -> dict[str, str]:
        """The kind of personal data of each column declared to hold some."""
        return {name: c.pii for name, c in self.columns.items() if c.pii}

    @field_validator("lookback", mode="after")
    @classmethod
    def _lookback(cls, value: int | float | str | None) -> int | float | str | None:
        if isinstance(value, str):
            duration_seconds(value)  # a typo is a config error, not a failure at load time
        elif isinstance(value, int | float) and value < 0:
            raise ValueError(f"lookback {value} is negative; it is how far back to re-read")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TableConfig:
        if self.mode == "merge" and not self.primary_key:
            raise ValueError("mode 'merge' needs 'primary_key'")
        if self.mode == "incremental" and not self.cursor:
            raise ValueError("mode 'incremental' needs 'cursor' (the column to resume from)")
        if self.lookback is not None and not self.primary_key:
            raise ValueError("'lookback' re-reads rows, so it needs 'primary_key' to dedupe them")
        if self.delete_column and not self.primary_key:
            raise ValueError("'delete_column' needs 'primary_key' (which rows to delete)")
        return self


def _check_cdc_table(name: str, table: TableConfig, kind: Any) -> None:
    """Refuse settings that mean nothing (or something else) for a `mode: cdc` table.

    Raises:
        KeyValueError: at the table's key.
    """
    cdc = table.mode == "cdc" or (kind == "debezium" and table.mode is None)
    if kind == "debezium" and not cdc:
        raise KeyValueError(name, "the tables of a debezium source are mirrors: use mode 'cdc'")
    if table.mode == "cdc" and kind not in ("sql", "debezium"):
        raise KeyValueError(
            name,
            "mode 'cdc' follows a database's change log: a sql (PostgreSQL) source or a "
            "debezium source",
        )
    if cdc:
        for setting in ("cursor", "lookback", "where"):
            if getattr(table, setting) is not None:
                raise KeyValueError(
                    name,
                    f"'{setting}' does not apply to mode 'cdc': the change log carries every "
                    "change, so there is no cursor to resume from and no filter to re-read",
                )
        if table.select:
            raise KeyValueError(
                name,
                "'select' does not apply to mode 'cdc': the mirror holds every column of the table",
            )
    elif table.changelog or table.on_truncate != "fail":
        setting = "changelog" if table.changelog else "on_truncate"
        raise KeyValueError(name, f"'{setting}' is a setting of mode 'cdc' tables")


class Pagination(StrictModel):
    """How a REST endpoint pages: `page_number`, `offset`, `cursor` or `link_header`."""

    type: Literal["page_number", "offset", "cursor", "link_header", "none"] = "none"
    """The scheme."""
    param: str | None = None
    """Query parameter carrying the page number, offset or cursor token."""
    start: int = 1
    """First page number (page_number) or offset (offset, usually 0)."""
    limit: int | None = None
    """Page size sent as `limit_param` (offset; optional for page_number)."""
    limit_param: str = "limit"
    """Query parameter carrying the page size."""
    next: str | None = None
    """cursor: JSON path of the next token in the body (e.g. `$.next_cursor`)."""
    max_pages: int = Field(100_000, ge=1)
    """Stop after this many pages (a guard against endless paging)."""


TableConfig.model_rebuild()


class AuthConfig(StrictModel):
    """How a REST source authenticates; values may be `${ENV_VAR}` references."""

    type: Literal["bearer", "basic", "api_key"]
    """The scheme."""
    token: str | None = None
    """bearer: the token."""
    username: str | None = None
    """basic: the user."""
    password: str | None = None
    """basic: the password."""
    name: str | None = None
    """api_key: header or query parameter name."""
    value: str | None = None
    """api_key: the key."""
    location: Literal["header", "query"] = "header"
    """api_key: sent as a header or a query parameter."""


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size_bytes(value: str | int) -> int:
    """Bytes in a size written as a number or with a unit (`512MB`, `1GB`, `2GiB`; units of
    1024).

    Raises:
        ValueError: `value` is not a size.
    """
    if isinstance(value, int):
        return value
    found = _SIZE.match(value)
    if found is None:
        raise ValueError(f"'{value}' is not a size; write bytes or e.g. 512MB, 2GB")
    return int(float(found.group(1)) * _SIZE_UNITS[found.group(2)[:1].lower()])


def _size(value: str | int) -> str | int:
    size_bytes(value)
    return value


class CdcConfig(StrictModel):
    """How a source's `mode: cdc` tables follow its change log (`cdc:` in the source file)."""

    slot: Identifier | None = None
    """PostgreSQL: the logical replication slot Headwater creates and owns (default
    `headwater_<source>`)."""
    publication: Identifier | None = None
    """PostgreSQL: the publication listing the source's cdc tables (default: the slot's
    name); created and kept in step with the tables by Headwater."""
    events: EventSourceConfig | None = None
    """debezium: where the change events arrive: a `kafka` topic (or topics) or a `folder`
    of NDJSON files, as a stream's `source` is written."""
    batch_changes: int = Field(150_000, ge=1)
    """The most changes one micro-batch applies (a bound on memory)."""
    trigger: Duration = "500ms"
    """The latency target while changes flow: a micro-batch is committed at least this
    often."""
    max_retained_wal: Annotated[str | int, AfterValidator(_size)] = "1GB"
    """PostgreSQL: alert (`slot_wal`) when the slot holds more WAL than this: a slot nobody
    reads keeps the database's WAL until its disk is full."""
    max_lag: Duration | None = None
    """Alert (`cdc_lag`) when the last applied commit is older than this while changes wait."""
    compact_every: int = Field(200, ge=0)
    """Compact each mirror's small files and write a Delta checkpoint every this many commits
    (0: never)."""


class SourceConfig(StrictModel):
    """A source file (`sources/<name>.yml`)."""

    kind: Literal["files", "sql", "rest", "debezium"]
    """`files` (CSV/TSV/JSON/NDJSON/Parquet), `sql` (any database by URL; PostgreSQL has a fast
    path and log-based `mode: cdc`), `rest` (JSON over HTTP) or `debezium` (Debezium change
    events from Kafka or files, applied as `mode: cdc` mirrors)."""
    name: Identifier | None = None
    """The source's name and its tables' namespace (default: the file name)."""
    description: str | None = None
    """Shown in docs and the catalog."""
    url: str | None = None
    """sql: SQLAlchemy URL, e.g. `postgresql://user:${PGPASSWORD}@host/db`."""
    schema_name: str | None = Field(None, alias="schema")
    """sql: default schema of the tables."""
    base_url: str | None = None
    """rest: the API's base URL."""
    headers: dict[str, str] = {}
    """rest: extra request headers (values may be `${ENV_VAR}`)."""
    auth: AuthConfig | None = None
    """rest: authentication."""
    requests_per_second: float | None = Field(None, gt=0)
    """rest: client-side rate limit."""
    request_timeout: float = Field(30.0, gt=0)
    """Seconds before a request or connection attempt counts as failed (transient)."""
    timeout: Duration | None = None
    """Stop loading a table that takes longer than this (`10m`, or seconds); each table may
    set its own."""
    pool: Identifier | None = None
    """The pool (`pools:` in headwater.yml) whose slots the loads of this source take, e.g. to
    load at most 2 tables from one database at once; each table may set its own."""
    retries: RetryConfig = RetryConfig.model_validate({})
    """Retries of transient failures."""
    contract: ContractMode = "evolve"
    """What a schema change does: `evolve` (add columns, widen types), `freeze` (fail),
    `discard_row` (quarantine rows using new columns) or `discard_column` (drop new columns)."""
    defaults: dict[str, Any] = {}
    """Settings applied to every table unless it sets its own (e.g. `mode: merge`); checked
    as part of each table."""
    tables: dict[Identifier, TableConfig | None] = {}
    """The tables, by asset name (an empty entry takes every default)."""
    include: list[str] = []
    """sql: load every table and view of `schema` whose name matches one of these patterns
    (`*`, `order_*`), besides those under `tables` (which set their own keys). The list is
    read from the database on first use and again by each `headwater ingest` and `run`."""
    exclude: list[str] = []
    """sql: patterns of table names `include` leaves out."""
    cdc: CdcConfig = CdcConfig.model_validate({})
    """Settings of the source's change data capture (`mode: cdc` tables)."""
    _rel_path: str | None = PrivateAttr(default=None)

    _lists = field_validator("include", "exclude", mode="before")(_as_list)

    @property
    def rel_path(self) -> str | None:
        """The file declaring the source, relative to the project root (`sources/shop.yaml`);
        None for a source not read from a project folder."""
        return self._rel_path

    def declared_in(self, rel_path: str) -> SourceConfig:
        """Return a copy of this source that knows `rel_path`, the file declaring it (set by
        the project loader, for errors that name the file)."""
        located = self.model_copy()
        located._rel_path = rel_path
        return located

    @field_validator("tables", mode="after")
    @classmethod
    def _rest_tables(
        cls, tables: dict[str, TableConfig | None], info: ValidationInfo
    ) -> dict[str, TableConfig | None]:
        kind = info.data.get("kind")
        for name, table in tables.items():
            if table is None:
                continue
            _check_cdc_table(name, table, kind)
            if table.on_bad_page == "quarantine":
                if kind != "rest":
                    raise KeyValueError(name, "'on_bad_page' is a setting of rest sources")
                if (table.mode or "replace") == "replace":
                    raise KeyValueError(
                        name,
                        "'on_bad_page: quarantine' cannot be used with mode 'replace': a replace "
                        "publishes the pages it read as the whole table, so a skipped page "
                        "would delete its rows; use mode 'merge' (or 'incremental') with "
                        "'primary_key', or keep on_bad_page: fail",
                    )
                if table.mode == "append" or not table.primary_key:
                    raise KeyValueError(
                        name,
                        "'on_bad_page: quarantine' needs 'primary_key' and mode 'merge' or "
                        "'incremental': the records of a skipped page are read again by the "
                        "next load, and only a merge on the key keeps them from landing twice",
                    )
            if kind == "rest" and table.lookback is not None and not table.cursor_param:
                raise KeyValueError(
                    name,
                    "'lookback' on a rest table needs 'cursor_param': the API is asked for "
                    "records past (cursor - lookback) through that query parameter",
                )
        return tables

    @model_validator(mode="after")
    def _needs(self) -> SourceConfig:
        if self.kind == "sql" and not self.url:
            raise ValueError("a sql source needs 'url'")
        if self.kind == "rest" and not self.base_url:
            raise ValueError("a rest source needs 'base_url'")
        if self.kind == "debezium" and self.cdc.events is None:
            raise ValueError(
                "a debezium source needs 'cdc: {events: ...}': the kafka topics or the folder "
                "its change events arrive in"
            )
        if self.cdc.events is not None and self.kind != "debezium":
            raise ValueError("'cdc.events' is a setting of debezium sources")
        if self.include and self.kind != "sql":
            raise ValueError("'include' lists the tables of a database: only a sql source has it")
        if not self.tables and not self.include:
            raise ValueError(
                "a source needs 'tables' (or, for a sql source, 'include' patterns such as '*')"
            )
        return self

    def includes(self, table: str) -> bool:
        """Whether a database table named `table` is loaded by the `include` patterns."""
        import fnmatch

        def matches(patterns: list[str]) -> bool:
            return any(fnmatch.fnmatchcase(table.lower(), p.lower()) for p in patterns)

        return matches(self.include) and not matches(self.exclude)


@dataclass(frozen=True)
class SourceTable:
    """One table of one source, with the source's defaults applied."""

    source_name: str
    source: SourceConfig
    name: str
    table: TableConfig

    @property
    def rel_path(self) -> str:
        """The file declaring the table's source, relative to the project root."""
        # a source made in code rather than read from a file is named as `sources/<name>.yml`
        return self.source.rel_path or f"sources/{self.source_name}.yml"

    @property
    def mode(self) -> LoadMode:
        """The load mode, defaulted by the kind of source."""
        if self.table.mode:
            return self.table.mode
        if self.source.kind == "debezium":
            return "cdc"
        return "append" if self.source.kind == "files" else "replace"

    @property
    def contract(self) -> ContractMode:
        """The schema contract of this table."""
        return self.table.contract or self.source.contract
