"""Sensors: what the scheduler watches to run a job when data arrives or changes.

Built in: `files` (new or changed files under a glob) and `asset` (a new version of an asset,
for "run downstream when upstream changes"). A `python` sensor is a function of the project's
that returns run requests. Every sensor keeps a cursor in the catalog, so a restarted scheduler
neither misses a change nor acts on one twice.

A project may also define jobs and sensors in Python, in `schedules.py` at its root:

    from headwater import Job, RunRequest, sensor

    jobs = [Job("hourly_marts", select=["marts+"], cron="0 * * * *")]

    @sensor(job="hourly_marts", interval="1m")
    def queue_has_work(context):
        return RunRequest(reason="work queued") if queue_length() else None
"""

from __future__ import annotations

import datetime as dt
import glob
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from headwater.errors import ConfigError, Location
from headwater.project.config import JobConfig, SensorConfig

SCHEDULES_FILE = "schedules.py"


@dataclass
class RunRequest:
    """A sensor's request to run a job (its selection, unless `select` overrides it)."""

    job: str | None = None
    select: list[str] | None = None
    reason: str = ""


@dataclass
class SensorContext:
    """What a sensor function is given: its cursor (kept between evaluations) and the time."""

    name: str
    cursor: str | None
    project_root: Path
    now: dt.datetime
    new_cursor: str | None = None
    _moved: bool = False

    def update_cursor(self, value: str | None) -> None:
        """Keep `value` as the cursor the next evaluation sees."""
        self.new_cursor, self._moved = value, True


SensorFunction = Callable[[SensorContext], "RunRequest | list[RunRequest] | None"]


@dataclass
class Job:
    """A job defined in Python (`schedules.py`): the same settings as under `jobs:`."""

    name: str
    select: list[str] = field(default_factory=list)
    cron: str | None = None
    timezone: str = "UTC"
    catch_up: str = "latest"
    exclude: list[str] = field(default_factory=list)
    full_refresh: bool = False

    def config(self) -> JobConfig:
        """The job as configuration (validated like `headwater.yml`'s jobs)."""
        return JobConfig.model_validate(
            {
                "select": self.select,
                "exclude": self.exclude,
                "cron": self.cron,
                "timezone": self.timezone,
                "catch_up": self.catch_up,
                "full_refresh": self.full_refresh,
            }
        )


def sensor(
    job: str | None = None, interval: str | float = 30, name: str | None = None
) -> Callable[[SensorFunction], SensorFunction]:
    """Mark a function of `schedules.py` as a sensor evaluated every `interval`."""

    def mark(function: SensorFunction) -> SensorFunction:
        function.__headwater_sensor__ = {  # type: ignore[attr-defined]
            "name": name or function.__name__,
            "job": job,
            "interval": interval,
        }
        return function

    return mark


