"""Debezium change events applied to Delta mirrors: the hand-written envelopes of
tests/data/debezium/ (c/u/d/r, a truncate, tombstones, unchanged TOAST, every semantic type,
schema-less events, a new field, bad events) read from a folder and from a topic of a real
Kafka-protocol broker give the expected mirrors; a capture SIGKILLed again and again during a
random workload loses no change and takes none twice; the guards refuse what they guard."""

from __future__ import annotations

import base64
import collections
import datetime as dt
import decimal
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater import Project
from headwater.engine.duckdb import DuckDBEngine
from headwater.ingest.cdc.changes import UNCHANGED
from headwater.ingest.cdc.debezium import (
    BadEvent,
    converter,
    decode_event,
    field_decoder,
    key_fields,
)
from headwater.stream.cdc.jobs import capture_job
from headwater.stream.cdc.postgres_job import BatchReport, CaptureSummary
from tests.conftest import HEADWATER, ProjectFactory, run_cli
from tests.support.kafka import TansuBroker, unique_topic

DATA = Path(__file__).resolve().parents[2] / "data" / "debezium"
FIXTURE = json.loads((DATA / "inventory.json").read_text())
EXPECTED = json.loads((DATA / "expected.json").read_text())
PHASE_ONE = 17
"""The fixture's messages delivered before the first run (the rest before the second)."""
TABLES = ("inventory.customers", "inventory.products", "inventory.orders", "inventory.audit")

INVENTORY = """\
kind: debezium
cdc:
  events: {events}
tables:
  customers:
    table: inventory.customers
    primary_key: [id]
    changelog: true
  products:
    table: inventory.products
    primary_key: [id]
    delete_column: deleted
    columns: {{price: "DECIMAL(10,2)", added: DATE, updated: TIMESTAMPTZ}}
  orders:
    table: inventory.orders
    primary_key: [id]
    changelog: true
    on_truncate: apply
"""


# -- the fixture's messages ------------------------------------------------------------------


def _value(message: dict[str, Any]) -> bytes | None:
    """A fixture message's value as the bytes Kafka Connect's JsonConverter writes."""
    value = message["value"]
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value.get("schema"), str):
        value = {**value, "schema": FIXTURE["schemas"][value["schema"].removeprefix("$")]}
    return json.dumps(value).encode()


def _ndjson(messages: list[dict[str, Any]]) -> str:
    return "".join((_value(m) or b"null").decode() + "\n" for m in messages)


Deliver = Callable[[list[dict[str, Any]]], None]


def _folder_transport(root: Path) -> tuple[str, Deliver]:
    (root / "events").mkdir(parents=True, exist_ok=True)
    written = [0]

    def deliver(messages: list[dict[str, Any]]) -> None:
        written[0] += 1
        path = root / "events" / f"{written[0]:04d}.ndjson"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(_ndjson(messages))
        temporary.rename(path)

    return "{kind: folder, path: events}", deliver


def _kafka_transport(broker: TansuBroker) -> tuple[str, Deliver]:
    prefix = unique_topic("dbz")
    topics = [broker.create_topic(f"{prefix}.{name}") for name in TABLES]

    def deliver(messages: list[dict[str, Any]]) -> None:
        for message in messages:
            key = message["key"]
            broker.produce(
                f"{prefix}.{message['topic']}",
                [_value(message)],
                keys=[None if key is None else json.dumps(key)],
            )

    return f"{{kind: kafka, brokers: '{broker.bootstrap}', topics: [{', '.join(topics)}]}}", deliver


# -- reading what was written ----------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value read from Delta as the expected files write it."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _table(root: Path, name: str) -> pa.Table:
    return DeltaTable(str(root / "warehouse" / "inventory" / name)).to_pyarrow_table()


def _rows(root: Path, name: str, key: tuple[str, ...] = ("id",)) -> list[dict[str, Any]]:
    found = [{k: _plain(v) for k, v in row.items()} for row in _table(root, name).to_pylist()]
    return sorted(found, key=lambda r: tuple(r[k] for k in key))


def _exists(root: Path, name: str) -> bool:
    return (root / "warehouse" / "inventory" / name / "_delta_log").is_dir()


