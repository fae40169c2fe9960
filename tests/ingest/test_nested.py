"""Nested lists in JSON records become child tables linked by `_hw_parent_id` (as dlt does).

Each test loads NDJSON files through the real runner and reads the Delta tables back with an
independent reader (delta-rs to pyarrow).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import ProjectFactory, run_cli, write_files
from tests.ingest.test_files import quarantined

ORDERS = [
    {
        "id": 1,
        "customer": {"name": "ann", "phones": ["555-1", "555-2"]},
        "items": [
            {"sku": "a", "qty": 2, "options": [{"k": "colour", "v": "red"}]},
            {"sku": "b", "qty": 1, "options": []},
        ],
    },
    {"id": 2, "customer": {"name": "bo", "phones": []}, "items": [{"sku": "c", "qty": 5}]},
    {"id": 3, "customer": {"name": "cy"}},
]


def ndjson(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def project_with(
    make_project: ProjectFactory, table: str, records: list[dict[str, Any]]
) -> Project:
    project = make_project(
        {
            "sources/shop.yml": (
                f"kind: files\ntables:\n  orders:\n    path: data/*.ndjson\n{table}"
            ),
            "data/1.ndjson": ndjson(records),
        }
    )
    return project


def read(project: Project, name: str) -> list[dict[str, Any]]:
    path = project.definition.warehouse / "shop" / name
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist()


def items_by_order(project: Project) -> dict[int, list[tuple[int, str, int]]]:
    """Child rows joined back to their order through the link columns."""
    ids = {r["_hw_id"]: r["id"] for r in read(project, "orders")}
    grouped: dict[int, list[tuple[int, str, int]]] = {}
    for row in read(project, "orders__items"):
        assert row["_hw_parent_id"] == row["_hw_root_id"]
        grouped.setdefault(ids[row["_hw_parent_id"]], []).append(
            (row["_hw_list_index"], row["sku"], row["qty"])
        )
    return {k: sorted(v) for k, v in sorted(grouped.items())}


def test_lists_become_child_tables_at_every_depth(make_project: ProjectFactory) -> None:
    project = project_with(make_project, "", ORDERS)
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert outcome.rows == 3 and "into child tables" in (outcome.message or "")

    orders = read(project, "orders")
    assert sorted(r["id"] for r in orders) == [1, 2, 3]
    assert "items" not in orders[0] and "_hw_seq" not in orders[0]
    assert items_by_order(project) == {1: [(0, "a", 2), (1, "b", 1)], 2: [(0, "c", 5)]}

    # a list inside a nested object hangs off the record itself; scalars land in `value`
    phones = read(project, "orders__customer__phones")
    by_id = {r["_hw_id"]: r["id"] for r in orders}
    assert sorted((by_id[r["_hw_parent_id"]], r["value"]) for r in phones) == [
        (1, "555-1"),
        (1, "555-2"),
    ]
    # a list inside a list element: linked to the element, rooted at the record
    options = read(project, "orders__items__options")
    items = {r["_hw_id"]: r for r in read(project, "orders__items")}
    assert [(items[o["_hw_parent_id"]]["sku"], o["k"], o["v"]) for o in options] == [
        ("a", "colour", "red")
    ]
    assert options[0]["_hw_root_id"] == items[options[0]["_hw_parent_id"]]["_hw_root_id"]
    assert project.sources()[0]["table"] == "shop.orders"


def test_a_model_reads_a_child_table_after_its_parent_loads(make_project: ProjectFactory) -> None:
    project = project_with(make_project, "", ORDERS)
    write_files(
        project.root,
        {
            "models/marts/order_sizes.sql": (
                "select o.id, sum(i.qty) as units from shop.orders as o "
                "join shop.orders__items as i on i._hw_parent_id = o._hw_id group by o.id"
            )
        },
    )
    project.reload()
    assert project.definition.assets["shop.orders__items"].depends_on == ("shop.orders",)
    summary = project.run()
    assert summary.status == "success", [(o.key, o.message) for o in summary.outcomes]
    assert summary.outcome("shop.orders__items").message == "loaded with shop.orders"
    got = project.query("select id, units from marts.order_sizes order by id").to_pylist()
    assert got == [{"id": 1, "units": 3}, {"id": 2, "units": 5}]


def test_a_child_table_no_record_has_is_a_clear_error(make_project: ProjectFactory) -> None:
    project = project_with(make_project, "", ORDERS)
    write_files(project.root, {"models/m.sql": "select * from shop.orders__itemz"})
    project.reload()
    outcome = project.run().outcome("shop.orders__itemz")
    assert outcome.status == "failed"
    assert "no record loaded into shop.orders has had a list 'itemz'" in (outcome.message or "")


MERGE = "    mode: merge\n    primary_key: id\n"


def test_merge_replaces_the_children_of_changed_records_only(
    make_project: ProjectFactory,
) -> None:
    project = project_with(make_project, MERGE, ORDERS)
    assert project.run().status == "success"
    write_files(
        project.root,
        {
            "data/2.ndjson": ndjson(
                [
                    # read twice in one load: the later version and only its children win
                    {"id": 1, "items": [{"sku": "x", "qty": 9}, {"sku": "y", "qty": 8}]},
                    {"id": 1, "items": [{"sku": "z", "qty": 7}]},
                    {"id": 2, "items": []},  # every item of order 2 is gone
                    {"id": 4, "items": [{"sku": "d", "qty": 1}]},
                ]
            )
        },
    )
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert items_by_order(project) == {1: [(0, "z", 7)], 4: [(0, "d", 1)]}
    # the options of order 1's old items went with them; order 3 never had any
    assert read(project, "orders__items__options") == []
    assert sorted(r["id"] for r in read(project, "orders")) == [1, 2, 3, 4]


def test_hard_deletes_remove_the_children_too(make_project: ProjectFactory) -> None:
    table = MERGE + "    delete_column: deleted\n    delete: hard\n"
    project = project_with(make_project, table, ORDERS)
    first = project.run()
    assert first.status == "success", [o.message for o in first.outcomes]
    write_files(
        project.root,
        {"data/2.ndjson": ndjson([{"id": 1, "deleted": True, "items": [{"sku": "q", "qty": 1}]}])},
    )
    assert project.run().outcome("shop.orders").status == "success"
    assert sorted(r["id"] for r in read(project, "orders")) == [2, 3]
    assert items_by_order(project) == {2: [(0, "c", 5)]}


def test_replace_mode_replaces_every_child_table(make_project: ProjectFactory) -> None:
    project = project_with(make_project, "    mode: replace\n", ORDERS)
    assert project.run().status == "success"
    (project.root / "data/1.ndjson").write_text(
        ndjson([{"id": 7, "items": [{"sku": "n", "qty": 3}]}])
    )
    assert project.run().outcome("shop.orders").status == "success"
    assert items_by_order(project) == {7: [(0, "n", 3)]}
    assert read(project, "orders__customer__phones") == []


def test_bad_values_quarantine_the_child_row_or_the_record_with_its_children(
    make_project: ProjectFactory,
) -> None:
    records = [
        {"id": 1, "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": "lots"}]},
        {"id": "x1", "items": [{"sku": "c", "qty": 2}]},  # the record itself does not fit
        *({"id": i, "items": [{"sku": f"s{i}", "qty": i}]} for i in range(2, 30)),
    ]
    project = project_with(make_project, "", records)
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert "2 quarantined" in (outcome.message or "")
    by_order = items_by_order(project)
    assert by_order[1] == [(0, "a", 1)]
    assert all(sku != "c" for rows in by_order.values() for _, sku, _ in rows)
    bad = {r["column"]: r for r in quarantined(project, "shop.orders")}
    assert set(bad) == {"qty", "id"}
    assert "items[1]" in bad["qty"]["location"]


def test_append_killed_between_child_and_parent_commits_loads_children_once(
    make_project: ProjectFactory,
) -> None:
    project = project_with(make_project, "", ORDERS[:2])
    assert run_cli(["ingest"], project.root).returncode == 0
    write_files(
        project.root, {"data/2.ndjson": ndjson([{"id": 5, "items": [{"sku": "e", "qty": 4}]}])}
    )
    killed = run_cli(["ingest"], project.root, env={"HEADWATER_FAULT": "before_commit:shop.orders"})
    assert killed.returncode == -9
    # the child commit landed, the parent's did not: the next load reads file 2 again
    assert len(read(project, "orders__items")) == 4
    again = run_cli(["ingest"], project.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert items_by_order(project) == {
        1: [(0, "a", 2), (1, "b", 1)],
        2: [(0, "c", 5)],
        5: [(0, "e", 4)],
    }


def test_flat_records_get_no_link_columns_and_json_mode_keeps_lists_as_text(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n"
                "  flat:\n    path: data/flat.ndjson\n"
                "  kept:\n    path: data/kept.ndjson\n    nested: json\n"
            ),
            "data/flat.ndjson": ndjson([{"id": 1, "a": {"b": 2}}]),
            "data/kept.ndjson": ndjson([{"id": 1, "tags": ["x", "y"]}]),
        }
    )
    assert project.run().status == "success"
    assert read(project, "flat") == [{"id": 1, "a__b": 2}]
    assert read(project, "kept") == [{"id": 1, "tags": '["x", "y"]'}]
    assert not (project.definition.warehouse / "shop" / "kept__tags").exists()


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_child_tables_follow_a_full_refresh(make_project: ProjectFactory, mode: str) -> None:
    table = MERGE if mode == "merge" else ""
    project = project_with(make_project, table, ORDERS)
    assert project.run().status == "success"
    assert project.run(full_refresh=True).status == "success"
    assert items_by_order(project) == {1: [(0, "a", 2), (1, "b", 1)], 2: [(0, "c", 5)]}


def test_a_key_in_two_files_of_one_load_keeps_the_later_file_and_its_children(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                "kind: files\ntables:\n  orders:\n    path: data/*.ndjson\n" + MERGE
            ),
            "data/a.ndjson": ndjson([{"id": 1, "v": "old", "items": [{"sku": "x"}, {"sku": "y"}]}]),
            "data/b.ndjson": ndjson([{"id": 1, "v": "new", "items": [{"sku": "z"}]}]),
        }
    )
    assert project.run().outcome("shop.orders").status == "success"
    assert [r["v"] for r in read(project, "orders")] == ["new"]
    items = read(project, "orders__items")
    assert [r["sku"] for r in items] == ["z"]
    assert len({r["_hw_id"] for r in items}) == len(items)


@pytest.mark.parametrize("contract", ["freeze", "discard_row", "discard_column"])
def test_the_first_list_after_flat_loads_passes_any_contract(
    make_project: ProjectFactory, contract: str
) -> None:
    project = make_project(
        {
            "sources/shop.yml": (
                f"kind: files\ncontract: {contract}\ntables:\n  orders:\n    path: data/*.ndjson\n"
            ),
            "data/1.ndjson": ndjson([{"id": 1}]),
        }
    )
    assert project.run().status == "success"
    write_files(project.root, {"data/2.ndjson": ndjson([{"id": 2, "items": [{"sku": "a"}]}])})
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "success", outcome.message
    assert sorted(r["id"] for r in read(project, "orders")) == [1, 2]
    assert [r["sku"] for r in read(project, "orders__items")] == ["a"]


def test_a_load_kept_from_publishing_takes_its_child_rows_back(
    make_project: ProjectFactory,
) -> None:
    project = project_with(make_project, "    checks: [{row_count: {max: 3}}]\n", ORDERS)
    assert project.run().status == "success"
    before = read(project, "orders__items")
    write_files(project.root, {"data/2.ndjson": ndjson([{"id": 9, "items": [{"sku": "q"}]}])})
    outcome = project.run().outcome("shop.orders")
    assert outcome.status == "failed" and "row_count" in (outcome.message or "")
    assert sorted(r["sku"] for r in read(project, "orders__items")) == sorted(
        r["sku"] for r in before
    )
