"""The lineage commands: `lineage` (where a column comes from and goes) and `impact`."""

from __future__ import annotations

from typing import Any

import click

from headwater.cli.common import JSON
from headwater.cli.common import project_of as _project

ARROWS = {"upstream": "<-", "downstream": "->"}


@click.command()
@click.argument("name")
@click.option("--upstream", "direction", flag_value="upstream", help="Only where it comes from.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only where it goes.")
@click.option("--depth", type=click.IntRange(min=1), help="At most this many steps.")
@JSON
@click.pass_context
def lineage(
    ctx: click.Context, name: str, direction: str | None, depth: int | None, as_json: bool
) -> None:
    """Show the column lineage of NAME (`ASSET` or `ASSET.COLUMN`) as a tree, or what metric
    NAME (`metric:NAME`) reads.

    Each line is a column, with how it depends on the one above: IDENTITY (copied),
    TRANSFORMATION, AGGREGATION, or an indirect influence (JOIN, FILTER, GROUP_BY, SORT,
    WINDOW, CONDITIONAL).
    """
    from headwater.cli.output import emit_json

    found = _project(ctx).lineage(name, direction or "both", depth)
    if as_json:
        emit_json(found)
        return
    if "metric" in found:
        click.echo(f"metric {found['metric']} ({found['type']})")
        if found["inputs"]:
            click.echo(f"  made of: {', '.join(found['inputs'])}")
        for asset, columns in found["reads"].items():
            click.echo(f"  reads: {asset} ({', '.join(columns)})")
        return
    if found["error"]:
        click.echo(f"{found['asset']}: column lineage unknown ({found['error']})", err=True)
    click.echo(f"{found['asset']}")
    click.echo(f"  reads: {', '.join(found['upstream_assets']) or '(nothing)'}")
    click.echo(f"  read by: {', '.join(found['downstream_assets']) or '(nothing)'}")
    if found.get("metrics"):
        click.echo(f"  metrics: {', '.join(found['metrics'])}")
    for column, trees in found["columns"].items():
        click.echo(f"\n{found['asset']}.{column}")
        for way, tree in trees.items():
            if tree["children"]:
                click.echo(f"  {way}:")
                _print_tree(tree, way, "    ")
            else:
                click.echo(f"  {way}: (none)")


def _print_tree(node: dict[str, Any], way: str, indent: str) -> None:
    children = node["children"]
    for position, child in enumerate(children):
        last = position == len(children) - 1
        branch = "└── " if last else "├── "
        how = child["subtype"] if child["type"] == "DIRECT" else f"indirect {child['subtype']}"
        suffix = " (shown above)" if child["repeated"] else ""
        suffix += " ..." if child["truncated"] else ""
        click.echo(
            f"{indent}{branch}{ARROWS[way]} {child['asset']}.{child['column']}  [{how}]{suffix}"
        )
        _print_tree(child, way, indent + ("    " if last else "│   "))


@click.command()
@click.argument("name")
@JSON
@click.pass_context
def impact(ctx: click.Context, name: str, as_json: bool) -> None:
    """List what changing or dropping column NAME (`ASSET.COLUMN`) would affect: downstream
    columns, checks, assets, and the jobs and sensors that run them."""
    from headwater.cli.output import emit_json, print_table

    found = _project(ctx).impact(name)
    if as_json:
        emit_json(found.to_json())
        return
    if not found.columns and not found.checks:
        click.echo(f"nothing downstream reads {found.ref}")
    if found.columns:
        print_table(
            ["column", "steps", "how", "via"],
            [
                (
                    str(c.ref),
                    c.distance,
                    c.subtype if c.type == "DIRECT" else f"indirect {c.subtype}",
                    str(c.via),
                )
                for c in found.columns
            ],
            title=f"columns affected by {found.ref}",
        )
    if found.checks:
        print_table(
            ["asset", "check", "type", "column", "severity"],
            [(c.asset, c.check, c.check_type, c.column, c.severity) for c in found.checks],
            title="checks that read them",
        )
    if found.assets:
        click.echo(f"assets: {', '.join(found.assets)}")
    for consumer in found.consumers:
        does = {"metric": "reads", "export": "sends"}.get(consumer["kind"], "runs")
        click.echo(f"{consumer['kind']} {consumer['name']} {does} {consumer['assets']}")
    if found.unknown:
        click.echo(
            "column lineage unknown (may be affected): " + ", ".join(found.unknown), err=True
        )


COMMANDS = [lineage, impact]
