"""Ad-hoc queries over a project's tables, optionally as of an earlier version or time.

A query session holds an engine of its own, registers only the tables the query names (views
of view models are recreated from their SQL on each connection), qualifies the query's table
names like a model's and returns the result as Arrow. `DESCRIBE t`, `SHOW TABLES` and the
`information_schema` views are answered by `headwater.query.metadata`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, UsageError, first_line
from headwater.project.kinds import BuildKind
from headwater.project.sql import NotAQueryError, TableReference, analyze, compile_sql
from headwater.query.metadata import (
    METADATA_PREFIX,
    METADATA_TABLES,
    described_views,
    metadata_statement_sql,
    metadata_tables,
    metadata_use,
)
from headwater.query.tables import (
    QUERY_FILE,
    Rewrite,
    Visible,
    resolve_table,
    snapshot_picker,
)
from headwater.storage.base import TableRef

if TYPE_CHECKING:
    from collections.abc import Callable

    import pyarrow as pa
    from sqlglot import exp

    from headwater.build.compiler import Compiler
    from headwater.build.relations import SnapshotPicker
    from headwater.engine.base import Engine, EngineSession
    from headwater.project.definition import ProjectDefinition
    from headwater.storage.base import TableStore

_HAS_WITH = re.compile(r"\bwith\b", re.IGNORECASE)
QUERY_HINT = (
    "headwater query runs one SELECT in DuckDB SQL, DESCRIBE <table>, SHOW TABLES, or a SELECT "
    "from information_schema." + "/".join(METADATA_TABLES)
)


class QuerySession:
    """A short-lived engine for reading a project's tables.

    Use it as a context manager: leaving it closes the engine.
    """

    def __init__(
        self,
        definition: ProjectDefinition,
        store: TableStore,
        engine: Engine,
        visible: Visible | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        """Read the tables of `definition` in `store` with `engine`, which the session owns
        (and closes) from now on; with `visible`, only the tables it admits exist (a query
        naming another is told there is no such table); with `rewrite`, every query runs as
        it makes it (the reader's masking and row filters)."""
        self.definition = definition
        self.store = store
        self.engine = engine
        self.visible = visible
        self.rewrite = rewrite
        self.tables_read: set[str] = set()
        """The tables (`namespace.name`) the queries of this session named."""

    @classmethod
    def open(cls, definition: ProjectDefinition, store: TableStore) -> QuerySession:
        """Return a session on a new engine, the one the project's `engine:` settings name."""
        from headwater.engine.registry import EnginePlace, create_engine

        engine = create_engine(definition.embedded_engine, EnginePlace.of(definition, store))
        return cls(definition, store, engine)

    def __enter__(self) -> QuerySession:
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.close()

    def _resolve(self, reference: TableReference) -> tuple[str, str]:
        return resolve_table(self.definition, self.store, reference, self.visible)

    def query(self, sql: str, as_of: str | int | None = None) -> pa.Table:
        """Run one query and return its result; tables are read at `as_of` when given.

        The query is a SELECT, `DESCRIBE <table>`, `SHOW TABLES` or a SELECT from
        `information_schema.tables`, `.columns` or `.schemata`.

        Returns:
            The whole result as an Arrow table.

        Raises:
            UsageError: the SQL does not parse (the engine's own message, with its LINE
                marker), is not one query, names an unknown table or fails in the engine.
        """
        from headwater.build.compiler import Compiler
        from headwater.build.relations import Relations

        sql = metadata_statement_sql(sql, self._resolve)
        self._check_parses(sql)
        try:
            references = analyze(sql, QUERY_FILE).references
            compiler = Compiler(self.definition)
            compiled = compile_sql(
                sql, QUERY_FILE, self._resolve, lambda ns, n: self._ephemeral(compiler, ns, n)
            )
        except NotAQueryError as exc:
            raise UsageError(
                f"headwater query does not run {exc.found} statements", hint=QUERY_HINT
            ) from None
        except ConfigError as exc:
            # the engine parsed it (above), so this is sqlglot failing on DuckDB SQL
            problem = exc.message.removeprefix("SQL does not parse: ")
            raise UsageError(
                f"DuckDB accepts the query but Headwater's SQL parser (sqlglot) cannot read "
                f"it: {problem}",
                exc.location,
                "write it another way (Headwater must parse a query to find its tables)",
            ) from None
        if self.rewrite is not None or _HAS_WITH.search(compiled):
            compiled = self._rewritten(compiled, snapshot_picker(self.store, as_of))
        use = metadata_use(compiled)
        use.scope.visible = self.visible
        pick = snapshot_picker(self.store, as_of)
        relations = Relations(self.definition, self.store, compiler.compile, snapshot=pick)
        session = self.engine.session()
        try:
            read: set[str] = set()
            for reference in references:
                namespace, name = self._resolve(reference)
                key = f"{namespace}.{name}"
                self.tables_read.add(key)
                if key in self.definition.assets:
                    # a view over tables read at `as_of` can fail to bind to their columns then
                    relations.ensure(session, key)
                    read.add(key)
                else:
                    ref = TableRef(namespace, name)
                    session.register_table(ref, pick(ref))
            unbound: dict[str, Exception] = {}
            for key in described_views(self.definition, use):
                try:
                    relations.ensure(session, key)
                except Exception as exc:
                    unbound[key] = exc  # listed without columns (or an error, when pinned)
            # every table is registered now: from here on, views bind (and nothing registers)
            unbound.update(self._seal(session, self._views_read(read)))
            if use.tables:
                built = metadata_tables(
                    self.definition, self.store, use, session, pick, unbound, self._unbound_view
                )
                for table_name, table in built.items():
                    session.register_arrow(METADATA_PREFIX + table_name, table)
            if self.rewrite is not None:
                for relation, table in self.rewrite.relations().items():
                    session.register_arrow(relation, table)
            return self._run(session, use.sql)
        except Exception as exc:
            if self.engine.is_engine_error(exc):
                first = first_line(exc)
                raise UsageError(f"query failed: {first}", hint="check the SQL") from None
            raise

    def _rewritten(self, compiled: str, pick: SnapshotPicker) -> str:
        """The compiled query with its CTEs isolated from the engine's relations, and as
        `rewrite` makes it for the reader (who reads the tables' versions `pick` gives)."""
        import sqlglot
        from sqlglot import exp

        from headwater.project.sql import DIALECT
        from headwater.query.ctes import isolate_ctes

        tree = sqlglot.parse_one(compiled, read=DIALECT)
        assert isinstance(tree, exp.Query)
        tree = isolate_ctes(tree)
        if self.rewrite is not None:
            keep_output_names(tree)
            tree = self.rewrite.rewrite(tree, self._columns_of(pick))
        return tree.sql(dialect=DIALECT, pretty=True)

    def _columns_of(self, pick: SnapshotPicker) -> Callable[[str, str], list[str] | None]:
        """The columns of a stored table at the version `pick` gives (None for a view or a
        table that is not there: the query fails on it anyway)."""
        from headwater.errors import HeadwaterError

        def columns(namespace: str, name: str) -> list[str] | None:
            asset = self.definition.assets.get(f"{namespace}.{name}")
            if asset is not None and not asset.is_stored:
                return None
            try:
                return list(pick(TableRef(namespace, name)).schema.names)
            except HeadwaterError:
                return None

        return columns

    def _check_parses(self, sql: str) -> None:
        """Refuse SQL the engine cannot parse, with its parser's message, and anything but
        one query."""
        try:
            kinds = self.engine.session().statement_kinds(sql)
        except UsageError as exc:
            raise UsageError(f"the query does not parse: {exc.message}", hint=QUERY_HINT) from None
        if len(kinds) != 1:
            raise UsageError(
                f"the query holds {len(kinds)} statements; it must be exactly one",
                hint=QUERY_HINT,
            )
        # DESCRIBE and SHOW come here only in forms `metadata_statement_sql` did not rewrite
        if kinds[0] != "SELECT":
            raise UsageError(f"headwater query does not run {kinds[0]} statements", hint=QUERY_HINT)

    def _seal(self, session: EngineSession, required: set[str]) -> dict[str, Exception]:
        """Called once every table the query can read is registered, before any view model
        binds. The read-only session locks its connection down here and only then creates
        the views of view models (see `headwater.query.readonly`).

        Args:
            session: the query's session.
            required: the view models the query itself reads (not only describes).

        Returns:
            The view models that could not be created, with why; none here, where a view
            that cannot be created fails as it is registered.
        """
        return {}

    def _run(self, session: EngineSession, sql: str) -> pa.Table:
        """Run the query's final SQL (every name in it registered) and return its result."""
        return session.query(sql)

    def _unbound_view(self, key: str, exc: Exception) -> UsageError:
        """The error for describing (by name) the view model `key`, which does not bind."""
        return UsageError(
            f"cannot describe the view {key}: {first_line(exc)}",
            hint=f"headwater query 'select * from {key}' shows the same error",
        )

    def _views_read(self, keys: set[str]) -> set[str]:
        """The view models that reading the assets `keys` reads, through views and
        ephemerals."""
        assets = self.definition.assets
        views: set[str] = set()
        seen: set[str] = set()
        pending = [k for k in keys if k in assets]
        while pending:
            key = pending.pop()
            if key in seen:
                continue
            seen.add(key)
            asset = assets[key]
            if asset.materialized in (BuildKind.VIEW, BuildKind.EPHEMERAL):
                if asset.materialized == BuildKind.VIEW:
                    views.add(key)
                pending.extend(d for d in asset.depends_on if d in assets)
        return views

    def _ephemeral(self, compiler: Compiler, namespace: str, name: str) -> str | None:
        asset = self.definition.assets.get(f"{namespace}.{name}")
        if asset is None or asset.materialized != BuildKind.EPHEMERAL:
            return None
        return compiler.compile(asset.key)


def keep_output_names(tree: exp.Query) -> None:
    """Name each unnamed output column of `tree` as the engine would name it now, from its
    text, so that a rewrite of what it reads (masking, the cache's table names) changes
    neither its name nor shows in it."""
    from sqlglot import exp

    from headwater.project.sql import DIALECT

    for select in _outputs(tree):
        for index, expression in enumerate(list(select.expressions)):
            if isinstance(expression, exp.Alias | exp.Column | exp.Star):
                continue
            name = expression.sql(dialect=DIALECT)
            select.expressions[index] = exp.alias_(expression, name, quoted=True)
            select.expressions[index].parent = select


def _outputs(tree: exp.Query) -> list[exp.Select]:
    """The SELECTs whose columns are the query's (the first branch of a set operation)."""
    from sqlglot import exp

    node: Any = tree
    while isinstance(node, exp.SetOperation):
        node = node.this
    if isinstance(node, exp.Subquery):
        node = node.unnest()
    return [node] if isinstance(node, exp.Select) else []
