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
from pydantic import ValidationError

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

    def has(self, key_path: Sequence[str | int]) -> bool:
        """Return True when `key_path` itself (not only a prefix of it) is in the file."""
        self.line_of(())
        assert self._lines is not None
        return tuple(key_path) in self._lines

    def location(self, key_path: Sequence[str | int] = ()) -> Location:
        """Return a `Location` pointing at `key_path` in this file."""
        return Location(file=str(self.path), line=self.line_of(key_path))


# libyaml's C parser when present: project loading parses every sidecar on every command
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LOADER(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader, refusing a key written twice in one mapping: YAML would keep the last
    silently, and a second `checks:` in a sidecar would drop the first one's checks."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key '{key_node.value}' is written twice (first at line {seen[key]}); "
                    "YAML would keep only the last",
                    key_node.start_mark,
                )
            seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping


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
    text = read_utf8(path, str(shown))
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"invalid YAML: {exc.problem}",
            Location(file=str(shown), line=mark.line + 1 if mark else None),
            "write each key once: merge the two into one (one 'checks:' list, one 'columns:')"
            if "written twice" in str(exc.problem)
            else "fix the syntax at that line (indentation, a missing ':' or an unclosed quote)",
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


def read_utf8(path: Path, shown: str) -> str:
    """Return the text of the project file `path`, which must be UTF-8.

    Raises:
        ConfigError: the file holds bytes that are not UTF-8, naming `shown` (the path as the
            user knows it), the line and the byte offset of the first bad byte.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset "
            f"{exc.start} (line {line}) cannot be decoded",
            Location(file=shown, line=line),
            "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or fix the character "
            "at that line",
        ) from None


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most similar to `word`, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def validated(
    document: YamlDocument,
    model: type[Any],
    data: Any,
    docs: str = "docs/project.md",
    base_path: KeyPath = (),
) -> Any:
    """Validate `data`, read from `document`, as a `model`.

    Returns:
        The validated model.

    Raises:
        ConfigError: the data is invalid; names each key at fault and its line.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(document, exc, model, base_path, docs) from None


def validation_error(
    document: YamlDocument,
    exc: Any,
    model: type[Any],
    base_path: KeyPath = (),
    docs: str = "docs/project.md",
) -> ConfigError:
    """Turn a pydantic `ValidationError` on `document` into one readable `ConfigError`.

    Each problem names its key, its line, what was expected and, for an unknown key, the valid
    keys at that place with the closest one first. `base_path` is where the validated data sits
    in the file; `docs` is the page the hint points at.

    Returns:
        The error to raise.
    """
    problems: list[tuple[int, str]] = []
    for error in exc.errors():
        loc: KeyPath = (*base_path, *error["loc"])
        cause = error.get("ctx", {}).get("error")
        key_of_cause = getattr(cause, "key", None)
        if isinstance(key_of_cause, str):
            loc = (*loc, key_of_cause)
        line = document.line_of(loc)
        where = f"line {line}: " if line else ""
        key = ".".join(str(part) for part in loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            fields = sorted(_fields_at(model, error["loc"][:-1]))
            suggestion = closest(str(error["loc"][-1]), fields)
            valid = f"valid keys: {', '.join(fields)}" if fields else "no key is valid here"
            hint = f"did you mean '{suggestion}'? ({valid})" if suggestion else valid
            problems.append((line or 0, f"{where}unknown key '{key}'; {hint}"))
        elif error["type"] == "missing":
            problems.append((line or 0, f"{where}missing required key '{key}'"))
        else:
            got = error.get("input")
            shown = f" (got {got!r})" if not isinstance(got, Mapping | list) else ""
            problems.append((line or 0, f"{where}key '{key}': {error_message(error)}{shown}"))
    return ConfigError(
        # in file order, so the first problem listed is the one the location points at
        "invalid configuration:\n    " + "\n    ".join(text for _, text in sorted(problems)),
        Location(file=str(document.path), line=min((n for n, _ in problems if n), default=None)),
        f"correct the keys listed above; see {docs} for every key",
    )


def error_message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error, without pydantic's 'Value error, ' prefix."""
    cause = error.get("ctx", {}).get("error")
    if error["type"] == "value_error" and isinstance(cause, ValueError):
        return str(cause)
    return str(error["msg"])


def _fields_at(model: type[Any], loc: Sequence[str | int]) -> list[str]:
    """Return the keys (field names or aliases) valid at `loc` under `model`.

    `loc` is pydantic's error location: it walks through models' fields, list positions, dict
    keys (`jobs.nightly`) and the tag of a discriminated union (`checks.0.not_null`).
    """
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    found = _model_in(current)
    if found is None:
        return []
    return [field.alias or name for name, field in found.model_fields.items()]


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation found one `part` of an error location below `annotation` (None: lost)."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _step(args[0], part)
    if hasattr(annotation, "model_fields"):
        for name, field in annotation.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    if origin in (list, tuple, set, frozenset) or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable")
    ):
        return args[0] if args else None
    if origin is dict or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        return args[1] if len(args) == 2 else None
    if origin is typing.Union or origin is types.UnionType:
        members = [_unwrap(a) for a in args if a is not type(None)]
        # a discriminated union puts the member's tag in the location
        for member in members:
            if isinstance(part, str) and part in _tags(member):
                return member
        if len(members) == 1:
            return _step(members[0], part)
        for member in members:
            found = _step(member, part)
            if found is not None:
                return found
    return None


def _unwrap(annotation: Any) -> Any:
    import typing

    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _tags(member: Any) -> tuple[Any, ...]:
    """The values of a model's `type` literal: its tag in a discriminated union."""
    import typing

    fields = getattr(member, "model_fields", None)
    if not fields or "type" not in fields:
        return ()
    kind = fields["type"].annotation
    return typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else ()


def _model_in(annotation: Any) -> Any:
    """Find a pydantic model class inside a (possibly Optional/list/dict) annotation."""
    if hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
