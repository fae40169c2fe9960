"""Collapsing one table's changes within a micro-batch (`TableChanges`): one final change per
key, values the source did not send taken from an earlier image or left for the mirror."""

from __future__ import annotations

import random
from typing import Any

import pytest

from headwater.ingest.cdc.changes import (
    DELETE,
    UNCHANGED,
    UPSERT,
    LoggedChange,
    Row,
    TableChanges,
)

U = UNCHANGED
BIG = "x" * 10_000
"""A TOASTed value: an update that leaves it as it was does not send it."""


def batch() -> TableChanges:
    """A table (id, name, body) keyed by id."""
    return TableChanges(["id", "name", "body"], [0])


def test_insert_update_delete_in_one_batch_leaves_a_delete() -> None:
    changes = batch()
    changes.upsert((1, "a", BIG))
    changes.upsert((1, "b", U))
    changes.delete((1, None, None))
    assert changes.rows == {(1,): (DELETE, [1, "b", BIG])}
    assert changes.count == 3
    assert not changes.truncated


def test_delete_then_insert_leaves_the_new_row() -> None:
    changes = batch()
    changes.delete((1, None, None))
    changes.upsert((1, "again", "body"))
    assert changes.rows == {(1,): (UPSERT, [1, "again", "body"])}
    assert changes.count == 2


def test_insert_delete_insert_leaves_the_last_row() -> None:
    changes = batch()
    changes.upsert((1, "first", "one"))
    changes.delete((1, None, None))
    changes.upsert((1, "second", "two"))
    assert changes.rows == {(1,): (UPSERT, [1, "second", "two"])}


def test_a_delete_of_a_row_outside_the_batch_keeps_what_it_was_given() -> None:
    changes = batch()
    changes.delete((7, None, None))
    assert changes.rows == {(7,): (DELETE, [7, None, None])}


def test_unchanged_values_are_filled_from_an_earlier_image() -> None:
    changes = batch()
    changes.upsert((1, "a", BIG))
    changes.upsert((1, "b", U))
    changes.upsert((1, "c", U))
    assert changes.rows == {(1,): (UPSERT, [1, "c", BIG])}
    values, ops, keep = changes.column_values()
    assert values == [[1], ["c"], [BIG]]
    assert ops == [UPSERT]
    assert keep == [[False], [False], [False]]


def test_unchanged_values_without_an_earlier_image_keep_the_mirrors() -> None:
    changes = batch()
    changes.upsert((1, "b", U))
    changes.upsert((1, "c", U))  # the earlier image lacks it too
    [(op, row)] = changes.rows.values()
    assert op == UPSERT
    assert row[:2] == [1, "c"]
    assert row[2] is UNCHANGED
    values, ops, keep = changes.column_values()
    assert ops == [UPSERT]
    assert values == [[1], ["c"], [None]]  # never the marker itself
    assert keep == [[False], [False], [True]]
    assert changes.origins() == [None]


def test_unchanged_after_a_delete_is_not_filled_from_the_deleted_row() -> None:
    changes = batch()
    changes.upsert((1, "a", BIG))
    changes.delete((1, None, None))
    changes.upsert((1, "b", U))  # not a real sequence, but the deleted image must not leak
    assert changes.rows[(1,)][1][2] is UNCHANGED


def test_a_key_update_deletes_the_old_key_and_writes_the_new() -> None:
    changes = batch()
    changes.update_key((1, None, None), (2, "a", "body"))
    assert changes.rows == {(1,): (DELETE, [1, None, None]), (2,): (UPSERT, [2, "a", "body"])}
    assert changes.count == 1
    assert changes.origins() == [None, None]


