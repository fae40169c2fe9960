"""Work out each asset's output columns at project load, and check the columns its YAML names.

The columns come from an enforced contract, a model's SELECT list (a `*` expanded against the
columns of the assets it reads) or a seed's CSV header (`columns.py` holds how each is read).
Results are kept in `.headwater/columns_cache.json`, apart from the parse cache: a `*`'s
expansion depends on other models too.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.digest import content_hash
from headwater.errors import ConfigError
from headwater.project.definition import Asset, AssetIndex, ProjectDefinition
from headwater.project.drafts import Draft, draft_checks
from headwater.project.kinds import AssetKind, BuildKind
from headwater.project.parsing import ParseCache
from headwater.project.sql import TableReference

COLUMNS_CACHE_VERSION = 4  # 4: a seed gets no column from a key=value folder above the project
"""Bump when the columns worked out for the same input change (`project/columns.py`)."""


class ColumnInference:
    """Works out the assets' output columns before anything is built, and checks every
    column the YAML names (checks, column tests, keys) against them."""

    def __init__(
        self, definition: ProjectDefinition, drafts: dict[str, Draft], index: AssetIndex
    ) -> None:
        self.definition = definition
        self.drafts = drafts
        self.index = index
        # kept apart from the parse cache: a `*`'s expansion depends on other models too
        self.cache = ParseCache(definition.state_dir / "columns_cache.json", COLUMNS_CACHE_VERSION)
        self.live: set[str] = set()
        self.known: dict[str, list[str] | None] = {}

    def expression_reads(self, draft: Draft) -> dict[str, list[str] | None]:
        """The columns each `expression` check of `draft` reads, by its SQL."""
        from headwater.project.checks import Expression

        return {
            c.sql: self._expression(c.sql)
            for c, _ in draft_checks(draft)
            if isinstance(c, Expression)
        }

    def _expression(self, sql: str) -> list[str] | None:
        key = content_hash("expression", sql)
        self.live.add(key)
        entry = self.cache.get(key)
        if entry is None:
            from headwater.project.columns import expression_columns

            entry = {"columns": expression_columns(sql)}
            self.cache.put(key, entry)
        found: list[str] | None = entry["columns"]
        return found

    def columns_of(self, key: str) -> list[str] | None:
        """The output columns of asset `key`, or None when they cannot be known unbuilt."""
        if key not in self.known:
            self.known[key] = None  # a model reading itself ({{ this }}) finds nothing
            self.known[key] = self._work_out(self.definition.assets[key])
        return self.known[key]

    def _work_out(self, asset: Asset) -> list[str] | None:
        from headwater.project.columns import SNAPSHOT_COLUMNS

        if asset.contract is not None:
            return [c.name for c in asset.contract]
        if asset.kind == AssetKind.SEED:
            return self._seed(asset)
        if asset.stream is not None:
            return asset.stream.output_columns
        draft = self.drafts.get(asset.key)
        if asset.kind != AssetKind.MODEL or draft is None or draft.outputs is None:
            return None
        names: list[str] | None
        if draft.outputs.names is not None:
            names = list(draft.outputs.names)
        elif draft.outputs.star and draft.rendered is not None:
            names = self._expand(asset, draft)
        else:
            return None
        if names is not None and asset.materialized == BuildKind.SNAPSHOT:
            names = [*names, *SNAPSHOT_COLUMNS]
        return names

    def _expand(self, asset: Asset, draft: Draft) -> list[str] | None:
        rendered = draft.rendered
        assert rendered is not None
        schemas: dict[str, dict[str, list[str]]] = {}
        for upstream in asset.depends_on:
            found = self.columns_of(upstream)
            if found is not None:
                namespace, name = upstream.split(".", 1)
                schemas.setdefault(namespace, {})[name] = found
        key = content_hash("star", rendered, asset.key, json.dumps(schemas, sort_keys=True))
        self.live.add(key)
        entry = self.cache.get(key)
        if entry is None:
            from headwater.project.columns import expand_star
            from headwater.project.sql import compile_tree, parse_select

            def resolve(reference: TableReference) -> tuple[str, str]:
                namespace, _, name = self.index.resolve(
                    reference, asset.key, asset.rel_path
                ).partition(".")
                return namespace, name

            try:
                # the tree this load parsed, when it has one: parsing is most of the cost
                tree, draft.tree = draft.tree or parse_select(rendered, asset.rel_path), None
                compiled = compile_tree(
                    tree, asset.rel_path, resolve, lambda _n, _t: None, copy=False
                )
            except ConfigError:
                compiled = None
            entry = {"columns": expand_star(compiled, schemas) if compiled is not None else None}
            self.cache.put(key, entry)
        found_names: list[str] | None = entry["columns"]
        return found_names

    def _seed(self, asset: Asset) -> list[str] | None:
        """A seed's columns from DuckDB's CSV sniffer, as its build reads them (cached by the
        file's size and time and its sidecar: DuckDB is started only when they change)."""
        key = content_hash("seed", asset.definition_hash, str(asset.path))
        self.live.add(key)
        entry = self.cache.get(key)
        if entry is None:
            from headwater.project.columns import seed_columns

            entry = {"columns": seed_columns(str(asset.path), asset.seed, self.definition.root)}
            self.cache.put(key, entry)
        found: list[str] | None = entry["columns"]
        return found

    def _resolve(self, asset: Asset) -> Any:
        def resolve(name: str) -> str | None:
            namespace, _, bare = name.rpartition(".")
            try:
                return self.index.resolve(
                    TableReference(namespace or None, bare, None), asset.key, asset.rel_path
                )
            except ConfigError:
                return None

        return resolve

    def validate(self) -> None:
        """Raise a `ConfigError` at the YAML line of the first column an asset's checks, column
        tests, keys or `pii:` columns name that the asset does not produce (where its columns
        are known)."""
        from headwater.project.columns import column_problems

        try:
            for asset in sorted(self.definition.assets.values(), key=lambda a: (a.rel_path, a.key)):
                named = asset.checks or asset.unique_key or asset.partition_by
                if not (named or asset.personal_data):
                    continue
                columns = self.columns_of(asset.key)
                if columns is None:
                    continue  # checked at build time, on the output's real columns
                self.definition.columns[asset.key] = columns
                problems = column_problems(
                    asset,
                    columns,
                    columns_of=self.columns_of,
                    resolve=self._resolve(asset),
                )
                if problems:
                    raise problems[0].error(len(problems) - 1)
        finally:
            self.cache.save(self.live)
