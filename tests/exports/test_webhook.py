"""The webhook destination against a real HTTP server on 127.0.0.1 that, like real receivers,
keeps the first body it accepted under each idempotency key and ignores the key sent again.

Covered: batches, their sizes, order and keys; upserts then deletes; resuming; 500, 429 and
lost answers retried with each record arriving once; refused records bisected into the
quarantine; configuration answers failing at once; retries running out with the position at
the last confirmed batch; exact JSON for every column type; secrets never shown; and SIGKILLs
of a sending process, after which a new one finishes with every record delivered once.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater.errors import ExportError
from headwater.exports.base import Changes, Pending, Position, Refused, Sent
from headwater.exports.position_file import PositionFile
from headwater.exports.webhook import (
    MAX_WAIT_S,
    RateLimiter,
    Webhook,
    backoff,
    retry_after,
)
from headwater.project.exports import ExportConfig

REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cr3t-token-4f1c9a"


# --- a receiver ------------------------------------------------------------------------------


@dataclass
class Reply:
    """What the receiver answers to one request."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    accept: bool | None = None
    """Keep the records although the status says otherwise (an answer lost on the way)."""


@dataclass
class Request:
    """One request as the receiver saw it."""

    number: int
    """1-based, over the receiver's life."""
    key: str
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    """Lower-cased names."""

    @property
    def ids(self) -> list[Any]:
        """The `id` of each record."""
        return [record["id"] for record in self.body["records"]]


