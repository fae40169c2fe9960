"""What the read-only query path lets a query do, as the lists its checks apply.

`headwater.query.readonly` checks untrusted SQL against these: the table functions named here,
the shape of a table's name and the characters SQL text may not hold. What the engine has that
no query may use (its statement words, its functions that reach outside, the schemas of its own
catalog) is the engine's to say: its `ReadOnlySupport` lists them (for DuckDB, in
`headwater.engine.duckdb_readonly`). A query that breaks one is refused with `QueryRejected`,
whose hint says what may run instead.
"""

from __future__ import annotations

import re

from headwater.errors import UsageError
from headwater.query.metadata import METADATA_SCHEMA, METADATA_TABLES

MAX_SQL_CHARS = 100_000
"""Longer SQL is refused before any parser sees it."""

TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
"""The only table functions a query may call in FROM: generators that read nothing."""

STATEMENT_NODES = (
    *("DDL", "DML", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Copy"),
    *("TruncateTable", "Command", "Pragma", "Set", "Use", "Attach", "Detach", "Install"),
    *("LoadData", "Export", "Describe", "Show", "Summarize", "Analyze", "Into", "Lock"),
    *("Execute", "Transaction", "Commit", "Rollback", "Grant", "Revoke", "Comment", "Refresh"),
    *("Cache", "Uncache"),
)
"""sqlglot node types (by name, as sqlglot versions differ) that may not appear in a query."""

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
