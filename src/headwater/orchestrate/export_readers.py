"""How an export with a `role:` reads its asset: as that role reads it through `headwater
serve`, with the role's masking and row filters applied to the rows it sends.

The export compares two versions of its asset through relations of its own; the role's view
of the asset is worked out once (the governance rewrite of `SELECT * FROM asset`) and pointed
at each of those relations in turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from headwater.errors import ExportError, Location

if TYPE_CHECKING:
    from headwater.catalog.store import Catalog
    from headwater.engine.base import EngineSession
    from headwater.governance.masking import Masking
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.storage.base import TableStore

ReadsAs = Callable[["EngineSession", str, str], str]


def export_reader(
    definition: ProjectDefinition, catalog: Catalog, store: TableStore, asset: Asset
) -> ReadsAs | None:
    """The way export `asset` reads its upstream asset as its role (None: it has no role)."""
    config = asset.export
    if config is None or config.role is None:
        return None
    role = config.role
    lock = threading.Lock()
    made: list[Masking | None] = []

    def masking() -> Masking | None:
        from headwater.governance.classification import classify
        from headwater.governance.masking import Masking
        from headwater.lineage.report import project_column_graph
        from headwater.orchestrate.principals import principal_of

        with lock:
            if made:
                return made[0]
            principal = principal_of(definition, f"export {config.name}", (role,))
            upstream = asset.depends_on[0]
            if not principal.can_read_key(upstream):
                raise ExportError(
                    f"export {config.name} reads as role {role}, which may not read {upstream}",
                    Location(file=asset.rel_path),
                    f"grant {role} {upstream} under serve.roles, or export as another role",
                )
            found = None
            if principal.masked:
                graph = project_column_graph(definition, catalog, store)
                known = {key: info.columns for key, info in graph.assets.items()}
                found = Masking(
                    definition, classify(definition, graph), principal.grants(), known=known
                )
            made.append(found)
            return found

    def reads_as(session: EngineSession, key: str, relation: str) -> str:
        import sqlglot
        from sqlglot import exp

        from headwater.query.policy import QueryRejected

        rewrite = masking()
        if rewrite is None:
            return f"SELECT * FROM {relation}"
        namespace, name = key.split(".", 1)
        tree = sqlglot.parse_one(
            f'SELECT * FROM "{namespace}"."{name}"', into=exp.Select, read="duckdb"
        )
        this_query = rewrite.fresh()
        try:
            masked = this_query.rewrite(tree)
        except QueryRejected as exc:
            raise ExportError(
                f"export {config.name} cannot read {key} as role {role}: {exc.message}",
                Location(file=asset.rel_path),
                exc.hint,
            ) from None
        for extra, table in this_query.relations().items():
            session.register_arrow(extra, table)
        target = sqlglot.parse_one(relation, into=exp.Table, read="duckdb")
        for table in list(masked.find_all(exp.Table)):
            if table.name.lower() == name.lower() and (table.db or "").lower() == namespace.lower():
                replacement = target.copy()
                if table.alias:
                    replacement.set("alias", table.args.get("alias"))
                table.replace(replacement)
        return masked.sql(dialect="duckdb")

    return reads_as
