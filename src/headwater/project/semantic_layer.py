"""Reading `metrics/*.yml` into the project's semantic layer, and checking it at load.

Every reference is checked where it is written, with its file and line and the closest valid
name: a semantic model's asset, the columns its expressions name (when the asset's columns are
known before it is built), a measure's time dimension, a metric's measures and metrics, a
derived metric's expression, and names given twice. Join paths are checked when a query asks
for them (`headwater.metrics`), where the dimensions asked for are known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigError, Location
from headwater.project.semantic import (
    DimensionConfig,
    EntityConfig,
    MeasureConfig,
    MetricConfig,
    MetricInput,
    SemanticFile,
    SemanticModelConfig,
    plain_filter,
)
from headwater.project.yamlfile import YamlDocument, closest, load_yaml, validated

if TYPE_CHECKING:
    from headwater.project.definition import ProjectDefinition

METRICS_FOLDER = "metrics"
DOCS = "docs/metrics.md"


@dataclass(frozen=True)
class SemanticModel:
    """A semantic model as loaded: its config, the asset it reads and where it is written."""

    config: SemanticModelConfig
    asset: str
    """The asset's key (`namespace.name`)."""
    document: YamlDocument
    position: int
    """Its index in the file's `semantic_models:` list."""

    @property
    def name(self) -> str:
        return self.config.name

    def line(self, *path: str | int) -> int | None:
        """The line of a key under this semantic model."""
        return self.document.line_of(("semantic_models", self.position, *path))


@dataclass(frozen=True)
class Metric:
    """A metric as loaded, with where it is written."""

    config: MetricConfig
    document: YamlDocument
    position: int

    @property
    def name(self) -> str:
        return self.config.name

    def line(self, *path: str | int) -> int | None:
        """The line of a key under this metric."""
        return self.document.line_of(("metrics", self.position, *path))


@dataclass
class SemanticLayer:
    """Every semantic model and metric of the project, by name."""

    models: dict[str, SemanticModel] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    """The files read (relative to the project)."""

    def measure_owner(self, measure: str) -> SemanticModel | None:
        """The semantic model defining `measure`."""
        for model in self.models.values():
            if any(m.name == measure for m in model.config.measures):
                return model
        return None

    @property
    def measures(self) -> list[str]:
        """Every measure's name."""
        return [m.name for model in self.models.values() for m in model.config.measures]


def load_semantic_layer(
    definition: ProjectDefinition,
    columns_of: Callable[[str], Sequence[str] | None] = lambda _: None,
) -> SemanticLayer:
    """Read and check `metrics/*.yml` of `definition`'s project (empty when there is none);
    `columns_of` gives an asset's columns where they are known before it is built.

    Raises:
        ConfigError: a file is invalid, or names something that does not exist, at its line.
    """
    layer = SemanticLayer()
    folder = definition.root / METRICS_FOLDER
    if not folder.is_dir():
        return layer
    paths = sorted([*folder.rglob("*.yml"), *folder.rglob("*.yaml")])
    for path in paths:
        shown = path.relative_to(definition.root).as_posix()
        layer.files.append(shown)
        document = load_yaml(path, shown)
        parsed: SemanticFile = validated(document, SemanticFile, document.data, DOCS)
        for position, config in enumerate(parsed.semantic_models):
            where = ("semantic_models", position)
            _unique(layer.models, config.name, document, where, "semantic model")
            asset = _asset_key(definition, config, document, position)
            layer.models[config.name] = SemanticModel(config, asset, document, position)
        for position, written in enumerate(parsed.metrics):
            _unique(layer.metrics, written.name, document, ("metrics", position), "metric")
            layer.metrics[written.name] = Metric(written, document, position)
    for model in layer.models.values():
        _check_model(layer, model, columns_of(model.asset))
    for metric in layer.metrics.values():
        _check_metric(layer, metric)
    _check_acyclic(layer)
    return layer


def _unique(
    found: Mapping[str, object],
    name: str,
    document: YamlDocument,
    where: tuple[str | int, ...],
    noun: str,
) -> None:
    if name in found:
        other = found[name]
        other_file = getattr(getattr(other, "document", None), "path", "")
        raise ConfigError(
            f"two {noun}s are named {name} (the other in {other_file})",
            Location(file=str(document.path), line=document.line_of((*where, "name"))),
            f"give each {noun} a name of its own",
        )


def _asset_key(
    definition: ProjectDefinition,
    config: SemanticModelConfig,
    document: YamlDocument,
    position: int,
) -> str:
    """The key of the asset a semantic model reads (`ref('name')` finds it by name)."""
    written = config.asset_ref
    if written in definition.assets:
        return written
    by_name = [key for key, asset in definition.assets.items() if asset.name == written]
    if len(by_name) == 1:
        return by_name[0]
    near = closest(written, [*definition.assets, *(a.name for a in definition.assets.values())])
    hint = f"did you mean {near}?" if near else "name an asset as namespace.name"
    if len(by_name) > 1:
        hint = f"{written} is ambiguous ({', '.join(sorted(by_name))}): write namespace.name"
    raise ConfigError(
        f"semantic model {config.name} reads {written}, which is not an asset of the project",
        Location(
            file=str(document.path), line=document.line_of(("semantic_models", position, "model"))
        ),
        hint,
    )


