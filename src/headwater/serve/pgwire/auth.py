"""Signing in over the PostgreSQL protocol: which exchange a connection gets, and who it is
once the exchange succeeded.

- `serve.auth: false`: trust (AuthenticationOk), the anonymous reader.
- A user with a password: SCRAM-SHA-256 (AuthenticationSASL), answered by `scramp`'s server
  side from the user's verifier in the catalog; the password never crosses the wire.
- A name that is no active user (unknown, revoked): the same SCRAM exchange against a mock
  verifier derived from the name, as PostgreSQL does, so that it fails exactly like a wrong
  password and a client cannot tell a missing user from a wrong password.
- A user without a password (token only): AuthenticationCleartextPassword, and the password
  must be one of its API tokens. A token is 32 random bytes, so sending it is no weaker than
  an HTTP Bearer header; a user with a password is never asked for cleartext, so its SCRAM
  exchange is not weakened. (Such a user cannot sign in with a token over this protocol.)

Every failure is the same ErrorResponse (SQLSTATE 28P01, `password authentication failed`).
Unlike PostgreSQL's, it does not repeat the user name: a client that put a token or a
password in the user field would see it echoed. Nothing about a credential is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import struct
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError

if TYPE_CHECKING:
    from headwater.orchestrate.principals import Principal
    from headwater.serve.service import ServeService

_LOG = logging.getLogger(__name__)
MECHANISM = "SCRAM-SHA-256"
_MOCK_SECRET = secrets.token_bytes(32)
"""Per process: the mock salt of a name is stable while the server runs, like PostgreSQL's."""

AUTH_OK, AUTH_CLEARTEXT, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 0, 3, 10, 11, 12


class SignInFailed(UsageError):
    """The client did not prove it is an active user.

    Attributes:
        sqlstate: 28P01 (a failed password exchange), 28000 (no user) or 08P01 (protocol).
    """

    def __init__(self, message: str, sqlstate: str = "28P01", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.sqlstate = sqlstate


def authentication(code: int, data: bytes = b"") -> bytes:
    """An Authentication* message ('R') with request `code` and its data."""
    return b"R" + struct.pack("!ii", 8 + len(data), code) + data


class SignIn:
    """The sign-in exchange of one connection for the user named in its startup message."""

    def __init__(self, service: ServeService, user: str) -> None:
        """Start signing `user` in to `service`."""
        self.service = service
        self.user = user
        self.principal: Principal | None = None
        self._scram: Any = None
        self._cleartext = False
        self._real = False

    def _failed(self) -> SignInFailed:
        return SignInFailed("password authentication failed")

    def start(self) -> bytes:
        """The first message to send: AuthenticationOk (trust), AuthenticationSASL or
        AuthenticationCleartextPassword.

        Raises:
            SignInFailed: no user name was given.
        """
        if not self.service.auth:
            principal = self.service.anonymous()
            assert principal is not None
            self.principal = principal
            return authentication(AUTH_OK)
        if not self.user:
            raise SignInFailed("no PostgreSQL user name specified in startup packet", "28000")
        found = self.service.users.credentials(self.user)
        if found is not None and found[1] is None:
            self._cleartext = True
            return authentication(AUTH_CLEARTEXT)
        self._real = found is not None
        return authentication(AUTH_SASL, MECHANISM.encode() + b"\x00\x00")

    def step(self, payload: bytes) -> bytes:
        """Answer one password message ('p') of the client.

        Returns:
            The messages to send: AuthenticationSASLContinue, or AuthenticationSASLFinal and
            AuthenticationOk once the client proved who it is (`principal` is then set).

        Raises:
            SignInFailed: the proof or password is wrong, the user is unknown or revoked,
                or the message is malformed.
        """
        if self._cleartext:
            return self._password(payload)
        if self._scram is None:
            return self._scram_first(payload)
        return self._scram_final(payload)

    def _password(self, payload: bytes) -> bytes:
        password = payload.rstrip(b"\x00").decode("utf-8", "replace")
        principal = self.service.by_password(self.user, password)
        if principal is None:
            raise self._failed()
        self.principal = principal
        return authentication(AUTH_OK)

    def _scram_first(self, payload: bytes) -> bytes:
        from scramp import ScramException, ScramMechanism

        try:
            end = payload.index(b"\x00")
            mechanism = payload[:end].decode()
            (length,) = struct.unpack("!i", payload[end + 1 : end + 5])
            first = payload[end + 5 : end + 5 + length].decode("utf-8")
        except (ValueError, struct.error, UnicodeDecodeError):
            raise SignInFailed("malformed SASLInitialResponse message", "08P01") from None
        if mechanism != MECHANISM:
            raise SignInFailed(
                f"the client chose SASL mechanism {mechanism!r}; only {MECHANISM} is offered",
                "08P01",
            )
        verifier = self.service.verifier(self.user) if self._real else None
        if verifier is None:
            salt, stored, server = _mock(self.user)
            keys: tuple[bytes, bytes, bytes, int] = (salt, stored, server, 4096)
            self._real = False
        else:
            keys = (verifier.salt, verifier.stored_key, verifier.server_key, verifier.iterations)
        scram = ScramMechanism(MECHANISM).make_server(lambda _user: keys)
        # libpq sends an empty SCRAM user name (the startup message names the user), which
        # scramp refuses: it reads a placeholder, and the proof is checked over the real text
        header, _, bare = first.partition(",")
        authzid, _, bare = bare.partition(",")
        placeholder = bare.replace("n=,", "n=*,", 1) if bare.startswith("n=,") else bare
        try:
            scram.set_client_first(f"{header},{authzid},{placeholder}")
            scram.client_first_bare = bare
            self._scram = scram
            return authentication(AUTH_SASL_CONTINUE, scram.get_server_first().encode())
        except ScramException:
            raise SignInFailed("malformed SCRAM client-first message", "08P01") from None

    def _scram_final(self, payload: bytes) -> bytes:
        from scramp import ScramException

        try:
            self._scram.set_client_final(payload.decode("utf-8"))
            final = self._scram.get_server_final()
        except (ScramException, UnicodeDecodeError):
            raise self._failed() from None
        principal = self.service.by_name(self.user) if self._real else None
        if principal is None:  # revoked during the exchange, or a mock verifier
            raise self._failed()
        self.principal = principal
        return authentication(AUTH_SASL_FINAL, final.encode()) + authentication(AUTH_OK)


def _mock(user: str) -> tuple[bytes, bytes, bytes]:
    """A verifier no password matches, stable per name while the process runs."""
    digest = hmac.new(_MOCK_SECRET, user.encode(), hashlib.sha256).digest()
    return digest[:16], secrets.token_bytes(32), secrets.token_bytes(32)
