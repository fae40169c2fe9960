"""Every materialization built on Spark through the normal builders, checked value by value and
against the same project built on DuckDB: views, tables, ephemerals, incremental append and
merge (run twice), SCD2 snapshots, partitioned tables, checks, contracts and quarantine, schema
widening; a project mixing engines per folder and per model; and a model using a DuckDB
function Spark lacks. Tables are read with delta-rs directly, not through Headwater."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater import Project
from tests.conftest import run_cli, write_files
from tests.support.spark import connect_client_installed, start_connect_server

pytestmark = pytest.mark.usefixtures("spark_session")

CUSTOMERS = "id,name,city\n1,ann,oslo\n2,bob,rome\n3,cid,paris\n4,dan,lima\n"
ORDERS = (
    "id,customer_id,amount,status,ordered_at\n"
    "1,1,10.50,paid,2024-01-01 10:00:00\n"
    "2,1,5.25,paid,2024-01-02 11:30:00\n"
    "3,2,7.00,open,2024-01-02 12:00:00\n"
    "4,3,-1.00,paid,2024-01-03 09:00:00\n"
    "5,,3.10,void,2024-01-03 18:45:00\n"
)
ORDERS_LATER = (
    "id,customer_id,amount,status,ordered_at\n"
    "1,1,10.50,paid,2024-01-01 10:00:00\n"
    "2,1,6.25,refunded,2024-01-02 11:30:00\n"
    "3,2,7.00,paid,2024-01-02 12:00:00\n"
    "4,3,-1.00,paid,2024-01-03 09:00:00\n"
    "5,,3.10,void,2024-01-03 18:45:00\n"
    "6,4,12.00,open,2024-01-04 08:00:00\n"
    "7,2,1.99,,2024-01-05 08:00:00\n"
)
ORDER_TYPES = """
columns:
  - {name: id, type: INTEGER}
  - {name: customer_id, type: INTEGER}
  - {name: amount, type: 'DECIMAL(10,2)'}
  - {name: ordered_at, type: TIMESTAMP}
