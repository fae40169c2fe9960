"""Incremental models: append, merge on a unique key, full refresh, schema evolution.

The central property: after any sequence of source changes, an incremental model holds exactly
what a full rebuild of the same SQL would. Every comparison reads the Delta tables with delta-rs
directly, independently of Headwater's own read path.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import rows, write_files


def table_path(project: Project, key: str) -> Path:
    namespace, name = key.split(".")
    return project.definition.warehouse / namespace / name


def delta(project: Project, key: str) -> DeltaTable:
    return DeltaTable(str(table_path(project, key)))


def delta_rows(
    project: Project, key: str, columns: list[str] | None = None
) -> list[tuple[Any, ...]]:
    table = delta(project, key).to_pyarrow_table()
    names = columns or table.column_names
    return sorted((tuple(r[c] for c in names) for r in table.to_pylist()), key=repr)


def log_actions(project: Project, key: str, version: int) -> list[dict[str, Any]]:
    log = table_path(project, key) / "_delta_log" / f"{version:020d}.json"
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def adds_and_removes(project: Project, key: str, version: int) -> tuple[list[str], list[str]]:
    actions = log_actions(project, key, version)
    return (
        [a["add"]["path"] for a in actions if "add" in a],
        [a["remove"]["path"] for a in actions if "remove" in a],
    )


def current_files(project: Project, key: str) -> set[str]:
    return set(delta(project, key).file_uris())


def edit(project: Project, files: dict[str, str]) -> None:
    write_files(project.root, files)
    project.reload()


def csv(header: str, records: list[tuple[Any, ...]]) -> str:
    return header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in records)


# -- append --------------------------------------------------------------------------------

APPEND_MODEL = """
    select id, kind, amount * 10 as amount10
    from raw.events
    {% if is_incremental() %}
    where id > (select max(id) from {{ this }})
    {% endif %}
"""


def test_append_second_run_only_adds_the_new_rows(make_project):
    project = make_project(
        {
            "seeds/events.csv": "id,kind,amount\n1,a,1\n2,b,2\n3,a,3\n",
            "models/events_inc.sql": APPEND_MODEL,
            "models/events_inc.yml": "materialized: incremental\n",
        }
    )
    first = project.run()
    outcome = first.outcome("main.events_inc")
    assert outcome.status == "success"
    assert outcome.message == "full build"
    assert outcome.rows == 3
    assert delta_rows(project, "main.events_inc") == [(1, "a", 10), (2, "b", 20), (3, "a", 30)]
    files_v0 = current_files(project, "main.events_inc")

    # rows 4 and 5 are new; row 2 changed but is not > max(id): append must not see it
    edit(project, {"seeds/events.csv": "id,kind,amount\n1,a,1\n2,b,99\n3,a,3\n4,c,4\n5,a,5\n"})
    second = project.run()
    outcome = second.outcome("main.events_inc")
    assert outcome.status == "success"
    assert outcome.rows == 2
    assert outcome.version == 1
    assert outcome.message == "appended 2 rows"
    assert delta_rows(project, "main.events_inc") == [
        (1, "a", 10),
        (2, "b", 20),
        (3, "a", 30),
        (4, "c", 40),
        (5, "a", 50),
    ]
    adds, removes = adds_and_removes(project, "main.events_inc", 1)
    assert removes == []
    assert len(adds) == 1
    # the old files are still the table's files: nothing was rewritten
    assert files_v0 < current_files(project, "main.events_inc")
    history = delta(project, "main.events_inc").history()
    assert history[0]["headwater.run_id"] == second.run_id
    assert history[0]["headwater.operation"] == "incremental append"

    # nothing new: no commit at all, the version stays
    third = project.run(force=True)
    outcome = third.outcome("main.events_inc")
    assert outcome.status == "success"
    assert outcome.message == "no new rows"
    assert outcome.version == 1
    assert delta(project, "main.events_inc").version() == 1

    # --full-refresh rebuilds from scratch and so picks up the changed row 2
    refreshed = project.run(full_refresh=True)
    outcome = refreshed.outcome("main.events_inc")
    assert outcome.message == "full build"
    assert outcome.rows == 5
    assert delta_rows(project, "main.events_inc") == [
        (1, "a", 10),
        (2, "b", 990),
        (3, "a", 30),
        (4, "c", 40),
        (5, "a", 50),
    ]
    adds, removes = adds_and_removes(project, "main.events_inc", outcome.version)
    assert len(removes) == 2  # both files of the incremental history
    assert rows(project, "select count(*) from main.events_inc") == [(5,)]


def test_append_adds_a_new_column_and_keeps_old_rows_null(make_project):
    project = make_project(
        {
            "seeds/events.csv": "id,kind,amount\n1,a,1\n2,b,2\n",
            "models/events_inc.sql": APPEND_MODEL,
            "models/events_inc.yml": "materialized: incremental\n",
        }
    )
    project.run()
    edit(
        project,
        {
            "seeds/events.csv": "id,kind,amount\n1,a,1\n2,b,2\n3,c,3\n",
            "models/events_inc.sql": APPEND_MODEL.replace(
                "amount * 10 as amount10", "amount * 10 as amount10, upper(kind) as big_kind"
            ),
        },
    )
    outcome = project.run().outcome("main.events_inc")
    assert outcome.status == "success", outcome.message
    # the new column is also reported as a schema change, without failing anything
    assert outcome.message == "appended 1 rows; warn schema_change: schema changed: added big_kind"
    assert delta_rows(project, "main.events_inc") == [
        (1, "a", 10, None),
        (2, "b", 20, None),
        (3, "c", 30, "C"),
    ]
    assert sorted(rows(project, "select id, big_kind from main.events_inc"), key=repr) == [
        (1, None),
        (2, None),
        (3, "C"),
    ]


# -- merge: equal to a full rebuild --------------------------------------------------------

MERGE_SELECT = """
    select id, name, upper(tier) as tier, amount * 2 as doubled, updated_at
    from raw.customers
