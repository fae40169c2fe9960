"""Hand-written DuckDB quoting agrees with sqlglot and round-trips through DuckDB itself."""

from __future__ import annotations

import math

import duckdb
import pytest
from sqlglot import exp

from headwater.sqltext import column_list, identifier, literal

NAMES = [
    "plain",
    "Mixed Case",
    'quo"te',
    '""',
    "semi;colon",
    "back\\slash",
    "naïve 名前",
    "",
    "a.b",
]
DB = duckdb.connect()
STRINGS = [*NAMES, "it's", "''; drop table x; --", "line\nbreak", "tab\t", "$$dollar$$"]


@pytest.mark.parametrize("name", NAMES)
def test_identifier_matches_sqlglot_and_duckdb(name: str) -> None:
    assert identifier(name) == exp.to_identifier(name, quoted=True).sql(dialect="duckdb")
    if name:
        columns = [d[0] for d in DB.execute(f"select 1 as {identifier(name)}").description]
        assert columns == [name]


@pytest.mark.parametrize("text", STRINGS)
def test_string_literal_matches_sqlglot_and_round_trips(text: str) -> None:
    assert literal(text) == exp.Literal.string(text).sql(dialect="duckdb")
    assert DB.execute(f"select {literal(text)}").fetchone() == (text,)


@pytest.mark.parametrize("value", [0, -7, 2**63 - 1, 10**30, 1.5, -0.25, 1e-300, 1e300, 0.1])
def test_numbers_round_trip(value: float) -> None:
    (result,) = DB.execute(f"select {literal(value)}").fetchone() or (None,)
    assert result == value
    assert type(result) is type(value) or isinstance(value, int)


def test_non_finite_floats_and_other_scalars() -> None:
    (nan, inf, ninf) = DB.execute(
        f"select {literal(math.nan)}, {literal(math.inf)}, {literal(-math.inf)}"
    ).fetchone() or (None, None, None)
    assert isinstance(nan, float) and math.isnan(nan)
    assert (inf, ninf) == (math.inf, -math.inf)
    assert DB.execute(f"select {literal(True)}, {literal(None)}").fetchone() == (True, None)


def test_nul_characters_are_refused() -> None:
    with pytest.raises(ValueError):
        identifier("a\x00b")
    with pytest.raises(ValueError):
        literal("a\x00b")


def test_column_list() -> None:
    assert column_list(["a", 'b"c']) == '"a", "b""c"'
