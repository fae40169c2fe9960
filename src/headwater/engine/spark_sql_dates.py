"""The rewrites of `spark_sql` for dates and times: what DuckDB's date functions mean, in Spark.

DuckDB's `date_diff` counts the boundaries crossed where Spark's `timestampdiff` counts whole
units; DuckDB numbers weekdays from 0 (Sunday) and names days and months in full; `strftime`
formats with `%` specifiers where Spark's `date_format` takes Java's pattern letters; `epoch_ms`
converts both ways; a DATE plus an INTERVAL is a TIMESTAMP in DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

# imported only by spark_sql.transpile, once sqlglot is needed anyway: not at start-up
from sqlglot import exp  # noqa: TID253

from headwater.engine.spark_sql import unsupported
from headwater.engine.spark_sql_nodes import (
    argument,
    call,
    cast,
    literal_int,
    literal_string,
    number,
    op,
    string,
)

if TYPE_CHECKING:
    from headwater.engine.spark_sql_rewrites import Rewriting

# Dates: DuckDB's date_diff counts boundaries crossed (weeks are days / 7), date_sub counts
# whole units; Spark's timestampdiff counts whole units.

_UNITS = {
    "YEAR": ("year", "years", "y", "yr", "yrs", "yy", "yyyy"),
    "QUARTER": ("quarter", "quarters"),
    "MONTH": ("month", "months", "mon", "mons"),
    "WEEK": ("week", "weeks", "w", "weekofyear"),
    "DAY": ("day", "days", "d", "dayofmonth"),
    "HOUR": ("hour", "hours", "h", "hr", "hrs"),
    "MINUTE": ("minute", "minutes", "m", "min", "mins"),
    "SECOND": ("second", "seconds", "s", "sec", "secs"),
    "MILLISECOND": ("millisecond", "milliseconds", "ms", "msec", "msecs"),
    "MICROSECOND": ("microsecond", "microseconds", "us", "usec", "usecs"),
}
"""Spark's date units and the names DuckDB reads for each."""

_DIFF_UNITS = {name: unit for unit, names in _UNITS.items() for name in names}


def _diff_unit(unit: Any, function: str) -> str:
    """The Spark unit of a DuckDB date part given as a literal or a keyword."""
    name = (literal_string(unit) or (unit.name if unit is not None else "day")).lower()
    spark = _DIFF_UNITS.get(name)
    if spark is None:
        raise unsupported(function, f"date part '{name}' is not translated")
    return spark


def _timestampdiff(unit: str, start: Any, end: Any) -> Any:
    return exp.TimestampDiff(this=end, expression=start, unit=exp.var(unit))


def _boundaries(unit: str, start: Any, end: Any, r: Rewriting) -> Any:
    """DuckDB's `date_diff(unit, start, end)`: boundaries of `unit` crossed."""
    if unit == "WEEK":
        days = call("datediff", cast(end, "DATE"), cast(start, "DATE"))
        return op(exp.IntDiv, days, number(7))
    if unit == "DAY" and r.kind(start) == "date" and r.kind(end) == "date":
        return call("datediff", end, start)
    if unit == "MICROSECOND":
        return _timestampdiff(unit, start, end)
    return _timestampdiff(
        unit,
        call("date_trunc", string(unit), start),
        call("date_trunc", string(unit), end),
    )


def _rewrite_date_diff(node: Any, r: Rewriting) -> Any:
    unit = _diff_unit(node.args.get("unit"), "date_diff")
    return _boundaries(unit, node.expression, node.this, r)


def _date_sub(node: Any, r: Rewriting) -> Any:
    """DuckDB's `date_sub(part, start, end)` (whole parts), not Spark's date_sub."""
    if len(node.expressions) != 3:
        return node
    unit = _diff_unit(node.expressions[0], "date_sub")
    return _timestampdiff(unit, node.expressions[1], node.expressions[2])


def _rewrite_trunc(node: Any, r: Rewriting) -> Any:
    """DuckDB's date_trunc returns a TIMESTAMP (a DATE in gives midnight) where Spark's
    returns a TIMESTAMP with the session's time zone or a DATE."""
    unit = node.args.get("unit")
    name = (unit.name if unit is not None else "day").lower()
    spark = _DIFF_UNITS.get(name)
    if spark is None:
        raise unsupported("date_trunc", f"date part '{name}' is not translated")
    truncated = call("date_trunc", string(spark), node.this)
    if r.kind(node.this) == "timestamptz":
        return truncated
    return cast(truncated, "TIMESTAMP_NTZ")


