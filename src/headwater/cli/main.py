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

from headwater.cli.common import (
    EXCLUDE,
    FORMAT,
    JSON,
    ROUND,
    SELECT,
    project_of,
    settings,
    share_options,
)
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
    from headwater.project.kinds import BuildKind

    project = _project(ctx)
    keys = (
        project.resume_keys(resume_id) if resume_id else project.select(list(select), list(exclude))
    )
    reporter = RunReporter(
        sum(1 for k in keys if project.definition.assets[k].materialized != BuildKind.EPHEMERAL),
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


@main.command(name="compile")
@click.argument("name")
@click.option(
    "--engine",
    help="Print the SQL for this engine (duckdb, spark, or a name under 'engines:'); "
    "default: the engine the model builds on.",
)
@click.pass_context
def compile_(ctx: click.Context, name: str, engine: str | None) -> None:
    """Print the SQL that builds model NAME (as Spark SQL on a Spark engine)."""
    from headwater.cli.compiled import compiled_for

    click.echo(compiled_for(_project(ctx), name, engine))


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
@FORMAT
@ROUND
@click.option(
    "--as",
    "as_user",
    default=None,
    metavar="USER",
    help="Run it as USER reads through headwater serve: only the tables USER's roles grant, "
    "personal data masked, row filters applied; recorded in the audit trail.",
)
@click.pass_context
def query(
    ctx: click.Context,
    sql: str,
    as_of: str | None,
    fmt: str,
    round_digits: int | None,
    as_user: str | None,
) -> None:
    """Run a SQL query over the project's tables.

    SQL is one SELECT in DuckDB SQL, DESCRIBE TABLE, SHOW TABLES, or a SELECT from
    information_schema.tables, .columns or .schemata.
    """
    from headwater.cli.output import print_arrow

    print_arrow(_project(ctx).query(sql, as_of, as_user=as_user), fmt, round_digits)


# the other commands, each module a group of its own
from headwater.cli import (  # noqa: E402
    audit,
    cdc,
    governance,
    lineage,
    metrics,
    orchestration,
    quality,
    runs,
    serve,
    sources,
    streams,
    tables,
    ui,
)

for module in (
    sources,
    tables,
    runs,
    quality,
    orchestration,
    lineage,
    governance,
    metrics,
    audit,
    streams,
    cdc,
    ui,
    serve,
):
    for command in module.COMMANDS:
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
