"""Erasing rows from a Delta table and its history (`headwater.storage.delta_purge`): after a
purge no file under the table (data files of any version, decoded and as bytes, JSON commits,
checkpoints) holds the subject's values, every other row of the current version is unchanged,
the table stays readable and writable, and a version whose files were deleted names the
erasure when read."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, write_deltalake

from headwater.errors import TableNotFoundError
from headwater.storage.base import CommitInfo, TableRef
from headwater.storage.delta import DeltaStore
from headwater.storage.delta_purge import ERASED, Matcher, purge_rows
from headwater.storage.s3 import S3DeltaStore
from tests.support.s3 import S3Bucket
from tests.support.traces import traces

SUBJECT_ID = 7
EMAILS = ("zelda.quist@example.org", "z.quist@old-mail.example")
NAME = "Zelda Quist"
SECRETS = (*EMAILS, NAME)


def people(ids: range, region: str = "EU") -> pa.Table:
    return pa.table(
        {
            "id": pa.array(list(ids), pa.int64()),
            "name": [NAME if i == SUBJECT_ID else f"Person {i}" for i in ids],
            "email": [EMAILS[1] if i == SUBJECT_ID else f"p{i}@example.com" for i in ids],
            "region": [region] * len(ids),
        }
    )


def build_history(uri: str, partitioned: bool, options: dict[str, str] | None = None) -> None:
    """Twelve versions holding the subject: writes, appends, an update of its e-mail, a
    DELETE whose predicate names it, a checkpoint in the middle."""
    partition = ["region"] if partitioned else None
    write = {"storage_options": options}
    write_deltalake(uri, people(range(1, 11)), partition_by=partition, **write)  # v0
    for start in range(11, 51, 10):  # v1-v4
        write_deltalake(uri, people(range(start, start + 10), "US"), mode="append", **write)
    table = DeltaTable(uri, storage_options=options)
    table.update(  # v5: the subject's new e-mail
        updates={"email": f"'{EMAILS[0]}'"}, predicate=f"id = {SUBJECT_ID}"
    )
    table.create_checkpoint()
    write_deltalake(uri, people(range(51, 61)), mode="append", **write)  # v6
    # v7: a predicate with a value
    DeltaTable(uri, storage_options=options).delete(f"email = '{EMAILS[1]}' or id = 60")
    for start in range(61, 101, 10):  # v8-v11
        write_deltalake(uri, people(range(start, start + 10)), mode="append", **write)
    write_deltalake(uri, people(range(SUBJECT_ID, SUBJECT_ID + 1)), mode="append", **write)


def subject(table: pa.Table) -> pa.Array:
    return pc.or_(
        pc.equal(table.column("id"), SUBJECT_ID),
        pc.is_in(table.column("email"), pa.array(EMAILS)),
    )


def leftovers(root: Path) -> list[str]:
    """Every place under `root` still holding the subject."""
    return traces([root], SECRETS, {"id": SUBJECT_ID})


@pytest.mark.parametrize("partitioned", [False, True])
def test_a_purge_leaves_no_trace_of_the_subject_and_keeps_every_other_row(
    tmp_path: Path, partitioned: bool
) -> None:
    store = DeltaStore(tmp_path)
    ref = TableRef("raw", "people")
    uri = store.table_uri(ref)
    build_history(uri, partitioned)
    before = DeltaTable(uri).to_pyarrow_table()
    assert leftovers(Path(uri))  # the history holds it, in many forms
    expected = before.filter(pc.invert(subject(before))).sort_by("id")

    matches: Matcher = subject
    purged = purge_rows(
        store, ref, matches, [*SECRETS, str(SUBJECT_ID)], CommitInfo("r1", "ERASE"), "e-1"
    )

    assert purged.rows == 2  # the subject's row and its re-insert
    assert purged.history_files and purged.unreadable
    assert leftovers(Path(uri)) == []
    after = DeltaTable(uri).to_pyarrow_table().sort_by("id")
    assert after.select(expected.column_names).equals(expected.select(expected.column_names))
    log = "".join(p.read_text() for p in (Path(uri) / "_delta_log").glob("*.json"))
    assert ERASED in log  # the DELETE's predicate
    assert not list((Path(uri) / "_delta_log").glob("*.checkpoint*.parquet"))[1:]


def test_an_unreadable_version_names_the_erasure_and_the_table_goes_on(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path)
    ref = TableRef("raw", "people")
    uri = store.table_uri(ref)
    build_history(uri, partitioned=False)
    purged = purge_rows(store, ref, subject, SECRETS, CommitInfo("r1", "ERASE"), "e-42")
    gone = purged.unreadable[0]
    with pytest.raises(TableNotFoundError) as failed:
        store.snapshot(ref, version=gone)
    assert "erasure e-42" in failed.value.message
    readable = [h.version for h in store.history(ref, check_readable=True) if h.readable]
    assert purged.version in readable
    write_deltalake(uri, people(range(200, 203)), mode="append")
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 100 - 2 + 3  # 101 rows, 1 deleted
    again = purge_rows(store, ref, subject, SECRETS, CommitInfo("r2", "ERASE"), "e-43")
    assert (again.rows, again.history_files, again.version) == (0, [], None)


def test_a_table_without_the_subject_is_left_as_it_was(tmp_path: Path) -> None:
    store = DeltaStore(tmp_path)
    ref = TableRef("raw", "others")
    uri = store.table_uri(ref)
    write_deltalake(uri, people(range(20, 30)))
    write_deltalake(uri, people(range(30, 40)), mode="append")
    names = sorted(p.name for p in Path(uri).rglob("*"))
    purged = purge_rows(store, ref, subject, SECRETS, CommitInfo("r1", "ERASE"), "e-1")
    assert (purged.rows, purged.history_files, purged.commits_scrubbed) == (0, [], [])
    assert sorted(p.name for p in Path(uri).rglob("*")) == names


def test_a_purge_on_s3_leaves_no_trace_in_any_object(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = S3DeltaStore.from_uri(s3_bucket.warehouse, tmp_path / "stage")
    ref = TableRef("raw", "people")
    uri = store.table_uri(ref)
    options = store.storage_options
    build_history(uri, partitioned=True, options=options)
    before = DeltaTable(uri, storage_options=options).to_pyarrow_table()
    expected = before.filter(pc.invert(subject(before))).sort_by("id")

    def objects() -> dict[str, bytes]:
        client = s3_bucket.server.client()
        keys = s3_bucket.server.keys(s3_bucket.name, "warehouse/raw/people/")
        return {k: client.get_object(Bucket=s3_bucket.name, Key=k)["Body"].read() for k in keys}

    assert any(s.encode() in data for data in objects().values() for s in SECRETS[:1])
    purged = purge_rows(store, ref, subject, SECRETS, CommitInfo("r1", "ERASE"), "e-s3")
    assert purged.rows == 2 and purged.history_files
    folder = tmp_path / "copy"
    for key, data in objects().items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert traces([folder], SECRETS, {"id": SUBJECT_ID}) == []
    after = DeltaTable(uri, storage_options=options).to_pyarrow_table().sort_by("id")
    assert after.select(expected.column_names).equals(expected.select(expected.column_names))
