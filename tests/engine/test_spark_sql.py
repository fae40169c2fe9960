"""DuckDB SQL as Spark SQL: what each rewrite writes, what is refused, and (in a real local
Spark) that the Spark SQL returns what DuckDB returns for the original."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from headwater.engine.spark_functions import SPARK_FUNCTIONS, SPARK_VERSION
from headwater.engine.spark_sql import (
    UnsupportedFunction,
    declared_functions,
    read_tables,
    spark_sql,
    transpile,
    view_name,
)

REPO = Path(__file__).resolve().parents[2]

T = pa.schema(
    [
        ("i", pa.int32()),
        ("s", pa.string()),
        ("d", pa.decimal128(10, 2)),
        ("f", pa.float64()),
        ("dt", pa.date32()),
        ("ts", pa.timestamp("us")),
        ("tz", pa.timestamp("us", tz="UTC")),
        ("b", pa.bool_()),
        ("l", pa.list_(pa.int32())),
    ]
)
U = pa.schema([("i", pa.int32()), ("name", pa.string())])
SCHEMAS = {"s__t": T, "s__u": U}


def spark(sql: str, **kwargs: Any) -> str:
    """`sql` as Spark SQL, knowing the schemas of s.t and s.u."""
    return spark_sql(sql, schemas=SCHEMAS, **kwargs)


# -- what each rewrite writes ---------------------------------------------------------------

REWRITES = [
    # tables become the views that hold them; a CTE is left alone
    ("SELECT i FROM s.t", "FROM s__t AS t"),
    ("SELECT s.t.i FROM s.t", "SELECT t.i FROM s__t AS t"),
    ("WITH t AS (SELECT 1 AS i) SELECT i FROM t", "FROM t"),
    # integer division truncates in both; `/` divides as DOUBLE in DuckDB, DECIMAL in Spark
    ("SELECT i // 2 FROM s.t", "i DIV 2"),
    ("SELECT d // 2 FROM s.t", "CAST(d AS DOUBLE) / 2"),
    ("SELECT d / 3 FROM s.t", "CAST(d AS DOUBLE) / 3"),
    ("SELECT i / 2 FROM s.t", "SELECT i / 2"),
    # DuckDB's concat skips NULLs, Spark's returns NULL
    ("SELECT concat(s, 'x') FROM s.t", "CONCAT(COALESCE(s, ''), 'x')"),
    # lists: 1-based, negative from the end, NULL out of range
    ("SELECT l[1], l[-1], l[i] FROM s.t", "TRY_ELEMENT_AT(l, 1), TRY_ELEMENT_AT(l, -1)"),
    ("SELECT l[i] FROM s.t", "TRY_ELEMENT_AT(l, NULLIF(i, 0))"),
    ("SELECT l[0] FROM s.t", "SELECT NULL"),
    ("SELECT l[2:3] FROM s.t", "SLICE(l, 2, GREATEST(2, 0))"),
    ("SELECT s[2:3] FROM s.t", "SUBSTRING(s, 2, 2)"),
    ("SELECT list_extract(l, 2) FROM s.t", "TRY_ELEMENT_AT(l, 2)"),
    # date_diff counts boundaries (weeks as days / 7); date_sub counts whole units
    (
        "SELECT date_diff('month', ts, TIMESTAMP '2021-03-01') FROM s.t",
        "TIMESTAMPDIFF(MONTH, DATE_TRUNC('MONTH', ts), DATE_TRUNC('MONTH', ",
    ),
    ("SELECT date_diff('day', dt, DATE '2021-03-01') FROM s.t", "DATEDIFF(CAST('2021-03-01'"),
    (
        "SELECT date_diff('week', dt, dt) FROM s.t",
        "(DATEDIFF(CAST(dt AS DATE), CAST(dt AS DATE)) DIV 7)",
    ),
    ("SELECT date_sub('month', ts, ts) FROM s.t", "TIMESTAMPDIFF(MONTH, ts, ts)"),
    # strftime: Java letters, literal text quoted, ISO weeks computed
    ("SELECT strftime(dt, '%Y-%m-%d') FROM s.t", "DATE_FORMAT(dt, 'yyyy-MM-dd')"),
    # Spark SQL escapes the pattern's quotes: the pattern is 'Day 'DDD' at 'HH
    ("SELECT strftime(ts, 'Day %j at %H') FROM s.t", r"DATE_FORMAT(ts, '\'Day \'DDD\' at \'HH')"),
    ("SELECT strftime(dt, '%G-W%V') FROM s.t", "LPAD(CAST(WEEKOFYEAR(dt) AS STRING), 2, '0')"),
    ("SELECT strptime(s, '%d/%m/%Y') FROM s.t", "TO_TIMESTAMP_NTZ(s, 'd/M/yyyy')"),
    # ORDER BY: DuckDB puts NULLs last on ASC, Spark first
    ("SELECT i FROM s.t ORDER BY i", "ORDER BY i NULLS LAST"),
    ("SELECT i FROM s.t ORDER BY i DESC", "ORDER BY i DESC"),
    ("SELECT i, s FROM s.t ORDER BY ALL", "ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST"),
    # stars, sets and QUALIFY
    ("SELECT * EXCLUDE (l) FROM s.t", "SELECT * EXCEPT (l)"),
    ("SELECT * REPLACE (i + 1 AS i) FROM s.u", "SELECT i + 1 AS i, `name` FROM s__u"),
    (
        "SELECT i FROM s.u UNION ALL BY NAME SELECT name, i FROM s.t",
        "(SELECT `i`, NULL AS `name` FROM (SELECT i FROM s__u AS u) AS _by_name) UNION ALL "
        "(SELECT `i`, `name` FROM (SELECT name, i FROM s__t AS t) AS _by_name)",
    ),
    ("SELECT * FROM s.t QUALIFY row_number() OVER (ORDER BY i) = 1", "QUALIFY ROW_NUMBER()"),
    (
        "SELECT DISTINCT ON (b) b, i FROM s.t ORDER BY b, i",
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY b ORDER BY b NULLS LAST, i NULLS LAST) = 1",
    ),
    # GROUP BY ALL: DuckDB leaves out constants, Spark does not
    ("SELECT b, count(*), 1 AS one, i + 1 FROM s.t GROUP BY ALL", "GROUP BY b, i + 1"),
    ("SELECT 1 AS one, count(*) FROM s.t GROUP BY ALL", "SELECT 1 AS one, COUNT(*) FROM s__t AS t"),
    # regular expressions
    ("SELECT regexp_replace(s, 'a', 'b', 'g') FROM s.t", "REGEXP_REPLACE(s, 'a', 'b')"),
    ("SELECT regexp_replace(s, '(a)', '<\\1>') FROM s.t", "'^([\\\\s\\\\S]*?)((a))', '$1<$3>'"),
    ("SELECT regexp_full_match(s, 'a.') FROM s.t", "s RLIKE '^(?:a.)$'"),
    ("SELECT regexp_matches(s, 'a', 'i') FROM s.t", "s RLIKE '(?i)a'"),
    ("SELECT regexp_extract(s, 'a(b)') FROM s.t", "REGEXP_EXTRACT(s, 'a(b)', 0)"),
    ("SELECT s GLOB 'a*' FROM s.t", "s LIKE 'a%'"),
    # casts to integers round in DuckDB, truncate in Spark
    ("SELECT CAST(d AS INT) FROM s.t", "CAST(ROUND(d) AS INT)"),
    ("SELECT CAST(f AS BIGINT) FROM s.t", "CAST(BROUND(f) AS BIGINT)"),
    ("SELECT CAST(b AS INT) FROM s.t", "CAST(b AS INT)"),
    ("SELECT CAST(i AS HUGEINT) FROM s.t", "CAST(i AS DECIMAL(38, 0))"),
    # aggregates
    ("SELECT avg(d) FROM s.t", "AVG(CAST(d AS DOUBLE))"),
    ("SELECT avg(i) FROM s.t", "AVG(i)"),
    ("SELECT list(i) FROM s.t", "TRANSFORM(COLLECT_LIST(STRUCT(i AS v)), e -> e.v)"),
    ("SELECT list(i ORDER BY s DESC) FROM s.t", "ARRAY_SORT(COLLECT_LIST(STRUCT(s AS k0, i AS v))"),
    ("SELECT quantile_cont(f, 0.25) FROM s.t", "PERCENTILE(f, 0.25)"),
    ("SELECT quantile_disc(f, 0.25) FROM s.t", "PERCENTILE_DISC(0.25) WITHIN GROUP (ORDER BY f"),
    (
        "SELECT string_agg(s ORDER BY s) FROM s.t",
        "LISTAGG(s, ',') WITHIN GROUP (ORDER BY s NULLS LAST)",
    ),
    # dates and times
    (
        "SELECT dayname(dt), monthname(dt) FROM s.t",
        "DATE_FORMAT(dt, 'EEEE'), DATE_FORMAT(dt, 'MMMM')",
    ),
    ("SELECT dayofweek(dt) FROM s.t", "DAYOFWEEK(dt) - 1"),
    (
        "SELECT isodow(dt), isoyear(dt) FROM s.t",
        "EXTRACT(DAYOFWEEK_ISO FROM dt), EXTRACT(YEAROFWEEK FROM dt)",
    ),
    ("SELECT date_part('dow', dt) FROM s.t", "DAYOFWEEK(dt) - 1"),
    ("SELECT date_trunc('month', dt) FROM s.t", "CAST(DATE_TRUNC('MONTH', dt) AS TIMESTAMP_NTZ)"),
    ("SELECT date_trunc('day', tz) FROM s.t", "SELECT DATE_TRUNC('DAY', tz) FROM"),
    ("SELECT dt + INTERVAL 1 DAY FROM s.t", "CAST(dt AS TIMESTAMP_NTZ) + INTERVAL '1' DAY"),
    ("SELECT DATE '2021-03-01' - dt FROM s.t", "DATEDIFF(CAST('2021-03-01' AS DATE), dt)"),
    ("SELECT epoch_ms(ts), epoch_ms(i) FROM s.t", "UNIX_MILLIS(CAST(ts AS TIMESTAMP))"),
    ("SELECT epoch_ms(i) FROM s.t", "CAST(TIMESTAMP_MILLIS(i) AS TIMESTAMP_NTZ)"),
    ("SELECT epoch(ts) FROM s.t", "UNIX_MICROS(CAST(ts AS TIMESTAMP)) / 1e6"),
    (
        "SELECT * FROM range(1, 4) AS r(k)",
        "FROM EXPLODE(IF(1 < 4, FILTER(SEQUENCE(1, 4), x -> x < 4), ARRAY())) AS r(k)",
    ),
    ("SELECT * FROM s.u, range(u.i) AS r(k)", "LATERAL EXPLODE("),
    # numbers, strings, rows
    ("SELECT log(f) FROM s.t", "LOG10(f)"),
    (
        "SELECT format('{} of {}', i, s) FROM s.t",
        "IF(i IS NULL OR s IS NULL, NULL, FORMAT_STRING('%s of %s', i, s))",
    ),
    ("SELECT len(l), len(s) FROM s.t", "SIZE(l), LENGTH(s)"),
    ("SELECT to_json(x) FROM s.u AS x", "TO_JSON(STRUCT(x.*), MAP('ignoreNullFields', 'false'))"),
    ("SELECT * FROM s.t USING SAMPLE 10%", "FROM s__t TABLESAMPLE (10 PERCENT) AS t"),
    ("SELECT * FROM s.t SEMI JOIN s.u ON t.i = u.i", "SEMI JOIN s__u AS u"),
]


@pytest.mark.parametrize(("duckdb_sql", "expected"), REWRITES, ids=[r[0] for r in REWRITES])
def test_rewrite_writes(duckdb_sql: str, expected: str) -> None:
    assert expected in spark(duckdb_sql)


def test_views_are_named_by_the_engine_and_listed() -> None:
    statement = transpile(
        "SELECT o.i FROM shop.orders AS o JOIN shop.items USING (i)",
        lambda ns, name: f"v_{ns}_{name}",
    )
    assert "FROM v_shop_orders AS o JOIN v_shop_items AS items" in statement.sql
    assert statement.tables == {"v_shop_orders": "shop.orders", "v_shop_items": "shop.items"}
    assert read_tables("SELECT 1 FROM a.b JOIN c.d ON TRUE JOIN a.b AS e ON TRUE") == [
        ("a", "b"),
        ("c", "d"),
    ]


def test_a_cte_named_like_a_view_is_renamed_where_it_is_in_scope() -> None:
    sql = "WITH s__t AS (SELECT 2 AS i) SELECT x.i, s__t.i FROM s.t AS x, s__t"
    out = spark(sql)
    assert "WITH s__t__cte AS (SELECT 2 AS i)" in out
    assert "FROM s__t AS x, s__t__cte AS s__t" in out


def test_read_parquet_goes_through_the_engines_scan() -> None:
    calls: list[tuple[list[str], dict[str, Any]]] = []

    def scan(paths: list[str], **options: Any) -> str:
        calls.append((paths, options))
        return "__hw_scan_abc"

    out = spark(
        "SELECT a FROM read_parquet(['x/1.parquet', 'x/2.parquet'], union_by_name = true, "
        "filename = true) AS f JOIN read_parquet('y/*.parquet') AS g ON f.a = g.a",
        scan=scan,
    )
    assert "FROM __hw_scan_abc AS f JOIN __hw_scan_abc AS g" in out
    assert calls == [
        (["x/1.parquet", "x/2.parquet"], {"union_by_name": True, "filename": True}),
        (["y/*.parquet"], {"union_by_name": False}),
    ]


def test_read_parquet_without_an_engine_reads_a_path() -> None:
    assert "FROM parquet.`/data/x*.parquet` AS t" in spark_sql(
        "SELECT * FROM read_parquet('/data/x*.parquet') AS t"
    )
    assert "FROM parquet.`/data/y.parquet`" in spark_sql("SELECT * FROM '/data/y.parquet'")


def test_a_query_transpiles_without_starting_spark_in_little_time() -> None:
    # 200 checks in one aggregate, as the publish gate sends them: no qualification needed
    checks = ", ".join(
        f"count(*) FILTER (WHERE (c{i} IS NOT NULL AND NOT (c{i} >= 2 AND c{i} <= 3))) AS __c{i}"
        for i in range(200)
    )
    out = spark_sql(f"SELECT count(*) AS n, {checks} FROM s.t")
    assert out.count("FILTER(WHERE") == 200


# -- refusals --------------------------------------------------------------------------------

REFUSED = [
    ("SELECT hash(i) FROM s.t", "hash", "md5()"),
    ("SELECT jaro_winkler_similarity(s, 'x') FROM s.t", "jaro_winkler_similarity", None),
    ("SELECT strftime(ts, '%z') FROM s.t", "strftime", "%z"),
    ("SELECT strftime(ts, s) FROM s.t", "strftime", "string literal"),
    ("SELECT * FROM read_csv('x.csv')", "read_csv", "source"),
    (
        "SELECT * FROM read_parquet('x.parquet', hive_types = {'a': 'INT'})",
        "read_parquet",
        "option",
    ),
    ("SELECT * FROM s.t ASOF JOIN s.u ON t.i >= u.i", "ASOF JOIN", None),
    ("PIVOT s.t ON s USING sum(i)", "PIVOT", None),
    ("SELECT date_diff('decade', dt, dt) FROM s.t", "date_diff", "decade"),
    ("SELECT regexp_replace(s, 'a', s) FROM s.t", "regexp_replace", "replacement"),
    ("SELECT CAST(s AS TIME) FROM s.t", "cast", "TIME"),
    ("SELECT s[:-1] FROM s.t", "string slice", "zero or below"),
    ("SELECT s[0:2] FROM s.t", "string slice", "zero or below"),
    (
        "SELECT * FROM read_parquet('a.parquet') UNION ALL BY NAME SELECT 1 AS x",
        "UNION BY NAME",
        None,
    ),
]


@pytest.mark.parametrize(("sql", "function", "detail"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(sql: str, function: str, detail: str | None) -> None:
    with pytest.raises(UnsupportedFunction) as caught:
        spark(sql)
    assert caught.value.function == function
    if detail:
        assert detail in caught.value.detail
    assert "Spark" in str(caught.value) and caught.value.hint


def test_refusal_message_names_the_function() -> None:
    with pytest.raises(
        UnsupportedFunction, match=r"the DuckDB function jaro_winkler_similarity\(\)"
    ):
        spark_sql("SELECT jaro_winkler_similarity('a', 'b')")
    with pytest.raises(UnsupportedFunction, match="the DuckDB construct ASOF JOIN"):
        spark_sql("SELECT 1 FROM a.b ASOF JOIN c.d ON b.x >= d.x")


def test_functions_registered_on_the_cluster_are_allowed() -> None:
    functions = declared_functions({"headwater.spark.functions": "my_udf, Other_Udf"})
    assert functions == frozenset({"my_udf", "other_udf"})
    assert "SELECT MY_UDF(s), OTHER_UDF(i) FROM" in spark_sql(
        "SELECT my_udf(s), other_udf(i) FROM s.t", functions=functions
    )
    with pytest.raises(UnsupportedFunction):
        spark_sql("SELECT my_udf(s) FROM s.t")


def test_spark_functions_list_is_of_the_installed_spark() -> None:
    import pyspark

    # regenerate with scripts/generate_spark_functions.py after upgrading pyspark
    assert pyspark.__version__ == SPARK_VERSION
    assert {"try_element_at", "percentile", "date_format", "explode"} <= SPARK_FUNCTIONS
    assert "list_extract" not in SPARK_FUNCTIONS


def test_unparsable_sql_is_a_usage_error() -> None:
    from headwater.errors import UsageError

    with pytest.raises(UsageError, match="sqlglot cannot read"):
        spark_sql("SELECT (1")


# -- the same results in DuckDB and Spark -----------------------------------------------------

ROWS = """
    SELECT * FROM (VALUES
     (1, 'x  y', 2.5::DECIMAL(10,2), 1.5::DOUBLE, DATE '2021-01-03',
      TIMESTAMP '2021-01-03 14:05:06.123456', true, [1,2,3], 'a,b,c'),
     (2, NULL, -2.5::DECIMAL(10,2), 2.5::DOUBLE, DATE '2020-02-29',
      TIMESTAMP '2020-12-31 23:59:59', false, [4], 'd'),
     (3, 'Z', 0.5::DECIMAL(10,2), -0.5::DOUBLE, NULL, NULL, NULL, NULL, NULL),
     (NULL, 'aXbXc', 7.25::DECIMAL(10,2), 0.5::DOUBLE, DATE '2024-12-30',
      TIMESTAMP '2024-12-30 00:00:00', true, [], '')
    ) v(i, s, d, f, dt, ts, b, l, csv)
