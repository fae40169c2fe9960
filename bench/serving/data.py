"""The data of the serving benchmark, made once and kept under `--data` (bench/.data/serving):

    warehouse/tpch/lineitem/    TPC-H SF1 lineitem as a Delta table (deltalake), the table
                                every HTTP system serves (Headwater's project uses this folder
                                as its warehouse)
    lineitem.sqlite             an indexed SQLite copy for datasette
    postgres/                   a PostgreSQL 15 cluster holding lineitem (COPY), for the
                                1M-row streaming comparison

Each is rebuilt only when it is missing (delete it to rebuild). The Parquet source comes from
bench/tpch_data.py (tpchgen-cli).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import tpch_data  # noqa: E402

NAMESPACE, TABLE = "tpch", "lineitem"
ROWS = 6_001_215
ROW_GROUP = 122_880
"""Rows per Parquet row group: DuckDB's default, so the table is laid out as Headwater's own
writes (DuckDB's Parquet writer) would lay it out."""
SQLITE_INDEXES = {
    "lineitem_orderkey": "(l_orderkey, l_linenumber)",
    "lineitem_shipmode_orderkey": "(l_shipmode, l_orderkey, l_linenumber)",
}
PG_DDL = """
CREATE TABLE lineitem (
    l_orderkey      bigint NOT NULL,
    l_partkey       bigint NOT NULL,
    l_suppkey       bigint NOT NULL,
    l_linenumber    integer NOT NULL,
    l_quantity      numeric(15, 2) NOT NULL,
    l_extendedprice numeric(15, 2) NOT NULL,
    l_discount      numeric(15, 2) NOT NULL,
    l_tax           numeric(15, 2) NOT NULL,
    l_returnflag    varchar NOT NULL,
    l_linestatus    varchar NOT NULL,
    l_shipdate      date NOT NULL,
    l_commitdate    date NOT NULL,
    l_receiptdate   date NOT NULL,
    l_shipinstruct  varchar NOT NULL,
    l_shipmode      varchar NOT NULL,
    l_comment       varchar NOT NULL
)
"""
"""The same column types as the Delta table (DuckDB's VARCHAR is PostgreSQL's varchar)."""


def delta_path(data: Path) -> Path:
    """The folder of the Delta table under the data folder."""
    return data / "warehouse" / NAMESPACE / TABLE


def parquet_source() -> Path:
    """tpchgen-cli's lineitem.parquet at SF1 (generated when missing)."""
    return tpch_data.generate(1) / "lineitem.parquet"


def delta_table(data: Path) -> Path:
    """Write lineitem as a Delta table with deltalake unless it is there; return its folder."""
    import deltalake
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = delta_path(data)
    if (target / "_delta_log").is_dir():
        return target
    source = pq.ParquetFile(parquet_source())
    # tpchgen writes string_view columns; Delta's `string` is Arrow's plain string.
    schema = pa.schema(
        [
            pa.field(f.name, pa.string(), nullable=False)
            if pa.types.is_string_view(f.type)
            else f.remove_metadata()
            for f in source.schema_arrow
        ]
    )
    batches = (batch.cast(schema) for batch in source.iter_batches(batch_size=ROW_GROUP))
    started = time.perf_counter()
    partial = target.with_name(TABLE + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    deltalake.write_deltalake(
        str(partial),
        pa.RecordBatchReader.from_batches(schema, batches),
        writer_properties=deltalake.WriterProperties(
            max_row_group_size=ROW_GROUP, compression="SNAPPY"
        ),
    )
    partial.rename(target)
    print(f"wrote the Delta table in {time.perf_counter() - started:.1f} s: {target}")
    return target


def snapshot_files(table: Path) -> list[str]:
    """Absolute paths of the Parquet files of the Delta table's current version."""
    import deltalake

    return deltalake.DeltaTable(str(table)).file_uris()


def sqlite_copy(data: Path) -> Path:
    """An SQLite copy of lineitem with the benchmark's indexes (built once)."""
    import duckdb

    target = data / "lineitem.sqlite"
    if target.exists():
        return target
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    files = snapshot_files(delta_path(data))
    con = duckdb.connect()
    # SQLite has no DECIMAL or DATE: amounts are REAL, dates ISO text (datasette's usual copy).
    reader = con.sql(
        "select * replace (l_quantity::double as l_quantity, "
        "l_extendedprice::double as l_extendedprice, l_discount::double as l_discount, "
        "l_tax::double as l_tax, strftime(l_shipdate, '%Y-%m-%d') as l_shipdate, "
        "strftime(l_commitdate, '%Y-%m-%d') as l_commitdate, "
        "strftime(l_receiptdate, '%Y-%m-%d') as l_receiptdate) "
        f"from read_parquet({files!r}) order by l_orderkey, l_linenumber"
    ).to_arrow_reader(100_000)
    db = sqlite3.connect(partial)
    columns = reader.schema.names
    kinds = {
        "int64": "INTEGER",
        "int32": "INTEGER",
        "double": "REAL",
    }
    db.execute(
        f"create table {TABLE} ("
        + ", ".join(
            f"{c} {kinds.get(str(t), 'TEXT')}"
            for c, t in zip(columns, reader.schema.types, strict=True)
        )
        + ")"
    )
    insert = f"insert into {TABLE} values ({', '.join('?' * len(columns))})"
    for batch in reader:
        db.executemany(insert, zip(*(c.to_pylist() for c in batch.columns), strict=True))
    for name, columns_sql in SQLITE_INDEXES.items():
        db.execute(f"create index {name} on {TABLE} {columns_sql}")
    db.commit()
    db.execute("analyze")
    db.close()
    partial.rename(target)
    print(f"wrote the SQLite copy in {time.perf_counter() - started:.1f} s: {target}")
    return target


# ---------------------------------------------------------------- PostgreSQL


def _pg_binaries() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: run ./scripts/ensure_postgres.sh")
    return candidates[-1].parent


def _as_postgres(command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a server command, as the `postgres` user when we are root (it refuses root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done


class Postgres:
    """A PostgreSQL 15 cluster under the data folder holding lineitem, started on a free
    port (socket in the cluster's folder); `stop()` stops it and keeps its files."""

    def __init__(self, data: Path) -> None:
        self.root = data / "postgres"
        self.port = 0
        self.pid: int | None = None

    @property
    def cluster(self) -> Path:
        """The data directory."""
        return self.root / "data"

    def dsn(self) -> str:
        """A libpq connection string for the cluster's `postgres` database."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres sslmode=disable"

    def start(self) -> Postgres:
        """Create the cluster and load lineitem if needed, then start it."""
        import socket

        fresh = not (self.cluster / "PG_VERSION").exists()
        if fresh:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True)
            os.chmod(self.root, 0o755)
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres")
            _as_postgres(
                [
                    str(_pg_binaries() / "initdb"),
                    *("-D", str(self.cluster), "-U", "postgres", "-A", "trust"),
                    *("--no-sync", "-E", "UTF8"),
                ]
            )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c shared_buffers=1GB"
        )
        _as_postgres(
            [
                str(_pg_binaries() / "pg_ctl"),
                *("-D", str(self.cluster), "-o", options),
                *("-l", str(self.root / "server.log"), "-w", "start"),
            ]
        )
        self.pid = int((self.cluster / "postmaster.pid").read_text().split()[0])
        if fresh or not self._loaded():
            self._load(data_of(self.root))
        return self

    def _loaded(self) -> bool:
        import psycopg

        with psycopg.connect(self.dsn()) as conn:
            found = conn.execute("select to_regclass('public.lineitem') is not null").fetchone()
            if not found or not found[0]:
                return False
            row = conn.execute("select count(*) from lineitem").fetchone()
            return bool(row and row[0] == ROWS)

    def _load(self, data: Path) -> None:
        """COPY lineitem in, from CSV that DuckDB writes from the Delta table's files."""
        import duckdb
        import psycopg

        started = time.perf_counter()
        csv = self.root.parent / "lineitem.pg.csv"
        files = snapshot_files(delta_path(data))
        duckdb.connect().sql(
            f"copy (select * from read_parquet({files!r}) order by l_orderkey, l_linenumber) "
            f"to '{csv}' (format csv, header false)"
        )
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute("drop table if exists lineitem")
            conn.execute(PG_DDL)
            with (
                conn.cursor() as cur,
                open(csv, "rb") as handle,
                cur.copy("COPY lineitem FROM STDIN (FORMAT csv)") as copy,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            conn.execute("vacuum analyze lineitem")
        csv.unlink()
        print(f"loaded lineitem into PostgreSQL in {time.perf_counter() - started:.1f} s")

    def stop(self) -> None:
        """Stop the server (fast shutdown); its files stay for the next run."""
        _as_postgres(
            [str(_pg_binaries() / "pg_ctl"), "-D", str(self.cluster), "-m", "fast", "stop"],
            check=False,
        )


def data_of(pg_root: Path) -> Path:
    """The data folder a cluster folder belongs to."""
    return pg_root.parent