"""
MERGE_FILTER = """
    {% if is_incremental() %}
    where updated_at > (select max(updated_at) from {{ this }})
    {% endif %}
"""
CUSTOMER_TYPES = """
columns:
  - name: updated_at
    type: TIMESTAMP
  - name: amount
    type: INTEGER
"""


def _customers_rounds(seed: int, rounds: int, start: int = 40) -> list[list[tuple[Any, ...]]]:
    """States of the customers seed: each round updates some rows and inserts new ones."""
    rng = random.Random(seed)
    base = dt.datetime(2024, 1, 1)
    state = {
        i: (i, f"name{i}", rng.choice(["gold", "silver", "bronze"]), rng.randint(1, 100), base)
        for i in range(1, start + 1)
    }
    out = [sorted(state.values())]
    next_id = start + 1
    for round_no in range(1, rounds + 1):
        stamp = base + dt.timedelta(days=round_no)
        for key in rng.sample(sorted(state), 7):
            _, name, _, amount, _ = state[key]
            state[key] = (
                key,
                name + "x",
                rng.choice(["gold", "silver", "bronze"]),
                amount + 1,
                stamp,
            )
        for _ in range(5):
            state[next_id] = (next_id, f"name{next_id}", "silver", rng.randint(1, 100), stamp)
            next_id += 1
        out.append(sorted(state.values()))
    return out


def test_merge_equals_a_full_rebuild_after_rounds_of_inserts_and_updates(make_project):
    rounds = _customers_rounds(seed=7, rounds=4)
    header = "id,name,tier,amount,updated_at"
    project = make_project(
        {
            "seeds/customers.csv": csv(header, rounds[0]),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
            "models/full/customers.sql": MERGE_SELECT,
        }
    )
    summary = project.run()
    assert summary.status == "success", summary.outcomes
    assert delta_rows(project, "inc.customers") == delta_rows(project, "full.customers")
    assert len(delta_rows(project, "inc.customers")) == 40

    for number, state in enumerate(rounds[1:], start=1):
        edit(project, {"seeds/customers.csv": csv(header, state)})
        summary = project.run()
        outcome = summary.outcome("inc.customers")
        assert outcome.status == "success", outcome.message
        # only this round's 7 updates and 5 inserts went through the merge
        assert outcome.rows == 12, (number, outcome.message)
        assert outcome.message is not None and outcome.message.startswith("merged 12 rows")
        incremental = delta_rows(project, "inc.customers")
        assert incremental == delta_rows(project, "full.customers"), f"round {number}"
        assert len(incremental) == 40 + 5 * number
        assert len({r[0] for r in incremental}) == len(incremental)  # one row per key
        history = delta(project, "inc.customers").history(1)[0]
        assert history["headwater.run_id"] == summary.run_id
        assert history["headwater.operation"] == "incremental merge"
        # Headwater's read path agrees with delta-rs
        assert (
            sorted(
                rows(project, "select id, name, tier, doubled, updated_at from inc.customers"),
                key=repr,
            )
            == incremental
        )

    # one commit per run: the first build plus one merge per round
    assert delta(project, "inc.customers").version() == len(rounds) - 1


def test_merge_without_a_filter_reprocessing_everything_still_equals_a_full_rebuild(make_project):
    rounds = _customers_rounds(seed=11, rounds=3, start=25)
    header = "id,name,tier,amount,updated_at"
    project = make_project(
        {
            "seeds/customers.csv": csv(header, rounds[0]),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: [id]\n",
            "models/full/customers.sql": MERGE_SELECT,
        }
    )
    project.run()
    for state in rounds[1:]:
        edit(project, {"seeds/customers.csv": csv(header, state)})
        summary = project.run()
        assert summary.outcome("inc.customers").rows == len(state)
        assert delta_rows(project, "inc.customers") == delta_rows(project, "full.customers")


def test_merge_on_a_compound_key_equals_a_full_rebuild(make_project):
    header = "region,id,qty,updated_at"
    base = [
        ("north", 1, 10, "2024-01-01 00:00:00"),
        ("south", 1, 20, "2024-01-01 00:00:00"),
        ("north", 2, 30, "2024-01-01 00:00:00"),
        ("south", 2, 40, "2024-01-01 00:00:00"),
        ("east", 1, 50, "2024-01-01 00:00:00"),
    ]
    round1 = [
        ("north", 1, 11, "2024-01-02 00:00:00"),  # updated: only (north, 1), not (south, 1)
        ("south", 1, 20, "2024-01-01 00:00:00"),
        ("north", 2, 30, "2024-01-01 00:00:00"),
        ("south", 2, 40, "2024-01-01 00:00:00"),
        ("east", 1, 50, "2024-01-01 00:00:00"),
        ("east", 2, 60, "2024-01-02 00:00:00"),  # new
    ]
    round2 = [
        ("north", 1, 11, "2024-01-02 00:00:00"),
        ("south", 1, 21, "2024-01-03 00:00:00"),  # updated
        ("north", 2, 30, "2024-01-01 00:00:00"),
        ("south", 2, 40, "2024-01-01 00:00:00"),
        ("east", 1, 51, "2024-01-03 00:00:00"),  # updated
        ("east", 2, 60, "2024-01-02 00:00:00"),
        ("west", 1, 70, "2024-01-03 00:00:00"),  # new
        ("west", 2, 80, "2024-01-03 00:00:00"),  # new
    ]
    select = "select region, id, qty, qty * 100 as centi, updated_at from raw.orders\n"
    project = make_project(
        {
            "seeds/orders.csv": csv(header, base),
            "seeds/orders.yml": "columns:\n  - name: updated_at\n    type: TIMESTAMP\n",
            "models/inc/orders.sql": select + MERGE_FILTER,
            "models/inc/orders.yml": "materialized: incremental\nunique_key: [region, id]\n",
            "models/full/orders.sql": select,
        }
    )
    project.run()
    assert delta_rows(project, "inc.orders") == delta_rows(project, "full.orders")
    for state, changed in ((round1, 2), (round2, 4)):
        edit(project, {"seeds/orders.csv": csv(header, state)})
        outcome = project.run().outcome("inc.orders")
        assert outcome.status == "success", outcome.message
        assert outcome.rows == changed
        assert delta_rows(project, "inc.orders") == delta_rows(project, "full.orders")
    assert delta_rows(project, "inc.orders", ["region", "id", "qty"]) == sorted(
        ((r, i, q) for r, i, q, _ in round2), key=repr
    )


def test_merge_with_no_new_rows_commits_nothing(make_project):
    project = make_project(
        {
            "seeds/customers.csv": csv(
                "id,name,tier,amount,updated_at", [(1, "a", "gold", 1, "2024-01-01 00:00:00")]
            ),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    project.run()
    outcome = project.run(force=True).outcome("inc.customers")
    assert outcome.status == "success"
    assert outcome.rows == 0
    assert outcome.version == 0
    assert delta(project, "inc.customers").version() == 0
    # the next plain run considers it up to date
    assert project.run().outcome("inc.customers").status == "up_to_date"


def test_full_refresh_rebuilds_a_merge_model_from_scratch(make_project):
    header = "id,name,tier,amount,updated_at"
    project = make_project(
        {
            "seeds/customers.csv": csv(
                header, [(1, "a", "gold", 1, "2024-01-01"), (2, "b", "gold", 2, "2024-01-01")]
            ),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    project.run()
    # row 2 is deleted at the source: a merge keeps it, a full refresh drops it
    edit(project, {"seeds/customers.csv": csv(header, [(1, "a2", "gold", 1, "2024-01-02")])})
    project.run()
    assert delta_rows(project, "inc.customers", ["id", "name"]) == [(1, "a2"), (2, "b")]

    summary = project.run(full_refresh=True)
    outcome = summary.outcome("inc.customers")
    assert outcome.status == "success"
    assert outcome.message == "full build"
    assert delta_rows(project, "inc.customers", ["id", "name"]) == [(1, "a2")]
    latest = delta(project, "inc.customers").history(1)[0]
    assert latest["headwater.run_id"] == summary.run_id
    adds, removes = adds_and_removes(project, "inc.customers", outcome.version)
    assert removes and adds
    assert len(delta(project, "inc.customers").file_uris()) == len(adds)


# -- merge: refusals -----------------------------------------------------------------------


def test_duplicate_keys_in_the_new_rows_fail_clearly_and_commit_nothing(make_project):
    header = "id,name,tier,amount,updated_at"
    project = make_project(
        {
            "seeds/customers.csv": csv(header, [(1, "a", "gold", 1, "2024-01-01")]),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    project.run()
    before = delta_rows(project, "inc.customers")
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                header,
                [
                    (1, "a", "gold", 1, "2024-01-01"),
                    (2, "b", "gold", 2, "2024-01-02"),
                    (2, "b-again", "gold", 3, "2024-01-02"),
                ],
            )
        },
    )
    summary = project.run()
    outcome = summary.outcome("inc.customers")
    assert outcome.status == "failed"
    assert summary.status == "failed"
    message = outcome.message or ""
    assert "the new rows hold the same unique_key more than once" in message
    assert "id=2 (2 rows)" in message
    assert "inc.customers" in message
    assert delta(project, "inc.customers").version() == 0
    assert delta_rows(project, "inc.customers") == before
    # no staged or half-written files are left in the table folder
    root = table_path(project, "inc.customers")
    on_disk = {
        str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in str(p)
    }
    assert on_disk == {
        a["add"]["path"] for a in log_actions(project, "inc.customers", 0) if "add" in a
    }


def test_missing_unique_key_column_is_a_config_error_at_load(make_project):
    """Known from the SELECT list: nothing is built, the error points at the YAML line."""
    from headwater.errors import ConfigError

    project = make_project(
        {
            "models/m.sql": "select i as id, 'eu' as regoin from range(3) t(i)",
            "models/m.yml": "materialized: incremental\nunique_key: [id, region]\n",
        }
    )
    with pytest.raises(ConfigError) as info:
        project.run()
    error = info.value
    assert (error.location.file, error.location.line) == ("models/m.yml", 2)
    assert "unique_key of main.m names column 'region'" in error.message
    assert "did you mean 'regoin'?" in (error.hint or "")
    assert not (project.root / "warehouse").exists()


def test_missing_unique_key_column_fails_the_first_build_when_unknown_before(make_project):
    """`*` from an unloaded source: the first build (and --full-refresh) refuses it."""
    project = make_project(
        {
            "data/m.csv": "id,amount\n1,2\n",
            "sources/files.yml": "kind: files\ntables:\n  m:\n    path: data/m.csv\n",
            "models/m.sql": "select * from files.m",
            "models/m.yml": "materialized: incremental\nunique_key: [id, region]\n",
        }
    )
    for full_refresh in (False, True):
        outcome = project.run(full_refresh=full_refresh).outcome("main.m")
        assert outcome.status == "failed"
        assert "unique_key of main.m names column 'region'" in (outcome.message or "")
        assert "models/m.yml:2" in (outcome.message or "")
        assert not (table_path(project, "main.m") / "_delta_log").exists()


def test_a_unique_key_that_is_not_unique_fails_the_first_build_and_full_refresh(make_project):
    """2,000 rows for 460 keys: refused on the first build (not on the next run's merge), and
    again on --full-refresh; the table keeps what it had, no file is left behind."""
    project = make_project(
        {
            "models/m.sql": "select i % 460 as id, i as amount from range(2000) t(i)",
            "models/m.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    outcome = project.run().outcome("main.m")
    assert outcome.status == "failed"
    message = outcome.message or ""
    assert "unique_key (id) of main.m is not unique in the built rows" in message
    assert "460 keys appear more than once, in 2,000 of 2,000 rows" in message
    assert "appears 5 times" in message
    assert not (table_path(project, "main.m") / "_delta_log").exists()

    write_files(project.root, {"models/m.sql": "select i as id, i as amount from range(460) t(i)"})
    project.reload()
    assert project.run().outcome("main.m").status == "success"
    write_files(project.root, {"models/m.sql": "select 7 as id, i as amount from range(3) t(i)"})
    project.reload()
    again = project.run(full_refresh=True).outcome("main.m")
    assert again.status == "failed"
    assert "id=7 appears 3 times" in (again.message or "")
    assert delta(project, "main.m").version() == 0
    assert len(delta_rows(project, "main.m")) == 460
    root = table_path(project, "main.m")
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.parquet")}
    assert on_disk == set(delta(project, "main.m").file_uris()) or on_disk == {
        a["add"]["path"] for a in log_actions(project, "main.m", 0) if "add" in a
    }


def test_an_append_with_a_unique_key_never_vets_the_key(make_project):
    """`incremental_strategy: append` never merges on its unique_key: repeated keys (and null
    ones) in the first build are published, as on a full refresh."""
    project = make_project(
        {
            "seeds/sales.csv": "id,amt\n1,5\n1,6\n,1\n,2\n",
            "models/inc.sql": "select * from raw.sales",
            "models/inc.yml": (
                "materialized: incremental\nincremental_strategy: append\nunique_key: id\n"
            ),
        }
    )
    first = project.run()
    assert first.status == "success", first.outcome("main.inc").message
    assert len(delta_rows(project, "main.inc")) == 4
    assert project.run(full_refresh=True).status == "success"
    assert len(delta_rows(project, "main.inc")) == 4


def test_a_unique_key_spelt_in_another_case_names_the_repeated_key(make_project):
    """`unique_key: [ID, Year]` for columns `id`, `year`: the duplicate-key error, with the
    key's values (it was `internal error: KeyError`)."""
    project = make_project(
        {
            "seeds/sales.csv": "id,year\n1,2023\n1,2023\n2,2023\n",
            "models/inc.sql": "select * from raw.sales",
            "models/inc.yml": "materialized: incremental\nunique_key: [ID, Year]\n",
        }
    )
    outcome = project.run().outcome("main.inc")
    assert outcome.status == "failed"
    message = outcome.message or ""
    assert "unique_key (id, year) of main.inc is not unique in the built rows" in message
    assert "e.g. id=1, year=2023 appears 2 times" in message
    assert "KeyError" not in message
    assert not (table_path(project, "main.inc") / "_delta_log").exists()


def test_the_first_build_vets_the_key_of_the_rows_the_gate_publishes(make_project):
    """Rows a quarantine check sets aside are never published: a key repeated only because of
    them is not refused; one repeated among the published rows still is."""
    files = {
        "seeds/sales.csv": "id,name\n1,a\n1,\n2,b\n",
        "models/inc.sql": "select * from raw.sales",
        "models/inc.yml": (
            "materialized: incremental\nunique_key: id\n"
            "columns:\n  - name: name\n    checks: [{not_null: {on_fail: quarantine}}]\n"
        ),
    }
    project = make_project(files)
    outcome = project.run().outcome("main.inc")
    assert outcome.status == "success", outcome.message
    assert delta_rows(project, "main.inc", ["id", "name"]) == [(1, "a"), (2, "b")]
    assert len(project.quarantine("main.inc").to_pylist()) == 1

    write_files(project.root, {"seeds/sales.csv": "id,name\n1,a\n1,\n1,c\n"})
    project.reload()
    again = project.run(full_refresh=True).outcome("main.inc")
    assert again.status == "failed"
    assert "1 keys appear more than once, in 2 of 3 rows" in (again.message or "")
    assert "not counting the rows its checks quarantine" in (again.message or "")
    assert delta_rows(project, "main.inc", ["id", "name"]) == [(1, "a"), (2, "b")]


# -- schema evolution ----------------------------------------------------------------------


def test_merge_adds_a_new_column(make_project):
    header = "id,name,tier,amount,updated_at"
    start = [(1, "a", "gold", 1, "2024-01-01"), (2, "b", "silver", 2, "2024-01-01")]
    project = make_project(
        {
            "seeds/customers.csv": csv(header, start),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    project.run()
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                header,
                [
                    (1, "a2", "gold", 1, "2024-01-02"),  # update of a row in an old file
                    (2, "b", "silver", 2, "2024-01-01"),
                    (3, "c", "bronze", 3, "2024-01-02"),
                ],
            ),
            "models/inc/customers.sql": MERGE_SELECT.replace(
                "updated_at\n", "updated_at, length(name) as name_len\n"
            )
            + MERGE_FILTER,
        },
    )
    outcome = project.run().outcome("inc.customers")
    assert outcome.status == "success", outcome.message
    table = delta(project, "inc.customers").to_pyarrow_table()
    assert table.column_names == ["id", "name", "tier", "doubled", "updated_at", "name_len"]
    assert delta_rows(project, "inc.customers", ["id", "name", "name_len"]) == [
        (1, "a2", 2),
        (2, "b", None),
        (3, "c", 1),
    ]
    assert sorted(rows(project, "select id, name_len from inc.customers"), key=repr) == [
        (1, 2),
        (2, None),
        (3, 1),
    ]


