"""`headwater serve` (the HTTP API, the web UI and the PostgreSQL protocol) and `headwater users`
(who may sign in to it)."""

from __future__ import annotations

import os

import click

from headwater.cli.common import JSON
from headwater.cli.common import project_of as _project
from headwater.cli.ui import _is_loopback
from headwater.errors import UsageError

PASSWORD_ENV = "HEADWATER_PASSWORD"
"""Where `users add --password` and `users password` read a password from when it is set (for
scripts; a terminal is asked instead)."""


@click.command()
@click.option("--host", default=None, help="Address to listen on [serve.host: 127.0.0.1].")
@click.option(
    "--port", default=None, type=click.IntRange(0, 65535), help="HTTP port [serve.port: 8080]."
)
@click.option(
    "--pg-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="PostgreSQL protocol port [serve.pg_port: 5433].",
)
@click.option("--no-pg", is_flag=True, help="Do not serve the PostgreSQL protocol.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, pg_port: int | None, no_pg: bool
) -> None:
    """Serve the project's tables: an HTTP API (SQL, table reads, JSON/CSV/Arrow/Parquet) with
    the web UI, and the PostgreSQL protocol for psql, BI tools and drivers.

    Every request signs in as a user (`headwater users add`) and sees only the tables its
    roles grant, unless `serve.auth` is false. Runs until Ctrl-C.
    """
    from headwater.orchestrate.principals import role_problems
    from headwater.serve.server import Server

    project = _project(ctx)
    config = project.definition.config.serve
    updates: dict[str, object] = {}
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    if pg_port is not None:
        updates["pg_port"] = pg_port
    if no_pg:
        updates["pg_port"] = None
    config = config.model_copy(update=updates)
    if not config.auth and not _is_loopback(config.host):
        raise UsageError(
            f"serve.auth is false, so the server would serve every table to anyone who can "
            f"reach {config.host}",
            hint="listen on 127.0.0.1, or set serve.auth: true and add users",
        )
    for problem in role_problems(project.definition):
        click.echo(f"warning: {problem}", err=True)
    masking = project.definition.config.governance.masking
    if masking.kinds or masking.columns or any(r.unmasked for r in config.roles.values()):
        import os

        from headwater.orchestrate.principals import masking_problems

        for problem in masking_problems(project.definition, project.column_graph(), os.environ):
            click.echo(f"warning: {problem}", err=True)
    server = Server(project, config)
    server.start()
    click.echo(f"Headwater {project.definition.config.name}: http://{server.http_address}/")
    if server.pg_address is not None:
        pg_host, pg_port_bound = server.pg_address
        click.echo(f"PostgreSQL protocol: psql -h {pg_host} -p {pg_port_bound} -U <user>")
    if config.auth and not server.service.users.users():
        click.echo("no users yet: add one with 'headwater users add NAME --role ROLE'", err=True)
    server.wait()


@click.group()
def users() -> None:
    """Who may sign in to `headwater serve`, with which roles (roles are in headwater.yml)."""


def _password(ask: bool) -> str | None:
    if not ask:
        return None
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _check_roles(ctx: click.Context, roles: tuple[str, ...]) -> None:
    from headwater.project.serving import ADMIN_ROLE
    from headwater.project.yamlfile import closest

    defined = _project(ctx).definition.config.serve.roles
    for role in roles:
        if role != ADMIN_ROLE and role not in defined:
            known = sorted({*defined, ADMIN_ROLE})
            suggestion = closest(role, known)
            raise UsageError(
                f"there is no role {role} in serve.roles of headwater.yml",
                hint=(f"did you mean {suggestion}? " if suggestion else "")
                + "roles: "
                + ", ".join(known),
            )


@users.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="A role of serve.roles (repeatable).")
@click.option(
    "--password",
    is_flag=True,
    help=f"Also set a password (asked for, or ${PASSWORD_ENV}) for psql and BI tools.",
)
@click.pass_context
def users_add(ctx: click.Context, name: str, roles: tuple[str, ...], password: bool) -> None:
    """Add the user NAME and print an API token for it (shown this once)."""
    from headwater.catalog.access import UserStore

    _check_roles(ctx, roles)
    token = UserStore(_project(ctx).catalog).add(name, list(roles), _password(password))
    click.echo(f"added user {name} with roles {', '.join(roles) or '(none)'}", err=True)
    click.echo("its API token (shown this once, keep it secret):", err=True)
    click.echo(token)


@users.command("list")
@JSON
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List users: roles, password, tokens, when added and revoked."""
    from headwater.catalog.access import UserStore
    from headwater.cli.output import emit_json, print_table

    found = UserStore(_project(ctx).catalog).users()
    if as_json:
        emit_json([u.__dict__ for u in found])
        return
    print_table(
        ["user", "roles", "password", "tokens", "added", "revoked"],
        [
            [
                u.name,
                ", ".join(u.roles),
                "yes" if u.has_password else "no",
                u.tokens,
                u.created_at[:19],
                (u.revoked_at or "")[:19],
            ]
            for u in found
        ],
    )


@users.command("revoke")
@click.argument("name")
@click.pass_context
def users_revoke(ctx: click.Context, name: str) -> None:
    """Revoke the user NAME and all its tokens: it can no longer sign in."""
    from headwater.catalog.access import UserStore

    UserStore(_project(ctx).catalog).revoke(name)
    click.echo(f"revoked user {name} and its tokens")


@users.command("token")
@click.argument("name")
@click.pass_context
def users_token(ctx: click.Context, name: str) -> None:
    """Print a new API token for the user NAME (shown this once)."""
    from headwater.catalog.access import UserStore

    click.echo(UserStore(_project(ctx).catalog).new_token(name))


@users.command("password")
@click.argument("name")
@click.pass_context
def users_password(ctx: click.Context, name: str) -> None:
    """Set the password of the user NAME (asked for, or $HEADWATER_PASSWORD)."""
    from headwater.catalog.access import UserStore

    password = _password(True)
    assert password is not None
    UserStore(_project(ctx).catalog).set_password(name, password)
    click.echo(f"set the password of {name}")


@users.command("roles")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="A role of serve.roles (repeatable).")
@click.pass_context
def users_roles(ctx: click.Context, name: str, roles: tuple[str, ...]) -> None:
    """Replace the roles of the user NAME."""
    from headwater.catalog.access import UserStore

    _check_roles(ctx, roles)
    UserStore(_project(ctx).catalog).set_roles(name, list(roles))
    click.echo(f"{name} has roles {', '.join(roles) or '(none)'}")


COMMANDS = [serve, users]
