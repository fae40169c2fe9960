"""The floor of the exports benchmark: a CSV of the rows loaded into PostgreSQL with `COPY`
into a staging table, then one `INSERT ... ON CONFLICT (key) DO UPDATE`, in one transaction
of one process.

Times from opening the connection to the commit, and prints one JSON line:
`{"seconds": ..., "copy_s": ..., "apply_s": ..., "rows": ...}`.

Usage: python bench/exports/floor.py DSN TABLE KEY CSV
"""

from __future__ import annotations

import json
import sys
import time

import psycopg
from psycopg import sql

CHUNK = 1 << 20
"""Bytes of the CSV read and sent at a time."""


def load(dsn: str, table: str, key: str, path: str) -> dict[str, float | int]:
    """Upsert the rows of the CSV at `path` into `table` on `key`; return the timings."""
    started = time.perf_counter()
    target = sql.Identifier(*table.split("."))
    with psycopg.connect(dsn) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            ).fetchall()
        ]
        with conn.transaction():
            conn.execute(sql.SQL("CREATE TEMP TABLE stage (LIKE {}) ON COMMIT DROP").format(target))
            copy_sql = "COPY stage FROM STDIN (FORMAT csv)"
            with conn.cursor().copy(copy_sql) as copy, open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    copy.write(chunk)
            copied = time.perf_counter()
            others = [c for c in columns if c != key]
            statement = sql.SQL(
                "INSERT INTO {table} SELECT * FROM stage ON CONFLICT ({key}) DO UPDATE SET {set}"
            ).format(
                table=target,
                key=sql.Identifier(key),
                set=sql.SQL(", ").join(
                    sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in others
                ),
            )
            rows = conn.execute(statement).rowcount
    ended = time.perf_counter()
    return {
        "seconds": ended - started,
        "copy_s": copied - started,
        "apply_s": ended - copied,
        "rows": rows,
    }


def main() -> None:
    """Command line entry point."""
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    dsn, table, key, path = sys.argv[1:]
    print(json.dumps(load(dsn, table, key, path)))


if __name__ == "__main__":
    main()
