"""SCD type 2 snapshots over three (and more) successive runs with updates and deletes.

Histories are asserted exactly, row by row: `valid_from`, `valid_to` and `is_current` of every
version of every key, read with delta-rs directly. Times that come from the run (the check
strategy, deletions, re-openings) are the run's start: equal for every row a run touched, and
inside that run's start and finish as the catalog recorded them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import rows, write_files

SNAPSHOT_KEY = "snap.customers_history"


def table_path(project: Project, key: str) -> Path:
    namespace, name = key.split(".")
    return project.definition.warehouse / namespace / name


def delta(project: Project, key: str) -> DeltaTable:
    return DeltaTable(str(table_path(project, key)))


def history_rows(project: Project, key: str, columns: list[str]) -> list[tuple[Any, ...]]:
    """Every row of the snapshot, ordered by key then valid_from, as tuples of `columns`."""
    table = delta(project, key).to_pyarrow_table()
    records = sorted(table.to_pylist(), key=lambda r: (r[columns[0]], r["valid_from"]))
    return [tuple(r[c] for c in columns) for r in records]


def edit(project: Project, files: dict[str, str]) -> None:
    write_files(project.root, files)
    project.reload()


def csv(header: str, records: list[tuple[Any, ...]]) -> str:
    return header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in records)


def run_window(project: Project, run_id: str) -> tuple[dt.datetime, dt.datetime]:
    """The run's start and finish from the catalog, as naive UTC like the snapshot's times."""
    run = project.catalog.run(run_id)
    assert run is not None
    started = dt.datetime.fromisoformat(run["started_at"]).astimezone(dt.UTC).replace(tzinfo=None)
    finished = dt.datetime.fromisoformat(run["finished_at"]).astimezone(dt.UTC).replace(tzinfo=None)
    return started, finished


def only_run_time(project: Project, run_id: str, values: list[dt.datetime]) -> dt.datetime:
    """Assert every value is the same run time inside the run's window, and return it."""
    assert len(set(values)) == 1, values
    moment = values[0]
    started, finished = run_window(project, run_id)
    assert started <= moment <= finished, (started, moment, finished)
    return moment


def day(n: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2024, month, n)


HEADER = "id,name,city,updated_at"
SEED_TYPES = """
columns:
  - name: id
    type: INTEGER
  - name: updated_at
    type: TIMESTAMP
"""
STABLE = [(i, f"n{i}", "oslo", "2024-01-01 00:00:00") for i in range(6, 11)]


def timestamp_project(make_project, extra_config: str = "") -> Project:
    return make_project(
        {
            "seeds/customers.csv": csv(
                HEADER,
                [
                    (1, "ann", "oslo", "2024-01-01 00:00:00"),
                    (2, "bob", "rome", "2024-01-01 00:00:00"),
                    (3, "cid", "paris", "2024-01-01 00:00:00"),
                    (4, "dan", "lima", "2024-01-01 00:00:00"),
                    *STABLE,
                ],
            ),
            "seeds/customers.yml": SEED_TYPES,
            "models/snap/customers_history.sql": "select id, name, city, updated_at "
            "from raw.customers",
            "models/snap/customers_history.yml": f"""
                materialized: snapshot
                unique_key: id
                snapshot:
                  strategy: timestamp
                  updated_at: updated_at
                {extra_config}
            """,
        }
    )


