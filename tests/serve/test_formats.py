"""Result encodings of the HTTP API (`?format=` or `Accept`): JSON, CSV, Arrow IPC and Parquet
decode to exactly the same values, for table reads and for queries; JSON keeps every value
exact (DECIMAL as a string with all its digits, ISO dates and timestamps, NaN and infinities as
strings, binary as base64); truncation is flagged in every format.

The values are checked against an independent reader (deltalake) and an independent
rendering of the documented JSON rules, written here.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from headwater.serve.formats import ARROW, CSV, JSON, PARQUET, NotAcceptable, choose_format
from headwater.serve.rows import BadParameter
from tests.conftest import write_files
from tests.support.serve import RunningServer, add_user, headwater, running_server

VALUES_SQL = """
select
  i::bigint as id,
  case i when 1 then 'nan'::double when 2 then 'inf'::double when 3 then '-inf'::double
         when 4 then null else i / 3 end as dbl,
  (12345678901234567890.1234567891 + i)::decimal(38,10) as big,
  (i * 0.01)::decimal(5,2) as small,
  'text ' || i || case i % 3 when 0 then ', "quoted"' when 1 then chr(10) || 'line'
                   else ' ünï' end as txt,
  i % 2 = 0 as flag,
  date '2024-02-28' + i::integer as day,
  timestamp '2024-01-01 00:00:00.123456' + to_seconds(i) as ts,
  timestamptz '2024-01-01 12:00:00+00' + to_seconds(i) as tstz,
  encode('bytes' || i) as bin,
  [i, null, i + 1] as lst,
  {'a': i, 'b': 'x' || i} as st,
  case when i = 5 then null else i end as maybe
from range(0, 12) t(i)
"""
FILES = {
    "headwater.yml": """
        name: formats
        threads: 2
        serve:
          roles:
            reader:
              read: ["core.*"]
          limits:
            max_rows: 500
          tables:
            core.vals: {keys: [id]}
    """,
    "models/core/vals.sql": VALUES_SQL,
}
MEDIA = {
    "json": "application/json",
    "csv": "text/csv",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass
class Served:
    server: RunningServer
    root: Path
    token: str

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("formats")
    write_files(root, FILES)
    headwater(root, "run")
    token = add_user(root, "rita", "reader")
    with running_server(root, pg=False) as server:
        yield Served(server, root, token)


def truth(served: Served) -> pa.Table:
    """core.vals as deltalake reads it, in key order."""
    table = DeltaTable(str(served.root / "warehouse" / "core" / "vals")).to_pyarrow_table()
    return table.sort_by("id")


def expected_json(value: Any) -> Any:
    """The documented JSON of one value, written independently of the server's code."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            utc = value.astimezone(dt.UTC)
            return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}Z"
        return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [expected_json(v) for v in value]
    if isinstance(value, dict):
        return {k: expected_json(v) for k, v in value.items()}
    raise AssertionError(f"no JSON rule for {value!r}")


def comparable(values: Any) -> Any:
    """`values` with NaN made equal to itself (NaN != NaN in Python)."""
    if isinstance(values, float) and math.isnan(values):
        return "NaN"
    if isinstance(values, list):
        return [comparable(v) for v in values]
    if isinstance(values, dict):
        return {k: comparable(v) for k, v in values.items()}
    return values


def fetch(served: Served, route: str, form: str, **params: Any) -> httpx.Response:
    with served.client() as client:
        if route == "rows":
            return client.get(
                "/api/tables/core.vals/rows", params={"format": form, "limit": "500", **params}
            )
        body = {"sql": "select * from core.vals order by id", **params}
        return client.post("/api/query", params={"format": form}, json=body)


@pytest.mark.parametrize("route", ["rows", "query"])
def test_every_format_decodes_to_the_same_values(served: Served, route: str) -> None:
    expected = truth(served)
    answers = {form: fetch(served, route, form) for form in MEDIA}
    for form, response in answers.items():
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(MEDIA[form])
    arrow = pa.ipc.open_stream(answers["arrow"].content).read_all()
    parquet = pq.read_table(io.BytesIO(answers["parquet"].content))
    # Arrow and Parquet: the values of the independent reader, type for type
    assert arrow.column_names == expected.column_names
    assert comparable(arrow.to_pylist()) == comparable(expected.to_pylist())
    assert comparable(parquet.to_pylist()) == comparable(expected.to_pylist())
    assert pa.types.is_decimal(arrow.schema.field("big").type)
    # JSON: the documented rendering of the same values
    body = answers["json"].json()
    assert body["columns"] == expected.column_names
    assert body["rows"] == [
        [expected_json(v) for v in row.values()] for row in expected.to_pylist()
    ]
    # every digit of a DECIMAL(38,10) survives
    for row, original in zip(body["rows"], expected.column("big").to_pylist(), strict=True):
        assert decimal.Decimal(row[2]) == original and row[2] == str(original)
    # CSV: scalar columns read back as their Arrow types equal the values
    scalar = [
        f
        for f in expected.schema
        if not pa.types.is_nested(f.type) and not pa.types.is_binary(f.type)
    ]
    parsed = pacsv.read_csv(
        io.BytesIO(answers["csv"].content),
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in scalar},
            null_values=[""],
            strings_can_be_null=False,
        ),
    )
    for field in scalar:
        found = comparable(parsed.column(field.name).to_pylist())
        assert found == comparable(expected.column(field.name).to_pylist()), field.name
    # CSV: binary as base64 and nested values as JSON text, like JSON's values
    records = list(csv.DictReader(io.StringIO(answers["csv"].text)))
    for record, row in zip(records, expected.to_pylist(), strict=True):
        assert record["bin"] == base64.b64encode(row["bin"]).decode()
        assert httpx.Response(200, content=record["lst"]).json() == row["lst"]
        assert httpx.Response(200, content=record["st"]).json() == row["st"]


