"""Taking an erased subject's values out of text Headwater wrote about its data: the statements
of the query log and the audit trail, checks' SQL and failing samples, error messages, metric
values and OpenLineage events.

A value of text (an e-mail, a name, a phone number written as digits) is replaced by
`[erased]` wherever it stands as a whole word, in any case, as written or quoted in SQL
(`O''Brien`). A key's number is replaced only where it is one for sure: as a literal a SQL
statement compares with a column of its name (`WHERE customer_id = 245`, `customer_id IN
(245, 7)`), or as the value of its column in a sample row (the row is dropped). Elsewhere a
number is left alone: `245 rows` or `LIMIT 245` would lose a count to a key that happens to be
245.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ERASED = "[erased]"
"""What stands where an erased value stood."""

SQL_FIELDS = frozenset({"statement", "sql", "sql_text", "query"})
"""Keys of a JSON document whose string is a SQL statement."""


@dataclass
class SubjectRedactor:
    """Redacts one subject's values from text, SQL and JSON.

    `texts` are the subject's values of text; `numbers` the numeric values of its key columns
    by column name (lower case)."""

    texts: frozenset[str]
    numbers: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        words = {t.strip() for t in self.texts if t.strip()}
        words |= {w.replace("'", "''") for w in words if "'" in w}  # as quoted in SQL
        ordered = sorted(words, key=len, reverse=True)
        self._words = _pattern(ordered, re.IGNORECASE)
        self._bytes = (
            re.compile(self._words.pattern.encode(), re.IGNORECASE) if self._words else None
        )
        self._lowered = frozenset(t.lower() for t in words)
        self._all_numbers = frozenset(n for values in self.numbers.values() for n in values)
        self._number_words = _pattern(sorted(self._all_numbers, key=len, reverse=True), 0)

    def candidates(self) -> list[str]:
        """Text that any value the redactor changes contains (for a database to find the
        rows worth reading): its values of text, and its keys' numbers."""
        return sorted({*self._lowered, *self._all_numbers})

    def found_in(self, data: bytes) -> bool:
        """Whether `data` (raw bytes) holds one of the values of text as a whole word."""
        return self._bytes is not None and self._bytes.search(data) is not None

    def text(self, value: str) -> str:
        """`value` with each of the subject's values of text replaced by `[erased]`."""
        if self._words is None:
            return value
        return self._words.sub(ERASED, value)

    def sql(self, statement: str) -> str:
        """`statement` with every literal that is one of the subject's values (of text or
        number) replaced by `'[erased]'`; a statement SQL cannot parse (cut short in the log)
        loses the values as words instead."""
        if not self._mentions(statement):
            return statement
        import sqlglot
        from sqlglot import exp
        from sqlglot.errors import SqlglotError

        try:
            trees = sqlglot.parse(statement, read="duckdb")
        except SqlglotError:
            return self._as_words(statement)
        changed = False

        def replace(node: exp.Expression) -> exp.Expression:
            nonlocal changed
            if isinstance(node, exp.Literal) and self._is_value(node):
                changed = True
                return exp.Literal.string(ERASED)
            return node

        redacted = [tree.transform(replace) for tree in trees if tree is not None]
        if not changed:
            # a value outside a literal (an identifier, a comment): remove it as a word
            return self.text(statement)
        return self.text("; ".join(tree.sql(dialect="duckdb") for tree in redacted))

    def rows(self, rows: Iterable[Any]) -> list[Any]:
        """Sample rows without the subject's (a row holding one of its key values in that
        key's column), the rest redacted as JSON."""
        kept = []
        for row in rows:
            if isinstance(row, Mapping) and any(
                str(value) in self.numbers.get(str(name).lower(), ()) for name, value in row.items()
            ):
                continue
            kept.append(self.json(row))
        return kept

    def json(self, value: Any) -> Any:
        """A JSON document redacted: SQL under a SQL key (`statement`, `sql`...) as SQL, sample
        rows under `sample` as rows, every other string as text."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, Mapping):
            redacted: dict[str, Any] = {}
            for key, item in value.items():
                if key in SQL_FIELDS and isinstance(item, str):
                    redacted[key] = self.sql(item)
                elif key in ("sample", "samples", "rows") and isinstance(item, list):
                    redacted[key] = self.rows(item)
                else:
                    redacted[key] = self.json(item)
            return redacted
        return value

    def _mentions(self, text: str) -> bool:
        return bool(
            (self._words is not None and self._words.search(text))
            or (self._number_words is not None and self._number_words.search(text))
        )

    def _is_value(self, literal: Any) -> bool:
        value = str(literal.this)
        if literal.is_string and (value.lower() in self._lowered or self.text(value) != value):
            return True
        column = _compared_column(literal)
        return column is not None and value in self.numbers.get(column.lower(), ())

    def _as_words(self, text: str) -> str:
        """A statement SQL cannot parse without the values: text values as words, and a key's
        number where its column is compared with it (`customer_id = 245`)."""
        text = self.text(text)
        for column, values in self.numbers.items():
            for value in values:
                text = re.sub(
                    rf"(?i)(\b{re.escape(column)}\s*(?:=|<>|!=)\s*'?){re.escape(value)}\b",
                    rf"\g<1>{ERASED}",
                    text,
                )
        return text


def _compared_column(literal: Any) -> str | None:
    """The column a literal is compared with (`col = 5`, `col IN (5, 6)`, `col BETWEEN`)."""
    from sqlglot import exp

    parent = literal.parent
    if isinstance(parent, exp.EQ | exp.NEQ | exp.Is):
        other = parent.right if parent.left is literal else parent.left
        return str(other.name) if isinstance(other, exp.Column) else None
    if isinstance(parent, exp.In | exp.Between) and isinstance(parent.this, exp.Column):
        return str(parent.this.name)
    return None


def _pattern(values: list[str], flags: int) -> re.Pattern[str] | None:
    """A whole-word match of any of `values` (None for none): not inside a longer word or
    number, so `Li` is not found in `Limit` nor `24` in `245`."""
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in values)
    return re.compile(rf"(?<![\w.@-])(?:{alternatives})(?![\w@-]|\.\w)", flags)