def test_timestamp_strategy_history_over_three_runs_with_updates_deletes_and_returns(make_project):
    project = timestamp_project(make_project)
    first = project.run()
    outcome = first.outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message
    assert outcome.message == "first snapshot"
    table = delta(project, SNAPSHOT_KEY).to_pyarrow_table()
    assert table.column_names == [
        "id",
        "name",
        "city",
        "updated_at",
        "valid_from",
        "valid_to",
        "is_current",
    ]
    assert [str(table.schema.field(c).type) for c in ("valid_from", "valid_to", "is_current")] == [
        "timestamp[us]",
        "timestamp[us]",
        "bool",
    ]
    cols = ["id", "city", "valid_from", "valid_to", "is_current"]
    assert history_rows(project, SNAPSHOT_KEY, cols)[:4] == [
        (1, "oslo", day(1), None, True),
        (2, "rome", day(1), None, True),
        (3, "paris", day(1), None, True),
        (4, "lima", day(1), None, True),
    ]

    # run 2: 1 moves, 2 is deleted, 5 is new
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                HEADER,
                [
                    (1, "ann", "bergen", "2024-02-01 00:00:00"),
                    (3, "cid", "paris", "2024-01-01 00:00:00"),
                    (4, "dan", "lima", "2024-01-01 00:00:00"),
                    (5, "eve", "kyiv", "2024-02-01 00:00:00"),
                    *STABLE,
                ],
            )
        },
    )
    second = project.run()
    outcome = second.outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message
    assert outcome.version == 1
    history = history_rows(project, SNAPSHOT_KEY, cols)
    deleted_at = history[2][3]
    t2 = only_run_time(project, second.run_id, [deleted_at])
    assert history[:6] == [
        (1, "oslo", day(1), day(1, 2), False),
        (1, "bergen", day(1, 2), None, True),
        (2, "rome", day(1), t2, False),
        (3, "paris", day(1), None, True),
        (4, "lima", day(1), None, True),
        (5, "kyiv", day(1, 2), None, True),
    ]

    # run 3: 1 moves again, 2 comes back unchanged, 3 is deleted, 5 moves
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                HEADER,
                [
                    (1, "ann", "tromso", "2024-03-01 00:00:00"),
                    (2, "bob", "rome", "2024-01-01 00:00:00"),
                    (4, "dan", "lima", "2024-01-01 00:00:00"),
                    (5, "eve", "lviv", "2024-03-01 00:00:00"),
                    *STABLE,
                ],
            )
        },
    )
    third = project.run()
    outcome = third.outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message
    assert outcome.version == 2
    history = history_rows(project, SNAPSHOT_KEY, cols)
    reopened_at, closed_at = history[4][2], history[5][3]
    t3 = only_run_time(project, third.run_id, [reopened_at, closed_at])
    assert t3 > t2
    assert history == [
        (1, "oslo", day(1), day(1, 2), False),
        (1, "bergen", day(1, 2), day(1, 3), False),
        (1, "tromso", day(1, 3), None, True),
        (2, "rome", day(1), t2, False),
        (2, "rome", t3, None, True),  # re-opened as a new current row
        (3, "paris", day(1), t3, False),  # closed out
        (4, "lima", day(1), None, True),
        (5, "kyiv", day(1, 2), day(1, 3), False),
        (5, "lviv", day(1, 3), None, True),
        *[(i, "oslo", day(1), None, True) for i in range(6, 11)],
    ]
    # exactly one current row per key still in the source, none for deleted keys
    current = rows(project, f"select id from {SNAPSHOT_KEY} where is_current order by id")
    assert current == [(1,), (2,), (4,), (5,), *[(i,) for i in range(6, 11)]]
    # Headwater's reader agrees with delta-rs
    assert (
        sorted(
            rows(project, f"select id, city, valid_from, valid_to, is_current from {SNAPSHOT_KEY}"),
            key=lambda r: (r[0], r[2]),
        )
        == history
    )

    # one commit per run, each carrying its run id
    versions = {h["version"]: h["headwater.run_id"] for h in delta(project, SNAPSHOT_KEY).history()}
    assert versions == {0: first.run_id, 1: second.run_id, 2: third.run_id}

    # time travel shows the history as it was after run 2
    old = project.query(
        f"select id, city, is_current from {SNAPSHOT_KEY} order by id, valid_from", as_of=1
    )
    assert [tuple(r.values()) for r in old.to_pylist()][:6] == [
        (1, "oslo", False),
        (1, "bergen", True),
        (2, "rome", False),
        (3, "paris", True),
        (4, "lima", True),
        (5, "kyiv", True),
    ]


