"""One client connection of the PostgreSQL protocol, on `buenavista`'s request handler.

What buenavista's handler gets wrong for real clients is overridden here: the startup (SSL and
GSSAPI declined, protocol negotiation, SCRAM sign-in instead of md5 against a dictionary:
`auth`), the message loop (an error does not close the connection; after an error in the
extended protocol messages are skipped until Sync; the transaction status is kept), cancel
requests (they cancel the running query, not the session), results (typed columns and DataRows
built a batch at a time: `encode`) and logging (no SQL text, parameter or startup parameter is
logged).
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from typing import TYPE_CHECKING, NoReturn

from buenavista.postgres import BuenaVistaHandler, BVBuffer

from headwater.errors import UsageError
from headwater.serve.pgwire.auth import SignIn, SignInFailed
from headwater.serve.pgwire.messages import (
    EMPTY_QUERY,
    NO_DATA,
    command_complete,
    error_of,
    error_response,
    notice,
    ready_for_query,
)
from headwater.serve.pgwire.session import Portal, Prepared, Session, SignedOut
from headwater.serve.pgwire.state import FAILED, IN_TRANSACTION, CommandError, Outcome
from headwater.serve.pgwire.statements import split

if TYPE_CHECKING:
    from headwater.serve.pgwire.server import _Listener

_LOG = logging.getLogger(__name__)

SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102
MAX_STARTUP = 10_000
MAX_MESSAGE = 64 << 20
"""The largest message read from a client (a query, a Bind with its parameters)."""
MAX_PREPARED = 10_000
"""Prepared statements one session may hold at once (a client that never closes them
would otherwise grow the server's memory without end)."""
MAX_SIGN_IN_MESSAGE = 8192
"""The largest message before sign-in (a password or SCRAM step): an unsigned client cannot
make the server hold more."""
SIGN_IN_TIMEOUT_S = 60.0
"""A client that has not signed in this long after connecting is dropped (PostgreSQL's
authentication_timeout), so that silent connections do not hold threads."""


class Closed(Exception):
    """The client went away (or broke the protocol so that the connection must close)."""


class Handler(BuenaVistaHandler):  # type: ignore[misc]
    """One client connection: startup and sign-in, then the message loop."""

    rbufsize = 1 << 16
    wbufsize = 1 << 16
    """Writes are buffered and flushed when the client waits (ReadyForQuery, Flush, a
    sign-in step), so a result's small messages do not each cost a send."""
    server: _Listener
    _sign_in_by: float | None = None
    """`time.monotonic()` by which the client must have signed in (None once it has)."""

    def handle(self) -> None:
        """Serve the connection until the client terminates or goes away."""
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.request.settimeout(SIGN_IN_TIMEOUT_S)
        self._sign_in_by = time.monotonic() + SIGN_IN_TIMEOUT_S
        self.r = BVBuffer(self.rfile)
        self.server.track(self.request)
        session: Session | None = None
        try:
            session = self._start()
            if session is not None:
                self._sign_in_by = None
                self.request.settimeout(None)
                self._serve(session)
        except (Closed, OSError) as exc:
            _LOG.debug("PostgreSQL connection closed: %s", type(exc).__name__)
        except Exception as exc:  # one connection's failure must not stop the server
            _LOG.warning("a PostgreSQL connection failed: %s", type(exc).__name__)
            _LOG.debug("the failure", exc_info=True)
        finally:
            if session is not None:
                self.server.forget(session)
                session.cancel()
            self.server.untrack(self.request)

    # -- reading --------------------------------------------------------------------------

    def _read(self, count: int) -> bytes:
        if self._sign_in_by is not None:
            # one deadline for the whole sign-in, not one per read: a client dripping a byte
            # at a time cannot hold the connection
            left = self._sign_in_by - time.monotonic()
            if left <= 0:
                raise Closed()
            self.request.settimeout(left)
        data: bytes = self.r.read_bytes(count)
        if len(data) < count:
            raise Closed()
        return data

    def _message(self, largest: int = MAX_MESSAGE) -> tuple[bytes, bytes]:
        head = self._read(5)
        kind = head[:1]
        (length,) = struct.unpack("!i", head[1:])
        if length < 4 or length > largest:
            self._fatal("08P01", f"invalid message length {length}")
        return kind, self._read(length - 4)

    def _fatal(self, sqlstate: str, message: str, hint: str | None = None) -> NoReturn:
        """Tell the client why and close the connection."""
        self.wfile.write(error_response(message, sqlstate, hint, severity="FATAL"))
        self.wfile.flush()
        raise Closed()

    # -- startup --------------------------------------------------------------------------

    def _start(self) -> Session | None:
        while True:
            (length,) = struct.unpack("!i", self._read(4))
            if length < 8 or length > MAX_STARTUP:
                self._fatal("08P01", "invalid length of startup packet")
            body = self._read(length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                self.wfile.write(b"N")  # no TLS or GSSAPI: the client goes on in plain text
                self.wfile.flush()
                continue
            if code == CANCEL_REQUEST and length == 16:
                process_id, secret_key = struct.unpack("!iI", body[4:12])
                self.server.cancel(process_id, secret_key)
                return None
            break
        if code >> 16 != 3:
            self._fatal("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}")
        words = body[4:].split(b"\x00")
        try:
            texts = [w.decode("utf-8") for w in words]
        except UnicodeDecodeError:
            self._fatal("08P01", "invalid startup packet: not UTF-8")
        params = dict(zip(texts[0::2], texts[1::2], strict=False))
        params.pop("", None)
        options = [k for k in params if k.startswith("_pq_.")]
        if code & 0xFFFF or options:
            self._negotiate(options)
        user = params.get("user", "")
        session = self._sign_in(user, params)
        self.server.remember(session)
        reported = session.state.reported()
        reported["session_authorization"] = user
        self.send_parameter_status(reported)
        self.send_backend_key_data(session)
        return session

    def _negotiate(self, options: list[str]) -> None:
        data = struct.pack("!ii", 0, len(options)) + b"".join(o.encode() + b"\x00" for o in options)
        self.wfile.write(b"v" + struct.pack("!i", len(data) + 4) + data)

    def _sign_in(self, user: str, params: dict[str, str]) -> Session:
        service = self.server.service
        sign_in = SignIn(service, user)
        try:
            self.wfile.write(sign_in.start())
            self.wfile.flush()
            while sign_in.principal is None:
                kind, payload = self._message(MAX_SIGN_IN_MESSAGE)
                if kind != b"p":
                    raise SignInFailed("expected a password response", "08P01")
                self.wfile.write(sign_in.step(payload))
                self.wfile.flush()
        except SignInFailed as exc:
            self._fatal(exc.sqlstate, exc.message, exc.hint)
        assert sign_in.principal is not None
        session = Session(
            service,
            sign_in.principal,
            user,
            params.get("database") or user,
            str(self.client_address[0]) if self.client_address else None,
        )
        session.configure(params)
        return session

    # -- the message loop -----------------------------------------------------------------

    def _serve(self, session: Session) -> None:
        write = self.wfile.write
        write(ready_for_query(session.state.transaction))
        self.wfile.flush()
        skipping = False
        while True:
            kind, payload = self._message()
            if kind == b"X":
                return
            if kind == b"S":
                skipping = False
                session.end_of_transaction()
                session.idle()
                write(ready_for_query(session.state.transaction))
                self.wfile.flush()
                continue
            if kind == b"H":
                self.wfile.flush()
                continue
            if skipping or kind in (b"d", b"c", b"f"):
                continue  # after an error everything up to Sync is skipped
            if kind == b"Q":
                self._simple_query(session, payload)
                continue
            handler = {
                b"P": self._parse,
                b"B": self._bind,
                b"D": self._describe,
                b"E": self._execute,
                b"C": self._close,
            }.get(kind)
            if handler is None:
                if kind == b"F":
                    self._error(session, CommandError("function calls are not supported", "0A000"))
                    skipping = True
                    continue
                self._fatal("08P01", f"invalid frontend message type {kind!r}")
            try:
                handler(session, payload)
            except SignedOut:
                self._signed_out()
            except (Closed, OSError):
                raise
            except (struct.error, UnicodeDecodeError):
                self._error(session, CommandError(f"invalid {kind!r} message", "08P01"))
                skipping = True
            except Exception as exc:
                self._error(session, exc)
                skipping = True

    def _signed_out(self) -> NoReturn:
        self._fatal(
            "28000",
            "the user may no longer sign in (revoked since this connection signed in)",
            "ask an administrator; headwater users list shows the users",
        )

    def _error(self, session: Session, error: BaseException) -> None:
        if not isinstance(error, UsageError):
            _LOG.warning("a PostgreSQL statement failed: %s", type(error).__name__)
            _LOG.debug("the failure", exc_info=error)
        self.wfile.write(error_of(error))
        if session.state.transaction == IN_TRANSACTION:
            session.state.transaction = FAILED

    def _simple_query(self, session: Session, payload: bytes) -> None:
        try:
            statements = split(_text(payload))
        except Exception as exc:
            self._error(session, exc)
            statements = None
        if statements is not None and not statements:
            self.wfile.write(EMPTY_QUERY)
        for statement in statements or ():
            try:
                outcome = session.execute(statement)
                if outcome.table is not None:
                    binary = [False] * outcome.table.num_columns
                    self.wfile.write(_row_description(outcome, binary))
                    self._rows(session, outcome, binary, 0)
                self._complete(outcome, outcome.tag)
            except SignedOut:
                self._signed_out()
            except (Closed, OSError):
                raise
            except Exception as exc:
                self._error(session, exc)
                break
        session.end_of_transaction()
        session.idle()
        self.wfile.write(ready_for_query(session.state.transaction))
        self.wfile.flush()

    def _complete(self, outcome: Outcome, tag: str) -> None:
        for item in outcome.notices:
            self.wfile.write(notice(item.message, item.sqlstate, item.severity))
        self.wfile.write(command_complete(tag))
        if outcome.status:
            self.send_parameter_status(outcome.status)

    def _rows(self, session: Session, outcome: Outcome, binary: list[bool], limit: int) -> int:
        """Send the rows of `outcome` not sent yet (at most `limit`; 0: all)."""
        from headwater.query.readonly import QueryCancelled
        from headwater.serve.pgwire.encode import data_rows

        table = outcome.table
        assert table is not None
        start = outcome.sent
        rows = int(table.num_rows)
        stop = rows if limit <= 0 else min(rows, start + limit)
        for chunk in data_rows(table.slice(start, stop - start), binary):
            if session.cancelled:
                raise QueryCancelled()
            self.wfile.write(chunk)
        outcome.sent = stop
        return stop - start

    # -- the extended protocol --------------------------------------------------------------

    def _parse(self, session: Session, payload: bytes) -> None:
        name, at = _cstring(payload, 0)
        sql, at = _cstring(payload, at)
        (count,) = struct.unpack_from("!h", payload, at)
        oids = list(struct.unpack_from(f"!{count}I", payload, at + 2))
        statements = split(sql)
        if len(statements) > 1:
            raise CommandError("cannot insert multiple commands into a prepared statement", "42601")
        if name and name in session.statements:
            raise CommandError(f'prepared statement "{name}" already exists', "42P05")
        if name not in session.statements and len(session.statements) >= MAX_PREPARED:
            raise CommandError(
                f"too many prepared statements in this session ({MAX_PREPARED})",
                "53400",
                "close (DEALLOCATE) the ones no longer used",
            )
        session.statements[name] = Prepared(statements[0] if statements else None, oids)
        self.send_parse_complete()

    def _bind(self, session: Session, payload: bytes) -> None:
        from headwater.serve.pgwire.params import parameter

        portal, at = _cstring(payload, 0)
        name, at = _cstring(payload, at)
        prepared = session.statements.get(name)
        if prepared is None:
            raise CommandError(f'prepared statement "{name}" does not exist', "26000")
        (count,) = struct.unpack_from("!h", payload, at)
        codes = struct.unpack_from(f"!{count}h", payload, at + 2)
        at += 2 + 2 * count
        (values,) = struct.unpack_from("!h", payload, at)
        at += 2
        oids = prepared.declared_oids
        if values != len(oids):
            raise CommandError(
                f"bind message supplies {values} parameters, but the prepared statement "
                f"requires {len(oids)}",
                "08P01",
            )
        params = []
        for index in range(values):
            (size,) = struct.unpack_from("!i", payload, at)
            at += 4
            data = None if size < 0 else payload[at : at + size]
            at += max(0, size)
            code = codes[index] if len(codes) > 1 else codes[0] if codes else 0
            oid = oids[index] if index < len(oids) else 0
            params.append(parameter(oid, data, code == 1))
        (count,) = struct.unpack_from("!h", payload, at)
        formats = list(struct.unpack_from(f"!{count}h", payload, at + 2))
        if portal and portal in session.portals:
            raise CommandError(f'portal "{portal}" already exists', "42P03")
        session.portals[portal] = Portal(prepared, params, formats)
        self.send_bind_complete()

    def _describe(self, session: Session, payload: bytes) -> None:
        from headwater.serve.pgwire.encode import result_formats, row_description

        kind, (name, _) = payload[:1], _cstring(payload, 1)
        if kind == b"S":
            prepared = session.statements.get(name)
            if prepared is None:
                raise CommandError(f'prepared statement "{name}" does not exist', "26000")
            self.send_paramter_description(prepared.parameter_oids)
            schema = session.describe_statement(prepared)
            if schema is None:
                self.wfile.write(NO_DATA)
            else:
                self.wfile.write(row_description(schema, [False] * len(schema)))
            return
        portal = session.portals.get(name)
        if portal is None:
            cursor = session.state.cursors.get(name)
            if cursor is None:
                raise CommandError(f'portal "{name}" does not exist', "34000")
            schema = cursor.table.schema
            self.wfile.write(row_description(schema, [False] * len(schema)))
            return
        outcome = session.run_portal(portal)
        if outcome.table is None:
            self.wfile.write(NO_DATA)
            return
        binary = result_formats(portal.formats, outcome.table.num_columns)
        self.wfile.write(row_description(outcome.table.schema, binary))

    def _execute(self, session: Session, payload: bytes) -> None:
        from headwater.serve.pgwire.encode import result_formats

        name, at = _cstring(payload, 0)
        (limit,) = struct.unpack_from("!i", payload, at)
        portal = session.portals.get(name)
        if portal is None:
            raise CommandError(f'portal "{name}" does not exist', "34000")
        outcome = session.run_portal(portal)
        if outcome.empty:
            self.wfile.write(EMPTY_QUERY)
            return
        if outcome.table is None:
            self._complete(outcome, outcome.tag)
            return
        resumed = outcome.sent > 0
        binary = result_formats(portal.formats, outcome.table.num_columns)
        sent = self._rows(session, outcome, binary, limit)
        if limit > 0 and outcome.sent < outcome.table.num_rows:
            self.send_portal_suspend()
            self.wfile.flush()
            return
        tag = outcome.tag
        if resumed or limit > 0:
            tag = f"{tag.split()[0]} {sent}"
        self._complete(outcome, tag)

    def _close(self, session: Session, payload: bytes) -> None:
        kind, (name, _) = payload[:1], _cstring(payload, 1)
        if kind == b"S":
            session.statements.pop(name, None)
        elif kind == b"P":
            session.portals.pop(name, None)
        else:
            raise CommandError(f"invalid Close message kind {kind!r}", "08P01")
        self.send_close_complete()


def _row_description(outcome: Outcome, binary: list[bool]) -> bytes:
    from headwater.serve.pgwire.encode import row_description

    assert outcome.table is not None
    return row_description(outcome.table.schema, binary)


def _cstring(payload: bytes, at: int) -> tuple[str, int]:
    """The NUL-terminated string at `at` and where the next field starts."""
    end = payload.find(b"\x00", at)
    if end < 0:
        raise CommandError("a string of the message is not terminated", "08P01")
    return payload[at:end].decode("utf-8"), end + 1


def _text(payload: bytes) -> str:
    try:
        return payload.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("invalid byte sequence for encoding UTF8", "22021") from None
