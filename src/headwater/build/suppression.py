"""The suppression list at load time: rows of an erased subject are not loaded again.

An erasure (`headwater erase`) leaves the keyed hashes of the subject's identity in the
catalog, per source or seed column. A load of that table filters its rows in SQL before they
are written: a row whose column's value (trimmed, lower case) hashes to one of them is skipped
and counted. The key is handed to the engine as a one-row table, never as SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.sqltext import identifier, literal

if TYPE_CHECKING:
    from headwater.engine.base import EngineSession

KEY_RELATION = "__headwater_suppression_key"
HASHES_RELATION = "__headwater_suppressed"


@dataclass(frozen=True)
class Suppression:
    """The erased values one table's loads skip."""

    hashes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Column -> keyed hashes (sha256 of key and normalised value, hex) of erased values."""
    key: str | None = None
    """The hash key (from the environment); needed when there are hashes."""
    key_env: str = ""
    """The environment variable it comes from, for the error when it is missing."""

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def filter(self, session: EngineSession, sql: str, columns: list[str]) -> tuple[str, str]:
        """Register what the filter reads in `session` and return (the rows of `sql` to load,
        the rows of `sql` skipped) as SQL; `columns` are the columns `sql` gives.

        Raises:
            UsageError: the hash key is not set.
        """
        import pyarrow as pa

        if not self.key:
            raise UsageError(
                f"erased subjects must be kept out of this load, and the environment variable "
                f"{self.key_env} holding their key is not set",
                hint=f"set {self.key_env} (the key headwater erase used)",
            )
        spelled = {c.lower(): c for c in columns}
        pairs = [
            (spelled[name.lower()], digest)
            for name, digests in self.hashes.items()
            if name.lower() in spelled
            for digest in digests
        ]
        session.register_arrow(KEY_RELATION, pa.table({"k": [self.key]}))
        schema = pa.schema([("c", pa.string()), ("h", pa.string())])
        hashes = pa.table({"c": [c for c, _ in pairs], "h": [h for _, h in pairs]}, schema=schema)
        session.register_arrow(HASHES_RELATION, hashes)
        if not pairs:
            return sql, f"SELECT * FROM ({sql}) WHERE false"
        tests = " OR ".join(
            f"(h.c = {literal(column)} AND h.h = sha256((SELECT k FROM {KEY_RELATION}) || "
            f"lower(trim(CAST(s.{identifier(column)} AS VARCHAR)))))"
            for column in sorted({c for c, _ in pairs})
        )
        erased = f"EXISTS (SELECT 1 FROM {HASHES_RELATION} AS h WHERE {tests})"
        return (
            f"SELECT s.* FROM ({sql}) AS s WHERE NOT {erased}",
            f"SELECT s.* FROM ({sql}) AS s WHERE {erased}",
        )


def suppression_hash(key: str, value: object) -> str:
    """The hash the suppression list keeps of `value`: sha256 of the key and the value as
    trimmed, lower-case text (what the load's SQL computes)."""
    import hashlib

    return hashlib.sha256((key + str(value).strip().lower()).encode()).hexdigest()


def without_erased(session: EngineSession, suppression: Suppression, sql: str) -> tuple[str, int]:
    """The rows of `sql` to load, as SQL, and how many rows of erased subjects it skips (the
    count costs a scan, only when the table has a suppression list).

    Raises:
        UsageError: the hash key is not set.
    """
    if not suppression:
        return sql, 0
    columns = session.query(f"SELECT * FROM ({sql}) AS s LIMIT 0").column_names
    kept, skipped = suppression.filter(session, sql, list(columns))
    count = session.query(f"SELECT count(*) AS n FROM ({skipped}) AS x").column("n")[0]
    return kept, int(count.as_py() or 0)


def skipped_note(count: int) -> str:
    """What a load's message says of the rows it skipped ('' when none)."""
    return f", {count} rows of erased subjects skipped" if count else ""
