"""What column lineage says: which upstream columns reach a model's column or rows, and how.

The vocabulary is OpenLineage's ColumnLineageDatasetFacet 1-2-0 (DIRECT values of IDENTITY,
TRANSFORMATION or AGGREGATION; INDIRECT influence through a JOIN, FILTER, GROUP_BY, SORT, WINDOW
or CONDITIONAL), so a result can be emitted as a facet without translation. Headwater adds one
attribute of its own, `carries`: whether the upstream column's value (or part of it) is still in
the output, which is what a personal-data tag follows. `Use` and `compose` chain one step's use
of a column onto the sources that column already has; `combined` merges the uses of one column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple, get_args

from headwater.errors import HeadwaterError, Location

Kind = Literal["DIRECT", "INDIRECT"]
DIRECT_SUBTYPES = ("IDENTITY", "TRANSFORMATION", "AGGREGATION")
"""Subtypes of DIRECT lineage, weakest first: a chain of steps keeps its strongest one."""
INDIRECT_SUBTYPES = ("JOIN", "FILTER", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL")
"""Subtypes of INDIRECT lineage: why a column influences values without flowing into them."""
SUBTYPES: dict[str, tuple[str, ...]] = {"DIRECT": DIRECT_SUBTYPES, "INDIRECT": INDIRECT_SUBTYPES}


class Use(NamedTuple):
    """How an expression uses a column: what a source reached through it becomes.

    Attributes:
        type: DIRECT or INDIRECT.
        subtype: one of `SUBTYPES[type]`.
        carries: for a DIRECT use, whether every function between the column and the output
            keeps (part of) the column's value; meaningless for an INDIRECT use.
    """

    type: Kind
    subtype: str
    carries: bool = True


IDENTITY = Use("DIRECT", "IDENTITY")
TRANSFORMATION = Use("DIRECT", "TRANSFORMATION")
AGGREGATION = Use("DIRECT", "AGGREGATION")


def indirect(subtype: str) -> Use:
    """Return the INDIRECT use of the given subtype (JOIN, FILTER, ...)."""
    return Use("INDIRECT", subtype, carries=False)


def carried_by_default(kind: str, subtype: str) -> bool:
    """Return whether a source of this type and subtype carries the value when nothing else
    says: True for DIRECT IDENTITY and TRANSFORMATION, False otherwise.

    This is how lineage recorded before `carries` existed is read; a computed lineage knows
    better (``max(email)`` carries although it is an AGGREGATION, ``length(email)`` does not
    although it is a TRANSFORMATION).
    """
    return kind == "DIRECT" and subtype in ("IDENTITY", "TRANSFORMATION")


@dataclass(frozen=True, init=False)
class ColumnSource:
    """One upstream column and how it reaches a model's column or rows.

    Attributes:
        asset: the upstream table as "namespace.name", spelled as in the schemas mapping.
        column: the upstream column, spelled as in the schemas mapping.
        type: DIRECT when the value flows into the output, INDIRECT when it only influences it.
        subtype: DIRECT: IDENTITY, TRANSFORMATION or AGGREGATION; INDIRECT: JOIN, FILTER,
            GROUP_BY, SORT, WINDOW or CONDITIONAL.
        carries: whether the output still holds the upstream value or part of it (``lower``,
            ``substr``, ``max``, ``string_agg``...), rather than something computed about it
            (``length``, ``count``, ``sum``, a comparison). Always False for INDIRECT sources.
            Not part of OpenLineage: it is what personal-data tags follow downstream.
    """

    asset: str
    column: str
    type: Kind
    subtype: str
    carries: bool

    def __init__(
        self,
        asset: str,
        column: str,
        type: Kind,
        subtype: str,
        carries: bool | None = None,
    ) -> None:
        """Build a source; `carries` left out (None) is `carried_by_default(type, subtype)`.

        Raises:
            ValueError: the type and subtype are not OpenLineage's, or an INDIRECT source is
                said to carry the value.
        """
        if type not in SUBTYPES or subtype not in SUBTYPES[type]:
            raise ValueError(f"not an OpenLineage transformation: {type} {subtype}")
        if carries is None:
            carries = carried_by_default(type, subtype)
        elif carries and type == "INDIRECT":
            raise ValueError(f"an INDIRECT source does not carry the value: {asset}.{column}")
        # The class is frozen, so its own __setattr__ refuses even here.
        object.__setattr__(self, "asset", asset)
        object.__setattr__(self, "column", column)
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "subtype", subtype)
        object.__setattr__(self, "carries", carries)

    def to_json(self) -> dict[str, Any]:
        """Return the source as a plain dict (`carries` included)."""
        return {
            "asset": self.asset,
            "column": self.column,
            "type": self.type,
            "subtype": self.subtype,
            "carries": self.carries,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnSource:
        """Rebuild a source from `to_json` output.

        A document written before `carries` existed gets `carried_by_default`.
        """
        kind = data["type"]
        if kind not in get_args(Kind):
            raise ValueError(f"not a lineage type: {kind!r}")
        carries = data.get("carries")
        if carries is not None and not isinstance(carries, bool):
            raise ValueError(f"not a lineage carries flag: {carries!r}")
        return cls(str(data["asset"]), str(data["column"]), kind, str(data["subtype"]), carries)


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
    return use._replace(subtype="TRANSFORMATION") if use.subtype == "IDENTITY" else use


def compose(use: Use, sources: Iterable[ColumnSource]) -> Iterator[ColumnSource]:
    """Chain a use onto upstream sources: DIRECT keeps the stronger DIRECT subtype, carries the
    value only if both the use and the source do, and leaves INDIRECT sources as they are;
    INDIRECT makes every source INDIRECT of the use's subtype (carrying nothing)."""
    kind, subtype, carries = use
    rank = DIRECT_SUBTYPES.index
    for source in sources:
        if kind == "INDIRECT":
            yield replace(source, type="INDIRECT", subtype=subtype, carries=False)
        elif source.type == "DIRECT":
            strongest = subtype if rank(subtype) > rank(source.subtype) else source.subtype
            yield replace(source, subtype=strongest, carries=carries and source.carries)
        else:
            yield source


def combined(sources: Iterable[ColumnSource]) -> tuple[ColumnSource, ...]:
    """Return `sources` with the uses of one column that differ only in `carries` merged into
    one source that carries the value if any use does (``email || length(email)``), in the
    order each first appears."""
    merged: dict[tuple[str, str, str, str], ColumnSource] = {}
    for source in sources:
        key = (source.asset, source.column, source.type, source.subtype)
        before = merged.get(key)
        if before is None or (source.carries and not before.carries):
            # Replacing a value keeps the key's first position in the dict.
            merged[key] = source
    return tuple(merged.values())
