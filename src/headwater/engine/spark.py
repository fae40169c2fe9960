"""Spark, the engine for data larger than one machine: local mode, a cluster or Spark Connect.

Models stay in DuckDB's SQL: each statement is transpiled to Spark SQL (`spark_sql`), which names
every table `namespace.name` by the temporary view holding it (`namespace__name`). A table's
view reads the current snapshot's Parquet files, whose list comes from delta-rs, so no Delta
library is needed on the cluster; results are written with Spark's Parquet writer into the
folder storage chose, and storage commits them with delta-rs. Result columns get the types
DuckDB would give them (`spark_typing`), so a table is the same whichever engine built it.

One SparkSession per engine, shared by the run's worker threads (Spark runs concurrent jobs);
each thread's session tags its jobs so that `interrupt` cancels only that thread's work.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.engine.base import Engine, EngineCapabilities, EngineSession, WriteResult
from headwater.engine.spark_sql import UnsupportedFunction, spark_sql, view_name
from headwater.errors import Location, ModelError, UsageError, first_line
from headwater.sqltext import identifier

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from headwater.engine.registry import EnginePlace
    from headwater.engine.spark_typing import DuckDBTyping
    from headwater.project.config import EngineConfig
    from headwater.storage.base import Snapshot, TableRef

SCAN_PREFIX = "__hw_scan_"
"""Temporary views over Parquet files that `scan_parquet` registers."""
_ENGINE_ERROR_MODULES = (
    "pyspark.errors.exceptions.captured",
    "pyspark.errors.exceptions.connect",
    "py4j.protocol",
)
"""Modules of the exceptions Spark raises for the SQL it runs (analysis, parsing, execution,
the JVM's own), as opposed to PySpark's checks of how its Python API is called."""


TRANSPILED_CACHE = 256
"""Statements whose Spark SQL an engine remembers (a build transpiles most of its statements
twice: to learn the result's schema, then to write it)."""


def _quoted(name: str) -> str:
    """`name` as a Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


class SparkEngineSession(EngineSession):
    """One worker thread's handle on the engine's SparkSession; its jobs carry its own tag."""

    def __init__(self, engine: SparkEngine) -> None:
        self._engine = engine
        self._spark = engine.spark
        self.tag = f"headwater-{uuid.uuid4().hex[:12]}"
        # thread-local in Spark: every job this thread starts from now on carries the tag
        if engine.remote:
            self._spark.addTag(self.tag)
        else:
            context = self._spark.sparkContext
            context.addJobTag(self.tag)
            context.setInterruptOnCancel(True)

    @property
    def capabilities(self) -> EngineCapabilities:
        return self._engine.capabilities

    @property
    def spark(self) -> SparkSession:
        """The SparkSession this session runs on."""
        return self._spark

    def is_engine_error(self, exc: BaseException) -> bool:
        return self._engine.is_engine_error(exc)

    # -- what the session can read ------------------------------------------------------

    def register_table(self, ref: TableRef, snapshot: Snapshot) -> None:
        frame = self._engine.files.snapshot_frame(snapshot)
        self._engine.replace_view(view_name(ref.namespace, ref.name), frame)
        self._engine.typing.register_table(ref, snapshot)

    def register_view(self, ref: TableRef, sql: str) -> None:
        name = view_name(ref.namespace, ref.name)
        # created from SQL, the view is bound again each time it is read, as DuckDB's views
        # are: a table it reads that is registered anew (rebuilt in this run) is seen anew
        self._spark.sql(
            f"CREATE OR REPLACE TEMPORARY VIEW {_quoted(name)} AS {self.transpiled(sql)}"
        )
        self._engine.remember_view(name, self._spark.table(_quoted(name)))
        self._engine.typing.register_view(ref, sql)

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
        return identifier(
            self._scan_view(paths, union_by_name, hive_partitioning, partition_types, filename)
        )

    def _scan_view(
        self,
        paths: Sequence[str],
        union_by_name: bool = True,
        hive_partitioning: bool | None = None,
        partition_types: pa.Schema | None = None,
        filename: bool = False,
    ) -> str:
        """The name of a temporary view reading the Parquet files `paths` (globs expanded),
        registered on first use; the same arguments give the same name."""
        if not paths:
            # no view has this name: reading it fails, as reading no files must
            return f"{SCAN_PREFIX}of_no_files"
        from headwater.engine.spark_files import expand_globs

        # globbed now, as DuckDB globs each time it reads: a file added since is read too
        files, patterns = expand_globs([self._engine.files.absolute(p) for p in paths])
        types = partition_types.to_string() if partition_types is not None else ""
        key = repr((files, union_by_name, hive_partitioning, types, filename))
        name = SCAN_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
        if not self._engine.has_view(name):
            frame = self._engine.files.scan_frame(
                files, patterns, union_by_name, hive_partitioning, partition_types, filename
            )
            self._engine.replace_view(name, frame)
            self._engine.typing.register_relation(name, self._engine.arrow_schema(frame))
        return name

    def _spark_scan(
        self,
        paths: list[str],
        *,
        union_by_name: bool = False,
        hive_partitioning: bool | None = None,
        filename: bool = False,
    ) -> str:
        """A `read_parquet(...)` of a model as the Spark SQL relation reading its files."""
        return _quoted(
            self._scan_view(
                paths,
                union_by_name=union_by_name,
                hive_partitioning=hive_partitioning,
                filename=filename,
            )
        )

    def register_arrow(self, name: str, table: pa.Table) -> None:
        from headwater.engine.spark_types import plain_table, spark_schema

        plain = plain_table(table)
        frame = self._spark.createDataFrame(plain, schema=spark_schema(plain.schema))
        self._engine.replace_view(name, frame)
        self._engine.typing.register_relation(name, plain.schema)

    # -- running SQL ----------------------------------------------------------------------

    def transpiled(self, sql: str) -> str:
        """`sql` (DuckDB's dialect) as Spark SQL over this engine's views (the files of a
        `read_parquet` registered as one). Raises `UnsupportedFunction` for a DuckDB function
        Spark lacks, `UsageError` for SQL that does not parse."""
        return self._engine.transpile(sql, self._spark_scan)

    def frame(self, sql: str, parameters: list[Any] | None = None) -> DataFrame:
        """The DataFrame of the DuckDB statement `sql` (transpiled), not yet run."""
        text = self.transpiled(sql)
        if parameters:
            return self._spark.sql(text, args=list(parameters))
        return self._spark.sql(text)

    def execute(self, sql: str, parameters: list[Any] | None = None) -> None:
        self.frame(sql, parameters).collect()

    def query(self, sql: str, parameters: list[Any] | None = None) -> pa.Table:
        table: pa.Table = self.frame(sql, parameters).toArrow()
        return table

    def query_batches(self, sql: str, batch_size: int = 65536) -> pa.RecordBatchReader:
        import pyarrow as pa

        # PySpark hands a result to Python whole; it is re-batched, not streamed
        table = self.query(sql)
        return pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches(max_chunksize=batch_size)
        )

    def schema(self, sql: str) -> pa.Schema:
        return self._engine.arrow_schema(self._writable(sql))

    def _writable(self, sql: str, conform_to: pa.Schema | None = None) -> DataFrame:
        """The DataFrame of `sql` with the columns DuckDB's engine would write: its names and
        types (so both engines write the same table), types Delta cannot store cast, and
        `conform_to`'s types where it names a column (a table's existing types)."""
        from pyspark.sql import functions as F

        from headwater.engine.spark_types import castable, spark_type, storable

        frame = self.frame(sql)
        fields = frame.schema.fields
        names = [f.name for f in fields]
        duckdb = self._engine.typing.schema(sql)
        if duckdb is not None and len(duckdb) != len(fields):
            duckdb = None
        if duckdb is not None:
            fields = _paired(fields, list(duckdb.names))
            names = list(duckdb.names)
        if len({n.lower() for n in names}) != len(names):
            raise ModelError(
                f"the query returns duplicate column names: {', '.join(names)}",
                hint="give every column a distinct name (use AS)",
            )
        wanted = {f.name: f.type for f in conform_to} if conform_to is not None else {}
        columns = []
        changed = False
        for index, field in enumerate(fields):
            name = names[index]
            target = None
            if name in wanted:
                target = spark_type(wanted[name])
                if target == field.dataType:
                    target = None
            elif duckdb is not None:
                typed = spark_type(duckdb.field(index).type)
                target = typed if castable(field.dataType, typed) else None
            target = target or storable(field.dataType)
            column = F.col(_quoted(field.name))
            if target is not None:
                column = column.cast(target)
                changed = True
            if name != field.name:
                changed = True
            columns.append(column.alias(name))
        if [f.name for f in fields] != [f.name for f in frame.schema.fields]:
            changed = True
        return frame.select(*columns) if changed else frame

    def write_parquet(
        self,
        sql: str,
        directory: Path,
        partition_by: list[str] | None = None,
        conform_to: pa.Schema | None = None,
    ) -> WriteResult:
        frame = self._writable(sql, conform_to)
        missing = [c for c in partition_by or [] if c not in frame.columns]
        if missing:
            raise ModelError(
                f"partition column {', '.join(missing)} is not in the model's output",
                hint=f"select it, or change 'partition_by' (columns: {', '.join(frame.columns)})",
            )
        return self._write(frame, directory, partition_by)

    def copy_parquet(self, sql: str, directory: Path) -> WriteResult:
        return self._write(self.frame(sql), directory, None)

    def _write(
        self, frame: DataFrame, directory: Path, partition_by: list[str] | None
    ) -> WriteResult:
        from headwater.engine.spark_files import written_files

        schema = self._engine.arrow_schema(frame)
        directory.parent.mkdir(parents=True, exist_ok=True)
        writer = frame.write.mode("overwrite").format("parquet")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        try:
            writer.save(self._engine.files.output_path(directory))
            files, rows = written_files(directory)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return WriteResult(files, schema, rows)

    # -- describing -------------------------------------------------------------------------

    def sql_types(self, schema: pa.Schema) -> dict[str, str]:
        from headwater.engine.spark_types import spark_type, type_name

        return {f.name: type_name(spark_type(f.type)) for f in schema}

    def column_types(self, ref: TableRef) -> list[tuple[str, str]]:
        from headwater.engine.spark_types import type_name

        frame = self._spark.table(_quoted(view_name(ref.namespace, ref.name)))
        return [(f.name, type_name(f.dataType)) for f in frame.schema.fields]

    def statement_kinds(self, sql: str) -> list[str]:
        import sqlglot
        from sqlglot import exp
        from sqlglot.errors import ParseError

        # the engine's input is DuckDB's dialect: its statements are split as DuckDB writes them
        try:
            statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
        except ParseError as exc:
            raise UsageError(str(exc)) from None
        kinds = []
        for statement in statements:
            if isinstance(statement, exp.Command):
                kinds.append(str(statement.this).upper())
            elif isinstance(statement, exp.Query):
                kinds.append("SELECT")
            else:
                kinds.append(statement.key.upper())
        return kinds

    def interrupt(self) -> None:
        if self._engine.remote:
            # Spark Connect matches an operation's tags on the server, from any thread
            self._spark.interruptTag(self.tag)
        else:
            # a classic session's own tags are kept per thread: cancel by the context's tag
            self._spark.sparkContext.cancelJobsWithTag(self.tag)


class SparkEngine(Engine):
    """A SparkSession shared by a run's worker threads."""

    capabilities = EngineCapabilities(dialect="spark", views=True, writes_parquet=True)

    def __init__(
        self,
        spark: SparkSession,
        place: EnginePlace,
        *,
        owned: bool,
        remote: bool = False,
        functions: frozenset[str] = frozenset(),
    ) -> None:
        """Run on `spark`, for a project at `place`; `owned`: stop `spark` on `close`;
        `functions`: functions registered on the cluster that models may call."""
        from headwater.engine.spark_files import SparkFiles
        from headwater.engine.spark_typing import DuckDBTyping

        self.spark = spark
        self.place = place
        self.remote = remote
        self._owned = owned
        self.files = SparkFiles(spark, place)
        self.typing: DuckDBTyping = DuckDBTyping(place)
        self._local = threading.local()
        self._sessions: list[SparkEngineSession] = []
        self.functions = functions
        self._views: dict[str, pa.Schema] = {}
        self._generation = 0
        self._transpiled: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_config(cls, config: EngineConfig, place: EnginePlace) -> SparkEngine:
        """The engine `config` (`engine: spark` in headwater.yml) describes, for a project at
        `place`: Spark is started (or joined) now. Raises `ConfigError` when it cannot be."""
        from headwater.engine.spark_sql import declared_functions
        from headwater.engine.spark_start import start_spark

        started = start_spark(config, place)
        return cls(
            started.spark,
            place,
            owned=started.owned,
            remote=started.remote,
            functions=declared_functions(config.settings),
        )

    def session(self) -> SparkEngineSession:
        session: SparkEngineSession | None = getattr(self._local, "session", None)
        if session is None:
            if self._closed:
                raise UsageError("the Spark engine was closed")
            session = SparkEngineSession(self)
            with self._lock:
                self._sessions.append(session)
            self._local.session = session
        return session

    def is_engine_error(self, exc: BaseException) -> bool:
        if isinstance(exc, UnsupportedFunction):
            return True
        return any(kind.__module__ in _ENGINE_ERROR_MODULES for kind in type(exc).__mro__)

    def model_error(self, exc: BaseException, asset: str, file: str | None) -> ModelError:
        where = Location(file=file, asset=asset)
        if isinstance(exc, UnsupportedFunction):
            extra = getattr(exc, "detail", None)
            detail = f" ({extra})" if extra else ""
            return ModelError(
                f"model {asset} uses the DuckDB function {exc.function}(), which Spark has no "
                f"equivalent of{detail}",
                where,
                exc.hint,
            )
        from headwater.engine.spark_start import s3a_missing_hint

        message = self.readable(first_line(exc))
        hint = s3a_missing_hint(str(exc)) or (
            f"fix the SQL; 'headwater compile {asset} --engine spark' shows the Spark SQL that ran"
        )
        return ModelError(f"model {asset} failed on Spark: {message}", where, hint)

    def readable(self, message: str) -> str:
        """A Spark error message with the views it names shown as the tables they hold."""
        views = sorted(self.view_schemas(), key=len, reverse=True)
        for name in views:
            if name.startswith(SCAN_PREFIX) or "__" not in name:
                continue
            namespace, _, table = name.partition("__")
            message = message.replace(f"`{name}`", f"{namespace}.{table}")
        return message

    # -- views --------------------------------------------------------------------------------

    def replace_view(self, name: str, frame: DataFrame) -> None:
        """Make `frame` readable as the temporary view `name`."""
        frame.createOrReplaceTempView(name)
        self.remember_view(name, frame)

    def remember_view(self, name: str, frame: DataFrame) -> None:
        """Note that this engine holds the view `name` of `frame`'s columns (dropped on
        close; its schema informs the transpiling of the statements that read it)."""
        schema = self.arrow_schema(frame)
        with self._lock:
            self._views[name] = schema
            self._generation += 1

    def has_view(self, name: str) -> bool:
        """Whether this engine created the view `name`."""
        with self._lock:
            return name in self._views

    def transpile(self, sql: str, scan: Any) -> str:
        """`sql` as Spark SQL over this engine's views, `scan` making the files of a
        `read_parquet` readable; remembered for the views registered now."""
        with self._lock:
            key = (sql, self._generation)
            known = self._transpiled.get(key)
        if known is not None:
            return known
        text = spark_sql(
            sql, view_name, scan=scan, schemas=_Schemas(self), functions=self.functions
        )
        with self._lock:
            if len(self._transpiled) >= TRANSPILED_CACHE:
                self._transpiled.clear()
            self._transpiled[key] = text
        return text

    def view_schemas(self) -> dict[str, pa.Schema]:
        """The Arrow schema of each view this engine holds, by name."""
        with self._lock:
            return dict(self._views)

    def arrow_schema(self, frame: DataFrame) -> pa.Schema:
        """The Arrow schema `frame` is written with."""
        from headwater.engine.spark_types import arrow_schema

        return arrow_schema(frame.schema)

    # -- lifetime ---------------------------------------------------------------------------

    def interrupt_all(self) -> None:
        """Cancel every running job of this engine (used on shutdown)."""
        for session in list(self._sessions):
            session.interrupt()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.typing.close()
        if self._owned:
            self.spark.stop()
            return
        # a Spark the caller runs goes on running: take back only what this engine added
        for name in self.view_schemas():
            try:
                self.spark.catalog.dropTempView(name)
            except Exception:  # a stopped context dropped them itself
                break


class _Schemas(Mapping[str, "pa.Schema"]):
    """The engine's view schemas as the transpiler reads them: current when read (a scan it
    registers while transpiling is seen), safe to read while other threads register views."""

    def __init__(self, engine: SparkEngine) -> None:
        self._engine = engine

    def __getitem__(self, name: str) -> pa.Schema:
        return self._engine.view_schemas()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._engine.view_schemas())

    def __len__(self) -> int:
        return len(self._engine.view_schemas())


def _paired(fields: list[Any], names: list[str]) -> list[Any]:
    """Spark's output `fields` in the order of DuckDB's column `names` for the same query.

    A column both engines name alike is matched by name: the engines order `*` over a
    `USING` or `NATURAL` join differently. The others (expressions without an alias, which
    the engines name differently) are matched by position.

    Raises:
        ModelError: the columns cannot be matched one to one; aliasing them settles it.
    """
    by_name = {f.name.lower(): f for f in fields}
    wanted = {n.lower() for n in names}
    used: set[str] = set()
    paired: list[Any] = []
    for index, name in enumerate(names):
        field = by_name.get(name.lower())
        if field is None:
            field = fields[index]
            if field.name.lower() in wanted:
                raise ModelError(
                    f"column {name} of the query cannot be matched to a column Spark returns "
                    f"({', '.join(f.name for f in fields)})",
                    hint="give every computed column a name with AS",
                )
        if field.name.lower() in used:
            raise ModelError(
                f"column {name} of the query cannot be matched to one column Spark returns",
                hint="give every computed column a distinct name with AS",
            )
        used.add(field.name.lower())
        paired.append(field)
    return paired
