"""Headwater's exception hierarchy.

Every error a user can cause is a `HeadwaterError`: it carries where it happened (file, line,
asset, column) and a hint saying how to fix it, so the CLI can print one clear message and no
stack trace. `TransientError` marks failures worth retrying; everything else fails fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Location:
    """Where an error happened: a file and line, or an asset and column."""

    file: str | None = None
    line: int | None = None
    asset: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.asset:
            parts.append(f"asset {self.asset}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)


@dataclass
class HeadwaterError(Exception):
    """Root of every error Headwater raises on purpose.

    Attributes:
        message: what went wrong, in one sentence.
        location: where it went wrong.
        hint: how to fix it.
    """

    message: str
    location: Location = field(default_factory=Location)
    hint: str | None = None
    exit_code: int = 1

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(HeadwaterError):
    """A project file is invalid: YAML, a config key, a model's SQL or the graph."""

    def __init__(
        self, message: str, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, location or Location(), hint, exit_code=2)


class UsageError(HeadwaterError):
    """A command was called wrongly: an unknown asset, a bad selector or option."""

    def __init__(
        self, message: str, location: Location | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, location or Location(), hint, exit_code=2)


class NotFoundError(UsageError):
    """A command named an asset, column or run that does not exist."""


class ModelError(HeadwaterError):
    """A model failed while building (its SQL errored, a guard refused, a merge conflicted)."""


class StorageError(HeadwaterError):
    """A table could not be read or written."""


class TableNotFoundError(StorageError):
    """The table has never been written."""


class TableDamagedError(StorageError):
    """The table's log cannot be read; the message names the damaged file."""


class CommitConflictError(StorageError):
    """Another writer committed a conflicting change first; the write was not applied."""


class RunLockedError(HeadwaterError):
    """A live run holds the lock of an asset (or partition) this run would build."""


class TransientError(HeadwaterError):
    """A failure that may succeed if tried again (network, lock timeout, conflict)."""


SOURCES_DOCS = "docs/sources.md"
"""The page every source error's hint points at."""


class SourceError(HeadwaterError):
    """A source failed in a way retrying will not fix (auth, unknown table, HTTP 4xx).

    Its hint ends by pointing at the sources' documentation, whoever raised it.
    """

    DOCS = SOURCES_DOCS

    def __post_init__(self) -> None:
        if not self.hint:
            self.hint = f"see {self.DOCS}"
        elif self.DOCS not in self.hint:
            self.hint = f"{self.hint}; see {self.DOCS}"
        super().__post_init__()


CDC_DOCS = "docs/cdc.md"


class CdcError(SourceError):
    """Change data capture cannot go on (a table it cannot mirror, a guarded truncate, a
    missing permission); nothing past the last applied change was applied."""

    DOCS = CDC_DOCS


EXPORTS_DOCS = "docs/exports.md"


class ExportError(HeadwaterError):
    """An export cannot send its records (a destination that does not fit the asset, refused
    credentials, an endpoint that keeps failing); its position did not move past what the
    destination confirmed."""

    def __post_init__(self) -> None:
        if not self.hint:
            self.hint = f"see {EXPORTS_DOCS}"
        elif EXPORTS_DOCS not in self.hint:
            self.hint = f"{self.hint}; see {EXPORTS_DOCS}"
        super().__post_init__()


class BuildTimeoutError(HeadwaterError):
    """A build ran longer than its asset's timeout and was stopped before it committed."""

    def __init__(self, asset: str, file: str | None, seconds: float | None) -> None:
        limit = "its timeout" if seconds is None else f"its timeout of {seconds:g} s"
        super().__init__(
            f"{asset} ran longer than {limit} and was stopped; nothing was committed",
            Location(file=file, asset=asset),
            "raise 'timeout' in its settings, or make it do less per run",
        )


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when the message is empty):
    what a one-line error shows of a library's multi-line text."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
