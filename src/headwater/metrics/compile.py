"""Compiling a metric query (metrics, dimensions, filters, order, limit) into one SQL statement.

Each measure is aggregated in its semantic model's own subquery, grouped by the dimensions
asked for. A dimension of another semantic model is reached by joining on an entity, and only
towards a model where that entity is `primary` or `unique`: each row then meets at most one
row, so nothing is counted twice. A join the other way (to a model holding the entity as
`foreign`) would repeat rows and is refused, as is a dimension two models could give.
`metric_time` is each measure's own time dimension (its `agg_time_dimension`).

The subqueries are stacked (`UNION ALL BY NAME`) and grouped once more by the dimensions, so
measures of different semantic models meet on equal dimension values, NULL included. Ratio and
derived metrics are computed over those columns; a cumulative metric's measure is summed over
a continuous spine of time buckets, each taking the rows of its trailing window (or since the
start of its `grain_to_date` period, or since the beginning) up to the bucket's end.

Filters (`where`, and a metric's own `filter`) name dimensions as group-by items do
(`customer__segment = 'EU'`, or MetricFlow's `{{ Dimension('customer__segment') }}`) and apply
to rows before they aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import UsageError
from headwater.project.semantic import GRANULARITIES, MetricInput, plain_filter, window_parts
from headwater.project.semantic_layer import measure_name, metric_inputs
from headwater.project.yamlfile import closest

if TYPE_CHECKING:
    from sqlglot import exp

    from headwater.project.semantic import MeasureConfig, MetricConfig
    from headwater.project.semantic_layer import SemanticLayer, SemanticModel

METRIC_TIME = "metric_time"
_TRUNC = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


@dataclass(frozen=True)
class MetricRequest:
    """What a metric query asks for."""

    metrics: tuple[str, ...]
    group_by: tuple[str, ...] = ()
    """`metric_time__month`, `customer__segment`, `customer`, `order__ordered_at__week`."""
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    """Metric or group-by names; `-name` sorts descending."""
    limit: int | None = None


@dataclass(frozen=True)
class CompiledQuery:
    """The SQL of a metric query, the columns it returns and the assets it reads."""

    sql: str
    columns: tuple[str, ...]
    assets: tuple[str, ...]


@dataclass(frozen=True)
class _Item:
    """A group-by item resolved: a dimension (or entity) of some semantic model, or
    metric_time, with a time grain when it is a time."""

    name: str
    """As asked (`customer__segment`); the output column's name."""
    entity: str | None
    dimension: str | None
    grain: str | None


@dataclass
class _Group:
    """One semantic model's subquery: the measures it aggregates (of one time dimension, its
    metric_time), and the joins its dimensions need."""

    model: SemanticModel
    time: str | None
    """The time dimension metric_time means here."""
    cumulative: str | None = None
    """The whole subquery, for a cumulative metric's measure."""
    measures: dict[str, str] = field(default_factory=dict)
    """Column alias -> aggregate SQL."""
    joins: dict[str, tuple[SemanticModel, str]] = field(default_factory=dict)
    """Alias -> (the joined model, its ON condition)."""


def compile_metrics(layer: SemanticLayer, request: MetricRequest) -> CompiledQuery:
    """Compile `request` over the semantic layer `layer` into one DuckDB statement.

    Raises:
        UsageError: an unknown metric or dimension (with the closest name), an ambiguous
            dimension, a join that would repeat rows, or a cumulative metric without time.
    """
    return _Compiler(layer, request).compile()