class Endpoint:
    """The receiver's state, shared with its handler threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[Request] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        """Idempotency key -> the body first accepted under it."""
        self.resent_differently: list[str] = []
        """Keys sent again with other records: a receiver would drop the new ones."""
        self.reply: Callable[[Request], Reply] = lambda request: Reply()
        self.kill_at: int | None = None
        """SIGKILL the sender (pid in `X-Test-Pid`) at this request of its run, after
        accepting the records and before answering."""
        self.run_requests = 0
        self.kills = 0
        self._lock = threading.Lock()

    def receive(self, raw: bytes, headers: dict[str, str]) -> Reply | None:
        """Record one request; return the answer (None: the sender was killed)."""
        body = json.loads(raw, parse_float=Decimal)
        key = headers.get("idempotency-key", "")
        with self._lock:
            request = Request(len(self.requests) + 1, key, body, raw, headers)
            self.requests.append(request)
            reply = self.reply(request)
            accepted = 200 <= reply.status < 300 if reply.accept is None else reply.accept
            if accepted:
                self._accept(request)
            pid = headers.get("x-test-pid")
            if pid is not None and self.kill_at is not None:
                self.run_requests += 1
                if self.run_requests == self.kill_at:
                    # the receiver has the records; the sender never hears so
                    os.kill(int(pid), signal.SIGKILL)
                    self.kills += 1
                    return None
            return reply

    def _accept(self, request: Request) -> None:
        first = self.accepted.setdefault(request.key, request.body)
        if first["records"] != request.body["records"]:
            self.resent_differently.append(request.key)

    def delivered(self, operation: str | None = None) -> Counter[Any]:
        """How many times each record id was accepted, counting each key once."""
        return Counter(
            record["id"]
            for body in self.accepted.values()
            if operation is None or body["operation"] == operation
            for record in body["records"]
        )

    def top_level(self) -> list[Request]:
        """The requests of whole batches (not of halves), in order."""
        return [r for r in self.requests if "." not in r.key.rsplit(":", 1)[1]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.endpoint.receive(raw, headers)
        if reply is None:
            self.close_connection = True
            return
        data = reply.body.encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    endpoint: Endpoint


def at(position: Position) -> Position:
    """`position` without the asset it counts (these tests' changes name one of their own)."""
    return dataclasses.replace(position, source=None)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """A receiver at `endpoint.url`, answering 200 unless its `reply` says otherwise."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.endpoint = Endpoint(f"http://127.0.0.1:{server.server_address[1]}/hooks/ltv")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server.endpoint
    server.shutdown()
    server.server_close()
    thread.join()


# --- exports, changes and a quarantine -------------------------------------------------------


def export_config(
    url: str,
    *,
    mode: str = "upsert",
    batch_size: int = 4,
    retries: int = 6,
    headers: dict[str, str] | None = None,
    rate: float | None = None,
) -> ExportConfig:
    """An export named `ltv` of `marts.customers` to a webhook at `url`, with tiny backoff."""
    webhook: dict[str, Any] = {
        "url": url,
        "batch_size": batch_size,
        "retries": retries,
        "backoff_s": 0.001,
        "headers": headers or {},
    }
    if rate is not None:
        webhook["rate"] = rate
    return ExportConfig.model_validate(
        {
            "name": "ltv",
            "from": "marts.customers",
            "mode": mode,
            "key": [] if mode == "append" else ["id"],
            "to": {"webhook": webhook},
        }
    )


def source_table(rows: int) -> pa.Table:
    """`rows` customers with ids 1..rows."""
    ids = list(range(1, rows + 1))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": [f"customer {i}" for i in ids],
            "ltv": pa.array([Decimal(i) / 100 for i in ids], pa.decimal128(12, 2)),
        }
    )


def make_changes(
    table: pa.Table,
    *,
    mode: str = "upsert",
    since: int | None = None,
    until: int = 3,
    deleted: list[int] | None = None,
) -> Changes:
    """The changes of `table` (and the `deleted` ids, for mirror) as a range `(since, until]`."""
    deletes = pa.table({"id": pa.array(deleted or [], pa.int64())})
    return Changes(
        export="ltv",
        source="marts.customers",
        mode=mode,  # type: ignore[arg-type]
        key=[] if mode == "append" else ["id"],
        since=since,
        until=until,
        schema=table.schema,
        upsert_batches=lambda size: iter(table.to_batches(max_chunksize=size)),
        delete_batches=lambda size: iter(deletes.to_batches(max_chunksize=size)),
        upserts=table.num_rows,
        deletes=deletes.num_rows,
    )


class ListQuarantine:
    """Refused records by batch; a batch added again is not added twice."""

    def __init__(self, on_add: Callable[[str], None] | None = None) -> None:
        self.batches: dict[str, list[Refused]] = {}
        self.calls = 0
        self._on_add = on_add

    def add(self, batch: str, refused: list[Refused]) -> None:
        self.calls += 1
        if self._on_add is not None:
            self._on_add(batch)
        self.batches.setdefault(batch, refused)

    def ids(self) -> list[Any]:
        return sorted(r.record["id"] for refused in self.batches.values() for r in refused)


class FileQuarantine:
    """A quarantine kept in a JSON-lines file, for senders in other processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, batch: str, refused: list[Refused]) -> None:
        line = json.dumps({"batch": batch, "ids": [r.record["id"] for r in refused]})
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def batches(self) -> dict[str, list[Any]]:
        if not self.path.exists():
            return {}
        found: dict[str, list[Any]] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            found.setdefault(entry["batch"], entry["ids"])
        return found


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[Callable[..., Webhook]]:
    """Open webhooks (state under tmp_path/<state>) and close them after the test."""
    opened: list[Webhook] = []

    def open_hook(config: ExportConfig, state: str = "state") -> Webhook:
        hook = Webhook(config, tmp_path / state)
        opened.append(hook)
        return hook

    yield open_hook
    for hook in opened:
        hook.close()


def position(tmp_path: Path, state: str = "state") -> Position:
    return PositionFile(tmp_path / state / "position.json").read()


# --- batches, keys and resuming --------------------------------------------------------------


def test_records_go_in_batches_of_batch_size_with_their_keys(
    endpoint: Endpoint, hooks: Callable[..., Webhook], tmp_path: Path
) -> None:
    hook = hooks(export_config(endpoint.url, batch_size=4))
    sent = hook.send(make_changes(source_table(10), since=2, until=5), 0, ListQuarantine())

    assert sent == Sent(upserted=10, deleted=0, refused=0, batches=3, retries=0)
    assert [len(r.ids) for r in endpoint.requests] == [4, 4, 2]
    assert [r.ids for r in endpoint.requests] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    first = endpoint.requests[0]
    assert first.headers["content-type"] == "application/json"
    assert {k: v for k, v in first.body.items() if k != "records"} == {
        "export": "ltv",
        "source": "marts.customers",
        "operation": "upsert",
        "batch": 0,
        "idempotency_key": "ltv:v2..v5:0",
    }
    assert first.body["records"][0] == {"id": 1, "name": "customer 1", "ltv": Decimal("0.01")}
    for number, request in enumerate(endpoint.requests):
        assert request.key == request.body["idempotency_key"] == f"ltv:v2..v5:{number}"
        assert request.body["batch"] == number
    assert at(position(tmp_path)) == Position(version=5, pending=None)
    assert at(hook.position()) == Position(version=5, pending=None)


