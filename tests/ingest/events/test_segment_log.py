"""The collector's segment log on disk: batches, segments, the durable mark, torn tails and
retention, written and read through the real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater.errors import SourceError
from headwater.ingest.events.segment_log import (
    SEGMENT_MAGIC,
    Gathered,
    PartitionReader,
    PartitionWriter,
    PositionError,
    encode_batch,
    list_segments,
    read_durable,
    scan_batches,
    segment_name,
)
from headwater.ingest.events.segment_topics import (
    apply_retention,
    ensure_topic,
    partition_dir,
    read_readers,
    read_topic,
    remove_reader,
    write_reader,
)

NOW_US = 1_767_225_600_000_000


def records(start: int, count: int, width: int = 0) -> list[bytes]:
    return [f'{{"id": {i}, "pad": "{"x" * width}"}}'.encode() for i in range(start, start + count)]


def read_all(directory: Path, offset: int = 0, max_records: int = 1 << 30) -> list[bytes]:
    """Every record from `offset` to the durable mark, through a reader."""
    reader = PartitionReader(directory, 0, offset)
    try:
        return read_some(reader, max_records)
    finally:
        reader.close()


def read_some(reader: PartitionReader, max_records: int) -> list[bytes]:
    reader.refresh()
    gathered = Gathered()
    reader.read_into(gathered, max_records, 1 << 62)
    out: list[bytes] = []
    for data, lengths in zip(gathered.data, gathered.lengths, strict=True):
        if isinstance(lengths, int):
            out.append(bytes(data))
            continue
        at = 0
        for length in lengths.tolist():
            out.append(bytes(data[at : at + length]))
            at += length
    return out


def write(directory: Path, batches: list[list[bytes]], **options: int) -> PartitionWriter:
    writer = PartitionWriter(directory, **options)
    for batch in batches:
        writer.append(batch, NOW_US, b"", b"")
    writer.commit()
    return writer


def test_records_round_trip_in_order_with_their_offsets(tmp_path: Path) -> None:
    first, second = records(0, 3), [b"not json", b"\xff\xfe binary", b"{}"]
    writer = write(tmp_path, [first, second])
    assert writer.next_offset == writer.durable_offset == 6
    assert read_durable(tmp_path) == 6
    assert read_all(tmp_path) == first + second
    assert read_all(tmp_path, offset=4) == second[1:]
    writer.close()


def test_a_reader_resumes_inside_a_batch_and_never_splits_records(tmp_path: Path) -> None:
    batch = records(0, 10)
    write(tmp_path, [batch, records(10, 5)]).close()
    reader = PartitionReader(tmp_path, 0, 0)
    assert read_some(reader, 4) == batch[:4]
    assert reader.next_offset == 4
    assert read_some(reader, 4) == batch[4:8]
    assert read_some(reader, 100) == batch[8:] + records(10, 5)
    assert read_some(reader, 100) == []
    reader.close()


def test_segments_roll_at_their_size_named_by_first_offset(tmp_path: Path) -> None:
    batches = [records(i * 20, 20, width=40) for i in range(30)]
    writer = write(tmp_path, batches, segment_bytes=8 * 1024)
    segments = list_segments(tmp_path)
    assert len(segments) > 3
    assert segments[0] == 0
    # each segment starts with a batch: its name is that batch's first offset
    for first in segments:
        scan = scan_batches(tmp_path / segment_name(first), first, verify=True)
        headers, end = scan.batches, scan.end_position
        assert headers[0].base_offset == first
        assert end == (tmp_path / segment_name(first)).stat().st_size
        assert end <= 8 * 1024 or len(headers) == 1
    expected = [r for batch in batches for r in batch]
    assert read_all(tmp_path) == expected
    assert read_all(tmp_path, offset=segments[2] + 3) == expected[segments[2] + 3 :]
    writer.close()


def test_a_batch_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    big = records(0, 200, width=100)
    writer = write(tmp_path, [records(1000, 1), big, records(2000, 1)], segment_bytes=4096)
    assert list_segments(tmp_path) == [0, 1, 201]
    assert read_all(tmp_path) == records(1000, 1) + big + records(2000, 1)
    writer.close()


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(lambda batch: batch[:3], id="torn length"),
        pytest.param(lambda batch: batch[: len(batch) // 2], id="torn body"),
        pytest.param(lambda batch: batch[:-1] + bytes([batch[-1] ^ 1]), id="bad crc"),
        pytest.param(lambda batch: b"\xff" * 40, id="garbage length"),
    ],
)
def test_a_torn_tail_is_never_served_and_is_cut_on_the_next_open(tmp_path: Path, tail) -> None:
    good = records(0, 5)
    writer = write(tmp_path, [good])
    path = writer.path
    writer.close()
    intact_size = path.stat().st_size
    torn = tail(encode_batch(5, records(5, 3), NOW_US))
    # a crash mid-append: the bytes reached the file, the durable mark did not move
    with open(path, "ab") as file:
        file.write(torn)
    assert read_all(tmp_path) == good
    reopened = PartitionWriter(tmp_path)
    assert path.stat().st_size == intact_size
    assert reopened.next_offset == 5
    reopened.append(records(100, 2), NOW_US, b"", b"")
    reopened.commit()
    assert read_all(tmp_path) == good + records(100, 2)
    reopened.close()


def test_an_unsynced_whole_batch_is_kept_by_recovery_but_hidden_until_then(
    tmp_path: Path,
) -> None:
    writer = write(tmp_path, [records(0, 2)])
    path = writer.path
    writer.close()
    with open(path, "ab") as file:
        file.write(encode_batch(2, records(2, 2), NOW_US))
    assert read_all(tmp_path) == records(0, 2)
    PartitionWriter(tmp_path).close()
    assert read_all(tmp_path) == records(0, 4)


def test_a_reader_that_buffered_a_torn_tail_reads_what_replaced_it(tmp_path: Path) -> None:
    writer = write(tmp_path, [records(0, 2)])
    path = writer.path
    writer.close()
    with open(path, "ab") as file:
        file.write(encode_batch(2, [b'{"torn": true}'] * 50, NOW_US)[:700])
    reader = PartitionReader(tmp_path, 0, 0)
    assert read_some(reader, 100) == records(0, 2)  # its buffer now holds the torn bytes
    restarted = PartitionWriter(tmp_path)
    restarted.append(records(2, 3), NOW_US, b"", b"")
    restarted.commit()
    assert read_some(reader, 100) == records(2, 3)
    reader.close()
    restarted.close()


def test_a_reader_follows_the_writer_across_rolls(tmp_path: Path) -> None:
    writer = PartitionWriter(tmp_path, segment_bytes=2048)
    reader = PartitionReader(tmp_path, 0, 0)
    seen: list[bytes] = []
    for i in range(40):
        writer.append(records(i * 5, 5, width=30), NOW_US, b"", b"")
        writer.commit()
        seen += read_some(reader, 3)
    seen += read_some(reader, 1000)
    assert seen == records(0, 200, width=30)
    assert len(list_segments(tmp_path)) > 5
    reader.close()
    writer.close()


def test_damage_below_the_durable_mark_is_reported_not_skipped(tmp_path: Path) -> None:
    writer = write(tmp_path, [records(0, 3), records(3, 3)])
    path = writer.path
    writer.close()
    data = bytearray(path.read_bytes())
    data[len(SEGMENT_MAGIC) + 50] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"damaged .*CRC mismatch") as raised:
        read_all(tmp_path)
    assert segment_name(0) in str(raised.value)


def test_a_failed_write_is_rolled_back_to_the_durable_end(tmp_path: Path) -> None:
    writer = write(tmp_path, [records(0, 2)])
    writer.append(records(2, 2), NOW_US, b"", b"")
    writer.rollback()
    assert writer.next_offset == 2
    writer.append(records(10, 1), NOW_US, b"", b"")
    writer.commit()
    assert read_all(tmp_path) == records(0, 2) + records(10, 1)
    writer.close()


def test_a_segment_created_just_before_a_crash_is_repaired(tmp_path: Path) -> None:
    write(tmp_path, [records(0, 2)]).close()
    (tmp_path / segment_name(2)).write_bytes(SEGMENT_MAGIC[:3])
    writer = PartitionWriter(tmp_path)
    assert writer.next_offset == 2
    writer.append(records(2, 1), NOW_US, b"", b"")
    writer.commit()
    assert read_all(tmp_path) == records(0, 3)
    writer.close()


def test_positions_outside_the_log_are_refused(tmp_path: Path) -> None:
    write(tmp_path, [records(0, 4)]).close()
    with pytest.raises(PositionError) as raised:
        PartitionReader(tmp_path, 0, 9)
    assert (raised.value.first, raised.value.end) == (0, 4)
    PartitionReader(tmp_path, 0, 4).close()  # the end itself is a fine place to wait


def test_a_partition_nobody_wrote_reads_as_empty(tmp_path: Path) -> None:
    reader = PartitionReader(tmp_path / "missing", 0, 0)
    assert read_some(reader, 10) == []
    assert reader.lag == 0


def make_segments(root: Path, partition: int, count: int) -> list[int]:
    """A partition with `count` segments of 10 records each; returns their first offsets."""
    writer = PartitionWriter(partition_dir(root, "clicks", partition), segment_bytes=400)
    for i in range(count):
        writer.append(records(i * 10, 10), NOW_US, b"", b"")
    writer.commit()
    writer.close()
    return list_segments(partition_dir(root, "clicks", partition))


def test_retention_deletes_only_segments_every_reader_committed_past(tmp_path: Path) -> None:
    ensure_topic(tmp_path, "clicks", 1)
    firsts = make_segments(tmp_path, 0, 6)
    assert firsts == [0, 10, 20, 30, 40, 50]
    assert apply_retention(tmp_path, "clicks", 1) == []  # no reader registered: keep all
    write_reader(tmp_path, "clicks", "streams.a", {0: 35})
    write_reader(tmp_path, "clicks", "streams.b", {0: 12})
    deleted = apply_retention(tmp_path, "clicks", 1)
    assert [p.name for p in deleted] == [segment_name(0)]
    write_reader(tmp_path, "clicks", "streams.b", {0: 30})
    apply_retention(tmp_path, "clicks", 1)
    # 20..29 is all below 30 and 35; 30..39 is not all below either
    assert list_segments(partition_dir(tmp_path, "clicks", 0)) == [30, 40, 50]
    assert read_all(partition_dir(tmp_path, "clicks", 0), offset=30) == [
        r for i in range(3, 6) for r in records(i * 10, 10)
    ]


def test_retention_never_deletes_the_newest_segment(tmp_path: Path) -> None:
    ensure_topic(tmp_path, "clicks", 2)
    make_segments(tmp_path, 0, 3)
    make_segments(tmp_path, 1, 2)
    write_reader(tmp_path, "clicks", "streams.a", {0: 30, 1: 20})
    apply_retention(tmp_path, "clicks", 2)
    assert list_segments(partition_dir(tmp_path, "clicks", 0)) == [20]
    assert list_segments(partition_dir(tmp_path, "clicks", 1)) == [10]


def test_a_reader_without_a_partition_or_unreadable_holds_everything(tmp_path: Path) -> None:
    ensure_topic(tmp_path, "clicks", 1)
    make_segments(tmp_path, 0, 4)
    write_reader(tmp_path, "clicks", "streams.a", {0: 40})
    readers_dir = tmp_path / "clicks" / "readers"
    (readers_dir / "streams.b.json").write_text("{not json", encoding="utf-8")
    assert apply_retention(tmp_path, "clicks", 1) == []
    assert read_readers(tmp_path, "clicks")["streams.b"] == {}
    assert remove_reader(tmp_path, "clicks", "streams.b")
    assert not remove_reader(tmp_path, "clicks", "streams.b")
    assert len(apply_retention(tmp_path, "clicks", 1)) == 3


def test_a_topic_is_created_once_and_keeps_its_partition_count(tmp_path: Path) -> None:
    assert read_topic(tmp_path, "clicks") is None
    assert ensure_topic(tmp_path, "clicks", 3).partitions == 3
    assert ensure_topic(tmp_path, "clicks", 5).partitions == 3
    assert read_topic(tmp_path, "clicks") is not None
    assert not [n for n in os.listdir(tmp_path / "clicks") if n.startswith(".")]
    (tmp_path / "clicks" / "topic.json").write_text("[]", encoding="utf-8")
    with pytest.raises(SourceError, match="topic file cannot be read"):
        read_topic(tmp_path, "clicks")


def test_a_stale_durable_mark_after_a_machine_crash_is_not_a_missing_log(tmp_path: Path) -> None:
    write(tmp_path, [records(0, 5)]).close()
    (tmp_path / "durable").write_bytes(b"")  # the unsynced mark was lost with the machine
    reader = PartitionReader(tmp_path, 0, 3)
    assert read_some(reader, 10) == []  # nothing is served past the mark...
    PartitionWriter(tmp_path).close()  # ...until a collector recovers the log and rewrites it
    assert read_some(reader, 10) == records(3, 2)
    reader.close()
    with pytest.raises(PositionError):
        PartitionReader(tmp_path, 0, 6)