def _change_amount_type(make_project, first: str, second: str):
    """Build inc.m with `amount` as `first`, then merge a new row with `amount` as `second`."""
    header = "id,name,tier,amount,updated_at"
    project = make_project(
        {
            "seeds/customers.csv": csv(header, [(1, "a", "gold", 1, "2024-01-01")]),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/m.sql": f"select id, {first} as amount, updated_at "
            "from raw.customers" + MERGE_FILTER,
            "models/inc/m.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    project.run()
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                header, [(1, "a", "gold", 1, "2024-01-01"), (2, "b", "gold", 2, "2024-01-02")]
            ),
            "models/inc/m.sql": f"select id, {second} as amount, updated_at "
            "from raw.customers" + MERGE_FILTER,
        },
    )
    return project, project.run().outcome("inc.m")


def test_a_wider_integer_is_refused_naming_the_column_and_both_types(make_project):
    # Delta cannot change a column's type in place (delta-rs casts to the table's type), so an
    # int column receiving bigint values is an error, not a silent overflow or a broken table.
    project, outcome = _change_amount_type(
        make_project, "amount::integer", "amount::bigint * 10000000000"
    )
    assert outcome.status == "failed"
    assert "column amount is int32 in the table but int64 in the new rows" in (
        outcome.message or ""
    )
    assert "--full-refresh" in (outcome.message or "")
    assert delta(project, "inc.m").version() == 0


