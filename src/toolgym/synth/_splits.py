"""Splits without leakage: no user and no gold-action signature in two splits.

Tasks are grouped with a union-find: two tasks are in one group when they
share a user (:func:`~toolgym.synth._labels.task_user`) or a gold write
signature (the same write calls with the same arguments). Groups, in a seeded
order, go one by one to the split furthest below its share, so the split
sizes come as close to the ratios as the groups allow.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolgym.domains._db import canonical_json
from toolgym.errors import ConfigError
from toolgym.synth._labels import task_user
from toolgym.synth._parts import Rng
from toolgym.tasks import Task

__all__ = ["parse_split_spec", "split_tasks", "write_signature"]


def parse_split_spec(spec: str) -> dict[str, float]:
    """``"train=0.6,val=0.2,test=0.2"`` as shares that sum to 1.

    Raises:
        ConfigError: a malformed entry, a non-positive share, a repeated
            name, the name ``base`` (tau2's name for all tasks) or shares
            that do not add up to 1 (within 0.001).
    """
    out: dict[str, float] = {}
    for entry in spec.split(","):
        if not entry.strip():
            continue
        name, sep, value = entry.partition("=")
        name = name.strip()
        try:
            share = float(value)
        except ValueError:
            share = -1.0
        if not sep or not name or share <= 0:
            raise ConfigError(f"invalid split {entry.strip()!r} in {spec!r} (use e.g. "
                              "train=0.6,val=0.2,test=0.2)")
        if name in out or name == "base":
            raise ConfigError(f"split name {name!r} is repeated or reserved ('base' means "
                              "every task)")
        out[name] = share
    if not out:
        raise ConfigError("--split needs at least one name=share")
    total = sum(out.values())
    if abs(total - 1.0) > 1e-3:
        raise ConfigError(f"split shares add up to {total:g}, not 1")
    return {k: v / total for k, v in out.items()}


def write_signature(task: Task, writes: frozenset[str] | None = None) -> str:
    """The task's gold write calls (all gold calls when ``writes`` is None), canonical."""
    return canonical_json([[a.name, a.arguments] for a in task.gold_actions
                           if writes is None or a.name in writes])


def split_tasks(tasks: Sequence[Task], shares: dict[str, float], seed: int = 0,
                writes: frozenset[str] | None = None) -> dict[str, list[str]]:
    """Task ids per split (task order kept), disjoint by user and by write signature.

    Args:
        tasks: The tasks.
        shares: Split name -> share (see :func:`parse_split_spec`).
        seed: Seed of the group order.
        writes: The domain's write tools (signatures use only these calls).

    Returns:
        ``{name: [ids]}`` for each split, plus ``base`` with every id.
    """
    parent = list(range(len(tasks)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, task in enumerate(tasks):
        user = task_user(task)
        keys = [f"user:{user}"] if user else []
        signature = write_signature(task, writes)
        if signature != "[]":
            keys.append("sig:" + signature)
        for key in keys:
            j = first.setdefault(key, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(tasks)):
        groups.setdefault(find(i), []).append(i)
    order = Rng(f"toolgym-synth-split:{seed}").shuffled(sorted(groups))
    # Big groups first (they are the hard ones to place), seeded order among equals.
    order.sort(key=lambda g: -len(groups[g]))
    sizes = dict.fromkeys(shares, 0)
    assigned: dict[int, str] = {}
    placed = 0
    for g in order:
        members = groups[g]
        placed += len(members)
        name = max(shares, key=lambda s: (shares[s] * placed - sizes[s], shares[s]))
        sizes[name] += len(members)
        for i in members:
            assigned[i] = name
    out: dict[str, list[str]] = {name: [] for name in shares}
    for i, task in enumerate(tasks):
        out[assigned[i]].append(task.id)
    out["base"] = [t.id for t in tasks]
    return out
