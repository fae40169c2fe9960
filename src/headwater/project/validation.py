"""The checks a project passes once its files are read: dependencies, cycles, pools, partitions
and the names of checks.

Each pass raises a `ConfigError` pointing at the file (and line, where known) to fix.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from headwater.errors import ConfigError, Location
from headwater.project.checks import Check
from headwater.project.definition import PROJECT_FILE, Asset, AssetIndex, ProjectDefinition
from headwater.project.drafts import Draft, draft_checks
from headwater.project.kinds import BuildKind
from headwater.project.sql import TableReference
from headwater.project.yamlfile import closest


def resolve_depends_on(draft: Draft, index: AssetIndex) -> tuple[str, ...]:
    """The keys of the assets `draft` depends on: its parent table, the assets its
    relationship checks refer to and the tables its SQL reads, in that order.

    Raises:
        ConfigError: a table is unknown or ambiguous, or a model other than an incremental one
            reads itself.
    """
    depends: list[str] = [draft.parent] if draft.parent else []
    for target in _checked_against(draft, index):
        if target not in depends and target != draft.key:
            depends.append(target)
    if draft.analysis is not None:
        for reference in draft.analysis.references:
            target = index.resolve(reference, draft.key, draft.rel_path)
            if target != draft.key and target not in depends:
                depends.append(target)
            if target == draft.key and draft.materialized not in (
                BuildKind.INCREMENTAL,
                BuildKind.SNAPSHOT,
            ):
                raise ConfigError(
                    f"model {draft.key} reads itself",
                    Location(file=draft.rel_path, line=reference.line),
                    "only incremental models may read their own table ({{ this }})",
                )
    return tuple(depends)


def _checked_against(draft: Draft, index: AssetIndex) -> list[str]:
    """The assets `draft`'s relationship checks refer to: it is built after them, so that its
    foreign keys are checked against their current rows."""
    from headwater.project.checks import Relationships

    config = draft.model or draft.seed
    if config is not None:
        checks = [*config.checks, *(c for column in config.columns for c in column.checks)]
    elif draft.source is not None and draft.parent is None:
        checks = list(draft.source.table.checks)
    else:
        return []
    targets = []
    for check in checks:
        if isinstance(check, Relationships):
            namespace, _, name = check.to.rpartition(".")
            reference = TableReference(namespace or None, name, None)
            try:
                targets.append(index.resolve(reference, draft.key, draft.rel_path))
            except ConfigError as exc:
                raise ConfigError(
                    f"check {check.label} of {draft.key} refers to unknown asset '{check.to}'",
                    Location(file=_sidecar_name(draft)),
                    exc.hint,
                ) from None
    return targets


def _sidecar_name(draft: Draft) -> str:
    """The file holding `draft`'s settings: its sidecar (or the source file)."""
    if draft.source is not None:
        return draft.rel_path
    return str(Path(draft.rel_path).with_suffix(".yml"))


def check_acyclic(assets: dict[str, Asset]) -> None:
    """Raise a `ConfigError` printing the cycle if the dependency graph has one."""
    done: set[str] = set()
    for root in sorted(assets):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        iterators = [iter(assets[root].depends_on)]
        while iterators:
            parent = next(iterators[-1], None)
            if parent is None:
                done.add(path[-1])
                on_path.discard(path.pop())
                iterators.pop()
                continue
            if parent in on_path:
                cycle = [*path[path.index(parent) :], parent]
                raise ConfigError(
                    "dependency cycle: " + " reads ".join(cycle),
                    Location(file=assets[parent].rel_path),
                    "a model cannot read, directly or through others, a model that reads it",
                )
            if parent not in done:
                path.append(parent)
                on_path.add(parent)
                iterators.append(iter(assets[parent].depends_on))


def check_pools(definition: ProjectDefinition) -> None:
    """Every pool an asset names is declared under `pools:` in headwater.yml."""
    declared = definition.config.pools
    for asset in definition.assets.values():
        if asset.pool is not None and asset.pool not in declared:
            near = closest(asset.pool, declared)
            hint = (
                f"did you mean '{near}'?"
                if near
                else (f"declare it in {PROJECT_FILE}: pools: {{{asset.pool}: 2}}")
            )
            raise ConfigError(
                f"{asset.key} takes a slot of pool '{asset.pool}', which is not declared",
                Location(file=asset.rel_path),
                hint,
            )


def check_masking(definition: ProjectDefinition) -> None:
    """Every table a row filter or a masking rule names, and every column a role reads
    unmasked, belongs to an asset: a misspelt name would leave the real table unfiltered or
    its column masked by its kind's rule alone, without a word."""
    config = definition.config
    named: list[tuple[str, str]] = []  # (where, table key)
    for role, settings in config.serve.roles.items():
        named += [(f"serve.roles.{role}.rows", table) for table in settings.rows]
        named += [
            (f"serve.roles.{role}.unmasked", entry.rsplit(".", 1)[0])
            for entry in settings.unmasked
            if entry.count(".") == 2
        ]
    named += [
        ("governance.masking.columns", column.rsplit(".", 1)[0])
        for column in config.governance.masking.columns
    ]
    for where, table in named:
        if table in definition.assets:
            continue
        near = closest(table, definition.assets)
        raise ConfigError(
            f"{where} names table {table}, which the project does not have",
            Location(file=PROJECT_FILE),
            f"did you mean '{near}'?" if near else "name a table as namespace.name",
        )


def check_partitioned(definition: ProjectDefinition) -> None:
    """Every partitioned asset is materialized as a table."""
    for asset in definition.assets.values():
        if asset.partition_set is not None and asset.materialized != BuildKind.TABLE:
            raise ConfigError(
                f"{asset.key} is partitioned but materialized as {asset.materialized}",
                Location(file=_sidecar_name_of(asset)),
                "partitions replace one slice of a table at a time: use 'materialized: table'",
            )


def _sidecar_name_of(asset: Asset) -> str:
    return str(Path(asset.rel_path).with_suffix(".yml"))


def name_checks_apart(draft: Draft) -> None:
    """Give each check of the asset a name no other of its checks has: results, history and
    quarantine reasons are keyed by it. A default name already taken gets `_2`, `_3`, ... in
    the order the checks are written; two checks given the same `name:` are an error."""
    checks = draft_checks(draft)
    named: dict[str, tuple[str | int, ...]] = {}
    for check, path in checks:
        if check.name is None:
            continue
        if check.name in named:
            where = draft.document.location(path) if draft.document else Location(draft.rel_path)
            raise ConfigError(
                f"two checks of {draft.key} are named '{check.name}'",
                where,
                "give each check a name of its own (results and history are kept by name)",
            )
        named[check.name] = path
    taken = set(named)
    renamed: dict[int, Check] = {}
    for check, _ in checks:
        if check.name is not None:
            continue
        label = check.default_name()
        name, number = label, 2
        while name in taken:
            name, number = f"{label}_{number}", number + 1
        taken.add(name)
        if name != label:
            renamed[id(check)] = check.model_copy(update={"name": name})
    if not renamed:
        return

    def apart(found: list[Check]) -> list[Check]:
        return [renamed.get(id(c), c) for c in found]

    if draft.model is not None or draft.seed is not None:
        config: Any = draft.model or draft.seed
        config = config.model_copy(
            update={
                "checks": apart(config.checks),
                "columns": [
                    c.model_copy(update={"checks": apart(c.checks)}) for c in config.columns
                ],
            }
        )
        if draft.model is not None:
            draft.model = config
        else:
            draft.seed = config
    elif draft.source is not None:
        table = draft.source.table
        draft.source = dataclasses.replace(
            draft.source, table=table.model_copy(update={"checks": apart(table.checks)})
        )
