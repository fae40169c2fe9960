"""Versioned schema migrations of the catalog database.

Each migration is a numbered function applied once, in order, inside a transaction; the applied
versions are kept in `hw_schema_version`. A new capability that needs a table adds a migration at
the end of `MIGRATIONS` and never edits an earlier one.

Checking the version is one query on the catalog's own connection; SQLAlchemy, which writes each
database's DDL, is imported only when a migration is actually pending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.catalog.database import CatalogDatabase

if TYPE_CHECKING:
    from sqlalchemy import Connection

SCHEMA_VERSION_TABLE = "hw_schema_version"


@dataclass(frozen=True)
class Migration:
    """One step of the catalog schema."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial(connection: Connection) -> None:
    from headwater.catalog import schema

    for table in (schema.runs, schema.asset_results, schema.asset_state):
        table.create(connection, checkfirst=True)


MIGRATIONS: list[Migration] = [
    Migration(1, "runs, per-asset results and asset state", _initial),
]


def current_version(database: CatalogDatabase) -> int:
    """Return the highest applied migration (0 for an empty database)."""
    if not database.has_table(SCHEMA_VERSION_TABLE):
        return 0
    with database.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT max(version) AS version FROM {SCHEMA_VERSION_TABLE}")
    return int(rows[0]["version"] or 0)


def migrate(database: CatalogDatabase) -> int:
    """Apply every pending migration and return the resulting version.

    Safe when several processes start at once: a migration another process applied first is
    detected and skipped.
    """
    applied = current_version(database)
    if applied >= MIGRATIONS[-1].version:
        return applied
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from headwater.catalog import schema

    with database.sqlalchemy_engine() as engine:
        schema.schema_version.create(engine, checkfirst=True)
        for migration in MIGRATIONS:
            if migration.version <= applied:
                continue
            try:
                with engine.begin() as connection:
                    done = connection.execute(
                        select(schema.schema_version.c.version).where(
                            schema.schema_version.c.version == migration.version
                        )
                    ).first()
                    if done is not None:
                        continue
                    migration.apply(connection)
                    connection.execute(
                        schema.schema_version.insert().values(
                            version=migration.version,
                            description=migration.description,
                            applied_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        )
                    )
            except (IntegrityError, OperationalError, ProgrammingError):
                if current_version(database) < migration.version:
                    raise
    return current_version(database)