def test_narrower_new_rows_are_cast_to_the_table_type(make_project):
    project, outcome = _change_amount_type(make_project, "amount::bigint", "amount::smallint")
    assert outcome.status == "success", outcome.message
    table = delta(project, "inc.m")
    assert pa.schema(table.schema().to_arrow()).field("amount").type == pa.int64()
    assert delta_rows(project, "inc.m", ["id", "amount"]) == [(1, 1), (2, 2)]


def test_merge_keeps_a_column_the_model_no_longer_selects(make_project):
    header = "id,name,tier,amount,updated_at"
    start = [(1, "a", "gold", 1, "2024-01-01"), (2, "b", "silver", 2, "2024-01-01")]
    project = make_project(
        {
            "seeds/customers.csv": csv(header, start),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": "materialized: incremental\nunique_key: id\n",
        }
    )
    project.run()
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                header,
                [
                    (1, "a2", "gold", 1, "2024-01-02"),  # update: the old row is replaced
                    (2, "b", "silver", 2, "2024-01-01"),
                    (3, "c", "bronze", 3, "2024-01-02"),  # insert
                ],
            ),
            "models/inc/customers.sql": MERGE_SELECT.replace("upper(tier) as tier, ", "")
            + MERGE_FILTER,
        },
    )
    outcome = project.run().outcome("inc.customers")
    assert outcome.status == "success", outcome.message
    assert outcome.message == "merged 2 rows, rewrote 1 files"
    table = delta(project, "inc.customers").to_pyarrow_table()
    assert table.column_names == ["id", "name", "tier", "doubled", "updated_at"]
    assert delta_rows(project, "inc.customers", ["id", "name", "tier"]) == [
        (1, "a2", None),
        (2, "b", "SILVER"),
        (3, "c", None),
    ]
    assert sorted(rows(project, "select id, tier from inc.customers"), key=repr) == [
        (1, None),
        (2, "SILVER"),
        (3, None),
    ]


