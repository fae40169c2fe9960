"""The PostgreSQL protocol server of `headwater serve`, on `buenavista`'s socket server.

`buenavista` gives the threaded socket server (one daemon thread per connection), the message
buffer and the fixed protocol messages; `handler.Handler` overrides what it gets wrong for
real clients (startup, sign-in, the message loop, cancel requests, typed results, logging).
This module binds the address, keeps the sessions by their cancel keys and stops it all.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import socket
import socketserver
import struct
import threading
from typing import TYPE_CHECKING, Any

from buenavista.postgres import BuenaVistaServer

from headwater.serve.pgwire.handler import Handler

if TYPE_CHECKING:
    from headwater.serve.pgwire.session import Session
    from headwater.serve.service import ServeService

_LOG = logging.getLogger(__name__)
MAX_CONNECTIONS = 512


class PostgresServer:
    """The PostgreSQL protocol on one address, answering from a `ServeService`."""

    def __init__(self, service: ServeService, host: str, port: int) -> None:
        """Bind `host:port` (port 0: any free port) without serving yet.

        Raises:
            OSError: the address cannot be bound.
        """
        self._server = _Listener((host, port), service)
        self._serving = threading.Event()
        self._stopped = False

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        """Accept and serve connections (each on a thread of its own) until `shutdown`."""
        if self._stopped:
            return
        self._serving.set()
        try:
            self._server.serve_forever(poll_interval=0.25)
        finally:
            self._serving.clear()

    def shutdown(self) -> None:
        """Stop accepting connections, cancel what runs and close every connection."""
        if self._stopped:
            return
        self._stopped = True
        if self._serving.is_set():
            self._server.shutdown()
        self._server.close_all()
        self._server.server_close()


class _Listener(BuenaVistaServer):  # type: ignore[misc]
    """buenavista's threaded TCP server with Headwater's handler, sessions and cancel keys."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], service: ServeService) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        # BuenaVistaServer's own __init__ binds its handler and wants a buenavista Connection
        socketserver.ThreadingTCPServer.__init__(self, address, Handler)
        self.service = service
        self.ctxts: dict[int, Session] = {}
        self.conn = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Any client may connect (the listening host is the configuration's choice); too
        many connections at once are turned away."""
        with self._lock:
            return len(self._sockets) < MAX_CONNECTIONS

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection's failure is logged (without what it sent) and ends it only."""
        _LOG.debug("a PostgreSQL connection failed", exc_info=True)

    def track(self, connection: socket.socket) -> None:
        with self._lock:
            self._sockets.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(connection)

    def remember(self, session: Session) -> None:
        with self._lock:
            while session.process_id in self.ctxts:
                session.process_id += 1
            self.ctxts[session.process_id] = session

    def forget(self, session: Session) -> None:
        with self._lock:
            if self.ctxts.get(session.process_id) is session:
                del self.ctxts[session.process_id]

    def cancel(self, process_id: int, secret_key: int) -> None:
        """Cancel what the session with `process_id` runs, if `secret_key` is its key."""
        with self._lock:
            session = self.ctxts.get(process_id)
        if session is None:
            return
        if hmac.compare_digest(
            struct.pack("!I", session.secret_key), struct.pack("!I", secret_key & 0xFFFFFFFF)
        ):
            session.cancel()

    def close_all(self) -> None:
        with self._lock:
            sessions = list(self.ctxts.values())
            sockets = list(self._sockets)
        for session in sessions:
            session.cancel()
        for connection in sockets:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
