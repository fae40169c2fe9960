"""Make assets readable by name inside the engine: Delta tables at a version, views by their SQL.

Before a model builds, every asset it reads must exist in the engine: a stored asset as a scan of
its current snapshot, a view model as a view (recreated from its compiled SQL), an ephemeral
model through the assets it reads. Registration is shared by a run's worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from headwater.engine.base import EngineSession
from headwater.errors import Location, ModelError
from headwater.project.definition import Asset, ProjectDefinition
from headwater.project.kinds import BuildKind
from headwater.storage.base import Snapshot, TableRef, TableStore

SnapshotPicker = Callable[[TableRef], Snapshot]


class Relations:
    """Tracks which assets are registered in a shared engine, at which version."""

    def __init__(
        self,
        definition: ProjectDefinition,
        store: TableStore,
        view_sql: Callable[[str], str],
        snapshot: SnapshotPicker | None = None,
    ) -> None:
        self.definition = definition
        self.store = store
        self._view_sql = view_sql
        self._snapshot: SnapshotPicker = snapshot or store.snapshot
        self._registered: dict[str, object] = {}
        self._lock = threading.RLock()

    def ensure_inputs(self, session: EngineSession, key: str) -> None:
        """Register everything asset `key` reads."""
        for parent in self.definition.assets[key].depends_on:
            self.ensure(session, parent)

    def ensure(self, session: EngineSession, key: str) -> None:
        """Register asset `key` (and, for views and ephemerals, what it reads)."""
        asset = self.definition.assets[key]
        ref = TableRef.of(asset)
        with self._lock:
            if asset.materialized == BuildKind.EPHEMERAL:
                self.ensure_inputs(session, key)
                return
            if asset.materialized == BuildKind.VIEW:
                if self._registered.get(key) == BuildKind.VIEW:
                    return
                require_views(session, asset)
                self.ensure_inputs(session, key)
                session.register_view(ref, self._view_sql(key))
                self._registered[key] = BuildKind.VIEW
                return
            version = self.store.current_version(ref)
            if version is not None and self._registered.get(key) == version:
                return
            snapshot = self._snapshot(ref)
            session.register_table(ref, snapshot)
            self._registered[key] = snapshot.version

    def refresh(self, session: EngineSession, key: str) -> None:
        """Note that `key` was rebuilt in this run: whatever reads it next registers the new
        version (not before, as often nothing in the run does)."""
        with self._lock:
            self._registered.pop(key, None)


def require_views(session: EngineSession, asset: Asset) -> None:
    """Check that the session's engine can hold the view model `asset`; raises `ModelError`
    saying how to build it instead when it cannot."""
    capabilities = session.capabilities
    if not capabilities.views:
        raise ModelError(
            f"{asset.key} is a view, and the {capabilities.dialect} engine cannot hold views",
            Location(file=asset.rel_path, asset=asset.key),
            "materialize it as a table ('materialized: table' in its sidecar)",
        )
