"""Masks applied to a query's answer instead of to every row it reads, where that is the same.

The masking subquery (`headwater.governance.masking`) masks a column in each row read, before
the query filters, groups or limits: a page of 1,000 rows hashes every row its filter keeps
before the ORDER BY ... LIMIT picks the page, and a GROUP BY over a month of rows hashes each
of them to find three groups. For the common shape of query that only *returns* a masked
column, the mask can be applied to the answer instead:

    select * from t where k > 10 order by k limit 1000
    -->  select * replace (<mask of c> as c) from (select * from t ...) as t
         where k > 10 order by k limit 1000

which the engine evaluates on the rows it answers; a query that keeps a page (`LIMIT`) and
whose select list holds only columns and `*` is wrapped, `select * replace (<mask of c> as
c) from (<the query>) as hw_page`, so that only the page's rows are masked. This is done only
where the raw value provably reaches nothing but the mask:

- the query is one SELECT over the one table (no join, CTE, subquery, set operation, and no
  PIVOT, sample or column alias list `t AS x(a, b)` on the table);
- each reference to the column is a whole item of the select list (`c`, `c AS x`) or, for an
  injective rule (`hash`), an item of GROUP BY: grouping by the text the hash is of, compared
  byte for byte, makes the same groups as grouping by its keyed hash (grouping by the raw
  value would not: intervals '1 month' and '30 days' are equal, 0.0 and -0.0 too, and so are
  'a' and 'A' under a NOCASE collation), and the groups show the hash;
- the query has no construct that reads a column without a plain reference to it: `t.*`,
  `* EXCLUDE/REPLACE/RENAME`, `COLUMNS(...)`, `#n`, the whole row by the table's name, a
  dot call (`name.upper()`, `t.to_json()`), a field of a struct column (`address.city`), a
  position in GROUP BY beside a `*` (it counts the star's columns);
- a position in GROUP BY (`group by 1`) counts as grouping by its item: allowed for `hash`
  only, like the column's name;
- the rule is not an `expression` (which may read the table's other columns);
- every name of the table is ASCII (the engine folds no other letter's case, Python does);
- a wrapped page names no output twice (the engine would rename one, `id_1`, possibly onto
  a masked output's name) and spells its names in ASCII (the engine folds no other case).

Whatever else refers to the select list's names (an alias in WHERE, ORDER BY 1, ORDER BY ALL,
DISTINCT, GROUP BY ALL) refers to the item, which is the masked value (a wrapped page is
refused any such reference). Every other masked column stays masked in the subquery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

    from headwater.project.masking import MaskRule

Mask = Callable[["exp.Column", "MaskRule"], "exp.Expression"]
"""The expression showing a column masked by a rule."""
PAGE = "hw_page"
"""The alias of a page of rows masked around the query that keeps it."""
INJECTIVE = frozenset({"hash"})
"""The rules that keep distinct values distinct (so grouping by the text they are of is
grouping by the masked value)."""


def late_columns(
    tree: exp.Query, table: exp.Table, masks: Mapping[str, MaskRule], columns: Sequence[str]
) -> dict[str, MaskRule]:
    """The masked columns of `table` that `tree` only returns (or, hashed, groups by), so
    that they can be masked in its answer (`mask_late`); `columns` are the table's columns
    as the query reads them.

    Returns:
        The column (as the table names it) and its rule; empty when `tree` is not a query of
        the shape this applies to.
    """
    from sqlglot import exp

    if not isinstance(tree, exp.Select) or not masks or not _one_table(tree, table):
        return {}
    if not all(name.isascii() for name in [*masks, *columns]):
        return {}  # the engine folds ASCII letters only: `str.lower` would match other names
    names = {table.alias_or_name.lower(), table.name.lower()}
    spelled = {c.lower(): c for c in masks}
    allowed = {c.lower() for c in masks}
    starred = any(isinstance(i, exp.Star) for i in tree.expressions)
    returned = set(allowed) if starred else set()
    modifiers = ("except_", "except", "replace", "rename")
    for item in tree.expressions:
        if isinstance(item, exp.Star) and any(item.args.get(arg) for arg in modifiers):
            return {}
    of_table = {id(node) for node in table.walk()}
    for node in tree.walk():
        if id(node) in of_table:
            continue
        if isinstance(node, exp.PositionalColumn | exp.Columns | exp.Dot):
            return {}  # `#1`, `COLUMNS(...)`, `name.upper()`: reads a column it does not name
        if isinstance(node, exp.Star) and not _plain_star(node, tree):
            return {}
        if isinstance(node, exp.Identifier) and not _plain_identifier(node, names, allowed):
            return {}
        if not isinstance(node, exp.Column):
            continue
        if isinstance(node.this, exp.Star) or node.name.lower() in names:
            return {}  # `t.*`, or the whole row as a value
        qualifier = node.table.lower()
        if node.args.get("db") or node.args.get("catalog") or qualifier not in names | {""}:
            return {}  # `s.field` of a struct column `s`, or a name this check cannot place
        name = node.name.lower()
        if name not in allowed:
            continue
        if _returned(node, tree):
            returned.add(name)
            continue
        if _grouped(node, tree) and masks[spelled[name]].function in INJECTIVE:
            continue
        allowed.discard(name)
    group = tree.args.get("group")
    for key in group.expressions if group is not None else []:
        if isinstance(key, exp.Literal) and key.is_int:
            if starred:
                return {}  # the position counts the star's columns, which this cannot
            item = _item(tree, int(key.name))
            grouped = item.name.lower() if isinstance(item, exp.Column) else ""
            if grouped in allowed and masks[spelled[grouped]].function not in INJECTIVE:
                allowed.discard(grouped)
    if tree.args.get("distinct") is not None and tree.args["distinct"].args.get("on"):
        return {}
    known = {c.lower() for c in columns}
    return {
        spelled[c]: masks[spelled[c]]
        for c in allowed & returned
        # an expression rule may read the table's other columns, by the subquery's alias
        if c in known and masks[spelled[c]].function != "expression"
    }


def mask_late(
    tree: exp.Select,
    table: exp.Table,
    late: Mapping[str, MaskRule],
    mask: Mask,
    columns: Sequence[str],
) -> exp.Select:
    """Mask the columns `late` of `table` (now read raw by its masking subquery) where `tree`
    returns them, and group by the raw value where it groups by one; `columns` are the
    table's columns as the query reads them.

    Returns:
        `tree`, changed in place; or, for a query that keeps a page of its rows (`LIMIT`)
        and refers to the masked columns nowhere else, a query around it that masks the
        page's rows, so that the rows the LIMIT drops are not masked at all.
    """
    from sqlglot import exp

    alias = table.alias_or_name
    rules = {c.lower(): (c, r) for c, r in late.items()}

    def raw(name: str, of: str = alias) -> exp.Column:
        return exp.column(name, table=of, quoted=True)

    outputs = _page_outputs(tree, rules, columns)
    if outputs:
        replaced = [
            exp.alias_(mask(raw(output, PAGE), rules[column][1]), output, quoted=True)
            for output, column in sorted(outputs.items())
        ]
        around = exp.select(exp.Star(replace=replaced)).from_(
            tree.subquery(exp.to_identifier(PAGE, quoted=True))
        )
        return around
    group = tree.args.get("group")
    grouped: set[str] = set()
    if group is not None:
        for position, key in enumerate(list(group.expressions)):
            target: exp.Expression | None = key
            if isinstance(key, exp.Literal) and key.is_int:
                target = _item(tree, int(key.name))  # GROUP BY 1
            if (
                isinstance(target, exp.Column)
                and target.name.lower() in rules
                and rules[target.name.lower()][1].function in INJECTIVE
            ):
                # the text the hash is of, not the raw value: equal as values is not equal as
                # text for every type (intervals '1 month' and '30 days', 0.0 and -0.0); named
                # so that it cannot bind to the masked item's alias
                name = rules[target.name.lower()][0]
                group.expressions[position].replace(_group_key(raw(name)))
                grouped.add(name.lower())
    for item in list(tree.expressions):
        if isinstance(item, exp.Star):
            replaced = [
                exp.alias_(mask(raw(column), rule), column, quoted=True)
                for column, rule in sorted(late.items())
            ]
            item.set("replace", replaced)
            continue
        column = item.unalias()
        if isinstance(column, exp.Column) and column.name.lower() in rules:
            name, rule = rules[column.name.lower()]
            # unaliased, the engine names the answer's column as the table spells it
            output = item.alias if isinstance(item, exp.Alias) else name
            shown = mask(raw(name), rule)
            if name.lower() in grouped:
                shown = _on_group_key(shown, raw(name))
            item.replace(exp.alias_(shown, output, quoted=True))
    return tree


def _group_key(column: exp.Column) -> exp.Expression:
    """What a hashed column is grouped by: the text its hash is of, compared byte for byte
    (a column's collation, NOCASE say, would merge values the hash keeps apart)."""
    from sqlglot import exp

    text = exp.Cast(this=column, to=exp.DataType.build("VARCHAR"))
    return exp.Collate(this=text, expression=exp.Identifier(this="binary", quoted=True))


def _on_group_key(masked: exp.Expression, column: exp.Column) -> exp.Expression:
    """`masked` (the hash of `column`'s text) computed from the group key, so that the engine
    sees it as a function of the group."""
    from sqlglot import exp

    for cast in list(masked.find_all(exp.Cast)):
        if cast.this == column:
            cast.replace(exp.Paren(this=_group_key(column.copy())))
    return masked


def _page_outputs(
    tree: exp.Select, rules: Mapping[str, tuple[str, MaskRule]], columns: Sequence[str]
) -> dict[str, str]:
    """For a query that keeps a page of plain rows (`LIMIT`, no grouping, DISTINCT or
    window), whose select list holds only columns (aliased or not) and `*`, and that names
    its masked outputs nowhere but there, with no name repeated: each output (spelled as the
    answer will name it) that shows a late column, and that column (lowercase); empty for
    any other query."""
    from sqlglot import exp

    if tree.args.get("limit") is None:
        return {}
    if any(tree.args.get(arg) for arg in ("group", "having", "qualify", "distinct")):
        return {}
    if tree.find(exp.Window, exp.AggFunc) is not None:
        return {}
    order = tree.args.get("order")
    if order is not None and any(not isinstance(o.this, exp.Column) for o in order.expressions):
        return {}  # a position or ALL: the select list's items
    outputs: dict[str, str] = {}
    names: list[str] = []
    table_columns = {c.lower(): c for c in columns}
    for item in tree.expressions:
        if isinstance(item, exp.Star):
            names += list(columns)
            outputs.update({c: c.lower() for c in columns if c.lower() in rules})
            continue
        column = item.unalias()
        if not isinstance(column, exp.Column):
            return {}  # an expression's name is the engine's to give (`unnest` gives several)
        # unaliased, the engine names the answer's column as the table spells it
        spelled = table_columns.get(column.name.lower(), column.name)
        name = item.alias if isinstance(item, exp.Alias) else spelled
        if name.lower() != column.name.lower() and name.lower() in table_columns:
            return {}  # an alias spelling another column: which one a name means is unclear
        names.append(name)
        if column.name.lower() in rules:
            outputs[name] = column.name.lower()
    folded = [name.lower() for name in names]
    if not all(name.isascii() for name in names) or len(set(folded)) != len(folded):
        # the engine renames a repeated name (`id`, `id` -> `id`, `id_1`), which could move
        # a raw column onto a name the mask does not cover; and it folds ASCII letters only
        return {}
    masked = {output.lower() for output in outputs}
    for node in tree.find_all(exp.Column):
        # a name of a masked output other than its column's own (an alias) read anywhere,
        # in WHERE, ORDER BY or another item, would read the raw value in the page
        if node.name.lower() in masked and node.name.lower() not in rules:
            return {}
        item = node.parent
        plain = item is tree or (isinstance(item, exp.Alias) and item.parent is tree)
        if node.name.lower() in rules and not plain:
            return {}
    return {output: column for output, column in outputs.items()}


def _one_table(tree: exp.Select, table: exp.Table) -> bool:
    """Whether `tree` reads `table` alone, in its FROM, with nothing around it."""
    from sqlglot import exp

    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or source.this is not table:
        return False
    if any(tree.args.get(arg) for arg in ("joins", "laterals", "with", "with_")):
        return False
    if any(table.args.get(arg) for arg in ("pivots", "sample", "joins", "laterals")):
        return False
    alias = table.args.get("alias")
    if alias is not None and alias.columns:
        return False  # `t AS x(a, b)` names the columns anew
    nested = (exp.Subquery, exp.Union, exp.Intersect, exp.Except, exp.With, exp.Lambda)
    return not any(
        isinstance(node, nested) or (isinstance(node, exp.Select) and node is not tree)
        for node in tree.walk()
    )


def _item(tree: exp.Select, position: int) -> exp.Expression | None:
    """The select list's item at `position` (from 1), unaliased (None: there is none)."""
    items = tree.expressions
    return items[position - 1].unalias() if 0 < position <= len(items) else None


def _plain_identifier(identifier: exp.Identifier, names: set[str], masked: set[str]) -> bool:
    """Whether `identifier`, if it spells a masked column or the table, is a column's name, a
    column's qualifier by the table, or an output alias (so a check of columns sees it)."""
    from sqlglot import exp

    spelled = identifier.name.lower()
    if spelled not in names | masked:
        return True
    parent = identifier.parent
    if isinstance(parent, exp.Column):
        return identifier.arg_key == "this" or (identifier.arg_key == "table" and spelled in names)
    return isinstance(parent, exp.Alias) and identifier.arg_key == "alias"


def _plain_star(star: exp.Star, tree: exp.Select) -> bool:
    """Whether `star` is `*` in the select list or in `count(*)`: the two that read no
    value of a column it does not name."""
    from sqlglot import exp

    return star.parent is tree or isinstance(star.parent, exp.Count)


def _returned(column: exp.Column, tree: exp.Select) -> bool:
    """Whether `column` is an item of `tree`'s select list, alone or aliased."""
    from sqlglot import exp

    parent = column.parent
    if isinstance(parent, exp.Alias):
        return parent.this is column and parent.parent is tree and parent.arg_key == "expressions"
    return parent is tree and column.arg_key == "expressions"


def _grouped(column: exp.Column, tree: exp.Select) -> bool:
    """Whether `column` is an item of `tree`'s GROUP BY."""
    from sqlglot import exp

    return isinstance(column.parent, exp.Group) and column.parent.parent is tree
