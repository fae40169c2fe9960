"""Reading a client's catalog query as PostgreSQL's lexer reads it: where its strings,
quoted names and comments are, so that what Headwater looks for or rewrites in the text is
never inside a string; and PostgreSQL's array literals.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from headwater.errors import UsageError

_SEGMENT = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>[eE]?'(?:[^']|'')*(?:'|\Z))
  | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?(?:\$(?P=tag)?\$|\Z))
  | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
  | (?P<code>[^-/'"$eE]+|[-/$eE])
    """,
    re.VERBOSE | re.DOTALL,
)
_OPERATOR = re.compile(r"OPERATOR\s*\(\s*(?:pg_catalog\s*\.\s*)?([-~!@#%^&|`?+*/<>=]+)\s*\)", re.I)
_COLLATE_DEFAULT = re.compile(r"COLLATE\s+(?:pg_catalog\s*\.\s*)?\"?default\"?", re.I)
_KEYWORD_LABEL = re.compile(r"\b(AS\s+)([A-Za-z_]+)\b", re.I)


def segments(sql: str) -> Iterator[tuple[str, str]]:
    """Split `sql` into (kind, text): `code`, `ident` (a quoted name), `string`, `dollar` (a
    dollar-quoted string) and `comment`, as PostgreSQL's lexer reads them."""
    position = 0
    code: list[str] = []
    while position < len(sql):
        match = _SEGMENT.match(sql, position)
        if match is None or match.end() == position:  # cannot happen; never loop forever
            code.append(sql[position:])
            break
        kind = "dollar" if match.lastgroup == "tag" else str(match.lastgroup)
        if kind == "code":
            code.append(match.group())
        else:
            if code:
                yield "code", "".join(code)
                code = []
            yield kind, match.group()
        position = match.end()
    if code:
        yield "code", "".join(code)


def code_text(sql: str) -> str:
    """`sql` without its strings and comments (each replaced by a space); quoted names stay."""
    return "".join(text if kind in ("code", "ident") else " " for kind, text in segments(sql))


def plain_text(sql: str) -> str:
    """`sql` with what sqlglot does not read written plainly, outside strings and comments:
    `OPERATOR(pg_catalog.~)` becomes `~`, `COLLATE pg_catalog.default` goes (the default
    collation is the only one), and a keyword used as a column label (`AS select`, which
    PostgreSQL allows) is quoted."""
    parts = []
    for kind, text in segments(sql):
        part = text
        if kind == "code":
            part = _COLLATE_DEFAULT.sub(" ", _OPERATOR.sub(r" \1 ", part))
            part = _KEYWORD_LABEL.sub(_quoted_label, part)
        parts.append(part)
    return "".join(parts)


def _quoted_label(match: re.Match[str]) -> str:
    word = match.group(2)
    if word.lower() in _label_keywords():
        return f'{match.group(1)}"{word.lower()}"'
    return match.group(0)


@functools.cache
def _label_keywords() -> frozenset[str]:
    """PostgreSQL's keywords that are not plain names (reserved, or a type or function name),
    and the statement words sqlglot does not take as a label either."""
    from headwater.serve.pgwire.catalog_pg15 import KEYWORDS

    reserved = frozenset(str(k[0]) for k in KEYWORDS if k[1] in ("R", "T", "C"))
    return reserved | {"update", "insert", "delete"}


def parse_array(text: str) -> list[str | None]:
    """The elements of a one-dimensional PostgreSQL array literal (`{a,"b c",NULL}`).

    Raises:
        UsageError: it is not one.
    """
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise UsageError(f"malformed array literal: {text!r}")
    body = body[1:-1]
    items: list[str | None] = []
    if not body.strip():
        return items
    current: list[str] = []
    quoted = was_quoted = escape = False
    for char in body:
        if escape:
            current.append(char)
            escape = False
        elif char == "\\":
            escape = True
        elif char == '"':
            quoted = not quoted
            was_quoted = True
        elif char == "," and not quoted:
            items.append(_array_item("".join(current), was_quoted))
            current, was_quoted = [], False
        elif char in "{}" and not quoted:
            raise UsageError(f"a multi-dimensional array literal is not supported: {text!r}")
        else:
            current.append(char)
    items.append(_array_item("".join(current), was_quoted))
    return items


def _array_item(text: str, quoted: bool) -> str | None:
    if quoted:
        return text
    stripped = text.strip()
    return None if stripped.upper() == "NULL" else stripped
