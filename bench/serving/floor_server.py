"""The floor of the serving benchmark: FastAPI + uvicorn, DuckDB over `read_parquet` of the
Delta snapshot's file list, one cursor of one DuckDB connection per request, JSON results.

It is what a small hand-written service over the same table would be, and nothing more: no
authentication, no limits, no audit log, no cache; the file list is read once at start.

    GET /q1?k=<l_orderkey>                   the rows of one order
    GET /q2?start=<date>&end=<date>          sum(l_extendedprice) by l_returnflag in [start, end)
    GET /q3?k=<l_orderkey>                   1,000 AIR rows after order k, in key order

Each answers `{"columns": [...], "rows": [[...], ...]}` (decimals and dates as text, exactly).

Usage: python bench/serving/floor_server.py --table <delta folder> [--host H] [--port P]
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import json
from typing import Any

Q1 = "select * from lineitem where l_orderkey = ?"
Q2 = (
    "select l_returnflag, sum(l_extendedprice) as sum_extendedprice from lineitem "
    "where l_shipdate >= ?::date and l_shipdate < ?::date group by l_returnflag"
)
Q3 = (
    "select * from lineitem where l_shipmode = 'AIR' and l_orderkey > ? "
    "order by l_orderkey, l_linenumber limit 1000"
)


def _text(value: Any) -> str:
    """JSON for what `json` cannot write: decimals and dates as their exact text."""
    if isinstance(value, decimal.Decimal | datetime.date):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def create_app(table: str) -> Any:
    """The FastAPI app serving the three queries over the Delta table's current files."""
    import deltalake
    import duckdb
    from fastapi import FastAPI, Response

    files = deltalake.DeltaTable(table).file_uris()
    connection = duckdb.connect()
    connection.execute(f"create view lineitem as select * from read_parquet({files!r})")
    app = FastAPI()

    def answer(sql: str, params: list[Any]) -> Response:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            columns = [d[0] for d in cursor.description or ()]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        body = json.dumps({"columns": columns, "rows": rows}, default=_text)
        return Response(body, media_type="application/json")

    @app.get("/q1")
    def q1(k: int) -> Response:
        return answer(Q1, [k])

    @app.get("/q2")
    def q2(start: datetime.date, end: datetime.date) -> Response:
        return answer(Q2, [start, end])

    @app.get("/q3")
    def q3(k: int) -> Response:
        return answer(Q3, [k])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    """Serve until killed."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--table", required=True, help="the Delta table's folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(create_app(args.table), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
