"""The orchestration commands: `backfill`, `partitions`, `scheduler` and `jobs`."""

from __future__ import annotations

from collections import OrderedDict

import click

from headwater.catalog.statuses import BuildStatus, PartitionStatus
from headwater.cli.common import EXCLUDE, JSON
from headwater.cli.common import project_of as _project

MARKS: dict[str, str] = {
    PartitionStatus.SUCCESS: "#",
    PartitionStatus.FAILED: "x",
    PartitionStatus.MISSING: ".",
}
"""How the partition chart marks a partition of each status."""


@click.command()
@click.argument("select", nargs=-1, required=True, metavar="ASSET[+]...")
@EXCLUDE
@click.option("--start", help="First partition: a key or a date (default: the first).")
@click.option("--end", help="Last partition, included: a key or a date (default: the last).")
@click.option("--parallel", type=click.IntRange(1, 64), help="Partitions to build at once.")
@click.option("--force", is_flag=True, help="Rebuild partitions already built.")
@JSON
@click.pass_context
def backfill(
    ctx: click.Context,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    start: str | None,
    end: str | None,
    parallel: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Build every partition from --start to --end of the selected assets, in dependency order.

    Partitions already built from the current definition are skipped (unless --force), so an
    interrupted backfill resumes when run again. Exit code 1 when a partition failed.
    """
    from headwater.cli.output import RunReporter, finish_run
    from headwater.project.kinds import BuildKind

    project = _project(ctx)
    chosen, partitions = project.backfill_plan(list(select), start, end, list(exclude))
    total = sum(len(p) for p in partitions.values()) + sum(
        1
        for key in chosen
        if key not in partitions
        and project.definition.assets[key].materialized != BuildKind.EPHEMERAL
    )
    reporter = RunReporter(total, quiet=as_json, verb="backfilling")
    summary = project.backfill(
        list(select),
        start,
        end,
        exclude=list(exclude),
        parallel=parallel,
        force=force,
        on_event=reporter,
    )
    finish_run(reporter, summary, as_json)


@click.command()
@click.argument("asset")
@JSON
@click.pass_context
def partitions(ctx: click.Context, asset: str, as_json: bool) -> None:
    """Show which partitions of ASSET are built (#), failed (x) or missing (.)."""
    from headwater.cli.output import emit_json

    rows = _project(ctx).partitions(asset)
    if as_json:
        emit_json(rows)
        return
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    keys = [str(r["partition"]) for r in rows]
    daily = bool(keys) and all(len(k) == 10 and k[4] == "-" and k[7] == "-" for k in keys)
    if daily:
        # one line per month, a column per day of the month
        months: OrderedDict[str, dict[int, str]] = OrderedDict()
        for row in rows:
            month, day = row["partition"][:7], int(row["partition"][8:])
            months.setdefault(month, {})[day] = MARKS.get(row["status"], "?")
        click.echo("         " + "".join(f"{d % 10}" for d in range(1, 32)))
        for month, days in months.items():
            click.echo(f"{month}  " + "".join(days.get(d, " ") for d in range(1, 32)))
    else:
        for row in rows:
            stale = " (built from an older definition)" if row["stale"] else ""
            click.echo(f"{MARKS.get(row['status'], '?')} {row['partition']}{stale}")
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    click.echo(f"{len(rows)} partitions: {summary}   (# built, x failed, . missing)")


@click.command()
@click.option("--poll", type=float, default=1.0, help="Seconds between evaluations.")
@click.option(
    "--stale-after",
    type=float,
    default=60.0,
    help="Seconds without a heartbeat after which a run (or a scheduler) counts as dead.",
)
@click.pass_context
def scheduler(ctx: click.Context, poll: float, stale_after: float) -> None:
    """Run the project's jobs on their schedules and sensors until stopped (SIGTERM/Ctrl-C).

    At most one scheduler runs per project. On SIGTERM the running assets finish, nothing new
    starts, and it exits.
    """
    from headwater.orchestrate.scheduler import Step

    service = _project(ctx).scheduler(poll_s=poll, stale_after_s=stale_after)

    def report(step: Step) -> None:
        for job, summary in step.runs:
            click.echo(
                f"job {job}: run {summary.run_id} {summary.status} "
                f"({summary.count(BuildStatus.SUCCESS)} built, "
                f"{summary.count(BuildStatus.FAILED)} failed)"
            )
        for job, tick in step.skipped_ticks:
            click.echo(f"job {job}: skipped the missed tick {tick.isoformat(timespec='minutes')}")
        for run_id in step.stale_runs:
            click.echo(f"run {run_id} had no heartbeat: marked failed")

    jobs = ", ".join(service.jobs) or "none"
    click.echo(f"scheduler {service.holder} started; jobs: {jobs}; sensors: {len(service.sensors)}")
    service.serve(report)
    click.echo("scheduler stopped")


@click.command()
@JSON
@click.pass_context
def jobs(ctx: click.Context, as_json: bool) -> None:
    """List the jobs: schedule, next tick and the last run's result."""
    from headwater.cli.output import emit_json, print_table

    rows = _project(ctx).jobs()
    if as_json:
        emit_json(rows)
        return
    print_table(
        ["job", "cron", "tz", "select", "next tick", "last run", "result"],
        [
            (
                r["job"],
                r["cron"] or "(sensors only)",
                r["timezone"],
                r["select"],
                r["next_tick"] or "",
                r["last_run_id"] or "",
                r["last_status"] or "",
            )
            for r in rows
        ],
    )


COMMANDS = [backfill, partitions, scheduler, jobs]
