"""toolgym's own retail data: generated database, policy and starter tasks.

Nothing here is downloaded: the database comes from
:func:`~toolgym.domains.retail._generate.generate_retail_db` with seed 0, and
the policy and tasks are package data files written for toolgym. The task
ids and gold actions refer to that seed-0 database.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from toolgym._io import load_json, read_text
from toolgym.domains.retail._generate import generate_retail_db
from toolgym.tasks import Task, parse_splits, parse_tasks

__all__ = ["BUILTIN_SEED", "load_builtin"]

#: The seed the built-in tasks were written against.
BUILTIN_SEED = 0

_PACKAGE = "toolgym.domains.retail"


def _data(name: str) -> Traversable:
    return files(_PACKAGE) / "data" / name


def load_builtin() -> tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]:
    """Load the built-in retail data.

    Returns:
        ``(db, policy, tasks, splits)``: the seed-0 database as a plain dict,
        the policy text, the parsed tasks and the task splits
        (``train``/``test``/``base``).
    """
    policy = read_text(_data("policy.md"), "built-in retail policy file")
    tasks = parse_tasks(load_json(_data("tasks.json"), "built-in retail task file"),
                        source="<built-in retail tasks.json>")
    splits = parse_splits(load_json(_data("split_tasks.json"), "built-in retail split file"),
                          source="<built-in retail split_tasks.json>")
    return generate_retail_db(BUILTIN_SEED), policy, tasks, splits
