"""What an extractor is given and what it hands back.

An extractor gets an `ExtractRequest` (the table's spec, an engine session, a staging folder and
the state of the last load) and returns an `Extracted`: the new rows staged as Parquet, the
records it set aside (`BadRecord`) and the source position they bring the table to. Each kind
of extractor also names where a table's rows come from (`DatasetOrigin`), for lineage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.build.secrets import resolve
from headwater.errors import ConfigError, Location
from headwater.project.sources import SourceTable
from headwater.storage.base import WrittenFile

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from headwater.engine.base import EngineSession
    from headwater.project.yamlfile import YamlDocument


@dataclass(frozen=True)
class DatasetOrigin:
    """Where a source table's rows come from, named as OpenLineage names an input dataset."""

    namespace: str
    """`file`, `postgres://host:port`, `https://api.example.com`, ..."""
    name: str
    """The dataset within the namespace: a file's path, `db.schema.table`, an endpoint's path."""


def origin_url(url: str) -> str:
    """Return `url` with its `${VAR}`s filled in from the environment, or as written when one
    is unset (naming an origin must not fail: the build that reads the source reports that)."""
    try:
        return resolve(url, Location(), "url")
    except ConfigError:
        return url


@dataclass(frozen=True)
class BadRecord:
    """One record that could not be loaded, kept in the quarantine table with why."""

    location: str
    """Where it came from: `path:line`, a URL and page, or a table and key."""
    error_class: str
    """A short class: `cast`, `missing_columns`, `too_many_columns`, `encoding`, `json`,
    `schema`, `quoting`, `line_size`."""
    reason: str
    """The full explanation."""
    raw: str | None = None
    """The record as it arrived, when there is text to show."""
    column: str | None = None
    """The column at fault, when one is."""
    line: int | None = None
    """The physical line of the source file where the record starts (1-based, the header
    counted), for files."""
    raw_bytes: bytes | None = None
    """The record's exact bytes, when `raw` does not hold them (they are not valid UTF-8, or
    the file is in another encoding); None when `raw` encoded as UTF-8 is the original."""


@dataclass
class Extracted:
    """New rows staged as Parquet, the records set aside, and the state they bring us to."""

    files: list[WrittenFile] = field(default_factory=list)
    schema: pa.Schema | None = None
    rows: int = 0
    bad: list[BadRecord] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    """Source position after these rows (files seen, API cursor); the cursor column's highest
    value is added by the loader."""
    replaces_all: bool = False
    """For files in `replace` mode: these rows are the whole table."""
    children: dict[str, Extracted] = field(default_factory=dict)
    """Rows of the child tables made from nested lists, by path (`items`, `items__options`);
    their bad records are in `bad`."""
    parent: str = ""
    """For a child table's rows: the path of the table holding its lists ("" for the
    top-level table)."""
    records_seen: int = 0
    """Records read so far by this load (across its files), for their ordinals."""
    descriptions: dict[str, str] = field(default_factory=dict)
    """Comments the source database keeps on the table (`""`) and its columns."""
    complete: bool = True
    """False when records the source holds were skipped (a REST page set aside by
    `on_bad_page: quarantine`): the cursor must then not move, and nothing may be replaced."""

    def add_files(self, files: list[WrittenFile], schema: pa.Schema | None, rows: int) -> None:
        """Take in `rows` more rows staged as `files` with `schema` (one file of a table read
        file by file): several files may bring different columns, so the schema becomes the
        union of both, the first's types winning."""
        self.files.extend(files)
        self.rows += rows
        if self.schema is None or not files:
            self.schema = self.schema or schema
            return
        names = set(self.schema.names)
        if schema is not None and any(f.name not in names for f in schema):
            self.schema = _union(self.schema, schema)

    def add_children(self, children: dict[str, Extracted]) -> None:
        """Take in the child rows of another extract (another file of the same table)."""
        for path, child in children.items():
            mine = self.children.setdefault(path, Extracted(parent=child.parent))
            mine.files.extend(child.files)
            mine.rows += child.rows
            mine.schema = _union(mine.schema, child.schema)


def _union(first: pa.Schema | None, second: pa.Schema | None) -> pa.Schema | None:
    """The columns of both, the first's types winning."""
    if first is None or second is None:
        return first if second is None else second
    import pyarrow as pa

    names = set(first.names)
    return pa.schema([*first, *(f for f in second if f.name not in names)])


@dataclass
class ExtractRequest:
    """What an extractor needs: the table spec, the engine session and where to stage."""

    spec: SourceTable
    session: EngineSession
    stage_dir: Path
    """A fresh folder inside the table's folder; Parquet written here is committed as is."""
    project_root: Path
    state: dict[str, Any]
    """The state of the last committed load (empty on the first)."""
    table_schema: pa.Schema | None
    """The current table's schema (None on the first load)."""
    scratch_dir: Path
    """A private folder for temporary files (removed afterwards)."""
    source_file: str
    """The source's YAML file, relative to the project (`sources/shop.yml`), for errors."""
    child_schemas: dict[str, pa.Schema] = field(default_factory=dict)
    """The current schemas of the table's child tables, by path."""
    document: YamlDocument | None = None
    """The source's YAML file as the project loaded it, for errors naming a line of it."""

    @property
    def key(self) -> str:
        """The table as `source.table`."""
        return f"{self.spec.source_name}.{self.spec.name}"

    def location(self, key_path: Sequence[str] = ()) -> Location:
        """Where an error about this table points: the source's file, at the line of
        `key_path` in it when one is given (the deepest part of it the file holds), and the
        table's key."""
        line = self.document.line_of(key_path) if key_path and self.document else None
        return Location(file=self.source_file, line=line, asset=self.key)


class Extractor(ABC):
    """Reads one source table's new data."""

    @abstractmethod
    def extract(self, request: ExtractRequest) -> Extracted:
        """Stage the new rows of `request.spec` under `request.stage_dir` and return them."""
