"""Partitions of an asset: slices of time (hourly, daily, weekly, monthly) or a list of keys.

A partitioned model is built one partition at a time. Each partition has a key (`2024-05-01`,
`2024-05-01T13`, `2024-W18`, `2024-05`, or one of the listed keys) and, for time partitions, the
half-open range `[start, end)` it covers in the partition's time zone. The model's SQL sees the
range as `{{ partition_start }}` / `{{ partition_end }}` (typed SQL literals) and the key as
`{{ partition_key }}`; the build replaces exactly those rows of the table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from headwater.project.strict import KeyValueError, StrictModel

Grain = Literal["hourly", "daily", "weekly", "monthly"]


class PartitionsConfig(StrictModel):
    """How a model is partitioned: by time (`grain` and `start`) or by a list of `keys`."""

    column: str
    """The column holding the partition's value: a date or timestamp for time partitions, the
    key for listed ones. Every row the model writes must fall in its partition."""
    grain: Grain | None = None
    """Time partitions: `hourly`, `daily`, `weekly` (Monday to Monday) or `monthly`."""
    start: dt.date | dt.datetime | None = None
    """Time partitions: the first partition's start (a date, or a time for hourly)."""
    end: dt.date | dt.datetime | None = None
    """Time partitions: no partition starts at or after this (default: none in the future)."""
    timezone: str = "UTC"
    """Time zone in which partitions start and end (an IANA name, e.g. `Europe/Berlin`)."""
    keys: list[str] = Field(default_factory=list)
    """Listed partitions: the keys (e.g. regions)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @property
    def timestamps(self) -> bool:
        """Whether the bounds are times with a zone (hourly, or any grain in a zone other than
        UTC, where a local day does not start at midnight UTC) rather than dates."""
        return self.grain == "hourly" or (self.grain is not None and self.timezone != "UTC")

    @model_validator(mode="after")
    def _one_kind(self) -> PartitionsConfig:
        if self.keys and self.grain:
            raise KeyValueError("keys", "give either 'grain' (time) or 'keys' (a list), not both")
        if not self.keys and not self.grain:
            raise KeyValueError("grain", "give 'grain' and 'start' for time partitions, or 'keys'")
        if self.grain and self.start is None:
            raise KeyValueError("start", f"{self.grain} partitions need 'start' (the first one)")
        if len(set(self.keys)) != len(self.keys):
            raise KeyValueError("keys", "the keys must be distinct")
        return self


@dataclass(frozen=True)
class Partition:
    """One partition: its key and, for time partitions, its range in local time."""

    key: str
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def literals(self, timestamps: bool) -> dict[str, str]:
        """The SQL literals a model sees: `partition_key`, `partition_start`, `partition_end`
        (times with their zone when `timestamps`, else dates)."""
        from headwater.sqltext import literal

        values = {"partition_key": literal(self.key)}
        if self.start is not None and self.end is not None:
            values["partition_start"] = _moment_literal(self.start, timestamps)
            values["partition_end"] = _moment_literal(self.end, timestamps)
        return values


def _moment_literal(moment: dt.datetime, timestamps: bool) -> str:
    if timestamps:
        return f"TIMESTAMPTZ '{moment.isoformat(sep=' ')}'"
    return f"DATE '{moment.date().isoformat()}'"


class PartitionSet:
    """Every partition of one asset, and how keys map to ranges."""

    def __init__(self, config: PartitionsConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)

    @property
    def is_time(self) -> bool:
        """True for time partitions."""
        return self.config.grain is not None

    def _first(self) -> dt.datetime:
        start = self.config.start
        assert start is not None
        if not isinstance(start, dt.datetime):
            start = dt.datetime(start.year, start.month, start.day)
        moment = start.replace(tzinfo=self.zone) if start.tzinfo is None else start
        return self._floor(moment.astimezone(self.zone))

    def _floor(self, moment: dt.datetime) -> dt.datetime:
        grain = self.config.grain
        if grain == "hourly":
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if grain == "weekly":
            return day - dt.timedelta(days=day.weekday())
        if grain == "monthly":
            return day.replace(day=1)
        return day

    def _next(self, moment: dt.datetime) -> dt.datetime:
        grain = self.config.grain
        if grain == "monthly":
            year, month = (
                (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
            )
            return moment.replace(year=year, month=month)
        step = {"hourly": dt.timedelta(hours=1), "daily": dt.timedelta(days=1)}.get(
            str(grain), dt.timedelta(days=7)
        )
        # add in UTC for hours (DST-safe), in local wall time for days and weeks
        if grain == "hourly":
            return (moment.astimezone(dt.UTC) + step).astimezone(self.zone)
        local = moment.replace(tzinfo=None) + step
        return local.replace(tzinfo=self.zone)

    def key_of(self, start: dt.datetime) -> str:
        """The key of the partition starting at `start`."""
        grain = self.config.grain
        if grain == "hourly":
            return start.strftime("%Y-%m-%dT%H")
        if grain == "weekly":
            year, week, _ = start.isocalendar()
            return f"{year}-W{week:02d}"
        if grain == "monthly":
            return start.strftime("%Y-%m")
        return start.strftime("%Y-%m-%d")

    def all(self, now: dt.datetime | None = None) -> list[Partition]:
        """Every partition up to the last one that has ended by `now` (time), or every key."""
        if not self.is_time:
            return [Partition(k) for k in self.config.keys]
        now = (now or dt.datetime.now(dt.UTC)).astimezone(self.zone)
        limit = self._limit()
        found: list[Partition] = []
        start = self._first()
        while True:
            end = self._next(start)
            if end > now or (limit is not None and start >= limit):
                return found
            found.append(Partition(self.key_of(start), start, end))
            start = end

    def _limit(self) -> dt.datetime | None:
        end = self.config.end
        if end is None:
            return None
        if not isinstance(end, dt.datetime):
            end = dt.datetime(end.year, end.month, end.day)
        return end.replace(tzinfo=self.zone) if end.tzinfo is None else end

    def between(
        self, first: str | None, last: str | None, now: dt.datetime | None = None
    ) -> list[Partition]:
        """The partitions from key or date `first` to `last`, both included (each end open
        when None).

        Returns:
            The partitions in order; never empty.

        Raises:
            ValueError: a bound matches no partition, the range is reversed, `first` lies
                before the first partition, or the range holds no partition. The message
                names the range and the valid bounds.
        """
        every = self.all(now)
        if not self.is_time:
            keys = [p.key for p in every]
            lo = self._key_index(keys, first, "--start") if first else 0
            hi = self._key_index(keys, last, "--end") if last else len(keys) - 1
            if lo > hi:
                raise ValueError(
                    f"the range --start {first} --end {last} is reversed: {first} comes after "
                    f"{last} in the keys ({', '.join(keys)}); swap them"
                )
            return every[lo : hi + 1]
        lo_time = self._bound(first) if first else None
        hi_time = self._bound(last) if last else None
        if lo_time is not None and hi_time is not None and lo_time > hi_time:
            raise ValueError(
                f"the range --start {first} --end {last} is reversed: {first} is after "
                f"{last}; swap them (partitions run from {self._span(every)})"
            )
        first_start = self._first()
        for option, text, moment in (("--start", first, lo_time), ("--end", last, hi_time)):
            if moment is not None and moment < first_start:
                raise ValueError(
                    f"{option} {text} is before the first partition "
                    f"({self.key_of(first_start)}, the definition's start); partitions run "
                    f"from {self._span(every)}"
                )
        chosen = [
            p
            for p in every
            if p.start is not None
            and (lo_time is None or (p.end is not None and p.end > lo_time))
            and (hi_time is None or p.start <= hi_time)
        ]
        if not chosen:
            raise ValueError(
                f"the range --start {first or '(first)'} --end {last or '(last)'} holds no "
                f"partition: partitions run from {self._span(every)}"
            )
        return chosen

    def _span(self, every: list[Partition]) -> str:
        """The valid bounds in words: `FIRST to LAST`, or why there is no partition yet."""
        if every:
            return f"{every[0].key} to {every[-1].key}"
        first = self.key_of(self._first())
        limit = self._limit()
        if limit is not None and self._first() >= limit:
            return f"{first} on, but 'end' allows none"
        return f"{first} on, but none has ended yet"

    @staticmethod
    def _key_index(keys: list[str], key: str, option: str) -> int:
        """Where listed key `key` stands among `keys`.

        Raises:
            ValueError: `key` is not one of them (the message lists them).
        """
        if key not in keys:
            raise ValueError(f"{option} {key} is not one of the partition keys ({', '.join(keys)})")
        return keys.index(key)

    def _bound(self, text: str) -> dt.datetime:
        """A partition key, a date or a time, as the local start of its partition.

        Raises:
            ValueError: `text` is none of these.
        """
        import re

        week = re.fullmatch(r"(\d{4})-W(\d{2})", text)
        month = re.fullmatch(r"(\d{4})-(\d{2})", text)
        hour = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2})", text)
        try:
            if week:
                moment = dt.datetime.fromisocalendar(int(week[1]), int(week[2]), 1)
            elif month:
                moment = dt.datetime(int(month[1]), int(month[2]), 1)
            elif hour:
                moment = dt.datetime.fromisoformat(f"{hour[1]}T{hour[2]}:00")
            else:
                moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"'{text}' is not a partition key, a date or a time (e.g. 2024-05-01)"
            ) from None
        local = moment.replace(tzinfo=self.zone) if moment.tzinfo is None else moment
        return self._floor(local.astimezone(self.zone))

    def latest(self, now: dt.datetime | None = None) -> list[Partition]:
        """What a plain run builds: the most recent complete time partition, or every key."""
        every = self.all(now)
        return every[-1:] if self.is_time else every

    def get(self, key: str, now: dt.datetime | None = None) -> Partition:
        """The partition named `key`.

        Raises:
            KeyError: there is none.
        """
        try:
            found = self.all(now) if not self.is_time else self.between(key, key, now)
        except ValueError:
            raise KeyError(key) from None
        for partition in found:
            if partition.key == key:
                return partition
        raise KeyError(key)


def known_zone(value: str) -> str:
    """`value` when it names an IANA time zone.

    Raises:
        ValueError: it does not (the message says what a zone name looks like).
    """
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not a time zone name (e.g. UTC, Europe/Berlin)") from None
    return value
