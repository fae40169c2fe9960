"""R13: compaction, checkpoint and vacuum (retain 0) in every order while another process appends.

Pass: the content equals the set of committed appends at the end (no row lost or duplicated),
every version since the last vacuum opens, an even spread of the older ones opens or fails
with the typed error saying vacuum took its files, and every version that opens reads exactly
the appends committed up to it; each vacuum deletes exactly what its dry run listed.

Runs on local disk and on S3. Scaled down in the regular suite (5 cycles); 20 cycles in the
slow tier.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from headwater.errors import CommitConflictError, TableNotFoundError
from headwater.storage.base import CommitInfo, TableRef
from tests.reliability import storage_writer
from tests.reliability.helpers import HERE, PYTHON, WHERE, kill, start, wait_for, warehouse_for

REF = TableRef(*storage_writer.APPEND_REF)
ORDERS = list(itertools.permutations(("optimize", "checkpoint", "vacuum")))
CHECKED_OLD_VERSIONS = 25
"""How many versions older than the last vacuum are read back at the end, spread evenly: most
of them lost files to vacuum, and the store's error for such a version looks for the versions
still readable, which takes about a second on the S3 test server."""


def _logged(log: Path) -> dict[int, int]:
    """Batch -> the version its append landed at, as the appender recorded after committing."""
    if not log.exists():
        return {}
    entries = {}
    for line in log.read_text().splitlines():
        batch, version = line.split()
        entries[int(batch)] = int(version)
    return entries


def _batch_rows(batches) -> list[tuple[int, int]]:
    return sorted((b * 1000 + i, b) for b in batches for i in range(storage_writer.BATCH_ROWS))


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize(
    "cycles", [pytest.param(5, id="scaled"), pytest.param(20, id="full", marks=pytest.mark.slow)]
)
def test_r13_maintenance_in_every_order_under_concurrent_appends(tmp_path, request, where, cycles):
    warehouse = warehouse_for(where, tmp_path, request)
    store = warehouse.store()
    log, stop = tmp_path / "appends.log", tmp_path / "stop"
    appender = start(
        [
            PYTHON,
            str(HERE / "storage_writer.py"),
            "append",
            warehouse.location,
            str(log),
            str(stop),
            "--scratch",
            str(warehouse.scratch),
        ],
        tmp_path,
        warehouse.env,
    )
    reader = warehouse.reader()
    vacuumed_at = 0
    deleted_total = 0
    conflicts = 0
    try:
        assert wait_for(lambda: len(_logged(log)) >= 3, timeout=600), appender.stderr
        for cycle in range(cycles):
            for operation in ORDERS[cycle % len(ORDERS)]:
                if operation == "optimize":
                    for _attempt in range(10):
                        try:
                            store.optimize(REF, CommitInfo(f"maint-{cycle}", "optimize"))
                            break
                        except CommitConflictError:  # typed; nothing applied, try again
                            conflicts += 1
                    else:
                        pytest.fail("optimize never committed")
                elif operation == "checkpoint":
                    store.checkpoint(REF)
                else:
                    before = warehouse.data_files(REF)
                    listed = store.vacuum(REF, retain_hours=0, dry_run=True)
                    deleted = store.vacuum(REF, retain_hours=0, dry_run=False)
                    after = warehouse.data_files(REF)
                    assert deleted == listed, "vacuum deleted other files than its dry run listed"
                    assert before - after == set(listed)
                    vacuumed_at = store.current_version(REF) or 0
                    deleted_total += len(deleted)

                # the current version reads every append logged so far, each exactly once
                logged_before = set(_logged(log))
                rows = reader.rows(store.snapshot(REF), storage_writer.COLUMNS)
                logged_after = set(_logged(log))
                ids = [r[0] for r in rows]
                assert len(ids) == len(set(ids)), f"duplicates after {operation}"
                batches = {r[1] for r in rows}
                assert logged_before <= batches, f"appends lost after {operation}"
                assert rows == _batch_rows(batches), f"a partial append after {operation}"
                # nothing but committed appends (the newest may not be logged yet)
                assert batches <= logged_after | {max(logged_after) + 1}
            time.sleep(0.05)
    finally:
        stop.touch()
        try:
            appender.wait(timeout=600)
        finally:
            kill(appender)
    assert appender.returncode == 0, appender.stderr.read() if appender.stderr else ""

    committed = _logged(log)
    final = store.snapshot(REF)
    assert reader.rows(final, storage_writer.COLUMNS) == _batch_rows(committed)
    assert deleted_total > 0  # the vacuums had work to do

    # every version of the log opens; those whose files remain read the appends up to them
    readable = 0
    step = max(1, vacuumed_at // CHECKED_OLD_VERSIONS)
    checked = sorted({*range(0, vacuumed_at, step), *range(vacuumed_at, final.version + 1)})
    for version in checked:
        try:
            snapshot = store.snapshot(REF, version=version)
        except TableNotFoundError as exc:  # the store refuses a version vacuum took files of
            assert "can no longer be read" in exc.message, exc
            assert version < vacuumed_at, f"version {version} lost files it still needs"
            continue
        expected = [b for b, landed in committed.items() if landed <= version]
        assert reader.rows(snapshot, storage_writer.COLUMNS) == _batch_rows(expected), version
        readable += 1
    assert readable >= final.version + 1 - vacuumed_at  # at least all since the last vacuum
    reader.close()
