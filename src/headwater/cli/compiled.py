"""What `headwater compile MODEL [--engine duckdb|spark]` prints: the SQL that builds a model,
in DuckDB's dialect or as the Spark SQL the Spark engine runs.

The Spark SQL is the model's compiled DuckDB SQL transpiled as the engine transpiles it: tables
read through their temporary views (a comment maps each view to its table), the types of the
tables stored now feeding the rewrites that depend on them. A model calling a DuckDB function
Spark has no equivalent of is an error naming the model, its file and the function.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import Location, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.workspace import Project

SCAN_PREFIX = "__hw_scan_"
"""How the printed Spark SQL names the files a `read_parquet` reads (the engine registers such
a view over them)."""


def compiled_for(project: Project, name: str, engine: str | None) -> str:
    """The SQL that builds model `name` on `engine` (a name from `engine:`/`engines:`, or
    `duckdb`/`spark`; None: the engine the model builds on), ready to print.

    Raises:
        ConfigError: no engine has that name.
        UsageError: the model uses a DuckDB function Spark has no equivalent of.
    """
    from headwater.project.engines import engine_config

    asset = project.asset(name)
    sql = project.compile(name)
    if engine is None:
        _, config = project.definition.engine_of(asset)
    else:
        config = engine_config(project.definition.config, engine)
    if config.type != "spark":
        return sql
    return spark_text(project, asset, sql, config.settings)


def spark_text(project: Project, asset: Any, sql: str, settings: dict[str, Any]) -> str:
    """The compiled DuckDB `sql` of `asset` as the Spark SQL the Spark engine runs, with a
    comment naming what each view holds."""
    from headwater.engine.spark_sql import (
        UnsupportedFunction,
        declared_functions,
        read_tables,
        transpile,
        view_name,
    )

    scans: dict[str, str] = {}
    schemas: dict[str, pa.Schema] = {}
    root = project.definition.root

    def scan(paths: list[str], **options: Any) -> str:
        absolute = [str(Path(p) if Path(p).is_absolute() else root / p) for p in paths]
        name = f"{SCAN_PREFIX}{len(scans) + 1}"
        listed = ", ".join(repr(p) for p in absolute)
        shown = ", ".join(f"{k} = {str(v).lower()}" for k, v in options.items() if v is not None)
        scans[name] = f"read_parquet([{listed}]{', ' + shown if shown else ''})"
        schema = _parquet_schema(absolute)
        if schema is not None:
            schemas[name] = schema
        return name

    for namespace, table in read_tables(sql):
        schema = _table_schema(project, namespace, table)
        if schema is not None:
            schemas[view_name(namespace, table)] = schema
    try:
        statement = transpile(
            sql,
            view_name,
            scan=scan,
            schemas=schemas,
            functions=declared_functions(settings),
            pretty=True,
        )
    except UnsupportedFunction as exc:
        raise UsageError(
            f"model {asset.key} uses {_what(exc)}, which Spark has no equivalent of"
            + (f" ({exc.detail})" if exc.detail else ""),
            Location(file=asset.rel_path, asset=asset.key),
            exc.hint,
        ) from exc
    lines = [f"-- {asset.key} as Spark SQL ({asset.rel_path})"]
    lines += [f"-- {view}: table {table}" for view, table in sorted(statement.tables.items())]
    lines += [f"-- {view}: {call}" for view, call in scans.items()]
    return "\n".join([*lines, statement.sql])


def _what(exc: Any) -> str:
    """'the DuckDB function f()' or 'the DuckDB construct X' of an `UnsupportedFunction`."""
    name = exc.function
    if name.replace("_", "").isalnum():
        return f"the DuckDB function {name}()"
    return f"the DuckDB construct {name}"


def _table_schema(project: Project, namespace: str, name: str) -> pa.Schema | None:
    """The schema of table `namespace.name` as stored now (None: not built yet)."""
    from headwater.storage.base import TableRef

    ref = TableRef(namespace, name)
    try:
        if not project.store.exists(ref):
            return None
        return project.store.snapshot(ref).schema
    except Exception:
        return None


def _parquet_schema(paths: list[str]) -> pa.Schema | None:
    """The schema of the Parquet files `paths` (globs expanded), when they can be read."""
    import pyarrow.parquet as pq

    for pattern in paths:
        for path in sorted(glob.glob(pattern)):
            try:
                return pq.read_schema(path)
            except Exception:
                continue
    return None
