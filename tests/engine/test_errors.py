"""The engine tells its own errors from Headwater's faults and words them as a model's error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.engine.base import Engine
from headwater.engine.registry import EnginePlace, create_engine
from headwater.errors import ModelError
from headwater.project.config import EngineConfig


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create_engine(EngineConfig(threads=1), EnginePlace(tmp_path))
    yield made
    made.close()


def failure(engine: Engine, sql: str) -> Exception:
    try:
        engine.session().query(sql)
    except Exception as exc:
        return exc
    raise AssertionError(f"{sql} did not fail")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT nope FROM (SELECT 1 AS x)",  # binder: unknown column
        "SELECT CAST('x' AS INTEGER)",  # conversion
        "SELEC 1",  # parser
        "SELECT * FROM read_parquet('/nonexistent/file.parquet')",  # I/O
    ],
)
def test_errors_of_a_query_are_the_engines(engine: Engine, sql: str) -> None:
    assert engine.is_engine_error(failure(engine, sql))


def test_other_errors_are_not_the_engines(engine: Engine) -> None:
    assert not engine.is_engine_error(ValueError("a bug"))
    assert not engine.is_engine_error(ModelError("a refusal"))


def test_model_error_names_the_model_and_the_first_line(engine: Engine) -> None:
    exc = failure(engine, "SELECT nope FROM (SELECT 1 AS x)")
    error = engine.model_error(exc, "marts.orders", "models/marts/orders.sql")
    assert error.message.startswith("model marts.orders failed: Binder Error")
    assert "\n" not in error.message
    assert error.location.file == "models/marts/orders.sql"
    assert error.location.asset == "marts.orders"
    assert error.hint is not None and "headwater compile marts.orders" in error.hint
