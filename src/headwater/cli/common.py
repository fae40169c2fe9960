"""What every command module shares: the common options and how a command opens its project."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from headwater.workspace import Project


def project_of(ctx: click.Context) -> Project:
    """The project the command runs in (`--project`, else the nearest one)."""
    from headwater.workspace import Project

    return Project(settings(ctx)["project_dir"], on_warning=_print_warning)


def _print_warning(message: str) -> None:
    # on stderr, so piped output (`--json`, query results) stays clean
    click.echo(f"Warning: {message}", err=True)


def settings(ctx: click.Context) -> dict[str, Any]:
    """The settings every command shares (`project_dir`, `debug`), kept on the root context
    whichever command line position set them."""
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {"project_dir": ".", "debug": False}
    return root.obj


def _set_project(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        settings(ctx)["project_dir"] = value


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        settings(ctx)["debug"] = True


def share_options(command: click.Command) -> None:
    """Give `command` (and, for a group, every command under it) the options every command
    takes after its name too: `--project`/`-p` and `--debug`, as `headwater run --project
    shop --debug` reads. Given again, the later one wins."""
    if not any(param.name == "shared_project" for param in command.params):
        command.params.extend(
            [
                click.Option(
                    ["--project", "-p", "shared_project"],
                    type=click.Path(file_okay=False),
                    expose_value=False,
                    callback=_set_project,
                    help="Project folder (default: the nearest folder holding headwater.yml).",
                ),
                click.Option(
                    ["--debug", "shared_debug"],
                    is_flag=True,
                    expose_value=False,
                    callback=_set_debug,
                    help="Show full tracebacks.",
                ),
            ]
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            share_options(sub)


SELECT = click.option(
    "--select",
    "-s",
    multiple=True,
    help="Assets to include, in dbt's selector grammar (e.g. '+marts.daily_revenue tag:finance').",
)
EXCLUDE = click.option("--exclude", multiple=True, help="Assets to leave out (same grammar).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    help="Output format.",
)
ROUND = click.option(
    "--round",
    "round_digits",
    type=click.IntRange(0, 38),
    default=None,
    metavar="N",
    help="Round floats and decimals to N decimal places (default: print them exactly).",
)
