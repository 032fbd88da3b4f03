"""toolgym's own airline data: generated database, policy and starter tasks.

Nothing here is downloaded: the database comes from
:func:`~toolgym.domains.airline._generate.generate_airline_db` with seed 0,
and the policy and tasks ship as package data under ``data/``. The tasks
refer to ids of that seed-0 database.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from toolgym._io import load_json, read_text
from toolgym.domains.airline._generate import generate_airline_db
from toolgym.tasks import Task, parse_splits, parse_tasks

__all__ = ["BUILTIN_SEED", "load_builtin"]

#: The seed of the built-in database; the built-in tasks depend on it.
BUILTIN_SEED = 0


def _data(name: str) -> Traversable:
    return resources.files("toolgym.domains.airline") / "data" / name


def load_builtin() -> tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]:
    """Build the built-in airline data.

    Returns:
        ``(db, policy, tasks, splits)``: the seed-0 generated database as a
        plain dict, the policy text, the parsed tasks and the task splits
        (``train``, ``test`` and ``base``).
    """
    db = generate_airline_db(BUILTIN_SEED)
    policy = read_text(_data("policy.md"), "built-in airline policy file")
    tasks = parse_tasks(load_json(_data("tasks.json"), "built-in airline task file"),
                        source="<built-in airline tasks.json>")
    splits = parse_splits(load_json(_data("split_tasks.json"), "built-in airline split file"),
                          source="<built-in airline split_tasks.json>")
    return db, policy, tasks, splits
