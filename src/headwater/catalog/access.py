"""Users of `headwater serve` and their credentials, in the catalog.

A user has roles (named in `headwater.yml`), API tokens and optionally a password. Nothing a
credential could be recovered from is stored:

- a token is 32 random bytes; the catalog keeps its SHA-256 (a token is as strong as a key, so
  a fast hash is enough: there is nothing to guess) and its first characters to tell it apart;
- a password is kept as a SCRAM-SHA-256 verifier (salt, iteration count, StoredKey, ServerKey;
  RFC 5802/7677, written the way PostgreSQL writes it), which checks a password given over HTTP
  and answers a PostgreSQL client's SCRAM exchange without the password ever being sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from headwater.catalog import audit
from headwater.catalog.database import Transaction
from headwater.catalog.store import Catalog, now_iso
from headwater.errors import UsageError

TOKEN_PREFIX = "hw_"
SCRAM_ITERATIONS = 4096
"""PostgreSQL's default; a password is checked once per connection or (cached) HTTP client."""
USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,199}")


@dataclass(frozen=True)
class ScramVerifier:
    """What a SCRAM-SHA-256 exchange needs of a password, and no more."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def of_password(cls, password: str, iterations: int = SCRAM_ITERATIONS) -> ScramVerifier:
        """The verifier of `password` with a fresh random salt."""
        salt = secrets.token_bytes(16)
        stored_key, server_key = _keys(password, salt, iterations)
        return cls(salt, iterations, stored_key, server_key)

    @classmethod
    def parse(cls, text: str) -> ScramVerifier:
        """Read a verifier written by `__str__` (PostgreSQL's `rolpassword` format)."""
        match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", text)
        if match is None:
            raise ValueError("not a SCRAM-SHA-256 verifier")
        iterations, salt, stored, server = match.groups()
        b64 = base64.b64decode
        return cls(b64(salt), int(iterations), b64(stored), b64(server))

    def __str__(self) -> str:
        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        return (
            f"SCRAM-SHA-256${self.iterations}:{b64(self.salt)}$"
            f"{b64(self.stored_key)}:{b64(self.server_key)}"
        )

    def __repr__(self) -> str:
        return "ScramVerifier(...)"

    def matches(self, password: str) -> bool:
        """Whether `password` is the one this verifier was made from (constant time)."""
        stored_key, _ = _keys(password, self.salt, self.iterations)
        return hmac.compare_digest(stored_key, self.stored_key)


def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    # RFC 5802; PostgreSQL applies SASLprep first, which leaves ASCII passwords unchanged
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest(), server_key


def token_hash(token: str) -> str:
    """The catalog's key of an API token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """A user as the catalog has it (no credential in it)."""

    name: str
    roles: tuple[str, ...]
    has_password: bool
    tokens: int
    """Tokens not revoked."""
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        """Whether the user may still sign in."""
        return self.revoked_at is None


class UserStore:
    """Users, tokens and password verifiers in the catalog.

    Every change is recorded in the audit trail in the transaction that makes it, with
    `actor` (the person running this process, when not given) as who made it; no token or
    password goes into a record.
    """

    def __init__(self, catalog: Catalog, actor: str | None = None) -> None:
        self.catalog = catalog
        self._actor = actor

    @property
    def actor(self) -> str:
        """Who the changes made through this store are recorded as made by."""
        return self._actor or audit.operator()

    def add(self, name: str, roles: list[str], password: str | None = None) -> str:
        """Add the user `name` with `roles` (and a password) and return a new API token for
        it, shown this once: only its hash is kept.

        Raises:
            UsageError: the name is not valid or is taken by a user not revoked.
        """
        check_user_name(name)
        verifier = str(ScramVerifier.of_password(password)) if password else None
        with self.catalog.db.transaction() as tx:
            found = tx.execute("SELECT revoked_at FROM hw_users WHERE name = :name", {"name": name})
            if found and found[0]["revoked_at"] is None:
                raise UsageError(
                    f"there is already a user {name}",
                    hint=f"headwater users revoke {name} first, or choose another name",
                )
            values = {
                "name": name,
                "roles": json.dumps(sorted(set(roles))),
                "verifier": verifier,
                "at": now_iso(),
            }
            if found:
                tx.execute(
                    "UPDATE hw_users SET roles = :roles, verifier = :verifier, "
                    "created_at = :at, revoked_at = NULL WHERE name = :name",
                    values,
                )
            else:
                tx.execute(
                    "INSERT INTO hw_users (name, roles, verifier, created_at) "
                    "VALUES (:name, :roles, :verifier, :at)",
                    values,
                )
            token = self._issue_token(tx, name)
            detail = {"user": name, "roles": sorted(set(roles)), "password": bool(verifier)}
            self._audit(tx, audit.USER_ADD, detail)
        return token

    def new_token(self, name: str) -> str:
        """Issue another API token for the user `name` and return it (shown this once).

        Raises:
            UsageError: no such user, or it is revoked.
        """
        with self.catalog.db.transaction() as tx:
            self._require_active(tx, name)
            token = self._issue_token(tx, name)
            self._audit(tx, audit.TOKEN, {"user": name})
        return token

    @staticmethod
    def _issue_token(tx: Transaction, name: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        tx.execute(
            "INSERT INTO hw_tokens (token_hash, user_name, prefix, created_at) "
            "VALUES (:hash, :name, :prefix, :at)",
            {
                "hash": token_hash(token),
                "name": name,
                "prefix": token[: len(TOKEN_PREFIX) + 4],
                "at": now_iso(),
            },
        )
        return token

    def _audit(self, tx: Transaction, action: str, detail: Mapping[str, object]) -> None:
        audit.append_in(self.catalog, tx, [audit.AuditEvent(self.actor, action, detail)])

    def set_password(self, name: str, password: str) -> None:
        """Give the user `name` a new password (for the PostgreSQL protocol and HTTP Basic).

        Raises:
            UsageError: no such user, or it is revoked.
        """
        with self.catalog.db.transaction() as tx:
            self._require_active(tx, name)
            tx.execute(
                "UPDATE hw_users SET verifier = :verifier WHERE name = :name",
                {"verifier": str(ScramVerifier.of_password(password)), "name": name},
            )
            self._audit(tx, audit.PASSWORD, {"user": name})

    def set_roles(self, name: str, roles: list[str]) -> None:
        """Replace the roles of the user `name`.

        Raises:
            UsageError: no such user, or it is revoked.
        """
        with self.catalog.db.transaction() as tx:
            before = self._require_active(tx, name)
            tx.execute(
                "UPDATE hw_users SET roles = :roles WHERE name = :name",
                {"roles": json.dumps(sorted(set(roles))), "name": name},
            )
            detail = {"user": name, "roles": sorted(set(roles)), "before": before}
            self._audit(tx, audit.ROLE_CHANGE, detail)

    def revoke(self, name: str) -> None:
        """Revoke the user `name` and every token of it: from now on it cannot sign in.

        Raises:
            UsageError: no such user, or it is revoked already.
        """
        at = now_iso()
        with self.catalog.db.transaction() as tx:
            self._require_active(tx, name)
            tx.execute(
                "UPDATE hw_users SET revoked_at = :at WHERE name = :name", {"at": at, "name": name}
            )
            tx.execute(
                "UPDATE hw_tokens SET revoked_at = :at "
                "WHERE user_name = :name AND revoked_at IS NULL",
                {"at": at, "name": name},
            )
            self._audit(tx, audit.USER_REVOKE, {"user": name})

    def users(self) -> list[User]:
        """Every user, revoked ones included, by name."""
        with self.catalog.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT u.name, u.roles, u.verifier, u.created_at, u.revoked_at, "
                "(SELECT count(*) FROM hw_tokens t WHERE t.user_name = u.name "
                "AND t.revoked_at IS NULL) AS tokens FROM hw_users u ORDER BY u.name"
            )
        return [
            User(
                name=row["name"],
                roles=tuple(json.loads(row["roles"])),
                has_password=row["verifier"] is not None,
                tokens=int(row["tokens"]),
                created_at=row["created_at"],
                revoked_at=row["revoked_at"],
            )
            for row in rows
        ]

    def by_token(self, token: str) -> tuple[str, tuple[str, ...]] | None:
        """The (user, roles) an API token belongs to, or None when it is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        with self.catalog.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT u.name, u.roles FROM hw_tokens t JOIN hw_users u ON u.name = t.user_name "
                "WHERE t.token_hash = :hash AND t.revoked_at IS NULL AND u.revoked_at IS NULL",
                {"hash": token_hash(token)},
            )
        if not rows:
            return None
        return rows[0]["name"], tuple(json.loads(rows[0]["roles"]))

    def credentials(self, name: str) -> tuple[tuple[str, ...], ScramVerifier | None] | None:
        """The roles and password verifier of an active user, or None when there is no such
        active user."""
        with self.catalog.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT roles, verifier FROM hw_users WHERE name = :name AND revoked_at IS NULL",
                {"name": name},
            )
        if not rows:
            return None
        verifier = rows[0]["verifier"]
        return (
            tuple(json.loads(rows[0]["roles"])),
            ScramVerifier.parse(verifier) if verifier else None,
        )

    @staticmethod
    def _require_active(tx: Transaction, name: str) -> list[str]:
        """The roles of the active user `name`; a missing or revoked user is refused."""
        rows = tx.execute(
            "SELECT roles, revoked_at FROM hw_users WHERE name = :name", {"name": name}
        )
        if not rows:
            raise UsageError(f"there is no user {name}", hint="headwater users list shows them")
        if rows[0]["revoked_at"] is not None:
            raise UsageError(
                f"the user {name} is revoked",
                hint=f"headwater users add {name} --role ... makes it again",
            )
        return list(json.loads(rows[0]["roles"]))


def check_user_name(name: str) -> None:
    """Refuse a user name that is not 1-200 letters, digits or `_ . @ -` (starting with a
    letter or `_`).

    Raises:
        UsageError: the name is not valid.
    """
    if not USER_NAME.fullmatch(name):
        raise UsageError(
            f"{name!r} is not a valid user name",
            hint="use letters, digits and _ . @ - (starting with a letter or _), at most 200",
        )