@pytest.mark.parametrize("strategy", ["merge", "append"])
def test_incompatible_type_change_names_the_column_and_both_types(make_project, strategy):
    header = "id,name,tier,amount,updated_at"
    config = "materialized: incremental\n" + (
        "unique_key: id\n" if strategy == "merge" else "incremental_strategy: append\n"
    )
    project = make_project(
        {
            "seeds/customers.csv": csv(header, [(1, "a", "gold", 1, "2024-01-01")]),
            "seeds/customers.yml": CUSTOMER_TYPES,
            "models/inc/customers.sql": MERGE_SELECT + MERGE_FILTER,
            "models/inc/customers.yml": config,
        }
    )
    project.run()
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                header, [(1, "a", "gold", 1, "2024-01-01"), (2, "b", "gold", 2, "2024-01-02")]
            ),
            "models/inc/customers.sql": MERGE_SELECT.replace(
                "amount * 2 as doubled", "'x' || amount as doubled"
            )
            + MERGE_FILTER,
        },
    )
    summary = project.run()
    outcome = summary.outcome("inc.customers")
    assert outcome.status == "failed"
    message = outcome.message or ""
    assert "column doubled is int" in message
    assert "in the table but string in the new rows" in message
    assert "column doubled" in message
    assert delta(project, "inc.customers").version() == 0
    assert delta_rows(project, "inc.customers", ["id", "doubled"]) == [(1, 2)]
    # --full-refresh is the way out the hint names
    assert "--full-refresh" in message
    refreshed = project.run(full_refresh=True).outcome("inc.customers")
    assert refreshed.status == "success"
    assert delta_rows(project, "inc.customers", ["id", "doubled"]) == [(1, "x1"), (2, "x2")]


