"""What each page of the UI shows, gathered from the project and its catalog.

Every function returns the context of one template. The live server and `headwater docs
export` render the same templates from the same contexts; the export only leaves out what needs
a server (previews, runs, the SQL box).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.sqltext import qualified
from headwater.ui.access import Reader, Sight
from headwater.ui.formatting import cell, duration, number, script_json, status_class, when_ms
from headwater.ui.layout import NODE_HEIGHT, NODE_WIDTH, graph_edges, layout_settings

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.lineage.graph import ColumnGraph
    from headwater.project.definition import Asset, ProjectDefinition
    from headwater.workspace import Project

PREVIEW_ROWS = 20
HISTORY_VERSIONS = 50
CHECK_HISTORY = 400
METRIC_HISTORY = 5000
METRIC_POINTS = 60
SPARK_WIDTH, SPARK_HEIGHT = 160, 32
RELOAD_EVERY_S = 2.0
RETIRED_FOR_S = 60.0


@dataclass
class Links:
    """How pages link to each other: server routes, or relative files in an export."""

    static_site: bool = False
    depth: int = 0
    """How many folders below the export's root the page is."""

    def _root(self) -> str:
        return "../" * self.depth if self.static_site else "/"

    def home(self) -> str:
        """The graph page."""
        return self._root() + ("index.html" if self.static_site else "")

    def asset(self, key: str) -> str:
        """An asset's page."""
        return self._root() + (f"assets/{key}.html" if self.static_site else f"assets/{key}")

    def run(self, run_id: str) -> str:
        """A run's page (only on the server)."""
        return f"/runs/{run_id}"

    def static(self, name: str) -> str:
        """A bundled CSS or JavaScript file."""
        return self._root() + f"static/{name}"


@dataclass
class Workspace:
    """The project a UI shows, reloaded when its files change, and what is costly to build
    kept until the catalog records a new run."""

    project: Project
    _signature: tuple[float, int] = (0.0, 0)
    _checked: float = 0.0
    _graph: ColumnGraph | None = None
    _graph_key: tuple[Any, ...] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _building: threading.Lock = field(default_factory=threading.Lock)
    _opened_current: bool = False
    _retired: list[tuple[float, Project]] = field(default_factory=list)
    """Projects replaced after their files changed, with when: requests that began before
    keep using theirs, so each is closed only a while later."""

    def fresh(self) -> Project:
        """The project, opened afresh first if a file of it changed (looked at every few
        seconds). A request keeps the `Project` it got: a reload never changes it under it."""
        from headwater.workspace import Project

        with self._lock:
            now = time.monotonic()
            if now - self._checked >= RELOAD_EVERY_S:
                self._checked = now
                signature = _files_signature(self.project)
                if signature != self._signature:
                    if self._signature != (0.0, 0):
                        self._retire(now)
                        self.project = Project(self.project.root)
                    self._signature = signature
                    self._graph = None
            return self.project

    def _retire(self, now: float) -> None:
        """Set the current project aside, and close those set aside long enough ago."""
        for retired_at, old in list(self._retired):
            if now - retired_at > RETIRED_FOR_S:
                old.close()
                self._retired.remove((retired_at, old))
        # the project the workspace was made with is its maker's to close
        if self._opened_current:
            self._retired.append((now, self.project))
        self._opened_current = True

    def column_graph(self) -> ColumnGraph:
        """The project's column graph, rebuilt after each new run or change of its files."""
        project = self.fresh()
        key = (id(project), *project.runs_token())
        # one build at a time: a request arriving during the warm-up waits for it
        with self._building:
            with self._lock:
                if self._graph is not None and self._graph_key == key:
                    return self._graph
            graph = project.column_graph()
            with self._lock:
                self._graph, self._graph_key = graph, key
            return graph


def _files_signature(project: Project) -> tuple[float, int]:
    """The newest modification time and the number of the project's definition files."""
    import os

    newest, count = 0.0, 0
    root = project.definition.root
    for folder in ("models", "seeds", "sources"):
        for directory, _, files in os.walk(root / folder):
            for name in files:
                newest = max(newest, os.stat(os.path.join(directory, name)).st_mtime)
                count += 1
    config = root / "headwater.yml"
    if config.exists():
        newest = max(newest, config.stat().st_mtime)
    return newest, count


