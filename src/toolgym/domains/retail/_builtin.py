"""toolgym's own retail data: generated database, policy and starter tasks.

Nothing here is downloaded: the database comes from
:func:`~toolgym.domains.retail._generate.generate_retail_db` with seed 0, and
the policy and tasks are package data files written for toolgym. The task
ids and gold actions refer to that seed-0 database.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from toolgym.domains.retail._generate import generate_retail_db
from toolgym.tasks import Task, parse_tasks

__all__ = ["BUILTIN_SEED", "load_builtin"]

#: The seed the built-in tasks were written against.
BUILTIN_SEED = 0

_PACKAGE = "toolgym.domains.retail"


def _read(name: str) -> str:
    return (files(_PACKAGE) / "data" / name).read_text(encoding="utf-8")


def load_builtin() -> tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]:
    """Load the built-in retail data.

    Returns:
        ``(db, policy, tasks, splits)``: the seed-0 database as a plain dict,
        the policy text, the parsed tasks and the task splits
        (``train``/``test``/``base``).
    """
    policy = _read("policy.md")
    tasks = parse_tasks(json.loads(_read("tasks.json")), source="<built-in retail tasks.json>")
    raw_splits = json.loads(_read("split_tasks.json"))
    splits = {str(k): [str(x) for x in v] for k, v in raw_splits.items()}
    return generate_retail_db(BUILTIN_SEED), policy, tasks, splits
