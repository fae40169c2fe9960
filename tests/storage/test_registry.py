"""Opening a table store by the warehouse's location: folders, `~`, `file:` URIs, schemes.

Each location is written into a real `headwater.yml`, turned into a URI by the loaded
project's `ProjectDefinition.warehouse_uri`, opened with `open_store`, and proven by committing
a real Delta table and reading it back with pyarrow from the folder the location names. An
`s3://` location opens the S3 store on the local moto server (tests/support/s3.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.errors import ConfigError
from headwater.project.definition import ProjectDefinition
from headwater.project.loader import load_project
from headwater.storage import registry
from headwater.storage.base import CommitInfo, TableRef, TableStore, WrittenFile
from headwater.storage.delta import DeltaStore
from headwater.storage.registry import local_path, open_store, register_store
from headwater.storage.s3 import S3DeltaStore
from tests.support.s3 import S3Bucket

REF = TableRef("core", "events")
ROWS = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]})


def definition_with(root: Path, warehouse: str) -> ProjectDefinition:
    """Load a project at `root` whose `headwater.yml` sets `warehouse:` to `warehouse`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "headwater.yml").write_text(
        f"name: shop\nwarehouse: {json.dumps(warehouse)}\n", encoding="utf-8"
    )
    return load_project(root)


def write_and_read(store: TableStore) -> list[dict[str, object]]:
    """Commit ROWS as a new table in `store` and return its rows read back by pyarrow."""
    folder = store.new_file_dir(REF, "run1")
    folder.mkdir(parents=True)
    pq.write_table(ROWS, folder / "part-0.parquet")
    version = store.commit_files(
        REF,
        [WrittenFile(str(folder / "part-0.parquet"))],
        ROWS.schema,
        "overwrite",
        CommitInfo(run_id="run1", operation="write"),
    )
    assert version == 0
    snapshot = store.snapshot(REF)
    rows = pa.concat_tables(pq.read_table(f.path) for f in snapshot.files)
    return sorted(rows.to_pylist(), key=lambda r: r["id"])


def assert_store_on(store: TableStore, folder: Path) -> None:
    """`store` is a Delta store whose tables live in `folder` and that writes and reads."""
    assert isinstance(store, DeltaStore)
    assert store.warehouse == folder
    assert write_and_read(store) == ROWS.to_pylist()
    assert (folder / "core" / "events" / "_delta_log" / f"{0:020d}.json").is_file()
    assert store.list_tables() == [REF]


def test_relative_folder_is_inside_the_project(tmp_path: Path) -> None:
    root = tmp_path.resolve() / "shop"
    uri = definition_with(root, "warehouse").warehouse_uri
    assert uri.startswith("file://")
    assert_store_on(open_store(uri, root / ".headwater" / "stage"), root / "warehouse")


def test_absolute_folder_is_taken_as_is(tmp_path: Path) -> None:
    folder = tmp_path / "data lake" / "wh"  # a space survives the URI's percent-encoding
    uri = definition_with(tmp_path / "elsewhere", str(folder)).warehouse_uri
    assert local_path(uri) == folder
    assert_store_on(open_store(uri, tmp_path / "stage"), folder)


def test_home_folder_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    uri = definition_with(tmp_path / "shop", "~/lake").warehouse_uri
    assert "~" not in uri
    assert_store_on(open_store(uri, tmp_path / "stage"), home / "lake")


def test_file_uri_is_used_as_written(tmp_path: Path) -> None:
    folder = tmp_path / "wh"
    uri = folder.as_uri()
    assert definition_with(tmp_path / "shop", uri).warehouse_uri == uri
    assert_store_on(open_store(uri, tmp_path / "stage"), folder)


def test_an_s3_location_opens_the_s3_store_staging_in_the_projects_folder(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    root = tmp_path / "shop"
    definition = definition_with(root, s3_bucket.warehouse + "/")
    assert definition.warehouse is None  # not on local disk
    store = open_store(definition.warehouse_uri, definition.state_dir / "stage")

    assert isinstance(store, S3DeltaStore)
    assert store.uri == s3_bucket.warehouse
    assert store.warehouse == root / ".headwater" / "stage" / s3_bucket.name / "warehouse"
    assert store.table_uri(REF) == f"{s3_bucket.warehouse}/core/events"
    assert write_and_read(store) == ROWS.to_pylist()
    assert f"warehouse/core/events/_delta_log/{0:020d}.json" in s3_bucket.server.keys(
        s3_bucket.name
    )
    assert store.list_tables() == [REF]


def test_unknown_scheme_is_a_config_error_saying_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        open_store("gs://bucket/wh", tmp_path)
    error = raised.value
    assert "gs://" in error.message
    assert error.location.file == "headwater.yml"
    assert error.hint is not None
    assert "warehouse:" in error.hint
    assert "file://" in error.hint
    assert "s3://" in error.hint


def test_a_registered_scheme_opens_with_its_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    asked: list[tuple[str, Path]] = []

    def factory(uri: str, scratch: Path) -> TableStore:
        asked.append((uri, scratch))
        return DeltaStore(tmp_path / "mounted")

    register_store("lakefs", factory)
    store = open_store("lakefs://repo/main", tmp_path / "stage")
    assert asked == [("lakefs://repo/main", tmp_path / "stage")]
    assert_store_on(store, tmp_path / "mounted")
    # the new scheme is offered in the error for a scheme nobody handles
    with pytest.raises(ConfigError) as raised:
        open_store("gs://bucket/wh", tmp_path)
    assert "lakefs://" in (raised.value.hint or "")


def test_a_file_uri_naming_a_host_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        registry.open_store("file://warehouse", tmp_path)
    assert "names a host (warehouse)" in str(raised.value)
    assert "file:///data/warehouse" in (raised.value.hint or "")
