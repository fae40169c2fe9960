"""DuckDB, the embedded engine.

One in-memory DuckDB database per run; each worker thread gets its own cursor. A Delta snapshot
becomes a view over DuckDB's own Parquet reader (file list from delta-rs), so projection, filter
and row-group push-down work; tables with deletion vectors or column mapping go through an
Arrow dataset. A warehouse on object storage (S3) has no `httpfs` here: its snapshots are read
as pyarrow datasets over pyarrow's S3 filesystem (ten times faster than DuckDB's reader over
fsspec on filtered reads, as fast on full scans: bench/s3_reads), and `read_parquet('s3://...')`
of single files goes through the fsspec filesystem the engine registers. Results are written
with DuckDB's native Parquet writer, which streams and spills, so a model larger than memory
still builds.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from headwater.engine.base import Engine, EngineCapabilities, EngineSession, WriteResult
from headwater.errors import ModelError
from headwater.sqltext import identifier, literal, qualified
from headwater.storage.base import Snapshot, TableRef, WrittenFile

if TYPE_CHECKING:
    from headwater.engine.registry import EnginePlace
    from headwater.project.config import EngineConfig
    from headwater.storage.base import ObjectStoreAccess

TARGET_FILE_BYTES = "256MB"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# Types Delta cannot store, and what they become on write. HUGEINT is what DuckDB's sum() of
# integers returns; BIGINT keeps it an integer and a real overflow fails loudly.
WRITE_CASTS = {
    "HUGEINT": "BIGINT",
    "UHUGEINT": "DECIMAL(38,0)",
    "UBIGINT": "DECIMAL(20,0)",
    "UINTEGER": "BIGINT",
    "USMALLINT": "INTEGER",
    "UTINYINT": "SMALLINT",
    "TIME": "VARCHAR",
    "TIME WITH TIME ZONE": "VARCHAR",
    "INTERVAL": "VARCHAR",
    "UUID": "VARCHAR",
    "JSON": "VARCHAR",
    "BIT": "VARCHAR",
    "TIMESTAMP_NS": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_S": "TIMESTAMP",
}


def _write_cast(type_name: str) -> str | None:
    if type_name in WRITE_CASTS:
        return WRITE_CASTS[type_name]
    if type_name.startswith("ENUM("):
        return "VARCHAR"
    return None


class DuckDBSession(EngineSession):
    """One thread's DuckDB cursor."""

    def __init__(self, engine: DuckDBEngine, connection: Any) -> None:
        self._engine = engine
        self._con = connection
        self._datasets: dict[str, int] = {}
        """The engine's shared datasets registered on this cursor, by name (their generation)."""
        self._synced = 0

    @property
    def capabilities(self) -> EngineCapabilities:
        return self._engine.capabilities

    def is_engine_error(self, exc: BaseException) -> bool:
        return self._engine.is_engine_error(exc)

    @property
    def connection(self) -> Any:
        """The underlying DuckDB connection (for tests and advanced use)."""
        return self._con

    def register_table(self, ref: TableRef, snapshot: Snapshot) -> None:
        self._engine.ensure_schema(self._con, ref.namespace)
        scan = self._scan_sql(snapshot)
        self._ready()
        self._con.execute(f"CREATE OR REPLACE VIEW {qualified(ref)} AS {scan}")

    def _ready(self) -> None:
        """Register on this cursor the Arrow datasets that tables were registered as (by any
        session): DuckDB keeps a registered object per connection, while the views over them
        are shared by the run's threads."""
        engine = self._engine
        if engine.dataset_generation == self._synced:
            return
        generation, shared = engine.shared_datasets()
        for name in [n for n in self._datasets if n not in shared]:
            self._con.unregister(name)
            del self._datasets[name]
        for name, (made, dataset) in shared.items():
            if self._datasets.get(name) != made:
                self._con.register(name, dataset)
                self._datasets[name] = made
        self._synced = generation

    def _scan_sql(self, snapshot: Snapshot) -> str:
        columns = ", ".join(identifier(name) for name in snapshot.schema.names)
        if snapshot.needs_arrow_reader or (snapshot.on_object_store and snapshot.files):
            name = f"__hw_arrow_{snapshot.ref.namespace}_{snapshot.ref.name}_{snapshot.version}"
            self._engine.share_dataset(snapshot.ref, name, snapshot.arrow_dataset())
            return f"SELECT {columns} FROM {identifier(name)}"
        if not snapshot.files:
            empty = self._con.from_arrow(snapshot.schema.empty_table())
            casts = ", ".join(
                f"CAST(NULL AS {kind}) AS {identifier(name)}"
                for name, kind in zip(empty.columns, empty.types, strict=True)
            )
            return f"SELECT {casts} LIMIT 0"
        partitioned = bool(snapshot.partition_by)
        scan = self.scan_parquet(
            [f.path for f in snapshot.files],
            hive_partitioning=partitioned,
            partition_types=(
                pa.schema([snapshot.schema.field(n) for n in snapshot.partition_by])
                if partitioned
                else None
            ),
        )
        return f"SELECT {columns} FROM {scan}"

    def scan_parquet(
        self,
        paths: Sequence[str],
        *,
        union_by_name: bool = True,
        hive_partitioning: bool | None = None,
        partition_types: pa.Schema | None = None,
        filename: bool = False,
    ) -> str:
        if partition_types is not None and not hive_partitioning:
            raise ValueError("partition_types needs hive_partitioning=True")
        arguments = ["[" + ", ".join(literal(path) for path in paths) + "]"]
        if union_by_name:
            arguments.append("union_by_name = true")
        if hive_partitioning is not None:
            arguments.append(f"hive_partitioning = {'true' if hive_partitioning else 'false'}")
        if partition_types is not None:
            types = self.sql_types(partition_types)
            listed = ", ".join(f"{literal(n)}: {literal(t)}" for n, t in types.items())
            arguments.append(f"hive_types = {{{listed}}}")
        if filename:
            arguments.append("filename = true")
        return f"read_parquet({', '.join(arguments)})"

    def register_view(self, ref: TableRef, sql: str) -> None:
        self._engine.ensure_schema(self._con, ref.namespace)
        self._ready()
        self._con.execute(f"CREATE OR REPLACE VIEW {qualified(ref)} AS {sql}")

    def execute(self, sql: str, parameters: list[Any] | None = None) -> None:
        self._ready()
        self._con.execute(sql, parameters)

    def query(self, sql: str, parameters: list[Any] | None = None) -> pa.Table:
        self._ready()
        return self._con.sql(sql, params=parameters).to_arrow_table()

    def query_batches(self, sql: str, batch_size: int = 65536) -> pa.RecordBatchReader:
        self._ready()
        return self._con.sql(sql).to_arrow_reader(batch_size)

    def _writable(self, sql: str, conform_to: pa.Schema | None = None) -> tuple[str, Any]:
        """Wrap `sql` so every column has a type Delta can store (and `conform_to`'s types);
        return the SQL and its bound relation (binding reads file metadata: do it once)."""
        self._ready()
        relation = self._con.sql(sql)
        target: dict[str, str] = {}
        if conform_to is not None and len(conform_to):
            types = self._con.from_arrow(conform_to.empty_table()).types
            target = {n: str(t) for n, t in zip(conform_to.names, types, strict=True)}
        replacements = []
        for name, kind in zip(relation.columns, relation.types, strict=True):
            cast = target.get(name) if target.get(name, str(kind)) != str(kind) else None
            cast = cast or _write_cast(str(kind))
            if cast is not None:
                replacements.append(f"CAST({identifier(name)} AS {cast}) AS {identifier(name)}")
        if len(set(c.lower() for c in relation.columns)) != len(relation.columns):
            raise ModelError(
                f"the query returns duplicate column names: {', '.join(relation.columns)}",
                hint="give every column a distinct name (use AS)",
            )
        if not replacements:
            return sql, relation
        wrapped = f"SELECT * REPLACE ({', '.join(replacements)}) FROM ({sql})"
        return wrapped, self._con.sql(wrapped)

    def schema(self, sql: str) -> pa.Schema:
        _, relation = self._writable(sql)
        schema: pa.Schema = relation.limit(0).to_arrow_table().schema
        return schema

    def write_parquet(
        self,
        sql: str,
        directory: Path,
        partition_by: list[str] | None = None,
        conform_to: pa.Schema | None = None,
    ) -> WriteResult:
        writable, relation = self._writable(sql, conform_to)
        schema = relation.limit(0).to_arrow_table().schema
        missing = [c for c in partition_by or [] if c not in schema.names]
        if missing:
            raise ModelError(
                f"partition column {', '.join(missing)} is not in the model's output",
                hint=f"select it, or change 'partition_by' (columns: {', '.join(schema.names)})",
            )
        options = [
            "FORMAT parquet",
            "FILENAME_PATTERN 'part-{uuid}'",
            "RETURN_FILES true",
        ]
        if partition_by:
            options.append(f"PARTITION_BY ({', '.join(identifier(c) for c in partition_by)})")
        else:
            options.append(f"FILE_SIZE_BYTES '{TARGET_FILE_BYTES}'")
        directory.parent.mkdir(parents=True, exist_ok=True)
        statement = f"COPY ({writable}) TO {literal(str(directory))} ({', '.join(options)})"
        try:
            rows, paths = self._con.execute(statement).fetchone()
        except Exception:
            _remove_tree(directory)
            raise
        files: list[WrittenFile] = []
        for path in paths or []:
            absolute = path if os.path.isabs(path) else os.path.abspath(path)
            if not rows:
                os.remove(absolute)
                continue
            files.append(WrittenFile(absolute, _partition_values(directory, absolute)))
        if not files:
            _remove_tree(directory)
        return WriteResult(files, schema, int(rows or 0))

    def copy_parquet(self, sql: str, directory: Path) -> WriteResult:
        import pyarrow.parquet as pq

        options = [
            "FORMAT parquet",
            "FILENAME_PATTERN 'part-{uuid}'",
            "RETURN_FILES true",
            f"FILE_SIZE_BYTES '{TARGET_FILE_BYTES}'",
        ]
        directory.parent.mkdir(parents=True, exist_ok=True)
        self._ready()
        statement = f"COPY ({sql}) TO {literal(str(directory))} ({', '.join(options)})"
        try:
            rows, paths = self._con.execute(statement).fetchone()
        except Exception:
            _remove_tree(directory)
            raise
        absolute = [p if os.path.isabs(p) else os.path.abspath(p) for p in paths or []]
        schema = pq.read_schema(absolute[0]) if absolute else pa.schema([])
        if not rows:
            _remove_tree(directory)
            return WriteResult([], schema, 0)
        return WriteResult([WrittenFile(p) for p in absolute], schema, int(rows))

    def sql_types(self, schema: pa.Schema) -> dict[str, str]:
        types = self._con.from_arrow(schema.empty_table()).types
        return {name: str(kind) for name, kind in zip(schema.names, types, strict=True)}

    def interrupt(self) -> None:
        self._con.interrupt()

    def register_arrow(self, name: str, table: pa.Table) -> None:
        self._con.register(name, table)

    def statement_kinds(self, sql: str) -> list[str]:
        from headwater.errors import UsageError

        try:
            statements = self._con.extract_statements(sql)
        except duckdb.Error as exc:
            # the parser's message and its LINE marker, without the blank line between them
            lines = [line for line in str(exc).strip().splitlines() if line.strip()]
            raise UsageError("\n".join(lines) or type(exc).__name__) from None
        kinds = []
        for index, statement in enumerate(statements):
            kind = statement.type.name
            if kind == "SELECT":
                # DuckDB runs DESCRIBE, SHOW and SUMMARIZE as SELECTs: read the first word (of
                # the whole text for the first statement, which starts it)
                word = self._first_word(sql if index == 0 else statement.query)
                if word in ("DESCRIBE", "DESC", "SHOW", "SUMMARIZE"):
                    kind = word
            kinds.append(kind)
        return kinds

    @staticmethod
    def _first_word(sql: str) -> str | None:
        """The first word of `sql` outside comments as DuckDB's tokenizer reads it, upper-cased
        (at most 16 bytes of it: enough to tell a statement word)."""
        first = next(
            (offset for offset, token in duckdb.tokenize(sql) if token.name != "comment"), None
        )
        if first is None:
            return None
        data = sql.encode("utf-8")  # DuckDB's token offsets count bytes
        return data[first : first + 16].split(None, 1)[0].decode("utf-8", "replace").upper()

    def column_types(self, ref: TableRef) -> list[tuple[str, str]]:
        self._ready()
        relation = self._con.sql(f"SELECT * FROM {qualified(ref)}")
        return [(str(n), str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]


def _partition_values(directory: Path, path: str) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in Path(os.path.relpath(path, directory)).parts[:-1]:
        key, sep, value = part.partition("=")
        if sep:
            decoded = urllib.parse.unquote(value)
            values[urllib.parse.unquote(key)] = None if decoded == NULL_PARTITION else decoded
    return values


def _remove_tree(directory: Path) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


class DuckDBEngine(Engine):
    """An in-memory DuckDB database shared by a run's worker threads."""

    capabilities = EngineCapabilities(dialect="duckdb", views=True, writes_parquet=True)

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
        file_search_path: Path | None = None,
        object_store: ObjectStoreAccess | None = None,
    ) -> None:
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        if temp_directory:
            temp_directory.mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(temp_directory)
        self._root = duckdb.connect(":memory:", config=config)
        self._root.execute("SET GLOBAL TimeZone = 'UTC'")
        self._root.execute("SET GLOBAL parquet_metadata_cache = true")
        if file_search_path is not None:
            # relative paths in models (read_parquet('data/x.parquet')) are relative to the project
            self._root.execute(f"SET GLOBAL file_search_path = {literal(str(file_search_path))}")
        if object_store is not None:
            # no httpfs here: read_parquet('s3://...') goes through an fsspec filesystem
            self._root.register_filesystem(object_store.fsspec_filesystem())
        self._local = threading.local()
        self._sessions: list[DuckDBSession] = []
        self._lock = threading.Lock()
        self._schemas: set[str] = {"main"}
        self._datasets: dict[str, tuple[int, Any]] = {}
        self._dataset_names: dict[TableRef, str] = {}
        self.dataset_generation = 0
        """Counts changes to the shared datasets (a session compares it with what it has)."""

    @classmethod
    def from_config(cls, config: EngineConfig, place: EnginePlace) -> DuckDBEngine:
        """The engine `engine:` in `headwater.yml` describes, for a project at `place`."""
        return cls(
            threads=config.threads,
            memory_limit=config.memory_limit,
            temp_directory=place.temp_directory,
            file_search_path=place.root,
            object_store=place.object_store,
        )

    def is_engine_error(self, exc: BaseException) -> bool:
        # by module: DuckDB's exception classes are defined in its C extension `_duckdb` and
        # re-exported by `duckdb`, so either name may show as the module
        return type(exc).__module__.startswith(("duckdb", "_duckdb"))

    def session(self) -> DuckDBSession:
        session: DuckDBSession | None = getattr(self._local, "session", None)
        if session is None:
            with self._lock:
                session = DuckDBSession(self, self._root.cursor())
                self._sessions.append(session)
            self._local.session = session
        return session

    def share_dataset(self, ref: TableRef, name: str, dataset: Any) -> None:
        """Make `dataset` (the snapshot of `ref` a view reads) registered as `name` on every
        session; the one it replaces for `ref` goes, since the view no longer reads it."""
        with self._lock:
            previous = self._dataset_names.get(ref)
            if previous is not None and previous != name:
                self._datasets.pop(previous, None)
            self._dataset_names[ref] = name
            self.dataset_generation += 1
            self._datasets[name] = (self.dataset_generation, dataset)

    def shared_datasets(self) -> tuple[int, dict[str, tuple[int, Any]]]:
        """The generation and the shared datasets (name -> (generation made, dataset))."""
        with self._lock:
            return self.dataset_generation, dict(self._datasets)

    def ensure_schema(self, connection: Any, namespace: str) -> None:
        """Create the DuckDB schema for `namespace` once."""
        if namespace in self._schemas:
            return
        with self._lock:
            if namespace not in self._schemas:
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {identifier(namespace)}")
                self._schemas.add(namespace)

    def interrupt_all(self) -> None:
        """Cancel every running query (used on shutdown)."""
        for session in list(self._sessions):
            session.interrupt()

    def close(self) -> None:
        for session in self._sessions:
            session.connection.close()
        self._root.close()