"""

FILES = {
    "seeds/customers.csv": CUSTOMERS,
    "seeds/orders.csv": ORDERS,
    "seeds/orders.yml": ORDER_TYPES,
    # a view over a seed, and an ephemeral inlined where it is read
    "models/staging/orders.sql": "select id, customer_id, amount, status, ordered_at, "
    "cast(ordered_at as date) as order_day from raw.orders",
    "models/staging/orders.yml": "materialized: view\n",
    "models/staging/customers.sql": "select id, upper(name) as name, city from raw.customers",
    "models/staging/customers.yml": "materialized: ephemeral\n",
    # a table with checks and an enforced contract
    "models/marts/customer_totals.sql": """
        select c.id, c.name, count(o.id) as orders, sum(o.amount) as total,
               avg(o.amount) as mean, max(o.ordered_at) as last_order,
               row_number() over (order by c.id) as position
        from staging.customers as c left join staging.orders as o on o.customer_id = c.id
        group by c.id, c.name
    """,
    "models/marts/customer_totals.yml": """
        contract: enforced
        columns:
          - {name: id, type: BIGINT, nullable: false, checks: [unique]}
          - {name: name, type: VARCHAR, checks: [{accepted_values: {values: [ANN, BOB, CID, DAN]}}]}
          - {name: orders, type: BIGINT}
          - {name: total, type: 'DECIMAL(38,2)'}
          - {name: mean, type: DOUBLE}
          - {name: last_order, type: TIMESTAMP}
          - {name: position, type: BIGINT}
        checks:
          - {row_count: {min: 1}}
          - {expression: {sql: "orders >= 0"}}
    """,
    # incremental: append new ids; merge changed rows on the key (schema widened later)
    "models/marts/orders_appended.sql": """
        select id, customer_id, amount, ordered_at from staging.orders
        {% if is_incremental() %} where id > (select max(id) from {{ this }}) {% endif %}
    """,
    "models/marts/orders_appended.yml": "materialized: incremental\n",
    "models/marts/orders_merged.sql": "select id, status, amount from staging.orders",
    "models/marts/orders_merged.yml": "materialized: incremental\nunique_key: id\n",
    # SCD2 history of the orders' status
    "models/snap/order_status.sql": "select id, status from staging.orders",
    "models/snap/order_status.yml": """
        materialized: snapshot
        unique_key: id
        snapshot: {strategy: check, check_cols: all, invalidate_hard_deletes: true}
    """,
    # partitioned by a column holding a NULL, with rows quarantined by a check
    "models/marts/orders_by_status.sql": "select id, status, amount, order_day from staging.orders",
    "models/marts/orders_by_status.yml": """
        partition_by: [status]
        columns:
          - name: amount
            checks: [{range: {min: 0, on_fail: quarantine}}]
    """,
}
TABLES = [
    "marts.customer_totals",
    "marts.orders_appended",
    "marts.orders_merged",
    "snap.order_status",
    "marts.orders_by_status",
    "marts.orders_by_status__quarantine",
]


def delta_table(project: Project, key: str) -> pa.Table:
    namespace, name = key.split(".")
    return DeltaTable(str(project.definition.warehouse / namespace / name)).to_pyarrow_table()


def data_files(project: Project, key: str) -> list[str]:
    namespace, name = key.split(".")
    table = DeltaTable(str(project.definition.warehouse / namespace / name))
    return [Path(uri).name for uri in table.file_uris()]


def written_by_spark(project: Project, key: str) -> bool:
    """Whether the table's files are Spark's (`part-00000-<uuid>[-.]c000...`), not DuckDB's
    (`part-<uuid>.parquet`)."""
    names = data_files(project, key)
    assert names, key
    return all(re.match(r"part-\d{5}-[0-9a-f-]{36}[-.]c\d{3}\.", n) for n in names)


def sorted_rows(table: pa.Table, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    names = [n for n in table.column_names if n not in drop]
    found = table.select(names).to_pylist()
    for row in found:
        if isinstance(row.get("raw"), str):
            # a quarantined row as JSON: Spark spells the decimal -1.00 where DuckDB has -1.0
            row["raw"] = json.loads(row["raw"])
    return sorted(found, key=repr)


@dataclass
class Built:
    """A project built twice (the second time after the orders changed)."""

    project: Project
    second: dict[str, str | None]
    """The second run's message of each asset."""


def build_twice(root: Path, config: str, files: dict[str, str] | None = None) -> Built:
    write_files(
        root, {"headwater.yml": f"name: test\nthreads: 2\n{config}", **FILES, **(files or {})}
    )
    project = Project(root)
    first = project.run()
    assert first.status == "success", "\n".join(f"{o.key}: {o.message}" for o in first.outcomes)
    write_files(project.root, {"seeds/orders.csv": ORDERS_LATER})
    project.reload()
    second = project.run()
    assert second.status == "success", "\n".join(f"{o.key}: {o.message}" for o in second.outcomes)
    return Built(project, {o.key: o.message for o in second.outcomes})


@pytest.fixture(scope="module")
def builds(
    tmp_path_factory: pytest.TempPathFactory, spark_session: Any
) -> Iterator[dict[str, Built]]:
    """The project built on Spark, on DuckDB, and mixed: staging on DuckDB (the project's
    engine), marts on Spark (`models: {marts: {engine: spark}}`) except one mart switched
    back to DuckDB in its sidecar."""
    root = tmp_path_factory.mktemp("spark-builds")
    built = {
        "spark": build_twice(root / "spark", "engine: spark\n"),
        "duckdb": build_twice(root / "duckdb", ""),
        "mixed": build_twice(
            root / "mixed",
            "models:\n  marts: {engine: spark}\n",
            {
                "models/marts/orders_merged.yml": "materialized: incremental\nunique_key: id\n"
                "engine: duckdb\n"
            },
        ),
    }
    yield built
    for each in built.values():
        each.project.close()