def _quarantined(root: Path) -> list[str]:
    classes = []
    for name in ("customers__quarantine", "products__quarantine", "_events__quarantine"):
        if _exists(root, name):
            classes += _table(root, name).column("error_class").to_pylist()
    return sorted(classes)


# -- the fixture, from a folder and from Kafka -----------------------------------------------


@pytest.fixture(params=["folder", "kafka"])
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Deliver]]:
    """Where the events arrive: (the `cdc.events` YAML, a function delivering messages)."""
    if request.param == "folder":
        yield _folder_transport(tmp_path / "proj")
    else:
        yield _kafka_transport(request.getfixturevalue("kafka_broker"))


def test_fixture_events_give_the_expected_mirrors(
    make_project: ProjectFactory, transport: tuple[str, Deliver]
) -> None:
    events, deliver = transport
    project = make_project({"sources/inventory.yml": INVENTORY.format(events=events)})
    root = project.root
    messages = FIXTURE["messages"]
    deliver(messages[:PHASE_ONE])
    first = project.run()
    assert first.status == "success", first.outcomes
    assert _exists(root, "orders__changes")  # an asset before its first change
    deliver(messages[PHASE_ONE:])
    second = project.run()
    assert second.status == "success", second.outcomes

    for name in ("customers", "products", "orders"):
        assert _rows(root, name) == EXPECTED[name], name
    for name, ops in EXPECTED["changelogs"].items():
        log = _table(root, f"{name}__changes").sort_by(
            [("_lsn", "ascending"), ("_seq", "ascending")]
        )
        assert log.column("_op").to_pylist() == ops, name
    unchanged = _table(root, "customers__changes").to_pylist()
    ada = next(r for r in unchanged if r["_op"] == "u" and r["id"] == 1)
    assert sorted(ada["_unchanged"]) == ["avatar", "notes", "tags"] and ada["notes"] is None
    assert _quarantined(root) == ["bad_value", "malformed_json", "not_a_change_event"]

    names = ("customers", "products", "orders", "customers__changes", "orders__changes")
    versions = {n: DeltaTable(str(root / "warehouse/inventory" / n)).version() for n in names}
    third = project.run()  # nothing new: nothing committed
    assert third.status == "success"
    assert versions == {
        n: DeltaTable(str(root / "warehouse/inventory" / n)).version() for n in names
    }


