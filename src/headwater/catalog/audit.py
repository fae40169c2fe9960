"""The audit trail: who read what through `headwater serve`, and who changed which user, kept in
the catalog append-only and tamper-evident.

Each record carries the SHA-256 of its own content and of the record before it (`prev_hash`),
so `verify` finds a record edited, deleted or moved. Appends take turns across processes and
machines and number records themselves, so the chain never forks and a gap in `seq` is a
deleted record. A chain alone cannot show that its newest records were cut off: an operator
keeps the head hash elsewhere and checks it with `verify(expect_head=...)`. No credential is
ever written into a record.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater.catalog.database import Transaction
from headwater.catalog.store import Catalog, now_iso
from headwater.errors import UsageError

AUDIT_KEY = 0x4857_4175
"""PostgreSQL advisory lock key of appending to the audit trail ('HWAu'): appends take turns."""

GENESIS = "0" * 64
"""`prev_hash` of the first record."""

QUERY = "query"
"""A read through `headwater serve`: user, interface, statement, tables, rows, outcome."""
USER_ADD = "user_add"
USER_REVOKE = "user_revoke"
ROLE_CHANGE = "role_change"
TOKEN = "token"
"""A new API token was issued (the token itself is never recorded)."""
PASSWORD = "password"
"""A user's password was set (the password itself is never recorded)."""
GRANTS = "grants"
"""The grants in effect changed (the roles of `serve.roles` and the rules of
`governance.masking`): the new ones, with their hash and the hash of those before."""
REDACTION = "redaction"
"""An erasure took its subject's values out of earlier records: names each record changed with
the hash of its new content (no value)."""
ACTIONS = (QUERY, USER_ADD, USER_REVOKE, ROLE_CHANGE, TOKEN, PASSWORD, GRANTS, REDACTION)

_PAGE = 5000
"""Records read at a time by `verify`, so a long trail is never held in memory whole."""


@dataclass(frozen=True)
class AuditEvent:
    """Something to record: who did it, what, and the details (JSON-serialisable, no secret)."""

    actor: str | None
    action: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: str | None = None
    """When it happened (now, when not given)."""


@dataclass(frozen=True)
class AuditRecord:
    """One record of the trail as stored."""

    seq: int
    at: str
    actor: str | None
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerification:
    """What `verify` found: how many records, the head, and the first broken record."""

    records: int
    head_seq: int | None
    """The newest record's seq (None for an empty trail)."""
    head_hash: str
    """The newest record's hash (`GENESIS` for an empty trail): keep it elsewhere to detect
    later that records were cut off the end."""
    broken_seq: int | None = None
    """The first record found broken (missing, edited or out of place)."""
    problem: str | None = None
    """What is wrong, for a person."""
    redacted: dict[int, int] = field(default_factory=dict)
    """Records whose content an erasure redacted, each with the seq of the `redaction` record
    that vouches for its new content."""

    @property
    def intact(self) -> bool:
        """Whether every record checked out."""
        return self.problem is None


