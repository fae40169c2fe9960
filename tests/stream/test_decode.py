"""Malformed events: each goes to the stream's quarantine with its error class, reason and
raw payload, every good event lands, and the stream never stops; an event decodes the same
whether its micro-batch held a bad event (the slow path) or not (the fast path)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater.engine.duckdb import DuckDBEngine
from headwater.stream.decode import EventDecoder
from headwater.stream.runner import run_stream
from tests.stream.conftest import ListSource, make_job, read_quarantine, read_table

COLUMNS = {"event_time": "TIMESTAMP", "key": "VARCHAR", "value": "BIGINT"}


def good(n: int, key: str = "k") -> bytes:
    return json.dumps(
        {"event_time": f"2026-01-01T00:00:{n % 60:02d}", "key": key, "value": n}
    ).encode()


# (payload, error class, column the reason names)
BAD: list[tuple[bytes | None, str, str | None]] = [
    (b'{"event_time": "2026-01-01T00:00:01", "key": "a", "value": 1', "malformed_json", None),
    (b"not json at all", "malformed_json", None),
    (b"", "malformed_json", None),
    (b'{"value": 1}{"value": 2}', "malformed_json", None),
    (b"[1, 2, 3]", "not_an_object", None),
    (b"null", "not_an_object", None),
    (b"42", "not_an_object", None),
    (b'"a string"', "not_an_object", None),
    (b'{"event_time": "2026-01-01T00:00:01", "key": "\xff\xfe", "value": 1}', "invalid_utf8", None),
    (
        b'{"event_time": "2026-01-01T00:00:01", "junk": "\xc3\x28", "value": 1}',
        "invalid_utf8",
        None,
    ),
    (
        b'{"event_time": "2026-01-01T00:00:01", "key": "a", "value": "abc"}',
        "type_mismatch",
        "value",
    ),
    (b'{"event_time": "yesterday", "key": "a", "value": 1}', "type_mismatch", "event_time"),
    (b'{"event_time": "2026-01-01T00:00:01", "key": "a", "value": 1e30}', "type_mismatch", "value"),
    (b'{"key": "a", "value": 1}', "missing_event_time", "event_time"),
    (b'{"event_time": null, "key": "a", "value": 1}', "missing_event_time", "event_time"),
    (None, "missing_payload", None),
]
# good events that look odd: each must land
ODD_GOOD = [
    b'{\n  "event_time": "2026-01-01T00:00:02",\n  "key": "pretty", "value": 2\n}',
    b'  {"event_time": "2026-01-01T00:00:03", "key": "spaces", "value": 3}  ',
    b'{"event_time": "2026-01-01T00:00:04", "key": "extra", "value": 4, "more": [1, {"x": 2}]}',
    b'{"event_time": "2026-01-01T00:00:05", "value": 5}',
    b'{"event_time": "2026-01-01T00:00:06", "key": "caf\xc3\xa9", "value": 6}',
    b'{"event_time": "2026-01-01T00:00:07", "key": "k", "value": null}',
]


def mixed_events() -> tuple[list[bytes | None], dict[int, tuple[str, str | None]], list[int]]:
    """Bad events first (a whole first batch of them), then good ones with bad ones among
    them; the expected error class per bad position, and the good positions."""
    payloads: list[bytes | None] = [p for p, _, _ in BAD[:5]]
    expected = {i: (BAD[i][1], BAD[i][2]) for i in range(5)}
    goods: list[int] = []
    bad_rest = BAD[5:]
    odd = list(ODD_GOOD)
    for n in range(40):
        if n % 3 == 1 and bad_rest:
            payload, error, column = bad_rest.pop(0)
            expected[len(payloads)] = (error, column)
            payloads.append(payload)
        if n % 5 == 2 and odd:
            goods.append(len(payloads))
            payloads.append(odd.pop(0))
        goods.append(len(payloads))
        payloads.append(good(n))
    assert not bad_rest and not odd
    return payloads, expected, goods


def check_quarantine(
    tmp_path: Path, payloads: list[bytes | None], expected: dict[int, tuple[str, str | None]]
) -> None:
    rows = read_quarantine(tmp_path)
    by_offset = {int(r["location"].rsplit(" ", 1)[1]): r for r in rows}
    assert len(by_offset) == len(rows), "an event quarantined twice"
    assert {o: (r["error_class"], r["column"]) for o, r in by_offset.items()} == expected
    for offset, row in by_offset.items():
        raw = payloads[offset]
        assert row["reason"]
        assert row["table"] == "streams.s"
        assert row["source"] == "list"
        if row["error_class"] == "missing_event_time":
            continue  # decoded: its raw is the row as decoded
        if raw is None:
            assert row["raw"] is None
        elif row["error_class"] == "invalid_utf8":
            assert row["raw_bytes"] == raw
            assert row["raw"] == raw.decode("utf-8", errors="replace")
        else:
            assert row["raw"] == raw.decode()


@pytest.mark.parametrize("batch", [1, 4, 1000], ids=["batch1", "batch4", "batch-all"])
def test_bad_events_are_quarantined_and_good_ones_land(tmp_path: Path, batch: int) -> None:
    payloads, expected, goods = mixed_events()
    settings: dict[str, Any] = {
        "columns": COLUMNS,
        "event_time": "event_time",
        "watermark": "1h",
        "window": {"type": "tumbling", "size": "1h", "key": "key", "aggregates": {"n": "count(*)"}},
        "max_batch_events": batch,
        "compact_every": 0,
    }
    # a last event an hour later closes the window of all the others
    payloads.append(json.dumps({"event_time": "2026-01-01T02:00:01", "key": "z"}).encode())
    source = ListSource(payloads, sizes=[3])
    summary = run_stream(make_job(tmp_path, settings, source), until_caught_up=True)
    assert summary.events == len(payloads)
    assert summary.rejected == len(expected)
    assert source.acknowledged[-1] == len(payloads)
    check_quarantine(tmp_path, payloads, expected)
    table = read_table(tmp_path)
    assert table is not None
    counts = {r["key"]: r["n"] for r in table.to_pylist()}
    assert sum(counts.values()) == len(goods)
    assert counts["pretty"] == counts["spaces"] == counts["extra"] == counts["café"] == 1
    assert counts[None] == 1


@pytest.mark.parametrize("batch", [1, 4, 1000], ids=["batch1", "batch4", "batch-all"])
def test_plain_stream_keeps_every_good_event(tmp_path: Path, batch: int) -> None:
    payloads, expected, goods = mixed_events()
    # without a window no event time is needed: those events are good here
    for offset, (error, _) in list(expected.items()):
        if error == "missing_event_time":
            del expected[offset]
            goods.append(offset)
    settings = {"columns": COLUMNS, "max_batch_events": batch, "compact_every": 0}
    summary = run_stream(
        make_job(tmp_path, settings, ListSource(payloads, sizes=[3])), until_caught_up=True
    )
    assert summary.rejected == len(expected)
    check_quarantine(tmp_path, payloads, expected)
    table = read_table(tmp_path)
    assert table is not None
    assert sorted(table.column("_offset").to_pylist()) == sorted(goods)
    landed = {r["_offset"]: r for r in table.to_pylist()}
    for offset in goods:
        raw = json.loads(payloads[offset] or b"")
        assert landed[offset]["key"] == raw.get("key")
        assert landed[offset]["value"] == raw.get("value")


def test_a_batch_of_only_bad_events_is_committed(tmp_path: Path) -> None:
    payloads = [p for p, error, _ in BAD if error != "missing_event_time"]
    settings = {"columns": COLUMNS, "compact_every": 0}
    source = ListSource(payloads)
    summary = run_stream(make_job(tmp_path, settings, source), until_caught_up=True)
    assert summary.batches == 1
    assert summary.rejected == len(payloads)
    assert source.acknowledged == [len(payloads)]
    assert len(read_quarantine(tmp_path)) == len(payloads)
    table = read_table(tmp_path)
    assert table is not None and table.num_rows == 0


# -- the two paths agree --------------------------------------------------------------------

TYPES = {
    "ts": "TIMESTAMP",
    "tz": "TIMESTAMPTZ",
    "d": "DATE",
    "t": "TIME",
    "n": "DECIMAL(10,2)",
    "i": "INTEGER",
    "b": "BIGINT",
    "f": "DOUBLE",
    "ok": "BOOLEAN",
    "s": "VARCHAR",
    "j": "JSON",
    "l": "INTEGER[]",
}
VALUES: list[Any] = [
    0, 1, -1, 2**31, 2**40, 2**63 - 1, 2**63, 1.0, 1.5, 1e3, 0.005, True, False, None,
    "12", "1.5", "true", "", "abc", "NaN", "2026-01-01", "2026-01-01T10:20:30",
    "2026-01-01 10:20:30", "2026-01-01T10:20:30Z", "2026-01-01T10:20:30+02:00",
    "2026-01-01T10:20:30.123456-05:30", "2026-01-01T10:20:30.1234567", "10:20:30", "[1,2]",
    "{'a': 1}", [1, 2], {"a": 1},
]  # fmt: skip


@pytest.fixture(scope="module")
def decoder() -> Iterator[EventDecoder]:
    engine = DuckDBEngine(threads=1)
    yield EventDecoder(engine.session(), TYPES)
    engine.close()


def decode(decoder: EventDecoder, payloads: list[bytes]) -> tuple[pa.Table, list[int]]:
    batch = pa.table({"_payload": pa.array(payloads, pa.binary())})
    decoded = decoder.decode(batch)
    return decoded.events, [r.row for r in decoded.rejected]


@pytest.mark.parametrize("column", list(TYPES))
def test_an_event_decodes_the_same_in_any_batch(decoder: EventDecoder, column: str) -> None:
    """Decoded alone (the fast path when it is good) or beside a malformed event (the slow
    path), each event gives the same row or the same rejection."""
    for value in VALUES:
        payload = json.dumps({column: value}).encode()
        alone, rejected_alone = decode(decoder, [payload])
        mixed, rejected_mixed = decode(decoder, [b"{bad", payload, b"[]"])
        assert rejected_mixed[0] == 0 and rejected_mixed[-1] == 2
        assert bool(rejected_alone) == (1 in rejected_mixed), (column, value)
        if not rejected_alone:
            # compared as Python values (NaN as text: it is not equal to itself)
            assert str(alone.column(column).to_pylist()) == str(mixed.column(column).to_pylist()), (
                column,
                value,
            )


def test_a_time_with_an_offset_is_read_in_utc(decoder: EventDecoder) -> None:
    payload = json.dumps({"ts": "2026-01-01T10:20:30+02:00"}).encode()
    for batch in ([payload], [payload, b"oops"]):
        events, _ = decode(decoder, batch)
        assert events.column("ts").to_pylist() == [dt.datetime(2026, 1, 1, 8, 20, 30)]


def test_a_null_first_payload_does_not_crash_the_reader(decoder: EventDecoder) -> None:
    # Arrow's JSON reader crashed the process on a first line of `null`
    events, rejected = decode(decoder, [b"null", json.dumps({"i": 1}).encode()])
    assert rejected == [0]
    assert events.column("i").to_pylist() == [1]


def test_a_null_payload_is_not_a_row_of_nulls(decoder: EventDecoder) -> None:
    # Arrow's JSON reader reads a `null` line after the first as a row of NULLs
    events, rejected = decode(decoder, [json.dumps({"i": 1}).encode(), b"null"])
    assert rejected == [1]
    assert events.num_rows == 1


def test_invalid_utf8_never_reaches_a_string_column(decoder: EventDecoder) -> None:
    events, rejected = decode(decoder, [b'{"s": "\xff"}', b'{"s": "ok"}'])
    assert rejected == [0]
    assert events.column("s").to_pylist() == ["ok"]
    events.validate(full=True)