def _check_model(layer: SemanticLayer, model: SemanticModel, columns: Sequence[str] | None) -> None:
    """Names given twice, the time dimensions measures aggregate by, and, when the asset's
    columns are known, the columns the expressions name."""
    config = model.config
    names: dict[str, str] = {}
    for kind, items in _parts(config):
        for position, item in enumerate(items):
            if item.name in names and not (kind == "dimensions" and names[item.name] == "entities"):
                raise ConfigError(
                    f"semantic model {config.name} names {item.name} twice ({names[item.name]} "
                    f"and {kind})",
                    Location(
                        file=str(model.document.path), line=model.line(kind, position, "name")
                    ),
                    "give each entity, dimension and measure its own name",
                )
            names.setdefault(item.name, kind)
    for position, measure in enumerate(config.measures):
        other = layer.measure_owner(measure.name)
        if other is not None and other is not model:
            raise ConfigError(
                f"measure {measure.name} is defined in semantic models {other.name} and "
                f"{config.name}",
                Location(
                    file=str(model.document.path), line=model.line("measures", position, "name")
                ),
                "give each measure a name unique in the project",
            )
    times = [d.name for d in config.dimensions if d.type == "time"]
    wanted: list[tuple[tuple[str | int, ...], str | None]] = [
        (("defaults", "agg_time_dimension"), config.defaults.agg_time_dimension)
    ]
    wanted += [
        (("measures", i, "agg_time_dimension"), m.agg_time_dimension)
        for i, m in enumerate(config.measures)
    ]
    for path, name in wanted:
        if name is not None and name not in times:
            near = closest(name, times)
            raise ConfigError(
                f"semantic model {config.name}: {name} is not one of its time dimensions "
                f"({', '.join(times) or 'it has none'})",
                Location(file=str(model.document.path), line=model.line(*path)),
                f"did you mean {near}?" if near else "declare it under dimensions: with type: time",
            )
    if columns:
        _check_columns(model, list(columns))


Part = EntityConfig | DimensionConfig | MeasureConfig


def _parts(config: SemanticModelConfig) -> list[tuple[str, Sequence[Part]]]:
    """A semantic model's entities, dimensions and measures, each list with its key."""
    return [
        ("entities", config.entities),
        ("dimensions", config.dimensions),
        ("measures", config.measures),
    ]