@dataclass
class Sensor:
    """A sensor ready to evaluate: its settings and, for Python ones, its function."""

    name: str
    config: SensorConfig
    function: SensorFunction | None = None

    def evaluate(
        self, context: SensorContext, tokens: Callable[[str], str | None]
    ) -> list[RunRequest]:
        """Run the sensor; its new cursor is left in `context.new_cursor`. `tokens` gives an
        asset's current version token (asset sensors)."""
        if self.config.type == "files":
            return self._files(context)
        if self.config.type == "asset":
            return self._assets(context, tokens)
        assert self.function is not None
        found = self.function(context)
        if not context._moved:
            context.new_cursor = context.cursor
        requests = [] if found is None else found if isinstance(found, list) else [found]
        return [
            RunRequest(r.job or self.config.job, r.select, r.reason or f"sensor {self.name}")
            for r in requests
        ]

    def _files(self, context: SensorContext) -> list[RunRequest]:
        assert self.config.path is not None
        pattern = self.config.path
        if not os.path.isabs(pattern):
            pattern = str(context.project_root / pattern)
        seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
        current: dict[str, list[int]] = {}
        for path in sorted(glob.glob(pattern, recursive=True)):
            if os.path.isfile(path):
                stat = os.stat(path)
                current[os.path.relpath(path, context.project_root)] = [
                    stat.st_size,
                    stat.st_mtime_ns,
                ]
        changed = [p for p, signature in current.items() if seen.get(p) != signature]
        context.new_cursor = json.dumps(current, sort_keys=True)
        if not changed:
            return []
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        return [RunRequest(self.config.job, None, f"sensor {self.name}: new or changed {shown}")]

    def _assets(
        self, context: SensorContext, tokens: Callable[[str], str | None]
    ) -> list[RunRequest]:
        seen: dict[str, str | None] = json.loads(context.cursor) if context.cursor else {}
        current = {asset: tokens(asset) for asset in self.config.assets}
        context.new_cursor = json.dumps(current, sort_keys=True)
        changed = [a for a, token in current.items() if token is not None and seen.get(a) != token]
        if not changed or (context.cursor is None and not seen):
            # the first evaluation sets the cursor: only later versions are news
            return [] if context.cursor is None else self._request(changed)
        return self._request(changed)

    def _request(self, changed: list[str]) -> list[RunRequest]:
        if not changed:
            return []
        return [
            RunRequest(
                self.config.job, None, f"sensor {self.name}: new version of {', '.join(changed)}"
            )
        ]


def load_schedules(root: Path) -> tuple[dict[str, JobConfig], list[Sensor]]:
    """The jobs and sensors a project defines in Python (`schedules.py`), if it has one.

    Raises:
        ConfigError: the file does not import, or a sensor's settings are invalid.
    """
    path = root / SCHEDULES_FILE
    if not path.is_file():
        return {}, []
    module = _import(path, "headwater_project_schedules")
    jobs: dict[str, JobConfig] = {}
    for job in getattr(module, "jobs", []) or []:
        if not isinstance(job, Job):
            raise ConfigError(
                f"{SCHEDULES_FILE}: 'jobs' must hold headwater.Job objects, "
                f"found {type(job).__name__}",
                Location(file=SCHEDULES_FILE),
                "write jobs = [Job('name', select=[...], cron='0 * * * *')]",
            )
        jobs[job.name] = _validated(job.config, SCHEDULES_FILE)
    sensors = []
    for value in vars(module).values():
        marked = getattr(value, "__headwater_sensor__", None)
        if marked is None:
            continue
        settings = {
            "type": "python",
            "function": SCHEDULES_FILE,
            "job": marked["job"],
            "interval": marked["interval"],
        }
        config = _validated(partial(SensorConfig.model_validate, settings), SCHEDULES_FILE)
        sensors.append(Sensor(marked["name"], config, value))
    return jobs, sensors


def python_sensor(root: Path, name: str, config: SensorConfig) -> Sensor:
    """A `type: python` sensor of `headwater.yml`, its function loaded from the project.

    Raises:
        ConfigError: the file or the function is not there.
    """
    assert config.function is not None
    file, _, function_name = config.function.partition(":")
    path = root / file
    if not path.is_file() or not function_name:
        raise ConfigError(
            f"sensor {name}: function '{config.function}' not found",
            Location(file="headwater.yml", asset=f"sensors.{name}"),
            "write 'function: file.py:function_name' with a file in the project",
        )
    module = _import(path, f"headwater_sensor_{name}")
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(
            f"sensor {name}: {file} has no function '{function_name}'",
            Location(file=file),
            f"define def {function_name}(context): ... in {file}",
        )
    return Sensor(name, config, function)


def _import(path: Path, module_name: str) -> Any:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path.name}", Location(file=path.name))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(
            f"{path.name} failed to import: {type(exc).__name__}: {exc}",
            Location(file=path.name),
            "fix the error in the file (run it with python to see the traceback)",
        ) from None
    return module


def _validated(make: Callable[[], Any], file: str) -> Any:
    from pydantic import ValidationError

    try:
        return make()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{file}: invalid {where}: {first['msg']}",
            Location(file=file),
            "see docs/orchestration.md for the settings of jobs and sensors",
        ) from None
