"""Who is asking, and which tables exist for them.

A principal is a signed-in user (or, with `serve.auth: false`, the anonymous reader, who reads
everything). Its roles grant read on assets by selector; a table no role grants does not exist
for it: queries are told there is no such table, listings leave it out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError
from headwater.governance.masking import EVERY_KIND, Grants, Masking, RoleGrant
from headwater.project.serving import ADMIN_ROLE, EVERYTHING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from headwater.governance.classification import Classification
    from headwater.lineage.graph import ColumnGraph
    from headwater.project.definition import ProjectDefinition

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """A reader of the served tables."""

    name: str | None
    """The user's name; None for the anonymous reader of a server without authentication."""
    roles: tuple[str, ...] = ()
    everything: bool = False
    """Reads every table of the warehouse (the admin role, a `*` grant, no authentication)."""
    assets: frozenset[str] = field(default_factory=frozenset)
    """The asset keys its roles grant (when not `everything`)."""
    unmasked: frozenset[str] = field(default_factory=frozenset)
    """What its roles read raw of what masking hides, all roles together: kinds of personal
    data, columns (`namespace.table.column`), `*` for all (the admin role, no
    authentication). Each role's reaches only the tables that role reads (`role_grants`)."""
    role_grants: tuple[RoleGrant, ...] | None = None
    """Per role: the tables it reads and what it reads raw (None: `unmasked` on every table)."""
    rows: tuple[tuple[str, str], ...] = ()
    """Its row filters: (table key, SQL condition), at most one per table."""

    def can_read(self, namespace: str, name: str) -> bool:
        """Whether the table `namespace.name` exists for this principal."""
        return self.everything or f"{namespace}.{name}" in self.assets

    def can_read_key(self, key: str) -> bool:
        """Whether the asset `key` (`namespace.name`) exists for this principal."""
        return self.everything or key in self.assets

    @property
    def masked(self) -> bool:
        """Whether it may see anything masked or filtered (masking applies to its reads)."""
        if self.rows:
            return True
        if self.role_grants is None:
            return EVERY_KIND not in self.unmasked
        return not any(g.reads is None and EVERY_KIND in g.unmasked for g in self.role_grants)

    def grants(self) -> Grants:
        """What masking needs to know of it."""
        roles = self.role_grants
        if roles is None:
            roles = (RoleGrant(None, self.unmasked),)
        return Grants(roles=roles, rows=dict(self.rows))

    @property
    def label(self) -> str:
        """How logs and the query log name it."""
        return self.name or "anonymous"


ANONYMOUS_READS_ALL = Principal(name=None, everything=True, unmasked=frozenset({EVERY_KIND}))
"""The reader of a server whose `serve.auth` is false."""


def principal_of(definition: ProjectDefinition, name: str, roles: tuple[str, ...]) -> Principal:
    """The principal of user `name` with `roles`, its grants resolved against `definition`.

    A role the project does not define grants nothing (and is logged); a selector that matches
    no asset grants nothing.
    """
    from headwater.orchestrate.selectors import Selector

    configured = definition.config.serve.roles
    if ADMIN_ROLE in roles:  # whatever serve.roles says of it (role_problems warns)
        return Principal(name=name, roles=roles, everything=True, unmasked=_ALL)
    chooser = Selector(definition)
    everything = False
    granted: set[str] = set()
    unmasked: set[str] = set()
    reads: dict[str, set[str] | None] = {}  # role: the assets it reads (None: every one)
    for role in roles:
        if role not in configured:
            _LOG.warning("user %s has role %s, which serve.roles does not define", name, role)
            continue
        config = configured[role]
        unmasked.update(config.unmasked)
        if any(selector.strip() == EVERYTHING for selector in config.read):
            reads[role] = None
            everything = True
            continue
        found: set[str] = set()
        for selector in config.read:
            try:
                found |= chooser.select([selector])
            except UsageError:
                continue  # matches nothing (yet): grants nothing
        reads[role] = found
        granted |= found
    role_grants = tuple(
        RoleGrant(
            None if found is None else frozenset(found),
            frozenset(configured[role].unmasked),
        )
        for role, found in reads.items()
    )
    return Principal(
        name=name,
        roles=roles,
        everything=everything,
        assets=frozenset() if everything else frozenset(granted),
        unmasked=frozenset(unmasked),
        role_grants=role_grants,
        rows=_row_filters(definition, reads),
    )


_ALL = frozenset({EVERY_KIND})


