"""Masking and row filters: what one reader sees of each table, enforced on the query's tree.

Every reference of a query to a table the reader sees masked is replaced, in the compiled
sqlglot tree and before anything runs, by a subquery over that table that projects the masked
columns in place of the raw ones and keeps only the rows of the reader's row filter:

    select email from raw.customers where email like 'a%'
    -->  select email from (select * replace (<mask of email> as email)
                            from raw.customers where region = 'EU') as customers
         where email like 'a%'

So the raw column is read in one place only, inside that subquery, and whatever the query does
around it (`select *`, subqueries, CTEs, joins, set operations, functions, WHERE, GROUP BY,
JOIN ... ON, ORDER BY, window functions) sees the masked value: a predicate on a masked column
is evaluated on the masked value, so it cannot probe the raw one. A view model is masked by its
own columns' classification (a view column derived from an e-mail is itself classified), an
ephemeral model through the tables it reads.

Tables the classification cannot vouch for are refused rather than guessed at: a model whose
column lineage is unknown and reads personal data (`Classification.unanalysed`), a table whose
declared personal column it lacks, and the warehouse's undeclared tables (a quarantine or
failed companion holds the raw records of its table).

`hash` is keyed: the key comes from the environment and never appears in the SQL text, a log
or an error. It is given to the engine either as a one-row table the query reads (the read-only
path) or, cheaper, as a bound parameter of the query (the serving cache: a scalar subquery over
a registered relation costs a cross product in each masking subquery's plan).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.governance.late_masking import late_columns, mask_late
from headwater.lineage.graph import ColumnRef
from headwater.project.masking import DEFAULT_RULE, VALUE, MaskingConfig, MaskRule
from headwater.query.policy import QueryRejected
from headwater.storage.companions import FAILED_SUFFIX, QUARANTINE_SUFFIX

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.governance.classification import Classification
    from headwater.project.definition import ProjectDefinition

KEY_TABLE = "__headwater_masking_key"
"""The relation the engine reads `hash`'s key from (one row, one column `k`); a query cannot
name it (its names resolve to the project's tables only), nor name a relation of its own so
(a CTE of that name would be read in its place)."""
EVERY_KIND = "*"
ColumnsOf = Callable[[str, str], "Sequence[str] | None"]
"""The columns of table (namespace, name) as a query reads it (None: not known)."""
_BUCKETS = {
    "day": "1 day",
    "week": "7 days",
    "month": "1 month",
    "quarter": "3 months",
    "year": "1 year",
}
_NAMING = frozenset({"this", "db", "catalog", "alias"})
"""The arguments of a table reference that name it (the masking subquery names it anew)."""
_AROUND = frozenset({"pivots", "sample", "joins", "laterals"})
"""The arguments of a table reference that apply to the rows read (so to the masking
subquery); the others (time travel, hints) apply to the table the subquery reads."""
PARTIAL_STARS = "****"
"""What `partial` shows before the characters it keeps (and in place of a value no longer
than those)."""
_REFUSED_HINT = (
    "ask for a role that reads it unmasked (unmasked: ['*']), or read the tables it is built "
    "from, which are masked"
)
REMEMBERED = 512
"""How many rewritten queries a reader's masking keeps (`keep`, `recall`); past that it starts
again (a few shapes of query repeat: a table page's SQL differs only in its parameters)."""
SOURCE = "hw_masked_source"
"""The alias of the table a masking subquery reads: its rules' and row filter's columns are
qualified with it, so none can bind to a column of the query around it."""


@dataclass(frozen=True)
class TablePolicy:
    """What one reader sees of one table."""

    masks: Mapping[str, MaskRule] = field(default_factory=dict)
    """The masked columns (as the table names them) and their rules."""
    rows: str | None = None
    """The row filter: a SQL condition over the table's columns (None: every row)."""
    refused: str | None = None
    """Why the reader cannot read the table at all (None: it can)."""
    hint: str = ""
    """How to read it instead, when refused."""

    @property
    def rewrites(self) -> bool:
        """Whether the table is read through a masking subquery."""
        return bool(self.masks) or self.rows is not None


@dataclass(frozen=True)
class RoleGrant:
    """What one role of the reader reads, and reads raw."""

    reads: frozenset[str] | None
    """The asset keys it reads (None: every table of the warehouse)."""
    unmasked: frozenset[str] = frozenset()
    """Kinds of personal data and columns (`namespace.table.column`) read raw; `*`: all."""


@dataclass(frozen=True)
class Grants:
    """Who reads, as masking needs to know it (from `headwater.orchestrate.principals`)."""

    roles: tuple[RoleGrant, ...] = ()
    rows: Mapping[str, str] = field(default_factory=dict)
    """Row filters by table key."""

    def unmasked(self, key: str) -> frozenset[str]:
        """What the reader reads raw of table `key`: what the roles that read it unmask (a
        role's `unmasked` does not reach a table only another role reads)."""
        found: set[str] = set()
        for role in self.roles:
            if role.reads is None or key in role.reads:
                found |= role.unmasked
        return frozenset(found)


@dataclass(frozen=True)
class _Kept:
    """A rewritten query, kept by `Masking.keep`."""

    sql: str
    applied: frozenset[str]
    hashes: bool


class Masking:
    """The masking of one reader over one project: a policy per table, and the rewrite of a
    query's tree that enforces them."""

    def __init__(
        self,
        definition: ProjectDefinition,
        classification: Classification,
        reader: Grants,
        environ: Mapping[str, str] | None = None,
        known: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Mask what `classification` finds personal in `definition` for `reader`, by the
        rules of the project's `governance.masking`; `environ` holds the hash key
        (`os.environ` by default); `known` gives each asset's columns as lineage knows them
        (a column read that it does not know is redacted)."""
        self.definition = definition
        self.known: Mapping[str, Sequence[str]] = known or {}
        self.config: MaskingConfig = definition.config.governance.masking
        self.reader = reader
        self._environ = os.environ if environ is None else environ
        self._by_table: dict[str, dict[str, tuple[str, ...]]] = {}
        for classified in classification:
            ref = classified.column
            self._by_table.setdefault(ref.asset, {})[ref.column] = classified.kinds
        for column in self.config.columns:
            namespace, table, name = column.split(".")
            self._by_table.setdefault(f"{namespace}.{table}", {}).setdefault(name, ())
        self._unanalysed = classification.unanalysed
        self._missing: dict[str, list[ColumnRef]] = {}
        for ref in classification.missing:
            self._missing.setdefault(ref.asset, []).append(ref)
        self._policies: dict[str, TablePolicy] = {}
        self.applied: set[str] = set()
        """What the rewrites so far hid: masked columns (`namespace.table.column`) and
        filtered tables (`namespace.table (rows)`), for the audit trail."""
        self._hashes = False
        """Whether a rewrite so far hashes (the policies are shared by every query of the
        reader: one that hashed before says nothing of this one)."""
        self._kept: dict[Hashable, _Kept] = {}
        """Rewritten queries, shared like the policies by every `fresh` copy."""

    def everything_raw(self, key: str) -> bool:
        """Whether the reader reads every column of table `key` raw (a row filter may still
        apply)."""
        return EVERY_KIND in self.reader.unmasked(key)

    def fresh(self) -> Masking:
        """This masking for one more query: its own record of what it hid, the policies
        already worked out shared."""
        copy = object.__new__(Masking)
        copy.__dict__.update(self.__dict__)
        copy.applied = set()
        copy._hashes = False
        return copy

    def policy(self, key: str) -> TablePolicy:
        """What the reader sees of table `key` (`namespace.name`)."""
        found = self._policies.get(key)
        if found is None:
            found = self._policy(key)
            self._policies[key] = found
        return found

    def _policy(self, key: str) -> TablePolicy:
        rows = self.reader.rows.get(key)
        if key not in self.definition.assets:
            return self._undeclared(key)
        unfiltered = self._view_over_filtered(key)
        if unfiltered is not None and rows is None:
            return TablePolicy(
                refused=f"it is a view over {unfiltered}, whose rows a row filter limits for "
                "you, and a view reads them all",
                hint=f"read {unfiltered}, or give the view a row filter of its own in the role",
            )
        unmasked = self.reader.unmasked(key)
        if EVERY_KIND in unmasked:
            return TablePolicy(rows=rows)
        unanalysed = self._unanalysed.get(key)
        if unanalysed is not None:
            return TablePolicy(
                refused=f"it may hold personal data that column lineage cannot trace "
                f"({unanalysed.reason}), so it cannot be masked"
            )
        if key in self._missing:
            names = ", ".join(ref.column for ref in self._missing[key])
            return TablePolicy(
                refused=f"its YAML declares personal data in {names}, which it does not have, "
                "so what to mask is not known",
                hint=f"correct the column's name in {key}'s YAML",
            )
        masks: dict[str, MaskRule] = {}
        for column, kinds in self._by_table.get(key, {}).items():
            qualified = f"{key}.{column}"
            if qualified in unmasked:
                continue
            hidden = tuple(kind for kind in kinds if kind not in unmasked)
            if kinds and not hidden:
                continue
            masks[column] = self.config.rule(qualified, hidden or kinds)
        return TablePolicy(masks=masks, rows=rows)

    def _view_over_filtered(self, key: str) -> str | None:
        """The table a row filter limits for the reader that view model `key` reads
        (through other views and ephemeral models), if any: a view is created over the tables
        themselves, so it would show the rows the filter hides."""
        from headwater.project.kinds import BuildKind

        assets = self.definition.assets
        if assets[key].materialized != BuildKind.VIEW or not self.reader.rows:
            return None
        pending = list(assets[key].depends_on)
        seen: set[str] = set()
        while pending:
            upstream = pending.pop()
            if upstream in seen or upstream not in assets:
                continue
            seen.add(upstream)
            if upstream in self.reader.rows:
                return upstream
            if assets[upstream].materialized in (BuildKind.VIEW, BuildKind.EPHEMERAL):
                pending.extend(assets[upstream].depends_on)
        return None

    def _undeclared(self, key: str) -> TablePolicy:
        """A table of the warehouse that no asset declares: readable as is only when the
        table it belongs to hides nothing from the reader."""
        for suffix in (QUARANTINE_SUFFIX, FAILED_SUFFIX):
            if key.lower().endswith(suffix):
                owner = self._key(*key[: -len(suffix)].split(".", 1))
                exporter = self.definition.assets.get(owner)
                if exporter is not None and exporter.export is not None:
                    # an export's quarantine holds its asset's rows: that asset's policy holds
                    owner = exporter.depends_on[0]
                if owner in self.definition.assets and not self.policy(owner).rewrites:
                    return TablePolicy()
                return TablePolicy(
                    refused=f"it holds records of {owner} as they came, which {owner}'s "
                    "masking or row filter would hide",
                    hint=f"read {owner} itself, as your roles' masking and row filters show it",
                )
        if self.everything_raw(key) or not self._by_table:
            return TablePolicy()
        return TablePolicy(
            refused="no asset declares it, so what it holds is not classified",
            hint="read the project's declared tables",
        )

    @property
    def needs_key(self) -> bool:
        """Whether a query rewritten so far hashes."""
        return self._hashes

    def recall(self, key: Hashable) -> str | None:
        """The SQL `keep` kept under `key` (None: none), what it hid recorded as this query's.

        Raises:
            UsageError: it hashes and the environment lacks the key now.
        """
        kept = self._kept.get(key)
        if kept is None:
            return None
        if kept.hashes:
            self.key()  # refused when unset, as the rewrite would be
            self._hashes = True
        self.applied.update(kept.applied)
        return kept.sql

    def keep(self, key: Hashable, sql: str) -> None:
        """Keep `sql`, the query this masking (a `fresh` one) just rewrote, under `key`, which
        must name everything the rewrite depended on besides the policies (the query's text,
        the versions of the tables it reads, how the key is given)."""
        if len(self._kept) >= REMEMBERED:
            self._kept.clear()
        self._kept[key] = _Kept(sql, frozenset(self.applied), self._hashes)

    def parameters(self) -> list[str]:
        """The values to bind after the query's own parameters when it was rewritten with a
        `key_parameter`: the hash key, if it hashes (else nothing: the SQL has no placeholder
        for it).

        Raises:
            UsageError: the environment lacks the key.
        """
        return [self.key()] if self.needs_key else []

    def rewrite(
        self,
        tree: exp.Query,
        columns_of: ColumnsOf | None = None,
        *,
        key_parameter: int | None = None,
    ) -> exp.Query:
        """Enforce the reader's policies on `tree`, a compiled query: every reference to a
        table it reads (through an ephemeral model's CTE too) is qualified as namespace.name.
        `columns_of` gives the columns of each table as the query reads it (its version):
        a rule of a column it lacks is left out, and a column lineage does not know (one an
        older version had, one added since lineage was worked out) is redacted.

        `hash` reads its key from the relation `relations()` gives, or, with
        `key_parameter`, from the query's parameter `$<key_parameter>`, which the caller
        binds to `parameters()` after the query's own (`$1` to `$<key_parameter - 1>`).

        Returns:
            The tree (changed in place) with each reference to a masked or filtered table
            replaced by its masking subquery.

        Raises:
            QueryRejected: the query reads a table the reader may not read under masking,
                names a relation like the one the hash key is read from, or, with
                `key_parameter`, has a placeholder that could be bound to the key.
            UsageError: a masking rule needs the hash key and the environment lacks it.
        """
        from sqlglot import exp

        from headwater.query.metadata import METADATA_SCHEMA

        if key_parameter is not None:
            _refuse_key_placeholders(tree, key_parameter)
        for identifier in tree.find_all(exp.Identifier):
            # a relation the query names like the key's (a CTE, an alias) would be read in its
            # place by the masking subqueries: `hash` then keyed by the reader, or not at all
            if identifier.name.lower() == KEY_TABLE:
                raise QueryRejected(
                    f"the name {identifier.name}",
                    "it is reserved for masking",
                    hint="name the relation otherwise",
                )
        reads = [
            table
            for table in tree.find_all(exp.Table)
            if table.db
            and isinstance(table.this, exp.Identifier)
            and table.db.lower() != METADATA_SCHEMA
        ]
        policies = {}
        for table in reads:
            key = self._key(table.db, table.name)
            policy = self._as_read(key, self.policy(key), columns_of)
            if policy.refused is not None:
                raise QueryRejected(
                    f"reading {key}", policy.refused, hint=policy.hint or _REFUSED_HINT
                )
            policies[id(table)] = policy
        if any(r.function == "hash" for p in policies.values() for r in p.masks.values()):
            self.key()  # refuse before anything runs when it is missing
            self._hashes = True
        late = self._late(tree, reads, policies, columns_of)
        for table in reads:
            policy = policies[id(table)]
            if policy.rewrites:
                key = self._key(table.db, table.name)
                self.applied.update(f"{key}.{column}" for column in policy.masks)
                if policy.rows is not None:
                    self.applied.add(f"{key} (rows)")
                if late:
                    early = {c: r for c, r in policy.masks.items() if c not in late}
                    policy = TablePolicy(masks=early, rows=policy.rows)
                if policy.rewrites:
                    table.replace(self._subquery(table, policy, key_parameter))
        if late:
            assert isinstance(tree, exp.Select)
            namespace, name = self._key(reads[0].db, reads[0].name).split(".", 1)
            tree = mask_late(
                tree,
                reads[0],
                late,
                lambda column, rule: self._masked(column, rule, key_parameter),
                (columns_of(namespace, name) if columns_of else None) or (),
            )
        return tree

    def _late(
        self,
        tree: exp.Query,
        reads: list[exp.Table],
        policies: dict[int, TablePolicy],
        columns_of: ColumnsOf | None,
    ) -> dict[str, MaskRule]:
        """The masked columns a one-table query only returns, to be masked in its answer
        (`headwater.governance.late_masking`); empty for any other query."""
        if len(reads) != 1 or columns_of is None:
            return {}
        (table,) = reads
        columns = columns_of(*self._key(table.db, table.name).split(".", 1))
        if columns is None:
            return {}
        return late_columns(tree, table, policies[id(table)].masks, columns)

    def _as_read(self, key: str, policy: TablePolicy, columns_of: ColumnsOf | None) -> TablePolicy:
        """`policy` fitted to the columns the query reads of table `key`."""
        if columns_of is None or policy.refused is not None:
            return policy
        namespace, name = key.split(".", 1)
        read = columns_of(namespace, name)
        if read is None:
            return policy
        # names compared as the engine compares them: `str.lower` would also fold other
        # letters (the Kelvin sign to k, É to é), and put a rule on the wrong column
        spelled = {_fold(c): c for c in read}
        masks = {spelled[_fold(c)]: r for c, r in policy.masks.items() if _fold(c) in spelled}
        known = {_fold(c) for c in self.known.get(key, ())}
        if known and not self.everything_raw(key):
            for column in read:
                if _fold(column) not in known:
                    masks.setdefault(column, DEFAULT_RULE)
        if masks == dict(policy.masks):
            return policy
        return TablePolicy(masks=masks, rows=policy.rows)

    def _key(self, namespace: str, name: str) -> str:
        """The asset key of a table the compiled query names (its names are as resolved, but
        match the project's case-insensitively like the engine does)."""
        key = f"{namespace}.{name}"
        if key in self.definition.assets:
            return key
        folded = key.lower()
        for candidate in self.definition.assets:
            if candidate.lower() == folded:
                return candidate
        return key

    def _subquery(
        self, table: exp.Table, policy: TablePolicy, key_parameter: int | None
    ) -> exp.Expression:
        """The masking subquery that stands for `table`, under `table`'s alias (or name)."""
        import sqlglot
        from sqlglot import exp

        alias = table.alias_or_name
        source = exp.Table(
            this=table.this.copy(),
            db=table.args["db"].copy(),
            alias=exp.TableAlias(this=exp.to_identifier(SOURCE)),
        )
        around: dict[str, exp.Expression | list[exp.Expression]] = {}
        for arg, value in table.args.items():
            if arg in _NAMING or value is None or value == []:
                continue
            if arg in _AROUND:
                around[arg] = value  # PIVOT, UNPIVOT, TABLESAMPLE: of the masked rows
            else:
                source.set(arg, value)  # AT (VERSION => ...) and the like: of the table read
        replaced = [
            exp.alias_(
                self._masked(exp.column(column, table=SOURCE, quoted=True), rule, key_parameter),
                column,
                quoted=True,
            )
            for column, rule in sorted(policy.masks.items())
        ]
        select = exp.select(exp.Star(replace=replaced) if replaced else exp.Star()).from_(source)
        if policy.rows is not None:
            select = select.where(_qualified(sqlglot.parse_one(policy.rows, read="duckdb")))
        columns = table.args.get("alias")
        subquery = select.subquery(exp.to_identifier(alias, quoted=True))
        if isinstance(columns, exp.TableAlias) and columns.columns:
            subquery.set("alias", columns.copy())  # `t AS x(a, b)` keeps its column names
        for arg, value in around.items():
            subquery.set(arg, value)
        return subquery

    def _masked(
        self, column: exp.Column, rule: MaskRule, key_parameter: int | None = None
    ) -> exp.Expression:
        """The expression that shows `column` masked by `rule` (the hash key read from
        parameter `$<key_parameter>`, or else from the key's relation)."""
        import sqlglot
        from sqlglot import exp

        varchar = exp.DataType(this=exp.DataType.Type.VARCHAR)
        text = exp.Cast(this=column.copy(), to=varchar)
        if rule.function == "hash":
            key: exp.Expression
            if key_parameter is None:
                key = exp.select(exp.column("k")).from_(exp.table_(KEY_TABLE)).subquery()
            else:
                # typed, so that the engine does not infer the parameter's type from its use
                key = exp.Cast(this=exp.Placeholder(this=str(key_parameter)), to=varchar.copy())
            return _call("sha256", exp.DPipe(this=key, expression=text, safe=True))
        if rule.function == "redact":
            return (
                exp.case()
                .when(column.copy().is_(exp.null()), exp.null())
                .else_(exp.Literal.string(rule.text))
            )
        if rule.function == "null":
            return exp.case().when(exp.false(), column.copy())
        if rule.function == "partial":
            # a fixed run of stars, so that the masked value does not tell the raw one's length
            keep = exp.Literal.number(rule.keep)
            stars = exp.Literal.string(PARTIAL_STARS)
            shown = exp.DPipe(
                this=stars, expression=_call("right", text.copy(), keep.copy()), safe=True
            )
            short = _call("length", text.copy()) <= keep
            return (
                exp.case()
                .when(column.copy().is_(exp.null()), exp.null())
                .when(short, stars.copy())
                .else_(shown)
            )
        if rule.function == "generalize":
            # time_bucket keeps the column's type (date_trunc makes a date a timestamp); its
            # default origins align months, quarters and years, and weeks start on Monday
            width = exp.Interval(this=exp.Literal.string(_BUCKETS[rule.to]))
            return _call("time_bucket", width, column.copy())
        assert rule.sql is not None
        tree = sqlglot.parse_one(rule.sql, read="duckdb")

        def bind(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and node.name.lower() == VALUE and not node.table:
                return column.copy()
            return node

        # TRY: an expression that fails on a value would quote the raw value in its error
        return _call("try", _qualified(tree.transform(bind)))

    def key(self) -> str:
        """The secret key of `hash`.

        Raises:
            UsageError: the environment variable `governance.masking.hash_key_env` names is
                unset or empty.
        """
        name = self.config.hash_key_env
        value = self._environ.get(name, "")
        if not value:
            raise UsageError(
                f"masking by hash needs a secret key, and the environment variable {name} "
                "is not set",
                hint=f"set {name} where the query runs (headwater serve, headwater query "
                "--as): any long random text, kept secret and the same everywhere, so that "
                "hashed values still join",
            )
        return value

    def relations(self) -> dict[str, pa.Table]:
        """The relations the rewritten queries read besides the project's tables: the hash
        key, when a policy hashes."""
        import pyarrow as pa

        if not self.needs_key:
            return {}
        return {KEY_TABLE: pa.table({"k": [self.key()]})}


def _refuse_key_placeholders(tree: exp.Query, key_parameter: int) -> None:
    """Refuse a query with a placeholder the engine could bind to the hash key, parameter
    `$<key_parameter>`: `$n` from there on, `?` (numbered by position) or a named one.

    Raises:
        QueryRejected: it has one.
    """
    from sqlglot import exp

    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        number = str(node.this) if isinstance(node, exp.Placeholder) and node.this else ""
        if not (number.isdigit() and 0 < int(number) < key_parameter):
            raise QueryRejected(
                f"the placeholder {node.sql(dialect='duckdb')}",
                "it has no value",
                hint="give a value for each placeholder",
            )


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(name: str) -> str:
    """`name` as the engine compares names: ASCII letters in lower case, nothing else."""
    return name.translate(_ASCII_LOWER)


def _call(function: str, *arguments: exp.Expr) -> exp.Expression:
    """A call of the engine's function `function`, rendered as is."""
    from sqlglot import exp

    return exp.Anonymous(this=function, expressions=list(arguments))


def _qualified(tree: exp.Expr) -> exp.Expr:
    """`tree` with each of its unqualified columns qualified by the masked table's alias."""
    from sqlglot import exp

    for column in list(tree.find_all(exp.Column)):
        if not column.table:
            column.set("table", exp.to_identifier(SOURCE))
    return tree
