"""An export in a run: send what its asset changed since the last successful export.

The range sent is `(position, current version]` of the asset. A range a killed run left half
sent (webhook, files) is finished first, from its next unconfirmed batch, with the same
batches as before; only then is the newer range read. `--full-refresh` sends every row again.
"""

from __future__ import annotations

from pathlib import Path

from headwater.build.builders import register
from headwater.build.context import BuildContext, BuildResult
from headwater.errors import ExportError, Location
from headwater.exports.base import Changes, Destination, Sent
from headwater.exports.changes import UnreadableVersion, read_changes
from headwater.exports.quarantine import ExportQuarantine
from headwater.project.exports import DOCS, ExportConfig
from headwater.project.kinds import BuildKind
from headwater.storage.base import TableRef, TableStore

STATE_FOLDER = "_exports"
"""The warehouse folder holding each webhook or files export's position file."""


def build_export(ctx: BuildContext) -> BuildResult:
    """Send the changes of `ctx.asset`'s upstream asset to its destination; return what was
    sent (no version: an export has no table of its own)."""
    asset = ctx.asset
    config = asset.export
    assert config is not None
    upstream = ctx.definition.assets[asset.depends_on[0]]
    source = TableRef.of(upstream)
    where = _where(ctx)
    until = ctx.store.current_version(source)
    if until is None:
        raise ExportError(
            f"export {config.name}: {source} has no version yet",
            where,
            f"build it first: headwater run -s {source}",
        )
    destination = open_destination(
        config, ctx.definition.root, state_folder(ctx.store, config), where
    )
    quarantine = ExportQuarantine(ctx.store, ctx.ref, destination.label, ctx.run_id)
    total = Sent()
    ranges = 0
    # an append export never sends everything again on its own: the destination keeps
    # every row it was sent, so a second copy would be a duplicate of each
    refresh = ctx.full_refresh and config.mode != "append"
    notes: list[str] = []

    def send(since: int | None, until: int, resume_at: int) -> None:
        try:
            _add(
                total,
                _send(ctx, destination, config, source, since, until, resume_at, quarantine, where),
            )
        except UnreadableVersion:
            if config.mode == "append" or since is None:
                raise
            # upsert and mirror converge from the whole current version
            notes.append(f"v{since} can no longer be read: every row sent")
            _add(total, _send(ctx, destination, config, source, None, until, 0, quarantine, where))

    try:
        position = destination.position()
        since = None if refresh else position.version
        pending = None if refresh else position.pending
        if position.source not in (None, source.key):
            # its versions count another table's commits: nothing of this one was sent
            notes.append(f"reads {source} now, not {position.source}: every row sent")
            since, pending = None, None
        if pending is not None:
            send(pending.since, pending.until, pending.batches_done)
            ranges += 1
            since = pending.until
        if since is not None and since > until:
            raise ExportError(
                f"export {config.name}: {source} is at version {until}, older than version "
                f"{since} the export last sent (the table was dropped and made again)",
                where,
                "run the export with --full-refresh to send every row again",
            )
        if since is None or since < until:
            send(since, until, 0)
            ranges += 1
    finally:
        destination.close()
    if ctx.full_refresh and not refresh:
        notes.append("--full-refresh does not resend an append export's rows")
    if not ranges:
        return BuildResult(rows=0, message=f"up to date with {source} v{until}")
    parts = [f"{total.upserted} {'appended' if config.mode == 'append' else 'upserted'}"]
    if config.mode == "mirror":
        parts.append(f"{total.deleted} deleted")
    if total.refused:
        parts.append(f"{total.refused} refused (in {quarantine.ref})")
    if total.retries:
        parts.append(f"{total.retries} retries")
    parts += notes
    return BuildResult(
        rows=total.upserted + total.deleted,
        message=f"{', '.join(parts)} to {destination.label} (up to {source} v{until})",
        audit={
            "source": source.key,
            "version": until,
            "destination": destination.label,
            "mode": config.mode,
            "role": config.role,
            "upserted": total.upserted,
            "deleted": total.deleted,
            "refused": total.refused,
        },
    )


def open_destination(
    config: ExportConfig, root: Path, state: Path, where: Location | None = None
) -> Destination:
    """The destination export `config` sends to, opened (`where`: its place in the project,
    for errors)."""
    kind = config.to.kind
    if kind == "postgres":
        from headwater.exports.postgres import PostgresTable

        return PostgresTable(config, where)
    if kind == "webhook":
        from headwater.exports.webhook import Webhook

        return Webhook(config, state)
    from headwater.exports.files import FileFolder

    return FileFolder(config, root, state)


def state_folder(store: TableStore, config: ExportConfig) -> Path:
    """Where a webhook or files export keeps its position (under the warehouse, beside the
    tables it exports)."""
    return store.warehouse / STATE_FOLDER / config.name


def _send(
    ctx: BuildContext,
    destination: Destination,
    config: ExportConfig,
    source: TableRef,
    since: int | None,
    until: int,
    resume_at: int,
    quarantine: ExportQuarantine,
    where: Location,
) -> Sent:
    """Read the changes of `(since, until]`, check they fit, and send them."""
    from headwater.engine.duckdb import DuckDBEngine

    # in key order for a PostgreSQL upsert too, which then reads the key's index page after
    # page (postgres.py stages the rows in the order they come)
    ordered = config.to.kind != "postgres" or config.mode != "append"
    # a DuckDB of the export's own: its relations (and a role's masking key) are seen by no
    # other build, and the comparison runs the same whatever engine builds the models
    engine = DuckDBEngine(temp_directory=ctx.temp_dir / f"export-{config.name}")
    session = engine.session()
    try:
        reads_as = ctx.reads_as
        view = (
            None if reads_as is None else (lambda relation: reads_as(session, source.key, relation))
        )
        changes: Changes = read_changes(
            session, ctx.store, config, source, since, until, ordered, view, where
        )
        quarantine.add(f"{config.name}:{changes.range_label}:keys", changes.invalid)
        destination.check(changes.schema, changes.key)
        ctx.check_time()
        sent = destination.send(changes, resume_at, quarantine)
        sent.refused += len(changes.invalid)
        return sent
    finally:
        engine.close()


def _add(total: Sent, sent: Sent) -> None:
    total.upserted += sent.upserted
    total.deleted += sent.deleted
    total.refused += sent.refused
    total.batches += sent.batches
    total.retries += sent.retries


def _where(ctx: BuildContext) -> Location:
    document = ctx.asset.document
    if document is None:
        return Location(file=DOCS)
    assert ctx.asset.export is not None
    names = [e.get("name") for e in (document.data or {}).get("exports", []) if isinstance(e, dict)]
    position = names.index(ctx.asset.name) if ctx.asset.name in names else None
    return document.location(("exports", position, "from") if position is not None else ())


register(BuildKind.EXPORT, build_export)
