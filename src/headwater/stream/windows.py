"""Event-time windows: assign events to windows, keep open windows' partial aggregates, and say
which rows to write when the watermark closes them.

Times are integer microseconds since the epoch inside this module. The rules (docs/streaming.md):

- The watermark is the largest event time seen minus the `watermark` delay. It is tracked per
  event in arrival order, so an event is judged against the watermark of the events before it,
  however the micro-batches fell (a batch replayed after a crash gives the same result).
- A window `[start, end)` closes when the watermark reaches `end`: its final row is written.
- An event is late when the watermark has passed its window's end plus `allowed_lateness`
  (for a session window, when it has passed the event's own time plus `allowed_lateness`, since
  such an event might belong to a session already closed). A late event is dropped and counted,
  quarantined, or (`late_events: update`) merged into the row already written.
- An event that arrives after its window closed but within `allowed_lateness` updates the
  window, which is written again; state is dropped once the watermark passes `end` plus
  `allowed_lateness`. A session such an event stretches past the watermark is open again:
  its row leaves the table until the session closes under its new bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.project.streams import StreamConfig, parse_aggregate
from headwater.sqltext import column_list
from headwater.sqltext import identifier as q
from headwater.storage.base import MergeClause

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.base import EngineSession

NO_WATERMARK = -(2**62)
"""The watermark before any event (far below any real time, and safe to subtract from)."""
WINDOW_START = "window_start"
WINDOW_END = "window_end"
IS_FINAL = "is_final"
OP = "_op"
"""In rows to merge: `replace` (the row's new values), `delete` (a row superseded by a merged
session) or `combine` (a late event's partial aggregate, added to the row written)."""


@dataclass
class WindowOutput:
    """What one micro-batch does to the windows."""

    appends: pa.Table
    """Rows never written before: appended."""
    merges: pa.Table | None
    """Rows to merge on (window, key), with an `_op` column; None when there are none."""
    late: pa.Table
    """The late events (each with `window_start`/`window_end` of the window it missed)."""
    state: pa.Table
    """The open windows after this batch."""
    watermark: int
    closed: int
    """Windows closed by this batch."""


@dataclass(frozen=True)
class _Aggregate:
    name: str
    function: str
    argument: str

    def partials(self, source: str, sum_type: str | None) -> list[str]:
        """SQL computing this aggregate's partial columns from `source` (an expression);
        `sum_type`: the type a sum is kept as."""
        name = self.name
        if self.function == "count":
            arg = "*" if self.argument == "*" else source
            return [f"count({arg})::BIGINT as {q(name)}"]
        if self.function == "avg":
            return [
                f"sum({source})::DOUBLE as {q(name + '__sum')}",
                f"count({source})::BIGINT as {q(name + '__n')}",
            ]
        if self.function == "sum":
            return [f"sum({source})::{sum_type} as {q(name)}"]
        return [f"{self.function}({source}) as {q(name)}"]

    def combined(self, sum_type: str | None) -> list[str]:
        """SQL combining partial columns (in a GROUP BY over partial rows)."""
        name = self.name
        if self.function == "count":
            return [f"sum({q(name)})::BIGINT as {q(name)}"]
        if self.function == "avg":
            total, count = name + "__sum", name + "__n"
            return [
                f"sum({q(total)})::DOUBLE as {q(total)}",
                f"sum({q(count)})::BIGINT as {q(count)}",
            ]
        if self.function == "sum":
            return [f"sum({q(name)})::{sum_type} as {q(name)}"]
        return [f"{self.function}({q(name)}) as {q(name)}"]

    def final(self) -> str:
        """SQL for the aggregate's value from its partial columns."""
        if self.function == "avg":
            total, count = q(self.name + "__sum"), q(self.name + "__n")
            return f"case when {count} > 0 then {total} / {count} end as {q(self.name)}"
        return q(self.name)

    def added(self) -> str:
        """SQL (a merge's update) adding a late partial (`source`) to a written row
        (`target`)."""
        t, s = f"target.{q(self.name)}", f"source.{q(self.name)}"
        if self.function == "count":
            return f"coalesce({t}, 0) + coalesce({s}, 0)"
        if self.function == "sum":
            # a sum of no values is NULL, as SQL's: NULL + NULL stays NULL
            return f"coalesce({t} + {s}, {t}, {s})"
        pick = "least" if self.function == "min" else "greatest"
        return f"coalesce({pick}({t}, {s}), {t}, {s})"


class WindowOperator:
    """Aggregates one stream's events in its windows, batch after batch."""

    def __init__(self, session: EngineSession, config: StreamConfig) -> None:
        assert config.window is not None and config.event_time is not None
        self.session = session
        self.config = config
        self.window = config.window
        self.keys = list(config.window.key)
        self.aggregates = [
            _Aggregate(name, *parse_aggregate(text))
            for name, text in config.window.aggregates.items()
        ]
        self.delay = round(config.watermark_s * 1_000_000)
        self.lateness = round(config.allowed_lateness_s * 1_000_000)
        self.size = round(self.window.size_s * 1_000_000)
        self.slide = round(self.window.slide_s * 1_000_000)
        self.gap = round(self.window.gap_s * 1_000_000)
        self.session_windows = self.window.type == "session"
        self.updates_late = config.late_events == "update" and not self.session_windows
        self._sum_types: dict[str, str] | None = None

    @property
    def merge_on(self) -> list[str]:
        """The columns identifying a window's row in the table."""
        return [WINDOW_START, WINDOW_END, *self.keys]

    def merge_clauses(self, columns: list[str]) -> list[MergeClause]:
        """How merged rows (see `OP`) change the table's row of their window; `columns`:
        the table's columns."""
        return [
            MergeClause(f"source.{OP} = 'delete'", None),
            MergeClause(f"source.{OP} = 'combine'", {a.name: a.added() for a in self.aggregates}),
            MergeClause(f"source.{OP} = 'replace'", {c: f"source.{q(c)}" for c in columns}),
        ]

    # -- the batch ---------------------------------------------------------------------------

    def process(self, events: pa.Table, state: pa.Table | None, watermark: int) -> WindowOutput:
        """Aggregate `events` (typed rows with the event-time column, none of it null) into
        `state` (the open windows; None before the first batch) under `watermark`, and
        return the rows to write and the new state."""
        import numpy as np
        import pyarrow as pa

        times = _micros(events.column(self.config.event_time))
        if len(times):
            seen = np.maximum.accumulate(times)
            before = np.empty_like(seen)
            before[0] = NO_WATERMARK + self.delay
            before[1:] = seen[:-1]
            marks = np.maximum(before - self.delay, watermark)
            new_watermark = max(watermark, int(seen[-1]) - self.delay)
        else:
            marks = np.empty(0, dtype=np.int64)
            new_watermark = watermark
        batch = events.append_column("_ts", pa.array(times)).append_column("_wm", pa.array(marks))
        self.session.register_arrow("_hw_batch", batch)
        late = self._assign_sessions() if self.session_windows else self._assign_windows()
        if state is None:
            self.session.execute(f"create or replace temp view _hw_state as {self._empty_state()}")
        else:
            self.session.register_arrow("_hw_state_in", state)
            self.session.execute("create or replace temp view _hw_state as from _hw_state_in")
        self.session.execute(f"create or replace temp table _hw_merged as {self._merge_sql()}")
        return self._emit(new_watermark, late)

    def _assign_windows(self) -> pa.Table:
        hops = self.size // self.slide
        start = f"(_ts - ((_ts % {self.slide} + {self.slide}) % {self.slide}))"
        if hops > 1:
            start = f"{start} - _hop * {self.slide}"
            source = f"_hw_batch, (select range as _hop from range({hops})) _hops"
        else:
            source = "_hw_batch"
        arguments = ", ".join(
            f"({a.argument}) as {q('_arg_' + a.name)}" for a in self.aggregates if a.argument != "*"
        )
        self.session.execute(
            f"""create or replace temp view _hw_assigned as
            select _hw_batch.*, {start} as _start, {start} + {self.size} as _end
            {", " + arguments if arguments else ""} from {source}"""
        )
        on_time = f"_end + {self.lateness} > _wm"
        if self.updates_late:
            # late events are aggregated too, flagged: a window they share with open state or
            # on-time events takes them in its own row (see `_merge_sql`)
            self.session.execute(
                f"""create or replace temp table _hw_partial as
                select _start, _end, {self._key_list()} {self._partials()}, true as _touched,
                    not ({on_time}) as _late
                from _hw_assigned group by all"""
            )
        else:
            self._partial(on_time)
        return self._late_events(on_time)

    def _assign_sessions(self) -> pa.Table:
        on_time = f"_ts + {self.lateness} > _wm"
        arguments = ", ".join(
            f"({a.argument}) as {q('_arg_' + a.name)}" for a in self.aggregates if a.argument != "*"
        )
        self.session.execute(
            f"""create or replace temp view _hw_assigned as
            select *, _ts as _start, _ts + {self.gap} as _end
            {", " + arguments if arguments else ""} from _hw_batch"""
        )
        # each on-time event is a one-event session; sessions that overlap are merged below
        self._partial(on_time)
        return self._late_events(on_time)

    def _partial(self, on_time: str) -> None:
        """Aggregate the on-time assigned events per window and key into `_hw_partial`."""
        self.session.execute(
            f"""create or replace temp table _hw_partial as
            select _start, _end, {self._key_list()} {self._partials()}, true as _touched
            from _hw_assigned where {on_time} group by all"""
        )

    def _late_events(self, on_time: str) -> pa.Table:
        """The assigned events that are not `on_time`, with the window each one missed."""
        return self.session.query(
            f"""select * exclude (_ts, _wm, _start, _end{self._argument_names()}),
            make_timestamp(_start) as {WINDOW_START}, make_timestamp(_end) as {WINDOW_END}
            from _hw_assigned where not ({on_time})"""
        )

    def _merge_sql(self) -> str:
        keys = self._key_list()
        types = self._kept_sum_types()
        combined = ", ".join(c for a in self.aggregates for c in a.combined(types.get(a.name)))
        union = "select * from _hw_state union all by name select * from _hw_partial"
        flags = """coalesce(bool_or(_touched), false) as _touched,
            coalesce(bool_or(_closed), false) as _closed"""
        if not self.session_windows:
            group = ", ".join(["_start", "_end", *(q(k) for k in self.keys)])
            # a window only late events reached has no row here but perhaps one in the table:
            # they are combined into it there (`_with_late_partials`)
            late = (
                ", bool_and(coalesce(_late, false)) as _only_late"
                if self.updates_late
                else ", false as _only_late"
            )
            return f"""select _start, _end, {keys} {combined}, {flags},
                coalesce(bool_or(_written), false) as _written {late}
                from ({union}) group by {group}"""
        partition = f"partition by {column_list(self.keys)}" if self.keys else ""
        # gaps and islands: a session starts where no earlier session of its key reaches
        return f"""with ordered as (
                select *, max(_end) over (
                    {partition} order by _start, _end
                    rows between unbounded preceding and 1 preceding) as _reach
                from ({union})),
            islands as (
                select *, sum(case when _reach is null or _start >= _reach then 1 else 0 end)
                    over ({partition} order by _start, _end rows unbounded preceding) as _island
                from ordered)
            select min(_start) as _start, max(_end) as _end, {keys} {combined}, {flags},
                coalesce(flatten(list(_written) filter (where _written is not null)), [])
                    as _written, false as _only_late
            from islands group by {", ".join(["_island", *(q(k) for k in self.keys)])}"""

    # -- what to write ---------------------------------------------------------------------------

    def _emit(self, watermark: int, late: pa.Table) -> WindowOutput:
        closes = f"_end <= {watermark}"
        updates = self.config.emit == "updates"
        written = "len(_written) > 0" if self.session_windows else "_written"
        fresh = f"not {written}"
        # written when it closes, and again when a change reaches it after (within the
        # allowed lateness); a session such a change stretches past the watermark is open
        # again, and written when it closes under its new bounds
        due = f"({closes}) and (not _closed or _touched)"
        if updates:
            due = f"({due}) or _touched"
        if self.updates_late:
            due = f"({due}) and not _only_late"
        appends = self.session.query(
            f"select {self._output_columns(watermark)} from _hw_merged where ({due}) and {fresh}"
        )
        merges = self.session.query(
            f"select {self._output_columns(watermark)}, 'replace' as {OP} from _hw_merged "
            f"where ({due}) and {written}"
        )
        if self.session_windows:
            merges = self._with_superseded(merges)
        if self.config.late_events == "update" and late.num_rows:
            merges = self._with_late_partials(merges, watermark)
        closed = (
            self.session.query(
                f"select count(*) from _hw_merged where ({closes}) and not _closed"
                + (" and not _only_late" if self.updates_late else "")
            )
            .column(0)[0]
            .as_py()
        )
        state = self.session.query(self._state_sql(watermark, due))
        return WindowOutput(
            appends=appends,
            merges=merges if merges.num_rows else None,
            late=late,
            state=state,
            watermark=watermark,
            closed=int(closed),
        )

    def _output_columns(self, watermark: int) -> str:
        finals = ", ".join(a.final() for a in self.aggregates)
        columns = (
            f"make_timestamp(_start) as {WINDOW_START}, make_timestamp(_end) as {WINDOW_END}, "
            f"{self._key_list()} {finals}"
        )
        if self.config.emit == "updates":
            columns += f", _end <= {watermark} as {IS_FINAL}"
        return columns

    def _with_superseded(self, merges: pa.Table) -> pa.Table:
        """Add `delete` rows for sessions written before under bounds a merge has changed:
        the merged session replaces them when it is written, and until then (stretched past
        the watermark, it is open again) the table holds no row of it."""
        import pyarrow as pa

        gone = self.session.query(
            f"""select make_timestamp(w.s) as {WINDOW_START}, make_timestamp(w.e) as {WINDOW_END},
                {self._key_list()} 'delete' as {OP}
            from (select *, unnest(_written) as w from _hw_merged where len(_written) > 0)
            where w.s <> _start or w.e <> _end"""
        )
        if not gone.num_rows:
            return merges
        return pa.concat_tables([merges, gone], promote_options="permissive")

    def _with_late_partials(self, merges: pa.Table, watermark: int) -> pa.Table:
        """Add `combine` rows for windows only late events reached (their rows, if any, are
        in the table alone); late events of a window written in this batch are in its row."""
        import pyarrow as pa

        names = ", ".join(q(a.name) for a in self.aggregates)
        partial = self.session.query(
            f"""select make_timestamp(_start) as {WINDOW_START},
                make_timestamp(_end) as {WINDOW_END}, {self._key_list()} {names}
                {", true as " + IS_FINAL if self.config.emit == "updates" else ""},
                'combine' as {OP}
            from _hw_merged where _only_late"""
        )
        if not partial.num_rows:
            return merges
        return pa.concat_tables([merges, partial], promote_options="permissive")

    def _state_sql(self, watermark: int, due: str) -> str:
        kept = f"_end + {self.lateness} > {watermark}"
        if self.session_windows:
            now_written = f"""case when {due} then [{{'s': _start, 'e': _end}}]
                else list_filter(_written, lambda w: w.s = _start and w.e = _end) end"""
        else:
            now_written = f"_written or ({due})"
        return f"""select * exclude (_only_late) replace (false as _touched,
            _end <= {watermark} as _closed, {now_written} as _written)
            from _hw_merged where {kept}"""

    def _empty_state(self) -> str:
        written = "[]::STRUCT(s BIGINT, e BIGINT)[]" if self.session_windows else "false"
        late = " exclude (_late)" if self.updates_late else ""
        return f"""select *{late} replace (false as _touched), false as _closed,
            {written} as _written from _hw_partial limit 0"""

    # -- pieces of SQL ---------------------------------------------------------------------------

    def _key_list(self) -> str:
        return "".join(f"{q(k)}, " for k in self.keys)

    def _partials(self) -> str:
        types = self._kept_sum_types()
        return ", ".join(
            p
            for a in self.aggregates
            for p in a.partials(
                "*" if a.argument == "*" else q("_arg_" + a.name), types.get(a.name)
            )
        )

    def _kept_sum_types(self) -> dict[str, str]:
        """The type each sum is kept as: DuckDB's, except BIGINT where DuckDB widens a sum of
        integers to HUGEINT (which Delta cannot store; Spark keeps a long sum a long)."""
        if self._sum_types is None:
            sums = [a for a in self.aggregates if a.function == "sum"]
            self._sum_types = {}
            if sums:
                probe = ", ".join(f"typeof(sum({q('_arg_' + a.name)}))" for a in sums)
                row = self.session.query(f"select {probe} from _hw_assigned where false")
                for index, aggregate in enumerate(sums):
                    kind = str(row.column(index)[0].as_py())
                    self._sum_types[aggregate.name] = "BIGINT" if kind == "HUGEINT" else kind
        return self._sum_types

    def _argument_names(self) -> str:
        return "".join(f", {q('_arg_' + a.name)}" for a in self.aggregates if a.argument != "*")


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """Event times as int64 microseconds since the epoch."""
    import pyarrow as pa

    kind = column.type
    if not pa.types.is_timestamp(kind):
        raise TypeError(f"not a timestamp: {kind}")
    if kind.unit != "us":
        column = column.cast(pa.timestamp("us", tz=kind.tz))
    micros: np.ndarray = column.cast(pa.int64()).to_numpy()
    return micros


if TYPE_CHECKING:
    import numpy as np