# -- the graph ---------------------------------------------------------------------------------


def graph_page(
    workspace: Workspace, select: str | None, links: Links, reader: Reader | None = None
) -> dict[str, Any]:
    """Return the graph page's context: the selected assets coloured by their last status, the
    edges among them and the layout settings the browser draws them with (static/graph.js).
    Only the assets `reader` may read are drawn (all without a reader).

    A selector that cannot be used does not replace the page: the whole graph is shown with
    the selector's error above it (`error`, `hint`), so it can be corrected in place.
    """
    from headwater.errors import UsageError

    project = workspace.fresh()
    definition = project.definition  # a broken project raises here: its error is the page
    sight = Sight(definition, reader)
    error: UsageError | None = None
    try:
        keys = sight.select(select.split() if select else None)
    except UsageError as exc:
        error, keys = exc, sight.select()
    latest = project.latest_results(keys) if not links.static_site else {}
    nodes: list[dict[str, Any]] = []
    for key in keys:
        asset = definition.assets[key]
        result = latest.get(key)
        status = result["status"] if result else "never"
        nodes.append(
            {
                "key": key,
                "label": _fit(asset.name),
                "namespace": _fit(f"{asset.namespace} · {asset.build_kind}", 32),
                "kind": asset.build_kind,
                "status": status,
                "css": status_class(status),
                "href": links.asset(key),
                "title": f"{key} ({asset.build_kind}): {status}",
            }
        )
    counts: dict[str, int] = {}
    for item in nodes:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    parents = {k: definition.assets[k].depends_on for k in keys}
    metrics = _metric_nodes(definition, set(keys), links)
    for item, reads in metrics:
        nodes.append(item)
        parents[item["key"]] = reads
    return {
        "title": "Assets",
        "select": select or "",
        "error": error.message if error else None,
        "hint": error.hint if error else None,
        "nodes": nodes,
        "asset_count": len(keys),
        "metric_count": len(metrics),
        "edges": graph_edges([n["key"] for n in nodes], parents),
        "node_width": NODE_WIDTH,
        "node_height": NODE_HEIGHT,
        "graph_settings": layout_settings(),
        "counts": sorted(counts.items()),
        "links": links,
    }


def _metric_nodes(
    definition: ProjectDefinition, shown: set[str], links: Links
) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """A node for each metric of the semantic layer whose assets are all shown (so a reader
    sees the metrics of the tables it may read), with the assets it reads as its parents."""
    from headwater.metrics.reads import metric_reads

    found = []
    by_lower = {key.lower(): key for key in shown}
    for name, columns in sorted(metric_reads(definition.semantic).items()):
        assets = sorted({asset for asset, _ in columns})
        if not assets or any(asset not in by_lower for asset in assets):
            continue
        reads = tuple(by_lower[asset] for asset in assets)
        kind = definition.semantic.metrics[name].config.type
        item = {
            "key": f"metric:{name}",
            "label": _fit(name),
            "namespace": _fit(f"metric · {kind}", 32),
            "kind": "metric",
            "status": "metric",
            "css": status_class(None),
            "href": links.asset(reads[0]),
            "title": f"metric {name} ({kind}): reads {', '.join(reads)}",
        }
        found.append((item, reads))
    return found