def test_timestamp_strategy_ignores_changes_without_a_newer_updated_at(make_project):
    project = timestamp_project(make_project)
    project.run()
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                HEADER,
                [
                    (1, "ann", "CHANGED", "2024-01-01 00:00:00"),  # same updated_at
                    (2, "bob", "rome", "2024-01-01 00:00:00"),
                    (3, "cid", "paris", "2024-01-01 00:00:00"),
                    (4, "dan", "lima", "2024-01-01 00:00:00"),
                    *STABLE,
                ],
            )
        },
    )
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "success"
    assert outcome.message == "no changes"
    assert delta(project, SNAPSHOT_KEY).version() == 0


CHECK_SQL = "select id, name, city from raw.customers"


def check_project(make_project, check_cols: str = "all") -> Project:
    return make_project(
        {
            "seeds/customers.csv": csv(
                "id,name,city",
                [
                    (1, "ann", "oslo"),
                    (2, "bob", "rome"),
                    (3, "cid", ""),
                    *[(i, f"n{i}", "x") for i in range(4, 9)],
                ],
            ),
            "seeds/customers.yml": "columns:\n  - name: id\n    type: INTEGER\n",
            "models/snap/customers_history.sql": CHECK_SQL,
            "models/snap/customers_history.yml": f"""
                materialized: snapshot
                unique_key: id
                snapshot:
                  strategy: check
                  check_cols: {check_cols}
            """,
        }
    )


def test_check_strategy_history_over_three_runs(make_project):
    project = check_project(make_project)
    first = project.run()
    assert first.outcome(SNAPSHOT_KEY).status == "success"
    cols = ["id", "name", "city", "valid_from", "valid_to", "is_current"]
    history = history_rows(project, SNAPSHOT_KEY, cols)
    t1 = only_run_time(project, first.run_id, [r[3] for r in history])
    assert history[:3] == [
        (1, "ann", "oslo", t1, None, True),
        (2, "bob", "rome", t1, None, True),
        (3, "cid", None, t1, None, True),  # an empty CSV field is NULL
    ]

    stable = [(i, f"n{i}", "x") for i in range(4, 9)]
    # run 2: 1 renamed, 3 gets a city (NULL -> value is a change), 2 deleted
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city", [(1, "anna", "oslo"), (3, "cid", "nice"), *stable]
            )
        },
    )
    second = project.run()
    assert second.outcome(SNAPSHOT_KEY).status == "success", second.outcome(SNAPSHOT_KEY).message
    history = history_rows(project, SNAPSHOT_KEY, cols)
    t2 = only_run_time(project, second.run_id, [history[0][4], history[2][4], history[3][4]])
    assert history[:5] == [
        (1, "ann", "oslo", t1, t2, False),
        (1, "anna", "oslo", t2, None, True),
        (2, "bob", "rome", t1, t2, False),
        (3, "cid", None, t1, t2, False),
        (3, "cid", "nice", t2, None, True),
    ]

    # run 3: 2 comes back with a new city, 1 deleted, 3 unchanged
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city", [(2, "bob", "milan"), (3, "cid", "nice"), *stable]
            )
        },
    )
    third = project.run()
    assert third.outcome(SNAPSHOT_KEY).status == "success", third.outcome(SNAPSHOT_KEY).message
    history = history_rows(project, SNAPSHOT_KEY, cols)
    t3 = only_run_time(project, third.run_id, [history[1][4], history[3][3]])
    assert t1 < t2 < t3
    assert history == [
        (1, "ann", "oslo", t1, t2, False),
        (1, "anna", "oslo", t2, t3, False),
        (2, "bob", "rome", t1, t2, False),
        (2, "bob", "milan", t3, None, True),
        (3, "cid", None, t1, t2, False),
        (3, "cid", "nice", t2, None, True),
        *[(i, f"n{i}", "x", t1, None, True) for i in range(4, 9)],
    ]


