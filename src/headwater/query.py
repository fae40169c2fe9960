"""Ad-hoc queries over a project's tables, optionally as of an earlier version or time.

A query session starts an in-memory DuckDB, registers only the tables the query names (views
of view models are recreated from their SQL on each connection), qualifies the query's table
names like a model's and returns the result as Arrow.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, UsageError
from headwater.project.loader import AssetIndex
from headwater.project.sql import TableReference, analyze, compile_sql
from headwater.storage.base import Snapshot, TableRef

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.workspace import Project

QUERY_FILE = "(query)"


class QuerySession:
    """A short-lived engine for reading a project's tables."""

    def __init__(self, project: Project) -> None:
        from headwater.engine.duckdb import DuckDBEngine

        self.project = project
        self.definition = project.definition
        self.engine = DuckDBEngine(
            threads=self.definition.config.engine.threads,
            memory_limit=self.definition.config.engine.memory_limit,
            file_search_path=self.definition.root,
        )

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.close()

    def _resolve(self, reference: TableReference) -> tuple[str, str]:
        index = AssetIndex(self.definition.assets)
        try:
            key = index.resolve(reference, "(query)", QUERY_FILE)
        except ConfigError as exc:
            if _plain(reference.namespace) and _plain(reference.name):
                # a table in the warehouse that no asset declares (a quarantine or failed copy)
                ref = TableRef(str(reference.namespace), reference.name)
                if self.project.store.exists(ref):
                    return ref.namespace, ref.name
            raise UsageError(
                exc.message.replace("model (query) reads", "the query reads"),
                hint=exc.hint,
            ) from None
        asset = self.definition.assets[key]
        return asset.namespace, asset.name

    def query(self, sql: str, as_of: str | int | None = None) -> pa.Table:
        """Run one SELECT and return its result; tables are read at `as_of` when given."""
        from headwater.transform.compiler import Compiler
        from headwater.transform.relations import Relations

        try:
            references = analyze(sql, QUERY_FILE).references
            compiler = Compiler(self.definition)
            compiled = compile_sql(
                sql, QUERY_FILE, self._resolve, lambda ns, n: self._ephemeral(compiler, ns, n)
            )
        except ConfigError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None
        store = self.project.store

        def pick(ref: TableRef) -> Snapshot:
            if as_of is None:
                return store.snapshot(ref)
            if isinstance(as_of, int) or str(as_of).isdigit():
                return store.snapshot(ref, version=int(as_of))
            return store.snapshot(ref, as_of=str(as_of))

        relations = Relations(self.definition, store, compiler.compile, snapshot=pick)
        session = self.engine.session()
        try:
            for reference in references:
                namespace, name = self._resolve(reference)
                key = f"{namespace}.{name}"
                if key in self.definition.assets:
                    # a view over tables read at `as_of` can fail to bind to their columns then
                    relations.ensure(session, key)
                else:
                    ref = TableRef(namespace, name)
                    session.register_table(ref, pick(ref))
            return session.query(compiled)
        except Exception as exc:
            if type(exc).__module__.startswith(("duckdb", "_duckdb")):
                first = str(exc).strip().splitlines()[0]
                raise UsageError(f"query failed: {first}", hint="check the SQL") from None
            raise

    def _ephemeral(self, compiler: Any, namespace: str, name: str) -> str | None:
        asset = self.definition.assets.get(f"{namespace}.{name}")
        if asset is None or asset.materialized != "ephemeral":
            return None
        result: str = compiler.compile(asset.key)
        return result


def _plain(part: str | None) -> bool:
    """Whether `part` of a table name is a plain name (letters, digits, `_`, `-`), not a path."""
    return bool(part) and re.fullmatch(r"[\w-]+", str(part)) is not None
