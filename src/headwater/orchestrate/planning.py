"""Planning a run: what it builds, in which order, and what it may skip as up to date.

A run's work items are its selected assets in dependency order, a partitioned asset split into
the partitions it builds; each item waits for the items of the parents it reads. An item is up
to date when its fingerprint (its definition, by content hash, the versions of the tables it
reads and the files it scans) equals the one its last successful build recorded and its table
is still at the version that build made.
"""

from __future__ import annotations

import glob
import os
import threading
from dataclasses import dataclass
from typing import Any

from headwater.catalog.locks import Claim
from headwater.catalog.statuses import BuildStatus
from headwater.catalog.store import AssetState, Catalog
from headwater.digest import content_hash
from headwater.orchestrate.selectors import topological
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.kinds import AssetKind, BuildKind
from headwater.project.partitions import Partition
from headwater.storage.base import TableRef, TableStore


@dataclass(frozen=True)
class WorkItem:
    """One build of a run: an asset, or one partition of a partitioned asset."""

    key: str
    partition: Partition | None = None

    @property
    def id(self) -> str:
        """`key`, or `key[partition]`."""
        return self.key if self.partition is None else f"{self.key}[{self.partition.key}]"

    @property
    def partition_key(self) -> str | None:
        """The key of the item's partition (None: the item is a whole asset)."""
        return None if self.partition is None else self.partition.key


@dataclass
class Plan:
    """What a run builds and in which order."""

    order: list[str]
    """The selected assets the run builds, in dependency order: all but the ephemeral ones,
    which are compiled into the SQL of the assets reading them."""
    items: list[WorkItem]
    """The builds, in dependency order: one per asset, one per partition it builds for a
    partitioned asset."""
    waiting: dict[str, set[str]]
    """By item id, the ids of the items it waits for."""


def plan_run(
    definition: ProjectDefinition, selected: set[str], partitions: dict[str, list[Partition]]
) -> Plan:
    """Return the plan of a run building the `selected` assets.

    A partitioned asset builds the partitions `partitions` names for it, else its latest
    complete partition (every key, for listed partitions). A partition waits for the same
    partition of a parent partitioned alike, and for every build of any other parent in the
    run.
    """
    assets = definition.assets
    order = [
        k for k in topological(assets, selected) if assets[k].materialized != BuildKind.EPHEMERAL
    ]
    items: list[WorkItem] = []
    by_key: dict[str, list[WorkItem]] = {}
    for key in order:
        partition_set = assets[key].partition_set
        if partition_set is None:
            built = [WorkItem(key)]
        else:
            chosen = partitions.get(key)
            built = [
                WorkItem(key, p) for p in (chosen if chosen is not None else partition_set.latest())
            ]
        by_key[key] = built
        items.extend(built)
    waiting: dict[str, set[str]] = {}
    for item in items:
        needs: set[str] = set()
        for parent in build_parents(definition, item.key):
            if parent not in by_key:
                continue
            alike = _partitioned_alike(assets[parent], assets[item.key])
            same = [
                p
                for p in by_key[parent]
                if alike
                and item.partition is not None
                and p.partition is not None
                and p.partition.key == item.partition.key
            ]
            needs |= {p.id for p in (same or by_key[parent])}
        waiting[item.id] = needs
    return Plan(order, items, waiting)


def build_parents(definition: ProjectDefinition, key: str) -> set[str]:
    """Return the assets `key` waits for: its parents, seen through ephemerals."""
    parents: set[str] = set()
    for parent in definition.assets[key].depends_on:
        if definition.assets[parent].materialized == BuildKind.EPHEMERAL:
            parents |= build_parents(definition, parent)
        else:
            parents.add(parent)
    return parents


def claim_of(definition: ProjectDefinition, key: str, partition: str | None = None) -> Claim:
    """Return what building asset `key` (its `partition`) locks: a nested child table is
    written by its parent's load, so it locks the parent."""
    asset = definition.assets.get(key)
    return Claim(asset.parent if asset is not None and asset.parent else key, partition)


