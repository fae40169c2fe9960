"""The data quality commands: `test`, `checks history`, `profile` and `suggest-checks`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from headwater.catalog.statuses import CheckStatus
from headwater.cli.common import EXCLUDE, JSON, SELECT
from headwater.cli.common import project_of as _project

if TYPE_CHECKING:
    from headwater.quality.suite import AssetChecks

STATUS_STYLE: dict[str, str] = {
    CheckStatus.PASS: "green",
    CheckStatus.WARN: "yellow",
    CheckStatus.FAIL: "red",
    CheckStatus.ERROR: "red",
}


@click.command()
@SELECT
@EXCLUDE
@click.option("--show-sql", is_flag=True, help="Print the SQL that finds each check's failures.")
@JSON
@click.pass_context
def test(
    ctx: click.Context,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    show_sql: bool,
    as_json: bool,
) -> None:
    """Run the checks of the selected assets on their published tables, without rebuilding.

    Exit code 1 when an error-severity check fails.
    """
    from headwater.cli.output import emit_json

    def report(outcome: AssetChecks) -> None:
        if not as_json:
            _print_asset(outcome, show_sql)

    project = _project(ctx)
    run = project.test(list(select), list(exclude), on_asset=None if as_json else report)
    if as_json:
        emit_json(
            {
                "run_id": run.run_id,
                "failed": run.failed,
                "assets": [
                    {
                        "asset": a.asset,
                        "version": a.version,
                        "skipped": a.skipped,
                        "checks": [r.to_json() for r in a.report.results] if a.report else [],
                        "rows": a.report.rows if a.report else None,
                    }
                    for a in run.assets
                ],
            }
        )
    else:
        results = [r for a in run.assets if a.report for r in a.report.results]
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no checks"
        click.echo(f"Done: {len(results)} checks on {len(run.assets)} assets: {summary}")
    sys.exit(1 if run.failed else 0)


def _print_asset(outcome: AssetChecks, show_sql: bool) -> None:
    header = f"{outcome.asset}" + (f" (v{outcome.version})" if outcome.version is not None else "")
    if outcome.report is None:
        click.echo(f"{header}: {outcome.skipped}")
        return
    click.echo(f"{header}: {outcome.report.rows:,} rows")
    for result in outcome.report.results:
        status = click.style(
            f"{result.status.upper():5}", fg=STATUS_STYLE.get(result.status), bold=True
        )
        line = f"  {status} {result.name}"
        if result.message:
            line += f": {result.message}"
        click.echo(line)
        flagged = result.status in (CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.ERROR)
        if flagged:
            for row in result.sample:
                click.echo("        " + ", ".join(f"{k}={_value(v)}" for k, v in row.items()))
        # a check that did not pass always shows the SQL that finds its failing rows, so they
        # can be looked at; --show-sql shows it for passing checks too
        if result.sql and (flagged or show_sql):
            click.echo(f"        sql: {result.sql}")


@click.group()
def checks() -> None:
    """Check results kept in the catalog."""


@checks.command(name="history")
@click.argument("table")
@click.option("--limit", type=int, default=50, help="How many results to show (newest first).")
@JSON
@click.pass_context
def checks_history(ctx: click.Context, table: str, limit: int, as_json: bool) -> None:
    """Show the latest check results of TABLE (builds and tests)."""
    from headwater.cli.output import emit_json, print_table

    rows = _project(ctx).check_history(table, limit)
    if as_json:
        emit_json(rows)
        return
    print_table(
        ["checked", "check", "status", "failing", "rows", "version", "published", "message"],
        [
            (
                str(r["checked_at"])[:19],
                r["check_name"],
                r["status"],
                r["failing"],
                r["total"],
                r["delta_version"],
                "yes" if r["published"] else "no",
                (r["message"] or "")[:120],
            )
            for r in rows
        ],
        title=f"checks of {table}",
    )


@click.command()
@click.argument("table")
@JSON
@click.pass_context
def profile(ctx: click.Context, table: str, as_json: bool) -> None:
    """Print column statistics of TABLE: nulls, distinct values, min, max, mean."""
    from headwater.cli.output import emit_json, print_table

    result = _project(ctx).profile(table)
    if as_json:
        emit_json(
            {
                "asset": result.asset,
                "rows": result.rows,
                "columns": [vars(c) for c in result.columns],
            }
        )
        return
    rows = result.rows or 1
    print_table(
        ["column", "type", "nulls", "distinct", "min", "max", "mean"],
        [
            (
                c.name,
                c.type,
                f"{c.nulls:,} ({c.nulls / rows:.1%})",
                f"{c.distinct:,}",
                _short(c.min),
                _short(c.max),
                "" if c.mean is None else f"{c.mean:.4g}",
            )
            for c in result.columns
        ],
        title=f"{result.asset}: {result.rows:,} rows",
    )


@click.command(name="suggest-checks")
@click.argument("table")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the YAML to this file (refuses to overwrite); default: print it.",
)
@click.pass_context
def suggest_checks(ctx: click.Context, table: str, output: Path | None) -> None:
    """Write a starter YAML of columns and checks inferred from TABLE's data."""
    import yaml

    project = _project(ctx)
    suggestion = project.suggest_checks(table)
    text = (
        f"# Checks suggested from the data of {project.asset(table).key}: review before use.\n"
        + yaml.safe_dump(suggestion, sort_keys=False, allow_unicode=True)
    )
    if output is None:
        click.echo(text, nl=False)
        return
    if output.exists():
        from headwater.errors import UsageError

        raise UsageError(f"{output} exists", hint="choose another file or remove it first")
    output.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output}")


def _value(value: Any) -> str:
    """A sampled value as a reader writes it: text quoted, NULL as NULL, numbers and dates
    plain."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 30 else text[:27] + "..."


COMMANDS = [test, checks, profile, suggest_checks]