def _fit(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- an asset --------------------------------------------------------------------------------


def asset_page(
    workspace: Workspace,
    name: str,
    version: int | None,
    links: Links,
    reader: Reader | None = None,
    preview: Preview | None = None,
) -> dict[str, Any]:
    """Everything about one asset: description, schema, column lineage, versions, a preview
    (at `version`, when given; read by `preview`, as the reader, when given), check results
    and metrics over time, freshness.

    With a `reader`, an asset it may not read is not found (the error of an unknown name),
    and lineage, neighbours and text name only assets it may read.

    Raises:
        NotFoundError: no asset (that `reader` may read) is called `name`.
    """
    project = workspace.fresh()
    sight = Sight(project.definition, reader)
    asset = sight.asset(name)
    graph = sight.columns(workspace.column_graph())
    info = graph.assets.get(asset.key)
    columns = list(info.columns) if info else []
    types = dict(info.types) if info else {}
    description, descriptions = project.descriptions(asset.key)
    context: dict[str, Any] = {
        "title": asset.key,
        "asset": asset,
        "description": description,
        "links": links,
        "columns": [
            {"name": c, "type": types.get(c, ""), "description": descriptions.get(c, "")}
            for c in columns
        ],
        "lineage_error": sight.redact(info.error) if info else None,
        "lineage_json": script_json(_column_lineage(graph, asset.key, columns)),
        "neighbours": _neighbours(sight, graph, asset.key),
        "version": version,
        # a model's SQL names the tables it reads: not shown when one of them is hidden
        "sql": asset.sql if sight.sees_all(asset.depends_on) else None,
        "sql_hidden": bool(asset.sql) and not sight.sees_all(asset.depends_on),
    }
    if links.static_site:
        return context
    context.update(_stored_facts(project, asset, version, preview))
    context["preview_error"] = sight.redact(context["preview_error"])
    context["checks"] = _check_timeline(project, asset.key, sight)
    context["charts"] = _metric_charts(project, asset.key)
    context["freshness"] = _freshness(project, asset)
    context["stream"] = _stream_facts(project, asset)
    if context["stream"] is not None:
        context["stream"]["error"] = sight.redact(context["stream"]["error"])
    return context


def lineage_json(workspace: Workspace, name: str, reader: Reader | None = None) -> dict[str, Any]:
    """The column lineage of `name` (`asset` or `asset.column`) as `headwater lineage` reports
    it, over the (cached) column graph; with a `reader`, only through assets it may read.

    Raises:
        NotFoundError: no asset (that `reader` may read) or no such column.
    """
    from headwater.lineage.report import column_named, lineage_report

    project = workspace.fresh()
    definition = project.definition
    sight = Sight(definition, reader)
    key, wanted = sight.asset_and_column(name)
    graph = sight.columns(workspace.column_graph())
    column = column_named(graph, key, wanted) if wanted is not None else None
    report = lineage_report(definition, graph, key, column)
    report["error"] = sight.redact(report["error"])
    report["upstream_assets"] = sight.only(report["upstream_assets"])
    report["downstream_assets"] = sight.only(report["downstream_assets"])
    return report


def _stream_facts(project: Project, asset: Asset) -> dict[str, Any] | None:
    """A stream's source, state and progress, for its asset page (None: not a stream)."""
    if asset.stream is None:
        return None
    (status,) = project.stream_status([asset.key])
    lag = {k: v for k, v in status["lag"].items() if v is not None}
    return {
        "source": status["source"],
        "state": "running" if status["running"] else ("failed" if status["error"] else "stopped"),
        "error": status["error"],
        "batch": status["batch"],
        "last_commit": status["last_commit"],
        "watermark": status["watermark"],
        "events_per_s": status["events_per_s"],
        "latency": (status["latency_p50_s"], status["latency_p99_s"]),
        "lag": sum(lag.values()) if lag else None,
        "totals": status["totals"],
        "window": asset.stream.window.type if asset.stream.window else None,
    }


def _column_lineage(graph: ColumnGraph, key: str, columns: Sequence[str]) -> dict[str, Any]:
    """For each column: every column upstream and downstream of it, and how."""
    from headwater.lineage.graph import ColumnRef

    found: dict[str, Any] = {}
    for column in columns:
        ref = ColumnRef(key, column)
        found[column] = {
            way: [
                {
                    "id": f"{other.asset}.{other.column}",
                    "steps": steps,
                    "how": edge.subtype if edge.type == "DIRECT" else f"indirect {edge.subtype}",
                }
                for other, (steps, edge) in sorted(
                    graph.reachable(ref, way).items(), key=lambda item: item[1][0]
                )
            ]
            for way in ("upstream", "downstream")
        }
    return found


def _neighbours(sight: Sight, graph: ColumnGraph, key: str) -> dict[str, list[Any]]:
    """The visible assets one step up and down, with their columns (where lineage
    highlights)."""
    definition = sight.definition
    children = definition.downstream()

    def box(other: str) -> dict[str, Any]:
        return {"key": other, "columns": list(graph.columns(other))}

    return {
        "upstream": [box(k) for k in sight.only(sorted(definition.assets[key].depends_on))],
        "downstream": [box(k) for k in sight.only(sorted(children.get(key, [])))],
    }


Preview = Callable[[str, int | None], "pa.Table"]
"""Runs a preview's query at a version (None: the current one) as the page's reader."""


def _stored_facts(
    project: Project, asset: Any, version: int | None, preview: Preview | None = None
) -> dict[str, Any]:
    """The table's versions and a preview of its rows (at `version`, else the current one),
    read by `preview` (else as the local operator, unmasked)."""
    from headwater.errors import HeadwaterError

    facts: dict[str, Any] = {"history": [], "preview": None, "preview_error": None}
    if asset.is_stored and project.current_version(asset.key) is not None:
        facts["history"] = [
            {
                "version": h.version,
                "when": when_ms(h.timestamp_ms),
                "operation": h.operation,
                "run_id": h.run_id,
                "rows": h.rows_written,
                "readable": h.readable is not False,
            }
            for h in project.history(asset.key, HISTORY_VERSIONS)
        ]
    if not asset.is_stored or facts["history"]:
        try:
            sql = f"select * from {qualified(asset)} limit {PREVIEW_ROWS}"
            table = project.query(sql, as_of=version) if preview is None else preview(sql, version)
            facts["preview"] = {
                "columns": table.column_names,
                "rows": [[cell(v) for v in row.values()] for row in table.to_pylist()],
            }
        except HeadwaterError as exc:
            facts["preview_error"] = exc.message
    return facts


def _check_timeline(project: Project, key: str, sight: Sight) -> list[dict[str, Any]]:
    """Each check of the asset with its results over time, oldest first (a hidden asset a
    check refers to, as a relationship's parent, is not named)."""
    by_check: dict[str, dict[str, Any]] = {}
    for row in reversed(project.check_history(key, CHECK_HISTORY)):
        entry = by_check.setdefault(
            row["check_name"],
            {"name": sight.redact(row["check_name"]), "type": row["check_type"], "results": []},
        )
        entry["results"].append(
            {
                "status": row["status"],
                "failing": row["failing"],
                "at": row["checked_at"],
                "message": sight.redact(row["message"]),
                "version": row["delta_version"],
            }
        )
    for entry in by_check.values():
        entry["last"] = entry["results"][-1]
        entry["results"] = entry["results"][-METRIC_POINTS:]
    return sorted(by_check.values(), key=lambda e: e["name"])


def _metric_charts(project: Project, key: str) -> list[dict[str, Any]]:
    """Small charts of the row count and each column's null rate over time."""
    series: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for row in reversed(project.metrics(key, METRIC_HISTORY)):
        if row["value"] is None or row["metric"] not in ("row_count", "null_fraction"):
            continue
        name = (row["metric"], row["column_name"] or "")
        series.setdefault(name, []).append((row["recorded_at"], float(row["value"])))
    charts = []
    for (metric, column), points in sorted(series.items()):
        label = "rows" if metric == "row_count" else f"null rate of {column}"
        values = [v for _, v in points[-METRIC_POINTS:]]
        charts.append(
            {
                "label": label,
                "last": number(values[-1]),
                "low": number(min(values)),
                "high": number(max(values)),
                "points": _spark(values),
                "count": len(values),
                "metric": metric,
            }
        )
    charts.sort(key=lambda c: (c["metric"] != "row_count", c["label"]))
    return charts


def _spark(values: Sequence[float]) -> str:
    """SVG polyline points of `values` scaled into the sparkline box."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    return " ".join(
        f"{n * step:.1f},{SPARK_HEIGHT - 2 - (v - low) / span * (SPARK_HEIGHT - 4):.1f}"
        for n, v in enumerate(values)
    )


def _freshness(project: Project, asset: Any) -> dict[str, Any]:
    """When the asset was last built, how long ago, and its SLA."""
    found = project.freshness(asset.key)
    last, lag, sla = found.last_success, found.lag_s, found.sla_s
    return {
        "last": last.isoformat(timespec="seconds") if last else None,
        "lag": duration(lag) if lag is not None else None,
        "sla": duration(sla) if sla else None,
        "breached": found.breached,
    }
