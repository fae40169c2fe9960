"""Each check as SQL: a failing-row predicate, or the query that counts its failures.

Row checks (`not_null`, `accepted_values`, `range`, `regex`, `expression`) become one boolean
per row that is TRUE exactly for failing rows (never NULL), so every one of them is a single
`count(*) FILTER (WHERE ...)` in the audit's one aggregate pass, a WHERE for sampling and a
split for quarantine. `unique` is a GROUP BY of its own, `relationships` an anti-join, and `sql`
checks are their own queries.
"""

from __future__ import annotations

from headwater.project.checks import (
    AcceptedValues,
    Check,
    Expression,
    NotNull,
    Range,
    Regex,
    Relationships,
    Unique,
)
from headwater.sqltext import column_list, identifier, literal

THIS = "{{ this }}"


def failing_predicate(check: Check, parent: str | None = None) -> str | None:
    """SQL TRUE for a row that fails `check` (never NULL), or None for a check that is not
    judged row by row. `parent` is the relation a `relationships` check refers to."""
    column = identifier(check.column) if check.column else ""
    if isinstance(check, NotNull):
        return f"({column} IS NULL)"
    if isinstance(check, AcceptedValues):
        values = ", ".join(literal(_plain(v)) for v in check.values)
        return f"({column} IS NOT NULL AND {column} NOT IN ({values}))"
    if isinstance(check, Range):
        low, high = (">=", "<=") if check.inclusive else (">", "<")
        bounds = []
        if check.min is not None:
            bounds.append(f"{column} {low} {literal(_plain(check.min))}")
        if check.max is not None:
            bounds.append(f"{column} {high} {literal(_plain(check.max))}")
        return f"({column} IS NOT NULL AND NOT ({' AND '.join(bounds)}))"
    if isinstance(check, Regex):
        return (
            f"({column} IS NOT NULL AND NOT regexp_matches(CAST({column} AS VARCHAR), "
            f"{literal(check.pattern)}))"
        )
    if isinstance(check, Expression):
        return f"(NOT coalesce(({check.sql}), FALSE))"
    if isinstance(check, Relationships) and parent is not None:
        field = identifier(check.field)
        return (
            f"({column} IS NOT NULL AND {column} NOT IN "
            f"(SELECT {field} FROM {parent} WHERE {field} IS NOT NULL))"
        )
    return None


def duplicate_rows_sql(check: Unique, relation: str) -> str:
    """Rows whose key another row shares (NULL keys of a single column never clash)."""
    key = column_list(check.key)
    where = f" WHERE {key} IS NOT NULL" if len(check.key) == 1 else ""
    same = " AND ".join(
        f"t.{identifier(c)} IS NOT DISTINCT FROM d.{identifier(c)}" for c in check.key
    )
    return (
        f"SELECT t.* FROM {relation} AS t SEMI JOIN (SELECT {key} FROM {relation}{where} "
        f"GROUP BY ALL HAVING count(*) > 1) AS d ON {same}"
    )


def duplicate_count_sql(check: Unique, relation: str) -> str:
    """One row `n`: how many rows share their key with another row."""
    key = column_list(check.key)
    where = f" WHERE {key} IS NOT NULL" if len(check.key) == 1 else ""
    return (
        f"SELECT coalesce(sum(n), 0) AS n FROM (SELECT count(*) AS n FROM {relation}{where} "
        f"GROUP BY {key} HAVING count(*) > 1)"
    )


def relationship_orphans_sql(check: Relationships, relation: str, parent: str) -> str:
    """Rows whose foreign key is missing from the parent (an anti-join)."""
    column, field = identifier(str(check.column)), identifier(check.field)
    return (
        f"SELECT t.* FROM {relation} AS t ANTI JOIN {parent} AS p ON t.{column} = p.{field} "
        f"WHERE t.{column} IS NOT NULL"
    )


def custom_sql(sql: str, relation: str) -> str:
    """A `sql` check's query with `{{ this }}` (any spacing) meaning the audited version."""
    import re

    return re.sub(r"\{\{\s*this\s*\}\}", lambda _: relation, sql)


def _plain(value: object) -> object:
    """YAML dates and times as ISO text (DuckDB casts them where compared)."""
    import datetime as dt

    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