def test_every_materialization_builds_on_spark(builds: dict[str, Built]) -> None:
    spark = builds["spark"].project
    assert all(written_by_spark(spark, key) for key in TABLES[:-1])
    totals = delta_table(spark, "marts.customer_totals")
    assert sorted_rows(totals, drop=("mean",)) == [
        {
            "id": 1,
            "name": "ANN",
            "orders": 2,
            "total": decimal.Decimal("16.75"),
            "last_order": dt.datetime(2024, 1, 2, 11, 30),
            "position": 1,
        },
        {
            "id": 2,
            "name": "BOB",
            "orders": 2,
            "total": decimal.Decimal("8.99"),
            "last_order": dt.datetime(2024, 1, 5, 8),
            "position": 2,
        },
        {
            "id": 3,
            "name": "CID",
            "orders": 1,
            "total": decimal.Decimal("-1.00"),
            "last_order": dt.datetime(2024, 1, 3, 9),
            "position": 3,
        },
        {
            "id": 4,
            "name": "DAN",
            "orders": 1,
            "total": decimal.Decimal("12.00"),
            "last_order": dt.datetime(2024, 1, 4, 8),
            "position": 4,
        },
    ]
    assert sorted(totals.column("mean").to_pylist()) == pytest.approx([-1.0, 4.495, 8.375, 12.0])
    appended = delta_table(spark, "marts.orders_appended")
    assert sorted(appended.column("id").to_pylist()) == [1, 2, 3, 4, 5, 6, 7]
    assert builds["spark"].second["marts.orders_appended"] == "appended 2 rows"
    # the second run merged the changed and new rows on the key
    merged = delta_table(spark, "marts.orders_merged")
    assert builds["spark"].second["marts.orders_merged"].startswith("merged 7 rows")
    assert {r["id"]: (r["status"], r["amount"]) for r in merged.to_pylist()} == {
        1: ("paid", decimal.Decimal("10.50")),
        2: ("refunded", decimal.Decimal("6.25")),
        3: ("paid", decimal.Decimal("7.00")),
        4: ("paid", decimal.Decimal("-1.00")),
        5: ("void", decimal.Decimal("3.10")),
        6: ("open", decimal.Decimal("12.00")),
        7: (None, decimal.Decimal("1.99")),
    }
    status = delta_table(spark, "snap.order_status")
    assert sorted((r["id"], r["status"], r["is_current"]) for r in status.to_pylist()) == [
        (1, "paid", True),
        (2, "paid", False),
        (2, "refunded", True),
        (3, "open", False),
        (3, "paid", True),
        (4, "paid", True),
        (5, "void", True),
        (6, "open", True),
        (7, None, True),
    ]
    closed = [r for r in status.to_pylist() if not r["is_current"]]
    assert all(r["valid_to"] is not None and r["valid_to"] > r["valid_from"] for r in closed)
    by_status = delta_table(spark, "marts.orders_by_status")
    assert sorted(r["id"] for r in by_status.to_pylist()) == [1, 2, 3, 5, 6, 7]  # 4 < 0
    folders = {
        Path(u).parent.name
        for u in DeltaTable(
            str(spark.definition.warehouse / "marts" / "orders_by_status")
        ).file_uris()
    }
    assert "status=__HIVE_DEFAULT_PARTITION__" in folders and "status=paid" in folders
    quarantined = delta_table(spark, "marts.orders_by_status__quarantine")
    # set aside by each of the two runs
    assert [(r["column"], json.loads(r["raw"])["id"]) for r in quarantined.to_pylist()] == [
        ("amount", 4),
        ("amount", 4),
    ]


MOVING = ("valid_from", "valid_to", "quarantined_at", "run_id", "mean")
"""Columns that differ between two builds: times of the run, the run's id, and a mean Spark
computes over decimals (DECIMAL then DOUBLE) where DuckDB averages in DOUBLE (last bits)."""