# -- merge rewrites only what it touches ---------------------------------------------------


def test_merge_rewrites_only_the_files_holding_changed_keys(make_project):
    regions = [f"r{i}" for i in range(8)]
    header = "id,region,amount,updated_at"
    start = [(i, regions[i % 8], i, "2024-01-01 00:00:00") for i in range(1, 81)]
    project = make_project(
        {
            "seeds/sales.csv": csv(header, start),
            "seeds/sales.yml": "columns:\n  - name: updated_at\n    type: TIMESTAMP\n",
            "models/inc/sales.sql": "select id, region, amount, updated_at from raw.sales"
            + MERGE_FILTER,
            "models/inc/sales.yml": "materialized: incremental\nunique_key: id\n"
            "partition_by: region\n",
            "models/full/sales.sql": "select id, region, amount, updated_at from raw.sales",
        }
    )
    project.run()
    before = current_files(project, "inc.sales")
    assert len(before) == 8

    # change the amount of one key (id 13 lives in r5)
    changed = [
        (i, r, 1000 if i == 13 else a, "2024-01-02 00:00:00" if i == 13 else u)
        for i, r, a, u in start
    ]
    edit(project, {"seeds/sales.csv": csv(header, changed)})
    outcome = project.run().outcome("inc.sales")
    assert outcome.status == "success", outcome.message
    assert outcome.message == "merged 1 rows, rewrote 1 files"
    adds, removes = adds_and_removes(project, "inc.sales", outcome.version)
    assert len(removes) == 1
    assert "region=r5" in removes[0]
    assert len(adds) == 1
    assert "region=r5" in adds[0]
    after = current_files(project, "inc.sales")
    assert len(before - after) == 1
    assert len(after - before) == 1
    assert delta_rows(project, "inc.sales") == delta_rows(project, "full.sales")

    # a pure insert touches no file at all
    inserted = [*changed, (81, "r0", 81, "2024-01-03 00:00:00")]
    edit(project, {"seeds/sales.csv": csv(header, inserted)})
    outcome = project.run().outcome("inc.sales")
    adds, removes = adds_and_removes(project, "inc.sales", outcome.version)
    assert removes == []
    assert len(adds) == 1
    assert outcome.message == "merged 1 rows, rewrote 0 files"
    assert delta_rows(project, "inc.sales") == delta_rows(project, "full.sales")

    # a row that moves to another partition: its old file is rewritten without it
    moved = [
        (i, "r7" if i == 2 else r, a, "2024-01-04 00:00:00" if i == 2 else u)
        for i, r, a, u in inserted
    ]
    edit(project, {"seeds/sales.csv": csv(header, moved)})
    outcome = project.run().outcome("inc.sales")
    adds, removes = adds_and_removes(project, "inc.sales", outcome.version)
    assert len(removes) == 1 and "region=r2" in removes[0]
    assert delta_rows(project, "inc.sales") == delta_rows(project, "full.sales")
    assert rows(project, "select region from inc.sales where id = 2") == [("r7",)]