# Date parts: DuckDB numbers weekdays from 0 (Sunday), Spark from 1; DuckDB names days and
# months in full, Spark's dayname and monthname abbreviate them.

_PARTS = {
    **{name: unit for unit, names in _UNITS.items() for name in names},
    "isoyear": "YEAROFWEEK",
    "isodow": "DAYOFWEEK_ISO",
    "doy": "DOY",
    "dayofyear": "DOY",
}
"""DuckDB's date parts -> the field of Spark's EXTRACT (whole numbers, as DuckDB's)."""


def _part(part: str, value: Any, function: str) -> Any:
    """DuckDB's `date_part(part, value)` in Spark."""
    name = part.lower()
    if name in ("dow", "dayofweek", "weekday"):
        return op(exp.Sub, call("dayofweek", value), number(1))
    spark = _PARTS.get(name)
    if spark == "SECOND":
        return call("second", value)  # EXTRACT(SECOND ...) has the fraction too
    if spark in ("MILLISECOND", "MICROSECOND"):
        # DuckDB counts the seconds too (6.123456 s is 6123 ms), as whole numbers
        scale = number(1000 if spark == "MILLISECOND" else 1000000)
        return cast(op(exp.Mul, _extract("SECOND", value), scale), "BIGINT")
    if name == "epoch":
        micros = call("unix_micros", cast(value, "TIMESTAMP"))
        return op(exp.Div, micros, exp.Literal.number("1e6"))
    if name == "yearweek":
        year = op(exp.Mul, _extract("YEAROFWEEK", value), number(100))
        return op(exp.Add, year, _extract("WEEK", value.copy()))
    if spark is None:
        raise unsupported(function, f"date part '{name}' is not translated")
    return _extract(spark, value)


def _extract(part: str, value: Any) -> Any:
    return exp.Extract(this=exp.var(part), expression=value)


def _rewrite_extract(node: Any, r: Rewriting) -> Any:
    return _part(node.this.name, node.expression, "extract")


def _date_part(node: Any, r: Rewriting) -> Any:
    if len(node.expressions) != 2 or literal_string(node.expressions[0]) is None:
        raise unsupported(node.name.lower(), "its date part must be a string literal")
    return _part(str(literal_string(node.expressions[0])), node.expressions[1], node.name.lower())


def _named(part: str) -> Callable[[Any, Rewriting], Any]:
    """A rewrite of a one-argument date function as `_part(part, ...)`."""

    def rewrite(node: Any, r: Rewriting) -> Any:
        return _part(part, argument(node), part)

    return rewrite


def _rewrite_dayname(node: Any, r: Rewriting) -> Any:
    return call("date_format", node.this, string("EEEE"))


def _rewrite_monthname(node: Any, r: Rewriting) -> Any:
    return call("date_format", node.this, string("MMMM"))


# Epochs: DuckDB's epoch_ms converts both ways (a number to a TIMESTAMP, a timestamp to
# milliseconds); sqlglot always reads it as the first.


def _rewrite_unix_to_time(node: Any, r: Rewriting) -> Any:
    scale = literal_int(node.args.get("scale"))
    value = node.this
    kind = r.kind(value)
    if kind in ("timestamp", "timestamptz", "date"):
        if scale == 3:
            return call("unix_millis", cast(value, "TIMESTAMP"))
        if scale == 6:
            return call("unix_micros", cast(value, "TIMESTAMP"))
        return node
    if scale == 3:
        return cast(call("timestamp_millis", value), "TIMESTAMP_NTZ")
    if scale == 6:
        return cast(call("timestamp_micros", value), "TIMESTAMP_NTZ")
    if scale in (None, 0):
        # DuckDB's to_timestamp(seconds) is a TIMESTAMP WITH TIME ZONE
        return call("timestamp_seconds", value)
    return node


def _epoch(node: Any, r: Rewriting) -> Any:
    """DuckDB's epoch(x): seconds since 1970 as a DOUBLE (with the fraction)."""
    return _part("epoch", argument(node), "epoch")