def operator() -> str:
    """The name of the person running this process, the actor of a change made from the CLI or
    Python (`unknown` when the operating system cannot say)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment nor the password database
        return "unknown"


def record_hash(
    seq: int, at: str, actor: str | None, action: str, detail: Any, prev_hash: str
) -> str:
    """The SHA-256 (hex) of a record: over the canonical JSON (sorted keys, no spaces) of its
    seq, time, actor, action, detail and the previous record's hash."""
    canonical = json.dumps(
        [seq, at, actor, action, detail, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(catalog: Catalog, events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """Append `events` to the audit trail in one transaction and return their records."""
    with catalog.db.transaction() as tx:
        return append_in(catalog, tx, events)


def append_in(catalog: Catalog, tx: Transaction, events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """Append `events` within the open write transaction `tx` (so they commit, or not, with
    what they record) and return their records.

    The turn taken here lasts until `tx` ends: no other writer reads the same last record, so
    two appends never chain from it both.
    """
    if not events:
        return []
    catalog.db.take_turns(tx, AUDIT_KEY)
    last = tx.execute("SELECT seq, hash FROM hw_audit ORDER BY seq DESC LIMIT 1")
    seq, prev = (int(last[0]["seq"]), str(last[0]["hash"])) if last else (0, GENESIS)
    records = []
    for event in events:
        seq += 1
        # through JSON and back, so the hash is of what a reader will parse
        detail = json.loads(_canonical(event.detail))
        at = event.at or now_iso()
        digest = record_hash(seq, at, event.actor, event.action, detail, prev)
        records.append(AuditRecord(seq, at, event.actor, event.action, detail, prev, digest))
        prev = digest
    tx.execute_many(
        "INSERT INTO hw_audit (seq, at, actor, action, detail, prev_hash, hash) "
        "VALUES (:seq, :at, :actor, :action, :detail, :prev_hash, :hash)",
        [
            {
                "seq": r.seq,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "detail": _canonical(r.detail),
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in records
        ],
    )
    return records


def record_grants(
    catalog: Catalog, actor: str | None, grants: Mapping[str, Any]
) -> AuditRecord | None:
    """Append a `grants` record of `grants` unless the latest one already holds them.

    Grants live in the project's files, which change without telling anyone: whoever reads
    under them (the server when it loads the project, `query --as`) records them first, so
    every read of the trail comes after the grants it was made under.

    Returns:
        The new record, or None when the grants are those last recorded.
    """
    digest = hashlib.sha256(_canonical(grants).encode()).hexdigest()
    with catalog.db.transaction() as tx:
        catalog.db.take_turns(tx, AUDIT_KEY)
        last = tx.execute(
            "SELECT detail FROM hw_audit WHERE action = :action ORDER BY seq DESC LIMIT 1",
            {"action": GRANTS},
        )
        before = None
        if last:
            try:
                before = json.loads(last[0]["detail"]).get("digest")
            except (ValueError, AttributeError):
                before = None  # an edited record: verify reports it; record the grants anew
        if before == digest:
            return None
        detail = {"digest": digest, "before": before, **grants}
        (record,) = append_in(catalog, tx, [AuditEvent(actor, GRANTS, detail)])
        return record


def redact_in(
    catalog: Catalog,
    tx: Transaction,
    actor: str,
    erasure_id: str,
    changes: Mapping[int, Mapping[str, Any]],
    key: str,
) -> AuditRecord:
    """Within `tx`, replace the detail of the records `changes` names (seq -> new detail) and
    append the `redaction` record naming each with the hash of its new content, sealed with
    `key` (HMAC-SHA256 of the erasure, the seq and that hash), which `verify` checks before it
    accepts that content in place of what the record was chained with. The chain itself (each
    record's `hash` and `prev_hash`) is kept.

    The seal is what keeps a writer of the catalog from vouching for an edit of its own by
    appending a redaction record: it needs the key erasures are made with.

    Returns:
        The `redaction` record.
    """
    vouched: dict[str, dict[str, str]] = {}
    for seq, detail in sorted(changes.items()):
        (row,) = tx.execute(
            "SELECT at, actor, action, prev_hash FROM hw_audit WHERE seq = :seq", {"seq": seq}
        )
        text = _canonical(detail)
        digest = record_hash(
            seq, row["at"], row["actor"], row["action"], json.loads(text), row["prev_hash"]
        )
        vouched[str(seq)] = {"hash": digest, "seal": redaction_seal(key, erasure_id, seq, digest)}
        tx.execute(
            "UPDATE hw_audit SET detail = :detail WHERE seq = :seq", {"detail": text, "seq": seq}
        )
    (record,) = append_in(
        catalog, tx, [AuditEvent(actor, REDACTION, {"erasure": erasure_id, "records": vouched})]
    )
    return record


def redaction_seal(key: str, erasure_id: str, seq: int, digest: str) -> str:
    """The seal of a redaction of record `seq` to content hashing to `digest`."""
    message = f"{erasure_id}:{seq}:{digest}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _canonical(detail: Mapping[str, Any]) -> str:
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def verify(
    catalog: Catalog, expect_head: str | None = None, key: str | None = None
) -> AuditVerification:
    """Re-compute the chain from the first record and return what was found: the number of
    records, the head, and the first broken record with what is wrong with it (a gap in the
    numbers, content that does not match its hash, a `prev_hash` that is not the previous
    record's hash).

    `expect_head` is a head hash kept elsewhere earlier: the trail must still hold the record
    with that hash, or records were cut off its end (which no chain shows by itself).

    `key` is the key erasures are made with: a record an erasure redacted passes only when the
    `redaction` record vouching for its new content carries that key's seal (without the key,
    a redacted record cannot be checked, and is reported so).
    """
    count = 0
    expected_seq = 1
    prev = GENESIS
    anchored = expect_head is None
    vouched = _redactions(catalog)
    redacted: dict[int, int] = {}
    for row in _rows(catalog):
        count += 1
        seq = int(row["seq"])
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
            where = (
                f"the trail starts at record {seq}"
                if expected_seq == 1
                else f"after record {expected_seq - 1} comes {seq}"
            )
            return _broken(
                count, prev, expected_seq, f"record {missing} is missing ({where}): deleted"
            )
        try:
            detail = json.loads(row["detail"])
        except ValueError:
            return _broken(count, prev, seq, f"record {seq} was edited: its detail is not JSON")
        digest = record_hash(seq, row["at"], row["actor"], row["action"], detail, row["prev_hash"])
        vouch = vouched.get(seq)
        if digest != row["hash"] and vouch is not None and vouch.digest == digest:
            problem = vouch.problem(seq, key)
            if problem is not None:
                return _broken(count, prev, seq, problem)
            redacted[seq] = vouch.by
        elif digest != row["hash"]:
            return _broken(
                count,
                prev,
                seq,
                f"record {seq} was edited or moved: its content does not match its hash",
            )
        if row["prev_hash"] != prev:
            before = f"record {seq - 1}'s hash" if seq > 1 else "the genesis hash"
            return _broken(
                count,
                prev,
                seq,
                f"record {seq} does not follow the record before it (its prev_hash is not "
                f"{before}): a record was replaced, rewritten or moved",
            )
        if row["hash"] == expect_head:
            anchored = True
        prev = str(row["hash"])
        expected_seq = seq + 1
    head_seq = expected_seq - 1 if count else None
    if not anchored:
        return AuditVerification(
            count,
            head_seq,
            prev,
            head_seq,
            f"no record has the expected head hash {expect_head}: records were deleted from the "
            f"end of the trail (it now ends at record {head_seq or 0}) or the hash is not this "
            "trail's",
            redacted,
        )
    return AuditVerification(count, head_seq, prev, redacted=redacted)


def _broken(count: int, prev: str, seq: int, problem: str) -> AuditVerification:
    return AuditVerification(count, seq - 1 or None, prev, seq, problem)


@dataclass(frozen=True)
class _Vouch:
    """A redaction record's word for one record's new content."""

    digest: str
    seal: str
    erasure: str
    by: int
    """The redaction record's seq."""

    def problem(self, seq: int, key: str | None) -> str | None:
        """Why the vouch does not hold (None: it does)."""
        if key is None:
            return (
                f"record {seq} was redacted by erasure {self.erasure} (record {self.by}); the "
                "redaction can only be checked with the key erasures are made with: set it "
                "in the environment (governance.masking.hash_key_env)"
            )
        expected = redaction_seal(key, self.erasure, seq, self.digest)
        if not hmac.compare_digest(expected, self.seal):
            return (
                f"record {seq} was edited: record {self.by} vouches for its content without "
                "the seal of the erasure key (a forged redaction, or another key)"
            )
        return None


def _redactions(catalog: Catalog) -> dict[int, _Vouch]:
    """What `redaction` records vouch for, by the seq of the record redacted; a later
    redaction of the same record replaces an earlier one. A redaction record is itself
    chained, so `verify` checks it like any other; a malformed one vouches for nothing."""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT seq, detail FROM hw_audit WHERE action = :action ORDER BY seq",
            {"action": REDACTION},
        )
    vouched: dict[int, _Vouch] = {}
    for row in rows:
        try:
            detail = json.loads(row["detail"])
        except ValueError:
            continue
        records = detail.get("records") if isinstance(detail, dict) else None
        erasure = detail.get("erasure") if isinstance(detail, dict) else None
        if not isinstance(records, dict) or not isinstance(erasure, str):
            continue
        for seq, vouch in records.items():
            if not (isinstance(seq, str) and seq.isdigit() and isinstance(vouch, dict)):
                continue
            digest, seal = vouch.get("hash"), vouch.get("seal")
            if not (isinstance(digest, str) and isinstance(seal, str)):
                continue
            if int(seq) < int(row["seq"]):  # a redaction vouches only for records before it
                vouched[int(seq)] = _Vouch(digest, seal, erasure, int(row["seq"]))
    return vouched


def _rows(catalog: Catalog) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        with catalog.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT seq, at, actor, action, detail, prev_hash, hash FROM hw_audit "
                "WHERE seq > :after ORDER BY seq LIMIT :page",
                {"after": after, "page": _PAGE},
            )
        yield from rows
        if len(rows) < _PAGE:
            return
        after = int(rows[-1]["seq"])


def query(
    catalog: Catalog,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """The newest `limit` records (oldest of them first) of `actor`, of `action`, at or after
    `since` (an ISO 8601 date or time; UTC when it names no zone), each filter when given.

    Raises:
        UsageError: `since` is not an ISO 8601 date or time, or `limit` is not positive.
    """
    if limit < 1:
        raise UsageError(f"--limit must be at least 1, not {limit}")
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    for column, value in (("actor", actor), ("action", action), ("at", _since(since))):
        if value is not None:
            where.append(f"{column} {'>=' if column == 'at' else '='} :{column}")
            params[column] = value
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    with catalog.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT seq, at, actor, action, detail, prev_hash, hash FROM hw_audit "
            f"{clause}ORDER BY seq DESC LIMIT :limit",
            params,
        )
    return [
        AuditRecord(
            int(row["seq"]),
            row["at"],
            row["actor"],
            row["action"],
            json.loads(row["detail"]),
            row["prev_hash"],
            row["hash"],
        )
        for row in reversed(rows)
    ]


def _since(text: str | None) -> str | None:
    """`text` as the catalog writes times (UTC, microseconds), so that strings compare in time
    order."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not an ISO 8601 date or time",
            hint="e.g. 2026-01-31 or 2026-01-31T08:00:00+01:00",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
