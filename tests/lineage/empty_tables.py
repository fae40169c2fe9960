"""An in-memory DuckDB holding empty tables of a lineage test's schemas, so that golden SQL can
be checked to be valid DuckDB and to name its columns as the lineage does."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb


def empty_tables(schemas: Mapping[str, Mapping[str, str]]) -> duckdb.DuckDBPyConnection:
    """Return a connection with an empty table `namespace.name` for each of `schemas`
    (`namespace.name` -> column -> DuckDB type)."""
    connection = duckdb.connect()
    for asset, columns in schemas.items():
        namespace, name = asset.split(".")
        connection.execute(f'create schema if not exists "{namespace}"')
        spec = ", ".join(f'"{column}" {kind}' for column, kind in columns.items())
        connection.execute(f'create table "{namespace}"."{name}" ({spec})')
    return connection
