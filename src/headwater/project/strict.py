"""The base of every config model, and the error that points validation at one key."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|[smhdw])\s*$")
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]


def duration_seconds(value: str | float) -> float:
    """Seconds in a duration: a number of seconds, or text like `250ms`, `30s`, `10m`, `2h`,
    `1d`.

    Raises:
        ValueError: `value` is neither.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{value} is negative; a duration is zero or more")
        return float(value)
    match = DURATION.match(str(value))
    if match is None:
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 10m, 2h or 1d")
    amount, unit = match.groups()
    return float(amount) * DURATION_UNITS[unit]


def _duration(value: object) -> float | str:
    if isinstance(value, int | float | str):
        duration_seconds(value)
        return value
    raise ValueError("expected a duration: seconds, or text like 30s, 10m, 2h")


Duration = Annotated[float | str, AfterValidator(_duration)]
"""A duration in config: a number of seconds, or `30s`, `10m`, `2h`, `1d`."""


class KeyValueError(ValueError):
    """A validation failure caused by one key's value; errors point at that key's line."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FreshnessSla(StrictModel):
    """How stale an asset may get: the scheduler raises an alert when its last successful
    build is older than `max_lag`, and a resolution when it is built again."""

    max_lag: Duration
    """E.g. `2h`, `1d`, or seconds."""
