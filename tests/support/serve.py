"""A real `headwater serve` process for tests: started on free ports on 127.0.0.1 (port 0, the
bound ports read from what it prints), with users added through the real CLI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HEADWATER = [sys.executable, "-c", "from headwater.cli.main import entry; entry()"]
START_GUARD_S = 600.0
"""Only a guard against hanging forever, not a measurement."""


@dataclass
class RunningServer:
    """A `headwater serve` process and where it listens."""

    process: subprocess.Popen[str]
    root: Path
    url: str
    """The HTTP base URL, e.g. `http://127.0.0.1:41234`."""
    pg_host: str | None = None
    pg_port: int | None = None
    output: list[str] = field(default_factory=list)

    def pg_dsn(self, user: str, password: str, dbname: str = "headwater") -> str:
        """A libpq connection string for `user`."""
        return (
            f"host={self.pg_host} port={self.pg_port} user={user} password={password} "
            f"dbname={dbname} sslmode=disable"
        )


def headwater(root: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    """Run the `headwater` CLI in `root` and return its standard output (raises on failure)."""
    done = subprocess.run(
        [*HEADWATER, *args],
        cwd=root,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"headwater {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def add_user(root: Path, name: str, *roles: str, password: str | None = None) -> str:
    """Add a user through the CLI and return its API token."""
    args = ["users", "add", name, *[a for r in roles for a in ("--role", r)]]
    env = {}
    if password is not None:
        args.append("--password")
        env["HEADWATER_PASSWORD"] = password
    return headwater(root, *args, env=env).strip().splitlines()[-1]


@contextmanager
def running_server(
    root: Path, *args: str, pg: bool = True, env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """Run `headwater serve` for the project in `root` until the block ends (SIGTERM then)."""
    command = [*HEADWATER, "serve", "--port", "0", *args]
    command += ["--pg-port", "0"] if pg else ["--no-pg"]
    process = subprocess.Popen(
        command,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert process.stdout is not None
    server: RunningServer | None = None
    lines: list[str] = []
    deadline = time.monotonic() + START_GUARD_S
    try:
        url = None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"(http://[\d.]+:\d+)/", line)
            if found:
                url = found.group(1)
                if not pg:
                    break
            found_pg = re.search(r"psql -h (\S+) -p (\d+)", line)
            if found_pg and url:
                server = RunningServer(
                    process, root, url, found_pg.group(1), int(found_pg.group(2)), lines
                )
                break
        if server is None and url and not pg:
            server = RunningServer(process, root, url, output=lines)
        if server is None:
            process.kill()
            rest = process.stdout.read()
            raise AssertionError("headwater serve did not start:\n" + "".join(lines) + rest)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=START_GUARD_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
