"""The UI commands: `ui` (serve the web UI) and `docs export` (a static documentation site)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from headwater.cli.common import project_of as _project

LOOPBACK = "127.0.0.1"


@click.command()
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--query-timeout", default=10.0, show_default=True, help="Seconds a SQL box query may run."
)
@click.option(
    "--max-rows", default=1000, show_default=True, help="Rows a SQL box query returns at most."
)
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, query_timeout: float, max_rows: int) -> None:
    """Serve the web UI: the asset graph, assets, column lineage, runs, a SQL box, /metrics.

    It listens on 127.0.0.1 unless --host says otherwise; it has no login, so only expose it
    on a network you trust.
    """
    import uvicorn

    from headwater.ui.app import LOOPBACK_HOSTS, create_app

    project = _project(ctx)
    project.definition  # noqa: B018 -- a broken project fails here, not on the first page
    loopback = _is_loopback(host)
    if not loopback:
        click.echo(
            f"warning: listening on {host}; anyone who can reach it can read every table",
            err=True,
        )
    hosts = LOOPBACK_HOSTS if loopback else ("*",)
    app = create_app(project, query_timeout_s=query_timeout, max_rows=max_rows, allowed_hosts=hosts)
    click.echo(f"Headwater UI for {project.definition.config.name} on http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.group()
def docs() -> None:
    """Documentation of the project."""


@docs.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def docs_export(ctx: click.Context, directory: Path) -> None:
    """Write a static documentation site into DIRECTORY (open DIRECTORY/index.html; it works
    offline, from files)."""
    from headwater.ui.export import export_site

    project = _project(ctx)
    written = export_site(project, directory)
    click.echo(f"wrote {len(written)} files to {directory}; open {directory / 'index.html'}")


COMMANDS = [ui, docs]