def test_merge_on_partition_and_key_prunes_by_partition(make_project):
    header = "region,id,amount,updated_at"
    start = [(f"r{r}", i, r * 100 + i, "2024-01-01 00:00:00") for r in range(5) for i in range(10)]
    project = make_project(
        {
            "seeds/sales.csv": csv(header, start),
            "seeds/sales.yml": "columns:\n  - name: updated_at\n    type: TIMESTAMP\n",
            "models/inc/sales.sql": "select region, id, amount, updated_at from raw.sales"
            + MERGE_FILTER,
            "models/inc/sales.yml": "materialized: incremental\nunique_key: [region, id]\n"
            "partition_by: region\n",
            "models/full/sales.sql": "select region, id, amount, updated_at from raw.sales",
        }
    )
    project.run()
    # the same id (3) exists in every region: only the r1 file holds (r1, 3)
    changed = [
        (
            r,
            i,
            -1 if (r, i) == ("r1", 3) else a,
            "2024-01-02 00:00:00" if (r, i) == ("r1", 3) else u,
        )
        for r, i, a, u in start
    ]
    edit(project, {"seeds/sales.csv": csv(header, changed)})
    outcome = project.run().outcome("inc.sales")
    assert outcome.message == "merged 1 rows, rewrote 1 files"
    _, removes = adds_and_removes(project, "inc.sales", outcome.version)
    assert len(removes) == 1 and "region=r1" in removes[0]
    assert delta_rows(project, "inc.sales") == delta_rows(project, "full.sales")
    assert rows(project, "select count(*) from inc.sales where id = 3 and amount = -1") == [(1,)]