def test_headwater_run_applies_a_debezium_source_end_to_end(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/inventory.yml": INVENTORY.format(events="{kind: folder, path: events}"),
            "events/all.ndjson": _ndjson(FIXTURE["messages"]),
            "models/customer_names.sql": "select id, name from inventory.customers",
        }
    )
    root = project.root
    project.close()
    result = run_cli(["run"], root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "inventory.customers" in result.stdout
    # created and deleted in one micro-batch, a soft-deleted row still reaches the mirror,
    # flagged, as it does when the two changes fall in different micro-batches
    assert _rows(root, "products") == EXPECTED["products"]
    assert _rows(root, "customers") == EXPECTED["customers"]
    with Project(root) as again:
        names = again.query("select id, name from main.customer_names order by id").to_pylist()
    assert [r["name"] for r in names] == ["Ada L", "Cy", "Dee2", "Eve"]


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120  # only so that a broken capture cannot hang the suite
    while not condition():
        assert time.monotonic() < deadline, "the capture did not get there"
        time.sleep(0.05)


def test_a_continuous_capture_applies_events_as_they_come_until_stopped(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    events, deliver = _folder_transport(tmp_path / "proj")
    source = INVENTORY.format(events=events).replace("cdc:\n", "cdc:\n  trigger: 100ms\n")
    project = make_project({"sources/inventory.yml": source})
    root = project.root
    reports: list[BatchReport] = []
    job = capture_job(
        project.definition,
        "inventory",
        project.store,
        DuckDBEngine().session(),
        "continuous",
        reports.append,
    )
    stop = threading.Event()
    done: list[CaptureSummary] = []
    thread = threading.Thread(target=lambda: done.append(job.run(False, stop)), daemon=True)
    thread.start()
    messages = FIXTURE["messages"]
    deliver(messages[:PHASE_ONE])
    _wait_for(lambda: _exists(root, "customers") and len(_rows(root, "customers")) == 4)
    deliver(messages[PHASE_ONE:])
    _wait_for(lambda: _exists(root, "orders") and _rows(root, "orders") == EXPECTED["orders"])
    stop.set()
    thread.join(60)
    assert not thread.is_alive() and done
    for name in ("customers", "products", "orders"):
        assert _rows(root, name) == EXPECTED[name], name
    assert done[0].batches == len(reports) >= 2
    assert sum(r.changes for r in reports) == done[0].changes == 19  # 26 less 7 not changes


# -- killed again and again ------------------------------------------------------------------


WORKLOAD = """\
kind: debezium
cdc:
  events: {events}
  batch_changes: 5
tables:
  accounts:
    table: bank.accounts
    primary_key: [id]
    changelog: true
    columns: {{balance: "DECIMAL(12,2)", opened: TIMESTAMPTZ}}
  items:
    table: bank.items
    primary_key: [a, b]
    changelog: true
    on_truncate: apply
"""


class _Workload:
    """A seeded random stream of Debezium events over `bank.accounts` and `bank.items`, and
    what the mirrors and change logs must hold after all of it."""

    def __init__(self, seed: int, count: int) -> None:
        self.random = random.Random(seed)
        self.state: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {
            "accounts": {},
            "items": {},
        }
        self.logs: dict[str, list[tuple[Any, ...]]] = {"accounts": [], "items": []}
        self.messages: list[dict[str, Any]] = []
        self.bad = 0
        self.version = 0
        for _ in range(count):
            self._step()

    def _source(self, table: str) -> dict[str, Any]:
        self.version += 1
        return {
            "connector": "postgresql",
            "db": "bank",
            "schema": "bank",
            "table": table,
            "lsn": 1000 + self.version,
            "txId": self.version,
            "ts_ms": 1_700_000_000_000 + self.version,
        }

    def _emit(self, table: str, key: Any, payload: dict[str, Any] | None) -> None:
        self.messages.append({"topic": f"bank.{table}", "key": key, "value": payload})

    def _row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any]:
        if table == "accounts":
            return {
                "id": key[0],
                "owner": self.random.choice(["ann", "bo", "cy", "di"]) + str(self.version),
                "balance": f"{self.random.randint(-10_000, 10_000) / 100:.2f}",
                "notes": "n" * self.random.randint(0, 40),
                "opened": 1_700_000_000_000_000 + self.version,
                "version": self.version,
            }
        return {"a": key[0], "b": key[1], "qty": self.random.randint(0, 9), "version": self.version}

    def _step(self) -> None:
        roll = self.random.random()
        if roll < 0.01:
            self.bad += 1
            self._emit("accounts", None, "{not json")  # type: ignore[arg-type]
            return
        table = "accounts" if self.random.random() < 0.6 else "items"
        rows = self.state[table]
        if table == "items" and roll < 0.03:
            source = self._source(table)
            self._emit(table, None, {"op": "t", "source": source})
            rows.clear()
            self.logs[table].append(("t", None, None))
            return
        existing = list(rows)
        if not existing or roll < 0.4:
            key = (
                (self.random.randint(1, 60),)
                if table == "accounts"
                else (self.random.randint(1, 6), self.random.choice("xyz"))
            )
            if key in rows:
                return
            source = self._source(table)
            row = self._row(table, key)
            rows[key] = row
            self._emit(table, None, {"op": "c", "before": None, "after": row, "source": source})
            self.logs[table].append(("c", key, row["version"]))
        elif roll < 0.8:
            key = self.random.choice(existing)
            source = self._source(table)
            row = self._row(table, key)
            after = dict(row)
            if table == "accounts" and self.random.random() < 0.3:
                after["notes"] = "__debezium_unavailable_value"  # unchanged TOAST
                row["notes"] = rows[key]["notes"]
            rows[key] = row
            self._emit(table, None, {"op": "u", "before": None, "after": after, "source": source})
            self.logs[table].append(("u", key, row["version"]))
        else:
            key = self.random.choice(existing)
            source = self._source(table)
            before = rows.pop(key)
            self._emit(table, None, {"op": "d", "before": before, "after": None, "source": source})
            self._emit(table, None, None)  # the tombstone
            self.logs[table].append(("d", key, before["version"]))

    def ndjson(self) -> str:
        lines = []
        for message in self.messages:
            value = message["value"]
            lines.append(value if isinstance(value, str) else json.dumps(value))
        return "".join(line + "\n" for line in lines)


def _mirror_state(root: Path) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    found: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for table, key in (("accounts", ("id",)), ("items", ("a", "b"))):
        path = root / "warehouse" / "bank" / table
        rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist() if path.exists() else []
        found[table] = {tuple(r[k] for k in key): r for r in rows}
    return found


def _expected_state(
    workload: _Workload,
) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    expected: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {"accounts": {}, "items": {}}
    for key, row in workload.state["accounts"].items():
        expected["accounts"][key] = {
            **row,
            "balance": decimal.Decimal(row["balance"]),
            "opened": dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            + dt.timedelta(microseconds=row["opened"]),
        }
    expected["items"] = dict(workload.state["items"])
    return expected


def _logged(root: Path, table: str) -> list[tuple[Any, ...]]:
    log = DeltaTable(str(root / "warehouse" / "bank" / f"{table}__changes")).to_pyarrow_table()
    key = ("id",) if table == "accounts" else ("a", "b")
    rows = sorted(log.to_pylist(), key=lambda r: r["_lsn"])
    return [
        (r["_op"], None if r["_op"] == "t" else tuple(r[k] for k in key), r["version"])
        for r in rows
    ]


def _batch_of(root: Path) -> int:
    try:
        return int(json.loads((root / "warehouse/_cdc/bank/positions.json").read_text())["batch"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.parametrize("kind", ["folder", "kafka"])
def test_a_capture_killed_again_and_again_loses_nothing_and_doubles_nothing(
    make_project: ProjectFactory, request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    workload = _Workload(seed=1415 if kind == "folder" else 1416, count=260)
    kills = 12 if kind == "folder" else 6
    if kind == "folder":
        events = "{kind: folder, path: events}"
        files = {"events/0001.ndjson": workload.ndjson()}
    else:
        broker: TansuBroker = request.getfixturevalue("kafka_broker")
        topic = broker.create_topic(unique_topic("bank"))
        broker.produce(topic, [_value(m) for m in workload.messages])
        events = f"{{kind: kafka, brokers: '{broker.bootstrap}', topic: {topic}}}"
        files = {}
    project = make_project({"sources/bank.yml": WORKLOAD.format(events=events), **files})
    root = project.root
    project.close()
    chooser = random.Random(7)
    killed = 0
    deadline = time.monotonic() + 600
    while killed < kills and time.monotonic() < deadline:
        start = _batch_of(root)
        target = start + chooser.randint(1, 4)
        log = tmp_path / f"run-{killed}.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [*HEADWATER, "run"], cwd=root, stdout=output, stderr=subprocess.STDOUT
            )
        while process.poll() is None and _batch_of(root) < target:
            time.sleep(0.005)
        if process.poll() is not None:
            assert process.returncode == 0, log.read_text()
            break  # it finished before the kill: everything is applied
        time.sleep(chooser.random() * 0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed += 1
    assert killed >= kills // 2, "the capture finished before it could be killed enough"
    with Project(root) as final:
        assert final.run().status == "success"

    assert _mirror_state(root) == _expected_state(workload)
    for table in ("accounts", "items"):
        expected = [
            (op, key, version if op != "t" else None) for op, key, version in workload.logs[table]
        ]
        logged = _logged(root, table)
        assert collections.Counter(logged) == collections.Counter(expected), table
        assert logged == expected, table
    quarantine = root / "warehouse/bank/_events__quarantine"
    bad = DeltaTable(str(quarantine)).to_pyarrow_table().num_rows if quarantine.exists() else 0
    if kind == "kafka":  # routed by the topic's name instead: bank.accounts's quarantine
        routed = root / "warehouse/bank/accounts__quarantine"
        bad += DeltaTable(str(routed)).to_pyarrow_table().num_rows if routed.exists() else 0
    assert bad == workload.bad


# -- the guards ------------------------------------------------------------------------------


def _change(op: str, table: str, before: Any, after: Any, lsn: int) -> str:
    source = {"schema": "app", "table": table, "lsn": lsn, "ts_ms": 1_700_000_000_000 + lsn}
    return json.dumps({"op": op, "before": before, "after": after, "source": source}) + "\n"


def test_a_table_without_primary_key_is_refused(make_project: ProjectFactory) -> None:
    project = make_project(
        {
            "sources/app.yml": (
                "kind: debezium\ncdc: {events: {kind: folder, path: events}}\n"
                "tables:\n  users: {table: app.users}\n"
            ),
            "events/a.ndjson": _change("c", "users", None, {"id": 1}, 1),
        }
    )
    result = project.run()
    assert result.status != "success"
    message = result.outcome("app.users").message or ""
    assert "needs `primary_key`" in message and "app.users" in message


def test_freeze_stops_at_a_new_field_and_evolve_goes_on(make_project: ProjectFactory) -> None:
    source = (
        "kind: debezium\ncdc: {{events: {{kind: folder, path: events}}}}\n"
        "contract: {contract}\n"
        "tables:\n  users: {{table: app.users, primary_key: [id], changelog: true}}\n"
    )
    events = (
        _change("c", "users", None, {"id": 1, "name": "a"}, 1)
        + _change("c", "users", None, {"id": 2, "name": "b"}, 2)
        + _change("u", "users", None, {"id": 1, "name": "a2", "email": "a@x"}, 3)
        + _change("c", "users", None, {"id": 3, "name": "c", "email": "c@x"}, 4)
    )
    project = make_project(
        {"sources/app.yml": source.format(contract="freeze"), "events/a.ndjson": events}
    )
    root = project.root
    result = project.run()
    assert result.status != "success"
    assert "gained field email" in (result.outcome("app.users").message or "")
    users = root / "warehouse/app/users"
    before = sorted(DeltaTable(str(users)).to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    assert before == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    project.close()
    (root / "sources/app.yml").write_text(source.format(contract="evolve"))
    with Project(root) as again:
        assert again.run().status == "success"
    after = sorted(DeltaTable(str(users)).to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    assert after == [
        {"id": 1, "name": "a2", "email": "a@x"},
        {"id": 2, "name": "b", "email": None},
        {"id": 3, "name": "c", "email": "c@x"},
    ]
    log = DeltaTable(str(root / "warehouse/app/users__changes")).to_pyarrow_table()
    assert sorted(log.column("_lsn").to_pylist()) == [1, 2, 3, 4]


def test_a_truncate_stops_the_capture_until_allowed(make_project: ProjectFactory) -> None:
    source = (
        "kind: debezium\ncdc: {{events: {{kind: folder, path: events}}}}\n"
        "tables:\n  users: {{table: app.users, primary_key: [id], on_truncate: {setting}}}\n"
    )
    events = (
        _change("c", "users", None, {"id": 1}, 1)
        + _change("c", "users", None, {"id": 2}, 2)
        + _change("t", "users", None, None, 3)
        + _change("c", "users", None, {"id": 3}, 4)
    )
    project = make_project(
        {"sources/app.yml": source.format(setting="fail"), "events/a.ndjson": events}
    )
    root = project.root
    result = project.run()
    assert "truncated" in (result.outcome("app.users").message or "")
    users = root / "warehouse/app/users"
    assert sorted(DeltaTable(str(users)).to_pyarrow_table().column("id").to_pylist()) == [1, 2]
    project.close()
    (root / "sources/app.yml").write_text(source.format(setting="apply"))
    with Project(root) as again:
        assert again.run().status == "success"
    assert DeltaTable(str(users)).to_pyarrow_table().column("id").to_pylist() == [3]


# -- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        (
            {
                "type": "bytes",
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "3", "connect.decimal.precision": "8"},
            },
            "/+4=",
            decimal.Decimal("-0.018"),
        ),
        ({"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal"}, 12, 12),
        (
            {"type": "struct", "name": "io.debezium.data.VariableScaleDecimal"},
            {"scale": 1, "value": "AQ=="},
            0.1,
        ),
        ({"type": "int32", "name": "io.debezium.time.Date"}, -1, dt.date(1969, 12, 31)),
        ({"type": "int32", "name": "org.apache.kafka.connect.data.Date"}, 0, dt.date(1970, 1, 1)),
        (
            {"type": "int64", "name": "io.debezium.time.NanoTimestamp"},
            1_500,
            dt.datetime(1970, 1, 1, 0, 0, 0, 1),
        ),
        (
            {"type": "string", "name": "io.debezium.time.ZonedTimestamp"},
            "2024-06-01T23:30:00-02:00",
            dt.datetime(2024, 6, 2, 1, 30, tzinfo=dt.UTC),
        ),
        ({"type": "int64", "name": "io.debezium.time.MicroTime"}, 86_400_000_000, "24:00:00"),
        ({"type": "int64", "name": "io.debezium.time.NanoTime"}, 1_000_001_000, "00:00:01.000001"),
        (
            {"type": "int32", "name": "org.apache.kafka.connect.data.Time"},
            61_001,
            "00:01:01.001000",
        ),
        ({"type": "string", "name": "io.debezium.data.Uuid"}, "0-1", "0-1"),
        ({"type": "string", "name": "io.debezium.data.Json"}, '{"a": [1]}', '{"a": [1]}'),
        ({"type": "bytes"}, "AAE=", b"\x00\x01"),
        ({"type": "array", "items": {"type": "int16"}}, [1, None, 3], [1, None, 3]),
        (
            {"type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}},
            {"k": 1},
            '{"k":1}',
        ),
    ],
)
def test_connect_types_decode_to_their_mirror_values(
    schema: dict[str, Any], value: Any, expected: Any
) -> None:
    kind, decode = field_decoder(schema)
    decoded = decode(value)
    assert decoded == expected
    pa.array([decoded], kind)  # the value fits its mirror type


@pytest.mark.parametrize("raw", [None, b"null", b'{"schema": {"type": "struct"}, "payload": null}'])
def test_tombstones_carry_no_change(raw: bytes | None) -> None:
    assert decode_event(raw) is None


@pytest.mark.parametrize(
    ("raw", "error_class"),
    [
        (b"\xff\xfe{", "invalid_utf8"),
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"payload": {"after": {"id": 1}}, "schema": null}', "not_a_change_event"),
        (b'{"op": "x", "after": {"id": 1}}', "not_a_change_event"),
        (b'{"op": "c", "after": null}', "not_a_change_event"),
    ],
)
def test_bad_events_say_what_is_wrong(raw: bytes, error_class: str) -> None:
    with pytest.raises(BadEvent) as caught:
        decode_event(raw)
    assert caught.value.error_class == error_class


def test_unchanged_placeholders_and_the_source_block() -> None:
    event = decode_event(
        json.dumps(
            {
                "op": "u",
                "before": None,
                "after": {
                    "id": 1,
                    "t": "__debezium_unavailable_value",
                    "b": "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==",
                    "l": ["__debezium_unavailable_value"],
                },
                "source": {
                    "db": "d",
                    "schema": "s",
                    "table": "t",
                    "lsn": 77,
                    "ts_us": 5,
                    "txId": 9,
                },
            }
        )
    )
    assert event is not None and event.after is not None
    assert [event.after[k] is UNCHANGED for k in ("t", "b", "l")] == [True, True, True]
    assert (event.schema, event.database, event.table) == ("s", "d", "t")
    assert (event.position, event.ts_us, event.transaction) == (77, 5, "9")
    key = {"schema": {"type": "struct", "fields": [{"field": "id", "type": "int64"}]}}
    assert key_fields(json.dumps({**key, "payload": {"id": 4}})) == {"id": 4}


def test_values_without_a_schema_convert_to_declared_types() -> None:
    to_date = converter(pa.date32())
    to_local = converter(pa.timestamp("us"))
    to_decimal = converter(pa.decimal128(6, 2))
    assert to_date(19000) == dt.date(2022, 1, 8) and to_date("2022-01-08") == dt.date(2022, 1, 8)
    moment = dt.datetime(2024, 3, 1, 12)
    assert to_local(1709294400000) == moment  # ms
    assert to_local(1709294400000000) == moment  # µs
    assert to_local(1709294400000000000) == moment  # ns
    assert to_decimal("1.5") == decimal.Decimal("1.50") and to_decimal("AeI6") == decimal.Decimal(
        "1234.50"
    )
    with pytest.raises(ValueError):
        to_decimal("12345.00")
    with pytest.raises(ValueError):
        converter(pa.int16())(40_000)
    assert converter(pa.string())({"a": 1}) == '{"a":1}'
