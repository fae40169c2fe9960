"""`headwater metrics list|query`: the semantic layer's metrics, and their answers."""

from __future__ import annotations

import click

from headwater.cli.common import FORMAT, JSON, ROUND
from headwater.cli.common import project_of as _project


def _names(values: tuple[str, ...]) -> list[str]:
    """Names given as repeated options and/or comma-separated."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.group()
def metrics() -> None:
    """Business metrics defined once in metrics/*.yml (semantic models and metrics)."""


@metrics.command(name="list")
@JSON
@click.pass_context
def list_metrics(ctx: click.Context, as_json: bool) -> None:
    """List every metric: its type, what it aggregates and what it can be grouped by."""
    from headwater.cli.output import emit_json, print_table

    found = _project(ctx).semantic_metrics()
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo("no metric is defined: write semantic models and metrics in metrics/*.yml")
        return
    print_table(
        ["metric", "type", "measures", "description"],
        [(m["name"], m["type"], ", ".join(m["measures"]), m["description"] or "") for m in found],
        title="metrics",
    )


@metrics.command(name="query")
@click.option("--metrics", "names", multiple=True, required=True, help="Metrics (a,b or repeated).")
@click.option(
    "--group-by", "group_by", multiple=True, help="metric_time__month, customer__segment..."
)
@click.option("--where", multiple=True, help="A filter on dimensions: customer__segment = 'EU'.")
@click.option(
    "--order-by", "order_by", multiple=True, help="Metric or group-by item; -name: descending."
)
@click.option("--limit", type=click.IntRange(min=0), default=None)
@click.option("--compile", "compile_only", is_flag=True, help="Print the SQL, do not run it.")
@FORMAT
@ROUND
@click.pass_context
def query_metrics(
    ctx: click.Context,
    names: tuple[str, ...],
    group_by: tuple[str, ...],
    where: tuple[str, ...],
    order_by: tuple[str, ...],
    limit: int | None,
    compile_only: bool,
    fmt: str,
    round_digits: int | None,
) -> None:
    """Answer metrics grouped by dimensions, filtered, ordered and limited."""
    from headwater.cli.output import print_arrow

    project = _project(ctx)
    arguments = (_names(names), _names(group_by), list(where), _names(order_by), limit)
    if compile_only:
        click.echo(project.compile_metrics(*arguments).sql)
        return
    print_arrow(project.query_metrics(*arguments), fmt, round_digits)


COMMANDS = [metrics]
