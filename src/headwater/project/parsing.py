"""Each model's SQL parsed once per content hash, and the cache that keeps the result.

Parsing is most of the cost of loading a project, so what sqlglot finds in a model's SQL (the
tables it reads, its SELECT list, the `config()` its template sets) is kept in
`.headwater/parse_cache.json` by the hash of the SQL: loading a project whose files did not
change never imports sqlglot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from headwater.digest import content_hash
from headwater.errors import ConfigError, Location
from headwater.project.columns import SelectOutputs
from headwater.project.config import ModelConfig, ProjectConfig
from headwater.project.kinds import BuildKind
from headwater.project.sql import SqlAnalysis
from headwater.project.yamlfile import error_message

if TYPE_CHECKING:
    from headwater.project.drafts import Draft

PARSE_CACHE_VERSION = 2


class ParseCache:
    """JSON entries keyed by the hash of what they were computed from, kept between loads
    (SQL analyses here, compiled SQL in `transform/compiler.py`).

    A file written by another `version` of the format is ignored.
    """

    def __init__(self, path: Path, version: int = PARSE_CACHE_VERSION) -> None:
        self.path = path
        self.version = version
        self._entries: dict[str, Any] = {}
        self._dirty = False
        try:
            data = json.loads(path.read_text())
            if data.get("version") == self.version:
                self._entries = data["entries"]
        except (OSError, ValueError, KeyError):
            self._entries = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached entry for `key`, if any."""
        entry: dict[str, Any] | None = self._entries.get(key)
        return entry

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store an entry, to be written by `save`."""
        self._entries[key] = value
        self._dirty = True

    def entry_keys(self) -> list[str]:
        """Every key held."""
        return list(self._entries)

    def save(self, live_keys: Iterable[str]) -> None:
        """Write the cache, keeping only entries still in use; never fails the load."""
        live = set(live_keys)
        if not self._dirty and live == set(self._entries):
            return
        entries = {k: v for k, v in self._entries.items() if k in live}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps({"version": self.version, "entries": entries}))
            os.replace(tmp, self.path)
        except OSError:
            pass


def cache_key(draft: Draft, config: ProjectConfig) -> str:
    """The parse cache's key for a model: its SQL, its key and, when templated, the vars."""
    assert draft.sql is not None
    extra = json.dumps(config.vars, sort_keys=True, default=str) if draft.templated else ""
    return content_hash(draft.sql, draft.key, extra)


def analyze_draft(draft: Draft, config: ProjectConfig, cache: ParseCache) -> None:
    """Fill in the draft's SQL analysis (and templated config), from the cache when possible."""
    from headwater.project.sql import analyze

    assert draft.sql is not None
    key = cache_key(draft, config)
    entry = cache.get(key)
    if entry is None:
        sql = draft.sql
        template_config: dict[str, Any] = {}
        if draft.templated:
            from headwater.project.templating import render

            timestamps = bool(
                draft.model and draft.model.partitions and draft.model.partitions.timestamps
            )
            result = render(
                sql,
                file=draft.rel_path,
                this=draft.key,
                is_incremental=True,
                variables=config.vars,
                timestamps=timestamps,
            )
            sql, template_config = result.sql, result.config
            materialized = template_config.get("materialized") or draft.materialized
            if materialized not in (BuildKind.INCREMENTAL, BuildKind.SNAPSHOT):
                # is_incremental() is always false for such a model: what it reads is what the
                # non-incremental rendering reads (not, say, {{ this }} in an incremental block)
                sql = render(
                    draft.sql,
                    file=draft.rel_path,
                    this=draft.key,
                    is_incremental=False,
                    variables=config.vars,
                    timestamps=timestamps,
                ).sql
        from headwater.project.columns import select_outputs
        from headwater.project.sql import parse_select

        tree = parse_select(sql, draft.rel_path)  # parsed once for all three
        entry = {
            "analysis": analyze(sql, draft.rel_path, tree).to_json(),
            "config": template_config,
        }
        outputs = select_outputs(tree)
        entry["outputs"] = outputs.to_json()
        if outputs.star:
            entry["sql"] = sql
            draft.tree = tree
        cache.put(key, entry)
    draft.analysis = SqlAnalysis.from_json(entry["analysis"])
    draft.outputs = SelectOutputs.from_json(entry.get("outputs") or {})
    draft.rendered = entry.get("sql")
    if entry["config"]:
        assert draft.model is not None
        merged = {**draft.model.model_dump(exclude_unset=True), **entry["config"]}
        try:
            draft.model = ModelConfig.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid config() in the SQL: {error_message(exc.errors()[0])}",
                Location(file=draft.rel_path),
                "fix the arguments of {{ config(...) }}",
            ) from None
        draft.materialized = BuildKind(draft.model.materialized or config.defaults.materialized)
