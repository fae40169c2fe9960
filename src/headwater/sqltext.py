"""Quoting of identifiers and literals that Headwater puts into DuckDB SQL.

Every name or value Headwater itself writes into a statement goes through these helpers, which
is both correctness (odd names) and our defence against injection. The rules are DuckDB's (and
standard SQL's): a quote inside a quoted identifier or string is doubled, nothing else is
special. They are written out rather than delegated to sqlglot so that a build never imports a
SQL parser just to quote a name; tests check them against sqlglot and against DuckDB itself.
"""

from __future__ import annotations

import math
from typing import Any, Protocol


class Named(Protocol):
    """A table's two-part name (a `TableRef`, an asset)."""

    @property
    def namespace(self) -> str: ...

    @property
    def name(self) -> str: ...


def identifier(name: str) -> str:
    """Return `name` as a quoted SQL identifier."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """Return `value` (str, int, float, bool or None) as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # DuckDB reads a bare 0.1 as DECIMAL; the cast keeps a Python float a DOUBLE.
        text = repr(value) if math.isfinite(value) else f"'{value}'"
        return f"CAST({text} AS DOUBLE)"
    text = str(value)
    if "\x00" in text:
        raise ValueError("string literal contains a NUL character")
    return "'" + text.replace("'", "''") + "'"


def qualified(ref: Named) -> str:
    """Return `"namespace"."name"`."""
    return f"{identifier(ref.namespace)}.{identifier(ref.name)}"


def column_list(names: list[str]) -> str:
    """Return a comma-separated list of quoted identifiers."""
    return ", ".join(identifier(n) for n in names)
