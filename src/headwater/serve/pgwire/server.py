"""The PostgreSQL protocol server (being built)."""

from __future__ import annotations

from typing import Any


class PostgresServer:
    """Placeholder until the protocol server lands."""

    def __init__(self, service: Any, host: str, port: int) -> None:
        raise OSError("the PostgreSQL protocol is not built yet")

    @property
    def address(self) -> tuple[str, int]:
        raise NotImplementedError

    def serve_forever(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError
