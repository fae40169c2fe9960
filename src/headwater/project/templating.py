"""dbt-compatible Jinja templating for model SQL, used only when a file contains `{{` or `{%`.

A model may write `{{ ref('orders') }}`, `{{ source('shop', 'orders') }}`, `{{ this }}`,
`{% if is_incremental() %}`, `{{ var('name') }}`, `{{ config(...) }}` and, in a partitioned
model, `{{ partition_start }}`, `{{ partition_end }}` and `{{ partition_key }}`. References
render as plain table names; the SQL layer then resolves them like any other table name, so
templated and plain models follow one resolution rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.errors import ConfigError, Location

CONFIG_KEYS = {"materialized", "unique_key", "incremental_strategy", "partition_by", "tags"}


def is_templated(sql: str) -> bool:
    """Return True when `sql` uses Jinja syntax."""
    return "{{" in sql or "{%" in sql


@dataclass
class RenderResult:
    """Rendered SQL and the `config(...)` keys the template declared."""

    sql: str
    config: dict[str, Any] = field(default_factory=dict)


PARTITION_MARKERS = {
    "partition_key": "__hw_partition_key__",
    "partition_start": "__hw_partition_start__",
    "partition_end": "__hw_partition_end__",
}
"""Text that stands for a partition's values in compiled SQL until a build fills them in, so
one compilation serves every partition."""


def partition_placeholders(timestamps: bool) -> dict[str, str]:
    """What `{{ partition_key }}`, `{{ partition_start }}` and `{{ partition_end }}` render as:
    typed SQL literals around the markers (times with a zone for hourly partitions and for any
    partitions in a zone other than UTC, else dates)."""
    kind = "TIMESTAMPTZ" if timestamps else "DATE"
    return {
        "partition_key": f"'{PARTITION_MARKERS['partition_key']}'",
        "partition_start": f"{kind} '{PARTITION_MARKERS['partition_start']}'",
        "partition_end": f"{kind} '{PARTITION_MARKERS['partition_end']}'",
    }


def fill_partition(sql: str, values: dict[str, str]) -> str:
    """Put one partition's values into SQL compiled with the placeholders (`values` maps
    `partition_key` to a SQL literal and the bounds to their text)."""
    for name, marker in PARTITION_MARKERS.items():
        if name in values:
            sql = sql.replace(f"'{marker}'", values[name])
    return sql


def uses_partition(sql: str) -> bool:
    """Whether compiled SQL still holds a partition placeholder."""
    return any(marker in sql for marker in PARTITION_MARKERS.values())


def render(
    sql: str,
    *,
    file: str,
    this: str,
    is_incremental: bool,
    variables: dict[str, Any],
    timestamps: bool = False,
) -> RenderResult:
    """Render templated model SQL.

    Args:
        sql: the model's raw SQL.
        file: the model file, for error messages.
        this: the model's own qualified name, rendered for `{{ this }}`.
        is_incremental: value of `is_incremental()`.
        variables: project vars for `var()`.

    Returns:
        The rendered SQL and any `config(...)` keys.

    Raises:
        ConfigError: a template syntax error, an unknown var or an unsupported config key.
    """
    import jinja2

    declared: dict[str, Any] = {}

    def ref(*parts: str, **_: Any) -> str:
        if not parts or len(parts) > 2:
            raise ConfigError(
                "ref() takes a model name, e.g. ref('orders') or ref('staging', 'orders')",
                Location(file=file),
            )
        return ".".join(_quote(p) for p in parts)

    def source(namespace: str, name: str) -> str:
        return f"{_quote(namespace)}.{_quote(name)}"

    def var(name: str, default: Any = None) -> Any:
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise ConfigError(
            f"var('{name}') is not defined",
            Location(file=file),
            f"add '{name}' under 'vars:' in headwater.yml or pass a default: var('{name}', ...)",
        )

    def config(**kwargs: Any) -> str:
        unknown = set(kwargs) - CONFIG_KEYS
        if unknown:
            raise ConfigError(
                f"config() does not accept {', '.join(sorted(unknown))}",
                Location(file=file),
                _config_hint(sorted(unknown)[0]),
            )
        declared.update(kwargs)
        return ""

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        template = env.from_string(sql)
        rendered = template.render(
            ref=ref,
            source=source,
            this=this,
            is_incremental=lambda: is_incremental,
            var=var,
            config=config,
            **partition_placeholders(timestamps),
        )
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"template syntax error: {exc.message}",
            Location(file=file, line=exc.lineno),
            "check the {{ }} and {% %} tags on that line",
        ) from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"template error: {exc.message}",
            Location(file=file, line=_template_line(exc)),
            "available in templates: ref, source, this, is_incremental, var, config, "
            "partition_key, partition_start, partition_end; "
            "a project variable is read with var('name') after adding it under 'vars:' "
            "in headwater.yml",
        ) from None
    except ConfigError as exc:
        if exc.location.line is None:
            exc.location.line = _template_line(exc)
        raise
    except Exception as exc:
        raise ConfigError(
            f"template error: {type(exc).__name__}: {exc}",
            Location(file=file, line=_template_line(exc)),
            "check the expression on that line",
        ) from None
    return RenderResult(rendered, declared)


def _config_hint(key: str) -> str:
    from headwater.project.yamlfile import closest

    suggestion = closest(key, CONFIG_KEYS)
    accepted = ", ".join(sorted(CONFIG_KEYS))
    if suggestion:
        return f"did you mean '{suggestion}'? config() accepts {accepted}"
    return f"put it in the model's YAML sidecar; config() accepts {accepted}"


def _template_line(exc: BaseException) -> int | None:
    """The template line an error was raised at (Jinja puts template frames in tracebacks)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _quote(name: str) -> str:
    if name.replace("_", "").isalnum() and not name[:1].isdigit():
        return name
    return '"' + name.replace('"', '""') + '"'
