"""Headwater: one Python package for the data platform.

Importing `headwater` is cheap: it does no I/O and loads no heavy library; `Project` and the
scheduling helpers (`Job`, `sensor`, `RunRequest`, `Scheduler`) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.version import __version__

__all__ = ["Job", "Project", "RunRequest", "Scheduler", "__version__", "sensor"]

if TYPE_CHECKING:
    from headwater.orchestrate.scheduler import Scheduler
    from headwater.orchestrate.sensors import Job, RunRequest, sensor
    from headwater.workspace import Project

_LAZY = {
    "Project": "headwater.workspace",
    "Job": "headwater.orchestrate.sensors",
    "RunRequest": "headwater.orchestrate.sensors",
    "sensor": "headwater.orchestrate.sensors",
    "Scheduler": "headwater.orchestrate.scheduler",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
