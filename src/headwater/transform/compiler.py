"""Turn a model's source SQL into the SQL that runs: render templates, qualify, inline CTEs."""

from __future__ import annotations

import threading

from headwater.project.loader import AssetIndex, ProjectDefinition
from headwater.project.sql import TableReference, compile_sql
from headwater.project.templating import render


class Compiler:
    """Compiles the models of one project; results are cached per (asset, incremental) pair."""

    def __init__(self, project: ProjectDefinition) -> None:
        self.project = project
        self._index = AssetIndex(project.assets)
        self._cache: dict[tuple[str, bool], str] = {}
        self._lock = threading.Lock()

    def rendered(self, key: str, is_incremental: bool = False) -> str:
        """Return the model's SQL after templating (unchanged when it has no template)."""
        asset = self.project.assets[key]
        assert asset.sql is not None, f"{key} is not a model"
        if not asset.templated:
            return asset.sql
        return render(
            asset.sql,
            file=asset.rel_path,
            this=asset.key,
            is_incremental=is_incremental,
            variables=self.project.config.vars,
        ).sql

    def compile(self, key: str, is_incremental: bool = False) -> str:
        """Return the SQL that builds `key`: fully qualified, ephemeral upstreams inlined."""
        cached = self._cache.get((key, is_incremental))
        if cached is not None:
            return cached
        asset = self.project.assets[key]

        def resolve(reference: TableReference) -> tuple[str, str]:
            target = self.project.assets[self._index.resolve(reference, key, asset.rel_path)]
            return target.namespace, target.name

        def ephemeral(namespace: str, name: str) -> str | None:
            target = self.project.assets[f"{namespace}.{name}"]
            if target.materialized != "ephemeral":
                return None
            return self.compile(target.key)

        sql = compile_sql(self.rendered(key, is_incremental), asset.rel_path, resolve, ephemeral)
        with self._lock:
            self._cache[(key, is_incremental)] = sql
        return sql