def test_check_strategy_compares_only_the_listed_columns(make_project):
    project = check_project(make_project, check_cols="[city]")
    project.run()
    stable = [(i, f"n{i}", "x") for i in range(4, 9)]
    # the name of 1 changes (not checked), the city of 2 changes (checked)
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city", [(1, "anna", "oslo"), (2, "bob", "turin"), (3, "cid", ""), *stable]
            )
        },
    )
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message
    history = history_rows(project, SNAPSHOT_KEY, ["id", "name", "city", "is_current"])
    assert history[:4] == [
        (1, "ann", "oslo", True),  # unchanged: the name is not compared, the old name stays
        (2, "bob", "rome", False),
        (2, "bob", "turin", True),
        (3, "cid", None, True),
    ]


def test_compound_key_snapshot(make_project):
    header = "region,id,qty"
    stable = [("west", i, i) for i in range(10)]
    project = make_project(
        {
            "seeds/stock.csv": csv(
                header, [("north", 1, 10), ("south", 1, 20), ("north", 2, 30), *stable]
            ),
            "models/snap/stock_history.sql": "select region, id, qty from raw.stock",
            "models/snap/stock_history.yml": """
                materialized: snapshot
                unique_key: [region, id]
                snapshot:
                  strategy: check
            """,
        }
    )
    key = "snap.stock_history"
    first = project.run()
    assert first.outcome(key).status == "success"
    # (north, 1) changes, (south, 1) with the same id does not; (north, 2) is deleted
    edit(project, {"seeds/stock.csv": csv(header, [("north", 1, 11), ("south", 1, 20), *stable])})
    second = project.run()
    assert second.outcome(key).status == "success", second.outcome(key).message
    # (north, 2) comes back; (south, 1) changes
    edit(
        project,
        {
            "seeds/stock.csv": csv(
                header, [("north", 1, 11), ("south", 1, 21), ("north", 2, 30), *stable]
            )
        },
    )
    third = project.run()
    assert third.outcome(key).status == "success", third.outcome(key).message

    table = delta(project, key).to_pyarrow_table().to_pylist()
    times = sorted({r["valid_from"] for r in table})
    assert len(times) == 3
    t1, t2, t3 = times
    only_run_time(project, first.run_id, [t1])
    only_run_time(project, second.run_id, [t2])
    only_run_time(project, third.run_id, [t3])
    got = sorted(
        (r["region"], r["id"], r["qty"], r["valid_from"], r["valid_to"], r["is_current"])
        for r in table
        if r["region"] != "west"
    )
    assert got == [
        ("north", 1, 10, t1, t2, False),
        ("north", 1, 11, t2, None, True),
        ("north", 2, 30, t1, t2, False),
        ("north", 2, 30, t3, None, True),
        ("south", 1, 20, t1, t3, False),
        ("south", 1, 21, t3, None, True),
    ]
    assert all(r["is_current"] and r["valid_to"] is None for r in table if r["region"] == "west")


# -- the guard -----------------------------------------------------------------------------


def test_guard_refuses_to_end_date_most_current_rows_and_a_raised_share_lets_it_pass(make_project):
    project = timestamp_project(make_project)
    project.run()
    before = history_rows(project, SNAPSHOT_KEY, ["id", "valid_from", "valid_to", "is_current"])

    # the source is emptied (an upstream load went wrong): every current row would be closed
    edit(project, {"seeds/customers.csv": HEADER + "\n"})
    summary = project.run()
    outcome = summary.outcome(SNAPSHOT_KEY)
    assert outcome.status == "failed"
    assert summary.status == "failed"
    message = outcome.message or ""
    assert (
        "snapshot would end-date 9 of 9 current rows (100%), more than max_close_share 50%"
        in message
    )
    assert "nothing was written" in message
    assert "max_close_share" in message
    assert delta(project, SNAPSHOT_KEY).version() == 0
    assert (
        history_rows(project, SNAPSHOT_KEY, ["id", "valid_from", "valid_to", "is_current"])
        == before
    )

    # truncated rather than empty: 3 of 9 left, 6 would close (67%) - still refused
    edit(project, {"seeds/customers.csv": csv(HEADER, STABLE[:3])})
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "failed"
    assert "end-date 6 of 9 current rows (67%)" in (outcome.message or "")
    assert delta(project, SNAPSHOT_KEY).version() == 0

    # the deletion is real: raise the share in the sidecar and it goes through
    edit(
        project,
        {
            "seeds/customers.csv": HEADER + "\n",
            "models/snap/customers_history.yml": """
                materialized: snapshot
                unique_key: id
                snapshot:
                  strategy: timestamp
                  updated_at: updated_at
                  max_close_share: 1.0
            """,
        },
    )
    summary = project.run()
    outcome = summary.outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message
    assert delta(project, SNAPSHOT_KEY).version() == 1
    history = history_rows(project, SNAPSHOT_KEY, ["id", "valid_from", "valid_to", "is_current"])
    closed_at = only_run_time(project, summary.run_id, [r[2] for r in history])
    assert history == [(r[0], r[1], closed_at, False) for r in before]


