"""Which columns of which assets each metric reads: its measures' expressions and time
dimension, and the entities and dimensions of its semantic models (a metric is grouped, joined
and filtered by them). Impact analysis names a metric among what a column change reaches."""

from __future__ import annotations

from typing import Any

from headwater.project.semantic_layer import (
    SemanticLayer,
    SemanticModel,
    measure_name,
    metric_inputs,
)


def metric_reads(layer: SemanticLayer) -> dict[str, set[tuple[str, str]]]:
    """For each metric: the (asset key, column) pairs it reads, lower case."""
    found: dict[str, set[tuple[str, str]]] = {}

    def reads(name: str, seen: frozenset[str]) -> set[tuple[str, str]]:
        if name in found:
            return found[name]
        metric = layer.metrics.get(name)
        if metric is None or name in seen:
            return set()
        columns: set[tuple[str, str]] = set()
        measure = measure_name(metric.config)
        owner = layer.measure_owner(measure) if measure else None
        if owner is not None and measure is not None:
            columns |= _model_columns(owner, measure)
        for value in metric_inputs(metric.config):
            columns |= reads(value.name, seen | {name})
        found[name] = columns
        return columns

    for name in layer.metrics:
        reads(name, frozenset())
    return found


def metric_lineage(layer: SemanticLayer, name: str) -> dict[str, Any]:
    """Metric `name` as a node of the graph: its type, the metrics it is made of and the
    columns it reads by asset (`reads`: asset key -> sorted columns).

    Raises:
        NotFoundError: no metric is called `name` (with the closest name).
    """
    from headwater.errors import NotFoundError
    from headwater.project.yamlfile import closest

    metric = layer.metrics.get(name)
    if metric is None:
        near = closest(name, list(layer.metrics))
        raise NotFoundError(
            f"there is no metric {name}",
            hint=f"did you mean {near}?" if near else "list them with 'headwater metrics list'",
        )
    reads: dict[str, list[str]] = {}
    for asset, column in sorted(metric_reads(layer).get(name, set())):
        reads.setdefault(asset, []).append(column)
    return {
        "metric": name,
        "type": metric.config.type,
        "inputs": [value.name for value in metric_inputs(metric.config)],
        "reads": reads,
    }


def metrics_of_asset(layer: SemanticLayer, key: str) -> list[str]:
    """The metrics that read asset `key` (its downstream metric nodes), sorted."""
    lowered = key.lower()
    return sorted(
        name
        for name, columns in metric_reads(layer).items()
        if any(asset == lowered for asset, _ in columns)
    )


def _model_columns(model: SemanticModel, measure: str) -> set[tuple[str, str]]:
    """The columns a measure of `model` reads: its own expression, and the model's entities
    and dimensions (what it is grouped, joined and filtered by)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    config = model.config
    texts = [e.expr or e.name for e in config.entities]
    texts += [d.expr or d.name for d in config.dimensions]
    texts += [m.expr or m.name for m in config.measures if m.name == measure]
    columns: set[tuple[str, str]] = set()
    for text in texts:
        try:
            tree = sqlglot.parse_one(text, read="duckdb")
        except SqlglotError:
            continue  # checked at load where the asset's columns are known
        columns |= {(model.asset.lower(), c.name.lower()) for c in tree.find_all(exp.Column)}
    return columns
