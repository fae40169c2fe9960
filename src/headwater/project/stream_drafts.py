"""Read `streams/*.yml`: one stream per file, one asset per stream (its Delta table).

A stream's SQL reads its micro-batch as `events` and may join the project's tables; those
tables become the stream's dependencies in the graph, like a model's.
"""

from __future__ import annotations

from pathlib import Path

from headwater.digest import content_hash
from headwater.errors import ConfigError, Location
from headwater.project.drafts import Draft
from headwater.project.kinds import AssetKind, BuildKind
from headwater.project.sql import SqlAnalysis
from headwater.project.streams import EVENTS_RELATION, STREAMS_DOCS, StreamConfig
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
                analysis=_analysis(stream, rel),
                stream=stream,
                document=document,
            )
        )
    return drafts


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
