"""`headwater governance scan`: sample the text columns of stored tables and suggest a `pii:`
kind for those not yet classified whose values look like personal data.

A column is suggested a kind when, among its sampled non-empty values, at least `threshold` of
them match that kind's detector (`headwater.governance.detectors`) and at least `min_matches`
do, so that a table of three rows decides nothing. Columns already classified, declared or
found along lineage, are left out: the scan looks for what the YAML misses. Sampled values are
personal data themselves, so a suggestion keeps only masked examples of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.errors import UsageError
from headwater.governance.detectors import DETECTORS, mask
from headwater.project.kinds import BuildKind

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

    from headwater.governance.classification import Classification
    from headwater.project.definition import Asset

Query = Callable[[str], "pa.Table"]
"""Runs one read-only query over the project's tables (DuckDB SQL) and returns its result."""

DEFAULT_SAMPLE = 1000
"""Rows sampled from each table."""
DEFAULT_THRESHOLD = 0.8
"""Share of a column's sampled values that must match a kind for it to be suggested."""
DEFAULT_MIN_MATCHES = 5
"""Matching values a column needs at least for its kind to be suggested."""
SAMPLE_SEED = 42
"""The seed of the reservoir sample: the same data gives the same suggestions."""
EXAMPLES = 3
"""Masked examples shown per suggestion."""
TEXT_TYPES = ("VARCHAR", "CHAR", "BPCHAR", "TEXT", "STRING")
"""DuckDB type names (and their prefixes) of the columns scanned."""


@dataclass(frozen=True)
class Match:
    """The kind most of a column's values look like, and how many do."""

    kind: str
    matches: int
    """Sampled values matching `kind`."""
    values: int
    """Non-empty sampled values."""
    examples: tuple[str, ...]
    """Up to three matching values, masked."""

    @property
    def share(self) -> float:
        """The share of the sampled values matching `kind`."""
        return self.matches / self.values if self.values else 0.0


@dataclass(frozen=True)
class Suggestion:
    """A column not classified whose sampled values look like one kind of personal data, and
    the YAML that would declare it."""

    asset: str
    column: str
    match: Match
    file: str | None
    """The YAML file to declare the column in, relative to the project root (None: this
    table's columns cannot be declared; see `note`)."""
    under: str | None
    """Where in `file` the YAML goes, as a key path: `columns` (a new entry of the list),
    `columns[name=email]` (the column's entry) or `tables.<table>.columns`."""
    yaml: str | None
    """The YAML to add there."""
    note: str | None = None
    """Why the column cannot be declared, when `file` is None."""


@dataclass(frozen=True)
class Skipped:
    """A selected asset the scan did not sample, and why."""

    asset: str
    reason: str
    not_built: bool
    """True for a table never built; False for a view or an ephemeral model (nothing stored
    to sample)."""


