"""A stream's table in a run (`headwater run`): the stream reads what its source holds now,
commits it micro-batch by micro-batch like `headwater stream run`, and stops when caught up,
so batch models downstream read it in the same run."""

from __future__ import annotations

from headwater.build.builders import register
from headwater.build.context import BuildContext, BuildResult
from headwater.project.kinds import BuildKind
from headwater.stream.jobs import stream_job
from headwater.stream.run_lock import stream_lock
from headwater.stream.runner import run_stream


def build_stream(ctx: BuildContext) -> BuildResult:
    """Run the stream of `ctx.asset` until its source is caught up; return what it wrote."""
    job = stream_job(
        ctx.asset, ctx.definition, ctx.store, ctx.session, ctx.compiler, ctx.relations, ctx.run_id
    )
    with stream_lock(job.checkpoints, ctx.asset.key):
        summary = run_stream(job, until_caught_up=True)
    return BuildResult(
        rows=summary.rows,
        version=ctx.store.current_version(ctx.ref),
        message=(
            f"{summary.events} events in {summary.batches} micro-batches"
            + (f", {summary.rejected} quarantined" if summary.rejected else "")
            + (f", {summary.late} late" if summary.late else "")
        ),
    )


register(BuildKind.STREAM, build_stream)
