"""The OpenLineage validator in tests/support/openlineage.py holds events to the spec's schemas.

These tests pin down what it accepts and what it refuses, using hand-built events, so a test of
Headwater's emitter can rely on `validate_event` alone. `FACETS` below is also the crib sheet for
producing facets: for every vendored facet file, the key it goes under, where it goes in an event,
and a smallest valid payload (its required fields; `_producer` and `_schemaURL` are required on
every facet).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.support.openlineage import (
    CORE_FILE,
    SCHEMAS,
    facet_key,
    producer_fields,
    schema_url,
    validate_event,
)

PRODUCER = "https://github.com/headwater/headwater/tree/0.1.0"
RUN_ID = "0190f1a2-3b4c-7d5e-8f60-718293a4b5c6"
PARENT_RUN_ID = "0190f1a2-0000-7000-8000-000000000001"
RAW = "delta://lake"

# file -> (where the facet goes, the smallest valid payload: exactly its required fields).
# Places: "run" = run.facets, "job" = job.facets, "dataset" = a dataset's facets,
# "input" = an input's inputFacets, "output" = an output's outputFacets.
FACETS: dict[str, tuple[str, dict[str, Any]]] = {
    # run facets
    "NominalTimeRunFacet.json": ("run", {"nominalStartTime": "2024-05-01T12:00:00Z"}),
    "ParentRunFacet.json": (
        "run",
        {"run": {"runId": PARENT_RUN_ID}, "job": {"namespace": "headwater", "name": "daily"}},
    ),
    "ErrorMessageRunFacet.json": ("run", {"message": "boom", "programmingLanguage": "PYTHON"}),
    "ProcessingEngineRunFacet.json": ("run", {"version": "0.1.0"}),
    # job facets
    "JobTypeJobFacet.json": ("job", {"processingType": "BATCH", "integration": "HEADWATER"}),
    "SQLJobFacet.json": ("job", {"query": "select 1"}),
    "DocumentationJobFacet.json": ("job", {"description": "Builds the orders mart."}),
    "SourceCodeLocationJobFacet.json": (
        "job",
        {"type": "git", "url": "https://example.com/repo/blob/abc/models/orders.sql"},
    ),
    # dataset facets (inputs' and outputs' `facets`)
    "SchemaDatasetFacet.json": ("dataset", {}),  # `fields` is optional; each field needs `name`
    "ColumnLineageDatasetFacet.json": ("dataset", {"fields": {}}),
    "DocumentationDatasetFacet.json": ("dataset", {"description": "Orders, one row each."}),
    "DatasetVersionDatasetFacet.json": ("dataset", {"datasetVersion": "7"}),
    "OwnershipDatasetFacet.json": ("dataset", {}),  # `owners` optional; each owner needs `name`
    "TagsDatasetFacet.json": ("dataset", {}),  # `tags` optional; each tag needs `key`, `value`
    # input facets
    "DataQualityAssertionsDatasetFacet.json": ("input", {"assertions": []}),
    "DataQualityMetricsInputDatasetFacet.json": ("input", {"columnMetrics": {}}),
    # output facets
    "OutputStatisticsOutputDatasetFacet.json": ("output", {"rowCount": 0}),
}


def facet(file: str, **fields: Any) -> dict[str, Any]:
    """A facet defined by vendored `file`, with the base fields every facet must carry."""
    return {"_producer": PRODUCER, "_schemaURL": schema_url(file), **fields}


def event(event_type: str = "START", **extra: Any) -> dict[str, Any]:
    """A bare valid RunEvent: the required fields only."""
    return {
        "eventType": event_type,
        "eventTime": "2024-05-01T12:00:00.123456Z",
        "producer": PRODUCER,
        **producer_fields(),
        "run": {"runId": RUN_ID},
        "job": {"namespace": "headwater", "name": "shop.orders"},
        **extra,
    }


def start_event() -> dict[str, Any]:
    """START of a model run: schemas on both sides, column lineage with transformations."""
    return event(
        "START",
        run={
            "runId": RUN_ID,
            "facets": {
                "nominalTime": facet(
                    "NominalTimeRunFacet.json",
                    nominalStartTime="2024-05-01T12:00:00Z",
                    nominalEndTime="2024-05-02T12:00:00Z",
                ),
                "parent": facet(
                    "ParentRunFacet.json",
                    run={"runId": PARENT_RUN_ID},
                    job={"namespace": "headwater", "name": "shop"},
                ),
                "processing_engine": facet(
                    "ProcessingEngineRunFacet.json", version="0.1.0", name="headwater"
                ),
            },
        },
        job={
            "namespace": "headwater",
            "name": "shop.orders",
            "facets": {
                "jobType": facet(
                    "JobTypeJobFacet.json",
                    processingType="BATCH",
                    integration="HEADWATER",
                    jobType="MODEL",
                ),
                "sql": facet("SQLJobFacet.json", query="select id, amount * 100 as cents from raw"),
            },
        },
        inputs=[
            {
                "namespace": RAW,
                "name": "raw.orders",
                "facets": {
                    "schema": facet(
                        "SchemaDatasetFacet.json",
                        fields=[{"name": "id", "type": "BIGINT"}, {"name": "amount"}],
                    )
                },
            }
        ],
        outputs=[
            {
                "namespace": RAW,
                "name": "mart.orders",
                "facets": {
                    "schema": facet(
                        "SchemaDatasetFacet.json",
                        fields=[
                            {"name": "id", "type": "BIGINT", "description": "order id"},
                            {"name": "cents", "type": "BIGINT"},
                        ],
                    ),
                    "columnLineage": facet(
                        "ColumnLineageDatasetFacet.json",
                        fields={
                            "id": {
                                "inputFields": [
                                    {
                                        "namespace": RAW,
                                        "name": "raw.orders",
                                        "field": "id",
                                        "transformations": [
                                            {"type": "DIRECT", "subtype": "IDENTITY"}
                                        ],
                                    }
                                ]
                            },
                            "cents": {
                                "inputFields": [
                                    {
                                        "namespace": RAW,
                                        "name": "raw.orders",
                                        "field": "amount",
                                        "transformations": [
                                            {
                                                "type": "DIRECT",
                                                "subtype": "TRANSFORMATION",
                                                "description": "amount * 100",
                                                "masking": False,
                                            }
                                        ],
                                    }
                                ]
                            },
                        },
                    ),
                },
            }
        ],
    )


def complete_event() -> dict[str, Any]:
    """COMPLETE of the same run: row count written, quality checks on the input."""
    return event(
        "COMPLETE",
        eventTime="2024-05-01T12:00:07+02:00",
        inputs=[
            {
                "namespace": RAW,
                "name": "raw.orders",
                "inputFacets": {
                    "dataQualityAssertions": facet(
                        "DataQualityAssertionsDatasetFacet.json",
                        assertions=[
                            {"assertion": "not_null", "success": True, "column": "id"},
                            {"assertion": "row_count_gt_0", "success": True},
                        ],
                    ),
                    "dataQualityMetrics": facet(
                        "DataQualityMetricsInputDatasetFacet.json",
                        rowCount=42,
                        columnMetrics={"id": {"nullCount": 0, "distinctCount": 42}},
                    ),
                },
            }
        ],
        outputs=[
            {
                "namespace": RAW,
                "name": "mart.orders",
                "outputFacets": {
                    "outputStatistics": facet(
                        "OutputStatisticsOutputDatasetFacet.json", rowCount=42, size=4096
                    )
                },
            }
        ],
    )


def with_facet(file: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A bare event carrying one facet from `file`, at the place FACETS gives for it."""
    place, _ = FACETS[file]
    body = {facet_key(file): facet(file, **payload)}
    if place in ("run", "job"):
        base = event()
        base[place]["facets"] = body
        return base
    dataset: dict[str, Any] = {"namespace": RAW, "name": "mart.orders"}
    dataset[{"dataset": "facets", "input": "inputFacets", "output": "outputFacets"}[place]] = body
    if place == "input":
        return event(inputs=[dataset])
    return event(outputs=[dataset])