@pytest.mark.parametrize("variant", ["spark", "mixed"])
def test_the_tables_equal_an_all_duckdb_build(builds: dict[str, Built], variant: str) -> None:
    ours, duckdb = builds[variant].project, builds["duckdb"].project
    for key in TABLES:
        mine, theirs = delta_table(ours, key), delta_table(duckdb, key)
        assert mine.schema == theirs.schema, key
        assert sorted_rows(mine, MOVING) == sorted_rows(theirs, MOVING), key
        means = sorted(mine.column("mean").to_pylist()) if "mean" in mine.column_names else []
        if means:
            assert means == pytest.approx(sorted(theirs.column("mean").to_pylist()), rel=1e-12)


def test_a_mixed_project_builds_each_model_on_its_engine(builds: dict[str, Built]) -> None:
    mixed = builds["mixed"].project
    assert written_by_spark(mixed, "marts.customer_totals")
    assert written_by_spark(mixed, "marts.orders_appended")
    # switched back to DuckDB in its sidecar; the snapshot is not under marts/
    assert not written_by_spark(mixed, "marts.orders_merged")
    assert not written_by_spark(mixed, "snap.order_status")


def test_spark_leaves_nothing_in_the_warehouse_but_committed_files(
    builds: dict[str, Built],
) -> None:
    warehouse: Path = builds["spark"].project.definition.warehouse
    stray = [
        p.name
        for p in warehouse.rglob("*")
        if p.is_file() and (p.suffix == ".crc" or p.name.startswith(("_SUCCESS", "._")))
    ]
    assert stray == []


def test_a_duckdb_only_function_fails_naming_model_file_and_function(
    make_project: Any,
) -> None:
    project = make_project(
        {
            "models/marts/names.sql": "select jaro_winkler_similarity('ann', 'anne') as score",
            "models/marts/fine.sql": "select 1 as id",
        },
        config="engine: spark\n",
    )
    result = project.run()
    outcome = result.outcome("marts.names")
    assert outcome.status == "failed"
    assert (outcome.message or "").startswith(
        "models/marts/names.sql, asset marts.names: model marts.names uses the DuckDB function "
        "jaro_winkler_similarity(), which Spark has no equivalent of"
    )
    assert "engine: duckdb" in (outcome.message or "")  # how to build it instead
    assert result.outcome("marts.fine").status == "success"


def test_an_incremental_model_on_spark_widens_its_table(make_project: Any) -> None:
    model = """
        select cast(id as {kind}) as id, name{extra} from raw.people
        {{% if is_incremental() %}} where id > (select max(id) from {{{{ this }}}}) {{% endif %}}
    """
    project = make_project(
        {
            "seeds/people.csv": "id,name\n1,ann\n2,bob\n",
            "models/marts/people.sql": model.format(kind="integer", extra=""),
            "models/marts/people.yml": "materialized: incremental\n",
        },
        config="engine: spark\n",
    )
    assert project.run().status == "success"
    # a new column, and ids that come out narrower than the table's (SMALLINT into INTEGER)
    write_files(
        project.root,
        {
            "seeds/people.csv": "id,name\n1,ann\n2,bob\n3,cid\n",
            "models/marts/people.sql": model.format(kind="smallint", extra=", 'x' as tag"),
        },
    )
    project.reload()
    outcome = project.run().outcome("marts.people")
    assert outcome.status == "success", outcome.message
    assert (outcome.message or "").startswith("appended 1 rows")
    table = delta_table(project, "marts.people")
    assert table.schema == pa.schema(
        [("id", pa.int32()), ("name", pa.string()), ("tag", pa.string())]
    )
    assert sorted_rows(table) == [
        {"id": 1, "name": "ann", "tag": None},
        {"id": 2, "name": "bob", "tag": None},
        {"id": 3, "name": "cid", "tag": "x"},
    ]


DAILY_SQL = """
    select day, count(*) as events, sum(amount) as amount from raw.events
    where day >= {{ partition_start }} and day < {{ partition_end }}
    group by day
"""
DAILY = "partitions: {column: day, grain: daily, start: 2024-05-01, end: 2024-05-31}\n"


