"""Table stores by location: the warehouse is a URI, and its scheme picks the store.

`warehouse: warehouse` (a folder, relative to the project) and `warehouse: file:///data/wh`
open Delta tables on local disk; the project's definition turns either into a URI
(`ProjectDefinition.warehouse_uri`); `s3://bucket/prefix` opens them on S3-compatible object
storage (`storage/s3.py`). Callers only ever call `open_store` and read the store's
`capabilities`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigError, Location

if TYPE_CHECKING:
    from headwater.storage.base import TableStore

StoreFactory = Callable[[str, Path], "TableStore"]
"""Builds a store from a warehouse URI of its scheme and a local folder the store may use for
files on their way to the warehouse (the project's `.headwater/stage`)."""

_FACTORIES: dict[str, StoreFactory] = {}


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make warehouse URIs with `scheme` (`file`, `s3`, ...) open with `factory`."""
    _FACTORIES[scheme] = factory


def local_path(uri: str) -> Path | None:
    """The folder a `file:` URI names (None for any other scheme). Raises `ConfigError` for a
    `file:` URI naming a host other than this machine."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "file":
        return None
    if parsed.netloc not in ("", "localhost"):
        # file://warehouse names a host called "warehouse", not a folder
        raise ConfigError(
            f"warehouse location {uri} names a host ({parsed.netloc}), not a local folder",
            Location(file="headwater.yml"),
            "write a folder (warehouse: warehouse) or an absolute file URI "
            "(warehouse: file:///data/warehouse)",
        )
    return Path(urllib.parse.unquote(parsed.path))


def open_store(uri: str, scratch: Path) -> TableStore:
    """The table store holding the warehouse at `uri`, staging files in the local folder
    `scratch` when the warehouse is elsewhere. Raises `ConfigError` for a scheme no store
    handles (or a store's own for a location it cannot use)."""
    _register_builtins()
    scheme = _scheme(uri) or "file"
    factory = _FACTORIES.get(scheme)
    if factory is None:
        raise ConfigError(
            f"no table store handles warehouse locations of the form {scheme}://",
            Location(file="headwater.yml"),
            "set 'warehouse:' to a folder or a URI of: "
            + ", ".join(f"{known}://" for known in sorted(_FACTORIES)),
        )
    return factory(uri, scratch)


def _scheme(location: str) -> str | None:
    scheme = urllib.parse.urlparse(location).scheme
    # a Windows drive letter (C:\\...) is a path, not a scheme
    return scheme if len(scheme) > 1 else None


def _register_builtins() -> None:
    if "file" not in _FACTORIES:
        from headwater.storage.delta import DeltaStore

        register_store("file", DeltaStore.from_uri)
    if "s3" not in _FACTORIES:
        register_store("s3", _s3)


def _s3(uri: str, scratch: Path) -> TableStore:
    # the object-storage clients load only for a warehouse on S3
    from headwater.storage.s3 import S3DeltaStore

    return S3DeltaStore.from_uri(uri, scratch)
