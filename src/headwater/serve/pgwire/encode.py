"""Result messages of the PostgreSQL protocol built from Arrow: RowDescription from a schema,
and DataRow messages for a whole batch of rows at once.

A batch's DataRows are assembled without a loop over rows: each column is rendered once
(`render`), its value lengths read from the Arrow offsets with NumPy, and Arrow's
`binary_join_element_wise` concatenates, row by row, the 7-byte message header and each
column's 4-byte length and bytes. The joined array's data buffer is then exactly the stream
of DataRow messages, sent to the socket as it is.
"""

from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from headwater.serve.pgwire.binary import binary_column
from headwater.serve.pgwire.render import plain, text_column
from headwater.serve.pgwire.state import CommandError
from headwater.serve.pgwire.types import PgType, pg_type

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

CHUNK_BYTES = 4 << 20
"""About how many bytes of DataRows are built and sent at a time."""
MAX_CHUNK_ROWS = 65536


def render(column: pa.Array, pgtype: PgType, binary: bool) -> pa.Array:
    """The wire bytes of each value of `column` (of type `pgtype`) in text or binary format,
    as a string or binary array with the nulls of `column`."""
    import pyarrow as pa

    column = plain(column)
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.binary())
    return binary_column(column, pgtype) if binary else text_column(column, pgtype)


def result_formats(codes: Sequence[int], columns: int) -> list[bool]:
    """Whether each of `columns` result columns is sent in binary, from a Bind message's
    result format codes (none: all text; one: for all columns; else one per column).

    Raises:
        CommandError: the count of codes is neither 0, 1 nor the column count (08P01).
    """
    if not codes:
        return [False] * columns
    if len(codes) == 1:
        return [codes[0] == 1] * columns
    if len(codes) != columns:
        raise CommandError(
            f"the Bind message has {len(codes)} result format codes for {columns} columns",
            "08P01",
        )
    return [code == 1 for code in codes]


def row_description(schema: pa.Schema, binary: Sequence[bool]) -> bytes:
    """The RowDescription message of a result with `schema`."""
    body = [struct.pack("!h", len(schema))]
    for field, is_binary in zip(schema, binary, strict=True):
        kind = pg_type(field)
        body.append(field.name.encode("utf-8", "replace").replace(b"\x00", b"") + b"\x00")
        body.append(struct.pack("!ihihih", 0, 0, kind.oid, kind.size, kind.modifier, is_binary))
    payload = b"".join(body)
    return b"T" + struct.pack("!i", len(payload) + 4) + payload


def data_rows(table: pa.Table, binary: Sequence[bool]) -> Iterator[memoryview]:
    """The DataRow messages of every row of `table`, in chunks of a few MiB, each chunk
    built on a worker thread while the one before is being sent (Arrow and NumPy release
    the GIL), so encoding overlaps with the client reading."""
    chunks = _chunks(table, binary)
    if table.num_rows <= MAX_CHUNK_ROWS:
        return chunks
    return _ahead(chunks)


def _chunks(table: pa.Table, binary: Sequence[bool]) -> Iterator[memoryview]:
    types = [pg_type(f) for f in table.schema]
    rows = table.num_rows
    # a first guess of the encoded row size (text is at most about three times Arrow's)
    guess = 3 * table.nbytes // max(1, rows) + 8 * table.num_columns + 7
    step = max(1, min(MAX_CHUNK_ROWS, CHUNK_BYTES // guess))
    start = 0
    while start < rows:
        chunk = table.slice(start, step)
        encoded = _encode(chunk, types, binary)
        yield encoded
        start += chunk.num_rows
        per_row = max(1, len(encoded) // max(1, chunk.num_rows))
        step = max(1, min(MAX_CHUNK_ROWS, CHUNK_BYTES // per_row))


_END = object()


def _ahead(chunks: Iterator[memoryview], depth: int = 2) -> Iterator[memoryview]:
    """`chunks`, produced on a worker thread up to `depth` ahead of the consumer."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failure(exc))

    worker = threading.Thread(target=produce, name="headwater-pg-encode", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _encode(table: pa.Table, types: list[PgType], binary: Sequence[bool]) -> memoryview:
    """One chunk of DataRows; its values use 32-bit offsets (a chunk is a few MiB), and a
    chunk that would pass 2 GiB is encoded with 64-bit ones."""
    import pyarrow as pa

    try:
        return _join(table, types, binary, pa.binary())
    except (pa.ArrowInvalid, pa.ArrowCapacityError, OverflowError):
        return _join(table, types, binary, pa.large_binary())


def _join(
    table: pa.Table, types: list[PgType], binary: Sequence[bool], kind: pa.DataType
) -> memoryview:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    count = table.num_rows
    total = np.full(count, 6, dtype=np.int64)  # the length field itself and the column count
    parts: list[pa.Array] = []
    for column, pgtype, is_binary in zip(table.columns, types, binary, strict=True):
        values = render(column, pgtype, is_binary).cast(kind)
        lengths = pc.binary_length(values).fill_null(-1).to_numpy()
        if values.null_count:
            values = pc.fill_null(values, pa.scalar(b"", kind))
            total += 4 + np.maximum(lengths, 0)
        else:
            total += 4 + lengths
        parts.append(_fixed(lengths.astype(">i4"), kind))
        parts.append(values)
    if int(total.max(initial=0)) >= 1 << 30:
        raise ValueError("a row is larger than the protocol's 1 GiB message limit")
    header = np.empty(count, dtype=[("type", "S1"), ("length", ">i4"), ("columns", ">i2")])
    header["type"] = b"D"
    header["length"] = total
    header["columns"] = len(table.columns)
    joined = pc.binary_join_element_wise(_fixed(header, kind), *parts, pa.scalar(b"", kind))
    width = np.int64 if kind == pa.large_binary() else np.int32
    offsets = np.frombuffer(joined.buffers()[1], dtype=width)[joined.offset :]
    first, last = int(offsets[0]), int(offsets[count])
    return memoryview(joined.buffers()[2])[first:last]


_STEPS: dict[tuple[int, str], np.ndarray] = {}


def _fixed(values: np.ndarray, kind: pa.DataType) -> pa.Array:
    """One fixed-width record of `values` per row, as a binary array of `kind`."""
    import numpy as np
    import pyarrow as pa

    count = len(values)
    width = values.dtype.itemsize
    large = kind == pa.large_binary()
    key = (width, "q" if large else "i")
    steps = _STEPS.get(key)
    if steps is None or len(steps) < count + 1:
        size = max(count + 1, MAX_CHUNK_ROWS + 1)
        steps = np.arange(0, size * width, width, dtype=np.int64 if large else np.int32)
        _STEPS[key] = steps
    data = np.ascontiguousarray(values).view(np.uint8)
    offsets = pa.py_buffer(steps[: count + 1])
    return pa.Array.from_buffers(kind, count, [None, offsets, pa.py_buffer(data)])
