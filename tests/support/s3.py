"""A local S3-compatible server for tests: moto's server (PyPI `moto[server]`) on 127.0.0.1.

`s3_server` starts one per test session (per xdist worker); `s3_bucket` gives each test a fresh
bucket and sets the environment variables through which Headwater (and delta-rs, pyarrow and
boto3) reach the server, the same variables a deployment sets for real S3. moto keeps every
object in memory: it is a real HTTP server speaking the S3 protocol, conditional puts included
(what delta-rs relies on for safe concurrent commits), not a mock inside the process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

READY_DEADLINE_S = 60.0
REGION = "us-east-1"
ACCESS_KEY = "headwater-test-key"
SECRET_KEY = "headwater-test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class S3Server:
    """A running moto server; `endpoint` is its URL."""

    port: int
    process: subprocess.Popen[bytes]
    buckets: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        """The server's HTTP endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The environment variables that point S3 clients at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self) -> Any:
        """A boto3 S3 client of the server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self) -> str:
        """Create a new, empty bucket and return its name."""
        name = f"hw-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in `bucket` under `prefix`, sorted."""
        client = self.client()
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def stop(self) -> None:
        """Stop the server (its objects are in memory only)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_s3_server() -> S3Server:
    """Start moto's S3 server on a free port of 127.0.0.1 and wait until it answers."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if binary is None:
        raise RuntimeError("moto_server is not installed: run ./scripts/setup.sh")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    server = S3Server(port, process)
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("moto_server did not start listening") from None
            time.sleep(0.1)
    return server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server on 127.0.0.1 for the whole session (one per xdist worker)."""
    server = start_s3_server()
    yield server
    server.stop()


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the test server, with the environment that reaches it."""

    server: S3Server
    name: str

    @property
    def warehouse(self) -> str:
        """A warehouse URI inside the bucket (`s3://<bucket>/warehouse`)."""
        return f"s3://{self.name}/warehouse"

    def environment(self) -> dict[str, str]:
        """The environment variables that reach the bucket (for subprocesses)."""
        return self.server.environment()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh bucket; the test's environment points S3 clients at the server."""
    for key, value in s3_server.environment().items():
        monkeypatch.setenv(key, value)
    return S3Bucket(s3_server, s3_server.create_bucket())