"""

SAME_RESULTS = [
    # row by row: one query, as each query costs Spark a job or more
    "SELECT i, i // 2, d / 3, i / 2, f // 2, s || 'x', concat(s, 'x'), concat_ws('-', s, 'q'), "
    "l[1], l[-1], l[0], l[i], l[2:3], l[:2], s[1:2], list_extract(l, 1), "
    "date_diff('month', dt, DATE '2021-03-01'), date_diff('week', ts, TIMESTAMP '2021-01-20'), "
    "date_diff('day', ts, TIMESTAMP '2021-01-04 01:00'), date_sub('month', dt, DATE '2021-03-01'), "
    "datediff('hour', ts, TIMESTAMP '2021-01-04 01:00'), strftime(dt, '%Y%m%d'), "
    "strftime(ts, '%Y-%m-%d %H:%M:%S.%f'), "
    "strftime(ts, 'Week %V of %G, day %u/%w, %U %W %j %a %B %p %I'), "
    "strptime('2020-1-5 3:4:5', '%Y-%m-%d %H:%M:%S'), epoch_ms(ts), epoch_ms(1700000000000), "
    "epoch(ts), CAST(d AS INT), CAST(f AS INT), TRY_CAST(s AS INT), CAST(b AS INT), "
    "s ILIKE 'x%', s GLOB '*X*', regexp_matches(s, 'x'), regexp_full_match(s, 'x.*'), "
    "s SIMILAR TO 'Z', regexp_replace(s, 'X', '-'), regexp_replace(s, 'X', '-', 'g'), "
    "regexp_replace(s, '(X)', '[\\1]'), regexp_replace(s, '\\s+', ' ', 'g'), "
    "regexp_extract(s, 'X(.)'), regexp_replace(s, 'x', '$', 'i'), monthname(dt), dayname(dt), "
    "isodow(dt), isoyear(dt), weekofyear(dt), dayofweek(dt), yearweek(dt), extract(dow FROM dt), "
    "extract(second FROM ts), dt + INTERVAL 1 DAY, date_trunc('month', dt), "
    "date_trunc('week', ts), DATE '2021-03-01' - dt, round(d), round(f), log(100), sign(d), "
    "format('{} and {}', i, s), list_sort(l), len(l), array_to_string(l, '-'), "
    "list_transform(l, lambda x: x + 1), range(1, 4), generate_series(2, 4), range(3, 1) "
    "FROM s.t",
    "SELECT i, s FROM s.t ORDER BY ALL",
    "SELECT * REPLACE (i + 1 AS i) FROM s.u",
    "SELECT * FROM s.t QUALIFY row_number() OVER (PARTITION BY b ORDER BY i DESC) = 1",
    "SELECT DISTINCT ON (b) b, i FROM s.t ORDER BY b, i",
    "SELECT b, count(*) AS n, rank() OVER (ORDER BY count(*)) AS k, 1 AS one FROM s.t GROUP BY ALL",
    "SELECT 1 AS one, count(*) AS n FROM s.t WHERE i > 9 GROUP BY ALL",
    "SELECT any_value(s), arg_max(s, i), list(i), list(i ORDER BY i DESC), "
    "string_agg(s ORDER BY s DESC), median(d), quantile_cont(f, 0.25), quantile_disc(f, 0.25), "
    "avg(d) FROM s.t",
    "SELECT cast(day AS date) AS day FROM (SELECT min(dt) AS a FROM s.t) AS bounds, "
    "range(cast(bounds.a AS timestamp), cast(bounds.a AS timestamp) + interval 3 day, "
    "interval 1 day) AS calendar(day)",
    "SELECT * FROM (SELECT i, s FROM s.t) UNION ALL BY NAME (SELECT name AS s, 9 AS z FROM s.u)",
    "SELECT CAST(to_json(t) AS VARCHAR) FROM s.u AS t",
    "SELECT u.k FROM s.t, unnest(t.l) AS u(k)",
    # a backslash is no escape character in DuckDB's LIKE; Spark's needs one set
    "SELECT 'a\\xb' LIKE 'a\\_b', 'a%b' LIKE 'a\\%b', 'C:\\dir' ILIKE 'c:\\%', "
    "s LIKE '%X%', 'abc'[0], s[2:3] FROM s.t",
    "SELECT i FROM s.t ORDER BY ALL NULLS FIRST",
    # a DOUBLE cast to DECIMAL rounds x * 10^scale as DuckDB does, not x's decimal text
    "SELECT CAST(67.975::DOUBLE AS DECIMAL(10, 2)), CAST(d / 3 AS DECIMAL(12, 2)), "
    "CAST(f * 1.005 AS DECIMAL(8, 2)) FROM s.t",
]


def _value(value: Any) -> Any:
    """A value as comparable across the engines (exact decimals and floats to 9 places)."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    if isinstance(value, decimal.Decimal):
        return round(float(value), 9)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, list | tuple):
        return tuple(_value(v) for v in value)
    return value