class Freshness:
    """What each asset would be built from now (its fingerprint), and whether its last build
    already made exactly that (so the run may skip it).

    Table versions and fingerprints are worked out once per run and shared by the run's
    threads; `built` tells it about a new version a build committed.
    """

    def __init__(
        self, definition: ProjectDefinition, store: TableStore, *, skip_materialized: bool
    ) -> None:
        self.definition = definition
        self.store = store
        self.skip_materialized = skip_materialized
        """Backfills: a partition built from the current definition counts as up to date."""
        self._versions: dict[str, int | None] = {}
        self._tokens: dict[str, str] = {}
        self._fingerprints: dict[str, str] = {}
        self._lock = threading.Lock()
        self._states: dict[str, AssetState] = {}
        self._recorded: dict[str, dict[str, dict[str, Any]]] = {}

    def read_records(self, catalog: Catalog, order: list[str]) -> None:
        """Read what the catalog recorded of the last builds of the assets in `order` (their
        states, and the partitions of partitioned ones), to compare fingerprints with."""
        assets = self.definition.assets
        self._states = catalog.states()
        self._recorded = {
            key: catalog.partitions(key) for key in order if assets[key].partition_set
        }

    def version(self, key: str) -> int | None:
        """Return the current version of stored asset `key`'s table (None: no table yet)."""
        if key not in self._versions:
            asset = self.definition.assets[key]
            self._versions[key] = self.store.current_version(TableRef.of(asset))
        return self._versions[key]

    def built(self, key: str, version: int | None) -> None:
        """Note that a build of `key` committed `version` (its identity changed)."""
        with self._lock:
            self._versions[key] = version
            self._tokens.pop(key, None)

    def _token(self, key: str) -> str:
        """The identity of a stored asset's current version (changes when it is rewritten)."""
        with self._lock:
            if key in self._tokens:
                return self._tokens[key]
        asset = self.definition.assets[key]
        token = str(self.store.version_token(TableRef.of(asset)))
        with self._lock:
            self._tokens[key] = token
        return token

    def fingerprint(self, key: str) -> str:
        """Return the hash of what the asset would be built from now: its definition, its
        inputs' versions and the files it scans."""
        with self._lock:
            cached = self._fingerprints.get(key)
        if cached is not None:
            return cached
        asset = self.definition.assets[key]
        parts = [asset.definition_hash, asset.materialized]
        for parent in sorted(asset.depends_on):
            upstream = self.definition.assets[parent]
            token = self._token(parent) if upstream.is_stored else self.fingerprint(parent)
            parts.append(f"{parent}={token}")
        parts.extend(self._file_tokens(asset))
        value = content_hash(*parts)
        with self._lock:
            self._fingerprints[key] = value
        return value

    def fingerprint_of(self, item: WorkItem) -> str:
        """Return the fingerprint of one work item (an asset's, with its partition's key)."""
        fingerprint = self.fingerprint(item.key)
        if item.partition is not None:
            fingerprint = content_hash(fingerprint, item.partition.key)
        return fingerprint

    def _file_tokens(self, asset: Asset) -> list[str]:
        tokens = []
        for pattern in asset.external_files:
            path = pattern if os.path.isabs(pattern) else str(self.definition.root / pattern)
            for match in sorted(glob.glob(path, recursive=True)):
                try:
                    stat = os.stat(match)
                except OSError:
                    continue
                tokens.append(f"{match}:{stat.st_size}:{stat.st_mtime_ns}")
        return tokens

    def is_fresh(self, item: WorkItem, fingerprint: str) -> bool:
        """Return whether `item`'s last build made what building it now would make (see
        `read_records`): a source table is never fresh, since only its source knows whether
        it has new data."""
        asset = self.definition.assets[item.key]
        if asset.kind in (AssetKind.SOURCE, AssetKind.STREAM):
            return False  # only the source knows whether it has new data: always ask it
        if item.partition is not None:
            found = self._recorded.get(asset.key, {}).get(item.partition.key)
            if found is None or found["status"] != BuildStatus.SUCCESS:
                return False
            if self.skip_materialized:  # a backfill: built from this definition is enough
                return bool(found["definition_hash"] == asset.definition_hash)
            return bool(found["fingerprint"] == fingerprint)
        state = self._states.get(asset.key)
        if state is None or state.fingerprint != fingerprint:
            return False
        if not asset.is_stored:
            return True
        return state.delta_version is not None and self.version(asset.key) == state.delta_version


def _partitioned_alike(first: Asset, second: Asset) -> bool:
    """Whether two assets have the same partitions (so partition K of one reads K of the
    other)."""
    a = first.model.partitions if first.model else None
    b = second.model.partitions if second.model else None
    return (
        a is not None
        and b is not None
        and (a.grain, a.start, a.timezone, a.keys) == (b.grain, b.start, b.timezone, b.keys)
    )
