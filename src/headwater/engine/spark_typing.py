"""The column types a model's result has in DuckDB, for the Spark engine to write it with.

Models are DuckDB SQL, so DuckDB's binder decides what type each output column has: `sum()` of
a DECIMAL(15,2) is DECIMAL(38,2) in DuckDB but DECIMAL(25,2) in Spark, `row_number()` is BIGINT
in DuckDB but INT in Spark, and so on. The Spark engine keeps an embedded DuckDB database with an
empty table (of the same schema) for each table and view it registers, binds each statement it
writes there, and casts Spark's result to those types. A table is then the same whichever engine
built it, and either engine can append to it. Binding reads no rows and runs nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.engine.duckdb import DuckDBEngine
    from headwater.engine.registry import EnginePlace
    from headwater.storage.base import Snapshot, TableRef

_LOG = logging.getLogger(__name__)


class DuckDBTyping:
    """Empty copies of a Spark session's tables in DuckDB, to learn DuckDB's result types."""

    def __init__(self, place: EnginePlace) -> None:
        self._place = place
        self._engine: DuckDBEngine | None = None
        self._lock = threading.Lock()
        # DuckDB refuses two threads replacing one view at once; typing must not lose either
        self._registering = threading.Lock()

    def _database(self) -> DuckDBEngine:
        with self._lock:
            if self._engine is None:
                from headwater.engine.duckdb import DuckDBEngine

                # one thread is plenty: nothing here reads rows
                self._engine = DuckDBEngine(threads=1, file_search_path=self._place.root)
            return self._engine

    def register_table(self, ref: TableRef, snapshot: Snapshot) -> None:
        """Hold an empty table of `snapshot`'s schema under the name `ref`."""
        empty = dataclasses.replace(snapshot, files=(), needs_arrow_reader=False)
        self._quietly(lambda: self._database().session().register_table(ref, empty))

    def register_view(self, ref: TableRef, sql: str) -> None:
        """Hold the view `ref` as `sql` (over the empty tables)."""
        self._quietly(lambda: self._database().session().register_view(ref, sql))

    def register_relation(self, name: str, schema: pa.Schema) -> None:
        """Hold an empty table of `schema` under the unqualified name `name` (for every
        thread: a scan's view in Spark is seen by all of them)."""
        from headwater.storage.base import Snapshot, TableRef

        ref = TableRef("main", name)
        empty = Snapshot(ref, -1, (), schema, (), False, "")
        self._quietly(lambda: self._database().session().register_table(ref, empty))

    def schema(self, sql: str) -> pa.Schema | None:
        """The schema DuckDB's engine would write `sql`'s result with (None: DuckDB cannot
        bind it, e.g. it reads a relation only Spark holds)."""
        try:
            return self._database().session().schema(sql)
        except Exception as exc:  # any binder failure: the caller keeps Spark's own types
            _LOG.debug("DuckDB cannot type %s: %s", sql[:200], exc)
            return None

    def close(self) -> None:
        """Close the DuckDB database."""
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    def _quietly(self, register: Callable[[], None]) -> None:
        """Run `register`; a relation DuckDB cannot hold only means fewer types are known."""
        try:
            with self._registering:
                register()
        except Exception as exc:  # typing is best effort; Spark's own types remain
            _LOG.debug("DuckDB cannot hold a relation for typing: %s", exc)
