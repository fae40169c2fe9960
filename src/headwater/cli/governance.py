"""The governance commands: `governance report` (which columns hold personal data, how that is
known and who reads them) and `governance scan` (which columns not classified look like it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from headwater.cli.common import EXCLUDE, JSON
from headwater.cli.common import project_of as _project

if TYPE_CHECKING:
    from headwater.governance.scan import ScanReport


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
        click.echo(
            "no column is known to hold personal data: declare the kind of what a source's or "
            "seed's column holds with `pii: KIND` in its YAML (`tags: [pii]` is only a label "
            "for selectors); see docs/governance.md"
        )
    else:
        print_table(
            ["column", "kinds", "source", "from", "read raw by", "read masked by"],
            [
                (
                    f"{c['asset']}.{c['column']}",
                    ", ".join(c["kinds"]),
                    c["source"],
                    "" if c["source"] == "declared" else ", ".join(c["from"]),
                    ", ".join(c["readers"]),
                    f"{', '.join(c['masked_for'])} ({c['mask']})" if c["masked_for"] else "",
                )
                for c in found["columns"]
            ],
            title="personal data",
        )
    for companion in found["companions"]:
        click.echo(
            f"{companion['table']}: {companion['holds']} of {companion['of']}, so its "
            f"personal data too ({', '.join(companion['kinds'])}); a reader who sees any of "
            f"{companion['of']} masked is refused it"
        )
    for column in found["missing"]:
        click.echo(
            f"{column['asset']}.{column['column']}: declared `pii: {column['kind']}`, but "
            f"{column['asset']} has no such column; correct the name in its YAML",
            err=True,
        )
    for model in found["unanalysed"]:
        click.echo(
            f"{model['asset']}: column lineage unknown ({model['reason']}); it reads personal "
            f"data from {', '.join(model['reads'])}, so any of its columns may hold some",
            err=True,
        )


@governance.command()
@click.argument("select", nargs=-1, metavar="[SELECTOR]...")
@EXCLUDE
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Rows sampled from each table.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.8,
    show_default=True,
    help="Share of a column's sampled values that must look like one kind.",
)
@click.option(
    "--min-matches",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Matching values a column needs at least.",
)
@JSON
@click.pass_context
def scan(
    ctx: click.Context,
    select: tuple[str, ...],
    exclude: tuple[str, ...],
    sample: int,
    threshold: float,
    min_matches: int,
    as_json: bool,
) -> None:
    """Suggest `pii:` kinds for text columns that are not classified but look personal.

    Samples the stored tables SELECTOR picks (all by default; dbt's selector grammar) and
    suggests a kind (email, phone, iban, card_number, ip) for each column whose sampled values
    mostly match it, with the YAML that declares it. Examples are masked. Exit code 0 whether
    or not something was found.
    """
    from headwater.cli.output import emit_json

    found = _project(ctx).governance_scan(
        list(select),
        list(exclude),
        sample=sample,
        threshold=threshold,
        min_matches=min_matches,
    )
    if as_json:
        emit_json(found.to_json())
        return
    if not found.suggestions:
        click.echo(
            f"no column of the {len(found.scanned)} table(s) scanned looks like personal data "
            "that is not classified"
        )
    else:
        _print_suggestions(found)
    for skipped in found.skipped:
        if skipped.not_built:
            click.echo(f"{skipped.asset}: skipped ({skipped.reason})", err=True)
    views = sum(1 for skipped in found.skipped if not skipped.not_built)
    if views:
        # one line, not one per view: a default scan selects every view of the project too
        click.echo(
            f"{views} view(s) or ephemeral model(s) not sampled: their columns come from the "
            "stored tables they read",
            err=True,
        )


def _print_suggestions(found: ScanReport) -> None:
    from headwater.cli.output import print_table

    print_table(
        ["column", "kind", "share", "examples", "declare it in"],
        [
            (
                f"{s.asset}.{s.column}",
                s.match.kind,
                f"{s.match.share:.0%} of {s.match.values}",
                ", ".join(s.match.examples),
                f"{s.file}, under {s.under}: {s.yaml}" if s.file else s.note,
            )
            for s in found.suggestions
        ],
        title="personal data not classified (suggested from sampled values)",
    )


@click.command()
@click.option(
    "--subject",
    required=True,
    metavar="TABLE.COLUMN=VALUE",
    help="Whose data: the rows of a table whose column holds the value "
    "(raw.customers.customer_id=45, or a tagged column such as raw.customers.email=...).",
)
@click.option("--dry-run", is_flag=True, help="Only list the tables holding the subject's rows.")
@JSON
@click.pass_context
def erase(ctx: click.Context, subject: str, dry_run: bool, as_json: bool) -> None:
    """Erase one subject from every table and from their history.

    Finds, through column lineage, references and the subject's key, every table holding its
    rows (sources, seeds, models, snapshots, change logs, quarantines), deletes them from the
    current versions, deletes the older versions' files that hold them (those versions can no
    longer be read) and scrubs the tables' logs; then searches every file of those tables for
    the subject's values and fails if any remains. The next loads skip the subject's rows.
    The subject is recorded only as a keyed hash (the key of governance.masking.hash_key_env).
    """
    from headwater.cli.output import emit_json, print_table

    project = _project(ctx)
    tell = None if as_json else (lambda line: click.echo(line, err=True))
    done = project.erase(subject, dry_run=dry_run, progress=tell)
    if as_json:
        emit_json(done.as_dict())
    elif dry_run:
        print_table(
            ["table", "rows", "why"],
            [(t["table"], t["rows"], "; ".join(t["why"])) for t in done.tables],
            title="the subject's rows (nothing changed)",
        )
    else:
        print_table(
            ["table", "rows removed", "older files deleted", "versions unreadable"],
            [
                (
                    t["table"],
                    t["rows"],
                    t["history_files"],
                    ", ".join(str(v) for v in t["unreadable_versions"]),
                )
                for t in done.tables
            ],
            title=f"erasure {done.erasure_id}",
        )
        if done.suppressed:
            click.echo(f"the next loads skip the subject in {', '.join(done.suppressed)}")
    for trace in done.traces:
        click.echo(f"still found: {trace}", err=True)
    if not done.complete:
        raise SystemExit(1)


COMMANDS = [governance, erase]