def test_a_null_key_is_one_key_and_merges_like_any_other(make_project):
    """NULL equals NULL for the merge, as for the duplicate check: no row piles up per run."""
    header = "region,id,qty"
    project = make_project(
        {
            "seeds/stock.csv": csv(header, [("north", 1, 10), ("", 2, 20), ("south", "", 30)]),
            "models/inc/stock.sql": "select region, id, qty from raw.stock",
            "models/inc/stock.yml": "materialized: incremental\nunique_key: [region, id]\n",
            "models/full/stock.sql": "select region, id, qty from raw.stock",
        }
    )
    project.run()
    for qty in (11, 12):
        state = [("north", 1, qty), ("", 2, 20 + qty), ("south", "", 30 + qty), ("west", 9, 1)]
        edit(project, {"seeds/stock.csv": csv(header, state)})
        outcome = project.run().outcome("inc.stock")
        assert outcome.status == "success", outcome.message
        assert delta_rows(project, "inc.stock") == delta_rows(project, "full.stock")
    assert len(delta_rows(project, "inc.stock")) == 4


def test_a_null_key_is_found_in_a_file_whose_statistics_exclude_the_change(make_project):
    # many files (one per partition): the NULL-key row lives in p=a whose ids span 1..3, and
    # the change's non-NULL ids (100) are outside that range
    header = "p,id,qty,updated_at"
    start = [("a", 1, 1, "2024-01-01"), ("a", 3, 1, "2024-01-01"), ("a", "", 1, "2024-01-01")]
    start += [("b", 100, 1, "2024-01-01"), ("b", 101, 1, "2024-01-01")]
    project = make_project(
        {
            "seeds/t.csv": csv(header, start),
            "seeds/t.yml": "columns:\n  - name: updated_at\n    type: TIMESTAMP\n",
            "models/inc/t.sql": "select p, id, qty, updated_at from raw.t" + MERGE_FILTER,
            "models/inc/t.yml": "materialized: incremental\nunique_key: id\npartition_by: p\n",
            "models/full/t.sql": "select p, id, qty, updated_at from raw.t",
        }
    )
    project.run()
    changed = [(p, i, 2, "2024-01-02") if i in ("", 100) else (p, i, q, u) for p, i, q, u in start]
    edit(project, {"seeds/t.csv": csv(header, changed)})
    outcome = project.run().outcome("inc.t")
    assert outcome.status == "success", outcome.message
    assert outcome.message == "merged 2 rows, rewrote 2 files"
    assert delta_rows(project, "inc.t") == delta_rows(project, "full.t")


def test_append_into_a_partitioned_table_writes_into_the_partitions(make_project):
    project = make_project(
        {
            "seeds/events.csv": "id,kind,amount\n1,a,1\n2,b,2\n",
            "models/events_inc.sql": APPEND_MODEL,
            "models/events_inc.yml": "materialized: incremental\npartition_by: kind\n",
        }
    )
    project.run()
    edit(project, {"seeds/events.csv": "id,kind,amount\n1,a,1\n2,b,2\n3,a,3\n4,c,4\n"})
    outcome = project.run().outcome("main.events_inc")
    assert outcome.message == "appended 2 rows"
    adds, removes = adds_and_removes(project, "main.events_inc", 1)
    assert removes == []
    assert sorted(a.split("/")[1] for a in adds) == ["kind=a", "kind=c"]
    table = delta(project, "main.events_inc")
    assert table.metadata().partition_columns == ["kind"]
    assert delta_rows(project, "main.events_inc") == [
        (1, "a", 10),
        (2, "b", 20),
        (3, "a", 30),
        (4, "c", 40),
    ]
    assert rows(project, "select sum(amount10) from main.events_inc where kind = 'a'") == [(40,)]
