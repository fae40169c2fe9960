"""The UI's pages about runs: the list of runs, and one run with its assets on a timeline.

Only the live server shows them (a static export has no runs); `/api/runs/<id>` serves the same
facts as JSON.

A reader that may not read every asset sees every run (its id, command, status and times: they
name no asset) but only the results, attempts and logs of assets it may read, and neither the
run's selector nor its error, which may name any asset. A run that built only hidden assets is
listed with no asset counts and shows no assets.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from headwater.catalog.statuses import BuildStatus, RunStatus
from headwater.ui.access import Reader, Sight
from headwater.ui.formatting import between, moment, status_class

if TYPE_CHECKING:
    from headwater.ui.pages import Links, Workspace

RUNS_PER_PAGE = 50
RUN_FIELDS_SHOWN = frozenset(
    {"run_id", "seq", "command", "status", "started_at", "finished_at", "heartbeat_at"}
    | {"resumed_from", "threads", "full_refresh", "counts"}
)
"""The fields of a run a reader of only some assets sees: none of them names an asset."""
GANTT_WIDTH = 720


def runs_page(
    workspace: Workspace, page: int, links: Links, reader: Reader | None = None
) -> dict[str, Any]:
    """One page of runs, newest first; with a `reader`, each run's asset counts are of the
    assets it may read."""
    project = workspace.fresh()
    total = project.run_count()
    page = max(page, 1)
    runs = project.runs_page(RUNS_PER_PAGE, (page - 1) * RUNS_PER_PAGE)
    sight = Sight(project.definition, reader) if reader is not None else None
    for run in runs:
        if sight is not None and not sight.everything:
            _conceal(run)
            counts: dict[str, int] = {}
            for result in project.catalog.results(run["run_id"]):
                if sight.sees(result["asset"]):
                    counts[result["status"]] = counts.get(result["status"], 0) + 1
            run["counts"] = counts
        run["css"] = status_class(run["status"])
        run["duration"] = between(run["started_at"], run["finished_at"])
    return {
        "title": "Runs",
        "runs": runs,
        "page": page,
        "pages": max((total + RUNS_PER_PAGE - 1) // RUNS_PER_PAGE, 1),
        "total": total,
        "links": links,
    }


def run_page(
    workspace: Workspace, run_id: str, links: Links, reader: Reader | None = None
) -> dict[str, Any] | None:
    """One run: its assets on a timeline, their attempts, logs and errors (None: no such
    run); with a `reader`, only of the assets it may read."""
    project = workspace.fresh()
    detail = project.run_detail(run_id)
    if detail is None:
        return None
    run, results, attempts = detail["run"], detail["results"], detail["attempts"]
    sight = Sight(project.definition, reader) if reader is not None else None
    if sight is not None and not sight.everything:
        _conceal(run)
        results = [r for r in results if sight.sees(r["asset"])]
        attempts = [a for a in attempts if sight.sees(a["asset"])]
    if sight is not None and (sight.masked or not sight.everything):
        for result in results:
            result["message"] = sight.redact(result["message"])
        for attempt in attempts:
            attempt["error"] = sight.redact(attempt["error"])
            attempt["logs"] = sight.redact(attempt["logs"])
    run["css"] = status_class(run["status"])
    run["duration"] = between(run["started_at"], run["finished_at"])
    for result in results:
        result["css"] = status_class(result["status"])
    for attempt in attempts:
        attempt["css"] = status_class(attempt["status"])
    return {
        "title": f"Run {run['run_id']}",
        "run": run,
        "results": results,
        "attempts": attempts,
        "bars": _gantt(results, attempts),
        "gantt_width": GANTT_WIDTH,
        "live": run["status"] == RunStatus.RUNNING,
        "links": links,
    }


def _conceal(run: dict[str, Any]) -> None:
    """Leave out what of `run` may name any asset (the selector and arguments it was started
    with, its error): every field but those known to name none."""
    for name in run:
        if name not in RUN_FIELDS_SHOWN:
            run[name] = None


def _gantt(results: list[dict[str, Any]], attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars of each built asset's attempts on one time axis (running ones up to now)."""
    now = dt.datetime.now(dt.UTC)
    spans = []
    by_result: dict[int, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_result.setdefault(attempt["result_id"], []).append(attempt)
    for result in results:
        start = moment(result["started_at"])
        if start is None or result["status"] in (BuildStatus.UP_TO_DATE, BuildStatus.SKIPPED):
            continue
        tries = by_result.get(result["id"], [])
        pieces = []
        for attempt in tries or [result]:
            begin = moment(attempt["started_at"]) or start
            duration = attempt.get("duration_s")
            end = begin + dt.timedelta(seconds=duration) if duration is not None else now
            pieces.append((begin, end, attempt["status"]))
        spans.append((result, pieces))
    if not spans:
        return []
    origin = min(p[0] for _, pieces in spans for p in pieces)
    finish = max(p[1] for _, pieces in spans for p in pieces)
    total = max((finish - origin).total_seconds(), 1e-3)
    bars = []
    for result, pieces in spans:
        label = result["asset"] + (
            f"[{result['partition_key']}]" if result["partition_key"] else ""
        )
        bars.append(
            {
                "label": label,
                "href_asset": result["asset"],
                "status": result["status"],
                "segments": [
                    {
                        "x": round((begin - origin).total_seconds() / total * GANTT_WIDTH, 1),
                        "width": max(
                            round((end - begin).total_seconds() / total * GANTT_WIDTH, 1), 2.0
                        ),
                        "css": status_class(status),
                        "title": f"{label}: {status}, {(end - begin).total_seconds():.2f} s",
                    }
                    for begin, end, status in pieces
                ],
            }
        )
    return bars
