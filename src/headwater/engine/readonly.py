"""What the read-only query path asks of an engine, whichever engine it is.

An engine that can run untrusted SQL registers a `ReadOnlySupport` next to its factory
(`register_engine(name, factory, readonly=...)`). It gives an engine locked down for one call
(`ReadOnlyCall`: the deadline, the row cap, what its sessions learnt), whose sessions are
`LockableSession`s, and the engine's own reading of SQL, which the first check layer of
`headwater.query.readonly` applies before anything runs: its parser's statement kinds, its
tokenizer's words, and the statement words, functions and schemas of that engine no query may
use.
A session refuses what the path does not do with a `ReadOnlyRefusal`.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.engine.base import Engine, EngineSession
from headwater.errors import UsageError

if TYPE_CHECKING:
    from headwater.engine.registry import EnginePlace
    from headwater.project.config import EngineConfig
    from headwater.storage.base import TableRef


class ReadOnlyRefusal(UsageError):
    """Something a read-only session does not do: write, run a statement, register a table
    once locked, take parameters, or open a file its lock does not allow.

    Attributes:
        refused: what was refused.
        reason: why.
    """

    def __init__(self, refused: str, reason: str) -> None:
        super().__init__(f"{refused} refused ({reason})")
        self.refused = refused
        self.reason = reason


class FileAccessRefused(ReadOnlyRefusal):
    """The locked connection refused to open a file (external access is off). The engine's
    message is left out: it names the file."""

    def __init__(self) -> None:
        super().__init__("access to a file", "the engine refused it (external access is off)")


class DeadlineExceeded(UsageError):
    """The query ran past its call's deadline and was interrupted.

    Attributes:
        limit_s: the call's time limit in seconds.
        elapsed_s: how long the call took until the engine stopped.
    """

    def __init__(self, limit_s: float, elapsed_s: float) -> None:
        super().__init__(f"the query ran past its time limit of {limit_s:g} s")
        self.limit_s = limit_s
        self.elapsed_s = elapsed_s


@dataclass
class ReadOnlyCall:
    """One read-only call's limits, and what its sessions learnt: the files to allow, the
    views waiting for the lock, whether the result was capped or the query interrupted."""

    deadline: float
    """`time.monotonic()` by which the call must be done."""
    limit_s: float
    max_rows: int
    files: set[str] = field(default_factory=set)
    views: list[tuple[TableRef, str]] = field(default_factory=list)
    """Views of view models to create once the connection is locked down, in order."""
    sealed: bool = False
    """The connection is locked down: nothing more registers, views are created as asked."""
    truncated: bool = False
    timed_out: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set by another thread to stop the call's query now (a client's cancel request)."""
    cancelled: bool = False
    """The query was stopped by `cancel`."""


class LockableSession(EngineSession):
    """A session of one read-only call: it records the files of the tables it registers and
    creates views only once `seal` has locked it down to those files."""

    @abstractmethod
    def seal(self) -> dict[str, Exception]:
        """Lock the connection down to the registered tables' files, then create the views
        asked for so far (once; later calls do nothing).

        Returns:
            The views (by asset key) that could not be created: `FileAccessRefused` for one
            that reads a file the lock does not allow, else the engine's error.
        """


class ReadOnlySupport(ABC):
    """What an engine offers the read-only query path: an engine locked down for one call,
    and its own reading of SQL (parser, tokenizer, what it must refuse), which runs nothing."""

    denied_words: frozenset[str]
    """Statement words refused anywhere outside a string or a quoted name (upper case)."""
    denied_functions: re.Pattern[str]
    """Names (case-folded) of the functions no query may call anywhere; matched whole."""
    system_schemas: frozenset[str]
    """Schemas of the engine's own catalog (case-folded); a query reads the project's tables
    only."""
    spaces: re.Pattern[str]
    """Characters the engine's parser reads as a space, which its tokenizer or sqlglot may
    read as part of a name."""

    @abstractmethod
    def engine(self, config: EngineConfig, place: EnginePlace, call: ReadOnlyCall) -> Engine:
        """Return an engine for the read-only `call` with `config`'s settings, for a project
        at `place`; its sessions are `LockableSession`s. The caller closes it."""

    @abstractmethod
    def statement_kinds(self, sql: str) -> list[str]:
        """Split `sql` into statements with the engine's parser and return the kind the
        parser gives each (`SELECT`, `COPY`, ...), running nothing.

        Raises:
            UsageError: the parser rejects `sql`; the message is the parser's.
        """

    @abstractmethod
    def tokens(self, sql: str) -> list[tuple[str, str]]:
        """The tokens of `sql` as the engine's tokenizer reads it: each one's text (stripped)
        and kind (`keyword`, `identifier`, `string_const`, `comment`, ...).

        Raises:
            Exception: whatever the tokenizer raises for text it cannot read.
        """
