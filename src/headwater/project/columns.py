"""The columns each asset produces, known before anything is built, and the names checked
against them.

A check, a column test or a key naming a column the asset does not produce is a mistake in the
YAML, so it is reported at project load, at its YAML line, with the closest column. An asset's
columns come from its enforced contract, from its SELECT list (a `*` is expanded by sqlglot
against the columns of the assets it reads) or from a seed's CSV header. Where they cannot be
known before the build (`select *` from a source that was never loaded), the same check runs at
build time on the output's real columns, before the audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigError, Location
from headwater.project.checks import Check, Expression, Relationships, SqlCheck, Unique
from headwater.project.kinds import AssetKind
from headwater.project.yamlfile import KeyPath, closest

if TYPE_CHECKING:
    from pathlib import Path

    from sqlglot import exp

    from headwater.project.config import SeedConfig
    from headwater.project.definition import Asset

SNAPSHOT_COLUMNS = ("valid_from", "valid_to", "is_current")
"""What a snapshot adds to its SELECT's columns (as `transform/snapshot.py` writes them)."""
CHECK_KEYS = ("checks", "tests", "data_tests")
"""The keys a check list may sit under in YAML (dbt's names are accepted too)."""
SHOWN_COLUMNS = 12
"""How many of an asset's columns a message lists."""


@dataclass(frozen=True)
class SelectOutputs:
    """What a model's SELECT list says about its output columns."""

    names: tuple[str, ...] | None
    """The output column names, when every one is known from the SQL alone."""
    star: bool = False
    """The list holds a `*`: the names follow from the columns of what the model reads."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form, for the parse cache."""
        return {"names": None if self.names is None else list(self.names), "star": self.star}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SelectOutputs:
        """Rebuild from `to_json` output."""
        names = data.get("names")
        return cls(None if names is None else tuple(names), bool(data.get("star")))


def select_outputs(tree: exp.Query) -> SelectOutputs:
    """Read the output columns of a parsed query from its (first) SELECT list."""

    if _by_name(tree):
        return SelectOutputs(None)  # UNION BY NAME: the columns of every branch
    names: list[str] = []
    for projection in tree.selects:
        if _is_star(projection):
            return SelectOutputs(None, star=True)
        if _named(projection):
            names.append(projection.alias_or_name)
        else:
            # DuckDB names `x + 1` or `count(*)` after the expression text, and COLUMNS(...)
            # after what it matches: not known here
            return SelectOutputs(None)
    return SelectOutputs(tuple(names))


def _named(projection: Any) -> bool:
    from sqlglot import exp

    return (
        isinstance(projection, exp.Alias | exp.Column)
        and bool(projection.alias_or_name)
        and "*" not in projection.alias_or_name
        and not any(_is_columns(node) for node in projection.walk())
    )


def _is_star(projection: Any) -> bool:
    """A plain `*` or `t.*` (with EXCLUDE, REPLACE or RENAME): expandable from a schema."""
    from sqlglot import exp

    if isinstance(projection, exp.Star):
        return True
    return isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)


def _is_columns(node: Any) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Columns) or (
        isinstance(node, exp.Anonymous) and node.name.lower() == "columns"
    )


def _by_name(tree: Any) -> bool:
    from sqlglot import exp

    return any(isinstance(n, exp.SetOperation) and n.args.get("by_name") for n in tree.walk())


