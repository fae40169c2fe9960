"""Passing on the warnings a project load finds (a file Headwater does not read), each once.

A project is loaded again after its files change, and the reload finds the same warnings; the
user hears each only the first time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable


class WarningsOnce:
    """Tells `on_warning` (by default the `headwater` logger) each warning it has not told
    before."""

    def __init__(self, on_warning: Callable[[str], None] | None = None) -> None:
        """Pass warnings on to `on_warning`, or log them when it is None."""
        self._on_warning = on_warning
        self._told: set[str] = set()

    def __call__(self, warnings: Iterable[str]) -> None:
        """Pass on those of `warnings` not passed on before."""
        for warning in warnings:
            if warning in self._told:
                continue
            self._told.add(warning)
            if self._on_warning is not None:
                self._on_warning(warning)
            else:
                logging.getLogger("headwater").warning("%s", warning)