def _check_columns(model: SemanticModel, columns: list[str]) -> None:
    """Each entity's, dimension's and measure's expression names only the asset's columns."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    known = {c.lower(): c for c in columns}
    config = model.config
    for kind, items in _parts(config):
        for position, item in enumerate(items):
            text = item.expr if item.expr is not None else item.name
            line = model.line(kind, position, "expr" if item.expr is not None else "name")
            where = Location(file=str(model.document.path), line=line)
            try:
                tree = sqlglot.parse_one(text, read="duckdb")
            except SqlglotError as error:
                raise ConfigError(
                    f"semantic model {config.name}: the expression of {item.name} ({text}) is "
                    f"not SQL: {str(error).splitlines()[0]}",
                    where,
                    "write a column or a SQL expression over the asset's columns",
                ) from None
            for column in tree.find_all(exp.Column):
                if column.name.lower() not in known:
                    near = closest(column.name, columns)
                    raise ConfigError(
                        f"semantic model {config.name}: {item.name} reads column "
                        f"{column.name}, which {model.asset} does not have",
                        where,
                        f"did you mean {near}?" if near else f"its columns: {', '.join(columns)}",
                    )


def _inputs(metric: MetricConfig) -> list[tuple[tuple[str | int, ...], MetricInput]]:
    """The metrics a ratio or derived metric is made of, with where each is written."""
    params = metric.type_params
    found: list[tuple[tuple[str | int, ...], MetricInput]] = []
    for key in ("numerator", "denominator"):
        value = getattr(params, key)
        if value is not None:
            found.append((("type_params", key), _as_input(value)))
    for position, value in enumerate(params.metrics):
        found.append((("type_params", "metrics", position), _as_input(value)))
    return found


def _as_input(value: str | MetricInput) -> MetricInput:
    return value if isinstance(value, MetricInput) else MetricInput(name=value)


def metric_inputs(metric: MetricConfig) -> list[MetricInput]:
    """The metrics a ratio (numerator, denominator) or derived metric is made of."""
    return [value for _, value in _inputs(metric)]


def measure_name(metric: MetricConfig) -> str | None:
    """The measure of a simple or cumulative metric."""
    measure = metric.type_params.measure
    if measure is None:
        return None
    return measure.name if isinstance(measure, MetricInput) else measure


def _check_metric(layer: SemanticLayer, metric: Metric) -> None:
    config = metric.config
    where_file = str(metric.document.path)
    measure = measure_name(config)
    if measure is not None and layer.measure_owner(measure) is None:
        near = closest(measure, layer.measures)
        raise ConfigError(
            f"metric {config.name} aggregates measure {measure}, which no semantic model defines",
            Location(file=where_file, line=metric.line("type_params", "measure")),
            f"did you mean {near}?" if near else "define it under a semantic model's measures:",
        )
    for path, value in _inputs(config):
        if value.name not in layer.metrics:
            near = closest(value.name, list(layer.metrics))
            raise ConfigError(
                f"metric {config.name} is made of metric {value.name}, which is not defined",
                Location(file=where_file, line=metric.line(*path)),
                f"did you mean {near}?" if near else "define it under metrics:",
            )
    if config.type == "derived":
        _check_expression(metric)
    filters: list[tuple[tuple[str | int, ...], str]] = []
    if config.filter:
        filters.append((("filter",), config.filter))
    measure_input = config.type_params.measure
    if isinstance(measure_input, MetricInput) and measure_input.filter:
        filters.append((("type_params", "measure", "filter"), measure_input.filter))
    filters += [(path, value.filter) for path, value in _inputs(config) if value.filter]
    for path, text in filters:
        _check_filter(layer, metric, path, text)


def _check_expression(metric: Metric) -> None:
    """A derived metric's expression parses and names only its metrics (or their aliases)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    config = metric.config
    text = config.type_params.expr or ""
    where = Location(file=str(metric.document.path), line=metric.line("type_params", "expr"))
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except SqlglotError as error:
        raise ConfigError(
            f"metric {config.name}: expr {text!r} is not a SQL expression: "
            f"{str(error).splitlines()[0]}",
            where,
            "write an expression of its metrics, e.g. revenue - cost",
        ) from None
    names = [i.alias or i.name for i in metric_inputs(config)]
    for column in tree.find_all(exp.Column):
        if column.name not in names:
            near = closest(column.name, names)
            raise ConfigError(
                f"metric {config.name}: expr names {column.name}, which is not one of its "
                f"metrics ({', '.join(names)})",
                where,
                f"did you mean {near}?" if near else "list it under type_params.metrics",
            )


def _check_filter(
    layer: SemanticLayer, metric: Metric, path: tuple[str | int, ...], text: str
) -> None:
    """A metric's filter parses and names group-by items of known entities (the rest is
    checked when a query compiles it, where the measure's model is known)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    where = Location(file=str(metric.document.path), line=metric.line(*path))
    plain = plain_filter(text)
    try:
        tree = sqlglot.parse_one(plain, read="duckdb")
    except SqlglotError as error:
        raise ConfigError(
            f"metric {metric.name}: filter {text!r} is not SQL: {str(error).splitlines()[0]}",
            where,
            "write a condition on group-by items, e.g. customer__segment = 'EU'",
        ) from None
    entities = {e.name for m in layer.models.values() for e in m.config.entities}
    dimensions = {d.name for m in layer.models.values() for d in m.config.dimensions}
    for column in tree.find_all(exp.Column):
        parts = column.name.split("__")
        if parts[0] == "metric_time":
            continue
        known = parts[0] in entities and (len(parts) == 1 or parts[1] in dimensions)
        if not known:
            names = sorted(
                {f"{e}__{d}" for e in entities for d in dimensions} | entities | {"metric_time"}
            )
            near = closest(column.name, names)
            raise ConfigError(
                f"metric {metric.name}: filter names {column.name}, which is not a group-by "
                "item (entity__dimension, an entity, or metric_time__grain)",
                where,
                f"did you mean {near}?" if near else "name a dimension through its entity",
            )


def _check_acyclic(layer: SemanticLayer) -> None:
    """No metric is made of itself, through any chain of ratio and derived metrics."""
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            metric = layer.metrics[name]
            cycle = " -> ".join([*chain[chain.index(name) :], name])
            raise ConfigError(
                f"metrics are made of each other in a cycle: {cycle}",
                Location(file=str(metric.document.path), line=metric.line("type_params")),
                "break the cycle: a metric cannot be made of itself",
            )
        state[name] = 1
        for value in metric_inputs(layer.metrics[name].config):
            visit(value.name, [*chain, name])
        state[name] = 2

    for name in layer.metrics:
        visit(name, [])


def semantic_files(root: Path) -> list[str]:
    """The semantic layer's files under `root` (relative), read or not."""
    folder = root / METRICS_FOLDER
    if not folder.is_dir():
        return []
    return sorted(
        p.relative_to(root).as_posix() for p in [*folder.rglob("*.yml"), *folder.rglob("*.yaml")]
    )
