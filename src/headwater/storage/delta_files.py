"""The files of one Delta table, on local disk or on object storage: the seam under the log.

Headwater reads a table's `_delta_log` itself and checks its data files where delta-rs offers
no answer (`delta_log`, `delta_damage`, vacuum, history's readability check). Those readers
name files by their path relative to the table's folder and reach them through `TableFiles`:
`LocalFiles` answers with plain `os` calls (the local store's speed is what it was), and
`ObjectFiles` with a pyarrow filesystem (S3), where one listing replaces many look-ups.
A `TableFiles` is made for one operation: `ObjectFiles` keeps the listing it made.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any


class TableFiles(ABC):
    """The files of one table, named by their path relative to the table's folder (`/`)."""

    root: str
    """The table's folder as a path or URI (in messages, and to make absolute paths)."""

    def path(self, relative: str) -> str:
        """Return the absolute path (or URI) of the table's file `relative`; a path that is
        already absolute (or a URI) is returned as it is."""
        if "://" in relative or relative.startswith("/"):
            return relative
        return f"{self.root}/{relative}"

    @abstractmethod
    def names(self, folder: str) -> list[str]:
        """Return the names of the files in the table's folder `folder` (none when absent)."""

    @abstractmethod
    def lines(self, relative: str) -> Iterator[str]:
        """Yield the lines of the text file `relative`.

        Raises:
            FileNotFoundError: there is no such file.
        """

    @abstractmethod
    def stat(self, relative: str) -> tuple[int, int]:
        """Return the size and the modification time (ns) of file `relative`.

        Raises:
            FileNotFoundError: there is no such file.
        """

    @abstractmethod
    def modified(self, relatives: Iterable[str]) -> dict[str, float]:
        """Return the modification time (s) of each of `relatives` that exists."""

    @abstractmethod
    def tree(self) -> list[str]:
        """Return every file under the table's folder, log and hidden files included."""

    @abstractmethod
    def read_bytes(self, relative: str) -> bytes:
        """Return the content of file `relative`.

        Raises:
            FileNotFoundError: there is no such file.
        """

    @abstractmethod
    def write_text(self, relative: str, text: str) -> None:
        """Write file `relative` whole, in place of what it held: a reader sees the old
        content or the new one, never a part."""

    def missing(self, relatives: Iterable[str]) -> set[str]:
        """Return those of `relatives` (or absolute paths of the table) that do not exist."""
        wanted = list(relatives)
        present = self.modified(wanted)
        return {r for r in wanted if r not in present}

    def exists(self, relative: str) -> bool:
        """Return whether file `relative` exists."""
        return not self.missing([relative])

    @abstractmethod
    def remove(self, relatives: Iterable[str]) -> None:
        """Delete the files `relatives` (those already gone are no error) and the folders
        their deletion left empty, up to the table's own folder."""

    @abstractmethod
    def rename(self, relative: str, new: str) -> None:
        """Rename file `relative` to `new` (a missing file is no error)."""

    @abstractmethod
    def arrow_source(self, relative: str) -> tuple[str, Any]:
        """Return `relative` as pyarrow names it and the pyarrow filesystem to open it with
        (None: the local disk), for `pyarrow.parquet.read_table(path, filesystem=...)`."""


