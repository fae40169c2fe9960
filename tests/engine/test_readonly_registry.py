"""The read-only query path gets its engine from the registry: the engine `engine:` names
gives a locked-down engine and its reading of SQL, and an engine that registered none is
refused with a message saying so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from headwater.engine.base import Engine
from headwater.engine.duckdb import DuckDBEngine
from headwater.engine.readonly import LockableSession, ReadOnlyCall, ReadOnlyRefusal
from headwater.engine.registry import (
    EnginePlace,
    create_readonly_engine,
    readonly_support,
    register_engine,
)
from headwater.errors import ConfigError, UsageError
from headwater.project.config import EngineConfig


def a_call() -> ReadOnlyCall:
    return ReadOnlyCall(deadline=time.monotonic() + 10, limit_s=10, max_rows=5)


def test_duckdb_gives_a_locked_down_engine_for_one_call(tmp_path: Path) -> None:
    call = a_call()
    engine = create_readonly_engine(EngineConfig(threads=1), EnginePlace(tmp_path), call)
    try:
        session = engine.session()
        assert isinstance(session, LockableSession)
        assert session.seal() == {}
        assert call.sealed
        assert session.query("select * from range(10)").num_rows == 5
        assert call.truncated
        with pytest.raises(ReadOnlyRefusal, match="a statement refused"):
            session.execute("create table t (x int)")
    finally:
        engine.close()


def test_duckdb_reads_sql_with_its_own_parser_and_lists() -> None:
    support = readonly_support(EngineConfig(threads=1))
    assert support.statement_kinds("select 1; copy t to 'x'") == ["SELECT", "COPY"]
    assert ("select", "keyword") in support.tokens("select 1")
    assert "ATTACH" in support.denied_words
    assert support.denied_functions.fullmatch("read_csv")
    assert not support.denied_functions.fullmatch("sum")
    assert "information_schema" in support.system_schemas
    assert support.spaces.search("a\u200bb")


def test_an_engine_without_read_only_support_is_refused_by_name(tmp_path: Path) -> None:
    def factory(config: EngineConfig, place: EnginePlace) -> Engine:
        return DuckDBEngine(threads=1)

    register_engine("buildonly", factory)
    config = EngineConfig.model_construct(type="buildonly", threads=None, memory_limit=None)
    with pytest.raises(UsageError) as caught:
        create_readonly_engine(config, EnginePlace(tmp_path), a_call())
    assert "the engine 'buildonly' cannot run untrusted SQL read-only" in caught.value.message
    assert caught.value.location.file == "headwater.yml"
    assert "duckdb" in (caught.value.hint or "")


def test_an_unknown_engine_is_a_config_error_on_the_read_only_path_too(tmp_path: Path) -> None:
    config = EngineConfig.model_construct(type="nosuch", threads=None, memory_limit=None)
    with pytest.raises(ConfigError, match="unknown engine 'nosuch'"):
        create_readonly_engine(config, EnginePlace(tmp_path), a_call())
