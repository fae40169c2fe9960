"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, listen on 127.0.0.1.

The server refuses to run as root, so as root the data folder is handed to the `postgres` user
and every server command runs through `runuser`. `scripts/ensure_postgres.sh` installs Debian's
`postgresql` on a machine without it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def _binaries() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: run ./scripts/ensure_postgres.sh")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `url(db)` gives a SQLAlchemy URL, `dsn(db)` a libpq one."""

    root: Path
    port: int
    user: str = "postgres"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for `database`."""
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for `database`."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a fresh, empty database and return its name."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        """Stop the server immediately and remove its files."""
        _as_postgres(
            [str(_binaries() / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"],
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _as_postgres(command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result


def start_postgres(*, logical: bool = False) -> PostgresServer:
    """Create a cluster in a new temporary folder and start it; `logical` turns on logical
    replication. The folder is outside pytest's (root-only) temporary tree so that the
    `postgres` user can reach it; `stop()` removes it."""
    root = Path(tempfile.mkdtemp(prefix="headwater-pg-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    binaries = _binaries()
    _as_postgres(
        [
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]
    )
    port = _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    if logical:
        options += " -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10"
    result = _as_postgres(
        [
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "start",
        ],
        check=False,
    )
    if result.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {result.stderr}\n{log}")
    return PostgresServer(root, port)
