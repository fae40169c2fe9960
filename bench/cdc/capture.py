"""Run one source's CDC capture in this process: `PostgresCaptureJob.run` as the builder and
`headwater stream run` call it, without the CLI around it.

For the latency arm when `headwater stream run <source>` does not take cdc sources, and for
profiling the drain (`--until-caught-up` runs the job in the main thread, so cProfile sees
all of it). Holds the capture's run lock like the real callers. SIGTERM or Ctrl-C stops a
continuous capture after the micro-batch in hand is committed.

Prints one JSON object with the job's summary on the last line.

Usage: python capture.py PROJECT_DIR SOURCE [--until-caught-up]
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from pathlib import Path


def run(project_dir: Path, source: str, until_caught_up: bool) -> dict[str, object]:
    """Run the capture of `source` in the project at `project_dir`; return its summary."""
    from headwater import Project
    from headwater.catalog.store import new_run_id
    from headwater.engine.registry import EnginePlace, create_engine
    from headwater.stream.cdc.jobs import capture_job
    from headwater.stream.cdc.postgres_job import capture_folder
    from headwater.stream.run_lock import stream_lock

    stop = threading.Event()
    if not until_caught_up:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    project = Project(project_dir)
    definition, store = project.definition, project.store
    engine = create_engine(definition.config.engine, EnginePlace(definition.root))
    started = time.perf_counter()
    try:
        session = engine.session()
        with stream_lock(capture_folder(store, source), f"capture of {source}"):
            job = capture_job(definition, source, store, session, new_run_id())
            summary = job.run(until_caught_up=until_caught_up, stop=stop)
    finally:
        engine.close()
        project.close()
    return {
        "seconds": time.perf_counter() - started,
        "batches": summary.batches,
        "transactions": summary.transactions,
        "changes": summary.changes,
        "rows": summary.rows,
        "snapshots": summary.snapshots,
        "position": summary.position,
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("source")
    parser.add_argument("--until-caught-up", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(args.project, args.source, args.until_caught_up)), flush=True)


if __name__ == "__main__":
    main()
