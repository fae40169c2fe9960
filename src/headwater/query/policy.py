"""What the read-only query path lets a query do, as the lists its checks apply.

`headwater.query.readonly` checks untrusted SQL against these: the statement words, functions,
table functions and schemas named here, and the characters SQL text may not hold. A query that
breaks one is refused with `QueryRejected`, whose hint says what may run instead.
"""

from __future__ import annotations

import fnmatch
import re

from headwater.errors import UsageError
from headwater.query.metadata import METADATA_SCHEMA, METADATA_TABLES

MAX_SQL_CHARS = 100_000
"""Longer SQL is refused before any parser sees it."""

TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
"""The only table functions a query may call in FROM: generators that read nothing."""

DENIED_FUNCTIONS: tuple[str, ...] = (
    # files, directories and other databases
    "read_*",
    "*_scan",
    "*_scan_*",
    "parquet_*",
    "sniff_csv",
    "glob",
    "iceberg_*",
    "delta_*",
    "postgres_*",
    "sqlite_*",
    "mysql_*",
    "odbc_*",
    "ducklake_*",
    "st_read*",
    "http_*",
    # settings, secrets, extensions, the catalog, logs and profiling
    "duckdb_*",
    "pragma_*",
    "current_setting",
    "getenv",
    "getvariable",
    "which_secret",
    "*secret*",
    "*extension*",
    "*external_resource*",
    "*_logging",
    "*_logs",
    "write_log",
    "enable_*",
    "disable_*",
    "checkpoint",
    "force_checkpoint",
    "load_aws_credentials",
    "pg_get_*",
    # SQL held in a string, which the layers above cannot inspect
    "query",
    "query_table",
    "json_execute_serialized_sql",
    "json_serialize_*",
    "json_deserialize_sql",
    # state of the session or the process
    "nextval",
    "currval",
    "setseed",
    "sleep_ms",
    "pg_sleep",
    "python_*",
    "pandas_*",
    "arrow_*",
    "__*",
)
"""Function names (fnmatch patterns, matched case-insensitively) no query may call anywhere."""

DENIED_WORDS = frozenset(
    {
        "ABORT",
        "ALTER",
        "ANALYZE",
        "ATTACH",
        "BEGIN",
        "CALL",
        "CHECKPOINT",
        "COMMIT",
        "COPY",
        "CREATE",
        "DEALLOCATE",
        "DELETE",
        "DESCRIBE",
        "DETACH",
        "DROP",
        "EXECUTE",
        "EXPLAIN",
        "EXPORT",
        "FORCE",
        "GRANT",
        "IMPORT",
        "INSERT",
        "INSTALL",
        "LOAD",
        "MERGE",
        "PRAGMA",
        "PREPARE",
        "RESET",
        "REVOKE",
        "ROLLBACK",
        "SET",
        "SHOW",
        "SUMMARIZE",
        "TRANSACTION",
        "TRUNCATE",
        "UPDATE",
        "USE",
        "VACUUM",
    }
)
"""Statement words refused anywhere outside a string or a quoted name."""

STATEMENT_NODES = (
    *("DDL", "DML", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Copy"),
    *("TruncateTable", "Command", "Pragma", "Set", "Use", "Attach", "Detach", "Install"),
    *("LoadData", "Export", "Describe", "Show", "Summarize", "Analyze", "Into", "Lock"),
    *("Execute", "Transaction", "Commit", "Rollback", "Grant", "Revoke", "Comment", "Refresh"),
    *("Cache", "Uncache"),
)
"""sqlglot node types (by name, as sqlglot versions differ) that may not appear in a query."""

SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "system", "temp"})
"""Schemas of the engine's own catalog; a query reads the project's tables only."""

ALLOWED = (
    "run one SELECT (WITH, joins, subqueries, window functions) over the project's tables, "
    "DESCRIBE <table>, SHOW TABLES, or a SELECT from "
    + ", ".join(f"{METADATA_SCHEMA}.{t}" for t in METADATA_TABLES)
    + "; table functions: "
    + ", ".join(sorted(TABLE_FUNCTIONS))
)
PLAIN_NAME = re.compile(r"[\w-]+")
FILE_LIKE = re.compile(r"[/\\:*?~$]|\.\w+$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
UNICODE_SPACES = re.compile(
    r"[\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]+"
)
"""Characters DuckDB's parser reads as a space (it strips U+00A0, U+2000-U+200B, U+202F, U+205F,
U+2060, U+3000 and U+FEFF before parsing), and a few more. Its `tokenize` does not strip them,
and sqlglot keeps the zero-width ones inside names it renders unquoted: `x<U+200B>from` is one
name to both, but `x from` to the engine."""
DENIED_PATTERN = re.compile("|".join(fnmatch.translate(p) for p in DENIED_FUNCTIONS))


class QueryRejected(UsageError):
    """The SQL is not a single read-only SELECT over the project's tables.

    Attributes:
        refused: what was refused (a statement kind, a function, a table name).
        reason: why it is refused.
    """

    def __init__(self, refused: str, reason: str, hint: str = ALLOWED) -> None:
        super().__init__(f"query refused: {refused} ({reason})", hint=hint)
        self.refused = refused
        self.reason = reason
