"""One `headwater serve` process: the HTTP server and the PostgreSQL protocol server over one
`ServeService`, started together and stopped together (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError

if TYPE_CHECKING:
    from headwater.project.serving import ServeConfig
    from headwater.serve.service import ServeService
    from headwater.workspace import Project


class Server:
    """The HTTP and PostgreSQL servers of one project, each on a thread of its own."""

    def __init__(self, project: Project, config: ServeConfig) -> None:
        from headwater.serve.service import ServeService
        from headwater.ui.pages import Workspace

        self.config = config
        self.service: ServeService = ServeService(Workspace(project), config)
        self._stopped = threading.Event()
        self._http: Any = None
        self._pg: Any = None
        self._threads: list[threading.Thread] = []

    @property
    def http_address(self) -> str:
        """`host:port` the HTTP server listens on (the port bound, when 0 was asked)."""
        host, port = self._http.servers[0].sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    @property
    def pg_address(self) -> tuple[str, int] | None:
        """(host, port) of the PostgreSQL protocol, None when it is off."""
        if self._pg is None:
            return None
        host, port = self._pg.address
        return str(host), int(port)

    def start(self) -> None:
        """Bind both ports and start serving; returns once both accept connections.

        Raises:
            UsageError: a port is taken or the address cannot be bound.
        """
        import uvicorn

        from headwater.serve.http import create_server_app

        config = self.config
        if config.pg_port is not None:
            from headwater.serve.pgwire.server import PostgresServer

            try:
                self._pg = PostgresServer(self.service, config.host, config.pg_port)
            except OSError as exc:
                raise UsageError(
                    f"cannot listen for PostgreSQL clients on {config.host}:{config.pg_port}: "
                    f"{exc.strerror or exc}",
                    hint="choose another port with --pg-port (or serve.pg_port), or --no-pg",
                ) from None
            self._spawn(self._pg.serve_forever, "headwater-postgres")
        app = create_server_app(self.service)
        self._http = uvicorn.Server(
            uvicorn.Config(
                app, host=config.host, port=config.port, log_level="warning", lifespan="on"
            )
        )
        self._http.install_signal_handlers = lambda: None  # the main thread handles them
        self._spawn(self._http.run, "headwater-http")
        while not self._http.started:
            if not self._threads[-1].is_alive():
                self.stop()
                raise UsageError(
                    f"cannot listen for HTTP on {config.host}:{config.port}",
                    hint="choose another port with --port (or serve.port)",
                )
            self._stopped.wait(0.02)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop."""
        previous = {
            sig: signal.signal(sig, lambda *_: self._stopped.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while not self._stopped.wait(0.5):
                if not all(t.is_alive() for t in self._threads):
                    break
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def stop(self) -> None:
        """Stop both servers and write the query log's last records."""
        self._stopped.set()
        if self._http is not None:
            self._http.should_exit = True
        if self._pg is not None:
            self._pg.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        self.service.close()
