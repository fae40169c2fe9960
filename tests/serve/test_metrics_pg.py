"""The `metrics` schema of the PostgreSQL port with real clients: psql 15 and Debian's
PostgreSQL JDBC driver query a metric grouped by a dimension (as a BI tool writes it: an
aggregate over the metric's column, GROUP BY, ORDER BY, LIMIT, a WHERE on a dimension) and get
the numbers the same SQL written by hand over the tables gives; the schema's tables are listed
to the client like any table; shapes a metric cannot answer are refused with what to write."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_files
from tests.serve.test_metrics_api import FILES
from tests.support.serve import RunningServer, add_user, headwater, running_server

PASSWORD = "metrics-Pass 1"
DRIVER = Path("/usr/share/java/postgresql.jar")
PROGRAM = Path(__file__).parent / "jdbc" / "MetricsJdbc.java"
GUARD_S = 300.0
"""Only a guard against a hung client, not a measurement."""

BY_SEGMENT = (
    "SELECT customer__segment, SUM(revenue) AS revenue FROM metrics.revenue "
    "GROUP BY customer__segment ORDER BY customer__segment"
)
BY_SEGMENT_BY_HAND = (
    "select c.segment, sum(o.amount) from raw.orders o left join raw.customers c "
    "on o.customer_id = c.customer_id group by 1 order by 1 nulls last"
)
AOV_BY_MONTH = (
    "select metric_time__month as month, measure(average_order_value) as aov "
    "from metrics.average_order_value where order__region = 'EU' group by 1 order by 2 desc limit 2"
)
AOV_BY_MONTH_BY_HAND = (
    "select cast(date_trunc('month', ordered_at) as date) as month, "
    "cast(sum(amount) as double) / count(order_id) as aov from raw.orders "
    "where region = 'EU' group by 1 order by 2 desc limit 2"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("metrics-pg")
    write_files(root, FILES)
    headwater(root, "run")
    add_user(root, "ann", "analyst", password=PASSWORD)
    add_user(root, "ollie", "orders_only", password=PASSWORD)
    with running_server(root) as running:
        yield running


def psql(server: RunningServer, *commands: str, user: str = "ann") -> list[str]:
    dsn = f"host={server.pg_host} port={server.pg_port} user={user} dbname=headwater"
    args = ["psql", "-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=0", dsn]
    for command in commands:
        args += ["-c", command]
    env = {**os.environ, "PGPASSWORD": PASSWORD, "PGSSLMODE": "disable"}
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=GUARD_S, check=False
    )
    return (done.stdout + done.stderr).splitlines()


def test_psql_gets_the_numbers_of_the_sql_by_hand(server: RunningServer) -> None:
    assert psql(server, BY_SEGMENT) == psql(server, BY_SEGMENT_BY_HAND)
    assert psql(server, AOV_BY_MONTH) == psql(server, AOV_BY_MONTH_BY_HAND)
    assert len(psql(server, AOV_BY_MONTH)) == 2


def test_psql_as_bi_tools_write_it(server: RunningServer) -> None:
    # an alias on the metric's table, unquoted names in capitals
    assert psql(
        server,
        "SELECT R.CUSTOMER__SEGMENT, SUM(R.REVENUE) FROM METRICS.REVENUE R "
        "WHERE R.CUSTOMER__SEGMENT = 'retail' GROUP BY 1",
    ) == [line for line in psql(server, BY_SEGMENT_BY_HAND) if line.startswith("retail|")]
    out = "\n".join(psql(server, "select sum(revenue) from metrics.revenue limit 1 offset 1"))
    assert "OFFSET is not answered over a metric" in out


def test_psql_lists_the_metrics_schema(server: RunningServer) -> None:
    listed = psql(
        server,
        "select table_name from information_schema.tables where table_schema = 'metrics' "
        "order by 1",
    )
    assert listed == ["average_order_value", "customer_count", "order_count", "revenue"]
    columns = psql(
        server,
        "select column_name, data_type from information_schema.columns where table_schema = "
        "'metrics' and table_name = 'revenue' and column_name in "
        "('customer__segment', 'metric_time__month', 'revenue') order by 1",
    )
    assert columns == [
        "customer__segment|text",
        "metric_time__month|date",
        "revenue|double precision",
    ]
    # a role reading only the orders does not see the metric over the customers
    assert "customer_count" not in psql(
        server,
        "select table_name from information_schema.tables where table_schema = 'metrics'",
        user="ollie",
    )


def test_shapes_a_metric_cannot_answer_are_refused_with_the_way(server: RunningServer) -> None:
    for sql, message in (
        ("select * from metrics.revenue", "SELECT * over a metric is not answered"),
        (
            "select r.revenue from metrics.revenue r join raw.orders o on true",
            "without joins",
        ),
        ("select customer__nope, sum(revenue) from metrics.revenue group by 1", "no dimension"),
        ("select sum(revenue) + 1 from metrics.revenue", "neither a group-by item"),
    ):
        out = "\n".join(psql(server, sql))
        assert message in out, (sql, out)
        assert "ERROR" in out


@pytest.mark.skipif(
    not DRIVER.exists() or shutil.which("javac") is None,
    reason="the JDBC driver or a JDK is missing: run ./scripts/ensure_jdbc.sh",
)
def test_jdbc_gets_the_same_numbers(
    server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    classes = tmp_path_factory.mktemp("metrics-jdbc")
    subprocess.run(
        ["javac", "-d", str(classes), "-cp", str(DRIVER), str(PROGRAM)],
        check=True,
        capture_output=True,
        timeout=GUARD_S,
    )
    url = f"jdbc:postgresql://{server.pg_host}:{server.pg_port}/headwater"
    done = subprocess.run(
        [
            "java",
            "-Duser.timezone=UTC",
            "-cp",
            f"{classes}:{DRIVER}",
            "MetricsJdbc",
            url,
            "ann",
            PASSWORD,
            BY_SEGMENT,
            AOV_BY_MONTH,
        ],
        capture_output=True,
        timeout=GUARD_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert [line for line in lines if line.startswith("table ")] == [
        "table metrics.average_order_value",
        "table metrics.customer_count",
        "table metrics.order_count",
        "table metrics.revenue",
    ]
    segments = [
        f"customer__segment={s or 'null'} revenue={r}"
        for s, r in (line.split("|") for line in psql(server, BY_SEGMENT_BY_HAND))
    ]
    months = [
        f"month={m} aov={a}"
        for m, a in (line.split("|") for line in psql(server, AOV_BY_MONTH_BY_HAND))
    ]
    for label in ("row", "prepared"):
        assert [line.split(" ", 2)[2] for line in lines if line.startswith(f"{label} 1 ")] == (
            segments
        )
        assert [line.split(" ", 2)[2] for line in lines if line.startswith(f"{label} 2 ")] == (
            months
        )
    assert not [line for line in lines if line.startswith("error")], lines
