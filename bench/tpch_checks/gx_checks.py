"""The TPC-H checks in Great Expectations 1.x, on a pandas DataFrame.

Runs in its own venv (bench/.venvs/gx: great_expectations>=1,<2, pandas, pyarrow; no
deltalake), so the runner passes the Parquet files of the Delta tables' current versions. Reads
lineitem with `pyarrow.parquet.read_table(...).to_pandas()`, builds an ephemeral GX context with
a pandas datasource and validates one suite of expectations over the whole DataFrame:

- expect_column_values_to_not_be_null on l_orderkey, l_partkey, l_suppkey
- expect_compound_columns_to_be_unique on (l_orderkey, l_linenumber)
- expect_column_values_to_be_in_set l_returnflag in (A, N, R)
- expect_column_values_to_be_between l_quantity in [1, 50]
- expect_table_row_count_to_be_between min_value=1
- expect_column_pair_values_a_to_be_greater_than_b l_receiptdate >= l_shipdate
- only with --relationship: expect_column_values_to_be_in_set l_orderkey in every
  o_orderkey (the only way to say it on pandas; also reads orders; very slow)

Prints one line per expectation (success, unexpected count) and, on the last line, one JSON
object `{"rows": N, "results": [{"expectation", "column", "success", "unexpected"}, ...]}`.
Analytics are switched off (GX_ANALYTICS_ENABLED=false) before GX is imported.

Usage: python gx_checks.py --lineitem FILE... [--orders FILE... --relationship]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def read_frame(files: list[str]) -> Any:
    """Read Parquet files into one pandas DataFrame."""
    import pyarrow.parquet as pq

    return pq.read_table(files).to_pandas()


def expectations(relationship_keys: list[int] | None) -> list[Any]:
    """The expectations of the suite; the relationship one only when its keys are given."""
    import great_expectations.expectations as gxe

    found: list[Any] = [
        gxe.ExpectColumnValuesToNotBeNull(column="l_orderkey"),
        gxe.ExpectColumnValuesToNotBeNull(column="l_partkey"),
        gxe.ExpectColumnValuesToNotBeNull(column="l_suppkey"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["l_orderkey", "l_linenumber"]),
        gxe.ExpectColumnValuesToBeInSet(column="l_returnflag", value_set=["A", "N", "R"]),
        gxe.ExpectColumnValuesToBeBetween(column="l_quantity", min_value=1, max_value=50),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="l_receiptdate", column_B="l_shipdate", or_equal=True
        ),
    ]
    if relationship_keys is not None:
        found.append(
            gxe.ExpectColumnValuesToBeInSet(column="l_orderkey", value_set=relationship_keys)
        )
    return found


def validate(frame: Any, relationship_keys: list[int] | None) -> list[dict[str, Any]]:
    """Validate the suite over `frame` in an ephemeral context; one dict per expectation."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas(name="tpch")
    asset = source.add_dataframe_asset(name="lineitem")
    batch_definition = asset.add_batch_definition_whole_dataframe(name="whole")
    suite = context.suites.add(gx.ExpectationSuite(name="tpch_checks"))
    for expectation in expectations(relationship_keys):
        suite.add_expectation(expectation)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    outcome = batch.validate(suite)
    results = []
    for item in outcome.results:
        config = item.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or kwargs.get("column_list") or kwargs.get("column_A")
        results.append(
            {
                "expectation": config.type,
                "column": column,
                "success": bool(item.success),
                "unexpected": item.result.get("unexpected_count"),
            }
        )
    return results


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lineitem", nargs="+", required=True, help="lineitem Parquet files")
    parser.add_argument("--orders", nargs="+", help="orders Parquet files (for --relationship)")
    parser.add_argument("--relationship", action="store_true", help="also l_orderkey in orders")
    args = parser.parse_args()
    if args.relationship and not args.orders:
        parser.error("--relationship needs --orders")
    started = time.perf_counter()
    frame = read_frame(args.lineitem)
    keys = None
    if args.relationship:
        keys = read_frame(args.orders)["o_orderkey"].tolist()
    print(f"read {len(frame):,} line items in {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    results = validate(frame, keys)
    print(f"validated in {time.perf_counter() - started:.2f} s")
    for r in results:
        verdict = "PASS" if r["success"] else "FAIL"
        print(f"  {verdict}  {r['expectation']} {r['column'] or ''} unexpected={r['unexpected']}")
    print(json.dumps({"rows": len(frame), "results": results}, default=str))


if __name__ == "__main__":
    main()
