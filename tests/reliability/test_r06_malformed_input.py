"""R6: 100,000 rows with 10,000 malformed across every error class, as CSV and as NDJSON.

Exactly 90,000 rows load; exactly 10,000 are quarantined, each with its file, line, error class,
raw text and (where one column is at fault) the column.
"""

from __future__ import annotations

import json
from collections import Counter

from deltalake import DeltaTable

from tests.conftest import ProjectFactory

ROWS = 100_000
BAD_EVERY = 10  # row numbers divisible by 10 are broken: 10,000 of them

CSV_BREAKERS = [
    ("cast", lambda i: f"{i},not-a-number,2024-01-01,name{i}"),
    ("cast", lambda i: f"{i},1.5,2024-02-31,name{i}"),
    ("missing_columns", lambda i: f"{i},1.5,2024-01-01"),
    ("too_many_columns", lambda i: f"{i},1.5,2024-01-01,name{i},surplus"),
    ("quoting", lambda i: f'{i},1.5,2024-01-01,"quoted"trailing{i}'),
    ("line_size", lambda i: f"{i},1.5,2024-01-01,{'x' * 5000}"),
    ("encoding", lambda i: None),  # written as bytes below
]


def _csv_bytes() -> tuple[bytes, Counter[str]]:
    lines = [b"id,amount,day,name"]
    expected: Counter[str] = Counter()
    for i in range(1, ROWS + 1):
        if i % BAD_EVERY:
            lines.append(f"{i},{i % 1000}.25,2024-01-{1 + i % 28:02d},name{i}".encode())
            continue
        kind, make = CSV_BREAKERS[(i // BAD_EVERY) % len(CSV_BREAKERS)]
        expected[kind] += 1
        text = make(i)
        lines.append(
            f"{i},1.5,2024-01-01,name".encode() + b"\xff\xfe" if text is None else text.encode()
        )
    return b"\n".join(lines) + b"\n", expected


def test_r6_csv(make_project: ProjectFactory) -> None:
    data, expected = _csv_bytes()
    project = make_project(
        {
            "sources/files.yml": (
                "kind: files\ntables:\n  rows:\n    path: data/rows.csv\n"
                "    csv:\n      max_line_size: 2048\n"
            )
        }
    )
    (project.root / "data").mkdir()
    (project.root / "data/rows.csv").write_bytes(data)
    outcome = project.run().outcome("files.rows")
    assert outcome.status == "success", outcome.message
    assert outcome.rows == 90_000
    table = DeltaTable(str(project.definition.warehouse / "files/rows")).to_pyarrow_table()
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 90_000
    assert set(ids) == {i for i in range(1, ROWS + 1) if i % BAD_EVERY}

    bad = project.quarantine("files.rows", 100_000).to_pylist()
    assert len(bad) == 10_000
    assert Counter(r["error_class"] for r in bad) == expected
    assert {r["line"] - 1 for r in bad} == {i for i in range(1, ROWS + 1) if not i % BAD_EVERY}
    for record in bad:
        assert record["location"] == f"data/rows.csv:{record['line']}"
        assert record["reason"]
        assert record["raw"] is not None
        if record["error_class"] in ("cast", "missing_columns"):
            assert record["column"] in ("amount", "day", "name")


def _ndjson_bytes() -> tuple[bytes, Counter[str]]:
    lines = []
    expected: Counter[str] = Counter()
    breakers = [
        ("json", lambda i: f'{{"id": {i}, "amount": '.encode()),
        ("json", lambda i: json.dumps([i, "not an object"]).encode()),
        ("cast", lambda i: json.dumps({"id": i, "amount": "lots"}).encode()),
        ("encoding", lambda i: f'{{"id": {i}, "name": "'.encode() + b'\xff\xfe"}'),
    ]
    for i in range(1, ROWS + 1):
        if i % BAD_EVERY:
            lines.append(json.dumps({"id": i, "amount": i % 1000 + 0.25, "name": f"n{i}"}).encode())
            continue
        kind, make = breakers[(i // BAD_EVERY) % len(breakers)]
        expected[kind] += 1
        lines.append(make(i))
    return b"\n".join(lines) + b"\n", expected


def test_r6_ndjson(make_project: ProjectFactory) -> None:
    data, expected = _ndjson_bytes()
    project = make_project(
        {"sources/files.yml": "kind: files\ntables:\n  rows:\n    path: data/rows.ndjson\n"}
    )
    (project.root / "data").mkdir()
    (project.root / "data/rows.ndjson").write_bytes(data)
    outcome = project.run().outcome("files.rows")
    assert outcome.status == "success", outcome.message
    assert outcome.rows == 90_000
    bad = project.quarantine("files.rows", 100_000).to_pylist()
    assert len(bad) == 10_000
    assert Counter(r["error_class"] for r in bad) == expected
    for record in bad:
        assert record["location"] == f"data/rows.ndjson:{record['line']}"
        assert record["reason"] and record["raw"]
        if record["error_class"] == "cast":
            assert record["column"] == "amount"
