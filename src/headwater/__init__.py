"""Headwater: one Python package for the data platform.

Importing `headwater` is cheap: it does no I/O and loads no heavy library; `Project` is
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Project", "__version__"]

if TYPE_CHECKING:
    from headwater.workspace import Project


def __getattr__(name: str) -> Any:
    if name == "Project":
        from headwater.workspace import Project

        return Project
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")
