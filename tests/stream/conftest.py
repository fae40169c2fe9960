"""Helpers of the stream tests: a list-backed event source, a job builder, readers of the
stream's tables and the oracle of the window rules (one DuckDB query over all events).

The oracle is written from the rules in `headwater.stream.windows`'s docstring, not from its
code: per event (in arrival order) the watermark is the largest event time of the events before
it minus the delay; an event is late when its window's end plus the allowed lateness is at or
below its watermark (a session event: its own time plus the allowed lateness); windows and
sessions are aggregated over the on-time events; a window or session is written once the final
watermark has reached its end.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.engine.duckdb import DuckDBEngine
from headwater.ingest.event_sources import EventBatch, EventSource, Positions
from headwater.project.streams import StreamConfig
from headwater.storage.base import TableRef
from headwater.storage.companions import QUARANTINE_SUFFIX
from headwater.storage.delta import DeltaStore
from headwater.stream.runner import StreamJob

NAMESPACE = "streams"
EPOCH = dt.datetime(2026, 1, 1)
COLUMNS = {"event_time": "TIMESTAMP", "key": "VARCHAR", "value": "BIGINT"}


# -- the source --------------------------------------------------------------------------------


class ListSource:
    """An `EventSource` serving a fixed list of events: raw payloads (bytes, or None for a
    tombstone) or an Arrow table of typed events, in polls of `sizes` (cycled) events.

    Positions are `{"list": index of the next event}`. It records what the stream asked of it,
    and checks the exactly-once contract: acknowledgements never go back nor past what was
    read, and `open` resumes exactly after the positions handed back.
    """

    def __init__(
        self,
        events: Sequence[bytes | None] | pa.Table,
        sizes: Sequence[int] = (1 << 30,),
        with_offsets: bool = True,
    ) -> None:
        self.events = events
        self.sizes = list(sizes)
        self.with_offsets = with_offsets
        self.next = 0
        self.polls = 0
        self.opened: list[int] = []
        self.acknowledged: list[int] = []

    def __len__(self) -> int:
        return self.events.num_rows if isinstance(self.events, pa.Table) else len(self.events)

    def open(self, positions: Positions | None) -> None:
        """Start just after `positions` (None: at the first event)."""
        self.next = int((positions or {}).get("list", 0))
        self.opened.append(self.next)

    def positions(self) -> Positions:
        """Where reading stands: the index of the next event."""
        return {"list": self.next}

    def poll(self, max_events: int, timeout_s: float) -> EventBatch | None:
        """Return the next events, at most `max_events` and the poll size."""
        if self.next >= len(self):
            return None
        size = self.sizes[self.polls % len(self.sizes)]
        self.polls += 1
        count = min(size, max_events, len(self) - self.next)
        first = self.next
        if isinstance(self.events, pa.Table):
            table = self.events.slice(first, count)
        else:
            table = pa.table(
                {"_payload": pa.array(self.events[first : first + count], pa.binary())}
            )
        if self.with_offsets:
            table = table.append_column(
                "_partition", pa.array(["list"] * count, pa.string())
            ).append_column("_offset", pa.array(range(first, first + count), pa.int64()))
        self.next = first + count
        return EventBatch(table, {"list": self.next}, {"list": len(self) - self.next})

    def acknowledge(self, positions: Positions) -> None:
        """Record the acknowledgement (checking it is one the stream may give)."""
        position = int(positions["list"])
        assert position <= self.next, "acknowledged events never read"
        assert not self.acknowledged or position >= self.acknowledged[-1], "went back"
        self.acknowledged.append(position)

    def caught_up(self) -> bool:
        """True once every event was read."""
        return self.next >= len(self)

    def close(self) -> None:
        """Nothing to close."""


# -- the job ------------------------------------------------------------------------------------


_ENGINES: list[DuckDBEngine] = []


def make_job(
    tmp_path: Path,
    config: dict[str, Any],
    source: EventSource,
    name: str = "s",
    sql: str = "",
) -> StreamJob:
    """A `StreamJob` over `source` for the stream described by `config` (a stream YAML as a
    dict; `source` defaults to a generator setting, which is not used), writing the table
    `streams.<name>` under `tmp_path/wh`; `sql` reads the batch as `_hw_stream_batch` ("":
    no transformation). Jobs made again with the same arguments resume."""
    settings = StreamConfig.model_validate({"source": {"kind": "generator"}, **config})
    engine = DuckDBEngine(threads=1)
    _ENGINES.append(engine)
    ref = TableRef(NAMESPACE, name)
    return StreamJob(
        key=ref.key,
        config=settings,
        ref=ref,
        sql=sql,
        store=DeltaStore(tmp_path / "wh"),
        session=engine.session(),
        source=source,
        checkpoints=tmp_path / "wh" / "_streams" / NAMESPACE / name,
        run_id=f"run{uuid.uuid4().hex[:8]}",
        source_label="list",
    )


@pytest.fixture(autouse=True)
def _close_engines() -> Iterator[None]:
    yield
    while _ENGINES:
        _ENGINES.pop().close()


# -- reading what the stream wrote --------------------------------------------------------------


def table_path(tmp_path: Path, name: str = "s") -> Path:
    """The folder of the stream's Delta table."""
    return tmp_path / "wh" / NAMESPACE / name


