"""toolgym's own airline data: generated database, policy and starter tasks.

Nothing here is downloaded: the database comes from
:func:`~toolgym.domains.airline._generate.generate_airline_db` with seed 0,
and the policy and tasks ship as package data under ``data/``. The tasks
refer to ids of that seed-0 database.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from toolgym.domains.airline._generate import generate_airline_db
from toolgym.errors import DataError
from toolgym.tasks import Task, parse_tasks

__all__ = ["BUILTIN_SEED", "load_builtin"]

#: The seed of the built-in database; the built-in tasks depend on it.
BUILTIN_SEED = 0


def _read(name: str) -> str:
    path = resources.files("toolgym.domains.airline") / "data" / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"built-in airline data file {name!r} is missing") from None


def _read_json(name: str) -> Any:
    try:
        return json.loads(_read(name))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"built-in airline {name}: invalid JSON at line {exc.lineno}: {exc.msg}"
        ) from None


def load_builtin() -> tuple[dict[str, Any], str, list[Task], dict[str, list[str]]]:
    """Build the built-in airline data.

    Returns:
        ``(db, policy, tasks, splits)``: the seed-0 generated database as a
        plain dict, the policy text, the parsed tasks and the task splits
        (``train``, ``test`` and ``base``).
    """
    db = generate_airline_db(BUILTIN_SEED)
    policy = _read("policy.md")
    tasks = parse_tasks(_read_json("tasks.json"), source="<built-in airline tasks.json>")
    raw_splits = _read_json("split_tasks.json")
    if not isinstance(raw_splits, dict):
        raise DataError("built-in airline split_tasks.json: expected an object")
    splits = {str(k): [str(x) for x in v] for k, v in raw_splits.items()}
    return db, policy, tasks, splits
