"""The `headwater` command: a thin shell over `headwater.Project`.

One command per verb, each calling the Python API. One error boundary maps Headwater errors to
`Error: <message>` and an exit code (1: an asset failed, 2: usage or configuration), with the
traceback only under `--debug`. Heavy libraries are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from headwater.cli.common import EXCLUDE, JSON, SELECT, project_of, settings, share_options
from headwater.errors import HeadwaterError


class HeadwaterGroup(click.Group):
    """A click group with Headwater's error boundary, whose commands all take `--project` and
    `--debug` after their name as well as before it."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command named `cmd_name`, given the options every command shares."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            share_options(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HeadwaterError as exc:
            if _debug(ctx):
                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt as exc:
            click.echo(_interrupted(ctx, getattr(exc, "run_id", None)), err=True)
            sys.exit(130)
        except BrokenPipeError:
            # the reader of our output went away (`headwater runs | head`): stop quietly, as
            # Python's documentation advises, so the exit does not fail flushing stdout again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            if _debug(ctx):
                traceback.print_exc()
            click.echo(
                f"Error: internal error: {type(exc).__name__}: {exc}\n"
                "  hint: run again with --debug for the traceback, and report it",
                err=True,
            )
            sys.exit(1)


def _debug(ctx: click.Context) -> bool:
    """Whether `--debug` was given, before or after the command's name."""
    return bool(settings(ctx).get("debug"))


def _interrupted(ctx: click.Context, run_id: str | None) -> str:
    """What Ctrl-C prints: the run it stopped and the command that finishes it."""
    if run_id is None:
        return "Interrupted."
    import shlex

    project_dir = settings(ctx).get("project_dir") or "."
    where = "" if project_dir == "." else f" --project {shlex.quote(project_dir)}"
    return (
        f"Interrupted: run {run_id} stopped; what it finished is kept.\n"
        f"  resume it with: headwater run --resume {run_id}{where}"
    )


@click.group(cls=HeadwaterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "-p",
    "project_dir",
    default=".",
    type=click.Path(file_okay=False),
    help="Project folder (default: the nearest folder holding headwater.yml).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.version_option(package_name="headwater")
@click.pass_context
def main(ctx: click.Context, project_dir: str, debug: bool) -> None:
    """Headwater: build a Delta lakehouse from SQL models, test it and trace it."""
    ctx.obj = {"project_dir": project_dir, "debug": debug}


_project = project_of


@main.command()
@click.argument("name")
@click.option("--example", help="Copy a bundled example project (e.g. ecommerce).")
def init(name: str, example: str | None) -> None:
    """Create a new project in folder NAME."""
    from headwater.workspace import Project

    project = Project.init(name, example)
    click.echo(f"Created project in {project.root}")
    click.echo(f"Next: cd {name} && headwater run")


@main.command()
@SELECT
@EXCLUDE
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--force", is_flag=True, help="Rebuild even assets that are up to date.")
@click.option("--threads", type=click.IntRange(1, 256), help="Models to build at once.")
@click.option("--fail-fast", is_flag=True, help="Start nothing new after the first failure.")
@click.option("--resume", "resume_id", metavar="RUN_ID", help="Run what RUN_ID did not finish.")
@JSON
@click.pass_context
def run(
    ctx: click.Context,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    full_refresh: bool,
    force: bool,
    threads: int | None,
    fail_fast: bool,
    resume_id: str | None,
    as_json: bool,
) -> None:
    """Build the selected seeds and models (all by default)."""
    from headwater.cli.output import RunReporter, finish_run

    project = _project(ctx)
    keys = (
        project.resume_keys(resume_id) if resume_id else project.select(list(select), list(exclude))
    )
    reporter = RunReporter(
        sum(1 for k in keys if project.definition.assets[k].materialized != "ephemeral"),
        quiet=as_json,
    )
    if resume_id:
        summary = project.resume(resume_id, threads=threads, on_event=reporter)
    else:
        summary = project.run(
            list(select),
            list(exclude),
            full_refresh=full_refresh,
            force=force,
            threads=threads,
            on_event=reporter,
            fail_fast=fail_fast,
        )
    finish_run(reporter, summary, as_json)


@main.command()
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

    project = _project(ctx)
    reporter = RunReporter(len(project.source_keys(list(names))), quiet=as_json)
    summary = project.ingest(
        list(names), full_refresh=full_refresh, threads=threads, on_event=reporter
    )
    finish_run(reporter, summary, as_json)


@main.command()
@JSON
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List source tables: kind, load mode, cursor, files seen and last load."""
    from headwater.cli.output import emit_json, print_table

    rows = _project(ctx).sources()
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


@main.command()
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
        _project(ctx)
        .quarantine(table, limit)
        .select(["quarantined_at", "location", "column", "error_class", "reason", "raw"])
    )
    print_arrow(records, fmt)


@main.command(name="compile")
@click.argument("name")
@click.pass_context
def compile_(ctx: click.Context, name: str) -> None:
    """Print the SQL that builds model NAME."""
    click.echo(_project(ctx).compile(name))


@main.command()
@SELECT
@EXCLUDE
@JSON
@click.pass_context
def dag(
    ctx: click.Context, select: tuple[str, ...], exclude: tuple[str, ...], as_json: bool
) -> None:
    """Show the asset graph: every asset with what it reads."""
    from headwater.cli.graph_view import print_dag

    project = _project(ctx)
    keys = project.select(list(select), list(exclude))
    print_dag(project.definition, keys, as_json)


@main.command()
@click.argument("sql")
@click.option("--as-of", help="Read every table as of this version number or ISO timestamp.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    help="Output format.",
)
@click.option(
    "--round",
    "round_digits",
    type=click.IntRange(0, 38),
    default=None,
    metavar="N",
    help="Round floats and decimals to N decimal places (default: print them exactly).",
)
@click.pass_context
def query(
    ctx: click.Context, sql: str, as_of: str | None, fmt: str, round_digits: int | None
) -> None:
    """Run a SQL query over the project's tables.

    SQL is one SELECT in DuckDB SQL, DESCRIBE TABLE, SHOW TABLES, or a SELECT from
    information_schema.tables, .columns or .schemata.
    """
    from headwater.cli.output import print_arrow

    print_arrow(_project(ctx).query(sql, as_of), fmt, round_digits)


@main.command()
@JSON
@click.pass_context
def tables(ctx: click.Context, as_json: bool) -> None:
    """List stored tables with their version, files, rows and size."""
    from headwater.cli.output import emit_json, print_table

    infos = _project(ctx).tables()
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


@main.command()
@click.argument("table")
@click.option("--limit", type=int, default=20, help="How many versions to show.")
@JSON
@click.pass_context
def history(ctx: click.Context, table: str, limit: int, as_json: bool) -> None:
    """Show the versions of TABLE, newest first: what each commit did (MERGE, WRITE, ...),
    the rows it inserted, updated or deleted, and whether vacuum deleted its files."""
    import datetime as dt

    from headwater.cli.output import emit_json, print_table

    entries = _project(ctx).history(table, limit)
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


@main.command()
@click.argument("table")
@click.option("--version", "version", required=True, help="Version number or ISO timestamp.")
@click.pass_context
def restore(ctx: click.Context, table: str, version: str) -> None:
    """Make an earlier version of TABLE current again (as a new version)."""
    project = _project(ctx)
    target = project.resolve_version(table, int(version) if version.isdigit() else version)
    new_version = project.restore(table, target)
    # a timestamp names whichever version was current then: say which one that was
    source = (
        f"version {target}" if version.isdigit() else f"version {target} (current at {version})"
    )
    click.echo(f"Restored {table} to {source}; it is now version {new_version}.")


@main.command()
@click.argument("table")
@click.option("--zorder", help="Comma-separated columns to z-order by (default: compact only).")
@JSON
@click.pass_context
def optimize(ctx: click.Context, table: str, zorder: str | None, as_json: bool) -> None:
    """Compact TABLE's small files (or z-order it)."""
    from headwater.cli.output import emit_json

    columns = [c.strip() for c in zorder.split(",")] if zorder else None
    metrics = _project(ctx).optimize(table, columns)
    if as_json:
        emit_json(metrics)
        return
    click.echo(
        f"Optimized {table}: {metrics.get('numFilesRemoved', 0)} files rewritten into "
        f"{metrics.get('numFilesAdded', 0)}."
    )


@main.command()
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
    files = _project(ctx).vacuum(table, retain, dry_run, force)
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} {len(files)} files.")
    for path in files:
        click.echo(f"  {path}")


@main.group(invoke_without_command=True)
@click.option("--limit", type=int, default=20, help="How many runs to show.")
@click.option("--failed", is_flag=True, help="Only runs that failed.")
@JSON
@click.pass_context
def runs(ctx: click.Context, limit: int, failed: bool, as_json: bool) -> None:
    """List recent runs (or 'runs show RUN_ID' for one run's assets)."""
    if ctx.invoked_subcommand is not None:
        return
    from headwater.cli.output import emit_json, print_table

    items = _project(ctx).runs(limit, failed=failed)
    if as_json:
        emit_json(items)
        return
    print_table(
        ["run", "command", "status", "started", "finished", "assets", "selector"],
        [
            (
                r["run_id"],
                r["command"],
                r["status"],
                r["started_at"][:19],
                (r["finished_at"] or "")[:19],
                ", ".join(f"{n} {s}" for s, n in sorted(r.get("counts", {}).items())),
                r["selector"] or "",
            )
            for r in items
        ],
    )


@runs.command(name="show")
@click.argument("run_id")
@JSON
@click.pass_context
@click.option("--logs", is_flag=True, help="Print each attempt's log lines and error.")
def runs_show(ctx: click.Context, run_id: str, as_json: bool, logs: bool) -> None:
    """Show every asset result of one run, with a timeline of its attempts."""
    from headwater.cli.output import emit_json, print_table, print_timeline

    project = _project(ctx)
    results = project.run_results(run_id)
    attempts = project.run_attempts(run_id)
    if as_json:
        emit_json({"results": results, "attempts": attempts})
        return
    print_table(
        ["asset", "status", "kind", "rows", "version", "seconds", "message"],
        [
            (
                r["asset"],
                r["status"],
                r["materialization"],
                r["rows_written"],
                r["delta_version"],
                r["duration_s"],
                (r["message"] or "")[:200],
            )
            for r in results
        ],
        title=f"run {run_id}",
    )
    print_timeline(attempts)
    if logs:
        for item in attempts:
            click.echo(f"\n== {item['asset']} attempt {item['attempt']}: {item['status']}")
            if item["error"]:
                click.echo(item["error"])
            if item["logs"]:
                click.echo(item["logs"])


# commands of other capabilities, each module a group of its own
from headwater.cli import lineage, orchestration, quality, ui  # noqa: E402

for command in [*quality.COMMANDS, *orchestration.COMMANDS, *lineage.COMMANDS, *ui.COMMANDS]:
    main.add_command(command)


def entry() -> None:
    """The `headwater` console script: run one command, then end the process with its exit
    code without tearing the interpreter down.

    delta-rs keeps a Tokio runtime whose worker threads live until the process ends; one that
    wakes while the interpreter finalises aborts the whole process ("terminate called without
    an active exception", exit -6) after the command has done all its work and printed its
    output. Every file and catalog transaction is closed by then, so what is skipped is only
    that teardown.
    """
    code: int = 0
    try:
        main(prog_name="headwater")
    except SystemExit as exc:
        if isinstance(exc.code, int):
            code = exc.code
        elif exc.code is not None:
            print(exc.code, file=sys.stderr)
            code = 1
    _leave(code)


def _leave(code: int) -> None:
    import contextlib
    import logging

    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: nothing more can reach the reader anyway
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