def problems(bad: dict[str, Any]) -> str:
    with pytest.raises(AssertionError) as raised:
        validate_event(bad)
    return str(raised.value)


# --- valid events ------------------------------------------------------------------------------


def test_a_start_with_schema_and_column_lineage_with_transformations_is_valid() -> None:
    validate_event(start_event())


def test_a_complete_with_output_statistics_and_quality_assertions_is_valid() -> None:
    validate_event(complete_event())


def test_a_bare_event_with_no_facets_is_valid() -> None:
    validate_event(event("RUNNING"))


@pytest.mark.parametrize("file", sorted(FACETS))
def test_each_facet_with_only_its_required_fields_is_valid(file: str) -> None:
    validate_event(with_facet(file, FACETS[file][1]))


@pytest.mark.parametrize(
    ("file", "field"),
    [(file, field) for file, (_, payload) in sorted(FACETS.items()) for field in payload],
)
def test_each_required_field_is_required(file: str, field: str) -> None:
    payload = {k: v for k, v in FACETS[file][1].items() if k != field}
    assert f"'{field}' is a required property" in problems(with_facet(file, payload))


@pytest.mark.parametrize("file", sorted(FACETS))
def test_a_schema_url_without_the_defs_fragment_names_the_same_schema(file: str) -> None:
    good = with_facet(file, FACETS[file][1])
    the_facet = next(_facets_in(good))
    the_facet["_schemaURL"] = the_facet["_schemaURL"].split("#", 1)[0]
    validate_event(good)


