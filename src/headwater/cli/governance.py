"""The governance commands: `governance report` (which columns hold personal data, how that is
known and who reads them)."""

from __future__ import annotations

import click

from headwater.cli.common import JSON
from headwater.cli.common import project_of as _project


@click.group()
def governance() -> None:
    """Personal data: where it is, how Headwater knows, who may read it."""


@governance.command()
@JSON
@click.pass_context
def report(ctx: click.Context, as_json: bool) -> None:
    """List every column holding personal data: its kinds, whether its YAML declares it
    (`pii:`) or lineage found it (and from which declared column), and the roles that read it.

    Models downstream of personal data whose column lineage is unknown are listed apart: any of
    their columns may hold it.
    """
    from headwater.cli.output import emit_json, print_table

    found = _project(ctx).governance_report()
    if as_json:
        emit_json(found)
        return
    if not found["columns"]:
        click.echo("no column is known to hold personal data (declare some with `pii:`)")
    else:
        print_table(
            ["column", "kinds", "source", "from", "read by"],
            [
                (
                    f"{c['asset']}.{c['column']}",
                    ", ".join(c["kinds"]),
                    c["source"],
                    "" if c["source"] == "declared" else ", ".join(c["from"]),
                    ", ".join(c["readers"]),
                )
                for c in found["columns"]
            ],
            title="personal data",
        )
    for model in found["unanalysed"]:
        click.echo(
            f"{model['asset']}: column lineage unknown ({model['reason']}); it reads personal "
            f"data from {', '.join(model['reads'])}, so any of its columns may hold some",
            err=True,
        )


COMMANDS = [governance]
