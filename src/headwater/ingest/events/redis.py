"""Events from Redis Streams (`kind: redis`), read through a consumer group and acknowledged
(XACK) only after the stream's Delta commit.

The stream's checkpoint, not the group, says where reading resumes: positions are
`{"<stream key>": "<id of the last entry delivered>"}`. New entries are read with
`XREADGROUP ... >`, so the group's pending list (XPENDING) holds exactly what was delivered
and not yet committed, and `acknowledge` XACKs every pending entry up to the committed ids.
After a crash, entries delivered but not committed lie between the committed id and the
group's last-delivered id; `XREADGROUP >` would never return them again (and reading them
back from the pending list misses any acknowledged by hand), so the source reads that gap
with `XRANGE` from the committed id (exclusive) and only then goes on with `XREADGROUP >`.
A group behind the committed ids (recreated, or moved by hand) is moved up to them with
`XGROUP SETID` so that nothing committed is delivered twice. When a read fails midway the
reply may be lost after Redis moved the group: the group's last-delivered id is read again
before the next read, and the gap is read with `XRANGE`.

The group belongs to the stream: another consumer reading from it takes entries the stream
would then miss. A new stream (no positions) starts at the group's oldest pending entry, or
after its last-delivered id; a group created here starts where `start` says. Batches hold
the entry's `field` (raw JSON) as `_payload` (null when missing: the stream quarantines it),
or with `field: "*"` all its fields as a JSON object of strings; plus `_partition` (the
stream key), `_offset` (the entry id, a string) and `_source_time` (the id's milliseconds).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from headwater.build.retry import with_retries
from headwater.build.secrets import redact, resolve
from headwater.errors import ConfigError, Location, SourceError, TransientError, first_line
from headwater.ingest.event_sources import (
    OFFSET,
    PARTITION,
    PAYLOAD,
    SOURCE_TIME,
    EventBatch,
    Positions,
    SourceContext,
    register_event_source,
)
from headwater.project.sources import RetryConfig
from headwater.project.streams import STREAMS_DOCS, RedisSource

T = TypeVar("T")
StreamId = tuple[int, int]
Entry = tuple[bytes, dict[bytes, bytes]]

ALL_FIELDS = "*"
CONSUMER = "headwater"
"""The one consumer of the group: its pending list is what the stream has not committed."""
MAX_SEQUENCE = 2**64 - 1
BLOCK_CAP_S = 10.0
"""Longest single XREADGROUP BLOCK; `poll` repeats it up to its timeout."""
SOCKET_TIMEOUT_S = 30.0
ACK_PAGE = 10_000
RETRIES = RetryConfig(attempts=5, backoff=0.2, max_delay=2.0)
_LOG = logging.getLogger(__name__)


class RedisEventSource:
    """Reads one stream's Redis Streams (see the module docstring)."""

    def __init__(self, context: SourceContext) -> None:
        settings = context.config.source
        assert isinstance(settings, RedisSource)
        self.settings = settings
        self.context = context
        self.keys = list(dict.fromkeys(settings.stream_keys))
        self.group = settings.group or f"headwater-{context.stream.replace('.', '-')}"
        self.where = Location(file=context.config.rel_path, asset=context.stream)
        self._field = settings.field.encode()
        self._client: Any = None
        self._cursor: dict[str, StreamId] = {}
        """Per key: the last entry handed out (what `positions` say)."""
        self._delivered: dict[str, StreamId] = {}
        """Per key: the group's last-delivered id, as this source last saw or moved it."""
        self._unacked: dict[str, deque[bytes]] = {key: deque() for key in self.keys}
        """Per key: ids handed out and not yet acknowledged, oldest first."""
        self._resync = False
        self._caught_up = False

    def __repr__(self) -> str:
        return f"RedisEventSource({_safe_url(self.settings.url)}, {self.keys})"

    def open(self, positions: Positions | None) -> None:
        """Connect, create the group where missing and get ready to read just after
        `positions`; pending entries at or before them are acknowledged (they are committed).

        Raises:
            ConfigError: bad URL, `start` or positions.
            SourceError: Redis refused (credentials, a key that is not a stream).
            TransientError: Redis stayed unreachable.
        """
        self.close()
        start = _start_id(self.settings.start, self.where)
        given = {k: _parse_id(str(v), self.where) for k, v in (positions or {}).items()}
        self._client = self._connect()
        for key in self.keys:
            self._call(partial(self._create_group, key, start), f"creating group on {key}")
            state = self._call(partial(self._group_state, key), f"reading group of {key}")
            if state is None:
                raise SourceError(
                    f"the consumer group {self.group} on {key} vanished as it was created",
                    self.where,
                    "is another process deleting it? run the stream again",
                )
            delivered, oldest_pending = state
            if key in given:
                cursor = given[key]
            elif self.context.restart:
                cursor = self._restart_cursor(key, start)
                self._call(
                    partial(self._client.xgroup_setid, key, self.group, _format_id(cursor)),
                    f"moving group of {key}",
                )
                delivered = cursor
            elif oldest_pending is not None:
                cursor = _before(oldest_pending)
            else:
                cursor = delivered
            if delivered < cursor:
                self._call(
                    partial(self._client.xgroup_setid, key, self.group, _format_id(cursor)),
                    f"moving group of {key}",
                )
                delivered = cursor
            self._cursor[key] = cursor
            self._delivered[key] = delivered
            self._unacked[key].clear()
        self._resync = False
        self._caught_up = False
        for key in self.keys:
            if key in given:
                upto = _format_id(given[key])
                self._call(partial(self._ack_pending, key, upto), f"XACK on {key}")

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return up to `max_events` entries after the last ones handed out, an equal share
        from each stream key, waiting at most `timeout_s` for the first; None when none came.

        Raises:
            TransientError: Redis stayed unreachable.
        """
        if self._client is None:
            raise SourceError("the Redis source was polled before open()", self.where)
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            remaining = deadline - time.monotonic()
            block_ms = int(min(remaining, BLOCK_CAP_S) * 1000) if remaining > 0.001 else None
            entries = self._call(partial(self._read, max_events, block_ms), "reading")
            if entries:
                return self._batch(entries)
            if time.monotonic() >= deadline:
                return None

    def acknowledge(self, positions: Positions) -> None:
        """XACK the entries handed out up to `positions` (committed to the table).

        Raises:
            TransientError: Redis stayed unreachable.
        """
        if self._client is None:
            return
        for key in self.keys:
            if key in positions:
                upto = _parse_id(str(positions[key]), self.where)
                self._call(partial(self._ack, key, upto), f"XACK on {key}")

    def caught_up(self) -> bool:
        """True when the last poll read every entry the streams held."""
        return self._caught_up

    def close(self) -> None:
        """Disconnect; safe to call twice."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # closing a broken connection: nothing left to do
                _LOG.debug("closing Redis connection: %s", redact(str(exc)))

    # connection and errors

    def _connect(self) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        url = resolve(self.settings.url, self.where, "source.url")
        try:
            # redis-py's own retries are off: a read retried blindly after a lost reply
            # would skip the entries Redis delivered into it (see the module docstring)
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=5,
                socket_timeout=SOCKET_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise ConfigError(
                f"source.url {_safe_url(self.settings.url)} is not a Redis URL: "
                f"{redact(first_line(exc))}",
                self.where,
                "write it as redis://[:password@]host:port/db (or rediss://, unix://)",
            ) from None
        self._client = client
        self._call(client.ping, "connecting")
        return client

    def _call(self, action: Callable[[], T], what: str) -> T:
        """Run one Redis exchange, retrying connection trouble with backoff and turning
        Redis' errors into Headwater's (never showing a secret)."""

        def attempt() -> T:
            try:
                return action()
            except Exception as exc:
                raise self._translate(exc, what) from None

        return with_retries(
            attempt,
            RETRIES,
            lambda exc: isinstance(exc, TransientError),
            f"{what} (Redis at {_safe_url(self.settings.url)})",
        )

    def _translate(self, exc: Exception, what: str) -> Exception:
        import redis

        server = _safe_url(self.settings.url)
        message = redact(first_line(exc))
        if isinstance(exc, redis.AuthenticationError) or "NOAUTH" in message:
            return SourceError(
                f"Redis at {server} refused the credentials: {message}",
                self.where,
                "check the password in source.url (e.g. redis://:${REDIS_PASSWORD}@host:6379/0)",
            )
        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            self._resync = True  # the reply may be lost after Redis moved the group
            return TransientError(
                f"Redis at {server} is unreachable while {what}: {message}",
                self.where,
                "start Redis or fix source.url; the stream resumes where it committed",
            )
        if isinstance(exc, redis.ResponseError) and message.startswith("NOGROUP"):
            self._resync = True
            return TransientError(
                f"the consumer group {self.group} disappeared while {what}", self.where
            )
        if isinstance(exc, redis.ResponseError) and message.startswith("WRONGTYPE"):
            return SourceError(
                f"a key of {self.keys} on Redis at {server} is not a stream ({message})",
                self.where,
                f"name Redis stream keys in source.stream(s); see {STREAMS_DOCS}",
            )
        if isinstance(exc, redis.RedisError):
            return SourceError(f"Redis at {server} failed {what}: {message}", self.where)
        return exc

    # the group

    def positions(self) -> Positions:
        """The last entry handed out (or, before any, the one reading starts after) per key."""
        return {key: _format_id(self._cursor[key]) for key in self.keys if key in self._cursor}

    def _restart_cursor(self, key: str, start: str) -> StreamId:
        """Where a reset stream starts reading `key` (the id just before its first entry)."""
        if start == "0":
            return (0, 0)
        if start == "$":
            info = self._call(partial(self._client.xinfo_stream, key), f"reading {key}")
            last = info.get("last-generated-id") or info.get(b"last-generated-id") or b"0-0"
            text = last.decode() if isinstance(last, bytes) else str(last)
            return _parse_id(text, self.where)
        return _parse_id(start, self.where)

    def _create_group(self, key: str, start: str) -> None:
        import redis

        try:
            self._client.xgroup_create(key, self.group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    def _group_state(self, key: str) -> tuple[StreamId, StreamId | None] | None:
        """The group's last-delivered id on `key` and its oldest pending entry (None: the
        group does not exist)."""
        import redis

        try:
            groups = self._client.xinfo_groups(key)
        except redis.ResponseError as exc:
            if "no such key" in str(exc):
                return None
            raise
        for group in groups:
            if _text(group["name"]) == self.group:
                delivered = _parse_id(_text(group["last-delivered-id"]), self.where)
                break
        else:
            return None
        summary = self._client.xpending(key, self.group)
        oldest = summary.get("min") if summary.get("pending") else None
        return delivered, None if oldest is None else _parse_id(_text(oldest), self.where)

    def _refresh(self) -> None:
        """Read the group's last-delivered ids again (recreating at the cursor a group that
        vanished) after a failure that may have left them unknown."""
        for key in self.keys:
            state = self._group_state(key)
            if state is None:
                self._create_group(key, _format_id(self._cursor[key]))
                state = self._group_state(key)
            self._delivered[key] = self._cursor[key] if state is None else state[0]
        self._resync = False

    def _ack_pending(self, key: str, upto: str) -> None:
        """XACK every pending entry up to `upto`, found with XPENDING (at open: entries a
        previous run delivered and committed but did not acknowledge)."""
        while True:
            pending = self._client.xpending_range(key, self.group, "-", upto, ACK_PAGE)
            if not pending:
                return
            self._client.xack(key, self.group, *[p["message_id"] for p in pending])
            if len(pending) < ACK_PAGE:
                return

    def _ack(self, key: str, upto: StreamId) -> None:
        """XACK the entries this source handed out up to `upto`."""
        waiting = self._unacked[key]
        done: list[bytes] = []
        while waiting and _parse_id(_text(waiting[0]), self.where) <= upto:
            done.append(waiting.popleft())
        for first in range(0, len(done), ACK_PAGE):
            self._client.xack(key, self.group, *done[first : first + ACK_PAGE])

    # reading

    def _read(self, max_events: int, block_ms: int | None) -> list[tuple[str, Entry]]:
        """One round of reads: the gap before the group's last-delivered id with XRANGE,
        new entries with XREADGROUP (blocking only when the gap gave nothing)."""
        if self._resync:
            self._refresh()
        share = max(1, max_events // len(self.keys))
        found: dict[str, list[Entry]] = {}
        gap_done: set[str] = set()
        for key in self.keys:
            if self._cursor[key] >= self._delivered[key]:
                continue
            rows = self._client.xrange(
                key, f"({_format_id(self._cursor[key])}", _format_id(self._delivered[key]), share
            )
            if len(rows) < share:
                gap_done.add(key)
            if rows:
                found[key] = rows
            else:
                self._cursor[key] = self._delivered[key]
        live = [k for k in self.keys if k not in found and self._cursor[k] >= self._delivered[k]]
        full: set[str] = set()
        if live:
            reply = self._client.xreadgroup(
                self.group,
                CONSUMER,
                dict.fromkeys(live, ">"),
                count=share,
                block=None if found or block_ms is None else max(1, block_ms),
            )
            for name, rows in reply or []:
                if rows:
                    key = _text(name)
                    found[key] = rows
                    self._delivered[key] = _parse_id(_text(rows[-1][0]), self.where)
                    if len(rows) >= share:
                        full.add(key)
        return self._take(found, gap_done, full, max_events)

    def _take(
        self,
        found: dict[str, list[Entry]],
        gap_done: set[str],
        full: set[str],
        max_events: int,
    ) -> list[tuple[str, Entry]]:
        """At most `max_events` of the entries `found`, the earliest by id across keys when
        there are more; cursors move to the last entry taken per key (what is left is read
        again with XRANGE) and the taken ids wait for `acknowledge`."""
        total = sum(len(rows) for rows in found.values())
        if total <= max_events:
            taken = [(key, entry) for key, rows in found.items() for entry in rows]
        else:  # only when max_events is smaller than the number of keys
            order = {key: index for index, key in enumerate(self.keys)}
            merged = sorted(
                (
                    (_parse_id(_text(e[0]), self.where), order[k], k, e)
                    for k, rows in found.items()
                    for e in rows
                ),
                key=lambda item: (item[0], item[1]),
            )
            taken = [(key, entry) for _, _, key, entry in merged[:max_events]]
        counts: dict[str, int] = {}
        for key, entry in taken:
            counts[key] = counts.get(key, 0) + 1
            self._unacked[key].append(entry[0])
        for key, count in counts.items():
            self._cursor[key] = _parse_id(_text(found[key][count - 1][0]), self.where)
        for key in gap_done:
            if len(found.get(key, [])) == counts.get(key, 0):
                self._cursor[key] = self._delivered[key]
        self._caught_up = (
            len(taken) == total
            and not full
            and all(self._cursor[k] >= self._delivered[k] for k in self.keys)
        )
        return taken

    def _batch(self, entries: list[tuple[str, Entry]]) -> EventBatch:
        import pyarrow as pa

        payloads: list[bytes | None] = []
        for _, (_, fields) in entries:
            if self.settings.field == ALL_FIELDS:
                payloads.append(_fields_json(fields))
            else:
                payloads.append(fields.get(self._field))
        ids = [_text(entry[0]) for _, entry in entries]
        millis = [int(i.split("-", 1)[0]) for i in ids]
        table = pa.table(
            {
                PAYLOAD: pa.array(payloads, pa.binary()),
                PARTITION: pa.array([key for key, _ in entries], pa.string()),
                OFFSET: pa.array(ids, pa.string()),
                SOURCE_TIME: pa.array(millis, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            }
        )
        positions: Positions = {key: _format_id(self._cursor[key]) for key in self.keys}
        return EventBatch(table, positions, self._lag())

    def _lag(self) -> dict[str, int | None]:
        """Entries after the group's last-delivered id per key (Redis 7), where the source
        has read up to it; None elsewhere or when Redis cannot tell."""
        lag: dict[str, int | None] = dict.fromkeys(self.keys)
        try:
            pipe = self._client.pipeline(transaction=False)
            for key in self.keys:
                pipe.xinfo_groups(key)
            replies = pipe.execute()
        except Exception as exc:  # lag is a hint; the next read reports real trouble
            _LOG.debug("reading Redis lag: %s", redact(str(exc)))
            return lag
        for key, groups in zip(self.keys, replies, strict=True):
            for group in groups:
                if _text(group["name"]) == self.group and self._cursor[key] >= self._delivered[key]:
                    value = group.get("lag")
                    lag[key] = None if value is None else int(value)
        return lag


def _fields_json(fields: dict[bytes, bytes]) -> bytes:
    """An entry's fields as a JSON object of strings (bytes not UTF-8 are replaced)."""
    return json.dumps(
        {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in fields.items()},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse_id(text: str, where: Location) -> StreamId:
    """`<ms>-<seq>` (or `<ms>`) as a pair of integers."""
    ms, _, seq = text.partition("-")
    try:
        parsed = (int(ms), int(seq) if seq else 0)
    except ValueError:
        parsed = (-1, -1)
    if not (0 <= parsed[0] <= MAX_SEQUENCE and 0 <= parsed[1] <= MAX_SEQUENCE):
        raise ConfigError(
            f"'{text}' is not a Redis stream id (positions hold `<ms>-<seq>`)",
            where,
            "reset the stream (`headwater stream reset`) if its checkpoint was edited",
        )
    return parsed


def _format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


def _before(stream_id: StreamId) -> StreamId:
    """The greatest id before `stream_id` (reading after it starts at `stream_id`)."""
    ms, seq = stream_id
    if seq > 0:
        return ms, seq - 1
    return (ms - 1, MAX_SEQUENCE) if ms > 0 else (0, 0)


def _start_id(start: str, where: Location) -> str:
    """The id a new group starts after: `0`, `$`, or the one just before a timestamp."""
    if start == "earliest":
        return "0"
    if start == "latest":
        return "$"
    try:
        moment = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"source.start '{start}' is not `earliest`, `latest` or an ISO timestamp",
            where,
            "write e.g. `start: 2026-01-01T00:00:00Z`",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    millis = max(0, int(moment.timestamp() * 1000))
    return _format_id(_before((millis, 0)))


def _safe_url(url: str) -> str:
    """`url` with any password replaced by `***` (and resolved secrets masked)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[-1]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}:***@{host}")
    return redact(urlunsplit(parts))


register_event_source("redis", RedisEventSource)