def read_table(tmp_path: Path, name: str = "s", version: int | None = None) -> pa.Table | None:
    """The stream's table as delta-rs reads it (None: no table yet)."""
    path = table_path(tmp_path, name)
    if not (path / "_delta_log").is_dir():
        return None
    table = DeltaTable(str(path), version=version) if version is not None else DeltaTable(str(path))
    return table.to_pyarrow_table()


def read_quarantine(tmp_path: Path, name: str = "s") -> list[dict[str, Any]]:
    """The rows of the stream's quarantine table (none: no table)."""
    table = read_table(tmp_path, name + QUARANTINE_SUFFIX)
    return [] if table is None else table.to_pylist()


def duplicates(table: pa.Table | None, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    """The `keys` values held by more than one row of `table`."""
    if table is None or not table.num_rows:
        return []
    seen: dict[tuple[Any, ...], int] = {}
    for row in table.select(list(keys)).to_pylist():
        value = tuple(row[k] for k in keys)
        seen[value] = seen.get(value, 0) + 1
    return [k for k, n in seen.items() if n > 1]


def normalized(
    table: pa.Table | list[dict[str, Any]], columns: Sequence[str], digits: int = 9
) -> list[tuple[Any, ...]]:
    """Rows of `columns` as sorted tuples (floats rounded), for comparing tables."""
    rows = table.to_pylist() if isinstance(table, pa.Table) else table
    out = []
    for row in rows:
        out.append(
            tuple(
                round(v, digits) if isinstance(v, float) else v for v in (row[c] for c in columns)
            )
        )
    return sorted(out, key=lambda r: tuple((v is None, str(type(v)), v or 0) for v in r))


# -- events -------------------------------------------------------------------------------------


@dataclass
class Events:
    """Test events in arrival order, with their JSON payloads."""

    rows: list[dict[str, Any]]
    payloads: list[bytes] = field(default_factory=list)

    def table(self) -> pa.Table:
        """The events with their arrival number `seq`."""
        return pa.table(
            {
                "seq": pa.array(range(len(self.rows)), pa.int64()),
                "event_time": pa.array([r["event_time"] for r in self.rows], pa.timestamp("us")),
                "key": pa.array([r["key"] for r in self.rows], pa.string()),
                "value": pa.array([r["value"] for r in self.rows], pa.int64()),
            }
        )


def disorderly_events(
    count: int, seed: int, keys: Sequence[str | None] = ("a", "b", "c", None)
) -> Events:
    """`count` events with out-of-order times: most a little behind the newest, some a lot
    (late beyond the watermark, or within an allowed lateness), bursts separated by pauses
    (so sessions both merge and split), NULL keys and NULL values among them."""
    rng = random.Random(seed)
    clock = 0.0
    rows = []
    for _ in range(count):
        clock += rng.expovariate(1 / 0.6) if rng.random() > 0.05 else rng.uniform(6, 14)
        roll = rng.random()
        if roll < 0.10:
            behind = rng.uniform(6, 25)  # late by the watermark, maybe within the lateness
        elif roll < 0.15:
            behind = rng.uniform(0, 40)  # very late
        else:
            behind = rng.uniform(0, 3.5)  # out of order, on time
        micros = int(max(0.0, clock - behind) * 1_000_000) // 1000 * 1000 + rng.randrange(1000)
        rows.append(
            {
                "event_time": EPOCH + dt.timedelta(microseconds=micros),
                "key": rng.choice(list(keys)),
                "value": None if rng.random() < 0.08 else rng.randrange(-50, 1000),
            }
        )
    payloads = [json.dumps({**r, "event_time": r["event_time"].isoformat()}).encode() for r in rows]
    return Events(rows, payloads)


# -- the oracle ---------------------------------------------------------------------------------


def _seconds(value: str | float | int) -> int:
    from headwater.project.strict import duration_seconds

    return round(duration_seconds(value) * 1_000_000)


def oracle(
    events: pa.Table,
    config: dict[str, Any],
    late_dropped: bool = True,
    closed_only: bool = True,
) -> pa.Table:
    """The table a stream with `config` must end with, after reading `events` (columns
    `seq` (arrival order), the event-time column and the others), computed in one query.

    `late_dropped`: leave late events out (False: every event counts, as with
    `late_events: update`). `closed_only`: only windows the final watermark closed."""
    window = config["window"]
    keys = window.get("key", [])
    keys = [keys] if isinstance(keys, str) else list(keys)
    time_column = config["event_time"]
    delay = _seconds(config["watermark"])
    lateness = _seconds(config.get("allowed_lateness", 0))
    key_list = "".join(f'"{k}", ' for k in keys)
    aggregates = ", ".join(f'{text} as "{name}"' for name, text in window["aggregates"].items())
    sums = [name for name, text in window["aggregates"].items() if text.lower().startswith("sum")]
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.register("events", events)
    with_marks = f"""
        select *, epoch_us("{time_column}") as ts,
            max(epoch_us("{time_column}")) over (
                order by seq rows between unbounded preceding and 1 preceding) - {delay} as wm
        from events"""
    final_mark = f'(select max(epoch_us("{time_column}")) - {delay} from events)'
    if window["type"] in ("tumbling", "hopping"):
        size = _seconds(window["size"])
        slide = _seconds(window.get("slide", window["size"]))
        on_time = f"wm is null or we + {lateness} > wm" if late_dropped else "true"
        sql = f"""
            with marked as ({with_marks}),
            assigned as (
                select marked.*, k * {slide} as ws, k * {slide} + {size} as we
                from marked, unnest(range((ts - {size}) // {slide} + 1, ts // {slide} + 1)) as u(k)
            )
            select make_timestamp(ws) as window_start, make_timestamp(we) as window_end,
                {key_list} {aggregates}
            from assigned where {on_time}
            group by all
            having {"we <= " + final_mark if closed_only else "true"}"""
    else:
        gap = _seconds(window["gap"])
        on_time = f"wm is null or ts + {lateness} > wm" if late_dropped else "true"
        partition = f"partition by {', '.join(chr(34) + k + chr(34) for k in keys)}" if keys else ""
        sql = f"""
            with marked as ({with_marks}),
            kept as (select * from marked where {on_time}),
            starts as (
                select *, case when ts - lag(ts) over ({partition} order by ts) < {gap}
                    then 0 else 1 end as new_session
                from kept),
            numbered as (
                select *, sum(new_session) over ({partition} order by ts, seq
                    rows unbounded preceding) as session
                from starts)
            select make_timestamp(min(ts)) as window_start,
                make_timestamp(max(ts) + {gap}) as window_end, {key_list} {aggregates}
            from numbered
            group by {key_list} session
            having {"max(ts) + " + str(gap) + " <= " + final_mark if closed_only else "true"}"""
    result = connection.sql(sql).to_arrow_table()
    for name in sums:
        column = result.column(name)
        if pa.types.is_decimal(column.type):
            result = result.set_column(
                result.schema.get_field_index(name), name, column.cast(pa.int64())
            )
    connection.close()
    return result


def late_events(events: pa.Table, config: dict[str, Any]) -> pa.Table:
    """The (event, window) pairs the rules call late, with `seq`, in one query: the events a
    `late_events: quarantine` stream sets aside."""
    window = config["window"]
    delay = _seconds(config["watermark"])
    lateness = _seconds(config.get("allowed_lateness", 0))
    size = _seconds(window.get("size") or window.get("gap"))
    slide = _seconds(window.get("slide", window.get("size") or window.get("gap")))
    connection = duckdb.connect()
    connection.register("events", events)
    late = (
        f"ts + {lateness} <= wm"
        if window["type"] == "session"
        else f"k * {slide} + {size} + {lateness} <= wm"
    )
    windows = (
        "unnest([ts // 1]) as u(k)"
        if window["type"] == "session"
        else f"unnest(range((ts - {size}) // {slide} + 1, ts // {slide} + 1)) as u(k)"
    )
    result = connection.sql(
        f"""with marked as (
                select *, epoch_us(event_time) as ts,
                    max(epoch_us(event_time)) over (
                        order by seq rows between unbounded preceding and 1 preceding)
                        - {delay} as wm
                from events)
            select seq, event_time, key, value from marked, {windows}
            where wm is not null and {late} order by seq"""
    ).to_arrow_table()
    connection.close()
    return result
