"""Copy-on-write databases: ARCHITECTURE invariants 1 (snapshots are immutable) and 2
(comparing forks looks only at changed records, and is still exact)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from toolgym.domains import DB, Snapshot
from toolgym.domains._db import canonical_digest


class Item(BaseModel):
    name: str
    tags: list[str] = []
    stock: dict[str, int] = {}


class ShopDB(DB):
    items: dict[str, Item]
    note: str = ""


KEYS = [f"k{i}" for i in range(6)]
SNAPSHOT = Snapshot(ShopDB.model_validate({"items": {
    k: {"name": k, "tags": ["a"], "stock": {"x": i}} for i, k in enumerate(KEYS)}}))
PRISTINE = canonical_digest(SNAPSHOT.to_dict())

# One edit: (operation, key, value)
EDITS = st.tuples(st.sampled_from(["tag", "stock", "rename", "insert", "delete", "note"]),
                  st.sampled_from([*KEYS, "new1", "new2"]), st.integers(0, 3))


def _apply(db: ShopDB, edits: list[tuple[str, str, int]]) -> None:
    for op, key, value in edits:
        present = key in db.items
        if op == "insert":
            db.insert("items", key, Item(name=f"{key}-{value}"))
        elif op == "note":
            db.set_value("note", f"n{value}")
        elif not present:
            continue
        elif op == "delete":
            db.delete("items", key)
        elif op == "tag":
            db.edit("items", key).tags.append(f"t{value}")
        elif op == "stock":
            db.edit("items", key).stock["x"] = value
        else:
            db.edit("items", key).name = f"{key}-{value}"


def _full(db: DB) -> str:
    """The digest computed from scratch, with no copy-on-write shortcut."""
    return canonical_digest(db.to_dict())


@settings(max_examples=150, deadline=None)
@given(st.lists(EDITS, max_size=8), st.lists(EDITS, max_size=8))
def test_forks_are_independent_and_the_snapshot_never_moves(a_edits: list[Any],
                                                            b_edits: list[Any]) -> None:
    a, b = SNAPSHOT.fork(), SNAPSHOT.fork()
    _apply(a, a_edits)
    b_before = _full(b)
    _apply(b, b_edits)
    again = SNAPSHOT.fork()
    assert _full(again) == PRISTINE  # invariant 1: nothing leaked into the snapshot
    assert SNAPSHOT.verify()
    solo = SNAPSHOT.fork()
    _apply(solo, b_edits)
    assert _full(b) == _full(solo)  # a's edits never reached b
    if not b_edits:
        assert _full(b) == b_before


@settings(max_examples=150, deadline=None)
@given(st.lists(EDITS, max_size=8), st.lists(EDITS, max_size=8))
def test_changed_record_comparison_is_exact(a_edits: list[Any], b_edits: list[Any]) -> None:
    a, b = SNAPSHOT.fork(), SNAPSHOT.fork()
    _apply(a, a_edits)
    _apply(b, b_edits)
    # Invariant 2: the shortcut (changed records only) agrees with a full comparison.
    assert a.digest() == _full(a) and b.digest() == _full(b)
    assert a.same_state(b) == (_full(a) == _full(b))
    assert bool(a.diff(b)) == (not a.same_state(b))


def test_changed_lists_exactly_the_touched_records() -> None:
    db = SNAPSHOT.fork()
    db.edit("items", "k1").stock["x"] = 99
    db.insert("items", "new1", Item(name="n"))
    db.delete("items", "k2")
    db.set_value("note", "hello")
    assert db.changed() == {"items": {"k1", "new1", "k2"}, "": {"note"}}
    assert SNAPSHOT.fork().changed() == {}


def test_edit_returns_one_private_copy_per_fork() -> None:
    db = SNAPSHOT.fork()
    first = db.edit("items", "k0")
    assert db.edit("items", "k0") is first  # later edits reuse the copy
    assert SNAPSHOT.fork().items["k0"] is not first
