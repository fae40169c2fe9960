"""Hold OpenLineage run events to the spec's own JSON Schemas, offline.

The schemas are the OpenLineage project's files, vendored unmodified in `tests/data/openlineage/`
(its README says where each came from). Every file is registered in a `referencing.Registry`
under its own `$id`; the registry has no retrieval hook, so a `$ref` to anything not vendored is
reported as a problem instead of being fetched.

One deliberate exception, `CORE_STAND_INS`: several vendored facets `$ref` the core schema as
`https://openlineage.io/spec/2-0-2/OpenLineage.json`, and no upstream file with that `$id` could be
read for vendoring. That URI is served by the vendored core file instead, and only while no
vendored file carries that `$id` itself: drop the genuine file in (e.g. `OpenLineage-2-0-2.json`)
and it takes over without a code change.

Beyond the schemas, a facet is checked for what its own file declares: the facet key must be the
one the file's top-level `properties` maps to the facet definition, and the definition must extend
the core facet type of the place it sits in (`run.facets` -> RunFacet, `job.facets` -> JobFacet,
dataset `facets` -> DatasetFacet, `inputFacets` -> InputDatasetFacet, `outputFacets` ->
OutputDatasetFacet).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "openlineage"
CORE_FILE = "OpenLineage.json"

# URI a vendored facet $refs -> vendored file that answers for it when no file has that $id.
CORE_STAND_INS: dict[str, str] = {
    "https://openlineage.io/spec/2-0-2/OpenLineage.json": CORE_FILE,
}

# Where a facet sits in a run event -> the core facet type its definition must extend.
_FACET_KINDS = ("RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet", "OutputDatasetFacet")

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")


def validate_event(event: dict[str, Any]) -> None:
    """Raise AssertionError listing every problem when `event` is not a valid OpenLineage RunEvent.

    Checks the event against OpenLineage.json, and every facet (run, job, input/output dataset
    facets, inputFacets/outputFacets) against the schema file its `_schemaURL` names (its $id,
    ignoring the '#/$defs/...' fragment), resolved from the vendored files only (a
    `referencing.Registry` keyed by each file's $id; never fetch over the network). A facet whose
    schema is not vendored is a failure ("unknown facet schema URL ...").
    """
    problems = list(_event_problems(event))
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise AssertionError(f"not a valid OpenLineage RunEvent ({count}):\n{listed}")


def schema_url(facet_file: str) -> str:
    """The `_schemaURL` a producer should put on a facet defined by the vendored file (e.g.
    'ColumnLineageDatasetFacet.json'): its $id plus '#/$defs/<FacetName>'."""
    facet = _facet_by_file(facet_file)
    return facet.schema_id + facet.definition_ref


def facet_key(facet_file: str) -> str:
    """The key a facet defined by the vendored file goes under (e.g. 'columnLineage')."""
    return _facet_by_file(facet_file).key


def producer_fields() -> dict[str, str]:
    """{'schemaURL': <the core schema's $id + '#/$defs/RunEvent'>} for building events."""
    return {"schemaURL": _core_id() + "#/$defs/RunEvent"}


# --- the vendored files ------------------------------------------------------------------------


class _Facet:
    """One vendored facet file: its $id, its facet key and the definition that key maps to."""

    def __init__(self, file: str, contents: dict[str, Any]) -> None:
        self.file = file
        self.schema_id: str = contents["$id"]
        keys = contents.get("properties", {})
        if len(keys) != 1:
            raise ValueError(f"{file}: expected one facet key in top-level properties: {keys}")
        ((self.key, target),) = keys.items()
        self.definition_ref: str = target["$ref"]  # '#/$defs/<FacetName>'
        name = self.definition_ref.rsplit("/", maxsplit=1)[-1]
        self.kind = _extended_kind(contents["$defs"][name])


def _extended_kind(definition: dict[str, Any]) -> str | None:
    """The core facet type ('RunFacet', ...) a facet definition's allOf $refs, if any."""
    for part in definition.get("allOf", []):
        fragment = urldefrag(part.get("$ref", "")).fragment
        kind = fragment.rsplit("/", maxsplit=1)[-1]
        if fragment.startswith("/$defs/") and kind in _FACET_KINDS:
            return kind
    return None


@cache
def _files() -> dict[str, dict[str, Any]]:
    """File name -> parsed contents, for every vendored schema file."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(SCHEMAS.glob("*.json"))
    }


def _core_id() -> str:
    return _files()[CORE_FILE]["$id"]


def _is_core(contents: dict[str, Any]) -> bool:
    return "RunEvent" in contents.get("$defs", {})


@cache
def _facets() -> dict[str, _Facet]:
    """Facet schema $id -> facet, for every vendored facet file (not the core files)."""
    facets = [_Facet(name, c) for name, c in _files().items() if not _is_core(c)]
    return {facet.schema_id: facet for facet in facets}


def _facet_by_file(facet_file: str) -> _Facet:
    for facet in _facets().values():
        if facet.file == facet_file:
            return facet
    raise KeyError(f"{facet_file!r} is not a vendored facet file: {sorted(_files())}")


@cache
def _registry() -> Registry:
    resources: dict[str, Resource] = {}
    for name, contents in _files().items():
        schema_id = contents["$id"]
        if schema_id in resources:
            raise ValueError(f"{name}: $id {schema_id} is vendored twice")
        resources[schema_id] = Resource.from_contents(contents)
    for uri, name in CORE_STAND_INS.items():
        resources.setdefault(uri, Resource.from_contents(_files()[name]))
    return Registry().with_resources(resources.items())


@cache
def _format_checker() -> FormatChecker:
    """The formats the schemas use, checked the same way on every machine (no optional deps)."""
    checker = FormatChecker(formats=())

    @checker.checks("uuid", raises=ValueError)
    def is_uuid(instance: object) -> bool:
        if not isinstance(instance, str):
            return True
        uuid.UUID(instance)
        return len(instance) == 36 and all(instance[i] == "-" for i in (8, 13, 18, 23))

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(instance: object) -> bool:
        if not isinstance(instance, str):
            return True
        match = _RFC3339.match(instance)
        if match is None:
            return False
        text = instance.upper()
        if match["fraction"]:  # datetime keeps microseconds: drop digits past the sixth
            text = text.replace(match["fraction"], match["fraction"][:7], 1)
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True

    @checker.checks("uri")
    def is_uri(instance: object) -> bool:
        return not isinstance(instance, str) or _URI.match(instance) is not None

    return checker


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": ref}, registry=_registry(), format_checker=_format_checker()
    )


# --- checking ----------------------------------------------------------------------------------


def _event_problems(event: dict[str, Any]) -> Iterator[str]:
    yield from _schema_problems("event", _core_id() + "#/$defs/RunEvent", event)
    if not isinstance(event, dict):
        return
    for where, kind, facets in _facet_places(event):
        if not isinstance(facets, dict):
            continue  # the core schema has said so already
        for key, facet in facets.items():
            yield from _facet_problems(f"{where}.{key}", kind, key, facet)


def _facet_places(event: dict[str, Any]) -> Iterator[tuple[str, str, object]]:
    """(where, core facet kind expected there, the facets object) for each facet container."""
    for entity, kind in (("run", "RunFacet"), ("job", "JobFacet")):
        holder = event.get(entity)
        if isinstance(holder, dict) and "facets" in holder:
            yield f"{entity}.facets", kind, holder["facets"]
    for side, own, own_kind in (
        ("inputs", "inputFacets", "InputDatasetFacet"),
        ("outputs", "outputFacets", "OutputDatasetFacet"),
    ):
        datasets = event.get(side)
        if not isinstance(datasets, list):
            continue
        for index, dataset in enumerate(datasets):
            if not isinstance(dataset, dict):
                continue
            here = f"{side}[{index}]"
            if "facets" in dataset:
                yield f"{here}.facets", "DatasetFacet", dataset["facets"]
            if own in dataset:
                yield f"{here}.{own}", own_kind, dataset[own]


def _facet_problems(where: str, kind: str, key: str, facet: object) -> Iterator[str]:
    if not isinstance(facet, dict):
        return  # the core schema has said so already
    url = facet.get("_schemaURL")
    if not isinstance(url, str):
        yield f"{where}: facet has no _schemaURL string, so no schema to check it against"
        return
    base = urldefrag(url).url
    known = _facets().get(base)
    if known is None:
        core = " (that is a core schema, not a facet schema)" if base in _core_ids() else ""
        yield f"{where}: unknown facet schema URL {url!r}{core}; vendored: {sorted(_facets())}"
        return
    if key != known.key:
        yield f"{where}: {known.file} defines facet key {known.key!r}, not {key!r}"
    if known.kind is not None and known.kind != kind:
        yield f"{where}: {known.file} defines a {known.kind}, but facets here are {kind}s"
    yield from _schema_problems(where, known.schema_id + known.definition_ref, facet)


def _core_ids() -> set[str]:
    return {c["$id"] for c in _files().values() if _is_core(c)} | set(CORE_STAND_INS)


def _schema_problems(where: str, ref: str, instance: object) -> Iterator[str]:
    try:
        errors = sorted(_validator(ref).iter_errors(instance), key=lambda e: e.json_path)
        for error in errors:
            for leaf in _leaves(error):
                yield f"{where}: {leaf.json_path}: {leaf.message}"
    except Unresolvable as unresolvable:
        yield f"{where}: unresolvable $ref from the vendored schemas: {unresolvable}"


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The errors that say what is wrong: for anyOf/oneOf, the failures inside it."""
    if not error.context:
        yield error
        return
    for inner in error.context:
        yield from _leaves(inner)