def _row_filters(
    definition: ProjectDefinition, reads: dict[str, set[str] | None]
) -> tuple[tuple[str, str], ...]:
    """The row filter of each table some role of `reads` filters: a row is read when any
    role reading the table reads it, so a role reading the table without a filter lifts it,
    and the filters of several roles are joined by OR."""
    configured = definition.config.serve.roles
    tables = sorted({table for role in reads for table in configured[role].rows})
    filters: list[tuple[str, str]] = []
    for table in tables:
        conditions: list[str] = []
        unfiltered = False
        for role, found in reads.items():
            if found is not None and table not in found:
                continue  # the role does not read it: its filter (if any) says nothing
            condition = configured[role].rows.get(table)
            if condition is None:
                unfiltered = True
                break
            conditions.append(condition)
        if not unfiltered and conditions:
            filters.append((table, " OR ".join(f"({c})" for c in conditions)))
    return tuple(filters)


ANYONE = "anyone (serve.auth: false)"
"""How `column_readers` names the reader of a server without authentication."""


def column_readers(
    definition: ProjectDefinition, classification: Classification
) -> Callable[[str, str], tuple[tuple[str, ...], tuple[str, ...]]]:
    """A lookup of who reads a column of personal data through `headwater serve`, by asset key
    and column: the roles (`admin` and those of `serve.roles`) that read it raw, `ANYONE`
    first when `serve.auth` is false, and the roles that read it masked, each sorted."""
    roles = sorted({ADMIN_ROLE, *definition.config.serve.roles})
    principals = [principal_of(definition, role, (role,)) for role in roles]
    maskings = {
        p.roles[0]: Masking(definition, classification, p.grants()) if p.masked else None
        for p in principals
    }
    anyone = () if definition.config.serve.auth else (ANYONE,)

    def readers(key: str, column: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        raw: list[str] = list(anyone)
        masked: list[str] = []
        for principal in principals:
            if not principal.can_read_key(key):
                continue
            masking = maskings[principal.roles[0]]
            hidden = masking is not None and (
                masking.policy(key).refused is not None or column in masking.policy(key).masks
            )
            (masked if hidden else raw).append(principal.roles[0])
        return tuple(raw), tuple(masked)

    return readers


def grants_document(definition: ProjectDefinition) -> dict[str, Any]:
    """The grants in effect, as the audit trail records them: every role of `serve.roles`
    (what it reads, reads raw, and of which rows) and the masking rules of
    `governance.masking` (the name of the hash key's variable, never the key)."""
    roles = {
        name: role.model_dump(mode="json", exclude_defaults=True)
        for name, role in sorted(definition.config.serve.roles.items())
    }
    masking = definition.config.governance.masking.model_dump(mode="json", exclude_defaults=True)
    return {"roles": roles, "masking": masking}


def role_problems(definition: ProjectDefinition) -> list[str]:
    """What is wrong with the roles of `serve.roles` (selectors that match no asset), as
    lines to show when the server starts."""
    from headwater.orchestrate.selectors import Selector

    chooser = Selector(definition)
    problems: list[str] = []
    for role, config in definition.config.serve.roles.items():
        if role == ADMIN_ROLE:
            problems.append(
                f"role {role}: reads every table whatever serve.roles says; its selectors "
                "are ignored (give the restricted grants another role name)"
            )
            continue
        for selector in config.read:
            if selector.strip() == EVERYTHING:
                continue
            try:
                chooser.select([selector])
            except UsageError as exc:
                problems.append(f"role {role}: {exc.message}")
    return problems


def masking_problems(
    definition: ProjectDefinition, graph: ColumnGraph, environ: Mapping[str, str]
) -> list[str]:
    """What is wrong with the masking settings, as lines to show when the server starts: a
    column a rule or a role's `unmasked` names that its table does not have (the rule masks
    nothing; the role reads it masked), and a `hash` rule without its key in `environ`."""
    masking = definition.config.governance.masking
    problems: list[str] = []
    named = [("governance.masking.columns", column) for column in masking.columns]
    for role, config in definition.config.serve.roles.items():
        named += [(f"serve.roles.{role}.unmasked", c) for c in config.unmasked if c.count(".") == 2]
    for where, column in named:
        asset, name = column.rsplit(".", 1)
        known = graph.columns(asset)
        if known and graph.column(asset, name) is None:
            problems.append(
                f"{where} names {column}, which {asset} does not have ({', '.join(known)})"
            )
    hashes = any(r.function == "hash" for r in [*masking.kinds.values(), *masking.columns.values()])
    if hashes and not environ.get(masking.hash_key_env):
        problems.append(
            f"masking hashes, and {masking.hash_key_env} is not set: a masked reader's query of "
            "a hashed column is refused until it is"
        )
    return problems
