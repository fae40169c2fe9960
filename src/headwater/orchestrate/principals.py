"""Who is asking, and which tables exist for them.

A principal is a signed-in user (or, with `serve.auth: false`, the anonymous reader, who reads
everything). Its roles grant read on assets by selector; a table no role grants does not exist
for it: queries are told there is no such table, listings leave it out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.project.serving import ADMIN_ROLE, EVERYTHING

if TYPE_CHECKING:
    from collections.abc import Callable

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

    def can_read(self, namespace: str, name: str) -> bool:
        """Whether the table `namespace.name` exists for this principal."""
        return self.everything or f"{namespace}.{name}" in self.assets

    def can_read_key(self, key: str) -> bool:
        """Whether the asset `key` (`namespace.name`) exists for this principal."""
        return self.everything or key in self.assets

    @property
    def label(self) -> str:
        """How logs and the query log name it."""
        return self.name or "anonymous"


ANONYMOUS_READS_ALL = Principal(name=None, everything=True)
"""The reader of a server whose `serve.auth` is false."""


def principal_of(definition: ProjectDefinition, name: str, roles: tuple[str, ...]) -> Principal:
    """The principal of user `name` with `roles`, its grants resolved against `definition`.

    A role the project does not define grants nothing (and is logged); a selector that matches
    no asset grants nothing.
    """
    from headwater.orchestrate.selectors import Selector

    configured = definition.config.serve.roles
    selectors: list[str] = []
    everything = False
    for role in roles:
        if role == ADMIN_ROLE:  # whatever serve.roles says of it (role_problems warns)
            everything = True
            continue
        if role not in configured:
            _LOG.warning("user %s has role %s, which serve.roles does not define", name, role)
            continue
        for selector in configured[role].read:
            if selector.strip() == EVERYTHING:
                everything = True
            else:
                selectors.append(selector)
    if everything:
        return Principal(name=name, roles=roles, everything=True)
    chooser = Selector(definition)
    granted: set[str] = set()
    for selector in selectors:
        try:
            granted |= chooser.select([selector])
        except UsageError:
            continue  # matches nothing (yet): grants nothing
    return Principal(name=name, roles=roles, assets=frozenset(granted))


ANYONE = "anyone (serve.auth: false)"
"""How `role_readers` names the reader of a server without authentication."""


def role_readers(definition: ProjectDefinition) -> Callable[[str], tuple[str, ...]]:
    """A lookup of who may read an asset through `headwater serve`, by asset key: the roles
    (`admin` and those of `serve.roles`) that may, sorted, and `ANYONE` first when
    `serve.auth` is false."""
    roles = sorted({ADMIN_ROLE, *definition.config.serve.roles})
    principals = [principal_of(definition, role, (role,)) for role in roles]
    anyone = () if definition.config.serve.auth else (ANYONE,)

    def readers(key: str) -> tuple[str, ...]:
        return (*anyone, *(p.roles[0] for p in principals if p.can_read_key(key)))

    return readers


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