def test_a_chain_of_key_updates() -> None:
    changes = batch()
    changes.upsert((1, "a", BIG))
    changes.update_key((1, None, None), (2, "b", U))
    changes.update_key((2, None, None), (3, "c", U))
    assert changes.rows == {
        (1,): (DELETE, [1, None, None]),
        (2,): (DELETE, [2, None, None]),
        (3,): (UPSERT, [3, "c", BIG]),
    }
    assert changes.count == 3
    values, ops, _ = changes.column_values()
    assert ops == [DELETE, DELETE, UPSERT]
    assert values[0] == [1, 2, 3]


def test_a_key_update_without_an_earlier_image_points_at_the_mirrors_row() -> None:
    """The mirror has the row at key 1 only: a value the update did not send is there."""
    changes = batch()
    changes.update_key((1, None, None), (2, "b", U))
    changes.update_key((2, None, None), (3, "c", U))
    assert changes.rows[(3,)][1][2] is UNCHANGED
    assert changes.origins() == [None, None, (1,)]
    _, ops, keep = changes.column_values()
    assert ops == [DELETE, DELETE, UPSERT]
    assert keep[2] == [False, False, True]


def test_a_moved_row_sent_whole_needs_no_origin() -> None:
    changes = batch()
    changes.update_key((1, None, None), (2, "b", U))
    changes.upsert((2, "c", "new body"))
    assert changes.rows[(2,)] == (UPSERT, [2, "c", "new body"])
    assert changes.origins() == [None, None]


def test_a_moved_row_deleted_needs_no_origin() -> None:
    changes = batch()
    changes.update_key((1, None, None), (2, "b", U))
    changes.delete((2, None, None))
    assert changes.rows == {(1,): (DELETE, [1, None, None]), (2,): (DELETE, [2, "b", U])}
    assert changes.origins() == [None, None]


def test_a_key_update_onto_a_key_deleted_earlier_in_the_batch() -> None:
    changes = batch()
    changes.delete((5, None, None))
    changes.update_key((3, None, None), (5, "moved", U))
    assert changes.rows[(5,)][0] == UPSERT
    assert changes.rows[(5,)][1][2] is UNCHANGED  # not the deleted row's
    assert changes.rows[(3,)] == (DELETE, [3, None, None])
    assert dict(zip(changes.rows, changes.origins(), strict=True))[(5,)] == (3,)


def test_truncate_forgets_the_earlier_changes() -> None:
    changes = batch()
    changes.upsert((1, "a", "x"))
    changes.update_key((2, None, None), (3, "b", U))
    changes.delete((4, None, None))
    changes.truncate()
    changes.upsert((5, "after", "y"))
    assert changes.truncated
    assert changes.rows == {(5,): (UPSERT, [5, "after", "y"])}
    assert changes.origins() == [None]
    assert changes.count == 5


def test_truncate_alone() -> None:
    changes = batch()
    changes.truncate()
    assert changes.truncated
    assert changes.rows == {}
    assert changes.column_values() == ([[], [], []], [], [[], [], []])


def test_a_composite_key() -> None:
    changes = TableChanges(["tenant", "amount", "id"], [0, 2])
    changes.upsert(("t1", 10, 1))
    changes.upsert(("t2", 20, 1))
    changes.upsert(("t1", 11, 1))
    changes.update_key(("t2", None, 1), ("t2", 21, 2))
    assert changes.key_of(("t1", 99, 7)) == ("t1", 7)
    assert changes.rows == {
        ("t1", 1): (UPSERT, ["t1", 11, 1]),
        ("t2", 1): (DELETE, ["t2", None, 1]),
        ("t2", 2): (UPSERT, ["t2", 21, 2]),
    }


def test_column_values_by_column_in_the_order_keys_first_changed() -> None:
    changes = batch()
    changes.upsert((1, "a", "x"))
    changes.upsert((2, "b", U))
    changes.delete((3, None, None))
    changes.upsert((1, "a2", U))
    values, ops, keep = changes.column_values()
    assert values == [[1, 2, 3], ["a2", "b", None], ["x", None, None]]
    assert ops == [UPSERT, UPSERT, DELETE]
    assert keep == [[False, False, False], [False, False, False], [False, True, False]]


