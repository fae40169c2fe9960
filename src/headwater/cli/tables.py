"""The table commands: `tables` (what is stored), `history` (a table's versions) and the
maintenance of a table: `restore`, `optimize` and `vacuum`."""

from __future__ import annotations

import click

from headwater.cli.common import JSON, project_of


@click.command()
@JSON
@click.pass_context
def tables(ctx: click.Context, as_json: bool) -> None:
    """List stored tables with their version, files, rows and size."""
    from headwater.cli.output import emit_json, print_table

    infos = project_of(ctx).tables()
    if as_json:
        emit_json([vars(i) for i in infos])
        return
    print_table(
        ["table", "kind", "version", "files", "rows", "size"],
        [
            (i.key, i.materialization, i.version, i.files, i.rows, _size(i.size_bytes))
            for i in infos
        ],
    )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


@click.command()
@click.argument("table")
@click.option("--limit", type=int, default=20, help="How many versions to show.")
@JSON
@click.pass_context
def history(ctx: click.Context, table: str, limit: int, as_json: bool) -> None:
    """Show the versions of TABLE, newest first: what each commit did (MERGE, WRITE, ...),
    the rows it inserted, updated or deleted, and whether vacuum deleted its files."""
    import datetime as dt

    from headwater.cli.output import emit_json, print_table

    entries = project_of(ctx).history(table, limit)
    if as_json:
        emit_json([vars(e) for e in entries])
        return
    print_table(
        ["version", "time", "operation", "run", "rows written", "readable"],
        [
            (
                e.version,
                dt.datetime.fromtimestamp(e.timestamp_ms / 1000, dt.UTC).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
                if e.timestamp_ms
                else "",
                e.operation,
                e.run_id,
                e.rows_written,
                "no: files vacuumed" if e.readable is False else "yes",
            )
            for e in entries
        ],
        title=f"history of {table}",
    )


@click.command()
@click.argument("table")
@click.option("--version", "version", required=True, help="Version number or ISO timestamp.")
@click.pass_context
def restore(ctx: click.Context, table: str, version: str) -> None:
    """Make an earlier version of TABLE current again (as a new version)."""
    project = project_of(ctx)
    target = project.resolve_version(table, int(version) if version.isdigit() else version)
    new_version = project.restore(table, target)
    # a timestamp names whichever version was current then: say which one that was
    source = (
        f"version {target}" if version.isdigit() else f"version {target} (current at {version})"
    )
    click.echo(f"Restored {table} to {source}; it is now version {new_version}.")


@click.command()
@click.argument("table")
@click.option("--zorder", help="Comma-separated columns to z-order by (default: compact only).")
@JSON
@click.pass_context
def optimize(ctx: click.Context, table: str, zorder: str | None, as_json: bool) -> None:
    """Compact TABLE's small files (or z-order it)."""
    from headwater.cli.output import emit_json

    columns = [c.strip() for c in zorder.split(",")] if zorder else None
    metrics = project_of(ctx).optimize(table, columns)
    if as_json:
        emit_json(metrics)
        return
    click.echo(
        f"Optimized {table}: {metrics.get('numFilesRemoved', 0)} files rewritten into "
        f"{metrics.get('numFilesAdded', 0)}."
    )


@click.command()
@click.argument("table")
@click.option(
    "--retain", type=float, default=168.0, show_default=True, help="Hours of history to keep."
)
@click.option("--dry-run", is_flag=True, help="List the files without deleting them.")
@click.option(
    "--force",
    is_flag=True,
    help="Allow --retain below the safe minimum (168 hours unless the table sets its own).",
)
@click.pass_context
def vacuum(ctx: click.Context, table: str, retain: float, dry_run: bool, force: bool) -> None:
    """Delete TABLE's data files that no version within --retain hours needs."""
    files = project_of(ctx).vacuum(table, retain, dry_run, force)
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} {len(files)} files.")
    for path in files:
        click.echo(f"  {path}")


@click.command()
@click.argument("select", nargs=-1, metavar="[SELECTOR]...")
@click.option("--dry-run", is_flag=True, help="Say what would expire without changing a table.")
@JSON
@click.pass_context
def maintain(ctx: click.Context, select: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Enforce the `retention:` of the selected tables (every one that declares it, by
    default): delete expired rows from the current version, then the files only versions
    older than the retention read."""
    from headwater.cli.output import emit_json, print_table

    done = project_of(ctx).maintain(list(select) or None, dry_run=dry_run)
    if as_json:
        emit_json([m.as_dict() for m in done])
        return
    if not done:
        click.echo("no selected table declares a retention: (see docs/governance.md)")
        return
    print_table(
        ["table", "expired rows", "files deleted", "version"],
        [(m.table, m.expired_rows, len(m.files_deleted), m.version) for m in done],
        title="would expire (nothing changed)" if dry_run else "retention enforced",
    )


COMMANDS = [tables, history, restore, optimize, vacuum, maintain]
