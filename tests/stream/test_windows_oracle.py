"""Window correctness: whatever the micro-batches, the stream's final table equals the oracle
(one DuckDB query over all events implementing the event-time rules independently)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from headwater.stream.runner import run_stream
from tests.stream.conftest import (
    COLUMNS,
    EPOCH,
    Events,
    ListSource,
    disorderly_events,
    duplicates,
    late_events,
    make_job,
    normalized,
    oracle,
    read_quarantine,
    read_table,
    table_path,
)

AGGREGATES = {
    "n": "count(*)",
    "nv": "count(value)",
    "total": "sum(value)",
    "top": "max(value)",
    "low": "min(value)",
    "mean": "avg(value)",
    "twice": "sum(value * 2 + 1)",
}
WINDOWS = {
    "tumbling": {"type": "tumbling", "size": "10s"},
    "hopping": {"type": "hopping", "size": "9s", "slide": "3s"},
    "session": {"type": "session", "gap": "3s"},
}
OUTPUT = ["window_start", "window_end", "key", *AGGREGATES]
BATCH_SIZES = [1, 7, 100, 10_000]


def config(window: str, lateness: str | int = 0, **more: Any) -> dict[str, Any]:
    """A stream of the test events with a `window` window per key."""
    return {
        "columns": COLUMNS,
        "event_time": "event_time",
        "watermark": "5s",
        "allowed_lateness": lateness,
        "window": {**WINDOWS[window], "key": ["key"], "aggregates": dict(AGGREGATES)},
        "compact_every": 10,
        **more,
    }


@pytest.mark.parametrize("lateness", [0, "8s"], ids=["no-lateness", "lateness"])
@pytest.mark.parametrize("batch", BATCH_SIZES, ids=[f"batch{b}" for b in BATCH_SIZES])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_final_table_equals_oracle(tmp_path: Path, window: str, batch: int, lateness: Any) -> None:
    events = disorderly_events(150 if batch > 1 else 60, seed=7)
    settings = config(window, lateness, max_batch_events=batch)
    source = ListSource(events.payloads, sizes=[3, 5])
    summary = run_stream(make_job(tmp_path, settings, source), until_caught_up=True)
    assert summary.events == len(events.rows)
    table = read_table(tmp_path)
    expected = oracle(events.table(), settings)
    assert table is not None
    assert duplicates(table, ["window_start", "window_end", "key"]) == []
    assert normalized(table, OUTPUT) == normalized(expected, OUTPUT)
    assert summary.late > 0
    if lateness:
        # the lateness let events in that the watermark alone would have dropped
        strict = oracle(events.table(), {**settings, "allowed_lateness": 0})
        assert normalized(strict, OUTPUT) != normalized(expected, OUTPUT)


def run_all(tmp_path: Path, settings: dict[str, Any], payloads: list[bytes]) -> pa.Table:
    """Run the stream over `payloads` until caught up; return its final table."""
    run_stream(
        make_job(tmp_path, settings, ListSource(payloads, sizes=[3, 5])), until_caught_up=True
    )
    table = read_table(tmp_path)
    assert table is not None
    assert duplicates(table, ["window_start", "window_end", "key"]) == []
    return table


@pytest.mark.parametrize("batch", [7, 10_000], ids=["batch7", "batch-all"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_late_events_quarantined(tmp_path: Path, window: str, batch: int) -> None:
    events = disorderly_events(150, seed=11)
    settings = config(window, "4s", max_batch_events=batch, late_events="quarantine")
    table = run_all(tmp_path, settings, events.payloads)
    assert normalized(table, OUTPUT) == normalized(oracle(events.table(), settings), OUTPUT)
    expected = late_events(events.table(), settings)
    assert expected.num_rows > 0
    quarantined = read_quarantine(tmp_path)
    assert {r["error_class"] for r in quarantined} == {"late_event"}
    reason = "too late for its session" if window == "session" else "too late for window"
    assert all(reason in r["reason"] for r in quarantined)
    got = sorted(
        (json.loads(r["raw"])["_offset"], json.loads(r["raw"])["event_time"]) for r in quarantined
    )
    want = sorted((r["seq"], r["event_time"].isoformat(sep=" ")) for r in expected.to_pylist())
    assert got == want


UPDATABLE = {k: v for k, v in AGGREGATES.items() if k != "mean"}


@pytest.mark.parametrize("emit", ["final", "updates"])
@pytest.mark.parametrize("batch", [1, 7, 10_000], ids=["batch1", "batch7", "batch-all"])
@pytest.mark.parametrize("window", ["tumbling", "hopping"])
def test_late_events_update_the_written_row(
    tmp_path: Path, window: str, batch: int, emit: str
) -> None:
    events = disorderly_events(120 if batch > 1 else 45, seed=13)
    settings = config(window, max_batch_events=batch, late_events="update", emit=emit)
    settings["window"]["aggregates"] = dict(UPDATABLE)
    table = run_all(tmp_path, settings, events.payloads)
    columns = ["window_start", "window_end", "key", *UPDATABLE]
    if emit == "updates":
        table = table.filter(pc.field("is_final"))
    expected = oracle(events.table(), settings, late_dropped=False)
    assert normalized(table, columns) == normalized(expected, columns)
    assert normalized(expected, columns) != normalized(oracle(events.table(), settings), columns)


def payloads_of(rows: list[tuple[float, str | None, int | None]]) -> list[bytes]:
    """JSON events from (seconds after the epoch of the tests, key, value)."""
    return [
        json.dumps(
            {"event_time": (EPOCH + dt.timedelta(seconds=t)).isoformat(), "key": k, "value": v}
        ).encode()
        for t, k, v in rows
    ]


def events_table(rows: list[tuple[float, str | None, int | None]]) -> pa.Table:
    """The same events as `payloads_of`, typed, with their arrival order."""
    return Events(
        [{"event_time": EPOCH + dt.timedelta(seconds=t), "key": k, "value": v} for t, k, v in rows]
    ).table()


@pytest.mark.parametrize("batch", [1, 2, 10], ids=["batch1", "batch2", "batch-all"])
def test_session_reopened_by_a_late_event_is_not_final_until_it_closes(
    tmp_path: Path, batch: int
) -> None:
    # [0, 3) closes at watermark 5; the event at 2.5 (within the lateness) stretches it to
    # [0, 5.5), open again: it must not stay in the table as if final
    rows = [(0, "a", 1), (6, "a", 2), (2.5, "a", 3)]
    settings = config("session", "5s", max_batch_events=batch, watermark="1s")
    table = run_all(tmp_path, settings, payloads_of(rows))
    expected = oracle(events_table(rows), settings)
    assert expected.num_rows == 0
    assert normalized(table, OUTPUT) == []
    # once the watermark passes it, the session is written whole
    more = [*rows, (20, "a", 4)]
    run_all(tmp_path, settings, payloads_of(more))
    table = read_table(tmp_path)
    assert normalized(table, OUTPUT) == normalized(oracle(events_table(more), settings), OUTPUT)
    assert [(r["window_start"], r["window_end"], r["n"]) for r in table.to_pylist()] == [
        (EPOCH, EPOCH + dt.timedelta(seconds=5.5), 2),
        (EPOCH + dt.timedelta(seconds=6), EPOCH + dt.timedelta(seconds=9), 1),
    ]


@pytest.mark.parametrize("batch", [7, 10_000], ids=["batch7", "batch-all"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_emit_updates_ends_with_the_oracle_as_final_rows(
    tmp_path: Path, window: str, batch: int
) -> None:
    events = disorderly_events(120, seed=17)
    settings = config(window, "4s", max_batch_events=batch, emit="updates")
    seen: list[pa.Table] = []
    job = make_job(tmp_path, settings, ListSource(events.payloads, sizes=[3, 5]))
    job.on_commit = lambda report: seen.append(read_table(tmp_path))
    run_stream(job, until_caught_up=True)
    keys = ["window_start", "window_end", "key"]
    for version in seen:
        assert duplicates(version, keys) == []
    final = read_table(tmp_path)
    assert final is not None
    closed = oracle(events.table(), settings)
    everything = oracle(events.table(), settings, closed_only=False)
    assert normalized(final.filter(pc.field("is_final")), OUTPUT) == normalized(closed, OUTPUT)
    assert normalized(final, OUTPUT) == normalized(everything, OUTPUT)
    assert final.filter(~pc.field("is_final")).num_rows == everything.num_rows - closed.num_rows
    if batch < len(events.rows):
        # rows were written before their window closed, and made final later
        early = [r for t in seen if t is not None for r in t.to_pylist() if not r["is_final"]]
        finals = {tuple(r[k] for k in keys) for r in final.to_pylist() if r["is_final"]}
        assert any(tuple(r[k] for k in keys) in finals for r in early)


def test_allowed_lateness_rewrites_the_row_by_merge(tmp_path: Path) -> None:
    rows = [(1, "a", 1), (2, None, 5), (21, "a", 2), (5, "a", 10), (7, None, 1), (40, "a", 3)]
    settings = config("tumbling", "10s", max_batch_events=1, watermark="5s")
    table = run_all(tmp_path, settings, payloads_of(rows))
    assert normalized(table, OUTPUT) == normalized(oracle(events_table(rows), settings), OUTPUT)
    first = [r for r in table.to_pylist() if r["window_start"] == EPOCH]
    assert sorted((r["key"] or "", r["n"], r["total"]) for r in first) == [
        ("", 2, 6),
        ("a", 2, 11),
    ]
    operations = [h.get("operation") for h in DeltaTable(str(table_path(tmp_path))).history()]
    assert "MERGE" in operations


def test_late_update_of_a_sum_of_nulls_stays_null(tmp_path: Path) -> None:
    rows = [(1, "a", None), (30, "a", 1), (2, "a", None), (4, "b", 7), (60, "a", 1)]
    settings = config("tumbling", max_batch_events=1, late_events="update")
    settings["window"]["aggregates"] = dict(UPDATABLE)
    table = run_all(tmp_path, settings, payloads_of(rows))
    columns = ["window_start", "window_end", "key", *UPDATABLE]
    expected = oracle(events_table(rows), settings, late_dropped=False)
    assert normalized(table, columns) == normalized(expected, columns)
    first = [r for r in table.to_pylist() if r["window_start"] == EPOCH and r["key"] == "a"]
    assert [(r["n"], r["nv"], r["total"], r["top"]) for r in first] == [(2, 0, None, None)]


def test_aggregate_types_and_nulls(tmp_path: Path) -> None:
    rows = [(1, "a", 2**40), (2, "a", 2**40), (3, "a", None), (4, None, None), (30, "b", 1)]
    settings = config("tumbling", max_batch_events=2)
    table = run_all(tmp_path, settings, payloads_of(rows))
    assert table.schema.field("total").type == pa.int64()
    assert table.schema.field("twice").type == pa.int64()
    assert table.schema.field("n").type == pa.int64()
    assert table.schema.field("mean").type == pa.float64()
    got = {r["key"]: r for r in table.to_pylist()}
    assert (got["a"]["n"], got["a"]["nv"], got["a"]["total"]) == (3, 2, 2**41)
    assert (got["a"]["mean"], got["a"]["twice"]) == (2.0**40, 2**42 + 2)
    assert (got[None]["n"], got[None]["nv"], got[None]["total"], got[None]["mean"]) == (
        1,
        0,
        None,
        None,
    )


def test_sub_second_durations_are_exact(tmp_path: Path) -> None:
    # 0.03m is 1.8s: as floats, 0.03 * 60 * 1e6 is 1799999.99..., one microsecond short
    rows = [(t / 10, "a", 1) for t in range(0, 200, 3)]
    settings = config("tumbling", max_batch_events=5, watermark="0.03m")
    settings["window"] = {**settings["window"], "size": "0.03m"}
    table = run_all(tmp_path, settings, payloads_of(rows))
    assert normalized(table, OUTPUT) == normalized(oracle(events_table(rows), settings), OUTPUT)
    widths = {r["window_end"] - r["window_start"] for r in table.to_pylist()}
    assert widths == {dt.timedelta(milliseconds=1800)}


@pytest.mark.parametrize("window", list(WINDOWS))
def test_windows_without_a_key_over_times_with_a_zone(tmp_path: Path, window: str) -> None:
    events = disorderly_events(120, seed=29)
    settings = config(window, "4s", max_batch_events=7)
    settings["columns"] = {**COLUMNS, "event_time": "TIMESTAMPTZ"}
    settings["window"] = {**settings["window"], "key": []}
    table = run_all_keyed(tmp_path, settings, events.payloads, [])
    columns = [c for c in OUTPUT if c != "key"]
    assert normalized(table, columns) == normalized(oracle(events.table(), settings), columns)


@pytest.mark.parametrize("window", list(WINDOWS))
def test_windows_keyed_by_two_columns_one_a_keyword(tmp_path: Path, window: str) -> None:
    events = disorderly_events(120, seed=31)
    payloads = [
        json.dumps({**json.loads(p), "group": i % 2}).encode()
        for i, p in enumerate(events.payloads)
    ]
    settings = config(window, "4s", max_batch_events=7, late_events="quarantine")
    settings["columns"] = {**COLUMNS, "group": "INTEGER"}
    settings["window"] = {**settings["window"], "key": ["key", "group"]}
    table = run_all_keyed(tmp_path, settings, payloads, ["key", "group"])
    typed = events.table().append_column(
        "group", pa.array([i % 2 for i in range(len(payloads))], pa.int32())
    )
    columns = [*OUTPUT, "group"]
    assert normalized(table, columns) == normalized(oracle(typed, settings), columns)


def run_all_keyed(
    tmp_path: Path, settings: dict[str, Any], payloads: list[bytes], keys: list[str]
) -> pa.Table:
    """`run_all` for windows keyed by `keys`."""
    source = ListSource(payloads, sizes=[3, 5])
    run_stream(make_job(tmp_path, settings, source), until_caught_up=True)
    table = read_table(tmp_path)
    assert table is not None
    assert duplicates(table, ["window_start", "window_end", *keys]) == []
    return table