class LocalFiles(TableFiles):
    """A table's files on local disk."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._root = root

    def path(self, relative: str) -> str:
        if "://" in relative:
            return relative
        return os.path.join(self.root, relative)

    def names(self, folder: str) -> list[str]:
        try:
            return os.listdir(os.path.join(self.root, folder))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def lines(self, relative: str) -> Iterator[str]:
        with open(os.path.join(self.root, relative), encoding="utf-8") as handle:
            yield from handle

    def stat(self, relative: str) -> tuple[int, int]:
        stat = os.stat(os.path.join(self.root, relative))
        return stat.st_size, stat.st_mtime_ns

    def modified(self, relatives: Iterable[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        for relative in relatives:
            path = self.path(relative)
            if path.startswith("file://"):
                import urllib.parse

                path = urllib.parse.unquote(urllib.parse.urlparse(path).path)
            elif "://" in path:
                found[relative] = 0.0  # a file elsewhere: no local check
                continue
            try:
                found[relative] = os.stat(path).st_mtime
            except (FileNotFoundError, NotADirectoryError):
                continue
        return found

    def remove(self, relatives: Iterable[str]) -> None:
        for relative in relatives:
            path = self._root / relative
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            parent = path.parent
            while parent != self._root and self._root in parent.parents:
                try:
                    parent.rmdir()  # only when empty
                except OSError:
                    break
                parent = parent.parent

    def rename(self, relative: str, new: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.replace(self._root / relative, self._root / new)

    def tree(self) -> list[str]:
        found = []
        for directory, _, names in os.walk(self._root):
            for name in names:
                found.append(os.path.relpath(os.path.join(directory, name), self._root))
        return sorted(path.replace(os.sep, "/") for path in found)

    def read_bytes(self, relative: str) -> bytes:
        return (self._root / relative).read_bytes()

    def write_text(self, relative: str, text: str) -> None:
        path = self._root / relative
        temporary = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)  # atomic on one disk

    def arrow_source(self, relative: str) -> tuple[str, Any]:
        return str(self._root / relative), None


class ObjectFiles(TableFiles):
    """A table's files on object storage: read and listed through a pyarrow filesystem,
    deleted and renamed through delta-rs's own object store.

    `root` is the table's URI (`s3://bucket/key`); the filesystem names the same folder
    `bucket/key`. Object stores have no folders, and none are made: pyarrow's S3 filesystem
    leaves an empty "folder" object behind a deleted file's parent (apache/arrow#36275),
    delta-rs's store (`storage_options`) does not.
    """

    def __init__(
        self,
        filesystem: Any,
        scheme: str,
        folder: str,
        storage_options: dict[str, str],
        failed: Callable[[BaseException], Exception] | None = None,
    ) -> None:
        self.root = f"{scheme}://{folder}"
        self._failed = failed
        self._fs = filesystem
        self._scheme = scheme
        self._folder = folder
        self._options = storage_options
        self._listing: dict[str, float] | None = None
        self._writer: Any = None

    def _mutator(self) -> Any:
        """delta-rs's filesystem handler of the table's folder (paths relative to it)."""
        if self._writer is None:
            from deltalake.fs import DeltaStorageHandler

            self._writer = DeltaStorageHandler(self.root, self._options)
        return self._writer

    def _relative(self, relative: str) -> str:
        """`relative`, or an absolute URI inside the table, relative to the table."""
        prefix = self.root + "/"
        return relative[len(prefix) :] if relative.startswith(prefix) else relative

    def _key(self, relative: str) -> str:
        """The filesystem's name of `relative` (or of an absolute URI of this store)."""
        prefix = f"{self._scheme}://"
        if relative.startswith(prefix):
            return relative[len(prefix) :]
        return f"{self._folder}/{relative}"

    @contextlib.contextmanager
    def _requests(self) -> Iterator[None]:
        """Turn a failed request (an unreachable endpoint, refused credentials) into the
        store's typed error; a missing file stays `FileNotFoundError`."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as exc:
            if self._failed is None:
                raise
            raise self._failed(exc) from exc

    def names(self, folder: str) -> list[str]:
        from pyarrow.fs import FileSelector, FileType

        selector = FileSelector(self._key(folder), allow_not_found=True)
        with self._requests():
            infos = self._fs.get_file_info(selector)
        return [i.base_name for i in infos if i.type == FileType.File]

    def lines(self, relative: str) -> Iterator[str]:
        with self._requests(), self._fs.open_input_stream(self._key(relative)) as stream:
            data = stream.read()
        yield from data.decode("utf-8").splitlines(keepends=True)

    def stat(self, relative: str) -> tuple[int, int]:
        from pyarrow.fs import FileType

        with self._requests():
            info = self._fs.get_file_info(self._key(relative))
        if info.type != FileType.File:
            raise FileNotFoundError(self.path(relative))
        return int(info.size or 0), int(info.mtime_ns or 0)

    def modified(self, relatives: Iterable[str]) -> dict[str, float]:
        # one listing of the table answers for every file (a HEAD each would cost a round
        # trip per file, and history checks every file of every version)
        listing = self._list_tree()
        found: dict[str, float] = {}
        prefix = f"{self._scheme}://{self._folder}/"
        for relative in relatives:
            if "://" in relative and not relative.startswith(prefix):
                found[relative] = 0.0  # a file of another location: not ours to check
                continue
            key = relative[len(prefix) :] if relative.startswith(prefix) else relative
            if key in listing:
                found[relative] = listing[key]
        return found

    def _list_tree(self) -> dict[str, float]:
        """Every file under the table's folder (relative path -> modification time, s)."""
        if self._listing is None:
            from pyarrow.fs import FileSelector, FileType

            selector = FileSelector(self._folder, recursive=True, allow_not_found=True)
            start = len(self._folder) + 1
            with self._requests():
                infos = self._fs.get_file_info(selector)
            self._listing = {
                info.path[start:]: (info.mtime_ns or 0) / 1e9
                for info in infos
                if info.type == FileType.File
            }
        return self._listing

    def remove(self, relatives: Iterable[str]) -> None:
        paths = [self._relative(r) for r in relatives if "://" not in self._relative(r)]
        if not paths:
            return
        from concurrent.futures import ThreadPoolExecutor

        mutator = self._mutator()
        # one request per object: deletes of many small files go in parallel
        with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
            list(pool.map(mutator.delete_file, paths))
        self._listing = None

    def rename(self, relative: str, new: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._mutator().move(self._relative(relative), self._relative(new))
        self._listing = None

    def tree(self) -> list[str]:
        self._listing = None
        return sorted(self._list_tree())

    def read_bytes(self, relative: str) -> bytes:
        with self._requests(), self._fs.open_input_stream(self._key(relative)) as stream:
            data: bytes = stream.read()
        return data

    def write_text(self, relative: str, text: str) -> None:
        # one PUT replaces an object whole
        with self._requests(), self._fs.open_output_stream(self._key(relative)) as out:
            out.write(text.encode("utf-8"))
        self._listing = None

    def arrow_source(self, relative: str) -> tuple[str, Any]:
        return self._key(relative), self._fs