def test_mirror_sends_the_deleted_keys_after_the_upserts(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    hook = hooks(export_config(endpoint.url, mode="mirror", batch_size=2))
    changes = make_changes(source_table(3), mode="mirror", deleted=[7, 8, 9])
    sent = hook.send(changes, 0, ListQuarantine())

    assert sent == Sent(upserted=3, deleted=3, refused=0, batches=4, retries=0)
    assert [(r.body["operation"], r.body["batch"], r.ids) for r in endpoint.requests] == [
        ("upsert", 0, [1, 2]),
        ("upsert", 1, [3]),
        ("delete", 2, [7, 8]),
        ("delete", 3, [9]),
    ]
    assert endpoint.requests[2].body["records"] == [{"id": 7}, {"id": 8}]


def test_append_mode_says_append(endpoint: Endpoint, hooks: Callable[..., Webhook]) -> None:
    hook = hooks(export_config(endpoint.url, mode="append"))
    hook.send(make_changes(source_table(2), mode="append"), 0, ListQuarantine())
    assert [r.body["operation"] for r in endpoint.requests] == ["append"]


def test_a_first_export_and_a_range_from_version_zero_have_different_keys(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    hooks(export_config(endpoint.url), "a").send(
        make_changes(source_table(1), since=None, until=4), 0, ListQuarantine()
    )
    hooks(export_config(endpoint.url), "b").send(
        make_changes(source_table(1), since=0, until=4), 0, ListQuarantine()
    )
    assert [r.key for r in endpoint.requests] == ["ltv:..v4:0", "ltv:v0..v4:0"]


def test_the_same_batch_sent_again_carries_the_same_key(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    changes = make_changes(source_table(9), since=1, until=2)
    hooks(export_config(endpoint.url), "first").send(changes, 0, ListQuarantine())
    hooks(export_config(endpoint.url), "second").send(changes, 0, ListQuarantine())

    keys = [r.key for r in endpoint.requests]
    assert keys[:3] == keys[3:] == ["ltv:v1..v2:0", "ltv:v1..v2:1", "ltv:v1..v2:2"]
    assert endpoint.resent_differently == []
    assert endpoint.delivered() == Counter(range(1, 10))


def test_resuming_skips_the_confirmed_batches(
    endpoint: Endpoint, hooks: Callable[..., Webhook], tmp_path: Path
) -> None:
    changes = make_changes(source_table(10), since=1, until=2)
    positions = PositionFile(tmp_path / "state" / "position.json")
    positions.begin(Position(version=1), 1, 2)
    positions.confirm(Position(version=1), positions.read().pending, 2)  # type: ignore[arg-type]
    hook = hooks(export_config(endpoint.url, batch_size=4))
    assert hook.position().pending is not None

    sent = hook.send(changes, 2, ListQuarantine())

    assert sent.batches == 1
    assert [(r.key, r.ids) for r in endpoint.requests] == [("ltv:v1..v2:2", [9, 10])]
    assert at(hook.position()) == Position(version=2, pending=None)


def test_batches_the_position_does_not_hold_as_confirmed_are_sent_whatever_resume_at_says(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    # re-sending a batch is harmless (the receiver knows its key); skipping one loses it
    hook = hooks(export_config(endpoint.url, batch_size=4))
    hook.send(make_changes(source_table(10)), 2, ListQuarantine())
    assert endpoint.delivered() == Counter(range(1, 11))


def test_a_range_resumes_in_the_batches_it_began_with(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    changes = make_changes(source_table(10), since=1, until=2)
    endpoint.reply = lambda r: Reply(200) if r.number <= 2 else Reply(503)
    with pytest.raises(ExportError):
        hooks(export_config(endpoint.url, batch_size=3, retries=0)).send(
            changes, 0, ListQuarantine()
        )
    endpoint.reply = lambda r: Reply(200)
    resumed = hooks(export_config(endpoint.url, batch_size=5))
    pending = resumed.position().pending
    assert pending is not None and pending.batches_done == 2

    resumed.send(changes, pending.batches_done, ListQuarantine())

    assert [
        [record["id"] for record in body["records"]] for body in endpoint.accepted.values()
    ] == [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
        [10],
    ]
    assert endpoint.delivered() == Counter(range(1, 11))


# --- passing failures, refusals and configuration answers ------------------------------------


def test_500_429_and_lost_answers_are_retried_and_each_record_arrives_once(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    script = {
        2: Reply(500, "database is down"),
        4: Reply(500, accept=True),  # the records arrived, the answer did not
        5: Reply(429, headers={"Retry-After": "0"}),
        7: Reply(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        8: Reply(408),
        9: Reply(502, accept=True),
    }
    endpoint.reply = lambda r: script.get(r.number, Reply(200))
    hook = hooks(export_config(endpoint.url, batch_size=3))

    sent = hook.send(make_changes(source_table(20)), 0, ListQuarantine())

    assert sent == Sent(upserted=20, deleted=0, refused=0, batches=7, retries=6)
    assert endpoint.delivered() == Counter(range(1, 21))
    assert endpoint.resent_differently == []
    assert sorted(endpoint.accepted, key=lambda k: int(k.rsplit(":", 1)[1])) == [
        f"ltv:..v3:{n}" for n in range(7)
    ]


def test_refused_records_are_quarantined_and_the_rest_delivered(
    endpoint: Endpoint, hooks: Callable[..., Webhook], tmp_path: Path
) -> None:
    refused_ids = {3, 11, 12}

    def reply(request: Request) -> Reply:
        bad = refused_ids & set(request.ids)
        if bad:
            return Reply(422, json.dumps({"error": f"invalid customer {sorted(bad)}"}))
        return Reply(200)

    endpoint.reply = reply
    confirmed_when_added: dict[str, int | None] = {}

    def on_add(batch: str) -> None:
        pending = position(tmp_path).pending
        confirmed_when_added[batch] = None if pending is None else pending.batches_done

    quarantine = ListQuarantine(on_add)
    hook = hooks(export_config(endpoint.url, batch_size=4))

    sent = hook.send(make_changes(source_table(14)), 0, quarantine)

    assert sent == Sent(upserted=11, deleted=0, refused=3, batches=4, retries=0)
    assert quarantine.ids() == [3, 11, 12]
    assert quarantine.calls == 2  # once per batch holding refused records
    assert list(quarantine.batches) == ["ltv:..v3:0", "ltv:..v3:2"]
    # set aside before the batch was confirmed
    assert confirmed_when_added == {"ltv:..v3:0": 0, "ltv:..v3:2": 2}
    first = quarantine.batches["ltv:..v3:0"][0]
    assert first.record == {"id": 3, "name": "customer 3", "ltv": Decimal("0.03")}
    assert first.reason == 'HTTP 422: {"error": "invalid customer [3]"}'
    assert endpoint.delivered() == Counter(set(range(1, 15)) - refused_ids)
    # the halves carry keys derived from their batch's
    assert {r.key for r in endpoint.requests if r.key.startswith("ltv:..v3:0")} == {
        "ltv:..v3:0",
        "ltv:..v3:0.0",
        "ltv:..v3:0.1",
        "ltv:..v3:0.1.0",
        "ltv:..v3:0.1.1",
    }
    assert at(position(tmp_path)) == Position(version=3, pending=None)


@pytest.mark.parametrize("status", [401, 403, 404, 405])
def test_configuration_answers_fail_at_once(
    endpoint: Endpoint, hooks: Callable[..., Webhook], tmp_path: Path, status: int
) -> None:
    endpoint.reply = lambda r: Reply(status, "nope")
    hook = hooks(export_config(endpoint.url))

    with pytest.raises(ExportError) as raised:
        hook.send(make_changes(source_table(10)), 0, ListQuarantine())

    assert len(endpoint.requests) == 1
    assert f"HTTP {status}" in str(raised.value)
    assert "configuration" in str(raised.value)
    assert raised.value.hint and ("credentials" in raised.value.hint or "url" in raised.value.hint)
    pending = position(tmp_path).pending
    assert pending is not None and pending.batches_done == 0


def test_running_out_of_retries_leaves_the_position_at_the_last_confirmed_batch(
    endpoint: Endpoint, hooks: Callable[..., Webhook], tmp_path: Path
) -> None:
    endpoint.reply = lambda r: Reply(200) if r.number <= 2 else Reply(503, "overloaded")
    changes = make_changes(source_table(10), since=4, until=6)

    with pytest.raises(ExportError) as raised:
        hooks(export_config(endpoint.url, batch_size=3, retries=2)).send(
            changes, 0, ListQuarantine()
        )

    message = str(raised.value)
    assert "batch 2 of v4..v6" in message
    assert "failed 3 times" in message
    assert "HTTP 503: overloaded" in message
    assert "resumes" in message
    assert len(endpoint.requests) == 2 + 3
    assert at(position(tmp_path)) == Position(version=None, pending=Pending(4, 6, 2, batch_size=3))

    endpoint.reply = lambda r: Reply(200)
    resumed = hooks(export_config(endpoint.url, batch_size=3))
    sent = resumed.send(changes, 2, ListQuarantine())
    assert sent.batches == 2
    assert endpoint.delivered() == Counter(range(1, 11))
    assert at(position(tmp_path)) == Position(version=6, pending=None)


def test_connection_errors_are_retried_then_fail_with_the_position_kept(
    hooks: Callable[..., Webhook], tmp_path: Path
) -> None:
    # nothing listens on a port just closed
    server = _Server(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()
    hook = hooks(export_config(f"http://127.0.0.1:{port}/hook", retries=1))

    with pytest.raises(ExportError) as raised:
        hook.send(make_changes(source_table(3)), 0, ListQuarantine())

    assert "ConnectError" in str(raised.value)
    assert "failed 2 times" in str(raised.value)
    pending = position(tmp_path).pending
    assert pending is not None and pending.batches_done == 0


# --- secrets and names -----------------------------------------------------------------------


def test_secrets_are_sent_but_never_shown(
    endpoint: Endpoint, hooks: Callable[..., Webhook], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HW_TEST_TOKEN", TOKEN)
    headers = {"Authorization": "Bearer ${HW_TEST_TOKEN}"}
    url = endpoint.url + "?key=${HW_TEST_TOKEN}"

    def echo(status: int) -> Callable[[Request], Reply]:
        # a careless endpoint that quotes the request back
        return lambda r: Reply(status, f"bad request {r.headers.get('authorization')}")

    endpoint.reply = lambda r: Reply(200)
    hook = hooks(export_config(url, headers=headers, retries=1))
    hook.send(make_changes(source_table(1), until=1), 0, ListQuarantine())
    assert endpoint.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in hook.label + hook.namespace + hook.name

    for status in (401, 503):
        endpoint.reply = echo(status)
        with pytest.raises(ExportError) as raised:
            hooks(export_config(url, headers=headers, retries=1), f"s{status}").send(
                make_changes(source_table(1)), 0, ListQuarantine()
            )
        shown = str(raised.value)
        assert f"HTTP {status}" in shown
        assert TOKEN not in shown
        assert "***" in shown

    endpoint.reply = echo(422)
    quarantine = ListQuarantine()
    hooks(export_config(url, headers=headers), "refused").send(
        make_changes(source_table(1)), 0, quarantine
    )
    (refused,) = quarantine.batches["ltv:..v3:0"]
    assert TOKEN not in refused.reason
    assert refused.reason == "HTTP 422: bad request ***"


def test_a_literal_token_in_the_headers_is_not_shown_either(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    literal = "literal-abc-123456"
    endpoint.reply = lambda r: Reply(401, f"who is {r.headers.get('x-api-key')}?")
    with pytest.raises(ExportError) as raised:
        hooks(export_config(endpoint.url, headers={"X-Api-Key": literal})).send(
            make_changes(source_table(1)), 0, ListQuarantine()
        )
    assert literal not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "label", "namespace", "name"),
    [
        (
            "https://user:pw@hooks.example.com/crm/ltv?token=abc#x",
            "https://hooks.example.com/crm/ltv",
            "https://hooks.example.com:443",
            "/crm/ltv",
        ),
        (
            "http://127.0.0.1:8080/in/${HW_TEST_HOOK_ID}",
            "http://127.0.0.1:8080/in/${HW_TEST_HOOK_ID}",
            "http://127.0.0.1:8080",
            "/in/${HW_TEST_HOOK_ID}",
        ),
        (
            "${HW_TEST_HOOK_URL}",
            "https://hooks.slack.com/... (${HW_TEST_HOOK_URL})",
            "https://hooks.slack.com:443",
            "${HW_TEST_HOOK_URL}",
        ),
        ("http://example.com", "http://example.com", "http://example.com:80", "/"),
    ],
)
def test_label_namespace_and_name_hold_no_secret(
    hooks: Callable[..., Webhook],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    label: str,
    namespace: str,
    name: str,
) -> None:
    monkeypatch.setenv("HW_TEST_HOOK_ID", "hook-secret-1")
    monkeypatch.setenv("HW_TEST_HOOK_URL", "https://hooks.slack.com/services/T0/B0/XYZsecret?x=1")
    hook = hooks(export_config(url))
    assert (hook.label, hook.namespace, hook.name) == (label, namespace, name)


def test_a_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not an http"):
        Webhook(export_config("ftp://example.com/x"), tmp_path)


# --- encoding and checks ---------------------------------------------------------------------


def test_every_column_type_is_sent_as_exact_json(
    endpoint: Endpoint, hooks: Callable[..., Webhook]
) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "amount": pa.array(
                [Decimal("12345678901234567890.1234567890"), Decimal("-0.0000000001")],
                pa.decimal128(30, 10),
            ),
            "score": pa.array([0.1, float("nan")]),
            "ratio": pa.array([float("inf"), 1.5], pa.float32()),
            "day": pa.array([date(2024, 2, 29), None]),
            "local_at": pa.array([datetime(1969, 12, 31, 23, 59, 59, 5), None], pa.timestamp("us")),
            "seen_at": pa.array([1_700_000_000_123_456_789, 0], pa.timestamp("ns", "Europe/Paris")),
            "at": pa.array([time(1, 2, 3), None]),
            "blob": pa.array([b"\x00\xff", b""]),
            "text": pa.array(['Zoë "東京"\n', None]),
            "tags": pa.array([["a", "b"], None]),
            "address": pa.array([{"city": "Oslo", "zip": None}, None]),
            "attrs": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
            "coded": pa.array(["x", "x"]).dictionary_encode(),
            "active": pa.array([True, None]),
        }
    )
    hook = hooks(export_config(endpoint.url))
    hook.check(table.schema, ["id"])
    hook.send(make_changes(table), 0, ListQuarantine())

    raw = endpoint.requests[0].raw.decode()
    # decimals are numbers with every digit, not floats
    assert '"amount":12345678901234567890.1234567890' in raw
    assert '"amount":-0.0000000001' in raw
    first, second = json.loads(raw, parse_float=Decimal)["records"]
    assert first == {
        "id": 1,
        "amount": Decimal("12345678901234567890.1234567890"),
        "score": Decimal("0.1"),
        "ratio": None,
        "day": "2024-02-29",
        "local_at": "1969-12-31T23:59:59.000005",
        "seen_at": "2023-11-14T22:13:20.123456789Z",
        "at": "01:02:03.000000",
        "blob": base64.b64encode(b"\x00\xff").decode(),
        "text": 'Zoë "東京"\n',
        "tags": ["a", "b"],
        "address": {"city": "Oslo", "zip": None},
        "attrs": {"k": 1},
        "coded": "x",
        "active": True,
    }
    assert second["score"] is None  # NaN
    assert second["ratio"] == Decimal("1.5")
    assert second["seen_at"] == "1970-01-01T00:00:00.000000000Z"
    assert second["blob"] == ""
    assert second["attrs"] == {}
    assert second["tags"] is None and second["address"] is None
    assert datetime.fromisoformat(first["local_at"]) == datetime(1969, 12, 31, 23, 59, 59, 5)
    assert datetime.fromisoformat(second["seen_at"]) == datetime(1970, 1, 1, tzinfo=UTC)


def test_check_refuses_what_a_json_record_cannot_hold(
    hooks: Callable[..., Webhook],
) -> None:
    hook = hooks(export_config("http://127.0.0.1:9/x"))
    union = pa.schema([("id", pa.int64()), ("choice", pa.dense_union([pa.field("a", pa.int8())]))])
    with pytest.raises(ExportError) as raised:
        hook.check(union, ["id"])
    assert raised.value.location.column == "choice"
    assert "dense_union" in str(raised.value)

    with pytest.raises(ExportError, match="key column id"):
        hook.check(pa.schema([("name", pa.string())]), ["id"])

    nested = pa.schema(
        [
            ("id", pa.int64()),
            ("m", pa.map_(pa.struct([("k", pa.int64())]), pa.list_(pa.float64()))),
            ("d", pa.duration("ms")),
            ("l", pa.large_list(pa.struct([("a", pa.decimal256(40, 2))]))),
        ]
    )
    hook.check(nested, ["id"])


# --- pacing ----------------------------------------------------------------------------------


def test_the_rate_limiter_spaces_requests() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert slept == [0.25, 0.25]
    now[0] += 10
    limiter.wait()
    assert slept == [0.25, 0.25]

    unlimited = RateLimiter(None, clock=lambda: now[0], sleep=sleep)
    unlimited.wait()
    unlimited.wait()
    assert slept == [0.25, 0.25]


def test_backoff_doubles_with_jitter_and_retry_after_is_capped() -> None:
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (40, MAX_WAIT_S)):
        assert ceiling / 2 <= backoff(0.5, attempt) <= ceiling
    assert retry_after(None) is None
    assert retry_after("0") == 0.0
    assert retry_after("7") == 7.0
    assert retry_after("86400") == MAX_WAIT_S
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after("soon") is None


# --- kills -----------------------------------------------------------------------------------

SENDER = """
import os, sys
from pathlib import Path
from tests.exports.test_webhook import (
    FileQuarantine, export_config, make_changes, source_table,
)
from headwater.exports.webhook import Webhook

url, state, quarantine = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
config = export_config(
    url, mode="append", batch_size=3, headers={"X-Test-Pid": str(os.getpid())}
)
hook = Webhook(config, state)
changes = make_changes(source_table(60), mode="append", since=None, until=9)
position = hook.position()
pending = position.pending
resume_at = 0
if pending is not None and (pending.since, pending.until) == (None, 9):
    resume_at = pending.batches_done
elif position.version == 9:
    sys.exit(0)
hook.send(changes, resume_at, FileQuarantine(quarantine))
hook.close()
"""


def test_a_sender_killed_again_and_again_delivers_every_record_once(
    endpoint: Endpoint, tmp_path: Path
) -> None:
    # record 14 is refused: its batch is split again after a kill, under the same keys
    endpoint.reply = lambda r: Reply(422, "no") if 14 in r.ids else Reply(200)
    quarantine = FileQuarantine(tmp_path / "quarantine.jsonl")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = 0
    while True:
        runs += 1
        assert runs <= 60, "the sender makes no progress between kills"
        # up to 7 requests a run: batch 4 takes 5 (split down to the refused record)
        endpoint.kill_at = 2 + runs % 6
        endpoint.run_requests = 0
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                SENDER,
                endpoint.url,
                str(tmp_path / "state"),
                str(quarantine.path),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            break
        assert done.returncode == -signal.SIGKILL, done.stderr

    assert endpoint.kills >= 5
    assert endpoint.resent_differently == []
    assert endpoint.delivered() == Counter(set(range(1, 61)) - {14})
    batches = {key.rsplit(":", 1)[1].split(".")[0] for key in endpoint.accepted}
    assert batches == {str(n) for n in range(20)}
    assert quarantine.batches() == {"ltv:..v9:4": [14]}
    assert at(position(tmp_path)) == Position(version=9, pending=None)