def test_json_spells_special_values_as_documented(served: Served) -> None:
    body = fetch(served, "rows", "json", columns="id,dbl,small,day,ts,tstz,bin,maybe").json()
    rows = {row[0]: row for row in body["rows"]}
    assert [rows[1][1], rows[2][1], rows[3][1], rows[4][1]] == ["nan", "inf", "-inf", None]
    assert rows[6][1] == 2.0 and rows[7][1] == 7 / 3
    assert rows[7][2] == "0.07" and rows[0][2] == "0.00"
    assert rows[1][3] == "2024-02-29" and rows[2][3] == "2024-03-01"
    assert rows[2][4] == "2024-01-01T00:00:02.123456"
    assert rows[2][5] == "2024-01-01T12:00:02.000000Z"
    assert base64.b64decode(rows[3][6]) == b"bytes3"
    assert rows[5][7] is None and rows[6][7] == 6


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        (None, "json"),
        ("*/*", "json"),
        ("text/csv", "csv"),
        ("application/vnd.apache.arrow.stream", "arrow"),
        ("application/vnd.apache.parquet", "parquet"),
        ("text/html;q=0.9, application/vnd.apache.parquet;q=0.5, text/csv;q=0.8", "csv"),
        ("image/png, application/json;q=0.1", "json"),
    ],
)
def test_the_accept_header_chooses_the_format(
    served: Served, accept: str | None, form: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    with served.client() as client:
        rows = client.get("/api/tables/core.vals/rows", params={"id": "eq.1"}, headers=headers)
        query = client.post("/api/query", json={"sql": "select 1 as x"}, headers=headers)
    for response in (rows, query):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(MEDIA[form])


def test_format_wins_over_accept_and_bad_ones_are_refused(served: Served) -> None:
    with served.client() as client:
        chosen = client.get(
            "/api/tables/core.vals/rows",
            params={"format": "csv"},
            headers={"Accept": "application/json"},
        )
        unknown = client.post("/api/query", params={"format": "xlsx"}, json={"sql": "select 1"})
        refused = client.get("/api/tables/core.vals/rows", headers={"Accept": "image/png"})
    assert chosen.headers["content-type"].startswith("text/csv")
    assert unknown.status_code == 400 and unknown.json()["parameter"] == "format"
    assert refused.status_code == 406 and refused.json()["kind"] == "not_acceptable"


@pytest.mark.parametrize("form", list(MEDIA))
def test_truncation_is_flagged_in_every_format(served: Served, form: str) -> None:
    with served.client() as client:
        capped = client.post(
            "/api/query",
            params={"format": form},
            json={"sql": "select range as n from range(2000)"},
        )
        asked = client.post(
            "/api/query",
            params={"format": form},
            json={"sql": "select range as n from range(2000)", "max_rows": 10},
        )
        whole = client.post(
            "/api/query", params={"format": form}, json={"sql": "select range as n from range(3)"}
        )
    for response, rows, truncated in ((capped, 500, True), (asked, 10, True), (whole, 3, False)):
        assert response.status_code == 200, response.text
        if form == "json":
            assert response.json()["truncated"] is truncated
            values = [row[0] for row in response.json()["rows"]]
        else:
            assert response.headers["X-Headwater-Truncated"] == str(truncated).lower()
            values = decode(form, response.content).column("n").to_pylist()
        assert values == list(range(rows))


def decode(form: str, content: bytes) -> pa.Table:
    if form == "csv":
        return pacsv.read_csv(io.BytesIO(content))
    if form == "arrow":
        return pa.ipc.open_stream(content).read_all()
    return pq.read_table(io.BytesIO(content))


# -- the choice of a format, on its own ----------------------------------------------------------


def test_choose_format_reads_format_then_accept_by_quality() -> None:
    assert choose_format(None, None) is JSON
    assert choose_format("CSV", "application/json") is CSV
    assert choose_format(None, "text/csv;q=0.2, application/vnd.apache.arrow.stream") is ARROW
    assert choose_format(None, "application/x-parquet") is PARQUET
    assert choose_format(None, "text/*") is CSV
    assert choose_format(None, "image/png;q=1, */*;q=0.1") is JSON
    with pytest.raises(BadParameter) as bad:
        choose_format("xml", None)
    assert bad.value.parameter == "format"
    with pytest.raises(NotAcceptable):
        choose_format(None, "image/png, text/html")
    with pytest.raises(NotAcceptable):
        choose_format(None, "text/csv;q=0")
