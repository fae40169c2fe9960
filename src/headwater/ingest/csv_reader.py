"""Read one CSV or TSV file through DuckDB's reader into staged Parquet, in one scan.

Types come from the sidecar's declared columns or the table once it exists; on the first load
they are inferred from a sample read as text, taking a type when nearly all sampled values cast
to it, so a few bad values are quarantined rather than turning a numeric column into text. The
lines DuckDB cannot read (wrong column count, a value that does not cast, bad quoting, invalid
encoding, an over-long line) are recorded during the same scan and quarantined (see
`csv_rejects.py`).
"""

from __future__ import annotations

import uuid
from typing import Any

from headwater.engine.base import EngineSession
from headwater.errors import SOURCES_DOCS, Location, SourceError, first_line
from headwater.ingest.base import Extracted, ExtractRequest
from headwater.ingest.csv_rejects import rejected_records, utf8_view
from headwater.project.hive_folders import HiveFolders, hive_folders, reader_option, select_list
from headwater.project.sources import TableConfig
from headwater.sqltext import identifier, literal

SAMPLE_ROWS = 20_000
TYPE_SHARE = 0.9
"""A sampled column takes a type when this share of its values cast to it."""
CANDIDATE_TYPES = ("BIGINT", "DOUBLE", "DATE", "TIMESTAMP")


def read_csv(request: ExtractRequest, path: str, name: str, kind: str, out: Extracted) -> None:
    """Stage the rows of the CSV (or TSV, by `kind`) file at `path`, shown as `name`, into
    `out`, and its unreadable records into `out.bad`."""
    session = request.session
    folders = hive_folders(path, request.project_root)
    options = _csv_options(request.spec.table, kind, folders)
    selected = select_list(folders)
    try:
        names = _header(path, request.spec.table, kind)
    except Exception as exc:  # a header line Python's csv cannot split, a corrupt .gz
        raise _unreadable(name, exc) from None
    if not names:
        return
    as_text = "{" + ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names) + "}"
    try:
        header = session.query(
            f"SELECT {selected} FROM read_csv({literal(path)}, {options}, columns = {as_text}, "
            f"auto_detect = false, ignore_errors = true) LIMIT {SAMPLE_ROWS}"
        )
    except Exception as exc:
        raise _unreadable(name, exc) from None
    known: dict[str, str] = {}
    if request.table_schema is not None:
        known = session.sql_types(request.table_schema)
    declared = {k: v.upper() for k, v in request.spec.table.column_types.items()}
    types: dict[str, str] = {}
    for column in names:
        types[column] = declared.get(column) or known.get(column) or _infer(session, header, column)
    tag = uuid.uuid4().hex[:12]
    rejects, scans = f"hw_rejects_{tag}", f"hw_scans_{tag}"
    columns = "{" + ", ".join(f"{literal(c)}: {literal(t)}" for c, t in types.items()) + "}"
    scan = (
        f"SELECT {selected} FROM read_csv({literal(path)}, {options}, columns = {columns}, "
        f"auto_detect = false, store_rejects = true, rejects_table = {literal(rejects)}, "
        f"rejects_scan = {literal(scans)})"
    )
    directory = request.stage_dir / f"csv-{tag}"
    try:
        written = session.copy_parquet(scan, directory)
        rejected = session.query(
            f"SELECT line, line_byte_position, column_name, error_type, csv_line, "
            f"error_message FROM {identifier(rejects)} ORDER BY line"
        )
    except Exception as exc:
        raise _unreadable(name, exc) from None
    finally:
        for created in (rejects, scans):
            session.execute(f"DROP TABLE IF EXISTS {identifier(created)}")
    out.add_files(written.files, written.schema, written.rows)
    rows = rejected.to_pylist()
    if rows:
        encoding = request.spec.table.csv.encoding
        with utf8_view(path, encoding, request.scratch_dir) as view:
            out.bad.extend(rejected_records(rows, name, view, encoding))


def _unreadable(name: str, exc: Exception) -> SourceError:
    """The error for the file shown as `name`, which its reader failed on with `exc`."""
    return SourceError(
        f"cannot read {name}: {first_line(exc)}",
        Location(file=name),
        f"check the file's format and the table's 'csv:' options; see {SOURCES_DOCS}",
    )


def _header(path: str, table: TableConfig, kind: str) -> list[str]:
    """Column names from the first line (or `column_1`... without a header), read without
    DuckDB's sniffer, which gives up on files with enough bad lines."""
    import csv
    import gzip

    options = table.csv
    opener: Any = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding=options.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(
            handle,
            delimiter=options.delimiter or ("\t" if kind == "tsv" else ","),
            quotechar=options.quote,
            escapechar=options.escape if options.escape != options.quote else None,
        )
        first = next(reader, None)
    if first is None:
        return []
    if not options.header:
        return [f"column_{i}" for i in range(1, len(first) + 1)]
    names = [n.strip() or f"column_{i}" for i, n in enumerate(first, start=1)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            seen[n] += 1
            names[i] = f"{n}_{seen[n]}"
        else:
            seen[n] = 0
    return names


def _csv_options(table: TableConfig, kind: str, folders: HiveFolders) -> str:
    csv = table.csv
    delimiter = csv.delimiter or ("\t" if kind == "tsv" else ",")
    options = [
        f"delim = {literal(delimiter)}",
        f"header = {'true' if csv.header else 'false'}",
        f"quote = {literal(csv.quote)}",
        f"encoding = {literal(csv.encoding)}",
        f"max_line_size = {csv.max_line_size}",
        *reader_option(folders),
    ]
    if csv.escape:
        options.append(f"escape = {literal(csv.escape)}")
    return ", ".join(options)


def _infer(session: EngineSession, sample: Any, column: str) -> str:
    values = [v for v in sample.column(column).to_pylist() if v not in (None, "")]
    if not values:
        return "VARCHAR"
    if all(v.strip().lower() in ("true", "false") for v in values):
        return "BOOLEAN"
    # TRY_CAST on the sample: the share of values each candidate type accepts
    # DuckDB casts '1.5' to BIGINT by rounding, so an integer must also look like one
    accepted = {
        t: f"TRY_CAST(v AS {t}) IS NOT NULL"
        + (" AND regexp_full_match(trim(v), '[+-]?[0-9]+')" if t == "BIGINT" else "")
        for t in CANDIDATE_TYPES
    }
    counts = session.query(
        "SELECT "
        + ", ".join(f"count(*) FILTER ({test}) AS {t.lower()}" for t, test in accepted.items())
        + " FROM (SELECT unnest(?::VARCHAR[]) AS v)",
        [values],
    ).to_pylist()[0]
    for kind in CANDIDATE_TYPES:
        count = counts[kind.lower()]
        if count >= TYPE_SHARE * len(values):
            return kind
    return "VARCHAR"