class _Compiler:
    def __init__(self, layer: SemanticLayer, request: MetricRequest) -> None:
        self.layer = layer
        self.request = request
        self.items = [self._item(name) for name in request.group_by]
        self.groups: dict[tuple[str, str], _Group] = {}
        self.ctes: list[str] = []
        self.assets: set[str] = set()
        self.counter = 0

    # -- the query -------------------------------------------------------------------------

    def compile(self) -> CompiledQuery:
        request = self.request
        if not request.metrics:
            raise UsageError("a metric query names at least one metric", hint="--metrics revenue")
        if len(set(request.group_by)) != len(request.group_by):
            raise UsageError("a group-by item is named twice", hint="name each once")
        selects = [
            f"{self._metric_sql(self._metric(name), None)} AS {_quote(name)}"
            for name in request.metrics
        ]
        dims = [_quote(item.name) for item in self.items]
        for (_, _), group in self.groups.items():
            self.ctes.append(self._group_sql(group))
        stacked = " UNION ALL BY NAME ".join(
            f"SELECT * FROM {_quote(f'g{i}')}" for i in range(len(self.ctes))
        )
        sql = (
            "WITH "
            + ", ".join(f"{_quote(f'g{i}')} AS ({cte})" for i, cte in enumerate(self.ctes))
            + f" SELECT {', '.join([*dims, *selects])} FROM ({stacked}) AS stacked"
        )
        if dims:
            sql += f" GROUP BY {', '.join(dims)}"
        sql += self._order_and_limit(dims)
        return CompiledQuery(sql, (*request.group_by, *request.metrics), tuple(sorted(self.assets)))

    def _order_and_limit(self, dims: list[str]) -> str:
        request = self.request
        known = [*request.group_by, *request.metrics]
        order = []
        for entry in request.order_by:
            descending = entry.startswith("-")
            name = entry.lstrip("-+").strip()
            if name not in known:
                near = closest(name, known)
                raise UsageError(
                    f"cannot order by {name}: order by a metric or a group-by item of the query",
                    hint=f"did you mean {near}?" if near else f"one of {', '.join(known)}",
                )
            order.append(f"{_quote(name)} {'DESC' if descending else 'ASC'} NULLS LAST")
        if not order and dims:
            order = [f"{d} ASC NULLS LAST" for d in dims]
        text = f" ORDER BY {', '.join(order)}" if order else ""
        if request.limit is not None:
            if request.limit < 0:
                raise UsageError("a limit is 0 or more", hint="--limit 100")
            text += f" LIMIT {int(request.limit)}"
        return text

    # -- metrics ---------------------------------------------------------------------------

    def _metric(self, name: str) -> MetricConfig:
        found = self.layer.metrics.get(name)
        if found is None:
            near = closest(name, list(self.layer.metrics))
            raise UsageError(
                f"there is no metric {name}",
                hint=f"did you mean {near}?" if near else "headwater metrics list shows them",
            )
        return found.config

    def _metric_sql(self, metric: MetricConfig, outer_filter: str | None) -> str:
        """The SQL of `metric` over the stacked columns (an aggregate of them)."""
        filters = [f for f in (outer_filter, metric.filter) if f]
        if metric.type == "simple":
            return f"MAX({self._measure_column(metric, filters)})"
        if metric.type == "cumulative":
            return f"MAX({self._cumulative_column(metric, filters)})"
        inputs = [
            (i.alias or i.name, self._input_sql(i, _joined(filters))) for i in metric_inputs(metric)
        ]
        if metric.type == "ratio":
            (_, numerator), (_, denominator) = inputs
            return f"(CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0))"
        return self._derived_sql(metric, dict(inputs))

    def _input_sql(self, value: MetricInput, outer: str | None) -> str:
        filters = [f for f in (outer, value.filter) if f]
        if value.offset_window is not None:
            raise UsageError(
                f"offset_window of metric input {value.name} is not supported yet",
                hint="remove offset_window; compare periods with a cumulative metric instead",
            )
        return self._metric_sql(self._metric(value.name), _joined(filters))

    def _derived_sql(self, metric: MetricConfig, parts: dict[str, str]) -> str:
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(metric.type_params.expr or "", read="duckdb")

        def replace(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and node.name in parts:
                return exp.Paren(this=sqlglot.parse_one(parts[node.name], read="duckdb"))
            return node

        return f"({tree.transform(replace).sql(dialect='duckdb')})"

    def _measure_column(self, metric: MetricConfig, filters: list[str]) -> str:
        """The stacked column holding `metric`'s measure aggregated under `filters` (and the
        measure's own filter)."""
        measure, model = self._measure(metric)
        filters = [*filters, *_measure_filter(metric)]
        group = self._group(model, self._time_name(model, measure))
        condition = self._condition(group, filters)
        value = self._qualified(model, measure.expr if measure.expr is not None else measure.name)
        alias = self._alias(group, _aggregate(measure, value, condition))
        return _quote(alias)

    def _measure(self, metric: MetricConfig) -> tuple[MeasureConfig, SemanticModel]:
        name = measure_name(metric) or ""
        model = self.layer.measure_owner(name)
        if model is None:  # checked at load; a layer built by hand may still miss it
            raise UsageError(f"metric {metric.name} aggregates an unknown measure {name}")
        (measure,) = [m for m in model.config.measures if m.name == name]
        return measure, model

    # -- groups ----------------------------------------------------------------------------

    def _group(self, model: SemanticModel, time: str | None) -> _Group:
        key = (model.name, time or "")
        if key not in self.groups:
            self.groups[key] = _Group(model, time)
            self.assets.add(model.asset)
        return self.groups[key]

    def _alias(self, group: _Group, aggregate: str) -> str:
        for alias, existing in group.measures.items():
            if existing == aggregate:
                return alias
        self.counter += 1
        alias = f"m{self.counter}"
        group.measures[alias] = aggregate
        return alias

    def _group_sql(self, group: _Group) -> str:
        """The subquery of one semantic model: its dimensions and measures, grouped."""
        if group.cumulative is not None:
            return group.cumulative
        model = group.model
        dims = [f"{self._dimension_sql(group, item)} AS {_quote(item.name)}" for item in self.items]
        measures = [f"{sql} AS {_quote(alias)}" for alias, sql in group.measures.items()]
        sql = f"SELECT {', '.join([*dims, *measures])} FROM {_table(model.asset)} AS {_quote('m')}"
        where = [self._filter_sql(group, text) for text in self.request.where]
        sql += "".join(
            f" LEFT JOIN {_table(joined.asset)} AS {_quote(alias)} ON {on}"
            for alias, (joined, on) in group.joins.items()
        )
        if where:
            sql += " WHERE " + " AND ".join(f"({w})" for w in where)
        if dims:
            sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(dims)))
        return sql

    def _condition(self, group: _Group, filters: list[str]) -> str | None:
        if not filters:
            return None
        return " AND ".join(f"({self._filter_sql(group, f)})" for f in filters)

    # -- cumulative metrics ----------------------------------------------------------------

    def _cumulative_column(self, metric: MetricConfig, filters: list[str]) -> str:
        """A cumulative metric's measure over a spine of time buckets, as its own subquery."""
        measure, model = self._measure(metric)
        params = metric.type_params
        times = [item for item in self.items if item.entity is None]
        if not times:
            if params.window or params.grain_to_date:
                raise UsageError(
                    f"cumulative metric {metric.name} runs over time: group it by metric_time",
                    hint=f"--group-by metric_time__day (or another grain) with {metric.name}",
                )
            return self._measure_column(metric, filters)
        if len(times) > 1:
            raise UsageError(
                f"cumulative metric {metric.name} runs over one time: "
                f"{' and '.join(t.name for t in times)} were asked",
                hint="group by one metric_time grain",
            )
        time_item = times[0]
        grain = time_item.grain or "day"
        self.counter += 1
        alias = f"m{self.counter}"
        group = _Group(model, self._time_name(model, measure))
        self.groups[(model.name, f"cumulative:{alias}")] = group
        self.assets.add(model.asset)
        time_sql = f"CAST({self._time_column(model, group.time)} AS TIMESTAMP)"
        value = self._qualified(model, measure.expr if measure.expr is not None else measure.name)
        condition = self._condition(group, [*filters, *_measure_filter(metric)])
        others = [item for item in self.items if item is not time_item]
        other_dims = [f"{self._dimension_sql(group, i)} AS {_quote(i.name)}" for i in others]
        # a filter on metric_time picks the buckets shown, not the rows they add up: a
        # running total from March on still counts what came before March
        on_time = [text for text in self.request.where if _names_only_time(text)]
        where = [
            self._filter_sql(group, text) for text in self.request.where if text not in on_time
        ]
        # every join the dimensions and filters need is known only now
        base = (
            f"SELECT {time_sql} AS hw_time, "
            + "".join(f"{d}, " for d in other_dims)
            + f"{value} AS hw_value"
            + (f", ({condition}) AS hw_kept" if condition else ", TRUE AS hw_kept")
            + f" FROM {_table(model.asset)} AS {_quote('m')}"
            + "".join(
                f" LEFT JOIN {_table(joined.asset)} AS {_quote(a)} ON {on}"
                for a, (joined, on) in group.joins.items()
            )
        )
        if where:
            base += " WHERE " + " AND ".join(f"({w})" for w in where)
        step = f"INTERVAL 1 {grain.upper()}"
        spine = (
            f"SELECT UNNEST(GENERATE_SERIES(DATE_TRUNC('{_TRUNC[grain]}', MIN(hw_time)), "
            f"DATE_TRUNC('{_TRUNC[grain]}', MAX(hw_time)), {step})) AS hw_bucket FROM base"
        )
        bucket_end = f"s.hw_bucket + {step}"
        window = "TRUE"
        if params.window:
            count, unit = window_parts(params.window)
            window = f"b.hw_time >= {bucket_end} - INTERVAL {count} {unit.upper()}"
        elif params.grain_to_date:
            # the period the bucket's last moment is in: month to date at a week's end
            last = f"{bucket_end} - INTERVAL 1 MICROSECOND"
            window = f"b.hw_time >= DATE_TRUNC('{_TRUNC[params.grain_to_date]}', {last})"
        aggregate = _aggregate(measure, "b.hw_value", "b.hw_kept")
        dims = [f"CAST(s.hw_bucket AS DATE) AS {_quote(time_item.name)}"]
        dims += [f"b.{_quote(i.name)} AS {_quote(i.name)}" for i in others]
        # without other dimensions every bucket has its row, an empty window's too
        join = "LEFT JOIN" if not others else "JOIN"
        sql = (
            f"WITH base AS ({base}), spine AS ({spine}) "
            f"SELECT {', '.join(dims)}, {aggregate} AS {_quote(alias)} "
            f"FROM spine AS s {join} base AS b ON b.hw_time < {bucket_end} AND {window} "
            f"GROUP BY {', '.join(str(i + 1) for i in range(len(dims)))}"
        )
        if on_time:
            shown = [self._bucket_filter(text, time_item) for text in on_time]
            sql = f"SELECT * FROM ({sql}) AS hw_cumulative WHERE " + " AND ".join(
                f"({f})" for f in shown
            )
        group.cumulative = sql
        return _quote(alias)

    def _bucket_filter(self, text: str, time_item: _Item) -> str:
        """A filter on metric_time over a cumulative metric's buckets (its output column)."""
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(plain_filter(text), read="duckdb")

        def replace(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and node.name.startswith(METRIC_TIME):
                grain = self._item(node.name).grain or "day"
                column = f"hw_cumulative.{_quote(time_item.name)}"
                truncated = f"CAST(DATE_TRUNC('{_TRUNC[grain]}', {column}) AS DATE)"
                return exp.Paren(this=sqlglot.parse_one(truncated, read="duckdb"))
            return node

        return str(tree.transform(replace).sql(dialect="duckdb"))

    # -- dimensions --------------------------------------------------------------------------

    def _item(self, name: str) -> _Item:
        parts = name.split("__")
        if parts[0] == METRIC_TIME:
            grain = parts[1] if len(parts) > 1 else None
            if len(parts) > 2 or (grain is not None and grain not in GRANULARITIES):
                raise UsageError(
                    f"{name}: metric_time is grouped by one of {', '.join(GRANULARITIES)}",
                    hint="e.g. metric_time__month",
                )
            return _Item(name, None, None, grain or "day")
        if len(parts) == 1:
            self._entity_models(parts[0], name)
            return _Item(name, parts[0], None, None)
        grain = None
        if len(parts) == 3 and parts[2] in GRANULARITIES:
            grain = parts[2]
            parts = parts[:2]
        if len(parts) != 2:
            raise UsageError(
                f"{name} is not a dimension's name: write entity__dimension "
                "(customer__segment), entity__time__grain or metric_time__grain",
                hint="headwater metrics list shows the dimensions",
            )
        entity, dimension = parts
        owner = self._dimension_owner(entity, dimension, name)
        config = next(d for d in owner.config.dimensions if d.name == dimension)
        if config.type == "time":
            grain = grain or "day"
        elif grain is not None:
            raise UsageError(f"{name}: {dimension} is not a time, it has no grain")
        return _Item(name, entity, dimension, grain)

    def _entity_models(self, entity: str, asked: str) -> list[SemanticModel]:
        found = [
            m
            for m in self.layer.models.values()
            if any(e.name == entity for e in m.config.entities)
        ]
        if not found:
            names = self._group_by_names()
            near = closest(asked, names)
            raise UsageError(
                f"there is no dimension or entity {asked}",
                hint=f"did you mean {near}?" if near else "headwater metrics list shows them",
            )
        return found

    def _dimension_owner(
        self, entity: str, dimension: str, asked: str, local: SemanticModel | None = None
    ) -> SemanticModel:
        """The semantic model giving `dimension` reached by `entity`: `local` (the measure's
        own model) when it has both and the entity is its key (or it has no key but foreign
        entities), else one where the entity is primary, unique or natural (one row per
        value). Without `local` (checking a name), a model holding the entity as foreign also
        answers: whether a measure may use it is decided per measure."""
        self._entity_models(entity, asked)
        if (
            local is not None
            and any(d.name == dimension for d in local.config.dimensions)
            and any(e.name == entity for e in local.config.entities)
            and (
                # a model without a primary key names its dimensions by any of its entities
                any(e.name == entity and e.type != "foreign" for e in local.config.entities)
                or all(e.type == "foreign" for e in local.config.entities)
            )
        ):
            return local
        owners = [
            m
            for m in self.layer.models.values()
            if any(d.name == dimension for d in m.config.dimensions)
            and any(e.name == entity and e.type != "foreign" for e in m.config.entities)
        ]
        if len(owners) > 1:
            raise UsageError(
                f"{asked} is ambiguous: semantic models {', '.join(m.name for m in owners)} "
                f"each give {dimension} for {entity}",
                hint="rename the dimension in all but one of them",
            )
        if not owners:
            fanning = [
                m.name
                for m in self.layer.models.values()
                if any(d.name == dimension for d in m.config.dimensions)
                and any(e.name == entity for e in m.config.entities)
            ]
            if fanning and local is None:
                return next(m for m in self.layer.models.values() if m.name == fanning[0])
            if fanning:
                raise UsageError(
                    f"{asked}: {dimension} is in {', '.join(fanning)}, where {entity} is a "
                    "foreign entity (many rows per value); joining to it would repeat rows",
                    hint=f"reach {dimension} through an entity that is primary or unique there",
                )
            near = closest(asked, self._group_by_names())
            raise UsageError(
                f"there is no dimension {asked}",
                hint=f"did you mean {near}?" if near else "headwater metrics list shows them",
            )
        return owners[0]

    def _group_by_names(self) -> list[str]:
        names = [f"{METRIC_TIME}__{g}" for g in GRANULARITIES]
        for model in self.layer.models.values():
            for entity in model.config.entities:
                names.append(entity.name)
                if entity.type == "foreign":
                    continue
                for dim in model.config.dimensions:
                    names.append(f"{entity.name}__{dim.name}")
        return names

    def _dimension_sql(self, group: _Group, item: _Item) -> str:
        """The SQL of `item` within `group`'s subquery (adding the join it needs)."""
        model = group.model
        if item.entity is None:  # metric_time: the time of this group's measures
            time = self._time_column(model, group.time)
            return f"CAST(DATE_TRUNC('{_TRUNC[item.grain or 'day']}', {time}) AS DATE)"
        here = next((e for e in model.config.entities if e.name == item.entity), None)
        if here is None:
            raise UsageError(
                f"{item.name}: semantic model {model.name} has no entity {item.entity}, so its "
                "measures cannot be grouped by it",
                hint=f"add entity {item.entity} to {model.name}, or group by another dimension",
            )
        if item.dimension is None:
            return self._qualified(model, here.expr or here.name)
        owner = self._dimension_owner(item.entity, item.dimension, item.name, local=model)
        config = next(d for d in owner.config.dimensions if d.name == item.dimension)
        alias = "m"
        if owner is not model:
            alias = self._join(group, owner, item.entity)
        value = self._qualified(owner, config.expr or config.name, alias)
        if config.type == "time":
            return f"CAST(DATE_TRUNC('{_TRUNC[item.grain or 'day']}', {value}) AS DATE)"
        return value

    def _join(self, group: _Group, owner: SemanticModel, entity: str) -> str:
        alias = f"j_{owner.name}"
        if alias not in group.joins:
            here = next(e for e in group.model.config.entities if e.name == entity)
            there = next(e for e in owner.config.entities if e.name == entity)
            left = self._qualified(group.model, here.expr or here.name)
            right = self._qualified(owner, there.expr or there.name, alias)
            group.joins[alias] = (owner, f"{left} = {right}")
            self.assets.add(owner.asset)
        return alias

    @staticmethod
    def _time_name(model: SemanticModel, measure: MeasureConfig) -> str | None:
        """The time dimension metric_time means for `measure`: its own, the model's default,
        or the model's only time dimension (None when it has none of them)."""
        name = measure.agg_time_dimension or model.config.defaults.agg_time_dimension
        if name is None:
            times = [d.name for d in model.config.dimensions if d.type == "time"]
            name = times[0] if len(times) == 1 else None
        return name

    def _time_column(self, model: SemanticModel, name: str | None) -> str:
        if name is None:
            raise UsageError(
                f"semantic model {model.name} has no agg_time_dimension, so metric_time means "
                "nothing for its measures",
                hint=f"set defaults: {{agg_time_dimension: ...}} in {model.name}",
            )
        config = next(d for d in model.config.dimensions if d.name == name)
        return self._qualified(model, config.expr or config.name)

    # -- filters -----------------------------------------------------------------------------

    def _filter_sql(self, group: _Group, text: str) -> str:
        """A filter over dimensions, as SQL within `group`'s subquery."""
        import sqlglot
        from sqlglot import exp
        from sqlglot.errors import SqlglotError

        plain = plain_filter(text)
        hint = "write a condition on group-by items, e.g. customer__segment = 'EU'"
        try:
            trees = [t for t in sqlglot.parse(plain, read="duckdb") if t is not None]
        except SqlglotError as error:
            raise UsageError(
                f"the filter {text!r} is not SQL: {str(error).splitlines()[0]}", hint=hint
            ) from None
        if len(trees) != 1 or isinstance(trees[0], exp.Block | exp.Query):
            raise UsageError(f"the filter {text!r} is not one condition", hint=hint)
        tree = trees[0]
        for node in tree.walk():
            if isinstance(node, exp.Query | exp.Table | exp.Subquery):
                raise UsageError(
                    f"the filter {text!r} reads a table: a filter names group-by items only",
                    hint=hint,
                )
            if isinstance(node, exp.Column) and node.table:
                raise UsageError(
                    f"the filter {text!r} names {node.sql(dialect='duckdb')}: a filter names "
                    "group-by items, not a table's columns",
                    hint=hint,
                )
        items = {item.name: item for item in self.items}

        def replace(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column):
                name = node.name
                item = items.get(name) or self._item(name)
                return exp.Paren(
                    this=sqlglot.parse_one(self._dimension_sql(group, item), read="duckdb")
                )
            return node

        return str(tree.transform(replace).sql(dialect="duckdb"))

    def _qualified(self, model: SemanticModel, text: str, alias: str = "m") -> str:
        """`text` (an expression over `model`'s columns) with its columns read from `alias`."""
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(text, read="duckdb")
        for column in list(tree.find_all(exp.Column)):
            if not column.table:
                column.set("table", exp.to_identifier(alias, quoted=True))
        return str(tree.sql(dialect="duckdb"))


def _names_only_time(text: str) -> bool:
    """Whether the filter `text` names metric_time and nothing else."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(plain_filter(text), read="duckdb")
    except SqlglotError:
        return False
    names = [c.name for c in tree.find_all(exp.Column)]
    return bool(names) and all(n.split("__")[0] == METRIC_TIME for n in names)


def _measure_filter(metric: MetricConfig) -> list[str]:
    """The filter written on a simple or cumulative metric's measure input."""
    measure = metric.type_params.measure
    return [measure.filter] if isinstance(measure, MetricInput) and measure.filter else []


def _aggregate(measure: MeasureConfig, value: str, condition: str | None) -> str:
    """The aggregate of `measure` over `value`, only of rows where `condition` holds."""
    kept = f"CASE WHEN {condition} THEN {value} END" if condition else value
    if measure.agg == "sum_boolean":
        kept = f"CAST({kept} AS INTEGER)"
    return {
        "sum": f"SUM({kept})",
        "sum_boolean": f"SUM({kept})",
        "count": f"COUNT({kept})",
        "count_distinct": f"COUNT(DISTINCT {kept})",
        "average": f"AVG({kept})",
        "min": f"MIN({kept})",
        "max": f"MAX({kept})",
    }[measure.agg]


def _joined(filters: Iterable[str | None]) -> str | None:
    kept = [f for f in filters if f]
    return " AND ".join(f"({f})" for f in kept) or None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(key: str) -> str:
    namespace, name = key.split(".", 1)
    return f"{_quote(namespace)}.{_quote(name)}"