def expand_star(
    compiled: str | exp.Query, schemas: dict[str, dict[str, list[str]]]
) -> list[str] | None:
    """The output columns of `compiled` (SQL or a parsed query, table names qualified; a
    parsed one is changed in place), with every `*` expanded from `schemas` (namespace ->
    table -> columns); None when one cannot be expanded, or its names cannot be told for
    certain."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.qualify import qualify

    try:
        tree = sqlglot.parse_one(compiled, read="duckdb") if isinstance(compiled, str) else compiled
        if not isinstance(tree, exp.Query):
            return None
        # only stars are expanded: any other unnamed projection keeps the output unknown, in
        # the model's own SELECT list as in every subquery or CTE whose rows a star may read
        # (DuckDB names `count(*)` `count_star()`, where sqlglot would invent `_col_1`)
        if _by_name(tree) or _unnamed_feeding(tree):
            return None
        schema: dict[str, object] = {
            namespace: {table: dict.fromkeys(columns, "TEXT") for table, columns in tables.items()}
            for namespace, tables in schemas.items()
        }
        qualified = qualify(
            tree,
            schema=schema,
            dialect="duckdb",
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
    except Exception:  # sqlglot could not follow the SQL: the build-time check covers it
        return None
    if not isinstance(qualified, exp.Query):
        return None
    names = [p.alias_or_name for p in qualified.selects]
    if any(not _named(p) for p in qualified.selects) or not all(names):
        return None  # a star sqlglot could not expand (from a table function, a struct)
    if any(GENERATED_NAME.fullmatch(n) for n in names):
        return None  # a name sqlglot made up (`VALUES` columns are `col0` in DuckDB)
    return names


GENERATED_NAME = re.compile(r"_col_\d+")
"""How sqlglot names a column it cannot name (DuckDB names it differently)."""


def _unnamed_feeding(tree: exp.Query) -> bool:
    """Whether a SELECT whose rows are the output or a `*` may read them (the query itself,
    a CTE, a subquery in FROM or JOIN, a set operation's branch) has a projection that is
    neither a star nor a name: DuckDB names it after its text, which is not modelled here."""
    from sqlglot import exp

    for select in tree.find_all(exp.Select):
        if not _feeds_rows(select):
            continue  # a scalar, IN or EXISTS subquery: its columns are not output
        if any(not _is_star(p) and not _named(p) for p in select.selects):
            return True
    return False


def _feeds_rows(select: exp.Expression) -> bool:
    from sqlglot import exp

    parent = select.parent
    while isinstance(parent, exp.SetOperation | exp.Subquery):
        parent = parent.parent
    return parent is None or isinstance(parent, exp.From | exp.Join | exp.Lateral | exp.CTE)


def _unmodelled(node: Any) -> bool:
    """A node of an expression whose effect on the columns read is not modelled: a subquery, a
    star or COLUMNS(...) (they read columns by pattern), a table, a parameter, a statement."""
    from sqlglot import exp

    unmodelled = (
        exp.Query,
        exp.Star,
        exp.Table,
        exp.Placeholder,
        exp.Parameter,
        exp.SessionParameter,
        exp.Command,
    )
    return isinstance(node, unmodelled) or _is_columns(node)


def expression_columns(sql: str) -> list[str] | None:
    """The columns an `expression` check reads, in order of appearance; None when that cannot
    be told (it does not parse, holds a subquery, a star or a construct not modelled here)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except Exception:  # the audit reports an expression that does not parse
        return None
    if tree is None or any(_unmodelled(node) for node in tree.walk()):
        return None
    # names a lambda (`x -> x + 1`) or a list comprehension (`[x for x, i in arr]`) binds are
    # not columns; a name bound anywhere is taken as bound everywhere (never a false error)
    bound: set[str] = set()
    for node in tree.find_all(exp.Lambda, exp.Comprehension):
        if isinstance(node, exp.Lambda):
            params = list(node.expressions)
        else:
            params = [node.args.get("expression"), node.args.get("position")]
        for param in params:
            if param is None:
                continue
            if not isinstance(param, exp.Identifier | exp.Column):
                return None
            bound.add(param.name.lower())
    found: list[str] = []
    for column in tree.find_all(exp.Column):
        if not isinstance(column.this, exp.Identifier):
            return None
        parts = [p.name for p in column.parts]
        # `s.field` reads column `s` (a struct): the audit's rows have no table alias
        name = parts[0] if parts else column.name
        if name and name.lower() not in bound and name not in found:
            found.append(name)
    return found


def seed_read_sql(path: str, seed: SeedConfig | None, root: Path) -> str:
    """The query that reads the CSV at `path` of a seed of the project at `root` (as its build
    loads it; typed by its sidecar)."""
    from headwater.project.hive_folders import hive_folders, reader_option, select_list
    from headwater.sqltext import literal

    folders = hive_folders(path, root)
    options = [
        "header = true",
        f"delim = {literal(seed.delimiter if seed else ',')}",
        *reader_option(folders),
    ]
    typed = {c.name: c.type for c in seed.columns if c.type} if seed else {}
    if typed:
        pairs = ", ".join(f"{literal(n)}: {literal(t)}" for n, t in typed.items())
        options.append(f"types = {{{pairs}}}")
    return f"SELECT {select_list(folders)} FROM read_csv({literal(path)}, {', '.join(options)})"


def seed_columns(path: str, seed: SeedConfig | None, root: Path) -> list[str] | None:
    """A seed's column names as its build will find them: DuckDB's CSV sniffer says (it may
    skip lines before the header, rename an empty or a repeated name); None when it cannot
    read the file."""
    import duckdb

    try:
        connection = duckdb.connect()
        try:
            described = connection.execute(f"DESCRIBE {seed_read_sql(path, seed, root)}").fetchall()
        finally:
            connection.close()
    except Exception:  # the seed's build reports a file DuckDB cannot read
        return None
    return [str(row[0]) for row in described] or None


def check_columns(
    check: Check, expression: Callable[[str], list[str] | None] = expression_columns
) -> list[str] | None:
    """The columns of its own table that `check` reads (None: they cannot be told)."""
    if isinstance(check, SqlCheck):
        return None
    if isinstance(check, Expression):
        return expression(check.sql)
    if isinstance(check, Unique):
        return check.key
    return [check.column] if check.column else []


@dataclass(frozen=True)
class ColumnProblem:
    """A name in the YAML that is not a column of the asset."""

    line: int
    message: str
    location: Location
    hint: str

    def error(self, more: int = 0) -> ConfigError:
        """The `ConfigError` of this problem (`more`: other problems found with it)."""
        extra = f" (and {more} more such problem{'s' if more > 1 else ''})" if more else ""
        return ConfigError(self.message + extra, self.location, self.hint)


def column_problems(
    asset: Asset,
    columns: Sequence[str],
    expression: Callable[[str], list[str] | None] | None = None,
    columns_of: Callable[[str], list[str] | None] = lambda _key: None,
    resolve: Callable[[str], str | None] = lambda _name: None,
) -> list[ColumnProblem]:
    """Every name in `asset`'s checks, column tests, keys and personal-data columns that is
    not one of `columns`.

    Args:
        asset: the asset whose YAML is checked.
        columns: its output columns.
        expression: gives the columns an expression reads (default: as the project load
            found them, else parsed).
        columns_of: gives another asset's columns by key (None: unknown).
        resolve: gives the key of the asset a relationship's `to` names (None: unknown).

    Returns:
        The problems, in the order of their lines.
    """
    problems: list[ColumnProblem] = []
    if expression is None:
        known_reads = asset.expression_reads

        def expression(sql: str) -> list[str] | None:
            # found when the project loaded (and cached): a build need not import sqlglot
            return known_reads[sql] if sql in known_reads else expression_columns(sql)

    def missing(name: str, what: str, path: Sequence[KeyPath], among: Sequence[str]) -> None:
        if name.lower() in {c.lower() for c in among}:
            return
        location = _location(asset, path)  # composing the YAML's lines costs: only on a miss
        near = closest(name, among) or closest(name.lower(), [c.lower() for c in among])
        listed = ", ".join(among[:SHOWN_COLUMNS]) + (", ..." if len(among) > SHOWN_COLUMNS else "")
        hint = (f"did you mean '{near}'? " if near else "") + f"its columns: {listed}"
        problems.append(ColumnProblem(location.line or 0, what, location, hint))

    for check, path, under_column in _checks_with_paths(asset):
        names = check_columns(check, expression) or []
        for name in names:
            where = path
            if under_column is not None and name == check.column:
                where = [under_column, *path]
            missing(
                name,
                f"check {check.label} of {asset.key} reads column '{name}', "
                f"which {asset.key} does not produce",
                where,
                columns,
            )
        if isinstance(check, Relationships):
            target = resolve(check.to)
            target_columns = columns_of(target) if target else None
            if target and target_columns is not None:
                missing(
                    check.field,
                    f"check {check.label} of {asset.key} refers to {target}.{check.field}, "
                    f"but {target} has no column '{check.field}'",
                    path,
                    target_columns,
                )
    config = asset.model or asset.seed
    # a typo in a `pii:` column would leave the real column, and all derived from it,
    # unclassified
    declared: list[tuple[str, str, KeyPath]] = (
        [(c.name, c.pii, ("columns", j, "name")) for j, c in enumerate(config.columns) if c.pii]
        if config
        else []
    )
    if asset.source is not None and asset.parent is None:
        declared = [
            (name, kind, ("tables", asset.name, "columns", name))
            for name, kind in asset.source.table.personal_data.items()
        ]
    for name, kind, at in declared:
        missing(
            name,
            f"column '{name}' of {asset.key} is declared `pii: {kind}`, but {asset.key} "
            "does not produce it",
            [at],
            columns,
        )
    keys: list[tuple[str, list[str]]] = (
        [("partition_by", list(config.partition_by))] if config else []
    )
    if asset.model is not None:
        keys.insert(0, ("unique_key", asset.unique_key))
    for key, names in keys:
        for position, name in enumerate(names):
            missing(
                name,
                f"{key} of {asset.key} names column '{name}', which {asset.key} does not produce",
                [(key, position), (key,)],
                columns,
            )
    return sorted(problems, key=lambda p: p.line)


def column_error(asset: Asset, columns: Sequence[str]) -> ConfigError | None:
    """The error for the first name in `asset`'s YAML that is not one of `columns` (its built
    output's), or None when every name is one of them."""
    problems = column_problems(asset, columns)
    return problems[0].error(len(problems) - 1) if problems else None


def _checks_with_paths(
    asset: Asset,
) -> Iterable[tuple[Check, list[KeyPath], KeyPath | None]]:
    """Each check of `asset` with the YAML paths it may sit at (first present wins) and, for a
    column test, the path of its column's name."""
    config = asset.model or asset.seed
    if config is not None:
        for i, check in enumerate(config.checks):
            yield check, [(k, i) for k in CHECK_KEYS], None
        for j, column in enumerate(config.columns):
            for k, check in enumerate(column.checks):
                paths: list[KeyPath] = [("columns", j, key, k) for key in CHECK_KEYS]
                yield check, paths, ("columns", j, "name")
    elif asset.source is not None and asset.parent is None:
        for i, check in enumerate(asset.source.table.checks):
            yield check, [("tables", asset.name, k, i) for k in CHECK_KEYS], None


def _location(asset: Asset, paths: Sequence[KeyPath]) -> Location:
    """Where in the asset's YAML the first present of `paths` is (the SQL file when none is:
    the setting came from `{{ config(...) }}`)."""
    document = asset.document
    if document is not None:
        for path in paths:
            if document.has(path):
                return Location(file=str(document.path), line=document.line_of(path))
        if asset.kind != AssetKind.MODEL:
            return Location(file=str(document.path), line=document.line_of(paths[0]))
    return Location(file=asset.rel_path)