@dataclass
class ScanReport:
    """What `governance scan` found: its suggestions and what it sampled or left out."""

    sample: int
    threshold: float
    min_matches: int
    suggestions: list[Suggestion] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    """The tables sampled."""
    classified: list[str] = field(default_factory=list)
    """Text columns (`asset.column`) not sampled because they are classified already."""
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready document.

        Returns:
            `suggestions` (each with `asset`, `column`, `kind`, `share`, `matches`, `values`,
            masked `examples`, and `file`, `under` and `yaml` saying where to declare it, or
            `note` why it cannot be), `scanned`, `classified`, `skipped` (`asset`, `reason`,
            `not_built`),
            and the `sample`, `threshold` and `min_matches` the scan used.
        """
        return {
            "suggestions": [
                {
                    "asset": s.asset,
                    "column": s.column,
                    "kind": s.match.kind,
                    "share": round(s.match.share, 4),
                    "matches": s.match.matches,
                    "values": s.match.values,
                    "examples": list(s.match.examples),
                    "file": s.file,
                    "under": s.under,
                    "yaml": s.yaml,
                    "note": s.note,
                }
                for s in self.suggestions
            ],
            "scanned": list(self.scanned),
            "classified": list(self.classified),
            "skipped": [
                {"asset": s.asset, "reason": s.reason, "not_built": s.not_built}
                for s in self.skipped
            ],
            "sample": self.sample,
            "threshold": self.threshold,
            "min_matches": self.min_matches,
        }


def best_match(
    values: Sequence[str],
    threshold: float = DEFAULT_THRESHOLD,
    min_matches: int = DEFAULT_MIN_MATCHES,
) -> Match | None:
    """The kind of personal data `values` (a column's sampled values) look like.

    Empty and blank values are not counted. Each detector is tried on every value; the kind
    with the most matches wins (ties go to the kind listed first in `DETECTORS`).

    Returns:
        The match, when at least `threshold` of the values and at least `min_matches` of them
        match its kind; else None.
    """
    texts = [v.strip() for v in values if v and v.strip()]
    if len(texts) < min_matches:
        return None
    best: Match | None = None
    for kind, detector in DETECTORS.items():
        matching = [v for v in texts if detector(v)]
        if best is not None and len(matching) <= best.matches:
            continue
        examples: list[str] = []
        for value in matching:
            shown = mask(kind, value)
            if shown not in examples:
                examples.append(shown)
            if len(examples) == EXAMPLES:
                break
        best = Match(kind, len(matching), len(texts), tuple(examples))
    if best is None or best.matches < min_matches or best.share < threshold:
        return None
    return best


def scan_assets(
    assets: Sequence[Asset],
    query: Query,
    classification: Classification,
    built: Callable[[Asset], bool],
    *,
    sample: int = DEFAULT_SAMPLE,
    threshold: float = DEFAULT_THRESHOLD,
    min_matches: int = DEFAULT_MIN_MATCHES,
) -> ScanReport:
    """Sample the text columns of `assets` that `classification` does not classify, through
    `query`, and suggest a kind for each whose values look like personal data.

    Views and ephemeral models are not sampled (their columns come from tables that are), nor
    are tables never built (`built` says which are).

    Returns:
        The report: suggestions in the order of `assets`, then of each table's columns.

    Raises:
        UsageError: an option is out of range (see `check_options`).
    """
    check_options(sample, threshold, min_matches)
    report = ScanReport(sample, threshold, min_matches)
    for asset in assets:
        if not asset.is_stored:
            kind = "a view" if asset.materialized == BuildKind.VIEW else "ephemeral"
            reason = f"{kind}, not stored: its columns come from tables that are scanned"
            report.skipped.append(Skipped(asset.key, reason, not_built=False))
            continue
        if not built(asset):
            report.skipped.append(
                Skipped(asset.key, "not built yet: run it, then scan", not_built=True)
            )
            continue
        report.scanned.append(asset.key)
        columns: list[str] = []
        for column in _text_columns(asset, query):
            if classification.kinds(asset.key, column):
                report.classified.append(f"{asset.key}.{column}")
            else:
                columns.append(column)
        if not columns:
            continue
        sampled = query(sample_sql(asset, columns, sample))
        for column in columns:
            values = [v for v in sampled.column(column).to_pylist() if isinstance(v, str)]
            found = best_match(values, threshold, min_matches)
            if found is not None:
                report.suggestions.append(suggestion(asset, column, found))
    return report


def check_options(sample: int, threshold: float, min_matches: int) -> None:
    """Refuse options a scan cannot use.

    Raises:
        UsageError: `sample` or `min_matches` is below 1, or `threshold` is not in (0, 1].
    """
    if sample < 1:
        raise UsageError(f"--sample {sample} samples no rows", hint="sample 1 row or more")
    if not 0 < threshold <= 1:
        raise UsageError(
            f"--threshold {threshold} is not a share", hint="give a share above 0, at most 1"
        )
    if min_matches < 1:
        raise UsageError(f"--min-matches {min_matches} is below 1", hint="give 1 or more")


def _text_columns(asset: Asset, query: Query) -> list[str]:
    """The columns of `asset`'s table whose type is text, in table order."""
    from sqlglot import exp

    described = query(exp.Describe(this=_table(asset)).sql("duckdb")).to_pylist()
    return [
        str(row["column_name"])
        for row in described
        if str(row["column_type"]).upper().startswith(TEXT_TYPES)
    ]


def sample_sql(asset: Asset, columns: Sequence[str], rows: int) -> str:
    """The query sampling `rows` rows of `columns` of `asset`'s table (DuckDB's reservoir
    sample with a fixed seed, so the same data gives the same sample; a smaller table is read
    whole)."""
    from sqlglot import exp

    select = exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(_table(asset))
    select.set(
        "sample",
        exp.TableSample(
            method=exp.var("RESERVOIR"),
            size=exp.Literal.number(rows),
            seed=exp.Literal.number(SAMPLE_SEED),
        ),
    )
    return select.sql("duckdb")


def _table(asset: Asset) -> exp.Table:
    """`asset`'s table as the query path names it (`"namespace"."name"`)."""
    from sqlglot import exp

    return exp.table_(asset.name, db=asset.namespace, quoted=True)


def suggestion(asset: Asset, column: str, found: Match) -> Suggestion:
    """The suggestion that `asset.column` holds `found.kind`, with where its YAML declares it:
    a seed's or model's sidecar (`columns:`), or the source file of a source table (its
    `columns:` under `tables:`)."""
    import yaml

    def flow(value: Any) -> str:
        return str(yaml.safe_dump(value, default_flow_style=None, sort_keys=False)).strip()

    kind = found.kind
    if asset.parent is not None:
        note = f"filled by the load of {asset.parent}: its columns cannot be declared `pii:`"
        return Suggestion(asset.key, column, found, None, None, None, note)
    config = asset.model or asset.seed
    if config is not None:
        document = asset.document
        file = str(document.path) if document is not None else _sidecar_of(asset.rel_path)
        listed = next((c.name for c in config.columns if c.name.lower() == column.lower()), None)
        if listed is not None:
            return Suggestion(
                asset.key, column, found, file, f"columns[name={listed}]", f"pii: {kind}"
            )
        entry = flow([{"name": column, "pii": kind}])
        return Suggestion(asset.key, column, found, file, "columns", entry)
    if asset.source is not None:
        table = asset.source
        declared = next(
            ((n, c) for n, c in table.table.columns.items() if n.lower() == column.lower()),
            None,
        )
        long_form: dict[str, Any] = {"pii": kind}
        name = column
        if declared is not None:
            name, entry_config = declared
            long_form = {
                **({"type": entry_config.type} if entry_config.type else {}),
                "pii": kind,
                **({"description": entry_config.description} if entry_config.description else {}),
            }
        under = f"tables.{table.name}.columns"
        return Suggestion(asset.key, column, found, table.rel_path, under, flow({name: long_form}))
    note = "a stream's table: its columns cannot be declared `pii:`"
    return Suggestion(asset.key, column, found, None, None, None, note)


def _sidecar_of(rel_path: str) -> str:
    """The sidecar a seed or model file would have (`seeds/people.csv` -> `seeds/people.yml`)."""
    from pathlib import PurePosixPath

    return str(PurePosixPath(rel_path).with_suffix(".yml"))
