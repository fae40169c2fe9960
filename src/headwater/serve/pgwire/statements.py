"""A query string as statements: split at `;` outside strings, identifiers and comments,
each read as words by sqlglot's PostgreSQL tokenizer."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Statement:
    """One statement of a query string."""

    text: str
    """Its SQL, from its first token to its last (comments around it left out)."""
    words: list[str]
    """Its tokens' texts (strings and quoted identifiers without their quotes)."""
    quoted: list[bool] = field(default_factory=list)
    """Whether each word is a quoted identifier or a string."""
    starts: list[int] = field(default_factory=list)
    """Where each word starts in `text`."""
    parameters: int = 0
    """The highest `$n` placeholder in it."""

    @property
    def keyword(self) -> str:
        """Its first word, upper-cased ('' for an empty statement)."""
        return self.word(0)

    def word(self, index: int) -> str:
        """Its word at `index` upper-cased ('' past the end; a quoted word as written)."""
        if index >= len(self.words):
            return ""
        return self.words[index] if self.quoted[index] else self.words[index].upper()

    def name(self, index: int) -> str:
        """The identifier at `index` as PostgreSQL reads it: folded to lower case unless
        quoted."""
        if index >= len(self.words):
            return ""
        return self.words[index] if self.quoted[index] else self.words[index].lower()

    def rest(self, index: int) -> str:
        """The statement's text from its word at `index` on."""
        return self.text[self.starts[index] :] if index < len(self.words) else ""


def split(sql: str) -> list[Statement]:
    """The statements of `sql` (separated by `;` outside strings, identifiers and comments),
    empty ones left out."""
    from sqlglot import TokenType

    try:
        tokens = _tokenizer()().tokenize(sql)
    except Exception:  # the engine will say what is wrong with it
        text = sql.strip().rstrip(";").strip()
        if not text:
            return []
        words = text.split()
        return [Statement(text, words, [False] * len(words), _starts(text, words))]
    quoting = {TokenType.IDENTIFIER, TokenType.STRING}
    statements: list[Statement] = []
    current: list[Any] = []
    for token in [*tokens, None]:
        if token is not None and token.token_type != TokenType.SEMICOLON:
            current.append(token)
            continue
        if current:
            begin = current[0].start
            count = 0
            for before, after in itertools.pairwise(current):
                if before.token_type == TokenType.PARAMETER and after.text.isdigit():
                    count = max(count, int(after.text))
            statements.append(
                Statement(
                    sql[begin : current[-1].end + 1],
                    [t.text for t in current],
                    [t.token_type in quoting for t in current],
                    [t.start - begin for t in current],
                    count,
                )
            )
        current = []
    return statements


@functools.cache
def _tokenizer() -> Any:
    """PostgreSQL's tokenizer of sqlglot, reading every statement word by word (sqlglot
    otherwise swallows the rest of DECLARE, FETCH or SHOW as one opaque string)."""
    from sqlglot.dialects.postgres import Postgres

    class Tokenizer(Postgres.Tokenizer):
        COMMANDS: ClassVar[set[Any]] = set()

    return Tokenizer


def _starts(text: str, words: list[str]) -> list[int]:
    starts, at = [], 0
    for word in words:
        at = text.index(word, at)
        starts.append(at)
        at += len(word)
    return starts