def test_guard_uses_the_project_default_share(make_project):
    project = make_project(
        {
            "headwater.yml": "name: test\ndefaults:\n  snapshot:\n    max_close_share: 0.2\n",
            "seeds/customers.csv": csv("id,name,city", [(i, f"n{i}", "x") for i in range(10)]),
            "models/snap/customers_history.sql": CHECK_SQL,
            "models/snap/customers_history.yml": """
                materialized: snapshot
                unique_key: id
                snapshot:
                  strategy: check
            """,
        }
    )
    project.run()
    # 3 of 10 change (30% > 20%)
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city", [(i, f"n{i}", "y" if i < 3 else "x") for i in range(10)]
            )
        },
    )
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "failed"
    assert "end-date 3 of 10 current rows (30%), more than max_close_share 20%" in (
        outcome.message or ""
    )
    # 2 of 10 (20%) is allowed
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city", [(i, f"n{i}", "y" if i < 2 else "x") for i in range(10)]
            )
        },
    )
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message


# -- no change, bad sources ----------------------------------------------------------------


def test_a_run_with_no_change_writes_nothing(make_project):
    project = check_project(make_project)
    project.run()
    before = history_rows(
        project, SNAPSHOT_KEY, ["id", "name", "city", "valid_from", "valid_to", "is_current"]
    )
    summary = project.run(force=True)
    outcome = summary.outcome(SNAPSHOT_KEY)
    assert outcome.status == "success"
    assert outcome.message == "no changes"
    assert outcome.version == 0
    assert delta(project, SNAPSHOT_KEY).version() == 0
    assert (
        history_rows(
            project, SNAPSHOT_KEY, ["id", "name", "city", "valid_from", "valid_to", "is_current"]
        )
        == before
    )
    # and an unforced run does not even look
    assert project.run().outcome(SNAPSHOT_KEY).status == "up_to_date"


def test_duplicate_keys_in_the_source_are_refused(make_project):
    project = check_project(make_project)
    project.run()
    edit(
        project,
        {"seeds/customers.csv": csv("id,name,city", [(1, "ann", "oslo"), (1, "ann", "rome")])},
    )
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "failed"
    assert "the snapshot source holds the same unique_key more than once: id=1" in (
        outcome.message or ""
    )
    assert delta(project, SNAPSHOT_KEY).version() == 0


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "select id, name, city, now() as valid_from from raw.customers",
            "already has column valid_from",
        ),
        (
            # an unnamed column keeps the output unknown until the build
            "select name, city, upper(name) from raw.customers",
            "the snapshot source has no column id",
        ),
    ],
)
def test_invalid_sources_are_explained(make_project, sql, expected):
    project = check_project(make_project)
    edit(project, {"models/snap/customers_history.sql": sql})
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "failed"
    assert expected in (outcome.message or "")
    assert not (table_path(project, SNAPSHOT_KEY) / "_delta_log").exists()


