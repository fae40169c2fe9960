"""The audit commands: `audit` lists the trail (reads through `headwater serve`, changes of
users and roles) and `audit verify` re-computes its hash chain to show it was not tampered
with."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from headwater.cli.common import JSON
from headwater.cli.common import project_of as _project


@click.group(invoke_without_command=True)
@click.option("--actor", default=None, help="Only records of this actor (user or operator).")
@click.option("--action", default=None, help="Only this action: query, user_add, role_change, ...")
@click.option("--since", default=None, help="Only records at or after this ISO 8601 date or time.")
@click.option("--limit", default=100, show_default=True, help="At most this many (the newest).")
@JSON
@click.pass_context
def audit(
    ctx: click.Context,
    actor: str | None,
    action: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List the audit trail, oldest first: every read through `headwater serve` and every
    change of users, tokens, passwords and roles, with who did it and when."""
    if ctx.invoked_subcommand is not None:
        return
    from headwater.cli.output import emit_json, print_table

    records = _project(ctx).audit(actor=actor, action=action, since=since, limit=limit)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in records])
        return
    if not records:
        click.echo("no audit records match")
        return
    print_table(
        ["seq", "at", "actor", "action", "detail"],
        [
            (r.seq, r.at, r.actor or "", r.action, json.dumps(r.detail, ensure_ascii=False))
            for r in records
        ],
        title="audit trail",
    )


@audit.command()
@click.option(
    "--expect-head",
    default=None,
    metavar="HASH",
    help="A head hash printed earlier: fail unless the trail still holds that record (records "
    "cut off the end are invisible to the chain alone).",
)
@JSON
@click.pass_context
def verify(ctx: click.Context, expect_head: str | None, as_json: bool) -> None:
    """Re-compute the audit trail's hash chain. Exit code 1 naming the first broken record
    (edited, deleted or moved) when it was tampered with; 0 when it is intact. Prints the head
    hash: keep it elsewhere and pass it as --expect-head later."""
    from headwater.cli.output import emit_json

    found = _project(ctx).verify_audit(expect_head=expect_head)
    if as_json:
        emit_json({**dataclasses.asdict(found), "intact": found.intact})
    elif found.intact:
        noun = "record" if found.records == 1 else "records"
        click.echo(f"{found.records} {noun}, chain intact")
        click.echo(f"head: record {found.head_seq or 0}, hash {found.head_hash}")
        if found.redacted:
            by = sorted(set(found.redacted.values()))
            click.echo(
                f"{len(found.redacted)} redacted by erasure (records "
                f"{', '.join(map(str, sorted(found.redacted)))}; vouched for by record"
                f"{'s' if len(by) > 1 else ''} {', '.join(map(str, by))})"
            )
    else:
        click.echo(f"Error: the audit trail was tampered with: {found.problem}", err=True)
    if not found.intact:
        sys.exit(1)


COMMANDS = [audit]
