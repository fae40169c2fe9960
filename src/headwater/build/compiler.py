"""Turn a model's source SQL into the SQL that runs: render templates, qualify, inline CTEs.

Compiled SQL is kept in `.headwater/compile_cache.json`, keyed by everything it is computed
from: the model's source, its key, whether it compiles for an incremental run, the project's
vars (for templated models), and each upstream asset's key (with an ephemeral upstream's own
compiled SQL, which is inlined). A rebuild whose SQL did not change therefore imports neither
sqlglot nor Jinja.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from headwater.digest import content_hash
from headwater.project.definition import AssetIndex, ProjectDefinition
from headwater.project.kinds import BuildKind
from headwater.project.parsing import ParseCache
from headwater.project.templating import render
from headwater.version import __version__

if TYPE_CHECKING:
    from headwater.project.sql import TableReference

# Bump when compile_sql's output changes for the same input.
COMPILE_CACHE_VERSION = 2  # 2: PIVOT, UNPIVOT and TABLESAMPLE kept on renamed tables


class Compiler:
    """Compiles the models of one project; results are cached per (asset, incremental) pair."""

    def __init__(self, definition: ProjectDefinition) -> None:
        self.definition = definition
        self._index = AssetIndex(definition.assets)
        self._cache: dict[tuple[str, bool], str] = {}
        self._lock = threading.Lock()
        self._disk = ParseCache(definition.state_dir / "compile_cache.json", COMPILE_CACHE_VERSION)
        self._used: dict[str, tuple[str, str]] = {}
        """Cache entries used by this process: key -> (asset, form)."""

    def rendered(self, key: str, is_incremental: bool = False) -> str:
        """Return the model's SQL after templating (unchanged when it has no template)."""
        asset = self.definition.assets[key]
        assert asset.sql is not None, f"{key} is not a model"
        if not asset.templated:
            return asset.sql
        partitions = asset.model.partitions if asset.model else None
        return render(
            asset.sql,
            file=asset.rel_path,
            this=asset.key,
            is_incremental=is_incremental,
            variables=self.definition.config.vars,
            timestamps=partitions is not None and partitions.timestamps,
        ).sql

    def compile(self, key: str, is_incremental: bool = False) -> str:
        """Return the SQL that builds `key`: fully qualified, ephemeral upstreams inlined."""
        cached = self._cache.get((key, is_incremental))
        if cached is not None:
            return cached
        cache_key = self._cache_key(key, is_incremental)
        entry = self._disk.get(cache_key)
        if entry is not None:
            sql = str(entry["sql"])
        else:
            sql = self._compile(key, is_incremental)
            with self._lock:
                self._disk.put(cache_key, {"asset": key, "incremental": is_incremental, "sql": sql})
        with self._lock:
            self._cache[(key, is_incremental)] = sql
            self._used[cache_key] = (key, "incremental" if is_incremental else "full")
        return sql

    def save(self) -> None:
        """Keep what was compiled for the next process. Drops entries of removed assets, and
        entries superseded by a new compilation of the same asset in the same form (full,
        incremental or qualified). Never fails."""
        with self._lock:
            compiled = set(self._used.values())

            def keep(cache_key: str) -> bool:
                if cache_key in self._used:
                    return True
                entry = self._disk.get(cache_key) or {}
                pair = (entry.get("asset"), _form(entry))
                return pair[0] in self.definition.assets and pair not in compiled

            self._disk.save([k for k in self._disk.entry_keys() if keep(k)])

    def _cache_key(self, key: str, is_incremental: bool) -> str:
        asset = self.definition.assets[key]
        assert asset.sql is not None, f"{key} is not a model"
        upstream = []
        for parent in asset.depends_on:
            target = self.definition.assets[parent]
            inlined = self.compile(parent) if target.materialized == BuildKind.EPHEMERAL else ""
            upstream.append(f"{parent}={inlined}")
        variables = json.dumps(self.definition.config.vars, sort_keys=True, default=str)
        partitions = asset.model.partitions if asset.model else None
        return content_hash(
            __version__,
            asset.sql,
            key,
            str(is_incremental),
            variables if asset.templated else "",
            str(partitions.timestamps if partitions else ""),
            *upstream,
        )

    def _resolver(self, key: str) -> Callable[[TableReference], tuple[str, str]]:
        """Maps the references of model `key` to (namespace, name) of their assets."""
        asset = self.definition.assets[key]

        def resolve(reference: TableReference) -> tuple[str, str]:
            target = self.definition.assets[self._index.resolve(reference, key, asset.rel_path)]
            return target.namespace, target.name

        return resolve

    def _compile(self, key: str, is_incremental: bool) -> str:
        from headwater.project.sql import compile_sql

        asset = self.definition.assets[key]

        def ephemeral(namespace: str, name: str) -> str | None:
            target = self.definition.assets[f"{namespace}.{name}"]
            if target.materialized != BuildKind.EPHEMERAL:
                return None
            return self.compile(target.key)

        return compile_sql(
            self.rendered(key, is_incremental), asset.rel_path, self._resolver(key), ephemeral
        )

    def qualified(self, key: str) -> str:
        """Return the model's full-refresh SQL with every reference fully qualified and
        ephemeral upstreams left as references (the form column lineage reads)."""
        from headwater.project.sql import compile_sql

        cache_key = content_hash("qualified", self._cache_key(key, False))
        entry = self._disk.get(cache_key)
        if entry is not None:
            return str(entry["sql"])
        asset = self.definition.assets[key]
        sql = compile_sql(
            self.rendered(key), asset.rel_path, self._resolver(key), lambda _ns, _n: None
        )
        with self._lock:
            self._disk.put(cache_key, {"asset": key, "qualified": True, "sql": sql})
            self._used[cache_key] = (key, "qualified")
        return sql


def _form(entry: dict[str, object]) -> str:
    """Which SQL of its asset a cache entry holds: `full`, `incremental` or `qualified`."""
    if entry.get("qualified"):
        return "qualified"
    return "incremental" if entry.get("incremental") else "full"
