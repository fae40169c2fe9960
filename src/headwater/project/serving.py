"""Typed configuration of `headwater serve`: the `serve:` block of `headwater.yml`.

Roles live here, in the project, so that who may read what is reviewed like any other change;
users and their credentials live in the catalog (`headwater users`), never in a file.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from headwater.project.strict import (
    Duration,
    Identifier,
    KeyValueError,
    StrictModel,
    duration_seconds,
)

ADMIN_ROLE = "admin"
"""The role that reads every table, the warehouse's undeclared ones (quarantines) included;
it exists whether or not `serve.roles` names it."""
EVERYTHING = "*"
"""The selector that grants every table of the warehouse."""


class RoleConfig(StrictModel):
    """What the members of one role may do."""

    read: list[str] = []
    """Selectors of the assets the role may read (`marts.*`, `tag:finance`, `orders+`, `*` for
    every table). Deny by default: a table no selector names does not exist for the role."""
    unmasked: list[str] = []
    """What the role reads raw of what masking hides: kinds of personal data (`email`),
    columns (`marts.customers.email`), or `*` for all. Everything else personal is masked
    (`governance.masking`)."""
    rows: dict[str, str] = {}
    """Row filters by table (`marts.orders: "region = 'EU'"`): of that table the role reads
    only the rows the SQL condition holds for. A user with several roles reads a row when
    any role reading the table does (a role that reads it without a filter reads every row)."""
    description: str | None = None

    @field_validator("unmasked")
    @classmethod
    def _unmasked_are_kinds_or_columns(cls, unmasked: list[str]) -> list[str]:
        from headwater.project.personal_data import PII_KINDS

        for entry in unmasked:
            if entry == EVERYTHING or entry in PII_KINDS or entry.count(".") == 2:
                continue
            from headwater.project.yamlfile import closest

            near = closest(entry, PII_KINDS)
            guess = f"did you mean '{near}'? " if near else ""
            raise KeyValueError(
                "unmasked",
                f"'{entry}' is not a kind of personal data, a column (namespace.table.column) "
                f"or *; {guess}kinds: {', '.join(PII_KINDS)}",
            )
        return unmasked

    @field_validator("rows")
    @classmethod
    def _rows_are_conditions(cls, rows: dict[str, str]) -> dict[str, str]:
        from headwater.project.masking import expression_problem

        for table, condition in rows.items():
            if table.count(".") != 1 or not all(table.split(".")):
                raise KeyValueError(
                    "rows", f"'{table}' is not a table named namespace.name (e.g. marts.orders)"
                )
            problem = expression_problem(condition)
            if problem:
                raise KeyValueError("rows", f"the row filter of {table}: {problem}")
        return rows


class ServeLimits(StrictModel):
    """Limits every query through the server obeys."""

    timeout: Duration = 30.0
    """Time limit of one query, in seconds (`30s`, `2m`); it is cancelled when it passes."""
    max_rows: int = Field(100_000, ge=1)
    """Rows one query returns at most; more are cut off and the answer says so."""
    max_concurrent: int = Field(8, ge=1, le=1024)
    """Queries that run at once; more wait for a turn (up to the time limit)."""
    page_size: int = Field(1000, ge=1)
    """Rows in a page of a table read when the request does not say."""

    @field_validator("timeout")
    @classmethod
    def _timeout_in_seconds(cls, value: float | str) -> float:
        # the servers use it as a number of seconds; `30s` is read once, here
        return duration_seconds(value)


class ServedTable(StrictModel):
    """How the server serves one table."""

    keys: list[str] = []
    """The columns lookups and pages use (the table's primary key by default): the serving cache
    is sorted and indexed on them, and a page's order ends with them so it is stable."""
    cache: bool = False
    """Keep the current version in memory (an in-memory DuckDB copy, sorted and indexed on
    `keys`), reloaded in the background when a new version is published."""
    max_staleness: Duration = 5.0
    """The cache never answers from a version older than this many seconds behind the
    table's latest: past it, reads go to the Delta table until the cache has reloaded."""


class ServeConfig(StrictModel):
    """`headwater serve`: the HTTP API, the web UI and the PostgreSQL protocol."""

    host: str = "127.0.0.1"
    """Address both ports listen on."""
    port: int = Field(8080, ge=0, le=65535)
    """Port of the HTTP API and the web UI."""
    pg_port: int | None = Field(5433, ge=0, le=65535)
    """Port of the PostgreSQL protocol; null switches it off."""
    auth: bool = True
    """Every request needs a user's token or password (deny by default). `false` serves every
    table to anyone who can connect, and is refused on a non-loopback host."""
    roles: dict[Identifier, RoleConfig] = {}
    """Roles by name; users are given roles with `headwater users add NAME --role ROLE`."""
    limits: ServeLimits = ServeLimits.model_validate({})
    tables: dict[str, ServedTable] = {}
    """Per-table serving settings, by asset name (`tpch.lineitem`)."""

    @field_validator("roles")
    @classmethod
    def _roles_have_selectors(cls, roles: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        for name, role in roles.items():
            for selector in role.read:
                if not selector.strip():
                    raise KeyValueError("read", f"role {name} has an empty selector")
        return roles

    @model_validator(mode="after")
    def _ports_differ(self) -> ServeConfig:
        if self.pg_port is not None and self.pg_port == self.port and self.port != 0:
            raise KeyValueError(
                "pg_port", f"the PostgreSQL port and the HTTP port are both {self.port}"
            )
        return self
