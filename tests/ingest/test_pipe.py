"""The named pipe between PostgreSQL's COPY and DuckDB's CSV reader: data flows, failures on
either side end the other instead of hanging."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from headwater.ingest.pipe import through_pipe

CHUNK = b"x" * 65536


def test_everything_written_is_read(tmp_path: Path) -> None:
    def produce(out: BinaryIO) -> None:
        for _ in range(200):  # far more than a pipe buffer holds
            out.write(CHUNK)

    assert through_pipe(tmp_path, produce, lambda p: len(p.read_bytes())) == 200 * len(CHUNK)
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_fails_at_once_does_not_hang_the_writer(tmp_path: Path) -> None:
    def consume(_: Path) -> int:
        raise ValueError("reader broke")

    with pytest.raises(ValueError, match="reader broke"):
        through_pipe(tmp_path, lambda out: out.write(CHUNK * 100), consume)


def test_a_reader_that_stops_midway_breaks_the_pipe_and_its_error_wins(tmp_path: Path) -> None:
    def consume(path: Path) -> int:
        with open(path, "rb") as handle:
            handle.read(1000)
        raise RuntimeError("parse error on line 3")

    def produce(out: BinaryIO) -> None:
        for _ in range(1000):
            out.write(CHUNK)

    with pytest.raises(RuntimeError, match="parse error"):
        through_pipe(tmp_path, produce, consume)


def test_a_writer_that_fails_midway_raises_and_the_reader_ends(tmp_path: Path) -> None:
    seen: list[int] = []

    def produce(out: BinaryIO) -> None:
        out.write(CHUNK)
        raise ConnectionError("server closed the connection")

    def consume(path: Path) -> int:
        seen.append(len(path.read_bytes()))
        return seen[0]

    with pytest.raises(ConnectionError, match="server closed"):
        through_pipe(tmp_path, produce, consume)
    assert seen == [len(CHUNK)]  # the reader saw the end of the data and finished
