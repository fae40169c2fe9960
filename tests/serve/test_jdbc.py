"""A Java program on Debian's PostgreSQL JDBC driver (the driver DBeaver and Metabase use)
against a real `headwater serve`: it signs in with a password, lists the tables through
DatabaseMetaData, and reads rows of every type through a prepared statement with parameters,
more times than the driver's prepareThreshold so that it goes server-prepared and binary
(`jdbc/HeadwaterJdbc.java`, compiled with javac into a temporary folder).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.test_pg_catalog import build_shop
from tests.support.serve import RunningServer, add_user, running_server

DRIVER = Path("/usr/share/java/postgresql.jar")
PROGRAM = Path(__file__).parent / "jdbc" / "HeadwaterJdbc.java"
PASSWORD = "jdbc-Pass 1"
GUARD_S = 300.0
"""Only a guard against a hung JVM, not a measurement."""

pytestmark = pytest.mark.skipif(
    not DRIVER.exists() or shutil.which("javac") is None,
    reason="the JDBC driver or a JDK is missing: run ./scripts/ensure_jdbc.sh",
)

ROW_1 = (
    "id=1 amount=21168.23 scale=2 placed=2024-01-02 placed_at=2024-01-02 03:04:05.123456 "
    "paid_at=2024-01-02T03:04:05.500Z shipped=true customer=ann weight=1.5 quantity=7 "
    'tags={a,"b c"} tag_list=[a, b c] priority=3'
)
ROW_2 = (
    "id=2 amount=-0.05 scale=2 placed=null placed_at=null paid_at=null shipped=false "
    "customer=null weight=null quantity=null tags=null tag_list=null priority=null"
)
ROW_3 = (
    "id=3 amount=0.10 scale=2 placed=1999-12-31 placed_at=1999-12-31 23:59:59.0 "
    'paid_at=2000-06-30T22:00Z shipped=null customer=zoë "q" weight=-2.25 quantity=-1 '
    "tags={x,NULL} tag_list=[x, null] priority=-32768"
)
CATALOG = [
    "product PostgreSQL 15.0",
    "user ana",
    "schema information_schema",
    "schema marts",
    "schema pg_catalog",
    "table marts.customers TABLE remarks=null",
    "table marts.orders TABLE remarks=One row per order",
    "table marts.big_orders VIEW remarks=null",
    "column 1 id int8 sqltype=-5 size=19 digits=0 nullable=NO remarks=null",
    "column 2 amount numeric sqltype=2 size=12 digits=2 nullable=YES remarks=Total in EUR",
    "column 3 placed date sqltype=91 size=13 digits=0 nullable=YES remarks=null",
    "column 4 placed_at timestamp sqltype=93 size=29 digits=6 nullable=YES remarks=null",
    "column 5 paid_at timestamptz sqltype=93 size=35 digits=6 nullable=YES remarks=null",
    "column 6 shipped bool sqltype=-7 size=1 digits=0 nullable=YES remarks=null",
    "column 7 customer text sqltype=12 size=2147483647 digits=0 nullable=YES remarks=null",
    "column 8 weight float8 sqltype=8 size=17 digits=17 nullable=YES remarks=null",
    "column 9 quantity int4 sqltype=4 size=10 digits=0 nullable=YES remarks=null",
    "column 10 tags _text sqltype=2003 size=2147483647 digits=0 nullable=YES remarks=null",
    "column 11 priority int2 sqltype=5 size=5 digits=0 nullable=YES remarks=null",
    "key id 1 orders_pkey",
    "result id int8 precision=19 scale=0 class=java.lang.Long",
    "result amount numeric precision=12 scale=2 class=java.math.BigDecimal",
    "result placed date precision=13 scale=0 class=java.sql.Date",
    "result placed_at timestamp precision=29 scale=6 class=java.sql.Timestamp",
    "result paid_at timestamptz precision=35 scale=6 class=java.sql.Timestamp",
    "result shipped bool precision=1 scale=0 class=java.lang.Boolean",
    "result customer text precision=2147483647 scale=0 class=java.lang.String",
    "result weight float8 precision=17 scale=17 class=java.lang.Double",
    "result quantity int4 precision=10 scale=0 class=java.lang.Integer",
    "result tags _text precision=2147483647 scale=0 class=java.sql.Array",
    "result priority int2 precision=5 scale=0 class=java.lang.Integer",
]
"""What the analyst's JDBC client sees before it reads rows."""


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Java program, compiled; returns the folder of its class."""
    classes = tmp_path_factory.mktemp("jdbc-classes")
    subprocess.run(
        ["javac", "-d", str(classes), "-cp", str(DRIVER), str(PROGRAM)],
        check=True,
        capture_output=True,
        timeout=GUARD_S,
    )
    return classes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("jdbc") / "shop"
    build_shop(root).close()
    add_user(root, "ana", "analyst", password=PASSWORD)
    add_user(root, "fin", "finance", password=PASSWORD)
    with running_server(root) as running:
        yield running


def run_java(program: Path, server: RunningServer, user: str, password: str) -> list[str]:
    """Run the program as `user` and return the lines it printed."""
    url = f"jdbc:postgresql://{server.pg_host}:{server.pg_port}/headwater"
    done = subprocess.run(
        [
            "java",
            "-Duser.timezone=UTC",
            "-Dfile.encoding=UTF-8",
            "-cp",
            f"{program}:{DRIVER}",
            "HeadwaterJdbc",
            url,
            user,
            password,
        ],
        capture_output=True,
        timeout=GUARD_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode("utf-8").splitlines()


def test_jdbc_lists_the_tables_and_reads_every_type(program: Path, server: RunningServer) -> None:
    lines = run_java(program, server, "ana", PASSWORD)
    assert [line for line in lines if not line.startswith(("run ", "placed_after"))] == CATALOG
    runs: dict[int, list[str]] = {}
    for line in lines:
        found = re.fullmatch(r"run (\d+) (.*)", line)
        if found:
            runs.setdefault(int(found[1]), []).append(found[2])
    assert sorted(runs) == list(range(1, 8))
    for run, seen in runs.items():
        # once binary, the driver writes an array's text itself, every element quoted
        rows = [re.sub(r'tags=\{"a","b c"\}', 'tags={a,"b c"}', r) for r in seen[:-1]]
        rows = [re.sub(r'tags=\{"x",NULL\}', "tags={x,NULL}", r) for r in rows]
        assert rows == [ROW_1, ROW_2, ROW_3], f"run {run}"
    # past prepareThreshold (5 by default) the driver prepares the statement on the server
    assert [runs[run][-1] for run in sorted(runs)] == [
        *["server_prepared=false"] * 3,
        *["server_prepared=true"] * 4,
    ]


def test_jdbc_date_parameters(program: Path, server: RunningServer) -> None:
    """setDate sends the date as text with a zone (`2000-01-01 +00`) of no declared type,
    which PostgreSQL reads as a date."""
    lines = run_java(program, server, "ana", PASSWORD)
    assert "placed_after_2000 1" in lines


def test_jdbc_sees_only_the_tables_of_its_roles(program: Path, server: RunningServer) -> None:
    lines = run_java(program, server, "fin", PASSWORD)
    assert [line for line in lines if line.startswith(("schema ", "table "))] == [
        "schema finance",
        "schema information_schema",
        "schema pg_catalog",
        "table finance.ledger TABLE remarks=null",
    ]
    assert not [line for line in lines if line.startswith(("column ", "key ", "run "))]
    errors = [line for line in lines if line.startswith("error ")]
    assert len(errors) == 1 and "marts.orders" in errors[0], lines


def test_jdbc_refuses_a_wrong_password(program: Path, server: RunningServer) -> None:
    lines = run_java(program, server, "ana", "not the password")
    assert len(lines) == 1 and lines[0].startswith("error 28P01"), lines