def test_values_are_compared_by_identity_not_equality() -> None:
    """A real value equal to the marker's bytes is a value, not 'unchanged'."""
    lookalike = UNCHANGED[:1] + UNCHANGED[1:]
    assert lookalike == UNCHANGED and lookalike is not UNCHANGED
    changes = batch()
    changes.upsert((1, "a", lookalike))
    assert changes.column_values()[2] == [[False], [False], [False]]
    assert changes.column_values()[0][2] == [lookalike]


def test_logged_change() -> None:
    change = LoggedChange("u", 42, 1_700_000_000_000_000, 3, (1, "a", U))
    assert (change.op, change.position, change.commit_us, change.seq) == (
        "u",
        42,
        1_700_000_000_000_000,
        3,
    )
    assert change.values[2] is UNCHANGED


# -- collapsed per key == every change in order ------------------------------------------------


def merge(mirror: dict[Row, list[Any]], changes: TableChanges) -> dict[Row, list[Any]]:
    """What the mirror's merge does with a batch: deletes remove, upserts replace; a value
    not sent is the mirror's row's before the batch (at the key it moved from, if it did)."""
    result = {} if changes.truncated else dict(mirror)
    for (key, (op, row)), origin in zip(changes.rows.items(), changes.origins(), strict=True):
        if op == DELETE:
            result.pop(key, None)
            continue
        filled = list(row)
        for i, value in enumerate(row):
            if value is UNCHANGED:
                before = mirror[origin or key]
                filled[i] = before[i]
        result[key] = filled
    return result


@pytest.mark.parametrize("seed", range(40))
def test_collapsing_equals_applying_every_change(seed: int) -> None:
    """A random source table under inserts, updates (TOASTed body often unsent), key updates,
    deletes and truncates, captured under REPLICA IDENTITY DEFAULT (old rows carry the key
    only): the mirror after each collapsed batch equals the table."""
    rng = random.Random(seed)
    source: dict[Row, list[Any]] = {
        (k,): [k, f"n{k}", f"body{k}"] for k in rng.sample(range(30), 10)
    }
    mirror = {key: list(row) for key, row in source.items()}
    for _ in range(60):
        changes = batch()
        for _ in range(rng.randint(1, 25)):
            action = rng.random()
            free = [k for k in range(30) if (k,) not in source]
            if action < 0.25 or not source:
                if not free:
                    continue
                k = rng.choice(free)
                source[(k,)] = [k, f"n{k}", f"body{k}-{rng.random()}"]
                changes.upsert(tuple(source[(k,)]))
                continue
            key = rng.choice(sorted(source))
            row = source[key]
            if action < 0.28:
                source.clear()
                changes.truncate()
            elif action < 0.55:
                body_changes = rng.random() < 0.3
                if body_changes:
                    row[2] = f"body{rng.random()}"
                row[1] = f"n{rng.random()}"
                sent = (*row[:2], row[2] if body_changes or rng.random() < 0.2 else U)
                changes.upsert(sent)
            elif action < 0.75 and free:
                k = rng.choice(free)
                moved = [k, f"moved{rng.random()}", row[2]]
                del source[key]
                source[(k,)] = moved
                sent = (k, moved[1], U if rng.random() < 0.7 else moved[2])
                changes.update_key((key[0], None, None), sent)
            else:
                del source[key]
                changes.delete((key[0], None, None))
        mirror = merge(mirror, changes)
        assert mirror == source


def test_count_is_every_change_added() -> None:
    changes = batch()
    for i in range(5):
        changes.upsert((i, "a", "b"))
    for i in range(5):
        changes.upsert((i, "c", U))
    changes.delete((0, None, None))
    changes.update_key((1, None, None), (10, "d", U))
    changes.truncate()
    assert changes.count == 13