def _rows(table: pa.Table, ordered: bool) -> list[tuple[Any, ...]]:
    columns = [c.to_pylist() for c in table.columns]
    rows = [tuple(_value(c[i]) for c in columns) for i in range(table.num_rows)]
    return rows if ordered else sorted(rows, key=repr)


@pytest.fixture(scope="module")
def both(spark_session: Any) -> Callable[[str], tuple[list[Any], list[Any], str]]:
    """Runs DuckDB SQL in DuckDB and, transpiled, in the shared Spark over the same rows."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s")
    con.execute(f"CREATE TABLE s.t AS {ROWS}")
    con.execute("CREATE TABLE s.u AS SELECT * FROM (VALUES (1, 'one'), (2, 'two')) v(i, name)")
    schemas = {}
    for name in ("t", "u"):
        table = con.sql(f"SELECT * FROM s.{name}").to_arrow_table()
        view = view_name("s", name)
        spark_session.createDataFrame(table).createOrReplaceTempView(view)
        schemas[view] = table.schema

    def run(sql: str) -> tuple[list[Any], list[Any], str]:
        ordered = "ORDER BY" in sql and "OVER" not in sql
        expected = _rows(con.sql(sql).to_arrow_table(), ordered)
        text = spark_sql(sql, schemas=schemas)
        got = _rows(spark_session.sql(text).toArrow(), ordered)
        return expected, got, text

    yield run
    for name in ("t", "u"):
        spark_session.catalog.dropTempView(view_name("s", name))
    con.close()


def test_spark_returns_what_duckdb_returns(both: Callable[..., Any]) -> None:
    differ = []
    for sql in SAME_RESULTS:
        expected, got, text = both(sql)
        if expected != got:
            differ.append(f"{sql}\n  spark sql: {text}\n  duckdb: {expected}\n  spark:  {got}")
    assert not differ, "\n".join(differ)


# -- the models of the bench and of the example ------------------------------------------------


def _models(project: Path) -> list[str]:
    return sorted(p.stem for p in (project / "models").rglob("*.sql"))


def test_every_example_and_bench_model_transpiles(tmp_path: Path) -> None:
    from headwater import Project

    shop = tmp_path / "shop"
    Project.init(str(shop), "ecommerce")
    tpch = tmp_path / "tpch"
    shutil.copytree(REPO / "bench" / "tpch_marts" / "models", tpch / "models")
    (tpch / "headwater.yml").write_text(
        textwrap.dedent(
            f"""
            name: tpch
            warehouse: warehouse
            defaults: {{materialized: table}}
            vars: {{tpch_dir: "{tmp_path / "data"}"}}
            """
        ),
        encoding="utf-8",
    )
    transpiled = {}
    for root in (shop, tpch):
        project = Project(str(root))
        try:
            for name in _models(root):
                transpiled[(root.name, name)] = transpile(project.compile(name)).sql
        finally:
            project.close()
    assert len(transpiled) == len(_models(shop)) + len(_models(tpch)) == 26
    lineitem = transpiled[("tpch", "lineitem")]
    assert f"parquet.`{tmp_path / 'data'}/lineitem*.parquet`" in lineitem
    assert "LATERAL EXPLODE(" in transpiled[("shop", "dim_date")]
    assert "JOIN staging__orders AS o" in transpiled[("tpch", "q3")]


def test_tables_whose_parts_hold_double_underscores_get_views_of_their_own() -> None:
    assert view_name("a__b", "c") != view_name("a", "b__c")
    assert view_name("staging", "orders") == "staging__orders"
