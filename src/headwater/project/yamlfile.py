"""Read YAML files while remembering the line of every key, so errors can point at them.

PyYAML's composer keeps a start mark on every node; we walk the node tree once and record the
line of each key path. Validation errors then report `file:line` for the exact key at fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from headwater.errors import ConfigError, Location

KeyPath = tuple[str | int, ...]


class YamlDocument:
    """A parsed YAML mapping; the line of every key path is worked out when an error needs it."""

    def __init__(self, path: Path, data: Any, text: str) -> None:
        self.path = path
        self.data = data
        self._text = text
        self._lines: dict[KeyPath, int] | None = None

    def line_of(self, key_path: Sequence[str | int]) -> int | None:
        """Return the line of the deepest existing prefix of `key_path` (1-based), if any."""
        if self._lines is None:
            self._lines = {}
            node = yaml.compose(self._text, Loader=_LOADER)
            if node is not None:
                _record_lines(node, (), self._lines)
        path = tuple(key_path)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), None)

    def location(self, key_path: Sequence[str | int] = ()) -> Location:
        """Return a `Location` pointing at `key_path` in this file."""
        return Location(file=str(self.path), line=self.line_of(key_path))


# libyaml's C parser when present: project loading parses every sidecar on every command
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _record_lines(node: yaml.Node, prefix: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*prefix, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*prefix, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _record_lines(item, (*prefix, index), lines)


def load_yaml(path: Path, display_path: str | None = None) -> YamlDocument:
    """Parse the YAML file at `path` into a `YamlDocument`.

    Raises:
        ConfigError: the file is not valid YAML or its top level is not a mapping.
    """
    shown = Path(display_path) if display_path else path
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"invalid YAML: {exc.problem}",
            Location(file=str(shown), line=mark.line + 1 if mark else None),
            "fix the syntax at that line (indentation, a missing ':' or an unclosed quote)",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of keys at the top level, found {type(data).__name__}",
            Location(file=str(shown), line=1),
            "write the file as 'key: value' lines",
        )
    return YamlDocument(shown, data, text)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most similar to `word`, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def validation_error(
    document: YamlDocument, exc: Any, model: type[Any], base_path: KeyPath = ()
) -> ConfigError:
    """Turn a pydantic `ValidationError` on `document` into one readable `ConfigError`.

    Each problem names its key, its line, what was expected and, for an unknown key, the closest
    valid one.
    """
    problems: list[str] = []
    first_line: int | None = None
    for error in exc.errors():
        loc: KeyPath = (*base_path, *error["loc"])
        cause = error.get("ctx", {}).get("error")
        key_of_cause = getattr(cause, "key", None)
        if isinstance(key_of_cause, str):
            loc = (*loc, key_of_cause)
        line = document.line_of(loc)
        first_line = first_line or line
        where = f"line {line}: " if line else ""
        key = ".".join(str(part) for part in loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            fields = _fields_at(model, error["loc"][:-1])
            suggestion = closest(str(error["loc"][-1]), fields)
            hint = (
                f"did you mean '{suggestion}'?"
                if suggestion
                else f"valid keys: {', '.join(sorted(fields))}"
            )
            problems.append(f"{where}unknown key '{key}'; {hint}")
        elif error["type"] == "missing":
            problems.append(f"{where}missing required key '{key}'")
        else:
            got = error.get("input")
            shown = f" (got {got!r})" if not isinstance(got, Mapping | list) else ""
            problems.append(f"{where}key '{key}': {error_message(error)}{shown}")
    return ConfigError(
        "invalid configuration:\n    " + "\n    ".join(problems),
        Location(file=str(document.path), line=first_line),
        "correct the keys listed above; see docs/project.md for every key",
    )


def error_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error, without pydantic's 'Value error, ' prefix."""
    cause = error.get("ctx", {}).get("error")
    if error["type"] == "value_error" and isinstance(cause, ValueError):
        return str(cause)
    return str(error["msg"])


def _fields_at(model: type[Any], loc: Sequence[str | int]) -> list[str]:
    """Return the field names (and aliases) of the pydantic model found at `loc` under `model`."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not hasattr(current, "model_fields"):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if not hasattr(current, "model_fields"):
        return []
    names: list[str] = []
    for name, field in current.model_fields.items():
        names.append(field.alias or name)
    return names


def _model_in(annotation: Any) -> Any:
    """Find a pydantic model class inside a (possibly Optional/list/dict) annotation."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
