"""The source commands: `ingest` (load what is new), `sources` (their state) and `quarantine`
(the records a table could not load)."""

from __future__ import annotations

import click

from headwater.cli.common import JSON, project_of


@click.command()
@click.argument("names", nargs=-1, metavar="[SOURCE[.TABLE]]...")
@click.option("--full-refresh", is_flag=True, help="Reload from scratch, forgetting cursors.")
@click.option("--threads", type=click.IntRange(1, 256), help="Tables to load at once.")
@JSON
@click.pass_context
def ingest(
    ctx: click.Context,
    names: tuple[str, ...],
    full_refresh: bool,
    threads: int | None,
    as_json: bool,
) -> None:
    """Load what is new in the named sources (all by default), without running models."""
    from headwater.cli.output import RunReporter, finish_run

    project = project_of(ctx)
    reporter = RunReporter(len(project.source_keys(list(names))), quiet=as_json)
    summary = project.ingest(
        list(names), full_refresh=full_refresh, threads=threads, on_event=reporter
    )
    finish_run(reporter, summary, as_json)


@click.command()
@JSON
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List source tables: kind, load mode, cursor, files seen and last load."""
    from headwater.cli.output import emit_json, print_table

    rows = project_of(ctx).sources()
    if as_json:
        emit_json(rows)
        return
    print_table(
        ["table", "kind", "mode", "cursor", "files", "version", "last load", "result"],
        [
            (
                r["table"],
                r["kind"],
                r["mode"],
                "" if r["cursor"] is None else r["cursor"],
                r["files"] or "",
                "" if r["version"] is None else r["version"],
                (r["last_load"] or "")[:19],
                r["last_message"] or r["last_status"] or "",
            )
            for r in rows
        ],
    )


@click.command()
@click.argument("table")
@click.option("--limit", type=int, default=50, help="How many records to show (newest first).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    help="Output format.",
)
@click.pass_context
def quarantine(ctx: click.Context, table: str, limit: int, fmt: str) -> None:
    """Show the records a source table could not load, with where they came from and why."""
    from headwater.cli.output import print_arrow

    records = (
        project_of(ctx)
        .quarantine(table, limit)
        .select(["quarantined_at", "location", "column", "error_class", "reason", "raw"])
    )
    print_arrow(records, fmt)


COMMANDS = [ingest, sources, quarantine]