def test_unique_key_the_source_lacks_is_a_config_error_at_its_yaml_line(make_project):
    """Known from the SELECT list, before anything is built."""
    from headwater.errors import ConfigError

    project = check_project(make_project)
    edit(project, {"models/snap/customers_history.sql": "select name, city from raw.customers"})
    with pytest.raises(ConfigError) as info:
        _ = project.definition
    assert info.value.location.file == "models/snap/customers_history.yml"
    assert info.value.location.line == 2
    assert "unique_key of snap.customers_history names column 'id'" in info.value.message


def test_a_column_the_source_gains_does_not_break_the_comparison(make_project):
    """The check strategy must not reference the new column on the stored side."""
    project = check_project(make_project)
    project.run()
    stable = [(i, f"n{i}", "x", "") for i in range(4, 9)]
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city,email",
                [(1, "ann", "oslo", "a@x"), (2, "bob", "rome", ""), (3, "cid", "", ""), *stable],
            ),
            "models/snap/customers_history.sql": "select id, name, city, email from raw.customers",
        },
    )
    outcome = project.run().outcome(SNAPSHOT_KEY)
    assert outcome.status == "success", outcome.message
    # only key 1 has a value in the new column: it is the one row that changed
    assert outcome.message is not None and outcome.message.startswith("2 rows changed")
    # the new column arrives in an ADD COLUMNS commit of its own, then the data commit
    history = delta(project, SNAPSHOT_KEY).history()
    assert [h["version"] for h in history[:2]] == [2, 1]
    assert history[1]["operation"] == "ADD COLUMN"
    assert history[0]["headwater.run_id"] == history[1]["headwater.run_id"]


def test_a_column_the_source_gains_is_added_to_the_snapshot(make_project):
    project = check_project(make_project)
    first = project.run()
    stable = [(i, f"n{i}", "x", "") for i in range(4, 9)]
    edit(
        project,
        {
            "seeds/customers.csv": csv(
                "id,name,city,email",
                [(1, "ann", "oslo", "a@x"), (2, "bob", "rome", ""), (3, "cid", "", ""), *stable],
            ),
            "models/snap/customers_history.sql": "select id, name, city, email from raw.customers",
        },
    )
    second = project.run()
    assert second.outcome(SNAPSHOT_KEY).status == "success"
    cols = ["id", "email", "valid_from", "valid_to", "is_current"]
    history = history_rows(project, SNAPSHOT_KEY, cols)
    t1 = only_run_time(project, first.run_id, [history[0][2]])
    t2 = only_run_time(project, second.run_id, [history[0][3]])
    assert history[:4] == [
        (1, None, t1, t2, False),
        (1, "a@x", t2, None, True),
        (2, None, t1, None, True),
        (3, None, t1, None, True),
    ]
    # a third run with no change writes nothing: the new column is now stored
    outcome = project.run(force=True).outcome(SNAPSHOT_KEY)
    assert outcome.message == "no changes"


def test_a_null_key_is_tracked_like_any_other_key(make_project):
    header = "region,id,qty"
    stable = [("west", i, i) for i in range(10)]
    project = make_project(
        {
            "seeds/stock.csv": csv(header, [("north", "", 10), *stable]),
            "models/snap/stock_history.sql": "select region, id, qty from raw.stock",
            "models/snap/stock_history.yml": """
                materialized: snapshot
                unique_key: [region, id]
                snapshot:
                  strategy: check
            """,
        }
    )
    key = "snap.stock_history"
    project.run()
    # unchanged: nothing is written, the NULL-key row is not closed and re-opened
    outcome = project.run(force=True).outcome(key)
    assert outcome.message == "no changes"
    edit(project, {"seeds/stock.csv": csv(header, [("north", "", 11), *stable])})
    outcome = project.run().outcome(key)
    assert outcome.status == "success", outcome.message
    got = sorted(
        (r["qty"], r["is_current"])
        for r in delta(project, key).to_pyarrow_table().to_pylist()
        if r["region"] == "north"
    )
    assert got == [(10, False), (11, True)]
