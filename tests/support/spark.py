"""One local Spark for the whole test session (per xdist worker): starting one takes 8-10 s.

`spark_session` starts Spark in local mode (`local[2]`) with the Spark engine's own settings.
While it runs, every Spark engine a test builds (through a project's `engine: spark`, or
`SparkEngine.from_config`) joins it with a session of its own instead of starting Spark again,
and leaves it running when the engine closes. Tests that need Spark ask for this fixture (or for
`spark_engine`, an engine on it for unit tests).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from headwater.engine.spark import SparkEngine

CONNECT_READY_DEADLINE_S = 180.0


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """The test session's local Spark (`local[2]`), stopped at the end."""
    from headwater.engine.registry import EnginePlace
    from headwater.engine.spark_start import start_spark
    from headwater.project.config import EngineConfig

    root = tmp_path_factory.mktemp("spark")
    started = start_spark(
        EngineConfig.model_validate({"type": "spark", "threads": 2}),
        EnginePlace(root, root / "tmp"),
    )
    yield started.spark
    started.spark.stop()


@pytest.fixture
def spark_engine(spark_session: SparkSession, tmp_path: Path) -> Iterator[SparkEngine]:
    """A Spark engine on the session's Spark for a project folder `tmp_path`, closed after."""
    from headwater.engine.registry import EnginePlace
    from headwater.engine.spark import SparkEngine
    from headwater.project.config import EngineConfig

    engine = SparkEngine.from_config(
        EngineConfig.model_validate({"type": "spark"}), EnginePlace(tmp_path, tmp_path / "tmp")
    )
    yield engine
    engine.close()


@dataclass
class ConnectServer:
    """A Spark Connect server running in a process of its own."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The `sc://` URL of the server."""
        return f"sc://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the server."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)


def start_connect_server(work: Path) -> ConnectServer:
    """Start the Spark Connect server PySpark's wheel ships (`spark-connect` jar, started as
    `sbin/start-connect-server.sh` would) on a free port of 127.0.0.1, in local mode, and wait
    until it accepts connections."""
    import pyspark

    home = Path(pyspark.__file__).parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    work.mkdir(parents=True, exist_ok=True)
    log = (work / "connect-server.log").open("wb")
    process = subprocess.Popen(
        [
            str(home / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--name",
            "headwater-test-connect",
            "--master",
            "local[1]",
            "--conf",
            f"spark.connect.grpc.binding.port={port}",
            "--conf",
            "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            f"spark.local.dir={work}",
            "--conf",
            f"spark.sql.warehouse.dir={work / 'warehouse'}",
            "spark-internal",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=work,
        env={**os.environ, "SPARK_HOME": str(home)},
    )
    server = ConnectServer(port, process)
    deadline = time.monotonic() + CONNECT_READY_DEADLINE_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("the Spark Connect server did not start listening") from None
            time.sleep(0.2)


def connect_client_installed() -> bool:
    """Whether PySpark's Spark Connect client can be used (its extra `pyspark[connect]`)."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("grpc", "grpc_status", "google.protobuf", "pandas", "zstandard")
    ) and bool(shutil.which("java") or os.environ.get("JAVA_HOME"))