def _epoch_unit(scale: int) -> Callable[[Any, Rewriting], Any]:
    """DuckDB's epoch_us (`scale` 6) or epoch_ns (9) of a timestamp."""

    def rewrite(node: Any, r: Rewriting) -> Any:
        value = argument(node)
        micros = call("unix_micros", cast(value, "TIMESTAMP"))
        if scale == 6:
            return micros
        if scale == 9:
            return op(exp.Mul, micros, number(1000))
        return call("unix_millis", cast(value, "TIMESTAMP"))

    return rewrite


# strftime and strptime: DuckDB's % specifiers as Java's DateTimeFormatter letters (literal
# text quoted); the week and weekday numbers Java cannot format are computed.

_FORMAT = {
    "a": "EEE",
    "A": "EEEE",
    "b": "MMM",
    "h": "MMM",
    "B": "MMMM",
    "d": "dd",
    "-d": "d",
    "H": "HH",
    "-H": "H",
    "I": "hh",
    "-I": "h",
    "j": "DDD",
    "-j": "D",
    "m": "MM",
    "-m": "M",
    "M": "mm",
    "-M": "m",
    "p": "a",
    "S": "ss",
    "-S": "s",
    "f": "SSSSSS",
    "g": "SSS",
    "n": "SSSSSSSSS",
    "y": "yy",
    "-y": "y",
    "Y": "yyyy",
}
_PARSE = {**_FORMAT, "d": "d", "H": "H", "I": "h", "j": "D", "m": "M", "M": "m", "S": "s"}
_SHORTHANDS = {"c": "%Y-%m-%d %H:%M:%S", "x": "%Y-%m-%d", "X": "%H:%M:%S", "D": "%m/%d/%y"}
_COMPUTED = frozenset("VGuwUW")


def _format_pieces(fmt: str, function: str) -> list[tuple[str, str]]:
    """A DuckDB format string as pieces: ("text", ...), ("java", letters), ("part", spec)."""
    pieces: list[tuple[str, str]] = []
    position = 0
    while position < len(fmt):
        char = fmt[position]
        if char != "%":
            pieces.append(("text", char))
            position += 1
            continue
        spec = fmt[position + 1 : position + 2]
        if spec == "-":
            spec = fmt[position + 1 : position + 3]
        position += 1 + len(spec)
        if spec == "%":
            pieces.append(("text", "%"))
        elif spec in _SHORTHANDS:
            pieces.extend(_format_pieces(_SHORTHANDS[spec], function))
        elif spec in _FORMAT:
            pieces.append(("java", spec))
        elif spec in _COMPUTED:
            pieces.append(("part", spec))
        else:
            raise unsupported(function, f"format specifier %{spec} is not translated")
    return pieces


def _java_pattern(pieces: list[tuple[str, str]], letters: Mapping[str, str]) -> str:
    """Java pattern of `pieces` (all text or java), literal text quoted."""
    out: list[str] = []
    text = ""
    for kind, value in pieces:
        if kind == "text":
            text += value
            continue
        out.append(_quoted(text))
        text = ""
        out.append(letters[value])
    out.append(_quoted(text))
    return "".join(out)


def _quoted(text: str) -> str:
    """Literal text in a Java date pattern."""
    if not text:
        return ""
    if re.search(r"[A-Za-z'\[\]#{}]", text):
        return "'" + text.replace("'", "''") + "'"
    return text


def _format_part(spec: str, value: Any) -> Any:
    """A week or weekday number of `spec` that Java cannot format, as a string."""

    def padded(part: Any) -> Any:
        return call("lpad", cast(part, "STRING"), number(2), string("0"))

    # each use gets a copy of `value`: a node has one parent
    dow = op(exp.Sub, call("dayofweek", value.copy()), number(1))  # 0 = Sunday
    if spec == "V":
        return padded(call("weekofyear", value.copy()))
    if spec == "G":
        return cast(_extract("YEAROFWEEK", value.copy()), "STRING")
    if spec == "u":
        return cast(_extract("DAYOFWEEK_ISO", value.copy()), "STRING")
    if spec == "w":
        return cast(dow, "STRING")
    monday = op(exp.Mod, op(exp.Add, dow, number(6)), number(7))
    first = dow if spec == "U" else monday
    week = op(
        exp.IntDiv,
        op(exp.Sub, op(exp.Add, call("dayofyear", value.copy()), number(6)), first),
        number(7),
    )
    return padded(week)


