"""What every command module shares: the common options and how a command opens its project."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from headwater.workspace import Project


def project_of(ctx: click.Context) -> Project:
    """The project the command runs in (`--project`, else the nearest one)."""
    from headwater.workspace import Project

    return Project(ctx.find_root().obj["project_dir"])


SELECT = click.option(
    "--select",
    "-s",
    multiple=True,
    help="Assets to include, in dbt's selector grammar (e.g. '+marts.daily_revenue tag:finance').",
)
EXCLUDE = click.option("--exclude", multiple=True, help="Assets to leave out (same grammar).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
