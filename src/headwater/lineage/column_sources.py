"""What column lineage says: which upstream columns reach a model's column or rows, and how.

The vocabulary is OpenLineage's ColumnLineageDatasetFacet 1-2-0 (DIRECT values of IDENTITY,
TRANSFORMATION or AGGREGATION; INDIRECT influence through a JOIN, FILTER, GROUP_BY, SORT, WINDOW
or CONDITIONAL), so a result can be emitted as a facet without translation. `Use` and `compose`
chain one step's use of a column onto the sources that column already has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from headwater.errors import HeadwaterError, Location

Kind = Literal["DIRECT", "INDIRECT"]
DIRECT_SUBTYPES = ("IDENTITY", "TRANSFORMATION", "AGGREGATION")
"""Subtypes of DIRECT lineage, weakest first: a chain of steps keeps its strongest one."""
INDIRECT_SUBTYPES = ("JOIN", "FILTER", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL")
"""Subtypes of INDIRECT lineage: why a column influences values without flowing into them."""
SUBTYPES: dict[str, tuple[str, ...]] = {"DIRECT": DIRECT_SUBTYPES, "INDIRECT": INDIRECT_SUBTYPES}

Use = tuple[Kind, str]
"""How an expression uses a column: the type and subtype a source reached through it gets."""
IDENTITY: Use = ("DIRECT", "IDENTITY")
TRANSFORMATION: Use = ("DIRECT", "TRANSFORMATION")
AGGREGATION: Use = ("DIRECT", "AGGREGATION")


@dataclass(frozen=True)
class ColumnSource:
    """One upstream column and how it reaches a model's column or rows.

    Attributes:
        asset: the upstream table as "namespace.name", spelled as in the schemas mapping.
        column: the upstream column, spelled as in the schemas mapping.
        type: DIRECT when the value flows into the output, INDIRECT when it only influences it.
        subtype: DIRECT: IDENTITY, TRANSFORMATION or AGGREGATION; INDIRECT: JOIN, FILTER,
            GROUP_BY, SORT, WINDOW or CONDITIONAL.
    """

    asset: str
    column: str
    type: Kind
    subtype: str

    def __post_init__(self) -> None:
        if self.type not in SUBTYPES or self.subtype not in SUBTYPES[self.type]:
            raise ValueError(f"not an OpenLineage transformation: {self.type} {self.subtype}")

    def to_json(self) -> dict[str, str]:
        """Return the source as a plain dict."""
        return {
            "asset": self.asset,
            "column": self.column,
            "type": self.type,
            "subtype": self.subtype,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnSource:
        """Rebuild a source from `to_json` output."""
        kind = data["type"]
        if kind not in get_args(Kind):
            raise ValueError(f"not a lineage type: {kind!r}")
        return cls(str(data["asset"]), str(data["column"]), kind, str(data["subtype"]))


@dataclass(frozen=True)
class ModelLineage:
    """The lineage of one model.

    Attributes:
        columns: every output column, in output order, with its DIRECT sources plus the
            INDIRECT ones that only concern it (CASE/IF conditions and aggregate FILTERs as
            CONDITIONAL, window PARTITION BY/ORDER BY as WINDOW, ORDER BY inside an aggregate
            as SORT).
        dataset: INDIRECT sources that affect every row: JOIN keys, WHERE/HAVING/QUALIFY
            filters, GROUP BY and ORDER BY, including those of the CTEs and subqueries it reads.
    """

    columns: dict[str, tuple[ColumnSource, ...]]
    dataset: tuple[ColumnSource, ...]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable form; `from_json` reads it back."""
        return {
            "columns": {
                name: [source.to_json() for source in sources]
                for name, sources in self.columns.items()
            },
            "dataset": [source.to_json() for source in self.dataset],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelLineage:
        """Rebuild a lineage from `to_json` output."""
        return cls(
            {
                name: tuple(ColumnSource.from_json(source) for source in sources)
                for name, sources in data["columns"].items()
            },
            tuple(ColumnSource.from_json(source) for source in data["dataset"]),
        )


class LineageError(HeadwaterError):
    """The model's SQL cannot be analysed; the message says why and names the column.

    Attributes:
        column: the column at fault, if one is. It is kept out of `location` because the
            message already names it; callers fill in the location's asset and file.
    """

    def __init__(self, message: str, column: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, Location(), hint)
        self.column = column


def weaker(use: Use) -> Use:
    """The use of a column one function below `use`: IDENTITY becomes TRANSFORMATION."""
    return TRANSFORMATION if use == IDENTITY else use


def compose(use: Use, sources: Iterable[ColumnSource]) -> Iterator[ColumnSource]:
    """Chain a use onto upstream sources: DIRECT keeps the stronger DIRECT subtype and leaves
    INDIRECT sources as they are; INDIRECT makes every source INDIRECT of the use's subtype."""
    kind, subtype = use
    rank = DIRECT_SUBTYPES.index
    for source in sources:
        if kind == "INDIRECT":
            yield replace(source, type="INDIRECT", subtype=subtype)
        elif source.type == "DIRECT" and rank(subtype) > rank(source.subtype):
            yield replace(source, subtype=subtype)
        else:
            yield source