def test_partitions_build_and_replace_their_slice_on_spark(make_project: Any) -> None:
    events = "id,day,amount\n" + "".join(
        f"{i},{dt.date(2024, 5, 1) + dt.timedelta(days=i % 10)},{i}\n" for i in range(100)
    )
    project = make_project(
        {
            "seeds/events.csv": events,
            # built whole first: one file holds every day
            "models/core/daily.sql": DAILY_SQL.split("where", maxsplit=1)[0] + "group by day",
        },
        config="engine: spark\n",
    )
    assert project.run().status == "success"
    write_files(
        project.root,
        {
            "models/core/daily.sql": DAILY_SQL.replace("count(*)", "100 + count(*)"),
            "models/core/daily.yml": DAILY,
        },
    )
    project.reload()
    summary = project.backfill(["core.daily"], "2024-05-03", "2024-05-04")
    assert summary.status == "success", [o.message for o in summary.outcomes]
    table = delta_table(project, "core.daily")
    events_by_day = {r["day"].day: r["events"] for r in table.to_pylist()}
    # the two days rebuilt, read out of the file holding every day; the others untouched
    assert events_by_day == {d: 110 if d in (3, 4) else 10 for d in range(1, 11)}
    assert written_by_spark(project, "core.daily")
    leaky = DAILY_SQL.replace("and day <", "or day <")
    write_files(project.root, {"models/core/daily.sql": leaky})
    project.reload()
    outcome = project.backfill(["core.daily"], "2024-05-05", "2024-05-05").outcome("core.daily")
    assert outcome.status == "failed"
    assert "rows outside partition 2024-05-05" in (outcome.message or "")


def test_a_build_past_its_timeout_is_stopped_on_spark(make_project: Any) -> None:
    numbers = "x\n" + "".join(f"{i}\n" for i in range(3000))
    project = make_project(
        {
            "seeds/numbers.csv": numbers,
            # 27 billion combinations: only the watchdog's interrupt ends it in time
            "models/marts/slow.sql": "select count(*) as n from raw.numbers as a, "
            "raw.numbers as b, raw.numbers as c where (a.x * b.x + c.x) % 7 = 3",
            "models/marts/slow.yml": "timeout: 5\n",
        },
        config="engine: spark\n",
    )
    outcome = project.run().outcome("marts.slow")
    assert outcome.status == "failed"
    assert "ran longer than its timeout of 5 s and was stopped" in (outcome.message or "")
    # nothing was committed, and what Spark had begun writing is gone
    assert list((project.definition.warehouse / "marts").rglob("*.*")) == []


@pytest.mark.skipif(
    not connect_client_installed(), reason="Spark Connect's client (pyspark[connect]) is missing"
)
def test_a_project_builds_through_spark_connect(tmp_path: Path) -> None:
    # the wheel of PySpark ships the Connect server; the CLI runs in a process of its own, as
    # a process holds either a local Spark (the test session's) or a Connect client
    server = start_connect_server(tmp_path / "connect")
    try:
        root = tmp_path / "project"
        write_files(
            root,
            {
                "headwater.yml": "name: test\nthreads: 2\n"
                f"engine: {{type: spark, master: '{server.url}'}}\n",
                "seeds/orders.csv": ORDERS,
                "seeds/orders.yml": ORDER_TYPES,
                "models/staging/orders.sql": "select id, status, amount from raw.orders",
                "models/staging/orders.yml": "materialized: view\n",
                "models/marts/orders.sql": "select id, status, amount from staging.orders",
                "models/marts/orders.yml": "materialized: incremental\nunique_key: id\n",
            },
        )
        first = run_cli(["run"], root)
        assert first.returncode == 0, first.stdout + first.stderr
        write_files(root, {"seeds/orders.csv": ORDERS_LATER})
        second = run_cli(["run"], root)
        assert second.returncode == 0, second.stdout + second.stderr
        project = Project(root)
        try:
            assert written_by_spark(project, "marts.orders")
            assert {
                r["id"]: r["status"] for r in delta_table(project, "marts.orders").to_pylist()
            } == {
                1: "paid",
                2: "refunded",
                3: "paid",
                4: "paid",
                5: "void",
                6: "open",
                7: None,
            }
        finally:
            project.close()
    finally:
        server.stop()
