"""The PostgreSQL side of the CDC benchmark: the server, TPC-H `orders` loaded into it, the
change workload (a server-side procedure) and the checksum the mirror is compared with.

The workload's changes are exact and reproducible: each transaction updates `u` rows,
inserts `i` and deletes `d`, and changes of each kind are numbered over the whole session
(throughput and latency phases alike). The rows they touch come from `bench_keys` (original
order keys numbered 0..N-1 in key order): update number n hits key number
`(n * stride) % live` (a permutation of the first `live` keys, so no row is updated twice
and an update always finds its row), delete number n takes key number `live + n` (never
updated), insert number n writes key 6,000,001 + n, above the largest TPC-H key. Each
transaction is committed by the procedure (`COMMIT` inside `CALL`), so the generation costs
no client round trip per transaction.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

DATABASE = "bench"
NEW_KEYS_FROM = 6_000_001
"""Inserted orders get keys from here (TPC-H SF1's largest order key is 6,000,000)."""

ORDERS_DDL = """
CREATE TABLE orders (
    o_orderkey      bigint PRIMARY KEY,
    o_custkey       bigint NOT NULL,
    o_orderstatus   char(1) NOT NULL,
    o_totalprice    numeric(15, 2) NOT NULL,
    o_orderdate     date NOT NULL,
    o_orderpriority varchar(15) NOT NULL,
    o_clerk         varchar(15) NOT NULL,
    o_shippriority  integer NOT NULL,
    o_comment       varchar(79) NOT NULL
)
"""
COLUMNS = (
    "o_orderkey",
    "o_custkey",
    "o_orderstatus",
    "o_totalprice",
    "o_orderdate",
    "o_orderpriority",
    "o_clerk",
    "o_shippriority",
    "o_comment",
)

SETTINGS = {
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}
"""Set after start (reloadable): no checkpoint in the middle of a phase."""

WORKLOAD_SQL = """
CREATE OR REPLACE PROCEDURE bench_changes(
    first_txn int, txns int, n_upd int, n_ins int, n_del int,
    upd0 bigint, ins0 bigint, del0 bigint, live int, stride bigint, marker boolean
) LANGUAGE plpgsql AS $$
DECLARE
    t int;
    i bigint;
    note text;
BEGIN
    FOR t IN first_txn .. first_txn + txns - 1 LOOP
        i := t - first_txn;
        IF marker THEN
            -- the transaction's number and the wall time (µs since the epoch) just before
            -- it commits: read back from the mirror to time its visibility
            note := 'lat ' || t || ' '
                || (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
        ELSE
            note := 'cdc ' || t;
        END IF;
        UPDATE orders SET
            o_comment = note || ' ' || md5(o_orderkey::text),
            o_orderstatus = CASE o_orderstatus WHEN 'F' THEN 'O' ELSE 'F' END
        WHERE o_orderkey = ANY(ARRAY(
            SELECT k FROM bench_keys WHERE n = ANY(ARRAY(
                SELECT ((upd0 + i * n_upd + j) * stride) % live
                FROM generate_series(0, n_upd - 1) j))));
        INSERT INTO orders
        SELECT id, 1 + id % 149999, 'O', 900 + (id % 100000) / 100.0,
               date '1998-08-02' + (id % 7)::int, '3-MEDIUM',
               'Clerk#' || lpad((1 + id % 1000)::text, 9, '0'), 0, note
        FROM (SELECT %(new_keys)s + ins0 + i * n_ins + j AS id
              FROM generate_series(0, n_ins - 1) j) s;
        DELETE FROM orders WHERE o_orderkey = ANY(ARRAY(
            SELECT k FROM bench_keys
            WHERE n >= live + del0 + i * n_del AND n < live + del0 + (i + 1) * n_del));
        COMMIT;
    END LOOP;
END $$
"""

CHECKSUM_SQL = """
SELECT count(*)::bigint, coalesce(sum(('x' || substr(md5(concat_ws('|', {columns})), 1, 15))
    ::bit(60)::bigint), 0)::text
FROM orders
"""
"""Row count and a sum of per-row hashes over every column's text, computed the same way by
DuckDB over the mirror (`mirror_checksum`)."""


@dataclass(frozen=True)
class Mix:
    """How many rows one transaction updates, inserts and deletes."""

    updates: int
    inserts: int
    deletes: int

    @staticmethod
    def of(size: int) -> Mix:
        """60 % updates, 30 % inserts, 10 % deletes of a `size`-change transaction."""
        updates, inserts = round(size * 0.6), round(size * 0.3)
        return Mix(updates, inserts, size - updates - inserts)

    @property
    def size(self) -> int:
        """Changes per transaction."""
        return self.updates + self.inserts + self.deletes


@dataclass
class Plan:
    """The key space of the whole session: how many original rows stay updatable."""

    rows: int
    """Original rows (1,500,000 at SF1)."""
    live: int
    """Original rows numbered below this are updated; those above are deleted in order."""
    stride: int
    """Coprime with `live`: update number n hits key number (n * stride) % live."""
    next_txn: int = 0
    """The number of the next transaction (its stamp in the latency phase)."""
    updates: int = 0
    inserts: int = 0
    deletes: int = 0
    """Changes of each kind made so far: the next ones take the keys after them."""

    @staticmethod
    def of(rows: int, max_deletes: int, max_updates: int) -> Plan:
        """A plan leaving room for `max_deletes` deletes and `max_updates` updates."""
        live = rows - max_deletes
        if live < max_updates:
            raise SystemExit(
                f"{max_updates:,} updates and {max_deletes:,} deletes do not fit in "
                f"{rows:,} rows: ask for fewer changes"
            )
        stride = next(s for s in range(7919, live) if math.gcd(s, live) == 1)
        return Plan(rows, live, stride)


class Database:
    """The benchmark's PostgreSQL server and its `bench` database."""

    def __init__(self) -> None:
        self.server: PostgresServer = start_postgres(logical=True)
        import psycopg

        with psycopg.connect(self.server.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
            for name, value in SETTINGS.items():
                connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            connection.execute("SELECT pg_reload_conf()")

    @property
    def dsn(self) -> str:
        """libpq connection string of the `bench` database."""
        return self.server.dsn(DATABASE)

    @property
    def url(self) -> str:
        """The URL a Headwater source names."""
        return f"postgresql://postgres@127.0.0.1:{self.server.port}/{DATABASE}"

    def connect(self) -> Any:
        """A psycopg (3) connection in autocommit."""
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self.server.stop()
        import shutil

        shutil.rmtree(self.server.root, ignore_errors=True)

    def load_orders(self, parquet: Path, limit: int | None) -> int:
        """Create `orders` from TPC-H's Parquet file (its first `limit` rows), the key table
        and the workload procedure; return the row count. Untimed."""
        import duckdb

        csv = self.server.root / "orders.csv"
        top = f" ORDER BY o_orderkey LIMIT {int(limit)}" if limit else ""
        duckdb.sql(
            f"COPY (SELECT {', '.join(COLUMNS)} FROM read_parquet('{parquet}'){top}) "
            f"TO '{csv}' (FORMAT csv, HEADER false)"
        )
        csv.chmod(0o644)
        with self.connect() as connection:
            connection.execute(ORDERS_DDL)
            connection.execute(f"COPY orders FROM '{csv}' (FORMAT csv)")
            connection.execute(
                "CREATE TABLE bench_keys AS SELECT (row_number() OVER (ORDER BY o_orderkey) - 1)"
                "::int AS n, o_orderkey AS k FROM orders"
            )
            connection.execute("ALTER TABLE bench_keys ADD PRIMARY KEY (n)")
            connection.execute(WORKLOAD_SQL.replace("%(new_keys)s", str(NEW_KEYS_FROM)))
            connection.execute("VACUUM ANALYZE orders")
            connection.execute("VACUUM ANALYZE bench_keys")
            [(rows,)] = connection.execute("SELECT count(*) FROM orders").fetchall()
        csv.unlink()
        return int(rows)

    def changes(
        self, connection: Any, plan: Plan, mix: Mix, txns: int, marker: bool = False
    ) -> None:
        """Commit `txns` transactions of `mix` changes, taking the keys after those `plan`
        has used."""
        connection.execute(
            "CALL bench_changes(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                plan.next_txn,
                txns,
                mix.updates,
                mix.inserts,
                mix.deletes,
                plan.updates,
                plan.inserts,
                plan.deletes,
                plan.live,
                plan.stride,
                marker,
            ),
        )
        plan.next_txn += txns
        plan.updates += txns * mix.updates
        plan.inserts += txns * mix.inserts
        plan.deletes += txns * mix.deletes

    def current_lsn(self) -> str:
        """The server's current WAL position, as text (`0/16B3748`)."""
        with self.connect() as connection:
            [(lsn,)] = connection.execute("SELECT pg_current_wal_lsn()::text").fetchall()
        return str(lsn)

    def checksum(self) -> tuple[int, str]:
        """(rows, sum of row hashes) of `orders`."""
        with self.connect() as connection:
            sql = CHECKSUM_SQL.format(columns=", ".join(COLUMNS))
            [(rows, total)] = connection.execute(sql).fetchall()
        return int(rows), str(total)

    def create_floor_slot(self, slot: str) -> None:
        """The floor's publication and slot (pgoutput), made before the workload."""
        with self.connect() as connection:
            connection.execute(f"CREATE PUBLICATION {slot} FOR TABLE orders")
            connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))

    def drop_slot(self, slot: str) -> None:
        """Drop a slot (when it exists) so it stops holding WAL."""
        with self.connect() as connection:
            connection.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                (slot,),
            )

    def slot_lsn(self, slot: str) -> str | None:
        """The slot's confirmed position, as text."""
        with self.connect() as connection:
            row = connection.execute(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                (slot,),
            ).fetchone()
        return None if row is None else row[0]

    def wal_bytes(self, since: str) -> int:
        """WAL written since the position `since`."""
        with self.connect() as connection:
            [(size,)] = connection.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::bigint", (since,)
            ).fetchall()
        return int(size)


def mirror_checksum(table: Path) -> tuple[int, str]:
    """(rows, sum of row hashes) of the Delta mirror at `table`, as `CHECKSUM_SQL` computes
    them in PostgreSQL: DuckDB's text of each value matches PostgreSQL's for these types."""
    import duckdb
    from deltalake import DeltaTable

    dataset = DeltaTable(str(table)).to_pyarrow_dataset()  # noqa: F841 - scanned by DuckDB
    text = ", ".join(f"CAST({c} AS VARCHAR)" for c in COLUMNS)
    [(rows, total)] = duckdb.sql(
        f"SELECT count(*)::BIGINT, coalesce(sum(('0x' || substr(md5(concat_ws('|', {text})), "
        f"1, 15))::BIGINT), 0)::VARCHAR FROM dataset"
    ).fetchall()
    return int(rows), str(total)
