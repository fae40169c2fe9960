"""Read `streams/*.yml`: one stream per file, one asset per stream (its Delta table).

A stream's SQL reads its micro-batch as `events` and may join the project's tables; those
tables become the stream's dependencies in the graph, like a model's. The SQL is parsed once
per content, like a model's (`analyze_stream`, through the parse cache).
"""

from __future__ import annotations

import json
from pathlib import Path

from headwater.digest import content_hash
from headwater.errors import ConfigError, Location
from headwater.project.drafts import Draft
from headwater.project.kinds import AssetKind, BuildKind
from headwater.project.parsing import ParseCache
from headwater.project.sql import SqlAnalysis
from headwater.project.streams import (
    EVENTS_RELATION,
    STREAMS_DOCS,
    StreamConfig,
    parse_aggregate,
)
from headwater.project.yamlfile import load_yaml, read_utf8, validated

FOLDER = "streams"


def read_streams(root: Path) -> list[Draft]:
    """A draft for each stream file under `streams/`.

    Raises:
        ConfigError: a file is not a valid stream (names the file, line and key).
    """
    folder = root / FOLDER
    if not folder.is_dir():
        return []
    drafts = []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        rel = str(path.relative_to(root))
        document = load_yaml(path, rel)
        declared: StreamConfig = validated(document, StreamConfig, document.data, STREAMS_DOCS)
        stream = declared.declared_in(rel)
        name = stream.name or path.stem
        if not name.isidentifier():
            raise ConfigError(
                f"stream name '{name}' (from the file name) is not a valid name",
                Location(file=rel),
                "rename the file, or set `name:` to letters, digits and underscores",
            )
        drafts.append(
            Draft(
                key=f"{stream.namespace}.{name}",
                namespace=stream.namespace,
                name=name,
                kind=AssetKind.STREAM,
                path=path,
                rel_path=rel,
                materialized=BuildKind.STREAM,
                model=None,
                seed=None,
                sql=None,
                templated=False,
                definition_hash=content_hash("stream", read_utf8(path, rel)),
                stream=stream,
                document=document,
            )
        )
    return drafts


def analyze_stream(draft: Draft, cache: ParseCache) -> str:
    """Fill in the stream draft's analysis (the tables its SQL joins) and check its window's
    aggregate expressions, from the parse cache when neither changed; return the cache key.

    Raises:
        ConfigError: an aggregate's expression is not one row's value (it holds an aggregate
            or window function of its own, or does not parse), at its YAML line.
    """
    stream = draft.stream
    assert stream is not None
    aggregates = stream.window.aggregates if stream.window is not None else {}
    key = content_hash("stream", stream.sql or "", json.dumps(aggregates, sort_keys=True))
    entry = cache.get(key)
    if entry is None:
        found = _analysis(stream, draft.rel_path)
        entry = {
            "analysis": None if found is None else found.to_json(),
            "problems": {
                name: problem
                for name, text in aggregates.items()
                if (problem := _aggregate_problem(text)) is not None
            },
        }
        cache.put(key, entry)
    for name, problem in entry["problems"].items():
        where = (
            draft.document.location(("window", "aggregates", name))
            if draft.document is not None
            else Location(file=draft.rel_path)
        )
        raise ConfigError(
            f"stream {draft.key}: aggregate {name}: {problem}",
            where,
            "aggregate one row's value, e.g. sum(price * quantity); see " + STREAMS_DOCS,
        )
    draft.analysis = None if entry["analysis"] is None else SqlAnalysis.from_json(entry["analysis"])
    return key


def _aggregate_problem(text: str) -> str | None:
    """Why the aggregate `text` does not aggregate one row's value (None: it does)."""
    import sqlglot
    from sqlglot import exp

    _, argument = parse_aggregate(text)
    if argument == "*":
        return None
    try:
        tree = sqlglot.parse_one(f"select {argument}", read="duckdb")
    except sqlglot.errors.ParseError:
        return f"'{argument}' in '{text}' is not a SQL expression"
    if any(True for _ in tree.find_all(exp.AggFunc, exp.Window)):
        return f"'{text}' holds an aggregate or window function of its own"
    return None


def _analysis(stream: StreamConfig, rel: str) -> SqlAnalysis | None:
    """The tables the stream's SQL joins (its micro-batch, `events`, is not one)."""
    if stream.sql is None or not stream.sql.strip():
        return None
    from headwater.project.sql import analyze

    found = analyze(stream.sql, rel)
    references = tuple(
        r
        for r in found.references
        if not (r.namespace is None and r.name.lower() == EVENTS_RELATION)
    )
    return SqlAnalysis(references=references, external_files=found.external_files)
