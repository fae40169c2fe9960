"""The run history commands: `runs` (recent runs) and `runs show` (one run's assets, attempts
and logs)."""

from __future__ import annotations

import click

from headwater.cli.common import JSON, project_of


@click.group(invoke_without_command=True)
@click.option("--limit", type=int, default=20, help="How many runs to show.")
@click.option("--failed", is_flag=True, help="Only runs that failed.")
@JSON
@click.pass_context
def runs(ctx: click.Context, limit: int, failed: bool, as_json: bool) -> None:
    """List recent runs (or 'runs show RUN_ID' for one run's assets)."""
    if ctx.invoked_subcommand is not None:
        return
    from headwater.cli.output import emit_json, print_table

    items = project_of(ctx).runs(limit, failed=failed)
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

    project = project_of(ctx)
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


COMMANDS = [runs]