def _rewrite_time_to_str(node: Any, r: Rewriting) -> Any:
    value, fmt = node.this, node.args.get("format")
    if literal_string(value) is not None and literal_string(fmt) is None:
        value, fmt = fmt, value  # strftime(format, value)
    text = literal_string(fmt)
    if text is None:
        raise unsupported("strftime", "its format must be a string literal")
    pieces = _format_pieces(text, "strftime")
    if all(kind != "part" for kind, _ in pieces):
        return call("date_format", value, string(_java_pattern(pieces, _FORMAT)))
    parts: list[Any] = []
    run: list[tuple[str, str]] = []
    for piece in [*pieces, ("end", "")]:
        if piece[0] in ("text", "java"):
            run.append(piece)
            continue
        if any(kind == "java" for kind, _ in run):
            pattern = string(_java_pattern(run, _FORMAT))
            parts.append(call("date_format", value.copy(), pattern))
        elif run:
            parts.append(string("".join(v for _, v in run)))
        run = []
        if piece[0] == "part":
            parts.append(_format_part(piece[1], value))
    return exp.Concat(expressions=parts, safe=False)


def _rewrite_str_to_time(node: Any, r: Rewriting) -> Any:
    text = literal_string(node.args.get("format"))
    if text is None:
        raise unsupported("strptime", "its format must be a string literal")
    pieces = _format_pieces(text, "strptime")
    if any(kind == "part" for kind, _ in pieces):
        raise unsupported("strptime", f"format {text!r} has a part Spark cannot parse")
    name = "try_to_timestamp" if node.args.get("safe") else "to_timestamp_ntz"
    parsed = call(name, node.this, string(_java_pattern(pieces, _PARSE)))
    return cast(parsed, "TIMESTAMP_NTZ") if node.args.get("safe") else parsed


def _rewrite_sub(node: Any, r: Rewriting) -> Any:
    """DATE - DATE: a number of days in DuckDB, an interval in Spark."""
    if r.kind(node.this) == "date" and r.kind(node.expression) == "date":
        return call("datediff", node.this, node.expression)
    return _rewrite_add(node, r)


def _rewrite_add(node: Any, r: Rewriting) -> Any:
    """DATE +/- INTERVAL: a TIMESTAMP in DuckDB, a DATE in Spark for whole days."""
    if r.kind(node.this) == "date" and isinstance(node.expression, exp.Interval):
        node.set("this", cast(node.this, "TIMESTAMP_NTZ"))
    return node


def _rewrite_date_add(node: Any, r: Rewriting) -> Any:
    """DuckDB's date_add(x, INTERVAL ...) is x + INTERVAL (Spark's date_add adds days)."""
    if isinstance(node.expression, exp.Interval):
        return _rewrite_add(exp.Add(this=node.this, expression=node.expression), r)
    return node


DATE_REWRITES: dict[str, Callable[[Any, Rewriting], Any]] = {
    "DateDiff": _rewrite_date_diff,
    "TimestampTrunc": _rewrite_trunc,
    "DateTrunc": _rewrite_trunc,
    "Extract": _rewrite_extract,
    "Dayname": _rewrite_dayname,
    "Monthname": _rewrite_monthname,
    "DayOfWeek": _named("dow"),
    "DayOfWeekIso": _named("isodow"),
    "WeekOfYear": _named("week"),
    "Week": _named("week"),
    "YearOfWeek": _named("isoyear"),
    "UnixToTime": _rewrite_unix_to_time,
    "TimeToUnix": _epoch,
    "TimeToStr": _rewrite_time_to_str,
    "StrToTime": _rewrite_str_to_time,
    "Add": _rewrite_add,
    "Sub": _rewrite_sub,
    "DateAdd": _rewrite_date_add,
}
"""The date and time rewrites, by sqlglot syntax-tree class (see `spark_sql_rewrites`)."""

DATE_CALLS: dict[str, Callable[[Any, Rewriting], Any]] = {
    "date_sub": _date_sub,
    "datesub": _date_sub,
    "date_part": _date_part,
    "datepart": _date_part,
    "isoyear": _named("isoyear"),
    "yearweek": _named("yearweek"),
    "epoch_us": _epoch_unit(6),
    "epoch_ns": _epoch_unit(9),
}
"""The date and time rewrites of DuckDB functions sqlglot does not know, by name."""
