"""A throwaway Redis server for tests: `redis-server` on 127.0.0.1, a free port, no persistence.

`scripts/ensure_redis.sh` installs Debian's `redis-server` on a machine without it; a missing
binary fails the tests that need it with that hint (they are never skipped).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

READY_DEADLINE_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RedisServer:
    """A running `redis-server`; `url` is its `redis://` URL (database 0)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    password: str | None = None

    @property
    def url(self) -> str:
        """The server's URL (with the password when it has one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        """A `redis.Redis` client of the server."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password)

    def stop(self) -> None:
        """Stop the server (SIGKILL: its data is in memory only), wait for it and remove
        its folder."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self) -> None:
        """Start the server again on the same port (empty: nothing is persisted)."""
        self.stop()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = _spawn(self.port, self.folder, self.password)
        _wait_ready(self)


def _spawn(port: int, folder: Path, password: str | None) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run ./scripts/ensure_redis.sh")
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(folder),
    ]  # fmt: skip
    if password:
        command += ["--requirepass", password]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(server: RedisServer) -> None:
    """Return once the server answers PING; stop it and raise if it never does."""
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1) as sock:
                if server.password:
                    sock.sendall(f"AUTH {server.password}\r\n".encode())
                    sock.recv(64)
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    exited = server.process.poll() is not None
    error = server.process.stderr.read().decode() if exited and server.process.stderr else ""
    server.stop()
    raise RuntimeError(f"redis-server on port {server.port} did not answer PING: {error}")


def start_redis(password: str | None = None) -> RedisServer:
    """Start `redis-server` on a free port in a new temporary folder; wait until it answers."""
    for attempt in range(3):  # another process may take the free port before Redis binds it
        folder = Path(tempfile.mkdtemp(prefix="headwater-redis-"))
        port = _free_port()
        server = RedisServer(port, folder, _spawn(port, folder, password), password)
        try:
            _wait_ready(server)
            return server
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real, empty Redis server on 127.0.0.1 for one test, stopped afterwards."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()
