"""What the semantic layer offers, for a person or a client: every metric with its type,
description, measures and the group-by items it can be grouped by."""

from __future__ import annotations

from typing import Any

from headwater.project.semantic import GRANULARITIES
from headwater.project.semantic_layer import (
    SemanticLayer,
    SemanticModel,
    measure_name,
    metric_inputs,
)


def describe_metrics(layer: SemanticLayer) -> list[dict[str, Any]]:
    """Every metric, sorted by name: `name`, `type`, `label`, `description`, `measures`
    (the measures it aggregates, through its inputs), `models` (their semantic models) and
    `dimensions` (the group-by items every one of those models can be grouped by)."""
    described = []
    for name in sorted(layer.metrics):
        metric = layer.metrics[name].config
        measures = sorted(_measures(layer, name, set()))
        models = sorted(
            {owner.name for m in measures if (owner := layer.measure_owner(m)) is not None}
        )
        reachable = [set(group_by_items(layer, layer.models[m])) for m in models]
        dimensions = sorted(set.intersection(*reachable)) if reachable else []
        described.append(
            {
                "name": name,
                "type": metric.type,
                "label": metric.label,
                "description": metric.description,
                "measures": measures,
                "models": models,
                "dimensions": dimensions,
            }
        )
    return described


def _measures(layer: SemanticLayer, name: str, seen: set[str]) -> set[str]:
    if name in seen or name not in layer.metrics:
        return set()
    seen.add(name)
    metric = layer.metrics[name].config
    found = {m} if (m := measure_name(metric)) else set()
    for value in metric_inputs(metric):
        found |= _measures(layer, value.name, seen)
    return found


def group_by_items(layer: SemanticLayer, model: SemanticModel) -> list[str]:
    """What a measure of `model` can be grouped by: metric_time at every grain (when the
    model has a time), its entities, and for each entity the dimensions of the semantic
    models where that entity is primary, unique or natural."""
    items: list[str] = []
    if any(d.type == "time" for d in model.config.dimensions):
        items += [f"metric_time__{grain}" for grain in GRANULARITIES]
    for entity in model.config.entities:
        items.append(entity.name)
        for owner in layer.models.values():
            if not any(
                e.name == entity.name and e.type != "foreign" for e in owner.config.entities
            ):
                continue
            for dim in owner.config.dimensions:
                items.append(f"{entity.name}__{dim.name}")
                if dim.type == "time":
                    items += [f"{entity.name}__{dim.name}__{g}" for g in GRANULARITIES]
    return items