def _facets_in(an_event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for holder in (an_event["run"], an_event["job"]):
        yield from holder.get("facets", {}).values()
    for dataset in an_event.get("inputs", []) + an_event.get("outputs", []):
        for container in ("facets", "inputFacets", "outputFacets"):
            yield from dataset.get(container, {}).values()


# --- the event itself --------------------------------------------------------------------------


def test_an_event_without_event_time_fails() -> None:
    bad = complete_event()
    del bad["eventTime"]
    assert "'eventTime' is a required property" in problems(bad)


def test_an_event_type_outside_the_enum_fails() -> None:
    bad = start_event()
    bad["eventType"] = "STARTED"
    assert "'STARTED' is not one of ['START', 'RUNNING', 'COMPLETE'" in problems(bad)


def test_an_event_time_that_is_not_rfc3339_fails() -> None:
    for when in ("2024-05-01 12:00:00", "2024-05-01T12:00:00", "yesterday", "2024-13-01T00:00Z"):
        bad = event(eventTime=when)
        assert "is not a 'date-time'" in problems(bad), when


def test_a_run_id_that_is_not_a_uuid_fails() -> None:
    bad = event()
    bad["run"]["runId"] = "run-1"
    assert "'run-1' is not a 'uuid'" in problems(bad)


def test_an_event_without_producer_or_schema_url_fails() -> None:
    bad = event()
    del bad["producer"], bad["schemaURL"]
    said = problems(bad)
    assert "'producer' is a required property" in said
    assert "'schemaURL' is a required property" in said


def test_every_problem_is_listed_not_just_the_first() -> None:
    bad = start_event()
    del bad["eventTime"]
    bad["eventType"] = "DONE"
    del bad["outputs"][0]["facets"]["columnLineage"]["fields"]
    said = problems(bad)
    assert "(3 problems)" in said
    assert "'eventTime' is a required property" in said
    assert "'DONE' is not one of" in said
    assert "outputs[0].facets.columnLineage: $: 'fields' is a required property" in said


# --- facets ------------------------------------------------------------------------------------


def test_a_facet_missing_a_required_field_fails() -> None:
    bad = complete_event()
    del bad["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"]
    said = problems(bad)
    assert "outputs[0].outputFacets.outputStatistics" in said
    assert "'rowCount' is a required property" in said


def test_a_facet_missing_a_nested_required_field_fails() -> None:
    bad = start_event()
    del bad["outputs"][0]["facets"]["schema"]["fields"][1]["name"]
    assert "$.fields[1]: 'name' is a required property" in problems(bad)


def test_a_facet_without_its_base_fields_fails() -> None:
    bad = complete_event()
    del bad["outputs"][0]["outputFacets"]["outputStatistics"]["_producer"]
    assert "'_producer' is a required property" in problems(bad)


def test_a_facet_with_an_unknown_schema_url_fails() -> None:
    bad = start_event()
    url = (
        "https://openlineage.io/spec/facets/9-9-9/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    )
    bad["inputs"][0]["facets"]["schema"]["_schemaURL"] = url
    said = problems(bad)
    assert f"inputs[0].facets.schema: unknown facet schema URL {url!r}" in said


def test_a_custom_facet_pointing_at_the_core_schema_is_an_unknown_facet_schema() -> None:
    bad = event()
    bad["run"]["facets"] = {
        "headwater_run": {
            "_producer": PRODUCER,
            "_schemaURL": producer_fields()["schemaURL"].replace("RunEvent", "RunFacet"),
        }
    }
    assert "unknown facet schema URL" in problems(bad)


def test_column_lineage_with_a_transformation_type_that_is_not_a_string_fails() -> None:
    bad = start_event()
    lineage = bad["outputs"][0]["facets"]["columnLineage"]["fields"]
    lineage["id"]["inputFields"][0]["transformations"][0]["type"] = 1
    assert "transformations[0].type: 1 is not of type 'string'" in problems(bad)


def test_column_lineage_with_a_transformation_without_a_type_fails() -> None:
    bad = start_event()
    lineage = bad["outputs"][0]["facets"]["columnLineage"]["fields"]
    del lineage["cents"]["inputFields"][0]["transformations"][0]["type"]
    assert "'type' is a required property" in problems(bad)


def test_column_lineage_with_an_input_field_missing_its_dataset_fails() -> None:
    bad = start_event()
    lineage = bad["outputs"][0]["facets"]["columnLineage"]["fields"]
    del lineage["id"]["inputFields"][0]["namespace"]
    assert "'namespace' is a required property" in problems(bad)


def test_the_spec_does_not_enumerate_transformation_types() -> None:
    """The schema only says "Allowed values are: DIRECT, INDIRECT" in a description: any string
    passes. An emitter test that cares must check DIRECT/INDIRECT itself."""
    odd = start_event()
    lineage = odd["outputs"][0]["facets"]["columnLineage"]["fields"]
    lineage["id"]["inputFields"][0]["transformations"][0]["type"] = "SIDEWAYS"
    validate_event(odd)


def test_a_facet_under_another_key_than_its_schema_defines_fails() -> None:
    bad = start_event()
    facets = bad["outputs"][0]["facets"]
    facets["lineage"] = facets.pop("columnLineage")
    assert "defines facet key 'columnLineage', not 'lineage'" in problems(bad)


def test_a_facet_in_the_wrong_place_fails() -> None:
    bad = complete_event()
    output = bad["outputs"][0]
    output["facets"] = output.pop("outputFacets")
    said = problems(bad)
    assert "outputs[0].facets.outputStatistics" in said
    assert "defines a OutputDatasetFacet, but facets here are DatasetFacets" in said


def test_a_facet_that_is_not_an_object_fails() -> None:
    bad = event()
    bad["job"]["facets"] = {"sql": "select 1"}
    assert "'select 1' is not of type 'object'" in problems(bad)


def test_validation_does_not_change_the_event() -> None:
    good = start_event()
    before = copy.deepcopy(good)
    validate_event(good)
    assert good == before


# --- helpers and the vendored files ------------------------------------------------------------


def test_schema_urls_and_keys_come_from_the_vendored_files() -> None:
    assert schema_url("ColumnLineageDatasetFacet.json") == (
        "https://openlineage.io/spec/facets/1-1-0/ColumnLineageDatasetFacet.json"
        "#/$defs/ColumnLineageDatasetFacet"
    )
    assert facet_key("ColumnLineageDatasetFacet.json") == "columnLineage"
    core = json.loads((SCHEMAS / CORE_FILE).read_text())
    assert producer_fields() == {"schemaURL": core["$id"] + "#/$defs/RunEvent"}
    with pytest.raises(KeyError):
        schema_url("NoSuchFacet.json")


def test_every_vendored_file_is_a_valid_json_schema_with_its_own_id() -> None:
    ids = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(contents)
        assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        ids.append(contents["$id"])
    assert len(ids) == len(set(ids)) == 21


def test_every_facet_file_the_readme_lists_is_covered_here() -> None:
    vendored = {p.name for p in SCHEMAS.glob("*.json")}
    cores = {name for name in vendored if name.startswith("OpenLineage")}
    assert vendored - cores == set(FACETS)
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    for name in vendored:
        assert f"`{name}`" in readme, name
